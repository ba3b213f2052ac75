//! The issuer's public keys, from its JWKS: cached as long as the answer's
//! `Cache-Control: max-age` allows, re-fetched when a token names an
//! unknown `kid`, but never more often than once per `min_refetch`; one
//! fetch at a time (the others wait for it). Each key's algorithm is
//! pinned from the JWK itself (`alg` checked against `kty`/`crv`), never
//! taken from a token's header.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::error::{Rejection, Unavailable, VerifyError};

/// JWKS answers larger than this are refused.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Without `Cache-Control: max-age`, keys are re-read after this long.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// A `max-age` longer than this is capped (a rotated-out key must go).
const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// One verifying key and the one algorithm it verifies.
pub(crate) struct VerifyKey {
    pub alg: Algorithm,
    pub key: DecodingKey,
}

#[derive(Default)]
struct KeyState {
    keys: HashMap<String, Arc<VerifyKey>>,
    fresh_until: Option<Instant>,
    last_fetch: Option<Instant>,
    loaded: bool,
}

pub(crate) struct Jwks {
    http: reqwest::Client,
    url: String,
    min_refetch: Duration,
    timeout: Duration,
    state: RwLock<KeyState>,
    fetching: tokio::sync::Mutex<()>,
    /// Bumped whenever a fetch drops a `kid`: what was verified before with
    /// a key that no longer verifies must be checked again.
    generation: AtomicU64,
}

impl Jwks {
    pub fn new(
        http: reqwest::Client,
        url: String,
        min_refetch: Duration,
        timeout: Duration,
    ) -> Self {
        Jwks {
            http,
            url,
            min_refetch,
            timeout,
            state: RwLock::new(KeyState::default()),
            fetching: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
        }
    }

    /// The key `kid` names, fetching the set when it is unknown or the
    /// cached set is past its `max-age` (rate-limited).
    pub async fn key(&self, kid: &str) -> Result<Arc<VerifyKey>, VerifyError> {
        let started = Instant::now();
        if let Some(key) = self.cached(kid, started, true) {
            return Ok(key);
        }
        let _one_fetch = self.fetching.lock().await;
        let now = Instant::now();
        let due = {
            let s = self.read();
            // Another task fetched while this one waited: use its result.
            let fetched_meanwhile = s.last_fetch.is_some_and(|t| t >= started);
            !fetched_meanwhile
                && s.last_fetch
                    .is_none_or(|t| now.saturating_duration_since(t) >= self.min_refetch)
        };
        if due && let Err(e) = self.fetch(now).await {
            log::warn!(
                "tessera-client: fetching the JWKS from {} failed: {e}",
                self.url
            );
        }
        if let Some(key) = self.cached(kid, now, false) {
            return Ok(key);
        }
        if self.read().loaded {
            Err(Rejection::UnknownKey.into())
        } else {
            Err(Unavailable::Keys.into())
        }
    }

    /// Changes whenever a key was dropped from the set.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Re-reads the set if it is past its `max-age` (the background
    /// refresher: a key removed from the JWKS stops verifying cached tokens
    /// even when no new token arrives).
    pub async fn refresh_if_due(&self) {
        let now = Instant::now();
        let due = {
            let s = self.read();
            s.fresh_until.is_none_or(|t| now >= t)
                && s.last_fetch
                    .is_none_or(|t| now.saturating_duration_since(t) >= self.min_refetch)
        };
        if due {
            let _one_fetch = self.fetching.lock().await;
            if let Err(e) = self.fetch(Instant::now()).await {
                log::warn!(
                    "tessera-client: refreshing the JWKS from {} failed: {e}",
                    self.url
                );
            }
        }
    }

