//! The sealed store: reports, messages, audit trail, accounts, sessions,
//! outbox, publication and placeholder jobs, on SQLite (the embedded
//! default) or PostgreSQL through one code path (`sqlx::AnyPool`).
//!
//! * Every piece of content (subjects, bodies, headers, addresses,
//!   attachments, event details, outgoing mail) is sealed with
//!   [`embargo_seal::StorageKeys`] and bound to
//!   `embargo:<table>:<column>:<row id>`; states, WG names, severities,
//!   timestamps and hashes stay in clear so they can be queried.
//! * Timestamps are BIGINT unix milliseconds; row IDs of messages,
//!   attachments, events and outbox entries are UUIDv7 text generated here,
//!   so they are known before the insert (they are part of the AEAD context).
//! * Schema: `migrations/sqlite` and `migrations/postgres` (same file names),
//!   embedded at compile time and applied by [`Store::connect`].
//! * Writes go through a [`Tx`]; on SQLite every write transaction is
//!   `BEGIN IMMEDIATE` (writers queue on the busy timeout instead of failing
//!   on a lock upgrade).
//! * SQL uses `$1, $2, …` placeholders on both backends.

mod backup;
mod counters;
mod db;
mod disclosure;
mod error;
mod mailflow;
mod model;
mod placeholder_jobs;
mod queue;
mod registry;
mod reports;
mod users;
mod views;
mod warnings;

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use embargo_seal::StorageKeys;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Connection, Executor};

pub use counters::{IntakeChannel, IntakeCount, IntakeOutcome};
pub use db::{hash_token, message_id_hash};
pub use disclosure::{
    AdvisoryText, Approval, Disclosure, DisclosureWrite, JobRelease, MAX_APPROVALS_REQUIRED,
    PlaceholderIssue,
};
pub use error::{Result, StoreError};
pub use mailflow::{MessageUpdate, OutboxEntry, OutboxLink, RetryCandidate};
pub use model::{
    Actor, AttachmentMeta, Backend, Direction, Event, FailedLogins, Filed, JobOutcome, JobState,
    MessageDetail, NewAttachment, NewMessage, NewOutbox, NewReport, NewSession, NewUser,
    OutboxCounts, OutboxItem, OutboxState, PublicationJob, ReportDetail, ReportFilter,
    ReportSummary, Retry, Session, SigStatus, Signature, User,
};
pub use placeholder_jobs::{PlaceholderClaim, PlaceholderJob};
pub use registry::{
    DigestKind, DigestRun, ImportKind, ImportRun, LastAction, NewImportRun, ReviewRun,
    ScanFindingRow, ScanImageRow, ScanRelease, WgRecord, check_release,
};
pub use views::{
    BenchSeed, DashboardStats, Overdue, ReportCursor, ReportPage, ReportQuery, ReportSort,
    ReportView, Sla,
};
pub use warnings::{EmbargoEnding, SentWarning};

use db::Sealer;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

/// Per-connection settings on SQLite. `synchronous=FULL`: a message
/// acknowledged to an MTA must survive power loss, and in WAL mode `NORMAL`
/// may lose the last commits.
const SQLITE_PRAGMAS: &str =
    "PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";

/// Pool settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Default: 8 on SQLite, 10 on PostgreSQL.
    pub max_connections: Option<u32>,
    /// How long to wait for a connection (including connecting) before
    /// failing with [`StoreError::Unavailable`]. Default 10 s.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// The store. Cheap to clone (a pool and the keyring behind `Arc`s).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    keys: Arc<StorageKeys>,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Which backend a database URL names, from its scheme alone.
pub fn backend_of(url: &str) -> Result<Backend> {
    let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        _ => Err(StoreError::UnsupportedScheme(
            scheme.chars().take(32).collect(),
        )),
    }
}

/// Checks a SQLite URL, creates the database file (mode 0600) when it is
/// missing and its directory exists, and returns the URL to connect with.
fn prepare_sqlite(url: &str) -> Result<String> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(StoreError::Invalid(
            "in-memory SQLite is not supported: messages must be stored durably".to_owned(),
        ));
    }
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Invalid(format!("bad SQLite URL: {e}")))?;
    let path = opts.get_filename().to_path_buf();
    if path.as_os_str().is_empty() {
        return Err(StoreError::Invalid(
            "SQLite URL names no database file".to_owned(),
        ));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    if !dir.is_dir() {
        return Err(StoreError::MissingDirectory { path, dir });
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(_) => tracing::info!(path = %path.display(), "created SQLite database file"),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(StoreError::Unavailable(sqlx::Error::Io(e))),
    }
    Ok(opts.create_if_missing(true).to_url_lossy().to_string())
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies the
    /// migrations of that dialect.
    pub async fn connect(url: &str, keys: StorageKeys) -> Result<Store> {
        Self::connect_with(url, keys, StoreOptions::default()).await
    }

    pub async fn connect_with(
        url: &str,
        keys: StorageKeys,
        options: StoreOptions,
    ) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let connect_url = match backend {
            Backend::Sqlite => prepare_sqlite(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let connect_options = AnyConnectOptions::from_str(&connect_url)
            .map_err(|e| StoreError::Invalid(format!("bad database URL: {e}")))?;
        let max = options.max_connections.unwrap_or(match backend {
            Backend::Sqlite => 8,
            Backend::Postgres => 10,
        });
        let mut pool_options = AnyPoolOptions::new()
            .max_connections(max.max(1))
            .acquire_timeout(options.acquire_timeout);
        if backend == Backend::Sqlite {
            pool_options = pool_options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(SQLITE_PRAGMAS).await?;
                    let mode: String = sqlx::query_scalar("PRAGMA journal_mode = WAL")
                        .fetch_one(&mut *conn)
                        .await?;
                    if !mode.eq_ignore_ascii_case("wal") {
                        tracing::warn!(%mode, "SQLite refused WAL journal mode");
                    }
                    Ok(())
                })
            });
        }
        let pool = pool_options.connect_with(connect_options).await?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        // PostgreSQL migrations take an advisory lock. SQLite has none: two
        // processes opening a new database at once may both try the first
        // migration, and the loser fails; its retry finds it applied.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match migrator.run(&pool).await {
                Ok(()) => break,
                Err(e) if backend == Backend::Sqlite && attempt < 3 => {
                    tracing::warn!(error = %e, attempt, "SQLite migration failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        tracing::info!(%backend, "store ready");
        Ok(Store {
            pool,
            keys: Arc::new(keys),
            backend,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Round trip to the database.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        conn.ping().await?;
        Ok(())
    }

    /// Closes every connection (waits for those in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The underlying pool, for queries this crate does not offer. Content
    /// columns are sealed: read them through the store.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(crate) fn sealer(&self) -> Sealer<'_> {
        Sealer(&self.keys)
    }

    /// Starts a write transaction (on SQLite: `BEGIN IMMEDIATE`).
    pub async fn begin(&self) -> Result<Tx<'_>> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Tx {
            tx,
            sealer: self.sealer(),
            backend: self.backend,
        })
    }
}

/// A write transaction: several store operations that commit together, e.g.
/// a state change, its audit event and the mail it causes. Dropped without
/// [`Tx::commit`], it rolls back.
pub struct Tx<'s> {
    tx: sqlx::Transaction<'static, Any>,
    sealer: Sealer<'s>,
    backend: Backend,
}

impl Tx<'_> {
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection, for queries this crate does not offer.
    pub fn connection(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}
