//! `POST /token/refresh` (grant `issue`): rotation with reuse detection.

use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use super::issue::token_response;
use crate::domain::{Grant, Scope};
use crate::http::client_auth::require_client;
use crate::http::{ApiError, Body, ErrorBody, State, request_id};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    #[schema(required = true)]
    refresh_token: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
}

const FORM_FIELDS: &[&str] = &[
    "refresh_token",
    "scope",
    "client_id",
    "client_secret",
    "grant_type",
];

#[utoipa::path(post, path = "/token/refresh", tag = "tokens",
    request_body(content((RefreshBody = "application/json"), (RefreshBody = "application/x-www-form-urlencoded"))),
    params(("DPoP" = Option<String>, Header, description = "A DPoP-bound session's proof by its key (docs/dpop.md)")),
    security(("client_basic" = []), ()),
    responses((status = 200, body = super::issue::TokenResponse, description = "A new pair; the old refresh token stops working"),
        (status = 400, body = ErrorBody, description = "invalid_request, or invalid_dpop_proof (a bound session without a proof by its key)"), (status = 401, body = ErrorBody, description = "invalid_client, or invalid_token (unknown, expired or reused refresh token)"),
        (status = 403, body = ErrorBody)))]
pub async fn refresh(req: HttpRequest, body: Body, state: State) -> Result<HttpResponse, ApiError> {
    let b: RefreshBody = body.require(FORM_FIELDS)?;
    let form_creds = b.client_id.as_deref().zip(b.client_secret.as_deref());
    let client = require_client(&state, &req, form_creds, Grant::Issue).await?;
    state.rate_limits().check_client(&client.id)?;
    if let Some(gt) = &b.grant_type
        && gt != "refresh_token"
    {
        return Err(ApiError::InvalidRequest(
            "`grant_type` must be `refresh_token` when given".into(),
        ));
    }
    let token = b
        .refresh_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::InvalidRequest("field `refresh_token` is required".into()))?;
    let scope = b.scope.as_deref().map(Scope::parse).transpose()?;
    // A session bound to a DPoP key needs a proof by it (RFC 9449 §5).
    let proof = crate::http::dpop::proof_header(&req).map_err(ApiError::for_oauth)?;
    let issued = state
        .service
        .refresh(
            &client,
            &token,
            scope,
            proof.as_deref(),
            "/token/refresh",
            &request_id(&req),
        )
        .await
        .map_err(ApiError::at_token_endpoint)?;
    Ok(token_response(&issued, None))
}
