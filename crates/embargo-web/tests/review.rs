//! The review agenda (`/review`) and release scans (`/scans`) through the
//! router, with a real store on SQLite and PostgreSQL (mandatory under
//! `CI=true`) and the GitHub stand-in behind the agenda's public issues.
//! Routes × roles are in the authorization matrix (`tests/http.rs`); here:
//! what the pages show, scoping for WG leads, downloads, marking the
//! review done, sending slices, and escaping of hostile scan files.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::sync::Arc;

use axum::http::StatusCode;
use common::{App, TestStore, login, prefix, test_config, wg};
use embargo_domain::{Action, EmbargoPolicy, Role, Severity, TrackingId};
use embargo_github::{Auth, Client as GitHubClient, GitHubConfig, Secret};
use embargo_github_standin as standin;
use embargo_store::{Actor, Direction, NewMessage, NewReport, Signature};
use embargo_web::{ReviewSetup, WebConfig};
use embargo_wg::WgConfig;
use jiff::{SignedDuration, Timestamp};

on_both_backends!(
    review_page_agenda_and_done,
    review_page_without_github,
    scan_pages_tables_chart_and_changes,
    scan_page_escapes_hostile_scan_files,
    scan_slices_are_sent_once,
    report_page_suggests_a_wg,
    report_list_filter_offers_the_registry_wgs,
);

