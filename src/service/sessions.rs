//! Sessions: a user's live refresh sessions, listed or ended one by one
//! (grant `admin`).

use serde_json::json;

use super::{ServiceError, TokenService};
use crate::domain::{Client, PageSize, SessionCursor, Sid, Subject};
use crate::ops::audit;
use crate::store::{SessionRecord, TokenStore};

/// A live session as an operator sees it; never its refresh token.
#[derive(Debug, Clone)]
pub struct Session {
    pub sid: Sid,
    pub sub: String,
    pub client_id: String,
    pub scope: String,
    pub aud: String,
    /// Unix seconds.
    pub created: i64,
    pub refreshed: i64,
    pub expires: i64,
}

impl From<SessionRecord> for Session {
    fn from(s: SessionRecord) -> Self {
        Session {
            sid: s.sid,
            sub: s.sub,
            client_id: s.client_id,
            scope: s.scope,
            aud: s.aud,
            created: s.created,
            refreshed: s.refreshed,
            expires: s.exp,
        }
    }
}

impl TokenService {
    /// One page of the user's live sessions, earliest expiry first, after
    /// `after`; with where the next page starts (`None`: no more).
    pub async fn list_sessions(
        &self,
        sub: &Subject,
        after: Option<SessionCursor>,
        size: PageSize,
    ) -> Result<(Vec<Session>, Option<SessionCursor>), ServiceError> {
        let now = chrono::Utc::now().timestamp();
        let page = self
            .store
            .list_sessions(sub.as_str(), now, after, size)
            .await?;
        let sessions = page.sessions.into_iter().map(Session::from).collect();
        Ok((sessions, page.next))
    }

    /// Ends one session and every access token of it; `NotFound` if it is
    /// not live.
    pub async fn revoke_session(
        &self,
        client: &Client,
        sub: &Subject,
        sid: &Sid,
        rid: &str,
    ) -> Result<(), ServiceError> {
        if !self.store.revoke_family(sub.as_str(), sid).await? {
            return Err(ServiceError::NotFound);
        }
        self.metrics.tokens_revoked("session", 1);
        audit::event(
            "session_revoked",
            rid,
            json!({"client_id": client.id.as_str(), "sub": sub.as_str(), "sid": sid.to_string()}),
        );
        Ok(())
    }
}
