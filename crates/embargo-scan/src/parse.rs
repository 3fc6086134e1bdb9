//! Trivy and Grype JSON reports, told apart by shape.
//!
//! - **Trivy** (`trivy image --format json`, SchemaVersion 2): a top-level
//!   object with `Results` (or `SchemaVersion`/`ArtifactName`). Findings are
//!   `Results[].Vulnerabilities[]`: `VulnerabilityID`, `PkgName` (else
//!   `PkgID`), `InstalledVersion`, `FixedVersion`, `Severity`. The image is
//!   `ArtifactName`; when that is a local archive (`….tar`, `….tar.gz`,
//!   `….tgz`: `trivy image --input`), `Metadata.Reference` or the first
//!   `Metadata.RepoTags` entry is used instead when present.
//!   Misconfiguration and secret results carry no vulnerabilities and yield
//!   no findings.
//! - **Grype** (`grype -o json`): a top-level object with `matches`.
//!   Findings are `matches[]`: `vulnerability.id`, `vulnerability.severity`,
//!   `vulnerability.fix.versions` (joined with `, `), `artifact.name`,
//!   `artifact.version`. The image is `source.target.userInput` (or
//!   `source.target` when it is a string, as for directory scans).
//!
//! Anything else (SARIF, CycloneDX, SPDX, ASFF, GitLab reports, a
//! Kubeflow `*_severity_report.json`, XML) is refused with a reason naming
//! what it looks like. Unknown fields are ignored; a field of the wrong type
//! refuses the file with serde's line and column.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::severity::ScanSeverity;

/// Most findings read from one list of one report; the rest are counted
/// in [`ParsedReport::dropped`].
pub const MAX_FINDINGS_PER_LIST: usize = 1_000_000;
/// Longest ID, package, version or image accepted, in bytes; a finding with
/// a longer one is dropped (and counted).
pub const MAX_FIELD_LEN: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanFormat {
    Trivy,
    Grype,
}

impl fmt::Display for ScanFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScanFormat::Trivy => "Trivy",
            ScanFormat::Grype => "Grype",
        })
    }
}

/// One vulnerability in one package, before it is placed in a WG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFinding {
    pub vuln_id: String,
    pub package: String,
    pub installed: String,
    pub fixed: Option<String>,
    pub severity: ScanSeverity,
}

/// A parsed report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReport {
    pub format: ScanFormat,
    pub image: String,
    pub findings: Vec<RawFinding>,
    /// Entries not imported: beyond [`MAX_FINDINGS_PER_LIST`], with a blank
    /// ID, or with a field over [`MAX_FIELD_LEN`].
    pub dropped: usize,
}

/// Why a file is not a usable report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("malformed {format} report: {reason}")]
    Malformed { format: String, reason: String },
    #[error("not a Trivy or Grype JSON report ({0})")]
    Unsupported(String),
    #[error("{0} report names no image")]
    NoImage(ScanFormat),
}

