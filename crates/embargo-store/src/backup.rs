//! Online backup of the embedded SQLite database. The copy is as sealed as
//! the database: without the storage key it reveals nothing.

use std::path::Path;

use crate::Store;
use crate::error::{Result, StoreError};
use crate::model::Backend;

impl Store {
    /// Writes a consistent copy of the live SQLite database to `target`
    /// (which must not exist) with `VACUUM INTO`, while the gateway keeps
    /// running. PostgreSQL is backed up with its own tools (`pg_dump`).
    pub async fn backup_to(&self, target: &Path) -> Result<()> {
        if self.backend() != Backend::Sqlite {
            return Err(StoreError::Invalid(
                "online backup is for the embedded SQLite database; back up PostgreSQL with pg_dump"
                    .to_owned(),
            ));
        }
        // SQLite writes into an existing empty file: create it owner-only
        // first, refusing to overwrite anything.
        {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            options.open(target).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    StoreError::Conflict(format!("{} exists already", target.display()))
                } else {
                    StoreError::Unavailable(sqlx::Error::Io(e))
                }
            })?;
        }
        let path = target
            .to_str()
            .ok_or_else(|| StoreError::Invalid("backup path is not UTF-8".to_owned()))?;
        if let Err(e) = sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(self.pool())
            .await
        {
            let _ = std::fs::remove_file(target);
            return Err(e.into());
        }
        Ok(())
    }
}
