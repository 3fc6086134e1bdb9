//! The WG-lead digest: per WG, to its leads, once per period.
//!
//! A digest lists the WG's reports that are
//! - **new**: routed to the WG (triaged; filed, when not triaged yet) since
//!   the WG's previous digest, or within the last period when there was
//!   none;
//! - **overdue**: open (`new`, `triaged`, `accepted`) past the SLA of their
//!   severity, counted from filing ([`Sla`]: critical 2 days, high 7,
//!   medium 30, low 90, unrated as critical);
//! - **open**: the other open reports;
//! - **scheduled**: disclosure agreed, with the date.
//!
//! Periods are aligned on Monday 1970-01-05 00:00 UTC (weekly digests run
//! Monday to Monday, UTC). [`run_digests`] sends each WG's digest at the
//! first call within a period and records it in the same transaction as the
//! queued mail, so any number of processes calling it send each digest
//! once. WGs with nothing to report are skipped (unless
//! [`DigestOptions::send_empty`]) and not recorded, so a report routed later
//! in the period still gets its digest out.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use embargo_domain::{Role, State, TrackingId, TrackingPrefix, WgName};
use embargo_outbound::TeamIdentity;
use embargo_store::{DigestKind, ReportFilter, ReportSummary, Sla, Store};
use embargo_wg::Registry;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::agenda::{SlaStatus, sla_info};
use crate::mail::{LeadMail, MailText, compose_all, queue_once, wg_leads};
use crate::text::{day, minute, one_line, whole_days};
use crate::{Result, ReviewError};

/// Monday 1970-01-05 00:00 UTC, in ms: the anchor of digest periods.
const ANCHOR_MS: i64 = 4 * 86_400_000;

/// Longest subject shown in a digest line.
const SUBJECT_CHARS: usize = 120;

/// How digests are made.
#[derive(Debug, Clone)]
pub struct DigestOptions {
    pub sla: Sla,
    /// One digest per WG per period. Default: 7 days.
    pub period: SignedDuration,
    /// The admin view, linked from digests and notices.
    pub admin_url: Option<String>,
    /// Prefix of the digest's reference in subjects (`DIGEST-2026-2939`).
    /// Must differ from the report prefix, so replies never thread into a
    /// report.
    pub reference_prefix: String,
    /// Also send a digest when a WG has nothing to report.
    pub send_empty: bool,
}

impl Default for DigestOptions {
    fn default() -> Self {
        Self {
            sla: Sla::default(),
            period: SignedDuration::from_hours(24 * 7),
            admin_url: None,
            reference_prefix: "DIGEST".to_owned(),
            send_empty: false,
        }
    }
}

pub(crate) fn parse_prefix(s: &str) -> Result<TrackingPrefix> {
    TrackingPrefix::parse(s).map_err(|e| ReviewError::Invalid(format!("reference prefix: {e}")))
}

/// One report in a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestItem {
    pub id: TrackingId,
    pub subject: String,
    pub state: State,
    pub severity: Option<embargo_domain::Severity>,
    pub created_at: Timestamp,
    pub due_at: Option<Timestamp>,
    pub embargo_until: Option<Timestamp>,
}

/// What one WG's digest holds (also for the admin view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WgDigest {
    pub wg: WgName,
    pub period_start: Timestamp,
    pub period_end: Timestamp,
    /// New since this instant.
    pub new_since: Timestamp,
    pub new: Vec<DigestItem>,
    pub overdue: Vec<DigestItem>,
    pub open: Vec<DigestItem>,
    pub scheduled: Vec<DigestItem>,
}

impl WgDigest {
    pub fn is_empty(&self) -> bool {
        self.new.is_empty()
            && self.overdue.is_empty()
            && self.open.is_empty()
            && self.scheduled.is_empty()
    }
}

fn period_ms(period: SignedDuration) -> Result<i64> {
    let ms = i64::try_from(period.as_millis()).unwrap_or(i64::MAX);
    if ms < 60_000 {
        return Err(ReviewError::Invalid(
            "the digest period must be at least a minute".to_owned(),
        ));
    }
    Ok(ms)
}

/// The start of the period holding `now`.
pub fn period_start(now: Timestamp, period: SignedDuration) -> Result<Timestamp> {
    let p = period_ms(period)?;
    let n = now.as_millisecond().saturating_sub(ANCHOR_MS).div_euclid(p);
    let start = ANCHOR_MS.saturating_add(n.saturating_mul(p));
    Timestamp::from_millisecond(start)
        .map_err(|_| ReviewError::Invalid("period start out of range".to_owned()))
}

