//! Expired means expired: a token past `exp` but within the leeway has no
//! store record (the record ends at `exp`), and is reported as expired, not
//! revoked, in verify, its metric label and introspection; a revoked
//! token before its `exp` is still reported as revoked.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, assert_revoked};

crate::both_backends!(
    a_token_past_exp_within_the_leeway_answers_expired_not_revoked,
    a_revoked_token_before_exp_answers_revoked_with_a_leeway,
);

/// An app whose verify allows 30 s of clock skew past `exp`.
async fn app_with_leeway(b: Backend) -> TestApp {
    TestApp::builder(b)
        .configure(|s| s.tokens.leeway_secs = 30)
        .spawn()
        .await
}

async fn outcome_count(app: &TestApp, outcome: &str) -> String {
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let prefix = format!(r#"tessera_verify_total{{outcome="{outcome}"}} "#);
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or("0")
        .to_owned()
}

async fn active(app: &TestApp, token: &str) -> Value {
    let res = app.introspect(&[("token", token)]).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    v["active"].clone()
}

async fn a_token_past_exp_within_the_leeway_answers_expired_not_revoked(b: Backend) {
    let app = app_with_leeway(b).await;
    // `exp` is in whole seconds: a 1 s token issued late in a second lives
    // for milliseconds. With 2 s it lives at least one, and ends at most
    // 2 s after issue.
    let v = app.issue_ok(json!({"sub": "u", "ttl": 2})).await;
    let token = v["access_token"].as_str().unwrap();
    assert_eq!(app.verify_get(token).await.status(), 200);
    assert_eq!(active(&app, token).await, true);
    // Past `exp` (at most 2 s after issue), well inside the 30 s leeway.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let res = app.verify_get(token).await;
    let www = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        www.contains(r#"error_description="token expired""#),
        "{www}"
    );
    let body = assert_error(res, 401, "invalid_token").await;
    assert_eq!(body["error_description"], "token expired");
    assert_eq!(outcome_count(&app, "expired").await, "1");
    assert_eq!(outcome_count(&app, "revoked").await, "0");
    assert_eq!(active(&app, token).await, false);
}

async fn a_revoked_token_before_exp_answers_revoked_with_a_leeway(b: Backend) {
    let app = app_with_leeway(b).await;
    let token = app.access_token("u").await;
    assert_eq!(app.revoke(&token).await.status(), 200);
    assert_revoked(app.verify_get(&token).await).await;
    assert_eq!(outcome_count(&app, "revoked").await, "1");
    assert_eq!(outcome_count(&app, "expired").await, "0");
    assert_eq!(active(&app, &token).await, false);
}

/// On the real binary (its default leeway, 30 s): the audit summary of a
/// verify past `exp` gives the reason `expired`, never `revoked`.
#[test]
fn the_audit_summary_calls_a_token_past_exp_expired() {
    use crate::binary::{Tessera, dev_config, log4rs_yaml};
    let mut t = Tessera::start(
        dev_config,
        &log4rs_yaml("info"),
        &[
            ("TESSERA_ENV", "dev"),
            ("TESSERA__VERIFY__FAILURE_SUMMARY_SECS", "3600"),
        ],
    );
    let basic = crate::binary::app_basic();
    let (status, _, body) = t
        .request(
            "POST",
            "/token/issue",
            &[
                ("Authorization", basic.as_str()),
                ("Content-Type", "application/json"),
            ],
            r#"{"sub":"u","ttl":1}"#,
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let bearer = format!("Bearer {}", v["access_token"].as_str().unwrap());
    std::thread::sleep(Duration::from_millis(2100));
    let (status, _, body) = t
        .get("/token/verify", &[("Authorization", bearer.as_str())])
        .unwrap();
    assert_eq!(status, 401);
    assert!(body.contains("token expired"), "{body}");
    t.terminate();
    let (status, _) = t.wait_exit(Duration::from_secs(15)).expect("exit");
    assert!(status.success(), "{status}");
    let audit = t.read("logs/audit.log");
    let summaries: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("audit lines are JSON"))
        .filter(|e| e["event"] == "verify_failed_summary")
        .collect();
    assert_eq!(summaries.len(), 1, "{audit}");
    assert_eq!(summaries[0]["reason"], "expired", "{audit}");
    assert_eq!(summaries[0]["count"], 1);
}
