//! Client credentials (RFC 6749 §4.4): a client gets an access token for
//! itself (`sub` = its id). Scope and audience come from its policy; the
//! token is stateful like every other (revocable, introspectable) and has
//! no refresh token: the client asks again when it nears `exp`.

use chrono::Utc;
use serde_json::json;

use super::{Issued, ServiceError, TokenService, seconds, token_key};
use crate::domain::{Audience, Client, Grant, Scope, Sid, Subject};
use crate::ops::audit;
use crate::store::{AccessRecord, TokenStore};

impl TokenService {
    /// A token for `client` itself. `scope`: a subset of the client's
    /// `scopes` (omitted or empty: all of them); `aud`: one of its
    /// `audiences` (omitted: the first, else the issuer).
    pub async fn client_credentials(
        &self,
        client: &Client,
        scope: Option<Scope>,
        aud: Option<Audience>,
        rid: &str,
    ) -> Result<Issued, ServiceError> {
        client.require(Grant::ClientCredentials)?;
        let sub =
            Subject::parse(client.id.as_str()).map_err(|e| ServiceError::InvalidRequest(e.0))?;
        let scope = match scope.filter(|s| !s.is_empty()) {
            Some(requested) => {
                client.check_scope(&requested)?;
                requested
            }
            None => client.scopes.clone().unwrap_or_default(),
        };
        let policy = self.policy();
        let aud = client.audience(aud.as_ref(), &policy.issuer)?;
        let ttl = seconds(client.access_ttl(None, policy.default_access_ttl)?);
        let now = Utc::now().timestamp();
        let exp = now.saturating_add(ttl);
        let record = AccessRecord {
            sub: sub.to_string(),
            client_id: client.id.to_string(),
            // A fresh sid that names no session, as for issue without refresh.
            sid: Sid::new_random(),
            scope: scope.to_string(),
            aud,
            claims: serde_json::Map::new(),
            exp,
        };
        let (jti, claims) = self.claims_for(&record, now);
        let access_token = self.sign_within_budget(&claims)?;
        self.store
            .put_access(&token_key(&access_token), &record)
            .await?;
        self.metrics.oauth_token_issued("client_credentials");
        audit::event(
            "token_issued",
            rid,
            json!({"client_id": client.id.as_str(), "sub": sub.as_str(), "sid": record.sid.to_string(), "jti": jti.to_string(), "refresh": false, "grant": "client_credentials", "outcome": "ok"}),
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
