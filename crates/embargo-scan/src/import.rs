//! Importing a scan file or a directory of them.
//!
//! A directory is walked to at most [`ImportOptions::max_depth`] levels,
//! never following symbolic links, in name order. What is read:
//!
//! - `kf_<version>_<wg>_images.txt`: a Kubeflow-manifests image list (one
//!   image per line; blank lines and `#` comments skipped). Its `<wg>` token
//!   (`katib`, `pipelines`, `trainer`, `manifests`, `workbenches`, `kserve`,
//!   `model-registry`, `spark`...) places the listed images; the `all` list
//!   names no WG.
//! - `*.json` files: Trivy or Grype reports ([`crate::parse`]). Under a
//!   directory named `kf_<version>_<wg>_images` (kubeflow/manifests'
//!   `security_scan_reports/kf_<version>_<wg>_images/<image>_<tag>_scan.json`),
//!   that `<wg>` token places the report's image too.
//! - Skipped, not errors: the script's derived files (`*_severity_report.json`,
//!   and the `severity_counts`, `severity_counts_with_images_for_WG` and
//!   `summary_of_severity_counts_for_WG` directories), other file types,
//!   symbolic links, special files.
//!
//! A path given directly as a file is read as a report whatever its name
//! (or as an image list when named like one). The given path itself may be
//! a symbolic link; links inside it are not followed.
//!
//! Every file is read on its own: one that is too large, unreadable or not a
//! usable report is listed in [`ImportOutcome::file_errors`] with the reason,
//! and the others still import.
//!
//! **Which WG an image belongs to**, in order of precedence:
//! 1. the registry's image patterns ([`Registry::image_wg`]): the operator's
//!    explicit configuration wins;
//! 2. otherwise the `<wg>` tokens of every image list naming the image and
//!    of the report's directory, each resolved by
//!    [`Registry::resolve_token`] (`katib` → the WG holding `kubeflow/katib`)
//!    or, when the registry knows no such WG, taken as the WG name itself
//!    (as the Kubeflow script reports it). An image listed for several WGs
//!    belongs to each, and its findings count in each, as in the script;
//! 3. otherwise the image is unmapped: its findings are kept with no WG and
//!    it is listed in [`ImportOutcome::unmapped_images`].
//!
//! Identical findings (same WG, image, ID, package, versions and severity,
//! as when the `all` list was scanned too) are kept once.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use embargo_domain::WgName;
use embargo_wg::Registry;

use crate::parse::parse_report;
use crate::{Finding, ScanError};

/// Limits of one import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Largest file read, in bytes.
    pub max_file_bytes: u64,
    /// Most findings kept in all; files past it are reported.
    pub max_findings: usize,
    /// Deepest directory level walked below the given path.
    pub max_depth: usize,
    /// Most directory entries looked at.
    pub max_entries: usize,
    /// Most lines read from one image list.
    pub max_list_lines: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            max_file_bytes: 200 * 1024 * 1024,
            max_findings: 2_000_000,
            max_depth: 12,
            max_entries: 200_000,
            max_list_lines: 100_000,
        }
    }
}

/// Where an import is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub files_done: usize,
    pub files_total: usize,
}

/// What an import found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// Sorted, without exact duplicates.
    pub findings: Vec<Finding>,
    /// Scan reports imported.
    pub files_ok: usize,
    /// Kubeflow image lists read.
    pub image_lists: usize,
    /// Files that could not be imported, with the reason.
    pub file_errors: Vec<(PathBuf, String)>,
    /// Files imported with something left out (entries dropped), with why.
    pub warnings: Vec<(PathBuf, String)>,
    /// Entries skipped without being read (see the module documentation).
    pub files_skipped: usize,
    /// Every scanned image (with or without findings) and its WGs; an empty
    /// list means unmapped.
    pub images: BTreeMap<String, Vec<WgName>>,
    /// Scanned images that no pattern or token places in a WG.
    pub unmapped_images: BTreeSet<String>,
    /// Images named by an image list but by no report.
    pub listed_not_scanned: BTreeSet<String>,
    /// Whether [`ImportOptions::max_findings`] was reached.
    pub truncated: bool,
}

/// `(version, wg)` of `kf_<version>_<wg>_images` (a list's file stem or a
/// report directory's name).
pub fn parse_list_name(name: &str) -> Option<(&str, &str)> {
    let middle = name.strip_prefix("kf_")?.strip_suffix("_images")?;
    let (version, wg) = middle.split_once('_')?;
    if version.is_empty() || wg.is_empty() || wg.contains('_') {
        return None;
    }
    Some((version, wg))
}

