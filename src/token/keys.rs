//! Signing keys: loading PKCS#8 PEM files, generating new ones, and the
//! public JWK of each. The key (found by `kid`) decides the algorithm.

use std::fmt;
use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use crate::config::KeySettings;
use crate::domain::{KeyAlg, KeyStatus, Kid};

/// The `jsonwebtoken` algorithm of a key's [`KeyAlg`].
pub fn jwt_alg(alg: KeyAlg) -> Algorithm {
    match alg {
        KeyAlg::EdDSA => Algorithm::EdDSA,
        KeyAlg::ES256 => Algorithm::ES256,
        KeyAlg::RS256 => Algorithm::RS256,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write key file `{path}`: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("key `{kid}`: {reason}")]
    Invalid { kid: String, reason: String },
    #[error("key generation failed")]
    Generate,
}

/// One signing key with its public half.
pub struct SigningKey {
    pub kid: Kid,
    pub alg: KeyAlg,
    pub status: KeyStatus,
    pub verify_until: Option<DateTime<Utc>>,
    pub encoding: EncodingKey,
    /// The parsed private key that signs (see [`Signer`]).
    signer: Signer,
    pub decoding: DecodingKey,
    pub jwk: Jwk,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("status", &self.status)
            .field("verify_until", &self.verify_until)
            .field("private", &"***")
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Builds a key from PKCS#8 PEM text.
    pub fn from_pem(
        kid: Kid,
        alg: KeyAlg,
        status: KeyStatus,
        verify_until: Option<DateTime<Utc>>,
        pem_text: &[u8],
    ) -> Result<Self, KeyError> {
        let invalid = |reason: String| KeyError::Invalid {
            kid: kid.to_string(),
            reason,
        };
        let parsed = pem::parse(pem_text).map_err(|e| invalid(format!("not PEM: {e}")))?;
        if parsed.tag() != "PRIVATE KEY" {
            return Err(invalid(format!(
                "expected a PKCS#8 `PRIVATE KEY` PEM block, found `{}`",
                parsed.tag()
            )));
        }
        let der = parsed.contents();
        let mismatch =
            |e: &dyn fmt::Display| invalid(format!("not a valid {} key: {e}", alg.as_str()));
        let (encoding, params, signer) = match alg {
            KeyAlg::EdDSA => {
                let pair =
                    Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|e| mismatch(&e))?;
                let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
                let params = AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                    key_type: OctetKeyPairType::OctetKeyPair,
                    curve: EllipticCurve::Ed25519,
                    x,
                });
                (
                    EncodingKey::from_ed_pem(pem_text).map_err(|e| mismatch(&e))?,
                    Some(params),
                    Signer::Ed(pair),
                )
            }
            KeyAlg::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|e| mismatch(&e))?;
                (
                    EncodingKey::from_ec_pem(pem_text).map_err(|e| mismatch(&e))?,
                    None,
                    Signer::Ec(pair),
                )
            }
            KeyAlg::RS256 => {
                let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(der).map_err(|e| mismatch(&e))?;
                if pair.public_modulus_len() < 256 {
                    return Err(invalid("RSA keys must have at least 2048 bits".into()));
                }
                (
                    EncodingKey::from_rsa_pem(pem_text).map_err(|e| mismatch(&e))?,
                    None,
                    Signer::Rsa(pair),
                )
            }
        };
        let common = CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(match alg {
                KeyAlg::EdDSA => KeyAlgorithm::EdDSA,
                KeyAlg::ES256 => KeyAlgorithm::ES256,
                KeyAlg::RS256 => KeyAlgorithm::RS256,
            }),
            key_id: Some(kid.to_string()),
            ..Default::default()
        };
        let jwk = if let Some(algorithm) = params {
            Jwk { common, algorithm }
        } else {
            let mut jwk = Jwk::from_encoding_key(&encoding, jwt_alg(alg))
                .map_err(|e| invalid(format!("cannot derive the public key: {e}")))?;
            jwk.common = common;
            jwk
        };
        let decoding = DecodingKey::from_jwk(&jwk)
            .map_err(|e| invalid(format!("cannot derive the public key: {e}")))?;
        let key = SigningKey {
            kid,
            alg,
            status,
            verify_until,
            encoding,
            signer,
            decoding,
            jwk,
        };
        key.self_test()?;
        Ok(key)
    }

    /// Loads the key a config entry names.
    pub fn load(settings: &KeySettings) -> Result<Self, KeyError> {
        let text = std::fs::read(&settings.path).map_err(|source| KeyError::Read {
            path: settings.path.display().to_string(),
            source,
        })?;
        let kid = Kid::parse(&settings.kid).map_err(|e| KeyError::Invalid {
            kid: settings.kid.clone(),
            reason: e.to_string(),
        })?;
        Self::from_pem(
            kid,
            settings.alg,
            settings.status,
            settings.verify_until,
            &text,
        )
    }

    /// Signs and verifies a probe: catches a crypto backend that is missing
    /// or mismatched at start-up instead of on the first request.
    /// Our signer's output must verify with jsonwebtoken's verifier.
    fn self_test(&self) -> Result<(), KeyError> {
        let message = b"tessera key self-test";
        let alg = jwt_alg(self.alg);
        let sig = self.sign(message).map_err(|e| KeyError::Invalid {
            kid: self.kid.to_string(),
            reason: format!("self-test signing failed: {e}"),
        })?;
        let ok = jsonwebtoken::crypto::verify(&sig, message, &self.decoding, alg).unwrap_or(false);
        if !ok {
            return Err(KeyError::Invalid {
                kid: self.kid.to_string(),
                reason: "self-test signature did not verify".into(),
            });
        }
        Ok(())
    }

    /// The base64url JWS signature of `message` (RFC 7515 §5.1 step 5).
    pub fn sign(&self, message: &[u8]) -> Result<String, KeyError> {
        let raw = self.signer.sign(message).map_err(|()| KeyError::Invalid {
            kid: self.kid.to_string(),
            reason: "signing failed".into(),
        })?;
        Ok(URL_SAFE_NO_PAD.encode(raw))
    }

    /// Whether this key may still verify tokens at `now`.
    pub fn verifies_at(&self, now: DateTime<Utc>) -> bool {
        match (self.status, self.verify_until) {
            (KeyStatus::Active, _) | (KeyStatus::Retired, None) => true,
            (KeyStatus::Retired, Some(until)) => now < until,
        }
    }
}

