//! The disclosure section of the report page and its actions.
//!
//! * **Schedule** (`POST /reports/{id}/disclosure/schedule`): the embargo
//!   end as a date and a time in a chosen IANA time zone (the configured
//!   `publish.time_zone` preselected), the advisory (title, Markdown text,
//!   affected and fixed versions), the credit (the reporter's chosen name,
//!   or anonymous) and an optional CVE ID.
//! * **Approve** (`…/disclosure/approve`), **unschedule**
//!   (`…/disclosure/unschedule`), **withdraw** (`…/disclosure/withdraw`),
//!   and, for admins, **retry** of a failed publication
//!   (`…/disclosure/retry`).
//! * **Exports** of a published advisory: `GET
//!   /reports/{id}/advisory.osv.json` and `…/advisory.csaf.json`
//!   (`application/json`, `attachment`).
//!
//! Every decision is `embargo-publish`'s (the domain's embargo policy, the
//! two-person rule, resetting approvals when the end or the text changes,
//! the publication job): this module only reads forms, checks roles
//! ([`crate::authz`]: actions for everyone who may act on the report,
//! retry for admins only) and shows the outcome. A refusal is answered
//! with the reason (409), and leaves no trace.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Redirect, Response};
use embargo_domain::{Role, Severity, State as ReportState, TrackingId, WgName};
use embargo_publish::{AdvisoryInput, CsafPublisher, DisclosurePolicy, EmbargoEnd, PublishError};
use embargo_store::{JobState, PublicationJob};
use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::AppState;
use crate::actions::{EmptyForm, actionable, done, download, visible_report};
use crate::auth::{Authed, Current};
use crate::authz;
use crate::error::WebError;
use crate::pages::ts;
use crate::reports::SelectOpt;
use crate::text::{display_block, display_line, url_encode};

/// Zones offered besides the configured one (any IANA name is accepted).
const ZONES: [&str; 16] = [
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Helsinki",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Australia/Sydney",
    "Pacific/Auckland",
];

/// Largest advisory text accepted (GitHub's issue body limit is 65,536
/// characters; the rendered issue is checked again by `embargo-publish`).
const MAX_ADVISORY_BYTES: usize = 256 * 1024;
const MAX_FIELD_CHARS: usize = 1000;

// ---------------------------------------------------------------- the section

pub(crate) struct ApprovalView {
    pub login: String,
    pub at: String,
}

pub(crate) struct JobView {
    pub state: &'static str,
    pub due: String,
    pub attempts: u32,
    pub failed: bool,
    pub error: String,
    pub issue_url: String,
}

pub(crate) struct AgreementView {
    pub version: u32,
    /// The end in the configured zone and in UTC.
    pub end: String,
    /// The end in the zone it was just entered in, when that differs.
    pub end_entered: String,
    pub title: String,
    pub markdown: String,
    pub affected: String,
    pub fixed: String,
    pub credit: String,
    pub cve: String,
    pub scheduled_by: String,
    pub scheduled_at: String,
    pub published_url: String,
    pub published_at: String,
}

pub(crate) struct FormView {
    pub date: String,
    pub time: String,
    pub zones: Vec<SelectOpt>,
    pub title: String,
    pub markdown: String,
    pub affected: String,
    pub fixed: String,
    pub credit_name: String,
    pub anonymous: bool,
    pub cve: String,
}

/// What the report page shows about disclosure.
pub(crate) struct Section {
    pub agreement: Option<AgreementView>,
    pub approvals: Vec<ApprovalView>,
    pub approvals_required: u8,
    pub approved: bool,
    pub job: Option<JobView>,
    pub severity: &'static str,
    /// The embargo policy, in words.
    pub policy: String,
    pub zone: String,
    pub can_schedule: bool,
    pub can_approve: bool,
    /// Why this user cannot approve (already approved this version).
    pub approve_note: String,
    pub can_unschedule: bool,
    pub can_withdraw: bool,
    pub can_retry: bool,
    pub can_export: bool,
    pub form: FormView,
    /// The placeholder issue (`crate::placeholder`).
    pub placeholder: Option<crate::placeholder::PlaceholderView>,
}

/// The flash message of a disclosure action (`?done=`).
pub(crate) fn flash(done: &str) -> Option<&'static str> {
    Some(match done {
        "schedule" => "Disclosure scheduled.",
        "approve" => "Disclosure approved.",
        "unschedule" => "Disclosure unscheduled: the report is accepted again.",
        "withdraw-disclosure" => "Withdrawn: the publication is cancelled.",
        "retry-publication" => "Publication queued again.",
        other => return crate::placeholder::flash(other),
    })
}

