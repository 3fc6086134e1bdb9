//! Publication through the real GitHub client (octocrab) against the local
//! stand-in of GitHub's REST API, on both backends: the issue as created,
//! a lost response, rate limits, refusals, a crash after creating, racing
//! publishers, the placeholder filled in; the placeholder opened once by
//! racing attempts, taken over from a dead holder, a refusal recorded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[macro_use]
mod common;
use embargo_github_standin as standin;

use std::sync::Arc;

use common::*;
use embargo_domain::{State, TrackingId};
use embargo_github::{
    Auth, Client, GitHubConfig, GitHubError, IssueDraft, IssueRef, PublicIssue, Publisher, Repo,
    SECURITY_LABEL, Secret,
};
use embargo_publish::{
    DisclosurePolicy, NoNotices, PlaceholderOutcome, PublicationOutcome, PublishConfig,
    open_placeholder, publish_due, retry_job, schedule,
};
use embargo_store::{JobState, PlaceholderClaim, Store};
use jiff::Timestamp;
use serde_json::json;
use standin::{CreateFault, TOKEN, fault, headers};
use tokio::sync::Notify;

on_both_backends!(
    publishes_one_labelled_issue,
    lost_response_is_found_not_repeated,
    rate_limit_waits_per_retry_after,
    refusal_is_visible_and_retryable,
    crash_after_create_then_takeover,
    racing_publishers_one_issue_each,
    placeholder_filled_in,
    racing_placeholder_attempts_one_issue,
    placeholder_holder_dies_then_takeover,
    placeholder_failure_recorded_then_retried,
);

fn client(server: &standin::Server) -> Client {
    Client::new(&GitHubConfig {
        api_url: server.url(),
        auth: Auth::Token(Secret::new(TOKEN)),
    })
    .unwrap()
}

const REPO: &str = "kubeflow/pipelines";

/// An accepted report, scheduled (one approval) to end at `until`.
async fn scheduled(store: &Store, mid: &str, until: Timestamp) -> TrackingId {
    let id = accepted_report(store, mid).await;
    schedule(
        store,
        &id,
        until,
        &advisory(mid),
        &login("alice"),
        t0() + days(1),
        &DisclosurePolicy::default(),
    )
    .await
    .unwrap();
    id
}

fn until() -> Timestamp {
    t0() + days(30)
}

async fn publish(
    store: &Store,
    gh: &Client,
    config: &PublishConfig,
    owner: &str,
    now: Timestamp,
) -> Vec<PublicationOutcome> {
    publish_due(store, gh, config, &NoNotices, owner, now).await
}

async fn publishes_one_labelled_issue(h: &Harness) {
    let store = &h.store;
    let server = standin::start().await;
    let gh = client(&server);
    let config = config(false);
    let id = scheduled(store, "e2e@x", until()).await;

    assert_eq!(
        publish(store, &gh, &config, "w", until() - secs(1)).await,
        []
    );
    assert!(
        server.lock().seen.is_empty(),
        "nothing asked of GitHub early"
    );

    let out = publish(store, &gh, &config, "w", until()).await;
    let url = "https://github.com/kubeflow/pipelines/issues/1";
    assert_eq!(
        out,
        [PublicationOutcome::Published {
            id: id.clone(),
            repo: REPO.to_owned(),
            issue_url: url.to_owned(),
            issue_number: Some(1),
            created: true,
            placeholder: false,
        }]
    );
    // The JSON line `publish --due` prints.
    let line = serde_json::to_value(&out[0]).unwrap();
    assert_eq!(line["outcome"], "published");
    assert_eq!(line["issue_url"], url);
    assert_eq!(line["id"], id.to_string());

    {
        let st = server.lock();
        assert_eq!(st.creates, 1);
        let issue = st.issue(REPO, 1).unwrap();
        assert_eq!(issue.labels, [SECURITY_LABEL, "area/pipelines"]);
        assert_eq!(
            issue.title,
            format!("[{id}] Arbitrary code execution in the pipeline API server")
        );
        let body = issue.body.as_deref().unwrap();
        assert!(body.contains(SECRET_DETAILS));
        assert!(body.contains("- **Severity:** High"));
        assert!(body.contains("- **CVE:** CVE-2026-10001"));
        assert!(body.contains("### Affected versions\n\n< 2.3.1"));
        assert!(body.contains("Reported by Jane Doe."));
        assert!(body.trim_end().ends_with(&format!("<!-- embargo:{id} -->")));
        assert!(!body.contains(CANARY));
    }

    let r = store.get_report(&id).await.unwrap();
    assert_eq!(r.report.state, State::Published);
    assert!(
        r.events
            .iter()
            .any(|e| e.kind == "published" && e.detail.contains(url))
    );
    assert_eq!(
        store.get_publication_job(&id).await.unwrap().unwrap().state,
        JobState::Done
    );
    assert_eq!(
        publish(store, &gh, &config, "w", until() + days(1)).await,
        []
    );
    assert_eq!(server.lock().creates, 1);
}

