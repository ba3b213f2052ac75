//! `GET` and `POST /token/verify`: stateful verification, with an optional
//! audience (`aud`) and required scopes (`scope`). The `GET` form serves
//! gateways (nginx `auth_request`, Traefik ForwardAuth) and sets the
//! `verify.headers` for the upstream; the forward-auth routes
//! (`forward_auth.rs`) share this file's checks.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::domain::{AccessClaims, Audience, Grant, Scope};
use crate::http::client_auth::require_client;
use crate::http::decode_error::without_input;
use crate::http::dpop::{Presentation, ProofFor, from_headers};
use crate::http::{ApiError, Body, ErrorBody, State};
use crate::service::VerifyRequest;

/// The token may instead come in `Authorization: Bearer` (or `DPoP` with
/// the `DPoP` header). `aud` and `scope` may instead come in the query;
/// given in both, they must agree. A DPoP-bound token needs `dpop`,
/// `htm` and `htu` (the request it authorises).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    token: Option<String>,
    /// The DPoP proof that came with the token (RFC 9449).
    #[schema(max_length = 4096)]
    dpop: Option<String>,
    /// The method of the request the proof authorises.
    #[schema(example = "GET", max_length = 16)]
    htm: Option<String>,
    /// The absolute URI of the request the proof authorises.
    #[schema(example = "https://api.example.com/orders", max_length = 2048)]
    htu: Option<String>,
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

/// The token of a body, with its proof when one is given.
fn from_body(
    token: String,
    dpop: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
) -> Result<Presentation, ApiError> {
    let dpop = match (dpop, htm, htu) {
        (None, None, None) => None,
        (Some(proof), Some(htm), Some(htu)) => Some(ProofFor { proof, htm, htu }),
        _ => {
            return Err(ApiError::InvalidRequest(
                "`dpop`, `htm` and `htu` come together".into(),
            ));
        }
    };
    Ok(Presentation {
        token: Some(token),
        dpop,
    })
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
    presented: Presentation,
    demands: &Demands,
) -> Result<Arc<AccessClaims>, ApiError> {
    let edge = state.edge();
    let limited = edge.rate_limits.limits_verify();
    let source = edge.client_ip.of(req);
    if edge.require_client_auth_on_verify {
        // Checks the per-IP limit itself, before any hashing.
        let client = require_client(state, req, None, Grant::Verify).await?;
        if limited {
            edge.rate_limits.check_client(&client.id)?;
        }
    } else if limited {
        edge.rate_limits.check_ip(source)?;
    }
    let claims = state
        .service
        .verify(VerifyRequest {
            token: presented.token.as_deref(),
            aud: demands.aud.as_ref(),
            scope: demands.scope.as_ref(),
            source: Some(source),
            dpop: presented.dpop.as_ref().map(ProofFor::as_service),
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
        ("scope" = Option<String>, Query, description = "Space-separated scopes the token must all hold (or `scope` in the body; both given: they must agree)"),
        ("DPoP" = Option<String>, Header, description = "With `Authorization: DPoP` and no body token: the proof (docs/dpop.md)")),
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
    let (presented, body_aud, body_scope) = match parsed {
        Some(b) => {
            let presented = match b.token {
                Some(t) => from_body(t, b.dpop, b.htm, b.htu)?,
                None if b.dpop.is_some() => {
                    return Err(ApiError::InvalidRequest("`dpop` comes with `token`".into()));
                }
                None => from_headers(&req, None)?,
            };
            (presented, b.aud, b.scope)
        }
        None => (from_headers(&req, None)?, None, None),
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
    let claims = check(&req, &state, presented, &demands).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body_of(&claims)))
}

#[utoipa::path(get, path = "/token/verify", tag = "tokens",
    params(("aud" = Option<String>, Query, description = "Audience the token must carry"),
        ("scope" = Option<String>, Query, description = "Space-separated scopes the token must all hold"),
        ("DPoP" = Option<String>, Header, description = "With `Authorization: DPoP <token>`: the proof for the gateway's original request (docs/dpop.md)"),
        ("X-Original-Method" = Option<String>, Header, description = "The method of the request being authorised (DPoP; or X-Forwarded-Method)"),
        ("X-Original-URI" = Option<String>, Header, description = "Its path and query (DPoP; or X-Forwarded-Uri), under X-Forwarded-Proto and X-Forwarded-Host")),
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
    let claims = check(&req, &state, from_headers(&req, None)?, &demands).await?;
    Ok(gateway_response(&claims, &state.edge().verify_headers))
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
