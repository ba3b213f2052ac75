//! The configured clients as one immutable set, replaced whole when the
//! configuration is reloaded. A client whose settings did not change keeps
//! its `Arc`, so its cached authentication stays valid; a changed or
//! removed client gets a new `Arc` (or none), and the success cache, which
//! remembers the `Arc` it proved, no longer matches it (`clients.rs`).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::auth_guard::AuthGuard;
use crate::config::RateLimitSettings;
use crate::domain::{ArgonCost, Client, DomainError, SecretHash};

pub(super) struct ClientSet {
    by_id: HashMap<String, Arc<Client>>,
    /// Checked against when the id is unknown, so timing does not reveal it.
    pub(super) dummy_hash: SecretHash,
    /// Failed-authentication budgets (`None`: rate limits are off); kept
    /// across reloads while `rate_limit` is unchanged.
    pub(super) guard: Option<Arc<AuthGuard>>,
    /// What `guard` was built from.
    limits: RateLimitSettings,
    /// Counts the sets built; a check started against one set never
    /// answers for another (`in_flight.rs`).
    pub(super) generation: u64,
}

/// Client ids added, removed and changed by a reload.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClientChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
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

/// A hash of a random secret nobody knows, with `cost` (or the default).
fn dummy_hash(cost: Option<ArgonCost>) -> Result<SecretHash, DomainError> {
    let mut random = [0u8; 24];
    getrandom::fill(&mut random).map_err(|e| DomainError(format!("random source failed: {e}")))?;
    let secret = STANDARD.encode(random);
    match cost {
        Some(cost) => SecretHash::generate_with(&secret, cost),
        None => SecretHash::generate(&secret),
    }
}

impl ClientSet {
    /// The set of `clients` under `limits`; unchanged clients, the dummy
    /// hash (same cost) and the guard (same limits) come from `previous`.
    pub(super) fn new(
        clients: Vec<Client>,
        limits: &RateLimitSettings,
        previous: Option<&ClientSet>,
    ) -> Result<Self, DomainError> {
        let cost = common_cost(&clients);
        let dummy_hash = match previous {
            Some(p)
                if p.dummy_hash.cost().ok() == cost || (cost.is_none() && p.by_id.is_empty()) =>
            {
                p.dummy_hash.clone()
            }
            _ => dummy_hash(cost)?,
        };
        let guard = match previous {
            Some(p) if p.limits == *limits => p.guard.clone(),
            _ => AuthGuard::from_settings(limits).map(Arc::new),
        };
        let by_id = clients
            .into_iter()
            .map(|c| {
                let id = c.id.to_string();
                let kept = previous
                    .and_then(|p| p.by_id.get(&id))
                    .filter(|old| ***old == c)
                    .cloned();
                (id, kept.unwrap_or_else(|| Arc::new(c)))
            })
            .collect();
        Ok(ClientSet {
            by_id,
            dummy_hash,
            guard,
            limits: limits.clone(),
            generation: previous.map_or(0, |p| p.generation + 1),
        })
    }

    /// The configured client `id`, if any (no authentication).
    pub(super) fn get(&self, id: &str) -> Option<&Arc<Client>> {
        self.by_id.get(id)
    }

    /// What differs from `old`, ids sorted.
    pub(super) fn changes_from(&self, old: &ClientSet) -> ClientChanges {
        let ids: BTreeSet<&String> = self.by_id.keys().chain(old.by_id.keys()).collect();
        let mut changes = ClientChanges::default();
        for id in ids {
            match (old.by_id.get(id), self.by_id.get(id)) {
                (None, Some(_)) => changes.added.push(id.clone()),
                (Some(_), None) => changes.removed.push(id.clone()),
                (Some(a), Some(b)) if !Arc::ptr_eq(a, b) => changes.changed.push(id.clone()),
                _ => {}
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::PasswordHash;

    use super::*;
    use crate::domain::{ClientId, DpopMode, Grant, IntrospectScope};

    fn client(id: &str, cost: ArgonCost) -> Client {
        Client {
            id: ClientId::parse(id).unwrap(),
            grants: vec![Grant::Issue],
            max_ttl_secs: 60,
            refresh_ttl_secs: 60,
            audiences: Vec::new(),
            scopes: None,
            refresh_by_default: false,
            require_audience: false,
            introspect: IntrospectScope::All,
            secret_hash: SecretHash::generate_with("a-client-secret-123", cost).unwrap(),
            dpop: DpopMode::Off,
            dpop_proof_urls: Vec::new(),
        }
    }

    fn cost(m_kib: u32, t: u32) -> ArgonCost {
        ArgonCost {
            m_kib,
            t,
            p: 1,
            out_len: 32,
        }
    }

    fn build(clients: Vec<Client>, previous: Option<&ClientSet>) -> ClientSet {
        ClientSet::new(clients, &RateLimitSettings::default(), previous).unwrap()
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_client_hash_costs() {
        let real = SecretHash::generate("a-client-secret-123").unwrap();
        let set = build(Vec::new(), None);
        let dummy = PasswordHash::new(set.dummy_hash.expose()).unwrap();
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
        assert!(!set.dummy_hash.matches("a-client-secret-123"));
    }

    #[test]
    fn the_dummy_hash_takes_the_configured_clients_parameters() {
        let (cheap, strong) = (cost(64, 1), cost(128, 2));
        let set = build(
            vec![client("a", cheap), client("b", strong), client("c", cheap)],
            None,
        );
        assert_eq!(set.dummy_hash.cost().ok(), Some(cheap), "the most common");
        let set = build(vec![client("a", cheap), client("b", strong)], None);
        assert_eq!(
            set.dummy_hash.cost().ok(),
            Some(strong),
            "the strongest on a tie"
        );
    }

    #[test]
    fn a_rebuilt_set_keeps_unchanged_clients_and_names_every_change() {
        let c = cost(64, 1);
        let old = build(
            vec![client("kept", c), client("gone", c), client("edited", c)],
            None,
        );
        let mut edited = client("edited", c);
        edited.grants.push(Grant::Revoke);
        let mut rekeyed = client("kept", c);
        rekeyed.secret_hash = old.get("kept").unwrap().secret_hash.clone();
        let new = build(vec![rekeyed, edited, client("new", c)], Some(&old));
        assert!(Arc::ptr_eq(
            new.get("kept").unwrap(),
            old.get("kept").unwrap()
        ));
        assert!(!Arc::ptr_eq(
            new.get("edited").unwrap(),
            old.get("edited").unwrap()
        ));
        let changes = new.changes_from(&old);
        assert_eq!(changes.added, ["new"]);
        assert_eq!(changes.removed, ["gone"]);
        assert_eq!(changes.changed, ["edited"]);
        assert_eq!(new.generation, old.generation + 1);
        // A new secret (same settings otherwise) is a change too.
        let resecret = build(vec![client("kept", c)], Some(&new));
        assert_eq!(resecret.changes_from(&new).changed, ["kept"]);
    }
}
