//! Typed settings: `config.yaml` base keys, then the selected environment's
//! section (`environments.<env>`), then `TESSERA__SECTION__KEY` variables.
//! One [`Settings::validate`] holds every cross-field rule; `check-config`
//! runs exactly [`Settings::load`].

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::Format;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_saphyr::figment::Yaml;

use crate::domain::Grant;
use crate::token::KeyAlg;

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "TESSERA__";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Parse(String),
    #[error("unknown environment `{0}` (TESSERA_ENV must be `dev` or `prod`)")]
    UnknownEnv(String),
    #[error("invalid value for `{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

impl ConfigError {
    fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// The environment a process runs in; picks the `environments.<env>` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Dev,
    Prod,
}

impl Environment {
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dev" | "development" => Ok(Environment::Dev),
            "prod" | "production" => Ok(Environment::Prod),
            other => Err(ConfigError::UnknownEnv(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Dev => "dev",
            Environment::Prod => "prod",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub server: ServerSettings,
    pub issuer: String,
    #[serde(default)]
    pub redis: RedisSettings,
    #[serde(default)]
    pub tokens: TokenSettings,
    #[serde(default)]
    pub keys: Vec<KeySettings>,
    #[serde(default)]
    pub clients: Vec<ClientSettings>,
    #[serde(default)]
    pub verify: VerifySettings,
    #[serde(default)]
    pub logging: LoggingSettings,
    #[serde(default)]
    pub rate_limit: RateLimitSettings,
    /// Per-environment overrides; consumed by [`Settings::load`].
    #[serde(default, skip_serializing)]
    pub environments: Option<serde_json::Value>,
    /// The environment these settings were loaded for (not a file key).
    #[serde(skip_deserializing, default = "default_env")]
    pub env: Environment,
}

fn default_env() -> Environment {
    Environment::Dev
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Signs new tokens (exactly one key) and verifies.
    Active,
    /// Verifies only, until `verify_until` when set.
    Retired,
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

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    pub id: String,
    /// Argon2id PHC string made by `tessera hash-secret`.
    #[serde(serialize_with = "mask")]
    pub secret_hash: SecretString,
    pub grants: Vec<Grant>,
    /// Longest access-token lifetime this client may ask for.
    #[serde(default)]
    pub max_ttl_secs: Option<u64>,
    /// Session lifetime for this client's refresh tokens.
    #[serde(default)]
    pub refresh_ttl_secs: Option<u64>,
    /// Audiences the client may request; empty means any.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Scopes the client may request; empty means any.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Whether `issue` returns a refresh token when the request is silent.
    #[serde(default)]
    pub refresh_by_default: bool,
}

impl fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSettings")
            .field("id", &self.id)
            .field("secret_hash", &"***")
            .field("grants", &self.grants)
            .field("max_ttl_secs", &self.max_ttl_secs)
            .field("audiences", &self.audiences)
            .field("scopes", &self.scopes)
            .finish()
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

fn mask<S: serde::Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("***")
}

fn mask_vec<S: serde::Serializer>(v: &[SecretString], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for _ in v {
        seq.serialize_element("***")?;
    }
    seq.end()
}

fn mask_opt<S: serde::Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("***"),
        None => s.serialize_none(),
    }
}

impl Settings {
    /// Loads `path`, applies the `env` section and `TESSERA__*` variables
    /// from the process environment, then validates.
    pub fn load(path: &Path, env: Environment) -> Result<Settings, ConfigError> {
        Self::load_with_env(path, env, std::env::vars())
    }

    /// As [`Settings::load`], with the environment variables given.
    pub fn load_with_env(
        path: &Path,
        env: Environment,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml_with_env(&text, env, vars)
    }

