//! Tampering, missing integrity protection, compression bombs, and
//! public test vectors from the shared corpus.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Write;

use embargo_pgp::{
    DEFAULT_MAX_PLAINTEXT, Keyring, PgpError, SignatureStatus, encrypt_and_sign, generate_team_key,
    parse_certs,
};
use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::SerializeInto;
use openpgp::serialize::stream::{Compressor, Encryptor, LiteralWriter, Message};
use openpgp::types::CompressionAlgorithm;

const UID: &str = "security@project.example";

/// Flips single bytes inside the encrypted container; every variant
/// must fail and return no plaintext.
fn assert_tamper_detected(ring: &Keyring, binary: &[u8]) {
    let n = binary.len();
    for pos in [n - 1, n - 2, n - 10, n - 21, n - 22, n - 30, n - 45] {
        let mut bad = binary.to_vec();
        bad[pos] ^= 0x01;
        match ring.decrypt(&bad, &[], DEFAULT_MAX_PLAINTEXT) {
            Ok(_) => panic!("tampered byte at {pos}/{n} was accepted"),
            Err(e) => assert!(
                matches!(e, PgpError::Integrity),
                "unexpected error kind for byte {pos}: {e:?}"
            ),
        }
    }
}

#[test]
fn tampered_seipdv1_is_rejected() {
    let team = generate_team_key(UID).unwrap();
    let ring = Keyring::from(team.clone());
    let sender = Keyring::from(generate_team_key("s@example.org").unwrap());
    let text = vec![b'A'; 300];
    let armored = encrypt_and_sign(&text, &[team.public_cert()], &sender).unwrap();
    let binary = common::dearmor(&armored);
    assert_eq!(common::seip_versions(&binary), vec![1]);
    // Sanity: untampered decrypts.
    assert_eq!(
        &ring
            .decrypt(&binary, &[], DEFAULT_MAX_PLAINTEXT)
            .unwrap()
            .plaintext[..],
        &text[..]
    );
    assert_tamper_detected(&ring, &binary);

    // Flipping a byte in the MDC itself specifically yields Integrity.
    let mut bad = binary.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x80;
    assert!(matches!(
        ring.decrypt(&bad, &[], DEFAULT_MAX_PLAINTEXT),
        Err(PgpError::Integrity)
    ));
}

#[test]
fn tampered_seipdv2_is_rejected() {
    let (modern, _) = CertBuilder::general_purpose(Some("modern@example.org"))
        .generate()
        .unwrap();
    let ring = Keyring::from_armored(&modern.as_tsk().armored().to_vec().unwrap()).unwrap();
    let sender = Keyring::from(generate_team_key("s@example.org").unwrap());
    let text = vec![b'B'; 300];
    let armored = encrypt_and_sign(&text, &[modern.strip_secret_key_material()], &sender).unwrap();
    let binary = common::dearmor(&armored);
    assert_eq!(common::seip_versions(&binary), vec![2]);
    assert_eq!(
        &ring
            .decrypt(&binary, &[], DEFAULT_MAX_PLAINTEXT)
            .unwrap()
            .plaintext[..],
        &text[..]
    );
    assert_tamper_detected(&ring, &binary);
}

/// Encrypts `plaintext` compressed to `cert`.
fn compressed_message(cert: &Cert, plaintext_len: usize) -> Vec<u8> {
    let p = &StandardPolicy::new();
    let mut sink = Vec::new();
    let recipients = cert.keys().with_policy(p, None).for_transport_encryption();
    let m = Message::new(&mut sink);
    let m = Encryptor::for_recipients(m, recipients).build().unwrap();
    let m = Compressor::new(m)
        .algo(CompressionAlgorithm::Zlib)
        .build()
        .unwrap();
    let mut w = LiteralWriter::new(m).build().unwrap();
    let zeros = vec![0u8; 1 << 20];
    let mut left = plaintext_len;
    while left > 0 {
        let n = left.min(zeros.len());
        w.write_all(&zeros[..n]).unwrap();
        left -= n;
    }
    w.finalize().unwrap();
    sink
}

#[test]
fn compression_bomb_is_bounded() {
    let team = generate_team_key(UID).unwrap();
    let ring = Keyring::from(team.clone());
    // 64 MiB of zeros compress to ~64 KiB.
    let bomb = compressed_message(&team.public_cert(), 64 << 20);
    assert!(bomb.len() < 1 << 20, "bomb is {} bytes", bomb.len());
    match ring.decrypt(&bomb, &[], 1 << 20) {
        Err(PgpError::TooLarge { limit }) => assert_eq!(limit, 1 << 20),
        other => panic!(
            "expected TooLarge, got {:?}",
            other.map(|d| d.plaintext.len())
        ),
    }
    // Also with the default limit (25 MiB), below the 64 MiB payload.
    assert!(matches!(
        ring.decrypt(&bomb, &[], DEFAULT_MAX_PLAINTEXT),
        Err(PgpError::TooLarge { .. })
    ));

    // Exactly at the limit is fine; one byte over is not.
    let msg = compressed_message(&team.public_cert(), 4096);
    assert_eq!(ring.decrypt(&msg, &[], 4096).unwrap().plaintext.len(), 4096);
    assert!(matches!(
        ring.decrypt(&msg, &[], 4095),
        Err(PgpError::TooLarge { limit: 4095 })
    ));
}

