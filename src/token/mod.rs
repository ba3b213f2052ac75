//! Access tokens: claims, the key set, signing and signature verification.
//! Stateful checks (is the record still live?) belong to `service`.

mod cache;
pub mod dpop;
mod dpop_nonce;
mod keys;
mod refresh;

pub use cache::{TokenDigest, VerifiedCache};
pub use dpop_nonce::NonceIssuer;
pub use keys::{KeyError, SigningKey, generate_pem, write_new_key};
pub use refresh::{RefreshToken, RefreshTokenError};

use std::sync::Arc;

use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Header, Validation};

use crate::config::{Environment, KeySettings, Settings};
use crate::domain::{AccessClaims, Audience, KeyAlg, KeyStatus, Kid, Rejection};
use keys::jwt_alg;

/// The media type of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("cannot encode the header or claims")]
    Encode(#[from] serde_json::Error),
    #[error("the signing key failed")]
    Key(#[from] KeyError),
}

/// The signing keys: one active, others retired but still verifying.
#[derive(Debug, Clone)]
pub struct KeySet {
    keys: Arc<Vec<SigningKey>>,
    active: usize,
}

impl KeySet {
    pub fn new(keys: Vec<SigningKey>) -> Result<Self, KeyError> {
        let active = keys
            .iter()
            .position(|k| k.status == KeyStatus::Active)
            .ok_or_else(|| KeyError::Invalid {
                kid: String::new(),
                reason: "no key has status `active`".into(),
            })?;
        Ok(KeySet {
            keys: Arc::new(keys),
            active,
        })
    }

    /// Loads the configured keys; in `dev` with none configured, loads or
    /// creates the key at `tokens.dev_key_path` (and says so).
    pub fn from_settings(settings: &Settings) -> Result<Self, KeyError> {
        if settings.keys.is_empty() && settings.env == Environment::Dev {
            let path = &settings.tokens.dev_key_path;
            if path.exists() {
                log::warn!(
                    "no signing key configured: using the dev key at {}",
                    path.display()
                );
            } else {
                log::warn!(
                    "no signing key configured: generating an Ed25519 dev key at {} (dev only; configure `keys` for production)",
                    path.display()
                );
                write_new_key(path, KeyAlg::EdDSA)?;
            }
            let dev = KeySettings {
                kid: "dev".into(),
                path: path.clone(),
                alg: KeyAlg::EdDSA,
                status: KeyStatus::Active,
                verify_until: None,
            };
            return KeySet::new(vec![SigningKey::load(&dev)?]);
        }
        let keys = settings
            .keys
            .iter()
            .map(SigningKey::load)
            .collect::<Result<Vec<_>, _>>()?;
        KeySet::new(keys)
    }

    pub fn active(&self) -> &SigningKey {
        &self.keys[self.active]
    }

    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid.as_str() == kid)
    }

    /// The public keys that verify at `now` (RFC 7517).
    pub fn jwks(&self, now: DateTime<Utc>) -> JwkSet {
        JwkSet {
            keys: self
                .keys
                .iter()
                .filter(|k| k.verifies_at(now))
                .map(|k| k.jwk.clone())
                .collect(),
        }
    }

    /// The ids of the keys that verify at `now` (the ones `jwks` lists).
    pub fn verifying_kids(&self, now: DateTime<Utc>) -> Vec<String> {
        self.keys
            .iter()
            .filter(|k| k.verifies_at(now))
            .map(|k| k.kid.to_string())
            .collect()
    }

    /// The algorithms of the published keys, for discovery metadata.
    pub fn algorithms(&self) -> Vec<&'static str> {
        let mut algs: Vec<&'static str> = self.keys.iter().map(|k| k.alg.as_str()).collect();
        algs.sort_unstable();
        algs.dedup();
        algs
    }

    /// Signs `claims` with the active key.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, SignError> {
        let key = self.active();
        let mut header = Header::new(jwt_alg(key.alg));
        header.typ = Some(ACCESS_TOKEN_TYP.into());
        header.kid = Some(key.kid.to_string());
        let header = serde_json::to_vec(&header)?;
        let payload = serde_json::to_vec(claims)?;
        let mut token = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 100);
        {
            use base64::Engine;
            use base64::engine::general_purpose::URL_SAFE_NO_PAD;
            URL_SAFE_NO_PAD.encode_string(&header, &mut token);
            token.push('.');
            URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        }
        let signature = key.sign(token.as_bytes())?;
        token.push('.');
        token.push_str(&signature);
        Ok(token)
    }

    /// Checks a token's form, key, signature and time/issuer/audience
    /// claims. The algorithm comes from the key found by `kid`, never from
    /// the header.
    pub fn verify(
        &self,
        token: &str,
        issuer: &str,
        leeway_secs: u64,
        audience: Option<&Audience>,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, Rejection> {
        self.verify_with_deadline(token, issuer, leeway_secs, audience, now)
            .map(|(claims, _)| claims)
    }

    /// As [`KeySet::verify`], plus the instant the verifying key stops
    /// verifying (a retired key's `verify_until`), if it ever does.
    pub fn verify_with_deadline(
        &self,
        token: &str,
        issuer: &str,
        leeway_secs: u64,
        audience: Option<&Audience>,
        now: DateTime<Utc>,
    ) -> Result<(AccessClaims, Option<DateTime<Utc>>), Rejection> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES || token.split('.').count() != 3 {
            return Err(Rejection::Malformed);
        }
        reject_repeated_keys(token)?;
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
        if !header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt")
        }) {
            return Err(Rejection::WrongType);
        }
        let kid = header.kid.as_deref().ok_or(Rejection::UnknownKey)?;
        Kid::parse(kid).map_err(|_| Rejection::UnknownKey)?;
        let key = self
            .find(kid)
            .filter(|k| k.verifies_at(now))
            .ok_or(Rejection::UnknownKey)?;
        let alg = jwt_alg(key.alg);
        if header.alg != alg {
            return Err(Rejection::BadSignature);
        }
        let mut validation = Validation::new(alg);
        validation.leeway = leeway_secs;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub", "aud"]);
        validation.set_issuer(&[issuer]);
        match audience {
            Some(aud) => validation.set_audience(&[aud.as_str()]),
            None => validation.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature
                | ErrorKind::InvalidAlgorithm
                | ErrorKind::InvalidEcdsaKey
                | ErrorKind::InvalidEddsaKey
                | ErrorKind::InvalidRsaKey(_) => Rejection::BadSignature,
                ErrorKind::ExpiredSignature => Rejection::Expired,
                ErrorKind::ImmatureSignature => Rejection::NotYetValid,
                ErrorKind::InvalidIssuer => Rejection::WrongIssuer,
                ErrorKind::InvalidAudience => Rejection::WrongAudience,
                _ => Rejection::Malformed,
            })?;
        Ok((data.claims, key.verify_until))
    }
}

