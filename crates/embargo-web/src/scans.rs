//! Release scans (`/scans`, `/scans/{release}`): per-WG severity tables
//! (LOW, MEDIUM, HIGH, CRITICAL and UNKNOWN), the unmapped images, what is
//! new and what got fixed since the previous release, a bar chart per WG
//! (inline SVG rendered by the template: geometry computed here, colours by
//! class from `app.css`, no script, no `style` attribute), and sending each
//! WG's leads their slice (`POST /scans/{release}/send`, admins and
//! triagers; once per WG and release).
//!
//! Everything in a scan file is untrusted (image names, vulnerability IDs,
//! package names and versions): it is rendered as text through the
//! auto-escaping templates, control and deceptive characters made visible.
//!
//! Scope as in the report list ([`authz::scope`]): a WG lead sees the own
//! WG's rows, chart and findings only (no unmapped images, no other WG);
//! team members see everything.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Redirect, Response};
use embargo_domain::WgName;
use embargo_review::SliceOptions;
use embargo_scan::{Finding, ScanSeverity, WgCounts, WgDiff, counts_of};
use jiff::Timestamp;
use serde::Deserialize;

use crate::AppState;
use crate::actions::EmptyForm;
use crate::auth::Authed;
use crate::authz::{self, Scope};
use crate::error::WebError;
use crate::pages::{Nav, render, ts};
use crate::review::registry;
use crate::text::{display_line, url_encode};

/// Most new and most fixed findings listed on a release page (worst
/// first); the counts are always complete.
const FINDINGS_SHOWN: usize = 300;
/// Most unmapped images listed.
const UNMAPPED_SHOWN: usize = 500;

/// Chart geometry (SVG user units): one chart per WG, one bar per
/// severity, the same scale for every WG.
const CHART_W: u64 = 320;
const LABEL_W: u64 = 78;
const BAR_MAX_W: u64 = 190;
const ROW_H: u64 = 20;

/// Severities as shown: worst first, UNKNOWN last.
const SHOWN: [ScanSeverity; 5] = [
    ScanSeverity::Critical,
    ScanSeverity::High,
    ScanSeverity::Medium,
    ScanSeverity::Low,
    ScanSeverity::Unknown,
];

fn sev_class(s: ScanSeverity) -> &'static str {
    match s {
        ScanSeverity::Critical => "sev-critical",
        ScanSeverity::High => "sev-high",
        ScanSeverity::Medium => "sev-medium",
        ScanSeverity::Low => "sev-low",
        ScanSeverity::Unknown => "sev-unknown",
    }
}

fn release_href(release: &str) -> String {
    format!("/scans/{}", url_encode(release))
}

/// A release named in a path: refused names do not exist.
fn checked_release(release: &str) -> Result<&str, WebError> {
    embargo_store::check_release(release).map_err(|_| WebError::NotFound)?;
    Ok(release)
}

// ---------------------------------------------------------------- list

pub(crate) struct ReleaseRow {
    pub release: String,
    pub href: String,
    pub imported: String,
    pub images: u64,
    pub findings: u64,
}

#[derive(Template)]
#[template(path = "scans.html")]
struct ListPage {
    nav: Option<Nav>,
    scope: String,
    totals: bool,
    rows: Vec<ReleaseRow>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Authed(current): Authed,
) -> Result<Response, WebError> {
    let scope = authz::scope(&current.user);
    let rows = embargo_review::releases(state.store())
        .await?
        .into_iter()
        .map(|r| ReleaseRow {
            href: release_href(&r.release),
            release: r.release,
            imported: ts(r.imported_at),
            images: r.images,
            findings: r.findings,
        })
        .collect();
    render(&ListPage {
        nav: Some(Nav::of(&current)),
        scope: scope_label(&scope),
        totals: matches!(scope, Scope::All),
        rows,
    })
}

