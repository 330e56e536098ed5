//! Operational layers and endpoints: request ids, a tracing span per request, `/healthz`,
//! `/readyz` and Prometheus `/metrics` (request latencies by route, deploys by outcome, job
//! queue depth).
//!
//! The metrics are a small hand-written registry rendered in the Prometheus text format
//! (version 0.0.4): a fixed set of series, lock-free counters on the request path, and no
//! dependency to keep under licence review. Two numbers are read at scrape time rather than
//! recorded: the job counts come from the store (`Store::job_counts`, the one place the HTTP
//! layer reads the store, for metrics only) and the resident memory from `/proc/self/status`.
//! Deploy outcomes are counted by whoever observes them (the server counts the control
//! layer's deploy events, see [`Metrics::record_deploy`]), so they are per process: sum them
//! over replicas.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use c15t_control::Control;
use tracing::Instrument;

/// The request id header: taken from the request when it carries a usable one, generated
/// otherwise, echoed on the response and recorded in the request's span.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming request id kept; longer ones are replaced by a generated id.
const MAX_REQUEST_ID: usize = 128;

/// Upper bounds (seconds) of the request latency histogram buckets.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The outcomes a deploy is counted under.
pub const DEPLOY_OUTCOMES: [&str; 4] = ["succeeded", "unchanged", "failed", "rolled_back"];

/// A request's id, also available to handlers as a request extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

/// The process's metrics registry; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    /// Request series by route pattern (`/api/v1/customers/{id}`), then method and status.
    routes: RwLock<HashMap<String, Arc<RouteSeries>>>,
    deploys: [AtomicU64; DEPLOY_OUTCOMES.len()],
    ids: IdSource,
}

#[derive(Debug, Default)]
struct RouteSeries {
    series: RwLock<Vec<(Method, u16, Arc<Histogram>)>>,
}

/// A latency histogram: non-cumulative bucket counts (summed when rendered), the total count
/// and the sum in nanoseconds.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, seconds: f64, nanos: u64) {
        if let Some(i) = BUCKETS.iter().position(|le| seconds <= *le) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// Request ids: a per-process random-looking prefix and a counter, so ids are unique across
/// replicas without a random number per request.
#[derive(Debug)]
struct IdSource {
    prefix: u64,
    next: AtomicU64,
}

impl Default for IdSource {
    fn default() -> Self {
        use std::hash::{BuildHasher, Hasher};
        // `RandomState` is seeded from the operating system's randomness once per process;
        // the pid keeps prefixes apart even where that seed were weak.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        Self {
            prefix: hasher.finish(),
            next: AtomicU64::new(1),
        }
    }
}

