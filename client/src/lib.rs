//! # tessera-client
//!
//! Verify Tessera access tokens inside a Rust service, and attach tokens
//! to the calls it makes.
//!
//! - [`Verifier`], two modes:
//!   - **remote**: `POST /token/verify` for every token over a pooled
//!     keep-alive client; revocation is immediate, Tessera must be up.
//!   - **local** (default): the JWT checked in process with the keys from
//!     the JWKS (the algorithm pinned per key, `typ: at+jwt`, `iss`, `aud`,
//!     `exp`/`nbf` with leeway; a verified token is remembered until its
//!     `exp`), plus the revocation feed (`GET /token/revocations`) followed
//!     in the background into a deny-list. **Fails closed**: until the
//!     feed's first heartbeat, and whenever it has been silent longer than
//!     `max_staleness`, every token is refused with
//!     [`VerifyError::Unavailable`] (or, if configured, verified remotely).
//! - middleware: [`middleware::actix`] (feature `actix`) and
//!   [`middleware::tower`] (feature `tower`), answering 401/403/503 with
//!   `WWW-Authenticate` themselves and putting [`Claims`] into the request.
//! - [`outgoing`] (feature `outgoing`): a `reqwest-middleware` middleware
//!   that obtains a `client_credentials` token and attaches it.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use tessera_client::{Credentials, Demands, Verifier};
//!
//! let verifier = Verifier::builder("https://auth.example.com")
//!     .credentials(Credentials::new("orders-api", "secret"))
//!     .max_staleness(Duration::from_secs(15))
//!     .build()
//!     .await?;
//! let claims = verifier.verify("eyJ...", &Demands::none().scope("read")).await?;
//! println!("{}", claims.sub);
//! # Ok(()) }
//! ```

mod cache;
mod claims;
mod config;
pub mod denylist;
mod error;
mod feed;
pub mod freshness;
mod http;
mod jwks;
mod local;
pub mod middleware;
#[cfg(feature = "outgoing")]
pub mod outgoing;
mod remote;
pub mod sse;
mod strict_json;
mod verifier;

pub use claims::{Claims, Demands};
pub use config::{Credentials, Mode, VerifierBuilder};
pub use error::{Rejection, Unavailable, VerifyError};
pub use local::MAX_TOKEN_BYTES;
pub use verifier::{BuildError, Verifier};
