//! Prometheus metrics, served by [`metrics_router`] (`GET /metrics`, text
//! exposition format 0.0.4) on a separate listener.
//!
//! Two kinds, and the difference matters with several replicas:
//!
//! * **From the store** (read at scrape time, the same from every replica
//!   of one database: aggregate with `max`): `embargo_messages_total` and
//!   `embargo_decrypt_failures_total` (every process that answers an MTA
//!   counts into the store through [`IntakeCounter`]: each `serve`'s LMTP
//!   listener and every `embargo ingest` of the pipe channel), the outbox
//!   gauges and the publication jobs.
//! * **Per process** (kept in memory, reset on restart: aggregate with
//!   `sum`): `embargo_up` and the HTTP counters of the web listener,
//!   counted by the [`track`] middleware.

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
use embargo_store::{IntakeChannel, IntakeCount, IntakeOutcome, JobState, Store, StoreError};
use jiff::Timestamp;

/// The exposition format's content type.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the HTTP latency histogram buckets; `+Inf`
/// is implied.
pub const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The outcomes `embargo_messages_total` shows; undecryptable messages are
/// `embargo_decrypt_failures_total`.
const ANSWERS: [IntakeOutcome; 3] = [
    IntakeOutcome::Accepted,
    IntakeOutcome::Tempfail,
    IntakeOutcome::Refused,
];

const N_OUTCOMES: usize = IntakeOutcome::ALL.len();
const N_COUNTERS: usize = IntakeChannel::ALL.len() * N_OUTCOMES;
/// Status classes 1xx..5xx, then "other" (out-of-range codes).
const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

/// The process's own counters (HTTP).  Cheap to update from any task
/// (relaxed atomics); share it as `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
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
            http_requests: [const { AtomicU64::new(0) }; STATUS_CLASSES.len()],
            http_latency: [const { AtomicU64::new(0) }; LATENCY_BUCKETS.len() + 1],
            http_latency_sum_micros: AtomicU64::new(0),
        }
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

    /// The counters in text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) {
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

/// Counts the gateway's answers to MTAs into the store (see the module
/// documentation): one per message handed over, by channel and outcome.
///
/// A count that cannot be written now (the store being unreachable is the
/// usual reason for a temporary failure) is kept in memory and written
/// with the next one, or before the next scrape; one writer at a time, so
/// an outage does not pile up waiting writes. What is still unwritten when
/// the process ends is lost: a one-shot `embargo ingest` that cannot
/// reach the store cannot count its temporary failure.
#[derive(Debug)]
pub struct IntakeCounter {
    store: Arc<Store>,
    pending: std::sync::Mutex<[u64; N_COUNTERS]>,
    writing: tokio::sync::Mutex<()>,
}

fn counter_index(channel: IntakeChannel, outcome: IntakeOutcome) -> usize {
    let c = IntakeChannel::ALL
        .iter()
        .position(|x| *x == channel)
        .unwrap_or(0);
    let o = IntakeOutcome::ALL
        .iter()
        .position(|x| *x == outcome)
        .unwrap_or(0);
    c * N_OUTCOMES + o
}