fn day(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

fn wgs() -> Vec<WgConfig> {
    vec![
        WgConfig {
            name: "pipelines".into(),
            repo: Some("kubeflow/pipelines".into()),
            images: Some(vec!["*:alpine-*".into()]),
            ..WgConfig::default()
        },
        WgConfig {
            name: "notebooks".into(),
            // Not known to the stand-in: listed as not checked.
            repo: Some("kubeflow/notebooks".into()),
            images: Some(vec!["*:debian-*".into(), "*:ubuntu-*".into()]),
            ..WgConfig::default()
        },
        WgConfig {
            name: "training".into(),
            repo: Some("kubeflow/katib".into()),
            images: Some(vec!["*:centos-*".into()]),
            ..WgConfig::default()
        },
    ]
}

fn config(github: Option<&standin::Server>) -> WebConfig {
    let github = github.map(|s| {
        let client = GitHubClient::new(&GitHubConfig {
            api_url: s.url(),
            auth: Auth::Token(Secret::new(standin::TOKEN)),
        })
        .unwrap();
        Arc::new(client) as Arc<dyn embargo_review::IssueSource>
    });
    WebConfig {
        review: ReviewSetup {
            config_wgs: wgs(),
            github,
            ..ReviewSetup::default()
        },
        ..test_config()
    }
}

/// Files a report at `filed` and, with a WG, triages it then.
async fn report_at(
    app: &App,
    subject: &str,
    route: Option<(&str, Severity)>,
    filed: Timestamp,
) -> TrackingId {
    let mid = format!("<{}@reporter.example>", uuid::Uuid::new_v4().simple());
    let id = app
        .store()
        .create_report(
            &prefix(),
            filed,
            NewReport {
                subject: subject.to_owned(),
                reporter: "ada@reporter.example".to_owned(),
            },
            NewMessage {
                message_id: Some(mid.clone()),
                raw: format!("Message-ID: {mid}\r\n\r\nbody").into_bytes(),
                direction: Direction::Inbound,
                received_at: filed,
                date: Some(filed),
                from: "ada@reporter.example".to_owned(),
                subject: subject.to_owned(),
                headers: String::new(),
                body_text: "body".to_owned(),
                encrypted: true,
                decrypted: true,
                decrypt_error: None,
                signature: Signature::none(),
                attachments: Vec::new(),
            },
        )
        .await
        .unwrap()
        .report()
        .clone();
    if let Some((w, severity)) = route {
        let r = app.store().load_domain_report(&id).await.unwrap();
        let next = r
            .apply(
                &Action::Triage {
                    wg: wg(w),
                    severity,
                },
                filed,
                &EmbargoPolicy::default(),
            )
            .unwrap();
        app.store()
            .apply_report_update(r.state, &next, &Actor::System, "triage", "", filed)
            .await
            .unwrap();
    }
    id
}

async fn review_page_agenda_and_done(ts: TestStore) {
    let gh = standin::start().await;
    let now = Timestamp::now();
    {
        let mut st = gh.lock();
        // Two per page: the listing must follow GitHub's pagination.
        st.max_per_page = 2;
        for n in 0..3 {
            st.insert(standin::Issue::new(
                "kubeflow/pipelines",
                &format!("Public advisory {n} <script>alert('gh')</script>"),
                "b",
                &["security"],
            ));
        }
        st.insert(standin::Issue::new(
            "kubeflow/pipelines",
            "Not a security issue",
            "b",
            &["bug"],
        ));
        st.insert(standin::Issue::new(
            "kubeflow/katib",
            "Katib advisory",
            "b",
            &["security"],
        ));
    }
    let app = App::new(ts, config(Some(&gh)), true).await;
    app.user("admin", Role::Admin, None, false).await;
    app.user("lead", Role::WgLead, Some("pipelines"), false)
        .await;
    let overdue = report_at(
        &app,
        "Critical <b>RCE</b> in the API server",
        Some(("pipelines", Severity::Critical)),
        now - day(6),
    )
    .await;
    let on_track = report_at(
        &app,
        "Low info leak",
        Some(("pipelines", Severity::Low)),
        now - day(3),
    )
    .await;
    let training = report_at(
        &app,
        "Katib escape",
        Some(("training", Severity::High)),
        now - day(1),
    )
    .await;
    let unrouted = report_at(&app, "Something vague", None, now - day(1)).await;

    let admin = app.session("admin").await;
    let page = admin.get("/review").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let b = &page.body;
    // Overdue first: its section comes before the WG groups.
    let overdue_at = b.find("id=\"overdue\"").expect("overdue table");
    let groups_at = b.find("Open reports by WG").unwrap();
    assert!(overdue_at < groups_at);
    assert!(b[overdue_at..groups_at].contains(&overdue.to_string()));
    assert!(!b[overdue_at..groups_at].contains(&on_track.to_string()));
    assert!(b.contains("overdue by 4 d"), "SLA status shown");
    for (id, wg_title) in [
        (&overdue, "WG pipelines"),
        (&on_track, "WG pipelines"),
        (&training, "WG training"),
        (&unrouted, "Not routed yet"),
    ] {
        assert!(b.contains(&id.to_string()), "{id}");
        assert!(b.contains(wg_title), "{wg_title}");
    }
    // Within the pipelines group, the overdue report comes first.
    let group = &b[groups_at..];
    assert!(group.find(&overdue.to_string()) < group.find(&on_track.to_string()));
    // Last action, age, subjects escaped.
    assert!(b.contains("triage by system"), "last action shown");
    assert!(
        b.contains("Critical &#60;b&#62;RCE&#60;/b&#62;")
            || b.contains("Critical &lt;b&gt;RCE&lt;/b&gt;")
    );
    assert!(!b.contains("<b>RCE</b>"));
    // Public issues: all three pages of pipelines, katib's, no bug.
    for n in 0..3 {
        assert!(b.contains(&format!("Public advisory {n}")), "issue {n}");
    }
    assert!(!b.contains("<script>alert('gh')"), "issue titles escaped");
    assert!(b.contains("https://github.com/kubeflow/pipelines/issues/1"));
    assert!(b.contains("Katib advisory"));
    assert!(!b.contains("Not a security issue"));
    assert!(b.contains("id=\"skipped-repos\"") && b.contains("kubeflow/notebooks"));
    assert!(b.contains("none marked done yet"));
    assert!(b.contains("id=\"review-done\""), "admins may mark it done");

    // A WG lead: the own WG only, no button.
    let lead = app.session("lead").await;
    let page = lead.get("/review").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&overdue.to_string()));
    assert!(!page.body.contains(&training.to_string()));
    assert!(!page.body.contains(&unrouted.to_string()));
    assert!(!page.body.contains("Katib advisory"));
    assert!(page.body.contains("Public advisory 0"));
    assert!(!page.body.contains("id=\"review-done\""));
    let json: serde_json::Value =
        serde_json::from_str(&lead.get("/review/agenda.json").await.body).unwrap();
    assert_eq!(json["reports"].as_array().unwrap().len(), 2);

    // The "since" override and a bad one.
    let since = (now - day(2)).to_zoned(jiff::tz::TimeZone::UTC).date();
    let page = admin.get(&format!("/review?since={since}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("(as asked)"));
    assert!(page.body.contains(&format!("value=\"{since}\"")));
    assert!(
        page.body
            .contains(&format!("/review/agenda.md?since={since}T00"))
    );
    let bad = admin.get("/review?since=%3Cscript%3E").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(!bad.body.contains("<script>"));

    // Downloads.
    let md = admin.get("/review/agenda.md").await;
    assert_eq!(md.status, StatusCode::OK);
    assert!(
        md.header("content-type")
            .unwrap()
            .starts_with("text/markdown")
    );
    assert!(
        md.header("content-disposition")
            .unwrap()
            .starts_with("attachment; filename=\"review-agenda-")
    );
    assert!(md.body.starts_with("# Security review agenda"));
    assert!(md.body.contains(&overdue.to_string()));
    let json = admin.get("/review/agenda.json").await;
    assert!(
        json.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let v: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    for key in ["since", "reports", "public_issues", "overdue"] {
        assert!(v.get(key).is_some(), "{key}");
    }
    assert_eq!(v["reports"].as_array().unwrap().len(), 4);
    assert_eq!(v["overdue"][0]["id"], overdue.to_string());
    assert_eq!(v["public_issues"].as_array().unwrap().len(), 4);
    assert_eq!(v["since_source"], "default-window");

    // Mark the review done: who and when are recorded; the next agenda
    // starts there.
    let before = Timestamp::now();
    let done = admin.post("/review/done", &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), Some("/review?done=1"));
    let last = app.store().last_review().await.unwrap().unwrap();
    assert_eq!(last.done_by, login("admin"));
    assert!(last.done_at.as_millisecond() >= before.as_millisecond());
    let page = admin.get("/review?done=1").await;
    assert!(page.body.contains("id=\"flash\""));
    assert!(page.body.contains("marked done by <strong>admin</strong>"));
    assert!(page.body.contains("(the last review)"));
    let v: serde_json::Value =
        serde_json::from_str(&admin.get("/review/agenda.json").await.body).unwrap();
    assert_eq!(v["since_source"], "last-review");
    assert_eq!(v["since"], serde_json::json!(last.done_at));
    assert_eq!(v["last_review"]["done_by"], "admin");
    // Nothing changed on GitHub since: no public issue any more.
    assert_eq!(v["public_issues"].as_array().unwrap().len(), 0);
    let events = app.store().list_events(before, 100).await.unwrap();
    assert!(
        events.iter().any(|e| e.kind == "review-done"
            && e.actor.as_str() == "admin"
            && e.report_id.is_none())
    );
    // Leads may not mark it done.
    assert_eq!(
        lead.post("/review/done", &[]).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn review_page_without_github(ts: TestStore) {
    let app = App::new(ts, config(None), true).await;
    app.user("triager", Role::Triager, None, false).await;
    let c = app.session("triager").await;
    let page = c.get("/review").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"github-off\""));
    assert!(page.body.contains("GitHub is not configured"));
    assert!(page.body.contains("id=\"no-open\""));
    assert!(page.body.contains("id=\"no-overdue\""));
    let md = c.get("/review/agenda.md").await.body;
    assert!(md.contains("GitHub was not asked (not configured)."));
    let v: serde_json::Value =
        serde_json::from_str(&c.get("/review/agenda.json").await.body).unwrap();
    assert_eq!(v["github_checked"], false);
    // Triagers run the review.
    assert_eq!(
        c.post("/review/done", &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.store().last_review().await.unwrap().unwrap().done_by,
        login("triager")
    );
}

/// Copies corpus samples into a fresh directory (`None` and a note when
/// the corpus is missing, a failure under `CI=true`).
fn samples(names: &[&str]) -> Option<tempfile::TempDir> {
    let src = embargo_testkit::corpus_dir()?.join("scans/trivy/json");
    let dir = tempfile::tempdir().unwrap();
    for n in names {
        std::fs::copy(src.join(n), dir.path().join(n)).unwrap();
    }
    Some(dir)
}

async fn import(app: &App, dir: &Path, release: &str) {
    let registry = embargo_review::load_registry(app.store(), &wgs())
        .await
        .unwrap();
    let report = embargo_review::import_scans(
        app.store(),
        &registry,
        dir,
        release,
        &mut |_| {},
        Timestamp::now(),
    )
    .await
    .unwrap();
    assert!(report.persisted, "{report:?}");
}

/// Two releases of corpus samples: 1.9.0 and 1.10.0.
async fn two_releases(app: &App) -> bool {
    let Some(old) = samples(&[
        "alpine-39.json",
        "debian-stretch.json",
        "centos-6.json",
        "amazon-1.json",
    ]) else {
        return false;
    };
    let Some(new) = samples(&[
        "alpine-310.json",
        "debian-buster.json",
        "centos-7.json",
        "photon-30.json",
    ]) else {
        return false;
    };
    import(app, old.path(), "1.9.0").await;
    import(app, new.path(), "1.10.0").await;
    true
}

async fn scan_pages_tables_chart_and_changes(ts: TestStore) {
    let app = App::new(ts, config(None), true).await;
    app.user("admin", Role::Admin, None, false).await;
    app.user("lead", Role::WgLead, Some("pipelines"), false)
        .await;
    let admin = app.session("admin").await;
    let empty = admin.get("/scans").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.contains("id=\"no-scans\""));
    if !two_releases(&app).await {
        return;
    }

    let list = admin.get("/scans").await;
    assert_eq!(list.status, StatusCode::OK);
    let newer = list.body.find("href=\"/scans/1.10.0\"").unwrap();
    let older = list.body.find("href=\"/scans/1.9.0\"").unwrap();
    assert!(newer < older, "newest release first");

    let page = admin.get("/scans/1.10.0").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let b = &page.body;
    for s in ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"] {
        assert!(
            b.contains(&format!("<th class=\"num\">{s}</th>")),
            "{s} column"
        );
    }
    let summary = embargo_review::scan_summary(app.store(), "1.10.0")
        .await
        .unwrap();
    assert_eq!(
        summary.wgs.keys().collect::<Vec<_>>(),
        ["notebooks", "pipelines", "training"]
    );
    // One row and one chart per WG, plus the unmapped row and chart.
    assert_eq!(b.matches("class=\"wg-row\"").count(), 3);
    assert_eq!(b.matches("class=\"unmapped-row\"").count(), 1);
    assert_eq!(b.matches("<svg ").count(), 4);
    assert_eq!(b.matches("<rect ").count(), 4 * 5);
    assert!(!b.contains("style="), "no inline style");
    assert_eq!(b.matches("<script").count(), 1, "only app.js");
    // The pipelines row holds its counts in severity order.
    let p = &summary.wgs["pipelines"];
    let row = format!(
        "<td>pipelines</td><td class=\"num\">{}</td>\n<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
        p.images, p.critical, p.high, p.medium, p.low, p.unknown
    );
    assert!(b.contains(&row), "pipelines row {row} in {b}");
    // Unmapped images listed, never dropped.
    assert!(b.contains("ghcr.io/aquasecurity/trivy-test-images:photon-30"));
    // New and fixed against 1.9.0.
    let changes = embargo_review::scan_changes(app.store(), "1.10.0")
        .await
        .unwrap();
    assert_eq!(changes.previous.as_deref(), Some("1.9.0"));
    assert!(!changes.new.is_empty() && !changes.fixed.is_empty());
    assert!(b.contains("href=\"/scans/1.9.0\" id=\"previous-release\""));
    assert!(b.contains(&format!("New since 1.9.0 ({})", changes.new.len())));
    assert!(b.contains(&format!("Fixed since 1.9.0 ({})", changes.fixed.len())));
    for f in changes.new.iter().chain(&changes.fixed) {
        assert!(b.contains(&f.vuln_id), "{}", f.vuln_id);
    }
    // The first release: everything new.
    let first = admin.get("/scans/1.9.0").await;
    assert!(first.body.contains("No earlier release is stored"));

    // A WG lead: the own WG only.
    let lead = app.session("lead").await;
    let page = lead.get("/scans/1.10.0").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body.matches("class=\"wg-row\"").count(), 1);
    assert!(page.body.contains("<td>pipelines</td>"));
    assert!(!page.body.contains("<td>notebooks</td>"));
    assert!(!page.body.contains("unmapped-row"));
    assert!(!page.body.contains("photon-30"));
    assert_eq!(page.body.matches("<svg ").count(), 1);
    assert!(!page.body.contains("id=\"send-slices\""));
    let list = lead.get("/scans").await;
    assert!(list.body.contains("/scans/1.10.0"));

    // Unknown and malformed releases do not exist.
    for path in [
        "/scans/0.0.1",
        "/scans/..%2F..%2Fetc",
        "/scans/%3Cscript%3E",
    ] {
        let r = admin.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
}

