//! A service guarded by local verification: `GET /whoami` answers
//! `200 {"sub": ...}` for a live token (checked in process with the JWKS
//! and the revocation feed, no `/token/verify` call), 401 otherwise, 503
//! while the feed is stale.
//!
//! ```sh
//! TESSERA_URL=http://127.0.0.1:8080 TESSERA_CLIENT_ID=verify-only TESSERA_CLIENT_SECRET=... \
//! LISTEN=127.0.0.1:9090 MAX_STALENESS_SECS=15 cargo run -p tessera-client --example guard
//! ```
//!
//! `TESSERA_JWKS_URL` (optional) overrides discovery's `jwks_uri`.
#![allow(clippy::unwrap_used)] // an example: a missing variable ends it loudly

use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use tessera_client::middleware::VerifiedClaims;
use tessera_client::middleware::actix::RequireToken;
use tessera_client::{Credentials, Verifier};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("set {name}"))
}

async fn whoami(claims: VerifiedClaims) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"sub": claims.sub}))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:9090".into());
    let staleness: u64 = std::env::var("MAX_STALENESS_SECS")
        .ok()
        .map_or(15, |v| v.parse().expect("MAX_STALENESS_SECS: seconds"));
    let mut builder = Verifier::builder(&env("TESSERA_URL"));
    // Optional: the JWKS address when discovery's `jwks_uri` is not
    // reachable from here (default: discovery's).
    if let Ok(url) = std::env::var("TESSERA_JWKS_URL") {
        builder = builder.jwks_url(url);
    }
    let verifier = builder
        .credentials(Credentials::new(
            env("TESSERA_CLIENT_ID"),
            env("TESSERA_CLIENT_SECRET"),
        ))
        .max_staleness(Duration::from_secs(staleness))
        .build()
        .await
        .map_err(std::io::Error::other)?;
    let server = HttpServer::new(move || {
        App::new().service(
            web::resource("/whoami")
                .wrap(RequireToken::new(verifier.clone()))
                .route(web::get().to(whoami)),
        )
    })
    .workers(2)
    .bind(&listen)?;
    // The bound address, for whoever started us (port 0 picks one).
    for addr in server.addrs() {
        println!("listening on {addr}");
    }
    server.run().await
}
