//! Prometheus metrics for `GET /metrics`. Each `Application` owns its own
//! recorder (`PrometheusBuilder::build_recorder`, never installed as the
//! global one) and records through it with `metrics::with_local_recorder`,
//! so two apps in one test process keep separate figures. The standard
//! `process_*` series (`metrics-process`: /proc/self on Linux) are read at
//! each scrape into the same recorder.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{
    Counter, Histogram, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

/// Latency buckets (seconds) for every `*_seconds` histogram.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The `grant` label of `tessera_oauth_tokens_total`, pre-registered at 0.
pub const OAUTH_GRANTS: &[&str] = &["client_credentials", "token_exchange"];

/// Outcomes of `/token/verify` (see `Rejection::label`), pre-registered at 0.
pub const VERIFY_OUTCOMES: &[&str] = &[
    "ok",
    "expired",
    "revoked",
    "bad_signature",
    "malformed",
    "wrong_audience",
    "wrong_issuer",
    "audience_required",
    "insufficient_scope",
    "unavailable",
    "error",
];

/// Outcomes of a configuration reload (SIGHUP), pre-registered at 0.
pub const RELOAD_OUTCOMES: &[&str] = &["ok", "error"];

/// The git commit the binary was built from (`build.rs`), or `unknown`.
pub const GIT_SHA: &str = env!("TESSERA_GIT_SHA");

/// The `method` label's values: the standard methods, and `other` for any
/// method a client makes up (so no label value comes from the request).
pub const HTTP_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
];

/// `method` as a label: itself when standard, else `other`.
pub fn method_label(method: &str) -> &'static str {
    HTTP_METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

