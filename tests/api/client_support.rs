//! Shared by the `client_*` suites (the tessera-client crate against the
//! real server): apps whose feed beats every second, a verifier subscribed
//! and caught up, polling for a verdict, and [`Switch`], a TCP forwarder
//! standing for the load balancer in front of Tessera, so that a verifier
//! can lose its instance, or be sent to another one.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tessera_client::{
    Claims, Credentials, Demands, Rejection, Verifier, VerifierBuilder, VerifyError,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{Backend, SECRET, TestApp, TestAppBuilder};

/// The verifiers' `max_staleness` in these suites (the apps beat every 1 s).
pub const STALENESS: Duration = Duration::from_secs(2);

/// An app whose feed sends a heartbeat every second, no refresh grace.
/// Verifiers, guards and the test itself all authenticate from 127.0.0.1
/// at once: more than the default one secret check per address may run.
pub fn feed_app(b: Backend) -> TestAppBuilder {
    TestApp::builder(b).configure(|s| {
        s.verify.feed_heartbeat_secs = 1;
        s.tokens.refresh_grace_secs = 0;
        s.client_auth.max_checks_per_source = 8;
    })
}

/// A verifier of the Tessera at `base`: client `verify-only`, the JWKS at
/// `base` (the test apps' issuer, where discovery points, is no address).
pub fn verifier(base: &str) -> VerifierBuilder {
    Verifier::builder(base)
        .credentials(Credentials::new("verify-only", SECRET))
        .jwks_url(format!("{base}/.well-known/jwks.json"))
        .max_staleness(STALENESS)
}

/// A local [`verifier`] of the Tessera at `base`, caught up.
pub async fn subscribed(base: &str) -> Verifier {
    let v = verifier(base).build().await.expect("build the verifier");
    assert!(
        v.wait_until_fresh(Duration::from_secs(10)).await,
        "the verifier caught up with the feed"
    );
    v
}

/// The claims, or a panic naming the token's fate.
pub async fn accepted(v: &Verifier, token: &str) -> Arc<Claims> {
    v.verify(token, &Demands::none())
        .await
        .unwrap_or_else(|e| panic!("a live token refused: {e:?}"))
}

/// Polls until `v` refuses `token` as revoked; how long that took.
pub async fn refused_within(v: &Verifier, token: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let outcome = v.verify(token, &Demands::none()).await;
        if outcome == Err(VerifyError::Rejected(Rejection::Revoked)) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "not refused as revoked within {within:?}; last: {outcome:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A TCP forwarder on a port of its own: connections go to the app it
/// points at, or are closed at once when it points nowhere.
pub struct Switch {
    pub url: String,
    target: Arc<Mutex<Option<SocketAddr>>>,
    live: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

fn addr_of(app: &TestApp) -> SocketAddr {
    app.address
        .trim_start_matches("http://")
        .parse()
        .expect("app address")
}

impl Switch {
    pub async fn start(app: &TestApp) -> Switch {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let target = Arc::new(Mutex::new(Some(addr_of(app))));
        let live: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (t, l) = (target.clone(), live.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let Some(addr) = *t.lock().unwrap() else {
                    drop(inbound);
                    continue;
                };
                let conn = tokio::spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(addr).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                l.lock().unwrap().push(conn);
            }
        });
        Switch {
            url,
            target,
            live,
            accept,
        }
    }

    /// Cuts every open connection; new ones go to `app` (none: refused).
    pub fn point_to(&self, app: Option<&TestApp>) {
        *self.target.lock().unwrap() = app.map(addr_of);
        for conn in self.live.lock().unwrap().drain(..) {
            conn.abort();
        }
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.accept.abort();
        self.point_to(None);
    }
}
