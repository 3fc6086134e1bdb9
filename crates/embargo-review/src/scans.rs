//! Release scans in the store: import, summary, changes against the
//! previous release, each WG's slice to its leads.
//!
//! A release's stored scan is what its last import held
//! ([`ScanImportOptions::add`] adds to it instead). An import in which no
//! scan report could be read stores nothing (the import run is still
//! recorded, with its per-file errors counted).
//!
//! The previous release of `R` is the greatest stored release below `R` in
//! version order ([`compare_versions`]), whatever the import order.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use embargo_domain::WgName;
use embargo_outbound::TeamIdentity;
use embargo_scan::{
    Diff, Finding, ImportOptions, ImportOutcome, Progress, ScanSeverity, Summary, WgCounts, WgDiff,
    diff, import_path_with,
};
use embargo_store::{
    DigestKind, ImportKind, NewImportRun, ScanFindingRow, ScanImageRow, ScanRelease, Store,
    check_release,
};
use embargo_wg::Registry;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::json;

use crate::digest::{SentRun, parse_prefix, sent_run};
use crate::mail::{LeadMail, MailText, compose_all, queue_once, wg_leads};
use crate::{Result, ReviewError};

/// How a scan import runs.
#[derive(Debug, Clone)]
pub struct ScanImportOptions {
    /// Limits of the file walk and parsing.
    pub limits: ImportOptions,
    /// Add to the release's stored scan instead of replacing it.
    pub add: bool,
    /// Who imports: a login, or `cli`.
    pub actor: String,
}

impl Default for ScanImportOptions {
    fn default() -> Self {
        Self {
            limits: ImportOptions::default(),
            add: false,
            actor: "cli".to_owned(),
        }
    }
}

/// A file that could not be imported, or was imported with a warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileIssue {
    pub path: PathBuf,
    pub reason: String,
}

/// What [`import_scans`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanImportReport {
    pub release: String,
    /// Whether the release's scan was stored (at least one report read).
    pub persisted: bool,
    pub import_id: String,
    /// Scan reports imported.
    pub files_ok: usize,
    /// Kubeflow image lists read.
    pub image_lists: usize,
    /// Entries skipped without being read (derived files, links, ...).
    pub files_skipped: usize,
    pub file_errors: Vec<FileIssue>,
    pub warnings: Vec<FileIssue>,
    /// Scanned images no pattern or list places in a WG (kept, counted
    /// under `unmapped`).
    pub unmapped_images: Vec<String>,
    /// Images named by an image list but by no report.
    pub listed_not_scanned: Vec<String>,
    /// Whether the finding limit was reached.
    pub truncated: bool,
    /// The release's summary as stored now (of this import when nothing
    /// was stored).
    pub summary: Summary,
}

fn to_rows(outcome: &ImportOutcome) -> (Vec<ScanImageRow>, Vec<ScanFindingRow>) {
    let mut images = Vec::new();
    for (image, wgs) in &outcome.images {
        if wgs.is_empty() {
            images.push(ScanImageRow {
                image: image.clone(),
                wg: None,
            });
        }
        for wg in wgs {
            images.push(ScanImageRow {
                image: image.clone(),
                wg: Some(wg.clone()),
            });
        }
    }
    let findings = outcome
        .findings
        .iter()
        .map(|f| ScanFindingRow {
            wg: f.wg.clone(),
            image: f.image.clone(),
            vuln_id: f.vuln_id.clone(),
            package: f.package.clone(),
            installed: f.installed.clone(),
            fixed: f.fixed.clone(),
            severity: f.severity.as_str().to_owned(),
        })
        .collect();
    (images, findings)
}

fn finding_from_row(r: ScanFindingRow) -> Finding {
    Finding {
        wg: r.wg,
        image: r.image,
        vuln_id: r.vuln_id,
        package: r.package,
        installed: r.installed,
        fixed: r.fixed,
        severity: ScanSeverity::normalize(Some(&r.severity)),
    }
}

/// A release's stored scan as an [`ImportOutcome`] (findings and images).
async fn stored_outcome(store: &Store, release: &str) -> Result<ImportOutcome> {
    if store.scan_release(release).await?.is_none() {
        return Err(ReviewError::UnknownRelease(release.to_owned()));
    }
    let mut findings: Vec<Finding> = store
        .scan_findings(release)
        .await?
        .into_iter()
        .map(finding_from_row)
        .collect();
    findings.sort();
    findings.dedup();
    let mut images: BTreeMap<String, Vec<WgName>> = BTreeMap::new();
    for row in store.scan_images(release).await? {
        let entry = images.entry(row.image).or_default();
        if let Some(wg) = row.wg
            && !entry.contains(&wg)
        {
            entry.push(wg);
        }
    }
    let unmapped_images = images
        .iter()
        .filter(|(_, wgs)| wgs.is_empty())
        .map(|(i, _)| i.clone())
        .collect();
    Ok(ImportOutcome {
        findings,
        images,
        unmapped_images,
        ..ImportOutcome::default()
    })
}