/// The handles of one (method, route, status) series, registered once.
type HttpSeries = HashMap<(&'static str, String, u16), (Counter, Histogram)>;

#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    /// Per-request metrics skip the recorder's registry look-up (label
    /// allocation and hashing) after a series' first request.
    http: Arc<Mutex<HttpSeries>>,
    verify: Arc<HashMap<&'static str, Counter>>,
    process: Arc<metrics_process::Collector>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            // The bucket list is a non-empty constant, so this cannot fail.
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let mut m = Metrics {
            recorder: Arc::new(builder.build_recorder()),
            http: Arc::new(Mutex::new(HashMap::new())),
            verify: Arc::new(HashMap::new()),
            process: Arc::new(metrics_process::Collector::default()),
        };
        m.with(|| {
            describe_counter!("tessera_http_requests_total", "HTTP requests by method, route pattern and status");
            describe_histogram!("tessera_http_request_duration_seconds", "HTTP request latency by method, route pattern and status");
            describe_counter!("tessera_verify_total", "Token verifications on /token/verify by outcome");
            describe_counter!("tessera_tokens_issued_total", "Access tokens issued by /token/issue");
            describe_counter!("tessera_oauth_tokens_total", "Access tokens issued by /oauth2/token's client_credentials and token-exchange grants, by grant");
            describe_counter!("tessera_tokens_refreshed_total", "Successful refresh-token rotations");
            describe_counter!("tessera_tokens_revoked_total", "Revocations by kind (access_token, refresh_token, session)");
            describe_counter!("tessera_refresh_reuse_detected_total", "Replayed refresh tokens (their session was revoked)");
            describe_counter!("tessera_refresh_retries_total", "Refreshes retried within tokens.refresh_grace_secs (answered, not treated as reuse)");
            describe_counter!("tessera_redis_replication_shortfall_total", "Committed writes that fewer than redis.wait_replicas replicas acknowledged in time, by operation");
            describe_counter!("tessera_log_lines_dropped_total", "Log lines a buffered appender dropped because its queue was full (INFO and below only)");
            describe_gauge!("tessera_feed_subscribers", "Revocation feed subscribers connected to this instance");
            describe_gauge!("tessera_redis_pool_size", "Open Redis connections (shared multiplexed ones in standalone and cluster mode)");
            describe_gauge!("tessera_redis_pool_in_use", "Redis connections lent out (sentinel mode; shared connections are never exclusive)");
            describe_gauge!("tessera_redis_pool_waiting", "Requests waiting for a Redis connection");
            describe_histogram!("tessera_redis_command_duration_seconds", "Redis call latency, connection wait included");
            describe_gauge!("tessera_store_up", "1 when the token store answered a ping at this scrape, else 0");
            describe_counter!("tessera_hashing_refused_total", "Client authentications refused because the Argon2 hashing queue (or the caller's share of it) was full");
            describe_counter!("tessera_config_reloads_total", "Configuration reloads (SIGHUP) by outcome: ok (applied) or error (the last good configuration kept)");
            describe_gauge!("tessera_build_info", "Always 1; labels name the version and git commit");
            gauge!("tessera_build_info", "version" => env!("CARGO_PKG_VERSION"), "git_sha" => GIT_SHA)
                .set(1.0);
            for outcome in VERIFY_OUTCOMES {
                counter!("tessera_verify_total", "outcome" => *outcome).absolute(0);
            }
            counter!("tessera_tokens_issued_total").absolute(0);
            counter!("tessera_tokens_refreshed_total").absolute(0);
            for grant in OAUTH_GRANTS {
                counter!("tessera_oauth_tokens_total", "grant" => *grant).absolute(0);
            }
            counter!("tessera_refresh_reuse_detected_total").absolute(0);
            counter!("tessera_refresh_retries_total").absolute(0);
            counter!("tessera_hashing_refused_total").absolute(0);
            for outcome in RELOAD_OUTCOMES {
                counter!("tessera_config_reloads_total", "outcome" => *outcome).absolute(0);
            }
        });
        m.with(|| m.process.describe());
        let verify = m.with(|| {
            VERIFY_OUTCOMES
                .iter()
                .map(|o| (*o, counter!("tessera_verify_total", "outcome" => *o)))
                .collect()
        });
        m.verify = Arc::new(verify);
        m
    }

    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(self.recorder.as_ref(), f)
    }

    /// One served request; `route` is the matched pattern, never the raw
    /// path, and `method` is bounded by [`method_label`].
    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let method = method_label(method);
        let key = (method, route.to_owned(), status);
        let mut series = self
            .http
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (count, latency) = series.entry(key).or_insert_with(|| {
            let labels = [
                ("method", method.to_owned()),
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ];
            self.with(|| {
                (
                    counter!("tessera_http_requests_total", &labels),
                    histogram!("tessera_http_request_duration_seconds", &labels),
                )
            })
        });
        count.increment(1);
        latency.record(took.as_secs_f64());
    }

    pub fn verify_outcome(&self, outcome: &'static str) {
        match self.verify.get(outcome) {
            Some(c) => c.increment(1),
            None => {
                self.with(|| counter!("tessera_verify_total", "outcome" => outcome).increment(1));
            }
        }
    }

    pub fn token_issued(&self) {
        self.with(|| counter!("tessera_tokens_issued_total").increment(1));
    }

    /// A token from `/oauth2/token`'s `client_credentials` or
    /// `token_exchange` grant (one of [`OAUTH_GRANTS`]).
    pub fn oauth_token_issued(&self, grant: &'static str) {
        self.with(|| counter!("tessera_oauth_tokens_total", "grant" => grant).increment(1));
    }

    pub fn token_refreshed(&self) {
        self.with(|| counter!("tessera_tokens_refreshed_total").increment(1));
    }

    pub fn tokens_revoked(&self, kind: &'static str, n: u64) {
        self.with(|| counter!("tessera_tokens_revoked_total", "kind" => kind).increment(n));
    }

    pub fn refresh_reuse_detected(&self) {
        self.with(|| counter!("tessera_refresh_reuse_detected_total").increment(1));
    }

    pub fn refresh_retried(&self) {
        self.with(|| counter!("tessera_refresh_retries_total").increment(1));
    }

    /// A committed write that too few replicas acknowledged; `operation`
    /// is a fixed name from the service, never request data.
    pub fn replication_shortfall(&self, operation: &'static str) {
        self.with(|| {
            counter!("tessera_redis_replication_shortfall_total", "operation" => operation)
                .increment(1);
        });
    }

    /// A client authentication refused for a full hashing queue.
    pub fn hashing_refused(&self) {
        self.with(|| counter!("tessera_hashing_refused_total").increment(1));
    }

    /// Whether the store answered its ping, just before a scrape.
    pub fn store_up(&self, up: bool) {
        self.with(|| gauge!("tessera_store_up").set(if up { 1.0 } else { 0.0 }));
    }

    /// A configuration reload, `ok` or `error` ([`RELOAD_OUTCOMES`]).
    pub fn config_reload(&self, outcome: &'static str) {
        self.with(|| counter!("tessera_config_reloads_total", "outcome" => outcome).increment(1));
    }

    /// A feed subscriber came (+1) or went (-1).
    pub fn feed_subscribers(&self, change: i8) {
        self.with(|| gauge!("tessera_feed_subscribers").increment(f64::from(change)));
    }

    /// The histogram the Redis store records each call's latency into.
    pub fn redis_latency(&self) -> metrics::Histogram {
        self.with(|| histogram!("tessera_redis_command_duration_seconds"))
    }

    /// Pool figures, set just before each scrape (small counts: exact in f64).
    #[allow(clippy::cast_precision_loss)]
    pub fn redis_pool(&self, size: usize, in_use: usize, waiting: usize) {
        self.with(|| {
            gauge!("tessera_redis_pool_size").set(size as f64);
            gauge!("tessera_redis_pool_in_use").set(in_use as f64);
            gauge!("tessera_redis_pool_waiting").set(waiting as f64);
        });
    }

    /// Folds the histogram samples recorded since the last upkeep into
    /// their buckets. The recorder keeps every sample until then: without a
    /// periodic upkeep, an instance nobody scrapes grows by every request's
    /// samples (about 38 bytes a request, BENCHMARKS.md "RSS over ten
    /// minutes"); the app runs it every second.
    pub fn upkeep(&self) {
        self.recorder.handle().run_upkeep();
    }

    /// The Prometheus text exposition of everything recorded so far.
    pub fn render(&self) -> String {
        self.with(|| self.process.collect());
        self.with(|| {
            counter!("tessera_log_lines_dropped_total")
                .absolute(super::buffered_log::dropped_lines());
        });
        let handle = self.recorder.handle();
        handle.run_upkeep();
        handle.render()
    }
}
