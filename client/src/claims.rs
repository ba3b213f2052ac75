//! The claims of a Tessera access token (RFC 9068 plus Tessera's `sid`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Registered and Tessera claims, then the token's custom claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The issuer (empty when the claims came from a remote verify, whose
    /// answer does not repeat it).
    #[serde(default)]
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default)]
    pub nbf: i64,
    pub jti: String,
    pub client_id: String,
    /// Space-separated scopes (empty when the token has none).
    #[serde(default)]
    pub scope: String,
    pub sid: String,
    /// Custom claims.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

impl Claims {
    /// The token's scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }

    /// Whether the token holds every scope of `required`.
    pub fn has_scopes<S: AsRef<str>>(&self, required: &[S]) -> bool {
        required
            .iter()
            .all(|r| self.scopes().any(|held| held == r.as_ref()))
    }
}

/// What a route demands of a token beyond its validity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demands {
    /// The token's `aud` must equal this.
    pub audience: Option<String>,
    /// The token must hold every one of these scopes.
    pub scopes: Vec<String>,
}

impl Demands {
    /// No audience, no scope.
    pub fn none() -> Self {
        Demands::default()
    }

    /// Demands this audience.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audience = Some(aud.into());
        self
    }

    /// Demands this scope too.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_matched_whole() {
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "iss": "i", "sub": "u", "aud": "a", "exp": 2, "iat": 1, "nbf": 1,
            "jti": "j", "client_id": "c", "sid": "s", "scope": "read write", "tenant": "t"
        }))
        .unwrap();
        assert!(claims.has_scopes(&["read"]));
        assert!(claims.has_scopes(&["write", "read"]));
        assert!(!claims.has_scopes(&["rea"]));
        assert!(!claims.has_scopes(&["admin"]));
        assert_eq!(claims.extra["tenant"], "t");
    }
}
