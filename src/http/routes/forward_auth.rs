//! Forward auth for gateways that append the original request's path to
//! the check URL and keep its method (Envoy's HTTP `ext_authz` with
//! `path_prefix`): any method on `/token/verify/aud/{aud}/{path}` (the
//! audience is part of the gateway's configured prefix, so the user cannot
//! change it) and, for compatibility, on `/token/verify/{path}` (no
//! audience; refused when one is required). The token comes from the
//! `Authorization` header only; the path and body are ignored, and of the
//! query only `scope` is read (behind Envoy it is the user's own query, so
//! it can only add requirements).

use actix_web::{HttpRequest, HttpResponse};

use super::verify::{Demands, Verified, audience, check, gateway_response, scope};
use crate::http::decode_error::without_input;
use crate::http::dpop::from_headers;
use crate::http::{ApiError, ErrorBody, State};

#[derive(serde::Deserialize)]
struct AudPath {
    aud: String,
}

/// `scope` from a query that may hold anything else (the original
/// request's); a repeated `scope` is refused.
fn scope_of_query(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).map_err(|e| {
            ApiError::InvalidRequest(format!(
                "invalid query string: {}",
                without_input(&e.to_string())
            ))
        })?;
    let mut scopes = pairs
        .into_iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v);
    let first = scopes.next();
    if scopes.next().is_some() {
        return Err(ApiError::InvalidRequest(
            "`scope` is given more than once".into(),
        ));
    }
    Ok(first)
}

#[utoipa::path(method(get, post), path = "/token/verify/aud/{aud}/{path}", tag = "tokens",
    params(("aud" = String, Path, description = "Audience the token must carry, fixed in the gateway's check URL"),
        ("path" = String, Path, description = "The original request's path, appended by the gateway; ignored (may be empty)"),
        ("scope" = Option<String>, Query, description = "Space-separated scopes the token must all hold")),
    security(("bearer" = [])),
    responses((status = 200, body = Verified, description = "As `GET /token/verify?aud={aud}`; any method is accepted",
            headers(("x-auth-subject" = String), ("x-auth-scope" = String), ("x-auth-client" = String))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn verify_forward_aud(req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    // `load` decodes fully (`%2F` too: audiences are often URLs).
    let path: AudPath = req.match_info().load().map_err(|e| {
        ApiError::InvalidRequest(format!(
            "invalid audience segment: {}",
            without_input(&e.to_string())
        ))
    })?;
    let demands = Demands {
        aud: audience(Some(&path.aud))?,
        scope: scope(scope_of_query(&req)?.as_deref())?,
    };
    let claims = check(
        &req,
        &state,
        from_headers(&req, Some(req.method().as_str()))?,
        &demands,
    )
    .await?;
    Ok(gateway_response(&claims, &state.edge().verify_headers))
}

/// Any method on `/token/verify/{path}`: forward auth without an audience
/// (400 when `verify.require_audience` or the token's client requires
/// one). A path starting `aud/` that did not match the audience route
/// (`/token/verify/aud/`, an empty audience) is refused, never served
/// without the audience its writer meant.
#[utoipa::path(method(get, post), path = "/token/verify/{path}", tag = "tokens",
    params(("path" = String, Path, description = "The original request's path, appended by the gateway; ignored"),
        ("scope" = Option<String>, Query, description = "Space-separated scopes the token must all hold")),
    security(("bearer" = [])),
    responses((status = 200, body = Verified, description = "As `GET /token/verify`; any method is accepted",
            headers(("x-auth-subject" = String), ("x-auth-scope" = String), ("x-auth-client" = String))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn verify_forward(req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    let path = req.match_info().get("path").unwrap_or_default();
    if path == "aud" || path.starts_with("aud/") {
        return Err(ApiError::InvalidRequest(
            "the audience route needs an audience: /token/verify/aud/{aud}/…".into(),
        ));
    }
    let demands = Demands {
        aud: None,
        scope: scope(scope_of_query(&req)?.as_deref())?,
    };
    let claims = check(
        &req,
        &state,
        from_headers(&req, Some(req.method().as_str()))?,
        &demands,
    )
    .await?;
    Ok(gateway_response(&claims, &state.edge().verify_headers))
}
