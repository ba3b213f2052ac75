//! The in-process test app. [`TestApp::builder`] starts the real server on
//! port 0 over a chosen backend, from one base configuration; every
//! variation is a mutation of the typed `Settings` (`.configure`), never
//! YAML text or `TESSERA__` strings. [`spawn_app`] is the builder with no
//! variation. The backend macros run one scenario per store.
//!
//! The library paths the suite builds apps from are imported here (and in
//! `binary.rs` for the real binary) so a move in `src/` is one edit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use actix_web::dev::ServerHandle;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use tessera::app::Application;
pub use tessera::config::Settings;
use tessera::config::{Environment, KeySettings, RedisMode};
pub use tessera::domain::KeyAlg;
use tessera::domain::KeyStatus;

use crate::redis_cluster::{MASTER_NAME, shared_cluster, shared_sentinel};
use crate::redis_server::RedisServer;

mod requests;
pub use requests::{assert_error, assert_revoked, claims_of};

/// Every test client shares this secret.
pub const SECRET: &str = "test-secret-0123456789";

/// `redis.timeout_ms` of the scale-out apps: wider than the standalone
/// 300 ms, as the first calls load scripts on several nodes and the suite
/// runs in parallel on few cores.
pub const SCALE_OUT_TIMEOUT_MS: u64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Redis,
    /// The shared 3+3 Redis Cluster (`redis_cluster::shared_cluster`).
    Cluster,
    /// The shared Sentinel group (`redis_cluster::shared_sentinel`).
    Sentinel,
}

impl Backend {
    /// The seed nodes or sentinels of the shared fixture of a scale-out
    /// backend (started on first use).
    pub fn shared_urls(self) -> Vec<String> {
        tokio::task::block_in_place(|| match self {
            Backend::Cluster => shared_cluster().urls(),
            Backend::Sentinel => shared_sentinel().urls(),
            other => panic!("{other:?} is not a scale-out backend"),
        })
    }
}

/// Runs each named scenario once per backend:
/// `<module>::memory::<name>` and `<module>::redis::<name>`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $crate::backend_tests!(memory, Memory, $($name),*);
        $crate::backend_tests!(redis, Redis, $($name),*);
    };
}

/// Runs each named scenario on the scale-out backends too:
/// `<module>::cluster::<name>` and `<module>::sentinel::<name>`.
#[macro_export]
macro_rules! scale_out_backends {
    ($($name:ident),* $(,)?) => {
        $crate::backend_tests!(cluster, Cluster, $($name),*);
        $crate::backend_tests!(sentinel, Sentinel, $($name),*);
    };
}

/// Both of the above from one list: memory, redis, cluster and sentinel.
#[macro_export]
macro_rules! all_backends {
    ($($name:ident),* $(,)?) => {
        $crate::both_backends!($($name),*);
        $crate::scale_out_backends!($($name),*);
    };
}

/// `mod $module { one #[tokio::test] per scenario, on Backend::$backend }`.
#[macro_export]
macro_rules! backend_tests {
    ($module:ident, $backend:ident, $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::$backend).await
                }
            )*
        }
    };
}

/// A child process for a loopback test: no proxy variables inherited
/// (a proxy set on the machine would swallow 127.0.0.1), `NO_PROXY` set.
pub fn loopback_command(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    for var in [
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost");
    cmd
}

/// The Argon2 PHC string of [`SECRET`], made once per test process.
pub fn secret_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        tessera::domain::SecretHash::generate(SECRET)
            .expect("hash")
            .expose()
            .to_owned()
    })
}

/// Writes a new private key of `alg` to `path`.
pub fn write_key(path: &Path, alg: KeyAlg) {
    tessera::token::write_new_key(path, alg)
        .unwrap_or_else(|e| panic!("keygen {}: {e}", path.display()));
}

/// A new private key of `alg`, as PKCS#8 PEM text.
pub fn new_key_pem(alg: KeyAlg) -> String {
    tessera::token::generate_pem(alg).expect("keygen")
}