/// [`import_scans_with`] with default options (replace, actor `cli`).
pub async fn import_scans(
    store: &Store,
    registry: &Registry,
    path: &Path,
    release: &str,
    progress: &mut (dyn FnMut(Progress) + Send),
    now: Timestamp,
) -> Result<ScanImportReport> {
    import_scans_with(
        store,
        registry,
        path,
        release,
        &ScanImportOptions::default(),
        progress,
        now,
    )
    .await
}

/// Imports a Trivy or Grype JSON file, or a directory of them (Kubeflow
/// manifests scan layout included), for `release`: images placed in WGs
/// through the registry's image patterns (and the layout's WG tokens),
/// unmapped images kept, per-file errors listed, findings stored per WG.
/// `progress` is called before the first file and after every file. The
/// file walk is synchronous (it runs on the calling task). Fails only when
/// `path` itself cannot be read, the release name is refused, or the store
/// fails.
pub async fn import_scans_with(
    store: &Store,
    registry: &Registry,
    path: &Path,
    release: &str,
    options: &ScanImportOptions,
    progress: &mut (dyn FnMut(Progress) + Send),
    now: Timestamp,
) -> Result<ScanImportReport> {
    check_release(release)?;
    let outcome = import_path_with(path, registry, &options.limits, progress)?;
    let persisted = outcome.files_ok > 0;
    let (mut images, mut findings) = to_rows(&outcome);
    if persisted && options.add && store.scan_release(release).await?.is_some() {
        let mut all_images: BTreeSet<ScanImageRow> =
            store.scan_images(release).await?.into_iter().collect();
        all_images.extend(images);
        images = all_images.into_iter().collect();
        let mut all_findings: BTreeSet<ScanFindingRow> =
            store.scan_findings(release).await?.into_iter().collect();
        all_findings.extend(findings);
        findings = all_findings.into_iter().collect();
    }
    let import_summary = outcome.summary(release);
    let run_summary = json!({
        "persisted": persisted,
        "mode": if options.add { "add" } else { "replace" },
        "findings": outcome.findings.len(),
        "images": outcome.images.len(),
        "unmapped_images": outcome.unmapped_images.len(),
        "image_lists": outcome.image_lists,
        "truncated": outcome.truncated,
        "wgs": import_summary.wgs.keys().collect::<Vec<_>>(),
    });
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let mut tx = store.begin().await?;
    let import_id = tx
        .record_import_run(
            &NewImportRun {
                kind: ImportKind::Scan,
                release: Some(release.to_owned()),
                actor: options.actor.clone(),
                source_sha256: None,
                files_ok: count(outcome.files_ok),
                files_failed: count(outcome.file_errors.len()),
                summary: run_summary.to_string(),
            },
            now,
        )
        .await?;
    if persisted {
        tx.replace_scan_release(release, import_id, &images, &findings, now)
            .await?;
    }
    tx.commit().await?;
    tracing::info!(
        release,
        files_ok = outcome.files_ok,
        file_errors = outcome.file_errors.len(),
        findings = findings.len(),
        persisted,
        "release scan imported"
    );
    let summary = if persisted {
        scan_summary(store, release).await?
    } else {
        import_summary
    };
    let issues = |v: &[(PathBuf, String)]| {
        v.iter()
            .map(|(path, reason)| FileIssue {
                path: path.clone(),
                reason: reason.clone(),
            })
            .collect::<Vec<_>>()
    };
    Ok(ScanImportReport {
        release: release.to_owned(),
        persisted,
        import_id: import_id.to_string(),
        files_ok: outcome.files_ok,
        image_lists: outcome.image_lists,
        files_skipped: outcome.files_skipped,
        file_errors: issues(&outcome.file_errors),
        warnings: issues(&outcome.warnings),
        unmapped_images: outcome.unmapped_images.iter().cloned().collect(),
        listed_not_scanned: outcome.listed_not_scanned.iter().cloned().collect(),
        truncated: outcome.truncated,
        summary,
    })
}

