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
mod error;
mod middleware;
pub mod openapi;
mod rate_limit;
mod routes;

use std::sync::Arc;

use actix_web::http::header::HeaderName;
use actix_web::web;

pub use body::{Body, BodyKind};
pub use client_ip::ClientIp;
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
    pub require_client_auth_on_verify: bool,
    pub rate_limits: RateLimits,
    /// Who the client is behind trusted proxies (per-IP limits, audit).
    pub client_ip: ClientIp,
    /// `verify.headers`: response header → claim, for gateways.
    pub verify_headers: Vec<(HeaderName, String)>,
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
