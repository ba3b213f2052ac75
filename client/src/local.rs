//! Local verification: the checks Tessera's `/token/verify` makes on the
//! token itself (size and shape, repeated JSON keys, `typ: at+jwt`, `kid`
//! → key, the key's own algorithm, signature, `exp`/`nbf` with leeway,
//! `iss`, `aud`), then the feed's deny-list, trusted only while the feed is
//! fresh.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Validation;
use jsonwebtoken::errors::ErrorKind;

use crate::cache::VerifiedCache;
use crate::error::{Rejection, VerifyError};
use crate::feed::FeedShared;
use crate::jwks::Jwks;
use crate::{Claims, Demands};

/// Tokens longer than this are refused before any parsing (Tessera's bound).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
const MAX_KID_BYTES: usize = 64;

pub(crate) struct LocalVerifier {
    pub jwks: Arc<Jwks>,
    pub issuer: String,
    pub leeway_secs: u64,
    pub cache: VerifiedCache,
    pub feed: Arc<FeedShared>,
    pub max_staleness: Duration,
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl LocalVerifier {
    pub async fn verify(&self, token: &str, demands: &Demands) -> Result<Arc<Claims>, VerifyError> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(Rejection::Malformed.into());
        }
        let now = unix_now();
        let generation = self.jwks.generation();
        let claims = if let Some(claims) = self.cache.get(token, now, generation) {
            claims
        } else {
            let claims = Arc::new(self.check_signed(token).await?);
            let leeway = i64::try_from(self.leeway_secs).unwrap_or(i64::MAX);
            let until = claims.exp.saturating_add(leeway);
            self.cache
                .insert(token, claims.clone(), until, now, generation);
            claims
        };
        if let Some(aud) = &demands.audience
            && claims.aud != *aud
        {
            return Err(Rejection::WrongAudience.into());
        }
        self.feed
            .check(&claims, Instant::now(), self.max_staleness)?;
        if !claims.has_scopes(&demands.scopes) {
            return Err(VerifyError::InsufficientScope(demands.scopes.join(" ")));
        }
        Ok(claims)
    }

    /// Everything that needs the token's text: shape, key, signature, claims.
    async fn check_signed(&self, token: &str) -> Result<Claims, VerifyError> {
        if token.split('.').count() != 3 {
            return Err(Rejection::Malformed.into());
        }
        for segment in token.split('.').take(2) {
            let json = URL_SAFE_NO_PAD
                .decode(segment)
                .map_err(|_| Rejection::Malformed)?;
            crate::strict_json::check_no_duplicate_keys(&json).map_err(|_| Rejection::Malformed)?;
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
        if !header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        }) {
            return Err(Rejection::WrongType.into());
        }
        let kid = header
            .kid
            .as_deref()
            .filter(|k| !k.is_empty() && k.len() <= MAX_KID_BYTES)
            .ok_or(Rejection::UnknownKey)?;
        let key = self.jwks.key(kid).await?;
        // The key decides the algorithm; a header naming another is forged.
        if header.alg != key.alg {
            return Err(Rejection::BadSignature.into());
        }
        let mut validation = Validation::new(key.alg);
        validation.leeway = self.leeway_secs;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub", "aud"]);
        validation.set_issuer(&[&self.issuer]);
        validation.validate_aud = false; // compared per route, cached or not
        let data =
            jsonwebtoken::decode::<Claims>(token, &key.key, &validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::InvalidSignature
                    | ErrorKind::InvalidAlgorithm
                    | ErrorKind::InvalidEcdsaKey
                    | ErrorKind::InvalidEddsaKey
                    | ErrorKind::InvalidRsaKey(_) => Rejection::BadSignature,
                    ErrorKind::ExpiredSignature => Rejection::Expired,
                    ErrorKind::ImmatureSignature => Rejection::NotYetValid,
                    ErrorKind::InvalidIssuer => Rejection::WrongIssuer,
                    _ => Rejection::Malformed,
                }
            })?;
        // A DPoP-bound token is only good with a proof by its key, which a
        // bearer check cannot see: refuse it rather than downgrade it.
        if data.claims.extra.contains_key("cnf") {
            return Err(Rejection::SenderConstrained.into());
        }
        Ok(data.claims)
    }
}
