//! Disclosure: the agreed public advisory of a report (sealed), approvals
//! per version of embargo end and text, the placeholder issue, the issue
//! the advisory was published as, and the publication-job operations the
//! workflow needs beyond [`crate::queue`] (locking, release, admin retry).
//!
//! Schema: `migrations/*/0003_disclosure.sql`. Sealed columns are bound to
//! `embargo:disclosures:<column>:<report id>`.

use std::fmt;

use embargo_domain::{Login, TrackingId};
use jiff::Timestamp;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::db::{
    Sealer, get, get_opt_ts, get_parsed, get_tracking_id, get_ts, get_u32, get_u64, ms,
};
use crate::error::{Result, StoreError};
use crate::model::{Backend, JobState, PublicationJob};
use crate::{Store, Tx};

const TABLE: &str = "disclosures";

/// Most approvals a disclosure can require.
pub const MAX_APPROVALS_REQUIRED: u8 = 10;

/// The text published at the embargo end. Every field is sealed at rest;
/// `Debug` shows none of it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdvisoryText {
    pub title: String,
    /// The advisory itself (Markdown).
    pub markdown: String,
    /// Affected versions, free text as agreed.
    pub affected: String,
    /// Fixed versions, free text as agreed.
    pub fixed: String,
    /// The reporter's chosen name; `None`: anonymous.
    pub credit: Option<String>,
    pub cve: Option<String>,
}

impl fmt::Debug for AdvisoryText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdvisoryText")
            .field("title_len", &self.title.len())
            .field("markdown_len", &self.markdown.len())
            .field("credit", &self.credit.as_ref().map(|_| "***"))
            .field("cve", &self.cve.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// One approval of one version of a disclosure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub login: Login,
    pub version: u32,
    /// The embargo end of the approved version.
    pub embargo_until: Timestamp,
    pub approved_at: Timestamp,
}

/// A report's agreed disclosure, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclosure {
    pub report_id: TrackingId,
    /// Counts changes of the embargo end or the text (1 = as first agreed).
    pub version: u32,
    pub embargo_until: Timestamp,
    pub advisory: AdvisoryText,
    pub approvals_required: u8,
    /// Approvals of the current version, oldest first.
    pub approvals: Vec<Approval>,
    pub scheduled_by: Login,
    pub scheduled_at: Timestamp,
    pub updated_at: Timestamp,
    pub published_issue_url: Option<String>,
    /// `owner/name` of the repository the advisory was published in.
    pub published_repo: Option<String>,
    pub published_at: Option<Timestamp>,
}

impl Disclosure {
    /// Enough approvals of the current version.
    pub fn is_approved(&self) -> bool {
        self.approvals.len() >= usize::from(self.approvals_required)
    }

    /// Whether `login` approved the current version.
    pub fn approved_by(&self, login: &Login) -> bool {
        self.approvals.iter().any(|a| &a.login == login)
    }
}

/// What [`Tx::put_disclosure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisclosureWrite {
    /// First agreement: version 1.
    Created,
    /// The embargo end or the text changed: a new version, earlier
    /// approvals no longer count.
    Changed,
    /// Same end and text as before: version and approvals kept.
    Unchanged,
}

/// The vague public issue opened for a report before disclosure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceholderIssue {
    pub report_id: TrackingId,
    /// `owner/name`.
    pub repo: String,
    pub number: u64,
    pub url: String,
    pub created_at: Timestamp,
}

/// What [`Tx::release_publication_job`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobRelease {
    /// There was no job.
    NoJob,
    /// A pending or failed job, or a running one whose lease ran out
    /// without an issue recorded: deleted.
    Released,
    /// A worker holds the job right now: left alone.
    Busy { lease_until: Timestamp },
    /// The public issue exists already (recorded on the job, done or not):
    /// left alone; an unfinished publication completes on the next run.
    IssueExists { issue_url: String },
    /// Done without an issue recorded (not written by this crate): left
    /// alone.
    Done,
}

fn to_i64<T: TryInto<i64>>(v: T, what: &str) -> Result<i64> {
    v.try_into()
        .map_err(|_| StoreError::Invalid(format!("{what} out of range")))
}

fn parse_login(s: &str) -> Result<Login> {
    Login::parse(s).map_err(|_| StoreError::corrupt("stored login does not parse"))
}

fn check_text(advisory: &AdvisoryText) -> Result<()> {
    if advisory.title.trim().is_empty() {
        return Err(StoreError::Invalid("advisory title is empty".to_owned()));
    }
    Ok(())
}

