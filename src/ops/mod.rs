//! Operations: what operators read. Logging set-up (log4rs with per-
//! environment levels, live reload), the audit trail, and Prometheus
//! metrics. Depends only on configuration; the service and the HTTP edge
//! emit through it.

pub mod audit;
pub mod logging;
pub mod metrics;

pub use metrics::Metrics;
