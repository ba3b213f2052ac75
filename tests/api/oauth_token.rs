//! `POST /oauth2/token` (RFC 6749 §3.2) on every grant and both stores:
//! client credentials (§4.4), the refresh grant (§6, sharing
//! `/token/refresh`'s rotation and retry rules, with RFC error codes), and
//! token exchange (RFC 8693) whose tokens die with the user's session.

use reqwest::Response;
use serde_json::{Value, json};
use tessera::config::ClientSettings;
use tessera::domain::{Audience, ClientId, Grant, Scope, SecretHash};

use crate::helpers::{
    Backend, SECRET, Settings, TestApp, assert_error, assert_revoked, claims_of, secret_hash,
};

crate::both_backends!(
    client_credentials_gives_the_client_a_revocable_token_of_its_own,
    client_credentials_narrows_scope_and_picks_the_target,
    the_refresh_grant_rotates_like_token_refresh_with_rfc_errors,
    token_exchange_delegates_within_the_session,
    token_exchange_of_a_token_without_session_stands_alone,
    token_exchange_refuses_dead_subject_tokens,
);

pub const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A client with `grants`, `audiences` and `scopes`, secret [`SECRET`].
pub fn client(id: &str, grants: &[Grant], audiences: &[&str], scopes: &str) -> ClientSettings {
    ClientSettings {
        id: ClientId::parse(id).unwrap(),
        secret_hash: SecretHash::parse(secret_hash()).unwrap(),
        grants: grants.to_vec(),
        max_ttl_secs: Some(600),
        refresh_ttl_secs: None,
        audiences: audiences
            .iter()
            .map(|a| Audience::parse(a).unwrap())
            .collect(),
        scopes: Scope::parse(scopes).unwrap(),
        refresh_by_default: false,
        require_audience: false,
        introspect: Default::default(),
        rate_limit: None,
        dpop: Default::default(),
        dpop_proof_urls: Vec::new(),
    }
}

/// The base clients plus `svc-a` (client credentials) and `gateway`
/// (token exchange).
pub fn with_service_clients(s: &mut Settings) {
    s.clients.push(client(
        "svc-a",
        &[Grant::ClientCredentials],
        &["billing-api", "https://video.example/api"],
        "read write",
    ));
    s.clients.push(client(
        "gateway",
        &[Grant::TokenExchange],
        &["billing-api", "photo-api"],
        "read write",
    ));
}

pub async fn oauth_app(b: Backend) -> TestApp {
    TestApp::builder(b)
        .configure(with_service_clients)
        .spawn()
        .await
}

impl TestApp {
    /// `POST /oauth2/token` as `client` (Basic) with a form body.
    pub async fn oauth_token(&self, client: &str, form: &[(&str, &str)]) -> Response {
        self.post_form("/oauth2/token", Some(client), form).await
    }

    /// As [`Self::oauth_token`], asserting `200` and the RFC 6749 §5.1 shape.
    pub async fn oauth_token_ok(&self, client: &str, form: &[(&str, &str)]) -> Value {
        let res = self.oauth_token(client, form).await;
        let status = res.status();
        let headers = res.headers().clone();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["pragma"], "no-cache");
        assert_eq!(body["token_type"], "Bearer");
        assert!(body["expires_in"].as_i64().unwrap() > 0, "{body}");
        body
    }
}

fn token(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
        .to_owned()
}