fn zone_or_default(state: &AppState, zone: &str) -> String {
    let configured = state.config().time_zone.as_str();
    if !zone.is_empty() && TimeZone::get(zone).is_ok() {
        zone.to_owned()
    } else if TimeZone::get(configured).is_ok() {
        configured.to_owned()
    } else {
        "UTC".to_owned()
    }
}

fn zone_options(configured: &str, selected: &str) -> Vec<SelectOpt> {
    let mut names: Vec<&str> = vec![configured];
    if !names.contains(&selected) {
        names.push(selected);
    }
    for z in ZONES {
        if !names.contains(&z) {
            names.push(z);
        }
    }
    names
        .into_iter()
        .map(|z| SelectOpt {
            value: z.to_owned(),
            label: if z == configured {
                format!("{z} (configured)")
            } else {
                z.to_owned()
            },
            selected: z == selected,
        })
        .collect()
}

fn end_in(at: Timestamp, zone: &str) -> String {
    EmbargoEnd::new(at, zone)
        .or_else(|_| EmbargoEnd::new(at, "UTC"))
        .map(|e| e.to_string())
        .unwrap_or_else(|_| ts(at))
}

fn job_view(job: &PublicationJob) -> JobView {
    JobView {
        state: job.state.as_str(),
        due: ts(job.due_at),
        attempts: job.attempts,
        failed: job.state == JobState::Failed,
        error: job
            .last_error
            .as_deref()
            .map(|e| display_line(e, 500))
            .unwrap_or_default(),
        issue_url: job
            .issue_url
            .as_deref()
            .map(|u| display_line(u, 300))
            .unwrap_or_default(),
    }
}

/// Only `http(s)` links are made clickable.
fn link(url: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        display_line(url, 300)
    } else {
        String::new()
    }
}

/// The report's facts the section needs.
pub(crate) struct Facts<'a> {
    pub id: &'a TrackingId,
    pub state: ReportState,
    pub severity: Option<Severity>,
    pub created_at: Timestamp,
    pub wg: Option<&'a WgName>,
}

