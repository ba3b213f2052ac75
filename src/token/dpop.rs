//! DPoP proofs (RFC 9449 §4.3): every check that needs only the proof, the
//! request it is meant for and the clock. The `jti` replay check needs the
//! store and is the service's (`service::dpop`).
//!
//! The key decides the algorithm: the embedded `jwk` must be public, of a
//! type and curve that match `alg` exactly (ES256 ↔ EC P-256, EdDSA ↔ OKP
//! Ed25519, RS256/PS256 ↔ RSA of 2048 to 4096 bits). No symmetric `alg`,
//! no `none`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::NonceIssuer;
use crate::domain::{Jkt, ProofError, access_token_hash, normalise_htu, strict_json};

/// The media type of a proof (RFC 9449 §4.2).
pub const DPOP_TYP: &str = "dpop+jwt";

/// Proofs longer than this are refused before any parsing (an RSA-4096
/// proof is about 2.2 KiB).
pub const MAX_PROOF_BYTES: usize = 4096;

/// Longest `jti` remembered.
pub const MAX_JTI_CHARS: usize = 128;

/// JWK members that only a private (or symmetric) key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// What a proof must match: the request it authorises (its method, and
/// the URIs it may name, already normalised: one for a resource request,
/// an allow-list at a token endpoint), the access token it accompanies,
/// the clock and the window.
#[derive(Debug, Clone, Copy)]
pub struct ProofCheck<'a> {
    pub htm: &'a str,
    pub htu: &'a [&'a str],
    /// The access token presented with the proof: its hash must be `ath`.
    pub access_token: Option<&'a str>,
    /// Unix seconds.
    pub now: i64,
    /// `iat` may be this far in the past or the future.
    pub window_secs: i64,
    /// When server nonces are on: the proof's `nonce` must be one of theirs.
    pub nonces: Option<&'a NonceIssuer>,
}

/// A proof that passed every stateless check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedProof {
    /// The thumbprint of the key that signed it.
    pub jkt: Jkt,
    pub jti: String,
    /// Unix seconds.
    pub iat: i64,
}

impl CheckedProof {
    /// How long the `jti` must be remembered: until the proof leaves the
    /// `iat` window (at least a second).
    pub fn replay_ttl_secs(&self, check: &ProofCheck<'_>) -> u64 {
        let left = self
            .iat
            .saturating_add(check.window_secs)
            .saturating_sub(check.now)
            .saturating_add(1);
        u64::try_from(left.max(1)).unwrap_or(1)
    }
}

/// Checks a proof against the request it came with. Returns the key's
/// thumbprint (the caller compares it with `cnf.jkt`) and the `jti`.
pub fn check_proof(proof: &str, check: &ProofCheck<'_>) -> Result<CheckedProof, ProofError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(ProofError::TooLarge);
    }
    let mut parts = proof.split('.');
    let (Some(h), Some(p), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Malformed);
    };
    let header = json_object(h)?;
    let claims = json_object(p)?;
    if !header
        .get("typ")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case(DPOP_TYP))
    {
        return Err(ProofError::WrongType);
    }
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("ES256") => Algorithm::ES256,
        Some("EdDSA" | "Ed25519") => Algorithm::EdDSA,
        Some("RS256") => Algorithm::RS256,
        Some("PS256") => Algorithm::PS256,
        _ => return Err(ProofError::Algorithm),
    };
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or(ProofError::MissingClaim)?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(ProofError::PrivateKey);
    }
    let (key, canonical) = public_key(jwk, alg)?;
    let message = &proof[..h.len() + 1 + p.len()];
    match jsonwebtoken::crypto::verify(sig, message.as_bytes(), &key, alg) {
        Ok(true) => {}
        _ => return Err(ProofError::BadSignature),
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.chars().count() <= MAX_JTI_CHARS)
        .ok_or(ProofError::MissingClaim)?;
    let htm = text("htm").ok_or(ProofError::MissingClaim)?;
    let htu = text("htu").ok_or(ProofError::MissingClaim)?;
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(ProofError::MissingClaim)?;
    if htm != check.htm {
        return Err(ProofError::WrongMethod);
    }
    let htu = normalise_htu(htu).map_err(|_| ProofError::WrongUri)?;
    if !check.htu.contains(&htu.as_str()) {
        return Err(ProofError::WrongUri);
    }
    if iat < check.now.saturating_sub(check.window_secs)
        || iat > check.now.saturating_add(check.window_secs)
    {
        return Err(ProofError::Stale);
    }
    if let Some(token) = check.access_token {
        let ath = text("ath").ok_or(ProofError::WrongAth)?;
        let expected = access_token_hash(token);
        if !bool::from(ath.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(ProofError::WrongAth);
        }
    }
    // Last: `use_dpop_nonce` tells the client only what a sound proof lacks.
    if let Some(nonces) = check.nonces
        && !text("nonce").is_some_and(|n| nonces.accepts(n, check.now))
    {
        return Err(ProofError::UseNonce);
    }
    Ok(CheckedProof {
        jkt: Jkt::of_canonical_jwk(&canonical),
        jti: jti.to_owned(),
        iat,
    })
}

/// A base64url segment holding a JSON object without repeated keys.
fn json_object(segment: &str) -> Result<Map<String, Value>, ProofError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| ProofError::Malformed)?;
    strict_json::check_no_duplicate_keys(&bytes).map_err(|_| ProofError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ProofError::Malformed),
    }
}

/// The verifying key of a public JWK whose type and curve match `alg`, and
/// its RFC 7638 canonical form (required members, lexicographic order).
fn public_key(
    jwk: &Map<String, Value>,
    alg: Algorithm,
) -> Result<(DecodingKey, String), ProofError> {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    // A member of exactly `len` bytes (a range for RSA), in canonical base64url.
    let bytes = |name: &str, min: usize, max: usize| -> Result<&str, ProofError> {
        let text = member(name).ok_or(ProofError::KeyMismatch)?;
        let raw = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| ProofError::KeyMismatch)?;
        if raw.len() < min || raw.len() > max {
            return Err(ProofError::KeyMismatch);
        }
        Ok(text)
    };
    match (alg, member("kty"), member("crv")) {
        (Algorithm::ES256, Some("EC"), Some("P-256")) => {
            let (x, y) = (bytes("x", 32, 32)?, bytes("y", 32, 32)?);
            let key = DecodingKey::from_ec_components(x, y).map_err(|_| ProofError::KeyMismatch)?;
            Ok((
                key,
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#),
            ))
        }
        (Algorithm::EdDSA, Some("OKP"), Some("Ed25519")) => {
            let x = bytes("x", 32, 32)?;
            let key = DecodingKey::from_ed_components(x).map_err(|_| ProofError::KeyMismatch)?;
            Ok((key, format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#)))
        }
        (Algorithm::RS256 | Algorithm::PS256, Some("RSA"), None) => {
            let (n, e) = (bytes("n", 256, 512)?, bytes("e", 1, 8)?);
            let key =
                DecodingKey::from_rsa_components(n, e).map_err(|_| ProofError::KeyMismatch)?;
            Ok((key, format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#)))
        }
        _ => Err(ProofError::KeyMismatch),
    }
}

#[cfg(test)]
#[path = "dpop_tests.rs"]
mod tests;
