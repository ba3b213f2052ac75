//! Attacks on `/oauth2/token`: forged, foreign or wrong-kind subject
//! tokens are never exchanged; guessing client secrets there is throttled
//! like everywhere else; oversized input is refused before any work. Never
//! a 5xx.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::{Backend, KeyAlg, SECRET, TestApp, assert_error, claims_of, new_key_pem};
use crate::oauth_token::{ACCESS_TYPE, EXCHANGE, oauth_app, with_service_clients};

async fn exchange(app: &TestApp, subject: &str) -> reqwest::Response {
    app.oauth_token(
        "gateway",
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", subject),
            ("subject_token_type", ACCESS_TYPE),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_foreign_subject_tokens_are_never_exchanged() {
    let app = oauth_app(Backend::Memory).await;
    let other = TestApp::builder(Backend::Memory)
        .configure(with_service_clients)
        .spawn()
        .await;
    let v = app
        .issue_ok(json!({"sub": "u", "refresh": true, "scope": "read"}))
        .await;
    let real = v["access_token"].as_str().unwrap().to_owned();
    let refresh = v["refresh_token"].as_str().unwrap().to_owned();
    let claims = claims_of(&real);
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    let payload = b64(&claims.to_string());
    let none = format!(
        "{}.{payload}.",
        b64(r#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#)
    );
    let attacker = EncodingKey::from_ed_pem(new_key_pem(KeyAlg::EdDSA).as_bytes()).unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("at+jwt".into());
    header.kid = Some("k1".into());
    let forged = jsonwebtoken::encode(&header, &claims, &attacker).unwrap();
    // Same claims, admin scope added, signed with an attacker's key.
    let mut wider = claims.clone();
    wider["scope"] = json!("read admin");
    let escalated = jsonwebtoken::encode(&header, &wider, &attacker).unwrap();
    // A real token of another deployment (another key; its kid is also k1).
    let foreign = other.access_token("u").await;
    for (why, token, phrase) in [
        ("alg none", none.as_str(), "bad signature"),
        ("attacker's key", forged.as_str(), "bad signature"),
        ("escalated scope", escalated.as_str(), "bad signature"),
        (
            "another deployment's token",
            foreign.as_str(),
            "bad signature",
        ),
        ("a refresh token", refresh.as_str(), "malformed token"),
        ("over 8 KiB", &"a".repeat(9000), "malformed token"),
    ] {
        let body = assert_error(exchange(&app, token).await, 400, "invalid_request").await;
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.starts_with("`subject_token` is invalid: "),
            "{why}: {description}"
        );
        assert!(
            description.ends_with(phrase) || why == "alg none",
            "{why}: {description}"
        );
    }
    // The real one still exchanges: nothing above disturbed it.
    assert_eq!(exchange(&app, &real).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_secrets_at_the_token_endpoint_is_throttled() {
    let app = TestApp::builder(Backend::Memory)
        .configure(|s| {
            with_service_clients(s);
            s.rate_limit.failed_auth_per_ip_burst = 3;
        })
        .spawn()
        .await;
    let guess = |secret: &'static str, post: bool| {
        let req = app.api.post(app.url("/oauth2/token"));
        let req = if post {
            req.form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "svc-a"),
                ("client_secret", secret),
            ])
        } else {
            req.basic_auth("svc-a", Some(secret))
                .form(&[("grant_type", "client_credentials")])
        };
        req.send()
    };
    // `burst` failures pass and the next one overdraws the address's budget.
    for post in [false, true, false, true] {
        assert_error(
            guess("wrong-guess-0000", post).await.unwrap(),
            401,
            "invalid_client",
        )
        .await;
    }
    for post in [true, false] {
        let res = guess(SECRET, post).await.unwrap();
        assert!(res.headers().contains_key("retry-after"));
        assert_error(res, 429, "rate_limited").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_odd_input_is_a_clean_client_error() {
    let app = oauth_app(Backend::Memory).await;
    let huge = "x".repeat(20_000);
    let res = app
        .oauth_token(
            "svc-a",
            &[("grant_type", "client_credentials"), ("scope", &huge)],
        )
        .await;
    assert_error(res, 413, "payload_too_large").await;
    let long_scope = "s".repeat(1100);
    let res = app
        .oauth_token(
            "svc-a",
            &[("grant_type", "client_credentials"), ("scope", &long_scope)],
        )
        .await;
    assert_error(res, 400, "invalid_scope").await;
    let res = app
        .oauth_token(
            "svc-a",
            &[("grant_type", "client_credentials\r\nX-Injected: 1")],
        )
        .await;
    let body = assert_error(res, 400, "unsupported_grant_type").await;
    assert!(
        !body.to_string().contains("X-Injected"),
        "input is not echoed: {body}"
    );
    let long_secret = "s".repeat(600);
    let res = app
        .post_form(
            "/oauth2/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "svc-a"),
                ("client_secret", &long_secret),
            ],
        )
        .await;
    assert_error(res, 401, "invalid_client").await;
}