/// The digest's reference: `<prefix>-<year of the period start>-<period
/// number since the anchor>`.
fn reference(prefix: &str, start: Timestamp, period: SignedDuration) -> Result<TrackingId> {
    let p = period_ms(period)?;
    let index = start
        .as_millisecond()
        .saturating_sub(ANCHOR_MS)
        .div_euclid(p);
    let number = u32::try_from(index.rem_euclid(99_999_999).saturating_add(1)).unwrap_or(1);
    let year = start.to_zoned(TimeZone::UTC).year();
    TrackingId::new(parse_prefix(prefix)?, year, number)
        .map_err(|e| ReviewError::Invalid(format!("digest reference: {e}")))
}

fn item(r: &ReportSummary, sla: &Sla, now: Timestamp) -> DigestItem {
    let info = sla_info(r.state, r.severity, r.created_at, sla, now);
    DigestItem {
        id: r.id.clone(),
        subject: one_line(&r.subject, SUBJECT_CHARS),
        state: r.state,
        severity: r.severity,
        created_at: r.created_at,
        due_at: info.due_at,
        embargo_until: r.embargo_until,
    }
}

/// Every WG a digest may go to: the registry's, and those of `wg-lead`
/// accounts.
fn digest_wgs(registry: &Registry, users: &[embargo_store::User]) -> BTreeSet<WgName> {
    registry
        .wgs()
        .map(|w| w.name.clone())
        .chain(
            users
                .iter()
                .filter(|u| u.role == Role::WgLead)
                .filter_map(|u| u.wg.clone()),
        )
        .collect()
}

/// The digest of one WG at `now`.
async fn wg_digest(
    store: &Store,
    wg: &WgName,
    options: &DigestOptions,
    now: Timestamp,
) -> Result<WgDigest> {
    let start = period_start(now, options.period)?;
    let end = start
        .checked_add(options.period)
        .map_err(|_| ReviewError::Invalid("period end out of range".to_owned()))?;
    let new_since = match store.last_digest_run(DigestKind::Digest, wg).await? {
        Some(run) => run.created_at,
        None => now
            .checked_sub(options.period)
            .map_err(|_| ReviewError::Invalid("period out of range".to_owned()))?,
    };
    let reports = store
        .list_reports(&ReportFilter {
            wg: Some(wg.clone()),
            ..ReportFilter::default()
        })
        .await?;
    let mut d = WgDigest {
        wg: wg.clone(),
        period_start: start,
        period_end: end,
        new_since,
        new: Vec::new(),
        overdue: Vec::new(),
        open: Vec::new(),
        scheduled: Vec::new(),
    };
    // Oldest first.
    for r in reports.iter().rev() {
        let it = item(r, &options.sla, now);
        if r.triaged_at.unwrap_or(r.created_at) >= new_since {
            d.new.push(it.clone());
        }
        match sla_info(r.state, r.severity, r.created_at, &options.sla, now).status {
            SlaStatus::Overdue => d.overdue.push(it),
            SlaStatus::DueSoon | SlaStatus::Ok => d.open.push(it),
            SlaStatus::Scheduled => d.scheduled.push(it),
            SlaStatus::Closed => {}
        }
    }
    d.overdue
        .sort_by(|a, b| a.due_at.cmp(&b.due_at).then(a.id.cmp(&b.id)));
    d.scheduled
        .sort_by(|a, b| a.embargo_until.cmp(&b.embargo_until).then(a.id.cmp(&b.id)));
    Ok(d)
}

/// The digest of every WG (registry WGs and WGs of `wg-lead` accounts),
/// by name, at `now`: what [`compose_digests`] sends, for the admin view.
pub async fn digest_contents(
    store: &Store,
    registry: &Registry,
    options: &DigestOptions,
    now: Timestamp,
) -> Result<Vec<WgDigest>> {
    let users = store.list_users().await?;
    let mut out = Vec::new();
    for wg in digest_wgs(registry, &users) {
        out.push(wg_digest(store, &wg, options, now).await?);
    }
    Ok(out)
}

fn section(
    text: &mut String,
    title: &str,
    items: &[DigestItem],
    now: Timestamp,
    what: fn(&DigestItem, Timestamp) -> String,
) {
    let _ = writeln!(text, "{title} ({})", items.len());
    if items.is_empty() {
        text.push_str("  none\n");
    }
    for it in items {
        let severity = it.severity.map_or("unrated", |s| s.as_str());
        let _ = writeln!(
            text,
            "  {}  {:<8}  {:<9}  {}\n      {}",
            it.id,
            severity,
            it.state.as_str(),
            what(it, now),
            it.subject
        );
    }
    text.push('\n');
}

