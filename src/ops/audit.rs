//! Audit events: one JSON object per line on the `audit` log target (its
//! own appender in `log4rs.yaml`). Events name who, which client, which
//! session and token id, and the outcome; never a token or secret.

use log::Level;
use serde_json::{Map, Value};

/// Logs an audit event at INFO.
pub fn event(name: &str, request_id: &str, fields: Value) {
    emit(Level::Info, name, Some(request_id), fields);
}

/// Logs an audit event at WARN (security-relevant: reuse, eviction).
pub fn warn_event(name: &str, request_id: &str, fields: Value) {
    emit(Level::Warn, name, Some(request_id), fields);
}

/// Logs an audit event at INFO that belongs to no single request (a
/// summary of many), so it carries no `request_id`.
pub fn summary_event(name: &str, fields: Value) {
    emit(Level::Info, name, None, fields);
}

fn emit(level: Level, name: &str, request_id: Option<&str>, fields: Value) {
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
    if let Value::Object(extra) = fields {
        obj.extend(extra);
    }
    log::log!(target: "audit", level, "{}", Value::Object(obj));
}
