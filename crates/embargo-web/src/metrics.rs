//! Prometheus metrics: counters kept in memory by this process, and
//! gauges read from the store at scrape time.  Served by
//! [`metrics_router`] (`GET /metrics`, text exposition format 0.0.4) on
//! a separate listener; HTTP requests of the web listener are counted by
//! the [`track`] middleware.
//!
//! Counters are per process (each replica has its own; sum them in
//! PromQL); the store gauges are the shared database's and are the same
//! from every replica (use `max`).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use embargo_store::{JobState, OutboxState, Store};
use jiff::Timestamp;

/// The exposition format's content type.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the HTTP latency histogram buckets; `+Inf`
/// is implied.
pub const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// At most this many queued outbox entries are read to find the oldest
/// (see [`StoreGauges`]).
const OLDEST_SCAN_LIMIT: u32 = 10_000;

/// How a message reached the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The LMTP listener.
    Lmtp,
    /// `embargo ingest` from an MTA pipe transport.
    Pipe,
}

impl Channel {
    /// Every channel, in exposition order.
    pub const ALL: [Channel; 2] = [Channel::Lmtp, Channel::Pipe];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Lmtp => "lmtp",
            Channel::Pipe => "pipe",
        }
    }

    fn index(self) -> usize {
        match self {
            Channel::Lmtp => 0,
            Channel::Pipe => 1,
        }
    }
}

/// What the gateway answered the MTA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Filed (2xx / exit 0).
    Accepted,
    /// Temporary failure (4xx / EX_TEMPFAIL): the MTA retries.
    Tempfail,
    /// Permanent refusal (5xx).
    Refused,
}

impl Outcome {
    /// Every outcome, in exposition order.
    pub const ALL: [Outcome; 3] = [Outcome::Accepted, Outcome::Tempfail, Outcome::Refused];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Tempfail => "tempfail",
            Outcome::Refused => "refused",
        }
    }

    fn index(self) -> usize {
        match self {
            Outcome::Accepted => 0,
            Outcome::Tempfail => 1,
            Outcome::Refused => 2,
        }
    }
}

const N_OUTCOMES: usize = Outcome::ALL.len();
const N_MESSAGE_SERIES: usize = Channel::ALL.len() * N_OUTCOMES;
/// Status classes 1xx..5xx, then "other" (out-of-range codes).
const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

