//! The audit trail under a flood, with the real binary and the shipped
//! log4rs.yaml: failed verifies become one `verify_failed_summary` line per
//! source and reason per `verify.failure_summary_secs`, so garbage cannot
//! roll the real events away; request ids in audit lines stay bounded.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::binary::{Tessera, dev_config, shipped_log4rs};

const AUDIT: &str = "logs/audit.log";

fn audit_events(t: &Tessera) -> Vec<Value> {
    t.read(AUDIT)
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit lines are JSON"))
        .collect()
}

/// `n` garbage `GET /token/verify` over 8 keep-alive connections; every
/// answer must be 401.
async fn garbage_verifies(t: &Tessera, n: usize) -> Duration {
    let client = reqwest::Client::new();
    let url = t.url("/token/verify");
    let started = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                for i in (w..n).step_by(8) {
                    let res = client
                        .get(&url)
                        .bearer_auth(format!("garbage-{i}"))
                        .send()
                        .await
                        .expect("verify request");
                    assert_eq!(res.status(), 401);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("flood task");
    }
    started.elapsed()
}

fn summaries(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["event"] == "verify_failed_summary")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_garbage_verifies_add_one_summary_line_and_keep_the_real_events() {
    let mut t = Tessera::start(
        dev_config,
        &shipped_log4rs(),
        &[("TESSERA__VERIFY__FAILURE_SUMMARY_SECS", "3600")],
    );
    assert_eq!(t.issue("before-flood", "rid-before"), 200);
    let took = garbage_verifies(&t, 10_000).await;
    assert_eq!(t.issue("after-flood", "rid-after"), 200);
    t.terminate();
    let (status, _) = t.wait_exit(Duration::from_secs(15)).expect("exit");
    assert!(status.success(), "{status}");
    let events = audit_events(&t);
    eprintln!(
        "audit_trail: 10000 garbage verifies in {took:?} -> {} audit lines in total",
        events.len()
    );
    let summary = summaries(&events);
    assert_eq!(summary.len(), 1, "{events:#?}");
    assert_eq!(summary[0]["source"], "127.0.0.1");
    assert_eq!(summary[0]["reason"], "malformed");
    assert_eq!(summary[0]["count"], 10_000);
    assert_eq!(summary[0]["window_secs"], 3600);
    assert!(events.len() <= 5, "{events:#?}");
    for rid in ["rid-before", "rid-after"] {
        assert!(
            events
                .iter()
                .any(|e| e["event"] == "token_issued" && e["request_id"] == rid),
            "{rid} in {events:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summary_is_written_when_its_window_ends_without_further_traffic() {
    let t = Tessera::start(
        dev_config,
        &shipped_log4rs(),
        &[("TESSERA__VERIFY__FAILURE_SUMMARY_SECS", "1")],
    );
    garbage_verifies(&t, 200).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = audit_events(&t);
        let summary = summaries(&events);
        let total: u64 = summary.iter().map(|s| s["count"].as_u64().unwrap()).sum();
        if total == 200 {
            assert!(summary.len() <= 10, "{summary:#?}");
            assert!(summary.iter().all(|s| s["window_secs"] == 1));
            assert!(summary.iter().all(|s| s.get("request_id").is_none()));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "summaries count {total} of 200 failures after 10 s: {summary:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_10_kb_request_id_never_reaches_an_audit_line() {
    let t = Tessera::start(dev_config, &shipped_log4rs(), &[]);
    let huge = "r".repeat(10 * 1024);
    assert_eq!(t.issue("user-rid", &huge), 200);
    let line = t.wait_for_line(AUDIT, "the token_issued event", |l| {
        l.contains("token_issued")
    });
    let event: Value = serde_json::from_str(&line).unwrap();
    let rid = event["request_id"].as_str().unwrap();
    assert!(!rid.is_empty() && rid.len() <= 128, "{rid}");
    assert!(!t.read(AUDIT).contains(&huge[..200]), "{line}");
}
