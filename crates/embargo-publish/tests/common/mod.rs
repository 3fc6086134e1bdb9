//! Shared test support: stores on both backends, reports ready for
//! disclosure, and an in-memory fake GitHub with injectable faults and
//! crashes.
#![allow(
    dead_code,
    unused_macros,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod fake;

use embargo_domain::{
    Action, EmbargoPolicy, Login, Severity, State, TrackingId, TrackingPrefix, WgName,
};
use embargo_github::Repo;
use embargo_publish::{AdvisoryInput, PublishConfig, WgRepos, WgTarget};
use embargo_store::{Actor, Direction, NewMessage, NewReport, Signature, Store};
use jiff::{SignedDuration, Timestamp};

// ---------------------------------------------------------------- stores

/// A store on a fresh database; dropped with it (`embargo-testkit`).
pub use embargo_testkit::TestDb as Harness;

/// Runs each case on both backends with the same assertions
/// (`embargo_testkit::on_both_backends`).
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        embargo_testkit::on_both_backends!($($case),*);
    };
}

// ---------------------------------------------------------------- data

pub fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// When every test report is filed.
pub fn t0() -> Timestamp {
    t("2026-03-01T10:00:00Z")
}

pub fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

pub fn secs(n: i64) -> SignedDuration {
    SignedDuration::from_secs(n)
}

pub fn login(s: &str) -> Login {
    Login::parse(s).unwrap()
}

pub fn wg() -> WgName {
    WgName::parse("pipelines").unwrap()
}

pub fn pipelines() -> Repo {
    "kubeflow/pipelines".parse().unwrap()
}

pub const REPORTER: &str = "reporter@example.org";

/// Report content that must never leave the store unsealed.
pub const CANARY: &str = "CANARY-report-body-5e1f";

/// Files a report at `t0()` and takes it through triage (pipelines, high)
/// to `accepted`.
pub async fn accepted_report(store: &Store, mid: &str) -> TrackingId {
    let body = format!("{CANARY} steps to reproduce");
    let filed = store
        .create_report(
            &TrackingPrefix::parse("SEC").unwrap(),
            t0(),
            NewReport {
                subject: "RCE".to_owned(),
                reporter: REPORTER.to_owned(),
            },
            NewMessage {
                message_id: Some(format!("<{mid}>")),
                raw: format!("Message-ID: <{mid}>\r\n\r\n{body}").into_bytes(),
                direction: Direction::Inbound,
                received_at: t0(),
                date: None,
                from: REPORTER.to_owned(),
                subject: "RCE".to_owned(),
                headers: format!("Message-ID: <{mid}>\r\n"),
                body_text: body,
                encrypted: false,
                decrypted: false,
                decrypt_error: None,
                signature: Signature::none(),
                attachments: Vec::new(),
            },
        )
        .await
        .unwrap();
    let id = filed.report().clone();
    let policy = EmbargoPolicy::default();
    let actor = Actor::User(login("triager"));
    let now = t0() + secs(60);
    let r = store.load_domain_report(&id).await.unwrap();
    let triaged = r
        .apply(
            &Action::Triage {
                wg: wg(),
                severity: Severity::High,
            },
            now,
            &policy,
        )
        .unwrap();
    store
        .apply_report_update(State::New, &triaged, &actor, "triaged", "", now)
        .await
        .unwrap();
    let accepted = triaged.apply(&Action::Accept, now, &policy).unwrap();
    store
        .apply_report_update(State::Triaged, &accepted, &actor, "accepted", "", now)
        .await
        .unwrap();
    id
}

/// Advisory text that is secret until the embargo ends.
pub const SECRET_DETAILS: &str = "SECRET-DETAILS-a91c: a crafted pipeline spec runs code";

pub fn advisory(version: &str) -> AdvisoryInput {
    AdvisoryInput {
        markdown: format!("{SECRET_DETAILS} ({version})"),
        title: "Arbitrary code execution in the pipeline API server".to_owned(),
        affected: "< 2.3.1".to_owned(),
        fixed: "2.3.1".to_owned(),
        credit: Some("Jane Doe".to_owned()),
        cve: Some("CVE-2026-10001".to_owned()),
    }
}

pub fn wgs(placeholder: bool) -> WgRepos {
    let mut wgs = WgRepos::new();
    wgs.insert(
        wg(),
        WgTarget {
            repo: pipelines(),
            labels: vec!["area/pipelines".to_owned()],
            placeholder,
        },
    );
    wgs
}

pub fn config(placeholder: bool) -> PublishConfig {
    PublishConfig::new(wgs(placeholder))
}
