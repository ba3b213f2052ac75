//! `/token/verify/{path}`: the check request of Envoy's HTTP `ext_authz`
//! (`path_prefix: /token/verify`), which keeps the original method, path
//! and query and drops the body. Emulated here: Envoy is not packaged for
//! Debian, so docs/gateways.md marks its config as documented only. The audience route
//! (`/token/verify/aud/{aud}/…`) is tested in `verify_demands.rs`.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, TestApp, assert_error, assert_revoked};

async fn check(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .api
        .request(method, app.url(&format!("/token/verify{path}")))
        .header("content-length", "0");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("check request")
}

crate::both_backends!(an_envoy_style_check_request_is_answered_like_get_verify);

async fn an_envoy_style_check_request_is_answered_like_get_verify(b: Backend) {
    let app = crate::helpers::spawn_app(b).await;
    let v = app.issue_ok(json!({"sub": "alice", "scope": "read"})).await;
    let token = v["access_token"].as_str().unwrap().to_owned();
    for (method, path) in [
        (Method::GET, "/api/orders?page=2&sort=desc"),
        (Method::POST, "/api/orders"),
        (Method::DELETE, "/api/orders/17"),
        (Method::PUT, "/"),
    ] {
        let res = check(&app, method.clone(), path, Some(&token)).await;
        assert_eq!(res.status(), 200, "{method} {path}");
        assert_eq!(res.headers()["x-auth-subject"], "alice");
        assert_eq!(res.headers()["x-auth-scope"], "read");
        assert_eq!(res.headers()["x-auth-client"], "issuer-app");
        assert_eq!(res.headers()["cache-control"], "no-store");
    }
    let res = check(&app, Method::POST, "/api/orders", None).await;
    assert_error(res, 401, "invalid_token").await;
    let res = check(&app, Method::GET, "/api/orders", Some("garbage")).await;
    assert_error(res, 401, "invalid_token").await;
    app.revoke(&token).await;
    let res = check(&app, Method::POST, "/api/orders", Some(&token)).await;
    assert_revoked(res).await;
    // The exact path keeps its methods.
    let res = app.api.put(app.url("/token/verify")).send().await.unwrap();
    assert_error(res, 405, "method_not_allowed").await;
}
