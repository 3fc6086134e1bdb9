//! [`StoreError`] and the mapping from sqlx errors.

use std::path::PathBuf;

use sqlx::error::ErrorKind;

/// Everything the store can fail with.
///
/// Callers map [`StoreError::Unavailable`] to "temporary failure, try again
/// later" (e.g. EX_TEMPFAIL for an MTA); everything else is permanent for the
/// request at hand. Messages never carry sealed content.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or cannot take the write right now:
    /// connection refused or lost, pool timeout, I/O error, disk full,
    /// database busy or locked, serialization failure.
    #[error("database unavailable, try again later: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The row exists already, or changed under us (optimistic check, lost
    /// lease).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// Stored data does not decode or a sealed value does not open (wrong
    /// storage key, tampering, a blob moved between rows).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The caller passed something the store refuses.
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("unsupported database URL scheme {0:?}: expected sqlite:// or postgres://")]
    UnsupportedScheme(String),
    #[error("cannot create SQLite database {path}: directory {dir} does not exist")]
    MissingDirectory { path: PathBuf, dir: PathBuf },
    #[error("database migration failed: {0}")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// Any other database error (a bug rather than a condition).
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// SQLite primary result codes that mean "not now" rather than "never".
fn sqlite_transient(code: i64) -> bool {
    matches!(
        code & 0xff,
        5  // SQLITE_BUSY
        | 6  // SQLITE_LOCKED
        | 7  // SQLITE_NOMEM
        | 10 // SQLITE_IOERR
        | 13 // SQLITE_FULL
        | 14 // SQLITE_CANTOPEN
        | 15 // SQLITE_PROTOCOL
    )
}

/// PostgreSQL SQLSTATEs that mean "not now".
fn postgres_transient(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("53") // insufficient resources (disk full, out of memory, too many connections)
        || code.starts_with("58") // system error (I/O)
        || matches!(
            code,
            "40001" // serialization_failure
            | "40P01" // deadlock_detected
            | "55P03" // lock_not_available
            | "57P01" // admin_shutdown
            | "57P02" // crash_shutdown
            | "57P03" // cannot_connect_now
            | "57014" // query_canceled (statement timeout)
        )
}

/// Whether an sqlx error means "not now" rather than "never".
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => match code.parse::<i64>() {
                Ok(n) => sqlite_transient(n),
                Err(_) => postgres_transient(&code),
            },
            None => false,
        },
        _ => false,
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if is_unavailable(&err) {
            return StoreError::Unavailable(err);
        }
        match &err {
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation => StoreError::Conflict(db.message().to_owned()),
                ErrorKind::ForeignKeyViolation => StoreError::Invalid(format!(
                    "refers to a row that does not exist ({})",
                    db.message()
                )),
                _ => StoreError::Database(err),
            },
            sqlx::Error::RowNotFound => StoreError::NotFound("row".to_owned()),
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                StoreError::Corrupt(err.to_string())
            }
            _ => StoreError::Database(err),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        match err {
            sqlx::migrate::MigrateError::Execute(inner) if is_unavailable(&inner) => {
                StoreError::Unavailable(inner)
            }
            other => StoreError::Migration(other),
        }
    }
}

impl StoreError {
    /// Whether the caller should retry later (see [`StoreError::Unavailable`]).
    pub fn is_temporary(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}
