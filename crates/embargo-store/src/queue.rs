//! Leased work queues: the outbox (mail to deliver) and publication jobs.
//!
//! A worker *claims* due entries for a lease; an entry whose lease ran out
//! (the worker died) is claimable again. On PostgreSQL claims use
//! `FOR UPDATE SKIP LOCKED`, so concurrent workers never block on or share
//! an entry; on SQLite writers are serialized (`BEGIN IMMEDIATE`) and the
//! claim is a single `UPDATE … RETURNING`.

use embargo_domain::TrackingId;
use jiff::{SignedDuration, Timestamp};
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::db::{
    Sealer, get, get_opt_ts, get_parsed, get_tracking_id, get_ts, get_u32, get_u64, get_uuid, ms,
};
use crate::error::{Result, StoreError};
use crate::model::{
    Backend, JobOutcome, NewOutbox, OutboxCounts, OutboxItem, PublicationJob, Retry,
};
use crate::{Store, Tx};

const MAX_ERROR_LEN: usize = 500;

pub(crate) fn clip(error: &str) -> String {
    error.chars().take(MAX_ERROR_LEN).collect()
}

pub(crate) fn lease_end(now: Timestamp, lease: SignedDuration) -> Result<Timestamp> {
    if lease <= SignedDuration::ZERO {
        return Err(StoreError::Invalid("lease must be positive".to_owned()));
    }
    now.checked_add(lease)
        .map_err(|_| StoreError::Invalid("lease too long".to_owned()))
}

pub(crate) fn check_owner(owner: &str) -> Result<()> {
    if owner.is_empty() || owner.len() > 200 {
        return Err(StoreError::Invalid(
            "lease owner must be 1-200 bytes".to_owned(),
        ));
    }
    Ok(())
}

const CLAIM_OUTBOX_POSTGRES: &str = "UPDATE outbox SET state = 'sending', lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM outbox \
         WHERE (state = 'queued' AND next_attempt_at <= $3) OR (state = 'sending' AND lease_until <= $3) \
         ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
     RETURNING id, report_id, created_at, recipient_sealed, body_sealed, attempts, lease_until, next_attempt_at";

const CLAIM_OUTBOX_SQLITE: &str = "UPDATE outbox SET state = 'sending', lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM outbox \
         WHERE (state = 'queued' AND next_attempt_at <= $3) OR (state = 'sending' AND lease_until <= $3) \
         ORDER BY next_attempt_at, id LIMIT $4) \
     RETURNING id, report_id, created_at, recipient_sealed, body_sealed, attempts, lease_until, next_attempt_at";

const CLAIM_JOB_POSTGRES: &str = "UPDATE publication_jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
     attempts = attempts + 1, updated_at = $3 \
     WHERE report_id IN (SELECT report_id FROM publication_jobs \
         WHERE (state = 'pending' AND due_at <= $3) OR (state = 'running' AND lease_until <= $3) \
         ORDER BY due_at, report_id LIMIT 1 FOR UPDATE SKIP LOCKED) \
     RETURNING report_id, due_at, state, attempts, lease_owner, lease_until, issue_url, last_error";

const CLAIM_JOB_SQLITE: &str = "UPDATE publication_jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
     attempts = attempts + 1, updated_at = $3 \
     WHERE report_id IN (SELECT report_id FROM publication_jobs \
         WHERE (state = 'pending' AND due_at <= $3) OR (state = 'running' AND lease_until <= $3) \
         ORDER BY due_at, report_id LIMIT 1) \
     RETURNING report_id, due_at, state, attempts, lease_owner, lease_until, issue_url, last_error";

const JOB_COLUMNS_SELECT: &str = "SELECT report_id, due_at, state, attempts, lease_owner, lease_until, issue_url, last_error \
     FROM publication_jobs WHERE report_id = $1";

