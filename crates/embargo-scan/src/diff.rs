//! What changed between two scans of a release (or two releases).
//!
//! Findings are compared per WG by `(wg, image repository, vuln_id,
//! package)`: the image's tag and digest are ignored
//! ([`embargo_wg::image::image_repository`]), so a vulnerability still
//! present after `kfp-api-server:2.4.0` became `:2.5.0` is neither new nor
//! fixed, and installed versions, fixed versions and severities do not
//! matter. A finding whose image moved to another WG shows as fixed in the
//! old WG and new in the new one.

use std::collections::BTreeMap;

use embargo_domain::WgName;
use embargo_wg::image::image_repository;
use serde::Serialize;

use crate::Finding;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// In `current`, not in `previous`: one finding per key, sorted by key.
    pub new: Vec<Finding>,
    /// In `previous`, not in `current`: one finding per key, sorted by key.
    pub fixed: Vec<Finding>,
}

/// Counts of a [`Diff`] for one WG (`None`: unmapped images).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WgDiff {
    pub new: usize,
    pub fixed: usize,
}

type Key<'a> = (Option<&'a WgName>, &'a str, &'a str, &'a str);

fn key(f: &Finding) -> Key<'_> {
    (
        f.wg.as_ref(),
        image_repository(&f.image),
        f.vuln_id.as_str(),
        f.package.as_str(),
    )
}

fn index(findings: &[Finding]) -> BTreeMap<Key<'_>, &Finding> {
    let mut map = BTreeMap::new();
    for f in findings {
        map.entry(key(f))
            .and_modify(|kept: &mut &Finding| {
                // One deterministic representative per key.
                if f < *kept {
                    *kept = f;
                }
            })
            .or_insert(f);
    }
    map
}

pub fn diff(previous: &[Finding], current: &[Finding]) -> Diff {
    let before = index(previous);
    let after = index(current);
    Diff {
        new: after
            .iter()
            .filter(|(k, _)| !before.contains_key(*k))
            .map(|(_, f)| (*f).clone())
            .collect(),
        fixed: before
            .iter()
            .filter(|(k, _)| !after.contains_key(*k))
            .map(|(_, f)| (*f).clone())
            .collect(),
    }
}

impl Diff {
    /// New and fixed counts per WG.
    pub fn per_wg(&self) -> BTreeMap<Option<WgName>, WgDiff> {
        let mut out: BTreeMap<Option<WgName>, WgDiff> = BTreeMap::new();
        for f in &self.new {
            let e = out.entry(f.wg.clone()).or_default();
            e.new = e.new.saturating_add(1);
        }
        for f in &self.fixed {
            let e = out.entry(f.wg.clone()).or_default();
            e.fixed = e.fixed.saturating_add(1);
        }
        out
    }
}
