//! How an environment section meets the base: figment merges maps key by
//! key but replaces a list wholesale. A section that names a list the base
//! fills (`clients`, `keys`, `redis.urls`, ...) therefore drops the base's
//! entries; such replacements are reported, naming the key, so that
//! `check-config` and start-up warn instead of losing clients silently.

use serde_json::Value;

/// One warning per list in `section` (the `environments.<env>` section)
/// that replaces a non-empty list of `base`.
pub(super) fn replaced_base_lists(base: &Value, section: &Value, env: &str) -> Vec<String> {
    let mut out = Vec::new();
    walk(base, section, "", env, &mut out);
    out
}

fn walk(base: &Value, section: &Value, path: &str, env: &str, out: &mut Vec<String>) {
    match (base, section) {
        (Value::Object(base), Value::Object(section)) => {
            for (key, inner) in section {
                if let Some(base_inner) = base.get(key) {
                    let path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(base_inner, inner, &path, env, out);
                }
            }
        }
        (Value::Array(base), Value::Array(section)) if !base.is_empty() => {
            out.push(format!(
                "`environments.{env}.{path}` replaces the base `{path}` list ({} entries) with {} \
                 entries: lists are not merged, the base entries are dropped in {env}; \
                 list them in the section too, or remove the section's key",
                base.len(),
                section.len(),
            ));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Environment, Settings};
    use crate::domain::SecretHash;

    fn load(yaml: &str, env: Environment, vars: &[(&str, &str)]) -> Settings {
        let vars = vars
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()));
        Settings::from_yaml_with_env(yaml, env, vars).expect("the config loads")
    }

    const PROD_VARS: &[(&str, &str)] = &[
        ("TESSERA__ISSUER", "https://auth.example.com"),
        ("TESSERA__REDIS__URL", "redis://redis:6379"),
    ];

    fn client(id: &str) -> String {
        let hash = SecretHash::generate("a-long-enough-client-secret").expect("hash");
        format!(
            "{{ id: \"{id}\", secret_hash: \"{}\", grants: [issue, revoke] }}",
            hash.expose()
        )
    }

    const KEY: &str = "  - { kid: \"2026-11\", path: \"/nonexistent.pem\", status: active }\n";

    #[test]
    fn the_shipped_config_with_a_base_client_keeps_it_in_prod() {
        let shipped = include_str!("../../config.yaml");
        assert_eq!(shipped.matches("\nclients: []\n").count(), 1);
        assert_eq!(shipped.matches("\nkeys: []\n").count(), 1);
        let text = shipped
            .replace(
                "\nclients: []\n",
                &format!("\nclients:\n  - {}\n", client("login-service")),
            )
            .replace("\nkeys: []\n", &format!("\nkeys:\n{KEY}"));
        let prod = load(&text, Environment::Prod, PROD_VARS);
        let ids: Vec<&str> = prod.clients.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["login-service"], "prod lost the base clients");
        assert_eq!(prod.keys.len(), 1, "prod lost the base keys");
        assert!(prod.warnings.is_empty(), "{:?}", prod.warnings);
        let dev = load(&text, Environment::Dev, &[]);
        assert_eq!(dev.clients.len(), 1, "dev lost the base clients");
        assert!(dev.warnings.is_empty(), "{:?}", dev.warnings);
    }

    #[test]
    fn a_section_that_lists_clients_replaces_the_base_list_and_is_warned_about() {
        let yaml = format!(
            "issuer: \"https://auth.example.com\"\nredis: {{ url: \"redis://r:6379\" }}\n\
             keys:\n{KEY}clients:\n  - {}\n  - {}\nenvironments:\n  prod:\n    clients:\n      - {}\n",
            client("login-service"),
            client("api-gateway"),
            client("prod-only"),
        );
        let prod = load(&yaml, Environment::Prod, &[]);
        let ids: Vec<&str> = prod.clients.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            ["prod-only"],
            "a section's list replaces the base list"
        );
        assert_eq!(prod.warnings.len(), 1, "{:?}", prod.warnings);
        let warning = &prod.warnings[0];
        assert!(
            warning.contains("`environments.prod.clients`") && warning.contains("(2 entries)"),
            "{warning}"
        );
        let dev = load(&yaml, Environment::Dev, &[]);
        assert_eq!(dev.clients.len(), 2, "dev has no section: the base list");
        assert!(dev.warnings.is_empty(), "{:?}", dev.warnings);
    }

    #[test]
    fn an_empty_section_list_over_a_filled_base_list_is_warned_about() {
        let yaml = format!(
            "issuer: \"http://127.0.0.1:8080\"\nclients:\n  - {}\n\
             rate_limit: {{ trusted_proxies: [\"10.0.0.0/8\"] }}\n\
             environments:\n  dev:\n    clients: []\n    rate_limit: {{ trusted_proxies: [] }}\n",
            client("login-service"),
        );
        let dev = load(&yaml, Environment::Dev, &[]);
        assert!(dev.clients.is_empty());
        let keys: Vec<bool> = [
            "`environments.dev.clients`",
            "`environments.dev.rate_limit.trusted_proxies`",
        ]
        .iter()
        .map(|k| dev.warnings.iter().any(|w| w.contains(k)))
        .collect();
        assert_eq!(keys, [true, true], "{:?}", dev.warnings);
    }
}
