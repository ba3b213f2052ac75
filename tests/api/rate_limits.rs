//! Overload is shed politely: 429 `rate_limited` with `Retry-After`, per
//! client id and per source IP, configurable; verify only when asked.

use reqwest::Response;
use serde_json::json;

use crate::helpers::{Backend, SECRET, Settings, TestApp, assert_error};

fn tiny_client(s: &mut Settings) {
    s.rate_limit.per_client_per_sec = 1;
    s.rate_limit.per_client_burst = 2;
}

fn tiny_ip(s: &mut Settings) {
    s.rate_limit.per_ip_per_sec = 1;
    s.rate_limit.per_ip_burst = 2;
}

async fn assert_429(res: Response) {
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After is whole seconds");
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    let v = assert_error(res, 429, "rate_limited").await;
    assert_eq!(v["error_description"], "too many requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_limit_gets_429_with_retry_after() {
    let app = TestApp::builder(Backend::Memory)
        .configure(tiny_client)
        .spawn()
        .await;
    for _ in 0..2 {
        assert_eq!(app.issue(json!({"sub": "u"})).await.status(), 200);
    }
    assert_429(app.issue(json!({"sub": "u"})).await).await;
    // Another client has its own budget.
    let res = app.issue_as("other-app", json!({"sub": "u"})).await;
    assert_eq!(res.status(), 200);
    // Refresh and introspect draw on the same per-client budget.
    assert_429(app.refresh("x").await).await;
    assert_429(app.introspect(&[("token", "x")]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_ip_limit_applies_before_client_authentication() {
    let app = TestApp::builder(Backend::Memory)
        .configure(|s| {
            s.rate_limit.per_ip_per_sec = 1;
            s.rate_limit.per_ip_burst = 3;
        })
        .spawn()
        .await;
    let guess = |secret: &'static str| {
        app.api
            .post(app.url("/token/issue"))
            .basic_auth("issuer-app", Some(secret))
            .json(&json!({"sub": "u"}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(guess("wrong-guess-000000").await.unwrap().status(), 401);
    }
    // The fourth guess is refused before any Argon2 work, and so is the
    // right secret from the same address until the bucket refills.
    assert_429(guess("wrong-guess-000000").await.unwrap()).await;
    assert_429(guess(SECRET).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_is_not_limited_by_default_but_can_be() {
    let app = TestApp::builder(Backend::Memory)
        .configure(tiny_ip)
        .spawn()
        .await;
    let token = app.access_token("u").await;
    for _ in 0..20 {
        assert_eq!(app.verify_get(&token).await.status(), 200);
    }

    let app = TestApp::builder(Backend::Memory)
        .configure(tiny_ip)
        .configure(|s| s.rate_limit.verify = true)
        .spawn()
        .await;
    let token = app.access_token("u").await;
    assert_eq!(app.verify_get(&token).await.status(), 200);
    assert_429(app.verify_get(&token).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_can_be_turned_off() {
    let app = TestApp::builder(Backend::Memory)
        .configure(tiny_client)
        .configure(|s| s.rate_limit.enabled = false)
        .spawn()
        .await;
    for _ in 0..10 {
        assert_eq!(app.issue(json!({"sub": "u"})).await.status(), 200);
    }
}