/// `embargo scan summary --release R --json`: `{"release", "wgs": {WG:
/// {"images", "LOW", "MEDIUM", "HIGH", "CRITICAL", "UNKNOWN"}},
/// "unmapped": [image…]}` of the stored scan (images without findings
/// counted too). [`ReviewError::UnknownRelease`] when none is stored.
pub async fn scan_summary(store: &Store, release: &str) -> Result<Summary> {
    Ok(stored_outcome(store, release).await?.summary(release))
}

/// Version order: a leading `v` ignored; the part before the first `-` (or
/// `+`) compared component by component (`.`, `_` separated), numbers as
/// numbers, numbers before words; a pre-release (`-rc.1`) before the
/// release itself; then the whole text.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parts(v: &str) -> (Vec<&str>, Option<&str>) {
        let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
        let v = v.split('+').next().unwrap_or(v);
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (v, None),
        };
        (core.split(['.', '_']).collect(), pre)
    }
    fn cmp_parts(x: &[&str], y: &[&str]) -> Ordering {
        for (p, q) in x.iter().zip(y) {
            let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                (Ok(m), Ok(n)) => m.cmp(&n),
                (Ok(_), Err(_)) => Ordering::Less,
                (Err(_), Ok(_)) => Ordering::Greater,
                (Err(_), Err(_)) => p.cmp(q),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        x.len().cmp(&y.len())
    }
    let (ca, pa) = parts(a);
    let (cb, pb) = parts(b);
    cmp_parts(&ca, &cb)
        .then_with(|| match (pa, pb) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => {
                let xs: Vec<&str> = x.split(['.', '-']).collect();
                let ys: Vec<&str> = y.split(['.', '-']).collect();
                cmp_parts(&xs, &ys)
            }
        })
        .then_with(|| a.cmp(b))
}

/// The greatest stored release below `release` in version order.
pub async fn previous_release(store: &Store, release: &str) -> Result<Option<String>> {
    Ok(store
        .scan_releases()
        .await?
        .into_iter()
        .map(|r| r.release)
        .filter(|r| compare_versions(r, release) == Ordering::Less)
        .max_by(|a, b| compare_versions(a, b)))
}

/// Every finding stored for `release` (deduplicated, in [`Finding`]
/// order). [`ReviewError::UnknownRelease`] when none is stored.
pub async fn scan_findings(store: &Store, release: &str) -> Result<Vec<Finding>> {
    Ok(stored_outcome(store, release).await?.findings)
}

/// Every stored release, newest first in version order
/// ([`compare_versions`]).
pub async fn releases(store: &Store) -> Result<Vec<ScanRelease>> {
    let mut all = store.scan_releases().await?;
    all.sort_by(|a, b| compare_versions(&b.release, &a.release));
    Ok(all)
}

/// Whether a WG's slice of a release went out, and to how many leads it
/// would go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SliceStatus {
    pub wg: WgName,
    /// Leads with an address (accounts and registry).
    pub leads: usize,
    /// Of those, the ones with a usable OpenPGP key (the others get the
    /// content-free notice).
    pub leads_with_key: usize,
    /// When the slice was queued, and to how many (`None`: not yet).
    pub sent_at: Option<Timestamp>,
    pub sent_to: u64,
}

/// For each WG of `release`'s summary: its leads and whether its slice
/// was sent ([`send_scan_slices`]).
pub async fn slice_status(
    store: &Store,
    registry: &Registry,
    release: &str,
) -> Result<Vec<SliceStatus>> {
    let summary = scan_summary(store, release).await?;
    let users = store.list_users().await?;
    let mut out = Vec::new();
    for wg_text in summary.wgs.keys() {
        let Ok(wg) = WgName::parse(wg_text) else {
            continue;
        };
        let leads = wg_leads(&wg, registry, &users);
        let run = store.get_digest_run(DigestKind::Scan, &wg, release).await?;
        out.push(SliceStatus {
            leads: leads.len(),
            leads_with_key: leads.iter().filter(|l| l.cert.is_some()).count(),
            sent_at: run.as_ref().map(|r| r.created_at),
            sent_to: run.as_ref().map_or(0, |r| r.recipients),
            wg,
        });
    }
    Ok(out)
}

/// What changed in a release's scan against the previous release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanChanges {
    pub release: String,
    /// `None`: no earlier release is stored; everything counts as new.
    pub previous: Option<String>,
    /// New and fixed per WG (every WG of either release, by name).
    pub wgs: BTreeMap<String, WgDiff>,
    /// New and fixed among unmapped images.
    pub unmapped: WgDiff,
    pub new: Vec<Finding>,
    pub fixed: Vec<Finding>,
}