    /// Builds settings from YAML text (used by tests and `load`).
    pub fn from_yaml_with_env(
        yaml: &str,
        env: Environment,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let base = Figment::from(Yaml::string(yaml));
        let section = base.focus(&format!("environments.{}", env.as_str()));
        let overrides: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        let figment = Figment::new()
            .merge(base)
            .merge(section)
            .merge(EnvSnapshot { vars: overrides });
        let mut settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Parse(describe_figment_error(e)))?;
        settings.environments = None;
        settings.env = env;
        settings.validate()?;
        Ok(settings)
    }

    /// Cross-field rules; each error names the key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server
            .listen
            .parse::<SocketAddr>()
            .map_err(|e| ConfigError::invalid("server.listen", e.to_string()))?;
        if self.server.body_limit_bytes < 256 {
            return Err(ConfigError::invalid(
                "server.body_limit_bytes",
                "must be at least 256",
            ));
        }
        let issuer = self.issuer.trim();
        if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
            return Err(ConfigError::invalid(
                "issuer",
                "must be an http(s) URL such as https://auth.example.com",
            ));
        }
        if self.redis.key_prefix.contains(['{', '}']) {
            return Err(ConfigError::invalid(
                "redis.key_prefix",
                "must not contain `{` or `}` (they delimit the per-user hash tag)",
            ));
        }
        if self.redis.timeout_ms == 0 {
            return Err(ConfigError::invalid("redis.timeout_ms", "must be above 0"));
        }
        if self.redis.mode != RedisMode::Standalone {
            self.validate_scale_out()?;
        } else if let Some(key) = self.scale_out_key_in_standalone() {
            return Err(ConfigError::invalid(
                key,
                "is only for redis.mode `cluster` or `sentinel`",
            ));
        }
        match &self.redis.url {
            Some(_) if self.redis.mode != RedisMode::Standalone => {
                return Err(ConfigError::invalid(
                    "redis.url",
                    "is for redis.mode `standalone`; list cluster nodes or sentinels in redis.urls",
                ));
            }
            None if self.redis.mode != RedisMode::Standalone => {}
            Some(url) => {
                let url = url.expose_secret();
                if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                    return Err(ConfigError::invalid(
                        "redis.url",
                        "must start with redis:// or rediss://",
                    ));
                }
            }
            None if self.env == Environment::Prod => {
                return Err(ConfigError::invalid(
                    "redis.url",
                    "is required in prod (the in-memory store is for dev only)",
                ));
            }
            None => {}
        }
        if self.redis.wait_replicas > 0 && !self.uses_redis() {
            return Err(ConfigError::invalid(
                "redis.wait_replicas",
                "needs Redis (redis.url, or redis.urls with redis.mode)",
            ));
        }
        let t = &self.tokens;
        if t.access_ttl_secs == 0 || t.access_ttl_secs > 24 * 3600 {
            return Err(ConfigError::invalid(
                "tokens.access_ttl_secs",
                "must be between 1 and 86400",
            ));
        }
        if t.refresh_ttl_secs < t.access_ttl_secs {
            return Err(ConfigError::invalid(
                "tokens.refresh_ttl_secs",
                "must not be shorter than tokens.access_ttl_secs",
            ));
        }
        if t.leeway_secs > 300 {
            return Err(ConfigError::invalid(
                "tokens.leeway_secs",
                "must be at most 300",
            ));
        }
        if t.max_sessions_per_user == 0 {
            return Err(ConfigError::invalid(
                "tokens.max_sessions_per_user",
                "must be above 0",
            ));
        }
        self.validate_keys()?;
        self.validate_rate_limit()?;
        self.validate_clients()
    }

    fn validate_rate_limit(&self) -> Result<(), ConfigError> {
        let r = &self.rate_limit;
        for (key, value) in [
            ("rate_limit.per_client_per_sec", r.per_client_per_sec),
            ("rate_limit.per_client_burst", r.per_client_burst),
            ("rate_limit.per_ip_per_sec", r.per_ip_per_sec),
            ("rate_limit.per_ip_burst", r.per_ip_burst),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(
                    key,
                    "must be above 0 (set rate_limit.enabled: false to turn limits off)",
                ));
            }
        }
        Ok(())
    }

    /// A scale-out key set while `redis.mode` is `standalone`.
    fn scale_out_key_in_standalone(&self) -> Option<&'static str> {
        if !self.redis.urls.is_empty() {
            Some("redis.urls")
        } else if self.redis.master_name.is_some() {
            Some("redis.master_name")
        } else {
            None
        }
    }

    /// Rules of `redis.mode: cluster | sentinel`.
    fn validate_scale_out(&self) -> Result<(), ConfigError> {
        let r = &self.redis;
        if r.urls.is_empty() {
            return Err(ConfigError::invalid(
                "redis.urls",
                "must list at least one node (cluster seeds or sentinels) when redis.mode is not standalone",
            ));
        }
        for (i, url) in r.urls.iter().enumerate() {
            let url = url.expose_secret();
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(ConfigError::invalid(
                    format!("redis.urls[{i}]"),
                    "must start with redis:// or rediss://",
                ));
            }
        }
        match (r.mode, &r.master_name) {
            (RedisMode::Sentinel, None) => Err(ConfigError::invalid(
                "redis.master_name",
                "is required when redis.mode is sentinel",
            )),
            (RedisMode::Sentinel, Some(name)) if name.trim().is_empty() => Err(
                ConfigError::invalid("redis.master_name", "must not be empty"),
            ),
            (RedisMode::Cluster, Some(_)) => Err(ConfigError::invalid(
                "redis.master_name",
                "is only for redis.mode sentinel",
            )),
            _ => Ok(()),
        }
    }

    fn validate_keys(&self) -> Result<(), ConfigError> {
        if self.keys.is_empty() {
            if self.env == Environment::Prod {
                return Err(ConfigError::invalid(
                    "keys",
                    "prod needs at least one signing key (make one with `tessera keygen`)",
                ));
            }
            return Ok(());
        }
        let active = self
            .keys
            .iter()
            .filter(|k| k.status == KeyStatus::Active)
            .count();
        if active != 1 {
            return Err(ConfigError::invalid(
                "keys",
                format!("exactly one key must have status `active`, found {active}"),
            ));
        }
        for (i, key) in self.keys.iter().enumerate() {
            crate::domain::Kid::parse(&key.kid)
                .map_err(|e| ConfigError::invalid(format!("keys[{i}].kid"), e.to_string()))?;
            if self.keys[..i].iter().any(|k| k.kid == key.kid) {
                return Err(ConfigError::invalid(
                    format!("keys[{i}].kid"),
                    format!("`{}` is used twice", key.kid),
                ));
            }
        }
        Ok(())
    }

    fn validate_clients(&self) -> Result<(), ConfigError> {
        for (i, client) in self.clients.iter().enumerate() {
            let key = |field: &str| format!("clients[{i}].{field}");
            crate::domain::ClientId::parse(&client.id)
                .map_err(|e| ConfigError::invalid(key("id"), e.to_string()))?;
            if self.clients[..i].iter().any(|c| c.id == client.id) {
                return Err(ConfigError::invalid(
                    key("id"),
                    format!("`{}` is declared twice", client.id),
                ));
            }
            crate::auth::check_phc(client.secret_hash.expose_secret())
                .map_err(|reason| ConfigError::invalid(key("secret_hash"), reason))?;
            if let Some(max) = client.max_ttl_secs
                && (max == 0 || max > 24 * 3600)
            {
                return Err(ConfigError::invalid(
                    key("max_ttl_secs"),
                    "must be between 1 and 86400",
                ));
            }
            if let Some(ttl) = client.refresh_ttl_secs
                && ttl == 0
            {
                return Err(ConfigError::invalid(
                    key("refresh_ttl_secs"),
                    "must be above 0",
                ));
            }
            for (j, aud) in client.audiences.iter().enumerate() {
                crate::domain::Audience::parse(aud).map_err(|e| {
                    ConfigError::invalid(format!("clients[{i}].audiences[{j}]"), e.to_string())
                })?;
            }
            crate::domain::Scope::parse(&client.scopes.join(" "))
                .map_err(|e| ConfigError::invalid(key("scopes"), e.to_string()))?;
        }
        Ok(())
    }

    /// The configuration with every secret replaced by `***`, as YAML-ish JSON.
    pub fn masked_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("<unprintable: {e}>"))
    }

    /// Whether Redis is configured in any mode (else the memory store).
    pub fn uses_redis(&self) -> bool {
        self.redis.url.is_some() || self.redis.mode != RedisMode::Standalone
    }

    /// The cluster seeds or sentinels (`redis.urls`).
    pub fn redis_urls(&self) -> Vec<String> {
        self.redis
            .urls
            .iter()
            .map(|u| u.expose_secret().to_owned())
            .collect()
    }

    /// The Redis URL, if one is configured.
    pub fn redis_url(&self) -> Option<&str> {
        self.redis.url.as_ref().map(|u| u.expose_secret())
    }
}

