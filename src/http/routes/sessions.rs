//! `GET /users/{sub}/sessions` and `DELETE /users/{sub}/sessions/{sid}`
//! (grant `admin`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use crate::domain::{Grant, Sid, Subject};
use crate::http::client_auth::require_client;
use crate::http::{ApiError, ErrorBody, State, request_id};

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionView {
    sid: String,
    client_id: String,
    scope: String,
    created: i64,
    last_refreshed: i64,
    expires: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionList<'a> {
    sub: &'a str,
    sessions: Vec<SessionView>,
}

#[utoipa::path(get, path = "/users/{sub}/sessions", tag = "sessions",
    params(("sub" = String, Path, description = "The user", min_length = 1, max_length = 256)),
    security(("client_basic" = [])),
    responses((status = 200, body = SessionList, description = "Live sessions, earliest expiry first"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let client = require_client(&state, &req, None, Grant::Admin).await?;
    state.rate_limits().check_client(&client.id)?;
    let sub = Subject::parse(&path)?;
    let sessions: Vec<SessionView> = state
        .service
        .list_sessions(&sub)
        .await?
        .into_iter()
        .map(|s| SessionView {
            sid: s.sid.to_string(),
            client_id: s.client_id,
            scope: s.scope,
            created: s.created,
            last_refreshed: s.refreshed,
            expires: s.expires,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SessionList {
            sub: sub.as_str(),
            sessions,
        }))
}

#[utoipa::path(delete, path = "/users/{sub}/sessions/{sid}", tag = "sessions",
    params(("sub" = String, Path, description = "The user", min_length = 1, max_length = 256), ("sid" = String, Path, description = "The session id (a UUID)")),
    security(("client_basic" = [])),
    responses((status = 204, description = "Revoked"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "No such live session")))]
pub async fn delete(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let client = require_client(&state, &req, None, Grant::Admin).await?;
    state.rate_limits().check_client(&client.id)?;
    let (sub, sid) = path.into_inner();
    let sub = Subject::parse(&sub)?;
    let sid = Sid::parse(&sid)?;
    state
        .service
        .revoke_session(&client, &sub, &sid, &request_id(&req))
        .await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
