//! The disclosure workflow against the in-memory fake GitHub, on both
//! backends: agreement (policy, approvals, resets, withdrawal), never
//! early, exactly once, failures and retries, placeholders, notices,
//! exports.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[macro_use]
mod common;

use common::fake::{FakeGitHub, Fault, run};
use common::*;
use embargo_domain::{EmbargoPolicy, PolicyViolation, Refusal, State};
use embargo_github::SECURITY_LABEL;
use embargo_outbound::TeamIdentity;
use embargo_pgp::{Keyring, generate_team_key};
use embargo_publish::{
    CsafPublisher, DisclosurePolicy, MailNotices, NoticeRecipient, PlaceholderOutcome,
    PublicationOutcome, PublishError, approve, csaf, open_placeholder, osv, publish_due,
    published_advisory, retry_job, schedule, unschedule, withdraw,
};
use embargo_store::{JobState, ReportFilter};

on_both_backends!(
    out_of_policy_dates_are_refused,
    never_before_the_end,
    two_person_rule_and_resets,
    withdrawal_and_unschedule_cancel,
    no_change_while_publishing,
    refused_then_admin_retry,
    rate_limit_and_backoff,
    lost_response_and_crash_publish_once,
    placeholder_is_filled_in,
    notices_to_reporter_and_team,
    reporter_notice_encrypted_to_a_known_key,
    exports_of_a_published_advisory,
    registry_targets_and_a_wg_without_repository,
);

fn policy(approvals: u8) -> DisclosurePolicy {
    DisclosurePolicy {
        embargo: EmbargoPolicy::default(),
        approvals_required: approvals,
    }
}

async fn out_of_policy_dates_are_refused(h: &Harness) {
    let store = &h.store;
    let id = accepted_report(store, "pol@x").await;
    let now = t0() + days(1);
    let alice = login("alice");
    let too_late = t0() + days(91);
    let err = schedule(
        store,
        &id,
        too_late,
        &advisory("v1"),
        &alice,
        now,
        &policy(1),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            PublishError::Refused(Refusal::Policy(PolicyViolation::TooLate { .. }))
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("more than 90 days"), "{err}");
    let err = schedule(store, &id, now, &advisory("v1"), &alice, now, &policy(1))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        PublishError::Refused(Refusal::Policy(PolicyViolation::InThePast { .. }))
    ));
    // A configured policy is the one applied.
    let strict = DisclosurePolicy {
        embargo: EmbargoPolicy::new(14, vec![2]).unwrap(),
        approvals_required: 1,
    };
    let err = schedule(
        store,
        &id,
        t0() + days(20),
        &advisory("v1"),
        &alice,
        now,
        &strict,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("more than 14 days"), "{err}");
    // An advisory that could not be published is refused now.
    let mut bad = advisory("v1");
    bad.cve = Some("CVE-26-1".into());
    assert!(matches!(
        schedule(store, &id, t0() + days(20), &bad, &alice, now, &policy(1)).await,
        Err(PublishError::Advisory(_))
    ));
    assert!(matches!(
        schedule(
            store,
            &id,
            t0() + days(20),
            &advisory("v1"),
            &alice,
            now,
            &policy(0)
        )
        .await,
        Err(PublishError::ApprovalsRequired { .. })
    ));
    // Nothing was recorded by the refusals.
    assert_eq!(
        store.load_domain_report(&id).await.unwrap().state,
        State::Accepted
    );
    assert_eq!(store.get_disclosure(&id).await.unwrap(), None);
    assert!(store.get_publication_job(&id).await.unwrap().is_none());
    // Not accepted yet: the domain's reason.
    let other = accepted_report(store, "pol2@x").await;
    withdraw(store, &other, &alice, now).await.unwrap();
    assert!(matches!(
        schedule(
            store,
            &other,
            t0() + days(20),
            &advisory("v1"),
            &alice,
            now,
            &policy(1)
        )
        .await,
        Err(PublishError::Refused(Refusal::Closed(State::Withdrawn)))
    ));
}

