//! RFC 7009 §2.1 and RFC 7662 §4: a client revokes only tokens issued to it
//! (`admin` may revoke any), and `clients[].introspect: own` hides other
//! clients' tokens. A refused revocation answers 200 without effect and is
//! audited as `revocation_refused`.

use serde_json::{Value, json};

use crate::binary::{Tessera, dev_config_with_clients, log4rs_yaml};
use crate::helpers::{Backend, SECRET, TestApp, assert_error, spawn_app};
use tessera::domain::IntrospectScope;

crate::both_backends!(
    another_client_cannot_revoke_an_access_token,
    another_client_cannot_end_a_session_with_a_superseded_refresh_token,
    another_client_cannot_end_a_session_with_its_current_refresh_token,
    an_admin_client_may_revoke_any_token,
    introspect_all_sees_other_clients_tokens_and_own_does_not,
);

/// A session issued to `issuer-app`: (access, first refresh, current refresh).
async fn rotated_session(app: &TestApp) -> (String, String, String) {
    let v = app.issue_ok(json!({"sub": "u", "refresh": true})).await;
    let first = v["refresh_token"].as_str().unwrap().to_owned();
    let res = app.refresh(&first).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    (
        v["access_token"].as_str().unwrap().to_owned(),
        first,
        v["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn another_client_cannot_revoke_an_access_token(b: Backend) {
    let app = spawn_app(b).await;
    let token = app.access_token("u").await;
    for hint in ["access_token", "refresh_token"] {
        let res = app
            .revoke_as("other-app", &[("token", &token), ("token_type_hint", hint)])
            .await;
        assert_eq!(res.status(), 200, "a refusal answers like an unknown token");
        assert_eq!(res.text().await.unwrap(), "");
    }
    assert_eq!(app.verify_get(&token).await.status(), 200, "still live");
    // The owner still can.
    assert_eq!(app.revoke(&token).await.status(), 200);
    assert_eq!(app.verify_get(&token).await.status(), 401);
}

async fn another_client_cannot_end_a_session_with_a_superseded_refresh_token(b: Backend) {
    let app = spawn_app(b).await;
    let (access, superseded, current) = rotated_session(&app).await;
    let res = app.revoke_as("other-app", &[("token", &superseded)]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.verify_get(&access).await.status(), 200, "access live");
    let res = app.refresh(&current).await;
    assert_eq!(res.status(), 200, "the session was not ended");
}

async fn another_client_cannot_end_a_session_with_its_current_refresh_token(b: Backend) {
    let app = spawn_app(b).await;
    let (access, _, current) = rotated_session(&app).await;
    let res = app
        .revoke_as(
            "other-app",
            &[("token", &current), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.verify_get(&access).await.status(), 200);
    assert_eq!(app.refresh(&current).await.status(), 200);
}

async fn an_admin_client_may_revoke_any_token(b: Backend) {
    let app = spawn_app(b).await;
    let token = app.access_token("u").await;
    let res = app.revoke_as("admin-app", &[("token", &token)]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.verify_get(&token).await.status(), 401);
    let (access, superseded, current) = rotated_session(&app).await;
    let res = app.revoke_as("admin-app", &[("token", &superseded)]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.verify_get(&access).await.status(), 401);
    assert_error(app.refresh(&current).await, 401, "invalid_token").await;
}

async fn introspect_all_sees_other_clients_tokens_and_own_does_not(b: Backend) {
    let app = TestApp::builder(b)
        .configure(|s| {
            let other = s.clients.iter_mut().find(|c| c.id.as_str() == "other-app");
            other.unwrap().introspect = IntrospectScope::Own;
        })
        .spawn()
        .await;
    let v = app.issue_ok(json!({"sub": "u", "refresh": true})).await;
    let mine = app
        .issue_as("other-app", json!({"sub": "u", "refresh": false}))
        .await;
    let mine: Value = mine.json().await.unwrap();
    let mine = mine["access_token"].as_str().unwrap();
    for token in [&v["access_token"], &v["refresh_token"]] {
        let token = token.as_str().unwrap();
        // admin-app has the default, `all`: a gateway sees every client's tokens.
        let seen: Value = app
            .introspect_as("admin-app", &[("token", token)])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(seen["active"], true, "{seen}");
        assert_eq!(seen["client_id"], "issuer-app");
        let hidden: Value = app
            .introspect_as("other-app", &[("token", token)])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(hidden, json!({"active": false}));
    }
    let own: Value = app
        .introspect_as("other-app", &[("token", mine)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["active"], true, "its own token: {own}");
}

/// Two clients on the real binary, with the audit file: the refused
/// revocation is one `revocation_refused` line naming both clients, the
/// user and the session, and never the token.
#[test]
fn a_refused_revocation_is_audited_without_the_token() {
    let config = |port: u16| dev_config_with_clients(port, &[("intruder", "[revoke]")]);
    let t = Tessera::start(config, &log4rs_yaml("info"), &[("TESSERA_ENV", "dev")]);
    let basic = |id: &str| {
        use base64::Engine;
        let raw = format!("{id}:{SECRET}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    };
    let json_ct = ("Content-Type", "application/json");
    let (status, _, body) = t
        .request(
            "POST",
            "/token/issue",
            &[("Authorization", &basic("app")), json_ct],
            r#"{"sub":"user-7"}"#,
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let issued: Value = serde_json::from_str(&body).unwrap();
    let token = issued["access_token"].as_str().unwrap();
    let claims = crate::helpers::claims_of(token);
    let form = format!("token={token}");
    let (status, _, _) = t
        .request(
            "POST",
            "/token/revoke",
            &[
                ("Authorization", &basic("intruder")),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &form,
        )
        .unwrap();
    assert_eq!(status, 200);
    let line = t.wait_for_line("logs/audit.log", "revocation_refused", |l| {
        l.contains("revocation_refused")
    });
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["client_id"], "intruder");
    assert_eq!(event["owner_client_id"], "app");
    assert_eq!(event["sub"], "user-7");
    assert_eq!(event["sid"], claims["sid"]);
    assert_eq!(event["token_type"], "access_token");
    let audit = t.read("logs/audit.log");
    let signature = token.rsplit('.').next().unwrap();
    assert!(!audit.contains(signature), "token in the audit log");
    assert!(!audit.contains("token_revoked"), "{audit}");
    let bearer = format!("Bearer {token}");
    let (status, _, _) = t
        .get("/token/verify", &[("Authorization", bearer.as_str())])
        .unwrap();
    assert_eq!(status, 200, "the token is still live");
}
