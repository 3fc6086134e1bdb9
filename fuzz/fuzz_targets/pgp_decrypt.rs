//! `embargo_pgp::Keyring::decrypt` and `embargo_pgp::parse_certs` on
//! arbitrary bytes (the outer OpenPGP message / attached keys of a report).
//! The keyring is a team key generated once per process.
#![no_main]

use std::sync::OnceLock;

use embargo_pgp::{Keyring, generate_team_key, parse_certs};
use libfuzzer_sys::fuzz_target;

const MAX_PLAINTEXT: usize = 1 << 20;

fn keyring() -> &'static Keyring {
    static KEYRING: OnceLock<Keyring> = OnceLock::new();
    KEYRING.get_or_init(|| {
        let key = generate_team_key("Embargo Fuzz <security@fuzz.example>")
            .unwrap_or_else(|e| panic!("generate_team_key: {e}"));
        Keyring::new(vec![key]).unwrap_or_else(|e| panic!("Keyring::new: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let keyring = keyring();
    if let Ok(decrypted) = keyring.decrypt(data, &[], MAX_PLAINTEXT) {
        assert!(decrypted.plaintext.len() <= MAX_PLAINTEXT);
        assert_eq!(decrypted.decrypted_with, keyring.fingerprint());
    }
    if let Ok(certs) = parse_certs(data) {
        assert!(!certs.is_empty());
        for cert in &certs {
            assert!(!cert.is_tsk(), "secret key material not stripped");
            let _ = embargo_pgp::cert_fingerprint(cert);
            let _ = embargo_pgp::cert_emails(cert);
        }
    }
});
