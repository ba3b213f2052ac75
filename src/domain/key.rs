//! What configuration says about a signing key: its algorithm (the key,
//! never a token header, decides it) and whether it still signs.

use serde::{Deserialize, Serialize};

/// The signature algorithms a key may carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum KeyAlg {
    #[default]
    EdDSA,
    ES256,
    RS256,
}

impl KeyAlg {
    pub fn parse(s: &str) -> Option<KeyAlg> {
        match s {
            "EdDSA" | "eddsa" | "Ed25519" | "ed25519" => Some(KeyAlg::EdDSA),
            "ES256" | "es256" => Some(KeyAlg::ES256),
            "RS256" | "rs256" => Some(KeyAlg::RS256),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlg::EdDSA => "EdDSA",
            KeyAlg::ES256 => "ES256",
            KeyAlg::RS256 => "RS256",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Signs new tokens (exactly one key) and verifies.
    Active,
    /// Verifies only, until `verify_until` when set.
    Retired,
}
