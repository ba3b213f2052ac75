//! `GET /healthz` (the process is up) and `GET /readyz` (the store answers).

use actix_web::HttpResponse;

use crate::http::{ApiError, ErrorBody, State};

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `ready` on /readyz.
    status: &'static str,
    /// The token store (`memory` or `redis`), on /readyz.
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<&'static str>,
}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health, description = "The process is up")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        store: None,
    })
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health, description = "The token store answers"),
        (status = 503, body = ErrorBody, description = "The token store does not answer")))]
pub async fn readyz(state: State) -> Result<HttpResponse, ApiError> {
    let store = state.service.ready().await?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ready",
        store: Some(store),
    }))
}
