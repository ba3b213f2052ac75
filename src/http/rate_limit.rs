//! Request rate limits (`rate_limit` in config.yaml): token buckets from the
//! `governor` crate, keyed by source IP (checked before any client
//! authentication, so a password-guessing peer is slowed before Argon2 runs)
//! and by client id (checked after authentication, so nobody can spend
//! another client's budget by sending its id with a wrong secret).

use std::net::IpAddr;
use std::num::NonZeroU32;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::ApiError;
use crate::config::RateLimitSettings;
use crate::domain::ClientId;

/// Keys remembered before idle ones are dropped (bounds the memory).
const MAX_TRACKED_KEYS: usize = 10_000;

/// The address a request comes from: for now the TCP peer (never
/// `X-Forwarded-For`, which a client could forge). The one place the edge
/// decides it, for the limits and the audit summary of failures.
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    req.peer_addr().map(|peer| peer.ip())
}

/// The configured limits; `disabled()` lets everything through.
pub struct RateLimits {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_client: Option<DefaultKeyedRateLimiter<String>>,
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
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(clock.now());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::RateLimited {
            retry_after_secs: secs.max(1),
        }
    })
}

impl RateLimits {
    pub fn from_settings(s: &RateLimitSettings) -> Self {
        if !s.enabled {
            return Self::disabled();
        }
        RateLimits {
            per_ip: Some(DefaultKeyedRateLimiter::keyed(quota(
                s.per_ip_per_sec,
                s.per_ip_burst,
            ))),
            per_client: Some(DefaultKeyedRateLimiter::keyed(quota(
                s.per_client_per_sec,
                s.per_client_burst,
            ))),
            verify: s.verify,
            clock: DefaultClock::default(),
        }
    }

    pub fn disabled() -> Self {
        RateLimits {
            per_ip: None,
            per_client: None,
            verify: false,
            clock: DefaultClock::default(),
        }
    }

    /// Whether `/token/verify` is limited (`rate_limit.verify`).
    pub fn limits_verify(&self) -> bool {
        self.verify
    }

    /// 429 when the request's TCP peer is over its budget. The peer
    /// address is used, never `X-Forwarded-For` (a client could forge it).
    pub fn check_ip(&self, req: &HttpRequest) -> Result<(), ApiError> {
        match (&self.per_ip, client_ip(req)) {
            (Some(limiter), Some(ip)) => check(limiter, &ip, &self.clock),
            _ => Ok(()),
        }
    }

    /// 429 when an authenticated client is over its budget.
    pub fn check_client(&self, id: &ClientId) -> Result<(), ApiError> {
        match &self.per_client {
            Some(limiter) => check(limiter, &id.to_string(), &self.clock),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(burst: u32) -> RateLimitSettings {
        RateLimitSettings {
            enabled: true,
            per_client_per_sec: 1,
            per_client_burst: burst,
            per_ip_per_sec: 1,
            per_ip_burst: burst,
            verify: false,
        }
    }

    #[test]
    fn a_client_over_its_burst_gets_429_with_a_retry_after() {
        let limits = RateLimits::from_settings(&settings(2));
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
