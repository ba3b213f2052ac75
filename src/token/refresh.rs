//! Opaque refresh tokens: `<base64url(sub)>.<sid>.<base64url(32 random bytes)>`.
//! The subject and session route the look-up to the user's hash slot; the
//! 256 random bits (OS CSPRNG) are the secret. Only the SHA-256 of the whole
//! token is stored.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::domain::{RefreshDigest, RotationSeed, Sid, Subject, random};

const SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum RefreshTokenError {
    #[error("malformed refresh token")]
    Malformed,
}

/// A refresh token; its `Debug` never prints the secret.
pub struct RefreshToken {
    pub sub: Subject,
    pub sid: Sid,
    text: String,
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshToken")
            .field("sub", &self.sub)
            .field("sid", &self.sid)
            .field("token", &"***")
            .finish_non_exhaustive()
    }
}

impl RefreshToken {
    /// A new token for a session.
    pub fn generate(sub: &Subject, sid: Sid) -> Self {
        let mut secret = [0u8; SECRET_BYTES];
        random::fill(&mut secret);
        let text = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(sub.as_str()),
            sid.0.simple(),
            URL_SAFE_NO_PAD.encode(secret)
        );
        RefreshToken {
            sub: sub.clone(),
            sid,
            text,
        }
    }

    /// A new session's rotation seed (`domain::random`: a CSPRNG seeded by the OS).
    pub fn new_seed() -> RotationSeed {
        let mut seed = [0u8; 32];
        random::fill(&mut seed);
        RotationSeed(seed)
    }

    /// The token that replaces this one: same subject and session, secret
    /// HMAC-SHA256(seed, this token). Deterministic, so a retried refresh
    /// (the first answer lost) is handed the same successor; unpredictable
    /// to anyone without both the seed and this token's text.
    pub fn successor(&self, seed: &RotationSeed) -> Self {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &seed.0);
        let tag = aws_lc_rs::hmac::sign(&key, self.text.as_bytes());
        let text = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(self.sub.as_str()),
            self.sid.0.simple(),
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        );
        RefreshToken {
            sub: self.sub.clone(),
            sid: self.sid,
            text,
        }
    }

    /// Parses a presented token; says nothing about whether it is live.
    pub fn parse(text: &str) -> Result<Self, RefreshTokenError> {
        if text.len() > 1024 {
            return Err(RefreshTokenError::Malformed);
        }
        let mut parts = text.split('.');
        let (Some(sub), Some(sid), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(RefreshTokenError::Malformed);
        };
        let sub = URL_SAFE_NO_PAD
            .decode(sub)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| Subject::parse(&s).ok())
            .ok_or(RefreshTokenError::Malformed)?;
        if sid.len() != 32 {
            return Err(RefreshTokenError::Malformed);
        }
        let sid = Sid::parse(sid).map_err(|_| RefreshTokenError::Malformed)?;
        match URL_SAFE_NO_PAD.decode(secret) {
            Ok(bytes) if bytes.len() == SECRET_BYTES => {}
            _ => return Err(RefreshTokenError::Malformed),
        }
        Ok(RefreshToken {
            sub,
            sid,
            text: text.to_owned(),
        })
    }

    pub fn digest(&self) -> RefreshDigest {
        RefreshDigest(Sha256::digest(self.text.as_bytes()).into())
    }

    /// The token text, for the one response that hands it out.
    pub fn expose(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_back_and_differ() {
        let sub = Subject::parse("user-42").unwrap();
        let sid = Sid::new_random();
        let a = RefreshToken::generate(&sub, sid);
        let b = RefreshToken::generate(&sub, sid);
        assert_ne!(a.expose(), b.expose());
        let parsed = RefreshToken::parse(a.expose()).unwrap();
        assert_eq!(parsed.sub, sub);
        assert_eq!(parsed.sid, sid);
        assert_eq!(parsed.digest(), a.digest());
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn the_successor_is_fixed_by_seed_and_token_and_parses_back() {
        let sub = Subject::parse("user-42").unwrap();
        let sid = Sid::new_random();
        let first = RefreshToken::generate(&sub, sid);
        let seed = RefreshToken::new_seed();
        let next = first.successor(&seed);
        assert_eq!(next.expose(), first.successor(&seed).expose());
        assert_ne!(next.expose(), first.expose());
        assert_ne!(
            next.expose(),
            first.successor(&RefreshToken::new_seed()).expose()
        );
        assert_ne!(next.expose(), next.successor(&seed).expose());
        let parsed = RefreshToken::parse(next.expose()).unwrap();
        assert_eq!((parsed.sub, parsed.sid), (sub, sid));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "dXNlcg.notasid.c2VjcmV0",
            &"x".repeat(2000),
        ] {
            assert!(RefreshToken::parse(bad).is_err(), "accepted {bad:?}");
        }
    }
}
