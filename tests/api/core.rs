//! Issue, verify and revoke over HTTP, identical on both backends.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    Backend, SECRET, TestApp, assert_error, assert_revoked, claims_of, spawn_app,
};

crate::both_backends!(
    issue_then_verify_then_revoke_then_verify_fails,
    issued_token_carries_the_contract_claims,
    expired_token_fails_after_its_ttl,
    wrong_client_secret_is_401_with_basic_challenge,
    unknown_client_is_401,
    missing_grant_is_403,
    malformed_json_is_400_in_the_error_shape,
    unknown_field_is_400_naming_the_field,
    missing_sub_is_400_naming_the_field,
    tampered_signature_is_401,
    token_for_another_issuer_is_401,
    verify_accepts_the_bearer_header_on_get_and_post,
    verify_get_sets_gateway_headers,
    verify_checks_the_audience_only_when_asked,
    revoke_of_an_unknown_token_is_200,
    revoke_accepts_json_and_form_bodies,
    ttl_is_capped_by_the_client_maximum,
    custom_claims_round_trip_and_reserved_names_are_refused,
    client_audience_and_scope_limits_are_enforced,
    unknown_paths_and_methods_get_the_error_shape,
    wrong_content_type_is_415_and_large_bodies_413,
    health_readiness_and_jwks_answer,
    verify_can_require_client_credentials,
);

async fn issue_then_verify_then_revoke_then_verify_fails(b: Backend) {
    let app = spawn_app(b).await;
    let token = app.access_token("user-42").await;
    let res = app.verify_post(json!({ "token": token })).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], "user-42");

    assert_eq!(app.revoke(&token).await.status(), 200);
    let res = app.verify_post(json!({ "token": token })).await;
    assert_revoked(res).await;
}

async fn issued_token_carries_the_contract_claims(b: Backend) {
    let app = spawn_app(b).await;
    let res = app
        .issue(json!({"sub": "user-42", "aud": "video-api", "scope": "write read", "ttl": 600}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 600);
    assert_eq!(v["scope"], "read write");
    assert!(
        v.get("refresh_token").is_none(),
        "no refresh unless asked: {v}"
    );
    let token = v["access_token"].as_str().unwrap();
    let header: Value = {
        use base64::Engine;
        let h = token.split('.').next().unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], "k1");
    let c = claims_of(token);
    for claim in [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "client_id",
        "scope",
        "sid",
    ] {
        assert!(c.get(claim).is_some(), "claim {claim} missing in {c}");
    }
    assert_eq!(c["iss"], "http://tessera.test");
    assert_eq!(c["client_id"], "issuer-app");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);
    uuid::Uuid::parse_str(c["jti"].as_str().unwrap()).expect("jti is a UUID");
}