async fn lost_response_is_found_not_repeated(h: &Harness) {
    let store = &h.store;
    let server = standin::start().await;
    let gh = client(&server);
    let config = config(false);
    let dropped = scheduled(store, "drop@x", until()).await;
    let failed = scheduled(store, "502@x", until() + days(1)).await;

    // The connection drops after the issue is stored.
    server.lock().create_fault = Some(CreateFault::ThenDrop);
    let out = publish(store, &gh, &config, "w", until()).await;
    let [PublicationOutcome::Retrying { retry_at, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(server.lock().creates, 1);
    let out = publish(store, &gh, &config, "w", *retry_at).await;
    assert!(
        matches!(
            out.as_slice(),
            [PublicationOutcome::Published {
                created: false,
                issue_number: Some(1),
                ..
            }]
        ),
        "{out:?}"
    );

    // A 502 after the issue is stored.
    let t = until() + days(1);
    server.lock().create_fault = Some(CreateFault::ThenStatus(502));
    let out = publish(store, &gh, &config, "w", t).await;
    let [
        PublicationOutcome::Retrying {
            retry_at, error, ..
        },
    ] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    assert!(error.contains("502"), "{error}");
    let out = publish(store, &gh, &config, "w", *retry_at).await;
    assert!(
        matches!(
            out.as_slice(),
            [PublicationOutcome::Published {
                created: false,
                issue_number: Some(2),
                ..
            }]
        ),
        "{out:?}"
    );

    {
        let st = server.lock();
        assert_eq!(st.creates, 2, "two reports, two creates, no repeat");
        assert_eq!(st.issues_in(REPO).len(), 2);
    }
    for id in [&dropped, &failed] {
        assert_eq!(
            store.load_domain_report(id).await.unwrap().state,
            State::Published
        );
    }
}

async fn rate_limit_waits_per_retry_after(h: &Harness) {
    let store = &h.store;
    let server = standin::start().await;
    let gh = client(&server);
    let config = config(false);
    let id = scheduled(store, "rl@x", until()).await;
    server.lock().faults.push_back(fault(
        "GET",
        "/repos/kubeflow/pipelines/issues",
        429,
        headers(&[("retry-after", "120")]),
        json!({ "message": "You have exceeded a secondary rate limit." }),
    ));
    let out = publish(store, &gh, &config, "w", until()).await;
    let retry_at = until() + secs(120);
    let [
        PublicationOutcome::Retrying {
            retry_at: r, error, ..
        },
    ] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    assert_eq!(*r, retry_at);
    assert!(error.contains("rate limit"), "{error}");
    let job = store.get_publication_job(&id).await.unwrap().unwrap();
    assert_eq!((job.state, job.due_at), (JobState::Pending, retry_at));

    // x-ratelimit-reset on a 403 with nothing remaining.
    let reset = retry_at.as_second() + 300;
    server.lock().faults.push_back(fault(
        "GET",
        "/search/issues",
        403,
        headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset.to_string()),
        ]),
        json!({ "message": "API rate limit exceeded" }),
    ));
    assert_eq!(
        publish(store, &gh, &config, "w", retry_at - secs(1)).await,
        []
    );
    let out = publish(store, &gh, &config, "w", retry_at).await;
    let [PublicationOutcome::Retrying { retry_at: r2, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    // The wait is computed against the real clock; it is at least a second.
    assert!(*r2 > retry_at, "{r2}");
    assert_eq!(server.lock().creates, 0);
    let out = publish(store, &gh, &config, "w", *r2).await;
    assert!(
        matches!(
            out.as_slice(),
            [PublicationOutcome::Published { created: true, .. }]
        ),
        "{out:?}"
    );
}

async fn refusal_is_visible_and_retryable(h: &Harness) {
    let store = &h.store;
    let server = standin::start().await;
    let gh = client(&server);
    let config = config(false);
    let id = scheduled(store, "422@x", until()).await;
    let mut body = server.lock().templates.validation_failed.clone();
    body["errors"] = json!([{ "resource": "Label", "code": "invalid", "field": "name" }]);
    server.lock().faults.push_back(fault(
        "POST",
        "/repos/kubeflow/pipelines/issues",
        422,
        vec![],
        body,
    ));
    let out = publish(store, &gh, &config, "w", until()).await;
    let [PublicationOutcome::Failed { error, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert!(error.contains("HTTP 422"), "{error}");
    assert!(
        error.contains("Validation Failed (Label name invalid)"),
        "{error}"
    );

    let failed = store
        .list_publication_jobs(Some(JobState::Failed))
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].report_id, id);
    assert!(failed[0].last_error.as_deref().unwrap().contains("422"));
    assert_eq!(
        store.load_domain_report(&id).await.unwrap().state,
        State::Scheduled
    );
    // Not retried by itself.
    assert_eq!(
        publish(store, &gh, &config, "w", until() + days(1)).await,
        []
    );
    assert_eq!(server.lock().creates, 0);

    retry_job(store, &id, &login("admin"), until() + days(1))
        .await
        .unwrap();
    let out = publish(store, &gh, &config, "w", until() + days(1)).await;
    assert!(
        matches!(
            out.as_slice(),
            [PublicationOutcome::Published { created: true, .. }]
        ),
        "{out:?}"
    );
    assert_eq!(server.lock().issues_in(REPO).len(), 1);
}

/// A publisher that dies right after GitHub created the issue: the call
/// never returns (the test drops the worker), the lease stays taken.
struct DiesAfterCreate {
    inner: Client,
    died: Arc<Notify>,
}

impl Publisher for DiesAfterCreate {
    async fn find_by_marker(
        &self,
        repo: &Repo,
        id: &TrackingId,
    ) -> Result<Option<IssueRef>, GitHubError> {
        self.inner.find_by_marker(repo, id).await
    }

    async fn create_issue(&self, repo: &Repo, draft: &IssueDraft) -> Result<IssueRef, GitHubError> {
        self.inner.create_issue(repo, draft).await?;
        self.died.notify_one();
        std::future::pending::<()>().await;
        unreachable!("dead")
    }

    async fn update_issue(
        &self,
        repo: &Repo,
        number: u64,
        draft: &IssueDraft,
    ) -> Result<IssueRef, GitHubError> {
        self.inner.update_issue(repo, number, draft).await
    }

    async fn list_security_issues_since(
        &self,
        repo: &Repo,
        since: Timestamp,
    ) -> Result<Vec<PublicIssue>, GitHubError> {
        self.inner.list_security_issues_since(repo, since).await
    }
}

async fn crash_after_create_then_takeover(h: &Harness) {
    let store = &h.store;
    let server = standin::start().await;
    let config = config(false);
    let id = scheduled(store, "crash@x", until()).await;
    let dying = DiesAfterCreate {
        inner: client(&server),
        died: Arc::new(Notify::new()),
    };
    let died = dying.died.clone();
    tokio::select! {
        out = publish_due(store, &dying, &config, &NoNotices, "host-a", until()) => panic!("did not die: {out:?}"),
        _ = died.notified() => {}
    }
    drop(dying);
    assert_eq!(server.lock().creates, 1);
    let job = store.get_publication_job(&id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.lease_owner.as_deref()),
        (JobState::Running, Some("host-a"))
    );

    let gh = client(&server);
    // The lease holds the job...
    assert_eq!(
        publish(store, &gh, &config, "host-b", until() + secs(60)).await,
        []
    );
    // ...until it runs out: the next worker finds the issue by its marker.
    let out = publish(store, &gh, &config, "host-b", until() + config.lease).await;
    assert!(
        matches!(
            out.as_slice(),
            [PublicationOutcome::Published {
                created: false,
                issue_number: Some(1),
                ..
            }]
        ),
        "{out:?}"
    );
    let st = server.lock();
    assert_eq!((st.creates, st.issues_in(REPO).len()), (1, 1));
}