/// New and fixed findings of `release` against the previous release (see
/// [`embargo_scan::diff()`] for what counts as the same finding).
pub async fn scan_changes(store: &Store, release: &str) -> Result<ScanChanges> {
    let current = stored_outcome(store, release).await?;
    let previous = previous_release(store, release).await?;
    let before = match &previous {
        Some(p) => stored_outcome(store, p).await?.findings,
        None => Vec::new(),
    };
    let d: Diff = diff(&before, &current.findings);
    let per_wg = d.per_wg();
    let mut wgs: BTreeMap<String, WgDiff> = BTreeMap::new();
    let wg_names = current
        .findings
        .iter()
        .chain(&before)
        .filter_map(|f| f.wg.as_ref())
        .chain(current.images.values().flatten());
    for wg in wg_names {
        wgs.entry(wg.to_string()).or_default();
    }
    let mut unmapped = WgDiff::default();
    for (wg, counts) in per_wg {
        match wg {
            Some(wg) => {
                wgs.insert(wg.to_string(), counts);
            }
            None => unmapped = counts,
        }
    }
    Ok(ScanChanges {
        release: release.to_owned(),
        previous,
        wgs,
        unmapped,
        new: d.new,
        fixed: d.fixed,
    })
}

/// How scan slices are made.
#[derive(Debug, Clone)]
pub struct SliceOptions {
    /// The admin view, linked from slices and notices.
    pub admin_url: Option<String>,
    /// Prefix of the slice's reference in subjects (`SCAN-2026-0003`).
    pub reference_prefix: String,
    /// Most new and most fixed findings listed in a slice (worst first).
    pub max_listed: usize,
}

impl Default for SliceOptions {
    fn default() -> Self {
        Self {
            admin_url: None,
            reference_prefix: "SCAN".to_owned(),
            max_listed: 50,
        }
    }
}

fn counts_table(out: &mut String, c: &WgCounts) {
    let _ = writeln!(
        out,
        "Images: {}\n\n  CRITICAL  HIGH  MEDIUM  LOW  UNKNOWN\n  {:>8}  {:>4}  {:>6}  {:>3}  {:>7}\n",
        c.images, c.critical, c.high, c.medium, c.low, c.unknown
    );
}

fn finding_lines(out: &mut String, title: &str, findings: &[&Finding], max: usize) {
    let _ = writeln!(out, "{title} ({})", findings.len());
    let mut sorted: Vec<&&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| {
        b.severity
            .rank()
            .cmp(&a.severity.rank())
            .then_with(|| a.vuln_id.cmp(&b.vuln_id))
            .then_with(|| a.image.cmp(&b.image))
    });
    for f in sorted.iter().take(max) {
        let fixed = f.fixed.as_deref().unwrap_or("no fix");
        let _ = writeln!(
            out,
            "  {:<8}  {}  {} {} -> {}\n      {}",
            f.severity.as_str(),
            crate::text::one_line(&f.vuln_id, 80),
            crate::text::one_line(&f.package, 80),
            crate::text::one_line(&f.installed, 40),
            crate::text::one_line(fixed, 40),
            crate::text::one_line(&f.image, 200)
        );
    }
    if findings.len() > max {
        let _ = writeln!(
            out,
            "  … and {} more in the admin view",
            findings.len() - max
        );
    }
    out.push('\n');
}

/// Each WG's slice of `release` to its leads (encrypted, or the
/// content-free notice), for every WG of the release's summary with leads.
/// Composition only (see [`send_scan_slices`]).
pub async fn compose_scan_slices(
    store: &Store,
    registry: &Registry,
    team: &TeamIdentity,
    release: &str,
    options: &SliceOptions,
    now: Timestamp,
) -> Result<Vec<LeadMail>> {
    let mut errors = Vec::new();
    Ok(
        slices(store, registry, team, release, options, now, &mut errors)
            .await?
            .into_iter()
            .flat_map(|(_, mails)| mails)
            .collect(),
    )
}

