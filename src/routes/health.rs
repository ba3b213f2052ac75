//! `GET /healthz` (the process is up) and `GET /readyz` (the store answers).

use actix_web::HttpResponse;
use serde_json::json;

use super::State;
use crate::error::ApiError;
use crate::store::TokenStore;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

pub async fn readyz(state: State) -> Result<HttpResponse, ApiError> {
    state.tokens.store.ping().await?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready", "store": state.tokens.store.kind() })))
}
