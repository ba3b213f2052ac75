//! Introspect (RFC 7662): what a live token is, access or refresh, the
//! hint ordering the search. A token that is not live is simply not found.

use std::sync::Arc;

use super::{ServiceError, Session, TokenService};
use crate::domain::{AccessClaims, TokenKind};
use crate::store::TokenStore;
use crate::token::RefreshToken;

/// A live token, as introspection describes it.
pub enum Introspected {
    Access(Arc<AccessClaims>),
    /// The session of a current refresh token.
    Refresh(Session),
}

impl TokenService {
    /// The live token `token` is, if any.
    pub async fn introspect(
        &self,
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
            if found.is_some() {
                return Ok(found);
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
