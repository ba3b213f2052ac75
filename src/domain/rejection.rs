//! `Rejection`: why a token is not valid, with a fixed phrase safe to show
//! the caller and a label for metrics and audit lines.

/// Why a token is not valid. The phrase is short, fixed, and safe to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Malformed,
    WrongType,
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    Revoked,
}

impl Rejection {
    pub fn phrase(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed token",
            Rejection::WrongType => "wrong token type",
            Rejection::UnknownKey => "unknown signing key",
            Rejection::BadSignature => "bad signature",
            Rejection::Expired => "token expired",
            Rejection::NotYetValid => "token not yet valid",
            Rejection::WrongIssuer => "wrong issuer",
            Rejection::WrongAudience => "wrong audience",
            Rejection::Revoked => "token revoked",
        }
    }

    /// The label used in metrics and audit lines.
    pub fn label(self) -> &'static str {
        match self {
            Rejection::Malformed | Rejection::WrongType => "malformed",
            Rejection::UnknownKey | Rejection::BadSignature => "bad_signature",
            Rejection::Expired | Rejection::NotYetValid => "expired",
            Rejection::WrongIssuer => "wrong_issuer",
            Rejection::WrongAudience => "wrong_audience",
            Rejection::Revoked => "revoked",
        }
    }
}
