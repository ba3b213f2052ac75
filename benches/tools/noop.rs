//! The HTTP stack's ceiling for `scripts/bench.sh`: actix-web from this
//! crate's own dependency versions, same worker count and keep-alive as
//! Tessera, answering every request with a small JSON body and no work
//! beyond reading the request body (as every Tessera route does: a body
//! left unread makes actix drop the keep-alive connection).
//!
//! Usage: `noop ADDR WORKERS`, e.g. `noop 127.0.0.1:18080 2`.
#![allow(clippy::unwrap_used, clippy::pedantic)] // test and benchmark code: failing loudly is the point

use actix_web::{App, HttpResponse, HttpServer, web};

async fn noop(_body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .content_type("application/json")
        .body(r#"{"active":true}"#)
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18080".into());
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(2);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| App::new().default_service(web::to(noop)))
            .workers(workers)
            .keep_alive(std::time::Duration::from_secs(75))
            .bind(addr)?
            .run()
            .await
    })
}