async fn client_credentials_gives_the_client_a_revocable_token_of_its_own(b: Backend) {
    let app = oauth_app(b).await;
    let v = app
        .oauth_token_ok("svc-a", &[("grant_type", "client_credentials")])
        .await;
    assert!(v.get("refresh_token").is_none(), "no refresh token: {v}");
    assert!(v.get("issued_token_type").is_none(), "{v}");
    assert_eq!(
        v["scope"], "read write",
        "all the client's scopes by default"
    );
    assert_eq!(v["expires_in"], 600, "the client's max_ttl_secs");
    let at = token(&v, "access_token");
    let claims = claims_of(&at);
    assert_eq!(claims["sub"], "svc-a");
    assert_eq!(claims["client_id"], "svc-a");
    assert_eq!(claims["aud"], "billing-api", "the client's first audience");
    assert!(claims.get("act").is_none());
    assert_eq!(app.verify_get(&at).await.status(), 200);
    let intro: Value = app
        .introspect(&[("token", &at)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(intro["active"], true, "{intro}");
    assert_eq!(intro["sub"], "svc-a");

    // client_secret_post works the same.
    let res = app
        .post_form(
            "/oauth2/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "svc-a"),
                ("client_secret", SECRET),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"tessera_oauth_tokens_total{grant="client_credentials"} 2"#),
        "{metrics}"
    );

    // Stateful: revocation (an admin, or the user `svc-a` revoked) ends it.
    let res = app
        .post_json("/token/revoke", Some("admin-app"), &json!({"sub": "svc-a"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_revoked(app.verify_get(&at).await).await;
}

async fn client_credentials_narrows_scope_and_picks_the_target(b: Backend) {
    let app = oauth_app(b).await;
    let cc = |extra: &'static [(&'static str, &'static str)]| {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        form
    };
    let v = app
        .oauth_token_ok(
            "svc-a",
            &cc(&[("scope", "read"), ("resource", "https://video.example/api")]),
        )
        .await;
    assert_eq!(v["scope"], "read");
    assert_eq!(
        claims_of(&token(&v, "access_token"))["aud"],
        "https://video.example/api"
    );
    let v = app
        .oauth_token_ok("svc-a", &cc(&[("audience", "billing-api")]))
        .await;
    assert_eq!(claims_of(&token(&v, "access_token"))["aud"], "billing-api");

    let body = assert_error(
        app.oauth_token("svc-a", &cc(&[("scope", "read admin")]))
            .await,
        400,
        "invalid_scope",
    )
    .await;
    assert!(body.to_string().contains("admin"), "{body}");
    assert_error(
        app.oauth_token("svc-a", &cc(&[("audience", "photo-api")]))
            .await,
        400,
        "invalid_target",
    )
    .await;
    assert_error(
        app.oauth_token(
            "svc-a",
            &cc(&[
                ("audience", "billing-api"),
                ("resource", "https://video.example/api"),
            ]),
        )
        .await,
        400,
        "invalid_target",
    )
    .await;
    // A client without the grant.
    assert_error(
        app.oauth_token("issuer-app", &cc(&[])).await,
        400,
        "unauthorized_client",
    )
    .await;
}

async fn the_refresh_grant_rotates_like_token_refresh_with_rfc_errors(b: Backend) {
    let app = oauth_app(b).await;
    let v = app
        .issue_ok(json!({"sub": "u", "refresh": true, "scope": "read write"}))
        .await;
    let rt1 = token(&v, "refresh_token");
    let form = |rt: &str| {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", rt.to_owned()),
        ]
    };
    let send = |client: &'static str, rt: String, extra: Option<(&'static str, &'static str)>| {
        let app = &app;
        async move {
            let mut f: Vec<(&str, String)> = form(&rt);
            if let Some((k, v)) = extra {
                f.push((k, v.to_owned()));
            }
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.oauth_token(client, &f).await
        }
    };
    let res = send("issuer-app", rt1.clone(), Some(("scope", "read"))).await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["scope"], "read", "narrowed");
    let rt2 = token(&v, "refresh_token");
    assert_ne!(rt2, rt1);
    assert_eq!(
        app.verify_get(&token(&v, "access_token")).await.status(),
        200
    );
    // A retry inside the grace window: the same successor (shared code path).
    let v: Value = send("issuer-app", rt1.clone(), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(token(&v, "refresh_token"), rt2, "{v}");
    // The old endpoint accepts the successor too: one rotation state.
    let res = app.refresh(&rt2).await;
    assert_eq!(res.status(), 200);
    let rt3 = token(&res.json().await.unwrap(), "refresh_token");

    // RFC 6749 §5.2: invalid_grant (400), never 401 invalid_token.
    for (what, client, rt) in [
        ("garbage", "issuer-app", "not-a-refresh-token".to_owned()),
        ("another client's", "other-app", rt3.clone()),
    ] {
        let res = send(client, rt, None).await;
        assert!(res.headers().get("www-authenticate").is_none(), "{what}");
        assert_error(res, 400, "invalid_grant").await;
    }
    assert_error(
        send("issuer-app", rt3.clone(), Some(("scope", "admin"))).await,
        400,
        "invalid_scope",
    )
    .await;
    assert_error(
        app.oauth_token("issuer-app", &[("grant_type", "refresh_token")])
            .await,
        400,
        "invalid_request",
    )
    .await;
    // Reuse of a superseded token (past the retry) revokes the session.
    let body = assert_error(send("issuer-app", rt1, None).await, 400, "invalid_grant").await;
    assert!(body.to_string().contains("reused"), "{body}");
    assert_error(send("issuer-app", rt3, None).await, 400, "invalid_grant").await;
    // A client without `issue`.
    assert_error(send("svc-a", rt2, None).await, 400, "unauthorized_client").await;
}

fn exchange_form<'a>(subject: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", EXCHANGE),
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TYPE),
    ];
    form.extend_from_slice(extra);
    form
}

