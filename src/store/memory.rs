//! The embedded store: the Redis semantics in one process, for `dev` and
//! tests. Every operation holds one lock, so each is atomic like the Redis
//! scripts; expiry is real (checked on read, swept on write).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::feed::{FeedPage, FeedRead};
use super::memory_feed::MemoryFeed;
use super::{
    AccessRecord, NewSession, REMEMBERED_DIGESTS, Replication, RevokedToken, RotateOutcome,
    RotateReport, Rotation, SessionPage, SessionRecord, StoreError, TokenStore, UserRevocation,
    now_ms, remembered,
};
use crate::domain::{PageSize, ProofKey, Revocation, SessionCursor, Sid, TokenKey};

/// Writes between two sweeps of every user's expired entries.
const SWEEP_EVERY: u64 = 4096;

#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    users: Mutex<HashMap<String, User>>,
    writes: AtomicU64,
    feed: MemoryFeed,
}

#[derive(Default)]
struct User {
    /// Every live access token of the user, with or without a family.
    access: HashMap<TokenKey, AccessRecord>,
    sessions: HashMap<Sid, Family>,
    /// DPoP proofs seen, with the end of their memory (ms).
    proofs: HashMap<ProofKey, i64>,
    /// Revocations of the current write, published before its lock goes.
    outbox: Vec<Revocation>,
}

struct Family {
    rec: SessionRecord,
    /// Record keys of the family's access tokens.
    keys: Vec<TokenKey>,
    /// Creation order, to break ties between equal expiries.
    seq: u64,
    /// The list position (expiry ms as Redis's index scores it).
    score: i64,
    /// Until when (ms) the last rotation's predecessor may be retried.
    grace_until: i64,
    /// Retries of the last rotation so far.
    retries: u32,
}

fn live(exp_secs: i64, now_ms: i64) -> bool {
    exp_secs.saturating_mul(1000) > now_ms
}

impl User {
    fn sweep(&mut self, now: i64) {
        self.access.retain(|_, r| live(r.exp, now));
        self.sessions.retain(|_, f| live(f.rec.exp, now));
        self.proofs.retain(|_, until| *until > now);
    }

    fn is_empty(&self) -> bool {
        self.access.is_empty() && self.sessions.is_empty() && self.proofs.is_empty()
    }

    fn remove_family(&mut self, sid: &Sid, now: i64) -> bool {
        match self.sessions.remove(sid) {
            Some(family) => {
                for key in &family.keys {
                    self.access.remove(key);
                }
                let was_live = live(family.rec.exp, now);
                if was_live {
                    self.outbox.push(Revocation::Session {
                        sub: family.rec.sub,
                        sid: sid.to_string(),
                        exp: Some(family.rec.exp),
                    });
                }
                was_live
            }
            None => false,
        }
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn users(&self) -> Result<MutexGuard<'_, HashMap<String, User>>, StoreError> {
        self.inner
            .users
            .lock()
            .map_err(|_| StoreError::Backend("memory store lock poisoned".into()))
    }

    /// Runs `f` on the user's entry after sweeping it; drops empty users.
    fn write<T>(
        &self,
        sub: &str,
        f: impl FnOnce(&mut User, i64, u64) -> T,
    ) -> Result<T, StoreError> {
        let now = now_ms();
        let mut users = self.users()?;
        let seq = self.inner.writes.fetch_add(1, Ordering::Relaxed);
        if seq % SWEEP_EVERY == SWEEP_EVERY - 1 {
            users.retain(|_, u| {
                u.sweep(now);
                !u.is_empty()
            });
        }
        let user = users.entry(sub.to_owned()).or_default();
        user.sweep(now);
        let out = f(user, now, seq);
        for revocation in user.outbox.drain(..) {
            self.inner.feed.publish(revocation)?;
        }
        if user.is_empty() {
            users.remove(sub);
        }
        Ok(out)
    }

    fn read<T>(&self, sub: &str, f: impl FnOnce(&User, i64) -> T) -> Result<Option<T>, StoreError> {
        let now = now_ms();
        let users = self.users()?;
        Ok(users.get(sub).map(|u| f(u, now)))
    }
}

