//! The outbox worker: claims due entries from the store, delivers them,
//! marks them sent, or schedules a retry with exponential backoff, or
//! gives up (`dead`) after too many attempts or a permanent failure.
//!
//! Several workers (processes, hosts) may run at once: the store's
//! leased claim hands each entry to one worker at a time. An entry whose
//! worker died is claimed again when its lease runs out, so delivery is
//! at least once; the lease (default 10 minutes) is far longer than one
//! SMTP transaction (timeouts of 60 s per command).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use embargo_store::{OutboxItem, Retry, Store, StoreError};
use jiff::{SignedDuration, Timestamp};
use tokio::sync::Notify;

use crate::error::OutboundError;
use crate::transport::Deliver;

/// Worker settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Lease owner name; unique per worker (default: `outbound-<uuid>`).
    pub owner: String,
    /// How long a claimed entry stays with this worker.
    pub lease: SignedDuration,
    /// Entries claimed at once.
    pub batch: u32,
    /// Attempts (including the first) before an entry is dead.
    pub max_attempts: u32,
    /// Delay after the first failed attempt; doubles with every attempt.
    pub backoff_base: SignedDuration,
    /// Longest delay between attempts.
    pub backoff_cap: SignedDuration,
    /// [`Worker::run`]: how often to look for due entries when not woken.
    pub poll_interval: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            owner: format!("outbound-{}", uuid::Uuid::new_v4().simple()),
            lease: SignedDuration::from_mins(10),
            batch: 16,
            max_attempts: 10,
            backoff_base: SignedDuration::from_mins(1),
            backoff_cap: SignedDuration::from_hours(6),
            poll_interval: Duration::from_secs(15),
        }
    }
}

impl WorkerConfig {
    /// The delay after failed attempt number `attempt` (1-based):
    /// `base * 2^(attempt-1)`, at most `backoff_cap` (1 m, 2 m, 4 m, …,
    /// 6 h by default).
    pub fn retry_delay(&self, attempt: u32) -> SignedDuration {
        let exponent = attempt.saturating_sub(1).min(30);
        let factor = 1i32 << exponent;
        self.backoff_base
            .checked_mul(factor)
            .unwrap_or(self.backoff_cap)
            .min(self.backoff_cap)
    }

    /// What to do after failed attempt `attempt`.
    pub fn retry(&self, attempt: u32, permanent: bool, now: Timestamp) -> Retry {
        if permanent || attempt >= self.max_attempts {
            return Retry::Dead;
        }
        match now.checked_add(self.retry_delay(attempt)) {
            Ok(at) => Retry::At(at),
            Err(_) => Retry::Dead,
        }
    }
}

/// What a flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushCounts {
    /// Delivered and marked sent.
    pub sent: u64,
    /// Failed, retried later.
    pub retry: u64,
    /// Failed for good (permanent failure or too many attempts).
    pub dead: u64,
    /// Delivered, but the lease had run out and another worker holds the
    /// entry (it may be delivered twice).
    pub lost_lease: u64,
}

impl FlushCounts {
    fn add(&mut self, other: FlushCounts) {
        self.sent += other.sent;
        self.retry += other.retry;
        self.dead += other.dead;
        self.lost_lease += other.lost_lease;
    }

    /// Entries handled.
    pub fn total(&self) -> u64 {
        self.sent + self.retry + self.dead + self.lost_lease
    }
}

/// Delivers the store's outbox through a transport.
#[derive(Debug)]
pub struct Worker<D> {
    store: Store,
    transport: D,
    config: WorkerConfig,
    wake: Arc<Notify>,
}

