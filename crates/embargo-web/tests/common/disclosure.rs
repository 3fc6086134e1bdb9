//! Reports at each step of disclosure, for the disclosure tests and the
//! authorization matrix: accepted, scheduled (through `embargo-publish`),
//! with a failed publication job, published.

use embargo_domain::{Action, EmbargoPolicy, Login, State, TrackingId};
use embargo_publish::{AdvisoryInput, DisclosurePolicy};
use embargo_store::Actor;
use jiff::{SignedDuration, Timestamp};

use super::App;

pub fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

pub fn advisory() -> AdvisoryInput {
    AdvisoryInput {
        markdown: "A crafted pipeline spec runs code. Upgrade.".to_owned(),
        title: "Code execution in the pipeline API server".to_owned(),
        affected: "< 2.3.1".to_owned(),
        fixed: "2.3.1".to_owned(),
        credit: Some("Jane Doe".to_owned()),
        cve: Some("CVE-2026-10001".to_owned()),
    }
}

/// A fresh report of `wg`, triaged and accepted.
pub async fn accepted(app: &App, wg: &str) -> TrackingId {
    let id = app.report("disclosure", "b").await;
    app.triage(&id, wg).await;
    let store = app.store();
    let r = store.load_domain_report(&id).await.unwrap();
    let now = Timestamp::now();
    let next = r
        .apply(&Action::Accept, now, &EmbargoPolicy::default())
        .unwrap();
    store
        .apply_report_update(r.state, &next, &Actor::System, "accept", "", now)
        .await
        .unwrap();
    id
}

/// Scheduled by `by` for `until`, needing `approvals` approvals.
pub async fn scheduled(
    app: &App,
    wg: &str,
    by: &str,
    until: Timestamp,
    approvals: u8,
) -> TrackingId {
    let id = accepted(app, wg).await;
    embargo_publish::schedule(
        app.store(),
        &id,
        until,
        &advisory(),
        &Login::parse(by).unwrap(),
        Timestamp::now(),
        &DisclosurePolicy {
            embargo: EmbargoPolicy::default(),
            approvals_required: approvals,
        },
    )
    .await
    .unwrap();
    id
}

/// Scheduled and approved, its publication job failed (as GitHub's 422
/// would leave it).
pub async fn failed(app: &App, wg: &str) -> TrackingId {
    let id = scheduled(app, wg, "alice", Timestamp::now() + days(10), 1).await;
    sqlx::query(
        "UPDATE publication_jobs SET state = 'failed', attempts = 1, last_error = $2 WHERE report_id = $1",
    )
    .bind(id.to_string())
    .bind("GitHub refused (422): Validation Failed <script>x</script>")
    .execute(app.store().pool())
    .await
    .unwrap();
    id
}

/// Scheduled, then published as issue 7 of kubeflow/pipelines (the
/// publisher's own steps, without GitHub).
pub async fn published(app: &App, wg: &str) -> TrackingId {
    let until = Timestamp::now() + days(10);
    let id = scheduled(app, wg, "alice", until, 1).await;
    let store = app.store();
    let r = store.load_domain_report(&id).await.unwrap();
    let at = until + SignedDuration::from_secs(1);
    let next = r
        .apply(&Action::Publish, at, &EmbargoPolicy::default())
        .unwrap();
    assert_eq!(next.state, State::Published);
    let url = "https://github.com/kubeflow/pipelines/issues/7";
    let mut tx = store.begin().await.unwrap();
    tx.apply_report_update(r.state, &next, &Actor::System, "published", url, at)
        .await
        .unwrap();
    tx.set_published_issue(&id, "kubeflow/pipelines", url, at)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}
