//! The HTTP error: its variants are the contract's `error` codes, its
//! `ResponseError` impl is the single table of statuses and headers, and
//! its one `From<ServiceError>` maps the core's answers onto them.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::domain::{DomainError, PolicyError, ProofError, Rejection};
use crate::service::ServiceError;

/// A fault's cause, kept for the log and never shown to the caller.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Seconds a client should wait before retrying a 503.
pub const RETRY_AFTER_UNAVAILABLE: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The text may quote request input: control characters are escaped
    /// when it is shown or logged (see `escape_controls`).
    #[error("invalid_request: {}", escape_controls(.0))]
    InvalidRequest(String),
    #[error("invalid_client")]
    InvalidClient,
    #[error("invalid_token: {}", .0.phrase())]
    InvalidToken(Rejection),
    /// A refresh token that is unknown, reused or bound to another client.
    #[error("invalid_token: {0}")]
    InvalidRefreshToken(&'static str),
    /// A use of a token with a bad, missing or replayed DPoP proof (RFC
    /// 9449 §7.1): 401 with a `DPoP` challenge.
    #[error("invalid_dpop_proof: {0}")]
    InvalidDpopProof(ProofError),
    /// The same at a token endpoint (issue, refresh; RFC 9449 §5): 400.
    #[error("invalid_dpop_proof: {0}")]
    BadDpopProof(ProofError),
    /// A DPoP-bound token presented as Bearer (or without its proof), or
    /// an unbound one as DPoP: 401 with a `DPoP` challenge.
    #[error("invalid_token: {0}")]
    DpopToken(&'static str),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// `/oauth2/token` only: the client lacks the grant its `grant_type`
    /// needs; RFC 6749 §5.2 makes this `unauthorized_client` a 400.
    #[error("unauthorized_client: {0}")]
    GrantNotAllowed(String),
    /// `/oauth2/token` only (RFC 6749 §5.2): a refresh token that is
    /// unknown, expired, reused or another client's.
    #[error("invalid_grant: {0}")]
    InvalidGrant(&'static str),
    #[error("invalid_scope: {}", escape_controls(.0))]
    InvalidScope(String),
    /// RFC 8707 / RFC 8693: an audience or resource the client may not ask for.
    #[error("invalid_target: {}", escape_controls(.0))]
    InvalidTarget(String),
    #[error("unsupported_grant_type: {}", escape_controls(.0))]
    UnsupportedGrantType(String),
    /// A valid token without a scope the verify asked for (RFC 6750 §3.1);
    /// holds the required scopes.
    #[error("insufficient_scope: {0}")]
    InsufficientScope(String),
    #[error("not_found")]
    NotFound,
    #[error("method_not_allowed")]
    MethodNotAllowed,
    #[error("payload_too_large: limit is {0} bytes")]
    PayloadTooLarge(usize),
    /// The request's headers together exceed the limit (RFC 6585 §5).
    #[error("request_header_fields_too_large: limit is {0} bytes")]
    HeadersTooLarge(usize),
    #[error("unsupported_media_type: {}", escape_controls(.0))]
    UnsupportedMediaType(String),
    #[error("rate_limited")]
    RateLimited { retry_after_secs: u64 },
    /// The cause goes to the log at the edge, never to the client.
    #[error("server_error")]
    Server(#[source] BoxError),
    #[error("temporarily_unavailable")]
    Unavailable(#[source] BoxError),
    /// Load shed by design (the hashing queue or the feed's subscriber
    /// slots are full): 503, not a fault; the phrase says which.
    #[error("temporarily_unavailable: busy")]
    Busy(&'static str),
}

/// The OAuth 2.0 error shape (RFC 6749 §5.2) of every error response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// invalid_request, invalid_client, invalid_token, invalid_dpop_proof,
    /// use_dpop_nonce, unauthorized_client,
    /// invalid_grant, invalid_scope, invalid_target, unsupported_grant_type,
    /// insufficient_scope, not_found, method_not_allowed, payload_too_large,
    /// unsupported_media_type, rate_limited, server_error or
    /// temporarily_unavailable.
    #[schema(example = "invalid_request")]
    pub error: &'a str,
    pub error_description: String,
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::InvalidClient => "invalid_client",
            ApiError::InvalidToken(_)
            | ApiError::InvalidRefreshToken(_)
            | ApiError::DpopToken(_) => "invalid_token",
            ApiError::InvalidDpopProof(p) | ApiError::BadDpopProof(p) => p.label(),
            ApiError::UnauthorizedClient(_) | ApiError::GrantNotAllowed(_) => "unauthorized_client",
            ApiError::InvalidGrant(_) => "invalid_grant",
            ApiError::InvalidScope(_) => "invalid_scope",
            ApiError::InvalidTarget(_) => "invalid_target",
            ApiError::UnsupportedGrantType(_) => "unsupported_grant_type",
            ApiError::InsufficientScope(_) => "insufficient_scope",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::HeadersTooLarge(_) => "request_header_fields_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Server(_) => "server_error",
            ApiError::Unavailable(_) | ApiError::Busy(_) => "temporarily_unavailable",
        }
    }

    /// Safe to show the caller: fixed phrases and the caller's own mistakes.
    pub fn description(&self) -> String {
        match self {
            ApiError::InvalidRequest(msg)
            | ApiError::UnsupportedMediaType(msg)
            | ApiError::InvalidScope(msg)
            | ApiError::InvalidTarget(msg)
            | ApiError::UnsupportedGrantType(msg) => escape_controls(msg),
            ApiError::InvalidClient => "client authentication failed".into(),
            ApiError::InvalidToken(r) => r.phrase().into(),
            ApiError::InvalidDpopProof(e) | ApiError::BadDpopProof(e) => e.to_string(),
            ApiError::InvalidRefreshToken(p)
            | ApiError::InvalidGrant(p)
            | ApiError::DpopToken(p) => (*p).into(),
            ApiError::UnauthorizedClient(grant) | ApiError::GrantNotAllowed(grant) => {
                format!("client is not allowed to use grant `{grant}`")
            }
            ApiError::InsufficientScope(scope) => {
                format!("the token lacks a required scope (requires `{scope}`)")
            }
            ApiError::NotFound => "no such resource".into(),
            ApiError::MethodNotAllowed => "method not allowed on this resource".into(),
            ApiError::PayloadTooLarge(limit) => format!("request body exceeds {limit} bytes"),
            ApiError::HeadersTooLarge(limit) => format!("request headers exceed {limit} bytes"),
            ApiError::RateLimited { .. } => "too many requests".into(),
            ApiError::Server(_) => "internal error".into(),
            ApiError::Unavailable(_) => "token store unavailable, retry later".into(),
            ApiError::Busy(phrase) => format!("{phrase}, retry later"),
        }
    }

    /// Whether this is the service's fault (logged at ERROR) or the caller's.
    pub fn is_server_fault(&self) -> bool {
        matches!(self, ApiError::Server(_) | ApiError::Unavailable(_))
    }
}

/// `text` with every control character (CR, LF, NUL, ESC...) written as
/// an escape (`\n`, `\u{1b}`), so request input quoted in a message (a
/// serde "unknown field" name) cannot forge a log line.
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A request value that does not parse: the caller's mistake, its message
/// safe to show.
impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::InvalidRequest(e.0)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::InvalidRequest(msg) | ServiceError::ScopeNotGranted(msg) => {
                ApiError::InvalidRequest(msg)
            }
            ServiceError::Policy(PolicyError::MissingGrant(grant)) => {
                ApiError::UnauthorizedClient(grant.as_str().into())
            }
            ServiceError::Policy(refused) => ApiError::InvalidRequest(refused.to_string()),
            ServiceError::InvalidClient => ApiError::InvalidClient,
            ServiceError::InvalidToken(reason) => ApiError::InvalidToken(reason),
            ServiceError::InvalidDpopProof(e) => ApiError::InvalidDpopProof(e),
            ServiceError::DpopBinding(phrase) => ApiError::DpopToken(phrase),
            e @ ServiceError::AudienceRequired => ApiError::InvalidRequest(e.to_string()),
            ServiceError::InsufficientScope(scope) => {
                ApiError::InsufficientScope(scope.to_string())
            }
            ServiceError::InvalidRefreshToken(phrase) => ApiError::InvalidRefreshToken(phrase),
            ServiceError::InvalidSubjectToken(reason) => {
                ApiError::InvalidRequest(format!("`subject_token` is invalid: {}", reason.phrase()))
            }
            ServiceError::NotFound => ApiError::NotFound,
            ServiceError::TooManyFailures { retry_after_secs } => {
                ApiError::RateLimited { retry_after_secs }
            }
            ServiceError::Busy => ApiError::Busy("too many client authentications in progress"),
            ServiceError::FeedFull => ApiError::Busy("too many revocation feed subscribers"),
            e if e.is_unavailable() => ApiError::Unavailable(e.into()),
            e => ApiError::Server(e.into()),
        }
    }
}

