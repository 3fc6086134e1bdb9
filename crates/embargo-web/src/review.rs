//! The bi-weekly review (`/review`): the agenda of
//! [`embargo_review::agenda_with`] as a page, as Markdown and JSON
//! downloads, and "mark review done".
//!
//! * Every open report grouped by WG (unrouted last) with age, state, SLA
//!   status and last action; overdue first, also in a section of its own.
//! * Public GitHub issues labelled `security` in the WGs' repositories,
//!   opened or changed since the last review, through the
//!   [`ReviewSetup::github`] source (pagination is the source's, rate
//!   limits are waited out within [`ReviewSetup::max_rate_limit_wait`],
//!   repositories that could not be asked are listed with the reason).
//!   Without a source the page says that GitHub is not configured.
//! * `?since=` (a date or RFC 3339) overrides where the window starts;
//!   by default it is the last review marked done.
//! * `POST /review/done` (admins and triagers) records who and when (an
//!   audit event too); the next agenda starts there.
//!
//! Who sees what follows the report list ([`authz::scope`]): a WG lead gets
//! the agenda of the own WG only (its reports and its repositories' public
//! issues), team members everything.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Redirect, Response};
use embargo_domain::{TrackingId, WgName};
use embargo_review::{
    Agenda, AgendaOptions, AgendaReport, IssueSource, ReviewError, SinceSource, SlaStatus,
};
use embargo_wg::{Registry, WgConfig};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::AppState;
use crate::actions::{self, EmptyForm};
use crate::auth::{Authed, Current};
use crate::authz::{self, Scope};
use crate::error::WebError;
use crate::pages::{Nav, render, ts};
use crate::text::{display_line, url_encode};

/// What the review and scan pages (and the placeholder issue on accept)
/// need beyond the store: the `[[wg]]` tables applied over the stored
/// registry, the source of public issues, the admin view's URL for mail to
/// leads, the GitHub client that opens placeholder issues.
#[derive(Clone)]
pub struct ReviewSetup {
    /// embargo.toml's `[[wg]]` tables; applied over the stored registry
    /// (they win), as `embargo_review::load_registry` does for the CLI.
    pub config_wgs: Vec<WgConfig>,
    /// Where the agenda's public `security` issues come from (the GitHub
    /// client). `None`: GitHub is not configured, and the page says so.
    pub github: Option<Arc<dyn IssueSource>>,
    /// Longest total wait for GitHub rate limits while a page is built
    /// (default 10 s; repositories beyond it are listed as skipped).
    pub max_rate_limit_wait: Duration,
    /// The admin view's public URL, linked from scan slices.
    pub admin_url: Option<String>,
    /// What opens the placeholder issue when a report of a WG in
    /// `placeholder_wgs` is accepted (the same GitHub client as `github`).
    /// `None`: GitHub is not configured; the report page says the
    /// placeholder is missing.
    pub placeholders: Option<Arc<dyn embargo_publish::PlaceholderPublisher>>,
    /// The WGs whose `[[wg]]` table asks for a placeholder issue on accept
    /// (`placeholder = true`).
    pub placeholder_wgs: BTreeSet<WgName>,
}

impl Default for ReviewSetup {
    fn default() -> Self {
        Self {
            config_wgs: Vec::new(),
            github: None,
            max_rate_limit_wait: Duration::from_secs(10),
            admin_url: None,
            placeholders: None,
            placeholder_wgs: BTreeSet::new(),
        }
    }
}

impl fmt::Debug for ReviewSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReviewSetup")
            .field("config_wgs", &self.config_wgs.len())
            .field("github", &self.github.is_some())
            .field("max_rate_limit_wait", &self.max_rate_limit_wait)
            .field("admin_url", &self.admin_url)
            .field("placeholders", &self.placeholders.is_some())
            .field("placeholder_wgs", &self.placeholder_wgs)
            .finish()
    }
}

impl From<ReviewError> for WebError {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::Store(s) => s.into(),
            ReviewError::UnknownRelease(_) => WebError::NotFound,
            ReviewError::Invalid(m) => WebError::BadRequest(m),
            other => WebError::Internal(other.to_string()),
        }
    }
}

/// The registry in effect (stored, with `[[wg]]` on top).
pub(crate) async fn registry(state: &AppState) -> Result<Registry, WebError> {
    Ok(embargo_review::load_registry(state.store(), &state.config().review.config_wgs).await?)
}

/// The registry as far as `scope` reaches: one WG for a lead, none for a
/// lead without a WG.
fn scoped_registry(registry: &Registry, scope: &Scope<'_>) -> Result<Registry, WebError> {
    match scope {
        Scope::All => Ok(registry.clone()),
        Scope::Wg(wg) => Registry::from_wgs(registry.get(wg).cloned())
            .map_err(|e| WebError::Internal(e.to_string())),
        Scope::Nothing => Ok(Registry::new()),
    }
}

