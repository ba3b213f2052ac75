//! `SecretHash`: a client secret's Argon2id hash (a PHC string made by
//! `tessera hash-secret`). Its `Debug` and `Serialize` print `***`.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{DomainError, err};

#[derive(Clone)]
pub struct SecretHash(SecretString);

impl SecretHash {
    /// Accepts an Argon2id PHC string; anything else is refused with a
    /// reason that says how to make one.
    pub fn parse(phc: &str) -> Result<Self, DomainError> {
        let parsed = PasswordHash::new(phc).map_err(|e| {
            err(format!(
                "not a PHC hash string ({e}); make one with `tessera hash-secret`"
            ))
        })?;
        if parsed.algorithm.as_str() != Algorithm::Argon2id.ident().as_str() {
            return Err(err(format!(
                "algorithm `{}` is not argon2id; make one with `tessera hash-secret`",
                parsed.algorithm
            )));
        }
        Ok(SecretHash(SecretString::from(phc.to_owned())))
    }

    /// Hashes `secret` with Argon2id (default parameters, a random salt from
    /// the OS CSPRNG).
    pub fn generate(secret: &str) -> Result<Self, DomainError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| err(format!("random source failed: {e}")))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| err(e.to_string()))?;
        let phc = Argon2::default()
            .hash_password(secret.as_bytes(), &salt)
            .map_err(|e| err(e.to_string()))?;
        Ok(SecretHash(SecretString::from(phc.to_string())))
    }

    /// Whether `secret` hashes to this value. Runs Argon2id to the end
    /// (milliseconds of CPU): call it off the async workers.
    pub fn matches(&self, secret: &str) -> bool {
        PasswordHash::new(self.0.expose_secret()).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &hash)
                .is_ok()
        })
    }

    /// The PHC string, for `hash-secret` to print.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(***)")
    }
}

impl Serialize for SecretHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

impl<'de> Deserialize<'de> for SecretHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SecretHash::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_match() {
        let hash = SecretHash::generate("s3cret").unwrap();
        assert!(hash.expose().starts_with("$argon2id$"));
        SecretHash::parse(hash.expose()).unwrap();
        assert!(hash.matches("s3cret"));
        assert!(!hash.matches("s3cret!"));
        assert!(!format!("{hash:?}").contains("argon2"));
    }

    #[test]
    fn other_algorithms_are_refused() {
        assert!(SecretHash::parse("plain").is_err());
        assert!(
            SecretHash::parse("$argon2i$v=19$m=16,t=2,p=1$c29tZXNhbHQ$YWJjZGVmZ2hpamtsbW5vcA")
                .is_err()
        );
    }
}
