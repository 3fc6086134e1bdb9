//! Routing suggestions: which WG a report's text is most likely about.
//!
//! Each distinct hit counts once, whatever its number of occurrences; a
//! text that hits as several kinds (`katib` as a repository name and a
//! keyword) counts once, as the strongest; at most [`MAX_HITS_PER_KIND`]
//! hits of one kind count per WG:
//!
//! | hit | points |
//! | --- | --- |
//! | a WG repository `owner/name` (also inside `github.com/owner/name/...`) | [`weights::REPO`] |
//! | an image reference matching the WG's image patterns ([`Registry::image_wg`]) | [`weights::IMAGE`] |
//! | a WG source path | [`weights::PATH`] |
//! | a WG repository's bare name (`katib`), when `owner/name` was not hit | [`weights::REPO_NAME`] |
//! | a WG keyword | [`weights::KEYWORD`] |
//!
//! Matching is ASCII case-insensitive and on word boundaries: letters,
//! digits, `_` and non-ASCII characters are word characters, and for
//! repositories `-` too (so `kubeflow/pipelines-components` is not
//! `kubeflow/pipelines`, but `kfp-server-api` contains the keyword `kfp`).
//! A needle that starts or ends with punctuation (`backend/`) has no
//! boundary on that side.
//!
//! Work is bounded: only the first [`MAX_SUGGEST_TEXT`] bytes are read, at
//! most [`MAX_MATCHES`] raw matches and [`MAX_IMAGE_TOKENS`] distinct image
//! tokens are looked at. Results are sorted by score (highest first), then
//! WG name; only WGs with a hit are returned.

use std::collections::{BTreeMap, BTreeSet};

use aho_corasick::AhoCorasick;
use embargo_domain::WgName;
use serde::Serialize;

use crate::Registry;
use crate::image::looks_like_image;

/// Bytes of a text read for suggestions.
pub const MAX_SUGGEST_TEXT: usize = 1024 * 1024;
/// Raw needle matches examined.
pub const MAX_MATCHES: usize = 100_000;
/// Distinct image-like tokens looked up.
pub const MAX_IMAGE_TOKENS: usize = 10_000;

/// Distinct hits of one kind that count for one WG (a report listing fifty
/// KFP images scores as one listing five).
pub const MAX_HITS_PER_KIND: usize = 5;

/// Points per distinct hit.
pub mod weights {
    pub const REPO: u32 = 10;
    pub const IMAGE: u32 = 8;
    pub const PATH: u32 = 6;
    pub const REPO_NAME: u32 = 4;
    pub const KEYWORD: u32 = 3;
}

/// One suggested WG, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    pub wg: WgName,
    pub score: u32,
    /// Human-readable, strongest first, e.g. `repo kubeflow/pipelines`.
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Repo,
    Image,
    Path,
    RepoName,
    Keyword,
}

impl Kind {
    fn weight(self) -> u32 {
        match self {
            Kind::Repo => weights::REPO,
            Kind::Image => weights::IMAGE,
            Kind::Path => weights::PATH,
            Kind::RepoName => weights::REPO_NAME,
            Kind::Keyword => weights::KEYWORD,
        }
    }

    fn describe(self, what: &str) -> String {
        match self {
            Kind::Repo => format!("repo {what}"),
            Kind::Image => format!("image {what}"),
            Kind::Path => format!("path {what}"),
            Kind::RepoName => format!("repo name {what}"),
            Kind::Keyword => format!("keyword {what:?}"),
        }
    }

    /// Whether `-` is part of a word for this kind of needle.
    fn dash_is_word(self) -> bool {
        matches!(self, Kind::Repo | Kind::RepoName)
    }
}

struct Owner<'a> {
    wg: &'a WgName,
    kind: Kind,
    /// As configured, for the reason text.
    shown: &'a str,
}

fn add_needle<'a>(
    needles: &mut BTreeMap<String, Vec<Owner<'a>>>,
    wg: &'a WgName,
    kind: Kind,
    shown: &'a str,
) {
    let key = shown.trim().to_ascii_lowercase();
    if !key.is_empty() {
        needles
            .entry(key)
            .or_default()
            .push(Owner { wg, kind, shown });
    }
}

fn is_word(b: u8, dash: bool) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 || (dash && b == b'-')
}

fn bounded(hay: &[u8], start: usize, end: usize, dash: bool) -> bool {
    let first = hay.get(start).copied();
    let last = end.checked_sub(1).and_then(|i| hay.get(i)).copied();
    let before_ok = match (first, start.checked_sub(1).and_then(|i| hay.get(i))) {
        (Some(f), Some(&b)) if is_word(f, dash) => !is_word(b, dash),
        _ => true,
    };
    let after_ok = match (last, hay.get(end)) {
        (Some(l), Some(&a)) if is_word(l, dash) => !is_word(a, dash),
        _ => true,
    };
    before_ok && after_ok
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char
/// boundary.
pub(crate) fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

fn is_image_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b':' | b'@')
}

/// Distinct image-like tokens of `text`, at most [`MAX_IMAGE_TOKENS`].
pub fn image_tokens(text: &str) -> BTreeSet<&str> {
    let mut out = BTreeSet::new();
    for raw in text.split(|c: char| !(c.is_ascii() && is_image_byte(c as u8))) {
        if out.len() >= MAX_IMAGE_TOKENS {
            break;
        }
        let token = raw.strip_prefix("docker://").unwrap_or(raw);
        let token = token.trim_end_matches(['.', ':', '-', '@', '/']);
        if looks_like_image(token) {
            out.insert(token);
        }
    }
    out
}

