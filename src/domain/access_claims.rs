//! The claims of an access token (RFC 9068 plus Tessera's `sid`).

use serde::{Deserialize, Serialize};

/// Registered and Tessera claims, then the caller's custom ones flattened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    pub sid: String,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}
