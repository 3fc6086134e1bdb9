//! What the security team's processes keep (issue 7): the WG registry, the
//! release scans per WG, import runs, bi-weekly reviews and the runs of
//! mail to WG leads (digests, scan slices).
//!
//! Same conventions as the rest of the store: `$N` placeholders on both
//! backends, every value bound, BIGINT unix milliseconds. The leads of a
//! WG (addresses and OpenPGP keys: personal data) are sealed, bound to
//! `embargo:wg_registry:leads_sealed:<name>`; everything else here is
//! public or triage metadata and stays in clear so it can be queried.
//!
//! The store knows nothing of the registry's shape beyond these rows:
//! `embargo-review` turns them into an `embargo_wg::Registry`.

use std::fmt;
use std::str::FromStr;

use embargo_domain::{Login, TrackingId, WgName};
use jiff::Timestamp;
use sqlx::any::AnyRow;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::db::{
    Sealer, get, get_opt_ts, get_ts, get_u64, get_uuid, ms, opt_ms, parse_tracking_id,
};
use crate::error::{Result, StoreError};
use crate::{Store, Tx};

/// Rows of a multi-row INSERT of scan data.
const INSERT_BATCH: usize = 400;

/// Longest list item, title, image, ID or version kept here, in bytes.
const MAX_VALUE_LEN: usize = 4096;

/// Most bytes of an import run's summary.
const MAX_SUMMARY_LEN: usize = 64 * 1024;

// ---------------------------------------------------------------- types

/// One WG of the registry as stored. Lists keep their order; no value may
/// hold a line break or another control character.
#[derive(Clone, PartialEq, Eq)]
pub struct WgRecord {
    pub name: WgName,
    pub title: Option<String>,
    pub repos: Vec<String>,
    pub labels: Vec<String>,
    pub images: Vec<String>,
    pub paths: Vec<String>,
    pub keywords: Vec<String>,
    /// Names of the fields set by hand (an import leaves them alone).
    pub hand_set: Vec<String>,
    /// The leads, serialized by the caller (addresses and keys): sealed at
    /// rest.
    pub leads: Zeroizing<String>,
    pub updated_at: Timestamp,
}

impl fmt::Debug for WgRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WgRecord")
            .field("name", &self.name)
            .field("repos", &self.repos.len())
            .field("images", &self.images.len())
            .field("hand_set", &self.hand_set)
            .field("leads", &"***")
            .finish_non_exhaustive()
    }
}

/// What an import read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportKind {
    /// A `wgs.yaml` into the WG registry.
    Wgs,
    /// Release scan results.
    Scan,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Wgs => "wgs",
            ImportKind::Scan => "scan",
        }
    }
}

impl FromStr for ImportKind {
    type Err = ();
    fn from_str(s: &str) -> std::result::Result<Self, ()> {
        match s {
            "wgs" => Ok(ImportKind::Wgs),
            "scan" => Ok(ImportKind::Scan),
            _ => Err(()),
        }
    }
}

impl fmt::Display for ImportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ImportKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An import to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewImportRun {
    pub kind: ImportKind,
    /// The release of a scan import.
    pub release: Option<String>,
    /// Who ran it: a login, `system`, or `cli`.
    pub actor: String,
    /// SHA-256 (hex) of the input, when it is one file.
    pub source_sha256: Option<String>,
    pub files_ok: u64,
    pub files_failed: u64,
    /// Counts and names only (e.g. JSON), never personal data.
    pub summary: String,
}

/// A recorded import.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportRun {
    pub id: Uuid,
    pub kind: ImportKind,
    pub release: Option<String>,
    pub at: Timestamp,
    pub actor: String,
    pub source_sha256: Option<String>,
    pub files_ok: u64,
    pub files_failed: u64,
    pub summary: String,
}

/// A scanned image of a release and its WG (`None`: unmapped).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScanImageRow {
    pub image: String,
    pub wg: Option<WgName>,
}

/// One finding of a release scan. `severity` is one of `LOW`, `MEDIUM`,
/// `HIGH`, `CRITICAL`, `UNKNOWN`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScanFindingRow {
    pub wg: Option<WgName>,
    pub image: String,
    pub vuln_id: String,
    pub package: String,
    pub installed: String,
    pub fixed: Option<String>,
    pub severity: String,
}

