//! Revoke: one token (RFC 7009; access or refresh, the hint orders the
//! search), or every session and token of a user (logout everywhere).
//!
//! RFC 7009 §2.1: a client revokes only tokens issued to it (an access
//! token's `client_id` claim, a refresh token's session client); a client
//! with the `admin` grant may revoke any. A refused revocation changes
//! nothing, is audited (`revocation_refused`), and answers like an unknown
//! token (200, §2.2), so it does not reveal that another client's token
//! exists.

use serde_json::json;

use super::{ServiceError, TokenService, token_key};
use crate::domain::{Client, Grant, Sid, Subject, TokenKey, TokenKind};
use crate::ops::audit;
use crate::store::{RevokedToken, TokenStore, UserRevocation};
use crate::token::RefreshToken;

/// A token the caller presented, found: whose it is and how to end it.
struct Found {
    sub: String,
    sid: String,
    owner: String,
    target: Target,
}

enum Target {
    /// The record key, and the `jti` and `exp` the feed names it by.
    Access(TokenKey, String, i64),
    Session(Sid),
}

impl TokenService {
    /// RFC 7009 revocation of one token, access or refresh; the hint only
    /// orders the attempts. Unknown or invalid tokens are not an error, and
    /// neither is another client's token (refused without effect).
    pub async fn revoke_token(
        &self,
        client: &Client,
        token: &str,
        hint: Option<TokenKind>,
        rid: &str,
    ) -> Result<Option<TokenKind>, ServiceError> {
        for kind in TokenKind::search_order(hint) {
            let found = match kind {
                TokenKind::Access => self.find_access(token),
                TokenKind::Refresh => self.find_refresh(token).await?,
            };
            let Some(found) = found else { continue };
            if found.owner != client.id.as_str() && client.require(Grant::Admin).is_err() {
                audit::warn_event(
                    "revocation_refused",
                    rid,
                    json!({"client_id": client.id.as_str(), "owner_client_id": found.owner, "sub": found.sub, "sid": found.sid, "token_type": kind.as_str(), "reason": "issued to another client"}),
                );
                return Ok(None);
            }
            let revoked = match &found.target {
                Target::Access(key, jti, exp) => {
                    let token = RevokedToken {
                        sub: &found.sub,
                        jti,
                        exp: *exp,
                    };
                    self.store.revoke_access(key, token).await?
                }
                Target::Session(sid) => self.store.revoke_family(&found.sub, sid).await?,
            };
            if revoked {
                self.metrics.tokens_revoked(kind.as_str(), 1);
                audit::event(
                    "token_revoked",
                    rid,
                    json!({"client_id": client.id.as_str(), "owner_client_id": found.owner, "sub": found.sub, "sid": found.sid, "token_type": kind.as_str()}),
                );
                return Ok(Some(kind));
            }
        }
        Ok(None)
    }

    /// An access token this service signed (its record may be gone).
    fn find_access(&self, token: &str) -> Option<Found> {
        let claims = self.check_stateless(token, None).ok()?;
        Some(Found {
            target: Target::Access(token_key(token), claims.jti, claims.exp),
            sub: claims.sub,
            sid: claims.sid,
            owner: claims.client_id,
        })
    }

    /// A refresh token a live session knows (current or superseded).
    async fn find_refresh(&self, token: &str) -> Result<Option<Found>, ServiceError> {
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
        Ok(Some(Found {
            sub: sub.to_owned(),
            sid: presented.sid.to_string(),
            owner: session.client_id,
            target: Target::Session(presented.sid),
        }))
    }

    /// Ends every session and token of a user at once; answers what was
    /// live (sessions, and access tokens issued without one).
    pub async fn revoke_user(
        &self,
        client: &Client,
        sub: &Subject,
        rid: &str,
    ) -> Result<UserRevocation, ServiceError> {
        let ended = self.store.revoke_user(sub.as_str()).await?;
        self.metrics.tokens_revoked("session", ended.sessions);
        self.metrics
            .tokens_revoked("access_token", ended.standalone_access_tokens);
        audit::event(
            "user_revoked",
            rid,
            json!({"client_id": client.id.as_str(), "sub": sub.as_str(), "sessions": ended.sessions, "standalone_access_tokens": ended.standalone_access_tokens}),
        );
        Ok(ended)
    }
}
