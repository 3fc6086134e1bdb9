//! Intake counters: how the gateway answered the mail handed to it, by
//! channel, kept in the store so that every process counts into one place.
//!
//! `embargo ingest` (an MTA pipe) is a process per message and the LMTP
//! listener runs in every `serve` replica; counters in process memory
//! would leave the pipe at zero and split LMTP across replicas. Each
//! answer adds one to a row here instead, and `/metrics` of any replica
//! reads the totals. Counts are metadata (no content, no addresses).

use std::fmt;

use crate::Store;
use crate::db::{get, get_u64};
use crate::error::{Result, StoreError};

/// How a message reached the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntakeChannel {
    /// The LMTP listener of `serve`.
    Lmtp,
    /// `embargo ingest` from an MTA pipe transport.
    Pipe,
}

impl IntakeChannel {
    pub const ALL: [IntakeChannel; 2] = [IntakeChannel::Lmtp, IntakeChannel::Pipe];

    pub fn as_str(self) -> &'static str {
        match self {
            IntakeChannel::Lmtp => "lmtp",
            IntakeChannel::Pipe => "pipe",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for IntakeChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is counted per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntakeOutcome {
    /// Filed (LMTP 250, `ingest` exit 0), including a redelivery that was
    /// already filed.
    Accepted,
    /// Temporary failure (LMTP 4xx, exit 75): the MTA retries.
    Tempfail,
    /// Refused for good (LMTP 5xx, exit 65).
    Refused,
    /// Filed, but it could not be decrypted (also counted as accepted).
    Undecryptable,
}

impl IntakeOutcome {
    pub const ALL: [IntakeOutcome; 4] = [
        IntakeOutcome::Accepted,
        IntakeOutcome::Tempfail,
        IntakeOutcome::Refused,
        IntakeOutcome::Undecryptable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IntakeOutcome::Accepted => "accepted",
            IntakeOutcome::Tempfail => "tempfail",
            IntakeOutcome::Refused => "refused",
            IntakeOutcome::Undecryptable => "undecryptable",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl fmt::Display for IntakeOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One counter: how often `outcome` happened on `channel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntakeCount {
    pub channel: IntakeChannel,
    pub outcome: IntakeOutcome,
    pub count: u64,
}

impl Store {
    /// Adds each `count` to its counter, all in one transaction (a delta
    /// of 0 is skipped). Concurrent callers (processes, replicas) add up.
    pub async fn add_intake_counts(&self, deltas: &[IntakeCount]) -> Result<()> {
        let mut tx = self.begin().await?;
        for d in deltas.iter().filter(|d| d.count > 0) {
            let n = i64::try_from(d.count)
                .map_err(|_| StoreError::Invalid("intake count out of range".to_owned()))?;
            sqlx::query(
                "INSERT INTO intake_counts (channel, outcome, count) VALUES ($1, $2, $3) \
                 ON CONFLICT (channel, outcome) DO UPDATE SET count = intake_counts.count + excluded.count",
            )
            .bind(d.channel.as_str())
            .bind(d.outcome.as_str())
            .bind(n)
            .execute(&mut *tx.tx)
            .await?;
        }
        tx.commit().await
    }

    /// Every counter, zeros included, channel by channel in
    /// [`IntakeChannel::ALL`] and [`IntakeOutcome::ALL`] order.
    pub async fn intake_counts(&self) -> Result<Vec<IntakeCount>> {
        let rows = sqlx::query("SELECT channel, outcome, count FROM intake_counts")
            .fetch_all(&self.pool)
            .await?;
        let mut stored = Vec::with_capacity(rows.len());
        for r in &rows {
            let channel: String = get(r, "channel")?;
            let outcome: String = get(r, "outcome")?;
            let channel = IntakeChannel::parse(&channel).ok_or_else(|| {
                StoreError::corrupt(format!("unknown intake channel {channel:?}"))
            })?;
            let outcome = IntakeOutcome::parse(&outcome).ok_or_else(|| {
                StoreError::corrupt(format!("unknown intake outcome {outcome:?}"))
            })?;
            stored.push((channel, outcome, get_u64(r, "count")?));
        }
        let mut out = Vec::new();
        for channel in IntakeChannel::ALL {
            for outcome in IntakeOutcome::ALL {
                let count = stored
                    .iter()
                    .find(|(c, o, _)| *c == channel && *o == outcome)
                    .map_or(0, |(_, _, n)| *n);
                out.push(IntakeCount {
                    channel,
                    outcome,
                    count,
                });
            }
        }
        Ok(out)
    }
}