async fn never_before_the_end(h: &Harness) {
    let store = &h.store;
    let gh = FakeGitHub::new();
    let config = config(false);
    let id = accepted_report(store, "early@x").await;
    let now = t0() + days(1);
    let until = t0() + days(30);
    let out = schedule(
        store,
        &id,
        until,
        &advisory("v1"),
        &login("alice"),
        now,
        &policy(1),
    )
    .await
    .unwrap();
    assert_eq!(out.state, State::Scheduled);
    assert_eq!(
        (out.version, out.change, out.approved),
        (1, "created", true)
    );
    assert_eq!(out.approvals, [login("alice")]);
    let job = store.get_publication_job(&id).await.unwrap().unwrap();
    assert_eq!((job.state, job.due_at), (JobState::Pending, until));

    // A second before the end: nothing is due.
    let early = until - secs(1);
    assert_eq!(
        run(store, &gh, &config, "w1", early, Fault::None).await,
        Some(vec![])
    );
    // Even a job due too early (a bug, a hand edit) is put back by the domain.
    store.upsert_publication_job(&id, now, now).await.unwrap();
    let out = run(store, &gh, &config, "w1", early, Fault::None)
        .await
        .unwrap();
    assert_eq!(
        out,
        [PublicationOutcome::Deferred {
            id: id.clone(),
            until
        }]
    );
    assert_eq!(gh.lock().calls, 0, "GitHub was not even asked");
    let job = store.get_publication_job(&id).await.unwrap().unwrap();
    assert_eq!((job.state, job.due_at), (JobState::Pending, until));

    // At the end: one issue.
    let out = run(store, &gh, &config, "w1", until, Fault::None)
        .await
        .unwrap();
    let [
        PublicationOutcome::Published {
            issue_url,
            created: true,
            placeholder: false,
            ..
        },
    ] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    assert_eq!(issue_url, "https://github.com/kubeflow/pipelines/issues/1");
    {
        let st = gh.lock();
        assert_eq!(st.issues.len(), 1);
        let issue = &st.issues[0];
        assert_eq!(issue.labels, [SECURITY_LABEL, "area/pipelines"]);
        assert!(issue.body.contains(SECRET_DETAILS));
        assert!(issue.body.contains("CVE-2026-10001"));
        assert!(issue.body.contains("Reported by Jane Doe."));
        assert!(!issue.body.contains(CANARY));
        assert!(st.writes.iter().all(|w| w.worker_now >= until));
    }
    let r = store.get_report(&id).await.unwrap();
    assert_eq!(r.report.state, State::Published);
    let published = r.events.iter().find(|e| e.kind == "published").unwrap();
    assert!(published.detail.contains(issue_url.as_str()));
    let d = store.get_disclosure(&id).await.unwrap().unwrap();
    assert_eq!(d.published_issue_url.as_deref(), Some(issue_url.as_str()));
    assert_eq!(d.published_repo.as_deref(), Some("kubeflow/pipelines"));
    let job = store.get_publication_job(&id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.issue_url.as_deref()),
        (JobState::Done, Some(issue_url.as_str()))
    );
    // Later runs: nothing more.
    assert_eq!(
        run(store, &gh, &config, "w2", until + days(1), Fault::None).await,
        Some(vec![])
    );
    assert_eq!(gh.lock().issues.len(), 1);
    // Published is final.
    assert!(matches!(
        withdraw(store, &id, &login("alice"), until + days(1)).await,
        Err(PublishError::Refused(Refusal::Closed(State::Published)))
    ));
}

