//! Embargo warnings: before a scheduled embargo ends (by default 14 and 2
//! days before, [`EmbargoPolicy::due_warnings`]), the team and the WG's
//! leads are told, once per warning, report and embargo end.
//!
//! Exactly once rests on the store: the warning is claimed
//! ([`embargo_store::Tx::claim_embargo_warning`], a primary key on
//! report, days and end) in the transaction that queues its mail, so any
//! number of schedulers (`serve` replicas, `publish --due`) may run at
//! once, and again and again: a claim that finds the warning recorded
//! rolls back and queues nothing.
//!
//! The mail follows the team-copy convention: encrypted to each
//! recipient's key and signed by the team key, with the end, the approvals
//! and the publication job's state; a recipient without a usable key gets
//! a content-free reminder (the tracking ID and the admin view, nothing
//! else), cleartext-signed by the team key.

use std::collections::BTreeMap;
use std::fmt;

use embargo_domain::{EmbargoPolicy, TrackingId, Warning, WgName};
use embargo_outbound::{Composed, Direct, OutboundError, TeamIdentity, one_per_address};
use embargo_pgp::{Cert, sign_cleartext};
use embargo_store::{Actor, EmbargoEnding, JobState, Store, StoreError};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::notices::NoticeRecipient;
use crate::time::EmbargoEnd;

/// Who is warned: the team, and the leads of the report's WG.
#[derive(Debug, Clone, Default)]
pub struct WarningRecipients {
    /// Members who see every report (admins and triagers).
    pub team: Vec<NoticeRecipient>,
    /// The leads of each WG (accounts and the WG registry).
    pub leads: BTreeMap<WgName, Vec<NoticeRecipient>>,
}

impl WarningRecipients {
    /// The team and the leads of `wg`, one per address (ASCII
    /// case-insensitive), the first with a key winning.
    pub fn for_wg(&self, wg: Option<&WgName>) -> Vec<&NoticeRecipient> {
        let leads = wg.and_then(|w| self.leads.get(w)).into_iter().flatten();
        one_per_address(
            self.team.iter().chain(leads),
            |r| r.address.as_str(),
            |r| r.cert.is_some(),
        )
    }
}

/// How warnings are written.
#[derive(Clone)]
pub struct EmbargoWarnings {
    pub team: TeamIdentity,
    pub recipients: WarningRecipients,
    /// The admin view's base URL (`web.public_url`); the mail links the
    /// report's page.
    pub admin_url: Option<String>,
    /// The IANA zone the end is shown in besides UTC (`publish.time_zone`).
    pub time_zone: String,
}

impl fmt::Debug for EmbargoWarnings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbargoWarnings")
            .field("team", &self.team)
            .field("team_members", &self.recipients.team.len())
            .field("wgs_with_leads", &self.recipients.leads.len())
            .field("time_zone", &self.time_zone)
            .finish_non_exhaustive()
    }
}

/// What a warning run did for one report (reports with nothing due, or
/// whose due warnings went out before, are not listed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum WarningOutcome {
    /// The warnings `days_before` were recorded and their mail queued
    /// (one message per recipient, whichever warnings it covers).
    Warned {
        id: TrackingId,
        days_before: Vec<u32>,
        embargo_until: Timestamp,
        recipients: usize,
        encrypted: usize,
    },
    /// The store failed; the next run tries again.
    Error {
        id: Option<TrackingId>,
        error: String,
        temporary: bool,
    },
}

