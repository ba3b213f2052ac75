//! The sections of `config.yaml`, each key with its meaning and default.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::{KeyAlg, KeyStatus};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to bind; port 0 picks a free port.
    pub listen: String,
    /// A second address serving only `/metrics`, `/healthz` and `/readyz`
    /// (for probes and Prometheus, off the public port); when set, the
    /// public listener answers 404 on `/metrics`. Unset: all on `listen`.
    pub admin_listen: Option<String>,
    /// Worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Largest request body accepted, in bytes (413 beyond).
    pub body_limit_bytes: usize,
    /// Time a client has to send its request head, in milliseconds.
    pub client_request_timeout_ms: u64,
    /// Time in-flight requests get to finish on shutdown, in seconds.
    pub shutdown_timeout_secs: u64,
    /// Idle keep-alive of client connections, in seconds.
    pub keep_alive_secs: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: "127.0.0.1:8080".into(),
            admin_listen: None,
            workers: 0,
            body_limit_bytes: 16 * 1024,
            client_request_timeout_ms: 5_000,
            shutdown_timeout_secs: 10,
            keep_alive_secs: 75,
        }
    }
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port[/db]`; absent means the in-memory
    /// store (refused in `prod`).
    #[serde(serialize_with = "mask_opt")]
    pub url: Option<SecretString>,
    /// Prefix of every key Tessera writes.
    pub key_prefix: String,
    /// Connections in the pool; 0 means 4 per CPU core.
    pub pool_size: usize,
    /// Bound on waiting for, creating or recycling a pooled connection and on
    /// each command, in milliseconds. Past it a request fails with 503.
    pub timeout_ms: u64,
    /// `standalone` (one server at `url`), `cluster` (seed nodes in `urls`)
    /// or `sentinel` (sentinels in `urls`, primary named `master_name`).
    pub mode: RedisMode,
    /// Cluster seed nodes or sentinels, `redis://host:port` each.
    #[serde(serialize_with = "mask_vec")]
    pub urls: Vec<SecretString>,
    /// The primary's name as the sentinels know it (mode `sentinel`).
    pub master_name: Option<String>,
    /// After each revocation, `WAIT` for this many replicas to acknowledge
    /// it (0 = off); fewer within half of `timeout_ms` answers 503.
    pub wait_replicas: usize,
    /// ACL user (Redis 6+), unless the URL names one. In `sentinel` mode
    /// this and the password below are the data nodes'; the sentinels'
    /// own credentials go in their URLs.
    pub username: Option<String>,
    /// The password (usually `TESSERA__REDIS__PASSWORD`), unless the URL
    /// or `password_file` gives it: one source only.
    #[serde(serialize_with = "mask_opt")]
    pub password: Option<SecretString>,
    /// A file holding the password (a mounted secret), read again for
    /// every new connection, so a rotated secret is picked up on reconnect.
    pub password_file: Option<PathBuf>,
    /// TLS settings for `rediss://` URLs; `None` means plain TCP.
    pub tls: Option<RedisTlsSettings>,
}

/// Certificates for TLS to Redis (every node and sentinel of the mode).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisTlsSettings {
    /// PEM trust anchors for the servers' certificates; absent: the
    /// system roots.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain for mutual TLS (with `key_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
}

/// How Tessera reaches Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RedisMode {
    #[default]
    Standalone,
    Cluster,
    Sentinel,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            url: None,
            key_prefix: "tessera:".into(),
            pool_size: 0,
            timeout_ms: 500,
            mode: RedisMode::Standalone,
            urls: Vec::new(),
            master_name: None,
            wait_replicas: 0,
            username: None,
            password: None,
            password_file: None,
            tls: None,
        }
    }
}

impl RedisSettings {
    /// Whether Redis is configured in any mode (else the memory store).
    pub fn is_configured(&self) -> bool {
        self.url.is_some() || self.mode != RedisMode::Standalone
    }

    /// The standalone URL, password included: for the connection only.
    pub fn url_exposed(&self) -> Option<&str> {
        self.url.as_ref().map(secrecy::ExposeSecret::expose_secret)
    }

