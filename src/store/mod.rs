//! Token state: which access tokens and sessions are live. The trait speaks
//! the domain; `redis.rs` and `memory.rs` implement it with the same
//! semantics, proven by one conformance suite (`tests/api/store.rs`).

mod feed;
mod memory;
mod memory_feed;
mod record;
pub mod redis;
mod rotation;
mod session_hash;
mod user_wide;

use std::future::Future;

pub use feed::{FEED_RETENTION_MS, FeedCursor, FeedPage, FeedRead};
pub use memory::MemoryStore;
pub use record::{AccessRecord, LIVE, REMEMBERED_PREFIX, SessionRecord, remembered};
pub use redis::RedisStore;
pub use rotation::{RefreshGrace, Replication, RotateOutcome, RotateReport, Rotation};
pub use user_wide::{SessionPage, UserRevocation};

use crate::config::RedisSettings;
use crate::domain::{PageSize, ProofKey, RefreshDigest, SessionCursor, Sid, TokenKey};
use crate::ops::Metrics;

/// An error with its cause chain kept for the log.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached in time: callers answer 503.
    #[error("token store unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else (a bug, a corrupt record): callers answer 500.
    #[error("token store error")]
    Backend(#[source] BoxError),
}

impl StoreError {
    pub fn unavailable(e: impl Into<BoxError>) -> Self {
        StoreError::Unavailable(e.into())
    }
}

/// An access token being revoked, as the feed names it.
#[derive(Debug, Clone, Copy)]
pub struct RevokedToken<'a> {
    pub sub: &'a str,
    pub jti: &'a str,
    /// Unix seconds.
    pub exp: i64,
}

/// A new session's first state.
pub struct NewSession<'a> {
    pub session: &'a SessionRecord,
    pub refresh: &'a RefreshDigest,
    /// The first access token's record key (see [`TokenKey`]).
    pub first_key: &'a TokenKey,
    pub first_access: &'a AccessRecord,
    /// Live sessions a user may hold; the earliest-expiring are revoked past it.
    pub max_sessions: usize,
}

