//! One Argon2id check per distinct credentials at a time. Requests that
//! present the same client id and secret (compared by SHA-256) while a
//! check of them runs wait for its answer instead of taking a hashing slot
//! of their own: a cold cache under a burst of identical requests (a
//! service starting with 64 requests in flight) costs one check, not 64
//! checks or a `503` from the bounded queue. The map holds digests, never
//! secrets, and only entries whose check is running.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

/// A client id, the SHA-256 of the presented secret, and the generation of
/// the client set checked against (a check under the clients before a
/// reload never answers for a request under the clients after it).
pub(super) type Key = (String, [u8; 32], u64);

#[derive(Default)]
pub(super) struct InFlight {
    checks: Mutex<HashMap<Key, watch::Receiver<Option<bool>>>>,
}

/// Who runs the check: the first request (the leader) or every later
/// one with the same key (followers, who wait for the leader's answer).
pub(super) enum Role<'a> {
    Leader(Lead<'a>),
    Follower(watch::Receiver<Option<bool>>),
}

/// The right and duty to publish a check's answer; dropping it unpublished
/// (a `503`, a cancelled request) lets the followers check for themselves.
pub(super) struct Lead<'a> {
    owner: &'a InFlight,
    key: Key,
    tx: watch::Sender<Option<bool>>,
}

impl InFlight {
    fn checks(&self) -> MutexGuard<'_, HashMap<Key, watch::Receiver<Option<bool>>>> {
        self.checks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Leads a check of `key`, or follows the one already running.
    pub(super) fn join(&self, key: Key) -> Role<'_> {
        let mut checks = self.checks();
        if let Some(rx) = checks.get(&key) {
            return Role::Follower(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        checks.insert(key.clone(), rx);
        Role::Leader(Lead {
            owner: self,
            key,
            tx,
        })
    }

    /// Checks running now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.checks().len()
    }
}

impl Lead<'_> {
    /// Publishes the answer to every follower.
    pub(super) fn finish(self, ok: bool) {
        self.tx.send_replace(Some(ok));
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        self.owner.checks().remove(&self.key);
    }
}

/// The leader's answer; `None` if it ended without one.
pub(super) async fn answer(mut rx: watch::Receiver<Option<bool>>) -> Option<bool> {
    rx.wait_for(Option::is_some).await.ok().and_then(|v| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> Key {
        (id.to_owned(), [7; 32], 0)
    }

    #[tokio::test]
    async fn followers_get_the_leaders_answer_and_the_entry_goes() {
        let flights = InFlight::default();
        let Role::Leader(lead) = flights.join(key("app")) else {
            panic!("the first request leads");
        };
        let Role::Follower(rx) = flights.join(key("app")) else {
            panic!("the same credentials follow");
        };
        assert!(matches!(flights.join(key("other")), Role::Leader(_)));
        lead.finish(true);
        assert_eq!(answer(rx).await, Some(true));
        assert_eq!(flights.len(), 0, "finished checks leave the map");
    }

    #[tokio::test]
    async fn a_leader_that_gives_up_leaves_followers_to_check_themselves() {
        let flights = InFlight::default();
        let lead = flights.join(key("app"));
        let Role::Follower(rx) = flights.join(key("app")) else {
            panic!("the same credentials follow");
        };
        drop(lead);
        assert_eq!(answer(rx).await, None);
        assert!(matches!(flights.join(key("app")), Role::Leader(_)));
    }
}
