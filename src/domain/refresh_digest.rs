//! `RefreshDigest`: the SHA-256 of a refresh token, the only form in which
//! a store ever holds one.

/// SHA-256 of a refresh token; the token itself is never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshDigest(pub [u8; 32]);

impl RefreshDigest {
    pub fn to_hex(&self) -> String {
        use std::fmt::Write;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}
