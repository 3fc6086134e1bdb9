//! Placeholder jobs: one leased row per report that makes opening its
//! placeholder issue happen once, however many attempts run at the same
//! time (an accept from the CLI, an admin's retry in the admin view, a
//! second admin, another replica).
//!
//! An attempt [claims](Store::claim_placeholder_job) the report's row with
//! a lease *before* it searches GitHub for the report's marker and creates
//! the issue, and releases it with the issue URL
//! ([`Tx::finish_placeholder_job`], in the transaction that records the
//! [`crate::PlaceholderIssue`]) or with the reason it failed
//! ([`Store::fail_placeholder_job`]: recorded, shown to admins, claimable
//! again by a retry). Meanwhile a second attempt gets
//! [`PlaceholderClaim::Busy`] and does nothing; a holder that dies leaves a
//! lease that runs out, and the next attempt takes the row over (and finds
//! the dead holder's issue, if any, by its marker).
//!
//! The claim is one conditional upsert (`INSERT … ON CONFLICT DO UPDATE …
//! WHERE` the row is failed or its lease ran out, `RETURNING`), the same
//! SQL on both backends, exclusive for the same reasons as the publication
//! job claim in [`crate::queue`]: on SQLite the write transaction is
//! `BEGIN IMMEDIATE` (writers are serialized); on PostgreSQL the
//! conflicting row is locked and its condition re-checked on the latest
//! committed version, so of two racing claims the second sees the first's
//! lease and updates nothing. (`FOR UPDATE SKIP LOCKED` picks *some* due
//! row; here the row is named and may not exist yet, which only the
//! upsert covers.)
//!
//! Schema: `migrations/*/0008_placeholder_jobs.sql`.

use embargo_domain::TrackingId;
use jiff::{SignedDuration, Timestamp};
use sqlx::any::AnyRow;

use crate::db::{get, get_opt_ts, get_parsed, get_tracking_id, get_ts, get_u32, ms};
use crate::error::{Result, StoreError};
use crate::model::JobState;
use crate::queue::{check_owner, clip, lease_end};
use crate::{Store, Tx};

/// The state of a report's placeholder attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceholderJob {
    pub report_id: TrackingId,
    /// `Running` (held, or its holder died), `Done` or `Failed`; never
    /// `Pending`.
    pub state: JobState,
    /// Claims so far.
    pub attempts: u32,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Timestamp>,
    /// The issue, once done.
    pub issue_url: Option<String>,
    /// Why the last attempt failed (a short reason, never report content).
    pub last_error: Option<String>,
    pub updated_at: Timestamp,
}

impl PlaceholderJob {
    /// An attempt holds a live lease at `now`.
    pub fn in_progress(&self, now: Timestamp) -> bool {
        self.state == JobState::Running && self.lease_until.is_some_and(|until| until > now)
    }
}

/// What [`Store::claim_placeholder_job`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceholderClaim {
    /// The caller holds the row until its `lease_until`: search, create,
    /// then finish or fail it.
    Claimed(PlaceholderJob),
    /// Another attempt holds a live lease: do nothing.
    Busy { lease_until: Timestamp },
    /// Opened already (the issue is recorded).
    Done { issue_url: Option<String> },
}

const COLUMNS: &str =
    "report_id, state, attempts, lease_owner, lease_until, issue_url, last_error, updated_at";

const CLAIM: &str = "INSERT INTO placeholder_jobs (report_id, state, attempts, lease_owner, lease_until, updated_at) \
     VALUES ($1, 'running', 1, $2, $3, $4) \
     ON CONFLICT (report_id) DO UPDATE SET state = 'running', attempts = placeholder_jobs.attempts + 1, \
     lease_owner = excluded.lease_owner, lease_until = excluded.lease_until, updated_at = excluded.updated_at \
     WHERE placeholder_jobs.state = 'failed' \
        OR (placeholder_jobs.state = 'running' AND placeholder_jobs.lease_until <= excluded.updated_at) \
     RETURNING report_id, state, attempts, lease_owner, lease_until, issue_url, last_error, updated_at";

fn job_from_row(r: &AnyRow) -> Result<PlaceholderJob> {
    Ok(PlaceholderJob {
        report_id: get_tracking_id(r, "report_id")?,
        state: get_parsed(r, "state")?,
        attempts: get_u32(r, "attempts")?,
        lease_owner: get(r, "lease_owner")?,
        lease_until: get_opt_ts(r, "lease_until")?,
        issue_url: get(r, "issue_url")?,
        last_error: get(r, "last_error")?,
        updated_at: get_ts(r, "updated_at")?,
    })
}

