//! The endpoint table: every path, the methods it serves and its handler
//! (one thin file per endpoint here); unknown paths answer 404 and known
//! paths with another method 405, both in the contract's error shape.

pub(super) mod forward_auth;
pub(super) mod health;
pub(super) mod introspect;
pub(super) mod issue;
pub(super) mod metrics;
pub(super) mod oauth_token;
pub(super) mod refresh;
pub(super) mod revocations;
pub(super) mod revoke;
pub(super) mod sessions;
pub(super) mod verify;
pub(super) mod well_known;

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, HttpResponse, Responder, Route, web};

pub use issue::decode_issue_request;

use super::openapi;
use crate::http::ApiError;

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// `405` with the `Allow` header RFC 9110 §15.5.6 asks for.
fn method_not_allowed(allowed: &[Method]) -> Route {
    let allow = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    web::to(move || {
        let mut res = actix_web::ResponseError::error_response(&ApiError::MethodNotAllowed);
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&allow) {
            res.headers_mut().insert(actix_web::http::header::ALLOW, v);
        }
        std::future::ready(res)
    })
}

/// One method of an endpoint and its handler.
fn on<F, Args>(method: Method, handler: F) -> (Method, Route)
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    (method.clone(), web::method(method).to(handler))
}

/// Every endpoint: its path and the methods it serves. `configure` serves
/// exactly these, and the OpenAPI test checks the document against them.
fn endpoints() -> Vec<(&'static str, Vec<(Method, Route)>)> {
    use Method as M;
    vec![
        ("/token/issue", vec![on(M::POST, issue::issue)]),
        ("/token/refresh", vec![on(M::POST, refresh::refresh)]),
        ("/oauth2/token", vec![on(M::POST, oauth_token::token)]),
        (
            "/token/verify",
            vec![
                on(M::GET, verify::verify_get),
                on(M::POST, verify::verify_post),
            ],
        ),
        ("/token/revoke", vec![on(M::POST, revoke::revoke)]),
        (
            "/token/revocations",
            vec![on(M::GET, revocations::revocations)],
        ),
        (
            "/token/introspect",
            vec![on(M::POST, introspect::introspect)],
        ),
        ("/users/{sub}/sessions", vec![on(M::GET, sessions::list)]),
        (
            "/users/{sub}/sessions/{sid}",
            vec![on(M::DELETE, sessions::delete)],
        ),
        ("/.well-known/jwks.json", vec![on(M::GET, well_known::jwks)]),
        (
            "/.well-known/oauth-authorization-server",
            vec![on(M::GET, well_known::metadata)],
        ),
        (
            "/.well-known/openid-configuration",
            vec![on(M::GET, well_known::openid_configuration)],
        ),
        ("/healthz", vec![on(M::GET, health::healthz)]),
        ("/readyz", vec![on(M::GET, health::readyz)]),
        ("/metrics", vec![on(M::GET, metrics::metrics)]),
        ("/openapi.json", vec![on(M::GET, openapi::openapi_json)]),
    ]
}

/// The served routes as (path, methods), for checks against the OpenAPI
/// document.
pub fn served_routes() -> Vec<(&'static str, Vec<Method>)> {
    let mut served: Vec<(&'static str, Vec<Method>)> = endpoints()
        .into_iter()
        .map(|(path, routes)| (path, routes.into_iter().map(|(m, _)| m).collect()))
        .collect();
    // Forward auth takes any method; GET and POST are the documented ones.
    served.push((
        "/token/verify/aud/{aud}/{path}",
        vec![Method::GET, Method::POST],
    ));
    served.push(("/token/verify/{path}", vec![Method::GET, Method::POST]));
    served
}

/// The operator endpoints the admin listener serves (`server.admin_listen`).
const ADMIN_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// Registers `routes` under `path`, 405 in the error shape for other methods.
fn register(cfg: &mut web::ServiceConfig, path: &'static str, routes: Vec<(Method, Route)>) {
    let methods: Vec<Method> = routes.iter().map(|(m, _)| m.clone()).collect();
    let mut resource = web::resource(path).default_service(method_not_allowed(&methods));
    for (_, route) in routes {
        resource = resource.route(route);
    }
    cfg.service(resource);
}

/// Registers every route; unknown paths are 404 and known paths with the
/// wrong method 405, both in the contract's error shape.
pub fn configure(cfg: &mut web::ServiceConfig) {
    configure_public(cfg, true);
}

/// The public listener with an admin listener beside it: every route but
/// `/metrics` (404 here; it is served on the admin listener).
pub fn configure_without_metrics(cfg: &mut web::ServiceConfig) {
    configure_public(cfg, false);
}

/// The admin listener: `/healthz`, `/readyz` and `/metrics` only.
pub fn configure_admin(cfg: &mut web::ServiceConfig) {
    for (path, routes) in endpoints() {
        if ADMIN_PATHS.contains(&path) {
            register(cfg, path, routes);
        }
    }
    cfg.default_service(web::to(not_found));
}

fn configure_public(cfg: &mut web::ServiceConfig, metrics: bool) {
    for (path, routes) in endpoints() {
        if metrics || path != "/metrics" {
            register(cfg, path, routes);
        }
    }
    // Forward auth for Envoy's HTTP ext_authz: any method, any sub-path;
    // the audience route first (its trailing path may be absent).
    cfg.service(
        web::resource([
            "/token/verify/aud/{aud}",
            "/token/verify/aud/{aud}/{path:.*}",
        ])
        .to(forward_auth::verify_forward_aud),
    );
    cfg.service(web::resource("/token/verify/{path:.*}").to(forward_auth::verify_forward));
    cfg.default_service(web::to(not_found));
}
