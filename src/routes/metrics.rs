//! `GET /metrics`: this app's figures in the Prometheus text format.

use actix_web::HttpResponse;
use actix_web::http::header;

use super::State;
use crate::store::Store;

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain", body = String)))]
pub async fn metrics(state: State) -> HttpResponse {
    let m = &state.tokens.metrics;
    if let Store::Redis(redis) = &state.tokens.store {
        let (size, available, waiting) = redis.pool_status();
        m.redis_pool(size, size.saturating_sub(available), waiting);
    }
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(m.render())
}
