//! Agreement: the embargo end and the advisory text, approvals, and taking
//! the agreement back (unschedule, withdrawal).
//!
//! Every step is one store transaction that locks the report first (then
//! the disclosure, then the publication job), decides through
//! [`Report::apply`], and writes the state, the audit event, the
//! disclosure and the job together. The publication job exists only while
//! the current version of the disclosure has enough approvals; a step that
//! would change a disclosure whose publication is under way (a live lease,
//! or the issue already recorded) is refused instead.

use std::fmt;

use embargo_domain::{Action, EmbargoPolicy, Login, Refusal, Report, Severity, State, TrackingId};
use embargo_github::{Advisory, IssueDraft};
use embargo_store::{
    Actor, AdvisoryText, DisclosureWrite, JobRelease, MAX_APPROVALS_REQUIRED, Store, Tx,
};
use jiff::Timestamp;
use serde::Serialize;

use crate::error::PublishError;

/// The public advisory as the team agreed it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdvisoryInput {
    /// The advisory (Markdown).
    pub markdown: String,
    pub title: String,
    /// Affected versions, free text (e.g. `< 2.3.1`).
    pub affected: String,
    /// Fixed versions, free text (e.g. `2.3.1`).
    pub fixed: String,
    /// The reporter's chosen name; `None`: anonymous.
    pub credit: Option<String>,
    /// `CVE-YYYY-NNNN…`, when assigned.
    pub cve: Option<String>,
}

impl fmt::Debug for AdvisoryInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdvisoryInput")
            .field("title_len", &self.title.len())
            .field("markdown_len", &self.markdown.len())
            .finish_non_exhaustive()
    }
}

const FRONT_MATTER_KEYS: [&str; 5] = ["title", "affected", "fixed", "credit", "cve"];

impl AdvisoryInput {
    /// Reads an advisory file (`report schedule --advisory FILE`): Markdown,
    /// optionally opened by a front-matter block of `key: value` lines
    /// between two `---` lines, keys `title`, `affected`, `fixed`, `credit`
    /// (`anonymous` or absent: no credit) and `cve`:
    ///
    /// ```text
    /// ---
    /// title: Arbitrary code execution in the pipeline API server
    /// affected: < 2.3.1
    /// fixed: 2.3.1
    /// credit: Jane Doe
    /// cve: CVE-2026-12345
    /// ---
    /// A crafted pipeline spec lets an attacker …
    /// ```
    ///
    /// Without a `title` key, the first `# Heading` line is the title (and
    /// is taken out of the text).
    pub fn from_markdown_file(text: &str) -> Result<Self, PublishError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let text = text.replace("\r\n", "\n");
        let mut input = AdvisoryInput {
            markdown: String::new(),
            title: String::new(),
            affected: String::new(),
            fixed: String::new(),
            credit: None,
            cve: None,
        };
        let body = match text.strip_prefix("---\n") {
            Some(rest) => {
                let (head, body) = match rest.split_once("\n---\n") {
                    Some(parts) => parts,
                    None => match rest.strip_suffix("\n---") {
                        Some(head) => (head, ""),
                        None => {
                            return Err(PublishError::Advisory(
                                "front matter opened by --- is not closed by ---".to_owned(),
                            ));
                        }
                    },
                };
                for (n, line) in head.lines().enumerate() {
                    if line.trim().is_empty() || line.trim_start().starts_with('#') {
                        continue;
                    }
                    let Some((key, value)) = line.split_once(':') else {
                        return Err(PublishError::Advisory(format!(
                            "front matter line {} is not `key: value`",
                            n + 2
                        )));
                    };
                    let key = key.trim().to_ascii_lowercase();
                    let value = value.trim().to_owned();
                    match key.as_str() {
                        "title" => input.title = value,
                        "affected" => input.affected = value,
                        "fixed" => input.fixed = value,
                        "credit" => {
                            input.credit = (!value.eq_ignore_ascii_case("anonymous")
                                && !value.is_empty())
                            .then_some(value)
                        }
                        "cve" => input.cve = (!value.is_empty()).then_some(value),
                        other => {
                            return Err(PublishError::Advisory(format!(
                                "unknown front matter key {:?} (expected one of {})",
                                other.chars().take(32).collect::<String>(),
                                FRONT_MATTER_KEYS.join(", ")
                            )));
                        }
                    }
                }
                body.to_owned()
            }
            None => text,
        };
        let mut body = body;
        if input.title.trim().is_empty() {
            let mut lines: Vec<&str> = body.lines().collect();
            let heading = lines.iter().position(|l| {
                let t = l.trim_start();
                t.starts_with("# ") || (t.starts_with('#') && t.len() > 1 && !t.starts_with("##"))
            });
            if let Some(i) = heading {
                let line = lines.remove(i);
                input.title = line.trim_start().trim_start_matches('#').trim().to_owned();
                body = lines.join("\n");
            }
        }
        input.markdown = body.trim_matches('\n').to_owned();
        input.normalized()?;
        Ok(input)
    }

    /// Trimmed, blanks dropped, CVE upper-case; checks what can be checked
    /// without the report (title present, CVE shape).
    fn normalized(&self) -> Result<AdvisoryText, PublishError> {
        let title = self.title.split_whitespace().collect::<Vec<_>>().join(" ");
        if title.is_empty() {
            return Err(PublishError::Advisory(
                "the advisory needs a title".to_owned(),
            ));
        }
        let opt = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Ok(AdvisoryText {
            title,
            markdown: self.markdown.trim_end().to_owned(),
            affected: self.affected.trim().to_owned(),
            fixed: self.fixed.trim().to_owned(),
            credit: opt(&self.credit),
            cve: opt(&self.cve).map(|c| c.to_ascii_uppercase()),
        })
    }
}

