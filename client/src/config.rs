//! How a verifier is set up: client credentials and the builder.

use std::fmt;
use std::time::Duration;

/// A client id and secret (HTTP Basic); the secret never prints.
#[derive(Clone)]
pub struct Credentials {
    pub client_id: String,
    secret: String,
}

impl Credentials {
    pub fn new(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Credentials {
            client_id: client_id.into(),
            secret: secret.into(),
        }
    }

    /// The secret, for the request that sends it.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("secret", &"***")
            .finish()
    }
}

/// Which way a [`crate::Verifier`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `POST /token/verify` for every token.
    Remote,
    /// JWKS + the revocation feed, in process.
    Local,
}

/// Settings of a [`crate::Verifier`]; see [`crate::Verifier::builder`].
#[derive(Debug, Clone)]
pub struct VerifierBuilder {
    pub(crate) base_url: String,
    pub(crate) mode: Mode,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) issuer: Option<String>,
    pub(crate) jwks_url: Option<String>,
    pub(crate) max_staleness: Duration,
    pub(crate) fallback_to_remote: bool,
    pub(crate) leeway: Duration,
    pub(crate) cache_entries: usize,
    pub(crate) jwks_min_refetch: Duration,
    pub(crate) remote_timeout: Duration,
}

impl VerifierBuilder {
    pub(crate) fn new(base_url: &str) -> Self {
        VerifierBuilder {
            base_url: base_url.trim_end_matches('/').to_owned(),
            mode: Mode::Local,
            credentials: None,
            issuer: None,
            jwks_url: None,
            max_staleness: Duration::from_secs(15),
            fallback_to_remote: false,
            leeway: Duration::from_secs(30),
            cache_entries: 100_000,
            jwks_min_refetch: Duration::from_secs(10),
            remote_timeout: Duration::from_secs(2),
        }
    }

    /// Local (the default) or remote verification.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Client credentials: needed for the feed (grant `verify`), and for
    /// remote verification when Tessera requires client authentication.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The expected `iss` (default: the discovery document's `issuer`).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The JWKS address (default: the discovery document's `jwks_uri`).
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Local mode refuses (503) when the feed has been silent longer than
    /// this (default 15 s: three of Tessera's 5 s heartbeats).
    pub fn max_staleness(mut self, max: Duration) -> Self {
        self.max_staleness = max;
        self
    }

    /// Local mode asks `/token/verify` instead of refusing while the feed
    /// is stale or not caught up, or the keys cannot be read.
    pub fn fallback_to_remote(mut self, fallback: bool) -> Self {
        self.fallback_to_remote = fallback;
        self
    }

    /// Clock skew allowed on `exp` and `nbf` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// How many verified tokens local mode remembers (default 100,000).
    pub fn cache_entries(mut self, entries: usize) -> Self {
        self.cache_entries = entries;
        self
    }

    /// The shortest pause between two JWKS fetches (default 10 s).
    pub fn jwks_min_refetch(mut self, pause: Duration) -> Self {
        self.jwks_min_refetch = pause;
        self
    }

    /// The time a remote verify (and a JWKS or discovery read) may take
    /// (default 2 s).
    pub fn remote_timeout(mut self, timeout: Duration) -> Self {
        self.remote_timeout = timeout;
        self
    }
}
