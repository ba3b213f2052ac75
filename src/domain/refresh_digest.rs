//! `RefreshDigest`: the SHA-256 of a refresh token, the only form in which
//! a store ever holds one.

/// SHA-256 of a refresh token; the token itself is never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshDigest(pub [u8; 32]);

impl RefreshDigest {
    pub fn to_hex(&self) -> String {
        super::hex::to_hex(&self.0)
    }
}
