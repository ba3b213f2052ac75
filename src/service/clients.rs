//! Client authentication against the current `ClientSet`: Argon2id checks
//! run on the hashing pool (a bounded queue; see `hashing.rs`), a short
//! cache of successful checks, the failure limits (`auth_guard.rs`) and the
//! aggregated audit of failures (`auth_audit.rs`). Every wrong credential
//! is the same `InvalidClient`, and an unknown id costs what a wrong secret
//! costs (a dummy hash with the configured clients' parameters). A cached
//! success holds the client it proved: after a reload that changed or
//! removed that client, it no longer counts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ServiceError;
use super::auth_audit::{Failure, FailureSummaries};
use super::auth_guard::Gate;
use super::client_set::ClientSet;
use super::hashing::HashingPool;
use super::in_flight::{self, InFlight, Role};
use crate::config::ClientAuthSettings;
use crate::domain::{Client, DomainError};

/// How long a successful secret check is remembered after its last use.
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

/// Per client id: the client a secret was proved for, the SHA-256 of that
/// secret, and until when the success counts.
type Cache = Arc<Mutex<HashMap<String, (Arc<Client>, [u8; 32], Instant)>>>;

/// The authentication machinery: the verification cache, the hashing
/// threads, checks in flight and the failure summaries. The clients
/// themselves come with each call (`ClientSet`, swapped on reload).
pub(super) struct Clients {
    cache: Cache,
    pool: HashingPool,
    /// Checks running now, so identical credentials share one.
    in_flight: InFlight,
    summaries: FailureSummaries,
}

/// The threads that run Argon2id: one per core unless configured.
pub(super) fn hashing_threads(configured: usize) -> usize {
    match configured {
        0 => std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
        n => n,
    }
}

impl Clients {
    pub(super) fn new(auth: &ClientAuthSettings) -> Result<Self, DomainError> {
        let threads = hashing_threads(auth.hashing_threads);
        let waiting = match auth.max_waiting_checks {
            0 => 4 * threads,
            n => n,
        };
        let pool = HashingPool::new(threads, waiting, auth.max_checks_per_source)
            .map_err(|e| DomainError(format!("cannot start the hashing threads: {e}")))?;
        Ok(Clients {
            cache: Arc::new(Mutex::new(HashMap::new())),
            pool,
            in_flight: InFlight::default(),
            summaries: FailureSummaries::new(Duration::from_secs(auth.failure_summary_secs.max(1))),
        })
    }

    /// Authenticates credentials presented from `source` against `set`. A wrong secret or
    /// unknown id is `InvalidClient`; a source (or, for sources that failed
    /// recently, an id) over its failure budget is `TooManyFailures` and a
    /// full hashing queue `Busy`, both before any Argon2 work.
    pub(super) async fn authenticate(
        &self,
        set: &ClientSet,
        creds: Credentials,
        source: IpAddr,
        request_id: &str,
    ) -> Result<Arc<Client>, ServiceError> {
        let secret = creds.secret.expose_secret();
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let client = set.get(&creds.id).cloned();
        if let Some(client) = &client
            && cached(&self.cache, client, &digest)
        {
            return Ok(client.clone());
        }
        if let Some(Gate::Closed(retry_after_secs)) =
            set.guard.as_ref().map(|g| g.gate(source, &creds.id))
        {
            self.summaries
                .record(source, &creds.id, Failure::Throttled, request_id);
            return Err(ServiceError::TooManyFailures { retry_after_secs });
        }
        let ok = match self
            .in_flight
            .join((creds.id.clone(), digest, set.generation))
        {
            Role::Follower(rx) => match in_flight::answer(rx).await {
                Some(ok) => ok,
                None => {
                    self.check(set, &creds, client.as_ref(), digest, source, request_id)
                        .await?
                }
            },
            Role::Leader(lead) => {
                let ok = self
                    .check(set, &creds, client.as_ref(), digest, source, request_id)
                    .await?;
                lead.finish(ok);
                ok
            }
        };
        match client {
            Some(client) if ok => {
                if let Ok(mut cache) = self.cache.lock() {
                    let until = Instant::now() + CACHE_TTL;
                    cache.insert(creds.id, (client.clone(), digest, until));
                }
                Ok(client)
            }
            _ => {
                if let Some(guard) = &set.guard {
                    guard.failed(source, &creds.id);
                }
                self.summaries
                    .record(source, &creds.id, Failure::Checked, request_id);
                Err(ServiceError::InvalidClient)
            }
        }
    }

    /// One Argon2id check of `creds` on the hashing pool (`Busy` when it is
    /// full); an unknown id is checked against the dummy hash.
    async fn check(
        &self,
        set: &ClientSet,
        creds: &Credentials,
        client: Option<&Arc<Client>>,
        digest: [u8; 32],
        source: IpAddr,
        request_id: &str,
    ) -> Result<bool, ServiceError> {
        let hash = match client {
            Some(c) => c.secret_hash.clone(),
            None => set.dummy_hash.clone(),
        };
        let secret = SecretString::from(creds.secret.expose_secret().to_owned());
        let (cache, known) = (Arc::clone(&self.cache), client.cloned());
        // A request that queued behind a check of the same credentials
        // takes its cached result instead of running Argon2id again.
        let job = move |scratch: &mut _| {
            known.is_some_and(|c| cached(&cache, &c, &digest))
                || hash.matches_with(secret.expose_secret(), scratch)
        };
        match self.pool.run_for(source, job).await {
            Err(ServiceError::Busy) => {
                self.summaries
                    .record(source, &creds.id, Failure::Busy, request_id);
                Err(ServiceError::Busy)
            }
            other => other,
        }
    }

    /// Writes the failure summaries whose window has closed.
    pub(super) fn flush_summaries(&self, all: bool) {
        self.summaries.flush(all);
    }
}

/// Whether `client` (this very configuration of it: a reloaded client is
/// another `Arc`) recently proved the secret whose SHA-256 is `digest`; a
/// hit keeps the entry for another `CACHE_TTL` (a busy client never goes
/// cold).
fn cached(cache: &Cache, client: &Arc<Client>, digest: &[u8; 32]) -> bool {
    let Ok(mut cache) = cache.lock() else {
        return false;
    };
    let now = Instant::now();
    let id = client.id.as_str();
    match cache.get_mut(id) {
        Some((proved, known, until)) if *until > now && Arc::ptr_eq(proved, client) => {
            let hit: bool = known.ct_eq(digest).into();
            if hit {
                *until = now + CACHE_TTL;
            }
            hit
        }
        Some(_) => {
            cache.remove(id);
            false
        }
        None => false,
    }
}
