//! `GET /users/{sub}/sessions` and `DELETE /users/{sub}/sessions/{sid}`
//! (grant `admin`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::domain::{Grant, PageSize, SessionCursor, Sid, Subject};
use crate::http::client_auth::require_client;
use crate::http::decode_error::without_input;
use crate::http::{ApiError, ErrorBody, State, request_id};

/// Which page of the list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Sessions on this page: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page; absent for the first.
    #[param(max_length = 60)]
    cursor: Option<String>,
}

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
    /// Where the next page starts (pass it as `cursor`); absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/users/{sub}/sessions", tag = "sessions",
    params(("sub" = String, Path, description = "The user", min_length = 1, max_length = 256), PageQuery),
    security(("client_basic" = [])),
    responses((status = 200, body = SessionList, description = "One page of live sessions, earliest expiry first"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let client = require_client(&state, &req, None, Grant::Admin).await?;
    state.rate_limits().check_client(&client.id)?;
    let sub = Subject::parse(&path)?;
    let query: PageQuery = serde_urlencoded::from_str(req.query_string()).map_err(|e| {
        ApiError::InvalidRequest(format!(
            "invalid query string: {}",
            without_input(&e.to_string())
        ))
    })?;
    let size = PageSize::parse(query.limit.as_deref())?;
    let after = query
        .cursor
        .as_deref()
        .map(SessionCursor::parse)
        .transpose()?;
    let (sessions, next) = state.service.list_sessions(&sub, after, size).await?;
    let sessions: Vec<SessionView> = sessions
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
            next_cursor: next.map(|c| c.to_string()),
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
