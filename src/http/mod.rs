//! The HTTP edge: actix-web routes that parse requests into domain values,
//! authenticate clients, apply rate limits, call the [`TokenService`], and
//! turn its answers (and [`ServiceError`]s, through [`ApiError`]) into the
//! contract's responses. Nothing here decides about tokens.
//!
//! [`ServiceError`]: crate::service::ServiceError

mod body;
mod client_auth;
mod client_ip;
mod decode_error;
mod dpop;
mod edge;
mod error;
mod middleware;
pub mod openapi;
mod rate_limit;
mod routes;

use std::sync::Arc;

use actix_web::http::header::HeaderName;
use actix_web::web;
use arc_swap::ArcSwap;

pub use body::{Body, BodyKind};
pub use client_ip::ClientIp;
pub use edge::Edge;
pub use error::{ApiError, ErrorBody};
pub use middleware::{RequestId, request_context, request_id};
pub use rate_limit::RateLimits;
pub use routes::{
    configure, configure_admin, configure_without_metrics, decode_issue_request, served_routes,
};

use crate::service::TokenService;

/// Everything a handler needs, shared through `web::Data`.
pub struct AppState {
    pub service: TokenService,
    pub body_limit: usize,
    /// Rate limits, trusted proxies and verify's edge rules; replaced whole
    /// by a configuration reload.
    pub edge: ArcSwap<Edge>,
}

impl AppState {
    /// The edge settings in force now.
    pub fn edge(&self) -> Arc<Edge> {
        self.edge.load_full()
    }

    pub fn rate_limits(&self) -> Arc<RateLimits> {
        self.edge.load().rate_limits.clone()
    }

    /// The client's address (the TCP peer unless it is a trusted proxy).
    pub fn client_ip(&self, req: &actix_web::HttpRequest) -> std::net::IpAddr {
        self.edge.load().client_ip.of(req)
    }
}

/// `verify.headers` as header names (validated with the config; a name
/// that still does not parse is left out).
pub fn verify_headers(
    map: &std::collections::BTreeMap<String, String>,
) -> Vec<(HeaderName, String)> {
    map.iter()
        .filter_map(|(h, c)| Some((HeaderName::from_bytes(h.as_bytes()).ok()?, c.clone())))
        .collect()
}

pub type State = web::Data<Arc<AppState>>;