/// A release with stored scan results.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScanRelease {
    pub release: String,
    pub import_id: Uuid,
    pub imported_at: Timestamp,
    pub images: u64,
    pub findings: u64,
}

/// A bi-weekly review marked done.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReviewRun {
    pub id: Uuid,
    pub done_at: Timestamp,
    pub done_by: Login,
    /// Where the reviewed agenda started, when known.
    pub since: Option<Timestamp>,
}

/// What mail to WG leads a [`DigestRun`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestKind {
    /// The periodic digest; the run key is the period start (unix ms).
    Digest,
    /// A release scan slice; the run key is the release.
    Scan,
}

impl DigestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DigestKind::Digest => "digest",
            DigestKind::Scan => "scan",
        }
    }
}

impl FromStr for DigestKind {
    type Err = ();
    fn from_str(s: &str) -> std::result::Result<Self, ()> {
        match s {
            "digest" => Ok(DigestKind::Digest),
            "scan" => Ok(DigestKind::Scan),
            _ => Err(()),
        }
    }
}

impl serde::Serialize for DigestKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Mail sent to one WG's leads, once per `(kind, wg, run_key)`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DigestRun {
    pub kind: DigestKind,
    pub wg: WgName,
    pub run_key: String,
    pub created_at: Timestamp,
    pub recipients: u64,
    pub encrypted: u64,
    pub notices: u64,
}

/// The latest audit event of a report: what was last done, by whom, when
/// (the event's detail is sealed and not read here).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LastAction {
    pub report_id: TrackingId,
    pub kind: String,
    pub actor: String,
    pub at: Timestamp,
}

// ---------------------------------------------------------------- checks

fn check_value(what: &str, v: &str) -> Result<()> {
    if v.len() > MAX_VALUE_LEN || v.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{what}: a value is longer than {MAX_VALUE_LEN} bytes or holds control characters"
        )));
    }
    Ok(())
}

fn join_list(what: &str, items: &[String]) -> Result<String> {
    for item in items {
        check_value(what, item)?;
        if item.is_empty() {
            return Err(StoreError::Invalid(format!("{what}: empty value")));
        }
    }
    Ok(items.join("\n"))
}

fn split_list(text: &str) -> Vec<String> {
    text.split('\n')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A release name: 1-64 of ASCII letters, digits, `.`, `_`, `+`, `-`.
pub fn check_release(release: &str) -> Result<()> {
    let ok = (1..=64).contains(&release.len())
        && release
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "release must be 1-64 characters of letters, digits, '.', '_', '+', '-'".to_owned(),
        ))
    }
}

const SEVERITIES: [&str; 5] = ["LOW", "MEDIUM", "HIGH", "CRITICAL", "UNKNOWN"];

fn count_i64(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| StoreError::Invalid("count too large".to_owned()))
}

fn len_i64(n: usize) -> Result<i64> {
    i64::try_from(n).map_err(|_| StoreError::Invalid("count too large".to_owned()))
}

fn parse_wg(w: Option<String>) -> Result<Option<WgName>> {
    w.map(|w| WgName::parse(&w))
        .transpose()
        .map_err(|_| StoreError::corrupt("stored WG name does not parse"))
}

fn wg_text(w: Option<&WgName>) -> Option<String> {
    w.map(|w| w.as_str().to_owned())
}

// ---------------------------------------------------------------- rows

fn record_from_row(s: Sealer<'_>, r: &AnyRow) -> Result<WgRecord> {
    let name_text: String = get(r, "name")?;
    let leads = s.open_col_text(r, "wg_registry", "leads_sealed", &name_text)?;
    Ok(WgRecord {
        name: WgName::parse(&name_text)
            .map_err(|_| StoreError::corrupt("stored WG name does not parse"))?,
        title: get(r, "title")?,
        repos: split_list(&get::<String>(r, "repos")?),
        labels: split_list(&get::<String>(r, "labels")?),
        images: split_list(&get::<String>(r, "images")?),
        paths: split_list(&get::<String>(r, "paths")?),
        keywords: split_list(&get::<String>(r, "keywords")?),
        hand_set: split_list(&get::<String>(r, "hand_set")?),
        leads: Zeroizing::new(leads),
        updated_at: get_ts(r, "updated_at")?,
    })
}

