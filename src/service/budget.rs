//! Size budget: a signed access token must fit what verify accepts
//! (`token::MAX_TOKEN_BYTES`), whatever the algorithm. Issue and refresh
//! sign first and refuse an oversized token before anything is stored.

use super::{ServiceError, TokenService};
use crate::domain::AccessClaims;
use crate::token::MAX_TOKEN_BYTES;

impl TokenService {
    /// Signs `claims` with the active key; a token verify would call
    /// malformed (over `MAX_TOKEN_BYTES`) is refused as a bad request
    /// naming the caller's fields and their sizes.
    pub(super) fn sign_within_budget(&self, claims: &AccessClaims) -> Result<String, ServiceError> {
        let token = self.policy().keys.sign(claims)?;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(ServiceError::InvalidRequest(too_large(claims, token.len())));
        }
        Ok(token)
    }
}

/// Why a token is too large: its size, the cap, and the fields a caller
/// controls, largest first, with their sizes (never their values).
fn too_large(claims: &AccessClaims, size: usize) -> String {
    let claims_len = serde_json::to_vec(&claims.extra).map_or(0, |v| v.len());
    let mut fields = [
        ("claims", claims_len),
        ("scope", claims.scope.len()),
        ("sub", claims.sub.len()),
        ("aud", claims.aud.len()),
    ];
    fields.sort_by_key(|f| std::cmp::Reverse(f.1));
    let named: Vec<String> = fields
        .iter()
        .filter(|(_, len)| *len > 0)
        .map(|(name, len)| format!("`{name}` ({len} bytes)"))
        .collect();
    format!(
        "the token would be {size} bytes, over the {MAX_TOKEN_BYTES} bytes verify accepts; \
         `sub`, `aud`, `scope` and `claims` are too large together: {}",
        named.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(extra: usize) -> AccessClaims {
        let mut map = serde_json::Map::new();
        map.insert("x".into(), "y".repeat(extra).into());
        AccessClaims {
            iss: "http://tessera.test".into(),
            sub: "u".repeat(256),
            aud: "api".into(),
            exp: 2,
            iat: 1,
            nbf: 1,
            jti: "j".into(),
            client_id: "app".into(),
            scope: "read".into(),
            sid: "s".into(),
            extra: map,
        }
    }

    #[test]
    fn the_message_names_the_fields_largest_first_with_sizes_only() {
        let msg = too_large(&claims(4000), 9000);
        assert!(
            msg.starts_with("the token would be 9000 bytes, over the 8192"),
            "{msg}"
        );
        let tail = msg.split(": ").last().unwrap();
        assert_eq!(
            tail,
            "`claims` (4008 bytes), `sub` (256 bytes), `scope` (4 bytes), `aud` (3 bytes)"
        );
        assert!(!msg.contains("uuu"), "no field value in the message");
    }
}
