//! Client authentication: HTTP Basic (`client_secret_basic`) or form fields
//! (`client_secret_post`), checked against Argon2id hashes off the async
//! workers, with a short cache of successful checks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::header;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::config::Settings;
use crate::domain::{Audience, ClientId, Grant, Scope};
use crate::error::ApiError;

/// How long a successful secret check is remembered.
const CACHE_TTL: Duration = Duration::from_secs(60);
/// Longest client id or secret accepted before any work is done.
const MAX_CREDENTIAL_BYTES: usize = 512;

/// A configured client, after validation.
#[derive(Debug)]
pub struct Client {
    pub id: ClientId,
    pub grants: Vec<Grant>,
    pub max_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    /// Empty means any audience.
    pub audiences: Vec<Audience>,
    /// `None` means any scope.
    pub scopes: Option<Scope>,
    pub refresh_by_default: bool,
    secret_hash: SecretString,
}

impl Client {
    /// 403 unless the client holds `grant`.
    pub fn require(&self, grant: Grant) -> Result<(), ApiError> {
        if self.grants.contains(&grant) {
            Ok(())
        } else {
            Err(ApiError::UnauthorizedClient(grant.as_str().into()))
        }
    }
}

/// Presented credentials; `Debug` hides the secret.
pub struct Credentials {
    pub id: String,
    pub secret: SecretString,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.id)
    }
}

/// All configured clients, with the verification cache.
pub struct Clients {
    by_id: HashMap<String, Arc<Client>>,
    /// Verified against when the id is unknown, so timing does not reveal it.
    dummy_hash: String,
    cache: Mutex<HashMap<String, ([u8; 32], Instant)>>,
    hashing: Semaphore,
}

/// Checks that `phc` is an Argon2id PHC string.
pub fn check_phc(phc: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(phc)
        .map_err(|e| format!("not a PHC hash string ({e}); make one with `tessera hash-secret`"))?;
    if parsed.algorithm.as_str() != Algorithm::Argon2id.ident().as_str() {
        return Err(format!(
            "algorithm `{}` is not argon2id; make one with `tessera hash-secret`",
            parsed.algorithm
        ));
    }
    Ok(())
}

/// Hashes a client secret with Argon2id (default parameters, random salt).
pub fn hash_secret(secret: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify_phc(phc: &str, secret: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

impl Clients {
    pub fn from_settings(settings: &Settings) -> Result<Self, String> {
        let mut by_id = HashMap::new();
        for c in &settings.clients {
            let scopes = if c.scopes.is_empty() {
                None
            } else {
                Some(Scope::parse(&c.scopes.join(" ")).map_err(|e| e.to_string())?)
            };
            let client = Client {
                id: ClientId::parse(&c.id).map_err(|e| e.to_string())?,
                grants: c.grants.clone(),
                max_ttl_secs: c.max_ttl_secs.unwrap_or(settings.tokens.access_ttl_secs),
                refresh_ttl_secs: c
                    .refresh_ttl_secs
                    .unwrap_or(settings.tokens.refresh_ttl_secs),
                audiences: c
                    .audiences
                    .iter()
                    .map(|a| Audience::parse(a).map_err(|e| e.to_string()))
                    .collect::<Result<_, _>>()?,
                scopes,
                refresh_by_default: c.refresh_by_default,
                secret_hash: c.secret_hash.clone(),
            };
            by_id.insert(c.id.clone(), Arc::new(client));
        }
        let mut random = [0u8; 24];
        getrandom::fill(&mut random).map_err(|e| e.to_string())?;
        let dummy_hash = hash_secret(&STANDARD.encode(random))?;
        let permits = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Ok(Clients {
            by_id,
            dummy_hash,
            cache: Mutex::new(HashMap::new()),
            hashing: Semaphore::new(permits),
        })
    }

    /// Authenticates credentials; every failure is the same `invalid_client`.
    pub async fn authenticate(&self, creds: Credentials) -> Result<Arc<Client>, ApiError> {
        let secret = creds.secret.expose_secret();
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let client = self.by_id.get(&creds.id).cloned();
        if let Some(client) = &client
            && self.cached(&creds.id, &digest)
        {
            return Ok(client.clone());
        }
        let phc = match &client {
            Some(c) => c.secret_hash.expose_secret().to_owned(),
            None => self.dummy_hash.clone(),
        };
        let permit = self
            .hashing
            .acquire()
            .await
            .map_err(|_| ApiError::Server("hashing semaphore closed".into()))?;
        // Requests that queued behind a check of the same credentials (all
        // of them, when the cache entry expires under load) take its result
        // instead of each running Argon2id again.
        if let Some(client) = &client
            && self.cached(&creds.id, &digest)
        {
            return Ok(client.clone());
        }
        let secret = secret.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify_phc(&phc, &secret))
            .await
            .map_err(|e| ApiError::Server(format!("secret check failed: {e}")))?;
        drop(permit);
        match client {
            Some(client) if ok => {
                if let Ok(mut cache) = self.cache.lock() {
                    cache.insert(creds.id, (digest, Instant::now() + CACHE_TTL));
                }
                Ok(client)
            }
            _ => Err(ApiError::InvalidClient),
        }
    }

    fn cached(&self, id: &str, digest: &[u8; 32]) -> bool {
        let Ok(mut cache) = self.cache.lock() else {
            return false;
        };
        match cache.get(id) {
            Some((known, until)) if *until > Instant::now() => known.ct_eq(digest).into(),
            Some(_) => {
                cache.remove(id);
                false
            }
            None => false,
        }
    }
}

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1: id and
/// secret are form-urlencoded inside), or from `client_id`/`client_secret`
/// form fields. `Ok(None)` when the request carries none.
pub fn credentials(
    req: &HttpRequest,
    form: Option<(&str, &str)>,
) -> Result<Option<Credentials>, ApiError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::InvalidClient)?;
        if let Some(encoded) = strip_scheme(value, "basic") {
            return parse_basic(encoded).map(Some);
        }
    }
    match form {
        Some((id, secret)) => {
            if id.len() > MAX_CREDENTIAL_BYTES || secret.len() > MAX_CREDENTIAL_BYTES {
                return Err(ApiError::InvalidClient);
            }
            Ok(Some(Credentials {
                id: id.to_owned(),
                secret: SecretString::from(secret.to_owned()),
            }))
        }
        None => Ok(None),
    }
}

