//! Where a WG's public issues go: [`Registry::issue_target`].
//!
//! The target is read from the registry *in effect*: what imports and hand
//! edits stored, with the embargo.toml `[[wg]]` tables applied on top
//! ([`Registry::apply_config`]), so a WG known only from an imported
//! `wgs.yaml` has a target too, and a field set by hand wins field by
//! field:
//!
//! - **repository**: when the WG's repositories are hand-set (a `[[wg]]`
//!   table or an admin set `repo` or `repos`), the first of them: a
//!   configured `repo` is put first by [`Registry::apply_config`], so it
//!   wins, else the first of the table's `repos`. When they are the
//!   import's (file order says nothing about which one is the WG's own),
//!   the WG's primary repository: the one whose name (after `owner/`)
//!   equals the WG's name (`kubeflow/pipelines` for `pipelines`), else
//!   the first whose name contains it (`kubeflow/model-registry` for
//!   `registry`), else the first the import found, in file order;
//! - **labels**: the WG's [`Wg::labels`] (config `labels`, else the
//!   imported `label`).
//!
//! A WG with no repository at all has no target
//! ([`WgError::NoRepository`]): publishing for it fails visibly until one
//! is set.

use embargo_domain::WgName;

use crate::model::{Field, Wg};
use crate::{Registry, WgError};

/// Where one WG's public issues go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueTarget {
    pub wg: WgName,
    /// `owner/name`, checked by [`crate::check_repo`].
    pub repo: String,
    /// Labels added to `security` on the public issue.
    pub labels: Vec<String>,
}

impl Wg {
    /// The repository this WG's public issues go to (see the [module
    /// documentation](crate::target)): the first of [`Wg::repos`] when
    /// they are hand-set, else the primary one of the import's.
    pub fn issue_repo(&self) -> Option<&str> {
        if self.hand_set.contains(&Field::Repos) {
            return self.repos.first().map(String::as_str);
        }
        let wg = self.name.as_str();
        let short = |r: &&String| -> String {
            r.rsplit_once('/')
                .map_or(r.as_str(), |(_, n)| n)
                .to_ascii_lowercase()
        };
        self.repos
            .iter()
            .find(|r| short(r) == wg)
            .or_else(|| self.repos.iter().find(|r| short(r).contains(wg)))
            .or_else(|| self.repos.first())
            .map(String::as_str)
    }
}

impl Registry {
    /// Where WG `name`'s public issues go, or why nowhere:
    /// [`WgError::UnknownWg`] when the registry does not hold it,
    /// [`WgError::NoRepository`] when it has no repository.
    pub fn issue_target(&self, name: &WgName) -> Result<IssueTarget, WgError> {
        let wg = self
            .get(name)
            .ok_or_else(|| WgError::UnknownWg(name.to_string()))?;
        let repo = wg
            .issue_repo()
            .ok_or_else(|| WgError::NoRepository(name.clone()))?;
        Ok(IssueTarget {
            wg: name.clone(),
            repo: repo.to_owned(),
            labels: wg.labels.clone(),
        })
    }