impl IdSource {
    fn next(&self) -> HeaderValue {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::try_from(format!("{:016x}-{n:x}", self.prefix))
            .unwrap_or(HeaderValue::from_static("unknown"))
    }
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one finished deploy; `outcome` is one of [`DEPLOY_OUTCOMES`] (others are
    /// ignored).
    pub fn record_deploy(&self, outcome: &str) {
        if let Some(i) = DEPLOY_OUTCOMES.iter().position(|o| *o == outcome) {
            self.inner.deploys[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The number of deploys counted under `outcome`.
    pub fn deploys(&self, outcome: &str) -> u64 {
        DEPLOY_OUTCOMES
            .iter()
            .position(|o| *o == outcome)
            .map_or(0, |i| self.inner.deploys[i].load(Ordering::Relaxed))
    }

    fn histogram(&self, route: &str, method: &Method, status: u16) -> Arc<Histogram> {
        let series = {
            let routes = self
                .inner
                .routes
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            routes.get(route).cloned()
        };
        let series = series.unwrap_or_else(|| {
            let mut routes = self
                .inner
                .routes
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(routes.entry(route.to_owned()).or_default())
        });
        {
            let list = series
                .series
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((_, _, h)) = list.iter().find(|(m, s, _)| m == method && *s == status) {
                return Arc::clone(h);
            }
        }
        let mut list = series
            .series
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, _, h)) = list.iter().find(|(m, s, _)| m == method && *s == status) {
            return Arc::clone(h);
        }
        let h = Arc::new(Histogram::default());
        list.push((method.clone(), status, Arc::clone(&h)));
        h
    }

    /// Renders every series in the Prometheus text format; `jobs` is the job queue read from
    /// the store (`None` when the store could not be read).
    fn render(&self, jobs: Option<[(&str, u64); 4]>) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP c15t_http_request_duration_seconds Time from receiving a request to \
             its response headers, by route pattern, method and status.\n\
             # TYPE c15t_http_request_duration_seconds histogram\n",
        );
        let routes = self
            .inner
            .routes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut names: Vec<&String> = routes.keys().collect();
        names.sort();
        for route in names {
            let list = routes[route]
                .series
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut list: Vec<_> = list.iter().collect();
            list.sort_by(|a, b| (a.0.as_str(), a.1).cmp(&(b.0.as_str(), b.1)));
            for (method, status, h) in list {
                let labels = format!(
                    "route=\"{}\",method=\"{}\",status=\"{status}\"",
                    escape_label(route),
                    escape_label(method.as_str())
                );
                let mut cumulative = 0;
                for (le, bucket) in BUCKETS.iter().zip(&h.buckets) {
                    cumulative += bucket.load(Ordering::Relaxed);
                    let _ = writeln!(
                        out,
                        "c15t_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                    );
                }
                let count = h.count.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "c15t_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
                );
                #[allow(clippy::cast_precision_loss)]
                let sum = h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
                let _ = writeln!(
                    out,
                    "c15t_http_request_duration_seconds_sum{{{labels}}} {sum}"
                );
                let _ = writeln!(
                    out,
                    "c15t_http_request_duration_seconds_count{{{labels}}} {count}"
                );
            }
        }
        drop(routes);

        out.push_str(
            "# HELP c15t_deploys_total Deploys this process finished, by outcome.\n\
             # TYPE c15t_deploys_total counter\n",
        );
        for (outcome, n) in DEPLOY_OUTCOMES.iter().zip(&self.inner.deploys) {
            let _ = writeln!(
                out,
                "c15t_deploys_total{{outcome=\"{outcome}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }

        out.push_str(
            "# HELP c15t_store_up Whether the last scrape could read the database.\n\
             # TYPE c15t_store_up gauge\n",
        );
        let _ = writeln!(out, "c15t_store_up {}", u8::from(jobs.is_some()));
        if let Some(jobs) = jobs {
            out.push_str(
                "# HELP c15t_jobs Jobs in the durable queue (every replica's), by status; \
                 pending is the queue depth.\n\
                 # TYPE c15t_jobs gauge\n",
            );
            for (status, n) in jobs {
                let _ = writeln!(out, "c15t_jobs{{status=\"{status}\"}} {n}");
            }
        }

        if let Some(rss) = resident_bytes() {
            out.push_str(
                "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
                 # TYPE process_resident_memory_bytes gauge\n",
            );
            let _ = writeln!(out, "process_resident_memory_bytes {rss}");
        }
        out
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// This process's resident memory, from `/proc/self/status` (Linux only).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// What the operational endpoints need.
#[derive(Debug, Clone)]
pub struct Ops {
    /// The application, for readiness and the job queue.
    pub control: Control,
    /// The metrics registry the layer records into and `/metrics` renders.
    pub metrics: Metrics,
}

/// Adds `/healthz`, `/readyz` and `/metrics` to `router`, then wraps every route in the request
/// layer: a request id, a tracing span, and a latency observation by route pattern.
///
/// The operational endpoints need no token: they show no customer data. Put `/metrics` behind
/// the network's access control where that matters.
pub fn layer(router: Router, ops: Ops) -> Router {
    let metrics = ops.metrics.clone();
    router
        .merge(
            Router::new()
                .route("/healthz", get(healthz))
                .route("/readyz", get(readyz))
                .route("/metrics", get(metrics_endpoint))
                .with_state(ops),
        )
        .layer(axum::middleware::from_fn_with_state(metrics, track))
}

/// The request layer: id, span, latency.
async fn track(State(metrics): State<Metrics>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .filter(|v| usable_id(v))
        .cloned()
        .unwrap_or_else(|| metrics.inner.ids.next());
    let method = request.method().clone();
    // Unmatched paths share one series: a scanner must not grow the registry.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!(
        "request",
        id = id.to_str().unwrap_or_default(),
        method = %method,
        route = %route,
    );
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics.histogram(&route, &method, status).observe(
        elapsed.as_secs_f64(),
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
    );
    span.in_scope(|| {
        tracing::debug!(
            status,
            micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "request finished"
        );
    });
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// An incoming id is kept if it is short visible ASCII (it is logged and echoed).
fn usable_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_REQUEST_ID && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// `GET /healthz`: the process is alive and serving.
async fn healthz() -> Response {
    plain(StatusCode::OK, "ok\n")
}

/// `GET /readyz`: the database answers (one primary-key lookup) and takes writes (one
/// committed write of a probe row; on SQLite, enough free disk), and the most recently written
/// vault opens with the key file loaded at start (one more read and one X25519 operation).
/// A 503 names what is wrong (full, read-only, unreachable, keys), never a path or customer.
async fn readyz(State(ops): State<Ops>) -> Response {
    match ops.control.ready().await {
        Ok(()) => plain(StatusCode::OK, "ready\n"),
        // The answer names no customer and no path: the endpoint needs no token.
        Err(not_ready) => {
            let reason = not_ready.reason();
            tracing::warn!(error = %error_chain(not_ready.error()), "not ready: {reason}");
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {reason}\n"),
            )
        }
    }
}

/// `GET /metrics`: the Prometheus text format.
async fn metrics_endpoint(State(ops): State<Ops>) -> Response {
    let jobs = match ops.control.job_counts().await {
        Ok(c) => Some([
            ("pending", c.pending),
            ("running", c.running),
            ("done", c.done),
            ("failed", c.failed),
        ]),
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "metrics: could not count jobs");
            None
        }
    };
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        ops.metrics.render(jobs),
    )
        .into_response()
}

