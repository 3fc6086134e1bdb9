//! The admin web view and the public endpoints, on axum.
//!
//! Every byte of a report is attacker-controlled, so:
//!
//! * pages are rendered only through askama templates (compile-time
//!   checked, auto-escaping; `templates/`), never assembled with `format!`;
//!   invisible and direction-changing characters are made visible
//!   ([`text`]);
//! * every response carries the security headers of [`headers`] (strict
//!   CSP without inline script or style, no framing, no sniffing, no
//!   referrer, `no-store`); CSS and JS are served from the binary under
//!   `/static/`;
//! * sessions live in the store (the cookie holds a random token, the
//!   store only its hash); the cookie is `HttpOnly; SameSite=Strict;
//!   Secure` ([`WebConfig::secure_cookies`] switches `Secure` off for
//!   plain-HTTP localhost);
//! * every state-changing request carries a CSRF token ([`csrf`]), checked
//!   before any handler runs;
//! * what a role may see and do is decided in [`authz`]; a WG lead asking
//!   for another WG's report gets 404, not 403;
//! * every view of decrypted content (report page, audit page,
//!   attachment) and every action is recorded in the report's audit trail.

pub mod headers;
pub mod metrics;
pub mod password;
pub mod public;

mod actions;
mod admin;
mod auth;
mod authz;
pub mod csrf;
mod dashboard;
mod disclosure;
mod error;
mod limiter;
mod pages;
mod placeholder;
mod reports;
mod review;
mod scans;
mod statics;
pub mod text;
pub mod totp;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use embargo_domain::{EmbargoPolicy, Severity, TrackingId, WgName};
use embargo_outbound::TeamIdentity;
use embargo_store::{Sla, Store};
use jiff::SignedDuration;

pub use error::WebError;
pub use review::ReviewSetup;

/// Settings of the web view. The binary fills it from its config
/// (`[web]`, `[embargo]`, `[[wg]]`); [`WebConfig::default`] is what tests
/// and a fresh install use.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// `Secure` on cookies. `true` unless the view is served over plain
    /// HTTP on localhost (`[web] secure_cookies = false`).
    pub secure_cookies: bool,
    /// Absolute lifetime of a session (default 12 h).
    pub session_ttl: SignedDuration,
    /// A session unused this long ends (default 1 h).
    pub idle_timeout: SignedDuration,
    /// Failed logins of one account before it is locked (default 5).
    pub lock_after: u32,
    /// How long a locked account stays locked (default 15 min).
    pub lock_for: SignedDuration,
    /// Failed logins from one IP address within `ip_window` before that
    /// address gets 429 (default 20 per 15 min).
    pub ip_max_failures: u32,
    pub ip_window: SignedDuration,
    /// The WGs offered when triaging (from `[[wg]]`); empty: free text.
    pub wgs: Vec<WgName>,
    /// Days per severity before an open report is overdue.
    pub sla: Sla,
    /// The embargo policy actions are checked against.
    pub policy: EmbargoPolicy,
    /// Reports per page of the list (default 50).
    pub page_size: u32,
    /// Approvals a disclosure needs (`publish.approvals`, default 1; 2 is
    /// the two-person rule).
    pub approvals_required: u8,
    /// The IANA time zone embargo ends are entered and shown in (besides
    /// UTC; `publish.time_zone`, default `UTC`).
    pub time_zone: String,
    /// The publisher named in CSAF exports; `None`: derived from the
    /// team's address.
    pub csaf_publisher: Option<embargo_publish::CsafPublisher>,
    /// Non-secret settings shown on the admin's configuration page, as
    /// (key, value) pairs. Never put secrets here.
    pub config_summary: Vec<(String, String)>,
    /// `/.well-known/security.txt`, the team key and WKD; `None`: not
    /// served.
    pub public: Option<Arc<public::PublicConfig>>,
    /// Request counts and latencies for the metrics listener.
    pub metrics: Option<Arc<metrics::Metrics>>,
    /// The review agenda's and release scans' settings (`/review`,
    /// `/scans`): `[[wg]]` tables, the GitHub source of public issues.
    pub review: ReviewSetup,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            secure_cookies: true,
            session_ttl: SignedDuration::from_hours(12),
            idle_timeout: SignedDuration::from_hours(1),
            lock_after: 5,
            lock_for: SignedDuration::from_mins(15),
            ip_max_failures: 20,
            ip_window: SignedDuration::from_mins(15),
            wgs: Vec::new(),
            sla: Sla::default(),
            policy: EmbargoPolicy::default(),
            page_size: 50,
            approvals_required: 1,
            time_zone: "UTC".to_owned(),
            csaf_publisher: None,
            config_summary: Vec::new(),
            public: None,
            metrics: None,
            review: ReviewSetup::default(),
        }
    }
}

/// The outcome of re-opening a report's unreadable messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryOutcome {
    pub examined: usize,
    pub improved: usize,
}

/// Re-runs decryption and verification of a report's messages with the
/// keys known now (the binary implements it with `embargo_intake::Intake`).
pub trait RetryDecryption: Send + Sync {
    fn retry<'a>(
        &'a self,
        report: &'a TrackingId,
    ) -> Pin<Box<dyn Future<Output = Result<RetryOutcome, String>> + Send + 'a>>;

    /// Triages through the intake workflow, which sends the WG's leads
    /// their copy in the same transaction as the change. `None`: the view
    /// applies the triage itself (no lead copies).
    fn triage<'a>(
        &'a self,
        _report: &'a TrackingId,
        _wg: &'a WgName,
        _severity: Severity,
        _actor: &'a embargo_store::Actor,
    ) -> Option<TriageRun<'a>> {
        None
    }
}