    /// The cluster seeds or sentinels, passwords included.
    pub fn urls_exposed(&self) -> Vec<String> {
        self.urls
            .iter()
            .map(|u| u.expose_secret().to_owned())
            .collect()
    }
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &self.url.as_ref().map(|_| "***"))
            .field("key_prefix", &self.key_prefix)
            .field("pool_size", &self.pool_size)
            .field("timeout_ms", &self.timeout_ms)
            .field("mode", &self.mode)
            .field("urls", &vec!["***"; self.urls.len()])
            .field("master_name", &self.master_name)
            .field("wait_replicas", &self.wait_replicas)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("password_file", &self.password_file)
            .field("tls", &self.tls)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenSettings {
    /// Default access-token lifetime in seconds.
    pub access_ttl_secs: u64,
    /// Default refresh-token (session) lifetime in seconds.
    pub refresh_ttl_secs: u64,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// Live sessions one user may hold; past it the earliest-expiring
    /// other session is revoked (never the one being created).
    pub max_sessions_per_user: usize,
    /// After a rotation, the replaced refresh token presented again by the
    /// same client within this many seconds is a retry (the answer was
    /// lost), not theft; 0 = every second presentation is reuse.
    pub refresh_grace_secs: u64,
    /// Retries accepted per rotation inside the grace window; one more is
    /// treated as reuse.
    pub refresh_grace_retries: u32,
    /// Where `dev` keeps the signing key it generates when `keys` is empty.
    pub dev_key_path: PathBuf,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            access_ttl_secs: 900,
            refresh_ttl_secs: 30 * 24 * 3600,
            leeway_secs: 30,
            max_sessions_per_user: 100,
            refresh_grace_secs: 10,
            refresh_grace_retries: 3,
            dev_key_path: PathBuf::from("keys/dev-ed25519.pem"),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    pub kid: String,
    pub path: PathBuf,
    #[serde(default)]
    pub alg: KeyAlg,
    pub status: KeyStatus,
    /// Retired keys stop verifying (and leave the JWKS) at this instant.
    #[serde(default)]
    pub verify_until: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifySettings {
    /// Whether `/token/verify` demands client credentials (grant `verify`).
    pub require_client_auth: bool,
    /// Tokens whose signature check is remembered (by SHA-256 digest, until
    /// `exp`); 0 turns the cache off. The store is still read every time.
    pub cache_entries: usize,
    /// Whether every verify must name an audience (`?aud=`, `"aud"`, or the
    /// `/token/verify/aud/{aud}/…` route); without one: 400.
    pub require_audience: bool,
    /// Failed verifies are written to the audit log as one
    /// `verify_failed_summary` line per source and reason per this many
    /// seconds (1–3600), not one line each.
    pub failure_summary_secs: u64,
    /// Response headers of `GET /token/verify` and the forward-auth routes:
    /// header name → claim name (strings as is, numbers and booleans as
    /// text, objects and arrays as compact JSON; a value that is not a valid
    /// header value is left out).
    pub headers: BTreeMap<String, String>,
    /// Subscribers of the revocation feed (`GET /token/revocations`) one
    /// instance serves at once; past it: 503.
    pub feed_max_subscribers: usize,
    /// Seconds between the feed's heartbeats (1–60), sent only while the
    /// instance can read the feed from the store.
    pub feed_heartbeat_secs: u64,
    /// Seconds one feed response lasts; then the client reconnects with
    /// its last event id (spreading subscribers over instances).
    pub feed_max_connection_secs: u64,
    /// How far a DPoP proof's `iat` may be from now, in seconds (1–600),
    /// either way; its `jti` is remembered as long (RFC 9449 §11.1).
    pub dpop_iat_window_secs: u64,
    /// DPoP server nonces (RFC 9449 §8–9, `config::dpop_nonce`).
    pub dpop_nonce: super::DpopNonceSettings,
}

impl Default for VerifySettings {
    fn default() -> Self {
        VerifySettings {
            require_client_auth: false,
            cache_entries: 50_000,
            require_audience: false,
            failure_summary_secs: 60,
            headers: [
                ("x-auth-subject", "sub"),
                ("x-auth-scope", "scope"),
                ("x-auth-client", "client_id"),
            ]
            .into_iter()
            .map(|(h, c)| (h.to_owned(), c.to_owned()))
            .collect(),
            feed_max_subscribers: 2048,
            feed_heartbeat_secs: 5,
            feed_max_connection_secs: 300,
            dpop_iat_window_secs: 60,
            dpop_nonce: super::DpopNonceSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingSettings {
    /// The log4rs file; its `environments.<env>` block is applied on load.
    pub config: PathBuf,
}

impl Default for LoggingSettings {
    fn default() -> Self {
        LoggingSettings {
            config: PathBuf::from("log4rs.yaml"),
        }
    }
}

/// Request rate limits (token buckets): per source IP before client
/// authentication, per client id after it, and failed authentications per
/// source and per claimed id. A request over any gets 429.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Whether limits apply at all (every route that authenticates a
    /// client; verify without client auth only with `verify`).
    pub enabled: bool,
    /// Sustained requests per second one authenticated client may make.
    pub per_client_per_sec: u32,
    /// Requests one client may make at once above the sustained rate.
    pub per_client_burst: u32,
    /// Sustained requests per second from one source IP (the TCP peer).
    pub per_ip_per_sec: u32,
    /// Requests one IP may make at once above the sustained rate.
    pub per_ip_burst: u32,
    /// Whether `/token/verify` (the hot path) is limited too.
    pub verify: bool,
    /// Failed client authentications one source address may make at once.
    pub failed_auth_per_ip_burst: u32,
    /// Failed client authentications per minute one source may sustain.
    pub failed_auth_per_ip_per_min: u32,
    /// Failed authentications one claimed client id may take at once (from
    /// all sources) before sources that failed recently are refused for it.
    pub failed_auth_per_client_burst: u32,
    /// Failed authentications per minute one claimed id may sustain.
    pub failed_auth_per_client_per_min: u32,
    /// How long a source counts as having failed recently, in seconds.
    pub failed_auth_recent_secs: u64,
    /// Proxies (CIDRs) whose `Forwarded` / `X-Forwarded-For` is believed:
    /// the client is the rightmost address that is not itself trusted.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            enabled: true,
            per_client_per_sec: 1000,
            per_client_burst: 2000,
            per_ip_per_sec: 1000,
            per_ip_burst: 2000,
            verify: false,
            failed_auth_per_ip_burst: 10,
            failed_auth_per_ip_per_min: 6,
            failed_auth_per_client_burst: 30,
            failed_auth_per_client_per_min: 60,
            failed_auth_recent_secs: 600,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Client authentication's Argon2id work.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientAuthSettings {
    /// Threads that run Argon2id checks, each holding its working memory
    /// (19 MiB with `hash-secret`'s parameters); 0 means one per CPU core.
    pub hashing_threads: usize,
    /// Checks that may wait for a hashing thread; past it 503 at once.
    /// 0 means 4 per hashing thread.
    pub max_waiting_checks: usize,
    /// Checks one source address may have queued or running at once; past
    /// it 503 at once. 0 means half the hashing threads (at least 1), so a
    /// flood from one address always leaves a thread for everyone else.
    pub max_checks_per_source: usize,
    /// Failed authentications are audited as one summary line per source
    /// per this many seconds.
    pub failure_summary_secs: u64,
}

impl Default for ClientAuthSettings {
    fn default() -> Self {
        ClientAuthSettings {
            hashing_threads: 0,
            max_waiting_checks: 0,
            max_checks_per_source: 0,
            failure_summary_secs: 10,
        }
    }
}

fn mask_vec<S: serde::Serializer>(v: &[SecretString], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for _ in v {
        seq.serialize_element("***")?;
    }
    seq.end()
}

#[allow(clippy::ref_option)] // the signature serde's `serialize_with` calls
fn mask_opt<S: serde::Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("***"),
        None => s.serialize_none(),
    }
}
