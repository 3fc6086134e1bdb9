//! Embargo warnings (migration 0006): which embargoes end soon, and that
//! each warning is recorded exactly once per report and embargo end, even
//! with many transactions claiming it at once. Every case runs on SQLite
//! (a temp file) and on PostgreSQL (a fresh database per test) when
//! `TEST_DATABASE_URL` is set; under `CI=true` a missing
//! `TEST_DATABASE_URL` fails the PostgreSQL runs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use embargo_domain::{Action, EmbargoPolicy, Severity, State, TrackingId, WgName};
use embargo_store::{Actor, NewOutbox, Store, StoreError};
use jiff::{SignedDuration, Timestamp};

mod common;

use common::{Harness, on_both_backends};

on_both_backends!(
    embargoes_ending_soon,
    warnings_are_recorded_once,
    racing_claims_queue_once,
);

fn t0() -> Timestamp {
    "2026-03-01T10:00:00Z".parse().unwrap()
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

fn wg() -> WgName {
    WgName::parse("pipelines").unwrap()
}

/// Files a report at `t0()`; with `until`, takes it to `scheduled`.
async fn report(store: &Store, mid: &str, until: Option<Timestamp>) -> TrackingId {
    let id = embargo_testkit::file_report(store, "report", mid, "body", t0()).await;
    let policy = EmbargoPolicy::default();
    let mut actions = vec![
        Action::Triage {
            wg: wg(),
            severity: Severity::High,
        },
        Action::Accept,
    ];
    if let Some(until) = until {
        actions.push(Action::Schedule { until });
    }
    for action in actions {
        let r = store.load_domain_report(&id).await.unwrap();
        let next = r.apply(&action, t0(), &policy).unwrap();
        store
            .apply_report_update(r.state, &next, &Actor::System, "test", "", t0())
            .await
            .unwrap();
    }
    id
}

async fn claim(
    store: &Store,
    id: &TrackingId,
    days_before: u32,
    until: Timestamp,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let mut tx = store.begin().await?;
    let claimed = tx
        .claim_embargo_warning(id, days_before, until, 2, 1, now)
        .await?;
    tx.commit().await?;
    Ok(claimed)
}

// ---------------------------------------------------------------- cases

async fn embargoes_ending_soon(h: &Harness) {
    let store = &h.store;
    let soon = report(store, "soon@x", Some(t0() + days(10))).await;
    let later = report(store, "later@x", Some(t0() + days(40))).await;
    let _accepted = report(store, "accepted@x", None).await;
    let now = t0() + days(1);

    let ending = store.embargoes_ending(now, now + days(14)).await.unwrap();
    assert_eq!(ending.len(), 1, "{ending:?}");
    assert_eq!(ending[0].report_id, soon);
    assert_eq!(ending[0].wg.as_ref(), Some(&wg()));
    assert_eq!(ending[0].embargo_until, t0() + days(10));

    // Soonest first; an accepted report (no embargo end) never appears.
    let ending = store.embargoes_ending(now, now + days(90)).await.unwrap();
    let ids: Vec<&TrackingId> = ending.iter().map(|e| &e.report_id).collect();
    assert_eq!(ids, [&soon, &later]);

    // Ended embargoes are not candidates (the end itself is not "after now").
    let at_end = t0() + days(10);
    let ending = store
        .embargoes_ending(at_end, at_end + days(14))
        .await
        .unwrap();
    assert!(ending.is_empty(), "{ending:?}");

    // Unscheduled: no longer a candidate.
    let r = store.load_domain_report(&soon).await.unwrap();
    let next = r
        .apply(&Action::Unschedule, now, &EmbargoPolicy::default())
        .unwrap();
    assert_eq!(next.state, State::Accepted);
    store
        .apply_report_update(r.state, &next, &Actor::System, "test", "", now)
        .await
        .unwrap();
    assert!(
        store
            .embargoes_ending(now, now + days(14))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn warnings_are_recorded_once(h: &Harness) {
    let store = &h.store;
    let until = t0() + days(30);
    let id = report(store, "once@x", Some(until)).await;
    let now = until - days(14);

    assert!(claim(store, &id, 14, until, now).await.unwrap());
    // Again, later, from "another process": already sent.
    assert!(!claim(store, &id, 14, until, now + days(1)).await.unwrap());
    // The other warning is its own.
    assert!(claim(store, &id, 2, until, until - days(2)).await.unwrap());
    assert!(!claim(store, &id, 2, until, until - days(1)).await.unwrap());

    // A claim whose transaction rolls back leaves nothing behind.
    let new_until = until + days(5);
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.claim_embargo_warning(&id, 14, new_until, 0, 0, now)
            .await
            .unwrap()
    );
    tx.rollback().await.unwrap();
    // A new embargo end is a new warning.
    assert!(claim(store, &id, 14, new_until, now).await.unwrap());

    let sent = store.sent_embargo_warnings(&id).await.unwrap();
    let keys: Vec<(u32, Timestamp)> = sent
        .iter()
        .map(|w| (w.days_before, w.embargo_until))
        .collect();
    assert_eq!(keys, [(14, until), (14, new_until), (2, until)]);
    assert!(sent.iter().all(|w| w.recipients == 2 && w.encrypted == 1));
    assert_eq!(sent[0].sent_at, now);
    assert_eq!(store.count_embargo_warnings().await.unwrap(), 3);

    // Nonsense is refused before the database.
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.claim_embargo_warning(&id, 0, until, 1, 0, now).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        tx.claim_embargo_warning(&id, 7, until, 1, 2, now).await,
        Err(StoreError::Invalid(_))
    ));
    tx.rollback().await.unwrap();
    // Unknown report: the foreign key refuses it.
    let ghost: TrackingId = "SEC-2026-9999".parse().unwrap();
    assert!(claim(store, &ghost, 14, until, now).await.is_err());
    assert_eq!(store.count_embargo_warnings().await.unwrap(), 3);
}

