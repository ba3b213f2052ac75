//! Audit events: one JSON object per line on the `audit` log target (its
//! own appender in `log4rs.yaml`). Events name who, which client, which
//! session and token id, and the outcome; never a token or secret. An
//! event of a request carries its `request_id` and its W3C `trace_id`.

use log::Level;
use serde_json::{Map, Value};

use super::trace;
use crate::domain::TraceId;

/// Logs an audit event at INFO, with the current request's trace id.
pub fn event(name: &str, request_id: &str, fields: Value) {
    emit(
        Level::Info,
        name,
        Some(request_id),
        trace::current(),
        fields,
    );
}

/// Logs an audit event at WARN (security-relevant: reuse, eviction), with
/// the current request's trace id.
pub fn warn_event(name: &str, request_id: &str, fields: Value) {
    emit(
        Level::Warn,
        name,
        Some(request_id),
        trace::current(),
        fields,
    );
}

/// [`warn_event`] for a request other than the one being served (a
/// summary naming the last request it counted): its ids are given.
pub fn warn_event_of(name: &str, request_id: &str, trace_id: Option<TraceId>, fields: Value) {
    emit(Level::Warn, name, Some(request_id), trace_id, fields);
}

/// Logs an audit event at INFO that belongs to no single request (a
/// summary of many), so it carries no `request_id` or `trace_id`.
pub fn summary_event(name: &str, fields: Value) {
    emit(Level::Info, name, None, None, fields);
}

fn emit(
    level: Level,
    name: &str,
    request_id: Option<&str>,
    trace_id: Option<TraceId>,
    fields: Value,
) {
    if !log::log_enabled!(target: "audit", level) {
        return;
    }
    let mut obj = Map::new();
    obj.insert(
        "ts".into(),
        Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    );
    obj.insert("event".into(), Value::String(name.to_owned()));
    if let Some(rid) = request_id {
        obj.insert("request_id".into(), Value::String(rid.to_owned()));
    }
    if let Some(tid) = trace_id {
        obj.insert("trace_id".into(), Value::String(tid.to_string()));
    }
    if let Value::Object(extra) = fields {
        obj.extend(extra);
    }
    log::log!(target: "audit", level, "{}", Value::Object(obj));
}