/// A triage running through [`RetryDecryption::triage`].
pub type TriageRun<'a> = Pin<Box<dyn Future<Output = Result<(), TriageFailure>> + Send + 'a>>;

/// Why a triage through [`RetryDecryption::triage`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriageFailure {
    /// The domain refused it; the text is for the user.
    Refused(String),
    /// The report changed meanwhile.
    Conflict,
    /// Anything else (the store, the mail composition).
    Unavailable(String),
}

/// What the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<Store>,
    pub(crate) config: WebConfig,
    pub(crate) team: Option<Arc<TeamIdentity>>,
    pub(crate) retry: Option<Arc<dyn RetryDecryption>>,
    pub(crate) limiter: limiter::IpLimiter,
    pub(crate) totp_replay: limiter::TotpReplay,
    /// Keys the login form's CSRF token (there is no session yet).
    pub(crate) login_key: zeroize::Zeroizing<[u8; 32]>,
    /// A hash verified for unknown logins, so they cost the same time.
    pub(crate) dummy_hash: String,
}

impl AppState {
    /// The state the binary passes to [`serve`]:
    ///
    /// * `store`: the opened store;
    /// * `config`: see [`WebConfig`];
    /// * `team`: the team's mail identity (security address and keyring);
    ///   without it, replies to reporters are refused with a clear message;
    /// * `retry`: the hook behind "retry decryption"; without it the
    ///   request is recorded in the audit trail and the page says so.
    pub fn new(
        store: Arc<Store>,
        config: WebConfig,
        team: Option<TeamIdentity>,
        retry: Option<Arc<dyn RetryDecryption>>,
    ) -> Result<Self, WebError> {
        use rand::RngCore;
        let mut login_key = zeroize::Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(login_key.as_mut());
        let dummy_hash = password::hash("embargo: a password nobody has")
            .map_err(|e| WebError::Internal(e.to_string()))?;
        let limiter = limiter::IpLimiter::new(config.ip_max_failures, config.ip_window);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                config,
                team: team.map(Arc::new),
                retry,
                limiter,
                totp_replay: limiter::TotpReplay::default(),
                login_key,
                dummy_hash,
            }),
        })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn config(&self) -> &WebConfig {
        &self.inner.config
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

/// The web application: every route, behind the session and CSRF layers,
/// wrapped in the security headers.
pub fn router(state: AppState) -> Router {
    let public_cfg = state.config().public.clone();
    let metrics = state.config().metrics.clone();
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/static/app.css", get(statics::css))
        .route("/static/app.js", get(statics::js))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/account", get(auth::account))
        .route(
            "/account/password",
            get(auth::password_page).post(auth::change_password),
        )
        .route("/account/totp/setup", post(auth::totp_setup))
        .route("/account/totp/enable", post(auth::totp_enable))
        .route("/account/totp/disable", post(auth::totp_disable))
        .route("/", get(dashboard::dashboard))
        .route("/reports", get(reports::list))
        .route("/reports/{id}", get(reports::show))
        .route("/reports/{id}/audit", get(reports::audit))
        .route(
            "/reports/{id}/attachments/{attachment}",
            get(reports::attachment),
        )
        .route("/reports/{id}/triage", post(reports::triage))
        .route("/reports/{id}/accept", post(reports::accept))
        .route("/reports/{id}/reject", post(reports::reject))
        .route("/reports/{id}/duplicate", post(reports::duplicate))
        .route("/reports/{id}/withdraw", post(reports::withdraw))
        .route("/reports/{id}/note", post(reports::note))
        .route("/reports/{id}/reply", post(reports::reply))
        .route(
            "/reports/{id}/retry-decryption",
            post(reports::retry_decryption),
        )
        .route(
            "/reports/{id}/disclosure/schedule",
            post(disclosure::schedule),
        )
        .route(
            "/reports/{id}/disclosure/approve",
            post(disclosure::approve),
        )
        .route(
            "/reports/{id}/disclosure/unschedule",
            post(disclosure::unschedule),
        )
        .route(
            "/reports/{id}/disclosure/withdraw",
            post(disclosure::withdraw),
        )
        .route("/reports/{id}/disclosure/retry", post(disclosure::retry))
        .route("/reports/{id}/placeholder/retry", post(placeholder::retry))
        .route("/reports/{id}/advisory.osv.json", get(disclosure::osv))
        .route("/reports/{id}/advisory.csaf.json", get(disclosure::csaf))
        .route("/admin/users", get(admin::users).post(admin::add_user))
        .route("/admin/users/{login}/key", post(admin::set_key))
        .route("/admin/users/{login}/reset", post(admin::reset_password))
        .route("/admin/config", get(admin::config))
        .route("/review", get(review::page))
        .route("/review/agenda.md", get(review::markdown))
        .route("/review/agenda.json", get(review::json))
        .route("/review/done", post(review::mark_done))
        .route("/scans", get(scans::list))
        .route("/scans/{release}", get(scans::show))
        .route("/scans/{release}/send", post(scans::send))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::load_session,
        ))
        .with_state(state);
    // Public endpoints skip the session and CSRF layers, not the headers.
    let app = match public_cfg {
        Some(cfg) => app.merge(public::public_router(cfg)),
        None => app,
    };
    let app = match metrics {
        Some(m) => app.layer(axum::middleware::from_fn_with_state(m, metrics::track)),
        None => app,
    };
    app.layer(axum::middleware::from_fn(headers::security_headers))
}

/// Liveness: the process answers.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the store answers.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: store unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n")
        }
    }
}

async fn fallback() -> WebError {
    WebError::NotFound
}

/// Serves the web application on `listener` until `shutdown` completes,
/// then lets requests in flight finish. Peer addresses feed the per-IP
/// login limiter.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
