//! Issue: a new access token, and a new session (refresh token) when asked
//! or by the client's default. The client's policy decides audience, scope
//! and lifetime; the store records the token (and session) atomically.

use chrono::Utc;
use serde_json::json;

use super::dpop::confirmation;
use super::{DpopBinding, ServiceError, TokenService, seconds, token_key};
use crate::domain::{AccessClaims, Audience, Client, CustomClaims, Scope, Sid, Subject};
use crate::ops::audit;
use crate::store::{AccessRecord, NewSession, SessionRecord, TokenStore};
use crate::token::RefreshToken;

/// A validated issue request.
#[derive(Debug)]
pub struct IssueRequest {
    pub sub: Subject,
    pub aud: Option<Audience>,
    pub scope: Scope,
    pub ttl: Option<u64>,
    pub claims: CustomClaims,
    pub refresh: Option<bool>,
    /// The DPoP key to bind the tokens to (RFC 9449 §5), if any.
    pub dpop: Option<DpopBinding>,
}

/// A freshly minted pair. `refresh_token` is the only copy of that secret.
pub struct Issued {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub refresh_expires_in: Option<i64>,
    pub scope: String,
    pub claims: AccessClaims,
}

impl TokenService {
    /// Issues an access token, and a refresh token when asked or by default.
    pub async fn issue(
        &self,
        client: &Client,
        req: IssueRequest,
        rid: &str,
    ) -> Result<Issued, ServiceError> {
        let policy = self.policy();
        let aud = client.audience(req.aud.as_ref(), &policy.issuer)?;
        client.check_scope(&req.scope)?;
        let ttl = seconds(client.access_ttl(req.ttl, policy.default_access_ttl)?);
        let jkt = self
            .issue_binding(client, req.dpop, req.sub.as_str())
            .await?;
        let mut custom = req.claims.0;
        if let Some(jkt) = &jkt {
            custom.insert("cnf".into(), confirmation(jkt));
        }
        let now = Utc::now().timestamp();
        let sid = Sid::new_random();
        let scope = req.scope.to_string();
        let want_refresh = req.refresh.unwrap_or(client.refresh_by_default);
        let session_exp = now.saturating_add(seconds(client.refresh_ttl_secs));
        let exp = if want_refresh {
            now.saturating_add(ttl).min(session_exp)
        } else {
            now.saturating_add(ttl)
        };
        let record = AccessRecord {
            sub: req.sub.to_string(),
            client_id: client.id.to_string(),
            sid,
            scope: scope.clone(),
            aud: aud.clone(),
            claims: custom.clone(),
            exp,
        };
        let (jti, claims) = self.claims_for(&record, now);
        let access_token = self.sign_within_budget(&claims)?;
        let key = token_key(&access_token);
        let mut refresh_token = None;
        if want_refresh {
            let refresh = RefreshToken::generate(&req.sub, sid);
            let session = SessionRecord {
                sid,
                sub: req.sub.to_string(),
                client_id: client.id.to_string(),
                scope: scope.clone(),
                aud,
                claims: custom,
                created: now,
                refreshed: now,
                exp: session_exp,
                refresh: String::new(),
                previous: Vec::new(),
                seed: Some(RefreshToken::new_seed()),
            };
            let evicted = self
                .store
                .create_session(NewSession {
                    session: &session,
                    refresh: &refresh.digest(),
                    first_key: &key,
                    first_access: &record,
                    max_sessions: policy.max_sessions,
                })
                .await?;
            for old in evicted {
                audit::event(
                    "session_evicted",
                    rid,
                    json!({"client_id": client.id.as_str(), "sub": req.sub.as_str(), "sid": old.to_string(), "reason": "max_sessions_per_user"}),
                );
            }
            refresh_token = Some(refresh);
        } else {
            self.store.put_access(&key, &record).await?;
        }
        self.metrics.token_issued();
        audit::event(
            "token_issued",
            rid,
            json!({"client_id": client.id.as_str(), "sub": req.sub.as_str(), "sid": sid.to_string(), "jti": jti.to_string(), "refresh": want_refresh, "dpop": jkt.is_some(), "outcome": "ok"}),
        );
        Ok(Issued {
            access_token,
            expires_in: exp - now,
            refresh_expires_in: refresh_token.as_ref().map(|_| session_exp - now),
            refresh_token: refresh_token.map(|r| r.expose().to_owned()),
            scope,
            claims,
        })
    }
}
