//! A refresh token's rotation as the store sees it: what is swapped, the
//! grace rule for a retried refresh, and what the rotation did.

use super::{AccessRecord, StoreError};
use crate::domain::{RefreshDigest, Sid, TokenKey};

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The presented token was current; the new one replaces it.
    Rotated,
    /// The presented token is the one the last rotation replaced, presented
    /// again inside the grace window with that rotation's successor: a
    /// retry. The successor stays current; a new access token joins.
    Retried,
    /// The presented token was already rotated: the family is revoked.
    Reused,
    /// No such session, or a token it never issued.
    Unknown,
}

/// Whether replicas confirmed a committed write (`redis.wait_replicas`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replication {
    /// Confirmed by the replicas asked for, or none were asked for.
    Confirmed,
    /// The write stands on the primary, but fewer replicas confirmed it
    /// in time (a failover now could lose it); says how many, or why not.
    Short(String),
}

impl Replication {
    /// A revocation must be confirmed: a shortfall is unavailable (the
    /// caller retries; revoking again is harmless).
    pub fn required(self) -> Result<(), StoreError> {
        match self {
            Replication::Confirmed => Ok(()),
            Replication::Short(why) => Err(StoreError::Unavailable(
                format!("revocation not confirmed by replicas: {why}").into(),
            )),
        }
    }
}

/// A rotation's outcome, and whether replicas confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotateReport {
    pub outcome: RotateOutcome,
    pub replication: Replication,
}

/// One refresh: the presented digest is swapped for a new one atomically,
/// and a new access token joins the family.
pub struct Rotation<'a> {
    pub sub: &'a str,
    pub sid: &'a Sid,
    pub presented: &'a RefreshDigest,
    pub next: &'a RefreshDigest,
    /// The new access token's record key.
    pub key: &'a TokenKey,
    pub access: &'a AccessRecord,
    pub now: i64,
    pub grace: RefreshGrace,
}

/// How long after a rotation, and how often, the token it replaced may be
/// presented again as a retry (see [`RotateOutcome::Retried`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshGrace {
    /// Milliseconds after a rotation; 0 turns retries off.
    pub window_ms: i64,
    /// Retries accepted per rotation; one more is reuse.
    pub max_retries: u32,
}

impl RefreshGrace {
    /// The policy of `tokens.refresh_grace_secs` and `_retries`. A zero
    /// window allows no retry at all: instances' clocks differ by a few
    /// milliseconds, and "before the deadline" must not survive that.
    pub fn new(window_secs: u64, max_retries: u32) -> Self {
        let window_ms = i64::try_from(window_secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        RefreshGrace {
            window_ms,
            max_retries: if window_ms == 0 { 0 } else { max_retries },
        }
    }
}
