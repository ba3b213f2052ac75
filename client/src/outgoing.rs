//! The outgoing half of the interceptor: a `reqwest-middleware` middleware
//! that obtains a `client_credentials` token from Tessera's
//! `/oauth2/token`, reuses it until shortly before it expires (60 s before,
//! or 10 % of its life before for short ones), attaches it as
//! `Authorization: Bearer`, and on a 401 refreshes once and retries once.
//! One fetch at a time: concurrent requests wait for the same new token.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tessera_client::Credentials;
//! use tessera_client::outgoing::ClientCredentials;
//!
//! let auth = ClientCredentials::new("https://auth.example.com", Credentials::new("svc-a", "secret"))
//!     .audience("orders-api");
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).with(auth).build();
//! let res = client.get("https://orders.example.com/orders").send().await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Extensions;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};
use serde::Deserialize;

use crate::Credentials;

/// Why no token could be obtained.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(String),
    #[error("the token endpoint refused: {status} {error}")]
    Refused { status: u16, error: String },
    #[error("the token endpoint's answer is unreadable")]
    Unreadable,
}

struct Cached {
    token: Arc<str>,
    refresh_at: Instant,
}

/// The middleware; cheap to share (`Arc` inside `reqwest-middleware`).
pub struct ClientCredentials {
    http: reqwest::Client,
    token_url: String,
    credentials: Credentials,
    scope: Option<String>,
    audience: Option<String>,
    cached: tokio::sync::Mutex<Option<Cached>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
}

impl ClientCredentials {
    /// Tokens from the Tessera at `base_url`, for this client.
    pub fn new(base_url: &str, credentials: Credentials) -> Self {
        ClientCredentials {
            http: reqwest::Client::new(),
            token_url: format!("{}/oauth2/token", base_url.trim_end_matches('/')),
            credentials,
            scope: None,
            audience: None,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// The scopes to ask for (space-separated; default: all the client's).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The audience to ask for (default: the client's first).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The current token, fetched if there is none or it is due.
    pub async fn token(&self) -> Result<Arc<str>, TokenError> {
        self.token_replacing(None).await
    }

    /// The current token; a new one when the cached one is due or is
    /// `rejected` (a token a resource server just refused).
    async fn token_replacing(&self, rejected: Option<&str>) -> Result<Arc<str>, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.refresh_at
            && rejected.is_none_or(|r| *r != *c.token)
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    async fn fetch(&self) -> Result<Cached, TokenError> {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope));
        }
        if let Some(audience) = &self.audience {
            form.push(("audience", audience));
        }
        let asked = Instant::now();
        let res = self
            .http
            .post(&self.token_url)
            .basic_auth(&self.credentials.client_id, Some(self.credentials.secret()))
            .form(&form)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| TokenError::Unreachable(e.to_string()))?;
        let status = res.status();
        let body = crate::http::bounded_body(res, 64 * 1024)
            .await
            .map_err(TokenError::Unreachable)?;
        if status != StatusCode::OK {
            let error = serde_json::from_slice::<ErrorAnswer>(&body)
                .map_or_else(|_| "?".to_owned(), |e| e.error);
            return Err(TokenError::Refused {
                status: status.as_u16(),
                error,
            });
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|_| TokenError::Unreadable)?;
        Ok(Cached {
            token: answer.access_token.into(),
            refresh_at: asked + reuse_for(answer.expires_in),
        })
    }
}

/// How long a token that lives `expires_in` seconds is reused: until 60 s
/// before its end, or 10 % of its life before when that is less.
pub fn reuse_for(expires_in: u64) -> Duration {
    let life = Duration::from_secs(expires_in);
    life.saturating_sub(Duration::from_secs(60).min(life / 10))
}

fn bearer(token: &str) -> Result<HeaderValue, reqwest_middleware::Error> {
    HeaderValue::from_str(&format!("Bearer {token}")).map_err(reqwest_middleware::Error::middleware)
}

#[async_trait::async_trait]
impl Middleware for ClientCredentials {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let token = self
            .token()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        req.headers_mut().insert(AUTHORIZATION, bearer(&token)?);
        // A streamed body cannot be sent twice: such a request is not retried.
        let retry = req.try_clone();
        let res = next.clone().run(req, extensions).await?;
        let (StatusCode::UNAUTHORIZED, Some(mut retry)) = (res.status(), retry) else {
            return Ok(res);
        };
        let token = self
            .token_replacing(Some(&token))
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        retry.headers_mut().insert(AUTHORIZATION, bearer(&token)?);
        next.run(retry, extensions).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_reused_until_shortly_before_they_expire() {
        assert_eq!(reuse_for(900), Duration::from_secs(840));
        assert_eq!(reuse_for(3600), Duration::from_secs(3540));
        assert_eq!(reuse_for(60), Duration::from_secs(54));
        assert_eq!(reuse_for(0), Duration::ZERO);
    }
}