fn check_url(url: &str) -> Result<()> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2000
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "issue URL must be an http(s) URL without whitespace".to_owned(),
        ))
    }
}

/// `FOR UPDATE` on PostgreSQL (row lock until the transaction ends); on
/// SQLite the write transaction (`BEGIN IMMEDIATE`) already excludes other
/// writers.
fn for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}

const DISCLOSURE_COLUMNS: &str = "SELECT report_id, version, embargo_until, title_sealed, advisory_sealed, affected_sealed, \
     fixed_sealed, credit_sealed, cve_sealed, approvals_required, scheduled_by, scheduled_at, updated_at, \
     published_issue_url, published_repo, published_at FROM disclosures WHERE report_id = $1";

const JOB_COLUMNS: &str = "SELECT report_id, due_at, state, attempts, lease_owner, lease_until, issue_url, last_error \
     FROM publication_jobs";

fn job_from_row(r: &AnyRow) -> Result<PublicationJob> {
    Ok(PublicationJob {
        report_id: get_tracking_id(r, "report_id")?,
        due_at: get_ts(r, "due_at")?,
        state: get_parsed(r, "state")?,
        attempts: get_u32(r, "attempts")?,
        lease_owner: get(r, "lease_owner")?,
        lease_until: get_opt_ts(r, "lease_until")?,
        issue_url: get(r, "issue_url")?,
        last_error: get(r, "last_error")?,
    })
}

fn disclosure_from_row(s: Sealer<'_>, r: &AnyRow, approvals: Vec<Approval>) -> Result<Disclosure> {
    let id_text: String = get(r, "report_id")?;
    let open = |column: &str| s.open_col_text(r, TABLE, column, &id_text);
    let open_opt = |column: &str| s.open_opt_col_text(r, TABLE, column, &id_text);
    let required = get_u64(r, "approvals_required")?;
    Ok(Disclosure {
        report_id: crate::db::parse_tracking_id(&id_text)?,
        version: get_u32(r, "version")?,
        embargo_until: get_ts(r, "embargo_until")?,
        advisory: AdvisoryText {
            title: open("title_sealed")?,
            markdown: open("advisory_sealed")?,
            affected: open("affected_sealed")?,
            fixed: open("fixed_sealed")?,
            credit: open_opt("credit_sealed")?,
            cve: open_opt("cve_sealed")?,
        },
        approvals_required: u8::try_from(required)
            .map_err(|_| StoreError::corrupt("approvals_required out of range"))?,
        approvals,
        scheduled_by: parse_login(&get::<String>(r, "scheduled_by")?)?,
        scheduled_at: get_ts(r, "scheduled_at")?,
        updated_at: get_ts(r, "updated_at")?,
        published_issue_url: get(r, "published_issue_url")?,
        published_repo: get(r, "published_repo")?,
        published_at: get_opt_ts(r, "published_at")?,
    })
}

async fn load_approvals(
    conn: &mut AnyConnection,
    id: &TrackingId,
    version: Option<u32>,
) -> Result<Vec<Approval>> {
    let rows = sqlx::query(
        "SELECT login, version, embargo_until, approved_at FROM disclosure_approvals \
         WHERE report_id = $1 AND ($2 IS NULL OR version = $2) ORDER BY version, approved_at, login",
    )
    .bind(id.to_string())
    .bind(version.map(i64::from))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Approval {
                login: parse_login(&get::<String>(r, "login")?)?,
                version: get_u32(r, "version")?,
                embargo_until: get_ts(r, "embargo_until")?,
                approved_at: get_ts(r, "approved_at")?,
            })
        })
        .collect()
}

async fn load_disclosure(
    conn: &mut AnyConnection,
    s: Sealer<'_>,
    id: &TrackingId,
    lock: &str,
) -> Result<Option<Disclosure>> {
    let sql = format!("{DISCLOSURE_COLUMNS}{lock}");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let version = get_u32(&row, "version")?;
    let approvals = load_approvals(conn, id, Some(version)).await?;
    disclosure_from_row(s, &row, approvals).map(Some)
}

fn placeholder_from_row(r: &AnyRow) -> Result<PlaceholderIssue> {
    Ok(PlaceholderIssue {
        report_id: get_tracking_id(r, "report_id")?,
        repo: get(r, "repo")?,
        number: get_u64(r, "number")?,
        url: get(r, "url")?,
        created_at: get_ts(r, "created_at")?,
    })
}