fn filed(it: &DigestItem, now: Timestamp) -> String {
    format!(
        "filed {} ({} d ago)",
        day(it.created_at),
        whole_days(it.created_at, now)
    )
}

fn due(it: &DigestItem, now: Timestamp) -> String {
    match it.due_at {
        Some(due) if due < now => format!(
            "filed {}, due {} ({} d overdue)",
            day(it.created_at),
            day(due),
            whole_days(due, now)
        ),
        Some(due) => format!("filed {}, due {}", day(it.created_at), day(due)),
        None => filed(it, now),
    }
}

fn disclosure(it: &DigestItem, _now: Timestamp) -> String {
    match it.embargo_until {
        Some(t) => format!("disclosure {}", minute(t)),
        None => "disclosure date not set".to_owned(),
    }
}

/// The digest's text (encrypted to the leads: it holds subjects).
fn digest_text(d: &WgDigest, options: &DigestOptions, now: Timestamp) -> String {
    let sla = &options.sla;
    let mut text = format!(
        "Security digest for WG {}\nPeriod: {} to {}\n\
         SLA from filing: critical {} d, high {} d, medium {} d, low {} d, unrated {} d.\n\n",
        d.wg,
        minute(d.period_start),
        minute(d.period_end),
        sla.critical_days,
        sla.high_days,
        sla.medium_days,
        sla.low_days,
        sla.unrated_days
    );
    section(&mut text, "Overdue", &d.overdue, now, due);
    section(
        &mut text,
        &format!("New since {}", minute(d.new_since)),
        &d.new,
        now,
        filed,
    );
    section(&mut text, "Open", &d.open, now, due);
    section(
        &mut text,
        "Scheduled disclosures",
        &d.scheduled,
        now,
        disclosure,
    );
    if let Some(url) = &options.admin_url {
        let _ = writeln!(text, "Admin view: {url}");
    }
    text.push_str("\nThis digest is sent to the leads of the WG only; please do not forward it.\n");
    text
}

/// The notice for a lead without a usable key: no subjects, no IDs, no
/// counts.
fn notice_text(wg: &WgName, options: &DigestOptions) -> String {
    let mut text = format!(
        "The security digest for WG {wg} is ready.\n\n\
         Its content is not sent by mail because no usable OpenPGP key is on\n\
         file for you. Please read it in the admin view"
    );
    match &options.admin_url {
        Some(url) => {
            let _ = write!(text, ":\n\n  {url}\n");
        }
        None => text.push_str(".\n"),
    }
    text.push_str("\nTo receive encrypted digests, ask an administrator to add your key.\n");
    text
}

fn compose_wg(
    team: &TeamIdentity,
    d: &WgDigest,
    leads: &[crate::mail::LeadRecipient],
    options: &DigestOptions,
    now: Timestamp,
    errors: &mut Vec<String>,
) -> Result<Vec<LeadMail>> {
    let reference = reference(&options.reference_prefix, d.period_start, options.period)?;
    let body = zeroize::Zeroizing::new(digest_text(d, options, now));
    let subject = format!(
        "Security digest for WG {}, {} to {}",
        d.wg,
        day(d.period_start),
        day(d.period_end)
    );
    let notice_subject = format!("Security digest for WG {} ready", d.wg);
    let notice_body = notice_text(&d.wg, options);
    Ok(compose_all(
        team,
        &d.wg,
        leads,
        &MailText {
            reference: &reference,
            subject: &subject,
            body: &body,
            notice_subject: &notice_subject,
            notice_body: &notice_body,
        },
        now,
        errors,
    ))
}

/// The digests due at `now`, per WG to each of its leads: encrypted to the
/// lead's key, or the content-free notice. WGs without leads, and (unless
/// [`DigestOptions::send_empty`]) WGs with nothing to report, get none.
/// Composition only: nothing is queued or recorded (see [`run_digests`]).
pub async fn compose_digests(
    store: &Store,
    registry: &Registry,
    team: &TeamIdentity,
    options: &DigestOptions,
    now: Timestamp,
) -> Result<Vec<LeadMail>> {
    let users = store.list_users().await?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for wg in digest_wgs(registry, &users) {
        let leads = wg_leads(&wg, registry, &users);
        if leads.is_empty() {
            continue;
        }
        let d = wg_digest(store, &wg, options, now).await?;
        if d.is_empty() && !options.send_empty {
            continue;
        }
        out.extend(compose_wg(team, &d, &leads, options, now, &mut errors)?);
    }
    Ok(out)
}