fn store_error(id: Option<&TrackingId>, e: &StoreError) -> WarningOutcome {
    WarningOutcome::Error {
        id: id.cloned(),
        error: e.to_string(),
        temporary: e.is_temporary(),
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// `14 days`, `1 day 23 hours`, `5 hours 12 minutes`, `3 minutes`.
pub(crate) fn remaining(d: SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    let (days, hours, mins) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    match (days, hours) {
        (0, 0) => plural(mins, "minute"),
        (0, h) if mins == 0 => plural(h, "hour"),
        (0, h) => format!("{} {}", plural(h, "hour"), plural(mins, "minute")),
        (d, 0) => plural(d, "day"),
        (d, h) => format!("{} {}", plural(d, "day"), plural(h, "hour")),
    }
}

/// What the encrypted warning says about the agreement.
struct Status {
    title: Option<String>,
    approvals: Option<(usize, u8)>,
    job: Option<(JobState, Option<String>)>,
}

fn report_url(base: Option<&str>, id: &TrackingId) -> Option<String> {
    base.map(str::trim)
        .filter(|b| !b.is_empty())
        .map(|b| format!("{}/reports/{id}", b.trim_end_matches('/')))
}

fn warning_text(
    id: &TrackingId,
    end: &str,
    left: &str,
    status: &Status,
    url: Option<&str>,
) -> String {
    let mut t = format!("The embargo of {id} ends in {left}:\n\n  {end}\n\n");
    if let Some(title) = &status.title {
        t.push_str(&format!("Advisory: {title}\n"));
    }
    match status.approvals {
        Some((have, need)) if have >= usize::from(need) => t.push_str(&format!(
            "Approvals: {have} of {need}. The advisory is published automatically at the end.\n"
        )),
        Some((have, need)) => t.push_str(&format!(
            "Approvals: {have} of {need}. The advisory is NOT published until enough team members approve it.\n"
        )),
        None => t.push_str("No advisory is recorded: nothing is published at the end.\n"),
    }
    match &status.job {
        Some((JobState::Failed, error)) => t.push_str(&format!(
            "Publication: failed ({}); an admin must retry it.\n",
            error.as_deref().unwrap_or("no reason recorded")
        )),
        Some((state, _)) => t.push_str(&format!("Publication job: {}.\n", state.as_str())),
        None => {}
    }
    if let Some(url) = url {
        t.push_str(&format!("\nAdmin view: {url}\n"));
    }
    t.push_str(
        "\nThis reminder goes to the security team and the WG's leads; please do not forward it.\n",
    );
    t
}

fn notice_text(id: &TrackingId, url: Option<&str>) -> String {
    let mut t = format!(
        "A deadline of report {id} is approaching.\n\n\
         Details are not sent by mail because no usable OpenPGP key is on\n\
         file for you. Please read them in the admin view"
    );
    match url {
        Some(url) => t.push_str(&format!(":\n\n  {url}\n")),
        None => t.push_str(".\n"),
    }
    t.push_str("\nTo receive encrypted mail, ask an administrator to add your key.\n");
    t
}

/// The two versions of one warning.
struct Letter {
    /// Subject and text of the encrypted warning.
    subject: String,
    text: String,
    /// The content-free reminder.
    notice: String,
}

/// One message: encrypted to `cert` when it can be used, otherwise the
/// content-free notice, cleartext-signed.
fn compose_one(
    team: &TeamIdentity,
    id: &TrackingId,
    to: &str,
    cert: Option<&Cert>,
    letter: &Letter,
    now: Timestamp,
) -> Result<Composed, OutboundError> {
    let direct = Direct {
        team,
        tracking_id: id,
        to,
        now,
    };
    direct
        .encrypted_or(
            cert,
            &letter.subject,
            &letter.text,
            // An unusable key gets the notice, never the details in clear.
            |e| {
                tracing::warn!(report = %id, error = %e, "recipient key unusable; sending the content-free reminder")
            },
            || {
                let signed = sign_cleartext(&letter.notice, team.keyring())?;
                direct.compose(None, "Reminder", &signed)
            },
        )
        .map(|(c, _)| c)
}

/// Sends the embargo warnings due at `now` under `policy` (the
/// configured `embargo.warn_days`), each exactly once per report and
/// embargo end, however many runs there are, at once or one after the
/// other. Only `scheduled` reports whose embargo has not ended are
/// warned. Call it from every scheduler round; it does nothing when
/// nothing is due.
pub async fn send_embargo_warnings(
    store: &Store,
    warnings: &EmbargoWarnings,
    policy: &EmbargoPolicy,
    now: Timestamp,
) -> Vec<WarningOutcome> {
    let mut out = Vec::new();
    let Some(&furthest) = policy.warn_days().iter().max() else {
        return out;
    };
    let horizon = now
        .checked_add(SignedDuration::from_hours(24 * i64::from(furthest)))
        .unwrap_or(Timestamp::MAX);
    let ending = match store.embargoes_ending(now, horizon).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list embargoes ending soon");
            out.push(store_error(None, &e));
            return out;
        }
    };
    for e in ending {
        match warn_one(store, warnings, policy, &e, now).await {
            Ok(Some(o)) => {
                if let WarningOutcome::Warned {
                    id,
                    days_before,
                    recipients,
                    encrypted,
                    ..
                } = &o
                {
                    tracing::info!(report = %id, ?days_before, recipients, encrypted, "embargo warning sent");
                }
                out.push(o);
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(report = %e.report_id, error = %err, "embargo warning not sent; next round again");
                out.push(store_error(Some(&e.report_id), &err));
            }
        }
    }
    out
}

