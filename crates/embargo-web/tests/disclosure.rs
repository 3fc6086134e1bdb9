//! The disclosure section of the report page, over HTTP with a real store
//! (SQLite, and PostgreSQL when `TEST_DATABASE_URL` is set; mandatory under
//! `CI=true`): schedule, the two-person rule, resets, policy refusals with
//! their reason, hostile advisory text escaped, unschedule and withdrawal,
//! admin retry of a failed publication, OSV and CSAF downloads.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::http::StatusCode;
use common::disclosure::{accepted, days, failed, published, scheduled};
use common::{App, Client, TestStore, test_config};
use embargo_domain::{Role, State, TrackingId};
use embargo_store::JobState;
use embargo_web::WebConfig;
use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

on_both_backends!(
    schedule_then_a_second_member_approves,
    same_member_cannot_approve_and_changes_reset,
    out_of_policy_date_refused_with_reason,
    hostile_advisory_text_is_escaped,
    unschedule_and_withdraw,
    admin_retry_of_a_failed_publication,
    exports_of_a_published_advisory,
);

fn two_person() -> WebConfig {
    WebConfig {
        approvals_required: 2,
        time_zone: "Europe/Berlin".to_owned(),
        ..test_config()
    }
}

async fn app_with(ts: TestStore, config: WebConfig) -> App {
    let app = App::new(ts, config, true).await;
    app.user("alice", Role::Triager, None, false).await;
    app.user("bob", Role::Triager, None, false).await;
    app.user("admin", Role::Admin, None, false).await;
    app.user("lead", Role::WgLead, Some("pipelines"), false)
        .await;
    app.user("auditor", Role::Auditor, None, false).await;
    app
}

/// The date `n` days from now (UTC), as the form's date field wants it.
fn date_in(n: i64) -> String {
    (Timestamp::now() + days(n))
        .strftime("%Y-%m-%d")
        .to_string()
}

fn instant(date: &str, time: &str, zone: &str) -> Timestamp {
    let d: Date = date.parse().unwrap();
    let t: Time = time.parse().unwrap();
    d.to_datetime(t)
        .to_zoned(TimeZone::get(zone).unwrap())
        .unwrap()
        .timestamp()
}

struct Schedule<'a> {
    date: &'a str,
    time: &'a str,
    zone: &'a str,
    title: &'a str,
    advisory: &'a str,
    affected: &'a str,
    credit: Option<&'a str>,
    cve: &'a str,
}

fn plain<'a>(date: &'a str) -> Schedule<'a> {
    Schedule {
        date,
        time: "14:00",
        zone: "America/New_York",
        title: "Code execution in the pipeline API server",
        advisory: "A crafted pipeline spec runs code.\n\nUpgrade to 2.3.1.",
        affected: "< 2.3.1",
        credit: Some("Jane Doe"),
        cve: "CVE-2026-10001",
    }
}

async fn post_schedule(c: &Client, id: &TrackingId, s: &Schedule<'_>) -> common::Resp {
    let (credit, name) = match s.credit {
        Some(n) => ("name", n),
        None => ("anonymous", ""),
    };
    c.post(
        &format!("/reports/{id}/disclosure/schedule"),
        &[
            ("date", s.date),
            ("time", s.time),
            ("zone", s.zone),
            ("title", s.title),
            ("advisory", s.advisory),
            ("affected", s.affected),
            ("fixed", "2.3.1"),
            ("credit", credit),
            ("credit_name", name),
            ("cve", s.cve),
        ],
    )
    .await
}