/// `value` without its auth scheme, matched case-insensitively.
pub fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = value.trim_start().split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

fn parse_basic(encoded: &str) -> Result<Credentials, ApiError> {
    if encoded.len() > 2 * MAX_CREDENTIAL_BYTES {
        return Err(ApiError::InvalidClient);
    }
    let raw = STANDARD
        .decode(encoded)
        .map_err(|_| ApiError::InvalidClient)?;
    let text = String::from_utf8(raw).map_err(|_| ApiError::InvalidClient)?;
    let (id, secret) = text.split_once(':').ok_or(ApiError::InvalidClient)?;
    let decode = |s: &str| form_urlencoded_decode(s).ok_or(ApiError::InvalidClient);
    Ok(Credentials {
        id: decode(id)?,
        secret: SecretString::from(decode(secret)?),
    })
}

/// `application/x-www-form-urlencoded` decoding of one component.
fn form_urlencoded_decode(s: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={s}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

/// Authenticates the request's client and checks `grant`.
pub async fn require_client(
    clients: &Clients,
    req: &HttpRequest,
    form: Option<(&str, &str)>,
    grant: Grant,
) -> Result<Arc<Client>, ApiError> {
    let creds = credentials(req, form)?.ok_or(ApiError::InvalidClient)?;
    let client = clients.authenticate(creds).await?;
    client.require(grant)?;
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let phc = hash_secret("s3cret").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        check_phc(&phc).unwrap();
        assert!(verify_phc(&phc, "s3cret"));
        assert!(!verify_phc(&phc, "s3cret!"));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let encoded = STANDARD.encode("my%20client:p%3Ass+word");
        let creds = parse_basic(&encoded).unwrap();
        assert_eq!(creds.id, "my client");
        assert_eq!(creds.secret.expose_secret(), "p:ss word");
        assert!(parse_basic("!!!").is_err());
        assert!(parse_basic(&STANDARD.encode("no-colon")).is_err());
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_client_hash_costs() {
        let yaml = r#"
issuer: "http://t.test"
keys: []
"#;
        let settings = crate::config::Settings::from_yaml_with_env(
            yaml,
            crate::config::Environment::Dev,
            Vec::new(),
        )
        .unwrap();
        let clients = Clients::from_settings(&settings).unwrap();
        let real = hash_secret("a-client-secret-123").unwrap();
        let dummy = PasswordHash::new(&clients.dummy_hash).unwrap();
        let real = PasswordHash::new(&real).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params, "same m, t, p");
        assert_eq!(
            dummy.hash.map(|h| h.len()),
            real.hash.map(|h| h.len()),
            "same output length"
        );
        assert!(dummy.salt.is_some());
        // And it is a real hash the verifier runs to the end (and rejects).
        assert!(!verify_phc(&clients.dummy_hash, "a-client-secret-123"));
    }

    #[test]
    fn check_phc_refuses_other_algorithms() {
        assert!(check_phc("plain").is_err());
        assert!(
            check_phc("$argon2i$v=19$m=16,t=2,p=1$c29tZXNhbHQ$YWJjZGVmZ2hpamtsbW5vcA").is_err()
        );
    }
}