async fn racing_publishers_one_issue_each(h: &Harness) {
    let store = &h.store;
    let server = standin::start().await;
    let config = Arc::new(config(false));
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(scheduled(store, &format!("race{i}@x"), until()).await);
    }
    // One create's response is lost on the way.
    server.lock().create_fault = Some(CreateFault::ThenDrop);
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        let gh = client(&server);
        let config = config.clone();
        tasks.push(tokio::spawn(async move {
            let mut published = Vec::new();
            loop {
                let out = publish(&store, &gh, &config, &format!("host-{w}"), until()).await;
                if out.is_empty() {
                    break published;
                }
                published.extend(out.into_iter().filter_map(|o| match o {
                    PublicationOutcome::Published { id, .. } => Some(id),
                    _ => None,
                }));
            }
        }));
    }
    let mut published = Vec::new();
    for t in tasks {
        published.extend(t.await.unwrap());
    }
    // The one whose response was lost comes due after its backoff.
    let later = until() + jiff::SignedDuration::from_mins(20);
    let out = publish(store, &client(&server), &config, "host-9", later).await;
    published.extend(out.into_iter().map(|o| match o {
        PublicationOutcome::Published { id, .. } => id,
        other => panic!("{other:?}"),
    }));
    published.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(published, want, "each report published exactly once");
    {
        let st = server.lock();
        assert_eq!(st.creates, 6);
        assert_eq!(st.issues_in(REPO).len(), 6);
        for id in &ids {
            let marker = format!("<!-- embargo:{id} -->");
            let n = st
                .issues_in(REPO)
                .iter()
                .filter(|i| i.body.as_deref().unwrap_or("").contains(&marker))
                .count();
            assert_eq!(n, 1, "{id}");
        }
    }
    for id in &ids {
        assert_eq!(
            store.load_domain_report(id).await.unwrap().state,
            State::Published
        );
    }
}

