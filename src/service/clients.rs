//! Client authentication: the configured clients, their Argon2id checks run
//! off the async workers (a few at a time), and a short cache of successful
//! checks. Every failure is the same `InvalidClient`, and an unknown id
//! costs what a wrong secret costs (a dummy hash with the same parameters).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::ServiceError;
use crate::domain::{Client, DomainError, SecretHash};

/// How long a successful secret check is remembered.
const CACHE_TTL: Duration = Duration::from_secs(60);

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
pub(super) struct Clients {
    by_id: HashMap<String, Arc<Client>>,
    /// Checked against when the id is unknown, so timing does not reveal it.
    dummy_hash: SecretHash,
    cache: Mutex<HashMap<String, ([u8; 32], Instant)>>,
    hashing: Semaphore,
}

impl Clients {
    pub(super) fn new(clients: Vec<Client>) -> Result<Self, DomainError> {
        let by_id = clients
            .into_iter()
            .map(|c| (c.id.to_string(), Arc::new(c)))
            .collect();
        let mut random = [0u8; 24];
        getrandom::fill(&mut random)
            .map_err(|e| DomainError(format!("random source failed: {e}")))?;
        let dummy_hash = SecretHash::generate(&STANDARD.encode(random))?;
        let permits = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Ok(Clients {
            by_id,
            dummy_hash,
            cache: Mutex::new(HashMap::new()),
            hashing: Semaphore::new(permits),
        })
    }

    /// The configured client `id`, if any (no authentication).
    pub(super) fn get(&self, id: &str) -> Option<&Arc<Client>> {
        self.by_id.get(id)
    }

    /// Authenticates credentials; every failure is the same `InvalidClient`.
    pub(super) async fn authenticate(
        &self,
        creds: Credentials,
    ) -> Result<Arc<Client>, ServiceError> {
        let secret = creds.secret.expose_secret();
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let client = self.by_id.get(&creds.id).cloned();
        if let Some(client) = &client
            && self.cached(&creds.id, &digest)
        {
            return Ok(client.clone());
        }
        let hash = match &client {
            Some(c) => c.secret_hash.clone(),
            None => self.dummy_hash.clone(),
        };
        // The semaphore is never closed: `acquire` cannot fail.
        let permit = self.hashing.acquire().await.ok();
        // Requests that queued behind a check of the same credentials (all
        // of them, when the cache entry expires under load) take its result
        // instead of each running Argon2id again.
        if let Some(client) = &client
            && self.cached(&creds.id, &digest)
        {
            return Ok(client.clone());
        }
        let secret = secret.to_owned();
        let ok = tokio::task::spawn_blocking(move || hash.matches(&secret))
            .await
            .map_err(ServiceError::Hashing)?;
        drop(permit);
        match client {
            Some(client) if ok => {
                if let Ok(mut cache) = self.cache.lock() {
                    cache.insert(creds.id, (digest, Instant::now() + CACHE_TTL));
                }
                Ok(client)
            }
            _ => Err(ServiceError::InvalidClient),
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

#[cfg(test)]
mod tests {
    use argon2::password_hash::PasswordHash;

    use super::*;

    #[test]
    fn the_dummy_hash_costs_what_a_real_client_hash_costs() {
        let clients = Clients::new(Vec::new()).unwrap();
        let real = SecretHash::generate("a-client-secret-123").unwrap();
        let dummy = PasswordHash::new(clients.dummy_hash.expose()).unwrap();
        let real = PasswordHash::new(real.expose()).unwrap();
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
        assert!(!clients.dummy_hash.matches("a-client-secret-123"));
    }
}
