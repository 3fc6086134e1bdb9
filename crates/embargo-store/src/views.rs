//! Read models of the admin web view: the report list (filters, sorts,
//! keyset pagination), the report page (messages and the latest part of
//! the audit trail), attachments checked against their report, the
//! dashboard figures, and a bulk seeding helper for benchmarks.
//!
//! Same conventions as the rest of the store: `$N` placeholders on both
//! backends, every value bound, sealed columns opened with the context of
//! their row. Queries are assembled from constant fragments only (the
//! filters choose which fragments), never from input.

use embargo_domain::{Severity, State, TrackingId, TrackingPrefix, WgName};
use jiff::{SignedDuration, Timestamp};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::Store;
use crate::db::{get, get_opt_parsed, get_parsed, get_tracking_id, get_ts, get_u64, ms, parse_wg};
use crate::error::{Result, StoreError};
use crate::model::{AttachmentMeta, Event, MessageDetail, ReportSummary};
use crate::reports::{
    attachment_meta, event_from_row, report_with_messages, summary_from_row, summary_select,
};

/// The order of the report list. Each order has its own keyset cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportSort {
    /// By filing time, newest first (cursor: `created_at`, tracking ID).
    #[default]
    NewestFirst,
    /// By filing time, oldest first.
    OldestFirst,
    /// By last activity, most recent first (cursor: `updated_at`,
    /// tracking ID).
    RecentlyUpdated,
}

impl ReportSort {
    pub const ALL: [ReportSort; 3] = [
        ReportSort::NewestFirst,
        ReportSort::OldestFirst,
        ReportSort::RecentlyUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportSort::NewestFirst => "newest",
            ReportSort::OldestFirst => "oldest",
            ReportSort::RecentlyUpdated => "updated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    fn key_column(self) -> &'static str {
        match self {
            ReportSort::NewestFirst | ReportSort::OldestFirst => "r.created_at",
            ReportSort::RecentlyUpdated => "r.updated_at",
        }
    }

    fn descending(self) -> bool {
        !matches!(self, ReportSort::OldestFirst)
    }
}

/// A position in the report list: the sort key (unix milliseconds) and
/// the tracking ID of the last row shown. Printed as `<ms>.<ID>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportCursor {
    pub key: i64,
    pub id: TrackingId,
}

impl ReportCursor {
    /// Parses `<ms>.<ID>` as printed by `Display`.
    pub fn parse(s: &str) -> Option<Self> {
        let (key, id) = s.split_once('.')?;
        Some(Self {
            key: key.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

impl std::fmt::Display for ReportCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.key, self.id)
    }
}

/// Which reports [`Store::report_page`] returns.
#[derive(Debug, Clone)]
pub struct ReportQuery {
    pub state: Option<State>,
    pub wg: Option<WgName>,
    pub severity: Option<Severity>,
    /// Case-insensitive substring of the reporter's address. The address is
    /// sealed at rest (there is no index on it), so this filter is applied
    /// after opening each row, scanning at most `max_scan` rows per page.
    pub reporter: Option<String>,
    /// Only reports filed at or after this instant.
    pub created_since: Option<Timestamp>,
    /// Only reports filed before this instant.
    pub created_before: Option<Timestamp>,
    pub sort: ReportSort,
    /// Continue after this row (from [`ReportPage::next`]).
    pub after: Option<ReportCursor>,
    /// Page size, 1..=500.
    pub limit: u32,
    /// Upper bound of rows opened for the reporter filter per page.
    pub max_scan: u32,
}

impl Default for ReportQuery {
    fn default() -> Self {
        Self {
            state: None,
            wg: None,
            severity: None,
            reporter: None,
            created_since: None,
            created_before: None,
            sort: ReportSort::default(),
            after: None,
            limit: 50,
            max_scan: 5_000,
        }
    }
}

/// One page of the report list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPage {
    pub reports: Vec<ReportSummary>,
    /// Where the next page starts; `None` on the last page. With a reporter
    /// filter a page may hold fewer than `limit` rows and still have a next
    /// page (the scan bound was reached).
    pub next: Option<ReportCursor>,
    /// Rows opened to build this page.
    pub scanned: u64,
}

