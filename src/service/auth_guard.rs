//! Failed client authentications, limited before any Argon2 work.
//!
//! Two `governor` budgets count *failures* only (a success costs nothing):
//! one per source address and one per claimed client id.
//!
//! - A source whose failure overdraws its budget (`burst` failures pass,
//!   the next one overdraws) is refused (429) until its bucket has room
//!   again, whatever id it claims.
//! - A claimed id over its budget (many sources guessing one client's
//!   secret) refuses only the sources that have themselves failed within
//!   the last `recent` window. A source that never failed is still
//!   checked, so knowing a client id is not enough to lock that client out;
//!   a distributed guesser gets about one guess per address per window.
//!
//! Memory is bounded: past `MAX_TRACKED_KEYS` keys, idle ones are dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::RateLimitSettings;

/// Keys remembered before idle ones are dropped (bounds the memory).
const MAX_TRACKED_KEYS: usize = 10_000;

/// Longest client id kept as a key (longer claims are cut).
const MAX_ID_KEY: usize = 64;

/// What the guard says before a check.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Gate {
    Open,
    /// Refused; retry after this many seconds.
    Closed(u64),
}

pub(super) struct AuthGuard {
    per_source: DefaultKeyedRateLimiter<IpAddr>,
    per_id: DefaultKeyedRateLimiter<String>,
    /// Per source: until when it is refused, and when it last failed.
    sources: Mutex<HashMap<IpAddr, SourceState>>,
    /// Per claimed id: until when failed sources are refused for it.
    ids: Mutex<HashMap<String, Instant>>,
    recent: Duration,
    clock: DefaultClock,
}

#[derive(Clone, Copy)]
struct SourceState {
    blocked_until: Option<Instant>,
    last_failure: Instant,
}

/// `per_min` failures a minute sustained, `burst` at once.
fn quota(per_min: u32, burst: u32) -> Quota {
    let per_min = NonZeroU32::new(per_min).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_min).allow_burst(burst)
}

fn id_key(id: &str) -> String {
    id.chars().take(MAX_ID_KEY).collect()
}

fn secs_until(until: Instant, now: Instant) -> u64 {
    let wait = until.saturating_duration_since(now);
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl AuthGuard {
    /// `None` when rate limits are off.
    pub(super) fn from_settings(s: &RateLimitSettings) -> Option<Self> {
        s.enabled.then(|| AuthGuard {
            per_source: DefaultKeyedRateLimiter::keyed(quota(
                s.failed_auth_per_ip_per_min,
                s.failed_auth_per_ip_burst,
            )),
            per_id: DefaultKeyedRateLimiter::keyed(quota(
                s.failed_auth_per_client_per_min,
                s.failed_auth_per_client_burst,
            )),
            sources: Mutex::new(HashMap::new()),
            ids: Mutex::new(HashMap::new()),
            recent: Duration::from_secs(s.failed_auth_recent_secs),
            clock: DefaultClock::default(),
        })
    }

    /// Whether `source` may have a credential for `id` checked now.
    pub(super) fn gate(&self, source: IpAddr, id: &str) -> Gate {
        let now = Instant::now();
        let state = self.sources_map().get(&source).copied();
        let Some(state) = state else {
            return Gate::Open;
        };
        if let Some(until) = state.blocked_until
            && until > now
        {
            return Gate::Closed(secs_until(until, now));
        }
        let failed_recently = now.duration_since(state.last_failure) < self.recent;
        let id_until = self.ids_map().get(&id_key(id)).copied();
        match id_until {
            Some(until) if failed_recently && until > now => Gate::Closed(secs_until(until, now)),
            _ => Gate::Open,
        }
    }

    /// Counts one failed check of `source` claiming `id`.
    pub(super) fn failed(&self, source: IpAddr, id: &str) {
        let now = Instant::now();
        let blocked_until = self.spend(&self.per_source, &source, now);
        {
            let mut sources = self.sources_map();
            if sources.len() > MAX_TRACKED_KEYS {
                let recent = self.recent;
                sources.retain(|_, s| {
                    now.duration_since(s.last_failure) < recent
                        || s.blocked_until.is_some_and(|u| u > now)
                });
                self.per_source.retain_recent();
            }
            sources.insert(
                source,
                SourceState {
                    blocked_until,
                    last_failure: now,
                },
            );
        }
        let key = id_key(id);
        if let Some(until) = self.spend(&self.per_id, &key, now) {
            let mut ids = self.ids_map();
            if ids.len() > MAX_TRACKED_KEYS {
                ids.retain(|_, u| *u > now);
                self.per_id.retain_recent();
            }
            ids.insert(key, until);
        }
    }

    /// Spends one failure from `key`'s budget; when there was none left,
    /// the instant it has room again (the caller refuses until then).
    fn spend<K: Clone + std::hash::Hash + Eq>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
        now: Instant,
    ) -> Option<Instant> {
        if limiter.len() > MAX_TRACKED_KEYS {
            limiter.retain_recent();
        }
        limiter
            .check_key(key)
            .err()
            .map(|not_until| now + not_until.wait_time_from(self.clock.now()))
    }

    fn sources_map(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, SourceState>> {
        self.sources.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ids_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
