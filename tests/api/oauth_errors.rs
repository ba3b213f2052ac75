//! `/oauth2/token`'s error table (RFC 6749 §5.2, RFC 8707, RFC 8693) and
//! the discovery documents that name it. Every case is a client's mistake:
//! a 400 or 401 in the OAuth shape, never a 5xx, never a secret echoed.

use base64::Engine;
use serde_json::Value;

use crate::helpers::{Backend, SECRET, TestApp, assert_error};
use crate::oauth_token::{ACCESS_TYPE, EXCHANGE, oauth_app};

crate::both_backends!(discovery_documents_agree_and_name_the_token_endpoint);

/// (description, client (Basic), form, status, error)
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, u16, &'a str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_token_request_gets_its_rfc_error() {
    let app = oauth_app(Backend::Memory).await;
    let subject = app.access_token("u").await;
    let cc = "client_credentials";
    let cases: Vec<Case<'_>> = vec![
        (
            "no grant_type",
            "svc-a",
            vec![("scope", "read")],
            400,
            "invalid_request",
        ),
        (
            "empty grant_type",
            "svc-a",
            vec![("grant_type", "")],
            400,
            "invalid_request",
        ),
        (
            "unknown grant_type",
            "svc-a",
            vec![("grant_type", "password")],
            400,
            "unsupported_grant_type",
        ),
        (
            "authorization_code",
            "svc-a",
            vec![("grant_type", "authorization_code"), ("code", "x")],
            400,
            "unsupported_grant_type",
        ),
        (
            "grant the client lacks",
            "issuer-app",
            vec![("grant_type", cc)],
            400,
            "unauthorized_client",
        ),
        (
            "exchange without the grant",
            "svc-a",
            vec![
                ("grant_type", EXCHANGE),
                ("subject_token", &subject),
                ("subject_token_type", ACCESS_TYPE),
            ],
            400,
            "unauthorized_client",
        ),
        (
            "scope outside the client's",
            "svc-a",
            vec![("grant_type", cc), ("scope", "admin")],
            400,
            "invalid_scope",
        ),
        (
            "scope with a forbidden character",
            "svc-a",
            vec![("grant_type", cc), ("scope", "re\"ad")],
            400,
            "invalid_scope",
        ),
        (
            "audience not allowed",
            "svc-a",
            vec![("grant_type", cc), ("audience", "photo-api")],
            400,
            "invalid_target",
        ),
        (
            "resource not allowed",
            "svc-a",
            vec![("grant_type", cc), ("resource", "https://evil.example/")],
            400,
            "invalid_target",
        ),
        (
            "audience with whitespace",
            "svc-a",
            vec![("grant_type", cc), ("audience", "a b")],
            400,
            "invalid_target",
        ),
        (
            "audience and resource differ",
            "svc-a",
            vec![
                ("grant_type", cc),
                ("audience", "billing-api"),
                ("resource", "https://video.example/api"),
            ],
            400,
            "invalid_target",
        ),
        (
            "refresh without refresh_token",
            "issuer-app",
            vec![("grant_type", "refresh_token")],
            400,
            "invalid_request",
        ),
        (
            "refresh with garbage",
            "issuer-app",
            vec![("grant_type", "refresh_token"), ("refresh_token", "x.y.z")],
            400,
            "invalid_grant",
        ),
        (
            "exchange without subject_token",
            "gateway",
            vec![
                ("grant_type", EXCHANGE),
                ("subject_token_type", ACCESS_TYPE),
            ],
            400,
            "invalid_request",
        ),
        (
            "exchange without subject_token_type",
            "gateway",
            vec![("grant_type", EXCHANGE), ("subject_token", &subject)],
            400,
            "invalid_request",
        ),
        (
            "exchange of an id_token type",
            "gateway",
            vec![
                ("grant_type", EXCHANGE),
                ("subject_token", &subject),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:id_token",
                ),
            ],
            400,
            "invalid_request",
        ),
        (
            "exchange for a refresh token",
            "gateway",
            vec![
                ("grant_type", EXCHANGE),
                ("subject_token", &subject),
                ("subject_token_type", ACCESS_TYPE),
                (
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:refresh_token",
                ),
            ],
            400,
            "invalid_request",
        ),
        (
            "exchange with an actor token",
            "gateway",
            vec![
                ("grant_type", EXCHANGE),
                ("subject_token", &subject),
                ("subject_token_type", ACCESS_TYPE),
                ("actor_token", &subject),
                ("actor_token_type", ACCESS_TYPE),
            ],
            400,
            "invalid_request",
        ),
        (
            "exchange of garbage",
            "gateway",
            vec![
                ("grant_type", EXCHANGE),
                ("subject_token", "garbage"),
                ("subject_token_type", ACCESS_TYPE),
            ],
            400,
            "invalid_request",
        ),
        (
            "repeated parameter",
            "svc-a",
            vec![("grant_type", cc), ("scope", "read"), ("scope", "write")],
            400,
            "invalid_request",
        ),
        (
            "unknown client",
            "nobody",
            vec![("grant_type", cc)],
            401,
            "invalid_client",
        ),
    ];
    for (why, client, form, status, error) in cases {
        let res = app.oauth_token(client, &form).await;
        assert_eq!(res.status().as_u16(), status, "{why}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{why}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], error, "{why}: {body}");
        assert!(body["error_description"].is_string(), "{why}: {body}");
        assert!(!body.to_string().contains(SECRET), "{why}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_authentication_failures_follow_rfc_6749() {
    let app = oauth_app(Backend::Memory).await;
    let url = app.url("/oauth2/token");
    let form = [("grant_type", "client_credentials")];
    // Basic with a wrong secret: 401 with the Basic challenge.
    let res = app
        .api
        .post(&url)
        .basic_auth("svc-a", Some("wrong-secret"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Basic realm="tessera""#
    );
    assert_error(res, 401, "invalid_client").await;
    // client_secret_post with a wrong secret: 401 too.
    let res = app
        .post_form(
            "/oauth2/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "svc-a"),
                ("client_secret", "nope"),
            ],
        )
        .await;
    assert_error(res, 401, "invalid_client").await;
    // No credentials at all.
    assert_error(
        app.post_form("/oauth2/token", None, &form).await,
        401,
        "invalid_client",
    )
    .await;
    // Both methods at once (RFC 6749 §2.3).
    let res = app
        .post_form(
            "/oauth2/token",
            Some("svc-a"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "svc-a"),
                ("client_secret", SECRET),
            ],
        )
        .await;
    assert_error(res, 400, "invalid_request").await;
    // A Basic value that is not base64.
    let res = app
        .api
        .post(&url)
        .header("authorization", "Basic !!!")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "invalid_client").await;
    // Percent-encoded Basic credentials (RFC 6749 §2.3.1) are decoded.
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("svc%2Da:{SECRET}"));
    let res = app
        .api
        .post(&url)
        .header("authorization", format!("Basic {encoded}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoint_takes_forms_only() {
    let app = oauth_app(Backend::Memory).await;
    let res = app
        .post_json(
            "/oauth2/token",
            Some("svc-a"),
            &serde_json::json!({"grant_type": "client_credentials"}),
        )
        .await;
    assert_error(res, 415, "unsupported_media_type").await;
    let res = app
        .post_raw(
            "/oauth2/token",
            "svc-a",
            "text/plain",
            "grant_type=client_credentials",
        )
        .await;
    assert_error(res, 415, "unsupported_media_type").await;
    let res = app
        .post_raw(
            "/oauth2/token",
            "svc-a",
            "application/x-www-form-urlencoded",
            "",
        )
        .await;
    assert_error(res, 400, "invalid_request").await;
    let res = app
        .post_raw(
            "/oauth2/token",
            "svc-a",
            "application/x-www-form-urlencoded",
            &b"grant_type=client_credentials&scope=%FF"[..],
        )
        .await;
    assert_error(res, 400, "invalid_request").await;
    let res = app
        .post_raw(
            "/oauth2/token",
            "svc-a",
            "application/x-www-form-urlencoded; charset=UTF-8",
            "grant_type=client_credentials&unknown=ignored",
        )
        .await;
    assert_eq!(res.status(), 200, "unknown parameters are ignored (§3.2)");
    let res = app.get("/oauth2/token").await;
    assert_error(res, 405, "method_not_allowed").await;
}

async fn discovery_documents_agree_and_name_the_token_endpoint(b: Backend) {
    let app: TestApp = oauth_app(b).await;
    let get = |path: &'static str| {
        let app = &app;
        async move {
            let res = app.get(path).await;
            assert_eq!(res.status(), 200, "{path}");
            assert!(
                res.headers()["cache-control"]
                    .to_str()
                    .unwrap()
                    .starts_with("public")
            );
            res.json::<Value>().await.unwrap()
        }
    };
    let oauth = get("/.well-known/oauth-authorization-server").await;
    let oidc = get("/.well-known/openid-configuration").await;
    assert_eq!(oauth["token_endpoint"], "http://tessera.test/oauth2/token");
    for (field, value) in oauth.as_object().unwrap() {
        if field.starts_with("introspection_") || field.starts_with("revocation_endpoint_") {
            continue;
        }
        assert_eq!(&oidc[field], value, "{field} differs between the documents");
    }
    assert_eq!(oidc["issuer"], "http://tessera.test");
    assert_eq!(
        oidc["jwks_uri"],
        "http://tessera.test/.well-known/jwks.json"
    );
    assert_eq!(
        oidc["introspection_endpoint"],
        "http://tessera.test/token/introspect"
    );
    assert_eq!(
        oidc["revocation_endpoint"],
        "http://tessera.test/token/revoke"
    );
    let grants = oidc["grant_types_supported"].as_array().unwrap();
    for g in ["client_credentials", "refresh_token", EXCHANGE] {
        assert!(grants.iter().any(|x| x == g), "{g} in {grants:?}");
    }
    assert_eq!(
        oidc["access_token_signing_alg_values_supported"],
        serde_json::json!(["EdDSA"])
    );
    assert_eq!(
        oidc["id_token_signing_alg_values_supported"],
        serde_json::json!(["EdDSA"])
    );
    assert_eq!(
        oidc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    let methods = oidc["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert_eq!(methods.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_the_token_endpoint() {
    let app = oauth_app(Backend::Memory).await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let op = &doc["paths"]["/oauth2/token"]["post"];
    let content = op["requestBody"]["content"].as_object().unwrap();
    assert_eq!(
        content.keys().collect::<Vec<_>>(),
        ["application/x-www-form-urlencoded"],
        "forms only"
    );
    for status in ["200", "400", "401", "415", "429", "503"] {
        assert!(op["responses"][status].is_object(), "{status}");
    }
    let grants = &doc["components"]["schemas"]["GrantType"]["enum"];
    assert_eq!(
        grants,
        &serde_json::json!(["client_credentials", "refresh_token", EXCHANGE])
    );
    assert!(doc["paths"]["/.well-known/openid-configuration"]["get"].is_object());
}
