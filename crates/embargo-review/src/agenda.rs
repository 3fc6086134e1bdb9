//! The bi-weekly review: the agenda, its Markdown, and marking it done.
//! The agenda's JSON shape and order are documented on [`Agenda`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use embargo_domain::{Login, Severity, State, TrackingId, WgName};
use embargo_github::{GitHubError, IssueState, PublicIssue, Publisher, Repo};
use embargo_store::{Actor, ReportFilter, ReviewRun, Sla, Store};
use embargo_wg::Registry;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::text::{md, minute, whole_days};
use crate::{Result, ReviewError};

/// Longest subject or issue title in the Markdown agenda.
const TITLE_CHARS: usize = 120;

/// Where the agenda's public issues come from: any
/// [`embargo_github::Publisher`] (the GitHub client), or a trait object of
/// it (`Arc<dyn IssueSource>`, as the admin view holds it). Following
/// GitHub's pagination is the source's job; [`agenda_with`] handles rate
/// limits and transient failures.
pub trait IssueSource: Send + Sync {
    /// Issues labelled `security` in `repo` updated at or after `since`.
    fn security_issues_since<'a>(
        &'a self,
        repo: &'a Repo,
        since: Timestamp,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<PublicIssue>, GitHubError>> + Send + 'a>>;
}

impl<P: Publisher> IssueSource for P {
    fn security_issues_since<'a>(
        &'a self,
        repo: &'a Repo,
        since: Timestamp,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<PublicIssue>, GitHubError>> + Send + 'a>> {
        Box::pin(self.list_security_issues_since(repo, since))
    }
}

/// How the agenda is made.
#[derive(Debug, Clone)]
pub struct AgendaOptions {
    pub sla: Sla,
    /// `since` when no review was ever marked done. Default: 14 days.
    pub default_window: SignedDuration,
    /// Longest total wait for GitHub rate limits in one agenda. Default:
    /// 2 minutes.
    pub max_rate_limit_wait: Duration,
    /// Tries per repository (rate limits and transient failures).
    /// Default: 3.
    pub max_attempts: u32,
    /// Wait before retrying a transient failure. Default: 1 s.
    pub transient_wait: Duration,
}

impl Default for AgendaOptions {
    fn default() -> Self {
        Self {
            sla: Sla::default(),
            default_window: SignedDuration::from_hours(24 * 14),
            max_rate_limit_wait: Duration::from_secs(120),
            max_attempts: 3,
            transient_wait: Duration::from_secs(1),
        }
    }
}

/// Where a report stands against its SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SlaStatus {
    Overdue,
    DueSoon,
    Ok,
    /// Disclosure agreed: the SLA no longer runs.
    Scheduled,
    /// Published, rejected, duplicate, withdrawn.
    Closed,
}

impl SlaStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaStatus::Overdue => "overdue",
            SlaStatus::DueSoon => "due-soon",
            SlaStatus::Ok => "ok",
            SlaStatus::Scheduled => "scheduled",
            SlaStatus::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaInfo {
    pub status: SlaStatus,
    /// The SLA of the report's severity, in days.
    pub days: u32,
    /// Filing time plus the SLA (open reports only).
    pub due_at: Option<Timestamp>,
    /// Whole days past `due_at` (overdue reports only).
    pub overdue_days: Option<i64>,
}

/// The SLA position of a report at `now`.
pub fn sla_info(
    state: State,
    severity: Option<Severity>,
    created_at: Timestamp,
    sla: &Sla,
    now: Timestamp,
) -> SlaInfo {
    let days = sla.days(severity);
    let window = SignedDuration::from_hours(i64::from(days).saturating_mul(24));
    let (status, due_at) = match state {
        State::New | State::Triaged | State::Accepted => {
            let due = created_at.checked_add(window).ok();
            let status = match due {
                Some(due) if now > due => SlaStatus::Overdue,
                Some(due) => {
                    let left = due.as_millisecond().saturating_sub(now.as_millisecond());
                    let quarter = i64::try_from(window.as_millis() / 4).unwrap_or(i64::MAX);
                    if left < quarter {
                        SlaStatus::DueSoon
                    } else {
                        SlaStatus::Ok
                    }
                }
                None => SlaStatus::Ok,
            };
            (status, due)
        }
        State::Scheduled => (SlaStatus::Scheduled, None),
        State::Published | State::Rejected | State::Duplicate | State::Withdrawn => {
            (SlaStatus::Closed, None)
        }
    };
    let overdue_days = match (status, due_at) {
        (SlaStatus::Overdue, Some(due)) => Some(whole_days(due, now)),
        _ => None,
    };
    SlaInfo {
        status,
        days,
        due_at,
        overdue_days,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastActionInfo {
    pub kind: String,
    pub actor: String,
    pub at: Timestamp,
}

/// One report on the agenda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgendaReport {
    pub id: TrackingId,
    pub wg: Option<WgName>,
    pub subject: String,
    pub state: State,
    pub severity: Option<Severity>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Whole days since filing.
    pub age_days: i64,
    pub embargo_until: Option<Timestamp>,
    pub sla: SlaInfo,
    pub last_action: Option<LastActionInfo>,
    /// Filed since `since`.
    pub new_since_review: bool,
    /// Changed since `since`.
    pub changed_since_review: bool,
}

/// A public `security` issue of a WG's repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicIssueItem {
    /// The first WG (by name) listing the repository.
    pub wg: WgName,
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub html_url: String,
    pub state: IssueState,
    pub updated_at: Timestamp,
}

