//! Operations: what operators read. Logging set-up (log4rs with per-
//! environment levels, live reload), the audit trail, the trace id of the
//! request being served, and Prometheus metrics. Depends only on configuration; the service and the HTTP edge
//! emit through it.

pub mod audit;
pub mod audit_summary;
pub mod buffered_log;
pub mod healthcheck;
pub mod logging;
pub mod metrics;
pub mod trace;

pub use metrics::Metrics;

/// `err: cause: cause…`: an error and its whole cause chain on one line,
/// as the logs and the command line print it.
pub fn with_causes(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    crate::config::mask_url_passwords(&line)
}
