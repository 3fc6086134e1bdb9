//! The working-group registry: which WGs exist, their GitHub repositories,
//! labels, leads, release-image patterns, source paths and routing keywords.
//! Plain Rust, no database: the registry is a value that serializes to and
//! from JSON (`embargo wg list --json` prints it).
//!
//! - [`Registry::import_wgs_yaml`] reads Kubeflow's community `wgs.yaml`
//!   ([`import`] documents the mapping), keeping fields set by hand.
//! - [`Registry::apply_config`] applies embargo.toml `[[wg]]` tables
//!   ([`WgConfig`]); what they set is hand-set.
//! - [`Registry::suggest`] ranks WGs for a report's text ([`suggest`]).
//! - [`Registry::image_wg`] maps a release image to its WG ([`image`]).
//! - [`Registry::resolve_token`] maps a component token (`katib`) to a WG.
//! - [`Registry::issue_target`] says where a WG's public issues go
//!   ([`target`]: the configured `repo` or `repos`, else the imported
//!   repository named like the WG, else the entry's first repository).
//!
//! Everything read here is untrusted: sizes and counts are bounded, every
//! value is checked before it enters the registry, nothing panics.

pub mod config;
pub mod image;
pub mod import;
mod model;
mod registry;
pub mod suggest;
pub mod target;

use embargo_domain::WgNameError;

pub use config::{LeadConfig, WgConfig};
pub use import::{ImportReport, KeptField, Skipped};
pub use model::{
    Field, Lead, MAX_LIST_ITEMS, MAX_PATTERN_LEN, MAX_PGP_CERT_LEN, MAX_TEXT_LEN, MAX_WGS, Wg,
    check_email, check_github_handle, check_pgp_cert, check_repo,
};
pub use registry::Registry;
pub use suggest::Suggestion;
pub use target::IssueTarget;

/// Why a WG value or a wgs.yaml was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WgError {
    #[error("not valid YAML: {0}")]
    Yaml(String),
    #[error("{0}")]
    Shape(String),
    #[error("input is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("invalid WG name {value:?}: {source}")]
    InvalidName {
        value: String,
        #[source]
        source: WgNameError,
    },
    #[error("invalid repository {0:?} (expected owner/name)")]
    InvalidRepo(String),
    #[error("invalid image pattern {pattern:?}: {reason}")]
    InvalidPattern { pattern: String, reason: String },
    #[error("invalid {what} {value:?} (blank, too long or with control characters)")]
    InvalidText { what: &'static str, value: String },
    #[error("invalid email address {0:?}")]
    InvalidEmail(String),
    #[error("invalid GitHub handle {0:?}")]
    InvalidGithub(String),
    #[error("invalid OpenPGP certificate: {0}")]
    InvalidPgpCert(&'static str),
    #[error("a lead needs an email address or a GitHub handle")]
    InvalidLead,
    #[error("too many {what} (limit {limit})")]
    TooMany { what: &'static str, limit: usize },
    #[error("WG {0} is listed twice")]
    Duplicate(embargo_domain::WgName),
    #[error("no WG named {0:?}")]
    UnknownWg(String),
    #[error(
        "WG {0} has no repository: neither its [[wg]] table in embargo.toml (`repo`) nor the imported wgs.yaml names one"
    )]
    NoRepository(embargo_domain::WgName),
}