/// A repository whose issues could not be listed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedRepo {
    pub repo: String,
    pub reason: String,
}

/// Where `since` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SinceSource {
    /// Given by the caller (`--since`).
    Argument,
    /// The latest review marked done.
    LastReview,
    /// No review yet: [`AgendaOptions::default_window`] before now.
    DefaultWindow,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastReviewInfo {
    pub done_at: Timestamp,
    pub done_by: Login,
}

/// The bi-weekly review agenda.
///
/// JSON (`embargo review agenda --format json`):
///
/// ```json
/// {"since": "2026-02-15T10:00:00Z", "since_source": "last-review",
///  "generated_at": "…", "last_review": {"done_at": "…", "done_by": "alice"},
///  "reports": [{"id", "wg", "subject", "state", "severity", "created_at",
///               "updated_at", "age_days", "embargo_until",
///               "sla": {"status", "days", "due_at", "overdue_days"},
///               "last_action": {"kind", "actor", "at"},
///               "new_since_review", "changed_since_review"}],
///  "public_issues": [{"wg", "repo", "number", "title", "html_url", "state", "updated_at"}],
///  "skipped_repos": [{"repo", "reason"}],
///  "github_checked": true,
///  "overdue": [<report objects as in "reports">]}
/// ```
///
/// - `reports`: every open report (`new`, `triaged`, `accepted`,
///   `scheduled`), grouped by WG (WGs in name order, unrouted reports last);
///   within a WG overdue first (most overdue first), then due soon, on
///   track, scheduled; then by due date.
/// - `sla.status`: `overdue` (past the SLA of its severity, counted from
///   filing), `due-soon` (less than a quarter of its SLA left), `ok`,
///   `scheduled` (disclosure agreed: the SLA no longer runs).
/// - `public_issues`: issues labelled `security` in every repository of
///   every WG, opened or changed since `since`, newest change first per
///   repository. GitHub's pagination is followed by the client; a rate
///   limit is waited out when GitHub's wait fits in
///   [`AgendaOptions::max_rate_limit_wait`] (in all), otherwise the
///   repository is listed in `skipped_repos` with the reason, like any
///   other failure.
/// - `since`: the argument; else the latest review marked done; else
///   [`AgendaOptions::default_window`] (14 days) before now.
/// - `overdue`: the overdue reports again, most overdue first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agenda {
    pub since: Timestamp,
    pub since_source: SinceSource,
    pub generated_at: Timestamp,
    pub last_review: Option<LastReviewInfo>,
    pub reports: Vec<AgendaReport>,
    pub public_issues: Vec<PublicIssueItem>,
    pub skipped_repos: Vec<SkippedRepo>,
    /// Whether GitHub was asked at all (no publisher: `false`).
    pub github_checked: bool,
    pub overdue: Vec<AgendaReport>,
}

impl Agenda {
    /// The agenda as a WG lead sees it: only `wg`'s reports and public
    /// issues (unrouted reports and other WGs' left out). Pair it with a
    /// registry of that WG alone, so other WGs' repositories are not asked.
    #[must_use]
    pub fn restricted_to(mut self, wg: &WgName) -> Agenda {
        self.reports.retain(|r| r.wg.as_ref() == Some(wg));
        self.overdue.retain(|r| r.wg.as_ref() == Some(wg));
        self.public_issues.retain(|i| &i.wg == wg);
        self
    }
}

