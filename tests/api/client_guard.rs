//! The `guard` example of tessera-client run as a process (built by
//! `scripts/test.sh`, or `cargo build -p tessera-client --example guard`):
//! `/whoami` answers 200 for a live token without calling `/token/verify`,
//! 401 once it is revoked, 503 once Tessera is gone for longer than
//! `MAX_STALENESS_SECS`. And the outgoing interceptor against a real
//! Tessera: one token for concurrent calls, reused, replaced and retried
//! once after a 401.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use tessera_client::middleware::VerifiedClaims;
use tessera_client::middleware::actix::RequireToken;
use tessera_client::outgoing::ClientCredentials;
use tessera_client::{Credentials, Verifier};

use crate::client_support::{Switch, feed_app, refused_within, subscribed};
use crate::helpers::{Backend, SECRET, TestApp};
use crate::oauth_token::with_service_clients;

fn guard_binary() -> PathBuf {
    let path = std::env::var_os("TESSERA_GUARD_BIN").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/target/debug/examples/guard"
            ))
        },
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "no guard example at {}: run `cargo build -p tessera-client --example guard` \
         (scripts/test.sh does)",
        path.display()
    );
    path
}

/// The guard process; killed on drop.
struct Guard {
    child: Child,
    url: String,
}

impl Guard {
    fn start(tessera: &str, staleness_secs: u64) -> Guard {
        let mut child = crate::helpers::loopback_command(guard_binary())
            .env("TESSERA_URL", tessera)
            // The test apps' issuer (where discovery points) is no address.
            .env(
                "TESSERA_JWKS_URL",
                format!("{tessera}/.well-known/jwks.json"),
            )
            .env("TESSERA_CLIENT_ID", "verify-only")
            .env("TESSERA_CLIENT_SECRET", SECRET)
            .env("LISTEN", "127.0.0.1:0")
            .env("MAX_STALENESS_SECS", staleness_secs.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the guard example");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the guard's first line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the guard said `{line}`"));
        Guard {
            child,
            url: format!("http://{addr}/whoami"),
        }
    }

    async fn whoami(&self, token: Option<&str>) -> (u16, Value) {
        let mut req = reqwest::Client::new().get(&self.url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("guard request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Polls until the answer is `want`; every other status seen on the way.
    async fn until(&self, token: Option<&str>, want: u16, within: Duration) -> Vec<u16> {
        let started = Instant::now();
        let mut seen = Vec::new();
        loop {
            let (status, _) = self.whoami(token).await;
            if status == want {
                return seen;
            }
            seen.push(status);
            assert!(
                started.elapsed() < within,
                "no {want} within {within:?}; saw {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sum of `tessera_verify_total` over its outcomes.
async fn verifies_counted(app: &TestApp) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("tessera_verify_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_answers_200_then_401_after_revoke_without_calling_verify() {
    let app = feed_app(Backend::Memory).spawn().await;
    let guard = Guard::start(&app.address, 3);
    let t = app.access_token("nora").await;
    let before = verifies_counted(&app).await;

    let waited = guard.until(Some(&t), 200, Duration::from_secs(10)).await;
    assert!(
        waited.iter().all(|s| *s == 503),
        "before catching up: {waited:?}"
    );
    assert_eq!(guard.whoami(Some(&t)).await, (200, json!({"sub": "nora"})));
    assert_eq!(guard.whoami(None).await.0, 401);
    assert_eq!(guard.whoami(Some("a.b.c")).await.0, 401);

    assert_eq!(app.revoke(&t).await.status(), 200);
    let on_the_way = guard.until(Some(&t), 401, Duration::from_secs(5)).await;
    assert!(on_the_way.iter().all(|s| *s == 200), "{on_the_way:?}");
    assert_eq!(
        verifies_counted(&app).await,
        before,
        "the guard verified locally: no /token/verify call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_refuses_once_tessera_is_gone_longer_than_max_staleness() {
    let app = feed_app(Backend::Memory).spawn().await;
    let switch = Switch::start(&app).await;
    let guard = Guard::start(&switch.url, 2);
    let t = app.access_token("olga").await;
    guard.until(Some(&t), 200, Duration::from_secs(10)).await;

    switch.point_to(None);
    let cut = Instant::now();
    let on_the_way = guard.until(Some(&t), 503, Duration::from_secs(5)).await;
    assert!(on_the_way.iter().all(|s| *s == 200), "{on_the_way:?}");
    assert!(
        cut.elapsed() >= Duration::from_millis(900),
        "{:?}",
        cut.elapsed()
    );
    switch.point_to(Some(&app));
    guard.until(Some(&t), 200, Duration::from_secs(10)).await;
}

/// Tessera itself stopped (not a cut path): the guard keeps serving from
/// its cache and deny-list until `MAX_STALENESS_SECS`, then refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_refuses_once_tessera_is_stopped_longer_than_max_staleness() {
    let app = feed_app(Backend::Memory).spawn().await;
    let guard = Guard::start(&app.address, 2);
    let t = app.access_token("olga").await;
    guard.until(Some(&t), 200, Duration::from_secs(10)).await;

    app.stop().await;
    let stopped = Instant::now();
    let on_the_way = guard.until(Some(&t), 503, Duration::from_secs(8)).await;
    assert!(on_the_way.iter().all(|s| *s == 200), "{on_the_way:?}");
    assert!(
        stopped.elapsed() >= Duration::from_millis(900),
        "{:?}",
        stopped.elapsed()
    );
}

async fn token_facts(claims: VerifiedClaims) -> HttpResponse {
    HttpResponse::Ok().json(json!({"sub": claims.sub, "jti": claims.jti}))
}

/// A resource server guarded by `v`; its `/facts` URL.
fn resource_server(v: Verifier) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/facts", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new().service(
            web::resource("/facts")
                .wrap(RequireToken::new(v.clone()))
                .route(web::get().to(token_facts)),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outgoing_interceptor_shares_reuses_and_replaces_its_token() {
    let app = feed_app(Backend::Memory)
        .configure(with_service_clients)
        .spawn()
        .await;
    let v = subscribed(&app.address).await;
    let url = resource_server(v.clone());
    let auth = Arc::new(ClientCredentials::new(
        &app.address,
        Credentials::new("svc-a", SECRET),
    ));
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with_arc(auth.clone())
        .build();
    let jti_of = |client: reqwest_middleware::ClientWithMiddleware, url: String| async move {
        let res = client.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["sub"], "svc-a");
        v["jti"].as_str().unwrap().to_owned()
    };

    // Ten calls at once share one token (one fetch), and later calls reuse it.
    let calls: Vec<_> = (0..10)
        .map(|_| tokio::spawn(jti_of(client.clone(), url.clone())))
        .collect();
    let mut jtis = Vec::new();
    for c in calls {
        jtis.push(c.await.unwrap());
    }
    jtis.dedup();
    assert_eq!(jtis.len(), 1, "one token for concurrent calls: {jtis:?}");
    assert_eq!(jti_of(client.clone(), url.clone()).await, jtis[0]);

    // The token is revoked: the resource server answers 401, the
    // interceptor fetches a new token and retries once.
    let token = auth.token().await.unwrap();
    let res = app.revoke_as("admin-app", &[("token", &*token)]).await;
    assert_eq!(res.status(), 200);
    refused_within(&v, &token, Duration::from_secs(5)).await;
    let replaced = jti_of(client.clone(), url.clone()).await;
    assert_ne!(replaced, jtis[0]);
    assert_ne!(&*auth.token().await.unwrap(), &*token);
}
