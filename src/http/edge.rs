//! The reloadable settings of the HTTP edge: rate limits, trusted proxies,
//! `verify.require_client_auth` and `verify.headers`, as one snapshot the
//! configuration reload replaces whole (`AppState::edge`). The rate-limit
//! buckets survive a reload that leaves `rate_limit` and the clients' own
//! rates as they were (a reload is not a way to reset a budget).

use std::sync::Arc;

use actix_web::http::header::HeaderName;

use super::{ClientIp, RateLimits, verify_headers};
use crate::config::{RateLimitSettings, Settings};

/// Everything the limits were built from: the section and each client's
/// own rate.
type LimitSource = (RateLimitSettings, Vec<(String, u32, u32)>);

pub struct Edge {
    /// `verify.require_client_auth`.
    pub require_client_auth_on_verify: bool,
    pub rate_limits: Arc<RateLimits>,
    /// Who the client is behind trusted proxies (per-IP limits, audit).
    pub client_ip: ClientIp,
    /// `verify.headers`: response header → claim, for gateways.
    pub verify_headers: Vec<(HeaderName, String)>,
    limits: LimitSource,
}

fn limit_source(settings: &Settings) -> LimitSource {
    let own = settings
        .clients
        .iter()
        .filter_map(|c| Some((c.id.to_string(), c.rate_limit?)))
        .map(|(id, r)| (id, r.per_sec, r.burst))
        .collect();
    (settings.rate_limit.clone(), own)
}

impl Edge {
    /// The edge `settings` describe; the rate-limit buckets of `previous`
    /// when their settings are unchanged.
    pub fn from_settings(settings: &Settings, previous: Option<&Edge>) -> Self {
        let limits = limit_source(settings);
        let rate_limits = match previous {
            Some(p) if p.limits == limits => p.rate_limits.clone(),
            _ => Arc::new(RateLimits::from_settings(
                &settings.rate_limit,
                &settings.clients,
            )),
        };
        Edge {
            require_client_auth_on_verify: settings.verify.require_client_auth,
            rate_limits,
            client_ip: ClientIp::new(settings.rate_limit.trusted_proxies.clone()),
            verify_headers: verify_headers(&settings.verify.headers),
            limits,
        }
    }
}
