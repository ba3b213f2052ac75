//! Audit events: one JSON object per line on the `audit` log target (its
//! own appender in `log4rs.yaml`). Events name who, which client, which
//! session and token id, and the outcome; never a token or secret.

use log::Level;
use serde_json::{Map, Value};

/// Logs an audit event at INFO.
pub fn event(name: &str, request_id: &str, fields: Value) {
    emit(Level::Info, name, request_id, fields);
}

/// Logs an audit event at WARN (security-relevant: reuse, eviction).
pub fn warn_event(name: &str, request_id: &str, fields: Value) {
    emit(Level::Warn, name, request_id, fields);
}

fn emit(level: Level, name: &str, request_id: &str, fields: Value) {
    if !log::log_enabled!(target: "audit", level) {
        return;
    }
    let mut obj = Map::new();
    obj.insert(
        "ts".into(),
        Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    );
    obj.insert("event".into(), Value::String(name.to_owned()));
    obj.insert("request_id".into(), Value::String(request_id.to_owned()));
    if let Value::Object(extra) = fields {
        obj.extend(extra);
    }
    log::log!(target: "audit", level, "{}", Value::Object(obj));
}
