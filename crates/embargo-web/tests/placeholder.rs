//! The placeholder issue from the admin view, over HTTP with a real store
//! (SQLite, and PostgreSQL, mandatory under `CI=true`) and the GitHub
//! stand-in: accept on a WG with `placeholder = true` opens exactly one
//! vague issue, which the publication fills in at the embargo end; when
//! GitHub fails, the accept stands, the failure is shown, and an admin's
//! retry opens the issue exactly once (found by its marker when the
//! first create's answer was lost); the page shows the reason the store
//! recorded, and while another attempt holds the placeholder job a retry
//! does nothing. The route × role checks are in the authorization matrix
//! (`tests/http.rs`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::disclosure::{advisory, days};
use common::{App, Client, TestStore, login, test_config, wg};
use embargo_domain::{EmbargoPolicy, Role, State, TrackingId};
use embargo_github::{Auth, Client as GitHubClient, GitHubConfig, Secret};
use embargo_github_standin as standin;
use embargo_publish::{
    DisclosurePolicy, NoNotices, Placeholders, PublicationOutcome, PublishConfig, WgRepos,
    publish_due,
};
use embargo_store::{JobState, PlaceholderClaim};
use embargo_web::{ReviewSetup, WebConfig};
use embargo_wg::WgConfig;
use jiff::{SignedDuration, Timestamp};

on_both_backends!(
    accept_opens_one_vague_placeholder_filled_in_at_disclosure,
    github_down_accept_stands_and_admin_retry_opens_it,
    lost_create_answer_retry_finds_the_issue,
    retry_while_another_attempt_holds_it_does_nothing,
);

const REPO: &str = "kubeflow/pipelines";
const SUBJECT: &str = "RCE via crafted pipeline spec in ml-pipeline-apiserver";
const BODY: &str = "Send this YAML to /apis/v2beta1/pipelines to run code as root.";

fn github(server: &standin::Server) -> GitHubClient {
    GitHubClient::new(&GitHubConfig {
        api_url: server.url(),
        auth: Auth::Token(Secret::new(standin::TOKEN)),
    })
    .unwrap()
}

fn config_wgs() -> Vec<WgConfig> {
    vec![
        WgConfig {
            name: "pipelines".into(),
            repo: Some(REPO.into()),
            ..WgConfig::default()
        },
        WgConfig {
            name: "training".into(),
            repo: Some("kubeflow/katib".into()),
            ..WgConfig::default()
        },
    ]
}

/// `pipelines` wants a placeholder, `training` does not.
fn placeholder_wgs() -> BTreeSet<embargo_domain::WgName> {
    BTreeSet::from([wg("pipelines")])
}

fn lease() -> SignedDuration {
    SignedDuration::from_mins(10)
}

fn config(server: &standin::Server) -> WebConfig {
    let client = Arc::new(github(server));
    let placeholders = Arc::new(Placeholders::new(github(server), lease()));
    WebConfig {
        review: ReviewSetup {
            config_wgs: config_wgs(),
            github: Some(client as Arc<dyn embargo_review::IssueSource>),
            placeholders: Some(placeholders as Arc<dyn embargo_publish::PlaceholderPublisher>),
            placeholder_wgs: placeholder_wgs(),
            ..ReviewSetup::default()
        },
        ..test_config()
    }
}

async fn app_with(ts: TestStore, server: &standin::Server) -> App {
    let app = App::new(ts, config(server), true).await;
    app.user("alice", Role::Triager, None, false).await;
    app.user("admin", Role::Admin, None, false).await;
    app
}

/// A report of `w` with a telling subject and body, triaged.
async fn triaged(app: &App, w: &str) -> TrackingId {
    let id = app.report(SUBJECT, BODY).await;
    app.triage(&id, w).await;
    id
}

async fn accept(c: &Client, id: &TrackingId) -> String {
    let r = c.post(&format!("/reports/{id}/accept"), &[]).await;
    assert_eq!(r.status, axum::http::StatusCode::SEE_OTHER, "{}", r.body);
    r.location().unwrap().to_owned()
}

async fn page(c: &Client, id: &TrackingId) -> String {
    get(c, &format!("/reports/{id}")).await
}

async fn get(c: &Client, path: &str) -> String {
    let r = c.get(path).await;
    assert_eq!(r.status, axum::http::StatusCode::OK);
    r.body
}

async fn state_of(app: &App, id: &TrackingId) -> State {
    app.store().load_domain_report(id).await.unwrap().state
}

/// The placeholder says nothing but the tracking ID.
fn assert_vague(server: &standin::Server, id: &TrackingId) {
    let st = server.lock();
    let issues = st.issues_in(REPO);
    assert_eq!(issues.len(), 1, "exactly one issue");
    let issue = issues[0];
    assert_eq!(issue.title, format!("[{id}] Security issue under embargo"));
    let body = issue.body.as_deref().unwrap();
    for secret in ["RCE", "ml-pipeline-apiserver", "YAML", "v2beta1", "root"] {
        assert!(!body.contains(secret), "placeholder body leaks {secret:?}");
        assert!(!issue.title.contains(secret));
    }
}