/// A report as the report page shows it: the summary, every message
/// (oldest first, opened), and the latest events of its audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportView {
    pub report: ReportSummary,
    pub messages: Vec<MessageDetail>,
    /// The latest `event_limit` events, oldest first.
    pub events: Vec<Event>,
    /// How many events the report has in all.
    pub event_count: u64,
}

/// Days allowed per severity before an open report is overdue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sla {
    pub critical_days: u32,
    pub high_days: u32,
    pub medium_days: u32,
    pub low_days: u32,
    /// For reports not rated yet (`new`): they could be critical.
    pub unrated_days: u32,
}

impl Default for Sla {
    /// Critical 2 days, high 7, medium 30, low 90; unrated as critical.
    fn default() -> Self {
        Self {
            critical_days: 2,
            high_days: 7,
            medium_days: 30,
            low_days: 90,
            unrated_days: 2,
        }
    }
}

impl Sla {
    pub fn days(&self, severity: Option<Severity>) -> u32 {
        match severity {
            Some(Severity::Critical) => self.critical_days,
            Some(Severity::High) => self.high_days,
            Some(Severity::Medium) => self.medium_days,
            Some(Severity::Low) => self.low_days,
            None => self.unrated_days,
        }
    }

    fn ms(&self, severity: Option<Severity>) -> i64 {
        i64::from(self.days(severity)).saturating_mul(86_400_000)
    }
}

/// A report past its SLA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    pub id: TrackingId,
    pub state: State,
    pub severity: Option<Severity>,
    pub created_at: Timestamp,
    pub due_at: Timestamp,
}

/// The dashboard's figures (no sealed content).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DashboardStats {
    pub total: u64,
    /// Every state, in [`State::ALL`] order, zeros included.
    pub by_state: Vec<(State, u64)>,
    /// Every severity (highest first), then unrated.
    pub by_severity: Vec<(Option<Severity>, u64)>,
    /// Per WG (by name), then unassigned.
    pub by_wg: Vec<(Option<WgName>, u64)>,
    /// Median time from filing to the acknowledgement, and over how many.
    pub time_to_acknowledge: Option<SignedDuration>,
    pub acknowledged: u64,
    /// Median time from filing to the first triage, and over how many.
    pub time_to_triage: Option<SignedDuration>,
    pub triaged: u64,
    /// Open (`new`, `triaged`, `accepted`) reports past their SLA, by
    /// severity as in `by_severity`.
    pub overdue_by_severity: Vec<(Option<Severity>, u64)>,
    /// The most overdue of them (at most `overdue_limit`).
    pub overdue: Vec<Overdue>,
}

/// Bulk data for benchmarks and tests: see [`Store::seed_reports_for_benchmark`].
#[derive(Debug, Clone)]
pub struct BenchSeed {
    pub prefix: TrackingPrefix,
    /// Year of the tracking IDs; numbers start after the year's counter.
    pub year: i16,
    pub count: u32,
    /// Filing time of the first report; each next one `step` later.
    pub first_created_at: Timestamp,
    pub step: SignedDuration,
    /// WGs the reports are spread over (triaged and later states).
    pub wgs: Vec<WgName>,
}

const OPEN_STATES: &str = "('new', 'triaged', 'accepted')";

/// A bound value of a dynamically assembled query.
enum Bind {
    Text(String),
    Int(i64),
    OptText(Option<String>),
    OptInt(Option<i64>),
    Blob(Vec<u8>),
}

/// SQL assembled from constant fragments, with `$N` placeholders numbered
/// as values are bound.
struct QueryBuilder {
    sql: String,
    binds: Vec<Bind>,
}

impl QueryBuilder {
    fn new(head: &str) -> Self {
        Self {
            sql: head.to_owned(),
            binds: Vec::new(),
        }
    }

