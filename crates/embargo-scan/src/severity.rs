//! Scanner severities, normalised.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A finding's severity as the scanner rated it, folded into the five
/// buckets of the release summary.
///
/// Normalisation ([`ScanSeverity::normalize`]), ASCII case-insensitive,
/// surrounding blanks ignored:
///
/// | scanner says | bucket |
/// | --- | --- |
/// | `LOW`, `Low`, Grype's `Negligible` | `LOW` |
/// | `MEDIUM`, `Medium`, `Moderate` (GitHub/npm) | `MEDIUM` |
/// | `HIGH`, `Important` (Red Hat) | `HIGH` |
/// | `CRITICAL` | `CRITICAL` |
/// | `UNKNOWN`, empty, missing, anything else | `UNKNOWN` |
///
/// Grype's `Negligible` goes to `LOW`: it is a rating (below low), not an
/// absence of one, and the summary has no lower bucket. A severity that is
/// not understood is never dropped: the finding is kept as `UNKNOWN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ScanSeverity {
    Low,
    Medium,
    High,
    Critical,
    Unknown,
}

impl ScanSeverity {
    pub const ALL: [ScanSeverity; 5] = [
        ScanSeverity::Low,
        ScanSeverity::Medium,
        ScanSeverity::High,
        ScanSeverity::Critical,
        ScanSeverity::Unknown,
    ];

    pub fn normalize(raw: Option<&str>) -> Self {
        let Some(raw) = raw else {
            return ScanSeverity::Unknown;
        };
        let raw = raw.trim();
        let is = |s: &str| raw.eq_ignore_ascii_case(s);
        if is("low") || is("negligible") {
            ScanSeverity::Low
        } else if is("medium") || is("moderate") {
            ScanSeverity::Medium
        } else if is("high") || is("important") {
            ScanSeverity::High
        } else if is("critical") {
            ScanSeverity::Critical
        } else {
            ScanSeverity::Unknown
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ScanSeverity::Low => "LOW",
            ScanSeverity::Medium => "MEDIUM",
            ScanSeverity::High => "HIGH",
            ScanSeverity::Critical => "CRITICAL",
            ScanSeverity::Unknown => "UNKNOWN",
        }
    }

    /// Order for "the worst of several ratings": a known rating outranks
    /// `UNKNOWN`, then `LOW` < `MEDIUM` < `HIGH` < `CRITICAL`.
    pub fn rank(self) -> u8 {
        match self {
            ScanSeverity::Unknown => 0,
            ScanSeverity::Low => 1,
            ScanSeverity::Medium => 2,
            ScanSeverity::High => 3,
            ScanSeverity::Critical => 4,
        }
    }
}

impl fmt::Display for ScanSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        let n = |s: &str| ScanSeverity::normalize(Some(s));
        assert_eq!(n("LOW"), ScanSeverity::Low);
        assert_eq!(n("Negligible"), ScanSeverity::Low);
        assert_eq!(n(" medium "), ScanSeverity::Medium);
        assert_eq!(n("Moderate"), ScanSeverity::Medium);
        assert_eq!(n("Important"), ScanSeverity::High);
        assert_eq!(n("Critical"), ScanSeverity::Critical);
        assert_eq!(n("UNKNOWN"), ScanSeverity::Unknown);
        assert_eq!(n(""), ScanSeverity::Unknown);
        assert_eq!(n("severe!!"), ScanSeverity::Unknown);
        assert_eq!(ScanSeverity::normalize(None), ScanSeverity::Unknown);
        assert_eq!(
            serde_json::to_string(&ScanSeverity::Critical).unwrap(),
            "\"CRITICAL\""
        );
    }
}