/// A list read up to [`MAX_FINDINGS_PER_LIST`] entries; the rest are
/// skipped without being built, and counted.
struct Capped<T> {
    items: Vec<T>,
    dropped: usize,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Capped<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Capped<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Capped<T>, A::Error> {
                let mut items = Vec::new();
                let mut dropped = 0usize;
                loop {
                    if items.len() < MAX_FINDINGS_PER_LIST {
                        match seq.next_element::<T>()? {
                            Some(item) => items.push(item),
                            None => break,
                        }
                    } else {
                        match seq.next_element::<IgnoredAny>()? {
                            Some(_) => dropped = dropped.saturating_add(1),
                            None => break,
                        }
                    }
                }
                Ok(Capped { items, dropped })
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

#[derive(Deserialize)]
struct Doc {
    // Trivy
    #[serde(rename = "SchemaVersion", default)]
    schema_version: Option<IgnoredAny>,
    #[serde(rename = "ArtifactName", default)]
    artifact_name: Option<String>,
    #[serde(rename = "Metadata", default)]
    metadata: Option<TrivyMetadata>,
    #[serde(rename = "Results", default)]
    results: Option<Capped<TrivyResult>>,
    // Grype
    #[serde(default)]
    matches: Option<Capped<GrypeMatch>>,
    #[serde(default)]
    source: Option<GrypeSource>,
    // Other formats, recognised to say what a refused file is.
    #[serde(rename = "bomFormat", default)]
    bom_format: Option<IgnoredAny>,
    #[serde(rename = "spdxVersion", default)]
    spdx_version: Option<IgnoredAny>,
    #[serde(default)]
    runs: Option<IgnoredAny>,
    #[serde(rename = "Findings", default)]
    asff_findings: Option<IgnoredAny>,
    #[serde(default)]
    vulnerabilities: Option<IgnoredAny>,
    #[serde(default)]
    severity_counts: Option<IgnoredAny>,
    #[serde(default)]
    manifests: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct TrivyMetadata {
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Reference", default)]
    reference: Option<String>,
}

#[derive(Deserialize)]
struct TrivyResult {
    #[serde(rename = "Vulnerabilities", default)]
    vulnerabilities: Option<Capped<TrivyVuln>>,
}

#[derive(Deserialize)]
struct TrivyVuln {
    #[serde(rename = "VulnerabilityID")]
    id: String,
    #[serde(rename = "PkgName", default)]
    pkg_name: Option<String>,
    #[serde(rename = "PkgID", default)]
    pkg_id: Option<String>,
    #[serde(rename = "InstalledVersion", default)]
    installed: Option<String>,
    #[serde(rename = "FixedVersion", default)]
    fixed: Option<String>,
    #[serde(rename = "Severity", default)]
    severity: Option<String>,
}

#[derive(Deserialize)]
struct GrypeMatch {
    vulnerability: GrypeVuln,
    artifact: GrypeArtifact,
}

#[derive(Deserialize)]
struct GrypeVuln {
    id: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    fix: Option<GrypeFix>,
}

#[derive(Deserialize)]
struct GrypeFix {
    #[serde(default)]
    versions: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct GrypeArtifact {
    name: String,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct GrypeSource {
    #[serde(default)]
    target: Option<GrypeTarget>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum GrypeTarget {
    Image {
        #[serde(rename = "userInput")]
        user_input: String,
    },
    Text(String),
    Other(IgnoredAny),
}

fn non_blank(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn is_archive(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

fn trivy_image(name: Option<String>, metadata: Option<TrivyMetadata>) -> Option<String> {
    let name = non_blank(name);
    let from_metadata = metadata.and_then(|m| {
        non_blank(m.reference).or_else(|| {
            m.repo_tags
                .and_then(|tags| tags.into_iter().find_map(|t| non_blank(Some(t))))
        })
    });
    match name {
        Some(n) if is_archive(&n) => from_metadata.or(Some(n)),
        Some(n) => Some(n),
        None => from_metadata,
    }
}

/// Pushes a finding unless it is unusable (counted in `dropped`).
fn push(out: &mut ParsedReport, finding: RawFinding) {
    let too_long = [
        finding.vuln_id.as_str(),
        finding.package.as_str(),
        finding.installed.as_str(),
        finding.fixed.as_deref().unwrap_or(""),
    ]
    .iter()
    .any(|f| f.len() > MAX_FIELD_LEN);
    if finding.vuln_id.is_empty() || too_long {
        out.dropped = out.dropped.saturating_add(1);
    } else {
        out.findings.push(finding);
    }
}

fn what_it_looks_like(doc: &Doc) -> &'static str {
    if doc.bom_format.is_some() {
        "looks like a CycloneDX SBOM"
    } else if doc.spdx_version.is_some() {
        "looks like an SPDX document"
    } else if doc.runs.is_some() {
        "looks like SARIF"
    } else if doc.asff_findings.is_some() {
        "looks like AWS Security Finding Format"
    } else if doc.severity_counts.is_some() {
        "looks like a Kubeflow severity count, not a scan"
    } else if doc.manifests.is_some() {
        "looks like a GitHub dependency snapshot"
    } else if doc.vulnerabilities.is_some() {
        "looks like a GitLab security report"
    } else {
        "no `Results` or `matches`"
    }
}

/// Parses one Trivy or Grype JSON report.
pub fn parse_report(bytes: &[u8]) -> Result<ParsedReport, ParseError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(b'[') => {
            return Err(ParseError::Unsupported(
                "a JSON array (e.g. GitLab code quality)".to_owned(),
            ));
        }
        Some(b'<') => return Err(ParseError::Unsupported("looks like XML".to_owned())),
        Some(_) => return Err(ParseError::NotJson("does not start with `{`".to_owned())),
        None => return Err(ParseError::NotJson("empty file".to_owned())),
    }
    let doc: Doc = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ParseError::NotJson(e.to_string())
        } else {
            ParseError::Malformed {
                format: "Trivy or Grype".to_owned(),
                reason: e.to_string(),
            }
        }
    })?;

    let trivy = doc.results.is_some() || doc.schema_version.is_some();
    if trivy {
        let image = trivy_image(doc.artifact_name, doc.metadata)
            .ok_or(ParseError::NoImage(ScanFormat::Trivy))?;
        let mut out = ParsedReport {
            format: ScanFormat::Trivy,
            image,
            findings: Vec::new(),
            dropped: 0,
        };
        if let Some(results) = doc.results {
            out.dropped = out.dropped.saturating_add(results.dropped);
            for result in results.items {
                let Some(vulns) = result.vulnerabilities else {
                    continue;
                };
                out.dropped = out.dropped.saturating_add(vulns.dropped);
                for v in vulns.items {
                    let finding = RawFinding {
                        vuln_id: v.id.trim().to_owned(),
                        package: non_blank(v.pkg_name)
                            .or_else(|| non_blank(v.pkg_id))
                            .unwrap_or_default(),
                        installed: non_blank(v.installed).unwrap_or_default(),
                        fixed: non_blank(v.fixed),
                        severity: ScanSeverity::normalize(v.severity.as_deref()),
                    };
                    push(&mut out, finding);
                }
            }
        }
        return Ok(out);
    }

    if let Some(matches) = doc.matches {
        let image = match doc.source.and_then(|s| s.target) {
            Some(GrypeTarget::Image { user_input }) => non_blank(Some(user_input)),
            Some(GrypeTarget::Text(t)) => non_blank(Some(t)),
            Some(GrypeTarget::Other(_)) | None => None,
        }
        .ok_or(ParseError::NoImage(ScanFormat::Grype))?;
        let mut out = ParsedReport {
            format: ScanFormat::Grype,
            image,
            findings: Vec::new(),
            dropped: matches.dropped,
        };
        for m in matches.items {
            let fixed = m
                .vulnerability
                .fix
                .and_then(|f| f.versions)
                .map(|v| {
                    v.into_iter()
                        .filter(|s| !s.trim().is_empty())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .filter(|s| !s.is_empty());
            let finding = RawFinding {
                vuln_id: m.vulnerability.id.trim().to_owned(),
                package: m.artifact.name.trim().to_owned(),
                installed: non_blank(m.artifact.version).unwrap_or_default(),
                fixed,
                severity: ScanSeverity::normalize(m.vulnerability.severity.as_deref()),
            };
            push(&mut out, finding);
        }
        return Ok(out);
    }

    Err(ParseError::Unsupported(what_it_looks_like(&doc).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_trivy() {
        let r = parse_report(
            br#"{"ArtifactName":"ghcr.io/x/y:1","Results":[{"Target":"t","Vulnerabilities":[
              {"VulnerabilityID":"CVE-1","PkgName":"openssl","InstalledVersion":"1","FixedVersion":"2","Severity":"HIGH"},
              {"VulnerabilityID":"CVE-2","PkgID":"zlib@1","InstalledVersion":"1","Severity":"whatever"},
              {"VulnerabilityID":" ","PkgName":"x"}
            ]},{"Target":"u","Vulnerabilities":null},{"Target":"v"}]}"#,
        )
        .unwrap();
        assert_eq!(r.format, ScanFormat::Trivy);
        assert_eq!(r.image, "ghcr.io/x/y:1");
        assert_eq!(r.findings.len(), 2);
        assert_eq!(r.dropped, 1);
        let second = r.findings.get(1).unwrap();
        assert_eq!(second.package, "zlib@1");
        assert_eq!(second.fixed, None);
        assert_eq!(second.severity, ScanSeverity::Unknown);
    }

    #[test]
    fn archive_names_give_way_to_the_reference() {
        let r = parse_report(
            br#"{"SchemaVersion":2,"ArtifactName":"testdata/alpine.tar.gz",
                 "Metadata":{"RepoTags":["ghcr.io/a/alpine:3.9"]}}"#,
        )
        .unwrap();
        assert_eq!(r.image, "ghcr.io/a/alpine:3.9");
        assert!(r.findings.is_empty());
    }

    #[test]
    fn refusals() {
        let err = |b: &[u8]| parse_report(b).unwrap_err();
        assert!(matches!(err(b""), ParseError::NotJson(_)));
        assert!(matches!(err(b"{\"Results\": ["), ParseError::NotJson(_)));
        assert!(matches!(err(b"<testsuites/>"), ParseError::Unsupported(_)));
        assert!(matches!(err(b"[1,2]"), ParseError::Unsupported(_)));
        assert!(matches!(err(b"{}"), ParseError::Unsupported(_)));
        assert!(matches!(
            err(br#"{"image":"x","severity_counts":{}}"#),
            ParseError::Unsupported(_)
        ));
        assert!(matches!(
            err(br#"{"Results":[{"Vulnerabilities":[{"PkgName":"x"}]}],"ArtifactName":"a"}"#),
            ParseError::Malformed { .. }
        ));
        assert!(matches!(
            err(br#"{"Results":[]}"#),
            ParseError::NoImage(ScanFormat::Trivy)
        ));
        assert!(matches!(
            err(br#"{"matches":[]}"#),
            ParseError::NoImage(ScanFormat::Grype)
        ));
        assert!(matches!(
            err(br#"{"matches":[{"vulnerability":{"id":1},"artifact":{"name":"a"}}],"source":{"target":"x"}}"#),
            ParseError::Malformed { .. }
        ));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut s = String::from("{\"x\":");
        s.push_str(&"[".repeat(100_000));
        assert!(parse_report(s.as_bytes()).is_err());
    }
}
