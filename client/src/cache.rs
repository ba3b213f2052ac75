//! Tokens already verified, keyed by their exact text, until their `exp`
//! (plus the leeway): a token seen before costs one map look-up instead of
//! a signature check. Bounded: when full, expired entries go first; if it
//! is still full, the new token is simply not remembered.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::Claims;

/// Token text -> (claims, usable until (Unix s), key-set generation).
type Entries = HashMap<Box<str>, (Arc<Claims>, i64, u64)>;

pub(crate) struct VerifiedCache {
    map: RwLock<Entries>,
    capacity: usize,
}

impl VerifiedCache {
    pub fn new(capacity: usize) -> Self {
        VerifiedCache {
            map: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// The claims of `token` if it was verified under key-set `generation`
    /// and is usable until a second at or after `now` (Unix s).
    pub fn get(&self, token: &str, now: i64, generation: u64) -> Option<Arc<Claims>> {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        match map.get(token) {
            Some((claims, until, g)) if *until >= now && *g == generation => Some(claims.clone()),
            _ => None,
        }
    }

    /// Remembers `token`'s claims until `until` (Unix s), verified under
    /// key-set `generation`.
    pub fn insert(&self, token: &str, claims: Arc<Claims>, until: i64, now: i64, generation: u64) {
        if self.capacity == 0 {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= self.capacity {
            map.retain(|_, (_, u, _)| *u >= now);
            if map.len() >= self.capacity {
                return;
            }
        }
        map.insert(token.into(), (claims, until, generation));
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Arc<Claims> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "iss": "i", "sub": "u", "aud": "a", "exp": 2, "iat": 1,
                "jti": "j", "client_id": "c", "sid": "s"
            }))
            .unwrap(),
        )
    }

    #[test]
    fn entries_live_until_their_deadline_and_the_size_is_bounded() {
        let cache = VerifiedCache::new(2);
        cache.insert("a", claims(), 100, 0, 0);
        cache.insert("b", claims(), 50, 0, 0);
        cache.insert("c", claims(), 100, 0, 0); // full, nothing expired: not kept
        assert_eq!(cache.len(), 2);
        assert!(cache.get("c", 0, 0).is_none());
        assert!(cache.get("b", 50, 0).is_some());
        assert!(cache.get("b", 51, 0).is_none());
        cache.insert("c", claims(), 100, 60, 0); // "b" expired: makes room
        assert!(cache.get("c", 60, 0).is_some());
        assert_eq!(cache.len(), 2);
        // A key dropped from the JWKS since: checked again.
        assert!(cache.get("c", 60, 1).is_none());
    }
}
