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
use embargo_seal::StorageKeys;
use embargo_store::{Actor, Backend, Direction, NewMessage, NewReport, Signature, Store};
use jiff::{SignedDuration, Timestamp};
use sqlx::{Connection, Executor};

// ---------------------------------------------------------------- stores

struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
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

/// A store on a fresh database; dropped with it.
pub struct Harness {
    pub store: Store,
    pub url: String,
    _dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
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
        let keys = StorageKeys::generate_file(&dir.path().join("storage.key")).unwrap();
        let url = format!("sqlite://{}", dir.path().join("embargo.db").display());
        let store = Store::connect(&url, keys).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        Harness {
            store,
            url,
            _dir: dir,
            pg: None,
        }
    }

    /// `None` (skipped) without `TEST_DATABASE_URL`, except under `CI=true`.
    pub async fn postgres() -> Option<Harness> {
        let admin_url = match std::env::var("TEST_DATABASE_URL") {
            Ok(u) if !u.is_empty() => u,
            _ => {
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!(
                        "CI=true but TEST_DATABASE_URL is not set: these tests must run on PostgreSQL in CI \
                         (e.g. TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test)"
                    );
                }
                eprintln!("skipping PostgreSQL: TEST_DATABASE_URL not set");
                return None;
            }
        };
        sqlx::any::install_default_drivers();
        let name = format!("embargo_publish_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::AnyConnection::connect(&admin_url)
            .await
            .expect("connect to TEST_DATABASE_URL");
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
        let keys = StorageKeys::generate_file(&dir.path().join("storage.key")).unwrap();
        let url = with_database(&admin_url, &name);
        let store = Store::connect(&url, keys).await.unwrap();
        assert_eq!(store.backend(), Backend::Postgres);
        Some(Harness {
            store,
            url,
            _dir: dir,
            pg: Some(pg),
        })
    }

    pub async fn finish(self) {
        self.store.close().await;
        drop(self.pg);
    }
}

/// Runs each case on both backends with the same assertions.
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