async fn load_placeholder(
    conn: &mut AnyConnection,
    id: &TrackingId,
) -> Result<Option<PlaceholderIssue>> {
    let row = sqlx::query(
        "SELECT report_id, repo, number, url, created_at FROM placeholder_issues WHERE report_id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| placeholder_from_row(&r)).transpose()
}

impl Tx<'_> {
    /// Locks the report's row for this transaction on PostgreSQL (on
    /// SQLite the write transaction excludes other writers already), so a
    /// decision taken on what is read next stands until commit. Lock order
    /// in this crate: report, then disclosure, then publication job.
    pub async fn lock_report(&mut self, id: &TrackingId) -> Result<()> {
        let sql = format!(
            "SELECT tracking_id FROM reports WHERE tracking_id = $1{}",
            for_update(self.backend)
        );
        let found: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        match found {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound(format!("report {id}"))),
        }
    }

    /// The report's disclosure, locked for this transaction on PostgreSQL.
    pub async fn get_disclosure(&mut self, id: &TrackingId) -> Result<Option<Disclosure>> {
        let lock = for_update(self.backend);
        load_disclosure(&mut self.tx, self.sealer, id, lock).await
    }

    /// Records the agreed embargo end and advisory text of a report. A
    /// different end or text than stored makes a new version (earlier
    /// approvals stop counting); the same end and text keep version and
    /// approvals. Returns the version now current and what happened.
    /// Refused once the advisory was published.
    pub async fn put_disclosure(
        &mut self,
        id: &TrackingId,
        until: Timestamp,
        advisory: &AdvisoryText,
        approvals_required: u8,
        by: &Login,
        now: Timestamp,
    ) -> Result<(u32, DisclosureWrite)> {
        check_text(advisory)?;
        if !(1..=MAX_APPROVALS_REQUIRED).contains(&approvals_required) {
            return Err(StoreError::Invalid(format!(
                "approvals required must be between 1 and {MAX_APPROVALS_REQUIRED}"
            )));
        }
        let existing = self.get_disclosure(id).await?;
        if let Some(d) = &existing
            && d.published_issue_url.is_some()
        {
            return Err(StoreError::Conflict(format!(
                "the advisory of {id} is published already"
            )));
        }
        let id_text = id.to_string();
        let s = self.sealer;
        let seal = |column: &str, text: &str| s.seal(TABLE, column, &id_text, text.as_bytes());
        let seal_opt = |column: &str, text: &Option<String>| {
            text.as_deref().map(|t| seal(column, t)).transpose()
        };
        let (version, write) = match &existing {
            None => (1, DisclosureWrite::Created),
            Some(d) if d.embargo_until != until || d.advisory != *advisory => (
                d.version
                    .checked_add(1)
                    .ok_or_else(|| StoreError::Invalid("too many versions".to_owned()))?,
                DisclosureWrite::Changed,
            ),
            Some(d) => (d.version, DisclosureWrite::Unchanged),
        };
        match write {
            DisclosureWrite::Created => {
                sqlx::query(
                    "INSERT INTO disclosures (report_id, version, embargo_until, title_sealed, advisory_sealed, \
                     affected_sealed, fixed_sealed, credit_sealed, cve_sealed, approvals_required, scheduled_by, \
                     scheduled_at, updated_at) VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
                )
                .bind(&id_text)
                .bind(ms(until))
                .bind(seal("title_sealed", &advisory.title)?)
                .bind(seal("advisory_sealed", &advisory.markdown)?)
                .bind(seal("affected_sealed", &advisory.affected)?)
                .bind(seal("fixed_sealed", &advisory.fixed)?)
                .bind(seal_opt("credit_sealed", &advisory.credit)?)
                .bind(seal_opt("cve_sealed", &advisory.cve)?)
                .bind(i64::from(approvals_required))
                .bind(by.as_str())
                .bind(ms(now))
                .execute(&mut *self.tx)
                .await?;
            }
            DisclosureWrite::Changed => {
                sqlx::query(
                    "UPDATE disclosures SET version = $2, embargo_until = $3, title_sealed = $4, advisory_sealed = $5, \
                     affected_sealed = $6, fixed_sealed = $7, credit_sealed = $8, cve_sealed = $9, \
                     approvals_required = $10, scheduled_by = $11, scheduled_at = $12, updated_at = $12 \
                     WHERE report_id = $1",
                )
                .bind(&id_text)
                .bind(i64::from(version))
                .bind(ms(until))
                .bind(seal("title_sealed", &advisory.title)?)
                .bind(seal("advisory_sealed", &advisory.markdown)?)
                .bind(seal("affected_sealed", &advisory.affected)?)
                .bind(seal("fixed_sealed", &advisory.fixed)?)
                .bind(seal_opt("credit_sealed", &advisory.credit)?)
                .bind(seal_opt("cve_sealed", &advisory.cve)?)
                .bind(i64::from(approvals_required))
                .bind(by.as_str())
                .bind(ms(now))
                .execute(&mut *self.tx)
                .await?;
            }
            DisclosureWrite::Unchanged => {
                sqlx::query(
                    "UPDATE disclosures SET approvals_required = $2, updated_at = $3 WHERE report_id = $1",
                )
                .bind(&id_text)
                .bind(i64::from(approvals_required))
                .bind(ms(now))
                .execute(&mut *self.tx)
                .await?;
            }
        }
        tracing::info!(report = %id, version, change = ?write, "disclosure recorded");
        Ok((version, write))
    }

    /// Makes the current approvals stop counting (a new version with the
    /// same end and text), e.g. when disclosure is no longer agreed.
    /// Returns the new version, `None` when there is no disclosure.
    pub async fn invalidate_approvals(
        &mut self,
        id: &TrackingId,
        now: Timestamp,
    ) -> Result<Option<u32>> {
        let version: Option<i64> = sqlx::query_scalar(
            "UPDATE disclosures SET version = version + 1, updated_at = $2 WHERE report_id = $1 RETURNING version",
        )
        .bind(id.to_string())
        .bind(ms(now))
        .fetch_optional(&mut *self.tx)
        .await?;
        version
            .map(|v| u32::try_from(v).map_err(|_| StoreError::corrupt("version out of range")))
            .transpose()
    }

    /// Records `login`'s approval of `version`. Only the current version
    /// can be approved ([`StoreError::Conflict`] otherwise). Returns
    /// `false` when `login` had approved it already.
    pub async fn add_approval(
        &mut self,
        id: &TrackingId,
        version: u32,
        login: &Login,
        now: Timestamp,
    ) -> Result<bool> {
        let Some(d) = self.get_disclosure(id).await? else {
            return Err(StoreError::NotFound(format!("disclosure of {id}")));
        };
        if d.version != version {
            return Err(StoreError::Conflict(format!(
                "the disclosure of {id} changed meanwhile (version {} is current, not {version})",
                d.version
            )));
        }
        let done = sqlx::query(
            "INSERT INTO disclosure_approvals (report_id, version, login, embargo_until, approved_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (report_id, version, login) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(i64::from(version))
        .bind(login.as_str())
        .bind(ms(d.embargo_until))
        .bind(ms(now))
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records the public issue the advisory was published as.
    pub async fn set_published_issue(
        &mut self,
        id: &TrackingId,
        repo: &str,
        url: &str,
        now: Timestamp,
    ) -> Result<()> {
        check_url(url)?;
        let done = sqlx::query(
            "UPDATE disclosures SET published_issue_url = $2, published_repo = $3, published_at = $4 \
             WHERE report_id = $1",
        )
        .bind(id.to_string())
        .bind(url)
        .bind(repo)
        .bind(ms(now))
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("disclosure of {id}")));
        }
        Ok(())
    }

    /// Records the placeholder issue of a report. Returns `false` (and
    /// changes nothing) when one is recorded already.
    pub async fn set_placeholder_issue(&mut self, p: &PlaceholderIssue) -> Result<bool> {
        check_url(&p.url)?;
        let done = sqlx::query(
            "INSERT INTO placeholder_issues (report_id, repo, number, url, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (report_id) DO NOTHING",
        )
        .bind(p.report_id.to_string())
        .bind(&p.repo)
        .bind(to_i64(p.number, "issue number")?)
        .bind(&p.url)
        .bind(ms(p.created_at))
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn get_placeholder_issue(
        &mut self,
        id: &TrackingId,
    ) -> Result<Option<PlaceholderIssue>> {
        load_placeholder(&mut self.tx, id).await
    }

    /// The report's publication job, locked for this transaction on
    /// PostgreSQL: a concurrent claim (`FOR UPDATE SKIP LOCKED`) skips it
    /// until this transaction ends.
    pub async fn lock_publication_job(
        &mut self,
        id: &TrackingId,
    ) -> Result<Option<PublicationJob>> {
        let sql = format!(
            "{JOB_COLUMNS} WHERE report_id = $1{}",
            for_update(self.backend)
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(|r| job_from_row(&r)).transpose()
    }

    /// Takes back a report's publication job before its schedule changes
    /// (rescheduled, unscheduled, withdrawn): deletes it unless a worker
    /// holds a live lease on it, the public issue is recorded on it, or it
    /// is done. See [`JobRelease`].
    pub async fn release_publication_job(
        &mut self,
        id: &TrackingId,
        now: Timestamp,
    ) -> Result<JobRelease> {
        let Some(job) = self.lock_publication_job(id).await? else {
            return Ok(JobRelease::NoJob);
        };
        if let Some(issue_url) = job.issue_url {
            return Ok(JobRelease::IssueExists { issue_url });
        }
        if job.state == JobState::Done {
            return Ok(JobRelease::Done);
        }
        if job.state == JobState::Running
            && let Some(lease_until) = job.lease_until
            && lease_until > now
        {
            return Ok(JobRelease::Busy { lease_until });
        }
        sqlx::query("DELETE FROM publication_jobs WHERE report_id = $1 AND state <> 'done'")
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await?;
        Ok(JobRelease::Released)
    }

    /// Makes a failed publication job pending again (an admin's retry):
    /// due now, or at its due time if that is later; attempts start over.
    /// Returns `false` when the job is not failed.
    pub async fn retry_publication_job(&mut self, id: &TrackingId, now: Timestamp) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE publication_jobs SET state = 'pending', due_at = CASE WHEN due_at > $2 THEN due_at ELSE $2 END, \
             attempts = 0, last_error = NULL, lease_owner = NULL, lease_until = NULL, updated_at = $2 \
             WHERE report_id = $1 AND state = 'failed'",
        )
        .bind(id.to_string())
        .bind(ms(now))
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes a claimed job whose report no longer wants publishing. Only
    /// the lease holder may: otherwise [`StoreError::Conflict`].
    pub async fn drop_held_publication_job(&mut self, id: &TrackingId, owner: &str) -> Result<()> {
        let done = sqlx::query(
            "DELETE FROM publication_jobs WHERE report_id = $1 AND state = 'running' AND lease_owner = $2",
        )
        .bind(id.to_string())
        .bind(owner)
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "publication job of {id} is not held by {owner}"
            )));
        }
        Ok(())
    }

    /// The reporter's address (opened).
    pub async fn reporter_address(&mut self, id: &TrackingId) -> Result<String> {
        reporter_address(&mut self.tx, self.sealer, id).await
    }
}

