//! What the user-wide operations answer: logout everywhere's counts and
//! one page of a user's sessions. Both cost the same whatever the number
//! of the user's tokens (see `docs/http-api.md`, "Cost as work grows").

use super::SessionRecord;
use crate::domain::SessionCursor;

/// What logging a user out everywhere ended, counted without reading the
/// sessions: the index entries live at that moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserRevocation {
    /// Live sessions ended (with every access token of each).
    pub sessions: u64,
    /// Live access tokens issued without a session, ended.
    pub standalone_access_tokens: u64,
}

/// One page of live sessions, in list order (expiry, then sid).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPage {
    pub sessions: Vec<SessionRecord>,
    /// Where the next page starts; `None` when this one reached the end.
    pub next: Option<SessionCursor>,
}