    /// Appends `fragment`, replacing each `?` with the next placeholder.
    fn push(&mut self, fragment: &str, values: Vec<Bind>) {
        let mut values = values.into_iter();
        for c in fragment.chars() {
            if c == '?' {
                if let Some(v) = values.next() {
                    self.binds.push(v);
                    self.sql.push('$');
                    self.sql.push_str(&self.binds.len().to_string());
                }
            } else {
                self.sql.push(c);
            }
        }
    }

    fn build(self) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        // The SQL text is made of constant fragments and `$N` placeholders
        // only; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.sql));
        for b in self.binds {
            q = match b {
                Bind::Text(t) => q.bind(t),
                Bind::Int(i) => q.bind(i),
                Bind::OptText(t) => q.bind(t),
                Bind::OptInt(i) => q.bind(i),
                Bind::Blob(b) => q.bind(b),
            };
        }
        q
    }

    async fn fetch_all(self, conn: &mut AnyConnection) -> Result<Vec<AnyRow>> {
        Ok(self.build().fetch_all(&mut *conn).await?)
    }

    async fn execute(self, conn: &mut AnyConnection) -> Result<u64> {
        Ok(self.build().execute(&mut *conn).await?.rows_affected())
    }
}

fn median(sorted_pair: &[i64], count: u64) -> Option<SignedDuration> {
    let first = *sorted_pair.first()?;
    let value = if count.is_multiple_of(2) {
        let second = sorted_pair.get(1).copied().unwrap_or(first);
        first / 2 + second / 2 + (first % 2 + second % 2) / 2
    } else {
        first
    };
    Some(SignedDuration::from_millis(value))
}

impl Store {
    /// One page of the report list. See [`ReportQuery`].
    pub async fn report_page(&self, query: &ReportQuery) -> Result<ReportPage> {
        let limit = query.limit.clamp(1, 500);
        let needle = query
            .reporter
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_lowercase);
        let sort = query.sort;
        let key = sort.key_column();
        let (cmp, dir) = if sort.descending() {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let s = self.sealer();
        let mut conn = self.pool.acquire().await?;
        let mut after = query.after.clone();
        let mut reports = Vec::new();
        let mut scanned: u64 = 0;
        // Without the reporter filter one fetch of limit + 1 rows tells
        // whether there is a next page; with it, fetch in batches and open
        // until the page is full or the scan bound is reached.
        let batch = if needle.is_some() { 200 } else { limit + 1 };
        loop {
            let mut qb = QueryBuilder::new(concat!(summary_select!(), "WHERE 1 = 1"));
            if let Some(state) = query.state {
                qb.push(
                    " AND r.state = ?",
                    vec![Bind::Text(state.as_str().to_owned())],
                );
            }
            if let Some(wg) = &query.wg {
                qb.push(" AND r.wg = ?", vec![Bind::Text(wg.as_str().to_owned())]);
            }
            if let Some(sev) = query.severity {
                qb.push(
                    " AND r.severity = ?",
                    vec![Bind::Text(sev.as_str().to_owned())],
                );
            }
            if let Some(t) = query.created_since {
                qb.push(" AND r.created_at >= ?", vec![Bind::Int(ms(t))]);
            }
            if let Some(t) = query.created_before {
                qb.push(" AND r.created_at < ?", vec![Bind::Int(ms(t))]);
            }
            if let Some(c) = &after {
                // Portable keyset predicate: (key, id) beyond the cursor.
                // The first term lets both planners use the key's index.
                let frag =
                    format!(" AND {key} {cmp}= ? AND ({key} {cmp} ? OR r.tracking_id {cmp} ?)");
                qb.push(
                    &frag,
                    vec![
                        Bind::Int(c.key),
                        Bind::Int(c.key),
                        Bind::Text(c.id.to_string()),
                    ],
                );
            }
            qb.push(
                &format!(" ORDER BY {key} {dir}, r.tracking_id {dir} LIMIT ?"),
                vec![Bind::Int(i64::from(batch))],
            );
            let rows = qb.fetch_all(&mut conn).await?;
            let fetched = rows.len();
            let mut last: Option<ReportCursor> = None;
            for row in &rows {
                let summary = summary_from_row(s, row)?;
                scanned += 1;
                let cursor = ReportCursor {
                    key: match sort {
                        ReportSort::RecentlyUpdated => ms(summary.updated_at),
                        _ => ms(summary.created_at),
                    },
                    id: summary.id.clone(),
                };
                let keep = match &needle {
                    Some(n) => summary.reporter.to_lowercase().contains(n.as_str()),
                    None => true,
                };
                if keep {
                    if reports.len() == limit as usize {
                        // One more row than the page holds: there is a next page.
                        let next = reports.last().map(|r: &ReportSummary| ReportCursor {
                            key: match sort {
                                ReportSort::RecentlyUpdated => ms(r.updated_at),
                                _ => ms(r.created_at),
                            },
                            id: r.id.clone(),
                        });
                        return Ok(ReportPage {
                            reports,
                            next,
                            scanned,
                        });
                    }
                    reports.push(summary);
                }
                last = Some(cursor);
                if needle.is_some() && scanned >= u64::from(query.max_scan) {
                    // Scan bound reached: continue from here on the next page.
                    return Ok(ReportPage {
                        reports,
                        next: last,
                        scanned,
                    });
                }
            }
            if fetched < batch as usize || needle.is_none() {
                return Ok(ReportPage {
                    reports,
                    next: None,
                    scanned,
                });
            }
            after = last;
        }
    }