fn scope_label(scope: &Scope<'_>) -> String {
    match scope {
        Scope::All => "all WGs".to_owned(),
        Scope::Wg(w) => format!("WG {w}"),
        Scope::Nothing => "no WG assigned to your account".to_owned(),
    }
}

/// The WGs a report can be routed to: the configured ones
/// ([`crate::WebConfig::wgs`]) and the registry's (imported `wgs.yaml`,
/// hand edits), by name. When the registry cannot be read, the
/// configured ones (and a warning in the log).
pub(crate) async fn routable_wgs(state: &AppState) -> Vec<WgName> {
    let mut out: Vec<WgName> = state.config().wgs.clone();
    match registry(state).await {
        Ok(registry) => {
            for wg in registry.wgs() {
                if !out.contains(&wg.name) {
                    out.push(wg.name.clone());
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "WG registry unavailable: configured WGs only"),
    }
    out.sort();
    out
}

/// A WG suggested for a report (shown to triagers; they decide).
pub(crate) struct SuggestionView {
    pub wg: String,
    pub reasons: String,
}

/// Most suggestions shown on a report page.
const SUGGESTIONS_SHOWN: usize = 3;

/// The WGs the registry suggests for a report, from its decrypted text
/// ([`embargo_review::suggest_for_report`]), best first. A failure only
/// costs the suggestion (logged), never the page.
pub(crate) async fn suggestions(state: &AppState, report: &TrackingId) -> Vec<SuggestionView> {
    let registry = match registry(state).await {
        Ok(r) if !r.is_empty() => r,
        Ok(_) => return Vec::new(),
        Err(e) => {
            tracing::warn!(error = %e, "WG registry unavailable: no suggestion");
            return Vec::new();
        }
    };
    match embargo_review::suggest_for_report(state.store(), &registry, report).await {
        Ok(list) => list
            .into_iter()
            .take(SUGGESTIONS_SHOWN)
            .map(|s| SuggestionView {
                wg: s.wg.to_string(),
                reasons: display_line(&s.reasons.join(", "), 200),
            })
            .collect(),
        Err(e) => {
            tracing::warn!(report = %report, error = %e, "no WG suggestion");
            Vec::new()
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct AgendaQuery {
    #[serde(default)]
    since: String,
    #[serde(default)]
    done: String,
}

/// `YYYY-MM-DD` (00:00 UTC) or an RFC 3339 instant; empty: none.
fn parse_since(s: &str) -> Result<Option<Timestamp>, WebError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || {
        WebError::BadRequest(
            "\"since\" must be a date (YYYY-MM-DD) or an RFC 3339 time such as 2026-03-01T10:00:00Z."
                .to_owned(),
        )
    };
    if s.len() > 64 {
        return Err(bad());
    }
    if let Ok(date) = s.parse::<jiff::civil::Date>()
        && !s.contains('T')
    {
        return date
            .to_zoned(TimeZone::UTC)
            .map(|z| Some(z.timestamp()))
            .map_err(|_| bad());
    }
    s.parse::<Timestamp>().map(Some).map_err(|_| bad())
}

/// The agenda asked for by `q`, now, as `current` may see it; with the
/// `since` it was asked for and the instant it was made at.
async fn agenda_for(
    state: &AppState,
    current: &Current,
    q: &AgendaQuery,
) -> Result<(Agenda, Option<Timestamp>, Timestamp), WebError> {
    let since = parse_since(&q.since)?;
    let now = Timestamp::now();
    let agenda = scoped_agenda(state, current, since, now).await?;
    Ok((agenda, since, now))
}

/// The agenda at `now` as `current` may see it.
async fn scoped_agenda(
    state: &AppState,
    current: &Current,
    since: Option<Timestamp>,
    now: Timestamp,
) -> Result<Agenda, WebError> {
    let setup = &state.config().review;
    let scope = authz::scope(&current.user);
    let registry = scoped_registry(&registry(state).await?, &scope)?;
    let options = AgendaOptions {
        sla: state.config().sla,
        max_rate_limit_wait: setup.max_rate_limit_wait,
        ..AgendaOptions::default()
    };
    let agenda = embargo_review::agenda_with(
        state.store(),
        &registry,
        setup.github.as_deref(),
        since,
        now,
        &options,
    )
    .await?;
    Ok(match scope {
        Scope::All => agenda,
        Scope::Wg(wg) => agenda.restricted_to(wg),
        Scope::Nothing => Agenda {
            reports: Vec::new(),
            overdue: Vec::new(),
            public_issues: Vec::new(),
            ..agenda
        },
    })
}

pub(crate) struct ReportRow {
    pub id: String,
    pub subject: String,
    pub state: &'static str,
    pub severity: &'static str,
    pub age: String,
    pub sla_class: &'static str,
    pub sla: String,
    pub last_action: String,
    /// `new` or `changed` since the window's start, else empty.
    pub flag: &'static str,
}

pub(crate) struct WgGroup {
    pub title: String,
    pub overdue: usize,
    pub rows: Vec<ReportRow>,
}

pub(crate) struct IssueRow {
    pub wg: String,
    pub repo: String,
    pub number: u64,
    pub title: String,
    /// Empty unless an `https://` URL (nothing else becomes a link).
    pub url: String,
    pub state: &'static str,
    pub updated: String,
}

pub(crate) struct SkippedRow {
    pub repo: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    nav: Option<Nav>,
    csrf: String,
    scope: String,
    flash: Option<String>,
    since: String,
    since_input: String,
    since_source: &'static str,
    generated: String,
    last_review: Option<(String, String)>,
    open_total: usize,
    overdue: Vec<ReportRow>,
    groups: Vec<WgGroup>,
    github_checked: bool,
    issues: Vec<IssueRow>,
    skipped: Vec<SkippedRow>,
    md_url: String,
    json_url: String,
    can_mark_done: bool,
    sla: String,
}

fn report_row(r: &AgendaReport) -> ReportRow {
    let (sla_class, sla) = match (r.sla.status, r.sla.overdue_days, r.sla.due_at) {
        (SlaStatus::Overdue, Some(d), _) => ("bad", format!("overdue by {d} d")),
        (SlaStatus::Overdue, None, _) => ("bad", "overdue".to_owned()),
        (SlaStatus::DueSoon, _, Some(due)) => ("warn", format!("due soon ({})", ts(due))),
        (SlaStatus::Ok, _, Some(due)) => ("ok", format!("on track (due {})", ts(due))),
        (SlaStatus::Scheduled, _, _) => (
            "neutral",
            match r.embargo_until {
                Some(u) => format!("disclosure {}", ts(u)),
                None => "scheduled".to_owned(),
            },
        ),
        (status, _, _) => ("neutral", status.as_str().to_owned()),
    };
    ReportRow {
        id: r.id.to_string(),
        subject: display_line(&r.subject, 200),
        state: r.state.as_str(),
        severity: r.severity.map_or("unrated", |s| s.as_str()),
        age: format!("{} d", r.age_days),
        sla_class,
        sla,
        last_action: r.last_action.as_ref().map_or_else(
            || "none".to_owned(),
            |a| {
                format!(
                    "{} by {}, {}",
                    display_line(&a.kind, 64),
                    display_line(&a.actor, 64),
                    ts(a.at)
                )
            },
        ),
        flag: if r.new_since_review {
            "new"
        } else if r.changed_since_review {
            "changed"
        } else {
            ""
        },
    }
}

fn groups(reports: &[AgendaReport]) -> Vec<WgGroup> {
    let mut out: Vec<WgGroup> = Vec::new();
    let mut current: Option<Option<&embargo_domain::WgName>> = None;
    for r in reports {
        if current != Some(r.wg.as_ref()) {
            current = Some(r.wg.as_ref());
            out.push(WgGroup {
                title: r
                    .wg
                    .as_ref()
                    .map_or_else(|| "Not routed yet".to_owned(), |w| format!("WG {w}")),
                overdue: 0,
                rows: Vec::new(),
            });
        }
        if let Some(g) = out.last_mut() {
            if r.sla.status == SlaStatus::Overdue {
                g.overdue += 1;
            }
            g.rows.push(report_row(r));
        }
    }
    out
}

fn since_query(since: Option<Timestamp>) -> String {
    since.map_or_else(String::new, |s| {
        format!("?since={}", url_encode(&s.to_string()))
    })
}

pub(crate) async fn page(
    State(state): State<AppState>,
    Authed(current): Authed,
    Query(q): Query<AgendaQuery>,
) -> Result<Response, WebError> {
    let (agenda, since, _) = agenda_for(&state, &current, &q).await?;
    let scope = authz::scope(&current.user);
    let sla = state.config().sla;
    let flash = (q.done == "1").then(|| match &agenda.last_review {
        Some(last) => format!(
            "Review marked done by {} at {}. The next agenda starts there.",
            last.done_by,
            ts(last.done_at)
        ),
        None => "Review marked done.".to_owned(),
    });
    let mut res = render(&ReviewPage {
        nav: Some(Nav::of(&current)),
        csrf: current.csrf_token.clone(),
        scope: scope_label(&scope),
        flash,
        since: ts(agenda.since),
        since_input: since
            .map(|s| s.to_zoned(TimeZone::UTC).date().to_string())
            .unwrap_or_default(),
        since_source: match agenda.since_source {
            SinceSource::Argument => "as asked",
            SinceSource::LastReview => "the last review",
            SinceSource::DefaultWindow => "no review marked done yet: the last 14 days",
        },
        generated: ts(agenda.generated_at),
        last_review: agenda
            .last_review
            .as_ref()
            .map(|l| (l.done_by.to_string(), ts(l.done_at))),
        open_total: agenda.reports.len(),
        overdue: agenda.overdue.iter().map(report_row).collect(),
        groups: groups(&agenda.reports),
        github_checked: agenda.github_checked,
        issues: agenda
            .public_issues
            .iter()
            .map(|i| IssueRow {
                wg: i.wg.to_string(),
                repo: display_line(&i.repo, 140),
                number: i.number,
                title: display_line(&i.title, 200),
                url: if i.html_url.starts_with("https://") {
                    i.html_url.clone()
                } else {
                    String::new()
                },
                state: match i.state {
                    embargo_review::IssueState::Open => "open",
                    embargo_review::IssueState::Closed => "closed",
                },
                updated: ts(i.updated_at),
            })
            .collect(),
        skipped: agenda
            .skipped_repos
            .iter()
            .map(|s| SkippedRow {
                repo: display_line(&s.repo, 140),
                reason: display_line(&s.reason, 300),
            })
            .collect(),
        md_url: format!("/review/agenda.md{}", since_query(since)),
        json_url: format!("/review/agenda.json{}", since_query(since)),
        can_mark_done: authz::team_process(&current.user).is_ok(),
        sla: format!(
            "critical {} d, high {} d, medium {} d, low {} d, unrated {} d",
            sla.critical_days, sla.high_days, sla.medium_days, sla.low_days, sla.unrated_days
        ),
    })?;
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

fn download(body: String, content_type: &'static str, name: String) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).ok();
    actions::download(body, content_type, disposition)
}

fn file_name(now: Timestamp, ext: &str) -> String {
    format!("review-agenda-{}.{ext}", now.to_zoned(TimeZone::UTC).date())
}

/// `GET /review/agenda.md`: what `embargo review agenda --format markdown`
/// prints, as the user may see it.
pub(crate) async fn markdown(
    State(state): State<AppState>,
    Authed(current): Authed,
    Query(q): Query<AgendaQuery>,
) -> Result<Response, WebError> {
    let (agenda, _, now) = agenda_for(&state, &current, &q).await?;
    Ok(download(
        embargo_review::agenda_markdown(&agenda),
        "text/markdown; charset=utf-8",
        file_name(now, "md"),
    ))
}

/// `GET /review/agenda.json`: what `embargo review agenda --format json`
/// prints, as the user may see it.
pub(crate) async fn json(
    State(state): State<AppState>,
    Authed(current): Authed,
    Query(q): Query<AgendaQuery>,
) -> Result<Response, WebError> {
    let (agenda, _, now) = agenda_for(&state, &current, &q).await?;
    let body = serde_json::to_string_pretty(&agenda)
        .map_err(|e| WebError::Internal(format!("agenda JSON: {e}")))?;
    Ok(download(
        body,
        "application/json; charset=utf-8",
        file_name(now, "json"),
    ))
}

/// `POST /review/done`: records who marked the review done and when.
pub(crate) async fn mark_done(
    State(state): State<AppState>,
    Authed(current): Authed,
    Form(_): Form<EmptyForm>,
) -> Result<Response, WebError> {
    authz::team_process(&current.user)?;
    let run =
        embargo_review::mark_review_done(state.store(), &current.user.login, Timestamp::now())
            .await?;
    tracing::info!(review = %run.id, "bi-weekly review marked done");
    Ok(Redirect::to("/review?done=1").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_forms() {
        assert_eq!(parse_since("").unwrap(), None);
        assert_eq!(
            parse_since("2026-03-01").unwrap(),
            Some("2026-03-01T00:00:00Z".parse().unwrap())
        );
        assert_eq!(
            parse_since(" 2026-03-01T10:30:00+01:00 ").unwrap(),
            Some("2026-03-01T09:30:00Z".parse().unwrap())
        );
        for bad in ["yesterday", "2026-13-01", "<script>", &"9".repeat(100)] {
            assert!(matches!(parse_since(bad), Err(WebError::BadRequest(_))));
        }
    }
}
