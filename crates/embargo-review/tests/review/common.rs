//! Shared test helpers: the both-backends harness (copied from
//! embargo-store's tests/store.rs), team and lead keys, reports in a given
//! state, the shared corpus.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use embargo_domain::{Login, Role, Severity, State, TrackingId, TrackingPrefix, WgName};
use embargo_outbound::TeamIdentity;
use embargo_pgp::{Keyring, generate_team_key};
use embargo_seal::StorageKeys;
use embargo_store::{Actor, Backend, Direction, NewMessage, NewReport, NewUser, Signature, Store};
use jiff::Timestamp;
use sqlx::{Connection, Executor};

// ---------------------------------------------------------------- harness

struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Runs on success and on panic alike; a thread with its own runtime
        // because Drop cannot await.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = conn.execute(sqlx::AssertSqlSafe(sql)).await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

pub struct Harness {
    pub store: Store,
    pub url: String,
    pub dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
}

fn keys_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("storage.key")
}

/// The URL of database `name` on the server of `url`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[after_scheme..]
        .find('/')
        .map(|i| after_scheme + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..host_end], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl Harness {
    pub async fn sqlite() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let keys = StorageKeys::generate_file(&keys_path(&dir)).unwrap();
        let url = format!("sqlite://{}", dir.path().join("embargo.db").display());
        let store = Store::connect(&url, keys).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        Harness {
            store,
            url,
            dir,
            pg: None,
        }
    }

    pub async fn postgres() -> Option<Harness> {
        let admin_url = match std::env::var("TEST_DATABASE_URL") {
            Ok(u) if !u.is_empty() => u,
            _ => {
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!(
                        "CI=true but TEST_DATABASE_URL is not set: the store suite must run on PostgreSQL in CI \
                         (e.g. TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test)"
                    );
                }
                eprintln!("skipping PostgreSQL: TEST_DATABASE_URL not set");
                return None;
            }
        };
        sqlx::any::install_default_drivers();
        let name = format!("embargo_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::AnyConnection::connect(&admin_url)
            .await
            .expect("connect to TEST_DATABASE_URL");
        // Test-only DDL: the name is generated above, not input.
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .unwrap();
        admin.close().await.unwrap();
        let pg = PgDatabase {
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        let dir = tempfile::tempdir().unwrap();
        let keys = StorageKeys::generate_file(&keys_path(&dir)).unwrap();
        let url = with_database(&admin_url, &name);
        let store = Store::connect(&url, keys).await.unwrap();
        assert_eq!(store.backend(), Backend::Postgres);
        Some(Harness {
            store,
            url,
            dir,
            pg: Some(pg),
        })
    }

    pub fn keys(&self) -> StorageKeys {
        StorageKeys::load(&keys_path(&self.dir)).unwrap()
    }

    pub async fn finish(self) {
        self.store.close().await;
        drop(self.pg);
    }
}

/// Runs each case on both backends with the same assertions.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let h = $crate::common::Harness::sqlite().await;
                super::$case(&h).await;
                h.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some(h) = $crate::common::Harness::postgres().await else { return };
                super::$case(&h).await;
                h.finish().await;
            }
        }
    )*};
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

/// The header block of a message, unfolded, as (name, value) pairs.
pub fn headers(message: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            out.last_mut().unwrap().1.push_str(line);
        } else if let Some((n, v)) = line.split_once(':') {
            out.push((n.to_owned(), v.trim().to_owned()));
        }
    }
    out
}

pub fn header(message: &[u8], name: &str) -> Option<String> {
    headers(message)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}