impl<D: Deliver> Worker<D> {
    pub fn new(store: Store, transport: D, config: WorkerConfig) -> Self {
        Worker {
            store,
            transport,
            config,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// Notify this to make [`Worker::run`] look at the outbox now (after
    /// queueing mail) instead of at the next poll.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Claims one batch due at `now` and handles it.
    pub async fn run_once(&self, now: Timestamp) -> Result<(FlushCounts, usize), OutboundError> {
        let items = self
            .store
            .claim_outbox(
                &self.config.owner,
                self.config.lease,
                now,
                self.config.batch,
            )
            .await?;
        let claimed = items.len();
        let mut counts = FlushCounts::default();
        for item in items {
            counts.add(self.deliver(item, now).await?);
        }
        Ok((counts, claimed))
    }

    /// Delivers everything due at `now`, batch after batch, until nothing
    /// due is left (entries that failed wait for their retry time, which
    /// is after `now`).
    pub async fn flush(&self, now: Timestamp) -> Result<FlushCounts, OutboundError> {
        let mut total = FlushCounts::default();
        loop {
            let (counts, claimed) = self.run_once(now).await?;
            total.add(counts);
            if claimed == 0 {
                return Ok(total);
            }
        }
    }

    /// Runs until `shutdown` completes: flushes at the current time, then
    /// waits for the poll interval, the waker or shutdown. Store errors
    /// are logged and retried at the next round. A delivery in progress
    /// is finished before returning (its entry is marked), so stopping
    /// loses nothing.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let round = self.flush(Timestamp::now());
            match round.await {
                Ok(c) if c.total() > 0 => tracing::info!(
                    sent = c.sent,
                    retry = c.retry,
                    dead = c.dead,
                    lost_lease = c.lost_lease,
                    "outbox flushed"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox round failed"),
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    async fn deliver(
        &self,
        item: OutboxItem,
        now: Timestamp,
    ) -> Result<FlushCounts, OutboundError> {
        let id = item.id.to_string();
        let size = item.body.len();
        let owner = &self.config.owner;
        let mut counts = FlushCounts::default();
        match self.transport.send(&id, &item.recipients, &item.body).await {
            Ok(()) => match self.store.mark_sent(item.id, owner, now).await {
                Ok(()) => {
                    tracing::info!(outbox = %id, attempts = item.attempts, size, "mail delivered");
                    counts.sent = 1;
                }
                Err(StoreError::Conflict(_)) => {
                    tracing::warn!(outbox = %id, "mail delivered after the lease ran out");
                    counts.lost_lease = 1;
                }
                Err(e) => return Err(e.into()),
            },
            Err(failure) => {
                let retry = self
                    .config
                    .retry(item.attempts, failure.is_permanent(), now);
                let reason = failure.to_string();
                match self.store.mark_failed(item.id, owner, &reason, retry).await {
                    Ok(()) => {}
                    Err(StoreError::Conflict(_)) => {
                        tracing::warn!(outbox = %id, "delivery failed after the lease ran out");
                        counts.lost_lease = 1;
                        return Ok(counts);
                    }
                    Err(e) => return Err(e.into()),
                }
                match retry {
                    Retry::Dead => {
                        tracing::warn!(outbox = %id, attempts = item.attempts, size, error = %reason, "mail dead: giving up");
                        counts.dead = 1;
                    }
                    Retry::At(at) => {
                        tracing::info!(outbox = %id, attempts = item.attempts, size, error = %reason, retry_at = %at, "mail delivery failed; will retry");
                        counts.retry = 1;
                    }
                }
            }
        }
        Ok(counts)
    }
}

/// `embargo outbox flush`: delivers everything due at `now` with the
/// default settings and returns what happened.
pub async fn flush<D: Deliver>(
    store: &Store,
    transport: &D,
    now: Timestamp,
) -> Result<FlushCounts, OutboundError> {
    Worker::new(store.clone(), transport, WorkerConfig::default())
        .flush(now)
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let c = WorkerConfig::default();
        let mins: Vec<i64> = (1..=12).map(|a| c.retry_delay(a).as_mins()).collect();
        assert_eq!(mins, vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360, 360]);
        assert_eq!(c.retry_delay(0).as_mins(), 1);
        assert_eq!(c.retry_delay(u32::MAX).as_mins(), 360);
    }

    #[test]
    fn dead_after_max_attempts_or_permanent() {
        let c = WorkerConfig::default();
        let now = Timestamp::UNIX_EPOCH;
        assert_eq!(
            c.retry(1, false, now),
            Retry::At(now + SignedDuration::from_mins(1))
        );
        assert_eq!(
            c.retry(9, false, now),
            Retry::At(now + SignedDuration::from_mins(256))
        );
        assert_eq!(c.retry(10, false, now), Retry::Dead);
        assert_eq!(c.retry(1, true, now), Retry::Dead);
    }
}
