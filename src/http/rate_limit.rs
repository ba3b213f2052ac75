//! Request rate limits (`rate_limit` in config.yaml): token buckets from the
//! `governor` crate, keyed by source IP (checked before any client
//! authentication, so a password-guessing peer is slowed before Argon2 runs)
//! and by client id (checked after authentication, so nobody can spend
//! another client's budget by sending its id with a wrong secret). A client
//! with its own `rate_limit` has a bucket of its own size. Buckets are per
//! instance. (Failed authentications have their own, tighter budgets in
//! the service: `service::auth_guard`.)

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

use super::ApiError;
use crate::config::{ClientSettings, RateLimitSettings};
use crate::domain::ClientId;

/// Keys remembered before idle ones are dropped (bounds the memory).
const MAX_TRACKED_KEYS: usize = 10_000;

/// The configured limits; `disabled()` lets everything through.
pub struct RateLimits {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_client: Option<DefaultKeyedRateLimiter<String>>,
    /// Clients with their own `rate_limit`.
    overrides: HashMap<String, DefaultDirectRateLimiter>,
    verify: bool,
    clock: DefaultClock,
}

fn quota(per_sec: u32, burst: u32) -> Quota {
    let per_sec = NonZeroU32::new(per_sec).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(per_sec);
    Quota::per_second(per_sec).allow_burst(burst)
}

fn check<K: Clone + std::hash::Hash + Eq>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
    clock: &DefaultClock,
) -> Result<(), ApiError> {
    if limiter.len() > MAX_TRACKED_KEYS {
        limiter.retain_recent();
    }
    limiter
        .check_key(key)
        .map_err(|not_until| limited(not_until.wait_time_from(clock.now())))
}

fn limited(wait: std::time::Duration) -> ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::RateLimited {
        retry_after_secs: secs.max(1),
    }
}

impl RateLimits {
    pub fn from_settings(s: &RateLimitSettings, clients: &[ClientSettings]) -> Self {
        if !s.enabled {
            return Self::disabled();
        }
        let overrides = clients
            .iter()
            .filter_map(|c| {
                let rate = c.rate_limit?;
                let limiter = DefaultDirectRateLimiter::direct(quota(rate.per_sec, rate.burst));
                Some((c.id.to_string(), limiter))
            })
            .collect();
        RateLimits {
            per_ip: Some(DefaultKeyedRateLimiter::keyed(quota(
                s.per_ip_per_sec,
                s.per_ip_burst,
            ))),
            per_client: Some(DefaultKeyedRateLimiter::keyed(quota(
                s.per_client_per_sec,
                s.per_client_burst,
            ))),
            overrides,
            verify: s.verify,
            clock: DefaultClock::default(),
        }
    }

    pub fn disabled() -> Self {
        RateLimits {
            per_ip: None,
            per_client: None,
            overrides: HashMap::new(),
            verify: false,
            clock: DefaultClock::default(),
        }
    }

    /// Whether `/token/verify` is limited (`rate_limit.verify`).
    pub fn limits_verify(&self) -> bool {
        self.verify
    }

    /// 429 when the client address (see `client_ip`: the TCP peer unless
    /// it is a trusted proxy) is over its budget.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        match &self.per_ip {
            Some(limiter) => check(limiter, &ip, &self.clock),
            None => Ok(()),
        }
    }

    /// 429 when an authenticated client is over its budget (its own, when
    /// it has a `rate_limit`).
    pub fn check_client(&self, id: &ClientId) -> Result<(), ApiError> {
        let key = id.to_string();
        if let Some(own) = self.overrides.get(&key) {
            return own
                .check()
                .map_err(|not_until| limited(not_until.wait_time_from(self.clock.now())));
        }
        match &self.per_client {
            Some(limiter) => check(limiter, &key, &self.clock),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(burst: u32) -> RateLimitSettings {
        RateLimitSettings {
            per_client_per_sec: 1,
            per_client_burst: burst,
            per_ip_per_sec: 1,
            per_ip_burst: burst,
            ..RateLimitSettings::default()
        }
    }

    #[test]
    fn a_client_over_its_burst_gets_429_with_a_retry_after() {
        let limits = RateLimits::from_settings(&settings(2), &[]);
        let a = ClientId::parse("a").unwrap();
        let b = ClientId::parse("b").unwrap();
        assert!(limits.check_client(&a).is_ok());
        assert!(limits.check_client(&a).is_ok());
        match limits.check_client(&a) {
            Err(ApiError::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 1),
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(limits.check_client(&b).is_ok(), "budgets are per client");
    }

    #[test]
    fn disabled_limits_let_everything_through() {
        let limits = RateLimits::disabled();
        let a = ClientId::parse("a").unwrap();
        for _ in 0..100 {
            assert!(limits.check_client(&a).is_ok());
        }
        assert!(!limits.limits_verify());
    }
}
