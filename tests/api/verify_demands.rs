//! What a verify may demand of a token: an audience (`?aud=`, `"aud"`, or
//! the forward-auth route `/token/verify/aud/{aud}/…`), required or not
//! (`verify.require_audience`, `clients[].require_audience`); scopes
//! (`?scope=`, `"scope"`: `403 insufficient_scope` with the RFC 6750
//! challenge); and which claims become the gateway's headers
//! (`verify.headers`).

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, spawn_app};

async fn token(app: &TestApp, client: &str, body: Value) -> String {
    let res = app.issue_as(client, body).await;
    assert_eq!(res.status(), 200, "issue");
    let v: Value = res.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

async fn get(app: &TestApp, path: &str, token: &str) -> Response {
    send(app, Method::GET, path, token).await
}

async fn send(app: &TestApp, method: Method, path: &str, token: &str) -> Response {
    app.api
        .request(method, app.url(path))
        .header("content-length", "0")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn post(app: &TestApp, path: &str, body: Value) -> Response {
    app.api
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Asserts `tessera_verify_total{outcome}` is `n` on `/metrics`.
async fn assert_outcome_count(app: &TestApp, outcome: &str, n: u64) {
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let line = format!(r#"tessera_verify_total{{outcome="{outcome}"}} {n}"#);
    assert!(metrics.contains(&line), "no `{line}` in {metrics}");
}

/// A token for `alice` with `aud: api-one`, issued by `issuer-app`.
async fn alice_for_api_one(app: &TestApp) -> String {
    token(app, "issuer-app", json!({"sub": "alice", "aud": "api-one"})).await
}

async fn description(res: Response, status: u16) -> String {
    let body = assert_error(res, status, "invalid_request").await;
    body["error_description"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn post_verify_honours_the_audience_in_the_query_and_refuses_a_conflict() {
    let app = spawn_app(Backend::Memory).await;
    let t = alice_for_api_one(&app).await;
    // The reported hole: the query was ignored on POST.
    let res = post(&app, "/token/verify?aud=api-two", json!({"token": t})).await;
    let body = assert_error(res, 401, "invalid_token").await;
    assert_eq!(body["error_description"], "wrong audience");
    let res = post(&app, "/token/verify?aud=api-one", json!({"token": t})).await;
    assert_eq!(res.status(), 200);
    let res = post(
        &app,
        "/token/verify?aud=api-one",
        json!({"token": t, "aud": "api-one"}),
    )
    .await;
    assert_eq!(res.status(), 200, "both given and equal");
    let res = post(
        &app,
        "/token/verify?aud=api-one",
        json!({"token": t, "aud": "api-two"}),
    )
    .await;
    let text = description(res, 400).await;
    assert!(
        text.contains("`aud`") && text.contains("different"),
        "{text}"
    );
    let res = post(&app, "/token/verify?audience=api-one", json!({"token": t})).await;
    description(res, 400).await;
}

#[tokio::test]
async fn the_forward_auth_audience_comes_from_the_path_only() {
    let app = spawn_app(Backend::Memory).await;
    let t = alice_for_api_one(&app).await;
    for (method, path) in [
        (
            Method::GET,
            "/token/verify/aud/api-one/api/orders?page=2&aud=x",
        ),
        (Method::POST, "/token/verify/aud/api-one/"),
        (Method::DELETE, "/token/verify/aud/api-one"),
    ] {
        let res = send(&app, method.clone(), path, &t).await;
        assert_eq!(res.status(), 200, "{method} {path}");
        assert_eq!(res.headers()["x-auth-subject"], "alice");
    }
    for path in [
        "/token/verify/aud/api-two/api/orders",
        "/token/verify/aud/api-two",
        // A user's `?aud=` cannot replace the gateway's.
        "/token/verify/aud/api-two/api/orders?aud=api-one",
    ] {
        let body = assert_error(get(&app, path, &t).await, 401, "invalid_token").await;
        assert_eq!(body["error_description"], "wrong audience", "{path}");
    }
    // An empty audience segment is never served as "no audience".
    for path in ["/token/verify/aud/", "/token/verify/aud"] {
        description(get(&app, path, &t).await, 400).await;
    }
    let res = get(&app, "/token/verify/aud/bad%20aud/x", &t).await;
    description(res, 400).await;
    // The compatible route still answers without an audience.
    assert_eq!(
        get(&app, "/token/verify/api/orders", &t).await.status(),
        200
    );
}

#[tokio::test]
async fn require_audience_refuses_every_verify_without_one() {
    let app = TestApp::builder(Backend::Memory)
        .configure(|s| s.verify.require_audience = true)
        .spawn()
        .await;
    let t = alice_for_api_one(&app).await;
    for res in [
        get(&app, "/token/verify", &t).await,
        get(&app, "/token/verify?aud=", &t).await,
        get(&app, "/token/verify/api/orders", &t).await,
        post(&app, "/token/verify", json!({"token": t})).await,
    ] {
        let text = description(res, 400).await;
        assert!(text.contains("audience is required"), "{text}");
    }
    assert_eq!(
        get(&app, "/token/verify?aud=api-one", &t).await.status(),
        200
    );
    assert_eq!(
        get(&app, "/token/verify/aud/api-one/x", &t).await.status(),
        200
    );
    let res = post(&app, "/token/verify", json!({"token": t, "aud": "api-one"})).await;
    assert_eq!(res.status(), 200);
    assert_outcome_count(&app, "audience_required", 4).await;
}

#[tokio::test]
async fn a_client_may_require_an_audience_for_the_tokens_issued_to_it() {
    let app = TestApp::builder(Backend::Memory)
        .configure(|s| {
            let c = s.clients.iter_mut().find(|c| c.id.as_str() == "other-app");
            c.unwrap().require_audience = true;
        })
        .spawn()
        .await;
    let strict = token(&app, "other-app", json!({"sub": "bob", "aud": "api-one"})).await;
    let open = token(&app, "issuer-app", json!({"sub": "bob", "aud": "api-one"})).await;
    let text = description(get(&app, "/token/verify", &strict).await, 400).await;
    assert!(text.contains("audience is required"), "{text}");
    description(get(&app, "/token/verify/api", &strict).await, 400).await;
    assert_eq!(
        get(&app, "/token/verify?aud=api-one", &strict)
            .await
            .status(),
        200
    );
    assert_eq!(get(&app, "/token/verify", &open).await.status(), 200);
}

#[tokio::test]
async fn a_missing_scope_is_403_insufficient_scope_with_the_bearer_challenge() {
    let app = spawn_app(Backend::Memory).await;
    let t = token(
        &app,
        "issuer-app",
        json!({"sub": "alice", "scope": "read write"}),
    )
    .await;
    for path in [
        "/token/verify?scope=read",
        "/token/verify?scope=write%20read",
        "/token/verify?scope=",
        "/token/verify/api?scope=read",
        "/token/verify/aud/http:%2F%2Ftessera.test/api?scope=read&q=1",
    ] {
        assert_eq!(get(&app, path, &t).await.status(), 200, "{path}");
    }
    let refused = [
        get(&app, "/token/verify?scope=read%20admin", &t).await,
        get(&app, "/token/verify/api/x?page=1&scope=admin%20read", &t).await,
        post(
            &app,
            "/token/verify",
            json!({"token": t, "scope": "admin read"}),
        )
        .await,
        post(
            &app,
            "/token/verify?scope=admin%20read",
            json!({"token": t}),
        )
        .await,
    ];
    for res in refused {
        let www = res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            www,
            r#"Bearer realm="tessera", error="insufficient_scope", scope="admin read""#
        );
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_error(res, 403, "insufficient_scope").await;
    }
    let res = post(
        &app,
        "/token/verify?scope=read",
        json!({"token": t, "scope": "write"}),
    )
    .await;
    let text = description(res, 400).await;
    assert!(text.contains("`scope`"), "{text}");
    let res = get(&app, "/token/verify/api?scope=read&scope=admin", &t).await;
    description(res, 400).await;
    description(get(&app, "/token/verify?scope=a%22b", &t).await, 400).await;
    assert_outcome_count(&app, "insufficient_scope", 4).await;
}

#[tokio::test]
async fn the_gateway_headers_are_the_configured_claims() {
    let app = TestApp::builder(Backend::Memory)
        .configure(|s| {
            s.verify.headers = [
                ("X-User", "sub"),
                ("x-tenant", "tenant"),
                ("x-groups", "groups"),
                ("x-level", "level"),
                ("x-admin", "admin"),
                ("x-exp", "exp"),
                ("x-bad", "bad"),
                ("x-none", "absent"),
            ]
            .into_iter()
            .map(|(h, c)| (h.to_owned(), c.to_owned()))
            .collect();
        })
        .spawn()
        .await;
    let claims =
        json!({"tenant": "t-1", "groups": ["a", "b"], "level": 3, "admin": false, "bad": "a\nb"});
    let t = token(
        &app,
        "issuer-app",
        json!({"sub": "alice", "claims": claims}),
    )
    .await;
    for path in [
        "/token/verify",
        "/token/verify/x",
        "/token/verify/aud/http:%2F%2Ftessera.test/x",
    ] {
        let res = get(&app, path, &t).await;
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers();
        assert_eq!(h["x-user"], "alice");
        assert_eq!(h["x-tenant"], "t-1");
        assert_eq!(h["x-groups"], r#"["a","b"]"#);
        assert_eq!(h["x-level"], "3");
        assert_eq!(h["x-admin"], "false");
        assert!(h["x-exp"].to_str().unwrap().parse::<i64>().is_ok());
        assert!(
            !h.contains_key("x-bad"),
            "not a valid header value: skipped"
        );
        assert!(!h.contains_key("x-none"));
        assert!(
            !h.contains_key("x-auth-subject"),
            "the defaults are replaced"
        );
    }
}
