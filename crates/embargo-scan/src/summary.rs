//! The per-WG release summary: the shape of `embargo scan summary --json`.
//!
//! ```json
//! {"release": "1.10.0",
//!  "wgs": {"pipelines": {"images": 2, "LOW": 1, "MEDIUM": 0, "HIGH": 3, "CRITICAL": 0, "UNKNOWN": 0}},
//!  "unmapped": ["docker.io/library/busybox:1.28"]}
//! ```
//!
//! Counting rules:
//! - `images`: distinct image references (tag included) of the WG.
//! - severity counts: distinct `(image, vuln_id, package)` of the WG. The
//!   same vulnerability in the same package of the same image counts once
//!   even when the scanner reports it several times (several installed
//!   versions, several lockfiles, reports scanned twice), at the worst
//!   severity reported for it ([`ScanSeverity::rank`]: any known rating
//!   outranks `UNKNOWN`).
//! - `unmapped`: sorted distinct images with no WG; their findings are not
//!   counted in any WG.
//! - An image listed for several WGs counts in each.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::Finding;
use crate::import::ImportOutcome;
use crate::severity::ScanSeverity;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WgCounts {
    pub images: u64,
    #[serde(rename = "LOW")]
    pub low: u64,
    #[serde(rename = "MEDIUM")]
    pub medium: u64,
    #[serde(rename = "HIGH")]
    pub high: u64,
    #[serde(rename = "CRITICAL")]
    pub critical: u64,
    #[serde(rename = "UNKNOWN")]
    pub unknown: u64,
}

impl WgCounts {
    pub fn get(&self, severity: ScanSeverity) -> u64 {
        match severity {
            ScanSeverity::Low => self.low,
            ScanSeverity::Medium => self.medium,
            ScanSeverity::High => self.high,
            ScanSeverity::Critical => self.critical,
            ScanSeverity::Unknown => self.unknown,
        }
    }

    fn bump(&mut self, severity: ScanSeverity) {
        let slot = match severity {
            ScanSeverity::Low => &mut self.low,
            ScanSeverity::Medium => &mut self.medium,
            ScanSeverity::High => &mut self.high,
            ScanSeverity::Critical => &mut self.critical,
            ScanSeverity::Unknown => &mut self.unknown,
        };
        *slot = slot.saturating_add(1);
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub release: String,
    /// By WG name, sorted.
    pub wgs: BTreeMap<String, WgCounts>,
    pub unmapped: Vec<String>,
}

/// The summary of `findings` for `release`. Images without findings are
/// not known here: see [`ImportOutcome::summary`] to count them too.
pub fn summarize(release: &str, findings: &[Finding]) -> Summary {
    build(release, findings, std::iter::empty())
}

/// Severity counts of `findings` as a summary counts a WG's: one per
/// image, vulnerability and package (its worst severity); `images` is the
/// number of distinct images among them. For the unmapped images' row.
pub fn counts_of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> WgCounts {
    type Key<'k> = (&'k str, &'k str, &'k str);
    let mut images: BTreeSet<&str> = BTreeSet::new();
    let mut worst: BTreeMap<Key<'a>, ScanSeverity> = BTreeMap::new();
    for f in findings {
        images.insert(&f.image);
        worst
            .entry((&f.image, &f.vuln_id, &f.package))
            .and_modify(|s| {
                if f.severity.rank() > s.rank() {
                    *s = f.severity;
                }
            })
            .or_insert(f.severity);
    }
    let mut counts = WgCounts {
        images: u64::try_from(images.len()).unwrap_or(u64::MAX),
        ..WgCounts::default()
    };
    for severity in worst.into_values() {
        counts.bump(severity);
    }
    counts
}

impl ImportOutcome {
    /// The summary of this import, counting scanned images without
    /// findings in their WG's `images` (or in `unmapped`) too.
    pub fn summary(&self, release: &str) -> Summary {
        let images = self.images.iter().flat_map(|(image, wgs)| {
            let wgs: Vec<Option<String>> = if wgs.is_empty() {
                vec![None]
            } else {
                wgs.iter().map(|w| Some(w.to_string())).collect()
            };
            wgs.into_iter().map(move |wg| (image.as_str(), wg))
        });
        build(release, &self.findings, images)
    }
}

fn build<'a>(
    release: &str,
    findings: &'a [Finding],
    images: impl Iterator<Item = (&'a str, Option<String>)>,
) -> Summary {
    type Key<'k> = (&'k str, &'k str, &'k str);
    let mut per_wg: BTreeMap<String, (BTreeSet<&str>, BTreeMap<Key<'a>, ScanSeverity>)> =
        BTreeMap::new();
    let mut unmapped: BTreeSet<&str> = BTreeSet::new();
    for f in findings {
        let Some(wg) = &f.wg else {
            unmapped.insert(&f.image);
            continue;
        };
        let (imgs, worst) = per_wg.entry(wg.to_string()).or_default();
        imgs.insert(&f.image);
        worst
            .entry((&f.image, &f.vuln_id, &f.package))
            .and_modify(|s| {
                if f.severity.rank() > s.rank() {
                    *s = f.severity;
                }
            })
            .or_insert(f.severity);
    }
    for (image, wg) in images {
        match wg {
            Some(wg) => {
                per_wg.entry(wg).or_default().0.insert(image);
            }
            None => {
                unmapped.insert(image);
            }
        }
    }
    let wgs = per_wg
        .into_iter()
        .map(|(wg, (imgs, worst))| {
            let mut counts = WgCounts {
                images: u64::try_from(imgs.len()).unwrap_or(u64::MAX),
                ..WgCounts::default()
            };
            for severity in worst.into_values() {
                counts.bump(severity);
            }
            (wg, counts)
        })
        .collect();
    Summary {
        release: release.to_owned(),
        wgs,
        unmapped: unmapped.into_iter().map(str::to_owned).collect(),
    }
}
