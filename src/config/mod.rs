//! Typed settings: `config.yaml` base keys, then the selected environment's
//! section (`environments.<env>`), then `TESSERA__SECTION__KEY` variables.
//! One [`Settings::validate`] holds every cross-field rule; `check-config`
//! runs exactly [`Settings::load`].

use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::Format;
use serde::{Deserialize, Serialize};
use serde_saphyr::figment::Yaml;

mod clients;
mod dpop_nonce;
mod env;
mod layers;
mod mask;
mod redis_access;
mod restart;
mod safety;
mod sections;
mod validate;

pub use clients::{ClientRate, ClientSettings};
pub use dpop_nonce::{DpopNonceSettings, NonceMode};
pub use mask::mask_url_passwords;
pub use restart::RELOADABLE;
pub use safety::{DEMO_CLIENT_ID, DEMO_SECRET_HASH};
pub use sections::*;

use env::{EnvSnapshot, describe_figment_error};

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
            reason: mask_url_passwords(&reason.into()),
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
    #[serde(default)]
    pub client_auth: ClientAuthSettings,
    /// Per-environment overrides; consumed by [`Settings::load`].
    #[serde(default, skip_serializing)]
    pub environments: Option<serde_json::Value>,
    /// The environment these settings were loaded for (not a file key).
    #[serde(skip_deserializing, default = "default_env")]
    pub env: Environment,
    /// Warnings for the operator (not a file key): each environment-section
    /// list that replaced a non-empty base list, named.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

fn default_env() -> Environment {
    Environment::Dev
}

