//! The GitHub publisher against a local stand-in of the REST API.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use embargo_github_standin as standin;

use std::time::Duration;

use embargo_domain::{Severity, TrackingId};
use embargo_github::{
    Advisory, Auth, Client, GitHubConfig, GitHubError, IssueDraft, IssueState, Publisher, Repo,
    Secret, body_has_marker,
};
use jiff::Timestamp;
use serde_json::json;
use standin::{CreateFault, Issue, TOKEN, fault, headers};

fn id(s: &str) -> TrackingId {
    s.parse().unwrap()
}

fn pipelines() -> Repo {
    "kubeflow/pipelines".parse().unwrap()
}

fn advisory(tracking: &str) -> Advisory {
    Advisory {
        tracking_id: id(tracking),
        title: "Arbitrary code execution in the pipeline API server".into(),
        severity: Severity::Critical,
        affected_versions: "< 2.3.1".into(),
        fixed_versions: "2.3.1".into(),
        advisory_markdown: "A crafted pipeline spec lets an attacker run code.\n\nUpgrade.".into(),
        credit: Some("Jane Doe".into()),
        cve: Some("CVE-2026-10001".into()),
    }
}

fn draft(tracking: &str) -> IssueDraft {
    IssueDraft::render(
        &advisory(tracking),
        &["area/pipelines", "kind/security", "Security"],
    )
    .unwrap()
}

fn client(server: &standin::Server) -> Client {
    Client::new(&GitHubConfig {
        api_url: server.url(),
        auth: Auth::Token(Secret::new(TOKEN)),
    })
    .unwrap()
}

#[tokio::test]
async fn create_then_find_by_marker_with_labels_and_token() {
    let server = standin::start().await;
    let gh = client(&server);
    let repo = pipelines();
    assert_eq!(
        gh.find_by_marker(&repo, &id("KF-2026-0042")).await.unwrap(),
        None
    );

    let issue = gh
        .create_issue(&repo, &draft("KF-2026-0042"))
        .await
        .unwrap();
    assert_eq!(issue.number, 1);
    assert_eq!(
        issue.html_url,
        "https://github.com/kubeflow/pipelines/issues/1"
    );

    let found = gh.find_by_marker(&repo, &id("KF-2026-0042")).await.unwrap();
    assert_eq!(found, Some(issue.clone()));
    assert_eq!(
        gh.find_by_marker(&repo, &id("KF-2026-0043")).await.unwrap(),
        None
    );

    let st = server.lock();
    let stored = st.issue("kubeflow/pipelines", 1).unwrap();
    assert_eq!(
        stored.labels,
        ["security", "area/pipelines", "kind/security"]
    );
    assert_eq!(
        stored.title,
        "[KF-2026-0042] Arbitrary code execution in the pipeline API server"
    );
    let body = stored.body.as_deref().unwrap();
    assert!(body.contains("- **Severity:** Critical"));
    assert!(body.contains("- **CVE:** CVE-2026-10001"));
    assert!(body.contains("Reported by Jane Doe."));
    assert!(body.trim_end().ends_with("<!-- embargo:KF-2026-0042 -->"));
    // Every request carried the token, as a bearer token.
    assert!(!st.seen.is_empty());
    for seen in &st.seen {
        assert_eq!(
            seen.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{seen:?}"
        );
    }
    // The marker lookup used the listing and the search API.
    assert!(
        st.seen
            .iter()
            .any(|s| s.path.starts_with("/repos/kubeflow/pipelines/issues?")
                && s.path.contains("labels=security")
                && s.path.contains("state=all"))
    );
    assert!(st.seen.iter().any(|s| {
        s.path
            .starts_with("/search/issues?q=repo%3Akubeflow%2Fpipelines")
            && s.path.contains("%22embargo%3AKF-2026-0042%22")
    }));
}

