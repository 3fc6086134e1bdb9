//! Team key generation, loading, rotation, encryption choices.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use embargo_pgp::{
    DEFAULT_MAX_PLAINTEXT, Keyring, PgpError, SignatureStatus, TeamKey, encrypt_and_sign,
    generate_team_key, parse_certs,
};
use sequoia_openpgp as openpgp;

use openpgp::cert::prelude::*;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::SerializeInto;
use openpgp::types::{Curve, Features, HashAlgorithm, PublicKeyAlgorithm, SymmetricAlgorithm};

const UID: &str = "Project Security <security@project.example>";

#[test]
fn generated_key_shape() {
    let p = &StandardPolicy::new();
    let key = generate_team_key(UID).unwrap();
    let cert = key.cert();
    assert!(cert.is_tsk());
    assert_eq!(cert.primary_key().key().version(), 4);

    // User ID.
    assert_eq!(key.user_ids(), vec![UID.to_string()]);

    let vc = cert.with_policy(p, None).unwrap();
    // Primary: Ed25519, certification + signing.
    let primary = vc.primary_key();
    assert_eq!(primary.key().pk_algo(), PublicKeyAlgorithm::EdDSA);
    match primary.key().mpis() {
        openpgp::crypto::mpi::PublicKey::EdDSA { curve, .. } => {
            assert_eq!(*curve, Curve::Ed25519)
        }
        other => panic!("unexpected primary key {other:?}"),
    }
    let flags = primary.key_flags().unwrap();
    assert!(flags.for_certification() && flags.for_signing());
    assert!(!flags.for_transport_encryption());

    // Exactly one encryption-capable key, a Cv25519 subkey for both
    // transport and storage.
    let enc: Vec<_> = vc
        .keys()
        .for_transport_encryption()
        .for_storage_encryption()
        .collect();
    assert_eq!(enc.len(), 1);
    let sub = &enc[0];
    assert!(!sub.primary());
    let sflags = sub.key_flags().unwrap();
    assert!(sflags.for_transport_encryption() && sflags.for_storage_encryption());
    assert_eq!(sub.key().pk_algo(), PublicKeyAlgorithm::ECDH);
    match sub.key().mpis() {
        openpgp::crypto::mpi::PublicKey::ECDH { curve, .. } => {
            assert_eq!(*curve, Curve::Cv25519)
        }
        other => panic!("unexpected subkey {other:?}"),
    }
    assert_eq!(cert.keys().subkeys().count(), 1);

    // Features: SEIPDv1 only, on the direct key sig and the User ID binding.
    let seipdv1_only = Features::empty().set_seipdv1();
    assert_eq!(vc.features(), Some(seipdv1_only.clone()));
    assert!(!vc.features().unwrap().supports_seipdv2());
    let uid = vc.primary_userid().unwrap();
    assert_eq!(
        uid.binding_signature().features(),
        Some(seipdv1_only.clone())
    );
    assert_eq!(
        vc.direct_key_signature().unwrap().features(),
        Some(seipdv1_only)
    );

    // Preferences.
    assert_eq!(
        uid.binding_signature().preferred_symmetric_algorithms(),
        Some(&[SymmetricAlgorithm::AES256, SymmetricAlgorithm::AES128][..])
    );
    assert_eq!(
        uid.binding_signature().preferred_hash_algorithms(),
        Some(&[HashAlgorithm::SHA512, HashAlgorithm::SHA256][..])
    );

    // No expiry.
    assert_eq!(vc.primary_key().key_expiration_time(), None);

    // Fingerprint: 40 uppercase hex digits.
    let fpr = key.fingerprint();
    assert_eq!(fpr.len(), 40);
    assert!(
        fpr.chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    );

    // A revocation certificate is available right after generation.
    let rev = key.revocation_certificate_armored().unwrap().unwrap();
    let revoked = parse_certs(rev.as_bytes()).unwrap();
    assert!(matches!(
        revoked[0].revocation_status(p, None),
        openpgp::types::RevocationStatus::Revoked(_)
    ));
}

