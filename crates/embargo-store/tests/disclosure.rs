//! The disclosure tables (migrations 0003): the sealed advisory and its
//! versions, approvals per version, placeholder issues, and the
//! publication-job operations of the disclosure workflow. Every case runs
//! on SQLite (a temp file) and on PostgreSQL (a fresh database per test)
//! when `TEST_DATABASE_URL` is set; under `CI=true` a missing
//! `TEST_DATABASE_URL` fails the PostgreSQL runs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use embargo_domain::{Login, TrackingId, TrackingPrefix};
use embargo_store::{
    AdvisoryText, DisclosureWrite, JobOutcome, JobRelease, JobState, PlaceholderIssue, Store,
    StoreError,
};
use jiff::{SignedDuration, Timestamp};

mod common;

use common::{Harness, on_both_backends};

on_both_backends!(
    disclosure_versions_and_approvals,
    published_issue_is_recorded_once,
    placeholder_issues,
    release_and_retry_publication_jobs,
    locked_job_is_not_claimed,
    advisory_not_readable_at_rest,
);

// ---------------------------------------------------------------- data

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn t0() -> Timestamp {
    t("2026-03-01T10:00:00Z")
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

fn login(s: &str) -> Login {
    Login::parse(s).unwrap()
}

fn advisory(text: &str) -> AdvisoryText {
    AdvisoryText {
        title: "RCE in the API server".to_owned(),
        markdown: text.to_owned(),
        affected: "< 2.3.1".to_owned(),
        fixed: "2.3.1".to_owned(),
        credit: Some("Jane Doe".to_owned()),
        cve: None,
    }
}

async fn file(store: &Store, mid: &str) -> TrackingId {
    embargo_testkit::file_report(store, "report", mid, "steps to reproduce", t0()).await
}

async fn put(
    store: &Store,
    id: &TrackingId,
    until: Timestamp,
    a: &AdvisoryText,
    required: u8,
    by: &str,
) -> Result<(u32, DisclosureWrite), StoreError> {
    let mut tx = store.begin().await?;
    let r = tx
        .put_disclosure(id, until, a, required, &login(by), t0())
        .await?;
    tx.commit().await?;
    Ok(r)
}

async fn approve(
    store: &Store,
    id: &TrackingId,
    version: u32,
    by: &str,
) -> Result<bool, StoreError> {
    let mut tx = store.begin().await?;
    let r = tx.add_approval(id, version, &login(by), t0()).await?;
    tx.commit().await?;
    Ok(r)
}

fn logins(d: &embargo_store::Disclosure) -> Vec<&str> {
    d.approvals.iter().map(|a| a.login.as_str()).collect()
}

// ---------------------------------------------------------------- cases

async fn disclosure_versions_and_approvals(h: &Harness) {
    let store = &h.store;
    let id = file(store, "d1@x").await;
    assert_eq!(store.get_disclosure(&id).await.unwrap(), None);
    let until = t0() + days(30);
    let a = advisory("Details v1");

    assert_eq!(
        put(store, &id, until, &a, 2, "alice").await.unwrap(),
        (1, DisclosureWrite::Created)
    );
    let d = store.get_disclosure(&id).await.unwrap().unwrap();
    assert_eq!(d.report_id, id);
    assert_eq!(
        (d.version, d.embargo_until, d.approvals_required),
        (1, until, 2)
    );
    assert_eq!(d.advisory, a);
    assert_eq!(d.scheduled_by, login("alice"));
    assert_eq!(d.published_issue_url, None);
    assert!(d.approvals.is_empty() && !d.is_approved());

    assert!(approve(store, &id, 1, "alice").await.unwrap());
    assert!(
        !approve(store, &id, 1, "alice").await.unwrap(),
        "once per member"
    );
    assert!(approve(store, &id, 1, "bob").await.unwrap());
    let d = store.get_disclosure(&id).await.unwrap().unwrap();
    assert_eq!(logins(&d), ["alice", "bob"]);
    assert!(d.is_approved() && d.approved_by(&login("bob")));
    assert_eq!(d.approvals[0].embargo_until, until);

    // Same end and text: version and approvals stand.
    assert_eq!(
        put(store, &id, until, &a, 2, "carol").await.unwrap(),
        (1, DisclosureWrite::Unchanged)
    );
    assert!(
        store
            .get_disclosure(&id)
            .await
            .unwrap()
            .unwrap()
            .is_approved()
    );

    // A change of the text (even of the credit alone) or of the end resets.
    let mut b = a.clone();
    b.credit = None;
    assert_eq!(
        put(store, &id, until, &b, 2, "carol").await.unwrap(),
        (2, DisclosureWrite::Changed)
    );
    let d = store.get_disclosure(&id).await.unwrap().unwrap();
    assert_eq!((d.version, d.advisory.credit.as_deref()), (2, None));
    assert!(d.approvals.is_empty());
    assert_eq!(d.scheduled_by, login("carol"));
    assert!(matches!(
        approve(store, &id, 1, "dave").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(approve(store, &id, 2, "carol").await.unwrap());
    let later = until + SignedDuration::from_hours(1);
    assert_eq!(
        put(store, &id, later, &b, 2, "carol").await.unwrap(),
        (3, DisclosureWrite::Changed)
    );
    assert!(
        store
            .get_disclosure(&id)
            .await
            .unwrap()
            .unwrap()
            .approvals
            .is_empty()
    );

    // Voiding approvals without a change (unschedule, withdrawal).
    assert!(approve(store, &id, 3, "alice").await.unwrap());
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.invalidate_approvals(&id, t0()).await.unwrap(), Some(4));
    tx.commit().await.unwrap();
    let d = store.get_disclosure(&id).await.unwrap().unwrap();
    assert_eq!((d.version, d.embargo_until), (4, later));
    assert!(d.approvals.is_empty());
    let history: Vec<(u32, String)> = store
        .approval_history(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.version, a.login.to_string()))
        .collect();
    assert_eq!(
        history,
        [
            (1, "alice".to_owned()),
            (1, "bob".to_owned()),
            (2, "carol".to_owned()),
            (3, "alice".to_owned())
        ]
    );

    // Refusals.
    assert!(matches!(
        put(store, &id, until, &a, 0, "x").await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        put(store, &id, until, &a, 11, "x").await,
        Err(StoreError::Invalid(_))
    ));
    let mut blank = a.clone();
    blank.title = "  ".to_owned();
    assert!(matches!(
        put(store, &id, until, &blank, 1, "x").await,
        Err(StoreError::Invalid(_))
    ));
    let other = file(store, "d2@x").await;
    assert!(matches!(
        approve(store, &other, 1, "alice").await,
        Err(StoreError::NotFound(_))
    ));
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.invalidate_approvals(&other, t0()).await.unwrap(), None);
    let missing = TrackingId::new(TrackingPrefix::parse("SEC").unwrap(), 2026, 999).unwrap();
    assert!(matches!(
        tx.lock_report(&missing).await,
        Err(StoreError::NotFound(_))
    ));
    tx.lock_report(&other).await.unwrap();
    assert_eq!(
        tx.reporter_address(&other).await.unwrap(),
        "reporter@example.org"
    );
}

