//! `backup` and `restore` for the embedded SQLite database. Backups stay
//! sealed; restoring needs the same storage key and a stopped gateway.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};

use crate::Failure;
use crate::config::Config;
use crate::init;

/// The lock `serve` holds for as long as it runs.
pub fn serve_lock_path(config: &Config) -> PathBuf {
    config.data_dir.join("serve.lock")
}

/// Takes the serve lock (non-blocking); the file handle holds it.
pub fn take_serve_lock(config: &Config) -> anyhow::Result<std::fs::File> {
    let path = serve_lock_path(config);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!(
                "embargo serve is running on {}: stop it first",
                config.data_dir.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

fn sqlite_path(config: &Config) -> anyhow::Result<PathBuf> {
    let url = config.database_url.expose();
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| {
            anyhow!("backup and restore are for the embedded SQLite database; back up PostgreSQL with pg_dump")
        })?;
    let path = rest.split('?').next().unwrap_or(rest);
    Ok(PathBuf::from(path))
}

pub async fn backup(config: &Config, target: &Path) -> Result<(), Failure> {
    sqlite_path(config)?;
    let store = init::open_store(config).await?;
    store
        .backup_to(target)
        .await
        .with_context(|| format!("backup to {}", target.display()))?;
    store.close().await;
    eprintln!(
        "backed up to {} (sealed: keep the storage key {} apart from it)",
        target.display(),
        config.storage_key_file.display()
    );
    Ok(())
}

pub async fn restore(config: &Config, source: &Path) -> Result<(), Failure> {
    let db = sqlite_path(config)?;
    let _lock = take_serve_lock(config)?;
    if !source.is_file() {
        return Err(anyhow!("no backup at {}", source.display()).into());
    }
    let staging = db.with_extension("db.restoring");
    let _ = std::fs::remove_file(&staging);
    std::fs::copy(source, &staging).with_context(|| format!("cannot copy {}", source.display()))?;

    // The backup must open with this gateway's storage key.
    let keys = embargo_seal::StorageKeys::load(&config.storage_key_file)
        .with_context(|| format!("storage key {}", config.storage_key_file.display()))?;
    let url = format!("sqlite://{}", staging.display());
    let check = async {
        let store = embargo_store::Store::connect(&url, keys).await?;
        let reports = store.list_reports(&Default::default()).await?;
        if let Some(first) = reports.first() {
            store.get_report(&first.id).await?;
        }
        store.close().await;
        Ok::<usize, embargo_store::StoreError>(reports.len())
    };
    let count = match check.await {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&staging);
            return Err(anyhow::Error::new(e)
                .context("the backup does not open with this gateway's storage key")
                .into());
        }
    };

    // Keep what was there: nothing is ever deleted by a restore.
    let stamp = jiff::Timestamp::now().as_second();
    if db.exists() {
        for suffix in ["", "-wal", "-shm"] {
            let from = PathBuf::from(format!("{}{suffix}", db.display()));
            if from.exists() {
                let to = PathBuf::from(format!("{}.before-restore-{stamp}{suffix}", db.display()));
                std::fs::rename(&from, &to)
                    .with_context(|| format!("cannot move {}", from.display()))?;
            }
        }
    }
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", staging.display()));
    }
    std::fs::rename(&staging, &db).with_context(|| format!("cannot move into {}", db.display()))?;
    eprintln!("restored {count} reports from {}", source.display());
    Ok(())
}
