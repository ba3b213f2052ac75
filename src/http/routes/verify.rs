//! `GET` and `POST /token/verify`: stateful verification. The `GET` form
//! serves gateways (nginx `auth_request`, Traefik ForwardAuth) and sets
//! `X-Auth-*` headers for the upstream.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::domain::{AccessClaims, Audience, Grant, Rejection};
use crate::http::client_auth::{require_client, strip_scheme};
use crate::http::{ApiError, Body, ErrorBody, State, request_id};

/// The token may instead come in `Authorization: Bearer`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    token: Option<String>,
    aud: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyQuery {
    aud: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Verified<'a> {
    active: bool,
    sub: &'a str,
    aud: &'a str,
    scope: &'a str,
    exp: i64,
    iat: i64,
    jti: &'a str,
    sid: &'a str,
    client_id: &'a str,
    #[schema(value_type = Object)]
    claims: &'a serde_json::Map<String, serde_json::Value>,
}

fn bearer(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    match req.headers().get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| ApiError::InvalidToken(Rejection::Malformed))?;
            Ok(strip_scheme(v, "bearer").map(str::to_owned))
        }
    }
}

fn audience(raw: Option<&str>) -> Result<Option<Audience>, ApiError> {
    raw.filter(|a| !a.is_empty())
        .map(Audience::parse)
        .transpose()
        .map_err(ApiError::from)
}

async fn check(
    req: &HttpRequest,
    state: &State,
    token: Option<String>,
    aud: Option<Audience>,
) -> Result<Arc<AccessClaims>, ApiError> {
    let limited = state.rate_limits.limits_verify();
    if state.require_client_auth_on_verify {
        // Checks the per-IP limit itself, before any hashing.
        let client = require_client(state, req, None, Grant::Verify).await?;
        if limited {
            state.rate_limits.check_client(&client.id)?;
        }
    } else if limited {
        state.rate_limits.check_ip(state.client_ip.of(req))?;
    }
    let claims = state
        .service
        .verify(token.as_deref(), aud.as_ref(), &request_id(req))
        .await?;
    Ok(claims)
}

fn body_of(claims: &AccessClaims) -> Verified<'_> {
    Verified {
        active: true,
        sub: &claims.sub,
        aud: &claims.aud,
        scope: &claims.scope,
        exp: claims.exp,
        iat: claims.iat,
        jti: &claims.jti,
        sid: &claims.sid,
        client_id: &claims.client_id,
        claims: &claims.extra,
    }
}

#[utoipa::path(post, path = "/token/verify", tag = "tokens", request_body = Option<VerifyBody>,
    security((), ("bearer" = []), ("client_basic" = [])),
    responses((status = 200, body = Verified, description = "The token is valid and live"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "invalid_token (with WWW-Authenticate), or invalid_client when client auth is required"),
        (status = 403, body = ErrorBody)))]
pub async fn verify_post(
    req: HttpRequest,
    body: Body,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let parsed: Option<VerifyBody> = body.parse(&[])?;
    let (token, aud) = match parsed {
        Some(b) => (b.token, b.aud),
        None => (None, None),
    };
    let token = match token {
        Some(t) => Some(t),
        None => bearer(&req)?,
    };
    let claims = check(&req, &state, token, audience(aud.as_deref())?).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body_of(&claims)))
}

#[utoipa::path(get, path = "/token/verify", tag = "tokens",
    params(("aud" = Option<String>, Query, description = "Audience the token must carry")),
    security(("bearer" = []), ("client_basic" = [])),
    responses((status = 200, body = Verified, description = "Valid; `X-Auth-Subject`, `X-Auth-Scope`, `X-Auth-Client` carry the claims for a gateway",
            headers(("x-auth-subject" = String), ("x-auth-scope" = String), ("x-auth-client" = String))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn verify_get(req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    let query: VerifyQuery = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::InvalidRequest(format!("invalid query string: {e}")))?;
    let token = bearer(&req)?;
    let claims = check(&req, &state, token, audience(query.aud.as_deref())?).await?;
    Ok(gateway_response(&claims))
}

/// Any method on `/token/verify/{path}`: forward auth for gateways that
/// append the original request's path and keep its method (Envoy's HTTP
/// `ext_authz` with `path_prefix: /token/verify`). The token comes from the
/// `Authorization` header only; the path, query and body are ignored.
#[utoipa::path(method(get, post), path = "/token/verify/{path}", tag = "tokens",
    params(("path" = String, Path, description = "The original request's path, appended by the gateway; ignored")),
    security(("bearer" = [])),
    responses((status = 200, body = Verified, description = "As `GET /token/verify`; any method is accepted",
            headers(("x-auth-subject" = String), ("x-auth-scope" = String), ("x-auth-client" = String))),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn verify_forward(req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    let token = bearer(&req)?;
    let claims = check(&req, &state, token, None).await?;
    Ok(gateway_response(&claims))
}

fn gateway_response(claims: &AccessClaims) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    for (name, value) in [
        ("x-auth-subject", &claims.sub),
        ("x-auth-scope", &claims.scope),
        ("x-auth-client", &claims.client_id),
    ] {
        if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
            res.insert_header((HeaderName::from_static(name), v));
        }
    }
    res.json(body_of(claims))
}
