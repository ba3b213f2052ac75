//! Identifiers: names (`Subject`, `ClientId`, `Audience`, `Kid`) checked
//! for length and characters, and random UUID ids (`Sid`, `Jti`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{DomainError, err};

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

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
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
}
