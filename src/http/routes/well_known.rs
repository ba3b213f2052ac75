//! Public metadata: the JWKS (RFC 7517), RFC 8414 server metadata and the
//! OpenID discovery document (the subset that makes sense without ID
//! tokens). Both metadata documents come from one builder, so they agree.

use actix_web::HttpResponse;
use actix_web::http::header;
use serde_json::{Value, json};

use super::oauth_token::TOKEN_EXCHANGE;
use crate::http::State;

/// How long callers may cache the key set. Keep it well under the window
/// between adding a key and promoting it (see the README's rotation runbook).
const JWKS_MAX_AGE_SECS: u32 = 300;

/// How long callers may cache the metadata documents.
const METADATA_MAX_AGE_SECS: u32 = 3600;

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

/// OpenID Connect Discovery 1.0 subset (no ID tokens, no authorization
/// endpoint): the RFC 8414 fields plus `id_token_signing_alg_values_supported`
/// and `subject_types_supported`, which some discovery clients require.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct OpenIdConfiguration {
    issuer: String,
    jwks_uri: String,
    token_endpoint: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    grant_types_supported: Vec<String>,
    token_endpoint_auth_methods_supported: Vec<String>,
    access_token_signing_alg_values_supported: Vec<String>,
    id_token_signing_alg_values_supported: Vec<String>,
    subject_types_supported: Vec<String>,
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

/// The RFC 8414 metadata; the OpenID document adds to it.
fn server_metadata(state: &State) -> Value {
    let configured = state.service.issuer();
    let issuer = configured.trim_end_matches('/');
    let url = |path: &str| format!("{issuer}{path}");
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    json!({
        "issuer": configured,
        "jwks_uri": url("/.well-known/jwks.json"),
        "token_endpoint": url("/oauth2/token"),
        "introspection_endpoint": url("/token/introspect"),
        "revocation_endpoint": url("/token/revoke"),
        "grant_types_supported": ["client_credentials", "refresh_token", TOKEN_EXCHANGE],
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "access_token_signing_alg_values_supported": state.service.signing_algorithms(),
        "response_types_supported": [],
        "scopes_supported": [],
    })
}

fn cached_json(body: &Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={METADATA_MAX_AGE_SECS}"),
        ))
        .json(body)
}

#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "discovery",
    responses((status = 200, body = ServerMetadata, description = "RFC 8414 metadata")))]
pub async fn metadata(state: State) -> HttpResponse {
    cached_json(&server_metadata(&state))
}

#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery",
    responses((status = 200, body = OpenIdConfiguration, description = "OpenID discovery (the subset without ID tokens)")))]
pub async fn openid_configuration(state: State) -> HttpResponse {
    let mut doc = server_metadata(&state);
    if let Some(map) = doc.as_object_mut() {
        let algs = state.service.signing_algorithms();
        // Tessera issues no ID tokens; discovery clients that require these
        // fields (go-oidc, ASP.NET) get truthful values.
        map.insert("id_token_signing_alg_values_supported".into(), json!(algs));
        map.insert("subject_types_supported".into(), json!(["public"]));
    }
    cached_json(&doc)
}
