//! DPoP server nonces (RFC 9449 §8–9), stateless so that every instance
//! sharing the secret file accepts every other's nonces with no store
//! round trip: a nonce is base64url(step ‖ HMAC-SHA256(secret, label ‖
//! step)), `step` the big-endian count of `step_secs` periods since the
//! epoch. One is accepted during its own step and the next (one to two
//! steps), under any secret of the file; the first secret makes them.
//! A nonce is not secret (it goes to the client in a header) and not
//! single use: the proof's `jti` replay check does that.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Domain separation: the secrets make nothing else, but a file reused
/// elsewhere must not make valid nonces by accident.
const LABEL: &[u8] = b"tessera dpop-nonce v1\0";

/// 8 bytes of step, 32 of MAC.
const NONCE_BYTES: usize = 8 + 32;

/// Longest nonce text looked at (the real ones are 54 characters).
const MAX_NONCE_CHARS: usize = 64;

/// Makes and checks nonces.
pub struct NonceIssuer {
    keys: Vec<hmac::Key>,
    step_secs: i64,
}

impl std::fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceIssuer")
            .field("secrets", &self.keys.len())
            .field("step_secs", &self.step_secs)
            .finish()
    }
}

impl NonceIssuer {
    /// Over `secrets` (the first makes the nonces); `None` without any.
    pub fn new(secrets: &[Vec<u8>], step_secs: u64) -> Option<NonceIssuer> {
        if secrets.is_empty() {
            return None;
        }
        Some(NonceIssuer {
            keys: secrets
                .iter()
                .map(|s| hmac::Key::new(hmac::HMAC_SHA256, s))
                .collect(),
            step_secs: i64::try_from(step_secs.max(1)).unwrap_or(i64::MAX),
        })
    }

    fn step(&self, now: i64) -> u64 {
        u64::try_from(now.max(0) / self.step_secs).unwrap_or(0)
    }

    fn mac(key: &hmac::Key, step: u64) -> hmac::Tag {
        hmac::sign(key, &[LABEL, &step.to_be_bytes()].concat())
    }

    /// The nonce to hand out at `now` (Unix seconds).
    pub fn current(&self, now: i64) -> String {
        let step = self.step(now);
        let mut raw = Vec::with_capacity(NONCE_BYTES);
        raw.extend_from_slice(&step.to_be_bytes());
        raw.extend_from_slice(Self::mac(&self.keys[0], step).as_ref());
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Whether `nonce` was made by one of the secrets for the step of
    /// `now` or the one before (the MAC compared in constant time).
    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        if nonce.len() > MAX_NONCE_CHARS {
            return false;
        }
        let Ok(raw) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        if raw.len() != NONCE_BYTES {
            return false;
        }
        let (step_bytes, tag) = raw.split_at(8);
        let mut b = [0u8; 8];
        b.copy_from_slice(step_bytes);
        let step = u64::from_be_bytes(b);
        let current = self.step(now);
        if step != current && step.checked_add(1) != Some(current) {
            return false;
        }
        let message = [LABEL, step_bytes].concat();
        self.keys
            .iter()
            .any(|key| hmac::verify(key, &message, tag).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &[u8] = b"0123456789abcdef0123456789abcdef-a";
    const B: &[u8] = b"0123456789abcdef0123456789abcdef-b";

    fn issuer(secrets: &[&[u8]]) -> NonceIssuer {
        let s: Vec<Vec<u8>> = secrets.iter().map(|s| s.to_vec()).collect();
        NonceIssuer::new(&s, 60).unwrap()
    }

    #[test]
    fn a_nonce_lives_for_its_step_and_the_next() {
        let n = issuer(&[A]);
        let now = 1_800_000_000; // a step boundary: 1_800_000_000 / 60 is whole
        let nonce = n.current(now);
        assert_eq!(nonce.len(), 54);
        assert!(n.accepts(&nonce, now));
        assert!(n.accepts(&nonce, now + 59));
        assert!(n.accepts(&nonce, now + 60), "the next step");
        assert!(n.accepts(&nonce, now + 119));
        assert!(!n.accepts(&nonce, now + 120), "two steps on: stale");
        assert!(!n.accepts(&nonce, now - 1), "from the future");
    }

    #[test]
    fn another_secret_or_garbage_is_refused_and_rotation_keeps_the_old() {
        let now = 1_800_000_000;
        let a = issuer(&[A]);
        let b = issuer(&[B]);
        assert!(!b.accepts(&a.current(now), now), "another secret");
        let rotated = issuer(&[B, A]);
        assert!(
            rotated.accepts(&a.current(now), now),
            "the old secret, second line"
        );
        assert!(rotated.accepts(&b.current(now), now));
        assert_eq!(rotated.current(now), b.current(now), "the first line makes");
        let mut forged = URL_SAFE_NO_PAD.decode(a.current(now)).unwrap();
        forged[20] ^= 1;
        for bad in [
            URL_SAFE_NO_PAD.encode(&forged),
            String::new(),
            "@@@".to_owned(),
            "A".repeat(54),
            "A".repeat(500),
            a.current(now)[..53].to_owned(),
        ] {
            assert!(!a.accepts(&bad, now), "{bad:?}");
        }
        assert!(NonceIssuer::new(&[], 60).is_none());
    }
}