async fn scan_page_escapes_hostile_scan_files(ts: TestStore) {
    let app = App::new(ts, config(None), true).await;
    app.user("admin", Role::Admin, None, false).await;
    let dir = tempfile::tempdir().unwrap();
    let hostile = serde_json::json!({
        "SchemaVersion": 2,
        "ArtifactName": "evil.example/<script>alert(1)</script>\"onload=alert(2):1",
        "ArtifactType": "container_image",
        "Results": [{
            "Target": "x",
            "Vulnerabilities": [{
                "VulnerabilityID": "CVE-<img src=x onerror=alert(3)>",
                "PkgName": "pkg\"onload=\"alert(4)",
                "InstalledVersion": "1.0<svg onload=alert(5)>",
                "FixedVersion": "</td><script>alert(6)</script>",
                "Severity": "CRITICAL",
                "Title": "<iframe src=javascript:alert(7)>"
            }]
        }]
    });
    std::fs::write(dir.path().join("hostile.json"), hostile.to_string()).unwrap();
    import(&app, dir.path(), "6.6.6").await;
    let c = app.session("admin").await;
    let page = c.get("/scans/6.6.6").await;
    assert_eq!(page.status, StatusCode::OK);
    let b = &page.body;
    for raw in [
        "<script>alert(1)",
        "\"onload=",
        "<img src=x",
        "<svg onload",
        "</td><script>",
        "<iframe",
    ] {
        assert!(!b.contains(raw), "{raw} must be escaped");
    }
    // Present, as text.
    assert!(
        b.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || b.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{b}"
    );
    assert!(b.contains("CVE-&#60;img") || b.contains("CVE-&lt;img"));
    assert!(b.contains("onload=alert(2)"));
    assert_eq!(
        b.matches("<script").count(),
        1,
        "only the page's own script tag"
    );
}