#[test]
fn garbage_is_an_error() {
    let ring = Keyring::from(generate_team_key(UID).unwrap());
    for junk in [
        &b""[..],
        b"hello",
        b"-----BEGIN PGP MESSAGE-----\n\nAAAA\n-----END PGP MESSAGE-----\n",
    ] {
        assert!(ring.decrypt(junk, &[], 1024).is_err());
    }
}

// ---- corpus vectors -------------------------------------------------

#[test]
fn corpus_sed_without_mdc_and_bad_mdc() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let key = common::corpus_file(&corpus, "pgp-bad/gopenpgp/sed_key");
    let ring = Keyring::from_armored(&key).unwrap();

    // Legacy SED packet (tag 9, no MDC), encrypted to this very key.
    let sed = common::corpus_file(&corpus, "pgp-bad/gopenpgp/sed_message");
    assert!(matches!(
        ring.decrypt(&sed, &[], DEFAULT_MAX_PLAINTEXT),
        Err(PgpError::NoIntegrityProtection)
    ));
    // Binary form too.
    assert!(matches!(
        ring.decrypt(&common::dearmor(&sed), &[], DEFAULT_MAX_PLAINTEXT),
        Err(PgpError::NoIntegrityProtection)
    ));

    // SEIPD with a wrong MDC.
    let badmdc = common::corpus_file(&corpus, "pgp-bad/gopenpgp/message_badmdc");
    match ring.decrypt(&badmdc, &[], DEFAULT_MAX_PLAINTEXT) {
        Err(PgpError::Integrity) => {}
        other => panic!(
            "expected Integrity, got {:?}",
            other.map(|d| d.plaintext.len())
        ),
    }
}

#[test]
fn corpus_hostile_and_recursive_messages() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let ring = Keyring::from(generate_team_key(UID).unwrap());
    for rel in [
        "pgp-bad/deltachat/plaintext-autocrypt-setup.txt",
        "pgp-bad/sequoia/messages/compression-quine.gpg",
        "pgp-bad/sequoia/messages/recursive-1.gpg",
        "pgp-bad/sequoia/messages/compressed-data-algo-0.pgp",
    ] {
        let msg = common::corpus_file(&corpus, rel);
        assert!(
            ring.decrypt(&msg, &[], DEFAULT_MAX_PLAINTEXT).is_err(),
            "{rel} accepted"
        );
    }
    let quine = common::corpus_file(&corpus, "pgp-bad/sequoia/messages/compression-quine.gpg");
    assert!(embargo_pgp::verify_inline(&quine, &[], 1 << 20).is_err());
}

#[test]
fn corpus_notmuch_gpg_generated_messages() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let key = common::corpus_file(&corpus, "pgp-mime/notmuch/keys/openpgp4-secret-key.asc");
    let ring = Keyring::from_armored(&key).unwrap();
    assert_eq!(
        ring.fingerprint(),
        "9A3AFE6C60065A148FD4B58A7E6ABE924645CC60"
    );
    let public = parse_certs(&key).unwrap();

    let mail = common::corpus_file(&corpus, "pgp-mime/notmuch/crypto/basic-encrypted.eml");
    let d = ring
        .decrypt(
            &common::armored_message_in(&mail),
            &public,
            DEFAULT_MAX_PLAINTEXT,
        )
        .unwrap();
    assert!(!d.plaintext.is_empty());
    assert_eq!(d.decrypted_with, ring.fingerprint());
    assert!(d.signatures.is_empty());

    let mail = common::corpus_file(&corpus, "pgp-mime/notmuch/crypto/encrypted-signed.eml");
    let msg = common::armored_message_in(&mail);
    let d = ring.decrypt(&msg, &public, DEFAULT_MAX_PLAINTEXT).unwrap();
    assert_eq!(d.signatures.len(), 1);
    assert_eq!(d.signatures[0].status, SignatureStatus::Good);
    assert_eq!(
        d.signatures[0].signer.as_deref(),
        Some("9A3AFE6C60065A148FD4B58A7E6ABE924645CC60")
    );
    let d = ring.decrypt(&msg, &[], DEFAULT_MAX_PLAINTEXT).unwrap();
    assert_eq!(d.signatures[0].status, SignatureStatus::UnknownKey);
    assert!(
        d.signatures[0]
            .issuer
            .as_deref()
            .unwrap()
            .ends_with("7E6ABE924645CC60")
    );
}

