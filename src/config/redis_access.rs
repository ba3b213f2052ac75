//! The rules of `redis.tls`, `redis.username`, `redis.password` and
//! `redis.password_file`: TLS only with `rediss://` URLs, both halves of a
//! client certificate, readable files, and one source for each credential.
//! Errors name the key and never echo a password or a file's content.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::ExposeSecret;

use super::{ConfigError, RedisMode, RedisSettings};

/// `(has user, has password)` in a URL's `user:password@` part.
pub(crate) fn url_userinfo(url: &str) -> (bool, bool) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    match authority.rsplit_once('@') {
        None => (false, false),
        Some((info, _)) => match info.split_once(':') {
            Some((user, pw)) => (!user.is_empty(), !pw.is_empty()),
            // `redis://secret@host`: redis-rs reads a lone part as the user.
            None => (!info.is_empty(), false),
        },
    }
}

fn readable(key: &str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path)
        .map_err(|e| ConfigError::invalid(key, format!("cannot read {}: {e}", path.display())))
}

impl RedisSettings {
    /// The URLs of the data nodes (or sentinels), passwords included.
    fn all_urls(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .url_exposed()
            .map(|u| ("redis.url".to_owned(), u.to_owned()))
            .into_iter()
            .collect();
        for (i, u) in self.urls_exposed().into_iter().enumerate() {
            out.push((format!("redis.urls[{i}]"), u));
        }
        out
    }

    /// Every rule of the TLS and credential keys.
    pub(crate) fn validate_access(&self) -> Result<(), ConfigError> {
        let set = self.username.is_some()
            || self.password.is_some()
            || self.password_file.is_some()
            || self.tls.is_some();
        if set && !self.is_configured() {
            return Err(ConfigError::invalid(
                "redis",
                "username, password, password_file and tls need Redis (redis.url, or redis.urls with redis.mode)",
            ));
        }
        self.validate_tls()?;
        self.validate_credentials()
    }

    fn validate_tls(&self) -> Result<(), ConfigError> {
        let urls = self.all_urls();
        let tls_urls = urls.iter().filter(|(_, u)| u.starts_with("rediss://"));
        if tls_urls.count() != 0 && urls.iter().any(|(_, u)| u.starts_with("redis://")) {
            return Err(ConfigError::invalid(
                "redis.urls",
                "mixes redis:// and rediss://; use TLS for every node or for none",
            ));
        }
        let Some(tls) = &self.tls else { return Ok(()) };
        if let Some((key, _)) = urls.iter().find(|(_, u)| u.starts_with("redis://")) {
            return Err(ConfigError::invalid(
                "redis.tls",
                format!(
                    "is set but {key} is a plain redis:// URL; use rediss:// (TLS) or remove redis.tls"
                ),
            ));
        }
        if let Some(ca) = &tls.ca_file {
            let pem = readable("redis.tls.ca_file", ca)?;
            let certs = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>();
            if !certs.is_ok_and(|c| !c.is_empty()) {
                return Err(ConfigError::invalid(
                    "redis.tls.ca_file",
                    format!("{} holds no PEM certificate", ca.display()),
                ));
            }
        }
        match (&tls.cert_file, &tls.key_file) {
            (Some(_), None) => Err(ConfigError::invalid(
                "redis.tls.key_file",
                "is required with redis.tls.cert_file (mutual TLS needs both)",
            )),
            (None, Some(_)) => Err(ConfigError::invalid(
                "redis.tls.cert_file",
                "is required with redis.tls.key_file (mutual TLS needs both)",
            )),
            (Some(cert), Some(key)) => {
                let pem = readable("redis.tls.cert_file", cert)?;
                let certs = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>();
                if !certs.is_ok_and(|c| !c.is_empty()) {
                    return Err(ConfigError::invalid(
                        "redis.tls.cert_file",
                        format!("{} holds no PEM certificate", cert.display()),
                    ));
                }
                let pem = readable("redis.tls.key_file", key)?;
                if PrivateKeyDer::from_pem_slice(&pem).is_err() {
                    return Err(ConfigError::invalid(
                        "redis.tls.key_file",
                        format!("{} holds no PEM private key", key.display()),
                    ));
                }
                Ok(())
            }
            (None, None) => Ok(()),
        }
    }