fn import_run_from_row(r: &AnyRow) -> Result<ImportRun> {
    let kind: String = get(r, "kind")?;
    Ok(ImportRun {
        id: get_uuid(r, "id")?,
        kind: kind
            .parse()
            .map_err(|_| StoreError::corrupt("unknown import kind"))?,
        release: get(r, "release")?,
        at: get_ts(r, "at")?,
        actor: get(r, "actor")?,
        source_sha256: get(r, "source_sha256")?,
        files_ok: get_u64(r, "files_ok")?,
        files_failed: get_u64(r, "files_failed")?,
        summary: get(r, "summary")?,
    })
}

fn review_from_row(r: &AnyRow) -> Result<ReviewRun> {
    let by: String = get(r, "done_by")?;
    Ok(ReviewRun {
        id: get_uuid(r, "id")?,
        done_at: get_ts(r, "done_at")?,
        done_by: Login::parse(&by)
            .map_err(|_| StoreError::corrupt("stored login does not parse"))?,
        since: get_opt_ts(r, "since")?,
    })
}

fn digest_from_row(r: &AnyRow) -> Result<DigestRun> {
    let kind: String = get(r, "kind")?;
    let wg: String = get(r, "wg")?;
    Ok(DigestRun {
        kind: kind
            .parse()
            .map_err(|_| StoreError::corrupt("unknown digest kind"))?,
        wg: WgName::parse(&wg).map_err(|_| StoreError::corrupt("stored WG name does not parse"))?,
        run_key: get(r, "run_key")?,
        created_at: get_ts(r, "created_at")?,
        recipients: get_u64(r, "recipients")?,
        encrypted: get_u64(r, "encrypted")?,
        notices: get_u64(r, "notices")?,
    })
}

fn release_from_row(r: &AnyRow) -> Result<ScanRelease> {
    Ok(ScanRelease {
        release: get(r, "release")?,
        import_id: get_uuid(r, "import_id")?,
        imported_at: get_ts(r, "imported_at")?,
        images: get_u64(r, "images")?,
        findings: get_u64(r, "findings")?,
    })
}

/// `($1, $2, …), (…)` for `rows` rows of `cols` values, numbered from 1.
fn placeholders(rows: usize, cols: usize) -> String {
    let mut out = String::new();
    let mut n = 0usize;
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for col in 0..cols {
            if col > 0 {
                out.push_str(", ");
            }
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        }
        out.push(')');
    }
    out
}

// ---------------------------------------------------------------- Tx

