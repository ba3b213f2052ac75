//! Refresh: the presented refresh token is swapped for a new one in one
//! atomic store step, with a new access token; presenting a superseded
//! one again is theft, and revokes the whole session.

use chrono::Utc;
use serde_json::json;

use super::{Issued, ServiceError, TokenService, seconds, token_key, with};
use crate::domain::{Client, Scope};
use crate::ops::audit;
use crate::store::{AccessRecord, RotateOutcome, Rotation, TokenStore};
use crate::token::RefreshToken;

const UNKNOWN: &str = "unknown or expired refresh token";

impl TokenService {
    /// Rotates a refresh token. Reuse of a rotated one revokes the family.
    pub async fn refresh(
        &self,
        client: &Client,
        token: &str,
        scope: Option<Scope>,
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
        let granted = Scope::parse(&session.scope).map_err(ServiceError::CorruptSession)?;
        let scope = match scope {
            Some(requested) if !requested.is_empty() => {
                if let Some(extra) = requested.first_outside(&granted) {
                    return Err(ServiceError::InvalidRequest(format!(
                        "scope `{extra}` was not granted to this session"
                    )));
                }
                requested
            }
            _ => granted,
        }
        .to_string();
        let now = Utc::now().timestamp();
        let ttl = seconds(client.access_ttl(None, self.default_access_ttl)?);
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
        let next = RefreshToken::generate(&presented.sub, session.sid)?;
        let outcome = self
            .store
            .rotate(Rotation {
                sub: &session.sub,
                sid: &session.sid,
                presented: &presented.digest(),
                next: &next.digest(),
                key: &token_key(&access_token),
                access: &record,
                now,
            })
            .await?;
        let fields = json!({"client_id": client.id.as_str(), "sub": session.sub, "sid": session.sid.to_string()});
        match outcome {
            RotateOutcome::Rotated => {
                self.metrics.token_refreshed();
                audit::event(
                    "token_refreshed",
                    rid,
                    with(fields, "jti", jti.to_string().into()),
                );
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