async fn two_person_rule_and_resets(h: &Harness) {
    let store = &h.store;
    let gh = FakeGitHub::new();
    let config = config(false);
    let id = accepted_report(store, "two@x").await;
    let now = t0() + days(1);
    let until = t0() + days(20);
    let (alice, bob, carol) = (login("alice"), login("bob"), login("carol"));

    let out = schedule(store, &id, until, &advisory("v1"), &alice, now, &policy(2))
        .await
        .unwrap();
    assert_eq!((out.approved, out.approvals_required), (false, 2));
    assert!(
        store.get_publication_job(&id).await.unwrap().is_none(),
        "not approved: no job"
    );
    assert!(matches!(
        approve(store, &id, &alice, now).await,
        Err(PublishError::AlreadyApproved { .. })
    ));
    let status = approve(store, &id, &bob, now).await.unwrap();
    assert!(status.approved);
    assert_eq!(status.approvals, [alice.clone(), bob.clone()]);
    assert_eq!(
        store
            .get_publication_job(&id)
            .await
            .unwrap()
            .unwrap()
            .due_at,
        until
    );

    // Same date and text again: approvals stand.
    let out = schedule(store, &id, until, &advisory("v1"), &alice, now, &policy(2))
        .await
        .unwrap();
    assert_eq!(
        (out.version, out.change, out.approved),
        (1, "unchanged", true)
    );
    assert!(store.get_publication_job(&id).await.unwrap().is_some());

    // Changing the text resets: carol's own approval only.
    let out = schedule(store, &id, until, &advisory("v2"), &carol, now, &policy(2))
        .await
        .unwrap();
    assert_eq!(
        (out.version, out.change, out.approved),
        (2, "changed", false)
    );
    assert_eq!(out.approvals, std::slice::from_ref(&carol));
    assert!(store.get_publication_job(&id).await.unwrap().is_none());
    assert_eq!(
        run(store, &gh, &config, "w", until + days(1), Fault::None).await,
        Some(vec![])
    );
    assert_eq!(gh.lock().issues.len(), 0, "not approved: not published");

    // Changing the date resets too.
    approve(store, &id, &alice, now).await.unwrap();
    let later = until + days(2);
    let out = schedule(store, &id, later, &advisory("v2"), &carol, now, &policy(2))
        .await
        .unwrap();
    assert_eq!((out.version, out.approved), (3, false));
    let status = approve(store, &id, &bob, now).await.unwrap();
    assert!(status.approved);
    assert_eq!(status.embargo_until, later);

    // Published at the new end with the new text.
    assert_eq!(
        run(store, &gh, &config, "w", later - secs(1), Fault::None).await,
        Some(vec![])
    );
    let out = run(store, &gh, &config, "w", later, Fault::None)
        .await
        .unwrap();
    assert!(
        matches!(out.as_slice(), [PublicationOutcome::Published { .. }]),
        "{out:?}"
    );
    {
        let st = gh.lock();
        assert_eq!(st.issues.len(), 1);
        assert!(st.issues[0].body.contains("(v2)"));
    }
    let r = store.get_report(&id).await.unwrap();
    assert_eq!(r.events.iter().filter(|e| e.kind == "approved").count(), 3);
    assert_eq!(r.events.iter().filter(|e| e.kind == "scheduled").count(), 4);
}

async fn withdrawal_and_unschedule_cancel(h: &Harness) {
    let store = &h.store;
    let gh = FakeGitHub::new();
    let config = config(false);
    let now = t0() + days(1);
    let until = t0() + days(10);
    let alice = login("alice");

    let id = accepted_report(store, "wd@x").await;
    schedule(store, &id, until, &advisory("v1"), &alice, now, &policy(1))
        .await
        .unwrap();
    let r = withdraw(store, &id, &alice, now).await.unwrap();
    assert_eq!((r.state, r.embargo_until), (State::Withdrawn, None));
    assert!(store.get_publication_job(&id).await.unwrap().is_none());

    let other = accepted_report(store, "un@x").await;
    schedule(
        store,
        &other,
        until,
        &advisory("v1"),
        &alice,
        now,
        &policy(1),
    )
    .await
    .unwrap();
    let r = unschedule(store, &other, &alice, now).await.unwrap();
    assert_eq!(r.state, State::Accepted);
    assert!(store.get_publication_job(&other).await.unwrap().is_none());
    let d = store.get_disclosure(&other).await.unwrap().unwrap();
    assert!(d.approvals.is_empty(), "approvals void");
    assert_eq!(
        run(store, &gh, &config, "w", until + days(1), Fault::None).await,
        Some(vec![])
    );
    assert_eq!(gh.lock().issues.len(), 0);

    // A stale job of a withdrawn report is dropped, not published.
    store.upsert_publication_job(&id, until, now).await.unwrap();
    let out = run(store, &gh, &config, "w", until, Fault::None)
        .await
        .unwrap();
    assert!(
        matches!(out.as_slice(), [PublicationOutcome::Cancelled { .. }]),
        "{out:?}"
    );
    assert!(store.get_publication_job(&id).await.unwrap().is_none());
    assert_eq!(gh.lock().calls, 0);

    // Scheduled again: published once.
    let out = schedule(
        store,
        &other,
        until + days(1),
        &advisory("v1"),
        &alice,
        until,
        &policy(1),
    )
    .await
    .unwrap();
    assert!(out.approved);
    let out = run(store, &gh, &config, "w", until + days(1), Fault::None)
        .await
        .unwrap();
    assert!(
        matches!(out.as_slice(), [PublicationOutcome::Published { .. }]),
        "{out:?}"
    );
}

