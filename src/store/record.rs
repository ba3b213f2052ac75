//! The records a store keeps, and their compact encoding. No record ever
//! holds token text: refresh tokens appear only as SHA-256 digests.

use subtle::ConstantTimeEq;

use super::StoreError;
use crate::domain::{RefreshDigest, RotationSeed, Sid};

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A new access token as the service describes it to the store. The
/// store keeps only what verify needs that the signed token does not
/// already prove: that these exact token bytes are live. Its key
/// (`{sub}:at:<key22>`, a digest of the compact token: `domain::TokenKey`)
/// and TTL (until `exp`) say it all; sub, sid, client, scope, aud and
/// claims are in the verified token itself, and a token with any other
/// bytes (one forged with a leaked key for the same sub and jti) has
/// another key, so it never meets this record.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessRecord {
    pub sub: String,
    pub client_id: String,
    pub sid: Sid,
    pub scope: String,
    pub aud: String,
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Expiry, Unix seconds; the store's TTL ends with it.
    pub exp: i64,
}

impl AccessRecord {
    /// Whether a record's value (`record`, `None` when the key is gone)
    /// is live under the user's generation (`generation`, `None` = 1): it
    /// was written under the current one, not before a logout everywhere.
    pub fn is_live(record: Option<&str>, generation: Option<&str>) -> Result<bool, StoreError> {
        let Some(record) = record else {
            return Ok(false);
        };
        let parse = |v: &str| {
            v.parse::<u64>().map_err(|_| {
                StoreError::Backend("corrupt access record or generation (not a number)".into())
            })
        };
        Ok(parse(record)? >= parse(generation.unwrap_or(LIVE))?)
    }
}

/// The value of a live access-token key written before any logout
/// everywhere of its user: generation 1. Every generation is a small
/// integer, one of Redis's shared integers (below 10,000), so the value
/// costs no memory of its own.
pub const LIVE: &str = "1";

/// Bytes of a superseded refresh token's digest a session remembers: 128
/// bits, as hard to hit as the whole digest for anyone without the token
/// (a match only ever revokes the session: a retry also needs the full
/// successor digest), and eight of them fit two hash values of 64 bytes,
/// which keeps the hash in Redis's compact encoding (docs/http-api.md).
pub const REMEMBERED_PREFIX: usize = 16;

/// The remembered form of a digest: its first [`REMEMBERED_PREFIX`] bytes, hex.
pub fn remembered(digest: &RefreshDigest) -> String {
    crate::domain::hex::to_hex(&digest.0[..REMEMBERED_PREFIX])
}

/// A session (refresh family): what a refresh needs to mint the next pair.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub sid: Sid,
    pub sub: String,
    pub client_id: String,
    pub scope: String,
    pub aud: String,
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Unix seconds.
    pub created: i64,
    pub refreshed: i64,
    pub exp: i64,
    /// Hex SHA-256 of the current refresh token.
    pub refresh: String,
    /// The first [`REMEMBERED_PREFIX`] bytes (hex) of the SHA-256 of
    /// recently superseded refresh tokens, newest first (reuse detection).
    pub previous: Vec<String>,
    /// Derives each refresh token from the one it replaces; `None` in a
    /// session written before seeds existed (its retries are not recognised).
    pub seed: Option<RotationSeed>,
}

impl SessionRecord {
    /// Whether `digest` is this session's current refresh token (compared
    /// in constant time).
    pub fn is_current(&self, digest: &RefreshDigest) -> bool {
        ct_eq(&self.refresh, &digest.to_hex())
    }

    /// Whether `digest` is the current or a recently superseded refresh
    /// token of this session.
    pub fn knows(&self, digest: &RefreshDigest) -> bool {
        let hex = digest.to_hex();
        let prefix = &hex[..REMEMBERED_PREFIX * 2];
        ct_eq(&self.refresh, &hex) || self.previous.iter().any(|p| ct_eq(p, prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_below_the_generation_is_dead() {
        assert!(!AccessRecord::is_live(None, None).unwrap());
        assert!(AccessRecord::is_live(Some("1"), None).unwrap());
        assert!(!AccessRecord::is_live(Some("1"), Some("2")).unwrap());
        assert!(AccessRecord::is_live(Some("2"), Some("2")).unwrap());
        assert!(AccessRecord::is_live(Some("3"), Some("2")).unwrap());
        assert!(AccessRecord::is_live(Some("x"), None).is_err());
    }
}
