//! `POST /token/issue` (grant `issue`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::domain::{Audience, CustomClaims, Grant, Jkt, Scope, Subject};
use crate::http::client_auth::require_client;
use crate::http::{ApiError, Body, ErrorBody, State, request_id};
use crate::service::{DpopBinding, IssueRequest, Issued, bound_key};

/// Only `sub` is required; `ttl` is capped by the client's maximum.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueBody {
    #[schema(required = true, example = "user-42", min_length = 1, max_length = 256)]
    sub: Option<String>,
    aud: Option<String>,
    scope: Option<String>,
    /// Seconds; capped by the client's maximum.
    #[schema(minimum = 1)]
    ttl: Option<u64>,
    /// Custom claims; reserved JWT names are refused.
    #[schema(value_type = Option<Object>)]
    claims: Option<serde_json::Map<String, serde_json::Value>>,
    refresh: Option<bool>,
    /// Bind the tokens to this DPoP key (RFC 9449 §6.1): the login
    /// service checked the client's proof. Not with `dpop`.
    cnf: Option<Confirmation>,
    /// The client's DPoP proof for the login service's token endpoint
    /// (one of the client's `dpop_proof_urls`, method POST), for Tessera
    /// to check and bind the tokens to its key. Not with `cnf`.
    #[schema(max_length = 4096)]
    dpop: Option<String>,
}

/// `{"jkt": "<RFC 7638 SHA-256 thumbprint>"}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    #[schema(
        example = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
        min_length = 43,
        max_length = 43
    )]
    jkt: String,
}

impl TryFrom<IssueBody> for IssueRequest {
    type Error = ApiError;

    fn try_from(b: IssueBody) -> Result<Self, ApiError> {
        let sub = b
            .sub
            .ok_or_else(|| ApiError::InvalidRequest("field `sub` is required".into()))?;
        if b.ttl.is_some_and(|t| t > i64::MAX as u64) {
            return Err(ApiError::InvalidRequest("`ttl` is out of range".into()));
        }
        let dpop = match (b.cnf, b.dpop) {
            (Some(_), Some(_)) => {
                return Err(ApiError::InvalidRequest(
                    "give `cnf` or `dpop`, not both".into(),
                ));
            }
            (Some(cnf), None) => Some(DpopBinding::Jkt(Jkt::parse(&cnf.jkt)?)),
            (None, Some(proof)) => Some(DpopBinding::Proof(proof)),
            (None, None) => None,
        };
        Ok(IssueRequest {
            dpop,
            sub: Subject::parse(&sub)?,
            aud: b.aud.as_deref().map(Audience::parse).transpose()?,
            scope: Scope::parse(b.scope.as_deref().unwrap_or_default())?,
            ttl: b.ttl,
            claims: CustomClaims::parse(b.claims.unwrap_or_default())?,
            refresh: b.refresh,
        })
    }
}

/// RFC 6749 §5.1 (and RFC 8693 §2.2.1) token response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse<'a> {
    access_token: &'a str,
    /// `DPoP` for a token bound to a key (RFC 9449 §5), else `Bearer`.
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds; reuse the token until shortly before they run out.
    expires_in: i64,
    /// With a session: its refresh token (on a refresh, the successor; the
    /// presented one stops working).
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_expires_in: Option<i64>,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    /// Token exchange (`/oauth2/token`) only.
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_token_type: Option<&'static str>,
}

/// The `200` answer for a minted token (and pair); never cached by anyone.
pub fn token_response(issued: &Issued, issued_token_type: Option<&'static str>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token: &issued.access_token,
            token_type: if bound_key(&issued.claims.extra).is_some() {
                "DPoP"
            } else {
                "Bearer"
            },
            expires_in: issued.expires_in,
            refresh_token: issued.refresh_token.as_deref(),
            refresh_expires_in: issued.refresh_expires_in,
            scope: &issued.scope,
            issued_token_type,
        })
}

#[utoipa::path(post, path = "/token/issue", tag = "tokens", request_body = IssueBody,
    security(("client_basic" = [])),
    responses((status = 200, body = TokenResponse, description = "A new access token (and refresh token)"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn issue(req: HttpRequest, body: Body, state: State) -> Result<HttpResponse, ApiError> {
    let client = require_client(&state, &req, None, Grant::Issue).await?;
    state.rate_limits().check_client(&client.id)?;
    let request = decode_issue_request(&body)?;
    let issued = state
        .service
        .issue(&client, request, &request_id(&req))
        .await
        .map_err(ApiError::at_token_endpoint)?;
    Ok(token_response(&issued, None))
}

/// Decodes and validates an issue request body: JSON only, unknown fields
/// and repeated keys refused, every field parsed into its domain type.
/// Public so the body-decoding fuzz target exercises exactly this path.
pub fn decode_issue_request(body: &Body) -> Result<IssueRequest, ApiError> {
    let parsed: IssueBody = body.require(&[])?;
    IssueRequest::try_from(parsed)
}