#[test]
fn corpus_sequoia_vectors() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let base = "pgp-mime/sequoia-openpgp";
    for (key, msg, fpr) in [
        (
            "keys/testy-private.pgp",
            "messages/encrypted-to-testy.gpg",
            "3E8877C877274692975189F5D03F6F865226FE8B",
        ),
        (
            "keys/testy-private.pgp",
            "messages/encrypted-to-testy-no-compression.gpg",
            "3E8877C877274692975189F5D03F6F865226FE8B",
        ),
        (
            "keys/testy-new-private.pgp",
            "messages/encrypted-to-testy-new.pgp",
            "39D100AB67D5BD8C04010205FB3751F1587DAEF1",
        ),
    ] {
        let ring = Keyring::from_armored(&common::corpus_file(&corpus, &format!("{base}/{key}")))
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        let d = ring
            .decrypt(
                &common::corpus_file(&corpus, &format!("{base}/{msg}")),
                &[],
                DEFAULT_MAX_PLAINTEXT,
            )
            .unwrap_or_else(|e| panic!("{msg}: {e}"));
        assert!(!d.plaintext.is_empty(), "{msg}");
        assert_eq!(d.decrypted_with, fpr, "{msg}");
    }

    // Rotation with real keys: both messages decrypt with one keyring.
    let mut both = common::corpus_file(&corpus, &format!("{base}/keys/testy-private.pgp"));
    both.extend(common::corpus_file(
        &corpus,
        &format!("{base}/keys/testy-new-private.pgp"),
    ));
    let ring = Keyring::from_armored(&both).unwrap();
    assert_eq!(ring.keys().count(), 2);
    for msg in [
        "messages/encrypted-to-testy.gpg",
        "messages/encrypted-to-testy-new.pgp",
    ] {
        ring.decrypt(
            &common::corpus_file(&corpus, &format!("{base}/{msg}")),
            &[],
            DEFAULT_MAX_PLAINTEXT,
        )
        .unwrap_or_else(|e| panic!("{msg}: {e}"));
    }

    // Password-only messages are not for us.
    let pw = common::corpus_file(
        &corpus,
        &format!("{base}/messages/seip/msg-no-compression-not-signed-password-123.pgp"),
    );
    assert!(matches!(
        ring.decrypt(&pw, &[], DEFAULT_MAX_PLAINTEXT),
        Err(PgpError::NoMatchingKey { .. })
    ));

    // A detached signature vector.
    let data = common::corpus_file(
        &corpus,
        &format!("{base}/messages/a-cypherpunks-manifesto.txt"),
    );
    let sig = common::corpus_file(
        &corpus,
        &format!("{base}/messages/a-cypherpunks-manifesto.txt.ed25519.sig"),
    );
    let checks = embargo_pgp::verify_detached(&data, &sig, &[]).unwrap();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].status, SignatureStatus::UnknownKey);
}

#[test]
fn corpus_rfc9580_v6_key_and_seipdv2() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let base = "pgp-mime/rfc9580-vectors-from-rnp";
    let key = common::corpus_file(&corpus, &format!("{base}/A.4.transferable-seckey-v6.asc"));
    let ring = Keyring::from_armored(&key).unwrap();
    assert_eq!(ring.current().cert().primary_key().key().version(), 6);
    // The vector is v6 PKESK + SEIPDv2 with AES-128/OCB.  Nettle gained
    // OCB in 3.9; with an older nettle (Debian 12 ships 3.8.1) the
    // message must be refused cleanly as unsupported.
    let msg = common::corpus_file(&corpus, &format!("{base}/A.8.5-v6pkesk-v2seipd"));
    let mut bin = common::dearmor(&msg);
    if openpgp::types::AEADAlgorithm::OCB.is_supported() {
        let d = ring.decrypt(&msg, &[], DEFAULT_MAX_PLAINTEXT).unwrap();
        assert_eq!(&d.plaintext[..], b"Hello, world!");
        // Tampered: AEAD authentication fails.
        let last = bin.len() - 1;
        bin[last] ^= 0x01;
        assert!(matches!(
            ring.decrypt(&bin, &[], DEFAULT_MAX_PLAINTEXT),
            Err(PgpError::Integrity)
        ));
    } else {
        eprintln!("note: this nettle has no OCB; checking the clean refusal");
        match ring.decrypt(&msg, &[], DEFAULT_MAX_PLAINTEXT) {
            Err(PgpError::Unsupported(what)) => assert!(what.contains("OCB"), "{what}"),
            other => panic!(
                "expected Unsupported, got {:?}",
                other.map(|d| d.plaintext.len())
            ),
        }
    }

    // Inline-signed v6 message, verified with the v6 public cert.
    let public = parse_certs(&common::corpus_file(
        &corpus,
        &format!("{base}/A.3.transferable-pubkey-v6.asc"),
    ))
    .unwrap();
    let signed = common::corpus_file(
        &corpus,
        &format!("{base}/A.7.-sample-inline-signed-message.asc"),
    );
    let v = embargo_pgp::verify_inline(&signed, &public, 1 << 20).unwrap();
    assert_eq!(v.signatures.len(), 1);
    assert_eq!(
        v.signatures[0].status,
        SignatureStatus::Good,
        "{:?}",
        v.signatures[0]
    );
    let csf = common::corpus_file(
        &corpus,
        &format!("{base}/A.6.-sample-cleartext-signed-message.asc"),
    );
    let v = embargo_pgp::verify_inline(&csf, &public, 1 << 20).unwrap();
    assert_eq!(
        v.signatures[0].status,
        SignatureStatus::Good,
        "{:?}",
        v.signatures[0]
    );
}
