//! Where each WG's public issues go.

use std::collections::BTreeMap;

use embargo_domain::WgName;
use embargo_github::Repo;

/// One WG's publication target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgTarget {
    pub repo: Repo,
    /// Labels added to `security` on the public issue.
    pub labels: Vec<String>,
    /// Open a vague placeholder issue when a report is accepted (Kubernetes
    /// practice) and fill it in at disclosure.
    pub placeholder: bool,
}

impl WgTarget {
    pub fn new(repo: Repo) -> Self {
        Self {
            repo,
            labels: Vec::new(),
            placeholder: false,
        }
    }
}

/// WG → publication target. WGs without a repository are left out: a
/// report of such a WG fails to publish, visibly, until one is configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WgRepos(BTreeMap<WgName, WgTarget>);

impl WgRepos {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, wg: WgName, target: WgTarget) -> &mut Self {
        self.0.insert(wg, target);
        self
    }

    pub fn get(&self, wg: &WgName) -> Option<&WgTarget> {
        self.0.get(wg)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&WgName, &WgTarget)> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(WgName, WgTarget)> for WgRepos {
    fn from_iter<I: IntoIterator<Item = (WgName, WgTarget)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}
