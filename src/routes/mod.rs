//! HTTP routes: one thin file per endpoint, plus the shared request
//! plumbing (bounded body reading, JSON/form decoding, request ids).

mod body;
mod health;
mod introspect;
mod issue;
mod refresh;
mod revoke;
mod sessions;
mod verify;
mod well_known;

use std::sync::Arc;

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

pub use body::{Body, BodyKind};
pub use issue::decode_issue_request;

use crate::auth::Clients;
use crate::error::ApiError;
use crate::service::Tokens;

/// Everything a handler needs, shared through `web::Data`.
pub struct AppState {
    pub tokens: Tokens,
    pub clients: Clients,
    pub issuer: String,
    pub body_limit: usize,
    pub require_client_auth_on_verify: bool,
    pub rate_limits: crate::rate_limit::RateLimits,
}

pub type State = web::Data<Arc<AppState>>;

/// The id of the request being served (see `startup::request_id`).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

/// Registers every route; unknown paths are 404 and known paths with the
/// wrong method 405, both in the contract's error shape.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let resource = |path: &str| web::resource(path).default_service(web::to(method_not_allowed));
    cfg.service(resource("/token/issue").route(web::post().to(issue::issue)))
        .service(resource("/token/refresh").route(web::post().to(refresh::refresh)))
        .service(
            resource("/token/verify")
                .route(web::get().to(verify::verify_get))
                .route(web::post().to(verify::verify_post)),
        )
        .service(web::resource("/token/verify/{path:.*}").to(verify::verify_forward))
        .service(resource("/token/revoke").route(web::post().to(revoke::revoke)))
        .service(resource("/token/introspect").route(web::post().to(introspect::introspect)))
        .service(resource("/users/{sub}/sessions").route(web::get().to(sessions::list)))
        .service(resource("/users/{sub}/sessions/{sid}").route(web::delete().to(sessions::delete)))
        .service(resource("/.well-known/jwks.json").route(web::get().to(well_known::jwks)))
        .service(
            resource("/.well-known/oauth-authorization-server")
                .route(web::get().to(well_known::metadata)),
        )
        .service(resource("/healthz").route(web::get().to(health::healthz)))
        .service(resource("/readyz").route(web::get().to(health::readyz)))
        .default_service(web::to(not_found));
}
