//! `ServiceError`: what a flow can answer besides success. Caller mistakes
//! carry a message that is safe to show; faults keep their cause chain
//! (`#[source]`) for the log at the HTTP edge.

use crate::domain::{DomainError, PolicyError, ProofError, Rejection, Scope};
use crate::store::StoreError;
use crate::token::{RefreshTokenError, SignError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A value the request got wrong; the text names it.
    #[error("{0}")]
    InvalidRequest(String),
    /// The client's policy refuses the request (a grant, audience, scope).
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Unknown client id or wrong secret (indistinguishable on purpose).
    #[error("client authentication failed")]
    InvalidClient,
    #[error("invalid token: {}", .0.phrase())]
    InvalidToken(Rejection),
    /// A verify without an audience where one is required
    /// (`verify.require_audience`, or the issuing client's).
    #[error("an audience is required to verify this token (give `aud`)")]
    AudienceRequired,
    /// A valid token without every scope the verify asked for.
    #[error("the token lacks a required scope")]
    InsufficientScope(Scope),
    /// A scope the session (refresh) or the subject token (exchange) does
    /// not hold; the text names it.
    #[error("{0}")]
    ScopeNotGranted(String),
    /// A DPoP proof that is missing, fails a check of RFC 9449 §4.3, was
    /// used before, or is not by the key the token or session is bound to.
    #[error("invalid DPoP proof: {0}")]
    InvalidDpopProof(ProofError),
    /// A DPoP-bound token presented without DPoP (as `Bearer`, RFC 9449
    /// §7.1), or an unbound one presented as DPoP.
    #[error("invalid token: {0}")]
    DpopBinding(&'static str),
    /// A token-exchange `subject_token` that fails the full stateful verify.
    #[error("invalid subject token: {}", .0.phrase())]
    InvalidSubjectToken(Rejection),
    /// A refresh token that is unknown, reused or bound to another client.
    #[error("invalid refresh token: {0}")]
    InvalidRefreshToken(&'static str),
    /// No such live session.
    #[error("no such live session")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot sign the access token")]
    Sign(#[from] SignError),
    #[error("cannot make a refresh token")]
    Refresh(#[from] RefreshTokenError),
    #[error("a stored session does not parse")]
    CorruptSession(#[source] DomainError),
    /// Too many failed authentications from this source (or for this id
    /// from a source that failed recently); refused before any hashing.
    #[error("too many failed client authentications")]
    TooManyFailures { retry_after_secs: u64 },
    /// Every hashing thread is busy and the queue is full: refused at once.
    #[error("too many client authentications in progress")]
    Busy,
    #[error("the hashing threads have stopped")]
    HashingStopped,
    /// This instance serves its maximum of feed subscribers.
    #[error("too many revocation feed subscribers")]
    FeedFull,
}

impl ServiceError {
    /// Whether the token store could not be reached in time (retry later).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ServiceError::Store(StoreError::Unavailable(_)))
    }

    /// The label of this outcome in metrics and audit lines.
    pub fn label(&self) -> &'static str {
        match self {
            ServiceError::InvalidToken(r) => r.label(),
            ServiceError::AudienceRequired => "audience_required",
            ServiceError::InvalidDpopProof(e) => e.label(),
            ServiceError::DpopBinding(_) => "dpop_binding",
            ServiceError::InsufficientScope(_) => "insufficient_scope",
            e if e.is_unavailable() => "unavailable",
            _ => "error",
        }
    }
}
