//! RFC 7662 introspection, RFC 7009 revocation details, RFC 8414 metadata.

use serde_json::{Value, json};

use crate::helpers::{Backend, SECRET, assert_error, spawn_app};

crate::both_backends!(
    introspection_of_a_live_access_token_is_active_with_the_rfc_members,
    introspection_of_a_live_refresh_token_is_active,
    introspection_is_inactive_for_anything_not_valid,
    introspection_needs_client_credentials_and_the_grant,
    introspection_accepts_client_secret_post,
    token_type_hint_is_only_a_hint,
    discovery_metadata_names_the_endpoints,
);

async fn introspection_of_a_live_access_token_is_active_with_the_rfc_members(b: Backend) {
    let app = spawn_app(b).await;
    let v = app
        .issue_ok(json!({"sub": "u", "aud": "api", "scope": "read"}))
        .await;
    let at = v["access_token"].as_str().unwrap();
    let res = app.introspect(&[("token", at)]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "access_token");
    for m in [
        "scope",
        "client_id",
        "sub",
        "aud",
        "iss",
        "exp",
        "iat",
        "nbf",
        "jti",
    ] {
        assert!(body.get(m).is_some(), "{m} missing in {body}");
    }
    assert_eq!(body["sub"], "u");
    assert_eq!(body["aud"], "api");
}

async fn introspection_of_a_live_refresh_token_is_active(b: Backend) {
    let app = spawn_app(b).await;
    let v = app.issue_ok(json!({"sub": "u", "refresh": true})).await;
    let rt = v["refresh_token"].as_str().unwrap();
    let body: Value = app.introspect(&[("token", rt)]).await.json().await.unwrap();
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["sub"], "u");
    assert_eq!(body["client_id"], "issuer-app");
    // After rotation the old refresh token is inactive.
    app.refresh(rt).await;
    let body: Value = app.introspect(&[("token", rt)]).await.json().await.unwrap();
    assert_eq!(body, json!({"active": false}));
}

async fn introspection_is_inactive_for_anything_not_valid(b: Backend) {
    let app = spawn_app(b).await;
    let revoked = app.access_token("u").await;
    app.revoke(&revoked).await;
    let expired = app.issue_ok(json!({"sub": "u", "ttl": 1})).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    for (what, token) in [
        ("revoked", revoked.as_str()),
        ("expired", expired.as_str()),
        ("garbage", "garbage"),
        ("empty", ""),
        (
            "unknown refresh",
            "dQ.00000000000000000000000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ),
    ] {
        let res = app.introspect(&[("token", token)]).await;
        assert_eq!(res.status(), 200, "{what}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body, json!({"active": false}), "{what}");
    }
}

async fn introspection_needs_client_credentials_and_the_grant(b: Backend) {
    let app = spawn_app(b).await;
    let at = app.access_token("u").await;
    let res = app
        .post_form("/token/introspect", None, &[("token", at.as_str())])
        .await;
    assert_error(res, 401, "invalid_client").await;
    let res = app
        .post_form(
            "/token/introspect",
            Some("verify-only"),
            &[("token", at.as_str())],
        )
        .await;
    assert_error(res, 403, "unauthorized_client").await;
}

async fn introspection_accepts_client_secret_post(b: Backend) {
    let app = spawn_app(b).await;
    let at = app.access_token("u").await;
    let res = app
        .post_form(
            "/token/introspect",
            None,
            &[
                ("token", at.as_str()),
                ("client_id", "issuer-app"),
                ("client_secret", SECRET),
            ],
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["active"], true);
}

async fn token_type_hint_is_only_a_hint(b: Backend) {
    let app = spawn_app(b).await;
    let v = app.issue_ok(json!({"sub": "u", "refresh": true})).await;
    let (at, rt) = (
        v["access_token"].as_str().unwrap(),
        v["refresh_token"].as_str().unwrap(),
    );
    for hint in ["refresh_token", "access_token", "something_else"] {
        let body: Value = app
            .introspect(&[("token", at), ("token_type_hint", hint)])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["token_type"], "access_token", "hint {hint}");
        let body: Value = app
            .introspect(&[("token", rt), ("token_type_hint", hint)])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["token_type"], "refresh_token", "hint {hint}");
    }
    // An unsupported hint on revoke is ignored, not an error.
    let res = app
        .revoke_as("issuer-app", &[("token", at), ("token_type_hint", "weird")])
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.verify_get(at).await.status(), 401);
}

async fn discovery_metadata_names_the_endpoints(b: Backend) {
    let app = spawn_app(b).await;
    let v: Value = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["issuer"], "http://tessera.test");
    assert_eq!(v["jwks_uri"], "http://tessera.test/.well-known/jwks.json");
    assert_eq!(
        v["introspection_endpoint"],
        "http://tessera.test/token/introspect"
    );
    assert_eq!(v["revocation_endpoint"], "http://tessera.test/token/revoke");
    let methods = v["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&json!("client_secret_basic")));
    assert!(methods.contains(&json!("client_secret_post")));
}