    /// The report page's data: summary, messages (oldest first, opened,
    /// with attachment metadata) and the latest `event_limit` events.
    pub async fn report_view(&self, id: &TrackingId, event_limit: u32) -> Result<ReportView> {
        let s = self.sealer();
        let id_text = id.to_string();
        let mut conn = self.pool.acquire().await?;
        let (report, messages) = report_with_messages(s, &mut conn, id).await?;

        let event_count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE report_id = $1")
                .bind(&id_text)
                .fetch_one(&mut *conn)
                .await?;
        let event_rows = sqlx::query(
            "SELECT id, report_id, at, actor, kind, detail_sealed FROM events WHERE report_id = $1 \
             ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(&id_text)
        .bind(i64::from(event_limit))
        .fetch_all(&mut *conn)
        .await?;
        let mut events = event_rows
            .iter()
            .map(|r| event_from_row(s, r))
            .collect::<Result<Vec<_>>>()?;
        events.reverse();

        Ok(ReportView {
            report,
            messages,
            events,
            event_count: u64::try_from(event_count)
                .map_err(|_| StoreError::corrupt("negative count"))?,
        })
    }

    /// An attachment of `report`: metadata and content.
    /// [`StoreError::NotFound`] when it does not exist or belongs to another
    /// report.
    pub async fn report_attachment(
        &self,
        report: &TrackingId,
        attachment: Uuid,
    ) -> Result<(AttachmentMeta, Zeroizing<Vec<u8>>)> {
        let id = attachment.to_string();
        let row = sqlx::query(
            "SELECT a.id, a.filename_sealed, a.content_type, a.size, a.sha256, a.content_sealed \
             FROM attachments a JOIN messages m ON m.id = a.message_id \
             WHERE a.id = $1 AND m.report_id = $2",
        )
        .bind(&id)
        .bind(report.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("attachment {id}")))?;
        let s = self.sealer();
        let meta = attachment_meta(s, &row, attachment)?;
        let blob: Vec<u8> = get(&row, "content_sealed")?;
        Ok((meta, s.open("attachments", "content_sealed", &id, &blob)?))
    }

