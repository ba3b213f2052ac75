//! Public metadata: the JWKS (RFC 7517) and RFC 8414 server metadata.

use actix_web::HttpResponse;
use actix_web::http::header;
use serde_json::json;

use crate::http::State;

/// How long callers may cache the key set. Keep it well under the window
/// between adding a key and promoting it (see the README's rotation runbook).
const JWKS_MAX_AGE_SECS: u32 = 300;

/// RFC 7517 key set: `keys` holds public JWKs with `kid`, `alg`, `use`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Jwks {
    #[schema(value_type = Vec<Object>)]
    keys: Vec<serde_json::Value>,
}

/// RFC 8414 authorization server metadata (documents the JSON built below).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerMetadata {
    issuer: String,
    jwks_uri: String,
    token_endpoint: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    grant_types_supported: Vec<String>,
    token_endpoint_auth_methods_supported: Vec<String>,
    introspection_endpoint_auth_methods_supported: Vec<String>,
    revocation_endpoint_auth_methods_supported: Vec<String>,
    access_token_signing_alg_values_supported: Vec<String>,
    response_types_supported: Vec<String>,
    scopes_supported: Vec<String>,
}

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery",
    responses((status = 200, body = Jwks, description = "The public keys that verify now")))]
pub async fn jwks(state: State) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={JWKS_MAX_AGE_SECS}"),
        ))
        .json(state.service.jwks())
}

#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "discovery",
    responses((status = 200, body = ServerMetadata, description = "RFC 8414 metadata")))]
pub async fn metadata(state: State) -> HttpResponse {
    let issuer = state.service.issuer().trim_end_matches('/');
    let url = |path: &str| format!("{issuer}{path}");
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .json(json!({
            "issuer": state.service.issuer(),
            "jwks_uri": url("/.well-known/jwks.json"),
            "token_endpoint": url("/token/refresh"),
            "introspection_endpoint": url("/token/introspect"),
            "revocation_endpoint": url("/token/revoke"),
            "grant_types_supported": ["refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "access_token_signing_alg_values_supported": state.service.signing_algorithms(),
            "response_types_supported": [],
            "scopes_supported": [],
        }))
}