async fn scan_slices_are_sent_once(ts: TestStore) {
    let app = App::new(ts, config(None), true).await;
    app.user("admin", Role::Admin, None, false).await;
    // A lead of pipelines with an address (no key: a content-free notice).
    app.user("plead", Role::WgLead, Some("pipelines"), false)
        .await;
    if !two_releases(&app).await {
        return;
    }
    let c = app.session("admin").await;
    let page = c.get("/scans/1.10.0").await;
    assert!(page.body.contains("not sent (1 lead(s), 0 with a key)"));
    assert!(page.body.contains("no leads known"));
    let before = app
        .store()
        .outbox_counts(Timestamp::now())
        .await
        .unwrap()
        .ready;
    let r = c.post("/scans/1.10.0/send", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location(),
        Some("/scans/1.10.0?sent=1&already=0&errors=0")
    );
    let after = app
        .store()
        .outbox_counts(Timestamp::now())
        .await
        .unwrap()
        .ready;
    assert_eq!(after, before + 1, "one mail to the one lead");
    let page = c.get(r.location().unwrap()).await;
    assert!(page.body.contains("Slices queued for 1 WG(s)"));
    assert!(page.body.contains("to 1 lead(s)"));
    // Again: nothing more.
    let r = c.post("/scans/1.10.0/send", &[]).await;
    assert_eq!(
        r.location(),
        Some("/scans/1.10.0?sent=0&already=1&errors=0")
    );
    assert_eq!(
        app.store()
            .outbox_counts(Timestamp::now())
            .await
            .unwrap()
            .ready,
        after
    );
    let events = app
        .store()
        .list_events(Timestamp::now() - day(1), 1000)
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == "scan-slices-sent")
            .count(),
        2
    );
    // Unknown release: 404, nothing sent.
    assert_eq!(
        c.post("/scans/0.0.1/send", &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn report_page_suggests_a_wg(ts: TestStore) {
    let mut config = config(None);
    // A WG only the registry knows (not among the configured `wgs`).
    config.review.config_wgs.push(WgConfig {
        name: "data".into(),
        repo: Some("kubeflow/model-registry".into()),
        keywords: Some(vec!["model registry".into()]),
        ..WgConfig::default()
    });
    let app = App::new(ts, config, true).await;
    app.user("triager", Role::Triager, None, false).await;
    app.user("auditor", Role::Auditor, None, false).await;
    let id = app
        .report(
            "Auth bypass",
            "The model registry API in kubeflow/model-registry skips the token check.",
        )
        .await;
    let c = app.session("triager").await;
    let page = c.get(&format!("/reports/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let at = page
        .body
        .find("id=\"wg-suggestion\"")
        .expect("a suggestion");
    let line = &page.body[at..at + page.body[at..].find("</p>").unwrap()];
    assert!(
        line.contains("<strong class=\"suggested-wg\">data</strong>"),
        "{line}"
    );
    assert!(line.contains("kubeflow/model-registry"), "{line}");
    // Only a suggestion: nothing is routed until a human triages.
    let r = app.store().load_domain_report(&id).await.unwrap();
    assert_eq!(r.wg, None);
    // The registry's WGs are offered and accepted.
    assert!(page.body.contains("<option value=\"data\""));
    let done = c
        .post(
            &format!("/reports/{id}/triage"),
            &[("wg", "data"), ("severity", "high")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let r = app.store().load_domain_report(&id).await.unwrap();
    assert_eq!(r.wg, Some(wg("data")));
    // Unknown WGs are still refused.
    let other = app.report("x", "y").await;
    let refused = c
        .post(
            &format!("/reports/{other}/triage"),
            &[("wg", "nosuchwg"), ("severity", "high")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    // Triaged: no suggestion any more once it cannot be triaged; auditors
    // never see one (they do not triage).
    let a = app.session("auditor").await;
    let page = a.get(&format!("/reports/{other}")).await;
    assert!(!page.body.contains("wg-suggestion"));
}

/// The reports list's WG filter offers the WGs of an imported wgs.yaml
/// besides the configured ones, and filters by them; a WG lead's list stays
/// locked to their WG.
async fn report_list_filter_offers_the_registry_wgs(ts: TestStore) {
    let corpus = std::env::var("EMBARGO_CORPUS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| "/work/shared/corpus".into());
    let yaml = std::fs::read_to_string(corpus.join("kubeflow/wgs.yaml")).unwrap();
    let config = WebConfig {
        wgs: vec![wg("pipelines")],
        ..config(None)
    };
    let app = App::new(ts, config, true).await;
    embargo_review::import_wgs(app.store(), &yaml, &wgs(), "test", Timestamp::now())
        .await
        .unwrap();
    app.user("triager", Role::Triager, None, false).await;
    app.user("lead", Role::WgLead, Some("pipelines"), false)
        .await;
    let hub = app
        .report("Hub token leak", "The hub API leaks tokens.")
        .await;
    app.triage(&hub, "data").await;
    let kfp = app.report("KFP", "pipelines").await;
    app.triage(&kfp, "pipelines").await;

    let c = app.session("triager").await;
    let page = c.get("/reports").await;
    assert_eq!(page.status, StatusCode::OK);
    let at = page.body.find("id=\"f-wg\"").expect("the WG filter");
    let select = &page.body[at..at + page.body[at..].find("</select>").unwrap()];
    // Configured (pipelines), from config tables (notebooks, training) and
    // only imported (data, ml-experience).
    for w in [
        "pipelines",
        "notebooks",
        "training",
        "data",
        "ml-experience",
    ] {
        assert!(
            select.contains(&format!("<option value=\"{w}\">{w}</option>")),
            "{w} offered: {select}"
        );
    }
    let page = c.get("/reports?wg=data").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("<option value=\"data\" selected>data</option>")
    );
    assert!(page.body.contains(&hub.to_string()));
    assert!(!page.body.contains(&kfp.to_string()));

    let l = app.session("lead").await;
    let page = l.get("/reports").await;
    assert!(!page.body.contains("id=\"f-wg\""), "locked for a WG lead");
    assert!(page.body.contains(&kfp.to_string()));
    assert!(!page.body.contains(&hub.to_string()));
}
