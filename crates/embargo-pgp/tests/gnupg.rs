//! Interoperability with the real GnuPG binary (2.2 is what many
//! reporters run).  Skipped with a message when gpg is missing, except
//! in CI (CI=true), where that is a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::Gpg;
use embargo_pgp::{
    DEFAULT_MAX_PLAINTEXT, Keyring, SignatureStatus, encrypt_and_sign, generate_team_key,
    parse_certs,
};

const TEAM_UID: &str = "Project Security <security@project.example>";
const TEAM_ADDR: &str = "security@project.example";
const REPORTER_UID: &str = "Reporter <reporter@example.org>";
const SECRET: &[u8] =
    b"CVE-to-be: heap overflow in parse_header(), PoC attached.\n\xc3\xa4\xc3\xb6\xc3\xbc\n";

/// A GnuPG home holding our exported team public key.
fn setup() -> Option<(Gpg, Keyring)> {
    let gpg = Gpg::new()?;
    let team = Keyring::from(generate_team_key(TEAM_UID).unwrap());
    gpg.ok(&["--import"], team.public_armored().unwrap().as_bytes());
    Some((gpg, team))
}

#[test]
fn gpg_encrypts_to_our_exported_key() {
    let Some((gpg, team)) = setup() else { return };
    let out = gpg.ok(
        &[
            "--trust-model",
            "always",
            "--armor",
            "--encrypt",
            "--recipient",
            TEAM_ADDR,
        ],
        SECRET,
    );
    assert!(out.stdout.starts_with(b"-----BEGIN PGP MESSAGE-----"));
    let d = team
        .decrypt(&out.stdout, &[], DEFAULT_MAX_PLAINTEXT)
        .unwrap();
    assert_eq!(&d.plaintext[..], SECRET);
    assert_eq!(d.decrypted_with, team.fingerprint());
    assert!(d.signatures.is_empty());

    // Binary output, and hidden recipient (--throw-keyids) too.
    let out = gpg.ok(
        &[
            "--trust-model",
            "always",
            "--throw-keyids",
            "--encrypt",
            "--recipient",
            TEAM_ADDR,
        ],
        SECRET,
    );
    assert!(!out.stdout.starts_with(b"-----"));
    let d = team
        .decrypt(&out.stdout, &[], DEFAULT_MAX_PLAINTEXT)
        .unwrap();
    assert_eq!(&d.plaintext[..], SECRET);
}

#[test]
fn gpg_signs_and_encrypts_to_us() {
    let Some((gpg, team)) = setup() else { return };
    let reporter_fpr = gpg.generate(REPORTER_UID, "future-default", "default");
    let reporter_cert =
        parse_certs(&gpg.ok(&["--armor", "--export", &reporter_fpr], b"").stdout).unwrap();
    assert_eq!(reporter_cert.len(), 1);
    assert_eq!(reporter_cert[0].fingerprint().to_hex(), reporter_fpr);

    let out = gpg.ok(
        &[
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--trust-model",
            "always",
            "--armor",
            "--local-user",
            &reporter_fpr,
            "--sign",
            "--encrypt",
            "--recipient",
            TEAM_ADDR,
        ],
        SECRET,
    );

    // Known sender: good signature.
    let d = team
        .decrypt(&out.stdout, &reporter_cert, DEFAULT_MAX_PLAINTEXT)
        .unwrap();
    assert_eq!(&d.plaintext[..], SECRET);
    assert_eq!(d.signatures.len(), 1);
    let sig = &d.signatures[0];
    assert_eq!(sig.status, SignatureStatus::Good, "{sig:?}");
    assert_eq!(sig.signer.as_deref(), Some(&*reporter_fpr));
    assert!(d.has_good_signature());

    // Unknown sender: plaintext still returned, signature UnknownKey
    // with the issuer from the signature.
    let d = team
        .decrypt(&out.stdout, &[], DEFAULT_MAX_PLAINTEXT)
        .unwrap();
    assert_eq!(&d.plaintext[..], SECRET);
    assert_eq!(d.signatures.len(), 1);
    assert_eq!(d.signatures[0].status, SignatureStatus::UnknownKey);
    assert_eq!(d.signatures[0].signer, None);
    let issuer = d.signatures[0].issuer.clone().unwrap();
    assert!(
        reporter_fpr.ends_with(&issuer),
        "issuer {issuer} vs {reporter_fpr}"
    );

    // Some other known cert, not the signer's: still UnknownKey.
    let other = generate_team_key("other@example.org")
        .unwrap()
        .public_cert();
    let d = team
        .decrypt(&out.stdout, &[other], DEFAULT_MAX_PLAINTEXT)
        .unwrap();
    assert_eq!(d.signatures[0].status, SignatureStatus::UnknownKey);

    // A detached signature from gpg (multipart/signed style).
    let data = b"Content-Type: text/plain\r\n\r\nsigned part\r\n";
    let sig = gpg
        .ok(
            &[
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                "--armor",
                "--local-user",
                &reporter_fpr,
                "--detach-sign",
            ],
            data,
        )
        .stdout;
    let checks = embargo_pgp::verify_detached(data, &sig, &reporter_cert).unwrap();
    assert_eq!(checks[0].status, SignatureStatus::Good);
    let checks = embargo_pgp::verify_detached(b"other data", &sig, &reporter_cert).unwrap();
    assert_eq!(checks[0].status, SignatureStatus::Bad);

    // A cleartext-signed text from gpg.
    let clear = gpg
        .ok(
            &[
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                "--local-user",
                &reporter_fpr,
                "--clearsign",
            ],
            b"inline signed report\n- with a dash line\n",
        )
        .stdout;
    let v = embargo_pgp::verify_inline(&clear, &reporter_cert, 1 << 20).unwrap();
    assert_eq!(v.signatures[0].status, SignatureStatus::Good);
    assert!(String::from_utf8_lossy(&v.content).contains("- with a dash line"));
}

#[test]
fn gpg_decrypts_and_verifies_our_mail() {
    let Some((gpg, team)) = setup() else { return };
    let reporter_fpr = gpg.generate(REPORTER_UID, "future-default", "default");
    let reporter_cert =
        parse_certs(&gpg.ok(&["--armor", "--export", &reporter_fpr], b"").stdout).unwrap();

    let message = encrypt_and_sign(SECRET, &reporter_cert, &team).unwrap();
    assert!(message.starts_with(b"-----BEGIN PGP MESSAGE-----"));
    // gpg 2.2 keys advertise MDC only, so this must be SEIPDv1.
    assert_eq!(common::seip_versions(&message), vec![1]);

    let out = gpg.run(&["--status-fd", "2", "--decrypt"], &message);
    let status = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "gpg --decrypt failed:\n{status}");
    assert_eq!(&out.stdout[..], SECRET);
    assert!(status.contains("[GNUPG:] DECRYPTION_OKAY"), "{status}");
    assert!(status.contains("[GNUPG:] GOODSIG"), "{status}");
    // The good signature is by our team key.
    let validsig = status
        .lines()
        .find(|l| l.starts_with("[GNUPG:] VALIDSIG "))
        .unwrap_or_else(|| panic!("no VALIDSIG:\n{status}"));
    assert!(validsig.contains(&team.fingerprint()), "{validsig}");
    assert!(
        !status.contains("BADSIG") && !status.contains("ERRSIG"),
        "{status}"
    );
}