fn scope_label(scope: &Scope<'_>) -> String {
    match scope {
        Scope::All => "all WGs".to_owned(),
        Scope::Wg(w) => format!("WG {w}"),
        Scope::Nothing => "no WG assigned to your account".to_owned(),
    }
}

// ---------------------------------------------------------------- release

pub(crate) struct WgRow {
    pub wg: String,
    pub images: u64,
    pub counts: [u64; 5],
    pub new: usize,
    pub fixed: usize,
    /// The slice's state, for team members (empty for leads).
    pub slice: String,
    pub slice_class: &'static str,
}

pub(crate) struct ChartBar {
    pub label: &'static str,
    pub count: u64,
    pub class: &'static str,
    pub y: u64,
    pub text_y: u64,
    pub width: u64,
    pub count_x: u64,
}

pub(crate) struct WgChart {
    pub wg: String,
    pub height: u64,
    pub width: u64,
    pub label_w: u64,
    pub bars: Vec<ChartBar>,
}

pub(crate) struct FindingRow {
    pub wg: String,
    pub image: String,
    pub vuln_id: String,
    pub package: String,
    pub installed: String,
    pub fixed: String,
    pub severity: &'static str,
    pub class: &'static str,
}

#[derive(Template)]
#[template(path = "scan.html")]
struct ReleasePage {
    nav: Option<Nav>,
    csrf: String,
    scope: String,
    flash: Option<String>,
    release: String,
    send_url: String,
    imported: String,
    previous: Option<(String, String)>,
    severities: [&'static str; 5],
    wgs: Vec<WgRow>,
    team_view: bool,
    unmapped_row: Option<WgRow>,
    unmapped: Vec<String>,
    unmapped_total: usize,
    charts: Vec<WgChart>,
    new: Vec<FindingRow>,
    new_total: usize,
    fixed: Vec<FindingRow>,
    fixed_total: usize,
    can_send: bool,
    team_configured: bool,
}

fn counts_array(c: &WgCounts) -> [u64; 5] {
    SHOWN.map(|s| c.get(s))
}

fn chart(wg: &str, counts: &WgCounts, max: u64) -> WgChart {
    let max = max.max(1);
    let bars: Vec<ChartBar> = SHOWN
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let count = counts.get(*s);
            let y = i as u64 * ROW_H;
            let width = if count == 0 {
                0
            } else {
                (count.saturating_mul(BAR_MAX_W) / max).max(2)
            };
            ChartBar {
                label: s.as_str(),
                count,
                class: sev_class(*s),
                y: y + 3,
                text_y: y + 15,
                width,
                count_x: LABEL_W + width + 6,
            }
        })
        .collect();
    WgChart {
        wg: wg.to_owned(),
        height: bars.len() as u64 * ROW_H,
        width: CHART_W,
        label_w: LABEL_W,
        bars,
    }
}

fn finding_rows(findings: &[&Finding]) -> Vec<FindingRow> {
    let mut sorted: Vec<&&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| {
        b.severity
            .rank()
            .cmp(&a.severity.rank())
            .then_with(|| a.wg.cmp(&b.wg))
            .then_with(|| a.vuln_id.cmp(&b.vuln_id))
            .then_with(|| a.image.cmp(&b.image))
    });
    sorted
        .into_iter()
        .take(FINDINGS_SHOWN)
        .map(|f| FindingRow {
            wg: f
                .wg
                .as_ref()
                .map_or_else(|| "unmapped".to_owned(), |w| w.to_string()),
            image: display_line(&f.image, 200),
            vuln_id: display_line(&f.vuln_id, 80),
            package: display_line(&f.package, 120),
            installed: display_line(&f.installed, 60),
            fixed: f
                .fixed
                .as_deref()
                .map_or_else(|| "no fix".to_owned(), |v| display_line(v, 60)),
            severity: f.severity.as_str(),
            class: sev_class(f.severity),
        })
        .collect()
}

