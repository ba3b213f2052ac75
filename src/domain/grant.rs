//! `Grant`: what a configured client may do.

use serde::{Deserialize, Serialize};

/// What a client may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Grant {
    Issue,
    Verify,
    Introspect,
    Revoke,
    Admin,
    /// `POST /oauth2/token` with `grant_type=client_credentials`: a token
    /// for the client itself (RFC 6749 §4.4).
    #[serde(rename = "client_credentials")]
    ClientCredentials,
    /// `POST /oauth2/token` with the RFC 8693 token-exchange grant: a token
    /// for another audience on behalf of a live token's subject.
    #[serde(rename = "token_exchange")]
    TokenExchange,
}

impl Grant {
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::Issue => "issue",
            Grant::Verify => "verify",
            Grant::Introspect => "introspect",
            Grant::Revoke => "revoke",
            Grant::Admin => "admin",
            Grant::ClientCredentials => "client_credentials",
            Grant::TokenExchange => "token_exchange",
        }
    }
}
