//! Hand-set WGs: the `[[wg]]` tables of embargo.toml.
//!
//! ```toml
//! [[wg]]
//! name = "pipelines"
//! repo = "kubeflow/pipelines"          # or repos = [...]; `repo` goes first
//! leads = ["lead@example.org"]         # or tables {email, github, pgp_cert}
//! images = ["ghcr.io/kubeflow/kfp-*"]
//! keywords = ["pipeline", "kfp"]
//! ```
//!
//! A key that is present sets its field by hand (see
//! [`crate::Registry::apply_config`]); a key that is absent leaves the field
//! to imports.

use serde::{Deserialize, Serialize};

use crate::model::Lead;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WgConfig {
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    /// The repository public issues go to; put first in the WG's repos.
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default)]
    pub repos: Option<Vec<String>>,
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    #[serde(default)]
    pub leads: Option<Vec<LeadConfig>>,
    #[serde(default)]
    pub images: Option<Vec<String>>,
    #[serde(default)]
    pub paths: Option<Vec<String>>,
    #[serde(default)]
    pub keywords: Option<Vec<String>>,
}

/// A lead as written in config: an address alone, or a full table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LeadConfig {
    Email(String),
    Full(Lead),
}
