//! The sections of `config.yaml`, each key with its meaning and default.

use std::fmt;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::{
    Audience, Client, ClientId, Grant, IntrospectScope, KeyAlg, KeyStatus, Scope, SecretHash,
};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to bind; port 0 picks a free port.
    pub listen: String,
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
    /// Live sessions one user may hold; past it the oldest is revoked.
    pub max_sessions_per_user: usize,
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

/// A client as declared; every value is parsed into its domain type while
/// the file is read, so a bad id, hash, audience or scope names its key.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    pub id: ClientId,
    /// Argon2id PHC string made by `tessera hash-secret`.
    pub secret_hash: SecretHash,
    pub grants: Vec<Grant>,
    /// Longest access-token lifetime this client may ask for.
    #[serde(default)]
    pub max_ttl_secs: Option<u64>,
    /// Session lifetime for this client's refresh tokens.
    #[serde(default)]
    pub refresh_ttl_secs: Option<u64>,
    /// Audiences the client may request; empty means any.
    #[serde(default)]
    pub audiences: Vec<Audience>,
    /// Scopes the client may request; empty means any.
    #[serde(default, with = "scope_list")]
    pub scopes: Scope,
    /// Whether `issue` returns a refresh token when the request is silent.
    #[serde(default)]
    pub refresh_by_default: bool,
    /// Which tokens introspection describes to this client: `all` (the
    /// default: a gateway introspects tokens other clients issued, which is
    /// what the `introspect` grant is for) or `own` (tokens of other
    /// clients answer `{"active": false}`).
    #[serde(default)]
    pub introspect: IntrospectScope,
}

impl ClientSettings {
    /// The client and its policy, with the token defaults filled in.
    pub fn to_client(&self, tokens: &TokenSettings) -> Client {
        Client {
            id: self.id.clone(),
            grants: self.grants.clone(),
            max_ttl_secs: self.max_ttl_secs.unwrap_or(tokens.access_ttl_secs),
            refresh_ttl_secs: self.refresh_ttl_secs.unwrap_or(tokens.refresh_ttl_secs),
            audiences: self.audiences.clone(),
            scopes: (!self.scopes.is_empty()).then(|| self.scopes.clone()),
            refresh_by_default: self.refresh_by_default,
            introspect: self.introspect,
            secret_hash: self.secret_hash.clone(),
        }
    }
}

/// `scopes: [read, write]` in the file, a [`Scope`] in memory.
mod scope_list {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::domain::Scope;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Scope, D::Error> {
        let list = Vec::<String>::deserialize(d)?;
        Scope::parse(&list.join(" ")).map_err(serde::de::Error::custom)
    }

    pub fn serialize<S: Serializer>(scope: &Scope, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(scope.iter())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifySettings {
    /// Whether `/token/verify` demands client credentials (grant `verify`).
    pub require_client_auth: bool,
    /// Tokens whose signature check is remembered (by SHA-256 digest, until
    /// `exp`); 0 turns the cache off. The store is still read every time.
    pub cache_entries: usize,
}

impl Default for VerifySettings {
    fn default() -> Self {
        VerifySettings {
            require_client_auth: false,
            cache_entries: 50_000,
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
/// authentication, per client id after it. A request over either gets 429.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Whether issue, refresh and introspect are limited at all.
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
