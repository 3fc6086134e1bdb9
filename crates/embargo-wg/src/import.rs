//! Import of Kubeflow's community `wgs.yaml`.
//!
//! What is read from each `workinggroups[]` entry:
//!
//! | wgs.yaml | WG field |
//! | --- | --- |
//! | `dir` (`wg-pipelines`) | `name`: lower-cased, leading `wg-` dropped, other characters than `a-z0-9-` turned into `-` (`pipelines`, `ml-experience`). Without `dir`, the same from `name`. |
//! | `name` (`ML Experience`) | `title` |
//! | `label` (when not empty) | `labels` |
//! | `leadership.chairs[]` and `leadership.tech_leads[]` (`github`, `name`, `company`) | `leads` (no email: the file has none) |
//! | `subprojects[].owners[]` URLs (`https://raw.githubusercontent.com/kubeflow/hub/main/OWNERS`, `https://github.com/kubeflow/dashboard/blob/main/OWNERS`) | `repos` (`kubeflow/hub`) |
//! | `subprojects[].name` (`Kubeflow SDK`, `katib`) | `keywords`: lower-cased, leading `kubeflow ` dropped, at least 3 characters (`sdk`, `katib`) |
//!
//! `contact` (public mailing lists, Slack channels) is deliberately not
//! imported: nothing embargoed may be routed to a public list. `images` and
//! `paths` never come from the file.
//!
//! Merging: a field in the WG's `hand_set` is kept; every other imported
//! field is replaced; new WGs are added; WGs missing from the file are kept
//! and listed in [`ImportReport::missing`]. An entry that cannot be read is
//! skipped and listed, the others still import. The file as a whole is
//! refused (and the registry left unchanged) when it is not YAML, over
//! [`MAX_YAML_BYTES`], or has no `workinggroups` list.

use std::collections::{BTreeMap, BTreeSet};

use embargo_domain::WgName;
use serde::{Deserialize, Serialize};

use crate::model::{
    Field, Lead, MAX_WGS, Wg, check_github_handle, check_repo, check_text, excerpt,
};
use crate::{Registry, WgError};

/// Largest wgs.yaml accepted, in bytes.
pub const MAX_YAML_BYTES: usize = 4 * 1024 * 1024;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// WGs that were not in the registry.
    pub added: Vec<WgName>,
    /// WGs with at least one imported field changed.
    pub updated: Vec<WgName>,
    /// WGs in the file whose imported fields were already as in the file.
    pub unchanged: Vec<WgName>,
    /// WGs in the registry but not in the file: kept.
    pub missing: Vec<WgName>,
    /// Hand-set fields the file would have changed: kept as set by hand.
    pub kept_hand_set: Vec<KeptField>,
    /// Entries of the file that could not be imported.
    pub skipped: Vec<Skipped>,
    /// Parts of entries that were ignored (an unreadable OWNERS URL, a bad
    /// GitHub handle...).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptField {
    pub wg: WgName,
    pub field: Field,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The entry's `dir` or `name`, or its position.
    pub entry: String,
    pub reason: String,
}

#[derive(Deserialize)]
struct File {
    workinggroups: Option<Vec<serde_norway::Value>>,
    #[serde(default)]
    sigs: Option<Vec<serde::de::IgnoredAny>>,
    #[serde(default)]
    committees: Option<Vec<serde::de::IgnoredAny>>,
    #[serde(default)]
    usergroups: Option<Vec<serde::de::IgnoredAny>>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    dir: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    leadership: Option<Leadership>,
    #[serde(default)]
    subprojects: Option<Vec<Subproject>>,
}

#[derive(Deserialize)]
struct Leadership {
    #[serde(default)]
    chairs: Option<Vec<Person>>,
    #[serde(default)]
    tech_leads: Option<Vec<Person>>,
}

#[derive(Deserialize)]
struct Person {
    #[serde(default)]
    github: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    company: Option<String>,
}

#[derive(Deserialize)]
struct Subproject {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    owners: Option<Vec<String>>,
}