#[derive(Deserialize, Default)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    sent: Option<u32>,
    #[serde(default)]
    already: Option<u32>,
    #[serde(default)]
    errors: Option<u32>,
}

pub(crate) async fn show(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(release): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, WebError> {
    let release = checked_release(&release)?;
    let store = state.store();
    let Some(stored) = store.scan_release(release).await? else {
        return Err(WebError::NotFound);
    };
    let scope = authz::scope(&current.user);
    let team_view = matches!(scope, Scope::All);
    let mine = |wg: Option<&WgName>| match scope {
        Scope::All => true,
        Scope::Wg(w) => wg == Some(w),
        Scope::Nothing => false,
    };
    let summary = embargo_review::scan_summary(store, release).await?;
    let changes = embargo_review::scan_changes(store, release).await?;
    let findings = embargo_review::scan_findings(store, release).await?;
    let slices: BTreeMap<String, embargo_review::SliceStatus> = if team_view {
        let registry = registry(&state).await?;
        embargo_review::slice_status(store, &registry, release)
            .await?
            .into_iter()
            .map(|s| (s.wg.to_string(), s))
            .collect()
    } else {
        BTreeMap::new()
    };

    let shown_wgs: Vec<(&String, &WgCounts)> = summary
        .wgs
        .iter()
        .filter(|(w, _)| mine(WgName::parse(w).ok().as_ref()))
        .collect();
    let unmapped_counts = counts_of(findings.iter().filter(|f| f.wg.is_none()));
    let max = shown_wgs
        .iter()
        .map(|(_, c)| *c)
        .chain(team_view.then_some(&unmapped_counts))
        .flat_map(|c| SHOWN.map(|s| c.get(s)))
        .max()
        .unwrap_or(0);
    let diff_of = |wg: &str| changes.wgs.get(wg).copied().unwrap_or_default();
    let wgs: Vec<WgRow> = shown_wgs
        .iter()
        .map(|(wg, c)| {
            let d: WgDiff = diff_of(wg);
            let (slice, slice_class) = match slices.get(*wg) {
                _ if !team_view => (String::new(), "neutral"),
                Some(s) => match s.sent_at {
                    Some(at) => (format!("sent {} to {} lead(s)", ts(at), s.sent_to), "ok"),
                    None if s.leads == 0 => ("no leads known".to_owned(), "warn"),
                    None => (
                        format!(
                            "not sent ({} lead(s), {} with a key)",
                            s.leads, s.leads_with_key
                        ),
                        "neutral",
                    ),
                },
                None => ("—".to_owned(), "neutral"),
            };
            WgRow {
                wg: (*wg).clone(),
                images: c.images,
                counts: counts_array(c),
                new: d.new,
                fixed: d.fixed,
                slice,
                slice_class,
            }
        })
        .collect();
    let mut charts: Vec<WgChart> = shown_wgs.iter().map(|(w, c)| chart(w, c, max)).collect();
    let unmapped_row = team_view.then(|| {
        let mut c = unmapped_counts.clone();
        c.images = u64::try_from(summary.unmapped.len()).unwrap_or(u64::MAX);
        WgRow {
            wg: "unmapped".to_owned(),
            images: c.images,
            counts: counts_array(&c),
            new: changes.unmapped.new,
            fixed: changes.unmapped.fixed,
            slice: String::new(),
            slice_class: "neutral",
        }
    });
    if team_view && !summary.unmapped.is_empty() {
        charts.push(chart("unmapped images", &unmapped_counts, max));
    }
    let new: Vec<&Finding> = changes
        .new
        .iter()
        .filter(|f| mine(f.wg.as_ref()) || (team_view && f.wg.is_none()))
        .collect();
    let fixed: Vec<&Finding> = changes
        .fixed
        .iter()
        .filter(|f| mine(f.wg.as_ref()) || (team_view && f.wg.is_none()))
        .collect();

    let flash = q.sent.map(|sent| {
        format!(
            "Slices queued for {sent} WG(s); {} had been sent before; {} could not be composed.",
            q.already.unwrap_or(0),
            q.errors.unwrap_or(0)
        )
    });
    let mut res = render(&ReleasePage {
        nav: Some(Nav::of(&current)),
        csrf: current.csrf_token.clone(),
        scope: scope_label(&scope),
        flash,
        release: release.to_owned(),
        send_url: format!("{}/send", release_href(release)),
        imported: ts(stored.imported_at),
        previous: changes
            .previous
            .as_ref()
            .map(|p| (p.clone(), release_href(p))),
        severities: SHOWN.map(ScanSeverity::as_str),
        wgs,
        team_view,
        unmapped_row,
        unmapped: if team_view {
            summary
                .unmapped
                .iter()
                .take(UNMAPPED_SHOWN)
                .map(|i| display_line(i, 200))
                .collect()
        } else {
            Vec::new()
        },
        unmapped_total: if team_view { summary.unmapped.len() } else { 0 },
        charts,
        new_total: new.len(),
        new: finding_rows(&new),
        fixed_total: fixed.len(),
        fixed: finding_rows(&fixed),
        can_send: authz::team_process(&current.user).is_ok(),
        team_configured: state.inner().team.is_some(),
    })?;
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// `POST /scans/{release}/send`: queues each WG's slice of the release to
/// its leads (encrypted, or the content-free notice), once per WG and
/// release; recorded in the audit trail.
pub(crate) async fn send(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(release): Path<String>,
    Form(_): Form<EmptyForm>,
) -> Result<Response, WebError> {
    authz::team_process(&current.user)?;
    let release = checked_release(&release)?;
    let store = state.store();
    if store.scan_release(release).await?.is_none() {
        return Err(WebError::NotFound);
    }
    let Some(team) = state.inner().team.clone() else {
        return Err(WebError::Refused(
            "Sending slices needs the team's mail identity, which this deployment does not configure."
                .to_owned(),
        ));
    };
    let registry = registry(&state).await?;
    let options = SliceOptions {
        admin_url: state.config().review.admin_url.clone(),
        ..SliceOptions::default()
    };
    let now = Timestamp::now();
    let report =
        embargo_review::send_scan_slices(store, &registry, &team, release, &options, now).await?;
    store
        .append_event(
            None,
            &current.actor(),
            "scan-slices-sent",
            &format!(
                "release {release}: {} WG(s) sent, {} before, {} error(s)",
                report.sent.len(),
                report.already_sent.len(),
                report.errors.len()
            ),
            now,
        )
        .await?;
    tracing::info!(
        release,
        sent = report.sent.len(),
        already = report.already_sent.len(),
        errors = report.errors.len(),
        "scan slices queued"
    );
    Ok(Redirect::to(&format!(
        "{}?sent={}&already={}&errors={}",
        release_href(release),
        report.sent.len(),
        report.already_sent.len(),
        report.errors.len()
    ))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_geometry() {
        let c = WgCounts {
            images: 3,
            low: 1,
            medium: 0,
            high: 50,
            critical: 100,
            unknown: 2,
        };
        let chart = chart("pipelines", &c, 100);
        let widths: Vec<u64> = chart.bars.iter().map(|b| b.width).collect();
        assert_eq!(widths, [BAR_MAX_W, BAR_MAX_W / 2, 0, 2, 3]);
        let labels: Vec<&str> = chart.bars.iter().map(|b| b.label).collect();
        assert_eq!(labels, ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]);
        assert_eq!(chart.height, 5 * ROW_H);
        assert!(chart.bars.iter().all(|b| b.count_x <= CHART_W));
    }

    #[test]
    fn release_names() {
        assert!(checked_release("1.10.0-rc.1").is_ok());
        assert!(checked_release("../etc").is_err());
        assert!(checked_release("<script>").is_err());
        assert_eq!(release_href("1.10+x"), "/scans/1.10%2Bx");
    }
}