/// The disclosure section of a report the user may see; `None` for
/// reports that were never near disclosure. `entered_zone` is the zone an
/// end was just entered in (`?zone=`), shown besides the configured one.
pub(crate) async fn section(
    state: &AppState,
    current: &Current,
    facts: &Facts<'_>,
    entered_zone: &str,
) -> Result<Option<Section>, WebError> {
    // Before acceptance there is nothing to disclose (and no query).
    if matches!(facts.state, ReportState::New | ReportState::Triaged) {
        return Ok(None);
    }
    let store = state.store();
    let disclosure = store.get_disclosure(facts.id).await?;
    let near = matches!(
        facts.state,
        ReportState::Accepted | ReportState::Scheduled | ReportState::Published
    );
    if !near && disclosure.is_none() {
        return Ok(None);
    }
    let job = store.get_publication_job(facts.id).await?;
    let configured = zone_or_default(state, "");
    let entered = zone_or_default(state, entered_zone);
    let user = &current.user;
    let may_act = authz::may_act(user).is_ok();
    let open = matches!(facts.state, ReportState::Accepted | ReportState::Scheduled);
    let publishing = job.as_ref().is_some_and(|j| j.issue_url.is_some());
    let scheduled = facts.state == ReportState::Scheduled;

    let agreement = disclosure.as_ref().map(|d| {
        let a = &d.advisory;
        AgreementView {
            version: d.version,
            end: end_in(d.embargo_until, &configured),
            end_entered: if entered != configured {
                end_in(d.embargo_until, &entered)
            } else {
                String::new()
            },
            title: display_line(&a.title, 300),
            markdown: display_block(&a.markdown),
            affected: display_block(&a.affected),
            fixed: display_block(&a.fixed),
            credit: a
                .credit
                .as_deref()
                .map(|c| display_line(c, 200))
                .unwrap_or_default(),
            cve: a
                .cve
                .as_deref()
                .map(|c| display_line(c, 40))
                .unwrap_or_default(),
            scheduled_by: d.scheduled_by.to_string(),
            scheduled_at: ts(d.scheduled_at),
            published_url: d
                .published_issue_url
                .as_deref()
                .map(link)
                .unwrap_or_default(),
            published_at: d.published_at.map(ts).unwrap_or_default(),
        }
    });
    let approvals = disclosure
        .as_ref()
        .map(|d| {
            d.approvals
                .iter()
                .map(|a| ApprovalView {
                    login: a.login.to_string(),
                    at: ts(a.approved_at),
                })
                .collect()
        })
        .unwrap_or_default();
    let approved_by_me = disclosure
        .as_ref()
        .is_some_and(|d| d.approved_by(&user.login));
    let approved = disclosure.as_ref().is_some_and(|d| d.is_approved());
    let approve_note = match &disclosure {
        Some(d) if scheduled && approved_by_me && !approved => {
            if d.scheduled_by == user.login {
                "You scheduled this version, which counts as your approval; a different team member must approve it.".to_owned()
            } else {
                "You approved this version; a different team member must approve it.".to_owned()
            }
        }
        _ => String::new(),
    };

    let form = match &disclosure {
        Some(d) => {
            let local = d
                .embargo_until
                .to_zoned(TimeZone::get(&entered).unwrap_or(TimeZone::UTC));
            let a = &d.advisory;
            FormView {
                date: local.strftime("%Y-%m-%d").to_string(),
                time: local.strftime("%H:%M").to_string(),
                zones: zone_options(&configured, &entered),
                title: a.title.clone(),
                markdown: a.markdown.clone(),
                affected: a.affected.clone(),
                fixed: a.fixed.clone(),
                credit_name: a.credit.clone().unwrap_or_default(),
                anonymous: a.credit.is_none(),
                cve: a.cve.clone().unwrap_or_default(),
            }
        }
        None => FormView {
            date: String::new(),
            time: "14:00".to_owned(),
            zones: zone_options(&configured, &entered),
            title: String::new(),
            markdown: String::new(),
            affected: String::new(),
            fixed: String::new(),
            credit_name: String::new(),
            anonymous: false,
            cve: String::new(),
        },
    };
    let placeholder =
        crate::placeholder::view(state, current, facts.id, facts.state, facts.wg, publishing)
            .await?;
    let policy = &state.config().policy;
    let latest = policy.latest_end(facts.created_at);
    Ok(Some(Section {
        agreement,
        approvals,
        approvals_required: disclosure
            .as_ref()
            .map(|d| d.approvals_required)
            .unwrap_or(state.config().approvals_required),
        approved,
        job: job.as_ref().map(job_view),
        severity: facts.severity.map(|s| s.as_str()).unwrap_or(""),
        policy: format!(
            "The embargo may end at most {} days after the report, at {}.",
            policy.max_days(),
            end_in(latest, &configured)
        ),
        zone: configured,
        can_schedule: may_act && open && !publishing,
        can_approve: may_act && scheduled && disclosure.is_some() && !approved_by_me,
        approve_note,
        can_unschedule: may_act && scheduled && !publishing,
        can_withdraw: may_act && scheduled && !publishing,
        can_retry: user.role == Role::Admin
            && job.as_ref().is_some_and(|j| j.state == JobState::Failed),
        can_export: facts.state == ReportState::Published
            && disclosure
                .as_ref()
                .is_some_and(|d| d.published_issue_url.is_some()),
        form,
        placeholder,
    }))
}

// ---------------------------------------------------------------- actions

/// What the person who asked reads when `embargo-publish` refuses.
fn refused(e: PublishError) -> WebError {
    match e {
        PublishError::Store(s) => s.into(),
        PublishError::Refused(r) => WebError::Refused(format!("Refused: {r}.")),
        PublishError::Advisory(m) => {
            WebError::BadRequest(format!("The advisory cannot be published as given: {m}."))
        }
        PublishError::TimeZone(_) | PublishError::Instant(_) => WebError::BadRequest(e.to_string()),
        PublishError::GitHub(g) => WebError::Internal(g.to_string()),
        PublishError::NotPublished { .. } => WebError::NotFound,
        other => WebError::Refused(other.to_string()),
    }
}

fn policy(state: &AppState) -> DisclosurePolicy {
    DisclosurePolicy {
        embargo: state.config().policy.clone(),
        approvals_required: state.config().approvals_required,
    }
}

