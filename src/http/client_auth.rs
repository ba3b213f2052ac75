//! Client credentials on the wire: HTTP Basic (`client_secret_basic`; id
//! and secret form-urlencoded inside, RFC 6749 §2.3.1) or form fields
//! (`client_secret_post`). Checking them is the service's job.

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;

use super::{ApiError, State};
use crate::domain::{Client, Grant};
use crate::service::Credentials;

/// Longest client id or secret accepted before any work is done.
const MAX_CREDENTIAL_BYTES: usize = 512;

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1: id and
/// secret are form-urlencoded inside), or from `client_id`/`client_secret`
/// form fields. `Ok(None)` when the request carries none.
pub fn credentials(
    req: &HttpRequest,
    form: Option<(&str, &str)>,
) -> Result<Option<Credentials>, ApiError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::InvalidClient)?;
        if let Some(encoded) = strip_scheme(value, "basic") {
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
    let decode = |s: &str| form_urlencoded_decode(s).ok_or(ApiError::InvalidClient);
    Ok(Credentials {
        id: decode(id)?,
        secret: SecretString::from(decode(secret)?),
    })
}

/// `application/x-www-form-urlencoded` decoding of one component.
fn form_urlencoded_decode(s: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={s}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

/// Authenticates the request's client and checks `grant`.
pub async fn require_client(
    state: &State,
    req: &HttpRequest,
    form: Option<(&str, &str)>,
    grant: Grant,
) -> Result<Arc<Client>, ApiError> {
    let creds = credentials(req, form)?.ok_or(ApiError::InvalidClient)?;
    Ok(state.service.authenticate(creds, grant).await?)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let encoded = STANDARD.encode("my%20client:p%3Ass+word");
        let creds = parse_basic(&encoded).unwrap();
        assert_eq!(creds.id, "my client");
        assert_eq!(creds.secret.expose_secret(), "p:ss word");
        assert!(parse_basic("!!!").is_err());
        assert!(parse_basic(&STANDARD.encode("no-colon")).is_err());
    }
}
