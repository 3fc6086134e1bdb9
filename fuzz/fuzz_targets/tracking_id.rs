//! `TrackingId::from_str` and `TrackingId::find_in_subject` on arbitrary
//! UTF-8.
#![no_main]

use std::str::FromStr;
use std::sync::OnceLock;

use embargo_domain::{TrackingId, TrackingPrefix};
use libfuzzer_sys::fuzz_target;

fn kf() -> &'static TrackingPrefix {
    static KF: OnceLock<TrackingPrefix> = OnceLock::new();
    KF.get_or_init(|| TrackingPrefix::parse("KF").unwrap_or_else(|e| panic!("{e}")))
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = TrackingId::from_str(s) {
        // "every ID has exactly one spelling": Display round-trips.
        assert_eq!(id.to_string(), s, "tracking ID does not round-trip");
        assert!((2000..=9999).contains(&id.year()));
        assert!((1..=99_999_999).contains(&id.number()));
        // A bracketed valid ID is found in a subject.
        let subject = format!("Re: [{s}] x");
        assert_eq!(
            TrackingId::find_in_subject(&subject, id.prefix()).as_ref(),
            Some(&id)
        );
    }
    if let Some(found) = TrackingId::find_in_subject(s, kf()) {
        assert_eq!(found.prefix(), kf());
        assert!(s.contains(&found.to_string()), "found ID not in subject");
    }
});