async fn accept_opens_one_vague_placeholder_filled_in_at_disclosure(ts: TestStore) {
    let server = standin::start().await;
    let app = app_with(ts, &server).await;
    let alice = app.session("alice").await;

    // A WG without placeholder: nothing goes to GitHub.
    let quiet = triaged(&app, "training").await;
    assert!(accept(&alice, &quiet).await.ends_with("?done=accept"));
    assert_eq!(server.lock().creates, 0);
    assert!(!page(&alice, &quiet).await.contains("Placeholder issue"));

    let id = triaged(&app, "pipelines").await;
    let location = accept(&alice, &id).await;
    assert!(location.ends_with("?done=accept-placeholder"), "{location}");
    assert_eq!(state_of(&app, &id).await, State::Accepted);
    assert_vague(&server, &id);
    assert_eq!(server.lock().creates, 1);
    let url = format!("https://github.com/{REPO}/issues/1");
    let stored = app
        .store()
        .get_placeholder_issue(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.repo.as_str(), stored.number), (REPO, 1));
    let body = get(&alice, &location).await;
    assert!(body.contains("Accepted. The placeholder issue is open."));
    assert!(body.contains("id=\"placeholder-issue\""));
    assert!(body.contains(&url));
    assert!(!body.contains("retry-placeholder-submit"));

    // Disclosure: the same issue is filled in, no second one.
    let now = Timestamp::now();
    let until = now + days(10);
    embargo_publish::schedule(
        app.store(),
        &id,
        until,
        &advisory(),
        &login("alice"),
        now,
        &DisclosurePolicy {
            embargo: EmbargoPolicy::default(),
            approvals_required: 1,
        },
    )
    .await
    .unwrap();
    let registry = embargo_review::load_registry(app.store(), &config_wgs())
        .await
        .unwrap();
    let publish = PublishConfig::new(WgRepos::from_registry(&registry, &placeholder_wgs()));
    let out = publish_due(
        app.store(),
        &github(&server),
        &publish,
        &NoNotices,
        "test",
        until + SignedDuration::from_secs(1),
    )
    .await;
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
    assert_eq!(
        issue.title,
        format!("[{id}] Code execution in the pipeline API server")
    );
    assert!(
        issue
            .body
            .as_deref()
            .unwrap()
            .contains("A crafted pipeline spec runs code.")
    );
}

async fn github_down_accept_stands_and_admin_retry_opens_it(ts: TestStore) {
    let server = standin::start().await;
    let app = app_with(ts, &server).await;
    let alice = app.session("alice").await;
    let admin = app.session("admin").await;
    let id = triaged(&app, "pipelines").await;

    // GitHub answers 503 to the marker search.
    server.lock().faults.push_back(standin::fault(
        "GET",
        &format!("/repos/{REPO}/issues"),
        503,
        Vec::new(),
        serde_json::json!({"message": "Service Unavailable"}),
    ));
    let location = accept(&alice, &id).await;
    assert!(
        location.ends_with("?done=accept-placeholder-failed"),
        "{location}"
    );
    assert_eq!(state_of(&app, &id).await, State::Accepted, "accept stands");
    assert_eq!(server.lock().creates, 0);
    assert!(
        app.store()
            .get_placeholder_issue(&id)
            .await
            .unwrap()
            .is_none()
    );
    let events = app.events(&id).await;
    assert!(events.iter().any(|e| e.kind == "accept"));
    let failed = events
        .iter()
        .find(|e| e.kind == "placeholder-failed")
        .expect("failure recorded");
    assert!(failed.detail.contains("503") || failed.detail.to_lowercase().contains("unavailable"));

    // Shown to everyone, with the recorded reason; the retry is for admins.
    let job = app.store().get_placeholder_job(&id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Failed);
    let reason = job.last_error.unwrap();
    assert!(reason.contains("503"), "{reason}");
    let body = get(&alice, &location).await;
    assert!(body.contains("The placeholder issue could not be opened"));
    assert!(body.contains("id=\"placeholder-missing\""));
    let shown = body
        .split_once("id=\"placeholder-error\">")
        .and_then(|(_, rest)| rest.split_once("</p>"))
        .map(|(shown, _)| shown)
        .expect("recorded reason shown");
    assert!(shown.contains("503"), "{shown}");
    assert!(!body.contains("retry-placeholder-submit"));
    let r = alice
        .post(&format!("/reports/{id}/placeholder/retry"), &[])
        .await;
    assert_eq!(r.status, axum::http::StatusCode::FORBIDDEN);
    assert_eq!(server.lock().creates, 0);
    assert!(page(&admin, &id).await.contains("retry-placeholder-submit"));

    let r = admin
        .post(&format!("/reports/{id}/placeholder/retry"), &[])
        .await;
    assert_eq!(
        r.location(),
        Some(format!("/reports/{id}?done=placeholder").as_str())
    );
    assert_vague(&server, &id);
    assert_eq!(server.lock().creates, 1);
    let body = page(&admin, &id).await;
    assert!(body.contains("id=\"placeholder-issue\""));
    assert!(!body.contains("id=\"placeholder-missing\""));
    assert!(
        app.events(&id)
            .await
            .iter()
            .any(|e| e.kind == "placeholder-retry" && e.actor.to_string().contains("admin"))
    );

    // Retrying again changes nothing at GitHub.
    let r = admin
        .post(&format!("/reports/{id}/placeholder/retry"), &[])
        .await;
    assert_eq!(
        r.location(),
        Some(format!("/reports/{id}?done=placeholder").as_str())
    );
    assert_eq!(server.lock().creates, 1);
    assert_eq!(server.lock().issues_in(REPO).len(), 1);
}