fn not_held(id: &TrackingId, owner: &str) -> StoreError {
    StoreError::Conflict(format!("placeholder job of {id} is not held by {owner}"))
}

impl Tx<'_> {
    /// Ends a claimed placeholder job as done with the issue's URL; in the
    /// transaction that records the placeholder issue. Only the lease
    /// holder may: otherwise [`StoreError::Conflict`].
    pub async fn finish_placeholder_job(
        &mut self,
        id: &TrackingId,
        owner: &str,
        issue_url: &str,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE placeholder_jobs SET state = 'done', issue_url = $1, last_error = NULL, lease_owner = NULL, \
             lease_until = NULL, updated_at = $2 WHERE report_id = $3 AND state = 'running' AND lease_owner = $4",
        )
        .bind(issue_url)
        .bind(ms(now))
        .bind(id.to_string())
        .bind(owner)
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(not_held(id, owner));
        }
        Ok(())
    }
}

impl Store {
    /// Claims the placeholder job of report `id` for `owner` (unique per
    /// attempt) until `now + lease`: creates it, or takes a failed one or
    /// one whose lease ran out. See [`PlaceholderClaim`].
    pub async fn claim_placeholder_job(
        &self,
        id: &TrackingId,
        owner: &str,
        lease: SignedDuration,
        now: Timestamp,
    ) -> Result<PlaceholderClaim> {
        check_owner(owner)?;
        let until = lease_end(now, lease)?;
        let mut tx = self.begin().await?;
        let row = sqlx::query(CLAIM)
            .bind(id.to_string())
            .bind(owner)
            .bind(ms(until))
            .bind(ms(now))
            .fetch_optional(&mut *tx.tx)
            .await?;
        let claim = match row {
            Some(r) => PlaceholderClaim::Claimed(job_from_row(&r)?),
            None => {
                let sql = format!("SELECT {COLUMNS} FROM placeholder_jobs WHERE report_id = $1");
                let r = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id.to_string())
                    .fetch_optional(&mut *tx.tx)
                    .await?
                    .ok_or_else(|| StoreError::corrupt("placeholder job vanished in its claim"))?;
                let job = job_from_row(&r)?;
                match (job.state, job.lease_until) {
                    (JobState::Done, _) => PlaceholderClaim::Done {
                        issue_url: job.issue_url,
                    },
                    (JobState::Running, Some(lease_until)) => {
                        PlaceholderClaim::Busy { lease_until }
                    }
                    _ => {
                        return Err(StoreError::corrupt(
                            "placeholder job neither claimable nor held",
                        ));
                    }
                }
            }
        };
        tx.commit().await?;
        match &claim {
            PlaceholderClaim::Claimed(job) => {
                tracing::info!(report = %id, attempts = job.attempts, owner, "placeholder job claimed")
            }
            PlaceholderClaim::Busy { lease_until } => {
                tracing::info!(report = %id, %lease_until, "placeholder job held by another attempt")
            }
            PlaceholderClaim::Done { .. } => {}
        }
        Ok(claim)
    }

    /// Ends a claimed placeholder job as failed with `error` (a short
    /// reason, clipped to 500 characters, never report content): shown to
    /// admins, claimable again by the next attempt. Only the lease holder
    /// may: otherwise [`StoreError::Conflict`].
    pub async fn fail_placeholder_job(
        &self,
        id: &TrackingId,
        owner: &str,
        error: &str,
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE placeholder_jobs SET state = 'failed', last_error = $1, lease_owner = NULL, lease_until = NULL, \
             updated_at = $2 WHERE report_id = $3 AND state = 'running' AND lease_owner = $4",
        )
        .bind(clip(error))
        .bind(ms(now))
        .bind(id.to_string())
        .bind(owner)
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(not_held(id, owner));
        }
        tx.commit().await?;
        tracing::warn!(report = %id, "placeholder job failed");
        Ok(())
    }

    /// See [`Tx::finish_placeholder_job`]; one transaction.
    pub async fn finish_placeholder_job(
        &self,
        id: &TrackingId,
        owner: &str,
        issue_url: &str,
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.finish_placeholder_job(id, owner, issue_url, now).await?;
        tx.commit().await
    }

    /// The report's placeholder job, if an attempt was ever made.
    pub async fn get_placeholder_job(&self, id: &TrackingId) -> Result<Option<PlaceholderJob>> {
        let sql = format!("SELECT {COLUMNS} FROM placeholder_jobs WHERE report_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| job_from_row(&r)).transpose()
    }
}