async fn expired_token_fails_after_its_ttl(b: Backend) {
    let app = spawn_app(b).await;
    // 3 s, not 1: on a loaded machine issue and the first verify can be a
    // second apart. Then wait until just past `exp` (the suite runs with no
    // leeway), measured from the token itself.
    let v = app.issue_ok(json!({"sub": "user-1", "ttl": 3})).await;
    let token = v["access_token"].as_str().unwrap();
    assert_eq!(app.verify_get(token).await.status(), 200);
    let exp = claims_of(token)["exp"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let wait = u64::try_from(exp * 1000 - now).unwrap_or(0) + 1100;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let body = assert_error(app.verify_get(token).await, 401, "invalid_token").await;
    assert_eq!(body["error_description"], "token expired");
}

async fn wrong_client_secret_is_401_with_basic_challenge(b: Backend) {
    let app = spawn_app(b).await;
    let res = app
        .api
        .post(app.url("/token/issue"))
        .basic_auth("issuer-app", Some("wrong-secret-123456"))
        .json(&json!({"sub": "u"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Basic realm="tessera""#
    );
    assert_error(res, 401, "invalid_client").await;
    let res = app
        .post_json("/token/issue", None, &json!({"sub": "u"}))
        .await;
    assert_error(res, 401, "invalid_client").await;
}

async fn unknown_client_is_401(b: Backend) {
    let app = spawn_app(b).await;
    let res = app.issue_as("nobody", json!({"sub": "u"})).await;
    assert_error(res, 401, "invalid_client").await;
}

async fn missing_grant_is_403(b: Backend) {
    let app = spawn_app(b).await;
    let res = app.issue_as("verify-only", json!({"sub": "u"})).await;
    let body = assert_error(res, 403, "unauthorized_client").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("issue")
    );
}

async fn malformed_json_is_400_in_the_error_shape(b: Backend) {
    let app = spawn_app(b).await;
    let res = app
        .post_raw(
            "/token/issue",
            "issuer-app",
            "application/json",
            "{\"sub\": ",
        )
        .await;
    assert_error(res, 400, "invalid_request").await;
}

async fn unknown_field_is_400_naming_the_field(b: Backend) {
    let app = spawn_app(b).await;
    let res = app.issue(json!({"sub": "u", "admin": true})).await;
    let body = assert_error(res, 400, "invalid_request").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("`admin`"),
        "{body}"
    );
}

async fn missing_sub_is_400_naming_the_field(b: Backend) {
    let app = spawn_app(b).await;
    let res = app.issue(json!({"scope": "read"})).await;
    let body = assert_error(res, 400, "invalid_request").await;
    assert_eq!(body["error_description"], "field `sub` is required");
}

async fn tampered_signature_is_401(b: Backend) {
    let app = spawn_app(b).await;
    let token = app.access_token("user-42").await;
    let (rest, sig) = token.rsplit_once('.').unwrap();
    let mut sig = sig.as_bytes().to_vec();
    sig[5] = if sig[5] == b'A' { b'B' } else { b'A' };
    let forged = format!("{rest}.{}", String::from_utf8(sig).unwrap());
    let body = assert_error(app.verify_get(&forged).await, 401, "invalid_token").await;
    assert_eq!(body["error_description"], "bad signature");
}

/// Signs `claims` with the app's own key, as an attacker who stole the key
/// of another deployment (or a misconfigured sibling) would.
fn sign_with_app_key(app: &TestApp, claims: &Value) -> String {
    let pem = std::fs::read(app.key_file("k1")).unwrap();
    let key = jsonwebtoken::EncodingKey::from_ed_pem(&pem).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.typ = Some("at+jwt".into());
    header.kid = Some("k1".into());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

async fn token_for_another_issuer_is_401(b: Backend) {
    let app = spawn_app(b).await;
    let token = app.access_token("user-42").await;
    let mut claims = claims_of(&token);
    claims["iss"] = json!("http://evil.test");
    let forged = sign_with_app_key(&app, &claims);
    let body = assert_error(app.verify_get(&forged).await, 401, "invalid_token").await;
    assert_eq!(body["error_description"], "wrong issuer");
}

async fn verify_accepts_the_bearer_header_on_get_and_post(b: Backend) {
    let app = spawn_app(b).await;
    let token = app.access_token("user-7").await;
    assert_eq!(app.verify_get(&token).await.status(), 200);
    let res = app
        .api
        .post(app.url("/token/verify"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app.api.get(app.url("/token/verify")).send().await.unwrap();
    assert_error(res, 401, "invalid_token").await;
}

async fn verify_get_sets_gateway_headers(b: Backend) {
    let app = spawn_app(b).await;
    let v = app
        .issue_ok(json!({"sub": "user-9", "scope": "read"}))
        .await;
    let res = app.verify_get(v["access_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-auth-subject"], "user-9");
    assert_eq!(res.headers()["x-auth-scope"], "read");
    assert_eq!(res.headers()["x-auth-client"], "issuer-app");
    assert!(res.headers().contains_key("x-request-id"));
}

async fn verify_checks_the_audience_only_when_asked(b: Backend) {
    let app = spawn_app(b).await;
    let v = app.issue_ok(json!({"sub": "u", "aud": "video-api"})).await;
    let token = v["access_token"].as_str().unwrap();
    assert_eq!(app.verify_post(json!({"token": token})).await.status(), 200);
    assert_eq!(
        app.verify_post(json!({"token": token, "aud": "video-api"}))
            .await
            .status(),
        200
    );
    let body = assert_error(
        app.verify_post(json!({"token": token, "aud": "billing-api"}))
            .await,
        401,
        "invalid_token",
    )
    .await;
    assert_eq!(body["error_description"], "wrong audience");
    let res = app
        .api
        .get(app.url("/token/verify?aud=billing-api"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "invalid_token").await;
}

async fn revoke_of_an_unknown_token_is_200(b: Backend) {
    let app = spawn_app(b).await;
    let res = app.revoke("not-a-token-at-all").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "");
}

async fn revoke_accepts_json_and_form_bodies(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.access_token("u").await;
    let res = app
        .post_json(
            "/token/revoke",
            Some("issuer-app"),
            &json!({"token": a, "token_type_hint": "access_token"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.verify_get(&a).await.status(), 401);
    let b2 = app.access_token("u").await;
    let res = app
        .post_form(
            "/token/revoke",
            None,
            &[
                ("token", b2.as_str()),
                ("client_id", "issuer-app"),
                ("client_secret", SECRET),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.verify_get(&b2).await.status(), 401);
}

async fn ttl_is_capped_by_the_client_maximum(b: Backend) {
    let app = spawn_app(b).await;
    let v = app.issue_ok(json!({"sub": "u", "ttl": 999_999})).await;
    assert_eq!(v["expires_in"], 3600);
    let res = app.issue(json!({"sub": "u", "ttl": 0})).await;
    assert_error(res, 400, "invalid_request").await;
}

async fn custom_claims_round_trip_and_reserved_names_are_refused(b: Backend) {
    let app = spawn_app(b).await;
    let v = app
        .issue_ok(json!({"sub": "u", "claims": {"role": "editor", "tenant": 7}}))
        .await;
    let res = app.verify_get(v["access_token"].as_str().unwrap()).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["claims"], json!({"role": "editor", "tenant": 7}));
    for reserved in ["sub", "exp", "iss", "sid", "client_id"] {
        let res = app
            .issue(json!({"sub": "u", "claims": { reserved: "x" }}))
            .await;
        let body = assert_error(res, 400, "invalid_request").await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("reserved"),
            "{body}"
        );
    }
}

async fn client_audience_and_scope_limits_are_enforced(b: Backend) {
    let app = spawn_app(b).await;
    let v: Value = app
        .issue_as("narrow-app", json!({"sub": "u", "scope": "read"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        claims_of(v["access_token"].as_str().unwrap())["aud"],
        "video-api"
    );
    let res = app
        .issue_as("narrow-app", json!({"sub": "u", "aud": "billing"}))
        .await;
    assert_error(res, 400, "invalid_request").await;
    let res = app
        .issue_as("narrow-app", json!({"sub": "u", "scope": "read admin"}))
        .await;
    let body = assert_error(res, 400, "invalid_request").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("`admin`")
    );
}

async fn unknown_paths_and_methods_get_the_error_shape(b: Backend) {
    let app = spawn_app(b).await;
    assert_error(app.get("/nope").await, 404, "not_found").await;
    let res = app.api.put(app.url("/token/issue")).send().await.unwrap();
    assert_error(res, 405, "method_not_allowed").await;
    let res = app
        .api
        .delete(app.url("/token/verify"))
        .send()
        .await
        .unwrap();
    assert_error(res, 405, "method_not_allowed").await;
}

async fn wrong_content_type_is_415_and_large_bodies_413(b: Backend) {
    let app = spawn_app(b).await;
    let res = app
        .post_raw("/token/issue", "issuer-app", "text/plain", "sub=u")
        .await;
    assert_error(res, 415, "unsupported_media_type").await;
    let big = json!({"sub": "u", "claims": {"blob": "x".repeat(20_000)}});
    let res = app.issue(big).await;
    assert_error(res, 413, "payload_too_large").await;
}

async fn health_readiness_and_jwks_answer(b: Backend) {
    let app = spawn_app(b).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
    let res = app.get("/.well-known/jwks.json").await;
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let jwks: Value = res.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kid"], "k1");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kty"], "OKP");
    assert!(key.get("d").is_none(), "private part published: {key}");
}

async fn verify_can_require_client_credentials(b: Backend) {
    let app = TestApp::builder(b)
        .configure(|s| s.verify.require_client_auth = true)
        .spawn()
        .await;
    let token = app.access_token("u").await;
    let res = app.verify_post(json!({"token": token})).await;
    assert_error(res, 401, "invalid_client").await;
    let res = app
        .post_json(
            "/token/verify",
            Some("verify-only"),
            &json!({"token": token}),
        )
        .await;
    assert_eq!(res.status(), 200);
}