impl ApiError {
    /// A service answer at Tessera's own token endpoints (`/token/issue`,
    /// `/token/refresh`): a DPoP proof problem is a 400 (RFC 9449 §5).
    pub fn at_token_endpoint(e: ServiceError) -> ApiError {
        match e {
            ServiceError::InvalidDpopProof(e) => ApiError::BadDpopProof(e),
            other => ApiError::from(other),
        }
    }

    /// An edge refusal at a token endpoint: a DPoP proof problem is a 400.
    pub fn for_oauth(e: ApiError) -> ApiError {
        match e {
            ApiError::InvalidDpopProof(p) => ApiError::BadDpopProof(p),
            other => other,
        }
    }

    /// The RFC 6749 §5.2 form of a service answer, for `/oauth2/token`:
    /// refresh-token failures are `invalid_grant` (400, not `401
    /// invalid_token`), scopes `invalid_scope`, audiences `invalid_target`
    /// (RFC 8707), a missing grant a 400 `unauthorized_client`. The rest
    /// as on every other endpoint.
    pub fn oauth(e: ServiceError) -> ApiError {
        match e {
            ServiceError::InvalidRefreshToken(phrase) => ApiError::InvalidGrant(phrase),
            ServiceError::InvalidDpopProof(e) => ApiError::BadDpopProof(e),
            ServiceError::ScopeNotGranted(msg) => ApiError::InvalidScope(msg),
            ServiceError::Policy(PolicyError::MissingGrant(grant)) => {
                ApiError::GrantNotAllowed(grant.as_str().into())
            }
            ServiceError::Policy(e @ PolicyError::ScopeNotAllowed(_)) => {
                ApiError::InvalidScope(e.to_string())
            }
            ServiceError::Policy(e @ PolicyError::AudienceNotAllowed(_)) => {
                ApiError::InvalidTarget(e.to_string())
            }
            other => ApiError::from(other),
        }
    }
}