/// The configurable rules of agreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosurePolicy {
    /// How far out the embargo end may be (default 90 days after the report).
    pub embargo: EmbargoPolicy,
    /// Approvals needed before publication (`publish.approvals`, default 1:
    /// the scheduling member's own). 2 is the two-person rule.
    pub approvals_required: u8,
}

impl Default for DisclosurePolicy {
    fn default() -> Self {
        Self {
            embargo: EmbargoPolicy::default(),
            approvals_required: 1,
        }
    }
}

/// The result of [`schedule`] (`report schedule` prints it as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleOutcome {
    pub id: TrackingId,
    pub state: State,
    pub embargo_until: Timestamp,
    /// The disclosure version now current.
    pub version: u32,
    /// `created`, `changed` (approvals reset) or `unchanged`.
    pub change: &'static str,
    pub approvals: Vec<Login>,
    pub approvals_required: u8,
    /// Enough approvals: the publication is due at `embargo_until`.
    pub approved: bool,
}

/// The result of [`approve`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalStatus {
    pub id: TrackingId,
    pub version: u32,
    pub embargo_until: Timestamp,
    pub approvals: Vec<Login>,
    pub approvals_required: u8,
    pub approved: bool,
}

fn change_name(w: DisclosureWrite) -> &'static str {
    match w {
        DisclosureWrite::Created => "created",
        DisclosureWrite::Changed => "changed",
        DisclosureWrite::Unchanged => "unchanged",
    }
}

/// The GitHub rendering input of a stored advisory.
pub(crate) fn github_advisory(id: &TrackingId, severity: Severity, a: &AdvisoryText) -> Advisory {
    Advisory {
        tracking_id: id.clone(),
        title: a.title.clone(),
        severity,
        affected_versions: a.affected.clone(),
        fixed_versions: a.fixed.clone(),
        advisory_markdown: a.markdown.clone(),
        credit: a.credit.clone(),
        cve: a.cve.clone(),
    }
}

/// Takes back the job before the agreement changes; refuses while a
/// publication is under way.
async fn release_job(tx: &mut Tx<'_>, id: &TrackingId, now: Timestamp) -> Result<(), PublishError> {
    match tx.release_publication_job(id, now).await? {
        JobRelease::NoJob | JobRelease::Released => Ok(()),
        JobRelease::Busy { lease_until } => Err(PublishError::Busy {
            id: id.clone(),
            lease_until,
        }),
        JobRelease::IssueExists { issue_url } => Err(PublishError::IssueExists {
            id: id.clone(),
            issue_url,
        }),
        JobRelease::Done => Err(PublishError::Refused(Refusal::Closed(State::Published))),
    }
}

