//! Request bodies: read with a size bound, typed by `Content-Type`, and
//! decoded into a request struct with errors that name the field.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::decode_error::without_input;
use super::{ApiError, State};

const DEFAULT_LIMIT: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Empty,
    Json,
    Form,
}

/// A bounded request body and its media type.
pub struct Body {
    pub kind: BodyKind,
    pub bytes: Bytes,
}

fn media_type(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
}

impl FromRequest for Body {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<State>()
            .map_or(DEFAULT_LIMIT, |s| s.body_limit);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let media = media_type(req);
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit) {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            let mut buf = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    ApiError::InvalidRequest(format!("cannot read request body: {e}"))
                })?;
                if buf.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge(limit));
                }
                buf.extend_from_slice(&chunk);
            }
            let bytes = buf.freeze();
            if bytes.is_empty() {
                return Ok(Body {
                    kind: BodyKind::Empty,
                    bytes,
                });
            }
            let kind = match media.as_deref() {
                Some("application/json") => BodyKind::Json,
                Some(m) if m.starts_with("application/") && m.ends_with("+json") => BodyKind::Json,
                Some("application/x-www-form-urlencoded") => BodyKind::Form,
                Some(other) => {
                    return Err(ApiError::UnsupportedMediaType(format!(
                        "content type `{}` is not supported; send application/json",
                        other.escape_debug()
                    )));
                }
                None => {
                    return Err(ApiError::UnsupportedMediaType(
                        "a body needs a Content-Type (application/json)".into(),
                    ));
                }
            };
            Ok(Body { kind, bytes })
        })
    }
}

impl Body {
    /// Decodes a JSON body (unknown fields refused). Form bodies are taken
    /// only when `form_fields` lists the parameters to read; others are
    /// ignored there, as RFC 6749 §3.2 asks. `Ok(None)` for an empty body.
    pub fn parse<T: DeserializeOwned>(&self, form_fields: &[&str]) -> Result<Option<T>, ApiError> {
        match self.kind {
            BodyKind::Empty => Ok(None),
            BodyKind::Json => crate::domain::strict_json::check_no_duplicate_keys(&self.bytes)
                .and_then(|()| serde_json::from_slice(&self.bytes))
                .map(Some)
                .map_err(|e| {
                    ApiError::InvalidRequest(format!(
                        "invalid JSON body: {}",
                        without_input(&e.to_string())
                    ))
                }),
            BodyKind::Form if form_fields.is_empty() => Err(ApiError::UnsupportedMediaType(
                "this endpoint takes application/json".into(),
            )),
            BodyKind::Form => {
                check_form_utf8(&self.bytes)?;
                let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&self.bytes)
                    .map_err(|e| {
                        ApiError::InvalidRequest(format!(
                            "invalid form body: {}",
                            without_input(&e.to_string())
                        ))
                    })?;
                let mut map = serde_json::Map::new();
                for (k, v) in pairs {
                    if !form_fields.contains(&k.as_str()) {
                        continue;
                    }
                    if map
                        .insert(k.clone(), serde_json::Value::String(v))
                        .is_some()
                    {
                        return Err(ApiError::InvalidRequest(format!(
                            "parameter `{k}` is repeated"
                        )));
                    }
                }
                serde_json::from_value(serde_json::Value::Object(map))
                    .map(Some)
                    .map_err(|e| {
                        ApiError::InvalidRequest(format!(
                            "invalid form body: {}",
                            without_input(&e.to_string())
                        ))
                    })
            }
        }
    }

    /// As [`Body::parse`], but an empty body is an error.
    pub fn require<T: DeserializeOwned>(&self, form_fields: &[&str]) -> Result<T, ApiError> {
        self.parse(form_fields)?
            .ok_or_else(|| ApiError::InvalidRequest("request body is required".into()))
    }
}

/// serde_urlencoded replaces invalid UTF-8 with U+FFFD silently; a form
/// body whose bytes or percent-escapes are not UTF-8 is refused instead.
fn check_form_utf8(bytes: &[u8]) -> Result<(), ApiError> {
    let hex = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    for piece in bytes.split(|&b| b == b'&' || b == b'=') {
        let mut decoded = Vec::with_capacity(piece.len());
        let mut i = 0;
        while i < piece.len() {
            let escaped = piece
                .get(i + 1)
                .copied()
                .and_then(hex)
                .zip(piece.get(i + 2).copied().and_then(hex));
            match (piece[i], escaped) {
                (b'%', Some((hi, lo))) => {
                    decoded.push(hi << 4 | lo);
                    i += 3;
                }
                (b, _) => {
                    decoded.push(b);
                    i += 1;
                }
            }
        }
        if std::str::from_utf8(&decoded).is_err() {
            return Err(ApiError::InvalidRequest(
                "form body is not valid UTF-8".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_form_utf8;

    #[test]
    fn form_bodies_must_be_utf8_after_percent_decoding() {
        assert!(check_form_utf8(b"token=abc&x=%C3%A9+y").is_ok());
        assert!(check_form_utf8(b"token=%ZZ%").is_ok());
        assert!(check_form_utf8(b"token=%FF").is_err());
        assert!(check_form_utf8(&[b't', b'=', 0xff]).is_err());
    }
}