impl IntakeCounter {
    pub fn new(store: Arc<Store>) -> Self {
        IntakeCounter {
            store,
            pending: std::sync::Mutex::new([0; N_COUNTERS]),
            writing: tokio::sync::Mutex::new(()),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, [u64; N_COUNTERS]> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one message answered with `outcome` on `channel` (and, when
    /// it was filed but could not be decrypted, one decrypt failure), then
    /// writes what is pending. `Ok` when everything pending reached the
    /// store, or another task is writing it.
    pub async fn record(
        &self,
        channel: IntakeChannel,
        outcome: IntakeOutcome,
        undecryptable: bool,
    ) -> Result<(), StoreError> {
        {
            let mut pending = self.pending();
            let mut add = |o| {
                if let Some(n) = pending.get_mut(counter_index(channel, o)) {
                    *n = n.saturating_add(1);
                }
            };
            add(outcome);
            if undecryptable {
                add(IntakeOutcome::Undecryptable);
            }
        }
        self.flush_if_idle().await
    }

    /// Writes what is pending (waiting for a write in progress first).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let _writer = self.writing.lock().await;
        self.write_pending().await
    }

    /// Writes what is pending unless a write is in progress (which may be
    /// waiting for a store that is down: a scrape must not queue behind
    /// it).
    pub async fn flush_if_idle(&self) -> Result<(), StoreError> {
        match self.writing.try_lock() {
            Ok(_writer) => self.write_pending().await,
            Err(_) => Ok(()),
        }
    }

    /// Counts not yet in the store.
    pub fn unwritten(&self) -> u64 {
        self.pending().iter().sum()
    }

    async fn write_pending(&self) -> Result<(), StoreError> {
        let batch = std::mem::replace(&mut *self.pending(), [0; N_COUNTERS]);
        let deltas: Vec<IntakeCount> = IntakeChannel::ALL
            .iter()
            .flat_map(|&channel| {
                IntakeOutcome::ALL
                    .iter()
                    .map(move |&outcome| (channel, outcome))
            })
            .zip(batch)
            .filter(|(_, count)| *count > 0)
            .map(|((channel, outcome), count)| IntakeCount {
                channel,
                outcome,
                count,
            })
            .collect();
        if deltas.is_empty() {
            return Ok(());
        }
        match self.store.add_intake_counts(&deltas).await {
            Ok(()) => Ok(()),
            Err(e) => {
                // Back into pending, for the next write.
                let mut pending = self.pending();
                for (slot, n) in pending.iter_mut().zip(batch) {
                    *slot = slot.saturating_add(n);
                }
                Err(e)
            }
        }
    }
}

/// What the store says at scrape time.
#[derive(Debug, Default)]
struct StoreGauges {
    intake: Vec<IntakeCount>,
    /// ready, waiting, sending, sent, dead.
    outbox: [(&'static str, u64); 5],
    /// Age of the oldest entry not yet delivered (queued or sending).
    oldest_undelivered_secs: f64,
    jobs: Vec<(&'static str, u64)>,
}

async fn read_store(store: &Store, now: Timestamp) -> embargo_store::Result<StoreGauges> {
    let intake = store.intake_counts().await?;
    let counts = store.outbox_counts(now).await?;
    let oldest_undelivered_secs = store
        .outbox_oldest_undelivered()
        .await?
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
        intake,
        outbox: [
            ("ready", counts.ready),
            ("waiting", counts.waiting),
            ("sending", counts.sending),
            ("sent", counts.sent),
            ("dead", counts.dead),
        ],
        oldest_undelivered_secs,
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

    let count = |channel, outcome| {
        g.intake
            .iter()
            .find(|c| c.channel == channel && c.outcome == outcome)
            .map_or(0, |c| c.count)
    };
    header(
        out,
        "embargo_messages_total",
        "counter",
        "Messages handed to the gateway, by channel (lmtp: serve; pipe: embargo ingest) and outcome; from the store, all processes.",
    );
    for channel in IntakeChannel::ALL {
        for outcome in ANSWERS {
            let _ = writeln!(
                out,
                "embargo_messages_total{{channel=\"{channel}\",outcome=\"{outcome}\"}} {}",
                count(channel, outcome)
            );
        }
    }
    header(
        out,
        "embargo_decrypt_failures_total",
        "counter",
        "Messages filed that could not be decrypted; from the store, all processes.",
    );
    let undecryptable: u64 = IntakeChannel::ALL
        .iter()
        .map(|&c| count(c, IntakeOutcome::Undecryptable))
        .sum();
    let _ = writeln!(out, "embargo_decrypt_failures_total {undecryptable}");

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
        "Age of the oldest outbox entry not yet delivered (queued or being sent) in seconds (0 when none).",
    );
    let _ = writeln!(
        out,
        "embargo_outbox_oldest_queued_age_seconds {:.3}",
        g.oldest_undelivered_secs
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
    counter: Option<Arc<IntakeCounter>>,
}

/// `GET /metrics` for the metrics listener. `counter`, when given, writes
/// its pending counts before each scrape reads them.
pub fn metrics_router(
    metrics: Arc<Metrics>,
    store: Arc<Store>,
    counter: Option<Arc<IntakeCounter>>,
) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(MetricsState {
            metrics,
            store,
            counter,
        })
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
    if let Some(counter) = &state.counter
        && counter.unwritten() > 0
        && let Err(e) = counter.flush_if_idle().await
    {
        tracing::debug!(error = %e, "metrics: intake counts not written yet");
    }
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
        let res = metrics_router(metrics.clone(), store.clone(), None)
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

        // Two processes count into the one store: a serve (LMTP) and an
        // `embargo ingest` (pipe); either scrape shows both.
        let serve = IntakeCounter::new(store.clone());
        let ingest = IntakeCounter::new(store.clone());
        use IntakeChannel::{Lmtp, Pipe};
        use IntakeOutcome::{Accepted, Refused, Tempfail};
        serve.record(Lmtp, Accepted, false).await.unwrap();
        serve.record(Lmtp, Accepted, true).await.unwrap();
        serve.record(Lmtp, Refused, false).await.unwrap();
        ingest.record(Pipe, Tempfail, false).await.unwrap();
        ingest.record(Pipe, Accepted, false).await.unwrap();
        ingest.record(Pipe, Accepted, true).await.unwrap();
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
            Some(2.0)
        );
        assert_eq!(
            m("embargo_messages_total{channel=\"pipe\",outcome=\"refused\"}"),
            Some(0.0)
        );
        assert_eq!(m("embargo_decrypt_failures_total"), Some(2.0));
        assert_eq!(m("embargo_outbox_entries{state=\"ready\"}"), Some(2.0));
        assert_eq!(m("embargo_outbox_entries{state=\"dead\"}"), Some(0.0));
        let age = m("embargo_outbox_oldest_queued_age_seconds").unwrap();
        assert!((119.0..600.0).contains(&age), "{age}");
    }

    #[tokio::test]
    async fn counts_the_store_cannot_take_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let counter = IntakeCounter::new(store.clone());
        counter
            .record(IntakeChannel::Pipe, IntakeOutcome::Accepted, false)
            .await
            .unwrap();
        assert_eq!(counter.unwritten(), 0);
        // The store goes away: the count waits in memory, and the next
        // one is added to it rather than replacing it.
        store.close().await;
        for _ in 0..2 {
            counter
                .record(IntakeChannel::Lmtp, IntakeOutcome::Tempfail, false)
                .await
                .unwrap_err();
        }
        assert_eq!(counter.unwritten(), 2);
        counter.flush().await.unwrap_err();
        assert_eq!(counter.unwritten(), 2);
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