async fn page(c: &Client, id: &TrackingId) -> String {
    let r = c.get(&format!("/reports/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    r.body
}

fn approvals(app: &App, id: &TrackingId) -> impl std::future::Future<Output = Vec<String>> {
    let store = app.store().clone();
    let id = id.clone();
    async move {
        store
            .get_disclosure(&id)
            .await
            .unwrap()
            .map(|d| d.approvals.iter().map(|a| a.login.to_string()).collect())
            .unwrap_or_default()
    }
}

// ---------------------------------------------------------------- cases

async fn schedule_then_a_second_member_approves(ts: TestStore) {
    let app = app_with(ts, two_person()).await;
    let id = accepted(&app, "pipelines").await;
    let alice = app.session("alice").await;
    let bob = app.session("bob").await;

    // The form: configured zone preselected, policy explained.
    let body = page(&alice, &id).await;
    assert!(body.contains("id=\"schedule-form\""), "schedule form shown");
    assert!(
        body.contains(
            "<option value=\"Europe/Berlin\" selected>Europe/Berlin (configured)</option>"
        ),
        "configured zone preselected"
    );
    assert!(body.contains("at most 90 days after the report"));

    let date = date_in(20);
    let r = post_schedule(&alice, &id, &plain(&date)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let location = r.location().unwrap().to_owned();
    assert_eq!(
        location,
        format!("/reports/{id}?done=schedule&zone=America%2FNew_York")
    );
    let until = instant(&date, "14:00", "America/New_York");
    let d = app.store().get_disclosure(&id).await.unwrap().unwrap();
    assert_eq!(d.embargo_until, until, "entered in the chosen zone");
    assert_eq!(d.advisory.credit.as_deref(), Some("Jane Doe"));
    assert_eq!(d.advisory.cve.as_deref(), Some("CVE-2026-10001"));
    assert_eq!(d.approvals_required, 2);
    assert_eq!(approvals(&app, &id).await, ["alice"]);
    assert!(
        app.store()
            .get_publication_job(&id)
            .await
            .unwrap()
            .is_none(),
        "one approval of two: no publication job yet"
    );
    assert_eq!(
        app.store().load_domain_report(&id).await.unwrap().state,
        State::Scheduled
    );

    // Shown back with its zones; alice cannot approve her own version.
    let r = alice.get(&location).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.body;
    assert!(body.contains("Disclosure scheduled."));
    assert!(
        body.contains("Europe/Berlin) = "),
        "configured zone and UTC"
    );
    assert!(body.contains("as entered: "), "{body}");
    assert!(body.contains("America/New_York)"));
    assert!(body.contains("1 of 2"));
    assert!(body.contains("<td>alice</td>"));
    assert!(body.contains("a different team member must approve"));
    assert!(!body.contains("id=\"approve-submit\""));

    // Bob approves: two of two, the publication is due at the end.
    assert!(page(&bob, &id).await.contains("id=\"approve-submit\""));
    let r = bob
        .post(&format!("/reports/{id}/disclosure/approve"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.location(),
        Some(format!("/reports/{id}?done=approve").as_str())
    );
    assert_eq!(approvals(&app, &id).await, ["alice", "bob"]);
    let job = app
        .store()
        .get_publication_job(&id)
        .await
        .unwrap()
        .expect("publication job");
    assert_eq!(job.state, JobState::Pending);
    assert_eq!(job.due_at, until);
    let body = page(&bob, &id).await;
    assert!(body.contains("2 of 2"));
    assert!(body.contains("<td>bob</td>"));
    assert!(body.contains("id=\"publication-job\""));
    assert!(body.contains(">pending<"));
    assert!(
        !body.contains("id=\"approve-submit\""),
        "bob approved already"
    );
    let kinds: Vec<String> = app.events(&id).await.into_iter().map(|e| e.kind).collect();
    assert!(kinds.iter().any(|k| k == "scheduled") && kinds.iter().any(|k| k == "approved"));
}

async fn same_member_cannot_approve_and_changes_reset(ts: TestStore) {
    let app = app_with(ts, two_person()).await;
    let id = accepted(&app, "pipelines").await;
    let alice = app.session("alice").await;
    let bob = app.session("bob").await;
    let date = date_in(20);
    assert_eq!(
        post_schedule(&alice, &id, &plain(&date)).await.status,
        StatusCode::SEE_OTHER
    );

    // Alice's own approval is refused, with the reason; nothing recorded.
    let before = app.events(&id).await.len();
    let r = alice
        .post(&format!("/reports/{id}/disclosure/approve"), &[])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.body.contains("a different team member must approve"),
        "{}",
        r.body
    );
    assert_eq!(app.events(&id).await.len(), before);
    assert_eq!(approvals(&app, &id).await, ["alice"]);
    assert!(
        app.store()
            .get_publication_job(&id)
            .await
            .unwrap()
            .is_none()
    );

    // Bob approves; approving again is refused.
    let approve = |c: &Client| {
        let c = c.clone();
        let path = format!("/reports/{id}/disclosure/approve");
        async move { c.post(&path, &[]).await }
    };
    assert_eq!(approve(&bob).await.status, StatusCode::SEE_OTHER);
    assert_eq!(approve(&bob).await.status, StatusCode::CONFLICT);
    assert!(
        app.store()
            .get_publication_job(&id)
            .await
            .unwrap()
            .is_some()
    );

    // Saving the same agreement keeps the approvals.
    assert_eq!(
        post_schedule(&alice, &id, &plain(&date)).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(approvals(&app, &id).await, ["alice", "bob"]);

    // Changing the text resets them (bob changes it: his is the only one).
    let mut changed = plain(&date);
    changed.advisory = "A crafted pipeline spec runs code. Upgrade to 2.3.2.";
    assert_eq!(
        post_schedule(&bob, &id, &changed).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(approvals(&app, &id).await, ["bob"]);
    assert!(
        app.store()
            .get_publication_job(&id)
            .await
            .unwrap()
            .is_none(),
        "approvals reset: no publication job"
    );
    // Changing the date resets them too.
    assert_eq!(approve(&alice).await.status, StatusCode::SEE_OTHER);
    assert!(
        app.store()
            .get_publication_job(&id)
            .await
            .unwrap()
            .is_some()
    );
    let later = date_in(25);
    let mut moved = changed;
    moved.date = &later;
    assert_eq!(
        post_schedule(&alice, &id, &moved).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(approvals(&app, &id).await, ["alice"]);
    assert!(
        app.store()
            .get_publication_job(&id)
            .await
            .unwrap()
            .is_none()
    );
    let body = page(&alice, &id).await;
    assert!(body.contains("1 of 2"));
    assert!(body.contains("Version</dt><dd>3,"), "third version");
}

async fn out_of_policy_date_refused_with_reason(ts: TestStore) {
    let app = app_with(ts, two_person()).await;
    let id = accepted(&app, "pipelines").await;
    let alice = app.session("alice").await;
    let before = app.events(&id).await.len();

    let far = date_in(200);
    let r = post_schedule(&alice, &id, &plain(&far)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    for reason in [
        "embargo policy",
        "more than 90 days after the report",
        "the latest allowed is",
    ] {
        assert!(r.body.contains(reason), "{reason:?} in {}", r.body);
    }
    let past = date_in(-1);
    let r = post_schedule(&alice, &id, &plain(&past)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("not in the future"), "{}", r.body);

    // Unreadable input: 400 with what to fix.
    let soon = date_in(10);
    let mut bad = plain(&soon);
    bad.date = "31.12.2026";
    let r = post_schedule(&alice, &id, &bad).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("YYYY-MM-DD"));
    let mut bad = plain(&soon);
    bad.zone = "Mars/Olympus";
    assert_eq!(
        post_schedule(&alice, &id, &bad).await.status,
        StatusCode::BAD_REQUEST
    );
    let mut bad = plain(&soon);
    bad.cve = "CVE-26-1";
    let r = post_schedule(&alice, &id, &bad).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("CVE ID must look like"), "{}", r.body);
    let mut bad = plain(&soon);
    bad.title = "  ";
    assert_eq!(
        post_schedule(&alice, &id, &bad).await.status,
        StatusCode::BAD_REQUEST
    );

    // Nothing of it stuck.
    assert!(app.store().get_disclosure(&id).await.unwrap().is_none());
    assert_eq!(
        app.store().load_domain_report(&id).await.unwrap().state,
        State::Accepted
    );
    assert_eq!(app.events(&id).await.len(), before);

    // Not accepted yet: refused with the domain's reason.
    let triaged = app.report("x", "b").await;
    app.triage(&triaged, "pipelines").await;
    let r = post_schedule(&alice, &triaged, &plain(&soon)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("must be accepted"), "{}", r.body);
    // Auditors may look, not schedule.
    let auditor = app.session("auditor").await;
    assert!(!page(&auditor, &id).await.contains("id=\"schedule-form\""));
    assert_eq!(
        post_schedule(&auditor, &id, &plain(&soon)).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn hostile_advisory_text_is_escaped(ts: TestStore) {
    let app = app_with(ts, two_person()).await;
    let id = accepted(&app, "pipelines").await;
    let alice = app.session("alice").await;
    let date = date_in(20);
    let hostile = Schedule {
        date: &date,
        time: "14:00",
        zone: "UTC",
        title: "<script>alert('title')</script>",
        advisory: "</pre><img src=x onerror=alert(1)>\n<iframe src=\"https://evil.example\"></iframe>\u{202e}txt.exe",
        affected: "\"><svg onload=alert(2)>",
        credit: Some("<b onmouseover=alert(3)>Eve</b>"),
        cve: "",
    };
    let r = post_schedule(&alice, &id, &hostile).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = alice.get(&format!("/reports/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let csp = r.header("content-security-policy").unwrap();
    assert!(!csp.contains("unsafe-inline"));
    let body = r.body;
    for raw in [
        "<script>alert(",
        "<img src=x",
        "<iframe",
        "<svg onload",
        "<b onmouseover",
    ] {
        assert!(!body.contains(raw), "{raw:?} unescaped in the page");
    }
    for escaped in [
        "&#60;script&#62;alert(",
        "&#60;img src=x onerror=alert(1)&#62;",
        "&#34;&#62;&#60;svg onload=alert(2)&#62;",
        "&#60;b onmouseover=alert(3)&#62;Eve&#60;/b&#62;",
    ] {
        assert!(body.contains(escaped), "{escaped:?} shown escaped");
    }
    // A direction override is made visible where the advisory is shown.
    assert!(body.contains("[U+202E]txt.exe"));
    // Also in the form fields it is prefilled into.
    assert!(
        body.contains("value=\"&#60;script&#62;alert(&#39;title&#39;)&#60;/script&#62;\""),
        "title field escaped"
    );
    // The stored text is the text as typed.
    let d = app.store().get_disclosure(&id).await.unwrap().unwrap();
    assert_eq!(d.advisory.title, "<script>alert('title')</script>");
}

async fn unschedule_and_withdraw(ts: TestStore) {
    let app = app_with(ts, test_config()).await;
    let lead = app.session("lead").await;
    let until = Timestamp::now() + days(10);

    // The lead of the WG unschedules: accepted again, job and approvals gone.
    let id = scheduled(&app, "pipelines", "alice", until, 1).await;
    assert!(
        app.store()
            .get_publication_job(&id)
            .await
            .unwrap()
            .is_some()
    );
    let body = page(&lead, &id).await;
    assert!(body.contains("id=\"unschedule-submit\""));
    assert!(body.contains("id=\"withdraw-disclosure-submit\""));
    assert!(
        !body.contains(&format!("action=\"/reports/{id}/withdraw\"")),
        "the generic withdrawal is not offered for a scheduled report"
    );
    let r = lead
        .post(&format!("/reports/{id}/disclosure/unschedule"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let report = app.store().load_domain_report(&id).await.unwrap();
    assert_eq!(
        (report.state, report.embargo_until),
        (State::Accepted, None)
    );
    assert!(
        app.store()
            .get_publication_job(&id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(approvals(&app, &id).await.is_empty());
    let r = lead.get(r.location().unwrap()).await;
    assert!(
        r.body
            .contains("Disclosure unscheduled: the report is accepted again.")
    );
    // Unscheduling again: refused with the reason.
    let r = lead
        .post(&format!("/reports/{id}/disclosure/unschedule"), &[])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("not scheduled"), "{}", r.body);

    // Withdrawal cancels the publication.
    let id = scheduled(&app, "pipelines", "alice", until, 1).await;
    let r = lead
        .post(&format!("/reports/{id}/disclosure/withdraw"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        app.store().load_domain_report(&id).await.unwrap().state,
        State::Withdrawn
    );
    assert!(
        app.store()
            .get_publication_job(&id)
            .await
            .unwrap()
            .is_none()
    );
    // So does the report's own "withdrawn" action on a scheduled report.
    let id = scheduled(&app, "pipelines", "alice", until, 1).await;
    let r = lead.post(&format!("/reports/{id}/withdraw"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        app.store().load_domain_report(&id).await.unwrap().state,
        State::Withdrawn
    );
    assert!(
        app.store()
            .get_publication_job(&id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(approvals(&app, &id).await.is_empty());

    // Another WG's lead: not even there.
    let other = scheduled(&app, "notebooks", "alice", until, 1).await;
    let r = lead
        .post(&format!("/reports/{other}/disclosure/withdraw"), &[])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn admin_retry_of_a_failed_publication(ts: TestStore) {
    let app = app_with(ts, test_config()).await;
    let id = failed(&app, "pipelines").await;
    let admin = app.session("admin").await;
    let alice = app.session("alice").await;

    // The failure is shown (escaped) to everyone; retry is for admins.
    let body = page(&alice, &id).await;
    assert!(body.contains("id=\"publication-error\""));
    assert!(body.contains("GitHub refused (422): Validation Failed &#60;script&#62;"));
    assert!(!body.contains("<script>x"));
    assert!(!body.contains("id=\"retry-publication-submit\""));
    assert!(
        page(&admin, &id)
            .await
            .contains("id=\"retry-publication-submit\"")
    );

    let path = format!("/reports/{id}/disclosure/retry");
    assert_eq!(alice.post(&path, &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.store()
            .get_publication_job(&id)
            .await
            .unwrap()
            .unwrap()
            .state,
        JobState::Failed
    );
    let r = admin.post(&path, &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let job = app.store().get_publication_job(&id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Pending);
    assert_eq!(job.last_error, None);
    assert!(
        app.events(&id)
            .await
            .iter()
            .any(|e| e.kind == "publication-retry")
    );
    // Nothing failed any more: refused.
    let r = admin.post(&path, &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("has not failed"), "{}", r.body);
}

async fn exports_of_a_published_advisory(ts: TestStore) {
    let app = app_with(ts, test_config()).await;
    let id = published(&app, "pipelines").await;
    let auditor = app.session("auditor").await;
    let body = page(&auditor, &id).await;
    assert!(body.contains("href=\"https://github.com/kubeflow/pipelines/issues/7\""));
    assert!(body.contains(&format!("href=\"/reports/{id}/advisory.osv.json\"")));
    assert!(body.contains(&format!("href=\"/reports/{id}/advisory.csaf.json\"")));
    assert!(!body.contains("id=\"schedule-form\""));

    for (format, check) in [("osv", "id"), ("csaf", "document")] {
        let r = auditor
            .get(&format!("/reports/{id}/advisory.{format}.json"))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(
            r.header("content-disposition"),
            Some(format!("attachment; filename=\"{id}.{format}.json\"").as_str())
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let doc: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert!(doc.get(check).is_some(), "{doc}");
        if format == "osv" {
            assert_eq!(doc["id"], "CVE-2026-10001");
            assert!(
                r.body
                    .contains("https://github.com/kubeflow/pipelines/issues/7")
            );
        } else {
            assert_eq!(doc["document"]["csaf_version"], "2.0");
            assert_eq!(doc["document"]["tracking"]["id"], id.to_string());
            assert_eq!(
                doc["document"]["publisher"]["namespace"],
                "https://project.example"
            );
        }
    }
    let exported = app
        .events(&id)
        .await
        .iter()
        .filter(|e| e.kind == "exported")
        .count();
    assert_eq!(exported, 2, "downloads are audited");

    // Not published: nothing to export.
    let scheduled_id = scheduled(&app, "pipelines", "alice", Timestamp::now() + days(5), 1).await;
    let r = auditor
        .get(&format!("/reports/{scheduled_id}/advisory.osv.json"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