/// Records agreed disclosure (`report schedule ID --at … --advisory … --by
/// LOGIN`, or the admin view): the embargo end `until` and the advisory,
/// state `scheduled`. An end that breaks the embargo policy is refused with
/// the domain's reason ([`PublishError::Refused`]). Scheduling again with a
/// different end or text makes a new version of the disclosure and resets
/// approvals; `by` counts as the first approval of the version. The
/// publication becomes due at `until` once `policy.approvals_required`
/// members approved.
pub async fn schedule(
    store: &Store,
    id: &TrackingId,
    until: Timestamp,
    advisory: &AdvisoryInput,
    by: &Login,
    now: Timestamp,
    policy: &DisclosurePolicy,
) -> Result<ScheduleOutcome, PublishError> {
    let required = policy.approvals_required;
    if !(1..=MAX_APPROVALS_REQUIRED).contains(&required) {
        return Err(PublishError::ApprovalsRequired {
            max: MAX_APPROVALS_REQUIRED,
        });
    }
    let text = advisory.normalized()?;
    let mut tx = store.begin().await?;
    tx.lock_report(id).await?;
    let report = tx.load_domain_report(id).await?;
    let next = report.apply(&Action::Schedule { until }, now, &policy.embargo)?;
    // Refuse now what could not be published at the end.
    let severity = next
        .severity
        .ok_or_else(|| PublishError::Advisory("the report has no severity".to_owned()))?;
    IssueDraft::render(&github_advisory(id, severity, &text), &[] as &[&str])
        .map_err(|e| PublishError::Advisory(e.to_string()))?;

    let (version, write) = tx
        .put_disclosure(id, until, &text, required, by, now)
        .await?;
    let detail = format!(
        "embargo until {until}; disclosure version {version} ({})",
        change_name(write)
    );
    tx.apply_report_update(
        report.state,
        &next,
        &Actor::User(by.clone()),
        "scheduled",
        &detail,
        now,
    )
    .await?;
    tx.add_approval(id, version, by, now).await?;
    let disclosure = tx
        .get_disclosure(id)
        .await?
        .ok_or_else(|| PublishError::NoDisclosure(id.clone()))?;
    release_job(&mut tx, id, now).await?;
    let approved = disclosure.is_approved();
    if approved {
        tx.upsert_publication_job(id, until, now).await?;
    }
    tx.commit().await?;
    tracing::info!(report = %id, version, approved, "disclosure scheduled");
    Ok(ScheduleOutcome {
        id: id.clone(),
        state: next.state,
        embargo_until: until,
        version,
        change: change_name(write),
        approvals: disclosure.approvals.into_iter().map(|a| a.login).collect(),
        approvals_required: required,
        approved,
    })
}

