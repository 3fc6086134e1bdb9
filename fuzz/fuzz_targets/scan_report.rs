//! `embargo_scan::parse_report` (Trivy / Grype JSON) on arbitrary bytes.
#![no_main]

use embargo_scan::parse::MAX_FIELD_LEN;
use embargo_scan::parse_report;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(report) = parse_report(data) else {
        return;
    };
    let _ = report.format.to_string();
    for f in &report.findings {
        assert!(!f.vuln_id.trim().is_empty(), "finding with a blank ID");
        assert!(f.vuln_id.len() <= MAX_FIELD_LEN);
        assert!(f.package.len() <= MAX_FIELD_LEN);
        assert!(f.installed.len() <= MAX_FIELD_LEN);
        assert!(f.fixed.as_ref().is_none_or(|x| x.len() <= MAX_FIELD_LEN));
    }
});