#[derive(Deserialize)]
pub(crate) struct ScheduleForm {
    date: String,
    time: String,
    #[serde(default)]
    zone: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    advisory: String,
    #[serde(default)]
    affected: String,
    #[serde(default)]
    fixed: String,
    /// `name` (credit `credit_name`) or `anonymous`.
    #[serde(default)]
    credit: String,
    #[serde(default)]
    credit_name: String,
    #[serde(default)]
    cve: String,
}

/// The instant of a date and a time in an IANA zone (a time skipped by a
/// daylight-saving change moves forward; a repeated one is the earlier).
fn instant(date: &str, time: &str, zone: &str) -> Result<Timestamp, WebError> {
    let bad = || {
        WebError::BadRequest(
            "Enter the embargo end as a date (YYYY-MM-DD) and a time (HH:MM).".to_owned(),
        )
    };
    let date: Date = date.trim().parse().map_err(|_| bad())?;
    let time: Time = time.trim().parse().map_err(|_| bad())?;
    let tz = TimeZone::get(zone.trim())
        .map_err(|_| WebError::BadRequest("Choose a time zone from the list.".to_owned()))?;
    date.to_datetime(time)
        .to_zoned(tz)
        .map(|z| z.timestamp())
        .map_err(|_| bad())
}

fn field(s: &str, what: &str) -> Result<String, WebError> {
    let s = s.trim();
    if s.chars().count() > MAX_FIELD_CHARS {
        return Err(WebError::BadRequest(format!(
            "The {what} is too long (at most {MAX_FIELD_CHARS} characters)."
        )));
    }
    Ok(s.to_owned())
}

pub(crate) async fn schedule(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
    Form(form): Form<ScheduleForm>,
) -> Result<Response, WebError> {
    let report = actionable(&state, &current, &id).await?;
    let zone = if form.zone.trim().is_empty() {
        zone_or_default(&state, "")
    } else {
        form.zone.trim().to_owned()
    };
    let until = instant(&form.date, &form.time, &zone)?;
    if form.advisory.len() > MAX_ADVISORY_BYTES {
        return Err(WebError::BadRequest(
            "The advisory text is too long (at most 256 KiB).".to_owned(),
        ));
    }
    let credit = match form.credit.as_str() {
        "anonymous" => None,
        "name" | "" => Some(field(&form.credit_name, "credit")?).filter(|c| !c.is_empty()),
        _ => {
            return Err(WebError::BadRequest(
                "Choose how to credit the reporter.".to_owned(),
            ));
        }
    };
    let input = AdvisoryInput {
        markdown: form.advisory.replace("\r\n", "\n"),
        title: field(&form.title, "title")?,
        affected: field(&form.affected, "affected versions")?,
        fixed: field(&form.fixed, "fixed versions")?,
        credit,
        cve: Some(field(&form.cve, "CVE ID")?).filter(|c| !c.is_empty()),
    };
    embargo_publish::schedule(
        state.store(),
        &report.id,
        until,
        &input,
        &current.user.login,
        Timestamp::now(),
        &policy(&state),
    )
    .await
    .map_err(refused)?;
    Ok(Redirect::to(&format!(
        "/reports/{}?done=schedule&zone={}",
        report.id,
        url_encode(&zone)
    ))
    .into_response())
}

pub(crate) async fn approve(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
    Form(_): Form<EmptyForm>,
) -> Result<Response, WebError> {
    let report = actionable(&state, &current, &id).await?;
    embargo_publish::approve(
        state.store(),
        &report.id,
        &current.user.login,
        Timestamp::now(),
    )
    .await
    .map_err(refused)?;
    Ok(done(&report.id, "approve"))
}

pub(crate) async fn unschedule(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
    Form(_): Form<EmptyForm>,
) -> Result<Response, WebError> {
    let report = actionable(&state, &current, &id).await?;
    embargo_publish::unschedule(
        state.store(),
        &report.id,
        &current.user.login,
        Timestamp::now(),
    )
    .await
    .map_err(refused)?;
    Ok(done(&report.id, "unschedule"))
}

/// The reporter withdrew a scheduled report: the publication is cancelled
/// with it (also what `POST /reports/{id}/withdraw` does for a scheduled
/// report).
pub(crate) async fn withdraw_scheduled(
    state: &AppState,
    current: &Current,
    id: &TrackingId,
) -> Result<Response, WebError> {
    embargo_publish::withdraw(state.store(), id, &current.user.login, Timestamp::now())
        .await
        .map_err(refused)?;
    Ok(done(id, "withdraw-disclosure"))
}

