//! `embargo_wg::Registry::import_wgs_yaml` on arbitrary UTF-8 (Kubeflow's
//! community wgs.yaml).
#![no_main]

use embargo_wg::Registry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(yaml) = std::str::from_utf8(data) else {
        return;
    };
    let mut registry = Registry::new();
    match registry.import_wgs_yaml(yaml) {
        Ok(report) => {
            assert_eq!(registry.len(), report.added.len());
            // Importing the same file again adds nothing.
            let again = registry
                .import_wgs_yaml(yaml)
                .unwrap_or_else(|e| panic!("second import of an accepted file failed: {e}"));
            assert!(again.added.is_empty());
            for wg in registry.wgs() {
                let _ = registry.resolve_token(wg.name.as_str());
            }
        }
        // A refused file leaves the registry unchanged.
        Err(_) => assert!(registry.is_empty()),
    }
});