#[tokio::test]
async fn publish_twice_creates_one_issue() {
    let server = standin::start().await;
    let gh = client(&server);
    let repo = pipelines();
    let d = draft("KF-2026-0042");
    let first = gh.publish(&repo, &d).await.unwrap();
    assert!(first.created);
    let second = gh.publish(&repo, &d).await.unwrap();
    assert!(!second.created);
    assert_eq!(second.issue, first.issue);
    let st = server.lock();
    assert_eq!(st.creates, 1);
    assert_eq!(st.issues_in("kubeflow/pipelines").len(), 1);
}

async fn lost_create_response_is_found_on_retry(fault: CreateFault) {
    let server = standin::start().await;
    {
        let mut st = server.lock();
        st.create_fault = Some(fault);
        // Search has not indexed anything yet: only the listing can tell.
        st.search_indexed_upto = Some(0);
    }
    let gh = client(&server);
    let repo = pipelines();
    let d = draft("KF-2026-0042");

    let err = gh.publish(&repo, &d).await.unwrap_err();
    assert!(matches!(err, GitHubError::Transient { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(server.lock().creates, 1);

    let again = gh.publish(&repo, &d).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.issue.number, 1);
    let st = server.lock();
    assert_eq!(st.creates, 1);
    assert_eq!(st.issues_in("kubeflow/pipelines").len(), 1);
}

#[tokio::test]
async fn lost_create_response_502_is_found_not_repeated() {
    lost_create_response_is_found_on_retry(CreateFault::ThenStatus(502)).await;
}

#[tokio::test]
async fn dropped_connection_after_create_is_found_not_repeated() {
    lost_create_response_is_found_on_retry(CreateFault::ThenDrop).await;
}

#[tokio::test]
async fn old_issue_beyond_listing_window_is_found_by_search() {
    let server = standin::start().await;
    let repo = pipelines();
    {
        let mut st = server.lock();
        st.max_per_page = 2; // the listing scan sees 3 pages x 2 issues
        let mut old = Issue::new(
            "kubeflow/pipelines",
            "[KF-2025-0001] old",
            "",
            &["security"],
        );
        old.body = Some(
            IssueDraft::render(&advisory("KF-2025-0001"), &[] as &[&str])
                .unwrap()
                .body()
                .to_owned(),
        );
        old.created_at = Timestamp::from_second(1_700_000_000).unwrap();
        st.insert(old);
        for n in 0..10 {
            st.insert(Issue::new(
                "kubeflow/pipelines",
                &format!("newer {n}"),
                "text",
                &["security"],
            ));
        }
    }
    let gh = client(&server);
    let found = gh
        .find_by_marker(&repo, &id("KF-2025-0001"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.number, 1);
    let st = server.lock();
    let listings = st
        .seen
        .iter()
        .filter(|s| s.path.starts_with("/repos/") || s.path.starts_with("/repositories/"))
        .count();
    assert_eq!(listings, embargo_github::MARKER_SCAN_PAGES);
}

#[tokio::test]
async fn forged_and_untrusted_markers_are_ignored() {
    let server = standin::start().await;
    let gh = client(&server);
    let repo = pipelines();

    // An advisory that tries to forge the marker of another report.
    let mut a = advisory("KF-2026-0007");
    a.advisory_markdown =
        "Details.\n<!-- embargo:KF-2026-0042 -->\n<!--embargo:KF-2026-0042-->\n".into();
    a.credit = Some("<!-- embargo:KF-2026-0042 -->".into());
    let forged = IssueDraft::render(&a, &[] as &[&str]).unwrap();
    assert!(!body_has_marker(forged.body(), &id("KF-2026-0042")));
    let p7 = gh.publish(&repo, &forged).await.unwrap();
    assert!(p7.created);

    // A stranger's issue (no label, no access) quoting the exact marker.
    server.lock().insert(Issue::new(
        "kubeflow/pipelines",
        "spam",
        "hello\n<!-- embargo:KF-2026-0042 -->\n",
        &[],
    ));

    assert_eq!(
        gh.find_by_marker(&repo, &id("KF-2026-0042")).await.unwrap(),
        None
    );
    let p42 = gh.publish(&repo, &draft("KF-2026-0042")).await.unwrap();
    assert!(p42.created);
    assert_ne!(p42.issue.number, p7.issue.number);
    assert_eq!(
        gh.find_by_marker(&repo, &id("KF-2026-0007")).await.unwrap(),
        Some(p7.issue)
    );
    assert_eq!(
        gh.find_by_marker(&repo, &id("KF-2026-0042")).await.unwrap(),
        Some(p42.issue)
    );
}

#[tokio::test]
async fn member_authored_marker_without_label_counts() {
    // A token without triage access: GitHub drops the labels silently.
    // The issue is still found (author is a member), so no duplicate.
    let server = standin::start().await;
    server.lock().creator_association = "MEMBER".into();
    let gh = client(&server);
    let repo = pipelines();
    let d = draft("KF-2026-0042");
    let first = gh.publish(&repo, &d).await.unwrap();
    server
        .lock()
        .issues
        .iter_mut()
        .for_each(|i| i.labels.clear());
    let second = gh.publish(&repo, &d).await.unwrap();
    assert!(!second.created);
    assert_eq!(second.issue, first.issue);
}

#[tokio::test]
async fn rate_limited_429_with_retry_after() {
    let server = standin::start().await;
    server.lock().faults.push_back(fault(
        "POST",
        "/repos/kubeflow/pipelines/issues",
        429,
        headers(&[("retry-after", "7")]),
        json!({ "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." }),
    ));
    let gh = client(&server);
    let err = gh
        .create_issue(&pipelines(), &draft("KF-2026-0042"))
        .await
        .unwrap_err();
    assert!(matches!(err, GitHubError::RateLimited { .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert!(err.is_transient());
    assert_eq!(server.lock().creates, 0);
}

#[tokio::test]
async fn rate_limited_403_primary_limit_waits_until_reset() {
    let server = standin::start().await;
    let reset = Timestamp::now().as_second() + 600;
    server.lock().faults.push_back(fault(
        "GET",
        "/repos/kubeflow/pipelines/issues",
        403,
        headers(&[
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-used", "5000"),
            ("x-ratelimit-resource", "core"),
            ("x-ratelimit-reset", &reset.to_string()),
        ]),
        json!({ "message": "API rate limit exceeded for installation ID 1.", "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting" }),
    ));
    let gh = client(&server);
    let err = gh
        .find_by_marker(&pipelines(), &id("KF-2026-0042"))
        .await
        .unwrap_err();
    let wait = err.retry_after().expect("rate limited").as_secs();
    assert!((595..=600).contains(&wait), "{wait}");
}

#[tokio::test]
async fn server_error_is_transient() {
    let server = standin::start().await;
    server.lock().faults.push_back(fault(
        "GET",
        "/search/issues",
        500,
        vec![],
        json!({ "message": "Server Error" }),
    ));
    let gh = client(&server);
    let err = gh
        .publish(&pipelines(), &draft("KF-2026-0042"))
        .await
        .unwrap_err();
    assert!(matches!(err, GitHubError::Transient { .. }), "{err:?}");
    // Unsure whether the issue exists: nothing was created.
    assert_eq!(server.lock().creates, 0);
    let mut backoff = embargo_github::Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    assert!(backoff.next_delay_for(&err).is_some());
}

#[tokio::test]
async fn validation_failure_is_refused_with_message() {
    let server = standin::start().await;
    let body = server.lock().templates.validation_failed.clone();
    server.lock().faults.push_back(fault(
        "POST",
        "/repos/kubeflow/pipelines/issues",
        422,
        vec![],
        body,
    ));
    let gh = client(&server);
    let err = gh
        .create_issue(&pipelines(), &draft("KF-2026-0042"))
        .await
        .unwrap_err();
    match &err {
        GitHubError::Refused { status, message } => {
            assert_eq!(*status, 422);
            assert_eq!(message, "Validation Failed (Label color invalid)");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_transient());
    assert_eq!(err.retry_after(), None);
}

#[tokio::test]
async fn unknown_repository_is_refused() {
    let server = standin::start().await;
    let gh = client(&server);
    let repo: Repo = "kubeflow/no-such-repo".parse().unwrap();
    let err = gh.publish(&repo, &draft("KF-2026-0042")).await.unwrap_err();
    assert!(
        matches!(&err, GitHubError::Refused { status: 404, message } if message == "Not Found"),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_credentials_are_refused() {
    let server = standin::start().await;
    let gh = Client::new(&GitHubConfig {
        api_url: server.url(),
        auth: Auth::Token(Secret::new("ghp_wrong")),
    })
    .unwrap();
    let err = gh
        .find_by_marker(&pipelines(), &id("KF-2026-0042"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GitHubError::Refused { status: 401, message } if message == "Bad credentials"),
        "{err:?}"
    );
    // The error text never carries the token.
    assert!(!format!("{err} {err:?}").contains("ghp_wrong"));
}

#[tokio::test]
async fn list_security_issues_since_follows_three_pages() {
    let server = standin::start().await;
    let since = Timestamp::from_second(1_780_000_000).unwrap();
    {
        let mut st = server.lock();
        st.max_per_page = 2;
        // 5 security issues and 1 security pull request: 3 pages of 2.
        for n in 0..5 {
            let mut i = Issue::new(
                "kubeflow/pipelines",
                &format!("sec {n}"),
                "b",
                &["security", "area/x"],
            );
            i.updated_at = Timestamp::from_second(1_780_000_000 + n * 3600).unwrap();
            if n == 2 {
                i.state = "closed".into();
            }
            st.insert(i);
        }
        // Not counted: too old, not security, a pull request, another repo.
        let mut old = Issue::new("kubeflow/pipelines", "old", "b", &["security"]);
        old.updated_at = Timestamp::from_second(1_770_000_000).unwrap();
        st.insert(old);
        let mut plain = Issue::new("kubeflow/pipelines", "plain", "b", &["bug"]);
        plain.updated_at = Timestamp::from_second(1_780_000_100).unwrap();
        st.insert(plain);
        let mut pr = Issue::new("kubeflow/pipelines", "pr", "b", &["security"]);
        pr.pull_request = true;
        pr.updated_at = Timestamp::from_second(1_780_000_200).unwrap();
        st.insert(pr);
        st.insert(Issue::new(
            "kubeflow/katib",
            "elsewhere",
            "b",
            &["security"],
        ));
    }
    let gh = client(&server);
    let issues = gh
        .list_security_issues_since(&pipelines(), since)
        .await
        .unwrap();
    let titles: Vec<&str> = issues.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["sec 4", "sec 3", "sec 2", "sec 1", "sec 0"]);
    assert_eq!(issues[2].state, IssueState::Closed);
    assert_eq!(issues[0].state, IssueState::Open);
    assert_eq!(
        issues[0].html_url,
        "https://github.com/kubeflow/pipelines/issues/5"
    );
    assert_eq!(
        issues[0].updated_at,
        Timestamp::from_second(1_780_000_000 + 4 * 3600).unwrap()
    );

    let st = server.lock();
    let pages: Vec<&str> = st.seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages[0].starts_with("/repos/kubeflow/pipelines/issues?"));
    assert!(
        pages[0].contains("since=2026-05-28T20%3A26%3A40Z"),
        "{}",
        pages[0]
    );
    assert!(pages[1].starts_with("/repositories/1000/issues?") && pages[1].ends_with("page=2"));
    assert!(pages[2].starts_with("/repositories/1000/issues?") && pages[2].ends_with("page=3"));
    // Followed links still carried the token.
    assert!(
        st.seen
            .iter()
            .all(|s| s.authorization.as_deref() == Some(format!("Bearer {TOKEN}").as_str()))
    );
}

#[tokio::test]
async fn update_fills_in_a_placeholder_keeping_labels() {
    let server = standin::start().await;
    let n = server.lock().insert(Issue::new(
        "kubeflow/pipelines",
        "Security advisory to follow",
        "Placeholder",
        &["triage/accepted"],
    ));
    let gh = client(&server);
    let d = draft("KF-2026-0042");
    let updated = gh.update_issue(&pipelines(), n, &d).await.unwrap();
    assert_eq!(updated.number, n);
    {
        let st = server.lock();
        let issue = st.issue("kubeflow/pipelines", n).unwrap();
        assert_eq!(issue.title, d.title());
        assert_eq!(issue.body.as_deref(), Some(d.body()));
        assert_eq!(
            issue.labels,
            [
                "triage/accepted",
                "security",
                "area/pipelines",
                "kind/security"
            ]
        );
    }
    // Now publishing finds the filled-in placeholder.
    let p = gh.publish(&pipelines(), &d).await.unwrap();
    assert!(!p.created);
    assert_eq!(p.issue.number, n);
}

#[tokio::test]
async fn github_app_installation_auth() {
    use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
    let server = standin::start().await;
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let pem = key.to_pkcs1_pem(LineEnding::LF).unwrap().to_string();
    server.lock().app = Some(standin::AppAuth {
        app_id: 4242,
        installation_id: 77,
        public_key: key.to_public_key(),
        token: "ghs_installation_token_xyz".into(),
        exchanges: 0,
    });
    let gh = Client::new(&GitHubConfig {
        api_url: server.url(),
        auth: Auth::App {
            app_id: 4242,
            private_key_pem: Secret::new(pem),
            installation_id: 77,
        },
    })
    .unwrap();
    let p = gh
        .publish(&pipelines(), &draft("KF-2026-0042"))
        .await
        .unwrap();
    assert!(p.created);
    let st = server.lock();
    // One exchange; the token is cached for the following calls.
    assert_eq!(st.app.as_ref().unwrap().exchanges, 1);
    let api_calls: Vec<_> = st
        .seen
        .iter()
        .filter(|s| !s.path.starts_with("/app/"))
        .collect();
    assert!(api_calls.len() >= 3);
    assert!(
        api_calls
            .iter()
            .all(|s| s.authorization.as_deref() == Some("Bearer ghs_installation_token_xyz"))
    );
    assert_eq!(st.seen[0].path, "/app/installations/77/access_tokens");
}

#[tokio::test]
async fn github_app_with_wrong_key_is_refused() {
    use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
    let server = standin::start().await;
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let other = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    server.lock().app = Some(standin::AppAuth {
        app_id: 4242,
        installation_id: 77,
        public_key: other.to_public_key(),
        token: "ghs_installation_token_xyz".into(),
        exchanges: 0,
    });
    let pem = key.to_pkcs1_pem(LineEnding::LF).unwrap().to_string();
    let gh = Client::new(&GitHubConfig {
        api_url: server.url(),
        auth: Auth::App {
            app_id: 4242,
            private_key_pem: Secret::new(pem),
            installation_id: 77,
        },
    })
    .unwrap();
    let err = gh
        .find_by_marker(&pipelines(), &id("KF-2026-0042"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GitHubError::Refused { status: 401, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn configuration_errors() {
    let cfg = |api_url: &str, auth: Auth| GitHubConfig {
        api_url: api_url.into(),
        auth,
    };
    let token = || Auth::Token(Secret::new(TOKEN));
    for url in [
        "",
        "api.github.com",
        "ftp://x",
        "https://api.github.com/?x=1",
    ] {
        assert!(
            matches!(Client::new(&cfg(url, token())), Err(GitHubError::Config(_))),
            "{url:?}"
        );
    }
    assert!(matches!(
        Client::new(&cfg(
            "https://api.github.com",
            Auth::Token(Secret::new(" "))
        )),
        Err(GitHubError::Config(_))
    ));
    let bad_key = Auth::App {
        app_id: 1,
        private_key_pem: Secret::new("not a key"),
        installation_id: 2,
    };
    let err = Client::new(&cfg("https://api.github.com", bad_key)).unwrap_err();
    assert!(matches!(err, GitHubError::Config(_)));
    assert!(Client::new(&cfg("https://api.github.com/", token())).is_ok());
    assert!(Client::new(&cfg("https://ghe.example/api/v3", token())).is_ok());
}