/// [`layers::replaced_base_lists`] of two figment layers (an unreadable
/// layer warns of nothing: extracting `Settings` reports it).
fn replaced_base_lists(base: &Figment, section: &Figment, env: Environment) -> Vec<String> {
    match (
        base.extract::<serde_json::Value>(),
        section.extract::<serde_json::Value>(),
    ) {
        (Ok(base), Ok(section)) => layers::replaced_base_lists(&base, &section, env.as_str()),
        _ => Vec::new(),
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
        let warnings = replaced_base_lists(&base, &section, env);
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
            .map_err(|e| ConfigError::Parse(mask_url_passwords(&describe_figment_error(e))))?;
        settings.environments = None;
        settings.env = env;
        settings.warnings = warnings;
        settings.validate()?;
        Ok(settings)
    }

    /// The configuration with every secret replaced by `***`, as YAML-ish JSON.
    pub fn masked_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("<unprintable: {e}>"))
    }

    /// The Redis URL, if one is configured.
    pub fn redis_url(&self) -> Option<&str> {
        self.redis.url_exposed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
issuer: "http://base.test"
tokens: { access_ttl_secs: 900 }
redis: { key_prefix: "base:" }
environments:
  dev:
    tokens: { access_ttl_secs: 60 }
  prod:
    issuer: "https://auth.example.com"
    redis: { url: "redis://redis:6379" }
"#;

    fn load(yaml: &str, env: Environment, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::from_yaml_with_env(yaml, env, vars)
    }

    fn error_text(r: Result<Settings, ConfigError>) -> String {
        match r {
            Ok(_) => panic!("the config was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_environment_section_overrides_the_base() {
        let dev = load(BASE, Environment::Dev, &[]).unwrap();
        assert_eq!(dev.tokens.access_ttl_secs, 60);
        assert_eq!(dev.issuer, "http://base.test");
        assert_eq!(
            dev.redis.key_prefix, "base:",
            "untouched keys keep the base value"
        );
        assert_eq!(dev.redis_url(), None);
        // prod needs keys; give it one path so only the layering is tested.
        let prod = load(
            &format!("{BASE}\nkeys: [{{ kid: k, path: /nonexistent.pem, status: active }}]\n"),
            Environment::Prod,
            &[],
        )
        .unwrap();
        assert_eq!(prod.issuer, "https://auth.example.com");
        assert_eq!(prod.tokens.access_ttl_secs, 900);
        assert_eq!(prod.redis_url(), Some("redis://redis:6379"));
        assert_eq!(prod.redis.key_prefix, "base:", "sections merge key by key");
    }

    #[test]
    fn variables_override_any_key_last() {
        let s = load(
            BASE,
            Environment::Dev,
            &[
                ("TESSERA__TOKENS__ACCESS_TTL_SECS", "120"),
                ("TESSERA__SERVER__LISTEN", "0.0.0.0:9000"),
                ("TESSERA__redis__url", "redis://10.0.0.5:6379"),
                ("TESSERA_ENV", "ignored: not an override"),
            ],
        )
        .unwrap();
        assert_eq!(s.tokens.access_ttl_secs, 120);
        assert_eq!(s.server.listen, "0.0.0.0:9000");
        assert_eq!(s.redis_url(), Some("redis://10.0.0.5:6379"));
    }

    #[test]
    fn unknown_keys_are_errors_that_name_them() {
        let err = error_text(load(
            &format!("{BASE}\nverfy: {{}}\n"),
            Environment::Dev,
            &[],
        ));
        assert!(err.contains("verfy"), "{err}");
        let err = error_text(load(
            BASE,
            Environment::Dev,
            &[("TESSERA__REDIS__ULR", "x")],
        ));
        assert!(err.contains("ulr"), "{err}");
    }

    #[test]
    fn cross_field_rules_name_the_bad_key() {
        // (what, environment, variables, the key the error must name)
        type Case<'a> = (&'a str, Environment, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            (
                "prod without redis",
                Environment::Prod,
                &[("TESSERA__REDIS__URL", "")],
                "redis.url",
            ),
            ("prod without keys", Environment::Prod, &[], "keys"),
            (
                "bad listen address",
                Environment::Dev,
                &[("TESSERA__SERVER__LISTEN", "nowhere")],
                "server.listen",
            ),
            (
                "issuer not a URL",
                Environment::Dev,
                &[("TESSERA__ISSUER", "tessera")],
                "issuer",
            ),
            (
                "zero access ttl",
                Environment::Dev,
                &[("TESSERA__TOKENS__ACCESS_TTL_SECS", "0")],
                "tokens.access_ttl_secs",
            ),
            (
                "braces in the prefix",
                Environment::Dev,
                &[("TESSERA__REDIS__KEY_PREFIX", "a{b}")],
                "redis.key_prefix",
            ),
        ];
        for (what, env, vars, key) in cases {
            let err = error_text(load(BASE, *env, vars));
            assert!(err.contains(key), "{what}: {err}");
        }
    }

    #[test]
    fn unknown_environment_names_are_refused() {
        assert!(Environment::parse("staging").is_err());
        assert_eq!(Environment::parse("PROD").unwrap(), Environment::Prod);
    }

    #[test]
    fn the_shipped_config_declares_no_client_and_refuses_prod_as_shipped() {
        let text = include_str!("../../config.yaml");
        let dev = load(text, Environment::Dev, &[]).unwrap();
        assert!(dev.clients.is_empty(), "config.yaml declares a client");
        assert!(!text.contains(DEMO_CLIENT_ID) && !text.contains(DEMO_SECRET_HASH));
        let err = error_text(load(text, Environment::Prod, &[]));
        assert!(err.contains("`issuer`"), "{err}");
        let https = [("TESSERA__ISSUER", "https://auth.example.com")];
        let err = error_text(load(text, Environment::Prod, &https));
        assert!(err.contains("redis.url"), "{err}");
    }

    #[test]
    fn config_errors_never_echo_a_redis_password() {
        let cases: &[(&str, &str, &str)] = &[
            // A list given as one string: the parse error quotes the value.
            (
                "TESSERA__REDIS__URLS",
                "redis://user:hunter2-pw@db:6379",
                "redis.urls",
            ),
            // A bad scheme: the rule's text never quotes it, masked anyway.
            (
                "TESSERA__REDIS__URL",
                "http://user:hunter2-pw@db:6379",
                "redis.url",
            ),
        ];
        for (var, value, key) in cases {
            let err = error_text(load(BASE, Environment::Dev, &[(var, value)]));
            assert!(err.contains(key), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn the_dev_file_loads_in_dev_and_its_demo_client_is_refused_in_prod() {
        let text = include_str!("../../config.dev.yaml");
        let dev = load(text, Environment::Dev, &[]).unwrap();
        let demo = dev.clients.iter().find(|c| c.id.as_str() == DEMO_CLIENT_ID);
        let demo = demo.expect("config.dev.yaml declares the demo client");
        assert_eq!(demo.secret_hash.expose(), DEMO_SECRET_HASH);
        assert!(!demo.grants.contains(&crate::domain::Grant::Admin));
        dev.refuse_implicit_dev_exposure()
            .expect("the dev file listens on loopback");
        let vars = [
            ("TESSERA__ISSUER", "https://auth.example.com"),
            ("TESSERA__REDIS__URL", "redis://redis:6379"),
        ];
        let err = error_text(load(text, Environment::Prod, &vars));
        assert!(err.contains("`clients[0].id`"), "{err}");
        assert!(err.contains("demo"), "{err}");
    }
}
