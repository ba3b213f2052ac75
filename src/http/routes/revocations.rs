//! `GET /token/revocations`: the revocation feed as Server-Sent Events
//! (grant `verify`). A client resumes with `Last-Event-ID` (or
//! `?last_event_id=`, for clients that cannot set headers); without one it
//! gets every retained event first. Events: `token`, `session`, `user`
//! (JSON data, see `domain::Revocation`), `reset` (drop what the feed
//! taught you; the retained history follows), `heartbeat` (the feed is
//! live; sent after the replay and every `verify.feed_heartbeat_secs`).

use std::convert::Infallible;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::domain::{FeedId, Grant};
use crate::http::client_auth::require_client;
use crate::http::decode_error::without_input;
use crate::http::{ApiError, ErrorBody, State};
use crate::service::FeedMessage;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Resume after this event id (`<ms>-<seq>`); the `Last-Event-ID`
    /// header wins when both are given.
    #[param(max_length = 41, pattern = "^[0-9]+-[0-9]+$")]
    last_event_id: Option<String>,
}

#[utoipa::path(get, path = "/token/revocations", tag = "tokens",
    params(FeedQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id")),
    security(("client_basic" = [])),
    responses((status = 200, content_type = "text/event-stream",
            description = "Server-Sent Events: token, session, user, reset, heartbeat"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn revocations(req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    let client = require_client(&state, &req, None, Grant::Verify).await?;
    state.rate_limits().check_client(&client.id)?;
    let after = resume_point(&req)?;
    let subscription = state.service.subscribe_feed(after)?;
    let deadline = tokio::time::Instant::now() + state.service.feed_connection_limit();
    let body = futures_util::stream::unfold(subscription.rx, move |mut rx| async move {
        // The connection ends at the deadline: clients reconnect with their
        // last id (which also spreads them over instances).
        let message = tokio::time::timeout_at(deadline, rx.recv()).await.ok()??;
        Some((Ok::<_, Infallible>(encode(&message)), rx))
    });
    let opening = futures_util::stream::once(async { Ok(Bytes::from_static(b"retry: 1000\n\n")) });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures_util::StreamExt::chain(opening, body)))
}

fn resume_point(req: &HttpRequest) -> Result<Option<FeedId>, ApiError> {
    let query: FeedQuery = serde_urlencoded::from_str(req.query_string()).map_err(|e| {
        ApiError::InvalidRequest(format!(
            "invalid query string: {}",
            without_input(&e.to_string())
        ))
    })?;
    // An empty header is no position (some clients send one); the query
    // parameter, when given, must be an id.
    let header = req
        .headers()
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("\u{0}"))
        .filter(|v| !v.is_empty());
    match header.or(query.last_event_id.as_deref()) {
        None => Ok(None),
        Some(id) => FeedId::parse(id).map(Some).ok_or_else(|| {
            ApiError::InvalidRequest("`Last-Event-ID` must be an event id `<ms>-<seq>`".into())
        }),
    }
}

fn encode(message: &FeedMessage) -> Bytes {
    let text = match message {
        FeedMessage::Event(e) => format!(
            "id: {}\nevent: {}\ndata: {}\n\n",
            e.id,
            e.revocation.kind(),
            serde_json::to_string(&e.revocation).unwrap_or_default()
        ),
        FeedMessage::Reset => "event: reset\ndata: {}\n\n".to_owned(),
        FeedMessage::Heartbeat => format!(
            "event: heartbeat\ndata: {}\n\n",
            json!({"at": chrono::Utc::now().timestamp_millis()})
        ),
    };
    Bytes::from(text)
}
