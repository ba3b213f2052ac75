//! `POST /token/revoke` (RFC 7009, grant `revoke`); an `admin` client may
//! instead send `{"sub": ...}` to end every session of a user.

use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::domain::{Grant, Subject, TokenKind};
use crate::http::client_auth::require_client;
use crate::http::{ApiError, Body, ErrorBody, State, request_id};

/// `token` (RFC 7009) or, for an `admin` client, `sub` (log out everywhere).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    token: Option<String>,
    token_type_hint: Option<String>,
    sub: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

const FORM_FIELDS: &[&str] = &["token", "token_type_hint", "client_id", "client_secret"];

/// What a log-out-everywhere request revoked: always every token and
/// session of the user, counted where that is cheap.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RevokedCount {
    /// Always `all`: every token of the user issued before the call.
    revoked: Everything,
    /// Live sessions ended (each with its refresh and access tokens).
    sessions: u64,
    /// Live access tokens issued without a session, ended.
    standalone_access_tokens: u64,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Everything {
    All,
}

#[utoipa::path(post, path = "/token/revoke", tag = "tokens",
    request_body(content((RevokeBody = "application/json"), (RevokeBody = "application/x-www-form-urlencoded"))),
    security(("client_basic" = []), ()),
    responses((status = 200, description = "Revoked, or unknown (RFC 7009 §2.2): an empty body for `token`; a `RevokedCount` JSON body for `sub`"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn revoke(req: HttpRequest, body: Body, state: State) -> Result<HttpResponse, ApiError> {
    let b: RevokeBody = body.require(FORM_FIELDS)?;
    let form_creds = b.client_id.as_deref().zip(b.client_secret.as_deref());
    let rid = request_id(&req);
    match (b.token, b.sub) {
        (Some(_), Some(_)) => Err(ApiError::InvalidRequest(
            "send either `token` or `sub`, not both".into(),
        )),
        (None, Some(sub)) => {
            let client = require_client(&state, &req, form_creds, Grant::Admin).await?;
            state.rate_limits().check_client(&client.id)?;
            let sub = Subject::parse(&sub)?;
            let ended = state.service.revoke_user(&client, &sub, &rid).await?;
            Ok(HttpResponse::Ok().json(RevokedCount {
                revoked: Everything::All,
                sessions: ended.sessions,
                standalone_access_tokens: ended.standalone_access_tokens,
            }))
        }
        (Some(token), None) => {
            let client = require_client(&state, &req, form_creds, Grant::Revoke).await?;
            state.rate_limits().check_client(&client.id)?;
            let hint = TokenKind::from_hint(b.token_type_hint.as_deref());
            state
                .service
                .revoke_token(&client, &token, hint, &rid)
                .await?;
            Ok(HttpResponse::Ok().finish())
        }
        (None, None) => {
            require_client(&state, &req, form_creds, Grant::Revoke).await?;
            Err(ApiError::InvalidRequest("field `token` is required".into()))
        }
    }
}