async fn placeholder_filled_in(h: &Harness) {
    let store = &h.store;
    let server = standin::start().await;
    let gh = client(&server);
    let config = config(true);
    let id = accepted_report(store, "ph@x").await;
    let out = open_placeholder(store, &gh, &config.wgs, &id, config.lease, t0() + days(1))
        .await
        .unwrap();
    assert!(
        matches!(out, PlaceholderOutcome::Opened { number: 1, .. }),
        "{out:?}"
    );
    {
        let st = server.lock();
        let issue = st.issue(REPO, 1).unwrap();
        assert_eq!(issue.title, format!("[{id}] Security issue under embargo"));
        let body = issue.body.as_deref().unwrap();
        assert!(
            !body.contains(SECRET_DETAILS) && !body.contains("High") && !body.contains("CVE-2026")
        );
        assert!(issue.labels.iter().any(|l| l == SECURITY_LABEL));
    }
    // Opening again: the recorded one.
    let out = open_placeholder(store, &gh, &config.wgs, &id, config.lease, t0() + days(1))
        .await
        .unwrap();
    assert!(
        matches!(out, PlaceholderOutcome::Existing { number: 1, .. }),
        "{out:?}"
    );
    assert_eq!(server.lock().creates, 1);

    schedule(
        store,
        &id,
        until(),
        &advisory("v1"),
        &login("alice"),
        t0() + days(1),
        &DisclosurePolicy::default(),
    )
    .await
    .unwrap();
    let out = publish(store, &gh, &config, "w", until()).await;
    assert!(
        matches!(
            out.as_slice(),
            [PublicationOutcome::Published {
                placeholder: true,
                created: false,
                issue_number: Some(1),
                ..
            }]
        ),
        "{out:?}"
    );
    let st = server.lock();
    assert_eq!((st.creates, st.issues_in(REPO).len()), (1, 1));
    let issue = st.issue(REPO, 1).unwrap();
    assert!(issue.body.as_deref().unwrap().contains(SECRET_DETAILS));
    assert_eq!(
        issue.title,
        format!("[{id}] Arbitrary code execution in the pipeline API server")
    );
    assert_eq!(issue.labels, [SECURITY_LABEL, "area/pipelines"]);
}

