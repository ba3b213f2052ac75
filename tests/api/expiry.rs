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
    let v = app.issue_ok(json!({"sub": "u", "ttl": 1})).await;
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