async fn token_exchange_delegates_within_the_session(b: Backend) {
    let app = oauth_app(b).await;
    let v = app
        .issue_ok(json!({"sub": "u", "refresh": true, "scope": "read write admin", "claims": {"tenant": "t1"}}))
        .await;
    let subject = token(&v, "access_token");
    let sid = claims_of(&subject)["sid"].as_str().unwrap().to_owned();
    let v = app
        .oauth_token_ok(
            "gateway",
            &exchange_form(&subject, &[("audience", "photo-api")]),
        )
        .await;
    assert_eq!(v["issued_token_type"], ACCESS_TYPE);
    assert!(v.get("refresh_token").is_none());
    assert_eq!(v["scope"], "read write", "subject's scope ∩ the client's");
    let exchanged = token(&v, "access_token");
    let claims = claims_of(&exchanged);
    assert_eq!(claims["sub"], "u");
    assert_eq!(claims["aud"], "photo-api");
    assert_eq!(claims["sid"], sid.as_str(), "same session");
    assert_eq!(claims["client_id"], "gateway");
    assert_eq!(claims["act"], json!({"sub": "gateway"}));
    assert_eq!(claims["tenant"], "t1", "custom claims carry over");
    assert!(claims["exp"].as_i64() <= claims_of(&subject)["exp"].as_i64());
    assert_eq!(app.verify_get(&exchanged).await.status(), 200);

    // Narrower scope; scope outside subject ∩ client is invalid_scope.
    let v = app
        .oauth_token_ok("gateway", &exchange_form(&subject, &[("scope", "read")]))
        .await;
    assert_eq!(v["scope"], "read");
    let second = token(&v, "access_token");
    assert_eq!(
        claims_of(&second)["aud"],
        "billing-api",
        "the client's default"
    );
    for scope in ["admin", "delete"] {
        assert_error(
            app.oauth_token("gateway", &exchange_form(&subject, &[("scope", scope)]))
                .await,
            400,
            "invalid_scope",
        )
        .await;
    }
    assert_error(
        app.oauth_token(
            "gateway",
            &exchange_form(&subject, &[("audience", "video-api")]),
        )
        .await,
        400,
        "invalid_target",
    )
    .await;
    // An exchanged token can be exchanged again: the actors nest.
    let res = app
        .oauth_token("gateway", &exchange_form(&exchanged, &[]))
        .await;
    let nested = token(&res.json().await.unwrap(), "access_token");
    assert_eq!(
        claims_of(&nested)["act"],
        json!({"sub": "gateway", "act": {"sub": "gateway"}})
    );

    // Revoking the session revokes every exchanged token.
    let res = app
        .api
        .delete(app.url(&format!("/users/u/sessions/{sid}")))
        .basic_auth("admin-app", Some(SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    for t in [&subject, &exchanged, &second, &nested] {
        assert_revoked(app.verify_get(t).await).await;
    }
}

async fn token_exchange_of_a_token_without_session_stands_alone(b: Backend) {
    let app = oauth_app(b).await;
    let subject = app.access_token("u").await;
    let v = app
        .oauth_token_ok("gateway", &exchange_form(&subject, &[]))
        .await;
    let exchanged = token(&v, "access_token");
    assert_eq!(app.verify_get(&exchanged).await.status(), 200);
    // Revoking the user (logout everywhere) revokes it.
    let res = app
        .post_json("/token/revoke", Some("admin-app"), &json!({"sub": "u"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_revoked(app.verify_get(&exchanged).await).await;
}

async fn token_exchange_refuses_dead_subject_tokens(b: Backend) {
    let app = oauth_app(b).await;
    let revoked = app.access_token("u").await;
    assert_eq!(app.revoke(&revoked).await.status(), 200);
    let body = assert_error(
        app.oauth_token("gateway", &exchange_form(&revoked, &[]))
            .await,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(
        body["error_description"],
        "`subject_token` is invalid: token revoked"
    );
    let v = app.issue_ok(json!({"sub": "u", "ttl": 1})).await;
    let short = token(&v, "access_token");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let body = assert_error(
        app.oauth_token("gateway", &exchange_form(&short, &[]))
            .await,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(
        body["error_description"],
        "`subject_token` is invalid: token expired"
    );
    let body = assert_error(
        app.oauth_token("gateway", &exchange_form("a.b.c", &[]))
            .await,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(
        body["error_description"],
        "`subject_token` is invalid: malformed token"
    );
    // A client without the grant.
    let live = app.access_token("u").await;
    assert_error(
        app.oauth_token("svc-a", &exchange_form(&live, &[])).await,
        400,
        "unauthorized_client",
    )
    .await;
}
