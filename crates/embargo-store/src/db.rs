//! Small helpers: row decoding, timestamps, sealing contexts, hashing.

use embargo_domain::TrackingId;
use embargo_seal::StorageKeys;
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, Decode, Row, Type};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::{Result, StoreError};

pub(crate) fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub(crate) fn opt_ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(ms)
}

pub(crate) fn ts(ms: i64) -> Result<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|_| StoreError::corrupt("timestamp out of range"))
}

pub(crate) fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T>
where
    T: Decode<'r, Any> + Type<Any>,
{
    row.try_get(col).map_err(StoreError::from)
}

/// Booleans are BOOLEAN on PostgreSQL and INTEGER 0/1 on SQLite.
pub(crate) fn get_bool(row: &AnyRow, col: &str) -> Result<bool> {
    match row.try_get::<bool, _>(col) {
        Ok(b) => Ok(b),
        Err(_) => get::<i64>(row, col).map(|i| i != 0),
    }
}

pub(crate) fn get_ts(row: &AnyRow, col: &str) -> Result<Timestamp> {
    ts(get::<i64>(row, col)?)
}

pub(crate) fn get_opt_ts(row: &AnyRow, col: &str) -> Result<Option<Timestamp>> {
    get::<Option<i64>>(row, col)?.map(ts).transpose()
}

pub(crate) fn get_u64(row: &AnyRow, col: &str) -> Result<u64> {
    u64::try_from(get::<i64>(row, col)?)
        .map_err(|_| StoreError::corrupt(format!("{col} is negative")))
}

pub(crate) fn get_u32(row: &AnyRow, col: &str) -> Result<u32> {
    u32::try_from(get::<i64>(row, col)?)
        .map_err(|_| StoreError::corrupt(format!("{col} out of range")))
}

pub(crate) fn get_uuid(row: &AnyRow, col: &str) -> Result<Uuid> {
    let s: String = get(row, col)?;
    Uuid::parse_str(&s).map_err(|_| StoreError::corrupt(format!("{col} is not a UUID")))
}

/// A stored WG name (NULL: none).
pub(crate) fn parse_wg(w: Option<String>) -> Result<Option<embargo_domain::WgName>> {
    w.map(|w| embargo_domain::WgName::parse(&w))
        .transpose()
        .map_err(|_| StoreError::corrupt("stored WG name does not parse"))
}

pub(crate) fn parse_tracking_id(s: &str) -> Result<TrackingId> {
    s.parse()
        .map_err(|_| StoreError::corrupt("stored tracking ID does not parse"))
}

pub(crate) fn get_tracking_id(row: &AnyRow, col: &str) -> Result<TrackingId> {
    parse_tracking_id(&get::<String>(row, col)?)
}

pub(crate) fn get_opt_tracking_id(row: &AnyRow, col: &str) -> Result<Option<TrackingId>> {
    get::<Option<String>>(row, col)?
        .map(|s| parse_tracking_id(&s))
        .transpose()
}

pub(crate) fn get_parsed<T: std::str::FromStr>(row: &AnyRow, col: &str) -> Result<T> {
    let s: String = get(row, col)?;
    s.parse()
        .map_err(|_| StoreError::corrupt(format!("{col} holds an unknown value")))
}

pub(crate) fn get_opt_parsed<T: std::str::FromStr>(row: &AnyRow, col: &str) -> Result<Option<T>> {
    get::<Option<String>>(row, col)?
        .map(|s| {
            s.parse()
                .map_err(|_| StoreError::corrupt(format!("{col} holds an unknown value")))
        })
        .transpose()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hash under which a `Message-ID` is stored and looked up: SHA-256
/// (lower-case hex) of the ID without surrounding whitespace and angle
/// brackets, so `<a@b>` and `a@b` are the same message.
pub fn message_id_hash(message_id: &str) -> String {
    let trimmed = message_id.trim();
    let inner = trimmed
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(trimmed)
        .trim();
    sha256_hex(inner.as_bytes())
}

/// The hash under which a session token is stored: SHA-256, lower-case hex.
pub fn hash_token(token: &[u8]) -> String {
    sha256_hex(token)
}

/// Seals and opens column values bound to `embargo:<table>:<column>:<row id>`.
#[derive(Clone, Copy)]
pub(crate) struct Sealer<'a>(pub(crate) &'a StorageKeys);

fn context(table: &str, column: &str, id: &str) -> Vec<u8> {
    format!("embargo:{table}:{column}:{id}").into_bytes()
}

impl Sealer<'_> {
    pub(crate) fn seal(
        &self,
        table: &str,
        column: &str,
        id: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        self.0
            .seal(&context(table, column, id), plaintext)
            .map_err(|e| StoreError::Invalid(format!("cannot seal {table}.{column}: {e}")))
    }

    pub(crate) fn open(
        &self,
        table: &str,
        column: &str,
        id: &str,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.0
            .open(&context(table, column, id), blob)
            .map_err(|e| StoreError::Corrupt(format!("{table}.{column} of {id}: {e}")))
    }

    pub(crate) fn open_text(
        &self,
        table: &str,
        column: &str,
        id: &str,
        blob: &[u8],
    ) -> Result<String> {
        let bytes = self.open(table, column, id, blob)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| StoreError::Corrupt(format!("{table}.{column} of {id}: not UTF-8")))
    }

    pub(crate) fn open_col_text(
        &self,
        row: &AnyRow,
        table: &str,
        column: &str,
        id: &str,
    ) -> Result<String> {
        let blob: Vec<u8> = get(row, column)?;
        self.open_text(table, column, id, &blob)
    }

    pub(crate) fn open_opt_col_text(
        &self,
        row: &AnyRow,
        table: &str,
        column: &str,
        id: &str,
    ) -> Result<Option<String>> {
        get::<Option<Vec<u8>>>(row, column)?
            .map(|blob| self.open_text(table, column, id, &blob))
            .transpose()
    }
}