/// [`agenda_with`] with default options. Without GitHub, pass
/// `None::<&embargo_github::Client>`.
pub async fn agenda<P: IssueSource + ?Sized>(
    store: &Store,
    registry: &Registry,
    publisher: Option<&P>,
    since: Option<Timestamp>,
    now: Timestamp,
) -> Result<Agenda> {
    agenda_with(
        store,
        registry,
        publisher,
        since,
        now,
        &AgendaOptions::default(),
    )
    .await
}

fn status_rank(s: SlaStatus) -> u8 {
    match s {
        SlaStatus::Overdue => 0,
        SlaStatus::DueSoon => 1,
        SlaStatus::Ok => 2,
        SlaStatus::Scheduled => 3,
        SlaStatus::Closed => 4,
    }
}

/// Overdue first (most overdue first), then by status, then due date or
/// disclosure date, then ID.
fn agenda_order(a: &AgendaReport, b: &AgendaReport) -> std::cmp::Ordering {
    status_rank(a.sla.status)
        .cmp(&status_rank(b.sla.status))
        .then_with(|| {
            a.sla
                .due_at
                .or(a.embargo_until)
                .cmp(&b.sla.due_at.or(b.embargo_until))
        })
        .then_with(|| a.id.cmp(&b.id))
}

/// The review agenda at `now` (see [`Agenda`] for what it holds).
pub async fn agenda_with<P: IssueSource + ?Sized>(
    store: &Store,
    registry: &Registry,
    publisher: Option<&P>,
    since: Option<Timestamp>,
    now: Timestamp,
    options: &AgendaOptions,
) -> Result<Agenda> {
    let last = store.last_review().await?;
    let (since, since_source) = match (since, &last) {
        (Some(s), _) => (s, SinceSource::Argument),
        (None, Some(run)) => (run.done_at, SinceSource::LastReview),
        (None, None) => (
            now.checked_sub(options.default_window)
                .map_err(|_| ReviewError::Invalid("default window out of range".to_owned()))?,
            SinceSource::DefaultWindow,
        ),
    };

    let actions: BTreeMap<TrackingId, LastActionInfo> = store
        .last_actions()
        .await?
        .into_iter()
        .map(|a| {
            (
                a.report_id,
                LastActionInfo {
                    kind: a.kind,
                    actor: a.actor,
                    at: a.at,
                },
            )
        })
        .collect();
    let mut reports: Vec<AgendaReport> = store
        .list_reports(&ReportFilter::default())
        .await?
        .into_iter()
        .filter(|r| !r.state.is_closed())
        .map(|r| AgendaReport {
            sla: sla_info(r.state, r.severity, r.created_at, &options.sla, now),
            age_days: whole_days(r.created_at, now),
            last_action: actions.get(&r.id).cloned(),
            new_since_review: r.created_at >= since,
            changed_since_review: r.updated_at >= since,
            id: r.id,
            wg: r.wg,
            subject: r.subject,
            state: r.state,
            severity: r.severity,
            created_at: r.created_at,
            updated_at: r.updated_at,
            embargo_until: r.embargo_until,
        })
        .collect();
    // By WG (name order, unrouted last), then agenda order.
    reports.sort_by(|a, b| {
        (a.wg.is_none(), &a.wg)
            .cmp(&(b.wg.is_none(), &b.wg))
            .then_with(|| agenda_order(a, b))
    });
    let mut overdue: Vec<AgendaReport> = reports
        .iter()
        .filter(|r| r.sla.status == SlaStatus::Overdue)
        .cloned()
        .collect();
    overdue.sort_by(|a, b| a.sla.due_at.cmp(&b.sla.due_at).then(a.id.cmp(&b.id)));

    let mut public_issues = Vec::new();
    let mut skipped_repos = Vec::new();
    if let Some(publisher) = publisher {
        let mut budget = options.max_rate_limit_wait;
        for (repo_text, wg) in wg_repos(registry) {
            let repo: Repo = match repo_text.parse() {
                Ok(r) => r,
                Err(e) => {
                    skipped_repos.push(SkippedRepo {
                        repo: repo_text,
                        reason: format!("{e}"),
                    });
                    continue;
                }
            };
            match list_repo(publisher, &repo, since, &mut budget, options).await {
                Ok(issues) => public_issues.extend(issues.into_iter().map(|i| PublicIssueItem {
                    wg: wg.clone(),
                    repo: repo_text.clone(),
                    number: i.number,
                    title: i.title,
                    html_url: i.html_url,
                    state: i.state,
                    updated_at: i.updated_at,
                })),
                Err(reason) => {
                    tracing::warn!(repo = %repo_text, %reason, "security issues not listed");
                    skipped_repos.push(SkippedRepo {
                        repo: repo_text,
                        reason,
                    });
                }
            }
        }
    }

    Ok(Agenda {
        since,
        since_source,
        generated_at: now,
        last_review: last.map(|r| LastReviewInfo {
            done_at: r.done_at,
            done_by: r.done_by,
        }),
        reports,
        public_issues,
        skipped_repos,
        github_checked: publisher.is_some(),
        overdue,
    })
}