/// Header and payload must be base64url JSON objects without a repeated
/// key: parsers disagree on which copy wins, so such a token is refused on
/// purpose rather than read as serde_json happens to (the last copy).
fn reject_repeated_keys(token: &str) -> Result<(), Rejection> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for segment in token.split('.').take(2) {
        let json = URL_SAFE_NO_PAD
            .decode(segment)
            .map_err(|_| Rejection::Malformed)?;
        crate::domain::strict_json::check_no_duplicate_keys(&json)
            .map_err(|_| Rejection::Malformed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::Algorithm;

    #[test]
    fn a_repeated_claim_is_refused_although_jsonwebtoken_alone_accepts_it() {
        let pem = generate_pem(KeyAlg::EdDSA).unwrap();
        let key = SigningKey::from_pem(
            Kid::parse("k1").unwrap(),
            KeyAlg::EdDSA,
            KeyStatus::Active,
            None,
            pem.as_bytes(),
        )
        .unwrap();
        let now = Utc::now().timestamp();
        let header = r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k1"}"#;
        let payload = format!(
            r#"{{"iss":"http://t","sub":"u","aud":"a","exp":{},"iat":{now},"nbf":{now},"jti":"j","client_id":"c","sid":"s","role":"user","role":"admin"}}"#,
            now + 600
        );
        let msg = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(&payload)
        );
        let sig =
            jsonwebtoken::crypto::sign(msg.as_bytes(), &key.encoding, Algorithm::EdDSA).unwrap();
        let token = format!("{msg}.{sig}");

        // What serde_json does on its own: the last copy silently wins.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_aud = false;
        let plain = jsonwebtoken::decode::<AccessClaims>(&token, &key.decoding, &validation)
            .expect("jsonwebtoken accepts repeated keys");
        assert_eq!(plain.claims.extra["role"], "admin");

        let keys = KeySet::new(vec![key]).unwrap();
        assert_eq!(
            keys.verify(&token, "http://t", 0, None, Utc::now()),
            Err(Rejection::Malformed)
        );
    }
}
