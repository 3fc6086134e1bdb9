//! The bi-weekly review agenda against a GitHub stand-in: reports by WG,
//! overdue first; public issues with pagination, a 429 waited out, a 429
//! too long to wait and a missing repository skipped with reasons; the
//! next agenda starting at the review marked done.

use embargo_domain::{Severity, State};
use embargo_github::{Auth, Client, GitHubConfig, IssueState, Secret};
use embargo_review::{
    AgendaOptions, IssueSource, SinceSource, SlaStatus, agenda, agenda_markdown, agenda_with,
    load_registry, mark_review_done,
};
use embargo_wg::{Registry, WgConfig};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::common::{Harness, login, report_in, t};
use crate::standin::{self, TOKEN, fault};

on_both_backends!(
    agenda_lists_reports_and_public_issues,
    agenda_without_github,
);

fn now() -> Timestamp {
    t("2026-03-04T15:00:00Z")
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

fn config() -> Vec<WgConfig> {
    vec![
        WgConfig {
            name: "pipelines".into(),
            repo: Some("kubeflow/pipelines".into()),
            ..WgConfig::default()
        },
        WgConfig {
            name: "training".into(),
            repos: Some(vec!["kubeflow/katib".into(), "kubeflow/trainer".into()]),
            ..WgConfig::default()
        },
        WgConfig {
            name: "data".into(),
            repo: Some("kubeflow/hub".into()),
            ..WgConfig::default()
        },
    ]
}

fn client(server: &standin::Server) -> Client {
    Client::new(&GitHubConfig {
        api_url: server.url(),
        auth: Auth::Token(Secret::new(TOKEN)),
    })
    .unwrap()
}

struct Ids {
    overdue: String,
    pipelines_ok: String,
    scheduled: String,
    unrouted: String,
    closed: String,
}

async fn reports(store: &embargo_store::Store) -> Ids {
    let n = now();
    let overdue = report_in(
        store,
        "Critical | <script>alert(1)</script> RCE",
        State::Triaged,
        Some("pipelines"),
        Some(Severity::Critical),
        n - days(6),
    )
    .await;
    let pipelines_ok = report_in(
        store,
        "Low-risk info leak",
        State::Accepted,
        Some("pipelines"),
        Some(Severity::Low),
        n - days(10),
    )
    .await;
    let scheduled = report_in(
        store,
        "Katib escape",
        State::Scheduled,
        Some("training"),
        Some(Severity::High),
        n - days(30),
    )
    .await;
    let unrouted = report_in(
        store,
        "Something in the dashboard",
        State::New,
        None,
        None,
        n - SignedDuration::from_hours(37),
    )
    .await;
    let closed = report_in(
        store,
        "Rejected one",
        State::Rejected,
        Some("pipelines"),
        Some(Severity::Low),
        n - days(50),
    )
    .await;
    Ids {
        overdue: overdue.to_string(),
        pipelines_ok: pipelines_ok.to_string(),
        scheduled: scheduled.to_string(),
        unrouted: unrouted.to_string(),
        closed: closed.to_string(),
    }
}

async fn registry(store: &embargo_store::Store) -> Registry {
    load_registry(store, &config()).await.unwrap()
}

async fn agenda_lists_reports_and_public_issues(h: &Harness) {
    let store = &h.store;
    let ids = reports(store).await;
    let registry = registry(store).await;
    let server = standin::start(&["kubeflow/pipelines", "kubeflow/katib", "kubeflow/hub"]).await;
    {
        let mut st = server.lock();
        st.max_per_page = 2;
        for i in 0..5 {
            let mut issue = standin::issue(
                "kubeflow/pipelines",
                &format!("pipelines sec {i}"),
                &["security", "area/backend"],
                now() - days(10) + SignedDuration::from_hours(i),
            );
            if i == 2 {
                issue.state = "closed".into();
            }
            st.insert(issue);
        }
        st.insert(standin::issue(
            "kubeflow/pipelines",
            "too old",
            &["security"],
            now() - days(20),
        ));
        st.insert(standin::issue(
            "kubeflow/pipelines",
            "not security",
            &["bug"],
            now() - days(1),
        ));
        let mut pr = standin::issue(
            "kubeflow/pipelines",
            "a pull request",
            &["security"],
            now() - days(1),
        );
        pr.pull_request = true;
        st.insert(pr);
        st.insert(standin::issue(
            "kubeflow/katib",
            "katib sec",
            &["security"],
            now() - days(2),
        ));
        st.insert(standin::issue(
            "kubeflow/hub",
            "hub sec",
            &["security"],
            now() - days(2),
        ));
        // katib: one 429 worth waiting for; hub: one asking for too long.
        st.faults.push_back(fault(
            "/repos/kubeflow/katib/issues",
            429,
            &[("retry-after", "1")],
            json!({ "message": "You have exceeded a secondary rate limit." }),
        ));
        st.faults.push_back(fault(
            "/repos/kubeflow/hub/issues",
            429,
            &[("retry-after", "600")],
            json!({ "message": "You have exceeded a secondary rate limit." }),
        ));
    }
    let gh = client(&server);

    // The 429 worth waiting for is waited out: katib is asked twice and
    // its issue listed (asserted below on the result, not on the clock).
    let a = agenda(store, &registry, Some(&gh), None, now())
        .await
        .unwrap();
    assert_eq!(a.since_source, SinceSource::DefaultWindow);
    assert_eq!(a.since, now() - days(14));
    assert!(a.github_checked);

    // Reports: by WG, overdue first, unrouted last, closed left out.
    let order: Vec<String> = a.reports.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(
        order,
        [
            ids.overdue.clone(),
            ids.pipelines_ok.clone(),
            ids.scheduled.clone(),
            ids.unrouted.clone()
        ]
    );
    assert!(!order.contains(&ids.closed));
    let first = &a.reports[0];
    assert_eq!(first.sla.status, SlaStatus::Overdue);
    assert_eq!(first.sla.overdue_days, Some(4));
    assert_eq!(first.age_days, 6);
    let last_action = first.last_action.as_ref().unwrap();
    assert_eq!(
        (last_action.kind.as_str(), last_action.actor.as_str()),
        ("triaged", "triager")
    );
    assert_eq!(a.reports[1].sla.status, SlaStatus::Ok);
    assert_eq!(a.reports[2].sla.status, SlaStatus::Scheduled);
    assert!(a.reports[2].embargo_until.is_some());
    // Unrated counts as critical: filed a day ago, due within a day.
    assert_eq!(a.reports[3].sla.status, SlaStatus::DueSoon);
    assert_eq!(a.reports[3].last_action.as_ref().unwrap().kind, "filed");
    let overdue: Vec<String> = a.overdue.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(overdue, std::slice::from_ref(&ids.overdue));

    // Public issues: all pages of pipelines, katib after the wait.
    let titles: Vec<(&str, &str)> = a
        .public_issues
        .iter()
        .map(|i| (i.repo.as_str(), i.title.as_str()))
        .collect();
    assert_eq!(
        titles,
        [
            ("kubeflow/pipelines", "pipelines sec 4"),
            ("kubeflow/pipelines", "pipelines sec 3"),
            ("kubeflow/pipelines", "pipelines sec 2"),
            ("kubeflow/pipelines", "pipelines sec 1"),
            ("kubeflow/pipelines", "pipelines sec 0"),
            ("kubeflow/katib", "katib sec"),
        ]
    );
    assert_eq!(a.public_issues[2].state, IssueState::Closed);
    assert_eq!(a.public_issues[5].wg.as_str(), "training");
    assert_eq!(
        a.public_issues[0].html_url,
        "https://github.com/kubeflow/pipelines/issues/5"
    );
    let skipped: Vec<(&str, &str)> = a
        .skipped_repos
        .iter()
        .map(|s| (s.repo.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(skipped[0].0, "kubeflow/hub");
    assert!(
        skipped[0].1.contains("rate limited") && skipped[0].1.contains("600"),
        "{}",
        skipped[0].1
    );
    assert_eq!(skipped[1].0, "kubeflow/trainer");
    assert!(skipped[1].1.contains("404"), "{}", skipped[1].1);
    {
        let st = server.lock();
        let pipeline_pages = st
            .seen
            .iter()
            .filter(|s| {
                s.path.contains("/repos/kubeflow/pipelines/")
                    || s.path.contains("/repositories/1000/")
            })
            .count();
        assert_eq!(pipeline_pages, 3, "{:?}", st.seen);
        let katib = st
            .seen
            .iter()
            .filter(|s| s.path.starts_with("/repos/kubeflow/katib/"))
            .count();
        assert_eq!(katib, 2, "{:?}", st.seen);
    }

    // JSON: the contract's keys.
    let v = serde_json::to_value(&a).unwrap();
    for key in ["since", "reports", "public_issues", "overdue"] {
        assert!(v.get(key).is_some(), "{key}");
    }
    assert_eq!(v["since"], json!("2026-02-18T15:00:00Z"));
    assert_eq!(v["reports"][0]["sla"]["status"], json!("overdue"));
    assert_eq!(v["reports"][0]["wg"], json!("pipelines"));
    assert_eq!(v["reports"][3]["wg"], json!(null));
    assert_eq!(v["public_issues"][0]["state"], json!("open"));

    // Markdown: overdue section first, untrusted text escaped.
    let md = agenda_markdown(&a);
    let overdue_at = md.find("## Overdue (1)").unwrap();
    let by_wg = md.find("## Open reports by WG (4)").unwrap();
    assert!(overdue_at < by_wg);
    assert!(md.contains("### WG pipelines (2)") && md.contains("### Not routed yet (1)"));
    assert!(
        md.contains("Critical \\| &lt;script&gt;alert(1)&lt;/script&gt; RCE"),
        "{md}"
    );
    assert!(!md.contains("<script>"));
    assert!(md.contains("kubeflow/hub: rate limited"));

    // Review done: the next agenda starts there.
    let run = mark_review_done(store, &login("alice"), now())
        .await
        .unwrap();
    assert_eq!(run.since, None);
    server.lock().insert(standin::issue(
        "kubeflow/pipelines",
        "after the review",
        &["security"],
        now() + SignedDuration::from_hours(2),
    ));
    let later = now() + days(1);
    let quick = AgendaOptions {
        max_rate_limit_wait: std::time::Duration::from_secs(0),
        ..AgendaOptions::default()
    };
    let b = agenda_with(store, &registry, Some(&gh), None, later, &quick)
        .await
        .unwrap();
    assert_eq!(b.since, now());
    assert_eq!(b.since_source, SinceSource::LastReview);
    let last = b.last_review.as_ref().unwrap();
    assert_eq!((last.done_by.as_str(), last.done_at), ("alice", now()));
    let titles: Vec<&str> = b.public_issues.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["after the review"]);
    assert!(b.reports.iter().all(|r| !r.new_since_review));
    // An explicit --since wins.
    let c = agenda_with(
        store,
        &registry,
        Some(&gh),
        Some(now() - days(3)),
        later,
        &quick,
    )
    .await
    .unwrap();
    assert_eq!(c.since_source, SinceSource::Argument);
    assert!(c.public_issues.iter().any(|i| i.title == "katib sec"));
    assert!(
        c.reports
            .iter()
            .any(|r| r.id.to_string() == ids.unrouted && r.new_since_review)
    );
    // Through a trait object (as the admin view holds the client), for a
    // WG lead: the own WG's reports and public issues only.
    let source: std::sync::Arc<dyn IssueSource> = std::sync::Arc::new(gh.clone());
    let pipelines_only = Registry::from_wgs(
        registry
            .get(&embargo_domain::WgName::parse("pipelines").unwrap())
            .cloned(),
    )
    .unwrap();
    let d = agenda_with(
        store,
        &pipelines_only,
        Some(source.as_ref()),
        Some(now() - days(3)),
        later,
        &quick,
    )
    .await
    .unwrap()
    .restricted_to(&embargo_domain::WgName::parse("pipelines").unwrap());
    assert_eq!(d.reports.len(), 2);
    assert!(
        d.reports
            .iter()
            .all(|r| r.wg.as_ref().unwrap().as_str() == "pipelines")
    );
    assert_eq!(d.overdue.len(), 1);
    assert!(!d.public_issues.is_empty());
    assert!(
        d.public_issues
            .iter()
            .all(|i| i.repo == "kubeflow/pipelines")
    );
    // Who and when is recorded, in the audit trail too.
    let second = mark_review_done(store, &login("bob"), later).await.unwrap();
    assert_eq!(second.since, Some(now()));
    assert_eq!(store.list_review_runs(10).await.unwrap().len(), 2);
    let events = store.list_events(now(), 100).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "review-done").count(), 2);
}

async fn agenda_without_github(h: &Harness) {
    let store = &h.store;
    reports(store).await;
    let registry = registry(store).await;
    let a = agenda(
        store,
        &registry,
        None::<&Client>,
        Some(now() - days(7)),
        now(),
    )
    .await
    .unwrap();
    assert!(!a.github_checked);
    assert!(a.public_issues.is_empty() && a.skipped_repos.is_empty());
    assert_eq!(a.reports.len(), 4);
    assert!(agenda_markdown(&a).contains("GitHub was not asked"));
}
