//! Client authentication: the configured clients, their Argon2id checks run
//! on the hashing pool (a bounded queue; see `hashing.rs`), a short cache of
//! successful checks, the failure limits (`auth_guard.rs`) and the
//! aggregated audit of failures (`auth_audit.rs`). Every wrong credential
//! is the same `InvalidClient`, and an unknown id costs what a wrong secret
//! costs (a dummy hash with the configured clients' parameters).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ServiceError;
use super::auth_audit::{Failure, FailureSummaries};
use super::auth_guard::{AuthGuard, Gate};
use super::hashing::HashingPool;
use super::in_flight::{self, InFlight, Role};
use crate::config::{ClientAuthSettings, RateLimitSettings};
use crate::domain::{ArgonCost, Client, DomainError, SecretHash};

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

type Cache = Arc<Mutex<HashMap<String, ([u8; 32], Instant)>>>;

/// All configured clients, with the verification cache.
pub(super) struct Clients {
    by_id: HashMap<String, Arc<Client>>,
    /// Checked against when the id is unknown, so timing does not reveal it.
    dummy_hash: SecretHash,
    cache: Cache,
    pool: HashingPool,
    /// Checks running now, so identical credentials share one.
    in_flight: InFlight,
    guard: Option<AuthGuard>,
    summaries: FailureSummaries,
}

