//! `POST /token/introspect` (RFC 7662, grant `introspect`): always `200`
//! for an authenticated caller, `{"active": false}` for anything not valid.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::domain::{Grant, TokenKind};
use crate::http::client_auth::require_client;
use crate::http::{ApiError, Body, ErrorBody, State};
use crate::service::{Introspected, bound_key};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectBody {
    #[schema(required = true)]
    token: Option<String>,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

const FORM_FIELDS: &[&str] = &["token", "token_type_hint", "client_id", "client_secret"];

/// RFC 7662 §2.2: `{"active": false}` for anything not valid; otherwise the
/// token's claims (custom claims included). Documents the JSON built below.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Introspection {
    active: bool,
    /// `access_token` or `refresh_token`.
    token_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    sub: Option<String>,
    aud: Option<String>,
    iss: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
    sid: Option<String>,
}

#[utoipa::path(post, path = "/token/introspect", tag = "tokens",
    request_body(content((IntrospectBody = "application/x-www-form-urlencoded"), (IntrospectBody = "application/json"))),
    security(("client_basic" = []), ()),
    responses((status = 200, body = Introspection, description = "Always 200 for an authenticated caller"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn introspect(
    req: HttpRequest,
    body: Body,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let b: IntrospectBody = body.require(FORM_FIELDS)?;
    let form_creds = b.client_id.as_deref().zip(b.client_secret.as_deref());
    let client = require_client(&state, &req, form_creds, Grant::Introspect).await?;
    state.rate_limits().check_client(&client.id)?;
    let token = b
        .token
        .ok_or_else(|| ApiError::InvalidRequest("field `token` is required".into()))?;
    let hint = TokenKind::from_hint(b.token_type_hint.as_deref());
    let answer = match state.service.introspect(&client, &token, hint).await? {
        Some(found) => describe(&found, &state.service.issuer()),
        None => json!({ "active": false }),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}

/// The RFC 7662 §2.2 answer for a live token.
fn describe(found: &Introspected, issuer: &str) -> serde_json::Value {
    match found {
        Introspected::Access(c) => {
            let mut v = json!({
                // RFC 9449 §6.2: a bound token is `DPoP`, its `cnf` below.
                "active": true, "token_type": if bound_key(&c.extra).is_some() { "DPoP" } else { "access_token" },
                "scope": c.scope,
                "client_id": c.client_id, "sub": c.sub, "aud": c.aud, "iss": c.iss,
                "exp": c.exp, "iat": c.iat, "nbf": c.nbf, "jti": c.jti, "sid": c.sid,
            });
            if let Some(map) = v.as_object_mut() {
                for (k, val) in &c.extra {
                    map.entry(k.as_str()).or_insert_with(|| val.clone());
                }
            }
            v
        }
        Introspected::Refresh(s) => json!({
            "active": true, "token_type": "refresh_token", "scope": s.scope,
            "client_id": s.client_id, "sub": s.sub, "aud": s.aud, "iss": issuer,
            "exp": s.expires, "iat": s.refreshed, "nbf": s.refreshed, "sid": s.sid.to_string(),
        }),
    }
}