/// The proof algorithms `token::dpop` accepts, for the `DPoP` challenge.
const DPOP_ALGS: &str = "ES256 EdDSA RS256 PS256";

fn quote(s: &str) -> String {
    s.replace(['"', '\\'], "'")
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest(_)
            | ApiError::GrantNotAllowed(_)
            | ApiError::InvalidGrant(_)
            | ApiError::BadDpopProof(_)
            | ApiError::InvalidScope(_)
            | ApiError::InvalidTarget(_)
            | ApiError::UnsupportedGrantType(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidClient
            | ApiError::InvalidToken(_)
            | ApiError::InvalidRefreshToken(_)
            | ApiError::InvalidDpopProof(_)
            | ApiError::DpopToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::UnauthorizedClient(_) | ApiError::InsufficientScope(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            ApiError::InvalidClient => {
                res.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="tessera""#));
            }
            ApiError::InvalidToken(_) | ApiError::InvalidRefreshToken(_) => {
                let value = format!(
                    r#"Bearer realm="tessera", error="invalid_token", error_description="{}""#,
                    quote(&self.description())
                );
                if let Ok(v) = HeaderValue::from_str(&value) {
                    res.insert_header((header::WWW_AUTHENTICATE, v));
                }
            }
            ApiError::InvalidDpopProof(_) | ApiError::DpopToken(_) => {
                let value = format!(
                    r#"DPoP realm="tessera", error="{}", error_description="{}", algs="{DPOP_ALGS}""#,
                    self.code(),
                    quote(&self.description())
                );
                if let Ok(v) = HeaderValue::from_str(&value) {
                    res.insert_header((header::WWW_AUTHENTICATE, v));
                }
            }
            ApiError::InsufficientScope(scope) => {
                let value = format!(
                    r#"Bearer realm="tessera", error="insufficient_scope", scope="{}""#,
                    quote(scope)
                );
                if let Ok(v) = HeaderValue::from_str(&value) {
                    res.insert_header((header::WWW_AUTHENTICATE, v));
                }
            }
            ApiError::RateLimited { retry_after_secs } => {
                res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Unavailable(_) | ApiError::Busy(_) => {
                res.insert_header((header::RETRY_AFTER, RETRY_AFTER_UNAVAILABLE.to_string()));
            }
            _ => {}
        }
        res.json(ErrorBody {
            error: self.code(),
            error_description: self.description(),
        })
    }
}