impl TokenStore for MemoryStore {
    async fn put_access(&self, key: &TokenKey, rec: &AccessRecord) -> Result<(), StoreError> {
        self.write(&rec.sub, |user, _, _| {
            user.access.insert(*key, rec.clone());
        })
    }

    async fn is_access_live(&self, sub: &str, key: &TokenKey) -> Result<bool, StoreError> {
        Ok(self
            .read(sub, |user, now| {
                user.access.get(key).is_some_and(|r| live(r.exp, now))
            })?
            .unwrap_or(false))
    }

    async fn revoke_access(&self, key: &TokenKey, t: RevokedToken<'_>) -> Result<bool, StoreError> {
        self.write(t.sub, |user, _, _| {
            let live = user.access.remove(key).is_some();
            if live {
                user.outbox.push(Revocation::Token {
                    sub: t.sub.to_owned(),
                    jti: t.jti.to_owned(),
                    exp: t.exp,
                });
            }
            live
        })
    }

    async fn create_session(&self, new: NewSession<'_>) -> Result<Vec<Sid>, StoreError> {
        let session = new.session;
        self.write(&session.sub, |user, now, seq| {
            user.access.insert(*new.first_key, new.first_access.clone());
            let mut rec = session.clone();
            rec.refresh = new.refresh.to_hex();
            user.sessions.insert(
                session.sid,
                Family {
                    rec,
                    keys: vec![*new.first_key],
                    seq,
                    score: now + (session.exp - session.created).max(1).saturating_mul(1000),
                    grace_until: 0,
                    retries: 0,
                },
            );
            // The earliest-expiring *other* sessions go: the new one may
            // expire first, and evicting it would hand out dead tokens.
            let mut evicted = Vec::new();
            while user.sessions.len() > new.max_sessions {
                let oldest = user
                    .sessions
                    .values()
                    .filter(|f| f.rec.sid != session.sid)
                    .min_by_key(|f| (f.rec.exp, f.seq))
                    .map(|f| f.rec.sid);
                let Some(sid) = oldest else { break };
                user.remove_family(&sid, now);
                evicted.push(sid);
            }
            evicted
        })
    }