async fn no_change_while_publishing(h: &Harness) {
    let store = &h.store;
    let now = t0() + days(1);
    let until = t0() + days(10);
    let alice = login("alice");
    let id = accepted_report(store, "busy@x").await;
    schedule(store, &id, until, &advisory("v1"), &alice, now, &policy(1))
        .await
        .unwrap();
    let lease = jiff::SignedDuration::from_mins(10);
    store
        .claim_publication_job("worker", lease, until)
        .await
        .unwrap()
        .unwrap();
    for result in [
        schedule(
            store,
            &id,
            until + days(1),
            &advisory("v2"),
            &alice,
            until,
            &policy(1),
        )
        .await
        .map(|_| ()),
        unschedule(store, &id, &alice, until).await.map(|_| ()),
        withdraw(store, &id, &alice, until).await.map(|_| ()),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(err, PublishError::Busy { .. }), "{err:?}");
        assert!(err.is_temporary());
    }
    store
        .set_publication_issue_url(
            &id,
            "worker",
            "https://github.com/kubeflow/pipelines/issues/9",
        )
        .await
        .unwrap();
    // Even after the lease: the issue exists, so the report will be published.
    let err = withdraw(store, &id, &alice, until + days(1))
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::IssueExists { .. }), "{err:?}");
    let gh = FakeGitHub::new();
    let out = run(
        store,
        &gh,
        &config(false),
        "w2",
        until + days(1),
        Fault::None,
    )
    .await
    .unwrap();
    let [
        PublicationOutcome::Published {
            issue_url,
            created: false,
            issue_number: Some(9),
            ..
        },
    ] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    assert_eq!(issue_url, "https://github.com/kubeflow/pipelines/issues/9");
    assert_eq!(gh.lock().calls, 0, "recorded issue: GitHub not asked again");
    assert_eq!(
        store.load_domain_report(&id).await.unwrap().state,
        State::Published
    );
}

