//! Shared test helpers: the both-backends harness (`embargo-testkit`),
//! team and lead keys, reports in a given
//! state, the shared corpus.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use embargo_domain::{Login, Role, Severity, State, TrackingId, TrackingPrefix, WgName};
use embargo_outbound::TeamIdentity;
use embargo_pgp::{Keyring, generate_team_key};
use embargo_store::{Actor, Direction, NewMessage, NewReport, NewUser, Signature, Store};
use jiff::Timestamp;

// ---------------------------------------------------------------- harness

pub use embargo_testkit::TestDb as Harness;
pub use embargo_testkit::header;

/// Runs each case on both backends with the same assertions
/// (`embargo_testkit::on_both_backends`).
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        embargo_testkit::on_both_backends!($($case),*);
    };
}

// ---------------------------------------------------------------- data

pub const TEAM_ADDR: &str = "security@project.example";

pub fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub fn wg(s: &str) -> WgName {
    WgName::parse(s).unwrap()
}

pub fn login(s: &str) -> Login {
    Login::parse(s).unwrap()
}

pub fn corpus(rel: &str) -> PathBuf {
    let base = std::env::var_os("EMBARGO_CORPUS")
        .map(PathBuf::from)
        .or_else(|| {
            let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
            beside.is_dir().then_some(beside)
        })
        .unwrap_or_else(|| PathBuf::from("/work/shared/corpus"));
    base.join(rel)
}

pub fn team() -> TeamIdentity {
    static TEAM: OnceLock<TeamIdentity> = OnceLock::new();
    TEAM.get_or_init(|| {
        let keyring = Keyring::from(
            generate_team_key("Project Security <security@project.example>").unwrap(),
        );
        TeamIdentity::new(TEAM_ADDR, Some("Project Security"), keyring).unwrap()
    })
    .clone()
}

/// An armored public key for `email`.
pub fn public_key(email: &str) -> String {
    generate_team_key(&format!("Lead <{email}>"))
        .unwrap()
        .public_armored()
        .unwrap()
}

pub async fn add_user(
    store: &Store,
    name: &str,
    role: Role,
    wg_name: Option<&str>,
    email: Option<&str>,
    cert: Option<String>,
) {
    store
        .add_user(NewUser {
            login: login(name),
            role,
            wg: wg_name.map(wg),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
            must_change_password: false,
            email: email.map(str::to_owned),
            pgp_cert: cert,
            totp_secret: None,
            created_at: t("2026-01-01T00:00:00Z"),
        })
        .await
        .unwrap();
}

/// Files a report with `subject` and `body`.
pub async fn file_report(store: &Store, subject: &str, body: &str, at: Timestamp) -> TrackingId {
    let mid = format!("{}@reporter.example", uuid::Uuid::new_v4().simple());
    store
        .create_report(
            &TrackingPrefix::parse("KF").unwrap(),
            at,
            NewReport {
                subject: subject.to_owned(),
                reporter: "reporter@example.org".to_owned(),
            },
            NewMessage {
                message_id: Some(format!("<{mid}>")),
                raw: format!("Message-ID: <{mid}>\r\nSubject: {subject}\r\n\r\n{body}")
                    .into_bytes(),
                direction: Direction::Inbound,
                received_at: at,
                date: Some(at),
                from: "reporter@example.org".to_owned(),
                subject: subject.to_owned(),
                headers: format!("Message-ID: <{mid}>\r\nSubject: {subject}\r\n"),
                body_text: body.to_owned(),
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
        .clone()
}

/// Moves a report to `state` with `wg` and `severity` (and an embargo end
/// when scheduled), as a triager would, at `at`.
pub async fn set_report(
    store: &Store,
    id: &TrackingId,
    state: State,
    wg_name: Option<&str>,
    severity: Option<Severity>,
    embargo_until: Option<Timestamp>,
    at: Timestamp,
) {
    let mut r = store.load_domain_report(id).await.unwrap();
    let before = r.state;
    r.state = state;
    r.wg = wg_name.map(wg);
    r.severity = severity;
    r.embargo_until = embargo_until;
    store
        .apply_report_update(
            before,
            &r,
            &Actor::User(login("triager")),
            state.as_str(),
            "",
            at,
        )
        .await
        .unwrap();
}

/// Files a report and moves it to `state` in one go.
pub async fn report_in(
    store: &Store,
    subject: &str,
    state: State,
    wg_name: Option<&str>,
    severity: Option<Severity>,
    filed: Timestamp,
) -> TrackingId {
    let id = file_report(store, subject, "details", filed).await;
    if state != State::New || wg_name.is_some() {
        let until =
            (state == State::Scheduled).then(|| filed + jiff::SignedDuration::from_hours(24 * 60));
        set_report(
            store,
            &id,
            state,
            wg_name,
            severity,
            until,
            filed + jiff::SignedDuration::from_secs(60),
        )
        .await;
    }
    id
}

pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}
