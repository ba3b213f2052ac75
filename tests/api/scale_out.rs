//! Many Tessera instances over one Redis Cluster (or Sentinel group): what
//! one instance writes, every other sees at once.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera::config::{Environment, Settings};
use tessera::startup::Application;

use crate::helpers::{Backend, TestApp, base_yaml};
use crate::redis_cluster::{MASTER_NAME, shared_cluster, shared_sentinel};

/// `mode: …, urls: [...]` (and `master_name`) for a backend.
pub fn scale_out_yaml(backend: Backend, urls: &[String]) -> String {
    let list = urls
        .iter()
        .map(|u| format!("\"{u}\""))
        .collect::<Vec<_>>()
        .join(", ");
    match backend {
        Backend::Cluster => format!("mode: cluster, urls: [{list}]"),
        Backend::Sentinel => {
            format!("mode: sentinel, urls: [{list}], master_name: \"{MASTER_NAME}\"")
        }
        other => panic!("{other:?} is not a scale-out backend"),
    }
}

/// The seed nodes or sentinels of the shared fixture for `backend`.
pub fn shared_urls(backend: Backend) -> Vec<String> {
    tokio::task::block_in_place(|| match backend {
        Backend::Cluster => shared_cluster().urls(),
        Backend::Sentinel => shared_sentinel().urls(),
        other => panic!("{other:?} is not a scale-out backend"),
    })
}

/// Starts an app over the shared cluster or sentinel group. With `peer`,
/// the new app shares its signing key and key prefix: a second instance
/// of the same deployment.
pub async fn spawn_scaled_app(
    backend: Backend,
    peer: Option<&TestApp>,
    overrides: &[(&str, &str)],
) -> TestApp {
    spawn_app_over(backend, &shared_urls(backend), peer, overrides).await
}

/// As [`spawn_scaled_app`], over the given nodes.
pub async fn spawn_app_over(
    backend: Backend,
    urls: &[String],
    peer: Option<&TestApp>,
    overrides: &[(&str, &str)],
) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key_path, prefix) = match peer {
        Some(p) => (p.dir.path().join("k1.pem"), p.prefix.clone()),
        None => {
            let key_path = dir.path().join("k1.pem");
            tessera::token::write_new_key(&key_path, tessera::token::KeyAlg::EdDSA)
                .expect("keygen");
            let prefix = format!("t{}:", &uuid::Uuid::new_v4().simple().to_string()[..8]);
            (key_path, prefix)
        }
    };
    let yaml = base_yaml(&key_path.display().to_string(), &prefix, None).replacen(
        "redis: { ",
        &format!("redis: {{ {}, ", scale_out_yaml(backend, urls)),
        1,
    );
    let vars = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()));
    let settings =
        Settings::from_yaml_with_env(&yaml, Environment::Dev, vars).expect("test config");
    let app = Application::build(settings).await.expect("build app");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        api: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("client"),
        redis: None,
        prefix,
        dir,
    }
}

crate::scale_out_backends!(
    two_instances_share_every_token_state,
    a_scaled_out_app_is_ready_and_issues,
);

async fn a_scaled_out_app_is_ready_and_issues(b: Backend) {
    let app = spawn_scaled_app(b, None, &[]).await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    let token = app.access_token("ready-user").await;
    assert_eq!(app.verify_get(&token).await.status(), StatusCode::OK);
}

async fn two_instances_share_every_token_state(b: Backend) {
    let a = spawn_scaled_app(b, None, &[]).await;
    let b2 = spawn_scaled_app(b, Some(&a), &[]).await;
    assert_ne!(a.address, b2.address);

    // Issued by A, verifies on B; revoked on B, fails on A at once.
    let token = a.access_token("user-many").await;
    assert_eq!(b2.verify_get(&token).await.status(), StatusCode::OK);
    assert_eq!(b2.revoke(&token).await.status(), StatusCode::OK);
    assert_eq!(
        a.verify_get(&token).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // A refresh on A rotates the token for B: B refuses the old refresh
    // token (as reuse) and the session dies on both.
    let v: Value = a
        .issue_ok(json!({ "sub": "user-many", "refresh": true }))
        .await;
    let rt1 = v["refresh_token"].as_str().unwrap().to_owned();
    let res = a.refresh(&rt1).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v2: Value = res.json().await.unwrap();
    let at2 = v2["access_token"].as_str().unwrap().to_owned();
    assert_eq!(b2.verify_get(&at2).await.status(), StatusCode::OK);
    assert_eq!(b2.refresh(&rt1).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(a.verify_get(&at2).await.status(), StatusCode::UNAUTHORIZED);

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
    assert_eq!(body["revoked"], 3);
    for t in &tokens {
        assert_eq!(a.verify_get(t).await.status(), StatusCode::UNAUTHORIZED);
    }
    let sessions = a.admin_get("/users/user-everywhere/sessions").await;
    let body: Value = sessions.json().await.unwrap();
    assert_eq!(body["sessions"].as_array().map(Vec::len), Some(0));
}
