//! Verify: signature and claims first (garbage never costs a store round
//! trip; a token seen before skips the signature check, see
//! `token::cache`), then the store record must be live: one `EXISTS` on
//! every call, cached or not, so revocation is immediate (pipelined with
//! a DPoP proof's replay `SET NX`: still one round trip).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use super::{DpopProof, ServiceError, TokenService};
use crate::domain::{AccessClaims, Audience, ProofError, Rejection, Scope, TokenKey};
use crate::ops::audit;
use crate::ops::audit_summary::Summary;
use crate::store::TokenStore;
use crate::token::{MAX_TOKEN_BYTES, VerifiedCache};

/// What a verify asks: the token (`None`: the caller presented none), the
/// audience and scopes it must carry, and the caller's address (for the
/// audit summary of failures).
#[derive(Debug, Default, Clone, Copy)]
pub struct VerifyRequest<'a> {
    pub token: Option<&'a str>,
    pub aud: Option<&'a Audience>,
    /// Scopes the token must all hold (`None` or empty: no demand).
    pub scope: Option<&'a Scope>,
    pub source: Option<IpAddr>,
    /// The DPoP proof that came with the token: a bound token needs one,
    /// an unbound one must come without.
    pub dpop: Option<DpopProof<'a>>,
}

impl TokenService {
    /// Verifies the token a caller presented, with the audience and scope
    /// rules, counting the outcome. Failures are not audited one by one:
    /// they are summarised per source and reason once per
    /// `verify.failure_summary_secs` (see `ops::audit_summary`).
    pub async fn verify(&self, req: VerifyRequest<'_>) -> Result<Arc<AccessClaims>, ServiceError> {
        let result = match self.token_to_check(req) {
            Ok(token) => match self.check_live_use(token, req).await {
                Ok(claims) => self.check_demands(claims, req),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        self.metrics.verify_outcome(match &result {
            Ok(_) => "ok",
            Err(e) => e.label(),
        });
        if let Err(
            e @ (ServiceError::InvalidToken(_)
            | ServiceError::InvalidDpopProof(_)
            | ServiceError::DpopBinding(_)
            | ServiceError::AudienceRequired
            | ServiceError::InsufficientScope(_)),
        ) = &result
        {
            let ended = self
                .verify_failures
                .record(req.source, e.label(), Instant::now());
            self.audit_verify_failures(ended);
        }
        result
    }

    /// Writes the summaries of a window that has ended (the background
    /// tick), or of the current one at once with `force` (shutdown).
    pub fn flush_verify_failures(&self, force: bool) {
        let due = self.verify_failures.take_due(Instant::now(), force);
        self.audit_verify_failures(due);
    }

    fn audit_verify_failures(&self, summaries: Vec<Summary>) {
        let window = self.verify_failures.window_secs();
        for s in summaries {
            audit::summary_event("verify_failed_summary", s.fields(window));
        }
    }

    /// The token, unless an audience is required (`verify.require_audience`)
    /// and none is given, or there is no token.
    fn token_to_check<'a>(&self, req: VerifyRequest<'a>) -> Result<&'a str, ServiceError> {
        if req.aud.is_none() && self.policy.load().require_audience {
            return Err(ServiceError::AudienceRequired);
        }
        req.token
            .ok_or(ServiceError::InvalidToken(Rejection::Malformed))
    }

    /// After the token checked out: the issuing client's audience rule,
    /// then the scope demand.
    fn check_demands(
        &self,
        claims: Arc<AccessClaims>,
        req: VerifyRequest<'_>,
    ) -> Result<Arc<AccessClaims>, ServiceError> {
        if req.aud.is_none()
            && self
                .policy
                .load()
                .clients
                .get(&claims.client_id)
                .is_some_and(|c| c.require_audience)
        {
            return Err(ServiceError::AudienceRequired);
        }
        if let Some(required) = req.scope.filter(|s| !s.is_empty()) {
            let held = Scope::parse(&claims.scope).unwrap_or_default();
            if !required.is_subset(&held) {
                return Err(ServiceError::InsufficientScope(required.clone()));
            }
        }
        Ok(claims)
    }

    /// The token and, for a DPoP-bound one, its proof: every stateless
    /// check first, then one store round trip, the record's `EXISTS`
    /// together with the proof's `SET NX` when there is a proof.
    async fn check_live_use(
        &self,
        token: &str,
        req: VerifyRequest<'_>,
    ) -> Result<Arc<AccessClaims>, ServiceError> {
        let (claims, key) = self
            .checked_claims(token, req.aud)
            .map_err(ServiceError::InvalidToken)?;
        let live = match self.proof_for_use(&claims.extra, token, req.dpop)? {
            None => self.store.is_access_live(&claims.sub, &key).await?,
            Some((seen, ttl)) => {
                let (live, new) = self
                    .store
                    .access_live_with_proof(&claims.sub, &key, &seen, ttl)
                    .await?;
                if live && !new {
                    return Err(ServiceError::InvalidDpopProof(ProofError::Replayed));
                }
                live
            }
        };
        if live {
            Ok(claims)
        } else {
            Err(ServiceError::InvalidToken(missing_record(&claims)))
        }
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
            Err(ServiceError::InvalidToken(missing_record(&claims)))
        }
    }

    /// Signature and claims, statelessly: no cache, no store look-up.
    pub(super) fn check_stateless(
        &self,
        token: &str,
        aud: Option<&Audience>,
    ) -> Result<AccessClaims, Rejection> {
        let p = self.policy();
        p.keys
            .verify(token, &p.issuer, p.leeway_secs, aud, Utc::now())
    }

    /// Signature and claims, from the cache when this token was checked
    /// before (until its `exp`), else in full and then remembered; with the
    /// token's record key, from the same SHA-256 the cache is keyed by.
    /// Keys, cache and issuer come from one policy snapshot (a reload
    /// brings a new, empty cache with its keys).
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
        // A guard, not a counted reference: nothing awaits while it is held.
        let p = self.policy.load();
        if let Some(claims) = p.verified.get(&digest, now_ms) {
            return match aud {
                Some(aud) if claims.aud != aud.as_str() => Err(Rejection::WrongAudience),
                _ => Ok((claims, key)),
            };
        }
        let (claims, key_until) =
            p.keys
                .verify_with_deadline(token, &p.issuer, p.leeway_secs, aud, now)?;
        let claims = Arc::new(claims);
        let until_ms = key_until.map_or(i64::MAX, |t| t.timestamp_millis());
        let until_ms = until_ms.min(claims.exp.saturating_mul(1000));
        p.verified.insert(digest, claims.clone(), until_ms, now_ms);
        Ok((claims, key))
    }
}

/// Why a token that passed the signature check has no record: the record
/// ends at `exp` while the signature check allows the leeway, so a token
/// at or past `exp` is expired (whether or not it was also revoked); only
/// an unexpired one without a record was revoked.
fn missing_record(claims: &AccessClaims) -> Rejection {
    if Utc::now().timestamp() >= claims.exp {
        Rejection::Expired
    } else {
        Rejection::Revoked
    }
}
