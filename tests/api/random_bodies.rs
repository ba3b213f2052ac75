//! Property: whatever body and content type a caller sends to issue,
//! verify, revoke, refresh or introspect, the answer is never a 5xx and the
//! connection is never dropped (a handler panic would drop it).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;

use crate::helpers::{Backend, SECRET, spawn_app};

const ENDPOINTS: &[&str] = &[
    "/token/issue",
    "/token/verify",
    "/token/revoke",
    "/token/refresh",
    "/token/introspect",
];

/// Field names the endpoints know, so random objects often reach the
/// domain checks instead of stopping at "unknown field".
const FIELDS: &[&str] = &[
    "sub",
    "aud",
    "scope",
    "ttl",
    "claims",
    "refresh",
    "token",
    "token_type_hint",
    "refresh_token",
    "client_id",
    "client_secret",
    "grant_type",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(FIELDS).prop_map(str::to_owned),
        "[a-z_]{1,12}",
        ".{0,8}",
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Objects over the known fields.
        prop::collection::vec((prop::sample::select(FIELDS), json_value()), 0..6).prop_map(|kv| {
            let map: serde_json::Map<String, Value> =
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            Value::Object(map).to_string().into_bytes()
        }),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        // Form bodies, with raw bytes in them.
        prop::collection::vec(
            (
                prop::sample::select(FIELDS),
                prop::collection::vec(any::<u8>(), 0..40)
            ),
            0..5
        )
        .prop_map(|kv| {
            let mut out = Vec::new();
            for (k, v) in kv {
                out.extend_from_slice(k.as_bytes());
                out.push(b'=');
                out.extend_from_slice(&v);
                out.push(b'&');
            }
            out
        }),
        prop::collection::vec(any::<u8>(), 0..2048),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(Some("application/json".to_owned())),
        Just(Some("application/x-www-form-urlencoded".to_owned())),
        Just(Some("application/json; charset=utf-8".to_owned())),
        Just(Some("text/plain".to_owned())),
        Just(Some("application/jwt+json".to_owned())),
        Just(None),
        "[ -~]{0,30}".prop_map(Some),
    ]
}

#[test]
fn random_bodies_never_get_a_5xx_or_a_dropped_connection() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(spawn_app(Backend::Memory));
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        prop::sample::select(ENDPOINTS),
        content_type(),
        body(),
        any::<bool>(),
    );
    let result =
        runner.run(&strategy, |(path, ct, body, with_client)| {
            rt.block_on(async {
                let mut req = app.api.post(app.url(path));
                if with_client {
                    req = req.basic_auth("admin-app", Some(SECRET));
                }
                if let Some(ct) = &ct {
                    req = req.header("content-type", ct.as_str());
                }
                let res =
                    req.body(body.clone()).send().await.map_err(|e| {
                        TestCaseError::fail(format!("{path}: connection failed: {e}"))
                    })?;
                let status = res.status().as_u16();
                prop_assert!(status < 500, "{path} answered {status}");
                if status >= 400 {
                    let v: Value = res.json().await.map_err(|e| {
                        TestCaseError::fail(format!("{path}: {status} not JSON: {e}"))
                    })?;
                    prop_assert!(v["error"].is_string(), "{path}: {status} {v}");
                }
                Ok(())
            })
        });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert_eq!(rt.block_on(app.get("/healthz")).status(), 200);
}
