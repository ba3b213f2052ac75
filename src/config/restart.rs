//! Which settings a configuration reload (SIGHUP) applies to a running
//! process, and which need a restart. The reloadable ones are listed; any
//! other key (the listen address, workers, Redis, logging, the hashing
//! threads, the feed, every key added later until it is made reloadable)
//! keeps its running value, and a reload that changes it names it.

use serde_json::Value;

use super::Settings;

/// Keys (and whole sections) a reload applies; docs/deploy.md lists them.
pub const RELOADABLE: &[&str] = &[
    "issuer",
    "tokens",
    "keys",
    "clients",
    "rate_limit",
    "verify.require_client_auth",
    "verify.require_audience",
    "verify.headers",
    "verify.cache_entries",
    "verify.dpop_iat_window_secs",
];

/// Whether `path` is one of [`RELOADABLE`] or inside one.
fn reloadable(path: &str) -> bool {
    RELOADABLE.iter().any(|r| {
        path.strip_prefix(r)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })
}

/// Every leaf of `value` as `a.b.c` (lists are leaves).
fn leaves(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&path, v, out);
            }
        }
        other => out.push((prefix.to_owned(), other.clone())),
    }
}

fn flat(settings: &Settings) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    if let Ok(value) = serde_json::to_value(settings) {
        leaves("", &value, &mut out);
    }
    out
}

impl Settings {
    /// The keys that differ between the running settings (`self`) and
    /// `new` but need a restart: names only, sorted, never a value. Secrets
    /// (serialised as `***`) are compared by value.
    pub fn restart_only_changes(&self, new: &Settings) -> Vec<String> {
        let (old, new_flat) = (flat(self), flat(new));
        let value_of = |list: &[(String, Value)], key: &str| {
            list.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        };
        let mut keys: Vec<String> = old
            .iter()
            .chain(new_flat.iter())
            .map(|(k, _)| k.clone())
            .filter(|k| !reloadable(k))
            .filter(|k| value_of(&old, k) != value_of(&new_flat, k))
            .collect();
        let (a, b) = (&self.redis, &new.redis);
        let secrets = [
            ("redis.url", a.url_exposed() != b.url_exposed()),
            ("redis.urls", a.urls_exposed() != b.urls_exposed()),
            (
                "redis.password",
                a.password
                    .as_ref()
                    .map(secrecy::ExposeSecret::expose_secret)
                    != b.password
                        .as_ref()
                        .map(secrecy::ExposeSecret::expose_secret),
            ),
        ];
        keys.extend(
            secrets
                .into_iter()
                .filter(|(_, changed)| *changed)
                .map(|(k, _)| k.to_owned()),
        );
        keys.sort();
        keys.dedup();
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Environment;

    fn load(yaml: &str, vars: &[(&str, &str)]) -> Settings {
        let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::from_yaml_with_env(yaml, Environment::Dev, vars).unwrap()
    }

    const BASE: &str = r#"
issuer: "http://a.test"
server: { listen: "127.0.0.1:8080" }
redis: { url: "redis://:pw-one@127.0.0.1:6390" }
"#;

    #[test]
    fn reloadable_keys_are_not_named_and_restart_only_ones_are() {
        let running = load(BASE, &[]);
        let edited = load(
            BASE,
            &[
                ("TESSERA__ISSUER", "http://b.test"),
                ("TESSERA__RATE_LIMIT__PER_IP_BURST", "7"),
                ("TESSERA__VERIFY__REQUIRE_AUDIENCE", "true"),
                ("TESSERA__SERVER__LISTEN", "127.0.0.1:9090"),
                ("TESSERA__SERVER__WORKERS", "3"),
                ("TESSERA__VERIFY__FEED_HEARTBEAT_SECS", "9"),
            ],
        );
        assert_eq!(
            running.restart_only_changes(&edited),
            [
                "server.listen",
                "server.workers",
                "verify.feed_heartbeat_secs"
            ]
        );
        assert!(running.restart_only_changes(&running.clone()).is_empty());
    }

    #[test]
    fn a_changed_redis_password_is_named_but_never_shown() {
        let running = load(BASE, &[]);
        let edited = load(
            BASE,
            &[("TESSERA__REDIS__URL", "redis://:pw-two@127.0.0.1:6390")],
        );
        let changes = running.restart_only_changes(&edited);
        assert_eq!(changes, ["redis.url"]);
        assert!(!changes.concat().contains("pw-"));
    }
}