impl Tx<'_> {
    /// Takes the registry's write lock for this transaction (bumps its
    /// version): call it first in a transaction that reads, merges and
    /// writes the registry, so concurrent writers queue instead of losing
    /// each other's changes. Returns the new version.
    pub async fn lock_wg_registry(&mut self, now: Timestamp) -> Result<i64> {
        let version: i64 = sqlx::query_scalar(
            "UPDATE wg_registry_version SET version = version + 1, updated_at = $1 WHERE id = 1 RETURNING version",
        )
        .bind(ms(now))
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(version)
    }

    /// Every stored WG, by name.
    pub async fn load_wg_registry(&mut self) -> Result<Vec<WgRecord>> {
        let rows = sqlx::query(
            "SELECT name, title, repos, labels, images, paths, keywords, hand_set, leads_sealed, updated_at \
             FROM wg_registry ORDER BY name",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        let s = self.sealer;
        rows.iter().map(|r| record_from_row(s, r)).collect()
    }

    /// Replaces the stored registry with `records` (WGs not listed are
    /// removed). Take [`Tx::lock_wg_registry`] first.
    pub async fn replace_wg_registry(&mut self, records: &[WgRecord]) -> Result<()> {
        sqlx::query("DELETE FROM wg_registry")
            .execute(&mut *self.tx)
            .await?;
        for rec in records {
            self.insert_wg(rec).await?;
        }
        Ok(())
    }

    /// Adds or replaces one WG. Take [`Tx::lock_wg_registry`] first.
    pub async fn put_wg(&mut self, record: &WgRecord) -> Result<()> {
        sqlx::query("DELETE FROM wg_registry WHERE name = $1")
            .bind(record.name.as_str())
            .execute(&mut *self.tx)
            .await?;
        self.insert_wg(record).await
    }

    /// Removes one WG; whether it was there.
    pub async fn delete_wg(&mut self, name: &WgName) -> Result<bool> {
        let done = sqlx::query("DELETE FROM wg_registry WHERE name = $1")
            .bind(name.as_str())
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_wg(&mut self, rec: &WgRecord) -> Result<()> {
        if let Some(title) = &rec.title {
            check_value("title", title)?;
        }
        let name = rec.name.as_str();
        let leads = self
            .sealer
            .seal("wg_registry", "leads_sealed", name, rec.leads.as_bytes())?;
        sqlx::query(
            "INSERT INTO wg_registry (name, title, repos, labels, images, paths, keywords, hand_set, leads_sealed, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(name)
        .bind(rec.title.as_deref())
        .bind(join_list("repos", &rec.repos)?)
        .bind(join_list("labels", &rec.labels)?)
        .bind(join_list("images", &rec.images)?)
        .bind(join_list("paths", &rec.paths)?)
        .bind(join_list("keywords", &rec.keywords)?)
        .bind(join_list("hand_set", &rec.hand_set)?)
        .bind(leads)
        .bind(ms(rec.updated_at))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Records an import.
    pub async fn record_import_run(&mut self, run: &NewImportRun, now: Timestamp) -> Result<Uuid> {
        if let Some(release) = &run.release {
            check_release(release)?;
        }
        check_value("actor", &run.actor)?;
        if run.summary.len() > MAX_SUMMARY_LEN {
            return Err(StoreError::Invalid("import summary too long".to_owned()));
        }
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO import_runs (id, kind, release, at, actor, source_sha256, files_ok, files_failed, summary) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id.to_string())
        .bind(run.kind.as_str())
        .bind(run.release.as_deref())
        .bind(ms(now))
        .bind(&run.actor)
        .bind(run.source_sha256.as_deref())
        .bind(count_i64(run.files_ok)?)
        .bind(count_i64(run.files_failed)?)
        .bind(&run.summary)
        .execute(&mut *self.tx)
        .await?;
        Ok(id)
    }

    /// Stores the scan of `release` as given, replacing whatever was stored
    /// for it. `import_id` is the import run (see
    /// [`Tx::record_import_run`]) it came from.
    pub async fn replace_scan_release(
        &mut self,
        release: &str,
        import_id: Uuid,
        images: &[ScanImageRow],
        findings: &[ScanFindingRow],
        now: Timestamp,
    ) -> Result<()> {
        check_release(release)?;
        for i in images {
            check_value("image", &i.image)?;
        }
        for f in findings {
            for (what, v) in [
                ("image", &f.image),
                ("vulnerability ID", &f.vuln_id),
                ("package", &f.package),
                ("installed version", &f.installed),
            ] {
                check_value(what, v)?;
            }
            if let Some(fixed) = &f.fixed {
                check_value("fixed version", fixed)?;
            }
            if !SEVERITIES.contains(&f.severity.as_str()) {
                return Err(StoreError::Invalid(format!(
                    "unknown scan severity {:?}",
                    f.severity.chars().take(16).collect::<String>()
                )));
            }
        }
        for table in [
            "DELETE FROM scan_findings WHERE release = $1",
            "DELETE FROM scan_images WHERE release = $1",
            "DELETE FROM scan_releases WHERE release = $1",
        ] {
            sqlx::query(table)
                .bind(release)
                .execute(&mut *self.tx)
                .await?;
        }
        let distinct_images = images
            .iter()
            .map(|i| i.image.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        sqlx::query(
            "INSERT INTO scan_releases (release, import_id, imported_at, images, findings) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(release)
        .bind(import_id.to_string())
        .bind(ms(now))
        .bind(len_i64(distinct_images)?)
        .bind(len_i64(findings.len())?)
        .execute(&mut *self.tx)
        .await?;

        for chunk in images.chunks(INSERT_BATCH) {
            // Constant text and generated `$N` placeholders only.
            let sql = format!(
                "INSERT INTO scan_images (release, image, wg) VALUES {}",
                placeholders(chunk.len(), 3)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for i in chunk {
                q = q
                    .bind(release.to_owned())
                    .bind(i.image.clone())
                    .bind(wg_text(i.wg.as_ref()));
            }
            q.execute(&mut *self.tx).await?;
        }
        for chunk in findings.chunks(INSERT_BATCH) {
            let sql = format!(
                "INSERT INTO scan_findings (release, wg, image, vuln_id, package, installed, fixed, severity) VALUES {}",
                placeholders(chunk.len(), 8)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for f in chunk {
                q = q
                    .bind(release.to_owned())
                    .bind(wg_text(f.wg.as_ref()))
                    .bind(f.image.clone())
                    .bind(f.vuln_id.clone())
                    .bind(f.package.clone())
                    .bind(f.installed.clone())
                    .bind(f.fixed.clone())
                    .bind(f.severity.clone());
            }
            q.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Records a review as done by `by` at `now`.
    pub async fn record_review_done(
        &mut self,
        by: &Login,
        since: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<ReviewRun> {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO review_runs (id, done_at, done_by, since) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.to_string())
        .bind(ms(now))
        .bind(by.as_str())
        .bind(opt_ms(since))
        .execute(&mut *self.tx)
        .await?;
        Ok(ReviewRun {
            id,
            done_at: now,
            done_by: by.clone(),
            since,
        })
    }

    /// Claims the run `(kind, wg, run_key)`: `true` when this transaction
    /// recorded it, `false` when it was recorded before (by this or any
    /// other process). On PostgreSQL a concurrent claim waits for this
    /// transaction to end; on SQLite writers are serialised anyway.
    pub async fn claim_digest_run(&mut self, run: &DigestRun) -> Result<bool> {
        check_value("run key", &run.run_key)?;
        if run.run_key.is_empty() {
            return Err(StoreError::Invalid("empty run key".to_owned()));
        }
        let done = sqlx::query(
            "INSERT INTO digest_runs (kind, wg, run_key, created_at, recipients, encrypted, notices) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kind, wg, run_key) DO NOTHING",
        )
        .bind(run.kind.as_str())
        .bind(run.wg.as_str())
        .bind(&run.run_key)
        .bind(ms(run.created_at))
        .bind(count_i64(run.recipients)?)
        .bind(count_i64(run.encrypted)?)
        .bind(count_i64(run.notices)?)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

// ---------------------------------------------------------------- Store

impl Store {
    /// Every stored WG, by name.
    pub async fn load_wg_registry(&self) -> Result<Vec<WgRecord>> {
        let rows = sqlx::query(
            "SELECT name, title, repos, labels, images, paths, keywords, hand_set, leads_sealed, updated_at \
             FROM wg_registry ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        let s = self.sealer();
        rows.iter().map(|r| record_from_row(s, r)).collect()
    }

    /// How many times the registry was written (0: never).
    pub async fn wg_registry_version(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT version FROM wg_registry_version WHERE id = 1")
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// Imports, newest first: all, or of one kind.
    pub async fn list_import_runs(
        &self,
        kind: Option<ImportKind>,
        limit: u32,
    ) -> Result<Vec<ImportRun>> {
        let rows = sqlx::query(
            "SELECT id, kind, release, at, actor, source_sha256, files_ok, files_failed, summary FROM import_runs \
             WHERE ($1 IS NULL OR kind = $1) ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(kind.map(|k| k.as_str()))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(import_run_from_row).collect()
    }

    /// Releases with stored scans, by name.
    pub async fn scan_releases(&self) -> Result<Vec<ScanRelease>> {
        let rows = sqlx::query(
            "SELECT release, import_id, imported_at, images, findings FROM scan_releases ORDER BY release",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(release_from_row).collect()
    }

    pub async fn scan_release(&self, release: &str) -> Result<Option<ScanRelease>> {
        let row = sqlx::query(
            "SELECT release, import_id, imported_at, images, findings FROM scan_releases WHERE release = $1",
        )
        .bind(release)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| release_from_row(&r)).transpose()
    }

    /// The scanned images of `release`, sorted.
    pub async fn scan_images(&self, release: &str) -> Result<Vec<ScanImageRow>> {
        let rows = sqlx::query("SELECT image, wg FROM scan_images WHERE release = $1")
            .bind(release)
            .fetch_all(self.pool())
            .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(ScanImageRow {
                    image: get(r, "image")?,
                    wg: parse_wg(get(r, "wg")?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort();
        Ok(out)
    }

    /// The findings of `release`, sorted.
    pub async fn scan_findings(&self, release: &str) -> Result<Vec<ScanFindingRow>> {
        let rows = sqlx::query(
            "SELECT wg, image, vuln_id, package, installed, fixed, severity FROM scan_findings WHERE release = $1",
        )
        .bind(release)
        .fetch_all(self.pool())
        .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(ScanFindingRow {
                    wg: parse_wg(get(r, "wg")?)?,
                    image: get(r, "image")?,
                    vuln_id: get(r, "vuln_id")?,
                    package: get(r, "package")?,
                    installed: get(r, "installed")?,
                    fixed: get(r, "fixed")?,
                    severity: get(r, "severity")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort();
        Ok(out)
    }

    /// The latest review marked done.
    pub async fn last_review(&self) -> Result<Option<ReviewRun>> {
        let row = sqlx::query(
            "SELECT id, done_at, done_by, since FROM review_runs ORDER BY done_at DESC, id DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| review_from_row(&r)).transpose()
    }

    /// Reviews marked done, newest first.
    pub async fn list_review_runs(&self, limit: u32) -> Result<Vec<ReviewRun>> {
        let rows = sqlx::query(
            "SELECT id, done_at, done_by, since FROM review_runs ORDER BY done_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(review_from_row).collect()
    }

    /// See [`Tx::record_review_done`]; one transaction.
    pub async fn record_review_done(
        &self,
        by: &Login,
        since: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<ReviewRun> {
        let mut tx = self.begin().await?;
        let run = tx.record_review_done(by, since, now).await?;
        tx.commit().await?;
        Ok(run)
    }

    /// The run `(kind, wg, run_key)`, when recorded.
    pub async fn get_digest_run(
        &self,
        kind: DigestKind,
        wg: &WgName,
        run_key: &str,
    ) -> Result<Option<DigestRun>> {
        let row = sqlx::query(
            "SELECT kind, wg, run_key, created_at, recipients, encrypted, notices FROM digest_runs \
             WHERE kind = $1 AND wg = $2 AND run_key = $3",
        )
        .bind(kind.as_str())
        .bind(wg.as_str())
        .bind(run_key)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| digest_from_row(&r)).transpose()
    }

    /// The latest run of `kind` for `wg`.
    pub async fn last_digest_run(
        &self,
        kind: DigestKind,
        wg: &WgName,
    ) -> Result<Option<DigestRun>> {
        let row = sqlx::query(
            "SELECT kind, wg, run_key, created_at, recipients, encrypted, notices FROM digest_runs \
             WHERE kind = $1 AND wg = $2 ORDER BY created_at DESC, run_key DESC LIMIT 1",
        )
        .bind(kind.as_str())
        .bind(wg.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| digest_from_row(&r)).transpose()
    }

    /// Runs of mail to WG leads, newest first.
    pub async fn list_digest_runs(&self, limit: u32) -> Result<Vec<DigestRun>> {
        let rows = sqlx::query(
            "SELECT kind, wg, run_key, created_at, recipients, encrypted, notices FROM digest_runs \
             ORDER BY created_at DESC, wg, run_key LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(digest_from_row).collect()
    }

    /// For every report with an audit trail, its latest action (kind,
    /// actor, time), by tracking ID. Reads (`viewed`, `downloaded`) are
    /// audited but are not actions: they are skipped.
    pub async fn last_actions(&self) -> Result<Vec<LastAction>> {
        let rows = sqlx::query(
            "SELECT e.report_id, e.kind, e.actor, e.at FROM events e \
             WHERE e.report_id IS NOT NULL AND e.id = (SELECT e2.id FROM events e2 \
             WHERE e2.report_id = e.report_id AND e2.kind NOT IN ('viewed', 'downloaded') \
             ORDER BY e2.at DESC, e2.id DESC LIMIT 1) \
             ORDER BY e.report_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LastAction {
                    report_id: parse_tracking_id(&get::<String>(r, "report_id")?)?,
                    kind: get(r, "kind")?,
                    actor: get(r, "actor")?,
                    at: get_ts(r, "at")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_numbering() {
        assert_eq!(placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(1, 1), "($1)");
    }

    #[test]
    fn lists_round_trip_and_refuse_line_breaks() {
        let items = vec!["a/b".to_owned(), "c".to_owned()];
        assert_eq!(split_list(&join_list("x", &items).unwrap()), items);
        assert!(split_list("").is_empty());
        assert!(join_list("x", &["a\nb".to_owned()]).is_err());
        assert!(join_list("x", &[String::new()]).is_err());
    }

    #[test]
    fn releases() {
        for ok in ["1.10.0", "v1.10.0-rc.1", "2026_01+build"] {
            assert!(check_release(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1 0", "../x", "a/b", &"1".repeat(65)] {
            assert!(check_release(bad).is_err(), "{bad}");
        }
    }
}
