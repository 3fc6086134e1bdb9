//! The both-backends store harness.

use std::path::PathBuf;

use embargo_seal::StorageKeys;
use embargo_store::{Backend, Store};
use sqlx::{Connection, Executor};

/// A test database on the PostgreSQL server; dropped (`WITH (FORCE)`)
/// with its owner, on success and on panic alike.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // A thread with its own runtime, because Drop cannot await.
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

/// What keeps a store's files and database alive (see
/// [`TestDb::into_store`]).
pub struct Keep {
    _dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

/// A store on a fresh database: a SQLite file in a temp dir, or a new
/// database on the server of `TEST_DATABASE_URL`. The storage key file is
/// `dir/storage.key`.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
}

/// The URL of database `name` on the server of `url`.
pub fn with_database(url: &str, name: &str) -> String {
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

fn keys_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("storage.key")
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let keys = StorageKeys::generate_file(&keys_in(&dir)).unwrap();
        let url = format!("sqlite://{}", dir.path().join("embargo.db").display());
        let store = Store::connect(&url, keys).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        TestDb {
            store,
            url,
            dir,
            pg: None,
        }
    }

    /// A fresh database on the server of `TEST_DATABASE_URL`. Without it:
    /// under `CI=true` the test fails; otherwise `None`, after printing
    /// why (the caller skips).
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = match std::env::var("TEST_DATABASE_URL") {
            Ok(u) if !u.is_empty() => u,
            _ => {
                if crate::in_ci() {
                    panic!(
                        "CI=true but TEST_DATABASE_URL is not set: the store tests must run on PostgreSQL in CI \
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
        let keys = StorageKeys::generate_file(&keys_in(&dir)).unwrap();
        let url = with_database(&admin_url, &name);
        let store = Store::connect(&url, keys).await.unwrap();
        assert_eq!(store.backend(), Backend::Postgres);
        Some(TestDb {
            store,
            url,
            dir,
            pg: Some(pg),
        })
    }

    /// The storage key file.
    pub fn keys_path(&self) -> PathBuf {
        keys_in(&self.dir)
    }

    /// The storage keys, loaded again from their file.
    pub fn keys(&self) -> StorageKeys {
        StorageKeys::load(&self.keys_path()).unwrap()
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// Everything the database holds at rest, as bytes: the SQLite file
    /// and its WAL (read while the pool is open, before any checkpoint
    /// on close), or a `pg_dump` of the test database.
    pub async fn at_rest_bytes(&self) -> Vec<u8> {
        match self.backend() {
            Backend::Sqlite => {
                let db = self.dir.path().join("embargo.db");
                let mut bytes = std::fs::read(&db).unwrap();
                let wal = self.dir.path().join("embargo.db-wal");
                assert!(wal.exists(), "SQLite runs in WAL mode");
                bytes.extend(std::fs::read(&wal).unwrap());
                bytes
            }
            Backend::Postgres => {
                let out = tokio::process::Command::new("pg_dump")
                    .arg(format!("--dbname={}", self.url))
                    .output()
                    .await
                    .expect("run pg_dump");
                assert!(
                    out.status.success(),
                    "pg_dump failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(!out.stdout.is_empty());
                out.stdout
            }
        }
    }

    /// The store, and what keeps its files and database alive: drop the
    /// [`Keep`] after the store.
    pub fn into_store(self) -> (Store, Keep) {
        (
            self.store,
            Keep {
                _dir: self.dir,
                _pg: self.pg,
            },
        )
    }

    /// Closes the store, then drops the database.
    pub async fn finish(self) {
        self.store.close().await;
        drop(self.pg);
    }
}

/// Runs each case (`async fn case(h: &TestDb)`, in the calling module) on
/// both backends with the same assertions: `case::sqlite` and
/// `case::postgres` (skipped without `TEST_DATABASE_URL`, except under
/// `CI=true`).
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            pub async fn sqlite() {
                let h = $crate::TestDb::sqlite().await;
                super::$case(&h).await;
                h.finish().await;
            }

            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            pub async fn postgres() {
                let Some(h) = $crate::TestDb::postgres().await else { return };
                super::$case(&h).await;
                h.finish().await;
            }
        }
    )*};
}

/// A plain inbound message: `Message-ID: <mid>`, `body`, received at
/// `at`, from `reporter@example.org`, subject `report`, not encrypted.
pub fn inbound_message(mid: &str, body: &str, at: jiff::Timestamp) -> embargo_store::NewMessage {
    embargo_store::NewMessage {
        message_id: Some(format!("<{mid}>")),
        raw: format!("Message-ID: <{mid}>\r\n\r\n{body}").into_bytes(),
        direction: embargo_store::Direction::Inbound,
        received_at: at,
        date: None,
        from: "reporter@example.org".to_owned(),
        subject: "report".to_owned(),
        headers: format!("Message-ID: <{mid}>\r\n"),
        body_text: body.to_owned(),
        encrypted: false,
        decrypted: false,
        decrypt_error: None,
        signature: embargo_store::Signature::none(),
        attachments: Vec::new(),
    }
}

/// Files a new report (`SEC-…`, subject `subject`) from
/// [`inbound_message`] at `at`.
pub async fn file_report(
    store: &Store,
    subject: &str,
    mid: &str,
    body: &str,
    at: jiff::Timestamp,
) -> embargo_domain::TrackingId {
    store
        .create_report(
            &embargo_domain::TrackingPrefix::parse("SEC").unwrap(),
            at,
            embargo_store::NewReport {
                subject: subject.to_owned(),
                reporter: "reporter@example.org".to_owned(),
            },
            inbound_message(mid, body, at),
        )
        .await
        .unwrap()
        .report()
        .clone()
}
