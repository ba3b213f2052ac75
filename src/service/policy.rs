//! The reloadable part of the service: keys, clients, issuer, token
//! lifetimes and verify rules, as one immutable [`Policy`] behind an
//! `ArcSwap`. A request reads the snapshot it needs (verify: once, so the
//! keys, the verified-token cache and the issuer always agree); a reload
//! builds a whole new snapshot and swaps it in at once, never half.
//!
//! Each snapshot has its own verified-token cache, so a token checked
//! under the old keys (a removed key, a shortened `verify_until`, another
//! issuer or leeway) is never taken from the cache under the new ones; an
//! insert by a request still running on the old snapshot lands in the old
//! cache, which goes with it.

use std::sync::Arc;

use chrono::Utc;

use super::client_set::{ClientChanges, ClientSet};
use super::{TokenService, seconds};
use crate::config::Settings;
use crate::domain::{Client, DomainError};
use crate::store::RefreshGrace;
use crate::token::{KeySet, VerifiedCache};

pub struct Policy {
    pub(super) keys: KeySet,
    /// Tokens whose signature was checked under `keys` (see `token::cache`).
    pub(super) verified: VerifiedCache,
    pub(super) clients: ClientSet,
    pub(super) issuer: String,
    pub(super) leeway_secs: u64,
    pub(super) default_access_ttl: u64,
    pub(super) max_sessions: usize,
    pub(super) refresh_grace: RefreshGrace,
    /// `verify.require_audience`: every verify names an audience.
    pub(super) require_audience: bool,
    /// `verify.dpop_iat_window_secs`.
    pub(super) dpop_window_secs: i64,
}

/// What a reload changed, for the log and the audit event (ids and key
/// ids only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyChanges {
    pub clients: ClientChanges,
    /// The key that signs from now on.
    pub active_kid: String,
    /// The keys that verify now (the JWKS).
    pub verifying_kids: Vec<String>,
}

impl Policy {
    /// The snapshot `settings` describe, over `keys`; what did not change
    /// since `previous` (clients, the dummy hash, the failure budgets) is
    /// kept from it.
    pub(super) fn new(
        settings: &Settings,
        keys: KeySet,
        previous: Option<&Policy>,
    ) -> Result<Self, DomainError> {
        let clients: Vec<Client> = settings
            .clients
            .iter()
            .map(|c| c.to_client(&settings.tokens))
            .collect();
        let tokens = &settings.tokens;
        Ok(Policy {
            keys,
            verified: VerifiedCache::new(settings.verify.cache_entries),
            clients: ClientSet::new(clients, &settings.rate_limit, previous.map(|p| &p.clients))?,
            issuer: settings.issuer.clone(),
            leeway_secs: tokens.leeway_secs,
            default_access_ttl: tokens.access_ttl_secs,
            max_sessions: tokens.max_sessions_per_user,
            refresh_grace: RefreshGrace::new(
                tokens.refresh_grace_secs,
                tokens.refresh_grace_retries,
            ),
            require_audience: settings.verify.require_audience,
            dpop_window_secs: seconds(settings.verify.dpop_iat_window_secs),
        })
    }
}

impl TokenService {
    /// The snapshot in force now.
    pub(super) fn policy(&self) -> Arc<Policy> {
        self.policy.load_full()
    }

    /// Builds the snapshot `settings` describe over `keys`, reusing what
    /// did not change; nothing is in force until [`TokenService::install_policy`].
    /// Runs Argon2id when the clients' hash cost changed: call it off the
    /// async workers.
    pub fn prepare_policy(&self, settings: &Settings, keys: KeySet) -> Result<Policy, DomainError> {
        Policy::new(settings, keys, Some(&self.policy()))
    }

    /// Puts `policy` in force for every request from now on; says what
    /// changed.
    pub fn install_policy(&self, policy: Policy) -> PolicyChanges {
        let new = Arc::new(policy);
        let old = self.policy.swap(new.clone());
        PolicyChanges {
            clients: new.clients.changes_from(&old.clients),
            active_kid: new.keys.active().kid.to_string(),
            verifying_kids: new.keys.verifying_kids(Utc::now()),
        }
    }
}
