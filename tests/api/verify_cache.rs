//! The cache of checked signatures never weakens verify: the store record
//! is read on every request, so a cached token is refused the moment it is
//! revoked, and the cached claims answer to the audience like a fresh check.

use serde_json::json;

use crate::helpers::{Backend, SECRET, TestApp, assert_error, spawn_app};

crate::both_backends!(
    a_revoked_cached_token_fails_at_once,
    a_cached_token_of_a_revoked_session_fails_at_once,
    a_cached_token_of_a_revoked_user_fails_at_once,
    a_cached_token_still_answers_to_the_audience,
    verify_works_with_the_cache_off,
);

async fn a_revoked_cached_token_fails_at_once(b: Backend) {
    let app = spawn_app(b).await;
    let token = app.access_token("u").await;
    for _ in 0..3 {
        assert_eq!(app.verify_get(&token).await.status(), 200);
    }
    assert_eq!(app.revoke(&token).await.status(), 200);
    let body = assert_error(app.verify_get(&token).await, 401, "invalid_token").await;
    assert_eq!(body["error_description"], "token revoked");
    let res = app.verify_post(json!({ "token": token })).await;
    assert_error(res, 401, "invalid_token").await;
}

async fn a_cached_token_of_a_revoked_session_fails_at_once(b: Backend) {
    let app = spawn_app(b).await;
    let v = app.issue_ok(json!({"sub": "u", "refresh": true})).await;
    let access = v["access_token"].as_str().unwrap();
    let refresh = v["refresh_token"].as_str().unwrap();
    assert_eq!(app.verify_get(access).await.status(), 200);
    assert_eq!(app.verify_get(access).await.status(), 200);
    assert_eq!(app.revoke(refresh).await.status(), 200);
    let body = assert_error(app.verify_get(access).await, 401, "invalid_token").await;
    assert_eq!(body["error_description"], "token revoked");
}

async fn a_cached_token_of_a_revoked_user_fails_at_once(b: Backend) {
    let app = spawn_app(b).await;
    let token = app.access_token("u").await;
    assert_eq!(app.verify_get(&token).await.status(), 200);
    assert_eq!(app.verify_get(&token).await.status(), 200);
    let res = app
        .api
        .post(app.url("/token/revoke"))
        .basic_auth("admin-app", Some(SECRET))
        .json(&json!({"sub": "u"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_error(app.verify_get(&token).await, 401, "invalid_token").await;
}

async fn a_cached_token_still_answers_to_the_audience(b: Backend) {
    let app = spawn_app(b).await;
    let v = app.issue_ok(json!({"sub": "u", "aud": "video-api"})).await;
    let token = v["access_token"].as_str().unwrap();
    let ok = app
        .verify_post(json!({"token": token, "aud": "video-api"}))
        .await;
    assert_eq!(ok.status(), 200);
    let res = app
        .verify_post(json!({"token": token, "aud": "mail-api"}))
        .await;
    let body = assert_error(res, 401, "invalid_token").await;
    assert_eq!(body["error_description"], "wrong audience");
    let res = app.verify_post(json!({ "token": token })).await;
    assert_eq!(res.status(), 200);
}

async fn verify_works_with_the_cache_off(b: Backend) {
    let app = TestApp::builder(b)
        .configure(|s| s.verify.cache_entries = 0)
        .spawn()
        .await;
    let token = app.access_token("u").await;
    assert_eq!(app.verify_get(&token).await.status(), 200);
    assert_eq!(app.verify_get(&token).await.status(), 200);
    assert_eq!(app.revoke(&token).await.status(), 200);
    assert_error(app.verify_get(&token).await, 401, "invalid_token").await;
}
