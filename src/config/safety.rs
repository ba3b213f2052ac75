//! Safe defaults. What prod refuses (the published demo client, a plain-HTTP
//! or loopback issuer, client hashes below the Argon2 floor), and the rule
//! for a process started without `TESSERA_ENV`: dev, which is only for
//! loopback.

use std::net::{IpAddr, SocketAddr};

use super::{ConfigError, Environment, Settings};
use crate::domain::ARGON2_FLOOR;

/// The demo client of `config.dev.yaml`, whose secret is published in the
/// README: refused in prod by id and by hash.
pub const DEMO_CLIENT_ID: &str = "demo-app";
/// The demo client's `secret_hash` (secret `demo-secret-not-for-production`).
pub const DEMO_SECRET_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$VtR7Sz/I3p4aH0PiNHmOrQ$5ZwSzcdV+vVTmSURYW0RWv+32B04w7Sx+kye+ILDkGI";

impl Settings {
    /// The prod-only refusals; each error names its key.
    pub(super) fn validate_prod_safety(&self) -> Result<(), ConfigError> {
        if self.env != Environment::Prod {
            return Ok(());
        }
        let issuer = self.issuer.trim();
        let Some(rest) = issuer.strip_prefix("https://") else {
            return Err(ConfigError::invalid(
                "issuer",
                "must be an https:// URL in prod (tokens name it; clients fetch its metadata)",
            ));
        };
        if is_loopback_host(url_host(rest)) {
            return Err(ConfigError::invalid(
                "issuer",
                "must be the public URL in prod, not localhost or a loopback address",
            ));
        }
        for (i, client) in self.clients.iter().enumerate() {
            if client.id.as_str() == DEMO_CLIENT_ID {
                return Err(ConfigError::invalid(
                    format!("clients[{i}].id"),
                    format!(
                        "`{DEMO_CLIENT_ID}` is the dev demo client, whose secret is published; it is refused in prod"
                    ),
                ));
            }
            let key = format!("clients[{i}].secret_hash");
            if client.secret_hash.expose() == DEMO_SECRET_HASH {
                return Err(ConfigError::invalid(
                    key,
                    "is the dev demo client's hash, whose secret is published; it is refused in prod",
                ));
            }
            let cost = client
                .secret_hash
                .cost()
                .map_err(|e| ConfigError::invalid(&key, e.to_string()))?;
            if !cost.meets(&ARGON2_FLOOR) {
                return Err(ConfigError::invalid(
                    key,
                    format!(
                        "Argon2id cost {cost} is below the floor {ARGON2_FLOOR} (OWASP's minimum); make a new hash with `tessera hash-secret`"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// For a process started without `TESSERA_ENV`: dev (the default) may
    /// only listen on loopback. Exposing dev — its in-memory store, its
    /// generated key, whatever clients its file declares — takes an
    /// explicit `TESSERA_ENV=dev`; a served deployment takes `prod`.
    pub fn refuse_implicit_dev_exposure(&self) -> Result<(), ConfigError> {
        let admin = self.server.admin_listen.as_deref();
        let addresses = [
            ("server.listen", Some(self.server.listen.as_str())),
            ("server.admin_listen", admin),
        ];
        for (key, addr) in addresses {
            let Some(addr) = addr else { continue };
            let addr: SocketAddr = addr
                .parse()
                .map_err(|e: std::net::AddrParseError| ConfigError::invalid(key, e.to_string()))?;
            if !addr.ip().is_loopback() {
                return Err(ConfigError::invalid(
                    key,
                    format!(
                        "`{addr}` is not a loopback address and TESSERA_ENV is not set: without it Tessera runs in dev (in-memory store, generated key), which listens on loopback only. Set TESSERA_ENV=prod for a deployment, or TESSERA_ENV=dev to expose dev on purpose"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The host of a URL's remainder after `scheme://`.
fn url_host(rest: &str) -> &str {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    host_port.split(':').next().unwrap_or_default()
}

/// `localhost` (and its subdomains), 127.0.0.0/8, ::1, their IPv4-mapped
/// forms, and the unspecified addresses.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.is_loopback() || v4.is_unspecified(),
            None => v6.is_loopback() || v6.is_unspecified(),
        },
        Ok(ip) => ip.is_loopback() || ip.is_unspecified(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRONG: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQxMjM0NTY$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";
    const WEAK_M: &str =
        "$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHQxMjM0NTY$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";
    const WEAK_T: &str =
        "$argon2id$v=19$m=19456,t=1,p=1$c29tZXNhbHQxMjM0NTY$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";

    /// A prod config that passes, with `issuer` and one client `id`/`hash`.
    fn prod(issuer: &str, id: &str, hash: &str) -> Result<Settings, ConfigError> {
        let yaml = format!(
            r#"
issuer: "{issuer}"
redis: {{ url: "redis://redis:6379" }}
keys: [{{ kid: k, path: /nonexistent.pem, status: active }}]
clients:
  - {{ id: "{id}", secret_hash: "{hash}", grants: [issue] }}
"#
        );
        Settings::from_yaml_with_env(&yaml, Environment::Prod, std::iter::empty())
    }

    fn refused(r: Result<Settings, ConfigError>, key: &str, words: &str) {
        match r {
            Ok(_) => panic!("accepted; expected a refusal naming {key}"),
            Err(e) => {
                let text = e.to_string();
                assert!(text.contains(&format!("`{key}`")), "{text}");
                assert!(text.contains(words), "{text}");
            }
        }
    }

    #[test]
    fn a_sound_prod_config_passes() {
        prod("https://auth.example.com", "login", STRONG).unwrap();
        prod("https://auth.example.com:8443/tessera", "login", STRONG).unwrap();
    }

    #[test]
    fn prod_refuses_a_plain_http_issuer() {
        refused(
            prod("http://auth.example.com", "login", STRONG),
            "issuer",
            "https://",
        );
    }

    #[test]
    fn prod_refuses_a_loopback_issuer() {
        for issuer in [
            "https://localhost",
            "https://LOCALHOST:8443/x",
            "https://api.localhost",
            "https://127.0.0.1:8080",
            "https://127.8.9.10",
            "https://[::1]:8080",
            "https://[::ffff:127.0.0.1]",
            "https://0.0.0.0",
            "https://user@localhost/",
        ] {
            refused(prod(issuer, "login", STRONG), "issuer", "loopback");
        }
    }

    #[test]
    fn prod_refuses_the_demo_client_by_id_and_by_hash() {
        refused(
            prod("https://auth.example.com", DEMO_CLIENT_ID, STRONG),
            "clients[0].id",
            "demo",
        );
        refused(
            prod("https://auth.example.com", "renamed", DEMO_SECRET_HASH),
            "clients[0].secret_hash",
            "demo",
        );
    }

    #[test]
    fn prod_refuses_argon2_below_the_floor() {
        refused(
            prod("https://auth.example.com", "login", WEAK_M),
            "clients[0].secret_hash",
            "m=19456,t=2,p=1",
        );
        refused(
            prod("https://auth.example.com", "login", WEAK_T),
            "clients[0].secret_hash",
            "below the floor",
        );
    }

    #[test]
    fn dev_keeps_accepting_what_prod_refuses() {
        let yaml = format!(
            r#"
issuer: "http://127.0.0.1:8080"
clients:
  - {{ id: "{DEMO_CLIENT_ID}", secret_hash: "{WEAK_M}", grants: [issue] }}
"#
        );
        Settings::from_yaml_with_env(&yaml, Environment::Dev, std::iter::empty()).unwrap();
    }

    #[test]
    fn without_tessera_env_only_loopback_listen_addresses_are_allowed() {
        let at = |listen: &str| {
            let yaml =
                format!("issuer: \"http://127.0.0.1:8080\"\nserver: {{ listen: \"{listen}\" }}\n");
            Settings::from_yaml_with_env(&yaml, Environment::Dev, std::iter::empty())
                .unwrap()
                .refuse_implicit_dev_exposure()
        };
        at("127.0.0.1:8080").unwrap();
        at("127.0.0.2:0").unwrap();
        at("[::1]:8080").unwrap();
        for exposed in ["0.0.0.0:8080", "[::]:8080", "10.1.2.3:8080"] {
            let err = at(exposed).unwrap_err().to_string();
            assert!(err.contains("`server.listen`"), "{err}");
            assert!(err.contains("TESSERA_ENV is not set"), "{err}");
            assert!(err.contains("loopback"), "{err}");
        }
    }
}
