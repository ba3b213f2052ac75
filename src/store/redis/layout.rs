//! The names of a user's keys (see the table in `mod.rs`), in one place
//! for the store and for tools that write records in its exact format
//! (`benches/tools/load_tokens.rs`).

use crate::domain::{Sid, TokenKey};

/// Key names under one `redis.key_prefix`.
#[derive(Debug, Clone)]
pub struct Layout {
    prefix: String,
}

impl Layout {
    pub fn new(prefix: &str) -> Self {
        Layout {
            prefix: prefix.to_owned(),
        }
    }

    /// `<prefix>{<sub>}:`, the start of every key of one user (one hash slot).
    pub fn base(&self, sub: &str) -> String {
        format!("{}{{{}}}:", self.prefix, sub)
    }

    /// An access token's record: `<base>at:<key22>`.
    pub fn access(&self, sub: &str, key: &TokenKey) -> String {
        format!("{}at:{}", self.base(sub), key.key_part())
    }

    /// A session's hash: `<base>fam:<sid>`.
    pub fn family(&self, sub: &str, sid: &Sid) -> String {
        format!("{}fam:{sid}", self.base(sub))
    }

    /// The index of live sessions (sid → expiry ms): `<base>sessions`.
    pub fn sessions(&self, sub: &str) -> String {
        format!("{}sessions", self.base(sub))
    }

    /// The index of stand-alone access tokens (key22 → expiry ms): `<base>ats`.
    pub fn standalone(&self, sub: &str) -> String {
        format!("{}ats", self.base(sub))
    }

    /// The user's generation (absent = 1): `<base>gen`. Every record holds
    /// the generation it was written under; logout everywhere raises it.
    pub fn generation(&self, sub: &str) -> String {
        format!("{}gen", self.base(sub))
    }
}
