//! `spawn_app` starts the real server on port 0 over a chosen backend;
//! `TestApp` has one helper per endpoint.

use std::sync::OnceLock;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tessera::app::Application;
use tessera::config::{Environment, Settings};

use crate::redis_server::RedisServer;

/// Every test client shares this secret.
pub const SECRET: &str = "test-secret-0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Redis,
    /// The shared 3+3 Redis Cluster (`redis_cluster::shared_cluster`).
    Cluster,
    /// The shared Sentinel group (`redis_cluster::shared_sentinel`).
    Sentinel,
}

/// Runs each named scenario once per backend:
/// `<module>::memory::<name>` and `<module>::redis::<name>`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Memory).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Redis).await
                }
            )*
        }
    };
}

/// Runs each named scenario on the scale-out backends too:
/// `<module>::cluster::<name>` and `<module>::sentinel::<name>`.
#[macro_export]
macro_rules! scale_out_backends {
    ($($name:ident),* $(,)?) => {
        mod cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Cluster).await
                }
            )*
        }
        mod sentinel {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sentinel).await
                }
            )*
        }
    };
}

fn secret_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        tessera::domain::SecretHash::generate(SECRET)
            .expect("hash")
            .expose()
            .to_owned()
    })
}

pub struct TestApp {
    pub address: String,
    pub api: reqwest::Client,
    pub redis: Option<RedisServer>,
    pub prefix: String,
    /// Holds the signing key files for the app's life.
    pub dir: tempfile::TempDir,
}

/// The YAML every test app starts from; `{...}` parts are filled in.
pub fn base_yaml(key_path: &str, prefix: &str, redis_url: Option<&str>) -> String {
    let redis_url = redis_url
        .map(|u| format!("url: \"{u}\""))
        .unwrap_or_default();
    let hash = secret_hash();
    format!(
        r#"
server: {{ listen: "127.0.0.1:0", workers: 2 }}
issuer: "http://tessera.test"
redis: {{ {redis_url}{sep} key_prefix: "{prefix}", timeout_ms: 300 }}
tokens: {{ access_ttl_secs: 900, leeway_secs: 0, max_sessions_per_user: 5 }}
keys:
  - {{ kid: "k1", path: "{key_path}", alg: "EdDSA", status: "active" }}
clients:
  - {{ id: "issuer-app", secret_hash: "{hash}", grants: [issue, verify, introspect, revoke], max_ttl_secs: 3600 }}
  - {{ id: "other-app", secret_hash: "{hash}", grants: [issue, verify, introspect, revoke], max_ttl_secs: 3600 }}
  - {{ id: "admin-app", secret_hash: "{hash}", grants: [issue, verify, introspect, revoke, admin] }}
  - {{ id: "verify-only", secret_hash: "{hash}", grants: [verify] }}
  - {{ id: "narrow-app", secret_hash: "{hash}", grants: [issue], audiences: ["video-api"], scopes: ["read", "write"], max_ttl_secs: 60 }}
"#,
        sep = if redis_url.is_empty() { "" } else { "," },
    )
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// Starts an app; `overrides` are `TESSERA__…` variables applied on top.
pub async fn spawn_app_with(backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    let redis = match backend {
        Backend::Memory => None,
        Backend::Redis => Some(RedisServer::start()),
        Backend::Cluster | Backend::Sentinel => {
            return crate::scale_out::spawn_scaled_app(backend, None, overrides).await;
        }
    };
    spawn_app_on(redis, overrides).await
}

/// Starts an app over an already running Redis (or memory when `None`).
pub async fn spawn_app_on(redis: Option<RedisServer>, overrides: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_path = dir.path().join("k1.pem");
    tessera::token::write_new_key(&key_path, tessera::domain::KeyAlg::EdDSA).expect("keygen");
    let prefix = format!("t{}:", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let yaml = base_yaml(
        &key_path.display().to_string(),
        &prefix,
        redis.as_ref().map(|r| r.url()).as_deref(),
    );
    let vars = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()));
    let settings =
        Settings::from_yaml_with_env(&yaml, Environment::Dev, vars).expect("test config");
    TestApp::start(settings, redis, prefix, dir).await
}

