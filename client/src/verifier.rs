//! The `Verifier`: remote or local, with the fallback rule.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::cache::VerifiedCache;
use crate::config::{Mode, VerifierBuilder};
use crate::error::VerifyError;
use crate::feed::{FeedShared, FeedSource};
use crate::jwks::Jwks;
use crate::local::LocalVerifier;
use crate::remote::RemoteVerifier;
use crate::{Claims, Demands};

/// How often local mode looks whether its key set is past its `max-age`.
const KEYS_CHECK_EVERY: Duration = Duration::from_secs(10);

/// Verifies Tessera access tokens. Cheap to clone (one shared state); the
/// local mode's feed task stops when the last clone is dropped.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    local: Option<LocalVerifier>,
    remote: RemoteVerifier,
    fallback_to_remote: bool,
    _tasks: Vec<AbortOnDrop>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why a verifier could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the HTTP client could not be built: {0}")]
    Http(String),
    #[error("the discovery document at {url} could not be read: {reason}")]
    Discovery { url: String, reason: String },
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl Verifier {
    /// Starts configuring a verifier for the Tessera at `base_url`
    /// (e.g. `https://auth.example.com`).
    pub fn builder(base_url: &str) -> VerifierBuilder {
        VerifierBuilder::new(base_url)
    }

    /// Verifies `token` against `demands`: the claims, or why not.
    pub async fn verify(&self, token: &str, demands: &Demands) -> Result<Arc<Claims>, VerifyError> {
        let Some(local) = &self.inner.local else {
            return self.inner.remote.verify(token, demands).await;
        };
        match local.verify(token, demands).await {
            Err(VerifyError::Unavailable(_)) if self.inner.fallback_to_remote => {
                self.inner.remote.verify(token, demands).await
            }
            other => other,
        }
    }

    /// Whether local mode's feed is caught up and fresh now (remote mode:
    /// always true).
    pub fn is_fresh(&self) -> bool {
        self.inner
            .local
            .as_ref()
            .is_none_or(|l| l.feed.is_fresh(Instant::now(), l.max_staleness))
    }

    /// Waits until [`Self::is_fresh`], at most `timeout`; whether it is.
    pub async fn wait_until_fresh(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.is_fresh() {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}

impl VerifierBuilder {
    /// Builds the verifier. Local mode reads the discovery document (unless
    /// both `issuer` and `jwks_url` are set), loads the JWKS if it can, and
    /// starts following the feed (inside a Tokio runtime). It refuses
    /// tokens (503) until the feed's first heartbeat.
    pub async fn build(self) -> Result<Verifier, BuildError> {
        let http = reqwest::Client::builder()
            .connect_timeout(self.remote_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| BuildError::Http(e.to_string()))?;
        let remote = RemoteVerifier {
            http: http.clone(),
            url: format!("{}/token/verify", self.base_url),
            credentials: self.credentials.clone(),
            timeout: self.remote_timeout,
        };
        let (local, tasks) = match self.mode {
            Mode::Remote => (None, Vec::new()),
            Mode::Local => {
                let (local, tasks) = self.local(http).await?;
                (Some(local), tasks)
            }
        };
        Ok(Verifier {
            inner: Arc::new(Inner {
                local,
                remote,
                fallback_to_remote: self.fallback_to_remote,
                _tasks: tasks,
            }),
        })
    }

    async fn local(
        &self,
        http: reqwest::Client,
    ) -> Result<(LocalVerifier, Vec<AbortOnDrop>), BuildError> {
        let (issuer, jwks_url) = if let (Some(i), Some(j)) = (&self.issuer, &self.jwks_url) {
            (i.clone(), j.clone())
        } else {
            let d = self.discover(&http).await?;
            (
                self.issuer.clone().unwrap_or(d.issuer),
                self.jwks_url.clone().unwrap_or(d.jwks_uri),
            )
        };
        let jwks = Arc::new(Jwks::new(
            http.clone(),
            jwks_url,
            self.jwks_min_refetch,
            self.remote_timeout,
        ));
        if let Err(e) = jwks.load().await {
            log::warn!(
                "tessera-client: the JWKS could not be read yet ({e}); retried on the first token"
            );
        }
        let feed = Arc::new(FeedShared::new());
        let source = FeedSource {
            http,
            url: format!("{}/token/revocations", self.base_url),
            credentials: self.credentials.clone(),
            max_staleness: self.max_staleness,
        };
        let feed_task = AbortOnDrop(tokio::spawn(crate::feed::follow(feed.clone(), source)));
        let refresher = jwks.clone();
        let keys_task = AbortOnDrop(tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEYS_CHECK_EVERY).await;
                refresher.refresh_if_due().await;
            }
        }));
        let local = LocalVerifier {
            jwks,
            issuer,
            leeway_secs: self.leeway.as_secs(),
            cache: VerifiedCache::new(self.cache_entries),
            feed,
            max_staleness: self.max_staleness,
        };
        Ok((local, vec![feed_task, keys_task]))
    }

    async fn discover(&self, http: &reqwest::Client) -> Result<Discovery, BuildError> {
        let url = format!("{}/.well-known/oauth-authorization-server", self.base_url);
        let fail = |reason: String| BuildError::Discovery {
            url: url.clone(),
            reason,
        };
        let res = http
            .get(&url)
            .timeout(self.remote_timeout)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !res.status().is_success() {
            return Err(fail(format!("status {}", res.status())));
        }
        let body = crate::http::bounded_body(res, 64 * 1024)
            .await
            .map_err(fail)?;
        serde_json::from_slice(&body).map_err(|e| fail(e.to_string()))
    }
}
