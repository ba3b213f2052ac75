//! Introspect (RFC 7662): what a live token is, access or refresh, the
//! hint ordering the search. A token that is not live is simply not found;
//! nor is another client's token for a client with `introspect: own`.

use std::sync::Arc;

use super::{ServiceError, Session, TokenService};
use crate::domain::{AccessClaims, Client, TokenKind};
use crate::store::TokenStore;
use crate::token::RefreshToken;

/// A live token, as introspection describes it.
pub enum Introspected {
    Access(Arc<AccessClaims>),
    /// The session of a current refresh token.
    Refresh(Session),
}

impl TokenService {
    /// The live token `token` is, if any, and if `client` may see it.
    pub async fn introspect(
        &self,
        client: &Client,
        token: &str,
        hint: Option<TokenKind>,
    ) -> Result<Option<Introspected>, ServiceError> {
        for kind in TokenKind::search_order(hint) {
            let found = match kind {
                TokenKind::Access => match self.check_access(token, None).await {
                    Ok(claims) => Some(Introspected::Access(claims)),
                    Err(ServiceError::InvalidToken(_)) => None,
                    Err(e) => return Err(e),
                },
                TokenKind::Refresh => self.live_session(token).await?.map(Introspected::Refresh),
            };
            if let Some(found) = found {
                let owner = match &found {
                    Introspected::Access(claims) => claims.client_id.as_str(),
                    Introspected::Refresh(session) => session.client_id.as_str(),
                };
                return Ok(client.may_introspect(owner).then_some(found));
            }
        }
        Ok(None)
    }

    /// The session a current refresh token belongs to, if it is live.
    async fn live_session(&self, token: &str) -> Result<Option<Session>, ServiceError> {
        let Ok(presented) = RefreshToken::parse(token) else {
            return Ok(None);
        };
        let session = self
            .store
            .get_session(presented.sub.as_str(), &presented.sid)
            .await?;
        Ok(session
            .filter(|s| s.is_current(&presented.digest()))
            .map(Session::from))
    }
}
