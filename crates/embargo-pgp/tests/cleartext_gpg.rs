//! The real GnuPG binary accepts our cleartext signatures (the signed
//! `security.txt`).  Skipped with a message when gpg is missing, except
//! in CI (CI=true), where that is a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::Gpg;
use embargo_pgp::{Keyring, generate_team_key, sign_cleartext};

const TEXT: &str = "Contact: mailto:security@project.example\n\
                    Encryption: https://project.example/.well-known/embargo/team-key.asc\n\
                    Expires: 2031-01-01T00:00:00Z\n\
                    - dash-escaped line\n\
                    Preferred-Languages: en\n";

#[test]
fn gpg_verifies_our_cleartext_signature() {
    let Some(gpg) = Gpg::new() else { return };
    let team =
        Keyring::from(generate_team_key("Project Security <security@project.example>").unwrap());
    gpg.ok(&["--import"], team.public_armored().unwrap().as_bytes());
    let signed = sign_cleartext(TEXT, &team).unwrap();

    let out = gpg.ok(
        &["--status-fd", "2", "--trust-model", "always", "--verify"],
        signed.as_bytes(),
    );
    let status = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.contains(&format!("[GNUPG:] VALIDSIG {}", team.fingerprint())),
        "{status}"
    );
    assert!(status.contains("[GNUPG:] GOODSIG"), "{status}");

    // gpg recovers the text, dash-escaping undone.
    let out = gpg.ok(&["--trust-model", "always", "--decrypt"], signed.as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        TEXT.trim_end()
    );

    // CRLF line endings (a web server or editor may convert): still good.
    let crlf = signed.replace('\n', "\r\n");
    gpg.ok(&["--trust-model", "always", "--verify"], crlf.as_bytes());

    // Tampered: gpg refuses.
    let tampered = signed.replace("2031-01-01", "2039-01-01");
    let out = gpg.run(
        &["--trust-model", "always", "--verify"],
        tampered.as_bytes(),
    );
    assert!(!out.status.success());
}
