//! Many Tessera instances over one Redis Cluster (or Sentinel group): what
//! one instance writes, every other sees at once.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera::config::{Environment, Settings};

use crate::helpers::{Backend, TestApp};

crate::scale_out_backends!(
    two_instances_share_every_token_state,
    a_scaled_out_app_is_ready_and_issues,
);

async fn a_scaled_out_app_is_ready_and_issues(b: Backend) {
    let app = TestApp::builder(b).spawn().await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    let token = app.access_token("ready-user").await;
    assert_eq!(app.verify_get(&token).await.status(), StatusCode::OK);
}

async fn two_instances_share_every_token_state(b: Backend) {
    let a = TestApp::builder(b).spawn().await;
    let b2 = TestApp::builder(b).peer(&a).spawn().await;
    assert_ne!(a.address, b2.address);

    // Issued by A, verifies on B; revoked on B, fails on A at once.
    let token = a.access_token("user-many").await;
    assert_eq!(b2.verify_get(&token).await.status(), StatusCode::OK);
    assert_eq!(b2.revoke(&token).await.status(), StatusCode::OK);
    assert_eq!(
        a.verify_get(&token).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // A refresh on A rotates the token for B. The old refresh token
    // retried on B within the grace window (the answer on A was lost) gets
    // the very same successor; once that successor has rotated on, the old
    // token is reuse on either instance and the session dies on both.
    let v: Value = a
        .issue_ok(json!({ "sub": "user-many", "refresh": true }))
        .await;
    let rt1 = v["refresh_token"].as_str().unwrap().to_owned();
    let res = a.refresh(&rt1).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v2: Value = res.json().await.unwrap();
    let at2 = v2["access_token"].as_str().unwrap().to_owned();
    assert_eq!(b2.verify_get(&at2).await.status(), StatusCode::OK);
    let res = b2.refresh(&rt1).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "a retry on the other instance"
    );
    let retried: Value = res.json().await.unwrap();
    assert_eq!(
        retried["refresh_token"], v2["refresh_token"],
        "same successor"
    );
    let rt2 = v2["refresh_token"].as_str().unwrap();
    assert_eq!(b2.refresh(rt2).await.status(), StatusCode::OK);
    assert_eq!(a.refresh(&rt1).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(b2.verify_get(&at2).await.status(), StatusCode::UNAUTHORIZED);

    // A fresh session rotated on A, refreshed onward on B.
    let v: Value = a
        .issue_ok(json!({ "sub": "user-many", "refresh": true }))
        .await;
    let rt = v["refresh_token"].as_str().unwrap().to_owned();
    let res = a.refresh(&rt).await;
    let rt_next = res.json::<Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(b2.refresh(&rt_next).await.status(), StatusCode::OK);

    // Logout-everywhere on B ends the sessions A issued.
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let v = a
            .issue_ok(json!({ "sub": "user-everywhere", "refresh": true }))
            .await;
        tokens.push(v["access_token"].as_str().unwrap().to_owned());
    }
    tokens.push(a.access_token("user-everywhere").await);
    let res = b2
        .api
        .post(b2.url("/token/revoke"))
        .basic_auth("admin-app", Some(crate::helpers::SECRET))
        .json(&json!({ "sub": "user-everywhere" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (
            &body["revoked"],
            &body["sessions"],
            &body["standalone_access_tokens"]
        ),
        (&json!("all"), &json!(3), &json!(1))
    );
    for t in &tokens {
        assert_eq!(a.verify_get(t).await.status(), StatusCode::UNAUTHORIZED);
    }
    let sessions = a.admin_get("/users/user-everywhere/sessions").await;
    let body: Value = sessions.json().await.unwrap();
    assert_eq!(body["sessions"].as_array().map(Vec::len), Some(0));
}

/// Settings from `redis:` YAML, with overriding variables.
fn redis_settings(
    redis: &str,
    vars: &[(&str, &str)],
) -> Result<Settings, tessera::config::ConfigError> {
    let yaml = format!("issuer: \"http://tessera.test\"\nredis: {redis}\n");
    let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    Settings::from_yaml_with_env(&yaml, Environment::Dev, vars)
}

#[test]
fn scale_out_settings_are_checked_and_errors_name_the_key() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        (
            "cluster with seeds",
            r#"{ mode: cluster, urls: ["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"] }"#,
            None,
        ),
        (
            "sentinel with a name",
            r#"{ mode: sentinel, urls: ["redis://127.0.0.1:26379"], master_name: "m" }"#,
            None,
        ),
        (
            "cluster without urls",
            "{ mode: cluster }",
            Some("redis.urls"),
        ),
        (
            "sentinel without a name",
            r#"{ mode: sentinel, urls: ["redis://127.0.0.1:26379"] }"#,
            Some("redis.master_name"),
        ),
        (
            "a bad seed",
            r#"{ mode: cluster, urls: ["http://x:1"] }"#,
            Some("redis.urls[0]"),
        ),
        (
            "url in cluster mode",
            r#"{ mode: cluster, url: "redis://a:1", urls: ["redis://b:1"] }"#,
            Some("redis.url"),
        ),
        (
            "urls in standalone",
            r#"{ url: "redis://a:1", urls: ["redis://b:1"] }"#,
            Some("redis.urls"),
        ),
        (
            "master_name in cluster",
            r#"{ mode: cluster, urls: ["redis://b:1"], master_name: "m" }"#,
            Some("redis.master_name"),
        ),
        (
            "wait_replicas without redis",
            "{ wait_replicas: 1 }",
            Some("redis.wait_replicas"),
        ),
        ("an unknown mode", "{ mode: ring }", Some("redis.mode")),
    ];
    for (what, yaml, bad_key) in cases {
        let got = redis_settings(yaml, &[]);
        match (bad_key, got) {
            (None, Ok(_)) => {}
            (None, Err(e)) => panic!("{what}: refused: {e}"),
            (Some(_), Ok(_)) => panic!("{what}: accepted"),
            (Some(key), Err(e)) => {
                assert!(e.to_string().contains(&format!("`{key}`")), "{what}: {e}")
            }
        }
    }
}

#[test]
fn scale_out_settings_come_from_variables_too() {
    let s = redis_settings(
        "{}",
        &[
            ("TESSERA__REDIS__MODE", "sentinel"),
            (
                "TESSERA__REDIS__URLS",
                r#"["redis://127.0.0.1:26379","redis://127.0.0.1:26380"]"#,
            ),
            ("TESSERA__REDIS__MASTER_NAME", "tessera"),
            ("TESSERA__REDIS__WAIT_REPLICAS", "1"),
        ],
    )
    .expect("settings");
    assert_eq!(s.redis.mode, tessera::config::RedisMode::Sentinel);
    assert_eq!(s.redis.urls_exposed().len(), 2);
    assert_eq!(s.redis.wait_replicas, 1);
    assert!(s.redis.is_configured());
    assert!(!s.masked_json().contains("26379"), "urls are masked");
}
