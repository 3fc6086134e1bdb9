//! Where each WG's public issues go.
//!
//! [`WgRepos::from_registry`] builds the targets from the WG registry in
//! effect (the stored registry, imports and hand edits, with the
//! embargo.toml `[[wg]]` tables applied on top, as
//! `embargo_review::load_registry` returns it), so a WG imported from
//! `wgs.yaml` can be published to like a configured one. The repository
//! and labels are [`embargo_wg::Registry::issue_target`]'s: the configured
//! `repo` (or first `repos`) if set, otherwise the imported repository
//! named like the WG, else the registry entry's first. A WG the
//! registry knows without a usable repository stays listed with the
//! reason, so its publication fails with that reason (for an admin to
//! retry once a repository is set) rather than a generic one.

use std::collections::{BTreeMap, BTreeSet};

use embargo_domain::WgName;
use embargo_github::Repo;
use embargo_wg::{Registry, WgError};

use crate::error::PublishError;

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

/// WG → publication target. WGs without a repository have none: a report
/// of such a WG fails to publish, visibly, until one is configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WgRepos {
    targets: BTreeMap<WgName, WgTarget>,
    /// Known WGs without a usable repository, with why.
    unusable: BTreeMap<WgName, String>,
}

impl WgRepos {
    pub fn new() -> Self {
        Self::default()
    }

    /// The targets of every WG in `registry` (the registry in effect:
    /// config applied over the stored one). `placeholder_wgs` are the WGs
    /// whose `[[wg]]` table asks for a placeholder issue on accept.
    pub fn from_registry(registry: &Registry, placeholder_wgs: &BTreeSet<WgName>) -> Self {
        let mut out = Self::new();
        for (name, target) in registry.issue_targets() {
            match target {
                Ok(t) => match t.repo.parse::<Repo>() {
                    Ok(repo) => {
                        out.insert(
                            name.clone(),
                            WgTarget {
                                repo,
                                labels: t.labels,
                                placeholder: placeholder_wgs.contains(name),
                            },
                        );
                    }
                    Err(e) => {
                        out.unusable.insert(
                            name.clone(),
                            format!(
                                "no usable repository for WG {name}: {:?}: {e}; set `repo` in its [[wg]] table of embargo.toml, then retry",
                                t.repo
                            ),
                        );
                    }
                },
                Err(e) => {
                    let why = match e {
                        WgError::NoRepository(_) => {
                            "neither its [[wg]] table in embargo.toml nor the imported wgs.yaml names one".to_owned()
                        }
                        other => other.to_string(),
                    };
                    out.unusable.insert(
                        name.clone(),
                        format!("no repository for WG {name}: {why}; set `repo` in its [[wg]] table of embargo.toml (or import a wgs.yaml that lists one), then retry"),
                    );
                }
            }
        }
        out
    }

    pub fn insert(&mut self, wg: WgName, target: WgTarget) -> &mut Self {
        self.unusable.remove(&wg);
        self.targets.insert(wg, target);
        self
    }

    pub fn get(&self, wg: &WgName) -> Option<&WgTarget> {
        self.targets.get(wg)
    }

    /// The target of `wg`, or [`PublishError::NoRepository`] saying why
    /// there is none (an unknown WG, or one without a usable repository).
    pub fn target(&self, wg: &WgName) -> Result<&WgTarget, PublishError> {
        if let Some(t) = self.targets.get(wg) {
            return Ok(t);
        }
        let why = match self.unusable.get(wg) {
            Some(why) => why.clone(),
            None => format!(
                "no repository for WG {wg}: it is neither a [[wg]] table of embargo.toml nor in the WG registry (embargo wg import); add it with a `repo`, then retry"
            ),
        };
        Err(PublishError::NoRepository {
            wg: wg.to_string(),
            why,
        })
    }

    /// WGs with a target, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&WgName, &WgTarget)> {
        self.targets.iter()
    }

    /// Whether no WG has a target.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

impl FromIterator<(WgName, WgTarget)> for WgRepos {
    fn from_iter<I: IntoIterator<Item = (WgName, WgTarget)>>(iter: I) -> Self {
        Self {
            targets: iter.into_iter().collect(),
            unusable: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embargo_wg::{Wg, WgConfig};

    fn name(s: &str) -> WgName {
        WgName::parse(s).unwrap()
    }

    /// A stored registry (as an import leaves it) with config on top.
    fn registry() -> Registry {
        let mut imported = Wg::new(name("training"));
        imported.repos = vec!["kubeflow/katib".into(), "kubeflow/trainer".into()];
        imported.labels = vec!["area/training".into()];
        let mut pipelines = Wg::new(name("pipelines"));
        pipelines.repos = vec!["kubeflow/mlflow-integration".into()];
        let bare = Wg::new(name("data"));
        let mut registry = Registry::from_wgs([imported, pipelines, bare]).unwrap();
        registry
            .apply_config(&WgConfig {
                name: "pipelines".into(),
                repo: Some("kubeflow/pipelines".into()),
                labels: Some(vec!["area/security".into()]),
                ..WgConfig::default()
            })
            .unwrap();
        registry
    }

    #[test]
    fn targets_of_configured_and_imported_wgs() {
        let wgs = WgRepos::from_registry(&registry(), &BTreeSet::from([name("pipelines")]));
        let p = wgs.target(&name("pipelines")).unwrap();
        assert_eq!(p.repo.to_string(), "kubeflow/pipelines");
        assert_eq!(p.labels, ["area/security"]);
        assert!(p.placeholder);
        let t = wgs.target(&name("training")).unwrap();
        assert_eq!(t.repo.to_string(), "kubeflow/katib");
        assert_eq!(t.labels, ["area/training"]);
        assert!(!t.placeholder);
        assert_eq!(wgs.iter().count(), 2);
    }

    #[test]
    fn a_wg_without_repository_says_so() {
        let wgs = WgRepos::from_registry(&registry(), &BTreeSet::new());
        let err = wgs.target(&name("data")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("no repository for WG data"), "{text}");
        assert!(text.contains("neither its [[wg]] table"), "{text}");
        assert!(text.contains("set `repo`"), "{text}");
        assert!(text.contains("retry"), "{text}");
        assert!(!err.is_temporary());
        let err = wgs.target(&name("nope")).unwrap_err().to_string();
        assert!(err.contains("no repository for WG nope"), "{err}");
        assert!(err.contains("neither"), "{err}");
    }
}
