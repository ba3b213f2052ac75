//! The core: every token flow, one file each (issue, verify, refresh,
//! revoke, sessions, introspect), around one [`TokenService`] that owns the
//! key set, the store, the clients and the metrics. The HTTP edge calls
//! only this type; every audit event and business metric is emitted here.

mod auth_audit;
mod auth_guard;
mod budget;
mod client_credentials;
mod clients;
mod dpop;
mod error;
mod exchange;
mod feed;
mod hashing;
mod in_flight;
mod introspect;
mod issue;
mod refresh;
mod revoke;
mod sessions;
mod verify;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::jwk::JwkSet;

pub use clients::Credentials;
pub use dpop::{DpopBinding, DpopProof, bound_key};
pub use error::ServiceError;
pub use exchange::ExchangeRequest;
pub use feed::{FeedMessage, RevocationFeed, Subscription};
pub use introspect::Introspected;
pub use issue::{IssueRequest, Issued};
pub use sessions::Session;
pub use verify::VerifyRequest;

use crate::config::Settings;
use crate::domain::{AccessClaims, Client, DomainError, Grant, Jti, TokenKey};
use crate::ops::Metrics;
use crate::ops::audit_summary::FailureSummary;
use crate::store::{AccessRecord, RefreshGrace, Store, TokenStore};
use crate::token::{KeySet, NonceIssuer, VerifiedCache};
use clients::Clients;

pub struct TokenService {
    keys: KeySet,
    store: Store,
    clients: Clients,
    issuer: String,
    leeway_secs: u64,
    default_access_ttl: u64,
    max_sessions: usize,
    refresh_grace: RefreshGrace,
    metrics: Metrics,
    /// Tokens whose signature was already checked (see `token::cache`).
    verified: VerifiedCache,
    /// `verify.require_audience`: every verify names an audience.
    require_audience: bool,
    /// Failed verifies, summarised in the audit log once per window.
    verify_failures: FailureSummary,
    /// The revocation feed's fan-out (`feed.rs`).
    feed: RevocationFeed,
    /// `verify.dpop_iat_window_secs`.
    dpop_window_secs: i64,
    /// `verify.dpop_nonce`: the server nonces, when they are required.
    dpop_nonces: Option<NonceIssuer>,
}

impl TokenService {
    /// The service over `keys` and `store`, with the clients, lifetimes and
    /// caches `settings` name. It records into its own `Metrics`.
    pub fn new(settings: &Settings, keys: KeySet, store: &Store) -> Result<Self, DomainError> {
        let clients = settings
            .clients
            .iter()
            .map(|c| c.to_client(&settings.tokens))
            .collect();
        let metrics = Metrics::new();
        Ok(TokenService {
            keys,
            store: store.with_metrics(&metrics),
            clients: Clients::new(clients, &settings.client_auth, &settings.rate_limit)?,
            issuer: settings.issuer.clone(),
            leeway_secs: settings.tokens.leeway_secs,
            default_access_ttl: settings.tokens.access_ttl_secs,
            max_sessions: settings.tokens.max_sessions_per_user,
            refresh_grace: RefreshGrace::new(
                settings.tokens.refresh_grace_secs,
                settings.tokens.refresh_grace_retries,
            ),
            metrics,
            verified: VerifiedCache::new(settings.verify.cache_entries),
            require_audience: settings.verify.require_audience,
            feed: RevocationFeed::new(&settings.verify),
            dpop_window_secs: seconds(settings.verify.dpop_iat_window_secs),
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
        let client = self.clients.authenticate(creds, source, request_id).await?;
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
        self.clients.authenticate(creds, source, request_id).await
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

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The public keys that verify now (RFC 7517).
    pub fn jwks(&self) -> JwkSet {
        self.keys.jwks(Utc::now())
    }

    /// The algorithms of the published keys, for discovery metadata.
    pub fn signing_algorithms(&self) -> Vec<&'static str> {
        self.keys.algorithms()
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

    /// The Prometheus text of every metric, pool figures read just now.
    pub fn metrics_text(&self) -> String {
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
            iss: self.issuer.clone(),
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
