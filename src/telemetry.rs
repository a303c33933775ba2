//! Prometheus metrics and logging set-up. Metrics live in one process-wide registry, rendered
//! at `GET /metrics` in the text exposition format.

use std::io::IsTerminal;
use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::db::DbPool;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    database_errors: IntCounter,
    batch_items: IntCounter,
    pool_size: IntGauge,
    pool_in_use: IntGauge,
    pool_waiting: IntGauge,
    store: IntCounterVec,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "kopa_http_requests_total",
                "HTTP requests by route and status",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "kopa_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route"],
        )
        .expect("valid metric");
        let database_errors = IntCounter::new(
            "kopa_database_errors_total",
            "Database failures (unreachable, connection lost, unexpected errors)",
        )
        .expect("valid metric");
        let batch_items = IntCounter::new(
            "kopa_batch_items_pushed_total",
            "Metric values written through POST /v1/metrics/batch (dry runs excluded)",
        )
        .expect("valid metric");
        let pool_size = IntGauge::new("kopa_db_pool_connections", "Open pooled connections")
            .expect("valid metric");
        let pool_in_use = IntGauge::new(
            "kopa_db_pool_in_use",
            "Pooled connections serving a request",
        )
        .expect("valid metric");
        let pool_waiting = IntGauge::new(
            "kopa_db_pool_waiting",
            "Requests waiting for a pooled connection",
        )
        .expect("valid metric");
        let store = IntCounterVec::new(
            Opts::new(
                "kopa_response_store_total",
                "Anonymous reads answered from the response store (hit), read and kept (miss), \
                 read and not kept (pass), and kept responses dropped for space (eviction) or \
                 because the registry changed (invalidation)",
            ),
            &["event"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(store.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(requests.clone()),
            Box::new(latency.clone()),
            Box::new(database_errors.clone()),
            Box::new(batch_items.clone()),
            Box::new(pool_size.clone()),
            Box::new(pool_in_use.clone()),
            Box::new(pool_waiting.clone()),
        ] {
            registry.register(collector).expect("unique metric names");
        }
        Metrics {
            registry,
            requests,
            latency,
            database_errors,
            batch_items,
            pool_size,
            pool_in_use,
            pool_waiting,
            store,
        }
    }

    /// A response store event: `hit`, `miss`, `pass`, `eviction`, `invalidation`.
    pub fn store(&self, event: &str) {
        self.store.with_label_values(&[event]).inc();
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }

    pub fn database_error(&self) {
        self.database_errors.inc();
    }

    pub fn batch_items(&self, count: usize) {
        self.batch_items.inc_by(count as u64);
    }

    /// The text exposition, with the pool gauges read now.
    pub fn render(&self, pool: &DbPool) -> String {
        let status = pool.status();
        self.pool_size.set(status.size as i64);
        self.pool_in_use
            .set(status.size.saturating_sub(status.available) as i64);
        self.pool_waiting.set(status.waiting as i64);
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("metrics encode");
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Logs to stderr: human-readable on a terminal, one JSON object per line otherwise.
pub fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::io::stderr().is_terminal() {
        builder.with_target(false).try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init()
    };
}
