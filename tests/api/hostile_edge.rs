//! Hostile traffic at the edge (issue 12): bounded metric labels, failed
//! authentications limited per source and per claimed id, the hashing
//! queue bounded, trusted proxies, per-client rate overrides, and the
//! small items (Basic vs form credentials, `+`/`&` in secrets,
//! `Cache-Control` on the session routes).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, Response};
use serde_json::json;

use crate::helpers::{Backend, SECRET, Settings, TestApp, assert_error, spawn_app};

fn http_series(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with("tessera_http_requests_total{"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_do_not_grow_the_metrics() {
    let app = spawn_app(Backend::Memory).await;
    let metrics = || async { app.get("/metrics").await.text().await.unwrap() };
    // Every standard method once, so its series exists before counting.
    for m in [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
    ] {
        let m = Method::from_bytes(m.as_bytes()).unwrap();
        app.api
            .request(m, app.url("/healthz"))
            .send()
            .await
            .unwrap();
    }
    let weird = Method::from_bytes(b"WEIRD0").unwrap();
    app.api
        .request(weird, app.url("/healthz"))
        .send()
        .await
        .unwrap();
    let before = http_series(&metrics().await);
    for i in 0..300 {
        let m = Method::from_bytes(format!("M{i}X").as_bytes()).unwrap();
        let res = app
            .api
            .request(m, app.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405);
    }
    let text = metrics().await;
    let after = http_series(&text);
    eprintln!(
        "tessera_http_requests_total series: {before} before, {after} after 300 made-up methods"
    );
    assert!(after <= before + 1, "{before} -> {after}: {text}");
    assert!(!text.contains("M17X"), "no label value from the request");
    assert!(text.contains(r#"method="other""#));
}

async fn assert_429(res: Response) {
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, 429, "rate_limited").await;
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentications_are_limited_per_source_before_any_hashing() {
    let app = TestApp::builder(Backend::Memory)
        .configure(|s: &mut Settings| {
            s.rate_limit.failed_auth_per_ip_burst = 3;
            s.rate_limit.failed_auth_per_ip_per_min = 1;
        })
        .spawn()
        .await;
    let attempt = |secret: &str| {
        app.api
            .post(app.url("/token/revoke"))
            .header("authorization", basic("issuer-app", secret))
            .form(&[("token", "x")])
            .send()
    };
    // The budget, plus the failure that overdraws it: 401 each.
    for _ in 0..4 {
        assert_error(attempt("wrong-0000").await.unwrap(), 401, "invalid_client").await;
    }
    // Then 429 before any hashing, even with the right secret...
    assert_429(attempt("wrong-0000").await.unwrap()).await;
    assert_429(attempt(SECRET).await.unwrap()).await;
    // ...on every route that authenticates.
    assert_429(app.issue(json!({"sub": "u"})).await).await;
    assert_429(app.admin_get("/users/u/sessions").await).await;
    // A client whose secret is cached still gets through: successes cost
    // no hashing and are not what this limit is for.
}

/// The per-address request budget is checked before client authentication
/// on every route that authenticates, not only issue, refresh and
/// introspect: revoke, both session routes, and verify with client auth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_authenticating_route_checks_the_per_address_budget_first() {
    let routes: [(&str, Method, &str); 4] = [
        ("revoke", Method::POST, "/token/revoke"),
        ("list sessions", Method::GET, "/users/u/sessions"),
        (
            "delete session",
            Method::DELETE,
            "/users/u/sessions/00000000-0000-4000-8000-000000000000",
        ),
        ("verify with client auth", Method::POST, "/token/verify"),
    ];
    for (what, method, path) in routes {
        let app = TestApp::builder(Backend::Memory)
            .configure(|s: &mut Settings| {
                s.rate_limit.per_ip_burst = 2;
                s.rate_limit.per_ip_per_sec = 1;
                s.verify.require_client_auth = true;
            })
            .spawn()
            .await;
        let send = || {
            app.api
                .request(method.clone(), app.url(path))
                .header("authorization", basic("admin-app", SECRET))
                .json(&json!({"token": "x"}))
                .send()
        };
        for _ in 0..2 {
            let status = send().await.unwrap().status().as_u16();
            assert_ne!(status, 429, "{what}: limited inside its budget");
        }
        let res = send().await.unwrap();
        assert_eq!(
            res.status().as_u16(),
            429,
            "{what}: the budget was not checked"
        );
        assert_429(res).await;
    }
}

/// A client that starts with many requests in flight (a cold credential
/// cache) gets every answer: identical credentials share one Argon2id
/// check instead of each taking a hashing slot or a `503`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_identical_cold_requests_shares_one_check() {
    let app = spawn_app(Backend::Memory).await;
    let requests = (0..48).map(|i| app.issue(json!({ "sub": format!("user-{i}") })));
    let answers = futures_util::future::join_all(requests).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "a cold burst was refused: {statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_client_id_cannot_be_locked_out_by_guessing_it() {
    let app = TestApp::builder(Backend::Memory)
        .configure(|s: &mut Settings| {
            // The guesser's own budget is large; the id's is small.
            s.rate_limit.failed_auth_per_ip_burst = 100;
            s.rate_limit.failed_auth_per_client_burst = 2;
            s.rate_limit.failed_auth_per_client_per_min = 1;
        })
        .spawn()
        .await;
    let guess = || {
        app.api
            .post(app.url("/token/issue"))
            .header("authorization", basic("issuer-app", "wrong-0000"))
            .json(&json!({"sub": "u"}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(guess().await.unwrap().status(), 401);
    }
    // The id is over its failure budget: a source that failed is refused...
    assert_429(guess().await.unwrap()).await;
    // ...but the real client from a source that never failed gets in.
    let legit = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let res = legit
        .post(app.url("/token/issue"))
        .basic_auth("issuer-app", Some(SECRET))
        .json(&json!({"sub": "u"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hashing_queue_answers_503_at_once() {
    let app = TestApp::builder(Backend::Memory)
        .configure(|s: &mut Settings| {
            s.client_auth.hashing_threads = 1;
            s.client_auth.max_waiting_checks = 1;
            // One source may fill the queue: this test is about its bound.
            s.client_auth.max_checks_per_source = 100;
            s.rate_limit.failed_auth_per_ip_burst = 1000;
            s.rate_limit.failed_auth_per_client_burst = 1000;
        })
        .spawn()
        .await;
    let attempts = (0..24).map(|i| {
        app.api
            .post(app.url("/token/issue"))
            .header("authorization", basic("nobody", &format!("wrong-{i}")))
            .json(&json!({"sub": "u"}))
            .send()
    });
    let answers = futures_util::future::join_all(attempts).await;
    let mut busy = 0;
    for res in answers {
        let res = res.unwrap();
        match res.status().as_u16() {
            401 => {}
            503 => {
                assert_eq!(res.headers()["retry-after"], "1");
                let v = assert_error(res, 503, "temporarily_unavailable").await;
                assert!(
                    v["error_description"]
                        .as_str()
                        .unwrap()
                        .contains("retry later")
                );
                busy += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        busy > 0,
        "one thread and one queue slot cannot take 24 at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let spoof = |app: &TestApp, xff: &str| {
        app.api
            .post(app.url("/token/issue"))
            .header("authorization", basic("issuer-app", "wrong-0000"))
            .header("x-forwarded-for", xff)
            .json(&json!({"sub": "u"}))
            .send()
    };
    let tiny = |s: &mut Settings| {
        s.rate_limit.failed_auth_per_ip_burst = 1;
        s.rate_limit.failed_auth_per_ip_per_min = 1;
    };
    // Untrusted peer: a new X-Forwarded-For on every request changes nothing.
    let app = TestApp::builder(Backend::Memory)
        .configure(tiny)
        .spawn()
        .await;
    for i in 0..2 {
        let res = spoof(&app, &format!("203.0.113.{i}")).await.unwrap();
        assert_eq!(res.status(), 401);
    }
    assert_429(spoof(&app, "203.0.113.99").await.unwrap()).await;

    // Trusted peer: the rightmost untrusted address is the client, so two
    // clients behind the proxy have their own budgets.
    let app = TestApp::builder(Backend::Memory)
        .configure(tiny)
        .configure(|s: &mut Settings| {
            s.rate_limit.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        })
        .spawn()
        .await;
    for _ in 0..2 {
        let res = spoof(&app, "198.51.100.1, 203.0.113.7, 127.0.0.5")
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    assert_429(spoof(&app, "203.0.113.7").await.unwrap()).await;
    let res = spoof(&app, "203.0.113.7, 203.0.113.8").await.unwrap();
    assert_eq!(res.status(), 401, "another client behind the proxy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_rate_override_lets_one_client_past_the_default() {
    let app = TestApp::builder(Backend::Memory)
        .configure(|s: &mut Settings| {
            s.rate_limit.per_client_per_sec = 1;
            s.rate_limit.per_client_burst = 2;
            let gateway = s.clients.iter_mut().find(|c| c.id.as_str() == "other-app");
            gateway.unwrap().rate_limit = Some(tessera::config::ClientRate {
                per_sec: 1000,
                burst: 1000,
            });
        })
        .spawn()
        .await;
    for _ in 0..2 {
        assert_eq!(app.issue(json!({"sub": "u"})).await.status(), 200);
    }
    assert_429(app.issue(json!({"sub": "u"})).await).await;
    for _ in 0..20 {
        let res = app.issue_as("other-app", json!({"sub": "u"})).await;
        assert_eq!(res.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_and_form_credentials_together_are_400() {
    let app = spawn_app(Backend::Memory).await;
    let res = app
        .api
        .post(app.url("/token/revoke"))
        .basic_auth("issuer-app", Some(SECRET))
        .form(&[
            ("token", "x"),
            ("client_id", "issuer-app"),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap();
    let v = assert_error(res, 400, "invalid_request").await;
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("not both")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plus_and_ampersand_in_a_basic_secret_are_literal() {
    for secret in ["a+b+c-secret-123", "a&b=c-secret-123"] {
        let hash = tessera::domain::SecretHash::generate(secret).unwrap();
        let app = TestApp::builder(Backend::Memory)
            .configure(|s: &mut Settings| {
                let c = s.clients.iter_mut().find(|c| c.id.as_str() == "other-app");
                c.unwrap().secret_hash = hash;
            })
            .spawn()
            .await;
        let res = app
            .api
            .post(app.url("/token/issue"))
            .header("authorization", basic("other-app", secret))
            .json(&json!({"sub": "u"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "secret {secret:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_answers_are_not_cached() {
    let app = spawn_app(Backend::Memory).await;
    let v = app.issue_ok(json!({"sub": "u", "refresh": true})).await;
    let sid = crate::helpers::claims_of(v["access_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app.admin_get("/users/u/sessions").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let res = app
        .api
        .delete(app.url(&format!("/users/u/sessions/{sid}")))
        .basic_auth("admin-app", Some(SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["cache-control"], "no-store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_in_request_input_are_escaped() {
    let app = spawn_app(Backend::Memory).await;
    let res = app
        .api
        .post(app.url("/token/verify"))
        .header("content-type", "application/json")
        .body("{\"x\\nERROR forged line\\r\": 1}")
        .send()
        .await
        .unwrap();
    let v = assert_error(res, 400, "invalid_request").await;
    let text = v["error_description"].as_str().unwrap();
    assert!(!text.contains(['\n', '\r']), "{text:?}");
    // A field name that is not a plain name is not repeated at all
    // (http::decode_error); the message still says what was wrong.
    assert!(!text.contains("forged"), "{text:?}");
    assert!(
        text.contains("unknown field, expected one of `token`"),
        "{text:?}"
    );
}
