//! The container logging profile (`log4rs.container.yaml`) as the image
//! runs it: the real binary in prod against a private redis-server, the
//! profile selected by `TESSERA__LOGGING__CONFIG` over a config whose
//! `logging.config` names the file-based log4rs.yaml. Every stdout line is
//! a JSON object; audit events, access lines and errors carry the W3C
//! trace id of their request; no file is written.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::binary::{Tessera, app_basic, prod_setup, shipped_log4rs};
use crate::redis_server::RedisServer;

const T_ISSUE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const T_REVOKE: &str = "0af7651916cd43dd8448eb211c80319c";
const T_ERROR: &str = "a3ce929d0e0e47364bf92f3577b34da6";

fn traceparent(trace_id: &str) -> String {
    format!("00-{trace_id}-00f067aa0ba902b7-01")
}

fn shipped_container_profile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("log4rs.container.yaml")
}

/// A prod process on `redis` with the client `app`, logging with the
/// container profile at `profile`.
fn start_prod(redis: &RedisServer, profile: &Path) -> Tessera {
    let (dir, config) = prod_setup(redis.url());
    let profile = profile.to_str().unwrap();
    let env = [
        ("TESSERA_ENV", "prod"),
        ("TESSERA__LOGGING__CONFIG", profile),
    ];
    Tessera::start_in(dir, config, &shipped_log4rs(), &env)
}

/// Issues a token for `sub` with `headers`; the access token.
fn issue(t: &Tessera, sub: &str, headers: &[(&str, &str)]) -> String {
    let auth = app_basic();
    let mut all = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    all.extend_from_slice(headers);
    let (status, _, body) = t
        .request(
            "POST",
            "/token/issue",
            &all,
            &format!(r#"{{"sub":"{sub}"}}"#),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("issue answers JSON");
    v["access_token"].as_str().unwrap().to_owned()
}

/// Every stdout line, each of which must be one JSON object with `time`,
/// `level` and `target`.
fn json_lines(t: &Tessera) -> Vec<Value> {
    t.read("stdout.log")
        .lines()
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
            for key in ["time", "level", "target"] {
                assert!(v[key].is_string(), "no `{key}`: {l}");
            }
            v
        })
        .collect()
}

/// Waits for a stdout JSON line matching `pred`.
fn wait_json(t: &Tessera, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let line = t.wait_for_line("stdout.log", what, |l| {
        serde_json::from_str::<Value>(l).is_ok_and(|v| pred(&v))
    });
    serde_json::from_str(&line).unwrap()
}

fn message(v: &Value) -> &str {
    v["message"].as_str().unwrap_or_default()
}

fn audit_event<'a>(v: &'a Value, event: &str) -> Option<&'a Value> {
    (v["target"] == "audit" && v["audit"]["event"] == event).then(|| &v["audit"])
}

#[test]
fn the_container_profile_writes_json_lines_to_stdout_and_no_files() {
    let redis = RedisServer::start();
    let t = start_prod(&redis, &shipped_container_profile());
    let tp_issue = traceparent(T_ISSUE);
    let token = issue(
        &t,
        "user-c1",
        &[("X-Request-Id", "ctr-issue"), ("traceparent", &tp_issue)],
    );
    let auth = app_basic();
    let tp_revoke = traceparent(T_REVOKE);
    let revoke_headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("X-Request-Id", "ctr-revoke"),
        ("traceparent", tp_revoke.as_str()),
    ];
    let body = format!(r#"{{"token":"{token}"}}"#);
    let (status, _, _) = t
        .request("POST", "/token/revoke", &revoke_headers, &body)
        .unwrap();
    assert_eq!(status, 200);
    redis.stop();
    let tp_error = traceparent(T_ERROR);
    let error_headers = [
        ("X-Request-Id", "ctr-down"),
        ("traceparent", tp_error.as_str()),
    ];
    assert_eq!(t.get("/readyz", &error_headers).unwrap().0, 503);

    // Audit events: INFO in prod, an object under `audit`, their trace id.
    for (event, rid, trace) in [
        ("token_issued", "ctr-issue", T_ISSUE),
        ("token_revoked", "ctr-revoke", T_REVOKE),
    ] {
        let line = wait_json(&t, event, |v| audit_event(v, event).is_some());
        assert_eq!(line["level"], "INFO", "{line}");
        let a = audit_event(&line, event).unwrap();
        assert_eq!(a["request_id"], rid, "{line}");
        assert_eq!(a["trace_id"], trace, "{line}");
    }
    // Access lines: INFO in prod (the shipped switch is on).
    for (rid, what, trace) in [
        ("ctr-issue", "POST /token/issue 200", T_ISSUE),
        ("ctr-revoke", "POST /token/revoke 200", T_REVOKE),
        ("ctr-down", "GET /readyz 503", T_ERROR),
    ] {
        let line = wait_json(&t, what, |v| {
            v["target"] == "tessera::access" && message(v).contains(&format!("request_id={rid} "))
        });
        assert_eq!(line["level"], "INFO", "{line}");
        assert!(message(&line).contains(what), "{line}");
        assert!(
            message(&line).ends_with(&format!(" trace_id={trace}")),
            "{line}"
        );
    }
    // The error line of the 503, with its request's trace id.
    let error = wait_json(&t, "the ERROR line", |v| v["level"] == "ERROR");
    assert!(message(&error).contains("request_id=ctr-down"), "{error}");
    assert!(
        message(&error).contains(&format!("trace_id={T_ERROR}")),
        "{error}"
    );

    // Every line is JSON; prod's ERROR level still holds for the rest.
    for v in json_lines(&t) {
        let target = v["target"].as_str().unwrap();
        if !matches!(target, "audit" | "tessera::access") {
            assert_eq!(
                v["level"], "ERROR",
                "only errors besides audit and access: {v}"
            );
        }
    }
    assert!(
        !t.path("logs").exists(),
        "the container profile wrote logs/"
    );
    assert!(!t.read("stdout.log").contains(&token), "a token in the log");
}

#[test]
fn without_the_switch_access_lines_follow_the_environment_level() {
    let shipped = std::fs::read_to_string(shipped_container_profile()).unwrap();
    let switch = "\n  tessera::access: { level: info }\n";
    assert_eq!(shipped.matches(switch).count(), 1, "the switch line");
    let dir = tempfile::tempdir().unwrap();
    let off = dir.path().join("log4rs.container.yaml");
    std::fs::write(
        &off,
        shipped.replace(switch, "\n  # tessera::access: { level: info }\n"),
    )
    .unwrap();
    let redis = RedisServer::start();
    let t = start_prod(&redis, &off);
    issue(&t, "user-c2", &[("X-Request-Id", "ctr-quiet")]);
    let line = wait_json(&t, "token_issued", |v| {
        audit_event(v, "token_issued").is_some()
    });
    assert_eq!(line["audit"]["request_id"], "ctr-quiet");
    // The access line is written before the response is sent.
    let lines = json_lines(&t);
    assert!(
        !lines.iter().any(|v| v["target"] == "tessera::access"),
        "access lines in prod with the switch off: {lines:?}"
    );
    assert!(
        !t.path("logs").exists(),
        "the container profile wrote logs/"
    );
}