async fn reporter_address(
    conn: &mut AnyConnection,
    s: Sealer<'_>,
    id: &TrackingId,
) -> Result<String> {
    let id_text = id.to_string();
    let blob: Vec<u8> =
        sqlx::query_scalar("SELECT reporter_sealed FROM reports WHERE tracking_id = $1")
            .bind(&id_text)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("report {id}")))?;
    s.open_text("reports", "reporter_sealed", &id_text, &blob)
}

impl Store {
    /// The report's disclosure with the approvals of its current version.
    pub async fn get_disclosure(&self, id: &TrackingId) -> Result<Option<Disclosure>> {
        let mut conn = self.pool.acquire().await?;
        load_disclosure(&mut conn, self.sealer(), id, "").await
    }

    /// Every approval ever given for the report's disclosure, all
    /// versions, oldest version first.
    pub async fn approval_history(&self, id: &TrackingId) -> Result<Vec<Approval>> {
        let mut conn = self.pool.acquire().await?;
        load_approvals(&mut conn, id, None).await
    }

    pub async fn get_placeholder_issue(&self, id: &TrackingId) -> Result<Option<PlaceholderIssue>> {
        let mut conn = self.pool.acquire().await?;
        load_placeholder(&mut conn, id).await
    }

    /// See [`Tx::set_placeholder_issue`]; one transaction.
    pub async fn set_placeholder_issue(&self, p: &PlaceholderIssue) -> Result<bool> {
        let mut tx = self.begin().await?;
        let inserted = tx.set_placeholder_issue(p).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    /// Publication jobs, optionally only those in `state`, by due time:
    /// e.g. the failed ones for the admin view.
    pub async fn list_publication_jobs(
        &self,
        state: Option<JobState>,
    ) -> Result<Vec<PublicationJob>> {
        let sql =
            format!("{JOB_COLUMNS} WHERE ($1 IS NULL OR state = $1) ORDER BY due_at, report_id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(state.map(|s| s.as_str()))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// The reporter's address of a report (opened).
    pub async fn reporter_address(&self, id: &TrackingId) -> Result<String> {
        let mut conn = self.pool.acquire().await?;
        reporter_address(&mut conn, self.sealer(), id).await
    }
}