#[test]
fn bare_address_and_bad_user_ids() {
    let key = generate_team_key("security@project.example").unwrap();
    assert_eq!(key.user_ids(), vec!["security@project.example".to_string()]);
    for bad in ["", "   ", "no address here", "a\nb <x@y.example>"] {
        assert!(
            matches!(generate_team_key(bad), Err(PgpError::InvalidUserId(_))),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn armored_secret_round_trip() {
    let key = generate_team_key(UID).unwrap();
    let armored = key.armored_secret().unwrap();
    // Spelled in two pieces: .ci/no-secrets refuses files holding the
    // armor line of a secret key.
    assert!(armored.starts_with(concat!("-----BEGIN PGP PRIVATE", " KEY BLOCK-----")));

    let ring = Keyring::from_armored(armored.as_bytes()).unwrap();
    assert_eq!(ring.fingerprint(), key.fingerprint());
    assert_eq!(ring.user_ids(), vec![UID.to_string()]);
    assert_eq!(ring.keys().count(), 1);
    assert!(ring.current().cert().is_tsk());

    let single = TeamKey::from_bytes(armored.as_bytes()).unwrap();
    assert_eq!(single.fingerprint(), key.fingerprint());

    // The public export parses and has no secrets.
    let public = ring.public_armored().unwrap();
    assert!(public.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    assert!(!public.contains("PRIVATE"));
    let certs = parse_certs(public.as_bytes()).unwrap();
    assert_eq!(certs.len(), 1);
    assert!(!certs[0].is_tsk());
    assert_eq!(certs[0].fingerprint().to_hex(), key.fingerprint());
}

#[test]
fn load_from_files_and_refuse_public_keys() {
    let dir = tempfile::tempdir().unwrap();
    let old = generate_team_key(UID).unwrap();
    let new = generate_team_key(UID).unwrap();
    let old_path = dir.path().join("old.sec.asc");
    let new_path = dir.path().join("new.sec.asc");
    std::fs::write(&old_path, old.armored_secret().unwrap().as_bytes()).unwrap();
    std::fs::write(&new_path, new.armored_secret().unwrap().as_bytes()).unwrap();

    let ring = Keyring::load(&[new_path.clone(), old_path.clone()]).unwrap();
    let fprs: Vec<String> = ring.keys().map(|k| k.fingerprint()).collect();
    assert_eq!(fprs, vec![new.fingerprint(), old.fingerprint()]);

    // Public key file: refused, error names the file.
    let pub_path = dir.path().join("team.pub.asc");
    std::fs::write(&pub_path, new.public_armored().unwrap()).unwrap();
    let err = Keyring::load(&[new_path.clone(), pub_path.clone()]).unwrap_err();
    assert!(matches!(err, PgpError::NoSecretKey { .. }), "{err:?}");
    assert!(err.to_string().contains("team.pub.asc"), "{err}");

    // Missing file and garbage: errors name the file.
    let missing = dir.path().join("missing.asc");
    let err = Keyring::load(&[missing]).unwrap_err();
    assert!(matches!(err, PgpError::Read { .. }));
    assert!(err.to_string().contains("missing.asc"), "{err}");
    let junk = dir.path().join("junk.asc");
    std::fs::write(&junk, b"this is not a key").unwrap();
    let err = Keyring::load(&[junk]).unwrap_err();
    assert!(err.to_string().contains("junk.asc"), "{err}");

    // Empty list.
    let none: &[std::path::PathBuf] = &[];
    assert!(matches!(Keyring::load(none), Err(PgpError::EmptyKeyring)));

    // Several keys in one file.
    let both = format!(
        "{}\n{}",
        &*old.armored_secret().unwrap(),
        &*new.armored_secret().unwrap()
    );
    let ring = Keyring::from_armored(both.as_bytes()).unwrap();
    assert_eq!(ring.keys().count(), 2);
}

#[test]
fn password_protected_key_is_refused() {
    let (cert, _) = CertBuilder::general_purpose(Some("x@project.example"))
        .set_password(Some("secret".into()))
        .generate()
        .unwrap();
    let armored = cert.as_tsk().armored().to_vec().unwrap();
    let err = Keyring::from_armored(&armored).unwrap_err();
    assert!(
        matches!(err, PgpError::ProtectedSecretKey { .. }),
        "{err:?}"
    );
}

#[test]
fn rotation_and_unknown_key() {
    let older = generate_team_key(UID).unwrap();
    let newer = generate_team_key(UID).unwrap();
    let sender = generate_team_key("Reporter <reporter@example.org>").unwrap();
    let sender_ring = Keyring::from(sender.clone());

    let to_old = encrypt_and_sign(b"to the old key", &[older.public_cert()], &sender_ring).unwrap();
    let to_new = encrypt_and_sign(b"to the new key", &[newer.public_cert()], &sender_ring).unwrap();

    let ring = Keyring::new(vec![newer.clone(), older.clone()]).unwrap();
    let d = ring
        .decrypt(&to_old, &[sender.public_cert()], DEFAULT_MAX_PLAINTEXT)
        .unwrap();
    assert_eq!(&d.plaintext[..], b"to the old key");
    assert_eq!(d.decrypted_with, older.fingerprint());
    assert_eq!(d.signatures.len(), 1);
    assert_eq!(d.signatures[0].status, SignatureStatus::Good);
    assert_eq!(
        d.signatures[0].signer.as_deref(),
        Some(&*sender.fingerprint())
    );

    let d = ring.decrypt(&to_new, &[], DEFAULT_MAX_PLAINTEXT).unwrap();
    assert_eq!(&d.plaintext[..], b"to the new key");
    assert_eq!(d.decrypted_with, newer.fingerprint());
    assert_eq!(d.signatures[0].status, SignatureStatus::UnknownKey);
    assert!(d.signatures[0].issuer.is_some());

    // A keyring with only the newer key cannot read mail to the older one.
    let only_new = Keyring::from(newer.clone());
    match only_new.decrypt(&to_old, &[], DEFAULT_MAX_PLAINTEXT) {
        Err(PgpError::NoMatchingKey { recipients }) => {
            assert_eq!(recipients.len(), 1);
            // The PKESK names the older key's encryption subkey.
            let sub = older
                .cert()
                .keys()
                .subkeys()
                .next()
                .unwrap()
                .key()
                .keyid()
                .to_hex();
            assert_eq!(recipients[0], sub);
        }
        other => panic!("expected NoMatchingKey, got {other:?}"),
    }
}

#[test]
fn encryption_container_follows_recipient_features() {
    let team = generate_team_key(UID).unwrap();
    let sender = Keyring::from(generate_team_key("Sender <sender@project.example>").unwrap());

    // Our own team key advertises SEIPDv1 only -> SEIPDv1.
    let msg = encrypt_and_sign(b"x", &[team.public_cert()], &sender).unwrap();
    assert_eq!(common::seip_versions(&msg), vec![1]);

    // A sequoia-default (SEIPDv2-capable) recipient alone -> SEIPDv2.
    let (modern, _) = CertBuilder::general_purpose(Some("modern@example.org"))
        .generate()
        .unwrap();
    assert!(
        modern
            .with_policy(&StandardPolicy::new(), None)
            .unwrap()
            .features()
            .unwrap()
            .supports_seipdv2()
    );
    let modern_ring = Keyring::from_armored(&modern.as_tsk().armored().to_vec().unwrap()).unwrap();
    let msg = encrypt_and_sign(
        b"v2",
        &[modern.clone().strip_secret_key_material()],
        &sender,
    )
    .unwrap();
    assert_eq!(common::seip_versions(&msg), vec![2]);
    let d = modern_ring
        .decrypt(&msg, &[], DEFAULT_MAX_PLAINTEXT)
        .unwrap();
    assert_eq!(&d.plaintext[..], b"v2");

    // Mixed recipients -> the lowest common denominator, SEIPDv1.
    let msg = encrypt_and_sign(
        b"mixed",
        &[
            modern.clone().strip_secret_key_material(),
            team.public_cert(),
        ],
        &sender,
    )
    .unwrap();
    assert_eq!(common::seip_versions(&msg), vec![1]);
    let d = modern_ring
        .decrypt(&msg, &[], DEFAULT_MAX_PLAINTEXT)
        .unwrap();
    assert_eq!(&d.plaintext[..], b"mixed");
    let d = Keyring::from(team)
        .decrypt(&msg, &[], DEFAULT_MAX_PLAINTEXT)
        .unwrap();
    assert_eq!(&d.plaintext[..], b"mixed");
}

#[test]
fn encrypt_argument_errors() {
    let sender = Keyring::from(generate_team_key(UID).unwrap());
    assert!(matches!(
        encrypt_and_sign(b"x", &[], &sender),
        Err(PgpError::NoRecipients)
    ));
    // A certificate without encryption subkey.
    let (sign_only, _) = CertBuilder::new()
        .add_userid("signer@example.org")
        .add_signing_subkey()
        .generate()
        .unwrap();
    assert!(matches!(
        encrypt_and_sign(b"x", &[sign_only], &sender),
        Err(PgpError::NoEncryptionKey(_))
    ));
    assert!(parse_certs(b"garbage").is_err());
    assert!(matches!(
        parse_certs(b""),
        Err(PgpError::NoCertificate) | Err(PgpError::InvalidCertificate(_))
    ));
}

#[test]
fn detached_and_inline_signatures() {
    use openpgp::serialize::stream::{Armorer, LiteralWriter, Message, Signer};
    use std::io::Write;

    let signer_key = generate_team_key("Signer <signer@example.org>").unwrap();
    let pair = || {
        signer_key
            .cert()
            .primary_key()
            .key()
            .clone()
            .parts_into_secret()
            .unwrap()
            .into_keypair()
            .unwrap()
    };
    let data = b"Content-Type: text/plain\r\n\r\nhello\r\n";

    // Detached.
    let mut sig = Vec::new();
    {
        let m = Message::new(&mut sig);
        let m = Armorer::new(m)
            .kind(openpgp::armor::Kind::Signature)
            .build()
            .unwrap();
        let mut s = Signer::new(m, pair()).unwrap().detached().build().unwrap();
        s.write_all(data).unwrap();
        s.finalize().unwrap();
    }
    let known = [signer_key.public_cert()];
    let checks = embargo_pgp::verify_detached(data, &sig, &known).unwrap();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].status, SignatureStatus::Good);
    let checks = embargo_pgp::verify_detached(b"tampered", &sig, &known).unwrap();
    assert_eq!(checks[0].status, SignatureStatus::Bad);
    let checks = embargo_pgp::verify_detached(data, &sig, &[]).unwrap();
    assert_eq!(checks[0].status, SignatureStatus::UnknownKey);

    // Inline (binary signed message).
    let mut signed = Vec::new();
    {
        let m = Message::new(&mut signed);
        let m = Signer::new(m, pair()).unwrap().build().unwrap();
        let mut w = LiteralWriter::new(m).build().unwrap();
        w.write_all(b"inline text").unwrap();
        w.finalize().unwrap();
    }
    let v = embargo_pgp::verify_inline(&signed, &known, 1024).unwrap();
    assert_eq!(&v.content[..], b"inline text");
    assert_eq!(v.signatures[0].status, SignatureStatus::Good);
    assert!(matches!(
        embargo_pgp::verify_inline(&signed, &known, 4),
        Err(PgpError::TooLarge { limit: 4 })
    ));

    // Cleartext signature framework.
    let mut csf = Vec::new();
    {
        let m = Message::new(&mut csf);
        let mut s = Signer::new(m, pair()).unwrap().cleartext().build().unwrap();
        s.write_all(b"- dash line\nplain line\n").unwrap();
        s.finalize().unwrap();
    }
    assert!(csf.starts_with(b"-----BEGIN PGP SIGNED MESSAGE-----"));
    let v = embargo_pgp::verify_inline(&csf, &known, 1024).unwrap();
    assert_eq!(v.signatures.len(), 1);
    assert_eq!(v.signatures[0].status, SignatureStatus::Good);
    assert!(String::from_utf8_lossy(&v.content).contains("- dash line"));

    // A signed but unencrypted message is not accepted by decrypt.
    let ring = Keyring::from(generate_team_key(UID).unwrap());
    assert!(matches!(
        ring.decrypt(&signed, &known, 1024),
        Err(PgpError::NotEncrypted)
    ));
}

#[test]
fn debug_output_hides_plaintext_and_secrets() {
    let team = generate_team_key(UID).unwrap();
    let ring = Keyring::from(team.clone());
    let msg = encrypt_and_sign(b"TOP-SECRET-CONTENT", &[team.public_cert()], &ring).unwrap();
    let d = ring.decrypt(&msg, &[], DEFAULT_MAX_PLAINTEXT).unwrap();
    let shown = format!("{d:?} {ring:?} {team:?}");
    assert!(!shown.contains("TOP-SECRET"), "{shown}");
    assert!(!shown.contains("84, 79, 80"), "{shown}"); // "TOP" as bytes
    assert!(shown.contains(&team.fingerprint()));
}