/// Many transactions claim the same warning at once, each queueing its
/// mail only when its claim succeeded: exactly one warning, one mail.
async fn racing_claims_queue_once(h: &Harness) {
    let store = Arc::new(h.store.clone());
    let until = t0() + days(30);
    let id = report(&store, "race@x", Some(until)).await;
    let now = until - days(2);
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = store.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            // Both due warnings, in the same (ascending) order everywhere.
            loop {
                let attempt = async {
                    let mut tx = store.begin().await?;
                    let mut claimed = false;
                    for d in [2, 14] {
                        claimed |= tx.claim_embargo_warning(&id, d, until, 1, 1, now).await?;
                    }
                    if !claimed {
                        tx.rollback().await?;
                        return Ok::<bool, StoreError>(false);
                    }
                    tx.enqueue_outbox(
                        &NewOutbox {
                            report_id: Some(id.clone()),
                            recipients: vec![format!("member{n}@team.example")],
                            body: b"Subject: warning\r\n\r\nwarning\r\n".to_vec(),
                        },
                        now,
                    )
                    .await?;
                    tx.commit().await?;
                    Ok(true)
                }
                .await;
                match attempt {
                    Ok(sent) => return sent,
                    // SQLite: a writer that waited past busy_timeout; try again.
                    Err(e) if e.is_temporary() => continue,
                    Err(e) => panic!("claim failed: {e}"),
                }
            }
        }));
    }
    let mut winners = 0;
    for t in tasks {
        if t.await.unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one transaction sends the warning");
    let queued = store.list_outbox(None, 100).await.unwrap();
    assert_eq!(queued.len(), 1, "one mail queued");
    let sent = store.sent_embargo_warnings(&id).await.unwrap();
    assert_eq!(sent.len(), 2, "{sent:?}");
}