    /// Contents of the report's attachments of type `application/pgp-keys`
    /// (keys reporters bring along), oldest first.
    pub async fn report_key_attachments(
        &self,
        report: &TrackingId,
    ) -> Result<Vec<Zeroizing<Vec<u8>>>> {
        let rows = sqlx::query(
            "SELECT a.id, a.content_sealed FROM attachments a JOIN messages m ON m.id = a.message_id \
             WHERE m.report_id = $1 AND m.direction = 'inbound' AND a.content_type = 'application/pgp-keys' \
             ORDER BY m.received_at, m.id, a.position",
        )
        .bind(report.to_string())
        .fetch_all(&self.pool)
        .await?;
        let s = self.sealer();
        rows.iter()
            .map(|r| {
                let id: String = get(r, "id")?;
                let blob: Vec<u8> = get(r, "content_sealed")?;
                s.open("attachments", "content_sealed", &id, &blob)
            })
            .collect()
    }

    /// Whether `message` belongs to `report`.
    pub async fn message_in_report(&self, report: &TrackingId, message: Uuid) -> Result<bool> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM messages WHERE id = $1 AND report_id = $2")
                .bind(message.to_string())
                .bind(report.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// The dashboard's figures over all reports, or those of one WG.
    pub async fn dashboard_stats(
        &self,
        wg: Option<&WgName>,
        now: Timestamp,
        sla: &Sla,
        overdue_limit: u32,
    ) -> Result<DashboardStats> {
        let mut conn = self.pool.acquire().await?;
        let scope = |qb: &mut QueryBuilder| {
            if let Some(w) = wg {
                qb.push(" AND wg = ?", vec![Bind::Text(w.as_str().to_owned())]);
            }
        };

        let mut stats = DashboardStats::default();

        let mut qb = QueryBuilder::new("SELECT state AS k, COUNT(*) AS n FROM reports WHERE 1 = 1");
        scope(&mut qb);
        qb.push(" GROUP BY state", vec![]);
        let rows = qb.fetch_all(&mut conn).await?;
        let mut by_state: Vec<(State, u64)> = State::ALL.iter().map(|s| (*s, 0)).collect();
        for r in &rows {
            let st: State = get_parsed(r, "k")?;
            let n = get_u64(r, "n")?;
            if let Some(slot) = by_state.iter_mut().find(|(s, _)| *s == st) {
                slot.1 = n;
            }
            stats.total += n;
        }
        stats.by_state = by_state;

        let mut qb =
            QueryBuilder::new("SELECT severity AS k, COUNT(*) AS n FROM reports WHERE 1 = 1");
        scope(&mut qb);
        qb.push(" GROUP BY severity", vec![]);
        let rows = qb.fetch_all(&mut conn).await?;
        stats.by_severity = severity_buckets(&rows)?;

        let mut qb = QueryBuilder::new("SELECT wg AS k, COUNT(*) AS n FROM reports WHERE 1 = 1");
        scope(&mut qb);
        qb.push(" GROUP BY wg ORDER BY wg", vec![]);
        let rows = qb.fetch_all(&mut conn).await?;
        let mut by_wg = Vec::new();
        let mut unassigned = 0;
        for r in &rows {
            match parse_wg(get(r, "k")?)? {
                Some(w) => by_wg.push((Some(w), get_u64(r, "n")?)),
                None => unassigned = get_u64(r, "n")?,
            }
        }
        by_wg.sort_by(|a, b| a.0.cmp(&b.0));
        by_wg.push((None, unassigned));
        stats.by_wg = by_wg;

        for (column, target) in [("acknowledged_at", 0usize), ("triaged_at", 1usize)] {
            let mut qb = QueryBuilder::new(&format!(
                "SELECT COUNT(*) AS n FROM reports WHERE {column} IS NOT NULL"
            ));
            scope(&mut qb);
            let rows = qb.fetch_all(&mut conn).await?;
            let count = rows
                .first()
                .map(|r| get_u64(r, "n"))
                .transpose()?
                .unwrap_or(0);
            let mut value = None;
            if count > 0 {
                let offset = i64::try_from((count - 1) / 2)
                    .map_err(|_| StoreError::corrupt("count out of range"))?;
                let mut qb = QueryBuilder::new(&format!(
                    "SELECT {column} - created_at AS d FROM reports WHERE {column} IS NOT NULL"
                ));
                scope(&mut qb);
                qb.push(" ORDER BY d LIMIT 2 OFFSET ?", vec![Bind::Int(offset)]);
                let rows = qb.fetch_all(&mut conn).await?;
                let pair = rows
                    .iter()
                    .map(|r| get::<i64>(r, "d"))
                    .collect::<Result<Vec<_>>>()?;
                value = median(&pair, count);
            }
            if target == 0 {
                stats.acknowledged = count;
                stats.time_to_acknowledge = value;
            } else {
                stats.triaged = count;
                stats.time_to_triage = value;
            }
        }

        // Overdue: open, and filed longer ago than the SLA of its severity.
        let due_expr = "r.created_at + CASE r.severity WHEN 'critical' THEN ? WHEN 'high' THEN ? \
                        WHEN 'medium' THEN ? WHEN 'low' THEN ? ELSE ? END";
        let sla_binds = || {
            vec![
                Bind::Int(sla.ms(Some(Severity::Critical))),
                Bind::Int(sla.ms(Some(Severity::High))),
                Bind::Int(sla.ms(Some(Severity::Medium))),
                Bind::Int(sla.ms(Some(Severity::Low))),
                Bind::Int(sla.ms(None)),
            ]
        };
        let scope_r = |qb: &mut QueryBuilder| {
            if let Some(w) = wg {
                qb.push(" AND r.wg = ?", vec![Bind::Text(w.as_str().to_owned())]);
            }
        };
        let mut qb = QueryBuilder::new(
            "SELECT r.severity AS k, COUNT(*) AS n FROM reports r WHERE r.state IN ",
        );
        qb.push(OPEN_STATES, vec![]);
        qb.push(&format!(" AND {due_expr} < ?"), {
            let mut b = sla_binds();
            b.push(Bind::Int(ms(now)));
            b
        });
        scope_r(&mut qb);
        qb.push(" GROUP BY r.severity", vec![]);
        let rows = qb.fetch_all(&mut conn).await?;
        stats.overdue_by_severity = severity_buckets(&rows)?;

        let mut qb = QueryBuilder::new("SELECT r.tracking_id, r.state, r.severity, r.created_at, ");
        qb.push(&format!("{due_expr} AS due_at"), sla_binds());
        qb.push(" FROM reports r WHERE r.state IN ", vec![]);
        qb.push(OPEN_STATES, vec![]);
        qb.push(&format!(" AND {due_expr} < ?"), {
            let mut b = sla_binds();
            b.push(Bind::Int(ms(now)));
            b
        });
        scope_r(&mut qb);
        qb.push(
            " ORDER BY due_at, r.tracking_id LIMIT ?",
            vec![Bind::Int(i64::from(overdue_limit))],
        );
        let rows = qb.fetch_all(&mut conn).await?;
        stats.overdue = rows
            .iter()
            .map(|r| {
                Ok(Overdue {
                    id: get_tracking_id(r, "tracking_id")?,
                    state: get_parsed(r, "state")?,
                    severity: get_opt_parsed(r, "severity")?,
                    created_at: get_ts(r, "created_at")?,
                    due_at: get_ts(r, "due_at")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(stats)
    }

    /// **For benchmarks and tests only.** Inserts `seed.count` reports
    /// without messages in large batches (multi-row INSERTs, one
    /// transaction per batch), states, WGs and severities spread
    /// deterministically, subject and reporter sealed like every other
    /// report. Tracking numbers continue the year's counter, which is
    /// advanced; planner statistics of `reports` are refreshed at the end.
    /// Returns the IDs in filing order.
    pub async fn seed_reports_for_benchmark(&self, seed: &BenchSeed) -> Result<Vec<TrackingId>> {
        const BATCH: u32 = 400;
        let year = i64::from(seed.year);
        let prefix = seed.prefix.as_str();
        let mut ids = Vec::with_capacity(seed.count as usize);
        let mut tx = self.begin().await?;
        let last: i64 = sqlx::query_scalar(
            "INSERT INTO tracking_counters (prefix, year, last) VALUES ($1, $2, $3) \
             ON CONFLICT (prefix, year) DO UPDATE SET last = tracking_counters.last + $3 \
             RETURNING last",
        )
        .bind(prefix)
        .bind(year)
        .bind(i64::from(seed.count))
        .fetch_one(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        let first_number = last - i64::from(seed.count) + 1;
        let s = self.sealer();
        let mut i: u32 = 0;
        while i < seed.count {
            let n = BATCH.min(seed.count - i);
            let mut qb = QueryBuilder::new(
                "INSERT INTO reports (tracking_id, prefix, year, number, state, wg, severity, reporter_sealed, \
                 subject_sealed, created_at, updated_at, acknowledged_at, triaged_at) VALUES ",
            );
            for j in 0..n {
                let k = i + j;
                let number = first_number + i64::from(k);
                let number_u32 = u32::try_from(number)
                    .map_err(|_| StoreError::Invalid("tracking number out of range".to_owned()))?;
                let id = TrackingId::new(seed.prefix.clone(), seed.year, number_u32)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                let id_text = id.to_string();
                let created = seed
                    .first_created_at
                    .checked_add(SignedDuration::from_millis(
                        i64::try_from(seed.step.as_millis())
                            .unwrap_or(0)
                            .saturating_mul(i64::from(k)),
                    ))
                    .map_err(|_| StoreError::Invalid("seed time out of range".to_owned()))?;
                let state = State::ALL
                    .get((k % 8) as usize)
                    .copied()
                    .unwrap_or(State::New);
                let rated = state != State::New;
                let wg = if rated && !seed.wgs.is_empty() {
                    seed.wgs
                        .get(k as usize % seed.wgs.len())
                        .map(|w| w.as_str().to_owned())
                } else {
                    None
                };
                let severity = if rated {
                    Severity::ALL.get((k / 8 % 4) as usize).copied()
                } else {
                    None
                };
                let c = ms(created);
                let reporter = s.seal(
                    "reports",
                    "reporter_sealed",
                    &id_text,
                    format!("reporter{}@example.org", k % 997).as_bytes(),
                )?;
                let subject = s.seal(
                    "reports",
                    "subject_sealed",
                    &id_text,
                    format!(
                        "Benchmark report {k}: crafted input in component {}",
                        k % 31
                    )
                    .as_bytes(),
                )?;
                if j > 0 {
                    qb.push(", ", vec![]);
                }
                qb.push(
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    vec![
                        Bind::Text(id_text),
                        Bind::Text(prefix.to_owned()),
                        Bind::Int(year),
                        Bind::Int(number),
                        Bind::Text(state.as_str().to_owned()),
                        Bind::OptText(wg),
                        Bind::OptText(severity.map(|v| v.as_str().to_owned())),
                        Bind::Blob(reporter),
                        Bind::Blob(subject),
                        Bind::Int(c),
                        Bind::Int(c + 3_600_000),
                        Bind::Int(c + 60_000),
                        Bind::OptInt(rated.then_some(c + 86_400_000)),
                    ],
                );
                ids.push(id);
            }
            let mut tx = self.begin().await?;
            qb.execute(&mut tx.tx).await?;
            tx.commit().await?;
            i += n;
        }
        // Fresh planner statistics, as autovacuum would gather soon after
        // a bulk load (PostgreSQL); SQLite keeps them in sqlite_stat1.
        sqlx::query("ANALYZE reports").execute(&self.pool).await?;
        Ok(ids)
    }
}

/// Severity buckets (critical first, unrated last) from `k`/`n` rows.
fn severity_buckets(rows: &[AnyRow]) -> Result<Vec<(Option<Severity>, u64)>> {
    let mut out: Vec<(Option<Severity>, u64)> =
        Severity::ALL.iter().rev().map(|s| (Some(*s), 0)).collect();
    out.push((None, 0));
    for r in rows {
        let k: Option<Severity> = get_opt_parsed(r, "k")?;
        let n = get_u64(r, "n")?;
        if let Some(slot) = out.iter_mut().find(|(s, _)| *s == k) {
            slot.1 = n;
        }
    }
    Ok(out)
}