impl Registry {
    /// The WGs `text` (a report's subject and body) is most likely about;
    /// see the [module documentation](crate::suggest) for scoring.
    pub fn suggest(&self, text: &str) -> Vec<Suggestion> {
        let text = clip(text, MAX_SUGGEST_TEXT);
        let mut hits: BTreeMap<&WgName, BTreeSet<(Kind, String)>> = BTreeMap::new();

        // Needles: lower-cased text → who owns it.
        let mut needles: BTreeMap<String, Vec<Owner<'_>>> = BTreeMap::new();
        for wg in self.wgs() {
            for repo in &wg.repos {
                add_needle(&mut needles, &wg.name, Kind::Repo, repo);
                if let Some((_, name)) = repo.split_once('/')
                    && name.len() >= 3
                {
                    add_needle(&mut needles, &wg.name, Kind::RepoName, name);
                }
            }
            for path in &wg.paths {
                add_needle(&mut needles, &wg.name, Kind::Path, path);
            }
            for keyword in &wg.keywords {
                add_needle(&mut needles, &wg.name, Kind::Keyword, keyword);
            }
        }
        let owners: Vec<Vec<Owner<'_>>> = needles.values_mut().map(std::mem::take).collect();
        if !owners.is_empty()
            && let Ok(ac) = AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(needles.keys())
        {
            let hay = text.as_bytes();
            for m in ac.find_overlapping_iter(text).take(MAX_MATCHES) {
                let Some(list) = owners.get(m.pattern().as_usize()) else {
                    continue;
                };
                for owner in list {
                    if bounded(hay, m.start(), m.end(), owner.kind.dash_is_word()) {
                        hits.entry(owner.wg)
                            .or_default()
                            .insert((owner.kind, owner.shown.to_owned()));
                    }
                }
            }
        }

        for token in image_tokens(text) {
            if let Some(wg) = self.image_wg(token) {
                hits.entry(wg)
                    .or_default()
                    .insert((Kind::Image, token.to_owned()));
            }
        }

        let mut out: Vec<Suggestion> = hits
            .into_iter()
            .map(|(wg, set)| {
                let repo_names: BTreeSet<String> = set
                    .iter()
                    .filter(|(k, _)| *k == Kind::Repo)
                    .filter_map(|(_, r)| r.split_once('/').map(|(_, n)| n.to_ascii_lowercase()))
                    .collect();
                // The set is in kind order, strongest first: a text hit as
                // several kinds (repo name and keyword `katib`) counts once,
                // as the strongest; at most MAX_HITS_PER_KIND per kind.
                let mut texts: BTreeSet<String> = BTreeSet::new();
                let mut per_kind: BTreeMap<Kind, usize> = BTreeMap::new();
                let mut scored: Vec<(u32, String)> = Vec::new();
                for (k, what) in set {
                    let lower = what.to_ascii_lowercase();
                    if k == Kind::RepoName && repo_names.contains(&lower) {
                        continue;
                    }
                    if !texts.insert(lower) {
                        continue;
                    }
                    if k == Kind::Repo
                        && let Some((_, bare)) = what.split_once('/')
                    {
                        texts.insert(bare.to_ascii_lowercase());
                    }
                    let n = per_kind.entry(k).or_default();
                    if *n >= MAX_HITS_PER_KIND {
                        continue;
                    }
                    *n += 1;
                    scored.push((k.weight(), k.describe(&what)));
                }
                scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
                let score = scored
                    .iter()
                    .fold(0u32, |acc, (w, _)| acc.saturating_add(*w));
                Suggestion {
                    wg: wg.clone(),
                    score,
                    reasons: scored.into_iter().map(|(_, r)| r).collect(),
                }
            })
            .filter(|s| s.score > 0)
            .collect();
        out.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.wg.cmp(&b.wg)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        let b = |hay: &str, needle: &str, dash: bool| {
            let start = hay.find(needle).unwrap();
            bounded(hay.as_bytes(), start, start + needle.len(), dash)
        };
        assert!(b("the kfp server", "kfp", false));
        assert!(b("kfp-server-api", "kfp", false));
        assert!(!b("kfpx", "kfp", false));
        assert!(!b("xkfp", "kfp", false));
        assert!(!b(
            "kubeflow/pipelines-components",
            "kubeflow/pipelines",
            true
        ));
        assert!(b("see kubeflow/pipelines.", "kubeflow/pipelines", true));
        assert!(b(
            "github.com/kubeflow/pipelines/issues",
            "kubeflow/pipelines",
            true
        ));
        assert!(b("in backend/src/x", "backend/", true));
        assert!(!b("naïvekfp", "kfp", false));
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("héllo", 3), "hé");
        assert_eq!(clip("abc", 10), "abc");
    }

    #[test]
    fn tokens() {
        let t = image_tokens(
            "pull ghcr.io/kubeflow/kfp-api-server:2.5.0. Also \"docker.io/kubeflowkatib/katib-controller:v0.18.0\", \
             image=gcr.io/ml-pipeline/frontend@sha256:ab12 and https://github.com/kubeflow/pipelines",
        );
        let t: Vec<&str> = t.into_iter().collect();
        assert_eq!(
            t,
            vec![
                "docker.io/kubeflowkatib/katib-controller:v0.18.0",
                "gcr.io/ml-pipeline/frontend@sha256:ab12",
                "ghcr.io/kubeflow/kfp-api-server:2.5.0",
            ]
        );
    }
}