    /// Loads the set now (start-up); an error if it cannot be read.
    pub async fn load(&self) -> Result<(), String> {
        let _one_fetch = self.fetching.lock().await;
        self.fetch(Instant::now()).await
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, KeyState> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached key; with `fresh_only`, only while the set is fresh.
    fn cached(&self, kid: &str, now: Instant, fresh_only: bool) -> Option<Arc<VerifyKey>> {
        let s = self.read();
        if fresh_only && s.fresh_until.is_none_or(|t| now >= t) {
            return None;
        }
        s.keys.get(kid).cloned()
    }

    async fn fetch(&self, now: Instant) -> Result<(), String> {
        {
            let mut s = self
                .state
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            s.last_fetch = Some(now);
        }
        let res = self
            .http
            .get(&self.url)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| format!("request: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("status {}", res.status()));
        }
        let max_age = max_age(res.headers().get(reqwest::header::CACHE_CONTROL));
        let body = crate::http::bounded_body(res, MAX_JWKS_BYTES).await?;
        let keys = parse_jwks(&body)?;
        let mut s = self
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if s.keys.keys().any(|kid| !keys.contains_key(kid)) {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        s.keys = keys;
        s.fresh_until = Some(now + max_age);
        s.loaded = true;
        Ok(())
    }
}

/// `max-age` of a `Cache-Control` value (`no-store`/`no-cache`: zero),
/// capped; the default when absent or unreadable.
pub(crate) fn max_age(value: Option<&reqwest::header::HeaderValue>) -> Duration {
    let Some(text) = value.and_then(|v| v.to_str().ok()) else {
        return DEFAULT_MAX_AGE;
    };
    let mut age = None;
    for directive in text.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Duration::ZERO;
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            age = secs
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age.unwrap_or(DEFAULT_MAX_AGE).min(MAX_MAX_AGE)
}

/// The usable signing keys of a JWKS document, by `kid`. Keys without a
/// `kid`, encryption keys, symmetric keys and keys whose `alg` contradicts
/// their type are skipped.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Arc<VerifyKey>>, String> {
    #[derive(serde::Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut keys = HashMap::new();
    for value in set.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if matches!(&jwk.common.public_key_use, Some(u) if *u != jsonwebtoken::jwk::PublicKeyUse::Signature)
        {
            continue;
        }
        let Some(alg) = pinned_alg(&jwk) else {
            continue;
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        keys.insert(kid, Arc::new(VerifyKey { alg, key }));
    }
    Ok(keys)
}

/// The one algorithm a JWK verifies: its `alg` if that fits its key type,
/// else what the key type implies (Ed25519: EdDSA, P-256: ES256, P-384:
/// ES384; RSA needs an explicit `alg`).
fn pinned_alg(jwk: &Jwk) -> Option<Algorithm> {
    let declared = jwk
        .common
        .key_algorithm
        .and_then(|a| Algorithm::try_from(a).ok());
    match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => declared
            .is_none_or(|a| a == Algorithm::EdDSA)
            .then_some(Algorithm::EdDSA),
        AlgorithmParameters::EllipticCurve(p) => {
            let implied = match p.curve {
                EllipticCurve::P256 => Algorithm::ES256,
                EllipticCurve::P384 => Algorithm::ES384,
                _ => return None,
            };
            declared.is_none_or(|a| a == implied).then_some(implied)
        }
        AlgorithmParameters::RSA(_) => match jwk.common.key_algorithm? {
            KeyAlgorithm::RS256 => Some(Algorithm::RS256),
            KeyAlgorithm::RS384 => Some(Algorithm::RS384),
            KeyAlgorithm::RS512 => Some(Algorithm::RS512),
            KeyAlgorithm::PS256 => Some(Algorithm::PS256),
            KeyAlgorithm::PS384 => Some(Algorithm::PS384),
            KeyAlgorithm::PS512 => Some(Algorithm::PS512),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn max_age_follows_cache_control() {
        let age = |v: &str| max_age(Some(&HeaderValue::from_str(v).unwrap()));
        assert_eq!(age("public, max-age=300"), Duration::from_secs(300));
        assert_eq!(age("max-age=5"), Duration::from_secs(5));
        assert_eq!(age("no-store"), Duration::ZERO);
        assert_eq!(age("max-age=99999999"), MAX_MAX_AGE);
        assert_eq!(age("public"), DEFAULT_MAX_AGE);
        assert_eq!(max_age(None), DEFAULT_MAX_AGE);
    }

    #[test]
    fn keys_are_pinned_by_type_and_contradictions_skipped() {
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        let doc = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "ed", "alg": "EdDSA", "use": "sig"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "ed-no-alg"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "ed-says-rs", "alg": "RS256"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "ed-enc", "use": "enc"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac", "alg": "HS256"},
            {"kty": "OKP", "crv": "Ed25519", "x": x},
            "not a key"
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["ed", "ed-no-alg"]);
        assert!(keys.values().all(|k| k.alg == Algorithm::EdDSA));
    }
}
