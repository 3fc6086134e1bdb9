//! Container image references and the WGs' image patterns.
//!
//! Patterns are globs ([`globset`]) matched case-sensitively, with `*`
//! crossing `/` (so `ghcr.io/kubeflow/*` covers `ghcr.io/kubeflow/katib/x:1`)
//! and `?`, `[...]`, `{a,b}` as usual.
//!
//! An image is matched in several spellings (see [`candidates`]): as
//! written, without its digest, without its tag, and for Docker Hub images
//! written without a registry, also with `docker.io/` (and
//! `docker.io/library/` for official images). So `ghcr.io/kubeflow/kfp-*`
//! matches `ghcr.io/kubeflow/kfp-api-server:2.5.0`, and
//! `docker.io/kubeflownotebookswg/jupyter-web-app` matches
//! `kubeflownotebookswg/jupyter-web-app:v1.10.0`.

use embargo_domain::WgName;
use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};

use crate::WgError;
use crate::model::{MAX_PATTERN_LEN, Wg, excerpt};

/// Longest image reference considered, in bytes.
pub const MAX_IMAGE_LEN: usize = 512;

pub(crate) fn build_glob(pattern: &str) -> Result<Glob, WgError> {
    let invalid = |reason: String| WgError::InvalidPattern {
        pattern: excerpt(pattern),
        reason,
    };
    if pattern.trim().is_empty() {
        return Err(invalid("empty pattern".to_owned()));
    }
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(invalid(format!("longer than {MAX_PATTERN_LEN} bytes")));
    }
    if pattern.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("contains whitespace".to_owned()));
    }
    GlobBuilder::new(pattern)
        .literal_separator(false)
        .case_insensitive(false)
        .build()
        .map_err(|e| invalid(e.kind().to_string()))
}

/// Checks and compiles one image pattern.
pub fn compile_pattern(pattern: &str) -> Result<GlobMatcher, WgError> {
    Ok(build_glob(pattern)?.compile_matcher())
}

/// How specific a pattern is: its count of characters that are not glob
/// syntax. `ghcr.io/kubeflow/kfp-*` (21) beats `ghcr.io/kubeflow/*` (17).
pub fn specificity(pattern: &str) -> usize {
    pattern
        .chars()
        .filter(|c| !matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | ',' | '!' | '\\'))
        .count()
}

/// The image without its tag and digest: `ghcr.io/kubeflow/kfp-api-server`
/// for `ghcr.io/kubeflow/kfp-api-server:2.5.0@sha256:…`. A `:` in the
/// registry part (`localhost:5000/x`) is a port, not a tag.
pub fn image_repository(image: &str) -> &str {
    let image = image.trim();
    let no_digest = image.split_once('@').map_or(image, |(name, _)| name);
    let last_slash = no_digest.rfind('/').map_or(0, |i| i.saturating_add(1));
    match no_digest.get(last_slash..).and_then(|last| last.rfind(':')) {
        Some(colon) => no_digest
            .get(..last_slash.saturating_add(colon))
            .unwrap_or(no_digest),
        None => no_digest,
    }
}

/// Whether the first path component of an image is a registry host
/// (`ghcr.io`, `localhost:5000`, `localhost`), rather than a Docker Hub
/// namespace.
fn has_registry(image: &str) -> bool {
    match image.split_once('/') {
        Some((first, _)) => first.contains('.') || first.contains(':') || first == "localhost",
        None => false,
    }
}

/// The spellings of an image that patterns are matched against, in order:
/// as written, without digest, without tag and digest, then the same with
/// Docker Hub's implicit `docker.io/` (`docker.io/library/` for a
/// single-component name) when no registry is written.
pub fn candidates(image: &str) -> Vec<String> {
    let image = image.trim();
    let no_digest = image.split_once('@').map_or(image, |(name, _)| name);
    let repo = image_repository(image);
    let mut out: Vec<String> = Vec::with_capacity(6);
    let mut push = |s: String| {
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    };
    for s in [image, no_digest, repo] {
        push(s.to_owned());
    }
    if !image.is_empty() && !has_registry(image) {
        let prefix = if repo.contains('/') {
            "docker.io/"
        } else {
            "docker.io/library/"
        };
        for s in [image, no_digest, repo] {
            push(format!("{prefix}{s}"));
        }
    }
    out
}

/// Whether a token from free text looks like a container image reference
/// (`registry/path:tag`, `registry/path@sha256:…`, `org/name:tag`).
/// `kubeflow/pipelines` alone is a repository, not an image: an image needs a
/// registry host, a tag or a digest.
pub fn looks_like_image(token: &str) -> bool {
    if token.len() < 3 || token.len() > MAX_IMAGE_LEN || token.contains("://") {
        return false;
    }
    let charset_ok = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b':' | b'@'));
    if !charset_ok || !token.contains('/') || token.starts_with(['/', '.', '-', ':', '@']) {
        return false;
    }
    if token.contains("//") || token.ends_with('/') {
        return false;
    }
    let tagged = image_repository(token) != token;
    tagged || has_registry(token)
}

