//! Token exchange (RFC 8693), delegation: a client presents a live access
//! token (the subject token) and gets a new one for another audience, for
//! the same `sub`, with an `act` claim naming itself (§4.1). The subject
//! token passes the full stateful verify (revoked or expired cannot be
//! exchanged). The new token joins the subject token's session, so revoking
//! the session revokes it; a subject token without a session gives a
//! stand-alone token.

use chrono::Utc;
use serde_json::{Value, json};

use super::{Issued, ServiceError, TokenService, seconds, token_key};
use crate::domain::{Audience, Client, Grant, Rejection, Scope, Sid};
use crate::ops::audit;
use crate::store::{AccessRecord, TokenStore};

/// A validated exchange request.
#[derive(Debug)]
pub struct ExchangeRequest<'a> {
    /// An access token Tessera issued (RFC 8693 `subject_token`).
    pub subject_token: &'a str,
    /// The target (`audience` or `resource`); omitted: the client's default.
    pub aud: Option<Audience>,
    /// Omitted or empty: the subject token's scope the client may hold.
    pub scope: Option<Scope>,
}

impl TokenService {
    /// Exchanges a live access token for one naming `client` as its actor.
    pub async fn exchange(
        &self,
        client: &Client,
        req: ExchangeRequest<'_>,
        rid: &str,
    ) -> Result<Issued, ServiceError> {
        client.require(Grant::TokenExchange)?;
        let subject = self
            .check_access(req.subject_token, None)
            .await
            .map_err(|e| match e {
                ServiceError::InvalidToken(r) => ServiceError::InvalidSubjectToken(r),
                e => e,
            })?;
        let aud = client.audience(req.aud.as_ref(), &self.policy().issuer)?;
        let held = Scope::parse(&subject.scope)
            .map_err(|_| ServiceError::InvalidSubjectToken(Rejection::Malformed))?;
        let allowed = match &client.scopes {
            Some(mine) => held.intersection(mine),
            None => held,
        };
        let scope = match req.scope.filter(|s| !s.is_empty()) {
            Some(requested) => {
                if let Some(extra) = requested.first_outside(&allowed) {
                    return Err(ServiceError::ScopeNotGranted(format!(
                        "scope `{extra}` is not both held by the subject token and allowed for this client"
                    )));
                }
                requested
            }
            None => allowed,
        };
        let sid = Sid::parse(&subject.sid)
            .map_err(|_| ServiceError::InvalidSubjectToken(Rejection::Malformed))?;
        let now = Utc::now().timestamp();
        let ttl = seconds(client.access_ttl(None, self.policy().default_access_ttl)?);
        // Never past the subject token (nor, so, past its session).
        let exp = now.saturating_add(ttl).min(subject.exp);
        if exp <= now {
            return Err(ServiceError::InvalidSubjectToken(Rejection::Expired));
        }
        let mut extra = subject.extra.clone();
        let mut act = serde_json::Map::new();
        act.insert("sub".into(), Value::String(client.id.to_string()));
        // A chain of delegations nests the previous actor (RFC 8693 §4.1).
        if let Some(prior) = extra.remove("act") {
            act.insert("act".into(), prior);
        }
        extra.insert("act".into(), Value::Object(act));
        // The new token is the actor's, authenticated by its client
        // credentials here: it is not bound to the user's DPoP key.
        extra.remove("cnf");
        let record = AccessRecord {
            sub: subject.sub.clone(),
            client_id: client.id.to_string(),
            sid,
            scope: scope.to_string(),
            aud,
            claims: extra,
            exp,
        };
        let (jti, claims) = self.claims_for(&record, now);
        let access_token = self.sign_within_budget(&claims)?;
        let key = token_key(&access_token);
        let in_session = self.store.add_family_access(&sid, &key, &record).await?;
        if !in_session {
            // No live session: the subject token stood alone (issued without
            // refresh), or its session ended after the check above, in
            // which case the subject token is gone too.
            if !self
                .store
                .is_access_live(&subject.sub, &token_key(req.subject_token))
                .await?
            {
                return Err(ServiceError::InvalidSubjectToken(Rejection::Revoked));
            }
            self.store.put_access(&key, &record).await?;
        }
        self.metrics.oauth_token_issued("token_exchange");
        audit::event(
            "token_exchanged",
            rid,
            json!({"client_id": client.id.as_str(), "sub": subject.sub, "sid": sid.to_string(), "jti": jti.to_string(), "subject_client_id": subject.client_id, "subject_jti": subject.jti, "aud": record.aud, "in_session": in_session}),
        );
        Ok(Issued {
            access_token,
            expires_in: exp - now,
            refresh_token: None,
            refresh_expires_in: None,
            scope: record.scope,
            claims,
        })
    }
}