async fn lost_create_answer_retry_finds_the_issue(ts: TestStore) {
    let server = standin::start().await;
    let app = app_with(ts, &server).await;
    let alice = app.session("alice").await;
    let admin = app.session("admin").await;
    let id = triaged(&app, "pipelines").await;

    // The create goes through at GitHub, its answer is a 502.
    server.lock().create_fault = Some(standin::CreateFault::ThenStatus(502));
    let location = accept(&alice, &id).await;
    assert!(
        location.ends_with("?done=accept-placeholder-failed"),
        "{location}"
    );
    assert_eq!(state_of(&app, &id).await, State::Accepted);
    assert_eq!(server.lock().creates, 1);
    assert!(page(&admin, &id).await.contains("retry-placeholder-submit"));

    // The retry finds it by its marker: still one issue, one create.
    let r = admin
        .post(&format!("/reports/{id}/placeholder/retry"), &[])
        .await;
    assert_eq!(
        r.location(),
        Some(format!("/reports/{id}?done=placeholder").as_str())
    );
    assert_vague(&server, &id);
    assert_eq!(server.lock().creates, 1);
    let stored = app
        .store()
        .get_placeholder_issue(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.number, 1);
}

/// Another attempt (a second admin, the CLI, another replica) holds the
/// placeholder job: the page says so without a retry button, and a retry
/// does nothing at GitHub and says why. Once that attempt's lease ends
/// (it died), the page offers the retry again.
async fn retry_while_another_attempt_holds_it_does_nothing(ts: TestStore) {
    let server = standin::start().await;
    let app = app_with(ts, &server).await;
    let alice = app.session("alice").await;
    let admin = app.session("admin").await;
    let id = triaged(&app, "pipelines").await;
    // GitHub is down for the accept: a failure is recorded.
    server.lock().faults.push_back(standin::fault(
        "GET",
        &format!("/repos/{REPO}/issues"),
        503,
        Vec::new(),
        serde_json::json!({"message": "Service Unavailable"}),
    ));
    assert!(
        accept(&alice, &id)
            .await
            .ends_with("?done=accept-placeholder-failed")
    );

    // Another attempt claims the job now.
    let now = Timestamp::now();
    let claim = app
        .store()
        .claim_placeholder_job(&id, "other-replica", lease(), now)
        .await
        .unwrap();
    assert!(matches!(claim, PlaceholderClaim::Claimed(_)), "{claim:?}");
    let body = page(&admin, &id).await;
    assert!(body.contains("id=\"placeholder-in-progress\""));
    assert!(!body.contains("id=\"placeholder-missing\""));
    assert!(!body.contains("retry-placeholder-submit"));

    let r = admin
        .post(&format!("/reports/{id}/placeholder/retry"), &[])
        .await;
    let location = r.location().unwrap().to_owned();
    assert_eq!(location, format!("/reports/{id}?done=placeholder-busy"));
    assert!(
        get(&admin, &location)
            .await
            .contains("Another attempt is opening the placeholder issue right now")
    );
    assert_eq!(server.lock().creates, 0);
    assert!(
        app.store()
            .get_placeholder_issue(&id)
            .await
            .unwrap()
            .is_none()
    );

    // That attempt fails: the retry is offered again and opens it once.
    app.store()
        .fail_placeholder_job(&id, "other-replica", "GitHub: timed out", now)
        .await
        .unwrap();
    let body = page(&admin, &id).await;
    assert!(body.contains("GitHub: timed out"));
    assert!(body.contains("retry-placeholder-submit"));
    let r = admin
        .post(&format!("/reports/{id}/placeholder/retry"), &[])
        .await;
    assert_eq!(
        r.location(),
        Some(format!("/reports/{id}?done=placeholder").as_str())
    );
    assert_vague(&server, &id);
    let job = app.store().get_placeholder_job(&id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Done, 3));
}
