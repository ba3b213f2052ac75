//! `GET` and `POST /token/verify`: stateful verification. The `GET` form
//! serves gateways (nginx `auth_request`, Traefik ForwardAuth) and sets
//! `X-Auth-*` headers for the upstream.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Body, State, request_id};
use crate::audit;
use crate::auth::{require_client, strip_scheme};
use crate::domain::{Audience, Grant};
use crate::error::ApiError;
use crate::token::{AccessClaims, Rejection};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    token: Option<String>,
    aud: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyQuery {
    aud: Option<String>,
}

#[derive(Serialize)]
struct Verified<'a> {
    active: bool,
    sub: &'a str,
    aud: &'a str,
    scope: &'a str,
    exp: i64,
    iat: i64,
    jti: &'a str,
    sid: &'a str,
    client_id: &'a str,
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
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))
}

async fn check(
    req: &HttpRequest,
    state: &State,
    token: Option<String>,
    aud: Option<Audience>,
) -> Result<Arc<AccessClaims>, ApiError> {
    if state.require_client_auth_on_verify {
        require_client(&state.clients, req, None, Grant::Verify).await?;
    }
    let token = token.ok_or(ApiError::InvalidToken(Rejection::Malformed))?;
    let result = state.tokens.verify(&token, aud.as_ref()).await;
    if let Err(ApiError::InvalidToken(reason)) = &result {
        audit::event(
            "verify_failed",
            &request_id(req),
            json!({"reason": reason.label(), "outcome": "rejected"}),
        );
    }
    result
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

pub async fn verify_get(req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    let query: VerifyQuery = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::InvalidRequest(format!("invalid query string: {e}")))?;
    let token = bearer(&req)?;
    let claims = check(&req, &state, token, audience(query.aud.as_deref())?).await?;
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
    Ok(res.json(body_of(&claims)))
}