async fn slices(
    store: &Store,
    registry: &Registry,
    team: &TeamIdentity,
    release: &str,
    options: &SliceOptions,
    now: Timestamp,
    errors: &mut Vec<String>,
) -> Result<Vec<(WgName, Vec<LeadMail>)>> {
    let summary = scan_summary(store, release).await?;
    let changes = scan_changes(store, release).await?;
    let current = stored_outcome(store, release).await?;
    let users = store.list_users().await?;
    let ordinal = store
        .scan_releases()
        .await?
        .iter()
        .filter(|r| compare_versions(&r.release, release) != Ordering::Greater)
        .count();
    let reference = embargo_domain::TrackingId::new(
        parse_prefix(&options.reference_prefix)?,
        now.to_zoned(TimeZone::UTC).year(),
        u32::try_from(ordinal.clamp(1, 99_999_999)).unwrap_or(1),
    )
    .map_err(|e| ReviewError::Invalid(format!("slice reference: {e}")))?;

    let mut out = Vec::new();
    for (wg_text, counts) in &summary.wgs {
        let Ok(wg) = WgName::parse(wg_text) else {
            continue;
        };
        let leads = wg_leads(&wg, registry, &users);
        if leads.is_empty() {
            continue;
        }
        let of_wg = |f: &&Finding| f.wg.as_ref() == Some(&wg);
        let new: Vec<&Finding> = changes.new.iter().filter(of_wg).collect();
        let fixed: Vec<&Finding> = changes.fixed.iter().filter(of_wg).collect();
        let all: Vec<&Finding> = current.findings.iter().filter(of_wg).collect();
        let mut body = format!("Release {release}: image scan results for WG {wg}\n\n");
        counts_table(&mut body, counts);
        match &changes.previous {
            Some(p) => {
                let _ = writeln!(
                    body,
                    "Compared with {p}: {} new, {} fixed.\n",
                    new.len(),
                    fixed.len()
                );
                finding_lines(&mut body, "New", &new, options.max_listed);
                finding_lines(
                    &mut body,
                    &format!("Fixed since {p}"),
                    &fixed,
                    options.max_listed,
                );
            }
            None => {
                body.push_str("No earlier release is stored to compare with.\n\n");
                finding_lines(&mut body, "Findings", &all, options.max_listed);
            }
        }
        if let Some(url) = &options.admin_url {
            let _ = writeln!(body, "Admin view: {url}");
        }
        let subject = format!("Release {release} image scan for WG {wg}");
        let notice_subject = format!("Release {release} image scan for WG {wg} ready");
        let mut notice = format!(
            "The image scan results of release {release} for WG {wg} are ready.\n\n\
             They are not sent by mail because no usable OpenPGP key is on file\n\
             for you. Please read them in the admin view"
        );
        match &options.admin_url {
            Some(url) => {
                let _ = write!(notice, ":\n\n  {url}\n");
            }
            None => notice.push_str(".\n"),
        }
        let mails = compose_all(
            team,
            &wg,
            &leads,
            &MailText {
                reference: &reference,
                subject: &subject,
                body: &body,
                notice_subject: &notice_subject,
                notice_body: &notice,
            },
            now,
            errors,
        );
        out.push((wg, mails));
    }
    Ok(out)
}

/// What [`send_scan_slices`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SliceRunReport {
    pub release: String,
    /// Slices queued now.
    pub sent: Vec<SentRun>,
    /// WGs whose slice of this release was sent before.
    pub already_sent: Vec<WgName>,
    /// Mail that could not be composed (no addresses, no content).
    pub errors: Vec<String>,
}

/// Queues each WG's slice of `release` once per WG and release (safe to
/// call again, from any process).
pub async fn send_scan_slices(
    store: &Store,
    registry: &Registry,
    team: &TeamIdentity,
    release: &str,
    options: &SliceOptions,
    now: Timestamp,
) -> Result<SliceRunReport> {
    let mut report = SliceRunReport {
        release: release.to_owned(),
        sent: Vec::new(),
        already_sent: Vec::new(),
        errors: Vec::new(),
    };
    for (wg, mails) in slices(
        store,
        registry,
        team,
        release,
        options,
        now,
        &mut report.errors,
    )
    .await?
    {
        if store
            .get_digest_run(DigestKind::Scan, &wg, release)
            .await?
            .is_some()
        {
            report.already_sent.push(wg);
            continue;
        }
        if mails.is_empty() {
            continue;
        }
        if queue_once(store, DigestKind::Scan, &wg, release, &mails, now).await? {
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

    #[test]
    fn versions() {
        let mut v = vec![
            "1.10.0",
            "1.9.1",
            "v1.9.0",
            "1.10.0-rc.2",
            "1.10.0-rc.10",
            "1.2",
            "2.0",
            "1.10",
        ];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            [
                "1.2",
                "v1.9.0",
                "1.9.1",
                "1.10",
                "1.10.0-rc.2",
                "1.10.0-rc.10",
                "1.10.0",
                "2.0"
            ]
        );
        assert_eq!(compare_versions("1.0", "1.0"), Ordering::Equal);
    }
}