fn outbox_from_row(s: Sealer<'_>, r: &AnyRow) -> Result<OutboxItem> {
    let id = get_uuid(r, "id")?;
    let id_text = id.to_string();
    let recipients = s.open_col_text(r, "outbox", "recipient_sealed", &id_text)?;
    let body_blob: Vec<u8> = get(r, "body_sealed")?;
    Ok(OutboxItem {
        report_id: get::<Option<String>>(r, "report_id")?
            .map(|t| crate::db::parse_tracking_id(&t))
            .transpose()?,
        created_at: get_ts(r, "created_at")?,
        recipients: recipients.lines().map(str::to_owned).collect(),
        body: s.open("outbox", "body_sealed", &id_text, &body_blob)?,
        attempts: get_u32(r, "attempts")?,
        lease_until: get_ts(r, "lease_until")?,
        id,
    })
}

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

impl Tx<'_> {
    /// Queues a composed message for delivery, due now. In the same
    /// transaction as the change that causes it, the mail goes out if and
    /// only if the change commits.
    pub async fn enqueue_outbox(&mut self, item: &NewOutbox, now: Timestamp) -> Result<Uuid> {
        if item.recipients.is_empty()
            || item
                .recipients
                .iter()
                .any(|r| r.trim().is_empty() || r.contains(['\r', '\n']))
        {
            return Err(StoreError::Invalid(
                "outbox entry needs one or more recipients, each on one line".to_owned(),
            ));
        }
        let id = Uuid::now_v7();
        let id_text = id.to_string();
        let s = self.sealer;
        sqlx::query(
            "INSERT INTO outbox (id, report_id, created_at, recipient_sealed, body_sealed, state, attempts, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, 'queued', 0, $3)",
        )
        .bind(&id_text)
        .bind(item.report_id.as_ref().map(|r| r.to_string()))
        .bind(ms(now))
        .bind(s.seal("outbox", "recipient_sealed", &id_text, item.recipients.join("\n").as_bytes())?)
        .bind(s.seal("outbox", "body_sealed", &id_text, &item.body)?)
        .execute(&mut *self.tx)
        .await?;
        tracing::info!(outbox = %id, report = ?item.report_id.as_ref().map(|r| r.to_string()), recipients = item.recipients.len(), size = item.body.len(), "mail queued");
        Ok(id)
    }

    /// Schedules (or reschedules) the publication of a report at `due_at`.
    /// A job already done is left alone; a failed one becomes pending again.
    pub async fn upsert_publication_job(
        &mut self,
        report: &TrackingId,
        due_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO publication_jobs (report_id, due_at, state, attempts, updated_at) VALUES ($1, $2, 'pending', 0, $3) \
             ON CONFLICT (report_id) DO UPDATE SET due_at = excluded.due_at, updated_at = excluded.updated_at, \
             state = CASE WHEN publication_jobs.state = 'failed' THEN 'pending' ELSE publication_jobs.state END, \
             last_error = CASE WHEN publication_jobs.state = 'failed' THEN NULL ELSE publication_jobs.last_error END \
             WHERE publication_jobs.state <> 'done'",
        )
        .bind(report.to_string())
        .bind(ms(due_at))
        .bind(ms(now))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Removes a publication job that is pending or failed (the report was
    /// unscheduled or withdrawn). Returns whether there was one; a running
    /// or done job is kept.
    pub async fn cancel_publication_job(&mut self, report: &TrackingId) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM publication_jobs WHERE report_id = $1 AND state IN ('pending', 'failed')",
        )
        .bind(report.to_string())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends a claimed job. Only the lease holder may: otherwise
    /// [`StoreError::Conflict`] (the lease ran out and someone else holds it).
    pub async fn finish_publication_job(
        &mut self,
        report: &TrackingId,
        owner: &str,
        outcome: &JobOutcome,
        now: Timestamp,
    ) -> Result<()> {
        let updated = match outcome {
            JobOutcome::Done { issue_url } => {
                sqlx::query(
                    "UPDATE publication_jobs SET state = 'done', issue_url = $1, last_error = NULL, lease_owner = NULL, \
                     lease_until = NULL, updated_at = $2 WHERE report_id = $3 AND state = 'running' AND lease_owner = $4",
                )
                .bind(issue_url.as_str())
                .bind(ms(now))
                .bind(report.to_string())
                .bind(owner)
                .execute(&mut *self.tx)
                .await?
            }
            JobOutcome::Failed { error, retry_at } => {
                sqlx::query(
                    "UPDATE publication_jobs SET state = $1, due_at = COALESCE($2, due_at), last_error = $3, \
                     lease_owner = NULL, lease_until = NULL, updated_at = $4 \
                     WHERE report_id = $5 AND state = 'running' AND lease_owner = $6",
                )
                .bind(if retry_at.is_some() { "pending" } else { "failed" })
                .bind(retry_at.map(ms))
                .bind(clip(error))
                .bind(ms(now))
                .bind(report.to_string())
                .bind(owner)
                .execute(&mut *self.tx)
                .await?
            }
        };
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "publication job of {report} is not held by {owner}"
            )));
        }
        tracing::info!(%report, done = matches!(outcome, JobOutcome::Done { .. }), "publication job finished");
        Ok(())
    }
}