fn plain(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body.into(),
    )
        .into_response()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(out, ": {s}");
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_when_rendered() {
        let metrics = Metrics::new();
        let h = metrics.histogram("/x/{id}", &Method::GET, 200);
        h.observe(0.0002, 200_000);
        h.observe(0.003, 3_000_000);
        h.observe(20.0, 20_000_000_000);
        metrics.record_deploy("failed");
        metrics.record_deploy("nonsense");
        let text = metrics.render(None);
        let labels = "route=\"/x/{id}\",method=\"GET\",status=\"200\"";
        assert!(text.contains(&format!(
            "c15t_http_request_duration_seconds_bucket{{{labels},le=\"0.0005\"}} 1\n"
        )));
        assert!(text.contains(&format!(
            "c15t_http_request_duration_seconds_bucket{{{labels},le=\"0.005\"}} 2\n"
        )));
        assert!(text.contains(&format!(
            "c15t_http_request_duration_seconds_bucket{{{labels},le=\"10\"}} 2\n"
        )));
        assert!(text.contains(&format!(
            "c15t_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 3\n"
        )));
        assert!(text.contains(&format!(
            "c15t_http_request_duration_seconds_count{{{labels}}} 3\n"
        )));
        assert!(text.contains("c15t_deploys_total{outcome=\"failed\"} 1\n"));
        assert!(text.contains("c15t_deploys_total{outcome=\"succeeded\"} 0\n"));
        assert!(text.contains("c15t_store_up 0\n"));
        assert!(!text.contains("c15t_jobs{"));
    }

    #[test]
    fn request_ids_are_kept_only_when_usable() {
        assert!(usable_id(&HeaderValue::from_static("abc-123")));
        assert!(!usable_id(&HeaderValue::from_static("")));
        assert!(!usable_id(&HeaderValue::from_static("has space")));
        let long = "x".repeat(MAX_REQUEST_ID + 1);
        assert!(!usable_id(
            &HeaderValue::try_from(long).unwrap_or(HeaderValue::from_static(""))
        ));
        let ids = IdSource::default();
        assert_ne!(ids.next(), ids.next());
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