/// An accepted report of a WG with placeholders, and 4 attempts at once
/// (two admins' retries, the CLI, another replica): GitHub holds the first
/// create's answer, and meanwhile the other three find the job in
/// progress and do nothing. Exactly one issue at the stand-in.
async fn racing_placeholder_attempts_one_issue(h: &Harness) {
    let store = &h.store;
    let server = standin::start().await;
    let config = Arc::new(config(true));
    let id = accepted_report(store, "phrace@x").await;
    let now = t0() + days(1);
    server.lock().hold_creates = true;
    const N: usize = 4;
    let start = Arc::new(tokio::sync::Barrier::new(N));
    let mut tasks = Vec::new();
    for _ in 0..N {
        let (store, gh, config, id, start) = (
            store.clone(),
            client(&server),
            config.clone(),
            id.clone(),
            start.clone(),
        );
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            open_placeholder(&store, &gh, &config.wgs, &id, config.lease, now).await
        }));
    }
    // Until one create is held and the other attempts are over (or, were
    // attempts not excluded, a second create arrives).
    loop {
        let creates = server.lock().creates;
        let finished = tasks.iter().filter(|t| t.is_finished()).count();
        if creates > 1 || (creates == 1 && finished == N - 1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    server.lock().hold_creates = false;
    let mut opened = Vec::new();
    let mut in_progress = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            PlaceholderOutcome::Opened { number, .. } => opened.push(number),
            PlaceholderOutcome::InProgress { lease_until, .. } => {
                assert_eq!(lease_until, now + config.lease);
                in_progress += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((opened.as_slice(), in_progress), (&[1][..], N - 1));
    {
        let st = server.lock();
        assert_eq!((st.creates, st.issues_in(REPO).len()), (1, 1));
    }
    assert_eq!(
        store
            .get_placeholder_issue(&id)
            .await
            .unwrap()
            .unwrap()
            .number,
        1
    );
    let job = store.get_placeholder_job(&id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Done, 1));
    // Later attempts: the recorded one.
    let out = open_placeholder(store, &client(&server), &config.wgs, &id, config.lease, now)
        .await
        .unwrap();
    assert!(
        matches!(out, PlaceholderOutcome::Existing { number: 1, .. }),
        "{out:?}"
    );
}

/// The attempt that created the issue dies before recording it: its lease
/// keeps others out until it runs out; the next attempt takes the job over
/// and finds the issue by its marker instead of creating a second.
async fn placeholder_holder_dies_then_takeover(h: &Harness) {
    let store = &h.store;
    let server = standin::start().await;
    let config = config(true);
    let id = accepted_report(store, "phdies@x").await;
    let now = t0() + days(1);
    let dying = DiesAfterCreate {
        inner: client(&server),
        died: Arc::new(Notify::new()),
    };
    let died = dying.died.clone();
    tokio::select! {
        out = open_placeholder(store, &dying, &config.wgs, &id, config.lease, now) => panic!("did not die: {out:?}"),
        _ = died.notified() => {}
    }
    drop(dying);
    assert_eq!(server.lock().creates, 1);
    assert_eq!(store.get_placeholder_issue(&id).await.unwrap(), None);

    let gh = client(&server);
    let out = open_placeholder(store, &gh, &config.wgs, &id, config.lease, now + secs(60))
        .await
        .unwrap();
    assert_eq!(
        out,
        PlaceholderOutcome::InProgress {
            id: id.clone(),
            lease_until: now + config.lease
        }
    );
    let out = open_placeholder(
        store,
        &gh,
        &config.wgs,
        &id,
        config.lease,
        now + config.lease,
    )
    .await
    .unwrap();
    assert!(
        matches!(out, PlaceholderOutcome::Opened { number: 1, .. }),
        "{out:?}"
    );
    {
        let st = server.lock();
        assert_eq!((st.creates, st.issues_in(REPO).len()), (1, 1));
    }
    let job = store.get_placeholder_job(&id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Done, 2));
}

/// GitHub refuses: the error comes back and is recorded on the job (the
/// admin view shows it); the next attempt claims it again and opens it.
async fn placeholder_failure_recorded_then_retried(h: &Harness) {
    let store = &h.store;
    let server = standin::start().await;
    let gh = client(&server);
    let config = config(true);
    let id = accepted_report(store, "phfail@x").await;
    let now = t0() + days(1);
    server.lock().faults.push_back(fault(
        "POST",
        "/repos/kubeflow/pipelines/issues",
        403,
        vec![],
        json!({ "message": "Resource not accessible by integration" }),
    ));
    let err = open_placeholder(store, &gh, &config.wgs, &id, config.lease, now)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    let job = store.get_placeholder_job(&id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.last_error.as_deref(), Some(err.to_string().as_str()));
    assert!(!job.in_progress(now));
    assert_eq!(server.lock().creates, 0);

    // Retried at once (a failure holds no lease).
    let out = open_placeholder(store, &gh, &config.wgs, &id, config.lease, now)
        .await
        .unwrap();
    assert!(
        matches!(out, PlaceholderOutcome::Opened { number: 1, .. }),
        "{out:?}"
    );
    let job = store.get_placeholder_job(&id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.attempts, job.last_error),
        (JobState::Done, 2, None)
    );
    assert_eq!(
        store
            .claim_placeholder_job(&id, "late", config.lease, now)
            .await
            .unwrap(),
        PlaceholderClaim::Done {
            issue_url: job.issue_url
        }
    );
    assert_eq!(server.lock().creates, 1);
}