/// One WG's mail queued by a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentRun {
    pub wg: WgName,
    pub recipients: usize,
    pub encrypted: usize,
    pub notices: usize,
}

/// What [`run_digests`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestRunReport {
    pub period_start: Timestamp,
    pub period_end: Timestamp,
    /// Digests queued now.
    pub sent: Vec<SentRun>,
    /// WGs whose digest for this period was sent before.
    pub already_sent: Vec<WgName>,
    /// WGs with nothing to report (not recorded: a later call in the
    /// period sends once there is something).
    pub nothing_to_report: Vec<WgName>,
    /// WGs without a lead with an address.
    pub without_leads: Vec<WgName>,
    /// Mail that could not be composed (no addresses, no content).
    pub errors: Vec<String>,
}

pub(crate) fn sent_run(wg: &WgName, mails: &[LeadMail]) -> SentRun {
    let encrypted = mails.iter().filter(|m| m.encrypted).count();
    SentRun {
        wg: wg.clone(),
        recipients: mails.len(),
        encrypted,
        notices: mails.len().saturating_sub(encrypted),
    }
}

/// Queues in the outbox the digest of every WG whose digest for the period
/// holding `now` was not sent yet, and records it (one transaction per WG:
/// the mail is queued if and only if the run is recorded). Safe to call
/// from any number of processes, as often as wanted (e.g. hourly from the
/// scheduler).
pub async fn run_digests(
    store: &Store,
    registry: &Registry,
    team: &TeamIdentity,
    options: &DigestOptions,
    now: Timestamp,
) -> Result<DigestRunReport> {
    let start = period_start(now, options.period)?;
    let end = start
        .checked_add(options.period)
        .map_err(|_| ReviewError::Invalid("period end out of range".to_owned()))?;
    let run_key = start.as_millisecond().to_string();
    let mut report = DigestRunReport {
        period_start: start,
        period_end: end,
        sent: Vec::new(),
        already_sent: Vec::new(),
        nothing_to_report: Vec::new(),
        without_leads: Vec::new(),
        errors: Vec::new(),
    };
    let users = store.list_users().await?;
    for wg in digest_wgs(registry, &users) {
        if store
            .get_digest_run(DigestKind::Digest, &wg, &run_key)
            .await?
            .is_some()
        {
            report.already_sent.push(wg);
            continue;
        }
        let leads = wg_leads(&wg, registry, &users);
        if leads.is_empty() {
            report.without_leads.push(wg);
            continue;
        }
        let d = wg_digest(store, &wg, options, now).await?;
        if d.is_empty() && !options.send_empty {
            report.nothing_to_report.push(wg);
            continue;
        }
        let mails = compose_wg(team, &d, &leads, options, now, &mut report.errors)?;
        if mails.is_empty() {
            continue;
        }
        if queue_once(store, DigestKind::Digest, &wg, &run_key, &mails, now).await? {
            tracing::info!(%wg, recipients = mails.len(), "WG digest queued");
            report.sent.push(sent_run(&wg, &mails));
        } else {
            report.already_sent.push(wg);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn weekly_periods_start_on_monday() {
        let week = SignedDuration::from_hours(24 * 7);
        // 2026-03-04 is a Wednesday.
        assert_eq!(
            period_start(t("2026-03-04T15:00:00Z"), week).unwrap(),
            t("2026-03-02T00:00:00Z")
        );
        assert_eq!(
            period_start(t("2026-03-02T00:00:00Z"), week).unwrap(),
            t("2026-03-02T00:00:00Z")
        );
        assert_eq!(
            period_start(t("2026-03-01T23:59:59Z"), week).unwrap(),
            t("2026-02-23T00:00:00Z")
        );
        let day = SignedDuration::from_hours(24);
        assert_eq!(
            period_start(t("2026-03-04T15:00:00Z"), day).unwrap(),
            t("2026-03-04T00:00:00Z")
        );
        assert!(period_start(t("2026-03-04T15:00:00Z"), SignedDuration::from_secs(1)).is_err());
    }

    #[test]
    fn references_differ_per_period() {
        let week = SignedDuration::from_hours(24 * 7);
        let a = reference("DIGEST", t("2026-03-02T00:00:00Z"), week).unwrap();
        let b = reference("DIGEST", t("2026-03-09T00:00:00Z"), week).unwrap();
        assert_ne!(a, b);
        assert!(a.to_string().starts_with("DIGEST-2026-"));
    }
}
