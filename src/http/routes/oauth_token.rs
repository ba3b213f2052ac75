//! `POST /oauth2/token`: the RFC 6749 token endpoint. Form body (§3.2),
//! `client_secret_basic` or `client_secret_post`, errors per §5.2. Grants:
//! `client_credentials` (§4.4), `refresh_token` (§6, the same rotation as
//! `/token/refresh`) and token exchange (RFC 8693).

use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use super::issue::{TokenResponse, token_response};
use crate::domain::{Audience, Grant, Scope};
use crate::http::client_auth::authenticate_client;
use crate::http::{ApiError, Body, BodyKind, ErrorBody, State, request_id};
use crate::service::ExchangeRequest;

pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The grants `/oauth2/token` serves (the OpenAPI document's enum; the
/// handler reads the parameter as text, so another value is
/// `unsupported_grant_type`, not a parse error).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub enum GrantType {
    #[schema(rename = "client_credentials")]
    ClientCredentials,
    #[schema(rename = "refresh_token")]
    RefreshToken,
    #[schema(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

/// The parameters of every grant; each grant reads its own.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenForm {
    /// `client_credentials`, `refresh_token` or
    /// `urn:ietf:params:oauth:grant-type:token-exchange`.
    #[schema(required = true, value_type = Option<GrantType>, example = "client_credentials")]
    grant_type: Option<String>,
    /// Space-separated; narrows what the grant allows.
    scope: Option<String>,
    /// The target service (RFC 8693); same as `resource`.
    audience: Option<String>,
    /// The target service (RFC 8707); same as `audience`.
    resource: Option<String>,
    /// `refresh_token` grant.
    refresh_token: Option<String>,
    /// Token exchange: a live access token Tessera issued.
    subject_token: Option<String>,
    /// Token exchange: `urn:ietf:params:oauth:token-type:access_token`.
    #[schema(example = "urn:ietf:params:oauth:token-type:access_token")]
    subject_token_type: Option<String>,
    /// Token exchange: only `urn:ietf:params:oauth:token-type:access_token`.
    requested_token_type: Option<String>,
    /// Token exchange: not supported (the authenticated client is the actor).
    actor_token: Option<String>,
    actor_token_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

const FORM_FIELDS: &[&str] = &[
    "grant_type",
    "scope",
    "audience",
    "resource",
    "refresh_token",
    "subject_token",
    "subject_token_type",
    "requested_token_type",
    "actor_token",
    "actor_token_type",
    "client_id",
    "client_secret",
];

fn required(value: Option<String>, name: &str) -> Result<String, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::InvalidRequest(format!("parameter `{name}` is required")))
}

fn scope(form: &TokenForm) -> Result<Option<Scope>, ApiError> {
    form.scope
        .as_deref()
        .map(Scope::parse)
        .transpose()
        .map_err(|e| ApiError::InvalidScope(e.0))
}

/// The target: `audience` (RFC 8693) or `resource` (RFC 8707), one of them
/// or both the same.
fn target(form: &TokenForm) -> Result<Option<Audience>, ApiError> {
    let value = match (form.audience.as_deref(), form.resource.as_deref()) {
        (Some(a), Some(r)) if a != r => {
            return Err(ApiError::InvalidTarget(
                "`audience` and `resource` name different targets; give one".into(),
            ));
        }
        (Some(v), _) | (None, Some(v)) => v,
        (None, None) => return Ok(None),
    };
    Audience::parse(value)
        .map(Some)
        .map_err(|e| ApiError::InvalidTarget(e.0))
}

#[utoipa::path(post, path = "/oauth2/token", tag = "oauth2",
    request_body(content((TokenForm = "application/x-www-form-urlencoded"))),
    security(("client_basic" = []), ()),
    responses((status = 200, body = TokenResponse, description = "A new access token (and, for refresh_token, the successor refresh token)"),
        (status = 400, body = ErrorBody, description = "invalid_request, invalid_grant, invalid_scope, invalid_target, unauthorized_client or unsupported_grant_type"),
        (status = 401, body = ErrorBody, description = "invalid_client, with WWW-Authenticate: Basic")))]
pub async fn token(req: HttpRequest, body: Body, state: State) -> Result<HttpResponse, ApiError> {
    if body.kind == BodyKind::Json {
        return Err(ApiError::UnsupportedMediaType(
            "this endpoint takes application/x-www-form-urlencoded (RFC 6749 §3.2)".into(),
        ));
    }
    let form: TokenForm = body.require(FORM_FIELDS)?;
    let form_creds = form.client_id.as_deref().zip(form.client_secret.as_deref());
    let client = authenticate_client(&state, &req, form_creds).await?;
    state.rate_limits().check_client(&client.id)?;
    let rid = request_id(&req);
    let grant_type = required(form.grant_type.clone(), "grant_type")?;
    let service = &state.service;
    match grant_type.as_str() {
        "client_credentials" => {
            client
                .require(Grant::ClientCredentials)
                .map_err(|e| ApiError::oauth(e.into()))?;
            let (scope, aud) = (scope(&form)?, target(&form)?);
            let issued = service
                .client_credentials(&client, scope, aud, &rid)
                .await
                .map_err(ApiError::oauth)?;
            Ok(token_response(&issued, None))
        }
        "refresh_token" => {
            // The grant `/token/refresh` needs; the session must be this client's.
            client
                .require(Grant::Issue)
                .map_err(|e| ApiError::oauth(e.into()))?;
            let scope = scope(&form)?;
            let token = required(form.refresh_token, "refresh_token")?;
            let proof = crate::http::dpop::proof_header(&req).map_err(ApiError::for_oauth)?;
            let issued = service
                .refresh(
                    &client,
                    &token,
                    scope,
                    proof.as_deref(),
                    "/oauth2/token",
                    &rid,
                )
                .await
                .map_err(ApiError::oauth)?;
            Ok(token_response(&issued, None))
        }
        TOKEN_EXCHANGE => {
            client
                .require(Grant::TokenExchange)
                .map_err(|e| ApiError::oauth(e.into()))?;
            let (scope, aud) = (scope(&form)?, target(&form)?);
            let subject_token = required(form.subject_token, "subject_token")?;
            let subject_type = required(form.subject_token_type, "subject_token_type")?;
            if subject_type != ACCESS_TOKEN_TYPE {
                return Err(ApiError::InvalidRequest(format!(
                    "`subject_token_type` must be `{ACCESS_TOKEN_TYPE}`"
                )));
            }
            if form
                .requested_token_type
                .as_deref()
                .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
            {
                return Err(ApiError::InvalidRequest(format!(
                    "`requested_token_type` must be `{ACCESS_TOKEN_TYPE}` when given"
                )));
            }
            if form.actor_token.is_some() || form.actor_token_type.is_some() {
                return Err(ApiError::InvalidRequest(
                    "`actor_token` is not supported: the authenticated client is the actor".into(),
                ));
            }
            let request = ExchangeRequest {
                subject_token: &subject_token,
                aud,
                scope,
            };
            let issued = service
                .exchange(&client, request, &rid)
                .await
                .map_err(ApiError::oauth)?;
            Ok(token_response(&issued, Some(ACCESS_TOKEN_TYPE)))
        }
        _ => Err(ApiError::UnsupportedGrantType(format!(
            "`grant_type` must be `client_credentials`, `refresh_token` or `{TOKEN_EXCHANGE}`"
        ))),
    }
}