impl Store {
    /// See [`Tx::enqueue_outbox`]; one transaction.
    pub async fn enqueue_outbox(&self, item: &NewOutbox, now: Timestamp) -> Result<Uuid> {
        let mut tx = self.begin().await?;
        let id = tx.enqueue_outbox(item, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claims up to `limit` due entries for `owner` until `now + lease`:
    /// queued entries whose retry time has come, and entries whose
    /// previous lease ran out. Each claim counts as an attempt.
    pub async fn claim_outbox(
        &self,
        owner: &str,
        lease: SignedDuration,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxItem>> {
        check_owner(owner)?;
        let until = lease_end(now, lease)?;
        let sql = match self.backend {
            Backend::Postgres => CLAIM_OUTBOX_POSTGRES,
            Backend::Sqlite => CLAIM_OUTBOX_SQLITE,
        };
        let mut tx = self.begin().await?;
        let rows = sqlx::query(sql)
            .bind(owner)
            .bind(ms(until))
            .bind(ms(now))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        let s = self.sealer();
        let mut due: Vec<(i64, OutboxItem)> = rows
            .iter()
            .map(|r| Ok((get::<i64>(r, "next_attempt_at")?, outbox_from_row(s, r)?)))
            .collect::<Result<_>>()?;
        due.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
        if !due.is_empty() {
            tracing::debug!(count = due.len(), owner, "outbox entries claimed");
        }
        Ok(due.into_iter().map(|(_, item)| item).collect())
    }

    /// Delivered. Only the lease holder may mark it: otherwise
    /// [`StoreError::Conflict`].
    pub async fn mark_sent(&self, id: Uuid, owner: &str, now: Timestamp) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE outbox SET state = 'sent', sent_at = $1, lease_owner = NULL, lease_until = NULL, last_error = NULL \
             WHERE id = $2 AND state = 'sending' AND lease_owner = $3",
        )
        .bind(ms(now))
        .bind(id.to_string())
        .bind(owner)
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "outbox entry {id} is not held by {owner}"
            )));
        }
        tx.commit().await?;
        tracing::info!(outbox = %id, "mail sent");
        Ok(())
    }

    /// Delivery failed: retry at a later time, or give up (`dead`).
    /// `error` is a short reason (kept in clear, clipped to 500 characters):
    /// never message content.
    pub async fn mark_failed(
        &self,
        id: Uuid,
        owner: &str,
        error: &str,
        retry: Retry,
    ) -> Result<()> {
        let (state, next) = match retry {
            Retry::At(t) => ("queued", Some(ms(t))),
            Retry::Dead => ("dead", None),
        };
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE outbox SET state = $1, next_attempt_at = COALESCE($2, next_attempt_at), last_error = $3, \
             lease_owner = NULL, lease_until = NULL \
             WHERE id = $4 AND state = 'sending' AND lease_owner = $5",
        )
        .bind(state)
        .bind(next)
        .bind(clip(error))
        .bind(id.to_string())
        .bind(owner)
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "outbox entry {id} is not held by {owner}"
            )));
        }
        tx.commit().await?;
        tracing::warn!(outbox = %id, dead = matches!(retry, Retry::Dead), "mail delivery failed");
        Ok(())
    }

    /// How many entries are in each state at `now`.
    pub async fn outbox_counts(&self, now: Timestamp) -> Result<OutboxCounts> {
        let row = sqlx::query(
            "SELECT \
             COALESCE(SUM(CASE WHEN state = 'queued' AND next_attempt_at <= $1 THEN 1 ELSE 0 END), 0) AS ready, \
             COALESCE(SUM(CASE WHEN state = 'queued' AND next_attempt_at > $1 THEN 1 ELSE 0 END), 0) AS waiting, \
             COALESCE(SUM(CASE WHEN state = 'sending' THEN 1 ELSE 0 END), 0) AS sending, \
             COALESCE(SUM(CASE WHEN state = 'sent' THEN 1 ELSE 0 END), 0) AS sent, \
             COALESCE(SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END), 0) AS dead \
             FROM outbox",
        )
        .bind(ms(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(OutboxCounts {
            ready: get_u64(&row, "ready")?,
            waiting: get_u64(&row, "waiting")?,
            sending: get_u64(&row, "sending")?,
            sent: get_u64(&row, "sent")?,
            dead: get_u64(&row, "dead")?,
        })
    }

    /// When the oldest entry not yet delivered (queued, or claimed and
    /// being sent) was queued; `None` when there is none.
    pub async fn outbox_oldest_undelivered(&self) -> Result<Option<Timestamp>> {
        let row = sqlx::query(
            "SELECT MIN(created_at) AS oldest FROM outbox WHERE state IN ('queued', 'sending')",
        )
        .fetch_one(&self.pool)
        .await?;
        get_opt_ts(&row, "oldest")
    }

    /// See [`Tx::upsert_publication_job`]; one transaction.
    pub async fn upsert_publication_job(
        &self,
        report: &TrackingId,
        due_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.upsert_publication_job(report, due_at, now).await?;
        tx.commit().await
    }

    /// See [`Tx::cancel_publication_job`]; one transaction.
    pub async fn cancel_publication_job(&self, report: &TrackingId) -> Result<bool> {
        let mut tx = self.begin().await?;
        let had = tx.cancel_publication_job(report).await?;
        tx.commit().await?;
        Ok(had)
    }

    pub async fn get_publication_job(&self, report: &TrackingId) -> Result<Option<PublicationJob>> {
        let row = sqlx::query(JOB_COLUMNS_SELECT)
            .bind(report.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| job_from_row(&r)).transpose()
    }

    /// Claims the most overdue publication job for `owner` until
    /// `now + lease`: a pending job that is due, or a running one whose
    /// lease ran out (check [`PublicationJob::issue_url`]: a previous
    /// holder may have published before dying).
    pub async fn claim_publication_job(
        &self,
        owner: &str,
        lease: SignedDuration,
        now: Timestamp,
    ) -> Result<Option<PublicationJob>> {
        check_owner(owner)?;
        let until = lease_end(now, lease)?;
        let sql = match self.backend {
            Backend::Postgres => CLAIM_JOB_POSTGRES,
            Backend::Sqlite => CLAIM_JOB_SQLITE,
        };
        let mut tx = self.begin().await?;
        let row = sqlx::query(sql)
            .bind(owner)
            .bind(ms(until))
            .bind(ms(now))
            .fetch_optional(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        let job = row.map(|r| job_from_row(&r)).transpose()?;
        if let Some(job) = &job {
            tracing::info!(report = %job.report_id, attempts = job.attempts, owner, "publication job claimed");
        }
        Ok(job)
    }

    /// Records the public issue as soon as it exists, before the rest of
    /// the publication, so a holder that dies afterwards is not followed by
    /// a second issue. Only the lease holder may.
    pub async fn set_publication_issue_url(
        &self,
        report: &TrackingId,
        owner: &str,
        issue_url: &str,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE publication_jobs SET issue_url = $1 WHERE report_id = $2 AND state = 'running' AND lease_owner = $3",
        )
        .bind(issue_url)
        .bind(report.to_string())
        .bind(owner)
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "publication job of {report} is not held by {owner}"
            )));
        }
        tx.commit().await
    }

    /// See [`Tx::finish_publication_job`]; one transaction.
    pub async fn finish_publication_job(
        &self,
        report: &TrackingId,
        owner: &str,
        outcome: &JobOutcome,
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.finish_publication_job(report, owner, outcome, now)
            .await?;
        tx.commit().await
    }
}
