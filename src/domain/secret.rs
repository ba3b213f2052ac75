//! `SecretHash`: a client secret's Argon2id hash (a PHC string made by
//! `tessera hash-secret`). Its `Debug` and `Serialize` print `***`.
//! [`HashScratch`] is Argon2's working memory, allocated once and reused by
//! every check a hashing thread runs (no per-check 19 MiB allocation).

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// Argon2's working memory for one check at a time; it grows to the
/// largest `m` it has been asked for and is then reused.
#[derive(Default)]
pub struct HashScratch {
    blocks: Vec<Block>,
    output: Vec<u8>,
}

impl HashScratch {
    /// Bytes of working memory held now.
    pub fn bytes(&self) -> usize {
        self.blocks.len() * Block::SIZE
    }
}

use super::{DomainError, err};

#[derive(Clone)]
pub struct SecretHash(SecretString);

/// The weakest Argon2id cost prod accepts in a client's `secret_hash`:
/// OWASP's minimum for Argon2id (Password Storage Cheat Sheet), m = 19 MiB
/// (19456 KiB), t = 2, p = 1 — exactly what `tessera hash-secret` produces.
pub const ARGON2_FLOOR: ArgonCost = ArgonCost {
    m_kib: 19_456,
    t: 2,
    p: 1,
    out_len: 32,
};

/// The cost parameters of an Argon2id hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArgonCost {
    /// Memory, KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
    /// Output length, bytes (no part of the cost floor).
    pub out_len: usize,
}

impl ArgonCost {
    /// Whether every parameter is at least the floor's.
    pub fn meets(&self, floor: &ArgonCost) -> bool {
        self.m_kib >= floor.m_kib && self.t >= floor.t && self.p >= floor.p
    }
}

impl std::fmt::Display for ArgonCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "m={},t={},p={}", self.m_kib, self.t, self.p)
    }
}

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

    /// Hashes `secret` with the cost parameters `cost` (a random salt).
    pub fn generate_with(secret: &str, cost: ArgonCost) -> Result<Self, DomainError> {
        let params = Params::new(cost.m_kib, cost.t, cost.p, Some(cost.out_len))
            .map_err(|e| err(e.to_string()))?;
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| err(format!("random source failed: {e}")))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| err(e.to_string()))?;
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(secret.as_bytes(), &salt)
            .map_err(|e| err(e.to_string()))?;
        Ok(SecretHash(SecretString::from(phc.to_string())))
    }

    /// [`matches`](Self::matches) with working memory reused from
    /// `scratch`: the hash of `secret` under this PHC's parameters and salt,
    /// compared in constant time.
    pub fn matches_with(&self, secret: &str, scratch: &mut HashScratch) -> bool {
        let Ok(hash) = PasswordHash::new(self.0.expose_secret()) else {
            return false;
        };
        let (Ok(params), Some(expected), Some(salt)) =
            (Params::try_from(&hash), hash.hash, hash.salt)
        else {
            return false;
        };
        let version = hash
            .version
            .and_then(|v| Version::try_from(v).ok())
            .unwrap_or(Version::V0x13);
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let blocks = params.block_count();
        if scratch.blocks.len() < blocks {
            scratch.blocks.resize(blocks, Block::default());
        }
        scratch.output.resize(expected.len(), 0);
        let argon = Argon2::new(Algorithm::Argon2id, version, params);
        argon
            .hash_password_into_with_memory(
                secret.as_bytes(),
                salt,
                &mut scratch.output,
                &mut scratch.blocks[..blocks],
            )
            .is_ok()
            && bool::from(scratch.output.as_slice().ct_eq(expected.as_bytes()))
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

    /// The cost parameters the hash was made with.
    pub fn cost(&self) -> Result<ArgonCost, DomainError> {
        let hash = PasswordHash::new(self.0.expose_secret()).map_err(|e| err(e.to_string()))?;
        let params = Params::try_from(&hash).map_err(|e| err(e.to_string()))?;
        Ok(ArgonCost {
            m_kib: params.m_cost(),
            t: params.t_cost(),
            p: params.p_cost(),
            out_len: params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN),
        })
    }

    /// The PHC string, for `hash-secret` to print.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// The same PHC string (salt and hash included), compared in constant time.
impl PartialEq for SecretHash {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.expose()
            .as_bytes()
            .ct_eq(other.expose().as_bytes())
            .into()
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
    fn checks_with_reused_memory_agree_with_the_verifier() {
        let mut scratch = HashScratch::default();
        let hash = SecretHash::generate("s3cret").unwrap();
        assert!(hash.matches_with("s3cret", &mut scratch));
        assert!(!hash.matches_with("s3cret!", &mut scratch));
        assert!(!hash.matches_with("", &mut scratch));
        let held = scratch.bytes();
        assert_eq!(held, 19 * 1024 * 1024, "m=19456 KiB, allocated once");
        // Other parameters (as the PHC names them) are honoured too.
        let cost = ArgonCost {
            m_kib: 64,
            t: 1,
            p: 1,
            out_len: 16,
        };
        let cheap = SecretHash::generate_with("abc", cost).unwrap();
        assert_eq!(cheap.cost().ok(), Some(cost));
        assert!(cheap.matches("abc"));
        assert!(cheap.matches_with("abc", &mut scratch));
        assert!(!cheap.matches_with("abd", &mut scratch));
        assert_eq!(scratch.bytes(), held, "no new allocation");
    }

    #[test]
    fn generated_hashes_meet_the_floor_and_weak_ones_do_not() {
        let hash = SecretHash::generate("a-client-secret-123").unwrap();
        let cost = hash.cost().unwrap();
        assert!(cost.meets(&ARGON2_FLOOR), "hash-secret makes {cost}");
        let weak = SecretHash::parse(
            "$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHQxMjM0NTY$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
        )
        .unwrap();
        assert_eq!(weak.cost().unwrap().m_kib, 4096);
        assert!(!weak.cost().unwrap().meets(&ARGON2_FLOOR));
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
