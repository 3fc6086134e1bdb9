//! The placeholder issue from the admin view (Kubernetes practice,
//! optional per WG: `placeholder = true` in its `[[wg]]` table).
//!
//! * **On accept** ([`after_accept`]): when the report's WG wants one, the
//!   vague public placeholder issue is opened through
//!   [`embargo_publish::open_placeholder`] with the WG targets of the
//!   registry in effect (read again on every use, like the scheduler
//!   does). The accept has committed before and stands whatever happens
//!   here: a failure is logged (tracking ID and reason, never content),
//!   recorded in the audit trail with its reason, and told in the flash.
//! * **On the report page** ([`view`], in the disclosure section): the
//!   placeholder's URL; or, from the store's placeholder job, that an
//!   attempt is opening it right now (until its lease ends), or that it is
//!   missing with the reason the last attempt recorded; with **retry** for
//!   admins (`POST /reports/{id}/placeholder/retry`) unless an attempt is
//!   in progress.
//!
//! Exactly once: `open_placeholder` claims the report's placeholder job
//! with a lease (`[publish] lease_seconds`) before it looks for the
//! report's marker and creates, so two admins retrying at once, a CLI
//! accept racing a retry, or two replicas open one issue (the second
//! attempt gets "in progress" and a flash), and a retry after a lost
//! response finds the issue by its marker instead of opening a second one.
//! At the embargo end the publication fills the placeholder in.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use embargo_domain::{Role, State as ReportState, TrackingId, WgName};
use embargo_publish::{PlaceholderOutcome, WgRepos};
use embargo_store::{Actor, JobState};
use jiff::Timestamp;

use crate::AppState;
use crate::actions::{EmptyForm, done, visible_report};
use crate::auth::{Authed, Current};
use crate::authz;
use crate::error::WebError;
use crate::pages::ts;
use crate::text::display_line;

/// What the disclosure section shows about the placeholder issue.
pub(crate) struct PlaceholderView {
    /// The issue's URL (`http(s)` only); empty while it is missing.
    pub url: String,
    /// The WG wants one, the report is accepted or scheduled, none is
    /// recorded, and no attempt is in progress.
    pub missing: bool,
    /// Why the last attempt failed, as the store recorded it; empty when
    /// no failure is recorded.
    pub error: String,
    /// An attempt holds the placeholder job's lease: until when; empty
    /// otherwise.
    pub in_progress_until: String,
    /// GitHub is configured in this deployment.
    pub github: bool,
    pub can_retry: bool,
}

/// The flash message of a placeholder outcome (`?done=`).
pub(crate) fn flash(done: &str) -> Option<&'static str> {
    Some(match done {
        "accept-placeholder" => "Accepted. The placeholder issue is open.",
        "accept-placeholder-failed" => {
            "Accepted. The placeholder issue could not be opened (the reason is in the audit trail); an admin can retry it in the disclosure section."
        }
        "placeholder" => "The placeholder issue is open.",
        "placeholder-failed" => {
            "The placeholder issue could not be opened; the reason is shown below and in the audit trail."
        }
        "placeholder-not-wanted" => "This report's WG does not use placeholder issues.",
        "accept-placeholder-busy" => {
            "Accepted. Another attempt is opening the placeholder issue right now."
        }
        "placeholder-busy" => {
            "Another attempt is opening the placeholder issue right now: nothing was done. Reload the page in a moment."
        }
        _ => return None,
    })
}

