//! Validated values. Request bodies become these once, at the edge; past
//! that point the code never re-checks a subject or a scope.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DomainError(pub String);

fn err(msg: impl Into<String>) -> DomainError {
    DomainError(msg.into())
}

/// Rejects empty, over-long, control or whitespace characters, and the
/// braces that delimit Redis hash tags.
fn check_identifier(what: &str, s: &str, max: usize) -> Result<(), DomainError> {
    if s.is_empty() {
        return Err(err(format!("`{what}` must not be empty")));
    }
    if s.len() > max {
        return Err(err(format!("`{what}` is longer than {max} bytes")));
    }
    if let Some(c) = s
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || matches!(c, '{' | '}'))
    {
        return Err(err(format!(
            "`{what}` contains a forbidden character {c:?} (no whitespace, control characters or braces)"
        )));
    }
    Ok(())
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, DomainError> {
                check_identifier($what, s, $max)?;
                Ok($name(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

identifier!(
    /// The user a token speaks for (`sub`). Also the Redis hash tag.
    Subject, "sub", 256
);
identifier!(
    /// A configured client (`client_id`).
    ClientId, "client_id", 128
);
identifier!(
    /// An intended recipient of a token (`aud`).
    Audience, "aud", 256
);
identifier!(
    /// A signing key id (`kid`).
    Kid, "kid", 64
);

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Subject::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A session (refresh family) id: a UUID v4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sid(pub uuid::Uuid);

/// A token id: a UUID v4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Jti(pub uuid::Uuid);

macro_rules! uuid_id {
    ($name:ident) => {
        impl $name {
            /// A fresh random id (uuid v4 draws on the OS CSPRNG).
            pub fn new_random() -> Self {
                $name(uuid::Uuid::new_v4())
            }

            pub fn parse(s: &str) -> Result<Self, DomainError> {
                uuid::Uuid::try_parse(s)
                    .map($name)
                    .map_err(|_| err(concat!("`", stringify!($name), "` is not a UUID")))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(Sid);
uuid_id!(Jti);

/// A space-separated set of scope tokens (RFC 6749 §3.3), kept sorted and
/// without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<String>);

impl Scope {
    pub const MAX_LEN: usize = 1024;

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        if s.len() > Self::MAX_LEN {
            return Err(err(format!(
                "`scope` is longer than {} bytes",
                Self::MAX_LEN
            )));
        }
        let mut set = BTreeSet::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            if let Some(c) = token.chars().find(|&c| {
                !(c == '\x21' || ('\x23'..='\x5b').contains(&c) || ('\x5d'..='\x7e').contains(&c))
            }) {
                return Err(err(format!("`scope` contains a forbidden character {c:?}")));
            }
            set.insert(token.to_owned());
        }
        Ok(Scope(set))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The first member of `self` missing from `other`.
    pub fn first_outside<'a>(&'a self, other: &Scope) -> Option<&'a str> {
        self.0
            .iter()
            .find(|s| !other.0.contains(*s))
            .map(String::as_str)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

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
        let size = serde_json::to_vec(&map)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
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
    fn subject_rejects_braces_whitespace_and_empty() {
        for bad in ["", "a b", "a{b", "}", "a\nb", &"x".repeat(257)] {
            assert!(Subject::parse(bad).is_err(), "accepted {bad:?}");
        }
        assert!(Subject::parse("user-42@example.com").is_ok());
        assert!(Subject::parse("auth0|5f1e").is_ok());
    }

    #[test]
    fn scope_is_sorted_and_deduplicated() {
        let s = Scope::parse("write read  read").unwrap();
        assert_eq!(s.to_string(), "read write");
        assert!(Scope::parse("a\"b").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("").unwrap().is_empty());
    }

    #[test]
    fn scope_subset() {
        let all = Scope::parse("read write admin").unwrap();
        let some = Scope::parse("read").unwrap();
        assert!(some.is_subset(&all));
        assert!(!all.is_subset(&some));
        assert_eq!(all.first_outside(&some), Some("admin"));
    }

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