/// The cost parameters most of `clients` use (the strongest on a tie);
/// `SecretHash::generate`'s when there are no clients.
fn common_cost(clients: &[Client]) -> Option<ArgonCost> {
    let mut counts: HashMap<ArgonCost, usize> = HashMap::new();
    for c in clients {
        if let Ok(cost) = c.secret_hash.cost() {
            *counts.entry(cost).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|&(c, n)| (n, u64::from(c.m_kib) * u64::from(c.t), c.p, c.out_len))
        .map(|(cost, _)| cost)
}

/// The threads that run Argon2id: one per core unless configured.
pub(super) fn hashing_threads(configured: usize) -> usize {
    match configured {
        0 => std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
        n => n,
    }
}

impl Clients {
    pub(super) fn new(
        clients: Vec<Client>,
        auth: &ClientAuthSettings,
        limits: &RateLimitSettings,
    ) -> Result<Self, DomainError> {
        let mut random = [0u8; 24];
        getrandom::fill(&mut random)
            .map_err(|e| DomainError(format!("random source failed: {e}")))?;
        let dummy_secret = STANDARD.encode(random);
        let dummy_hash = match common_cost(&clients) {
            Some(cost) => SecretHash::generate_with(&dummy_secret, cost)?,
            None => SecretHash::generate(&dummy_secret)?,
        };
        let by_id = clients
            .into_iter()
            .map(|c| (c.id.to_string(), Arc::new(c)))
            .collect();
        let threads = hashing_threads(auth.hashing_threads);
        let waiting = match auth.max_waiting_checks {
            0 => 4 * threads,
            n => n,
        };
        let pool = HashingPool::new(threads, waiting, auth.max_checks_per_source)
            .map_err(|e| DomainError(format!("cannot start the hashing threads: {e}")))?;
        Ok(Clients {
            by_id,
            dummy_hash,
            cache: Arc::new(Mutex::new(HashMap::new())),
            pool,
            in_flight: InFlight::default(),
            guard: AuthGuard::from_settings(limits),
            summaries: FailureSummaries::new(Duration::from_secs(auth.failure_summary_secs.max(1))),
        })
    }

    /// The configured client `id`, if any (no authentication).
    pub(super) fn get(&self, id: &str) -> Option<&Arc<Client>> {
        self.by_id.get(id)
    }

    /// Authenticates credentials presented from `source`. A wrong secret or
    /// unknown id is `InvalidClient`; a source (or, for sources that failed
    /// recently, an id) over its failure budget is `TooManyFailures` and a
    /// full hashing queue `Busy`, both before any Argon2 work.
    pub(super) async fn authenticate(
        &self,
        creds: Credentials,
        source: IpAddr,
        request_id: &str,
    ) -> Result<Arc<Client>, ServiceError> {
        let secret = creds.secret.expose_secret();
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let client = self.by_id.get(&creds.id).cloned();
        if let Some(client) = &client
            && cached(&self.cache, &creds.id, &digest)
        {
            return Ok(client.clone());
        }
        if let Some(Gate::Closed(retry_after_secs)) =
            self.guard.as_ref().map(|g| g.gate(source, &creds.id))
        {
            self.summaries
                .record(source, &creds.id, Failure::Throttled, request_id);
            return Err(ServiceError::TooManyFailures { retry_after_secs });
        }
        let ok = match self.in_flight.join((creds.id.clone(), digest)) {
            Role::Follower(rx) => match in_flight::answer(rx).await {
                Some(ok) => ok,
                None => {
                    self.check(&creds, client.as_deref(), digest, source, request_id)
                        .await?
                }
            },
            Role::Leader(lead) => {
                let ok = self
                    .check(&creds, client.as_deref(), digest, source, request_id)
                    .await?;
                lead.finish(ok);
                ok
            }
        };
        match client {
            Some(client) if ok => {
                if let Ok(mut cache) = self.cache.lock() {
                    cache.insert(creds.id, (digest, Instant::now() + CACHE_TTL));
                }
                Ok(client)
            }
            _ => {
                if let Some(guard) = &self.guard {
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
        creds: &Credentials,
        client: Option<&Client>,
        digest: [u8; 32],
        source: IpAddr,
        request_id: &str,
    ) -> Result<bool, ServiceError> {
        let hash = match client {
            Some(c) => c.secret_hash.clone(),
            None => self.dummy_hash.clone(),
        };
        let secret = SecretString::from(creds.secret.expose_secret().to_owned());
        let (cache, id, known) = (Arc::clone(&self.cache), creds.id.clone(), client.is_some());
        // A request that queued behind a check of the same credentials
        // takes its cached result instead of running Argon2id again.
        let job = move |scratch: &mut _| {
            (known && cached(&cache, &id, &digest))
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

/// Whether `id` recently proved the secret whose SHA-256 is `digest`; a hit
/// keeps the entry for another `CACHE_TTL` (a busy client never goes cold).
fn cached(cache: &Cache, id: &str, digest: &[u8; 32]) -> bool {
    let Ok(mut cache) = cache.lock() else {
        return false;
    };
    let now = Instant::now();
    match cache.get_mut(id) {
        Some((known, until)) if *until > now => {
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

#[cfg(test)]
mod tests {
    use argon2::password_hash::PasswordHash;

    use super::*;

    fn build(clients: Vec<Client>) -> Clients {
        Clients::new(
            clients,
            &ClientAuthSettings::default(),
            &RateLimitSettings::default(),
        )
        .unwrap()
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_client_hash_costs() {
        let real = SecretHash::generate("a-client-secret-123").unwrap();
        let clients = build(Vec::new());
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

    #[test]
    fn the_dummy_hash_takes_the_configured_clients_parameters() {
        let client = |cost: ArgonCost| Client {
            id: crate::domain::ClientId::parse("app").unwrap(),
            grants: Vec::new(),
            max_ttl_secs: 60,
            refresh_ttl_secs: 60,
            audiences: Vec::new(),
            scopes: None,
            refresh_by_default: false,
            require_audience: false,
            introspect: crate::domain::IntrospectScope::All,
            secret_hash: SecretHash::generate_with("a-client-secret-123", cost).unwrap(),
            dpop: crate::domain::DpopMode::Off,
            dpop_proof_urls: Vec::new(),
        };
        let cost = |m_kib, t| ArgonCost {
            m_kib,
            t,
            p: 1,
            out_len: 32,
        };
        let (cheap, strong) = (cost(64, 1), cost(128, 2));
        let clients = vec![client(cheap), client(strong), client(cheap)];
        let built = build(clients);
        assert_eq!(built.dummy_hash.cost().ok(), Some(cheap), "the most common");
        let built = build(vec![client(cheap), client(strong)]);
        assert_eq!(
            built.dummy_hash.cost().ok(),
            Some(strong),
            "the strongest on a tie"
        );
    }
}