async fn published_issue_is_recorded_once(h: &Harness) {
    let store = &h.store;
    let id = file(store, "p1@x").await;
    let url = "https://github.com/kubeflow/pipelines/issues/7";
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.set_published_issue(&id, "kubeflow/pipelines", url, t0())
            .await,
        Err(StoreError::NotFound(_))
    ));
    drop(tx);
    let until = t0() + days(10);
    put(store, &id, until, &advisory("x"), 1, "alice")
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.set_published_issue(&id, "kubeflow/pipelines", "javascript:alert(1)", until)
            .await,
        Err(StoreError::Invalid(_))
    ));
    tx.set_published_issue(&id, "kubeflow/pipelines", url, until)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let d = store.get_disclosure(&id).await.unwrap().unwrap();
    assert_eq!(d.published_issue_url.as_deref(), Some(url));
    assert_eq!(d.published_repo.as_deref(), Some("kubeflow/pipelines"));
    assert_eq!(d.published_at, Some(until));
    // Published text does not change any more.
    assert!(matches!(
        put(store, &id, until, &advisory("y"), 1, "alice").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.reporter_address(&id).await.unwrap(),
        "reporter@example.org"
    );
}

async fn placeholder_issues(h: &Harness) {
    let store = &h.store;
    let id = file(store, "ph@x").await;
    assert_eq!(store.get_placeholder_issue(&id).await.unwrap(), None);
    let p = PlaceholderIssue {
        report_id: id.clone(),
        repo: "kubeflow/pipelines".to_owned(),
        number: 12,
        url: "https://github.com/kubeflow/pipelines/issues/12".to_owned(),
        created_at: t0(),
    };
    assert!(store.set_placeholder_issue(&p).await.unwrap());
    let second = PlaceholderIssue {
        number: 13,
        url: "https://github.com/kubeflow/pipelines/issues/13".to_owned(),
        ..p.clone()
    };
    assert!(
        !store.set_placeholder_issue(&second).await.unwrap(),
        "first one stays"
    );
    assert_eq!(
        store.get_placeholder_issue(&id).await.unwrap(),
        Some(p.clone())
    );
    let other = file(store, "ph2@x").await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.get_placeholder_issue(&id).await.unwrap(), Some(p));
    let bad = PlaceholderIssue {
        report_id: other,
        repo: "kubeflow/pipelines".to_owned(),
        number: 1,
        url: "not a url".to_owned(),
        created_at: t0(),
    };
    assert!(matches!(
        tx.set_placeholder_issue(&bad).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn release(store: &Store, id: &TrackingId, now: Timestamp) -> JobRelease {
    let mut tx = store.begin().await.unwrap();
    let r = tx.release_publication_job(id, now).await.unwrap();
    tx.commit().await.unwrap();
    r
}

async fn release_and_retry_publication_jobs(h: &Harness) {
    let store = &h.store;
    let lease = SignedDuration::from_mins(5);
    let id = file(store, "j1@x").await;
    let due = t0() + days(3);
    assert_eq!(release(store, &id, t0()).await, JobRelease::NoJob);

    // Pending: released (deleted).
    store.upsert_publication_job(&id, due, t0()).await.unwrap();
    assert_eq!(release(store, &id, t0()).await, JobRelease::Released);
    assert!(store.get_publication_job(&id).await.unwrap().is_none());

    // Running with a live lease: busy. After the lease: released.
    store.upsert_publication_job(&id, due, t0()).await.unwrap();
    let job = store
        .claim_publication_job("host-a", lease, due)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.report_id, id);
    assert_eq!(
        release(store, &id, due).await,
        JobRelease::Busy {
            lease_until: due + lease
        }
    );
    assert_eq!(
        store.get_publication_job(&id).await.unwrap().unwrap().state,
        JobState::Running
    );
    assert_eq!(release(store, &id, due + lease).await, JobRelease::Released);

    // The issue recorded: never released, whatever the lease.
    store.upsert_publication_job(&id, due, t0()).await.unwrap();
    store
        .claim_publication_job("host-a", lease, due)
        .await
        .unwrap()
        .unwrap();
    let url = "https://github.com/kubeflow/pipelines/issues/1";
    store
        .set_publication_issue_url(&id, "host-a", url)
        .await
        .unwrap();
    let exists = JobRelease::IssueExists {
        issue_url: url.to_owned(),
    };
    assert_eq!(release(store, &id, due + days(1)).await, exists);
    store
        .finish_publication_job(
            &id,
            "host-a",
            &JobOutcome::Done {
                issue_url: url.to_owned(),
            },
            due,
        )
        .await
        .unwrap();
    assert_eq!(release(store, &id, due + days(1)).await, exists);

    // Failed: visible in the list, retried by an admin, attempts start over.
    let other = file(store, "j2@x").await;
    store
        .upsert_publication_job(&other, due, t0())
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(
        !tx.retry_publication_job(&other, due).await.unwrap(),
        "not failed"
    );
    drop(tx);
    store
        .claim_publication_job("host-b", lease, due)
        .await
        .unwrap()
        .unwrap();
    store
        .finish_publication_job(
            &other,
            "host-b",
            &JobOutcome::Failed {
                error: "GitHub refused the request (HTTP 422)".to_owned(),
                retry_at: None,
            },
            due,
        )
        .await
        .unwrap();
    let failed = store
        .list_publication_jobs(Some(JobState::Failed))
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].report_id, other);
    assert_eq!(
        failed[0].last_error.as_deref(),
        Some("GitHub refused the request (HTTP 422)")
    );
    assert_eq!(store.list_publication_jobs(None).await.unwrap().len(), 2);
    let retry_at = due + days(1);
    let mut tx = store.begin().await.unwrap();
    assert!(tx.retry_publication_job(&other, retry_at).await.unwrap());
    tx.commit().await.unwrap();
    let job = store.get_publication_job(&other).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.due_at, job.attempts, job.last_error),
        (JobState::Pending, retry_at, 0, None)
    );
    assert!(
        store
            .list_publication_jobs(Some(JobState::Failed))
            .await
            .unwrap()
            .is_empty()
    );
    // A job due later than the retry keeps its due time.
    let mut tx = store.begin().await.unwrap();
    assert!(!tx.retry_publication_job(&other, t0()).await.unwrap());
    drop(tx);

    // Dropping a held job: only by its holder.
    store
        .claim_publication_job("host-c", lease, retry_at)
        .await
        .unwrap()
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.drop_held_publication_job(&other, "host-x").await,
        Err(StoreError::Conflict(_))
    ));
    tx.drop_held_publication_job(&other, "host-c")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(store.get_publication_job(&other).await.unwrap().is_none());
}