pub(crate) async fn withdraw(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
    Form(_): Form<EmptyForm>,
) -> Result<Response, WebError> {
    let report = actionable(&state, &current, &id).await?;
    withdraw_scheduled(&state, &current, &report.id).await
}

/// Admins only: a failed publication becomes pending again.
pub(crate) async fn retry(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
    Form(_): Form<EmptyForm>,
) -> Result<Response, WebError> {
    let report = visible_report(&state, &current, &id).await?;
    authz::admin_only(&current.user)?;
    embargo_publish::retry_job(
        state.store(),
        &report.id,
        &current.user.login,
        Timestamp::now(),
    )
    .await
    .map_err(refused)?;
    Ok(done(&report.id, "retry-publication"))
}

// ---------------------------------------------------------------- exports

/// A JSON document as a download: `application/json`, `attachment`,
/// `no-store` (`nosniff` and the CSP come from the global headers).
fn json_download(filename: &str, doc: &serde_json::Value) -> Result<Response, WebError> {
    let body = serde_json::to_string_pretty(doc)
        .map_err(|e| WebError::Internal(format!("export: {e}")))?;
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment; filename=\"advisory.json\""));
    Ok(download(body, "application/json", Some(disposition)))
}

/// Who publishes CSAF documents: configured, or the team's domain.
fn csaf_publisher(state: &AppState) -> CsafPublisher {
    if let Some(p) = &state.config().csaf_publisher {
        return p.clone();
    }
    let domain = state
        .inner()
        .team
        .as_ref()
        .and_then(|t| t.address().rsplit_once('@').map(|(_, d)| d.to_owned()))
        .unwrap_or_else(|| "localhost".to_owned());
    CsafPublisher {
        name: format!("{domain} security team"),
        namespace: format!("https://{domain}"),
    }
}

async fn export(
    state: &AppState,
    current: &Current,
    id: &str,
    format: &str,
) -> Result<Response, WebError> {
    let report = visible_report(state, current, id).await?;
    let adv = embargo_publish::published_advisory(state.store(), &report.id)
        .await
        .map_err(|e| match e {
            PublishError::NotPublished { .. } | PublishError::NoDisclosure(_) => WebError::NotFound,
            other => refused(other),
        })?;
    let (doc, what) = match format {
        "osv" => (embargo_publish::osv(&adv, None), "OSV JSON"),
        _ => (
            embargo_publish::csaf(&adv, &csaf_publisher(state)),
            "CSAF 2.0",
        ),
    };
    state
        .store()
        .append_event(
            Some(&report.id),
            &current.actor(),
            "exported",
            what,
            Timestamp::now(),
        )
        .await?;
    json_download(&format!("{}.{format}.json", report.id), &doc)
}

pub(crate) async fn osv(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    export(&state, &current, &id, "osv").await
}

pub(crate) async fn csaf(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    export(&state, &current, &id, "csaf").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_in_zones() {
        let t = instant("2026-05-01", "14:00", "Europe/Berlin").unwrap();
        assert_eq!(t, "2026-05-01T12:00:00Z".parse::<Timestamp>().unwrap());
        let t = instant(" 2026-01-15 ", "09:30", "America/New_York").unwrap();
        assert_eq!(t, "2026-01-15T14:30:00Z".parse::<Timestamp>().unwrap());
        assert!(matches!(
            instant("2026-05-01", "14:00", "Mars/Olympus"),
            Err(WebError::BadRequest(_))
        ));
        for (d, t) in [
            ("2026-13-01", "14:00"),
            ("tomorrow", "14:00"),
            ("2026-05-01", "25:00"),
        ] {
            assert!(matches!(instant(d, t, "UTC"), Err(WebError::BadRequest(_))));
        }
    }

    #[test]
    fn zones_offered() {
        let z = zone_options("Europe/Vienna", "Asia/Tokyo");
        assert_eq!(z[0].value, "Europe/Vienna");
        assert!(z[0].label.contains("configured"));
        assert!(z.iter().filter(|o| o.selected).count() == 1);
        assert!(z.iter().any(|o| o.selected && o.value == "Asia/Tokyo"));
    }

    #[test]
    fn flashes() {
        assert!(flash("schedule").is_some());
        assert!(flash("<b>").is_none());
        assert_eq!(link("javascript:alert(1)"), "");
    }
}