/// The fields an import owns.
struct Imported {
    title: Option<String>,
    repos: Vec<String>,
    labels: Vec<String>,
    leads: Vec<Lead>,
    keywords: Vec<String>,
}

/// The WG name for a `dir` (or `name`) of wgs.yaml: `wg-pipelines` →
/// `pipelines`, `wg-ml-experience` → `ml-experience`, `ML Experience` →
/// `ml-experience`.
pub fn normalize_wg_name(raw: &str) -> Result<WgName, WgError> {
    let lower = raw.trim().to_ascii_lowercase();
    let stripped = lower.strip_prefix("wg-").unwrap_or(&lower);
    let mut out = String::with_capacity(stripped.len());
    for c in stripped.chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_end_matches('-');
    WgName::parse(out).map_err(|source| WgError::InvalidName {
        value: excerpt(raw),
        source,
    })
}

/// `owner/name` of the repository an OWNERS URL points into, for
/// `https://raw.githubusercontent.com/OWNER/REPO/...` and
/// `https://github.com/OWNER/REPO/...`.
pub fn repo_from_url(url: &str) -> Option<String> {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let host = host.to_ascii_lowercase();
    if !matches!(
        host.as_str(),
        "raw.githubusercontent.com" | "github.com" | "www.github.com"
    ) {
        return None;
    }
    let mut segments = path.split('/');
    let owner = segments.next()?;
    let name = segments.next()?;
    let name = name.strip_suffix(".git").unwrap_or(name);
    let repo = format!("{owner}/{name}");
    check_repo(&repo).ok()?;
    Some(repo)
}

fn keyword_from_subproject(name: &str) -> Option<String> {
    let lower = name.trim().to_lowercase();
    let kw = lower.strip_prefix("kubeflow ").unwrap_or(&lower).trim();
    if kw.chars().count() < 3 || check_text("keyword", kw).is_err() {
        return None;
    }
    Some(kw.to_owned())
}