/// A job an agreement change holds locked is not claimed from under it
/// (PostgreSQL: the claim skips the locked row; SQLite: the claim waits
/// for the write transaction), and once released it is gone.
async fn locked_job_is_not_claimed(h: &Harness) {
    let store = &h.store;
    let id = file(store, "lock@x").await;
    let due = t0() + days(1);
    store.upsert_publication_job(&id, due, t0()).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.lock_report(&id).await.unwrap();
    let job = tx.lock_publication_job(&id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Pending);
    let claimer = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .claim_publication_job("racer", SignedDuration::from_mins(5), due)
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        tx.release_publication_job(&id, due).await.unwrap(),
        JobRelease::Released
    );
    tx.commit().await.unwrap();
    assert_eq!(claimer.await.unwrap(), None);
    assert!(store.get_publication_job(&id).await.unwrap().is_none());
}

const CANARIES: [&str; 6] = [
    "SALAMANDER-TITLE-4c1e",
    "GECKO-ADVISORY-BODY-9a2f",
    "IGUANA-AFFECTED-77b0",
    "NEWT-FIXED-1d3c",
    "Komodo Credit-e8a5",
    "CVE-2031-918273",
];

/// The value, as plain bytes or as hex (how `pg_dump` prints BYTEA).
fn readable_in(haystack: &[u8], needle: &str) -> bool {
    let plain = needle.as_bytes();
    let hex: String = plain.iter().map(|b| format!("{b:02x}")).collect();
    let hex_upper = hex.to_uppercase();
    [plain, hex.as_bytes(), hex_upper.as_bytes()]
        .iter()
        .any(|n| haystack.windows(n.len()).any(|w| w == *n))
}

async fn advisory_not_readable_at_rest(h: &Harness) {
    let store = &h.store;
    let id = file(store, "rest@x").await;
    let c = CANARIES;
    let a = AdvisoryText {
        title: c[0].to_owned(),
        markdown: c[1].to_owned(),
        affected: c[2].to_owned(),
        fixed: c[3].to_owned(),
        credit: Some(c[4].to_owned()),
        cve: Some(c[5].to_owned()),
    };
    put(store, &id, t0() + days(5), &a, 1, "alice")
        .await
        .unwrap();
    assert_eq!(
        store.get_disclosure(&id).await.unwrap().unwrap().advisory,
        a
    );
    let bytes = h.at_rest_bytes().await;
    for canary in c {
        assert!(!readable_in(&bytes, canary), "{canary} readable at rest");
    }
    // The scan would see it: the tracking ID is stored in clear.
    assert!(readable_in(&bytes, &id.to_string()));
}
