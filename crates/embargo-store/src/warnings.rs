//! Embargo warnings: which scheduled embargoes end soon, and which
//! warnings went out for them.
//!
//! Schema: `migrations/*/0006_embargo_warnings.sql`. A warning is
//! `(report, days before the end, embargo end)`; [`Tx::claim_embargo_warning`]
//! inserts it in the transaction that queues the warning mail, and the
//! primary key lets only one transaction ever do so. Nothing here is
//! content: IDs, days, times and counts.

use embargo_domain::{TrackingId, WgName};
use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::db::{get, get_tracking_id, get_ts, get_u32, get_u64, ms};
use crate::error::{Result, StoreError};
use crate::{Store, Tx};

/// A scheduled report whose embargo has not ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbargoEnding {
    pub report_id: TrackingId,
    pub wg: Option<WgName>,
    pub embargo_until: Timestamp,
}

/// A warning that went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentWarning {
    pub report_id: TrackingId,
    pub days_before: u32,
    pub embargo_until: Timestamp,
    pub sent_at: Timestamp,
    /// Messages queued, and of those encrypted.
    pub recipients: u64,
    pub encrypted: u64,
}

fn sent_from_row(r: &AnyRow) -> Result<SentWarning> {
    Ok(SentWarning {
        report_id: get_tracking_id(r, "report_id")?,
        days_before: get_u32(r, "days_before")?,
        embargo_until: get_ts(r, "embargo_until")?,
        sent_at: get_ts(r, "sent_at")?,
        recipients: get_u64(r, "recipients")?,
        encrypted: get_u64(r, "encrypted")?,
    })
}

fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Invalid(format!("{what} out of range")))
}

impl Tx<'_> {
    /// Records that the warning `days_before` days before `embargo_until`
    /// goes out for `report`, with `recipients` messages (`encrypted` of
    /// them encrypted) queued in this transaction. Returns `false`, and
    /// changes nothing, when that warning was recorded before, by this or
    /// any other process: the caller then rolls back instead of queueing.
    /// On PostgreSQL a concurrent claim of the same warning waits for this
    /// transaction and then finds it; on SQLite write transactions are
    /// serialised already. Claim several warnings of one report in the
    /// same order everywhere (ascending days) so claims cannot deadlock.
    pub async fn claim_embargo_warning(
        &mut self,
        report: &TrackingId,
        days_before: u32,
        embargo_until: Timestamp,
        recipients: u64,
        encrypted: u64,
        now: Timestamp,
    ) -> Result<bool> {
        if days_before == 0 {
            return Err(StoreError::Invalid(
                "a warning is at least one day before the end".to_owned(),
            ));
        }
        if encrypted > recipients {
            return Err(StoreError::Invalid(
                "more encrypted messages than recipients".to_owned(),
            ));
        }
        let done = sqlx::query(
            "INSERT INTO embargo_warnings (report_id, days_before, embargo_until, sent_at, recipients, encrypted) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (report_id, days_before, embargo_until) DO NOTHING",
        )
        .bind(report.to_string())
        .bind(i64::from(days_before))
        .bind(ms(embargo_until))
        .bind(ms(now))
        .bind(to_i64(recipients, "recipients")?)
        .bind(to_i64(encrypted, "encrypted")?)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

impl Store {
    /// Scheduled reports whose embargo ends after `now` and at most at
    /// `until_at_most`, soonest first: the candidates for warnings.
    pub async fn embargoes_ending(
        &self,
        now: Timestamp,
        until_at_most: Timestamp,
    ) -> Result<Vec<EmbargoEnding>> {
        let rows = sqlx::query(
            "SELECT tracking_id, wg, embargo_until FROM reports \
             WHERE state = 'scheduled' AND embargo_until > $1 AND embargo_until <= $2 \
             ORDER BY embargo_until, tracking_id",
        )
        .bind(ms(now))
        .bind(ms(until_at_most))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EmbargoEnding {
                    report_id: get_tracking_id(r, "tracking_id")?,
                    wg: get::<Option<String>>(r, "wg")?
                        .map(|w| WgName::parse(&w))
                        .transpose()
                        .map_err(|_| StoreError::corrupt("stored WG name does not parse"))?,
                    embargo_until: get_ts(r, "embargo_until")?,
                })
            })
            .collect()
    }

    /// Every warning sent for `report`, oldest first.
    pub async fn sent_embargo_warnings(&self, report: &TrackingId) -> Result<Vec<SentWarning>> {
        let rows = sqlx::query(
            "SELECT report_id, days_before, embargo_until, sent_at, recipients, encrypted \
             FROM embargo_warnings WHERE report_id = $1 ORDER BY sent_at, days_before DESC",
        )
        .bind(report.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(sent_from_row).collect()
    }

    /// How many warnings were sent, all reports (for checks and metrics).
    pub async fn count_embargo_warnings(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM embargo_warnings")
            .fetch_one(&self.pool)
            .await?;
        u64::try_from(n).map_err(|_| StoreError::corrupt("negative count"))
    }
}
