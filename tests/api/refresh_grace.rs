//! A retried refresh never logs the user out: the refresh token the last
//! rotation replaced, presented again by its client within
//! `tokens.refresh_grace_secs`, is answered with the same successor and a
//! fresh access token; outside the window, or past the retry bound, it is
//! reuse as before.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, spawn_app};

crate::both_backends!(
    a_retried_refresh_gets_the_same_refresh_token_and_keeps_the_session,
    after_the_grace_window_the_replaced_token_is_reuse,
    another_client_cannot_retry_and_revokes_nothing,
    tabs_refreshing_at_once_all_stay_signed_in,
    a_retry_storm_past_the_bound_is_treated_as_theft,
);

async fn pair(app: &TestApp, sub: &str) -> String {
    let v = app.issue_ok(json!({"sub": sub, "refresh": true})).await;
    v["refresh_token"].as_str().unwrap().to_owned()
}

async fn refreshed(app: &TestApp, rt: &str) -> (String, String) {
    let res = app.refresh(rt).await;
    assert_eq!(res.status(), 200, "refresh");
    let v: Value = res.json().await.unwrap();
    (
        v["access_token"].as_str().unwrap().to_owned(),
        v["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn a_retried_refresh_gets_the_same_refresh_token_and_keeps_the_session(b: Backend) {
    let app = spawn_app(b).await;
    let rt1 = pair(&app, "u").await;
    let (at2, rt2) = refreshed(&app, &rt1).await;
    // The answer was lost; the client sends the same request again.
    let (at2b, rt2b) = refreshed(&app, &rt1).await;
    assert_eq!(rt2b, rt2, "the same successor");
    assert_ne!(at2b, at2, "a fresh access token");
    for at in [&at2, &at2b] {
        assert_eq!(app.verify_get(at).await.status(), 200);
    }
    let (at3, _) = refreshed(&app, &rt2).await;
    assert_eq!(app.verify_get(&at3).await.status(), 200);
    let sessions: Value = app
        .admin_get("/users/u/sessions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions["sessions"].as_array().map(Vec::len), Some(1));
}

async fn after_the_grace_window_the_replaced_token_is_reuse(b: Backend) {
    let app = TestApp::builder(b)
        .configure(|s| s.tokens.refresh_grace_secs = 1)
        .spawn()
        .await;
    let rt1 = pair(&app, "u").await;
    let (at2, rt2) = refreshed(&app, &rt1).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let body = assert_error(app.refresh(&rt1).await, 401, "invalid_token").await;
    assert!(body.to_string().contains("reused"), "{body}");
    assert_error(app.refresh(&rt2).await, 401, "invalid_token").await;
    assert_eq!(app.verify_get(&at2).await.status(), 401, "family revoked");
}

async fn another_client_cannot_retry_and_revokes_nothing(b: Backend) {
    let app = spawn_app(b).await;
    let rt1 = pair(&app, "u").await;
    let (at2, rt2) = refreshed(&app, &rt1).await;
    assert_error(
        app.refresh_as("other-app", &rt1).await,
        401,
        "invalid_token",
    )
    .await;
    assert_eq!(app.verify_get(&at2).await.status(), 200);
    refreshed(&app, &rt2).await;
}

async fn tabs_refreshing_at_once_all_stay_signed_in(b: Backend) {
    let app = Arc::new(spawn_app(b).await);
    let rt1 = pair(&app, "u").await;
    let tabs: Vec<_> = (0..3)
        .map(|_| {
            let (app, rt1) = (app.clone(), rt1.clone());
            tokio::spawn(async move { refreshed(&app, &rt1).await })
        })
        .collect();
    let mut successors = Vec::new();
    for t in tabs {
        successors.push(t.await.unwrap().1);
    }
    successors.dedup();
    assert_eq!(
        successors.len(),
        1,
        "every tab holds the same refresh token"
    );
    refreshed(&app, &successors[0]).await;
}

async fn a_retry_storm_past_the_bound_is_treated_as_theft(b: Backend) {
    let app = Arc::new(spawn_app(b).await);
    let rt1 = pair(&app, "u").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, rt1) = (app.clone(), rt1.clone());
            tokio::spawn(async move {
                let res = app.refresh(&rt1).await;
                let status = res.status().as_u16();
                let v: Value = res.json().await.unwrap();
                (status, v["refresh_token"].as_str().map(str::to_owned))
            })
        })
        .collect();
    let mut ok = Vec::new();
    for t in tasks {
        let (status, rt) = t.await.unwrap();
        assert!(status == 200 || status == 401, "{status}");
        ok.extend(rt);
    }
    // One rotation and the default three retries; the fifth presentation
    // is reuse and revokes the session, so the successor dies too.
    assert_eq!(ok.len(), 4, "{ok:?}");
    ok.dedup();
    assert_eq!(ok.len(), 1);
    assert_error(app.refresh(&ok[0]).await, 401, "invalid_token").await;
}
