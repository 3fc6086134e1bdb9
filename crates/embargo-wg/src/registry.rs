//! The registry: every WG, by name, with their image patterns compiled.

use std::collections::BTreeMap;

use embargo_domain::WgName;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::WgError;
use crate::config::{LeadConfig, WgConfig};
use crate::image::ImageIndex;
use crate::model::{Field, Lead, MAX_WGS, Wg};

/// Every WG, in name order.
///
/// Serializes as a JSON array of [`Wg`] (the shape of `embargo wg list
/// --json`) and deserializes from one, checking every entry, so it can be
/// stored as a document and read back.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    wgs: BTreeMap<WgName, Wg>,
    index: ImageIndex,
}

impl PartialEq for Registry {
    fn eq(&self, other: &Self) -> bool {
        self.wgs == other.wgs
    }
}

impl Eq for Registry {}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry of `wgs`, each checked; duplicate names are refused.
    pub fn from_wgs(wgs: impl IntoIterator<Item = Wg>) -> Result<Self, WgError> {
        let mut map = BTreeMap::new();
        for wg in wgs {
            wg.validate()?;
            if map.len() >= MAX_WGS {
                return Err(WgError::TooMany {
                    what: "WGs",
                    limit: MAX_WGS,
                });
            }
            if map.contains_key(&wg.name) {
                return Err(WgError::Duplicate(wg.name));
            }
            map.insert(wg.name.clone(), wg);
        }
        Self::from_map(map)
    }

    /// The registry the `[[wg]]` tables of embargo.toml describe: every field
    /// they set is hand-set.
    pub fn from_config(configs: &[WgConfig]) -> Result<Self, WgError> {
        let mut registry = Self::new();
        for config in configs {
            registry.apply_config(config)?;
        }
        Ok(registry)
    }

    pub(crate) fn from_map(wgs: BTreeMap<WgName, Wg>) -> Result<Self, WgError> {
        let index = ImageIndex::build(wgs.values())?;
        Ok(Self { wgs, index })
    }

    /// Every WG, in name order.
    pub fn wgs(&self) -> impl ExactSizeIterator<Item = &Wg> {
        self.wgs.values()
    }

    pub fn get(&self, name: &WgName) -> Option<&Wg> {
        self.wgs.get(name)
    }

    pub fn len(&self) -> usize {
        self.wgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.wgs.is_empty()
    }

    pub(crate) fn map(&self) -> &BTreeMap<WgName, Wg> {
        &self.wgs
    }

    /// Adds or replaces a WG as given (its `hand_set` included).
    pub fn upsert(&mut self, wg: Wg) -> Result<(), WgError> {
        wg.validate()?;
        let mut map = self.wgs.clone();
        map.insert(wg.name.clone(), wg);
        if map.len() > MAX_WGS {
            return Err(WgError::TooMany {
                what: "WGs",
                limit: MAX_WGS,
            });
        }
        *self = Self::from_map(map)?;
        Ok(())
    }

    /// Removes a WG.
    pub fn remove(&mut self, name: &WgName) -> Result<Option<Wg>, WgError> {
        let mut map = self.wgs.clone();
        let removed = map.remove(name);
        *self = Self::from_map(map)?;
        Ok(removed)
    }

    /// Applies a hand edit (an embargo.toml `[[wg]]` table or an admin
    /// form): creates the WG when new; every field the edit sets replaces
    /// the current value and becomes hand-set; other fields are untouched.
    /// Nothing changes when the result is invalid.
    pub fn apply_config(&mut self, config: &WgConfig) -> Result<(), WgError> {
        let name = WgName::parse(&config.name).map_err(|source| WgError::InvalidName {
            value: crate::model::excerpt(&config.name),
            source,
        })?;
        let mut wg = self
            .wgs
            .get(&name)
            .cloned()
            .unwrap_or_else(|| Wg::new(name));
        if let Some(title) = &config.title {
            wg.title = Some(title.clone());
            wg.hand_set.insert(Field::Title);
        }
        if config.repo.is_some() || config.repos.is_some() {
            let mut repos: Vec<String> = Vec::new();
            for repo in config.repo.iter().chain(config.repos.iter().flatten()) {
                if !repos.iter().any(|r| r.eq_ignore_ascii_case(repo)) {
                    repos.push(repo.clone());
                }
            }
            wg.repos = repos;
            wg.hand_set.insert(Field::Repos);
        }
        if let Some(labels) = &config.labels {
            wg.labels = labels.clone();
            wg.hand_set.insert(Field::Labels);
        }
        if let Some(leads) = &config.leads {
            wg.leads = leads
                .iter()
                .map(|l| match l {
                    LeadConfig::Email(email) => Lead {
                        email: Some(email.clone()),
                        ..Lead::default()
                    },
                    LeadConfig::Full(lead) => lead.clone(),
                })
                .collect();
            wg.hand_set.insert(Field::Leads);
        }
        if let Some(images) = &config.images {
            wg.images = images.clone();
            wg.hand_set.insert(Field::Images);
        }
        if let Some(paths) = &config.paths {
            wg.paths = paths.clone();
            wg.hand_set.insert(Field::Paths);
        }
        if let Some(keywords) = &config.keywords {
            wg.keywords = keywords.clone();
            wg.hand_set.insert(Field::Keywords);
        }
        self.upsert(wg)
    }

    /// Hands a field back to imports: the next import replaces it. Returns
    /// whether it was hand-set.
    pub fn release_hand_set(&mut self, name: &WgName, field: Field) -> Result<bool, WgError> {
        let wg = self
            .wgs
            .get_mut(name)
            .ok_or_else(|| WgError::UnknownWg(name.to_string()))?;
        Ok(wg.hand_set.remove(&field))
    }

    /// The WG whose image patterns match `image`, if any.
    ///
    /// Precedence when patterns of several WGs match: the most specific
    /// pattern wins (most non-wildcard characters, see
    /// [`crate::image::specificity`]), so `ghcr.io/kubeflow/kfp-*` beats
    /// `ghcr.io/kubeflow/*`; on a tie, the WG first in name order, then the
    /// pattern listed first in that WG. The image is tried as written,
    /// without tag or digest, and with Docker Hub's implicit registry
    /// ([`crate::image::candidates`]).
    pub fn image_wg(&self, image: &str) -> Option<&WgName> {
        self.index.lookup(image)
    }

    /// The WG a component token names, e.g. the `<wg>` of a Kubeflow
    /// release-scan list `kf_<version>_<wg>_images.txt` (`katib`,
    /// `pipelines`, `trainer`, `workbenches`...). Tried in order, each in WG
    /// name order, ASCII case-insensitively: a WG of that name; a WG with a
    /// repository of that name (`katib` → the WG holding `kubeflow/katib`);
    /// a WG with that keyword. `None` when nothing matches.
    pub fn resolve_token(&self, token: &str) -> Option<&WgName> {
        let token = token.trim();
        if token.is_empty() {
            return None;
        }
        let lower = token.to_ascii_lowercase();
        if let Some((name, _)) = self.wgs.iter().find(|(n, _)| n.as_str() == lower) {
            return Some(name);
        }
        let by_repo = self.wgs.values().find(|wg| {
            wg.repos.iter().any(|r| {
                r.split_once('/')
                    .is_some_and(|(_, name)| name.eq_ignore_ascii_case(token))
            })
        });
        if let Some(wg) = by_repo {
            return Some(&wg.name);
        }
        self.wgs
            .values()
            .find(|wg| wg.keywords.iter().any(|k| k.eq_ignore_ascii_case(token)))
            .map(|wg| &wg.name)
    }
}

impl Serialize for Registry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.wgs.values())
    }
}

impl<'de> Deserialize<'de> for Registry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wgs = Vec::<Wg>::deserialize(d)?;
        Self::from_wgs(wgs).map_err(serde::de::Error::custom)
    }
}