async fn warn_one(
    store: &Store,
    warnings: &EmbargoWarnings,
    policy: &EmbargoPolicy,
    e: &EmbargoEnding,
    now: Timestamp,
) -> Result<Option<WarningOutcome>, StoreError> {
    let id = &e.report_id;
    let until = e.embargo_until;
    let sent = store.sent_embargo_warnings(id).await?;
    // Ascending days: every run claims in the same order.
    let pending: Vec<Warning> = policy
        .due_warnings(until, now)
        .into_iter()
        .filter(|w| {
            !sent
                .iter()
                .any(|s| s.days_before == w.days_before && s.embargo_until == until)
        })
        .collect();
    if pending.is_empty() {
        return Ok(None);
    }

    let disclosure = store.get_disclosure(id).await?;
    let job = store.get_publication_job(id).await?;
    let status = Status {
        title: disclosure.as_ref().map(|d| d.advisory.title.clone()),
        approvals: disclosure
            .as_ref()
            .map(|d| (d.approvals.len(), d.approvals_required)),
        job: job.map(|j| (j.state, j.last_error)),
    };
    let end = EmbargoEnd::new(until, &warnings.time_zone)
        .or_else(|_| EmbargoEnd::new(until, "UTC"))
        .map(|e| e.to_string())
        .unwrap_or_else(|_| until.to_string());
    let left = remaining(until.duration_since(now));
    let url = report_url(warnings.admin_url.as_deref(), id);
    let letter = Letter {
        subject: format!("Embargo ends in {left}"),
        text: warning_text(id, &end, &left, &status, url.as_deref()),
        notice: notice_text(id, url.as_deref()),
    };

    let mut mails = Vec::new();
    let mut encrypted = 0usize;
    for r in warnings.recipients.for_wg(e.wg.as_ref()) {
        match compose_one(
            &warnings.team,
            id,
            &r.address,
            r.cert.as_ref(),
            &letter,
            now,
        ) {
            Ok(c) => {
                encrypted += usize::from(c.encrypted);
                mails.push(c.into_outbox(Some(id.clone())));
            }
            Err(err) => {
                tracing::warn!(report = %id, error = %err, "cannot compose an embargo warning for one recipient")
            }
        }
    }
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);

    let mut tx = store.begin().await?;
    let mut claimed = Vec::new();
    for w in &pending {
        if tx
            .claim_embargo_warning(
                id,
                w.days_before,
                until,
                count(mails.len()),
                count(encrypted),
                now,
            )
            .await?
        {
            claimed.push(w.days_before);
        }
    }
    if claimed.is_empty() {
        // Another run sent them meanwhile.
        tx.rollback().await?;
        return Ok(None);
    }
    for m in &mails {
        tx.enqueue_outbox(m, now).await?;
    }
    let which = claimed
        .iter()
        .map(|d| format!("{d} days"))
        .collect::<Vec<_>>()
        .join(" and ");
    tx.append_event(
        Some(id),
        &Actor::System,
        "embargo-warning",
        &format!(
            "warning {which} before the end ({until}): {} messages, {encrypted} encrypted",
            mails.len()
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Some(WarningOutcome::Warned {
        id: id.clone(),
        days_before: claimed,
        embargo_until: until,
        recipients: mails.len(),
        encrypted,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_time_reads_well() {
        let h = SignedDuration::from_hours;
        assert_eq!(remaining(h(24 * 14)), "14 days");
        assert_eq!(remaining(h(47)), "1 day 23 hours");
        assert_eq!(remaining(h(24)), "1 day");
        assert_eq!(
            remaining(h(5) + SignedDuration::from_mins(12)),
            "5 hours 12 minutes"
        );
        assert_eq!(remaining(h(1)), "1 hour");
        assert_eq!(remaining(SignedDuration::from_secs(61)), "1 minute");
        assert_eq!(remaining(SignedDuration::from_secs(-5)), "0 minutes");
    }

    #[test]
    fn recipients_are_the_team_and_the_wgs_leads() {
        let r = |a: &str| NoticeRecipient {
            address: a.to_owned(),
            cert: None,
        };
        let pipelines = WgName::parse("pipelines").unwrap();
        let notebooks = WgName::parse("notebooks").unwrap();
        let mut leads = BTreeMap::new();
        leads.insert(pipelines.clone(), vec![r("lead@x.org"), r("Admin@X.org")]);
        leads.insert(notebooks.clone(), vec![r("other-lead@x.org")]);
        let w = WarningRecipients {
            team: vec![r("admin@x.org"), r("triager@x.org"), r(" ")],
            leads,
        };
        let to = |wg: Option<&WgName>| -> Vec<String> {
            w.for_wg(wg).iter().map(|r| r.address.clone()).collect()
        };
        assert_eq!(
            to(Some(&pipelines)),
            ["admin@x.org", "triager@x.org", "lead@x.org"]
        );
        assert_eq!(to(None), ["admin@x.org", "triager@x.org"]);
    }

    #[test]
    fn notice_is_content_free() {
        let id: TrackingId = "SEC-2026-0001".parse().unwrap();
        let n = notice_text(&id, Some("https://embargo.example/reports/SEC-2026-0001"));
        assert!(n.contains("SEC-2026-0001"));
        assert!(!n.to_lowercase().contains("embargo ends"));
        let status = Status {
            title: Some("RCE in X".into()),
            approvals: Some((1, 2)),
            job: None,
        };
        let t = warning_text(&id, "2026-05-01 12:00 UTC", "14 days", &status, None);
        assert!(t.contains("RCE in X") && t.contains("1 of 2") && t.contains("NOT published"));
    }
}