    fn validate_credentials(&self) -> Result<(), ConfigError> {
        // In sentinel mode the URLs are the sentinels': their credentials
        // never conflict with the data nodes' keys.
        if self.mode != RedisMode::Sentinel {
            for (key, url) in self.all_urls() {
                let (user, password) = url_userinfo(&url);
                if user && self.username.is_some() {
                    return Err(ConfigError::invalid(
                        "redis.username",
                        format!("conflicts with the user in {key}; name the user in one place"),
                    ));
                }
                if password && (self.password.is_some() || self.password_file.is_some()) {
                    let other = if self.password.is_some() {
                        "redis.password"
                    } else {
                        "redis.password_file"
                    };
                    return Err(ConfigError::invalid(
                        other,
                        format!(
                            "conflicts with the password in {key}; give the password in one place"
                        ),
                    ));
                }
            }
        }
        if let Some(path) = &self.password_file {
            if self.password.is_some() {
                return Err(ConfigError::invalid(
                    "redis.password_file",
                    "conflicts with redis.password (TESSERA__REDIS__PASSWORD); give the password in one place",
                ));
            }
            let text = readable("redis.password_file", path)?;
            if String::from_utf8_lossy(&text).trim().is_empty() {
                return Err(ConfigError::invalid(
                    "redis.password_file",
                    format!("{} is empty", path.display()),
                ));
            }
        }
        if self
            .password
            .as_ref()
            .is_some_and(|p| p.expose_secret().is_empty())
        {
            return Err(ConfigError::invalid("redis.password", "must not be empty"));
        }
        if self.username.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::invalid("redis.username", "must not be empty"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::url_userinfo;
    use crate::config::{Environment, Settings};

    const PEM_CERT: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    const PEM_KEY: &str = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";

    /// (what, redis section, variables, the key the error must name)
    type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, &'a str);

    fn check(yaml_redis: &str, vars: &[(&str, &str)]) -> Result<Settings, String> {
        let yaml = format!("issuer: \"http://t.test\"\nredis: {yaml_redis}\n");
        let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Settings::from_yaml_with_env(&yaml, Environment::Dev, vars).map_err(|e| e.to_string())
    }

    #[test]
    fn tls_and_credential_mistakes_name_the_key_and_never_a_password() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write");
            p.display().to_string()
        };
        let (ca, cert, key) = (
            file("ca.pem", PEM_CERT),
            file("c.pem", PEM_CERT),
            file("c.key", PEM_KEY),
        );
        let pw_file = file("pw", "from-file-pw-77\n");
        let missing = dir.path().join("missing.pem").display().to_string();
        // (what, redis section, variables, the key the error must name)
        let cases: Vec<Case> = vec![
            (
                "tls with redis://",
                format!("{{ url: \"redis://h:1\", tls: {{ ca_file: \"{ca}\" }} }}"),
                vec![],
                "redis.tls",
            ),
            (
                "cert without key",
                format!("{{ url: \"rediss://h:1\", tls: {{ cert_file: \"{cert}\" }} }}"),
                vec![],
                "redis.tls.key_file",
            ),
            (
                "key without cert",
                format!("{{ url: \"rediss://h:1\", tls: {{ key_file: \"{key}\" }} }}"),
                vec![],
                "redis.tls.cert_file",
            ),
            (
                "unreadable ca",
                format!("{{ url: \"rediss://h:1\", tls: {{ ca_file: \"{missing}\" }} }}"),
                vec![],
                "redis.tls.ca_file",
            ),
            (
                "a key that is no key",
                format!(
                    "{{ url: \"rediss://h:1\", tls: {{ cert_file: \"{cert}\", key_file: \"{ca}\" }} }}"
                ),
                vec![],
                "redis.tls.key_file",
            ),
            (
                "file and env password",
                format!("{{ url: \"rediss://h:1\", password_file: \"{pw_file}\" }}"),
                vec![("TESSERA__REDIS__PASSWORD", "env-pw-55")],
                "redis.password_file",
            ),
            (
                "url and env password",
                "{ url: \"rediss://u:url-pw-66@h:1\" }".into(),
                vec![("TESSERA__REDIS__PASSWORD", "env-pw-55")],
                "redis.password",
            ),
            (
                "url and file password",
                format!("{{ url: \"rediss://:url-pw-66@h:1\", password_file: \"{pw_file}\" }}"),
                vec![],
                "redis.password_file",
            ),
            (
                "url user and username",
                "{ url: \"rediss://u@h:1\", username: \"v\" }".into(),
                vec![],
                "redis.username",
            ),
            (
                "unreadable password file",
                format!("{{ url: \"rediss://h:1\", password_file: \"{missing}\" }}"),
                vec![],
                "redis.password_file",
            ),
            (
                "mixed schemes",
                "{ mode: cluster, urls: [\"rediss://a:1\", \"redis://b:1\"] }".into(),
                vec![],
                "redis.urls",
            ),
            (
                "credentials without redis",
                "{ username: \"u\" }".into(),
                vec![],
                "redis",
            ),
        ];
        for (what, redis, vars, key) in &cases {
            let err = check(redis, vars)
                .err()
                .unwrap_or_else(|| panic!("{what}: accepted"));
            assert!(err.contains(&format!("`{key}`")), "{what}: {err}");
            for secret in ["env-pw-55", "url-pw-66", "from-file-pw-77"] {
                assert!(!err.contains(secret), "{what}: {err}");
            }
        }
    }