/// A team member approves the current version of a scheduled disclosure.
/// Each member approves a version once ([`PublishError::AlreadyApproved`]),
/// so under the two-person rule a second, different member is needed.
/// With enough approvals the publication becomes due at the embargo end.
pub async fn approve(
    store: &Store,
    id: &TrackingId,
    by: &Login,
    now: Timestamp,
) -> Result<ApprovalStatus, PublishError> {
    let mut tx = store.begin().await?;
    tx.lock_report(id).await?;
    let report = tx.load_domain_report(id).await?;
    if report.state != State::Scheduled {
        return Err(PublishError::Refused(if report.state.is_closed() {
            Refusal::Closed(report.state)
        } else {
            Refusal::NotScheduled(report.state)
        }));
    }
    let disclosure = tx
        .get_disclosure(id)
        .await?
        .ok_or_else(|| PublishError::NoDisclosure(id.clone()))?;
    if disclosure.approved_by(by) {
        return Err(PublishError::AlreadyApproved { login: by.clone() });
    }
    tx.add_approval(id, disclosure.version, by, now).await?;
    let disclosure = tx
        .get_disclosure(id)
        .await?
        .ok_or_else(|| PublishError::NoDisclosure(id.clone()))?;
    let approved = disclosure.is_approved();
    if approved {
        tx.upsert_publication_job(id, disclosure.embargo_until, now)
            .await?;
    }
    tx.append_event(
        Some(id),
        &Actor::User(by.clone()),
        "approved",
        &format!(
            "disclosure version {} ({} of {} approvals)",
            disclosure.version,
            disclosure.approvals.len(),
            disclosure.approvals_required
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(report = %id, version = disclosure.version, approved, "disclosure approved");
    Ok(ApprovalStatus {
        id: id.clone(),
        version: disclosure.version,
        embargo_until: disclosure.embargo_until,
        approvals: disclosure.approvals.into_iter().map(|a| a.login).collect(),
        approvals_required: disclosure.approvals_required,
        approved,
    })
}

/// Takes `action` (unschedule or withdraw) back to the report: cancels the
/// publication job and voids the approvals.
async fn take_back(
    store: &Store,
    id: &TrackingId,
    action: Action,
    kind: &str,
    by: &Login,
    now: Timestamp,
) -> Result<Report, PublishError> {
    let mut tx = store.begin().await?;
    tx.lock_report(id).await?;
    let report = tx.load_domain_report(id).await?;
    let next = report.apply(&action, now, &EmbargoPolicy::default())?;
    tx.get_disclosure(id).await?;
    release_job(&mut tx, id, now).await?;
    tx.apply_report_update(report.state, &next, &Actor::User(by.clone()), kind, "", now)
        .await?;
    tx.invalidate_approvals(id, now).await?;
    tx.commit().await?;
    tracing::info!(report = %id, kind, "disclosure taken back");
    Ok(next)
}

/// Disclosure is no longer agreed: back to `accepted`, the publication job
/// cancelled, approvals void (the advisory text is kept for the next
/// [`schedule`]). Refused while the publication is under way.
pub async fn unschedule(
    store: &Store,
    id: &TrackingId,
    by: &Login,
    now: Timestamp,
) -> Result<Report, PublishError> {
    take_back(store, id, Action::Unschedule, "unscheduled", by, now).await
}

/// The reporter withdrew the report: state `withdrawn`, any publication
/// job cancelled, approvals void. Refused while the publication is under
/// way (then it is too late to withdraw).
pub async fn withdraw(
    store: &Store,
    id: &TrackingId,
    by: &Login,
    now: Timestamp,
) -> Result<Report, PublishError> {
    take_back(store, id, Action::Withdraw, "withdrawn", by, now).await
}

/// An admin retries a failed publication (after fixing what GitHub
/// refused): the job becomes pending, due now (never before the embargo
/// end: the publisher checks again).
pub async fn retry_job(
    store: &Store,
    id: &TrackingId,
    by: &Login,
    now: Timestamp,
) -> Result<(), PublishError> {
    let mut tx = store.begin().await?;
    if !tx.retry_publication_job(id, now).await? {
        return Err(PublishError::NotFailed(id.clone()));
    }
    tx.append_event(
        Some(id),
        &Actor::User(by.clone()),
        "publication-retry",
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(report = %id, "failed publication retried");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn front_matter() {
        let a = AdvisoryInput::from_markdown_file(
            "---\ntitle: RCE in the API server\naffected: < 2.3.1\nfixed: 2.3.1\ncredit: Jane Doe\ncve: cve-2026-12345\n---\nA crafted spec runs code.\n\nUpgrade.\n",
        )
        .unwrap();
        assert_eq!(a.title, "RCE in the API server");
        assert_eq!(a.affected, "< 2.3.1");
        assert_eq!(a.fixed, "2.3.1");
        assert_eq!(a.credit.as_deref(), Some("Jane Doe"));
        assert_eq!(a.markdown, "A crafted spec runs code.\n\nUpgrade.");
        assert_eq!(
            a.normalized().unwrap().cve.as_deref(),
            Some("CVE-2026-12345")
        );

        let a = AdvisoryInput::from_markdown_file(
            "---\r\ncredit: anonymous\r\n---\r\n# The title\r\n\r\nText.\r\n",
        )
        .unwrap();
        assert_eq!(a.title, "The title");
        assert_eq!(a.credit, None);
        assert_eq!(a.markdown, "Text.");

        let a = AdvisoryInput::from_markdown_file("# Only a heading\nbody\n## Sub\n").unwrap();
        assert_eq!(a.title, "Only a heading");
        assert_eq!(a.markdown, "body\n## Sub");

        for bad in [
            "no title here",
            "---\ntitle: x\n",
            "---\nfixd: 1\n---\n# t\n",
            "---\njust text\n---\n# t\n",
        ] {
            assert!(
                matches!(
                    AdvisoryInput::from_markdown_file(bad),
                    Err(PublishError::Advisory(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn debug_hides_text() {
        let a = AdvisoryInput::from_markdown_file("# Secret title\nsecret body").unwrap();
        let s = format!("{a:?}");
        assert!(!s.contains("ecret"), "{s}");
    }
}