/// A private key parsed once at load. jsonwebtoken's `encode` re-parses the
/// PKCS#8 document on every call, which for Ed25519 derives the public key
/// again (a second scalar multiplication): a callgrind profile of
/// `/token/issue` put 20% of its instructions there (BENCHMARKS.md).
enum Signer {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair),
    Rsa(aws_lc_rs::rsa::KeyPair),
}

impl Signer {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ()> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match self {
            Signer::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            // ECDSA_P256_SHA256_FIXED_SIGNING: r || s, as JWS wants.
            Signer::Ec(pair) => pair
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(drop),
            Signer::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &rng,
                    message,
                    &mut sig,
                )
                .map_err(drop)?;
                Ok(sig)
            }
        }
    }
}

/// Generates a new private key as PKCS#8 PEM text.
pub fn generate_pem(alg: KeyAlg) -> Result<String, KeyError> {
    let der: Vec<u8> = match alg {
        KeyAlg::EdDSA => Ed25519KeyPair::generate()
            .and_then(|k| k.to_pkcs8v1())
            .map_err(|_| KeyError::Generate)?
            .as_ref()
            .to_vec(),
        KeyAlg::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|k| k.to_pkcs8v1())
            .map_err(|_| KeyError::Generate)?
            .as_ref()
            .to_vec(),
        KeyAlg::RS256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| KeyError::Generate)?;
            let doc: aws_lc_rs::encoding::Pkcs8V1Der<'static> =
                pair.as_der().map_err(|_| KeyError::Generate)?;
            doc.as_ref().to_vec()
        }
    };
    // LF line endings, like `openssl genpkey` (the crate's default is CRLF).
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    Ok(pem::encode_config(
        &pem::Pem::new("PRIVATE KEY", der),
        config,
    ))
}

/// Writes a new key to `path` with owner-only permissions; never overwrites.
pub fn write_new_key(path: &Path, alg: KeyAlg) -> Result<(), KeyError> {
    use std::io::Write;
    let pem_text = generate_pem(alg)?;
    let err = |source| KeyError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(err)?;
    file.write_all(pem_text.as_bytes()).map_err(err)?;
    file.sync_all().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_and_pass_the_self_test() {
        for alg in [KeyAlg::EdDSA, KeyAlg::ES256, KeyAlg::RS256] {
            let pem_text = generate_pem(alg).unwrap();
            let key = SigningKey::from_pem(
                Kid::parse("k").unwrap(),
                alg,
                KeyStatus::Active,
                None,
                pem_text.as_bytes(),
            )
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            assert_eq!(key.jwk.common.key_id.as_deref(), Some("k"));
        }
    }

    #[test]
    fn a_key_of_another_algorithm_is_refused() {
        let pem_text = generate_pem(KeyAlg::ES256).unwrap();
        let err = SigningKey::from_pem(
            Kid::parse("k").unwrap(),
            KeyAlg::EdDSA,
            KeyStatus::Active,
            None,
            pem_text.as_bytes(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("not a valid EdDSA key"), "{err}");
    }
}