/// The domain operations on token state. All times are Unix seconds.
pub trait TokenStore {
    /// Records a stand-alone access token (no refresh family) until
    /// `rec.exp`, under the key of its exact bytes.
    fn put_access(
        &self,
        key: &TokenKey,
        rec: &AccessRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether the access token whose key is `key` is live (recorded, not
    /// expired or revoked).
    fn is_access_live(
        &self,
        sub: &str,
        key: &TokenKey,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes one access token's record; true if it was live. Then (in
    /// the same atomic step) publishes `{sub, jti, exp}` on the feed.
    fn revoke_access(
        &self,
        key: &TokenKey,
        token: RevokedToken<'_>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Creates a session with its refresh digest and first access token.
    /// Returns the sessions revoked to keep the user under the cap.
    fn create_session(
        &self,
        new: NewSession<'_>,
    ) -> impl Future<Output = Result<Vec<Sid>, StoreError>> + Send;

    /// A live session, with its current and recent refresh digests.
    fn get_session(
        &self,
        sub: &str,
        sid: &Sid,
    ) -> impl Future<Output = Result<Option<SessionRecord>, StoreError>> + Send;

    /// Swaps the refresh digest atomically; reuse of an old digest revokes
    /// the whole family.
    fn rotate(
        &self,
        rotation: Rotation<'_>,
    ) -> impl Future<Output = Result<RotateReport, StoreError>> + Send;

    /// Records an access token as a member of the live session `sid` (so
    /// revoking the session revokes it), atomically with the check that
    /// the session still exists; `false` (and nothing written) when it is
    /// gone. `rec.exp` must not pass the session's end.
    fn add_family_access(
        &self,
        sid: &Sid,
        key: &TokenKey,
        rec: &AccessRecord,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes a session and every access token of it; true if it was live.
    fn revoke_family(
        &self,
        sub: &str,
        sid: &Sid,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes every token and session of a user at once, whatever their
    /// number (a generation raised; the records expire with their tokens);
    /// tokens issued afterwards are live. Answers what was live.
    fn revoke_user(
        &self,
        sub: &str,
    ) -> impl Future<Output = Result<UserRevocation, StoreError>> + Send;

    /// One page of the user's live sessions, earliest expiry first (ties
    /// by sid), starting after `after`; at most `size` of them.
    fn list_sessions(
        &self,
        sub: &str,
        now: i64,
        after: Option<SessionCursor>,
        size: PageSize,
    ) -> impl Future<Output = Result<SessionPage, StoreError>> + Send;

    /// Remembers a DPoP proof for `ttl_secs` (RFC 9449 §11.1), under the
    /// user's slot; true the first time, false when it was seen before
    /// and has not expired (a replay). Revoking the user's tokens keeps it.
    fn remember_proof(
        &self,
        sub: &str,
        proof: &ProofKey,
        ttl_secs: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// `is_access_live` and `remember_proof` in one round trip (a
    /// pipeline in the user's slot): (token live, proof new). The proof is
    /// remembered whether or not the token is live.
    fn access_live_with_proof(
        &self,
        sub: &str,
        key: &TokenKey,
        proof: &ProofKey,
        ttl_secs: u64,
    ) -> impl Future<Output = Result<(bool, bool), StoreError>> + Send;

    /// Whether the backend answers.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Revocation events from a position (see [`FeedRead`]).
    fn read_feed(
        &self,
        read: FeedRead,
    ) -> impl Future<Output = Result<FeedPage, StoreError>> + Send;
}

/// The configured store; static dispatch over the implementations.
#[derive(Clone)]
pub enum Store {
    Memory(MemoryStore),
    Redis(RedisStore),
}

impl Store {
    /// Redis when `redis` names one (in any mode), else the in-memory store
    /// (which configuration validation refuses in prod).
    pub fn from_settings(redis: &RedisSettings) -> Result<Store, StoreError> {
        if redis.is_configured() {
            Ok(Store::Redis(RedisStore::from_settings(redis)?))
        } else {
            log::warn!(
                "no redis.url configured: using the in-memory store (dev only; tokens do not survive a restart)"
            );
            Ok(Store::Memory(MemoryStore::new()))
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        }
    }

    /// Releases the backend's connections (on shutdown).
    pub fn close(&self) {
        if let Store::Redis(r) = self {
            r.close();
        }
    }

    /// Connection pool figures (size, available, waiting), Redis only.
    pub fn pool_status(&self) -> Option<(usize, usize, usize)> {
        match self {
            Store::Memory(_) => None,
            Store::Redis(r) => Some(r.pool_status()),
        }
    }

    /// This store, recording Redis call latencies into `metrics`.
    pub fn with_metrics(&self, metrics: &Metrics) -> Self {
        match self {
            Store::Memory(m) => Store::Memory(m.clone()),
            Store::Redis(r) => Store::Redis(r.with_metrics(metrics)),
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Store::Memory($s) => $call.await,
            Store::Redis($s) => $call.await,
        }
    };
}

impl TokenStore for Store {
    async fn put_access(&self, key: &TokenKey, rec: &AccessRecord) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_access(key, rec))
    }
    async fn is_access_live(&self, sub: &str, key: &TokenKey) -> Result<bool, StoreError> {
        dispatch!(self, s => s.is_access_live(sub, key))
    }
    async fn revoke_access(
        &self,
        key: &TokenKey,
        token: RevokedToken<'_>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.revoke_access(key, token))
    }
    async fn create_session(&self, new: NewSession<'_>) -> Result<Vec<Sid>, StoreError> {
        dispatch!(self, s => s.create_session(new))
    }
    async fn get_session(&self, sub: &str, sid: &Sid) -> Result<Option<SessionRecord>, StoreError> {
        dispatch!(self, s => s.get_session(sub, sid))
    }
    async fn rotate(&self, rotation: Rotation<'_>) -> Result<RotateReport, StoreError> {
        dispatch!(self, s => s.rotate(rotation))
    }
    async fn add_family_access(
        &self,
        sid: &Sid,
        key: &TokenKey,
        rec: &AccessRecord,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.add_family_access(sid, key, rec))
    }
    async fn revoke_family(&self, sub: &str, sid: &Sid) -> Result<bool, StoreError> {
        dispatch!(self, s => s.revoke_family(sub, sid))
    }
    async fn revoke_user(&self, sub: &str) -> Result<UserRevocation, StoreError> {
        dispatch!(self, s => s.revoke_user(sub))
    }
    async fn list_sessions(
        &self,
        sub: &str,
        now: i64,
        after: Option<SessionCursor>,
        size: PageSize,
    ) -> Result<SessionPage, StoreError> {
        dispatch!(self, s => s.list_sessions(sub, now, after, size))
    }
    async fn remember_proof(
        &self,
        sub: &str,
        proof: &ProofKey,
        ttl_secs: u64,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.remember_proof(sub, proof, ttl_secs))
    }
    async fn access_live_with_proof(
        &self,
        sub: &str,
        key: &TokenKey,
        proof: &ProofKey,
        ttl: u64,
    ) -> Result<(bool, bool), StoreError> {
        dispatch!(self, s => s.access_live_with_proof(sub, key, proof, ttl))
    }
    async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping())
    }
    async fn read_feed(&self, read: FeedRead) -> Result<FeedPage, StoreError> {
        dispatch!(self, s => s.read_feed(read))
    }
}

/// How many superseded refresh digests a session remembers for reuse
/// detection (older ones are merely unknown).
pub const REMEMBERED_DIGESTS: usize = 8;

/// Current Unix time in milliseconds.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::RefreshGrace;

    #[test]
    fn a_zero_window_allows_no_retry_whatever_the_bound() {
        assert_eq!(RefreshGrace::new(0, 3).max_retries, 0);
        let grace = RefreshGrace::new(10, 3);
        assert_eq!((grace.window_ms, grace.max_retries), (10_000, 3));
    }
}
