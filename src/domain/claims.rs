//! `CustomClaims`: the caller's own claims, checked for names, count and size.

use serde::Serialize;

use super::{DomainError, err};

/// Claim names a caller may not set in `claims`: registered JWT claims and
/// the ones Tessera writes itself.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "client_id",
    "scope",
    "sid",
    "typ",
    "cnf",
    "act",
    "may_act",
    "azp",
    "auth_time",
    "acr",
    "amr",
    "token_type",
    "active",
];

/// Caller-supplied claims, checked for names, count and size.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct CustomClaims(pub serde_json::Map<String, serde_json::Value>);

impl CustomClaims {
    pub const MAX_CLAIMS: usize = 32;
    pub const MAX_BYTES: usize = 4096;

    pub fn parse(map: serde_json::Map<String, serde_json::Value>) -> Result<Self, DomainError> {
        if map.len() > Self::MAX_CLAIMS {
            return Err(err(format!(
                "`claims` has more than {} entries",
                Self::MAX_CLAIMS
            )));
        }
        for name in map.keys() {
            let valid = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
            if !valid {
                return Err(err(format!(
                    "claim name `{}` must be 1-64 characters of A-Z a-z 0-9 _ - . :",
                    name.escape_debug()
                )));
            }
            if RESERVED_CLAIMS.contains(&name.as_str()) {
                return Err(err(format!("claim name `{name}` is reserved")));
            }
        }
        let size = serde_json::to_vec(&map).map_or(usize::MAX, |v| v.len());
        if size > Self::MAX_BYTES {
            return Err(err(format!(
                "`claims` is larger than {} bytes",
                Self::MAX_BYTES
            )));
        }
        Ok(CustomClaims(map))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_refuse_reserved_and_bad_names() {
        let mut m = serde_json::Map::new();
        m.insert("sub".into(), "x".into());
        assert!(CustomClaims::parse(m).is_err());
        let mut m = serde_json::Map::new();
        m.insert("bad name".into(), "x".into());
        assert!(CustomClaims::parse(m).is_err());
        let mut m = serde_json::Map::new();
        m.insert("role".into(), "editor".into());
        assert!(CustomClaims::parse(m).is_ok());
    }
}