fn list_token(path: &Path) -> Option<String> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".txt")?;
    parse_list_name(stem).map(|(_, wg)| wg.to_owned())
}

fn is_image_list(path: &Path) -> bool {
    list_token(path).is_some()
}

const DERIVED_DIRS: [&str; 3] = [
    "severity_counts",
    "severity_counts_with_images_for_WG",
    "summary_of_severity_counts_for_WG",
];

fn is_report_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".json") && !lower.ends_with("_severity_report.json")
}

#[derive(Default)]
struct Collected {
    lists: Vec<PathBuf>,
    reports: Vec<PathBuf>,
    skipped: usize,
    errors: Vec<(PathBuf, String)>,
}

fn collect(root: &Path, options: &ImportOptions) -> Result<Collected, ScanError> {
    let meta = fs::metadata(root).map_err(|e| ScanError::Path {
        path: root.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut out = Collected::default();
    if meta.is_file() {
        if is_image_list(root) {
            out.lists.push(root.to_path_buf());
        } else {
            out.reports.push(root.to_path_buf());
        }
        return Ok(out);
    }
    if !meta.is_dir() {
        return Err(ScanError::Path {
            path: root.to_path_buf(),
            reason: "neither a file nor a directory".to_owned(),
        });
    }
    let mut seen = 0usize;
    let mut stack: Vec<(PathBuf, usize)> = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let reader = match fs::read_dir(&dir) {
            Ok(r) => r,
            Err(e) => {
                out.errors.push((dir, e.to_string()));
                continue;
            }
        };
        let mut entries: Vec<(PathBuf, fs::FileType)> = Vec::new();
        for entry in reader {
            seen = seen.saturating_add(1);
            if seen > options.max_entries {
                out.errors.push((
                    dir.clone(),
                    format!(
                        "more than {} directory entries: the rest was not read",
                        options.max_entries
                    ),
                ));
                stack.clear();
                break;
            }
            match entry.and_then(|e| Ok((e.path(), e.file_type()?))) {
                Ok(pair) => entries.push(pair),
                Err(e) => out.errors.push((dir.clone(), e.to_string())),
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut subdirs = Vec::new();
        for (path, kind) in entries {
            // `DirEntry::file_type` does not follow links: a link is
            // neither a file nor a directory here.
            if kind.is_dir() {
                let derived = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| DERIVED_DIRS.contains(&n));
                if derived || depth >= options.max_depth {
                    out.skipped = out.skipped.saturating_add(1);
                } else {
                    subdirs.push((path, depth.saturating_add(1)));
                }
            } else if kind.is_file() && is_image_list(&path) {
                out.lists.push(path);
            } else if kind.is_file() && is_report_name(&path) {
                out.reports.push(path);
            } else {
                out.skipped = out.skipped.saturating_add(1);
            }
        }
        // Reversed so the stack pops them in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(out)
}

fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let file = fs::File::open(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    if meta.len() > max {
        return Err(format!("{} bytes, over the {max}-byte limit", meta.len()));
    }
    let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    if u64::try_from(buf.len()).unwrap_or(u64::MAX) > max {
        return Err(format!("grew over the {max}-byte limit while read"));
    }
    Ok(buf)
}

/// Images of one list: trimmed lines, blank and `#` lines skipped.
fn read_list(path: &Path, options: &ImportOptions) -> Result<(Vec<String>, usize), String> {
    let bytes = read_bounded(path, options.max_file_bytes)?;
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
    let mut images = Vec::new();
    let mut bad = 0usize;
    for line in text.lines().take(options.max_list_lines) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.len() > embargo_wg::image::MAX_IMAGE_LEN || line.contains(char::is_whitespace) {
            bad = bad.saturating_add(1);
            continue;
        }
        images.push(line.to_owned());
    }
    Ok((images, bad))
}

/// The `<wg>` of the nearest `kf_<version>_<wg>_images` directory holding
/// `path`, below `root`.
fn dir_token(path: &Path, root: &Path) -> Option<String> {
    path.ancestors()
        .skip(1)
        .take_while(|a| a.starts_with(root))
        .filter_map(|a| a.file_name()?.to_str())
        .find_map(|name| parse_list_name(name).map(|(_, wg)| wg.to_owned()))
}

/// The WG a layout token stands for: a registry WG, or the token itself
/// when it is a valid WG name; `all` stands for none.
fn resolve(registry: &Registry, token: &str) -> Option<WgName> {
    if token.eq_ignore_ascii_case("all") {
        return None;
    }
    registry
        .resolve_token(token)
        .cloned()
        .or_else(|| WgName::parse(&token.to_ascii_lowercase()).ok())
}

/// [`import_path_with`] with default limits and no progress reports.
pub fn import_path(path: &Path, registry: &Registry) -> Result<ImportOutcome, ScanError> {
    import_path_with(path, registry, &ImportOptions::default(), &mut |_| {})
}

/// Imports a scan file or directory (see the [module
/// documentation](crate::import)). `progress` is called once before the
/// first file and after every file. Fails only when `path` itself cannot be
/// read; everything else is reported per file in the outcome.
pub fn import_path_with(
    path: &Path,
    registry: &Registry,
    options: &ImportOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<ImportOutcome, ScanError> {
    let collected = collect(path, options)?;
    let mut outcome = ImportOutcome {
        file_errors: collected.errors,
        files_skipped: collected.skipped,
        ..ImportOutcome::default()
    };
    let files_total = collected
        .lists
        .len()
        .saturating_add(collected.reports.len());
    let mut files_done = 0usize;
    progress(Progress {
        files_done,
        files_total,
    });
    let mut step = |progress: &mut dyn FnMut(Progress)| {
        files_done = files_done.saturating_add(1);
        progress(Progress {
            files_done,
            files_total,
        });
    };

    // 1. Image lists: image → tokens.
    let mut listed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for list in &collected.lists {
        match read_list(list, options) {
            Ok((images, bad)) => {
                outcome.image_lists = outcome.image_lists.saturating_add(1);
                if bad > 0 {
                    outcome.warnings.push((
                        list.clone(),
                        format!("{bad} lines are not image references"),
                    ));
                }
                let token = list_token(list);
                for image in images {
                    let tokens = listed.entry(image).or_default();
                    if let Some(t) = &token {
                        tokens.insert(t.clone());
                    }
                }
            }
            Err(reason) => outcome.file_errors.push((list.clone(), reason)),
        }
        step(progress);
    }

    // 2. Reports.
    let mut findings: BTreeSet<Finding> = BTreeSet::new();
    let mut images: BTreeMap<String, BTreeSet<WgName>> = BTreeMap::new();
    for report_path in &collected.reports {
        let parsed = read_bounded(report_path, options.max_file_bytes)
            .and_then(|bytes| parse_report(&bytes).map_err(|e| e.to_string()));
        let report = match parsed {
            Ok(r) => r,
            Err(reason) => {
                outcome.file_errors.push((report_path.clone(), reason));
                step(progress);
                continue;
            }
        };
        if outcome.truncated {
            outcome.file_errors.push((
                report_path.clone(),
                format!(
                    "not imported: the limit of {} findings was reached",
                    options.max_findings
                ),
            ));
            step(progress);
            continue;
        }
        let wgs: BTreeSet<WgName> = match registry.image_wg(&report.image) {
            Some(wg) => BTreeSet::from([wg.clone()]),
            None => listed
                .get(&report.image)
                .into_iter()
                .flatten()
                .cloned()
                .chain(dir_token(report_path, path))
                .filter_map(|t| resolve(registry, &t))
                .collect(),
        };
        let targets: Vec<Option<WgName>> = if wgs.is_empty() {
            vec![None]
        } else {
            wgs.iter().cloned().map(Some).collect()
        };
        'findings: for raw in &report.findings {
            for wg in &targets {
                if findings.len() >= options.max_findings {
                    outcome.truncated = true;
                    break 'findings;
                }
                findings.insert(Finding {
                    wg: wg.clone(),
                    image: report.image.clone(),
                    vuln_id: raw.vuln_id.clone(),
                    package: raw.package.clone(),
                    installed: raw.installed.clone(),
                    fixed: raw.fixed.clone(),
                    severity: raw.severity,
                });
            }
        }
        if outcome.truncated {
            outcome.warnings.push((
                report_path.clone(),
                format!(
                    "partly imported: the limit of {} findings was reached",
                    options.max_findings
                ),
            ));
        }
        if report.dropped > 0 {
            outcome.warnings.push((
                report_path.clone(),
                format!(
                    "{} entries dropped (blank ID, oversized field, or over the per-list limit)",
                    report.dropped
                ),
            ));
        }
        images.entry(report.image).or_default().extend(wgs);
        outcome.files_ok = outcome.files_ok.saturating_add(1);
        step(progress);
    }

    outcome.listed_not_scanned = listed
        .into_keys()
        .filter(|image| !images.contains_key(image))
        .collect();
    outcome.unmapped_images = images
        .iter()
        .filter(|(_, wgs)| wgs.is_empty())
        .map(|(image, _)| image.clone())
        .collect();
    outcome.images = images
        .into_iter()
        .map(|(image, wgs)| (image, wgs.into_iter().collect()))
        .collect();
    outcome.findings = findings.into_iter().collect();
    Ok(outcome)
}