    async fn get_session(&self, sub: &str, sid: &Sid) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self
            .read(sub, |user, now| {
                user.sessions
                    .get(sid)
                    .filter(|f| live(f.rec.exp, now))
                    .map(|f| f.rec.clone())
            })?
            .flatten())
    }

    async fn rotate(&self, r: Rotation<'_>) -> Result<RotateReport, StoreError> {
        let presented = r.presented.to_hex();
        let next = r.next.to_hex();
        let mark = remembered(r.presented);
        let outcome = self.write(r.sub, |user, now, _| {
            let Some(family) = user.sessions.get_mut(r.sid) else {
                return RotateOutcome::Unknown;
            };
            let outcome = if family.rec.refresh == presented {
                family.rec.refresh = next;
                family.rec.previous.insert(0, mark);
                family.rec.previous.truncate(REMEMBERED_DIGESTS);
                family.rec.refreshed = r.now;
                family.grace_until = now + r.grace.window_ms;
                family.retries = 0;
                RotateOutcome::Rotated
            } else if family.rec.previous.first() == Some(&mark)
                && family.rec.refresh == next
                && now < family.grace_until
                && family.retries < r.grace.max_retries
            {
                family.retries += 1;
                RotateOutcome::Retried
            } else if family.rec.previous.contains(&mark) {
                user.remove_family(r.sid, now);
                return RotateOutcome::Reused;
            } else {
                return RotateOutcome::Unknown;
            };
            family.keys.push(*r.key);
            let access = &user.access;
            family.keys.retain(|k| access.contains_key(k) || k == r.key);
            user.access.insert(*r.key, r.access.clone());
            outcome
        })?;
        Ok(RotateReport {
            outcome,
            replication: Replication::Confirmed,
        })
    }

    async fn add_family_access(
        &self,
        sid: &Sid,
        key: &TokenKey,
        rec: &AccessRecord,
    ) -> Result<bool, StoreError> {
        self.write(&rec.sub, |user, _, _| {
            let Some(family) = user.sessions.get_mut(sid) else {
                return false;
            };
            family.keys.push(*key);
            user.access.insert(*key, rec.clone());
            true
        })
    }

    async fn revoke_family(&self, sub: &str, sid: &Sid) -> Result<bool, StoreError> {
        self.write(sub, |user, now, _| user.remove_family(sid, now))
    }

    async fn revoke_user(&self, sub: &str) -> Result<UserRevocation, StoreError> {
        self.write(sub, |user, now, _| {
            let in_family: std::collections::HashSet<TokenKey> = user
                .sessions
                .values()
                .flat_map(|f| f.keys.iter().copied())
                .collect();
            let standalone = user
                .access
                .keys()
                .filter(|k| !in_family.contains(*k))
                .count();
            let sids: Vec<Sid> = user.sessions.keys().copied().collect();
            let ended = sids
                .iter()
                .filter(|sid| user.remove_family(sid, now))
                .count();
            user.access.clear();
            // One event covers the sessions too, as on Redis.
            user.outbox.clear();
            user.outbox.push(Revocation::User {
                sub: sub.to_owned(),
                before: now,
            });
            UserRevocation {
                sessions: ended as u64,
                standalone_access_tokens: standalone as u64,
            }
        })
    }

    async fn list_sessions(
        &self,
        sub: &str,
        now: i64,
        after: Option<SessionCursor>,
        size: PageSize,
    ) -> Result<SessionPage, StoreError> {
        let now_ms = now.saturating_mul(1000);
        // The Redis index's order: score, then the sid's text.
        let position = |score: i64, sid: &Sid| (score, sid.to_string());
        let start = after.map(|c| position(c.score, &c.sid));
        let mut list: Vec<((i64, String), SessionRecord)> = self
            .read(sub, |user, _| {
                user.sessions
                    .values()
                    .filter(|f| live(f.rec.exp, now_ms) && f.score > now_ms)
                    .map(|f| (position(f.score, &f.rec.sid), f.rec.clone()))
                    .filter(|(p, _)| start.as_ref().is_none_or(|s| p > s))
                    .collect::<Vec<_>>()
            })?
            .unwrap_or_default();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        let more = list.len() > size.get();
        list.truncate(size.get());
        let next = match list.last() {
            Some(((score, _), rec)) if more => Some(SessionCursor {
                score: *score,
                sid: rec.sid,
            }),
            _ => None,
        };
        Ok(SessionPage {
            sessions: list.into_iter().map(|(_, s)| s).collect(),
            next,
        })
    }

    async fn remember_proof(
        &self,
        sub: &str,
        proof: &ProofKey,
        ttl_secs: u64,
    ) -> Result<bool, StoreError> {
        self.write(sub, |user, now, _| note_proof(user, proof, now, ttl_secs))
    }

    async fn access_live_with_proof(
        &self,
        sub: &str,
        key: &TokenKey,
        proof: &ProofKey,
        ttl_secs: u64,
    ) -> Result<(bool, bool), StoreError> {
        self.write(sub, |user, now, _| {
            let live = user.access.get(key).is_some_and(|r| live(r.exp, now));
            (live, note_proof(user, proof, now, ttl_secs))
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.users().map(|_| ())
    }

    async fn read_feed(&self, read: FeedRead) -> Result<FeedPage, StoreError> {
        self.inner.feed.read(read).await
    }
}

/// Remembers a proof until `now` + `ttl_secs`; false if it is there (the
/// sweep in `write` dropped an expired entry, so a present one is live).
fn note_proof(user: &mut User, proof: &ProofKey, now: i64, ttl_secs: u64) -> bool {
    let ttl_ms = i64::try_from(ttl_secs.max(1))
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    match user.proofs.entry(*proof) {
        std::collections::hash_map::Entry::Occupied(_) => false,
        std::collections::hash_map::Entry::Vacant(v) => {
            v.insert(now.saturating_add(ttl_ms));
            true
        }
    }
}
