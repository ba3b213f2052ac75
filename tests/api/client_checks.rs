//! tessera-client's checks on the token itself, against the real server:
//! the attack table of `attacks.rs` refused locally with the server's own
//! phrase, a wrong issuer, key rotation seen through the JWKS (with the
//! re-fetch rate limit), a DPoP-bound token refused (no proof can be checked
//! locally), remote mode's mapping of `/token/verify`, and the actix-web and
//! tower middleware answering for themselves.

use std::convert::Infallible;
use std::future::Future;
use std::net::TcpListener;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use tessera_client::middleware::VerifiedClaims;
use tessera_client::middleware::actix::RequireToken;
use tessera_client::middleware::tower::RequireTokenLayer;
use tessera_client::{Credentials, Demands, Mode, Rejection, Unavailable, Verifier, VerifyError};

use crate::attacks::{ATTACK_CASES, Expect, Target, cases};
use crate::client_support::{Switch, accepted, feed_app, subscribed, verifier};
use crate::helpers::{Backend, KeyAlg, SECRET, active_key, retired_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_jwt_attack_is_refused_locally_with_the_servers_phrase() {
    let ed = feed_app(Backend::Memory).spawn().await;
    let es = feed_app(Backend::Memory)
        .key_alg(KeyAlg::ES256)
        .spawn()
        .await;
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let fetch_url = format!("http://{}/jwks.json", trap.local_addr().unwrap());
    let table = cases(&ed, &es, &fetch_url).await;
    assert_eq!(table.len(), ATTACK_CASES);
    let (ed_v, es_v) = (subscribed(&ed.address).await, subscribed(&es.address).await);

    let mut failures = Vec::new();
    for case in &table {
        let v = match case.target {
            Target::EdDsa => &ed_v,
            Target::Es256 => &es_v,
        };
        let demands = Demands {
            audience: case.aud.map(str::to_owned),
            scopes: vec![],
        };
        let want = match case.expect {
            Expect::Refused(p) | Expect::RefusedForAudience(p) => p,
            Expect::TooLarge => "malformed token",
        };
        match v.verify(&case.token, &demands).await {
            Err(VerifyError::Rejected(r)) if r.to_string() == want => {}
            other => failures.push(format!("- {}: want `{want}`, got {other:?}", case.name)),
        }
    }
    match trap.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => failures.push(format!("- jku/x5u: the verifier connected out: {other:?}")),
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_another_issuer_is_refused_locally() {
    let app = feed_app(Backend::Memory).spawn().await;
    let v = verifier(&app.address)
        .issuer("http://someone-else.test")
        .build()
        .await
        .unwrap();
    assert!(v.wait_until_fresh(Duration::from_secs(10)).await);
    let t = app.access_token("ivy").await;
    assert_eq!(
        v.verify(&t, &Demands::none()).await,
        Err(VerifyError::Rejected(Rejection::WrongIssuer))
    );
    // The right issuer (from discovery) accepts it; the audience is
    // compared when a route demands one.
    let v = subscribed(&app.address).await;
    let claims = accepted(&v, &t).await;
    assert_eq!(claims.iss, "http://tessera.test");
    let other_aud = Demands::none().audience("not-the-audience");
    assert_eq!(
        v.verify(&t, &other_aud).await,
        Err(VerifyError::Rejected(Rejection::WrongAudience))
    );
    let own_aud = Demands::none().audience(claims.aud.clone());
    assert!(v.verify(&t, &own_aud).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_is_seen_through_the_jwks_within_the_refetch_limit() {
    let before = feed_app(Backend::Redis)
        .keys([active_key("k1", KeyAlg::EdDSA)])
        .spawn()
        .await;
    let switch = Switch::start(&before).await;
    let build = |pause: Duration| verifier(&switch.url).jwks_min_refetch(pause).build();
    let eager = build(Duration::ZERO).await.unwrap();
    let limited = build(Duration::from_secs(3600)).await.unwrap();
    assert!(eager.wait_until_fresh(Duration::from_secs(10)).await);
    assert!(limited.wait_until_fresh(Duration::from_secs(10)).await);
    let old = before.access_token("jack").await;
    accepted(&eager, &old).await;

    // The deployment rotates: k2 signs, k1 still verifies.
    let after = feed_app(Backend::Redis)
        .peer(&before)
        .keys([
            retired_key("k1", KeyAlg::EdDSA, None),
            active_key("k2", KeyAlg::EdDSA),
        ])
        .spawn()
        .await;
    switch.point_to(Some(&after));
    let new = after.access_token("jack").await;
    assert_eq!(
        jsonwebtoken::decode_header(&new).unwrap().kid.as_deref(),
        Some("k2")
    );
    assert!(eager.wait_until_fresh(Duration::from_secs(10)).await);
    assert_eq!(accepted(&eager, &new).await.sub, "jack", "k2 fetched");
    accepted(&eager, &old).await;
    // k1 leaves the JWKS: a token verified with it before (cached) is
    // checked again once the verifier next reads the set (here: a token
    // naming an unknown kid makes it read).
    let dropped = feed_app(Backend::Redis)
        .peer(&before)
        .keys([active_key("k2", KeyAlg::EdDSA)])
        .spawn()
        .await;
    switch.point_to(Some(&dropped));
    assert!(eager.wait_until_fresh(Duration::from_secs(10)).await);
    accepted(&eager, &old).await;
    let unknown_kid = {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k9"}"#),
            b64("{}")
        )
    };
    // One fetch runs at a time: a read of the set already under way (the
    // background re-read past max-age, started before the switch) can
    // answer this unknown kid with the set it had; the next read drops k1.
    // So: ask again until k1 is refused, within a few seconds.
    let started = std::time::Instant::now();
    loop {
        assert_eq!(
            eager.verify(&unknown_kid, &Demands::none()).await,
            Err(VerifyError::Rejected(Rejection::UnknownKey))
        );
        let outcome = eager.verify(&old, &Demands::none()).await;
        if outcome == Err(VerifyError::Rejected(Rejection::UnknownKey)) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "k1 still verifies 5 s after it left the JWKS: {outcome:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    accepted(&eager, &new).await;
    // The rate-limited verifier fetched at start and may not fetch again.
    assert!(limited.wait_until_fresh(Duration::from_secs(10)).await);
    assert_eq!(
        limited.verify(&new, &Demands::none()).await,
        Err(VerifyError::Rejected(Rejection::UnknownKey))
    );
}

/// RFC 9449 §7.1: a DPoP-bound token (`cnf.jkt`) is good only with a proof
/// by its key, which a bearer check never sees; the local verifier refuses
/// it instead of accepting it as a bearer token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_bound_token_is_refused_locally() {
    let app = feed_app(Backend::Memory)
        .configure(|s| {
            s.clients.push(crate::dpop::dpop_client(
                "dpop-app",
                tessera::domain::DpopMode::Allowed,
            ));
        })
        .spawn()
        .await;
    // RFC 7638 §3.1's example thumbprint: any well-formed jkt binds.
    let jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    let res = app
        .issue_as("dpop-app", json!({"sub": "eve", "cnf": {"jkt": jkt}}))
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    let bound = v["access_token"].as_str().unwrap();
    let plain = app.access_token("eve").await;
    let verifier = subscribed(&app.address).await;
    accepted(&verifier, &plain).await;
    assert_eq!(
        verifier.verify(bound, &Demands::none()).await,
        Err(VerifyError::Rejected(Rejection::SenderConstrained))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_mode_maps_the_answers_of_token_verify() {
    let app = feed_app(Backend::Memory).spawn().await;
    let v = Verifier::builder(&app.address)
        .mode(Mode::Remote)
        .build()
        .await
        .unwrap();
    let issued = app
        .issue_ok(json!({"sub": "kim", "scope": "read", "claims": {"tenant": "t-1"}}))
        .await;
    let t = issued["access_token"].as_str().unwrap();
    let claims = v.verify(t, &Demands::none().scope("read")).await.unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.scope.as_str()),
        ("kim", "read")
    );
    assert_eq!(claims.extra["tenant"], "t-1");
    assert_eq!(
        v.verify(t, &Demands::none().scope("write")).await,
        Err(VerifyError::InsufficientScope("write".into()))
    );
    assert_eq!(app.revoke(t).await.status(), 200);
    assert_eq!(
        v.verify(t, &Demands::none()).await,
        Err(VerifyError::Rejected(Rejection::Revoked))
    );
    // Nobody listening: unavailable, not rejected.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let v = Verifier::builder(&url)
        .mode(Mode::Remote)
        .build()
        .await
        .unwrap();
    assert_eq!(
        v.verify(t, &Demands::none()).await,
        Err(VerifyError::Unavailable(Unavailable::Remote))
    );
}

async fn whoami(claims: VerifiedClaims) -> HttpResponse {
    HttpResponse::Ok().json(json!({"sub": claims.sub}))
}

/// Serves `/any` (any token) and `/read` (scope `read`) with `v`.
fn guarded(v: Verifier) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new()
            .service(
                web::resource("/any")
                    .wrap(RequireToken::new(v.clone()))
                    .route(web::get().to(whoami)),
            )
            .service(
                web::resource("/read")
                    .wrap(RequireToken::new(v.clone()).scope("read"))
                    .route(web::get().to(whoami)),
            )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    url
}

async fn call(url: &str, token: Option<&str>) -> (u16, String, Value) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (res.status().as_u16(), www, res.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_actix_middleware_answers_401_403_and_503_itself() {
    let app = feed_app(Backend::Memory).spawn().await;
    let url = guarded(subscribed(&app.address).await);
    let plain = app.access_token("lena").await;
    let reader = app.issue_ok(json!({"sub": "lena", "scope": "read"})).await;
    let reader = reader["access_token"].as_str().unwrap();

    let (status, _, body) = call(&format!("{url}/any"), Some(&plain)).await;
    assert_eq!((status, body), (200, json!({"sub": "lena"})));
    assert_eq!(call(&format!("{url}/read"), Some(reader)).await.0, 200);
    let (status, www, body) = call(&format!("{url}/read"), Some(&plain)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert_eq!(www, r#"Bearer error="insufficient_scope", scope="read""#);
    for token in [None, Some("not.a.token")] {
        let (status, www, body) = call(&format!("{url}/any"), token).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_token"))
        );
        assert!(www.starts_with(r#"Bearer error="invalid_token""#), "{www}");
    }
    assert_eq!(app.revoke(&plain).await.status(), 200);
    let mut status = 200;
    for _ in 0..500 {
        status = call(&format!("{url}/any"), Some(&plain)).await.0;
        if status == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status, 401, "revoked");

    // A verifier that cannot follow the feed: 503, never the handler.
    let blind = verifier(&app.address)
        .credentials(Credentials::new("narrow-app", SECRET))
        .build()
        .await
        .unwrap();
    let url = guarded(blind);
    let (status, _, body) = call(&format!("{url}/any"), Some(reader)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
}

/// An inner tower service that answers with the verified subject.
#[derive(Clone)]
struct Echo;

impl tower_service::Service<http::Request<String>> for Echo {
    type Response = http::Response<String>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<String>) -> Self::Future {
        let sub = req
            .extensions()
            .get::<VerifiedClaims>()
            .map(|c| c.sub.clone())
            .unwrap_or_else(|| "NO CLAIMS".into());
        Box::pin(async move { Ok(http::Response::new(sub)) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tower_layer_puts_claims_into_the_request_or_answers_itself() {
    use tower_layer::Layer;
    use tower_service::Service;

    let app = feed_app(Backend::Memory).spawn().await;
    let v = subscribed(&app.address).await;
    let mut svc = RequireTokenLayer::new(v, Demands::none().scope("read")).layer(Echo);
    let reader = app.issue_ok(json!({"sub": "max", "scope": "read"})).await;
    let reader = reader["access_token"].as_str().unwrap().to_owned();
    let plain = app.access_token("max").await;
    let request = |token: Option<&str>| {
        let mut b = http::Request::builder().uri("/x");
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        b.body(String::new()).unwrap()
    };
    let res = svc.call(request(Some(&reader))).await.unwrap();
    assert_eq!((res.status().as_u16(), res.body().as_str()), (200, "max"));
    let res = svc.call(request(Some(&plain))).await.unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    let res = svc.call(request(None)).await.unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let body: Value = serde_json::from_str(res.body()).unwrap();
    assert_eq!(body["error"], "invalid_token");
}