/// The settings every test app starts from, parsed once. Key paths are
/// relative to the app's key directory.
fn base_settings() -> &'static Settings {
    static BASE: OnceLock<Settings> = OnceLock::new();
    BASE.get_or_init(|| {
        let yaml = format!(
            r#"
server: {{ listen: "127.0.0.1:0", workers: 2 }}
issuer: "http://tessera.test"
redis: {{ timeout_ms: 300 }}
tokens: {{ access_ttl_secs: 900, leeway_secs: 0, max_sessions_per_user: 5 }}
keys:
  - {{ kid: "k1", path: "k1.pem", alg: "EdDSA", status: "active" }}
clients:
  - {{ id: "issuer-app", secret_hash: "{hash}", grants: [issue, verify, introspect, revoke], max_ttl_secs: 3600 }}
  - {{ id: "other-app", secret_hash: "{hash}", grants: [issue, verify, introspect, revoke], max_ttl_secs: 3600 }}
  - {{ id: "admin-app", secret_hash: "{hash}", grants: [issue, verify, introspect, revoke, admin] }}
  - {{ id: "verify-only", secret_hash: "{hash}", grants: [verify] }}
  - {{ id: "narrow-app", secret_hash: "{hash}", grants: [issue], audiences: ["video-api"], scopes: ["read", "write"], max_ttl_secs: 60 }}
"#,
            hash = secret_hash(),
        );
        Settings::from_yaml_with_env(&yaml, Environment::Dev, std::iter::empty())
            .expect("base test config")
    })
}

/// A signing key that signs (exactly one per app); its file is
/// `<kid>.pem` in the app's key directory, made on first use.
pub fn active_key(kid: &str, alg: KeyAlg) -> KeySettings {
    KeySettings {
        kid: kid.to_owned(),
        path: PathBuf::from(format!("{kid}.pem")),
        alg,
        status: KeyStatus::Active,
        verify_until: None,
    }
}

/// A key that only verifies, until `verify_until` when set.
pub fn retired_key(kid: &str, alg: KeyAlg, verify_until: Option<DateTime<Utc>>) -> KeySettings {
    KeySettings {
        status: KeyStatus::Retired,
        verify_until,
        ..active_key(kid, alg)
    }
}

/// `TestApp::builder(backend)…spawn()` with nothing changed.
pub async fn spawn_app(backend: Backend) -> TestApp {
    TestApp::builder(backend).spawn().await
}

/// A running app; the per-endpoint helpers are in `helpers/requests.rs`.
pub struct TestApp {
    pub address: String,
    /// `http://127.0.0.1:<port>` of the admin listener, when configured.
    pub admin_address: Option<String>,
    pub api: reqwest::Client,
    backend: Backend,
    /// What the app runs with (key paths made absolute).
    settings: Settings,
    /// The private `redis-server` of a `Redis` app, shared with its peers.
    redis: Option<Arc<RedisServer>>,
    /// The key files, shared with peers; removed with the last of them.
    key_dir: Arc<tempfile::TempDir>,
    handle: ServerHandle,
}