impl TestApp {
    /// Builds and spawns an app from `settings`; `redis` and `dir` (its key
    /// files) live as long as the returned `TestApp`.
    pub async fn start(
        settings: Settings,
        redis: Option<RedisServer>,
        prefix: String,
        dir: tempfile::TempDir,
    ) -> TestApp {
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
            redis,
            prefix,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// `POST path` with a JSON body, as `client` (HTTP Basic) or anonymously.
    pub async fn post_json(&self, path: &str, client: Option<&str>, body: &Value) -> Response {
        let mut req = self.api.post(self.url(path)).json(body);
        if let Some(c) = client {
            req = req.basic_auth(c, Some(SECRET));
        }
        req.send().await.expect("POST request")
    }

    /// `POST path` with a form body, as `client` (HTTP Basic) or anonymously.
    pub async fn post_form(
        &self,
        path: &str,
        client: Option<&str>,
        form: &[(&str, &str)],
    ) -> Response {
        let mut req = self.api.post(self.url(path)).form(form);
        if let Some(c) = client {
            req = req.basic_auth(c, Some(SECRET));
        }
        req.send().await.expect("POST request")
    }

    /// `POST path` with raw bytes and a content type, as `client`.
    pub async fn post_raw(
        &self,
        path: &str,
        client: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        self.api
            .post(self.url(path))
            .basic_auth(client, Some(SECRET))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST request")
    }

    pub async fn issue_as(&self, client: &str, body: Value) -> Response {
        self.api
            .post(self.url("/token/issue"))
            .basic_auth(client, Some(SECRET))
            .json(&body)
            .send()
            .await
            .expect("issue request")
    }

    pub async fn issue(&self, body: Value) -> Response {
        self.issue_as("issuer-app", body).await
    }

    /// Issues for `sub` and returns the token response, asserting `200`.
    pub async fn issue_ok(&self, body: Value) -> Value {
        let res = self.issue(body).await;
        assert_eq!(res.status(), StatusCode::OK, "issue failed");
        res.json().await.expect("json")
    }

    pub async fn access_token(&self, sub: &str) -> String {
        let v = self.issue_ok(json!({ "sub": sub })).await;
        v["access_token"].as_str().expect("access_token").to_owned()
    }

    pub async fn verify_get(&self, token: &str) -> Response {
        self.api
            .get(self.url("/token/verify"))
            .bearer_auth(token)
            .send()
            .await
            .expect("verify request")
    }

    pub async fn verify_post(&self, body: Value) -> Response {
        self.api
            .post(self.url("/token/verify"))
            .json(&body)
            .send()
            .await
            .expect("verify request")
    }

    pub async fn revoke_as(&self, client: &str, form: &[(&str, &str)]) -> Response {
        self.api
            .post(self.url("/token/revoke"))
            .basic_auth(client, Some(SECRET))
            .form(form)
            .send()
            .await
            .expect("revoke request")
    }

    pub async fn revoke(&self, token: &str) -> Response {
        self.revoke_as("issuer-app", &[("token", token)]).await
    }

    pub async fn refresh_as(&self, client: &str, refresh_token: &str) -> Response {
        self.api
            .post(self.url("/token/refresh"))
            .basic_auth(client, Some(SECRET))
            .json(&json!({ "refresh_token": refresh_token }))
            .send()
            .await
            .expect("refresh request")
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.refresh_as("issuer-app", refresh_token).await
    }

    pub async fn introspect(&self, form: &[(&str, &str)]) -> Response {
        self.api
            .post(self.url("/token/introspect"))
            .basic_auth("issuer-app", Some(SECRET))
            .form(form)
            .send()
            .await
            .expect("introspect request")
    }

    pub async fn admin_get(&self, path: &str) -> Response {
        self.api
            .get(self.url(path))
            .basic_auth("admin-app", Some(SECRET))
            .send()
            .await
            .expect("admin request")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.api.get(self.url(path)).send().await.expect("request")
    }

    /// `PTTL` of a key, in milliseconds (Redis backend only).
    pub fn pttl(&self, key: &str) -> i64 {
        let redis = self.redis.as_ref().expect("redis backend");
        deadpool_redis::redis::cmd("PTTL")
            .arg(key)
            .query(&mut redis.connection())
            .expect("PTTL")
    }
}

/// Asserts the contract's error shape and status; returns the body.
pub async fn assert_error(res: Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "unexpected status");
    let body: Value = res.json().await.expect("error body is JSON");
    assert_eq!(body["error"], code, "error code in {body}");
    assert!(
        body["error_description"].is_string(),
        "no description in {body}"
    );
    body
}

/// Asserts a `401 invalid_token` "token revoked" with its Bearer challenge.
pub async fn assert_revoked(res: Response) {
    let www = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(www.contains(r#"error="invalid_token""#), "{www}");
    let body = assert_error(res, 401, "invalid_token").await;
    assert_eq!(body["error_description"], "token revoked");
}

/// Decodes the (unverified) claims of a JWT for assertions.
pub fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("payload");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64");
    serde_json::from_slice(&raw).expect("claims json")
}