    #[test]
    fn a_full_managed_redis_section_is_accepted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write");
            p.display().to_string()
        };
        let (ca, cert, key) = (
            file("ca.pem", PEM_CERT),
            file("c.pem", PEM_CERT),
            file("c.key", PEM_KEY),
        );
        let pw_file = file("pw", "from-file-pw-77\n");
        let ok = format!(
            "{{ url: \"rediss://tessera@h:6380/0\", password_file: \"{pw_file}\", \
             tls: {{ ca_file: \"{ca}\", cert_file: \"{cert}\", key_file: \"{key}\" }} }}"
        );
        check(&ok, &[]).expect("a full managed-Redis section");
        let by_env = check(
            "{ url: \"rediss://h:6380\" }",
            &[
                ("TESSERA__REDIS__TLS__CA_FILE", ca.as_str()),
                ("TESSERA__REDIS__USERNAME", "tessera"),
                ("TESSERA__REDIS__PASSWORD_FILE", pw_file.as_str()),
            ],
        )
        .expect("the same keys from TESSERA__ variables");
        let tls = by_env.redis.tls.expect("redis.tls from the environment");
        assert_eq!(tls.ca_file.as_deref(), Some(std::path::Path::new(&ca)));
        check(
            "{ mode: sentinel, master_name: m, urls: [\"rediss://:s-pw@s:1\"] }",
            &[("TESSERA__REDIS__PASSWORD", "p")],
        )
        .expect("sentinel URLs carry the sentinels' password, redis.password the data nodes'");
    }

    #[test]
    fn userinfo_is_found_in_the_authority_only() {
        assert_eq!(url_userinfo("rediss://u:p@h:1/0"), (true, true));
        assert_eq!(url_userinfo("redis://:p@h"), (false, true));
        assert_eq!(url_userinfo("redis://u@h"), (true, false));
        assert_eq!(url_userinfo("redis://h:1/0"), (false, false));
        assert_eq!(url_userinfo("redis://h/0?x=a@b"), (false, false));
    }
}
