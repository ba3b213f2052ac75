//! `TokenKey`: the name of an access token's store record, derived from the
//! exact compact token (the first 16 bytes of its SHA-256), so the record
//! binds those bytes: a token forged with a leaked key for a live
//! `(sub, jti)` has other bytes, another key, and no record.

use std::fmt;

/// The first 16 bytes of the SHA-256 of an access token's compact form.
/// 128 bits: a second token meeting a live key is a 2^-128 event per try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenKey([u8; 16]);

impl TokenKey {
    /// The key of the token whose SHA-256 is `sha256` (computed once, by
    /// the caller that already hashes the token).
    pub fn from_sha256(sha256: &[u8; 32]) -> Self {
        let mut key = [0u8; 16];
        key.copy_from_slice(&sha256[..16]);
        TokenKey(key)
    }

    /// As record keys and index members spell it: base64url without
    /// padding, 22 characters.
    pub fn key_part(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl fmt::Display for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key_part())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_digest_prefix_in_22_base64url_characters() {
        let mut digest = [0u8; 32];
        digest[0] = 0xfb;
        digest[15] = 0xff;
        digest[16] = 0x01;
        let key = TokenKey::from_sha256(&digest);
        let part = key.key_part();
        assert_eq!(part.len(), 22);
        assert!(part.starts_with("-w"), "{part}");
        let mut other = digest;
        other[16] = 0x02;
        assert_eq!(TokenKey::from_sha256(&other), key, "only 16 bytes count");
        other[15] = 0xfe;
        assert_ne!(TokenKey::from_sha256(&other), key);
    }
}
