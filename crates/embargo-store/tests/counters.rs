//! Intake counters (`counters.rs`) and the outbox age the metrics read
//! (`queue.rs`). Every case runs on SQLite and, when `TEST_DATABASE_URL`
//! is set (mandatory under `CI=true`), on PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use embargo_store::{IntakeChannel, IntakeCount, IntakeOutcome, NewOutbox, Store};
use jiff::{SignedDuration, Timestamp};

mod common;

use common::{Harness, on_both_backends};

on_both_backends!(
    intake_counts_add_up_across_writers,
    oldest_undelivered_outbox_entry,
);

fn delta(channel: IntakeChannel, outcome: IntakeOutcome, count: u64) -> IntakeCount {
    IntakeCount {
        channel,
        outcome,
        count,
    }
}

fn get(counts: &[IntakeCount], channel: IntakeChannel, outcome: IntakeOutcome) -> u64 {
    let found: Vec<_> = counts
        .iter()
        .filter(|c| c.channel == channel && c.outcome == outcome)
        .collect();
    assert_eq!(found.len(), 1, "{channel}/{outcome} listed once");
    found[0].count
}

async fn intake_counts_add_up_across_writers(h: &Harness) {
    use IntakeChannel::{Lmtp, Pipe};
    use IntakeOutcome::{Accepted, Refused, Tempfail, Undecryptable};

    // Nothing counted yet: every counter is listed, at zero.
    let zero = h.store.intake_counts().await.unwrap();
    assert_eq!(
        zero.len(),
        IntakeChannel::ALL.len() * IntakeOutcome::ALL.len()
    );
    assert!(zero.iter().all(|c| c.count == 0));

    // Many writers at once (replicas, `ingest` processes), each through
    // its own connection pool: no count is lost.
    let writers: Vec<_> = (0..8u64)
        .map(|w| {
            let url = h.url.clone();
            let keys = h.keys();
            tokio::spawn(async move {
                let store = Store::connect(&url, keys).await.unwrap();
                for _ in 0..10 {
                    let channel = if w % 2 == 0 { Lmtp } else { Pipe };
                    store
                        .add_intake_counts(&[
                            delta(channel, Accepted, 1),
                            delta(channel, Undecryptable, w % 4 / 3),
                        ])
                        .await
                        .unwrap();
                }
                store.close().await;
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    h.store
        .add_intake_counts(&[delta(Pipe, Tempfail, 3), delta(Lmtp, Refused, 2)])
        .await
        .unwrap();

    let counts = h.store.intake_counts().await.unwrap();
    assert_eq!(get(&counts, Lmtp, Accepted), 40);
    assert_eq!(get(&counts, Pipe, Accepted), 40);
    // Writer 3 and 7 (pipe) counted one undecryptable message each time.
    assert_eq!(get(&counts, Pipe, Undecryptable), 20);
    assert_eq!(get(&counts, Lmtp, Undecryptable), 0);
    assert_eq!(get(&counts, Pipe, Tempfail), 3);
    assert_eq!(get(&counts, Lmtp, Refused), 2);
    assert_eq!(get(&counts, Lmtp, Tempfail), 0);
}

async fn oldest_undelivered_outbox_entry(h: &Harness) {
    let store = &h.store;
    assert_eq!(store.outbox_oldest_undelivered().await.unwrap(), None);
    let t0: Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
    let entry = |to: &str| NewOutbox {
        report_id: None,
        recipients: vec![to.to_owned()],
        body: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
    };
    let first = store
        .enqueue_outbox(&entry("a@example.org"), t0)
        .await
        .unwrap();
    let t1 = t0 + SignedDuration::from_mins(5);
    store
        .enqueue_outbox(&entry("b@example.org"), t1)
        .await
        .unwrap();
    assert_eq!(store.outbox_oldest_undelivered().await.unwrap(), Some(t0));

    // Claimed (being sent) still counts; sent does not.
    let claimed = store
        .claim_outbox("w", SignedDuration::from_mins(1), t1, 1)
        .await
        .unwrap();
    assert_eq!(claimed[0].id, first);
    assert_eq!(store.outbox_oldest_undelivered().await.unwrap(), Some(t0));
    store.mark_sent(first, "w", t1).await.unwrap();
    assert_eq!(store.outbox_oldest_undelivered().await.unwrap(), Some(t1));
}
