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
}

impl Grant {
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::Issue => "issue",
            Grant::Verify => "verify",
            Grant::Introspect => "introspect",
            Grant::Revoke => "revoke",
            Grant::Admin => "admin",
        }
    }
}
