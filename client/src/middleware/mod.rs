//! Incoming middleware: take the bearer token, verify it against the
//! route's [`Demands`](crate::Demands), and either put [`VerifiedClaims`]
//! into the request or answer in Tessera's error shape themselves:
//!
//! | outcome | status | `WWW-Authenticate` |
//! |---|---|---|
//! | no or bad token, revoked, wrong audience | 401 `invalid_token` | `Bearer error="invalid_token", error_description="<phrase>"` |
//! | a demanded scope missing | 403 `insufficient_scope` | `Bearer error="insufficient_scope", scope="<scopes>"` |
//! | cannot decide (feed stale, Tessera down) | 503 `temporarily_unavailable` | none; `Retry-After: 1` |

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "tower")]
pub mod tower;

use std::ops::Deref;
use std::sync::Arc;

use crate::Claims;
use crate::error::{Rejection, VerifyError};

/// The claims of the request's verified token (in the request's extensions).
#[derive(Debug, Clone)]
pub struct VerifiedClaims(pub Arc<Claims>);

impl Deref for VerifiedClaims {
    type Target = Claims;
    fn deref(&self) -> &Claims {
        &self.0
    }
}

/// The token of an `Authorization: Bearer <token>` value (scheme
/// case-insensitive); `None` for anything else.
pub fn bearer_token(value: Option<&[u8]>) -> Option<&str> {
    let value = std::str::from_utf8(value?).ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A refusal as HTTP: status, headers, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub status: u16,
    /// `(name, value)` pairs.
    pub headers: Vec<(&'static str, String)>,
    /// The OAuth error body, JSON.
    pub body: String,
}

impl Denial {
    /// The answer for `error`.
    pub fn from_error(error: &VerifyError) -> Denial {
        let body = |code: &str, description: &str| {
            serde_json::json!({"error": code, "error_description": description}).to_string()
        };
        match error {
            VerifyError::Rejected(r) => Denial::invalid_token(*r),
            VerifyError::InsufficientScope(scopes) => {
                let description = format!("the token lacks a required scope (requires `{scopes}`)");
                Denial {
                    status: 403,
                    headers: vec![(
                        "www-authenticate",
                        format!(
                            r#"Bearer error="insufficient_scope", scope="{}""#,
                            quoted(scopes)
                        ),
                    )],
                    body: body("insufficient_scope", &description),
                }
            }
            VerifyError::Unavailable(u) => Denial {
                status: 503,
                headers: vec![("retry-after", "1".to_owned())],
                body: body("temporarily_unavailable", &u.to_string()),
            },
        }
    }

    /// 401 `invalid_token` with `r`'s phrase.
    pub fn invalid_token(r: Rejection) -> Denial {
        let phrase = r.to_string();
        Denial {
            status: 401,
            headers: vec![(
                "www-authenticate",
                format!(r#"Bearer error="invalid_token", error_description="{phrase}""#),
            )],
            body: serde_json::json!({"error": "invalid_token", "error_description": phrase})
                .to_string(),
        }
    }
}

/// A value safe inside a quoted-string (scopes never hold `"` or `\`;
/// anything else is dropped rather than trusted).
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Unavailable;

    #[test]
    fn bearer_tokens_are_read_strictly() {
        assert_eq!(bearer_token(Some(b"Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(Some(b"bearer abc")), Some("abc"));
        assert_eq!(bearer_token(Some(b"Basic abc")), None);
        assert_eq!(bearer_token(Some(b"Bearer ")), None);
        assert_eq!(bearer_token(Some(b"Bearer")), None);
        assert_eq!(bearer_token(None), None);
    }

    #[test]
    fn each_outcome_has_its_status_and_challenge() {
        let d = Denial::from_error(&VerifyError::Rejected(Rejection::Revoked));
        assert_eq!(d.status, 401);
        assert_eq!(
            d.headers[0].1,
            r#"Bearer error="invalid_token", error_description="token revoked""#
        );
        let d = Denial::from_error(&VerifyError::InsufficientScope("read write".into()));
        assert_eq!(d.status, 403);
        assert_eq!(
            d.headers[0].1,
            r#"Bearer error="insufficient_scope", scope="read write""#
        );
        let d = Denial::from_error(&VerifyError::Unavailable(Unavailable::Stale));
        assert_eq!((d.status, d.headers[0].0), (503, "retry-after"));
    }
}