/// All WGs' image patterns, compiled into one set.
#[derive(Debug, Clone)]
pub(crate) struct ImageIndex {
    set: GlobSet,
    /// Per glob in `set`: (WG, the pattern's position in the WG, specificity).
    entries: Vec<IndexEntry>,
}

#[derive(Debug, Clone)]
struct IndexEntry {
    wg: WgName,
    position: usize,
    specificity: usize,
}

impl Default for ImageIndex {
    fn default() -> Self {
        Self {
            set: GlobSet::empty(),
            entries: Vec::new(),
        }
    }
}

impl ImageIndex {
    /// `wgs` in registry (name) order.
    pub(crate) fn build<'a>(wgs: impl Iterator<Item = &'a Wg>) -> Result<Self, WgError> {
        let mut builder = GlobSetBuilder::new();
        let mut entries = Vec::new();
        for wg in wgs {
            for (position, pattern) in wg.images.iter().enumerate() {
                builder.add(build_glob(pattern)?);
                entries.push(IndexEntry {
                    wg: wg.name.clone(),
                    position,
                    specificity: specificity(pattern),
                });
            }
        }
        let set = builder.build().map_err(|e| WgError::InvalidPattern {
            pattern: String::new(),
            reason: e.to_string(),
        })?;
        Ok(Self { set, entries })
    }

    /// The WG owning `image`; see [`crate::Registry::image_wg`] for the
    /// precedence.
    pub(crate) fn lookup(&self, image: &str) -> Option<&WgName> {
        if self.entries.is_empty() || image.len() > MAX_IMAGE_LEN {
            return None;
        }
        let mut best: Option<&IndexEntry> = None;
        let mut hits = Vec::new();
        for candidate in candidates(image) {
            self.set.matches_into(candidate.as_str(), &mut hits);
            for &i in &hits {
                let Some(entry) = self.entries.get(i) else {
                    continue;
                };
                let better = match best {
                    None => true,
                    Some(b) => {
                        (
                            std::cmp::Reverse(entry.specificity),
                            &entry.wg,
                            entry.position,
                        ) < (std::cmp::Reverse(b.specificity), &b.wg, b.position)
                    }
                };
                if better {
                    best = Some(entry);
                }
            }
        }
        best.map(|e| &e.wg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_strips_tag_and_digest() {
        assert_eq!(
            image_repository("ghcr.io/kubeflow/kfp-api-server:2.5.0"),
            "ghcr.io/kubeflow/kfp-api-server"
        );
        assert_eq!(
            image_repository("ghcr.io/kubeflow/x:1@sha256:abcd"),
            "ghcr.io/kubeflow/x"
        );
        assert_eq!(image_repository("localhost:5000/x"), "localhost:5000/x");
        assert_eq!(image_repository("localhost:5000/x:1"), "localhost:5000/x");
        assert_eq!(image_repository("busybox"), "busybox");
        assert_eq!(image_repository("busybox:1.28"), "busybox");
    }

    #[test]
    fn candidates_add_docker_hub_spellings() {
        let c = candidates("kubeflownotebookswg/jupyter-web-app:v1.10.0");
        assert!(c.contains(&"docker.io/kubeflownotebookswg/jupyter-web-app".to_owned()));
        let c = candidates("busybox:1.28");
        assert!(c.contains(&"docker.io/library/busybox".to_owned()));
        let c = candidates("ghcr.io/kubeflow/x:1");
        assert_eq!(c, vec!["ghcr.io/kubeflow/x:1", "ghcr.io/kubeflow/x"]);
    }

    #[test]
    fn image_tokens() {
        for yes in [
            "ghcr.io/kubeflow/kfp-api-server:2.5.0",
            "ghcr.io/kubeflow/kfp-api-server",
            "kubeflownotebookswg/jupyter-web-app:v1.10.0",
            "gcr.io/ml-pipeline/api-server@sha256:0123",
            "localhost:5000/x",
        ] {
            assert!(looks_like_image(yes), "{yes}");
        }
        for no in [
            "kubeflow/pipelines",
            "https://github.com/kubeflow/pipelines",
            "a/b/",
            "/etc/passwd",
            "hello",
            "it's/x:1",
        ] {
            assert!(!looks_like_image(no), "{no}");
        }
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(compile_pattern("ghcr.io/kubeflow/[").is_err());
        assert!(compile_pattern("").is_err());
        assert!(compile_pattern("a b").is_err());
        assert!(compile_pattern(&"a".repeat(MAX_PATTERN_LEN + 1)).is_err());
        assert!(compile_pattern("ghcr.io/kubeflow/{kfp,ml-pipeline}-*").is_ok());
    }
}
