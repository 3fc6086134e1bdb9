//! Release image scans: Trivy and Grype JSON reports and Kubeflow-manifests
//! scan directories, turned into findings placed in WGs, per-WG summaries
//! and diffs between scans. Plain Rust, no database.
//!
//! - [`parse_report`]: one report, format told by shape ([`parse`]).
//! - [`import_path`] / [`import_path_with`]: a file or a directory, every
//!   file on its own, with limits and a progress hook ([`import`]).
//! - [`summarize`] / [`ImportOutcome::summary`]: the contract's summary
//!   ([`summary`]).
//! - [`diff()`]: new and fixed findings ([`mod@diff`]).
//!
//! Scan files come from CI artifacts and are untrusted: sizes, depths and
//! counts are bounded, and nothing in them can make the import panic.

pub mod diff;
pub mod import;
pub mod parse;
pub mod severity;
pub mod summary;

use std::path::PathBuf;

use embargo_domain::WgName;
use serde::{Deserialize, Deserializer, Serialize};

pub use diff::{Diff, WgDiff, diff};
pub use import::{ImportOptions, ImportOutcome, Progress, import_path, import_path_with};
pub use parse::{ParseError, ParsedReport, RawFinding, ScanFormat, parse_report};
pub use severity::ScanSeverity;
pub use summary::{Summary, WgCounts, counts_of, summarize};

/// One vulnerability in one package of one image, placed in a WG (or not).
/// Ordered by WG, image, ID, package, versions, severity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Finding {
    #[serde(deserialize_with = "de_opt_wg")]
    pub wg: Option<WgName>,
    pub image: String,
    pub vuln_id: String,
    pub package: String,
    /// Empty when the scanner did not say.
    pub installed: String,
    pub fixed: Option<String>,
    pub severity: ScanSeverity,
}

fn de_opt_wg<'de, D: Deserializer<'de>>(d: D) -> Result<Option<WgName>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| WgName::parse(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// The path given to an import cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{}: {reason}", path.display())]
    Path { path: PathBuf, reason: String },
}
