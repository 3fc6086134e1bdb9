//! Placeholder jobs (migration 0008): the lease that makes opening a
//! report's placeholder issue happen once. Concurrent claims: one wins,
//! the rest see it busy; a lease that ran out is taken over; a failure is
//! recorded and claimable again; done is final; only the holder ends it.
//! Every case runs on SQLite (a temp file) and on PostgreSQL (a fresh
//! database per test) when `TEST_DATABASE_URL` is set; under `CI=true` a
//! missing `TEST_DATABASE_URL` fails the PostgreSQL runs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use embargo_domain::TrackingId;
use embargo_store::{JobState, PlaceholderClaim, Store, StoreError};
use jiff::{SignedDuration, Timestamp};
use tokio::sync::Barrier;

mod common;

use common::{Harness, on_both_backends};

on_both_backends!(
    concurrent_claims_one_wins,
    expired_lease_is_taken_over,
    failure_is_recorded_and_claimable_again,
    only_the_holder_ends_it,
);

const URL: &str = "https://github.com/kubeflow/pipelines/issues/7";

fn t0() -> Timestamp {
    "2026-03-01T10:00:00Z".parse().unwrap()
}

fn lease() -> SignedDuration {
    SignedDuration::from_mins(10)
}

async fn file(store: &Store, mid: &str) -> TrackingId {
    embargo_testkit::file_report(store, "report", mid, "steps to reproduce", t0()).await
}

async fn claim(store: &Store, id: &TrackingId, owner: &str, now: Timestamp) -> PlaceholderClaim {
    store
        .claim_placeholder_job(id, owner, lease(), now)
        .await
        .unwrap()
}

async fn concurrent_claims_one_wins(h: &Harness) {
    let store = &h.store;
    let id = file(store, "race@x").await;
    assert_eq!(store.get_placeholder_job(&id).await.unwrap(), None);
    const N: usize = 8;
    let start = Arc::new(Barrier::new(N));
    let mut tasks = Vec::new();
    for n in 0..N {
        let (store, id, start) = (store.clone(), id.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let owner = format!("attempt-{n}");
            let c = claim(&store, &id, &owner, t0()).await;
            (owner, c)
        }));
    }
    let mut winners = Vec::new();
    let mut busy = 0;
    for t in tasks {
        match t.await.unwrap() {
            (owner, PlaceholderClaim::Claimed(job)) => {
                assert_eq!(job.lease_owner.as_deref(), Some(owner.as_str()));
                assert_eq!(
                    (job.state, job.attempts, job.lease_until),
                    (JobState::Running, 1, Some(t0() + lease()))
                );
                winners.push(owner);
            }
            (_, PlaceholderClaim::Busy { lease_until }) => {
                assert_eq!(lease_until, t0() + lease());
                busy += 1;
            }
            (_, other) => panic!("{other:?}"),
        }
    }
    assert_eq!((winners.len(), busy), (1, N - 1), "{winners:?}");
    let job = store.get_placeholder_job(&id).await.unwrap().unwrap();
    assert!(job.in_progress(t0()));
    assert_eq!(job.lease_owner.as_ref(), winners.first());

    // Another report's job is its own.
    let other = file(store, "other@x").await;
    assert!(matches!(
        claim(store, &other, "attempt-x", t0()).await,
        PlaceholderClaim::Claimed(_)
    ));
}

async fn expired_lease_is_taken_over(h: &Harness) {
    let store = &h.store;
    let id = file(store, "dies@x").await;
    assert!(matches!(
        claim(store, &id, "dead", t0()).await,
        PlaceholderClaim::Claimed(_)
    ));
    // The holder dies. Its lease holds the job until it runs out...
    let almost = t0() + lease() - SignedDuration::from_secs(1);
    assert_eq!(
        claim(store, &id, "next", almost).await,
        PlaceholderClaim::Busy {
            lease_until: t0() + lease()
        }
    );
    // ...then the next attempt takes it over.
    let later = t0() + lease();
    let PlaceholderClaim::Claimed(job) = claim(store, &id, "next", later).await else {
        panic!("not taken over");
    };
    assert_eq!(
        (job.attempts, job.lease_owner.as_deref(), job.lease_until),
        (2, Some("next"), Some(later + lease()))
    );
    assert!(
        !store
            .get_placeholder_job(&id)
            .await
            .unwrap()
            .unwrap()
            .in_progress(later + lease())
    );
    // The dead holder, come back, no longer ends it.
    assert!(matches!(
        store.finish_placeholder_job(&id, "dead", URL, later).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .finish_placeholder_job(&id, "next", URL, later)
        .await
        .unwrap();
    let job = store.get_placeholder_job(&id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.issue_url.as_deref(), job.lease_owner),
        (JobState::Done, Some(URL), None)
    );
    // Done is final, for any later attempt, lease or not.
    assert_eq!(
        claim(store, &id, "third", later + lease() + lease()).await,
        PlaceholderClaim::Done {
            issue_url: Some(URL.to_owned())
        }
    );
}

async fn failure_is_recorded_and_claimable_again(h: &Harness) {
    let store = &h.store;
    let id = file(store, "fails@x").await;
    assert!(matches!(
        claim(store, &id, "a", t0()).await,
        PlaceholderClaim::Claimed(_)
    ));
    let reason = "GitHub: refused (403): Resource not accessible by integration";
    store
        .fail_placeholder_job(&id, "a", reason, t0())
        .await
        .unwrap();
    let job = store.get_placeholder_job(&id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.last_error.as_deref(), job.lease_until),
        (JobState::Failed, Some(reason), None)
    );
    assert!(!job.in_progress(t0()));
    // A retry claims it at once (no lease to wait for); the reason stays
    // until the outcome replaces it.
    let PlaceholderClaim::Claimed(job) = claim(store, &id, "b", t0()).await else {
        panic!("failed job not claimable");
    };
    assert_eq!((job.attempts, job.last_error.as_deref()), (2, Some(reason)));
    // A long reason is clipped.
    store
        .fail_placeholder_job(&id, "b", &"x".repeat(2000), t0())
        .await
        .unwrap();
    let job = store.get_placeholder_job(&id).await.unwrap().unwrap();
    assert_eq!(job.last_error.map(|e| e.len()), Some(500));
    assert!(matches!(
        claim(store, &id, "c", t0()).await,
        PlaceholderClaim::Claimed(_)
    ));
    let mut tx = store.begin().await.unwrap();
    tx.finish_placeholder_job(&id, "c", URL, t0())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let job = store.get_placeholder_job(&id).await.unwrap().unwrap();
    assert_eq!((job.state, job.last_error), (JobState::Done, None));
}

async fn only_the_holder_ends_it(h: &Harness) {
    let store = &h.store;
    let id = file(store, "holder@x").await;
    // Nothing claimed: nothing to end.
    assert!(matches!(
        store.fail_placeholder_job(&id, "a", "x", t0()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        claim(store, &id, "a", t0()).await,
        PlaceholderClaim::Claimed(_)
    ));
    assert!(matches!(
        store.fail_placeholder_job(&id, "b", "x", t0()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.finish_placeholder_job(&id, "b", URL, t0()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        store
            .get_placeholder_job(&id)
            .await
            .unwrap()
            .unwrap()
            .in_progress(t0())
    );
    // Bad leases and owners are refused before the database.
    for (owner, lease) in [("", lease()), ("a", SignedDuration::ZERO)] {
        assert!(matches!(
            store.claim_placeholder_job(&id, owner, lease, t0()).await,
            Err(StoreError::Invalid(_))
        ));
    }
}
