//! W3C Trace Context with the real binary and the shipped log4rs.yaml: a
//! request without a valid `traceparent` gets a fresh random trace id (32
//! hex), the same in its access line and its audit event, and an invalid
//! value never reaches the log. A valid one is followed through access,
//! audit and error lines in `container_logging.rs`.

use serde_json::Value;

use crate::binary::{Tessera, app_basic, dev_config, shipped_log4rs};

const MAIN: &str = "logs/tessera.log";
const AUDIT: &str = "logs/audit.log";

/// The value after `trace_id=` in a log line.
fn trace_id_in(line: &str) -> &str {
    let (_, rest) = line.split_once("trace_id=").expect("a trace_id");
    rest.split_whitespace().next().unwrap()
}

fn is_fresh_id(id: &str) -> bool {
    id.len() == 32
        && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && id != "00000000000000000000000000000000"
}

/// Issues a token with `headers`; (trace id of the access line, trace id
/// of the `token_issued` event).
fn issue_trace_ids(t: &Tessera, rid: &str, headers: &[(&str, &str)]) -> (String, String) {
    let auth = app_basic();
    let mut all = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("X-Request-Id", rid),
    ];
    all.extend_from_slice(headers);
    let (status, head, _) = t
        .request("POST", "/token/issue", &all, r#"{"sub":"user-t"}"#)
        .unwrap();
    assert_eq!(status, 200, "{head}");
    let access = t.wait_for_line(MAIN, "the access line", |l| {
        l.contains(&format!("request_id={rid} POST /token/issue 200"))
    });
    let audit = t.wait_for_line(AUDIT, "the token_issued event", |l| {
        l.contains(&format!(r#""request_id":"{rid}""#))
    });
    let event: Value = serde_json::from_str(&audit).unwrap();
    (
        trace_id_in(&access).to_owned(),
        event["trace_id"].as_str().expect("trace_id").to_owned(),
    )
}

#[test]
fn an_absent_traceparent_gets_a_generated_trace_id() {
    let t = Tessera::start(dev_config, &shipped_log4rs(), &[]);
    let (a_access, a_audit) = issue_trace_ids(&t, "no-tp-1", &[]);
    let (b_access, b_audit) = issue_trace_ids(&t, "no-tp-2", &[]);
    assert!(is_fresh_id(&a_access), "{a_access}");
    assert_eq!(a_access, a_audit, "one request, one trace id");
    assert_eq!(b_access, b_audit);
    assert_ne!(a_access, b_access, "each request its own trace id");
}

#[test]
fn an_invalid_traceparent_is_ignored_and_never_logged() {
    let t = Tessera::start(dev_config, &shipped_log4rs(), &[]);
    let bad_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    for (i, bad) in [
        // Upper-case hex, version ff, an all-zero parent id, too long,
        // a log-injection attempt.
        format!("00-{}-00f067aa0ba902b7-01", bad_trace.to_uppercase()),
        format!("ff-{bad_trace}-00f067aa0ba902b7-01"),
        format!("00-{bad_trace}-0000000000000000-01"),
        format!("00-{bad_trace}-00f067aa0ba902b7-01-x"),
        format!("00-{bad_trace} evil=1-00f067aa0ba902b7-01"),
    ]
    .iter()
    .enumerate()
    {
        let rid = format!("bad-tp-{i}");
        let (access, audit) = issue_trace_ids(&t, &rid, &[("traceparent", bad)]);
        assert!(is_fresh_id(&access), "{bad}: {access}");
        assert_ne!(
            access, bad_trace,
            "{bad}: the bad value's trace id was kept"
        );
        assert_eq!(access, audit, "{bad}");
    }
    // Two traceparent headers are invalid too.
    let good = format!("00-{bad_trace}-00f067aa0ba902b7-01");
    let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let (access, _) = issue_trace_ids(
        &t,
        "two-tp",
        &[("traceparent", &good), ("traceparent", other)],
    );
    assert!(is_fresh_id(&access) && access != bad_trace && !other.contains(&access));
    for file in [MAIN, AUDIT, "stdout.log"] {
        let text = t.read(file);
        assert!(!text.contains(bad_trace), "{file} holds the bad trace id");
        assert!(!text.to_lowercase().contains(bad_trace), "{file}");
        assert!(!text.contains("evil"), "{file} echoes the header");
    }
    // A valid one is taken as it is.
    let (access, audit) = issue_trace_ids(&t, "good-tp", &[("traceparent", &good)]);
    assert_eq!((access.as_str(), audit.as_str()), (bad_trace, bad_trace));
}
