//! What the revocation feed has taught a local verifier: revoked token ids,
//! sessions and users, each kept until no token it names can still be
//! live, then dropped.

use std::collections::HashMap;

use serde::Deserialize;

use crate::Claims;

/// How long a session event without `exp`, or a user event, is kept
/// (Unix s): the feed's own retention (the longest token life plus an hour).
pub const KEEP_WITHOUT_EXPIRY_SECS: i64 = 25 * 3600;

/// One revocation event's data (the `data` of `token`, `session` and
/// `user` events).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Revocation {
    /// One token, until its `exp` (Unix s).
    Token { sub: String, jti: String, exp: i64 },
    /// Every token of session `sid`, until `exp` (Unix s) when known.
    Session {
        sub: String,
        sid: String,
        #[serde(default)]
        exp: Option<i64>,
    },
    /// Every token of `sub` issued before `before` (Unix ms).
    User { sub: String, before: i64 },
}

/// The deny-list. Entries carry the Unix second after which they can go.
#[derive(Debug, Default)]
pub struct DenyList {
    tokens: HashMap<String, i64>,
    sessions: HashMap<String, i64>,
    /// sub -> (before, Unix ms; keep until, Unix s)
    users: HashMap<String, (i64, i64)>,
    /// Extra seconds an entry outlives the `exp` it names: the verifier's
    /// leeway accepts a token a little past its `exp`.
    margin_secs: i64,
}

impl DenyList {
    /// An empty list whose entries outlive their `exp` by `margin_secs`.
    pub fn new(margin_secs: i64) -> Self {
        DenyList {
            margin_secs,
            ..DenyList::default()
        }
    }

    /// Records `event`, received at `now` (Unix s).
    pub fn apply(&mut self, event: Revocation, now: i64) {
        match event {
            Revocation::Token { jti, exp, .. } => {
                self.tokens
                    .insert(jti, exp.saturating_add(self.margin_secs));
            }
            Revocation::Session { sid, exp, .. } => {
                let until = exp.map_or(now + KEEP_WITHOUT_EXPIRY_SECS, |e| {
                    e.saturating_add(self.margin_secs)
                });
                let entry = self.sessions.entry(sid).or_insert(until);
                *entry = (*entry).max(until);
            }
            Revocation::User { sub, before } => {
                let until = now + KEEP_WITHOUT_EXPIRY_SECS;
                let entry = self.users.entry(sub).or_insert((before, until));
                *entry = (entry.0.max(before), until);
            }
        }
    }

    /// Whether the feed revoked the token with these claims.
    pub fn denies(&self, claims: &Claims) -> bool {
        self.tokens.contains_key(&claims.jti)
            || self.sessions.contains_key(&claims.sid)
            || self
                .users
                .get(&claims.sub)
                .is_some_and(|&(before, _)| claims.iat.saturating_mul(1000) < before)
    }

    /// Drops the entries that can no longer match a live token.
    pub fn prune(&mut self, now: i64) {
        self.tokens.retain(|_, until| *until >= now);
        self.sessions.retain(|_, until| *until >= now);
        self.users.retain(|_, (_, until)| *until >= now);
    }

    /// Forgets everything (a `reset` event: the history follows).
    pub fn clear(&mut self) {
        self.tokens.clear();
        self.sessions.clear();
        self.users.clear();
    }

    /// Entries held (tokens, sessions, users).
    pub fn len(&self) -> usize {
        self.tokens.len() + self.sessions.len() + self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str, jti: &str, sid: &str, iat: i64) -> Claims {
        serde_json::from_value(serde_json::json!({
            "iss": "i", "sub": sub, "aud": "a", "exp": iat + 900, "iat": iat, "nbf": iat,
            "jti": jti, "client_id": "c", "sid": sid
        }))
        .unwrap()
    }

    #[test]
    fn each_kind_of_event_denies_what_it_names_and_nothing_else() {
        let mut d = DenyList::new(0);
        let now = 1_000_000;
        d.apply(
            serde_json::from_str(r#"{"type":"token","sub":"a","jti":"j1","exp":1000900}"#).unwrap(),
            now,
        );
        d.apply(
            serde_json::from_str(r#"{"type":"session","sub":"b","sid":"s1"}"#).unwrap(),
            now,
        );
        d.apply(
            serde_json::from_str(r#"{"type":"user","sub":"c","before":1000000500}"#).unwrap(),
            now,
        );
        assert!(d.denies(&claims("a", "j1", "x", now)));
        assert!(!d.denies(&claims("a", "j2", "x", now)));
        assert!(d.denies(&claims("z", "j3", "s1", now)));
        // user: issued before `before` (ms) is denied, at or after it is not
        assert!(d.denies(&claims("c", "j4", "x", 1_000_000)));
        assert!(!d.denies(&claims("c", "j5", "x", 1_000_001)));
        assert!(!d.denies(&claims("d", "j6", "x", 1_000_000)));
    }

    #[test]
    fn entries_expire_after_what_they_name_ends() {
        let mut d = DenyList::new(30);
        let now = 1_000_000;
        d.apply(
            Revocation::Token {
                sub: "a".into(),
                jti: "j".into(),
                exp: now + 100,
            },
            now,
        );
        d.apply(
            Revocation::Session {
                sub: "a".into(),
                sid: "s".into(),
                exp: None,
            },
            now,
        );
        d.apply(
            Revocation::User {
                sub: "u".into(),
                before: now * 1000,
            },
            now,
        );
        d.prune(now + 130); // exp + margin: still kept
        assert_eq!(d.len(), 3);
        d.prune(now + 131);
        assert_eq!(d.len(), 2, "the token entry goes after exp + margin");
        d.prune(now + KEEP_WITHOUT_EXPIRY_SECS);
        assert_eq!(d.len(), 2);
        d.prune(now + KEEP_WITHOUT_EXPIRY_SECS + 1);
        assert!(d.is_empty(), "session without exp and user: 25 h");
    }

    #[test]
    fn a_later_user_event_moves_before_forward_only() {
        let mut d = DenyList::new(0);
        d.apply(
            Revocation::User {
                sub: "u".into(),
                before: 5000,
            },
            0,
        );
        d.apply(
            Revocation::User {
                sub: "u".into(),
                before: 3000,
            },
            0,
        );
        assert!(d.denies(&claims("u", "j", "s", 4)));
    }
}
