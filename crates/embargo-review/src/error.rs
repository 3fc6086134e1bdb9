//! [`ReviewError`].

use embargo_scan::ScanError;
use embargo_store::StoreError;
use embargo_wg::WgError;

/// What the team's processes can fail with. Messages carry names, IDs and
/// counts, never report content or addresses.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A WG value, a `wgs.yaml` or a `[[wg]]` table was refused.
    #[error("WG registry: {0}")]
    Wg(#[from] WgError),
    /// The scan path itself cannot be read.
    #[error("scan import: {0}")]
    Scan(#[from] ScanError),
    /// Stored registry data does not decode.
    #[error("stored WG registry is corrupt: {0}")]
    Corrupt(String),
    #[error("no scan is stored for release {0:?}")]
    UnknownRelease(String),
    /// The caller passed something refused (a bad release name, period...).
    #[error("invalid: {0}")]
    Invalid(String),
}

impl ReviewError {
    /// Whether trying again later may succeed (the database was busy or
    /// unreachable).
    pub fn is_temporary(&self) -> bool {
        matches!(self, ReviewError::Store(e) if e.is_temporary())
    }
}
