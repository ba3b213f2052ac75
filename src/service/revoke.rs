//! Revoke: one token (RFC 7009; access or refresh, the hint orders the
//! search), or every session and token of a user (logout everywhere).

use serde_json::json;

use super::{ServiceError, TokenService};
use crate::domain::{Client, Jti, Subject, TokenKind};
use crate::ops::audit;
use crate::store::TokenStore;
use crate::token::RefreshToken;

impl TokenService {
    /// RFC 7009 revocation of one token, access or refresh; the hint only
    /// orders the attempts. Unknown or invalid tokens are not an error.
    pub async fn revoke_token(
        &self,
        client: &Client,
        token: &str,
        hint: Option<TokenKind>,
        rid: &str,
    ) -> Result<Option<TokenKind>, ServiceError> {
        for kind in TokenKind::search_order(hint) {
            let done = match kind {
                TokenKind::Access => self.revoke_access(token).await?,
                TokenKind::Refresh => self.revoke_refresh(token).await?,
            };
            if let Some((sub, sid)) = done {
                self.metrics.tokens_revoked(kind.as_str(), 1);
                audit::event(
                    "token_revoked",
                    rid,
                    json!({"client_id": client.id.as_str(), "sub": sub, "sid": sid, "token_type": kind.as_str()}),
                );
                return Ok(Some(kind));
            }
        }
        Ok(None)
    }

    async fn revoke_access(&self, token: &str) -> Result<Option<(String, String)>, ServiceError> {
        let Ok(claims) = self.check_stateless(token, None) else {
            return Ok(None);
        };
        let Ok(jti) = Jti::parse(&claims.jti) else {
            return Ok(None);
        };
        let revoked = self.store.revoke_access(&claims.sub, &jti).await?;
        Ok(revoked.then_some((claims.sub, claims.sid)))
    }

    async fn revoke_refresh(&self, token: &str) -> Result<Option<(String, String)>, ServiceError> {
        let Ok(presented) = RefreshToken::parse(token) else {
            return Ok(None);
        };
        let sub = presented.sub.as_str();
        let Some(session) = self.store.get_session(sub, &presented.sid).await? else {
            return Ok(None);
        };
        if !session.knows(&presented.digest()) {
            return Ok(None);
        }
        let revoked = self.store.revoke_family(sub, &presented.sid).await?;
        Ok(revoked.then(|| (sub.to_owned(), presented.sid.to_string())))
    }

    /// Ends every session and token of a user; returns the sessions ended.
    pub async fn revoke_user(
        &self,
        client: &Client,
        sub: &Subject,
        rid: &str,
    ) -> Result<u64, ServiceError> {
        let n = self.store.revoke_user(sub.as_str()).await?;
        self.metrics.tokens_revoked("session", n);
        audit::event(
            "user_revoked",
            rid,
            json!({"client_id": client.id.as_str(), "sub": sub.as_str(), "sessions": n}),
        );
        Ok(n)
    }
}
