//! Remote verification: `POST /token/verify` over the verifier's pooled
//! keep-alive client (with client credentials when configured). 200 is the
//! claims, 401 the rejection its phrase names, 403 a missing scope; a
//! network failure, a 5xx or a 429 is `Unavailable`.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::error::{Rejection, Unavailable, VerifyError};
use crate::{Claims, Credentials, Demands};

const MAX_ANSWER_BYTES: usize = 64 * 1024;

pub(crate) struct RemoteVerifier {
    pub http: reqwest::Client,
    pub url: String,
    pub credentials: Option<Credentials>,
    pub timeout: Duration,
}

#[derive(Deserialize)]
struct Answer {
    sub: String,
    aud: String,
    #[serde(default)]
    scope: String,
    exp: i64,
    iat: i64,
    jti: String,
    sid: String,
    client_id: String,
    #[serde(default)]
    claims: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
    #[serde(default)]
    error_description: String,
}

impl RemoteVerifier {
    pub async fn verify(&self, token: &str, demands: &Demands) -> Result<Arc<Claims>, VerifyError> {
        let body = json!({
            "token": token,
            "aud": demands.audience.as_deref().unwrap_or(""),
            "scope": demands.scopes.join(" "),
        });
        let request = crate::http::with_credentials(
            self.http.post(&self.url).timeout(self.timeout).json(&body),
            self.credentials.as_ref(),
        );
        let res = request.send().await.map_err(|e| {
            log::warn!("tessera-client: /token/verify unreachable: {e}");
            Unavailable::Remote
        })?;
        let status = res.status().as_u16();
        let body = crate::http::bounded_body(res, MAX_ANSWER_BYTES)
            .await
            .map_err(|_| Unavailable::Remote)?;
        match status {
            200 => {
                let a: Answer = serde_json::from_slice(&body).map_err(|e| {
                    log::warn!("tessera-client: unreadable /token/verify answer: {e}");
                    Unavailable::Remote
                })?;
                Ok(Arc::new(Claims {
                    iss: String::new(),
                    sub: a.sub,
                    aud: a.aud,
                    exp: a.exp,
                    iat: a.iat,
                    nbf: a.iat,
                    jti: a.jti,
                    client_id: a.client_id,
                    scope: a.scope,
                    sid: a.sid,
                    extra: a.claims,
                }))
            }
            401 | 403 | 400 => {
                let e: Option<ErrorAnswer> = serde_json::from_slice(&body).ok();
                match e {
                    Some(e) if status == 401 && e.error == "invalid_token" => {
                        Err(Rejection::from_phrase(&e.error_description).into())
                    }
                    Some(e) if status == 403 && e.error == "insufficient_scope" => {
                        Err(VerifyError::InsufficientScope(demands.scopes.join(" ")))
                    }
                    // An audience the token's client requires and the route
                    // did not name: the token is not for this route.
                    Some(e) if status == 400 && e.error == "invalid_request" => {
                        Err(Rejection::WrongAudience.into())
                    }
                    // Our own credentials refused (401 invalid_client, 403
                    // unauthorized_client): a deployment fault, not the token's.
                    _ => {
                        log::error!(
                            "tessera-client: /token/verify refused this verifier's request ({status}); check its client credentials and grant `verify`"
                        );
                        Err(Unavailable::Remote.into())
                    }
                }
            }
            _ => {
                log::warn!("tessera-client: /token/verify answered {status}");
                Err(Unavailable::Remote.into())
            }
        }
    }
}