impl TestApp {
    /// Starts building an app over `backend`: the base settings with a
    /// fresh key prefix and key `k1` (EdDSA), a private `redis-server` for
    /// `Redis`, the shared cluster or sentinel group for those.
    pub fn builder(backend: Backend) -> TestAppBuilder {
        let mut settings = base_settings().clone();
        settings.redis.key_prefix =
            format!("t{}:", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let redis = &mut settings.redis;
        match backend {
            Backend::Memory | Backend::Redis => {}
            Backend::Cluster => {
                redis.mode = RedisMode::Cluster;
                redis.timeout_ms = SCALE_OUT_TIMEOUT_MS;
            }
            Backend::Sentinel => {
                redis.mode = RedisMode::Sentinel;
                redis.master_name = Some(MASTER_NAME.to_owned());
                redis.timeout_ms = SCALE_OUT_TIMEOUT_MS;
            }
        }
        TestAppBuilder {
            backend,
            settings,
            redis: None,
            urls: None,
            key_dir: None,
        }
    }

    /// The prefix of every Redis key this app writes.
    pub fn prefix(&self) -> &str {
        &self.settings.redis.key_prefix
    }

    /// The app's private `redis-server` (`Backend::Redis` only).
    pub fn redis(&self) -> &RedisServer {
        self.redis.as_deref().expect("a Backend::Redis app")
    }

    /// The PEM file of signing key `kid`.
    pub fn key_file(&self, kid: &str) -> &Path {
        let key = self.settings.keys.iter().find(|k| k.kid == kid);
        &key.unwrap_or_else(|| panic!("no key `{kid}`")).path
    }

    /// Stops the server gracefully (its store stays for peers).
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// Settings and store placement of an app to spawn; later calls win.
pub struct TestAppBuilder {
    backend: Backend,
    settings: Settings,
    redis: Option<Arc<RedisServer>>,
    urls: Option<Vec<String>>,
    key_dir: Option<Arc<tempfile::TempDir>>,
}

impl TestAppBuilder {
    /// Changes any setting; where the store is (`redis.url`, `redis.urls`)
    /// is the builder's own (the backend, [`Self::peer`], [`Self::urls`]).
    pub fn configure(mut self, change: impl FnOnce(&mut Settings)) -> Self {
        change(&mut self.settings);
        self
    }

    /// The settings as configured so far (the store not placed yet).
    pub fn settings(&self) -> Settings {
        self.settings.clone()
    }

    /// One signing key, `k1`, of algorithm `alg` (the base has EdDSA).
    pub fn key_alg(self, alg: KeyAlg) -> Self {
        self.configure(|s| s.keys = vec![active_key("k1", alg)])
    }

    /// The signing keys (`active_key`, `retired_key`); a kid names the same
    /// key file across peers.
    pub fn keys(self, keys: impl IntoIterator<Item = KeySettings>) -> Self {
        let keys = keys.into_iter().collect();
        self.configure(|s| s.keys = keys)
    }

    /// A second instance of `other`'s deployment: the same store (its
    /// Redis, cluster or sentinel group; a memory app has its own), key
    /// prefix, keys and key files.
    pub fn peer(mut self, other: &TestApp) -> Self {
        assert_eq!(
            self.backend, other.backend,
            "a peer runs on the same backend"
        );
        self.redis = other.redis.clone();
        if !other.settings.redis.urls.is_empty() {
            self.urls = Some(other.settings.redis.urls_exposed());
        }
        self.key_dir = Some(other.key_dir.clone());
        self.settings.keys = other.settings.keys.clone();
        self.settings.redis.key_prefix = other.prefix().to_owned();
        self
    }

    /// Runs a `Redis` app on this private `redis-server` (e.g. one started
    /// with persistence) instead of a fresh one.
    pub fn redis_server(mut self, server: Arc<RedisServer>) -> Self {
        assert_eq!(self.backend, Backend::Redis, "a private redis-server");
        self.redis = Some(server);
        self
    }

    /// Cluster seed nodes or sentinels to use instead of the shared ones.
    pub fn urls(mut self, urls: Vec<String>) -> Self {
        assert!(
            matches!(self.backend, Backend::Cluster | Backend::Sentinel),
            "urls are for a scale-out backend"
        );
        self.urls = Some(urls);
        self
    }

    /// Places the store, makes missing key files, validates the settings
    /// (as loading a file would) and starts the server.
    pub async fn spawn(self) -> TestApp {
        let TestAppBuilder {
            backend,
            mut settings,
            mut redis,
            urls,
            key_dir,
        } = self;
        match backend {
            Backend::Memory => {}
            Backend::Redis => {
                let server = redis.get_or_insert_with(|| Arc::new(RedisServer::start()));
                settings.redis.url = Some(SecretString::from(server.url()));
            }
            Backend::Cluster | Backend::Sentinel => {
                let urls = urls.unwrap_or_else(|| backend.shared_urls());
                settings.redis.urls = urls.into_iter().map(SecretString::from).collect();
            }
        }
        let key_dir = key_dir.unwrap_or_else(|| Arc::new(tempfile::tempdir().expect("tempdir")));
        for key in &mut settings.keys {
            if key.path.is_relative() {
                key.path = key_dir.path().join(&key.path);
            }
            if !key.path.exists() {
                write_key(&key.path, key.alg);
            }
        }
        settings
            .validate()
            .unwrap_or_else(|e| panic!("test settings: {e}\n{}", settings.masked_json()));
        let app = Application::build(settings.clone())
            .await
            .expect("build app");
        let address = format!("http://127.0.0.1:{}", app.port());
        let admin_address = app.admin_port().map(|p| format!("http://127.0.0.1:{p}"));
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            admin_address,
            api: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("client"),
            backend,
            settings,
            redis,
            key_dir,
            handle,
        }
    }
}