fn read_entry(entry: Entry, label: &str, warnings: &mut Vec<String>) -> Imported {
    let title = entry
        .name
        .filter(|n| check_text("title", n).is_ok())
        .map(|n| n.trim().to_owned());
    let labels = entry
        .label
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .into_iter()
        .filter(|l| {
            let ok = check_text("label", l).is_ok();
            if !ok {
                warnings.push(format!("{label}: label {:?} ignored", excerpt(l)));
            }
            ok
        })
        .collect();

    let mut leads: Vec<Lead> = Vec::new();
    let people = entry
        .leadership
        .map(|l| {
            l.chairs
                .into_iter()
                .flatten()
                .chain(l.tech_leads.into_iter().flatten())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    for person in people {
        let Some(github) = person
            .github
            .map(|g| g.trim().trim_start_matches('@').to_owned())
        else {
            warnings.push(format!("{label}: a chair without a GitHub handle ignored"));
            continue;
        };
        if check_github_handle(&github).is_err() {
            warnings.push(format!(
                "{label}: chair with GitHub handle {:?} ignored",
                excerpt(&github)
            ));
            continue;
        }
        if leads.iter().any(|l| {
            l.github
                .as_deref()
                .is_some_and(|g| g.eq_ignore_ascii_case(&github))
        }) {
            continue;
        }
        let text = |s: Option<String>| {
            s.map(|s| s.trim().to_owned())
                .filter(|s| check_text("lead", s).is_ok())
        };
        leads.push(Lead {
            email: None,
            github: Some(github),
            name: text(person.name),
            company: text(person.company),
            pgp_cert: None,
        });
    }

    let mut repos: Vec<String> = Vec::new();
    let mut keywords: Vec<String> = Vec::new();
    for sub in entry.subprojects.into_iter().flatten() {
        if let Some(kw) = sub.name.as_deref().and_then(keyword_from_subproject)
            && !keywords.contains(&kw)
        {
            keywords.push(kw);
        }
        for url in sub.owners.into_iter().flatten() {
            match repo_from_url(&url) {
                Some(repo) => {
                    if !repos.iter().any(|r| r.eq_ignore_ascii_case(&repo)) {
                        repos.push(repo);
                    }
                }
                None => warnings.push(format!(
                    "{label}: OWNERS URL {:?} names no GitHub repository, ignored",
                    excerpt(&url)
                )),
            }
        }
    }
    Imported {
        title,
        repos,
        labels,
        leads,
        keywords,
    }
}

/// Imported leads, keeping the email and certificate (never in wgs.yaml)
/// of a current lead with the same GitHub handle.
fn merge_leads(current: &[Lead], imported: Vec<Lead>) -> Vec<Lead> {
    imported
        .into_iter()
        .map(|mut lead| {
            let same = current.iter().find(|c| {
                matches!((&c.github, &lead.github), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
            });
            if let Some(same) = same {
                if lead.email.is_none() {
                    lead.email.clone_from(&same.email);
                }
                if lead.pgp_cert.is_none() {
                    lead.pgp_cert.clone_from(&same.pgp_cert);
                }
            }
            lead
        })
        .collect()
}

/// Sets `field` from the import unless it is hand-set.
fn set_field<T: PartialEq>(
    wg_hand_set: &BTreeSet<Field>,
    field: Field,
    slot: &mut T,
    value: T,
    kept: &mut Vec<Field>,
) {
    if wg_hand_set.contains(&field) {
        if *slot != value {
            kept.push(field);
        }
    } else {
        *slot = value;
    }
}

impl Registry {
    /// Reads a Kubeflow community `wgs.yaml` into the registry; see the
    /// [module documentation](crate::import) for the mapping and merge rules.
    pub fn import_wgs_yaml(&mut self, yaml: &str) -> Result<ImportReport, WgError> {
        if yaml.len() > MAX_YAML_BYTES {
            return Err(WgError::TooLarge {
                size: yaml.len(),
                limit: MAX_YAML_BYTES,
            });
        }
        let file: File = serde_norway::from_str(yaml).map_err(|e| WgError::Yaml(e.to_string()))?;
        let entries = file.workinggroups.ok_or_else(|| {
            WgError::Shape("no `workinggroups` list: not a Kubeflow wgs.yaml".to_owned())
        })?;
        if entries.len() > MAX_WGS {
            return Err(WgError::TooMany {
                what: "working groups in the file",
                limit: MAX_WGS,
            });
        }

        let mut report = ImportReport::default();
        for (key, list) in [
            ("sigs", &file.sigs),
            ("committees", &file.committees),
            ("usergroups", &file.usergroups),
        ] {
            if let Some(list) = list
                && !list.is_empty()
            {
                report.warnings.push(format!(
                    "{key}: {} entries ignored (only workinggroups are imported)",
                    list.len()
                ));
            }
        }

        let mut map: BTreeMap<WgName, Wg> = self.map().clone();
        let mut seen: BTreeSet<WgName> = BTreeSet::new();
        for (position, value) in entries.into_iter().enumerate() {
            let fallback_label = format!("workinggroups[{position}]");
            let entry: Entry = match serde_norway::from_value(value) {
                Ok(e) => e,
                Err(e) => {
                    report.skipped.push(Skipped {
                        entry: fallback_label,
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            let label = entry
                .dir
                .as_deref()
                .or(entry.name.as_deref())
                .map(excerpt)
                .unwrap_or(fallback_label);
            let raw_name = entry.dir.as_deref().or(entry.name.as_deref());
            let name = match raw_name.map(normalize_wg_name) {
                Some(Ok(name)) => name,
                Some(Err(e)) => {
                    report.skipped.push(Skipped {
                        entry: label,
                        reason: e.to_string(),
                    });
                    continue;
                }
                None => {
                    report.skipped.push(Skipped {
                        entry: label,
                        reason: "neither `dir` nor `name`".to_owned(),
                    });
                    continue;
                }
            };
            if !seen.insert(name.clone()) {
                report.skipped.push(Skipped {
                    entry: label,
                    reason: format!("a second entry for WG {name}"),
                });
                continue;
            }

            let imported = read_entry(entry, &label, &mut report.warnings);
            let before = map.get(&name).cloned();
            let mut wg = before.clone().unwrap_or_else(|| Wg::new(name.clone()));
            let hand = wg.hand_set.clone();
            let mut kept = Vec::new();
            set_field(
                &hand,
                Field::Title,
                &mut wg.title,
                imported.title,
                &mut kept,
            );
            set_field(
                &hand,
                Field::Repos,
                &mut wg.repos,
                imported.repos,
                &mut kept,
            );
            set_field(
                &hand,
                Field::Labels,
                &mut wg.labels,
                imported.labels,
                &mut kept,
            );
            let leads = merge_leads(&wg.leads, imported.leads);
            set_field(&hand, Field::Leads, &mut wg.leads, leads, &mut kept);
            set_field(
                &hand,
                Field::Keywords,
                &mut wg.keywords,
                imported.keywords,
                &mut kept,
            );
            if let Err(e) = wg.validate() {
                report.skipped.push(Skipped {
                    entry: label,
                    reason: e.to_string(),
                });
                continue;
            }
            report
                .kept_hand_set
                .extend(kept.into_iter().map(|field| KeptField {
                    wg: name.clone(),
                    field,
                }));
            match &before {
                None => report.added.push(name.clone()),
                Some(b) if *b != wg => report.updated.push(name.clone()),
                Some(_) => report.unchanged.push(name.clone()),
            }
            map.insert(name, wg);
        }
        if map.len() > MAX_WGS {
            return Err(WgError::TooMany {
                what: "WGs",
                limit: MAX_WGS,
            });
        }
        report.missing = map
            .keys()
            .filter(|name| !seen.contains(*name))
            .cloned()
            .collect();
        *self = Registry::from_map(map)?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_dirs() {
        let n = |s: &str| normalize_wg_name(s).map(|n| n.to_string());
        assert_eq!(n("wg-pipelines").unwrap(), "pipelines");
        assert_eq!(n("wg-ml-experience").unwrap(), "ml-experience");
        assert_eq!(n("ML Experience").unwrap(), "ml-experience");
        assert_eq!(n("WG-Data").unwrap(), "data");
        assert_eq!(n("  sig/auth__x ").unwrap(), "sig-auth-x");
        assert!(n("wg-").is_err());
        assert!(n("---").is_err());
        assert!(n("ÄÖ").is_err());
    }

    #[test]
    fn repos_from_owner_urls() {
        assert_eq!(
            repo_from_url("https://raw.githubusercontent.com/kubeflow/hub/main/OWNERS").as_deref(),
            Some("kubeflow/hub")
        );
        assert_eq!(
            repo_from_url(
                "https://raw.githubusercontent.com/kubeflow/spark-operator/refs/heads/master/OWNERS"
            )
            .as_deref(),
            Some("kubeflow/spark-operator")
        );
        assert_eq!(
            repo_from_url("https://github.com/kubeflow/dashboard/blob/main/OWNERS").as_deref(),
            Some("kubeflow/dashboard")
        );
        assert_eq!(
            repo_from_url("https://github.com/kubeflow/katib.git").as_deref(),
            Some("kubeflow/katib")
        );
        for bad in [
            "https://example.org/kubeflow/hub/OWNERS",
            "https://github.com/kubeflow",
            "ftp://github.com/kubeflow/hub",
            "https://github.com/../x",
            "",
        ] {
            assert_eq!(repo_from_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn subproject_keywords() {
        assert_eq!(
            keyword_from_subproject("Kubeflow SDK").as_deref(),
            Some("sdk")
        );
        assert_eq!(keyword_from_subproject("katib").as_deref(), Some("katib"));
        assert_eq!(
            keyword_from_subproject("Kubeflow MCP Server").as_deref(),
            Some("mcp server")
        );
        assert_eq!(keyword_from_subproject("Kubeflow UI"), None);
    }
}
