//! `GET` and `POST /token/verify`: stateful verification, with an optional
//! audience (`aud`) and required scopes (`scope`). The `GET` form serves
//! gateways (nginx `auth_request`, Traefik ForwardAuth) and sets the
//! `verify.headers` for the upstream; the forward-auth routes
//! (`forward_auth.rs`) share this file's checks.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::domain::{AccessClaims, Audience, Grant, Rejection, Scope};
use crate::http::client_auth::{require_client, strip_scheme};
use crate::http::decode_error::without_input;
use crate::http::{ApiError, Body, ErrorBody, State};
use crate::service::VerifyRequest;

/// The token may instead come in `Authorization: Bearer`. `aud` and
/// `scope` may instead come in the query; given in both, they must agree.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    token: Option<String>,
    /// Audience the token must carry.
    aud: Option<String>,
    /// Space-separated scopes the token must all hold.
    scope: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct VerifyQuery {
    aud: Option<String>,
    scope: Option<String>,
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

/// What the token must carry: an audience and scopes, both optional.
#[derive(Default)]
pub(super) struct Demands {
    pub aud: Option<Audience>,
    pub scope: Option<Scope>,
}

pub(super) fn bearer(req: &HttpRequest) -> Result<Option<String>, ApiError> {
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

/// An audience; empty means none.
pub(super) fn audience(raw: Option<&str>) -> Result<Option<Audience>, ApiError> {
    raw.filter(|a| !a.is_empty())
        .map(Audience::parse)
        .transpose()
        .map_err(ApiError::from)
}

/// Required scopes; empty means none.
pub(super) fn scope(raw: Option<&str>) -> Result<Option<Scope>, ApiError> {
    let scope = raw.map(Scope::parse).transpose()?;
    Ok(scope.filter(|s| !s.is_empty()))
}

/// One value given in the query, the body, or both (then they must agree).
fn one_of<T: PartialEq>(
    name: &str,
    query: Option<T>,
    body: Option<T>,
) -> Result<Option<T>, ApiError> {
    match (query, body) {
        (Some(q), Some(b)) if q != b => Err(ApiError::InvalidRequest(format!(
            "`{name}` is given in the query and in the body with different values"
        ))),
        (Some(v), _) | (None, Some(v)) => Ok(Some(v)),
        (None, None) => Ok(None),
    }
}

fn query_of(req: &HttpRequest) -> Result<VerifyQuery, ApiError> {
    serde_urlencoded::from_str(req.query_string()).map_err(|e| {
        ApiError::InvalidRequest(format!(
            "invalid query string: {}",
            without_input(&e.to_string())
        ))
    })
}

/// Rate limits and client authentication as configured, then the service.
pub(super) async fn check(
    req: &HttpRequest,
    state: &State,
    token: Option<String>,
    demands: &Demands,
) -> Result<Arc<AccessClaims>, ApiError> {
    let limited = state.rate_limits.limits_verify();
    let source = state.client_ip.of(req);
    if state.require_client_auth_on_verify {
        // Checks the per-IP limit itself, before any hashing.
        let client = require_client(state, req, None, Grant::Verify).await?;
        if limited {
            state.rate_limits.check_client(&client.id)?;
        }
    } else if limited {
        state.rate_limits.check_ip(source)?;
    }
    let claims = state
        .service
        .verify(VerifyRequest {
            token: token.as_deref(),
            aud: demands.aud.as_ref(),
            scope: demands.scope.as_ref(),
            source: Some(source),
        })
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
    params(("aud" = Option<String>, Query, description = "Audience the token must carry (or `aud` in the body; both given: they must agree)"),
        ("scope" = Option<String>, Query, description = "Space-separated scopes the token must all hold (or `scope` in the body; both given: they must agree)")),
    security((), ("bearer" = []), ("client_basic" = [])),
    responses((status = 200, body = Verified, description = "The token is valid and live"),
        (status = 400, body = ErrorBody, description = "invalid_request: a bad or conflicting `aud`/`scope`, or an audience is required"),
        (status = 401, body = ErrorBody, description = "invalid_token (with WWW-Authenticate), or invalid_client when client auth is required"),
        (status = 403, body = ErrorBody, description = "insufficient_scope (with WWW-Authenticate), or unauthorized_client")))]
pub async fn verify_post(
    req: HttpRequest,
    body: Body,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let query = query_of(&req)?;
    let parsed: Option<VerifyBody> = body.parse(&[])?;
    let (token, body_aud, body_scope) = match parsed {
        Some(b) => (b.token, b.aud, b.scope),
        None => (None, None, None),
    };
    let token = match token {
        Some(t) => Some(t),
        None => bearer(&req)?,
    };
    let demands = Demands {
        aud: one_of(
            "aud",
            audience(query.aud.as_deref())?,
            audience(body_aud.as_deref())?,
        )?,
        scope: one_of(
            "scope",
            scope(query.scope.as_deref())?,
            scope(body_scope.as_deref())?,
        )?,
    };
    let claims = check(&req, &state, token, &demands).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body_of(&claims)))
}

#[utoipa::path(get, path = "/token/verify", tag = "tokens",
    params(("aud" = Option<String>, Query, description = "Audience the token must carry"),
        ("scope" = Option<String>, Query, description = "Space-separated scopes the token must all hold")),
    security(("bearer" = []), ("client_basic" = [])),
    responses((status = 200, body = Verified, description = "Valid; the `verify.headers` (by default `X-Auth-Subject`, `X-Auth-Scope`, `X-Auth-Client`) carry claims for a gateway",
            headers(("x-auth-subject" = String), ("x-auth-scope" = String), ("x-auth-client" = String))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "insufficient_scope (with WWW-Authenticate), or unauthorized_client")))]
pub async fn verify_get(req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    let query = query_of(&req)?;
    let demands = Demands {
        aud: audience(query.aud.as_deref())?,
        scope: scope(query.scope.as_deref())?,
    };
    let claims = check(&req, &state, bearer(&req)?, &demands).await?;
    Ok(gateway_response(&claims, &state.verify_headers))
}

/// The gateway answer: `200`, `no-store`, each configured header whose
/// claim is present and a valid header value, and the claims as JSON.
pub(super) fn gateway_response(
    claims: &AccessClaims,
    headers: &[(HeaderName, String)],
) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    for (name, claim) in headers {
        if let Some(text) = claims.claim_text(claim)
            && let Ok(v) = HeaderValue::from_bytes(text.as_bytes())
        {
            res.insert_header((name.clone(), v));
        }
    }
    res.json(body_of(claims))
}
