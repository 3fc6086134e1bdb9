//! The dashboard: counts by state, WG and severity, median times to
//! acknowledge and to triage, overdue reports by severity SLA, and small
//! SVG bar charts rendered by the template (numbers computed here; no
//! inline style, colours by class).

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use embargo_store::DashboardStats;
use jiff::Timestamp;

use crate::AppState;
use crate::auth::Authed;
use crate::authz::{self, Scope};
use crate::error::WebError;
use crate::pages::{Nav, duration, render, ts};

const OVERDUE_SHOWN: u32 = 50;
/// Chart geometry (SVG user units).
const LABEL_W: u64 = 110;
const BAR_MAX_W: u64 = 220;
const ROW_H: u64 = 20;

pub(crate) struct Bar {
    pub label: String,
    pub count: u64,
    pub class: String,
    pub y: u64,
    pub text_y: u64,
    pub width: u64,
    pub count_x: u64,
    pub href: String,
}

pub(crate) struct Chart {
    pub title: &'static str,
    pub height: u64,
    pub label_w: u64,
    pub bars: Vec<Bar>,
}

fn chart(title: &'static str, items: Vec<(String, u64, String, String)>) -> Chart {
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1);
    let bars = items
        .into_iter()
        .enumerate()
        .map(|(i, (label, count, class, href))| {
            let y = i as u64 * ROW_H;
            let width = if count == 0 {
                0
            } else {
                (count * BAR_MAX_W / max).max(2)
            };
            Bar {
                label,
                count,
                class,
                y: y + 3,
                text_y: y + 15,
                width,
                count_x: LABEL_W + width + 6,
                href,
            }
        })
        .collect::<Vec<_>>();
    Chart {
        title,
        height: (bars.len() as u64 * ROW_H).max(ROW_H),
        label_w: LABEL_W,
        bars,
    }
}

pub(crate) struct OverdueRow {
    pub id: String,
    pub state: &'static str,
    pub severity: &'static str,
    pub created: String,
    pub due: String,
    pub late: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Option<Nav>,
    scope: String,
    total: u64,
    charts: Vec<Chart>,
    time_to_acknowledge: String,
    acknowledged: u64,
    time_to_triage: String,
    triaged: u64,
    overdue_total: u64,
    overdue: Vec<OverdueRow>,
    sla: String,
}

pub(crate) async fn dashboard(
    State(state): State<AppState>,
    Authed(current): Authed,
) -> Result<Response, WebError> {
    let now = Timestamp::now();
    let sla = state.config().sla;
    let scope = authz::scope(&current.user);
    let stats = match scope {
        Scope::All => {
            state
                .store()
                .dashboard_stats(None, now, &sla, OVERDUE_SHOWN)
                .await?
        }
        Scope::Wg(wg) => {
            state
                .store()
                .dashboard_stats(Some(wg), now, &sla, OVERDUE_SHOWN)
                .await?
        }
        Scope::Nothing => DashboardStats::default(),
    };
    let sev_label = |s: Option<embargo_domain::Severity>| {
        s.map(|s| s.as_str().to_owned())
            .unwrap_or_else(|| "unrated".to_owned())
    };
    let charts = vec![
        chart(
            "Reports by state",
            stats
                .by_state
                .iter()
                .map(|(s, n)| {
                    (
                        s.as_str().to_owned(),
                        *n,
                        format!("state-{}", s.as_str()),
                        format!("/reports?state={}", s.as_str()),
                    )
                })
                .collect(),
        ),
        chart(
            "Reports by severity",
            stats
                .by_severity
                .iter()
                .map(|(s, n)| {
                    (
                        sev_label(*s),
                        *n,
                        format!("sev-{}", sev_label(*s)),
                        s.map(|s| format!("/reports?severity={}", s.as_str()))
                            .unwrap_or_else(|| "/reports?state=new".to_owned()),
                    )
                })
                .collect(),
        ),
        chart(
            "Reports by WG",
            stats
                .by_wg
                .iter()
                .map(|(w, n)| {
                    let label = w
                        .as_ref()
                        .map(|w| w.to_string())
                        .unwrap_or_else(|| "unassigned".to_owned());
                    let href = w
                        .as_ref()
                        .map(|w| format!("/reports?wg={w}"))
                        .unwrap_or_else(|| "/reports?state=new".to_owned());
                    (label, *n, "wg".to_owned(), href)
                })
                .collect(),
        ),
        chart(
            "Overdue by severity",
            stats
                .overdue_by_severity
                .iter()
                .map(|(s, n)| {
                    (
                        sev_label(*s),
                        *n,
                        format!("sev-{}", sev_label(*s)),
                        s.map(|s| format!("/reports?severity={}", s.as_str()))
                            .unwrap_or_else(|| "/reports?state=new".to_owned()),
                    )
                })
                .collect(),
        ),
    ];
    let overdue = stats
        .overdue
        .iter()
        .map(|o| OverdueRow {
            id: o.id.to_string(),
            state: o.state.as_str(),
            severity: o.severity.map(|s| s.as_str()).unwrap_or("unrated"),
            created: ts(o.created_at),
            due: ts(o.due_at),
            late: duration(now.duration_since(o.due_at)),
        })
        .collect();
    render(&DashboardPage {
        nav: Some(Nav::of(&current)),
        scope: match scope {
            Scope::All => "all WGs".to_owned(),
            Scope::Wg(w) => format!("WG {w}"),
            Scope::Nothing => "no WG assigned to your account".to_owned(),
        },
        total: stats.total,
        charts,
        time_to_acknowledge: stats
            .time_to_acknowledge
            .map(duration)
            .unwrap_or_else(|| "—".to_owned()),
        acknowledged: stats.acknowledged,
        time_to_triage: stats
            .time_to_triage
            .map(duration)
            .unwrap_or_else(|| "—".to_owned()),
        triaged: stats.triaged,
        overdue_total: stats.overdue_by_severity.iter().map(|(_, n)| n).sum(),
        overdue,
        sla: format!(
            "critical {} d, high {} d, medium {} d, low {} d, unrated {} d",
            sla.critical_days, sla.high_days, sla.medium_days, sla.low_days, sla.unrated_days
        ),
    })
}