/// The process's counters.  Cheap to update from any task (relaxed
/// atomics); share it as `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
    messages: [AtomicU64; N_MESSAGE_SERIES],
    decrypt_failures: AtomicU64,
    http_requests: [AtomicU64; STATUS_CLASSES.len()],
    /// Non-cumulative per bucket; the last is `+Inf`.  Made cumulative
    /// when rendered.
    http_latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    http_latency_sum_micros: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All counters at zero.
    pub fn new() -> Self {
        Metrics {
            messages: [const { AtomicU64::new(0) }; N_MESSAGE_SERIES],
            decrypt_failures: AtomicU64::new(0),
            http_requests: [const { AtomicU64::new(0) }; STATUS_CLASSES.len()],
            http_latency: [const { AtomicU64::new(0) }; LATENCY_BUCKETS.len() + 1],
            http_latency_sum_micros: AtomicU64::new(0),
        }
    }

    /// Counts one message delivered through `channel` and answered with
    /// `outcome`.
    pub fn record_message(&self, channel: Channel, outcome: Outcome) {
        let i = channel.index() * N_OUTCOMES + outcome.index();
        if let Some(c) = self.messages.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one message that could not be decrypted.
    pub fn record_decrypt_failure(&self) {
        self.decrypt_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one HTTP response and its latency.
    pub fn record_http(&self, status: StatusCode, elapsed: Duration) {
        let class = match status.as_u16() / 100 {
            c @ 1..=5 => usize::from(c - 1),
            _ => STATUS_CLASSES.len() - 1,
        };
        if let Some(c) = self.http_requests.get(class) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(LATENCY_BUCKETS.len());
        if let Some(c) = self.http_latency.get(bucket) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.http_latency_sum_micros
            .fetch_add(micros, Ordering::Relaxed);
    }

    /// Messages counted for `channel` and `outcome`.
    pub fn messages(&self, channel: Channel, outcome: Outcome) -> u64 {
        self.messages
            .get(channel.index() * N_OUTCOMES + outcome.index())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The counters in text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) {
        header(
            out,
            "embargo_messages_total",
            "counter",
            "Messages delivered to the gateway, by channel and outcome.",
        );
        for channel in Channel::ALL {
            for outcome in Outcome::ALL {
                let _ = writeln!(
                    out,
                    "embargo_messages_total{{channel=\"{}\",outcome=\"{}\"}} {}",
                    channel.as_str(),
                    outcome.as_str(),
                    self.messages(channel, outcome)
                );
            }
        }

        header(
            out,
            "embargo_decrypt_failures_total",
            "counter",
            "Messages that could not be decrypted.",
        );
        let _ = writeln!(
            out,
            "embargo_decrypt_failures_total {}",
            self.decrypt_failures.load(Ordering::Relaxed)
        );

        header(
            out,
            "embargo_http_requests_total",
            "counter",
            "HTTP responses of the web listener, by status class.",
        );
        for (class, counter) in STATUS_CLASSES.iter().zip(&self.http_requests) {
            let _ = writeln!(
                out,
                "embargo_http_requests_total{{class=\"{class}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }

        header(
            out,
            "embargo_http_request_duration_seconds",
            "histogram",
            "Latency of the web listener's responses (until the headers), in seconds.",
        );
        let mut cumulative: u64 = 0;
        let les = LATENCY_BUCKETS
            .iter()
            .map(|le| format_float(*le))
            .chain(std::iter::once("+Inf".to_owned()));
        for (le, counter) in les.zip(&self.http_latency) {
            cumulative = cumulative.saturating_add(counter.load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "embargo_http_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        // Sum in whole microseconds, shown in seconds.
        let micros = self.http_latency_sum_micros.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "embargo_http_request_duration_seconds_sum {}.{:06}",
            micros / 1_000_000,
            micros % 1_000_000
        );
        let _ = writeln!(
            out,
            "embargo_http_request_duration_seconds_count {cumulative}"
        );
    }
}

/// `0.005` → `"0.005"`, `1.0` → `"1.0"`.
fn format_float(v: f64) -> String {
    let s = v.to_string();
    if s.contains('.') { s } else { format!("{s}.0") }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Middleware counting every response of the router it wraps:
/// `router.layer(axum::middleware::from_fn_with_state(metrics, track))`.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let res = next.run(req).await;
    metrics.record_http(res.status(), start.elapsed());
    res
}

/// What the store says at scrape time.
#[derive(Debug, Default)]
struct StoreGauges {
    /// ready, waiting, sending, sent, dead.
    outbox: [(&'static str, u64); 5],
    /// Age of the oldest queued entry among the newest
    /// [`OLDEST_SCAN_LIMIT`] (exact unless more are queued).
    oldest_queued_secs: f64,
    jobs: Vec<(&'static str, u64)>,
}

async fn read_store(store: &Store, now: Timestamp) -> embargo_store::Result<StoreGauges> {
    let counts = store.outbox_counts(now).await?;
    let queued = store
        .list_outbox(Some(OutboxState::Queued), OLDEST_SCAN_LIMIT)
        .await?;
    let oldest_queued_secs = queued
        .iter()
        .map(|e| e.created_at)
        .min()
        .map_or(0.0, |oldest| {
            now.duration_since(oldest).as_secs_f64().max(0.0)
        });
    let jobs = store.list_publication_jobs(None).await?;
    let jobs = JobState::ALL
        .iter()
        .map(|&state| {
            let n = jobs.iter().filter(|j| j.state == state).count();
            (state.as_str(), u64::try_from(n).unwrap_or(u64::MAX))
        })
        .collect();
    Ok(StoreGauges {
        outbox: [
            ("ready", counts.ready),
            ("waiting", counts.waiting),
            ("sending", counts.sending),
            ("sent", counts.sent),
            ("dead", counts.dead),
        ],
        oldest_queued_secs,
        jobs,
    })
}

fn render_store(out: &mut String, gauges: Option<&StoreGauges>) {
    header(
        out,
        "embargo_store_up",
        "gauge",
        "Whether the store answered this scrape (1) or not (0).",
    );
    let _ = writeln!(out, "embargo_store_up {}", u8::from(gauges.is_some()));
    let Some(g) = gauges else { return };

    header(
        out,
        "embargo_outbox_entries",
        "gauge",
        "Outbox entries by state (ready and waiting are queued: due now, or for a later retry).",
    );
    for (state, n) in g.outbox {
        let _ = writeln!(out, "embargo_outbox_entries{{state=\"{state}\"}} {n}");
    }

    header(
        out,
        "embargo_outbox_oldest_queued_age_seconds",
        "gauge",
        "Age of the oldest queued outbox entry in seconds (0 when none is queued).",
    );
    let _ = writeln!(
        out,
        "embargo_outbox_oldest_queued_age_seconds {:.3}",
        g.oldest_queued_secs
    );

    header(
        out,
        "embargo_publication_jobs",
        "gauge",
        "Publication jobs by state.",
    );
    for (state, n) in &g.jobs {
        let _ = writeln!(out, "embargo_publication_jobs{{state=\"{state}\"}} {n}");
    }
}

#[derive(Clone)]
struct MetricsState {
    metrics: Arc<Metrics>,
    store: Arc<Store>,
}

/// `GET /metrics` for the metrics listener.
pub fn metrics_router(metrics: Arc<Metrics>, store: Arc<Store>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(MetricsState { metrics, store })
}

async fn scrape(State(state): State<MetricsState>) -> Response {
    let mut out = String::new();
    header(
        &mut out,
        "embargo_up",
        "gauge",
        "The gateway process is running.",
    );
    out.push_str("embargo_up 1\n");
    state.metrics.render_into(&mut out);
    let gauges = match read_store(&state.store, Timestamp::now()).await {
        Ok(g) => Some(g),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: store unavailable");
            None
        }
    };
    render_store(&mut out, gauges.as_ref());
    let mut res = (StatusCode::OK, out).into_response();
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_TEXT));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The router [`metrics_router`] returns.
pub type MetricsApp = Router;

/// Serves the metrics router on its own listener until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: MetricsApp,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use embargo_store::NewOutbox;
    use tower::ServiceExt;

    async fn store(dir: &tempfile::TempDir) -> Arc<Store> {
        let url = format!("sqlite://{}/t.db", dir.path().display());
        Arc::new(
            Store::connect(&url, embargo_seal::StorageKeys::ephemeral())
                .await
                .unwrap(),
        )
    }

    async fn scrape_text(metrics: &Arc<Metrics>, store: &Arc<Store>) -> String {
        let res = metrics_router(metrics.clone(), store.clone())
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[CONTENT_TYPE], CONTENT_TYPE_TEXT);
        let body = to_bytes(res.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    /// The value of the sample `series` (name and labels, exactly).
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .map(|v| v.parse().unwrap())
    }

    /// Every line is a comment or `name{labels} value`; every sample's
    /// family has exactly one HELP and one TYPE, before its samples.
    fn assert_well_formed(text: &str) {
        assert!(text.ends_with('\n'));
        let mut typed: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                assert!(!typed.iter().any(|(n, _)| n == name), "duplicate {line}");
                typed.push((name.to_owned(), kind.to_owned()));
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
            let (series, value) = line.rsplit_once(' ').unwrap();
            value.parse::<f64>().unwrap_or_else(|_| panic!("{line}"));
            let name = series.split('{').next().unwrap();
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
            let family = typed
                .iter()
                .find(|(n, kind)| {
                    name == n
                        || (kind == "histogram"
                            && ["_bucket", "_sum", "_count"]
                                .iter()
                                .any(|s| name.strip_suffix(s) == Some(n.as_str())))
                })
                .unwrap_or_else(|| panic!("no TYPE before {line}"));
            assert_eq!(typed.last().unwrap().0, family.0, "interleaved: {line}");
        }
    }

    #[tokio::test]
    async fn scrape_counters_and_store_gauges() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let metrics = Arc::new(Metrics::new());

        let text = scrape_text(&metrics, &store).await;
        assert_well_formed(&text);
        assert_eq!(sample(&text, "embargo_up"), Some(1.0));
        assert_eq!(sample(&text, "embargo_store_up"), Some(1.0));
        assert_eq!(
            sample(
                &text,
                "embargo_messages_total{channel=\"lmtp\",outcome=\"accepted\"}"
            ),
            Some(0.0)
        );
        assert_eq!(
            sample(&text, "embargo_outbox_entries{state=\"ready\"}"),
            Some(0.0)
        );
        assert_eq!(
            sample(&text, "embargo_outbox_oldest_queued_age_seconds"),
            Some(0.0)
        );
        for state in ["pending", "running", "done", "failed"] {
            assert_eq!(
                sample(
                    &text,
                    &format!("embargo_publication_jobs{{state=\"{state}\"}}")
                ),
                Some(0.0),
                "{state}"
            );
        }
        assert_eq!(
            sample(
                &text,
                "embargo_http_request_duration_seconds_bucket{le=\"+Inf\"}"
            ),
            Some(0.0)
        );

        metrics.record_message(Channel::Lmtp, Outcome::Accepted);
        metrics.record_message(Channel::Lmtp, Outcome::Accepted);
        metrics.record_message(Channel::Pipe, Outcome::Tempfail);
        metrics.record_message(Channel::Lmtp, Outcome::Refused);
        metrics.record_decrypt_failure();
        let past = Timestamp::now() - jiff::SignedDuration::from_secs(120);
        store
            .enqueue_outbox(
                &NewOutbox {
                    report_id: None,
                    recipients: vec!["reporter@example.org".into()],
                    body: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
                },
                past,
            )
            .await
            .unwrap();
        store
            .enqueue_outbox(
                &NewOutbox {
                    report_id: None,
                    recipients: vec!["other@example.org".into()],
                    body: b"Subject: y\r\n\r\nbody\r\n".to_vec(),
                },
                Timestamp::now(),
            )
            .await
            .unwrap();

        let text = scrape_text(&metrics, &store).await;
        assert_well_formed(&text);
        let m = |s: &str| sample(&text, s);
        assert_eq!(
            m("embargo_messages_total{channel=\"lmtp\",outcome=\"accepted\"}"),
            Some(2.0)
        );
        assert_eq!(
            m("embargo_messages_total{channel=\"pipe\",outcome=\"tempfail\"}"),
            Some(1.0)
        );
        assert_eq!(
            m("embargo_messages_total{channel=\"lmtp\",outcome=\"refused\"}"),
            Some(1.0)
        );
        assert_eq!(
            m("embargo_messages_total{channel=\"pipe\",outcome=\"accepted\"}"),
            Some(0.0)
        );
        assert_eq!(m("embargo_decrypt_failures_total"), Some(1.0));
        assert_eq!(m("embargo_outbox_entries{state=\"ready\"}"), Some(2.0));
        assert_eq!(m("embargo_outbox_entries{state=\"dead\"}"), Some(0.0));
        let age = m("embargo_outbox_oldest_queued_age_seconds").unwrap();
        assert!((119.0..600.0).contains(&age), "{age}");
    }

    #[tokio::test]
    async fn middleware_counts_status_classes_and_latency() {
        let metrics = Arc::new(Metrics::new());
        let app = Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    "slow"
                }),
            )
            .layer(axum::middleware::from_fn_with_state(metrics.clone(), track));
        for uri in ["/ok", "/ok", "/slow", "/missing"] {
            app.clone()
                .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
        }
        let text = metrics.render();
        let m = |s: &str| sample(&text, s);
        assert_eq!(m("embargo_http_requests_total{class=\"2xx\"}"), Some(3.0));
        assert_eq!(m("embargo_http_requests_total{class=\"4xx\"}"), Some(1.0));
        assert_eq!(m("embargo_http_requests_total{class=\"5xx\"}"), Some(0.0));
        assert_eq!(m("embargo_http_request_duration_seconds_count"), Some(4.0));
        assert_eq!(
            m("embargo_http_request_duration_seconds_bucket{le=\"+Inf\"}"),
            Some(4.0)
        );
        // Cumulative: the slow one is above 25 ms.
        assert!(m("embargo_http_request_duration_seconds_bucket{le=\"0.025\"}").unwrap() <= 3.0);
        assert_eq!(
            m("embargo_http_request_duration_seconds_bucket{le=\"10.0\"}"),
            Some(4.0)
        );
        assert!(m("embargo_http_request_duration_seconds_sum").unwrap() >= 0.03);
        // Buckets never decrease.
        let buckets: Vec<f64> = text
            .lines()
            .filter(|l| l.starts_with("embargo_http_request_duration_seconds_bucket"))
            .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
            .collect();
        assert_eq!(buckets.len(), LATENCY_BUCKETS.len() + 1);
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    }

    #[test]
    fn status_classes() {
        let m = Metrics::new();
        m.record_http(StatusCode::CONTINUE, Duration::ZERO);
        m.record_http(StatusCode::SEE_OTHER, Duration::from_secs(20));
        m.record_http(StatusCode::INTERNAL_SERVER_ERROR, Duration::from_millis(1));
        let text = m.render();
        assert_eq!(
            sample(&text, "embargo_http_requests_total{class=\"1xx\"}"),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "embargo_http_requests_total{class=\"3xx\"}"),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "embargo_http_requests_total{class=\"5xx\"}"),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "embargo_http_request_duration_seconds_bucket{le=\"0.005\"}"
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                "embargo_http_request_duration_seconds_bucket{le=\"10.0\"}"
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                "embargo_http_request_duration_seconds_bucket{le=\"+Inf\"}"
            ),
            Some(3.0)
        );
        assert_eq!(
            sample(&text, "embargo_http_request_duration_seconds_sum"),
            Some(20.001)
        );
    }
}
