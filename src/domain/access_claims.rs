//! The claims of an access token (RFC 9068 plus Tessera's `sid`).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    pub extra: serde_json::Map<String, Value>,
}

impl AccessClaims {
    /// The claim `name` as text, for a response header: strings as they
    /// are, numbers and booleans as text, objects and arrays as compact
    /// JSON; `None` when the token has no such claim (or it is `null`).
    pub fn claim_text(&self, name: &str) -> Option<Cow<'_, str>> {
        let borrowed = match name {
            "iss" => &self.iss,
            "sub" => &self.sub,
            "aud" => &self.aud,
            "jti" => &self.jti,
            "client_id" => &self.client_id,
            "scope" => &self.scope,
            "sid" => &self.sid,
            "exp" => return Some(Cow::Owned(self.exp.to_string())),
            "iat" => return Some(Cow::Owned(self.iat.to_string())),
            "nbf" => return Some(Cow::Owned(self.nbf.to_string())),
            _ => {
                return match self.extra.get(name)? {
                    Value::Null => None,
                    Value::String(s) => Some(Cow::Borrowed(s)),
                    other => Some(Cow::Owned(other.to_string())),
                };
            }
        };
        Some(Cow::Borrowed(borrowed))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn claims_become_text_by_their_json_type() {
        let claims: AccessClaims = serde_json::from_value(json!({
            "iss": "i", "sub": "alice", "aud": "api", "exp": 20, "iat": 10, "nbf": 10,
            "jti": "j", "client_id": "app", "sid": "s", "scope": "read",
            "tenant": "t-1", "level": 3, "admin": false, "nothing": null,
            "groups": ["a", "b"], "org": {"id": 7}
        }))
        .unwrap();
        let text = |n| claims.claim_text(n).map(Cow::into_owned);
        assert_eq!(text("sub").as_deref(), Some("alice"));
        assert_eq!(text("exp").as_deref(), Some("20"));
        assert_eq!(text("tenant").as_deref(), Some("t-1"));
        assert_eq!(text("level").as_deref(), Some("3"));
        assert_eq!(text("admin").as_deref(), Some("false"));
        assert_eq!(text("groups").as_deref(), Some(r#"["a","b"]"#));
        assert_eq!(text("org").as_deref(), Some(r#"{"id":7}"#));
        assert_eq!(text("nothing"), None);
        assert_eq!(text("missing"), None);
    }
}
