//! The core: every token flow, one file each (issue, verify, refresh,
//! revoke, sessions, introspect), around one [`TokenService`] that owns the
//! key set, the store, the clients and the metrics. The HTTP edge calls
//! only this type; every audit event and business metric is emitted here.

mod auth_audit;
mod auth_guard;
mod budget;
mod client_credentials;
mod client_set;
mod clients;
mod dpop;
mod error;
mod exchange;
mod feed;
mod hashing;
mod in_flight;
mod introspect;
mod issue;
mod policy;
mod refresh;
mod revoke;
mod sessions;
mod verify;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::Utc;
use jsonwebtoken::jwk::JwkSet;

pub use client_set::ClientChanges;
pub use clients::Credentials;
pub use dpop::{DpopBinding, DpopProof, bound_key};
pub use error::ServiceError;
pub use exchange::ExchangeRequest;
pub use feed::{FeedMessage, RevocationFeed, Subscription};
pub use introspect::Introspected;
pub use issue::{IssueRequest, Issued};
pub use policy::{Policy, PolicyChanges};
pub use sessions::Session;
pub use verify::VerifyRequest;

use crate::config::Settings;
use crate::domain::{AccessClaims, Client, DomainError, Grant, Jti, TokenKey};
use crate::ops::Metrics;
use crate::ops::audit_summary::FailureSummary;
use crate::store::{AccessRecord, Store, TokenStore};
use crate::token::{KeySet, NonceIssuer, VerifiedCache};
use clients::Clients;

pub struct TokenService {
    /// Keys, clients and the reloadable rules (`policy.rs`).
    policy: ArcSwap<Policy>,
    store: Store,
    /// Client authentication's caches and hashing threads.
    clients: Clients,
    metrics: Metrics,
    /// Failed verifies, summarised in the audit log once per window.
    verify_failures: FailureSummary,
    /// The revocation feed's fan-out (`feed.rs`).
    feed: RevocationFeed,
    /// `verify.dpop_nonce`: the server nonces, when they are required
    /// (restart-only: `config::restart`).
    dpop_nonces: Option<NonceIssuer>,
}

impl TokenService {
    /// The service over `keys` and `store`, with the clients, lifetimes and
    /// caches `settings` name. It records into its own `Metrics`.
    pub fn new(settings: &Settings, keys: KeySet, store: &Store) -> Result<Self, DomainError> {
        let metrics = Metrics::new();
        Ok(TokenService {
            policy: ArcSwap::from_pointee(Policy::new(settings, keys, None)?),
            store: store.with_metrics(&metrics),
            clients: Clients::new(&settings.client_auth)?,
            metrics,
            feed: RevocationFeed::new(&settings.verify),
            dpop_nonces: dpop::nonce_issuer(&settings.verify.dpop_nonce)?,
            verify_failures: FailureSummary::new(Duration::from_secs(
                settings.verify.failure_summary_secs,
            )),
        })
    }

    /// Authenticates a client presenting `creds` from `source` and checks
    /// that it holds `grant`. Failures are limited and audited (summarised
    /// per source, see `auth_audit`).
    pub async fn authenticate(
        &self,
        creds: Credentials,
        grant: Grant,
        source: IpAddr,
        request_id: &str,
    ) -> Result<Arc<Client>, ServiceError> {
        let client = self.authenticate_client(creds, source, request_id).await?;
        client.require(grant)?;
        Ok(client)
    }

    /// Authenticates a client without checking a grant: the caller checks
    /// the one its request asks for (`/oauth2/token` reads it from
    /// `grant_type`).
    pub async fn authenticate_client(
        &self,
        creds: Credentials,
        source: IpAddr,
        request_id: &str,
    ) -> Result<Arc<Client>, ServiceError> {
        let policy = self.policy();
        let answer = self
            .clients
            .authenticate(&policy.clients, creds, source, request_id)
            .await;
        if matches!(answer, Err(ServiceError::Busy)) {
            self.metrics.hashing_refused();
        }
        answer
    }

    /// Writes the audit summaries (failed verifies, failed client
    /// authentications) whose window closed, or all of them with `force`
    /// (shutdown). The application calls this every second.
    pub fn flush_audit_summaries(&self, force: bool) {
        self.flush_verify_failures(force);
        self.clients.flush_summaries(force);
    }

    /// Follows the store's revocation feed for this instance's
    /// subscribers; runs until the process ends (the application spawns it).
    pub async fn tail_feed(&self) {
        self.feed.tail(self.store.clone()).await;
    }

    /// How long one feed response lasts before the client must reconnect.
    pub fn feed_connection_limit(&self) -> Duration {
        self.feed.connection_limit()
    }

    /// Ends the feed: its tailer and every subscription (shutdown).
    pub fn close_feed(&self) {
        self.feed.close();
    }

    pub fn issuer(&self) -> String {
        self.policy().issuer.clone()
    }

    /// The public keys that verify now (RFC 7517).
    pub fn jwks(&self) -> JwkSet {
        self.policy().keys.jwks(Utc::now())
    }

    /// The algorithms of the published keys, for discovery metadata.
    pub fn signing_algorithms(&self) -> Vec<&'static str> {
        self.policy().keys.algorithms()
    }

    /// The store's kind when it answers (readiness).
    pub async fn ready(&self) -> Result<&'static str, ServiceError> {
        self.store.ping().await?;
        Ok(self.store.kind())
    }

    /// The metrics this service and the HTTP edge record into.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The Prometheus text of every metric, pool figures and the store's
    /// answer to a ping (bounded by `redis.timeout_ms`) read just now.
    pub async fn metrics_text(&self) -> String {
        self.metrics.store_up(self.store.ping().await.is_ok());
        if let Some((size, available, waiting)) = self.store.pool_status() {
            self.metrics
                .redis_pool(size, size.saturating_sub(available), waiting);
        }
        self.metrics.render()
    }

    /// The claims of a new access token described by `rec`, with a fresh id.
    fn claims_for(&self, rec: &AccessRecord, now: i64) -> (Jti, AccessClaims) {
        let jti = Jti::new_random();
        let claims = AccessClaims {
            iss: self.policy().issuer.clone(),
            sub: rec.sub.clone(),
            aud: rec.aud.clone(),
            exp: rec.exp,
            iat: now,
            nbf: now,
            jti: jti.to_string(),
            client_id: rec.client_id.clone(),
            scope: rec.scope.clone(),
            sid: rec.sid.to_string(),
            extra: rec.claims.clone(),
        };
        (jti, claims)
    }
}

/// The store key of a signed access token: its exact bytes, digested
/// (verify derives it from the same SHA-256 its cache uses).
fn token_key(token: &str) -> TokenKey {
    TokenKey::from_sha256(&VerifiedCache::digest(token))
}

/// A configured number of seconds as a signed offset from a Unix time.
fn seconds(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// `fields` with one more entry (audit lines).
fn with(mut fields: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
    if let Some(map) = fields.as_object_mut() {
        map.insert(key.to_owned(), value);
    }
    fields
}
