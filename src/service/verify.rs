//! Verify: signature and claims first (garbage never costs a store round
//! trip; a token seen before skips the signature check, see
//! `token::cache`), then the store record must be live: one `EXISTS` on
//! every call, cached or not, so revocation is immediate.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::{ServiceError, TokenService};
use crate::domain::{AccessClaims, Audience, Rejection, TokenKey};
use crate::ops::audit;
use crate::store::TokenStore;
use crate::token::{MAX_TOKEN_BYTES, VerifiedCache};

impl TokenService {
    /// Verifies the token a caller presented (`None`: it carried none),
    /// counting the outcome and auditing a rejection.
    pub async fn verify(
        &self,
        token: Option<&str>,
        aud: Option<&Audience>,
        rid: &str,
    ) -> Result<Arc<AccessClaims>, ServiceError> {
        let result = match token {
            Some(token) => self.check_access(token, aud).await,
            None => Err(ServiceError::InvalidToken(Rejection::Malformed)),
        };
        self.metrics.verify_outcome(match &result {
            Ok(_) => "ok",
            Err(e) => e.label(),
        });
        if let Err(ServiceError::InvalidToken(reason)) = &result {
            audit::event(
                "verify_failed",
                rid,
                json!({"reason": reason.label(), "outcome": "rejected"}),
            );
        }
        result
    }

    /// Full verification of an access token, without metrics or audit
    /// (introspection and revocation call it too).
    pub(super) async fn check_access(
        &self,
        token: &str,
        aud: Option<&Audience>,
    ) -> Result<Arc<AccessClaims>, ServiceError> {
        let (claims, key) = self
            .checked_claims(token, aud)
            .map_err(ServiceError::InvalidToken)?;
        // The record is named by these exact bytes: a token forged with a
        // leaked key for a live (sub, jti) finds no record.
        if self.store.is_access_live(&claims.sub, &key).await? {
            Ok(claims)
        } else {
            Err(ServiceError::InvalidToken(Rejection::Revoked))
        }
    }

    /// Signature and claims, statelessly: no cache, no store look-up.
    pub(super) fn check_stateless(
        &self,
        token: &str,
        aud: Option<&Audience>,
    ) -> Result<AccessClaims, Rejection> {
        self.keys
            .verify(token, &self.issuer, self.leeway_secs, aud, Utc::now())
    }

    /// Signature and claims, from the cache when this token was checked
    /// before (until its `exp`), else in full and then remembered; with the
    /// token's record key, from the same SHA-256 the cache is keyed by.
    fn checked_claims(
        &self,
        token: &str,
        aud: Option<&Audience>,
    ) -> Result<(Arc<AccessClaims>, TokenKey), Rejection> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Rejection::Malformed);
        }
        let now = Utc::now();
        let now_ms = now.timestamp_millis();
        let digest = VerifiedCache::digest(token);
        let key = TokenKey::from_sha256(&digest);
        if let Some(claims) = self.verified.get(&digest, now_ms) {
            return match aud {
                Some(aud) if claims.aud != aud.as_str() => Err(Rejection::WrongAudience),
                _ => Ok((claims, key)),
            };
        }
        let (claims, key_until) =
            self.keys
                .verify_with_deadline(token, &self.issuer, self.leeway_secs, aud, now)?;
        let claims = Arc::new(claims);
        let until_ms = key_until.map_or(i64::MAX, |t| t.timestamp_millis());
        let until_ms = until_ms.min(claims.exp.saturating_mul(1000));
        self.verified
            .insert(digest, claims.clone(), until_ms, now_ms);
        Ok((claims, key))
    }
}
