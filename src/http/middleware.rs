//! The middleware around every request: a request id (the caller's
//! `X-Request-Id` when sane, else a new UUID; echoed back), a W3C trace id
//! (from a valid `traceparent`, else a new random one; set as the task's
//! trace id for the audit trail), the HTTP metrics, one access line, and
//! the cause chain of an error, logged once: server faults at ERROR,
//! client mistakes at DEBUG.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};

use super::{ApiError, State};
use crate::domain::TraceId;
use crate::ops::{trace, with_causes};

/// The id of the request being served.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The id [`request_context`] gave this request.
pub fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

/// A request id that is safe to echo and log: 1-128 of `[A-Za-z0-9._-]`.
fn sane_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| s.to_owned())
}

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The trace id of the caller's `traceparent`: one header that parses
/// (W3C Trace Context); several `traceparent` headers are invalid.
fn caller_trace_id(req: &ServiceRequest) -> Option<TraceId> {
    let mut values = req.headers().get_all(&TRACEPARENT);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    TraceId::from_traceparent(value.to_str().ok()?)
}

/// Bytes of names and values all of a request's headers may take: room
/// for an 8 KiB token (the size budget) and the usual headers, far from
/// what a caller needs to exhaust memory with many connections.
pub const HEADER_LIMIT: usize = 16 * 1024;

fn header_bytes(req: &ServiceRequest) -> usize {
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum()
}

/// Gives every request an id, records its metrics, logs one access line,
/// and logs the cause chain of an error once.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let rid = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(sane_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(rid.clone()));
    let tid = caller_trace_id(&req).unwrap_or_else(TraceId::generate);
    let tid_text = tid.to_string();
    let metrics = req.app_data::<State>().map(|s| s.service.metrics().clone());
    let mut res = if header_bytes(&req) > HEADER_LIMIT {
        req.error_response(ApiError::HeadersTooLarge(HEADER_LIMIT))
            .map_into_right_body()
    } else {
        trace::scope(tid, next.call(req))
            .await?
            .map_into_left_body()
    };
    if let Ok(v) = HeaderValue::from_str(&rid) {
        res.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    super::dpop::add_nonce(&mut res);
    let status = res.status().as_u16();
    let method = res.request().method().as_str();
    let path = res.request().path();
    if let Some(m) = metrics {
        // The matched pattern (`/users/{sub}/sessions`), never the raw path,
        // so the label set stays bounded.
        let route = res.request().match_pattern();
        let route = route.as_deref().unwrap_or("unmatched");
        m.http_request(method, route, status, started.elapsed());
    }
    if let Some(err) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
    {
        let cause = with_causes(err);
        if err.is_server_fault() {
            log::error!(
                "request_id={rid} {method} {path} -> {status}: {cause} trace_id={tid_text}"
            );
        } else {
            log::debug!(
                "request_id={rid} {method} {path} -> {status}: {cause} trace_id={tid_text}"
            );
        }
    }
    log::info!(
        target: "tessera::access",
        "request_id={rid} {method} {path} {status} {}us trace_id={tid_text}",
        started.elapsed().as_micros()
    );
    Ok(res)
}