/// One attempt to open the placeholder of `id`; a failure is logged and
/// recorded in the audit trail with its reason.
async fn attempt(state: &AppState, id: &TrackingId) -> Result<PlaceholderOutcome, ()> {
    let setup = &state.config().review;
    let result = async {
        let publisher = setup
            .placeholders
            .as_ref()
            .ok_or_else(|| "GitHub is not configured (github.token)".to_owned())?;
        let registry = crate::review::registry(state)
            .await
            .map_err(|e| format!("WG registry: {e}"))?;
        let targets = WgRepos::from_registry(&registry, &setup.placeholder_wgs);
        publisher
            .open_placeholder(state.store(), &targets, id, Timestamp::now())
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    let reason = match result {
        Ok(outcome) => return Ok(outcome),
        Err(reason) => reason,
    };
    tracing::warn!(report = %id, error = %reason, "placeholder issue not opened");
    if let Err(e) = state
        .store()
        .append_event(
            Some(id),
            &Actor::System,
            "placeholder-failed",
            &format!("placeholder issue not opened: {reason}"),
            Timestamp::now(),
        )
        .await
    {
        tracing::warn!(report = %id, error = %e, "placeholder failure not recorded");
    }
    Err(())
}

/// After an accept has committed: opens the placeholder issue when the
/// report's WG wants one. The flash to show instead of the plain
/// "Accepted.", or `None` when the WG has no placeholder.
pub(crate) async fn after_accept(
    state: &AppState,
    id: &TrackingId,
    wg: Option<&WgName>,
) -> Option<&'static str> {
    let wg = wg?;
    if !state.config().review.placeholder_wgs.contains(wg) {
        return None;
    }
    match attempt(state, id).await {
        Ok(PlaceholderOutcome::Opened { .. } | PlaceholderOutcome::Existing { .. }) => {
            Some("accept-placeholder")
        }
        Ok(PlaceholderOutcome::NotWanted { .. }) => None,
        Ok(PlaceholderOutcome::InProgress { .. }) => Some("accept-placeholder-busy"),
        Err(()) => Some("accept-placeholder-failed"),
    }
}

/// The placeholder part of the disclosure section; `None` when there is
/// nothing to say (no placeholder recorded, none wanted, or the issue
/// already being published).
pub(crate) async fn view(
    state: &AppState,
    current: &Current,
    id: &TrackingId,
    report_state: ReportState,
    wg: Option<&WgName>,
    publishing: bool,
) -> Result<Option<PlaceholderView>, WebError> {
    let github = state.config().review.placeholders.is_some();
    if let Some(p) = state.store().get_placeholder_issue(id).await? {
        let url = if p.url.starts_with("https://") || p.url.starts_with("http://") {
            display_line(&p.url, 300)
        } else {
            String::new()
        };
        return Ok(Some(PlaceholderView {
            url,
            missing: false,
            error: String::new(),
            in_progress_until: String::new(),
            github,
            can_retry: false,
        }));
    }
    let wanted = wg.is_some_and(|w| state.config().review.placeholder_wgs.contains(w));
    let open = matches!(report_state, ReportState::Accepted | ReportState::Scheduled);
    if !wanted || !open || publishing {
        return Ok(None);
    }
    let job = state.store().get_placeholder_job(id).await?;
    let now = Timestamp::now();
    let in_progress_until = job
        .as_ref()
        .filter(|j| j.in_progress(now))
        .and_then(|j| j.lease_until)
        .map(ts)
        .unwrap_or_default();
    let error = job
        .as_ref()
        .filter(|j| j.state == JobState::Failed)
        .and_then(|j| j.last_error.as_deref())
        .map(|e| display_line(e, 500))
        .unwrap_or_default();
    let in_progress = !in_progress_until.is_empty();
    Ok(Some(PlaceholderView {
        url: String::new(),
        missing: !in_progress,
        error,
        in_progress_until,
        github,
        can_retry: !in_progress && current.user.role == Role::Admin,
    }))
}

/// Admins only: opens the missing placeholder issue of an accepted or
/// scheduled report (found by its marker when an earlier attempt opened
/// it but its answer was lost). The request is audited; a failure is
/// recorded with its reason (audit trail and placeholder job); while
/// another attempt holds the job, nothing is done (flash).
pub(crate) async fn retry(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
    Form(_): Form<EmptyForm>,
) -> Result<Response, WebError> {
    let report = visible_report(&state, &current, &id).await?;
    authz::admin_only(&current.user)?;
    if !matches!(report.state, ReportState::Accepted | ReportState::Scheduled) {
        return Err(WebError::Refused(
            "Refused: a placeholder issue is opened only for an accepted or scheduled report."
                .to_owned(),
        ));
    }
    state
        .store()
        .append_event(
            Some(&report.id),
            &current.actor(),
            "placeholder-retry",
            "retry of the placeholder issue",
            Timestamp::now(),
        )
        .await?;
    let what = match attempt(&state, &report.id).await {
        Ok(PlaceholderOutcome::Opened { .. } | PlaceholderOutcome::Existing { .. }) => {
            "placeholder"
        }
        Ok(PlaceholderOutcome::NotWanted { .. }) => "placeholder-not-wanted",
        Ok(PlaceholderOutcome::InProgress { .. }) => "placeholder-busy",
        Err(()) => "placeholder-failed",
    };
    Ok(done(&report.id, what))
}