/// figment's message names the key and the source (file or variable).
fn describe_figment_error(e: figment::Error) -> String {
    let mut parts = Vec::new();
    for err in e {
        let path = err.path.join(".");
        let source = err
            .metadata
            .as_ref()
            .map(|m| m.name.to_string())
            .unwrap_or_default();
        let mut msg = if path.is_empty() {
            err.kind.to_string()
        } else {
            format!("invalid value for `{path}`: {}", err.kind)
        };
        if !source.is_empty() {
            msg.push_str(&format!(" (from {source})"));
        }
        parts.push(msg);
    }
    parts.join("; ")
}

/// A provider over a fixed list of variables, so tests can pass
/// their own environment instead of mutating the process's.
struct EnvSnapshot {
    vars: Vec<(String, String)>,
}

impl figment::Provider for EnvSnapshot {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("TESSERA__ environment variables")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        use figment::value::{Dict, Map, Value};
        let mut dict = Dict::new();
        for (key, raw) in &self.vars {
            let Some(rest) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            if path.iter().any(String::is_empty) {
                return Err(figment::Error::from(format!(
                    "environment variable `{key}` has an empty key segment"
                )));
            }
            let value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw.clone()));
            insert_path(&mut dict, &path, value);
        }
        let mut map = Map::new();
        map.insert(figment::Profile::Default, dict);
        Ok(map)
    }
}

fn insert_path(dict: &mut figment::value::Dict, path: &[String], value: figment::value::Value) {
    use figment::value::{Dict, Value};
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [head, rest @ ..] => {
            let entry = dict
                .entry(head.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = entry {
                insert_path(inner, rest, value);
            } else {
                let mut inner = Dict::new();
                insert_path(&mut inner, rest, value);
                *entry = Value::from(inner);
            }
        }
    }
}
