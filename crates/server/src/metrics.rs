//! What a running server says about itself: Prometheus metrics at `/metrics`, and the
//! probes `/healthz` (the process answers) and `/readyz` (the store answers and its schema
//! is current; not while shutting down).
//!
//! Requests are counted by route template (`/v1/executions/{id}/logs`), never by the path
//! itself, so ids never become series; no label names an account. The store's figures
//! (writer queue, group commits, what was written, size, exports) are taken at each scrape.

use std::sync::Mutex;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pipelog_core::export::ExportStatus;
use pipelog_store::{CountHistogram, StoreStats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;
use crate::openapi::ErrorResponse;
use crate::response::Json;

/// The route label of a request no route matched.
const UNMATCHED: &str = "unmatched";

/// The server's metrics and the registry that shows them.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    /// The store's figures as of the scrape being answered.
    store: std::sync::Arc<StoreCollector>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

fn duration_histogram() -> Histogram {
    // 0.5 ms to about 8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("pipelog");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let durations =
            Family::<RouteLabels, Histogram>::new_with_constructor(duration_histogram as fn() -> _);
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer's head, by method and route template",
            durations.clone(),
        );
        let store = std::sync::Arc::new(StoreCollector::default());
        registry.register_collector(Box::new(std::sync::Arc::clone(&store)));
        Metrics {
            registry,
            requests,
            durations,
            store,
        }
    }
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// The text exposition, with the store's figures `stats`.
    fn render(&self, stats: StoreStats) -> Result<String, std::fmt::Error> {
        *self.store.stats.lock().unwrap_or_else(|p| p.into_inner()) = stats;
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Counts every request and times it, under the route that matched it.
pub(crate) async fn observe(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    state.metrics.observe(
        method,
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// A request's method as a label: the standard ones by name, any other as `OTHER`, so that
/// clients cannot make new series by inventing methods.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The probes and `/metrics`, which need no key.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The OpenMetrics text format, which Prometheus reads.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Prometheus metrics, in the OpenMetrics text format. See docs/monitoring.md.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "Monitoring",
    responses((
        status = 200,
        description = "The metrics.",
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8",
        body = String
    ))
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let stats = state.store.stats().await?;
    let text = state
        .metrics
        .render(stats)
        .map_err(|error| ApiError::Internal(format!("cannot encode the metrics: {error}")))?;
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS));
    Ok(response)
}

/// Answers while the process serves HTTP: a liveness probe.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "Monitoring",
    responses((status = 200, description = "Up.", body = Object, example = json!({"status": "ok"})))
)]
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Answers once the store can serve and until shutdown begins: a readiness probe.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "Monitoring",
    responses(
        (status = 200, description = "Ready.", body = Object, example = json!({"status": "ready"})),
        (status = 503, description = "Not ready: the store does not answer or is not current, or the server is stopping.", body = ErrorResponse),
    )
)]
pub(crate) async fn readyz(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if *state.stopping.borrow() {
        return Err(ApiError::Unavailable {
            message: "the server is shutting down".into(),
            retry_after_secs: 1,
        });
    }
    state.store.ready().await.map_err(|error| {
        tracing::warn!(%error, "not ready");
        ApiError::Unavailable {
            message: "the store is not ready".into(),
            retry_after_secs: 1,
        }
    })?;
    Ok(Json(json!({ "status": "ready" })))
}

/// The store's figures, set before each encoding.
#[derive(Debug, Default)]
struct StoreCollector {
    stats: Mutex<StoreStats>,
}

impl Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut gauge = |name: &str, help: &str, value: u64| {
            let value = i64::try_from(value).unwrap_or(i64::MAX);
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
        };
        gauge(
            "write_queue_depth",
            "Writes waiting for the writer thread.",
            stats.write_queue_depth as u64,
        )?;
        gauge(
            "write_queue_capacity",
            "Writes that may wait before new ones are refused with 503.",
            stats.write_queue_capacity as u64,
        )?;
        gauge(
            "store_size_bytes",
            "Bytes the store takes on disk (database file and write-ahead log).",
            stats.size_bytes,
        )?;
        let commits = CountHistogramMetric(&stats.commit_writes);
        commits.encode(encoder.encode_descriptor(
            "commit_writes",
            "Writes per group commit.",
            None,
            commits.metric_type(),
        )?)?;
        let mut counter = |name: &str, help: &str, value: u64| {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)
        };
        counter(
            "committed_rows",
            "Rows (log lines, audit entries, operating items) committed.",
            stats.committed_rows,
        )?;
        counter(
            "failed_commits",
            "Group commits that failed; none of their writes was acknowledged.",
            stats.failed_commits,
        )?;

        let written = ConstCounter::new(0u64);
        let mut family = encoder.encode_descriptor(
            "entries_written",
            "Entries clients wrote since the server started, by stream.",
            None,
            written.metric_type(),
        )?;
        for (stream, value) in [
            ("execution_log", stats.written.log_lines),
            ("audit", stats.written.audit_entries),
            ("operating", stats.written.operating_items),
        ] {
            ConstCounter::new(value).encode(family.encode_family(&[("stream", stream)])?)?;
        }

        let jobs = ConstGauge::new(0i64);
        let mut family = encoder.encode_descriptor(
            "export_jobs",
            "Export jobs kept, by status.",
            None,
            jobs.metric_type(),
        )?;
        // Every status, with its zero: a series that comes and goes breaks alerts and rates.
        for status in ExportStatus::ALL {
            let count = stats
                .exports
                .iter()
                .find(|(counted, _)| counted == status)
                .map_or(0, |(_, count)| i64::try_from(*count).unwrap_or(i64::MAX));
            ConstGauge::new(count).encode(family.encode_family(&[("status", status.as_str())])?)?;
        }
        Ok(())
    }
}

/// A [`CountHistogram`] the store counted, shown as a Prometheus histogram.
struct CountHistogramMetric<'a>(&'a CountHistogram);

impl EncodeMetric for CountHistogramMetric<'_> {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        // The encoder sums the buckets itself: hand it each bucket's own count.
        let mut buckets = Vec::with_capacity(self.0.buckets.len() + 1);
        let mut below = 0;
        for &(bound, cumulative) in &self.0.buckets {
            buckets.push((bound as f64, cumulative - below));
            below = cumulative;
        }
        buckets.push((f64::MAX, self.0.count - below));
        encoder.encode_histogram::<NoLabelSet>(self.0.sum as f64, self.0.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}
