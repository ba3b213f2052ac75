//! Operator endpoints in-process: `/metrics` (parsed with a Prometheus text
//! parser), `/openapi.json` against the served routes, request ids, 405s.

use prometheus_parse::{Scrape, Value as Prom};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, SECRET, spawn_app};

both_backends!(metrics_count_requests_outcomes_and_tokens);

async fn scrape_text(app: &crate::helpers::TestApp) -> (Scrape, String) {
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain"), "content type {ct}");
    let text = res.text().await.unwrap();
    let scrape =
        Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text format");
    (scrape, text)
}

async fn scrape(app: &crate::helpers::TestApp) -> Scrape {
    scrape_text(app).await.0
}

/// The value of the sample `name` whose labels include all of `labels`.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Prom::Counter(v) | Prom::Gauge(v) | Prom::Untyped(v) => *v,
            Prom::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
            Prom::Summary(_) => f64::NAN,
        })
}

fn expect(scrape: &Scrape, name: &str, labels: &[(&str, &str)], want: f64) {
    let got = value(scrape, name, labels);
    assert_eq!(got, Some(want), "{name} {labels:?}");
}

async fn metrics_count_requests_outcomes_and_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.access_token("m1").await;
    assert_eq!(app.verify_get(&token).await.status(), 200);
    assert_eq!(app.verify_get("not-a-token").await.status(), 401);
    assert_eq!(app.revoke(&token).await.status(), 200);
    assert_eq!(app.verify_get(&token).await.status(), 401);
    let pair = app.issue_ok(json!({"sub": "m1", "refresh": true})).await;
    let rt = pair["refresh_token"].as_str().unwrap();
    let res = app.refresh(rt).await;
    assert_eq!(res.status(), 200);
    let rt2 = res.json::<Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.refresh(rt).await.status(),
        200,
        "a retry in the grace window"
    );
    assert_eq!(app.refresh(&rt2).await.status(), 200);
    assert_eq!(app.refresh(rt).await.status(), 401, "reuse");
    assert_eq!(app.get("/no/such/path-12345").await.status(), 404);
    assert_eq!(app.admin_get("/users/m1/sessions").await.status(), 200);

    let (s, text) = scrape_text(&app).await;
    let http = "tessera_http_requests_total";
    let issue = [
        ("method", "POST"),
        ("route", "/token/issue"),
        ("status", "200"),
    ];
    expect(&s, http, &issue, 2.0);
    expect(
        &s,
        http,
        &[("route", "/token/verify"), ("status", "401")],
        2.0,
    );
    expect(&s, http, &[("route", "unmatched"), ("status", "404")], 1.0);
    // prometheus-parse splits labels naively and cannot read a value with
    // braces (legal in the format), so this pattern is checked on the text.
    assert!(
        text.contains(r#"tessera_http_requests_total{method="GET",route="/users/{sub}/sessions",status="200"} 1"#),
        "route pattern label:\n{text}"
    );
    for sample in s.samples.iter().filter(|x| x.metric == http) {
        let route = sample.labels.get("route").unwrap_or_default();
        assert!(
            !route.contains("12345") && !route.contains("/m1/"),
            "raw path as label: {route}"
        );
    }
    let latency = value(&s, "tessera_http_request_duration_seconds", &issue)
        .or_else(|| value(&s, "tessera_http_request_duration_seconds_count", &issue));
    assert_eq!(latency, Some(2.0), "latency histogram of /token/issue");

    expect(&s, "tessera_verify_total", &[("outcome", "ok")], 1.0);
    expect(&s, "tessera_verify_total", &[("outcome", "malformed")], 1.0);
    expect(&s, "tessera_verify_total", &[("outcome", "revoked")], 1.0);
    expect(&s, "tessera_verify_total", &[("outcome", "expired")], 0.0);
    expect(&s, "tessera_tokens_issued_total", &[], 2.0);
    expect(&s, "tessera_tokens_refreshed_total", &[], 2.0);
    expect(&s, "tessera_refresh_retries_total", &[], 1.0);
    expect(&s, "tessera_refresh_reuse_detected_total", &[], 1.0);
    expect(
        &s,
        "tessera_tokens_revoked_total",
        &[("kind", "access_token")],
        1.0,
    );
    let version = env!("CARGO_PKG_VERSION");
    expect(&s, "tessera_build_info", &[("version", version)], 1.0);
    let info = s.samples.iter().find(|x| x.metric == "tessera_build_info");
    let sha = info
        .and_then(|i| i.labels.get("git_sha"))
        .unwrap_or_default();
    assert!(!sha.is_empty(), "git_sha label");

    if backend == Backend::Redis {
        let size = value(&s, "tessera_redis_pool_size", &[]).expect("pool size");
        assert!(size >= 1.0, "pool size {size}");
        assert!(value(&s, "tessera_redis_pool_in_use", &[]).is_some());
        assert_eq!(value(&s, "tessera_redis_pool_waiting", &[]), Some(0.0));
        let calls = value(&s, "tessera_redis_command_duration_seconds", &[])
            .or_else(|| value(&s, "tessera_redis_command_duration_seconds_count", &[]))
            .expect("redis latency histogram");
        assert!(calls >= 8.0, "redis calls recorded: {calls}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apps_in_one_process_keep_separate_metrics() {
    let a = spawn_app(Backend::Memory).await;
    let b = spawn_app(Backend::Memory).await;
    a.access_token("x").await;
    a.access_token("y").await;
    expect(&scrape(&a).await, "tessera_tokens_issued_total", &[], 2.0);
    expect(&scrape(&b).await, "tessera_tokens_issued_total", &[], 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sane_request_id_is_echoed_and_an_insane_one_replaced() {
    let app = spawn_app(Backend::Memory).await;
    let with_id = |id: String| {
        app.api
            .get(app.url("/healthz"))
            .header("x-request-id", id)
            .send()
    };
    let echoed =
        |res: &reqwest::Response| res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let sane = "trace-0123_abc.DEF";
    assert_eq!(echoed(&with_id(sane.into()).await.unwrap()), sane);
    for (why, insane) in [
        ("too long", "a".repeat(129)),
        ("a space", "bad id".to_owned()),
        ("a quote", "id\"x".to_owned()),
        ("a slash and colon", "a/b:c".to_owned()),
        ("empty", String::new()),
    ] {
        let got = echoed(&with_id(insane.clone()).await.unwrap());
        assert_ne!(got, insane, "{why}: echoed as is");
        assert!(
            uuid::Uuid::parse_str(&got).is_ok(),
            "{why}: {got} is not a UUID"
        );
    }
    let res = app.get("/healthz").await;
    assert!(
        uuid::Uuid::parse_str(&echoed(&res)).is_ok(),
        "no header: a UUID"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_3_1_and_covers_every_served_route() {
    let app = spawn_app(Backend::Memory).await;
    let res = app.get("/openapi.json").await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.expect("JSON document");
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "openapi {version}");
    let paths = doc["paths"].as_object().expect("paths");
    let served = tessera::http::served_routes();
    for (path, methods) in &served {
        let item = paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is served but not documented"));
        for m in methods {
            let op = &item[m.as_str().to_ascii_lowercase()];
            assert!(op.is_object(), "{m} {path} is served but not documented");
            let responses = op["responses"].as_object().expect("responses");
            for (status, r) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &r["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/ErrorBody",
                        "{m} {path} {status} is not the error shape"
                    );
                }
            }
            for common in ["500", "503"] {
                assert!(responses.contains_key(common), "{m} {path} lacks {common}");
            }
        }
    }
    for (path, item) in paths {
        let Some((_, methods)) = served.iter().find(|(p, _)| p == path) else {
            panic!("{path} is documented but not served");
        };
        for method in item.as_object().unwrap().keys() {
            assert!(
                methods
                    .iter()
                    .any(|m| m.as_str().eq_ignore_ascii_case(method)),
                "{method} {path} is documented but not served"
            );
        }
    }
    let error = &doc["components"]["schemas"]["ErrorBody"];
    let required = error["required"].as_array().expect("required fields");
    for field in ["error", "error_description"] {
        assert!(required.iter().any(|r| r == field), "ErrorBody.{field}");
    }
    for body in [
        "IssueBody",
        "RefreshBody",
        "RevokeBody",
        "IntrospectBody",
        "VerifyBody",
    ] {
        assert!(doc["components"]["schemas"][body].is_object(), "{body}");
    }
    // The routes that take DPoP proofs document `DPoP-Nonce` (RFC 9449 §8).
    for (path, method, status) in [
        ("/token/issue", "post", "200"),
        ("/token/refresh", "post", "400"),
        ("/oauth2/token", "post", "200"),
        ("/token/verify", "get", "401"),
        ("/token/verify/{path}", "get", "200"),
    ] {
        let r = &paths[path][method]["responses"][status];
        assert!(
            r["headers"]["dpop-nonce"].is_object(),
            "{method} {path} {status}: no DPoP-Nonce header"
        );
    }
    let r = &paths["/token/revoke"]["post"]["responses"]["200"];
    assert!(
        r["headers"]["dpop-nonce"].is_null(),
        "revoke takes no proof"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_is_405_with_an_allow_header() {
    let app = spawn_app(Backend::Memory).await;
    let res = app
        .api
        .put(app.url("/token/verify"))
        .basic_auth("issuer-app", Some(SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let allow = res.headers()["allow"].to_str().unwrap().to_owned();
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "Allow: {allow}"
    );
}
