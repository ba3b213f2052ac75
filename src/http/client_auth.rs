//! Client credentials on the wire: HTTP Basic (`client_secret_basic`; id
//! and secret percent-encoded inside, RFC 6749 §2.3.1) or form fields
//! (`client_secret_post`), never both. Checking them is the service's job;
//! the per-IP limit is checked here first, so no route can forget it.

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;

use super::{ApiError, State, request_id};
use crate::domain::{Client, Grant};
use crate::service::Credentials;

/// Longest client id or secret accepted before any work is done.
const MAX_CREDENTIAL_BYTES: usize = 512;

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1: id and
/// secret are encoded inside), or from `client_id`/`client_secret` form
/// fields. `Ok(None)` when the request carries none; 400 when it carries
/// both (RFC 6749 §2.3: one method per request).
pub fn credentials(
    req: &HttpRequest,
    form: Option<(&str, &str)>,
) -> Result<Option<Credentials>, ApiError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::InvalidClient)?;
        if let Some(encoded) = strip_scheme(value, "basic") {
            if form.is_some() {
                return Err(ApiError::InvalidRequest(
                    "send client credentials either in Authorization: Basic or in the body, not both"
                        .into(),
                ));
            }
            return parse_basic(encoded).map(Some);
        }
    }
    match form {
        Some((id, secret)) => {
            if id.len() > MAX_CREDENTIAL_BYTES || secret.len() > MAX_CREDENTIAL_BYTES {
                return Err(ApiError::InvalidClient);
            }
            Ok(Some(Credentials {
                id: id.to_owned(),
                secret: SecretString::from(secret.to_owned()),
            }))
        }
        None => Ok(None),
    }
}

/// `value` without its auth scheme, matched case-insensitively.
pub fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = value.trim_start().split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

fn parse_basic(encoded: &str) -> Result<Credentials, ApiError> {
    if encoded.len() > 2 * MAX_CREDENTIAL_BYTES {
        return Err(ApiError::InvalidClient);
    }
    let raw = STANDARD
        .decode(encoded)
        .map_err(|_| ApiError::InvalidClient)?;
    let text = String::from_utf8(raw).map_err(|_| ApiError::InvalidClient)?;
    let (id, secret) = text.split_once(':').ok_or(ApiError::InvalidClient)?;
    let decode = |s: &str| percent_decode(s).ok_or(ApiError::InvalidClient);
    Ok(Credentials {
        id: decode(id)?,
        secret: SecretString::from(decode(secret)?),
    })
}

/// `%XX` decoding only: `+` and `&` stay themselves (a secret may hold
/// them literally); a bad escape or non-UTF-8 result is `None`.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Checks the per-IP limit (before any hashing), then authenticates the
/// request's client and checks `grant`. The per-client limit is the
/// route's, after this.
pub async fn require_client(
    state: &State,
    req: &HttpRequest,
    form: Option<(&str, &str)>,
    grant: Grant,
) -> Result<Arc<Client>, ApiError> {
    let source = state.client_ip(req);
    state.rate_limits().check_ip(source)?;
    let creds = credentials(req, form)?.ok_or(ApiError::InvalidClient)?;
    Ok(state
        .service
        .authenticate(creds, grant, source, &request_id(req))
        .await?)
}

/// As [`require_client`] without the grant check: for `/oauth2/token`,
/// where the grant follows from `grant_type` and a missing one is a 400.
pub async fn authenticate_client(
    state: &State,
    req: &HttpRequest,
    form: Option<(&str, &str)>,
) -> Result<Arc<Client>, ApiError> {
    let source = state.client_ip(req);
    state.rate_limits().check_ip(source)?;
    let creds = credentials(req, form)?.ok_or(ApiError::InvalidClient)?;
    Ok(state
        .service
        .authenticate_client(creds, source, &request_id(req))
        .await?)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn basic_credentials_are_percent_decoded_only() {
        let encoded = STANDARD.encode("my%20client:p%3Ass+w&o%25rd");
        let creds = parse_basic(&encoded).unwrap();
        assert_eq!(creds.id, "my client");
        assert_eq!(creds.secret.expose_secret(), "p:ss+w&o%rd");
        assert!(parse_basic("!!!").is_err());
        assert!(parse_basic(&STANDARD.encode("no-colon")).is_err());
        assert!(parse_basic(&STANDARD.encode("a:bad%2")).is_err());
        assert!(parse_basic(&STANDARD.encode("a:bad%zz")).is_err());
        assert!(parse_basic(&STANDARD.encode("a:%ff")).is_err(), "not UTF-8");
    }
}
