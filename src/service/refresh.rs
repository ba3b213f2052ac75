//! Refresh: the presented refresh token is swapped for its successor in one
//! atomic store step, with a new access token. Presenting a superseded one
//! again is theft, and revokes the whole session, except the one the last
//! rotation replaced, presented again by the same client within
//! `tokens.refresh_grace_secs` (a retry after a lost answer): that gets the
//! same successor (derived from the presented token and the session's
//! seed) and a fresh access token.

use chrono::Utc;
use serde_json::json;

use super::{Issued, ServiceError, TokenService, bound_key, seconds, token_key, with};
use crate::domain::{Client, Scope};
use crate::ops::audit;
use crate::store::{AccessRecord, Replication, RotateOutcome, Rotation, TokenStore};
use crate::token::RefreshToken;

const UNKNOWN: &str = "unknown or expired refresh token";

impl TokenService {
    /// Rotates a refresh token. Reuse of a rotated one revokes the family.
    /// A session bound to a DPoP key needs `proof` by that key for
    /// Tessera's `own_path` or one of the client's `dpop_proof_urls`.
    pub async fn refresh(
        &self,
        client: &Client,
        token: &str,
        scope: Option<Scope>,
        proof: Option<&str>,
        own_path: &str,
        rid: &str,
    ) -> Result<Issued, ServiceError> {
        let presented =
            RefreshToken::parse(token).map_err(|_| ServiceError::InvalidRefreshToken(UNKNOWN))?;
        let session = self
            .store
            .get_session(presented.sub.as_str(), &presented.sid)
            .await?
            .ok_or(ServiceError::InvalidRefreshToken(UNKNOWN))?;
        if session.client_id != client.id.as_str() {
            audit::event(
                "refresh_denied",
                rid,
                json!({"client_id": client.id.as_str(), "sub": session.sub, "sid": session.sid.to_string(), "reason": "issued to another client"}),
            );
            return Err(ServiceError::InvalidRefreshToken(UNKNOWN));
        }
        if let Some(jkt) = bound_key(&session.claims) {
            self.check_refresh_proof(client, jkt, proof, own_path, &session.sub)
                .await?;
        }
        let scope = narrowed(&session.scope, scope)?;
        let now = Utc::now().timestamp();
        let ttl = seconds(client.access_ttl(None, self.policy().default_access_ttl)?);
        let exp = now.saturating_add(ttl).min(session.exp);
        let record = AccessRecord {
            sub: session.sub.clone(),
            client_id: session.client_id.clone(),
            sid: session.sid,
            scope: scope.clone(),
            aud: session.aud.clone(),
            claims: session.claims.clone(),
            exp,
        };
        let (jti, claims) = self.claims_for(&record, now);
        let access_token = self.sign_within_budget(&claims)?;
        let next = match &session.seed {
            Some(seed) => presented.successor(seed),
            // A session from before seeds: a random successor, no retries.
            None => RefreshToken::generate(&presented.sub, session.sid),
        };
        let report = self
            .store
            .rotate(Rotation {
                sub: &session.sub,
                sid: &session.sid,
                presented: &presented.digest(),
                next: &next.digest(),
                key: &token_key(&access_token),
                access: &record,
                now,
                grace: self.policy().refresh_grace,
            })
            .await?;
        let fields = json!({"client_id": client.id.as_str(), "sub": session.sub, "sid": session.sid.to_string()});
        if let Replication::Short(why) = &report.replication {
            // The rotation committed on the primary: answering with an error
            // would strand the client with a token that no longer works.
            self.metrics.replication_shortfall("refresh");
            log::warn!(
                "request_id={rid} refresh committed but not confirmed by replicas: {why} sid={}",
                session.sid
            );
        }
        match report.outcome {
            RotateOutcome::Rotated | RotateOutcome::Retried => {
                let event = if report.outcome == RotateOutcome::Retried {
                    self.metrics.refresh_retried();
                    "refresh_retry"
                } else {
                    self.metrics.token_refreshed();
                    "token_refreshed"
                };
                audit::event(event, rid, with(fields, "jti", jti.to_string().into()));
                Ok(Issued {
                    access_token,
                    expires_in: exp - now,
                    refresh_token: Some(next.expose().to_owned()),
                    refresh_expires_in: Some(session.exp - now),
                    scope,
                    claims,
                })
            }
            RotateOutcome::Reused => {
                self.metrics.refresh_reuse_detected();
                audit::warn_event(
                    "refresh_token_reuse",
                    rid,
                    with(fields, "action", "family_revoked".into()),
                );
                Err(ServiceError::InvalidRefreshToken(
                    "refresh token reused; session revoked",
                ))
            }
            RotateOutcome::Unknown => Err(ServiceError::InvalidRefreshToken(UNKNOWN)),
        }
    }
}

/// The scope of the new access token: the session's, or a subset the
/// caller asks for.
fn narrowed(granted: &str, requested: Option<Scope>) -> Result<String, ServiceError> {
    let granted = Scope::parse(granted).map_err(ServiceError::CorruptSession)?;
    Ok(match requested {
        Some(requested) if !requested.is_empty() => {
            if let Some(extra) = requested.first_outside(&granted) {
                return Err(ServiceError::ScopeNotGranted(format!(
                    "scope `{extra}` was not granted to this session"
                )));
            }
            requested
        }
        _ => granted,
    }
    .to_string())
}
