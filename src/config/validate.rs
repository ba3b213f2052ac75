//! `Settings::validate`: every cross-field rule, each error naming its key.

use std::net::SocketAddr;

use secrecy::ExposeSecret;

use super::{ConfigError, Environment, RedisMode, Settings};
use crate::domain::{DpopMode, KeyStatus, Kid};

impl Settings {
    /// Cross-field rules; each error names the key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let listen = self
            .server
            .listen
            .parse::<SocketAddr>()
            .map_err(|e| ConfigError::invalid("server.listen", e.to_string()))?;
        self.validate_admin_listen(listen)?;
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
        self.validate_prod_safety()?;
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
        if self.redis.wait_replicas > 0 && !self.redis.is_configured() {
            return Err(ConfigError::invalid(
                "redis.wait_replicas",
                "needs Redis (redis.url, or redis.urls with redis.mode)",
            ));
        }
        self.redis.validate_access()?;
        self.validate_tokens()?;
        self.validate_keys()?;
        self.validate_verify()?;
        self.validate_rate_limit()?;
        self.validate_clients()
    }

    /// `server.admin_listen`: an address, and not one `server.listen`
    /// takes (same port on the same or an unspecified IP; port 0 picks a
    /// free port for each, so it never clashes).
    fn validate_admin_listen(&self, listen: SocketAddr) -> Result<(), ConfigError> {
        let Some(admin) = &self.server.admin_listen else {
            return Ok(());
        };
        let admin = admin
            .parse::<SocketAddr>()
            .map_err(|e| ConfigError::invalid("server.admin_listen", e.to_string()))?;
        let same_ip = admin.ip() == listen.ip()
            || admin.ip().is_unspecified()
            || listen.ip().is_unspecified();
        if admin.port() != 0 && admin.port() == listen.port() && same_ip {
            return Err(ConfigError::invalid(
                "server.admin_listen",
                format!(
                    "`{admin}` overlaps server.listen `{listen}`: give the admin listener its own port"
                ),
            ));
        }
        Ok(())
    }

    fn validate_tokens(&self) -> Result<(), ConfigError> {
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
        if t.refresh_grace_secs > 120 {
            return Err(ConfigError::invalid(
                "tokens.refresh_grace_secs",
                "must be at most 120 (a retry window, not a second life for old tokens)",
            ));
        }
        if t.refresh_grace_retries > 10 {
            return Err(ConfigError::invalid(
                "tokens.refresh_grace_retries",
                "must be at most 10",
            ));
        }
        if t.max_sessions_per_user == 0 {
            return Err(ConfigError::invalid(
                "tokens.max_sessions_per_user",
                "must be above 0",
            ));
        }
        Ok(())
    }

    fn validate_verify(&self) -> Result<(), ConfigError> {
        let v = &self.verify;
        if !(1..=60).contains(&v.feed_heartbeat_secs) {
            return Err(ConfigError::invalid(
                "verify.feed_heartbeat_secs",
                "must be between 1 and 60",
            ));
        }
        if v.feed_max_connection_secs == 0 {
            return Err(ConfigError::invalid(
                "verify.feed_max_connection_secs",
                "must be at least 1",
            ));
        }
        if !(1..=600).contains(&v.dpop_iat_window_secs) {
            return Err(ConfigError::invalid(
                "verify.dpop_iat_window_secs",
                "must be between 1 and 600",
            ));
        }
        v.dpop_nonce.validate()?;
        if !(1..=3600).contains(&v.failure_summary_secs) {
            return Err(ConfigError::invalid(
                "verify.failure_summary_secs",
                "must be between 1 and 3600",
            ));
        }
        let mut seen: Vec<String> = Vec::new();
        for (name, claim) in &v.headers {
            let key = format!("verify.headers.{name}");
            let lower = name.to_ascii_lowercase();
            if !is_header_token(&lower) {
                return Err(ConfigError::invalid(
                    key,
                    "is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)",
                ));
            }
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                return Err(ConfigError::invalid(
                    key,
                    "names a header the response sets itself or that frames it",
                ));
            }
            if seen.contains(&lower) {
                return Err(ConfigError::invalid(key, "is given twice (case differs)"));
            }
            if claim.trim().is_empty() {
                return Err(ConfigError::invalid(key, "must name a claim"));
            }
            seen.push(lower);
        }
        Ok(())
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
            Kid::parse(&key.kid)
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

    /// Ids, hashes, audiences and scopes were parsed with the file; what
    /// is left are the rules across clients and fields.
    fn validate_clients(&self) -> Result<(), ConfigError> {
        for (i, client) in self.clients.iter().enumerate() {
            let key = |field: &str| format!("clients[{i}].{field}");
            if self.clients[..i].iter().any(|c| c.id == client.id) {
                return Err(ConfigError::invalid(
                    key("id"),
                    format!("`{}` is declared twice", client.id),
                ));
            }
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
            if client.dpop == DpopMode::Off && !client.dpop_proof_urls.is_empty() {
                return Err(ConfigError::invalid(
                    key("dpop_proof_urls"),
                    "is set while `dpop` is `off` (set `dpop: allowed` or `required`)",
                ));
            }
        }
        Ok(())
    }
}

/// Headers `verify.headers` may not set: the response's own, and framing.
const RESERVED_HEADERS: &[&str] = &[
    "cache-control",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "dpop-nonce",
    "keep-alive",
    "retry-after",
    "set-cookie",
    "transfer-encoding",
    "upgrade",
    "www-authenticate",
    "x-request-id",
];

/// An RFC 9110 `token`: what a header name may be.
fn is_header_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