    /// Every WG's target, in name order: `Err` for each WG without a
    /// repository.
    pub fn issue_targets(
        &self,
    ) -> impl Iterator<Item = (&WgName, Result<IssueTarget, WgError>)> + '_ {
        self.wgs().map(|wg| (&wg.name, self.issue_target(&wg.name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WgConfig;

    fn name(s: &str) -> WgName {
        WgName::parse(s).unwrap()
    }

    fn imported(wg: &str, repos: &[&str], labels: &[&str]) -> Wg {
        let mut w = Wg::new(name(wg));
        w.repos = repos.iter().map(|s| s.to_string()).collect();
        w.labels = labels.iter().map(|s| s.to_string()).collect();
        w
    }

    #[test]
    fn first_repository_of_the_entry_without_config() {
        let registry = Registry::from_wgs([imported(
            "training",
            &["kubeflow/katib", "kubeflow/trainer"],
            &["area/training"],
        )])
        .unwrap();
        let t = registry.issue_target(&name("training")).unwrap();
        assert_eq!(t.repo, "kubeflow/katib");
        assert_eq!(t.labels, vec!["area/training".to_owned()]);
    }

    #[test]
    fn imported_repositories_prefer_the_one_named_like_the_wg() {
        let registry = Registry::from_wgs([
            imported(
                "pipelines",
                &[
                    "kubeflow/mlflow-integration",
                    "kubeflow/pipelines-components",
                    "kubeflow/Pipelines",
                ],
                &[],
            ),
            imported(
                "registry",
                &[
                    "kubeflow/hub",
                    "kubeflow/model-registry",
                    "kubeflow/registry-ui",
                ],
                &[],
            ),
            imported("data", &["kubeflow/hub", "kubeflow/spark-operator"], &[]),
        ])
        .unwrap();
        let repo = |wg: &str| registry.issue_target(&name(wg)).unwrap().repo;
        // Equal name (case aside) before names that contain it.
        assert_eq!(repo("pipelines"), "kubeflow/Pipelines");
        // No equal name: the first that contains it.
        assert_eq!(repo("registry"), "kubeflow/model-registry");
        // Neither: the first in file order.
        assert_eq!(repo("data"), "kubeflow/hub");
    }

    #[test]
    fn hand_set_repos_keep_their_order() {
        let mut registry =
            Registry::from_wgs([imported("pipelines", &["kubeflow/pipelines"], &[])]).unwrap();
        registry
            .apply_config(&WgConfig {
                name: "pipelines".into(),
                repos: Some(vec![
                    "kubeflow/kfp-tekton".into(),
                    "kubeflow/pipelines".into(),
                ]),
                ..WgConfig::default()
            })
            .unwrap();
        let t = registry.issue_target(&name("pipelines")).unwrap();
        assert_eq!(t.repo, "kubeflow/kfp-tekton");
    }

    #[test]
    fn configured_repo_wins_and_labels_follow_the_hand_set_rule() {
        let mut registry = Registry::from_wgs([imported(
            "pipelines",
            &["kubeflow/mlflow-integration", "kubeflow/pipelines"],
            &["area/imported"],
        )])
        .unwrap();
        registry
            .apply_config(&WgConfig {
                name: "pipelines".into(),
                repo: Some("kubeflow/pipelines".into()),
                repos: Some(vec!["kubeflow/kfp-tekton".into()]),
                ..WgConfig::default()
            })
            .unwrap();
        let t = registry.issue_target(&name("pipelines")).unwrap();
        assert_eq!(t.repo, "kubeflow/pipelines");
        // Labels are not set by the table: the imported ones stand.
        assert_eq!(t.labels, vec!["area/imported".to_owned()]);

        registry
            .apply_config(&WgConfig {
                name: "pipelines".into(),
                labels: Some(vec!["area/security".into()]),
                ..WgConfig::default()
            })
            .unwrap();
        let t = registry.issue_target(&name("pipelines")).unwrap();
        assert_eq!(t.labels, vec!["area/security".to_owned()]);
    }

    #[test]
    fn config_repos_without_repo_lead_with_their_first() {
        let mut registry =
            Registry::from_wgs([imported("notebooks", &["kubeflow/dashboard"], &[])]).unwrap();
        registry
            .apply_config(&WgConfig {
                name: "notebooks".into(),
                repos: Some(vec![
                    "kubeflow/notebooks".into(),
                    "kubeflow/dashboard".into(),
                ]),
                ..WgConfig::default()
            })
            .unwrap();
        let t = registry.issue_target(&name("notebooks")).unwrap();
        assert_eq!(t.repo, "kubeflow/notebooks");
    }

    #[test]
    fn no_repository_and_unknown_wg_are_errors() {
        let registry = Registry::from_wgs([imported("data", &[], &[])]).unwrap();
        assert_eq!(
            registry.issue_target(&name("data")),
            Err(WgError::NoRepository(name("data")))
        );
        assert!(matches!(
            registry.issue_target(&name("nope")),
            Err(WgError::UnknownWg(_))
        ));
        let all: Vec<_> = registry.issue_targets().collect();
        assert_eq!(all.len(), 1);
        assert!(all[0].1.is_err());
    }
}