/// Every repository of every WG, once (ASCII case-insensitive), with the
/// first WG listing it, in WG name order then the WG's order.
fn wg_repos(registry: &Registry) -> Vec<(String, WgName)> {
    let mut out: Vec<(String, WgName)> = Vec::new();
    for wg in registry.wgs() {
        for repo in &wg.repos {
            if !out.iter().any(|(r, _)| r.eq_ignore_ascii_case(repo)) {
                out.push((repo.clone(), wg.name.clone()));
            }
        }
    }
    out
}

/// One repository's `security` issues since `since`, waiting out rate
/// limits that fit in `budget` (decreased by what was waited).
async fn list_repo<P: IssueSource + ?Sized>(
    publisher: &P,
    repo: &Repo,
    since: Timestamp,
    budget: &mut Duration,
    options: &AgendaOptions,
) -> std::result::Result<Vec<PublicIssue>, String> {
    let attempts = options.max_attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match publisher.security_issues_since(repo, since).await {
            Ok(issues) => return Ok(issues),
            Err(GitHubError::RateLimited { retry_after }) => {
                if attempt >= attempts {
                    return Err(format!(
                        "rate limited by GitHub (retry after {} s); gave up after {attempt} attempts",
                        retry_after.as_secs()
                    ));
                }
                if retry_after > *budget {
                    return Err(format!(
                        "rate limited by GitHub (retry after {} s, more than the {} s left to wait)",
                        retry_after.as_secs(),
                        budget.as_secs()
                    ));
                }
                tracing::info!(repo = %repo, wait_s = retry_after.as_secs(), "GitHub rate limit: waiting");
                *budget = budget.saturating_sub(retry_after);
                tokio::time::sleep(retry_after).await;
            }
            Err(e) if e.is_transient() && attempt < attempts => {
                let wait = options.transient_wait.min(*budget);
                *budget = budget.saturating_sub(wait);
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Marks the review done by `by` at `now` (recorded with the audit trail):
/// the next agenda starts there. `since` of the record is where the
/// previous review ended.
pub async fn mark_review_done(store: &Store, by: &Login, now: Timestamp) -> Result<ReviewRun> {
    let previous = store.last_review().await?.map(|r| r.done_at);
    let mut tx = store.begin().await?;
    let run = tx.record_review_done(by, previous, now).await?;
    tx.append_event(
        None,
        &Actor::User(by.clone()),
        "review-done",
        &format!("bi-weekly review {}", run.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(run)
}

fn report_line(out: &mut String, r: &AgendaReport) {
    let severity = r.severity.map_or("unrated", |s| s.as_str());
    let sla = match (
        r.sla.status,
        r.sla.overdue_days,
        r.sla.due_at,
        r.embargo_until,
    ) {
        (SlaStatus::Overdue, Some(d), _, _) => format!("**overdue {d} d**"),
        (SlaStatus::Scheduled, _, _, Some(until)) => format!("disclosure {}", minute(until)),
        (status, _, Some(due), _) => format!("{} (due {})", status.as_str(), minute(due)),
        (status, _, _, _) => status.as_str().to_owned(),
    };
    let action = r.last_action.as_ref().map_or_else(
        || "none".to_owned(),
        |a| {
            format!(
                "{} by {} on {}",
                md(&a.kind, 64),
                md(&a.actor, 64),
                minute(a.at)
            )
        },
    );
    let mut flags = String::new();
    if r.new_since_review {
        flags.push_str(" · new");
    } else if r.changed_since_review {
        flags.push_str(" · changed");
    }
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} d | {} | {}{} |",
        r.id,
        md(&r.subject, TITLE_CHARS),
        r.state.as_str(),
        severity,
        r.age_days,
        sla,
        action,
        flags
    );
}

const REPORT_HEADER: &str = "| ID | Subject | State | Severity | Age | SLA | Last action |\n| --- | --- | --- | --- | --- | --- | --- |\n";

/// The agenda as Markdown (`--format markdown`): overdue first, then open
/// reports by WG, then public issues and skipped repositories. Untrusted
/// text (subjects, titles) is escaped.
pub fn agenda_markdown(a: &Agenda) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Security review agenda\n");
    let _ = writeln!(
        out,
        "Generated {}. Changes since {} ({}).",
        minute(a.generated_at),
        minute(a.since),
        match a.since_source {
            SinceSource::Argument => "as asked",
            SinceSource::LastReview => "the last review",
            SinceSource::DefaultWindow => "no review marked done yet",
        }
    );
    if let Some(last) = &a.last_review {
        let _ = writeln!(
            out,
            "Last review marked done by {} on {}.",
            md(last.done_by.as_str(), 64),
            minute(last.done_at)
        );
    }
    out.push('\n');

    let _ = writeln!(out, "## Overdue ({})\n", a.overdue.len());
    if a.overdue.is_empty() {
        out.push_str("Nothing is overdue.\n\n");
    } else {
        out.push_str(REPORT_HEADER);
        for r in &a.overdue {
            report_line(&mut out, r);
        }
        out.push('\n');
    }

    let _ = writeln!(out, "## Open reports by WG ({})\n", a.reports.len());
    if a.reports.is_empty() {
        out.push_str("No open reports.\n\n");
    }
    let mut current: Option<Option<&WgName>> = None;
    for r in &a.reports {
        if current != Some(r.wg.as_ref()) {
            if current.is_some() {
                out.push('\n');
            }
            current = Some(r.wg.as_ref());
            let count = a.reports.iter().filter(|x| x.wg == r.wg).count();
            match &r.wg {
                Some(wg) => {
                    let _ = writeln!(out, "### WG {} ({count})\n", md(wg.as_str(), 64));
                }
                None => {
                    let _ = writeln!(out, "### Not routed yet ({count})\n");
                }
            }
            out.push_str(REPORT_HEADER);
        }
        report_line(&mut out, r);
    }
    if current.is_some() {
        out.push('\n');
    }

    let _ = writeln!(
        out,
        "## Public security issues since {} ({})\n",
        minute(a.since),
        a.public_issues.len()
    );
    if !a.github_checked {
        out.push_str("GitHub was not asked (not configured).\n\n");
    } else if a.public_issues.is_empty() {
        out.push_str("None.\n\n");
    } else {
        out.push_str("| WG | Issue | Title | State | Updated |\n| --- | --- | --- | --- | --- |\n");
        for i in &a.public_issues {
            let state = match i.state {
                IssueState::Open => "open",
                IssueState::Closed => "closed",
            };
            let _ = writeln!(
                out,
                "| {} | [{}#{}](<{}>) | {} | {} | {} |",
                md(i.wg.as_str(), 64),
                md(&i.repo, 140),
                i.number,
                i.html_url.replace(['<', '>', ' ', '\n', '\r'], ""),
                md(&i.title, TITLE_CHARS),
                state,
                minute(i.updated_at)
            );
        }
        out.push('\n');
    }
    if !a.skipped_repos.is_empty() {
        let _ = writeln!(
            out,
            "### Repositories not checked ({})\n",
            a.skipped_repos.len()
        );
        for s in &a.skipped_repos {
            let _ = writeln!(out, "- {}: {}", md(&s.repo, 140), md(&s.reason, 300));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn sla_statuses() {
        let sla = Sla::default();
        let filed = t("2026-03-01T00:00:00Z");
        let at =
            |s: &str, state: State, sev: Option<Severity>| sla_info(state, sev, filed, &sla, t(s));
        let critical = Some(Severity::Critical);
        assert_eq!(
            at("2026-03-01T12:00:00Z", State::Triaged, critical).status,
            SlaStatus::Ok
        );
        assert_eq!(
            at("2026-03-02T13:00:00Z", State::Triaged, critical).status,
            SlaStatus::DueSoon
        );
        let late = at("2026-03-06T00:00:00Z", State::Triaged, critical);
        assert_eq!(late.status, SlaStatus::Overdue);
        assert_eq!(late.overdue_days, Some(3));
        assert_eq!(late.due_at, Some(t("2026-03-03T00:00:00Z")));
        // Unrated counts as critical by default; low has 90 days.
        assert_eq!(
            at("2026-03-06T00:00:00Z", State::New, None).status,
            SlaStatus::Overdue
        );
        assert_eq!(
            at("2026-03-06T00:00:00Z", State::Accepted, Some(Severity::Low)).status,
            SlaStatus::Ok
        );
        assert_eq!(
            at("2026-09-01T00:00:00Z", State::Scheduled, critical).status,
            SlaStatus::Scheduled
        );
        assert_eq!(
            at("2026-09-01T00:00:00Z", State::Published, critical).status,
            SlaStatus::Closed
        );
    }
}
