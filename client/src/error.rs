//! Why a token was not accepted.

/// A token that is not acceptable: the reason, with the phrase Tessera's
/// `/token/verify` uses for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("malformed token")]
    Malformed,
    #[error("wrong token type")]
    WrongType,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("token revoked")]
    Revoked,
    /// A sender-constrained token (`cnf`, RFC 9449 DPoP): this verifier
    /// checks no proof of possession, so it never accepts one (§7.1).
    #[error("token is DPoP-bound: its proof cannot be checked here")]
    SenderConstrained,
}

impl Rejection {
    /// The rejection a `/token/verify` phrase names (unknown phrases are
    /// `Malformed`: the token is refused either way).
    pub fn from_phrase(phrase: &str) -> Rejection {
        match phrase {
            "wrong token type" => Rejection::WrongType,
            "unknown signing key" => Rejection::UnknownKey,
            "bad signature" => Rejection::BadSignature,
            "token expired" => Rejection::Expired,
            "token not yet valid" => Rejection::NotYetValid,
            "wrong issuer" => Rejection::WrongIssuer,
            "wrong audience" => Rejection::WrongAudience,
            "token revoked" => Rejection::Revoked,
            _ => Rejection::Malformed,
        }
    }
}

/// The outcome of a verification that did not accept the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The token is not acceptable (answer 401 `invalid_token`).
    #[error("token rejected: {0}")]
    Rejected(Rejection),
    /// The token is valid but lacks a scope the route demands (answer 403
    /// `insufficient_scope`); holds the demanded scopes, space-separated.
    #[error("the token lacks a required scope (requires `{0}`)")]
    InsufficientScope(String),
    /// The verifier cannot decide now: Tessera unreachable, the feed stale
    /// or not caught up, no keys yet (answer 503). Never an acceptance.
    #[error("verification unavailable: {0}")]
    Unavailable(Unavailable),
}

/// Why a verifier cannot decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error("the revocation feed has not caught up yet")]
    NotCaughtUp,
    #[error("the revocation feed is stale")]
    Stale,
    #[error("the signing keys could not be fetched")]
    Keys,
    #[error("Tessera could not be reached or answered with an error")]
    Remote,
}

impl From<Rejection> for VerifyError {
    fn from(r: Rejection) -> Self {
        VerifyError::Rejected(r)
    }
}

impl From<Unavailable> for VerifyError {
    fn from(u: Unavailable) -> Self {
        VerifyError::Unavailable(u)
    }
}
