//! The domain: validated values and the rules that belong to them. Every
//! other layer speaks these types; this module depends on no other part of
//! Tessera. Request bodies and configuration become these values once, at
//! the edge; past that point nothing re-checks a subject or a scope.

mod access_claims;
mod claims;
mod client;
mod dpop;
mod grant;
pub mod hex;
mod ids;
mod key;
pub mod random;
mod refresh_digest;
mod rejection;
mod revocation;
mod rotation_seed;
mod scope;
mod secret;
mod session_page;
pub mod strict_json;
mod token_key;
mod token_kind;
mod trace_id;

pub use access_claims::AccessClaims;
pub use claims::{CustomClaims, RESERVED_CLAIMS};
pub use client::{Client, IntrospectScope, PolicyError};
pub use dpop::{
    DpopMode, Jkt, MAX_HTU_BYTES, ProofError, ProofKey, access_token_hash, normalise_htu,
    parse_method,
};
pub use grant::Grant;
pub use ids::{Audience, ClientId, Jti, Kid, Sid, Subject};
pub use key::{KeyAlg, KeyStatus};
pub use refresh_digest::RefreshDigest;
pub use rejection::Rejection;
pub use revocation::{FeedEvent, FeedId, Revocation};
pub use rotation_seed::RotationSeed;
pub use scope::Scope;
pub use secret::{ARGON2_FLOOR, ArgonCost, HashScratch, SecretHash};
pub use session_page::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageSize, SessionCursor};
pub use token_key::TokenKey;
pub use token_kind::TokenKind;
pub use trace_id::TraceId;

/// A value that does not parse; the message names the field and is safe to
/// show the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DomainError(pub String);

fn err(msg: impl Into<String>) -> DomainError {
    DomainError(msg.into())
}