async fn refused_then_admin_retry(h: &Harness) {
    let store = &h.store;
    let gh = FakeGitHub::new();
    let config = config(false);
    let now = t0() + days(1);
    let until = t0() + days(10);
    let alice = login("alice");
    let id = accepted_report(store, "422@x").await;
    schedule(store, &id, until, &advisory("v1"), &alice, now, &policy(1))
        .await
        .unwrap();
    assert!(matches!(
        retry_job(store, &id, &alice, now).await,
        Err(PublishError::NotFailed(_))
    ));
    let out = run(store, &gh, &config, "w", until, Fault::Refused)
        .await
        .unwrap();
    let [PublicationOutcome::Failed { error, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert!(error.contains("422"), "{error}");
    let failed = store
        .list_publication_jobs(Some(JobState::Failed))
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].last_error.as_deref().unwrap().contains("422"));
    // Not retried automatically.
    assert_eq!(
        run(store, &gh, &config, "w", until + days(1), Fault::None).await,
        Some(vec![])
    );
    retry_job(store, &id, &alice, until + days(1))
        .await
        .unwrap();
    let out = run(store, &gh, &config, "w", until + days(1), Fault::None)
        .await
        .unwrap();
    assert!(
        matches!(out.as_slice(), [PublicationOutcome::Published { .. }]),
        "{out:?}"
    );
    assert_eq!(gh.lock().issues.len(), 1);
    let r = store.get_report(&id).await.unwrap();
    assert!(
        r.events
            .iter()
            .any(|e| e.kind == "publication-retry" && e.actor.to_string() == "alice")
    );

    // A WG without a repository fails visibly too.
    let other = accepted_report(store, "norepo@x").await;
    schedule(
        store,
        &other,
        until,
        &advisory("v1"),
        &alice,
        now,
        &policy(1),
    )
    .await
    .unwrap();
    let empty = embargo_publish::PublishConfig::new(embargo_publish::WgRepos::new());
    let out = run(store, &gh, &empty, "w", until, Fault::None)
        .await
        .unwrap();
    let [PublicationOutcome::Failed { error, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert!(error.contains("no repository"), "{error}");
}

async fn rate_limit_and_backoff(h: &Harness) {
    let store = &h.store;
    let gh = FakeGitHub::new();
    let mut config = config(false);
    config.max_attempts = 3;
    let now = t0() + days(1);
    let until = t0() + days(10);
    let id = accepted_report(store, "rl@x").await;
    schedule(
        store,
        &id,
        until,
        &advisory("v1"),
        &login("alice"),
        now,
        &policy(1),
    )
    .await
    .unwrap();
    let out = run(store, &gh, &config, "w", until, Fault::RateLimited(120))
        .await
        .unwrap();
    let retry_at = until + secs(120);
    assert!(
        matches!(out.as_slice(), [PublicationOutcome::Retrying { retry_at: r, .. }] if *r == retry_at),
        "{out:?}"
    );
    let job = store.get_publication_job(&id).await.unwrap().unwrap();
    assert_eq!((job.state, job.due_at), (JobState::Pending, retry_at));
    assert_eq!(
        run(store, &gh, &config, "w", retry_at - secs(1), Fault::None).await,
        Some(vec![])
    );

    // Transient: backoff within the configured bounds, then give up.
    let out = run(store, &gh, &config, "w", retry_at, Fault::Transient)
        .await
        .unwrap();
    let [PublicationOutcome::Retrying { retry_at: next, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    // Attempt 2: ceiling 4 s, jittered into [2 s, 4 s].
    assert!(
        *next >= retry_at + secs(2) && *next <= retry_at + secs(4),
        "{next}"
    );
    let out = run(store, &gh, &config, "w", *next, Fault::Transient)
        .await
        .unwrap();
    let [PublicationOutcome::Failed { error, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert!(error.starts_with("gave up after 3 attempts"), "{error}");
    assert_eq!(gh.lock().issues.len(), 0);
}

async fn lost_response_and_crash_publish_once(h: &Harness) {
    let store = &h.store;
    let gh = FakeGitHub::new();
    let config = config(false);
    let now = t0() + days(1);
    let until = t0() + days(10);
    let alice = login("alice");
    let a = accepted_report(store, "lost@x").await;
    let b = accepted_report(store, "crash@x").await;
    schedule(store, &a, until, &advisory("a"), &alice, now, &policy(1))
        .await
        .unwrap();
    let until_b = until + days(1);
    schedule(store, &b, until_b, &advisory("b"), &alice, now, &policy(1))
        .await
        .unwrap();

    // a: created, response lost; retried: found by its marker.
    let out = run(store, &gh, &config, "w1", until, Fault::LoseResponse)
        .await
        .unwrap();
    let [PublicationOutcome::Retrying { retry_at, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(gh.lock().issues.len(), 1);
    let out = run(store, &gh, &config, "w1", *retry_at, Fault::None)
        .await
        .unwrap();
    assert!(
        matches!(
            out.as_slice(),
            [PublicationOutcome::Published { created: false, .. }]
        ),
        "{out:?}"
    );

    // b: the worker dies right after creating; its lease holds the job
    // until it expires, then another worker finishes without a second issue.
    let t = until_b + secs(10);
    assert_eq!(
        run(store, &gh, &config, "w2", t, Fault::CrashAfterCreate).await,
        None
    );
    assert_eq!(gh.lock().issues_of(&b).len(), 1);
    assert_eq!(
        run(store, &gh, &config, "w3", t + secs(60), Fault::None).await,
        Some(vec![])
    );
    let after_lease = t + config.lease;
    let out = run(store, &gh, &config, "w3", after_lease, Fault::None)
        .await
        .unwrap();
    assert!(
        matches!(
            out.as_slice(),
            [PublicationOutcome::Published { created: false, .. }]
        ),
        "{out:?}"
    );
    {
        let st = gh.lock();
        assert_eq!(st.issues.len(), 2);
        assert_eq!(st.issues_of(&a).len(), 1);
        assert_eq!(st.issues_of(&b).len(), 1);
    }
    let published = store
        .list_reports(&ReportFilter {
            state: Some(State::Published),
            ..ReportFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(published.len(), 2);
}

async fn placeholder_is_filled_in(h: &Harness) {
    let store = &h.store;
    let gh = FakeGitHub::new();
    let config = config(true);
    let now = t0() + days(1);
    let until = t0() + days(10);
    let id = accepted_report(store, "ph@x").await;
    let worker = gh.worker(now, Fault::None);
    let out = open_placeholder(store, &worker, &config.wgs, &id, config.lease, now)
        .await
        .unwrap();
    let PlaceholderOutcome::Opened { number: 1, .. } = out else {
        panic!("{out:?}")
    };
    {
        let st = gh.lock();
        let issue = &st.issues[0];
        assert_eq!(issue.title, format!("[{id}] Security issue under embargo"));
        assert!(!issue.body.contains(SECRET_DETAILS));
        assert!(!issue.body.contains("Jane"));
        // No severity at all (neither the real one nor a stand-in), no
        // details, versions, credit or CVE sections.
        for absent in [
            "Severity:",
            "Low",
            "Medium",
            "High",
            "Critical",
            "CVE",
            "### Details",
            "### Affected versions",
            "### Fixed versions",
            "### Credit",
            "< 2.3.1",
        ] {
            assert!(!issue.body.contains(absent), "{absent:?} in {}", issue.body);
        }
        assert!(issue.body.contains("under embargo"));
        assert_eq!(
            issue.body.lines().last(),
            Some(format!("<!-- embargo:{id} -->").as_str())
        );
        assert!(issue.labels.iter().any(|l| l == SECURITY_LABEL));
    }
    // Idempotent.
    let out = open_placeholder(store, &worker, &config.wgs, &id, config.lease, now)
        .await
        .unwrap();
    assert!(
        matches!(out, PlaceholderOutcome::Existing { number: 1, .. }),
        "{out:?}"
    );
    // A WG without placeholders: nothing.
    let other = accepted_report(store, "noph@x").await;
    let out = open_placeholder(store, &worker, &wgs(false), &other, config.lease, now)
        .await
        .unwrap();
    assert!(matches!(out, PlaceholderOutcome::NotWanted { .. }));
    assert_eq!(gh.lock().issues.len(), 1);

    schedule(
        store,
        &id,
        until,
        &advisory("v1"),
        &login("alice"),
        now,
        &policy(1),
    )
    .await
    .unwrap();
    let out = run(store, &gh, &config, "w", until, Fault::None)
        .await
        .unwrap();
    let [
        PublicationOutcome::Published {
            issue_number: Some(1),
            placeholder: true,
            created: false,
            ..
        },
    ] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    let st = gh.lock();
    assert_eq!(st.issues.len(), 1, "filled in, not a second issue");
    assert!(st.issues[0].body.contains(SECRET_DETAILS));
    assert!(st.issues[0].labels.iter().any(|l| l == "area/pipelines"));
    assert!(
        st.writes
            .iter()
            .filter(|w| !w.created)
            .all(|w| w.worker_now >= until)
    );
}

async fn notices_to_reporter_and_team(h: &Harness) {
    let store = &h.store;
    let gh = FakeGitHub::new();
    let config = config(false);
    let now = t0() + days(1);
    let until = t0() + days(10);
    let id = accepted_report(store, "mail@x").await;
    schedule(
        store,
        &id,
        until,
        &advisory("v1"),
        &login("alice"),
        now,
        &policy(1),
    )
    .await
    .unwrap();
    let team_key = generate_team_key("Project Security <security@project.example>").unwrap();
    let member_key = generate_team_key("Lead <lead@example.org>").unwrap();
    let notices = MailNotices {
        team: TeamIdentity::new("security@project.example", None, Keyring::from(team_key)).unwrap(),
        members: vec![
            NoticeRecipient {
                address: "lead@example.org".into(),
                cert: Some(member_key.public_cert()),
            },
            NoticeRecipient {
                address: "other@example.org".into(),
                cert: None,
            },
        ],
    };
    let worker = gh.worker(until, Fault::None);
    let out = publish_due(store, &worker, &config, &notices, "w", until).await;
    let [PublicationOutcome::Published { issue_url, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    let mut mails = store
        .claim_outbox("test", jiff::SignedDuration::from_mins(1), until, 10)
        .await
        .unwrap();
    assert_eq!(mails.len(), 3);
    mails.sort_by_key(|m| m.recipients.clone());
    let text = |i: usize| String::from_utf8_lossy(&mails[i].body).into_owned();
    assert_eq!(mails[0].recipients, ["lead@example.org"]);
    assert!(
        text(0).contains("-----BEGIN PGP MESSAGE-----"),
        "encrypted to the lead"
    );
    assert!(!text(0).contains(issue_url.as_str()));
    for i in [1, 2] {
        assert!(text(i).contains(issue_url.as_str()));
        assert!(text(i).contains(&id.to_string()));
        assert!(!text(i).contains(SECRET_DETAILS));
        assert!(!text(i).contains(CANARY));
    }
    assert_eq!(mails[1].recipients, ["other@example.org"]);
    assert_eq!(mails[2].recipients, [REPORTER]);
    assert!(mails.iter().all(|m| m.report_id.as_ref() == Some(&id)));
}

/// The reporter's "it is public" notice: encrypted to the key the store
/// learned from the reporter (and signed by the team key), or, without a
/// key, a cleartext-signed text.
async fn reporter_notice_encrypted_to_a_known_key(h: &Harness) {
    use embargo_pgp::{DEFAULT_MAX_PLAINTEXT, SignatureStatus, cert_to_bytes, verify_inline};
    let store = &h.store;
    let gh = FakeGitHub::new();
    let config = config(false);
    let now = t0() + days(1);
    let until = t0() + days(10);
    let keyed = accepted_report(store, "keyed@x").await;
    let plain = accepted_report(store, "plain@x").await;
    let reporter_key = generate_team_key(&format!("Reporter <{REPORTER}>")).unwrap();
    store
        .add_reporter_key(
            &keyed,
            &cert_to_bytes(&reporter_key.public_cert()).unwrap(),
            now,
        )
        .await
        .unwrap();
    // A key of someone else, learned for the other report: not the reporter's.
    let stranger = generate_team_key("Stranger <stranger@example.net>").unwrap();
    store
        .add_reporter_key(
            &plain,
            &cert_to_bytes(&stranger.public_cert()).unwrap(),
            now,
        )
        .await
        .unwrap();
    for id in [&keyed, &plain] {
        schedule(
            store,
            id,
            until,
            &advisory("v1"),
            &login("alice"),
            now,
            &policy(1),
        )
        .await
        .unwrap();
    }
    let team_key = generate_team_key("Project Security <security@project.example>").unwrap();
    let team_cert = team_key.public_cert();
    let notices = MailNotices {
        team: TeamIdentity::new("security@project.example", None, Keyring::from(team_key)).unwrap(),
        members: Vec::new(),
    };
    let worker = gh.worker(until, Fault::None);
    let out = publish_due(store, &worker, &config, &notices, "w", until).await;
    assert_eq!(out.len(), 2, "{out:?}");
    let url_of = |id: &embargo_domain::TrackingId| {
        out.iter()
            .find_map(|o| match o {
                PublicationOutcome::Published {
                    id: i, issue_url, ..
                } if i == id => Some(issue_url.clone()),
                _ => None,
            })
            .unwrap()
    };
    let mails = store
        .claim_outbox("test", jiff::SignedDuration::from_mins(1), until, 10)
        .await
        .unwrap();
    assert_eq!(mails.len(), 2);
    let mail_of = |id: &embargo_domain::TrackingId| {
        let m = mails
            .iter()
            .find(|m| m.report_id.as_ref() == Some(id))
            .unwrap();
        assert_eq!(m.recipients, [REPORTER]);
        String::from_utf8(m.body.to_vec()).unwrap()
    };

    // Known key: PGP/MIME; only the reporter's key opens it.
    let mail = mail_of(&keyed);
    let url = url_of(&keyed);
    assert!(mail.contains("multipart/encrypted"), "{mail}");
    assert!(
        !mail.contains(&url),
        "the URL is inside the encrypted part only"
    );
    let start = mail.find("-----BEGIN PGP MESSAGE-----").unwrap();
    let end_marker = "-----END PGP MESSAGE-----";
    let end = mail[start..].find(end_marker).unwrap() + start + end_marker.len();
    let armored = mail[start..end].replace("\r\n", "\n");
    let opened = Keyring::from(reporter_key)
        .decrypt(
            armored.as_bytes(),
            std::slice::from_ref(&team_cert),
            DEFAULT_MAX_PLAINTEXT,
        )
        .unwrap();
    assert_eq!(opened.signatures.len(), 1);
    assert_eq!(
        opened.signatures[0].status,
        SignatureStatus::Good,
        "signed by the team"
    );
    let text = String::from_utf8(opened.plaintext.to_vec()).unwrap();
    assert!(text.contains(&url), "{text}");
    assert!(text.contains(&keyed.to_string()), "{text}");
    assert!(
        Keyring::from(stranger)
            .decrypt(
                armored.as_bytes(),
                std::slice::from_ref(&team_cert),
                DEFAULT_MAX_PLAINTEXT
            )
            .is_err()
    );

    // No key of the reporter: signed in the clear by the team key.
    let mail = mail_of(&plain);
    let url = url_of(&plain);
    assert!(!mail.contains("BEGIN PGP MESSAGE"), "{mail}");
    let body = mail_parser::MessageParser::default()
        .parse(mail.as_bytes())
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned();
    assert!(
        body.starts_with("-----BEGIN PGP SIGNED MESSAGE-----"),
        "{body}"
    );
    let verified = verify_inline(body.as_bytes(), &[team_cert], DEFAULT_MAX_PLAINTEXT).unwrap();
    assert_eq!(verified.signatures.len(), 1);
    assert_eq!(verified.signatures[0].status, SignatureStatus::Good);
    let content = String::from_utf8(verified.content.to_vec()).unwrap();
    assert!(content.contains(&url), "{content}");
    assert!(content.contains(&plain.to_string()), "{content}");
    assert!(!content.contains(SECRET_DETAILS) && !content.contains(CANARY));
}

async fn exports_of_a_published_advisory(h: &Harness) {
    let store = &h.store;
    let gh = FakeGitHub::new();
    let now = t0() + days(1);
    let until = t0() + days(10);
    let id = accepted_report(store, "exp@x").await;
    schedule(
        store,
        &id,
        until,
        &advisory("v1"),
        &login("alice"),
        now,
        &policy(1),
    )
    .await
    .unwrap();
    assert!(matches!(
        published_advisory(store, &id).await,
        Err(PublishError::NotPublished {
            state: State::Scheduled,
            ..
        })
    ));
    run(store, &gh, &config(false), "w", until, Fault::None)
        .await
        .unwrap();
    let adv = published_advisory(store, &id).await.unwrap();
    assert_eq!(adv.published_at, until);
    let o = osv(&adv, None);
    let o: serde_json::Value = serde_json::from_str(&o.to_string()).unwrap();
    assert_eq!(o["id"], "CVE-2026-10001");
    assert_eq!(
        o["references"][0]["url"],
        "https://github.com/kubeflow/pipelines/issues/1"
    );
    assert_eq!(o["database_specific"]["tracking_id"], id.to_string());
    assert!(o["details"].as_str().unwrap().contains(SECRET_DETAILS));
    let c = csaf(
        &adv,
        &CsafPublisher {
            name: "Kubeflow".into(),
            namespace: "https://www.kubeflow.org".into(),
        },
    );
    let c: serde_json::Value = serde_json::from_str(&c.to_string()).unwrap();
    assert_eq!(c["document"]["category"], "csaf_security_advisory");
    assert_eq!(c["document"]["tracking"]["id"], id.to_string());
    assert_eq!(c["vulnerabilities"][0]["cve"], "CVE-2026-10001");
    assert_eq!(
        c["product_tree"]["full_product_names"][0]["name"],
        "kubeflow/pipelines < 2.3.1"
    );
}

/// Targets from the WG registry in effect: a WG the registry knows without
/// a repository fails with the reason, not retried on its own; once the
/// registry lists a repository (as `embargo wg import` would), an admin's
/// retry publishes there, with the registry's labels.
async fn registry_targets_and_a_wg_without_repository(h: &Harness) {
    use std::collections::BTreeSet;

    use embargo_wg::{Registry, Wg};

    let store = &h.store;
    let gh = FakeGitHub::new();
    let now = t0() + days(1);
    let until = t0() + days(10);
    let alice = login("alice");
    let id = accepted_report(store, "registry@x").await;
    schedule(store, &id, until, &advisory("v1"), &alice, now, &policy(1))
        .await
        .unwrap();

    let bare = Registry::from_wgs([Wg::new(wg())]).unwrap();
    let config = embargo_publish::PublishConfig::new(embargo_publish::WgRepos::from_registry(
        &bare,
        &BTreeSet::new(),
    ));
    let out = run(store, &gh, &config, "w", until, Fault::None)
        .await
        .unwrap();
    let [PublicationOutcome::Failed { error, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert!(error.contains("no repository for WG pipelines"), "{error}");
    assert!(error.contains("then retry"), "{error}");
    let failed = store
        .list_publication_jobs(Some(JobState::Failed))
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].last_error.as_deref(), Some(error.as_str()));
    assert_eq!(gh.lock().calls, 0);
    assert_eq!(
        run(store, &gh, &config, "w", until + days(1), Fault::None).await,
        Some(vec![])
    );

    let mut imported = Wg::new(wg());
    imported.repos = vec!["kubeflow/pipelines".into(), "kubeflow/kfp-tekton".into()];
    imported.labels = vec!["area/pipelines".into()];
    let registry = Registry::from_wgs([imported]).unwrap();
    let config = embargo_publish::PublishConfig::new(embargo_publish::WgRepos::from_registry(
        &registry,
        &BTreeSet::new(),
    ));
    retry_job(store, &id, &alice, until + days(1))
        .await
        .unwrap();
    let out = run(store, &gh, &config, "w", until + days(1), Fault::None)
        .await
        .unwrap();
    let [PublicationOutcome::Published { repo, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(repo, "kubeflow/pipelines");
    let st = gh.lock();
    let issues = st.issues_of(&id);
    assert_eq!(issues.len(), 1);
    assert!(issues[0].labels.iter().any(|l| l == "area/pipelines"));
    assert!(issues[0].labels.iter().any(|l| l == SECURITY_LABEL));
}
