//! `RotationSeed`: a session's secret for deriving each refresh token from
//! the one it replaces, so a retried refresh gets the same successor.

use std::fmt;

/// 32 random bytes kept with a session. The next refresh token's secret
/// is HMAC-SHA256(seed, presented token): presenting the same token twice
/// yields the same successor, and without the presented token's text (the
/// store keeps only digests) nobody can compute it. `Debug` never prints it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RotationSeed(pub [u8; 32]);

impl fmt::Debug for RotationSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RotationSeed(***)")
    }
}

impl RotationSeed {
    pub fn to_hex(&self) -> String {
        super::hex::to_hex(&self.0)
    }

    /// Parses 64 hex digits; anything else is `None`.
    pub fn from_hex(hex: &str) -> Option<Self> {
        super::hex::from_hex_32(hex).map(RotationSeed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_hex_and_hides_in_debug() {
        let seed = RotationSeed([0xab; 32]);
        assert_eq!(RotationSeed::from_hex(&seed.to_hex()), Some(seed));
        assert!(!format!("{seed:?}").contains("ab"));
        for bad in ["", "zz", &"a".repeat(63), &"g".repeat(64), &"+a".repeat(32)] {
            assert_eq!(RotationSeed::from_hex(bad), None, "{bad}");
        }
    }
}
