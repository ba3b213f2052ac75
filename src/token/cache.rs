//! A bounded cache of access tokens whose signature and claims were
//! already checked, so a token seen again skips the Ed25519 verification
//! (~27 µs). Keyed by the SHA-256 digest of the token, never its text. An
//! entry never outlives the token's `exp` (nor its key's `verify_until`).
//! It only ever stands in for the signature check: the store record is
//! still read on every request, so revocation stays immediate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use sha2::{Digest, Sha256};

use crate::domain::AccessClaims;

/// Independent locks, so workers rarely wait on each other.
const SHARDS: usize = 16;

/// SHA-256 of a token: the only form in which the cache holds it.
pub type TokenDigest = [u8; 32];

struct Entry {
    claims: Arc<AccessClaims>,
    /// Unix milliseconds; the entry is dead from this instant.
    until_ms: i64,
}

pub struct VerifiedCache {
    shards: Box<[Mutex<HashMap<TokenDigest, Entry>>]>,
    per_shard: usize,
}

impl VerifiedCache {
    /// A cache of at most `capacity` tokens (0 turns it off).
    pub fn new(capacity: usize) -> Self {
        VerifiedCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    pub fn digest(token: &str) -> TokenDigest {
        Sha256::digest(token.as_bytes()).into()
    }

    fn shard(&self, d: &TokenDigest) -> MutexGuard<'_, HashMap<TokenDigest, Entry>> {
        // A poisoned shard only holds complete entries: keep using it.
        self.shards[d[0] as usize % SHARDS]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The checked claims of a token seen before, if its entry is alive at
    /// `now_ms`; a dead entry is removed.
    pub fn get(&self, d: &TokenDigest, now_ms: i64) -> Option<Arc<AccessClaims>> {
        if self.per_shard == 0 {
            return None;
        }
        let mut shard = self.shard(d);
        match shard.get(d) {
            Some(e) if e.until_ms > now_ms => Some(e.claims.clone()),
            Some(_) => {
                shard.remove(d);
                None
            }
            None => None,
        }
    }

    /// Remembers a checked token until `until_ms`. A full shard first drops
    /// one entry (an arbitrary one: the map's order is randomly seeded).
    pub fn insert(&self, d: TokenDigest, claims: Arc<AccessClaims>, until_ms: i64, now_ms: i64) {
        if self.per_shard == 0 || until_ms <= now_ms {
            return;
        }
        let mut shard = self.shard(&d);
        if shard.len() >= self.per_shard
            && !shard.contains_key(&d)
            && let Some(victim) = shard.keys().next().copied()
        {
            shard.remove(&victim);
        }
        shard.insert(d, Entry { claims, until_ms });
    }

    /// Entries held, dead or alive.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.len()))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(jti: &str) -> Arc<AccessClaims> {
        Arc::new(AccessClaims {
            iss: "i".into(),
            sub: "u".into(),
            aud: "a".into(),
            exp: 0,
            iat: 0,
            nbf: 0,
            jti: jti.into(),
            client_id: "c".into(),
            scope: String::new(),
            sid: "s".into(),
            extra: serde_json::Map::new(),
        })
    }

    #[test]
    fn an_entry_is_gone_at_its_deadline() {
        let cache = VerifiedCache::new(100);
        let d = VerifiedCache::digest("token");
        cache.insert(d, claims("j"), 2_000, 1_000);
        assert_eq!(cache.get(&d, 1_999).unwrap().jti, "j");
        assert!(cache.get(&d, 2_000).is_none());
        assert!(cache.is_empty(), "a dead entry is removed when met");
    }

    #[test]
    fn a_dead_entry_is_never_stored() {
        let cache = VerifiedCache::new(100);
        cache.insert(VerifiedCache::digest("t"), claims("j"), 1_000, 1_000);
        assert!(cache.is_empty());
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = VerifiedCache::new(64);
        for i in 0..10_000 {
            cache.insert(VerifiedCache::digest(&i.to_string()), claims("j"), 10, 0);
        }
        assert!(cache.len() <= 64, "{} entries", cache.len());
        assert!(cache.len() >= 32, "{} entries", cache.len());
    }

    #[test]
    fn capacity_zero_turns_it_off() {
        let cache = VerifiedCache::new(0);
        let d = VerifiedCache::digest("t");
        cache.insert(d, claims("j"), 10, 0);
        assert!(cache.get(&d, 1).is_none());
    }
}
