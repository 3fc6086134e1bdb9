//! The both-backends harness every store suite shares: SQLite on a temp
//! file, and PostgreSQL (a fresh database per test) when
//! `TEST_DATABASE_URL` is set; under `CI=true` a missing
//! `TEST_DATABASE_URL` fails the PostgreSQL runs.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use embargo_seal::StorageKeys;
use embargo_store::{Backend, Store};
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

pub fn keys_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("storage.key")
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

    pub async fn finish(self) {
        self.store.close().await;
        drop(self.pg);
    }
}

/// Runs each case on both backends with the same assertions.
macro_rules! on_both_backends_impl {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            pub async fn sqlite() {
                let h = super::Harness::sqlite().await;
                super::$case(&h).await;
                h.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            pub async fn postgres() {
                let Some(h) = super::Harness::postgres().await else { return };
                super::$case(&h).await;
                h.finish().await;
            }
        }
    )*};
}

pub(crate) use on_both_backends_impl as on_both_backends;
