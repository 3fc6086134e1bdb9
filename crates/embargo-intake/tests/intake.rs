//! Intake end to end on a real SQLite store with generated keys.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use common::{autocrypt_header, encrypt, flow, pgp_mime, plain, world};
use embargo_domain::TrackingPrefix;
use embargo_intake::{Intake, IntakeError};
use embargo_pgp::{Keyring, cert_to_armored, encrypt_and_sign, generate_team_key};
use embargo_seal::StorageKeys;
use embargo_store::{SigStatus, Store};

const SECRET: &str = "RCE in kfp-api via crafted pipeline spec CANARY-7731";

#[tokio::test]
async fn plaintext_report_is_filed_and_threaded() {
    let w = world().await;
    let first = w
        .intake
        .file(plain("m1@example.org", "XSS in dashboard", SECRET, ""))
        .await
        .unwrap();
    assert!(first.new_report && !first.duplicate && first.readable);
    let id = first.report.clone();
    assert!(id.to_string().starts_with("SEC-20"), "{id}");

    // Same bytes again: filed once, both succeed.
    let again = w
        .intake
        .file(plain("m1@example.org", "XSS in dashboard", SECRET, ""))
        .await
        .unwrap();
    assert!(again.duplicate && !again.new_report);
    assert_eq!(again.report, id);

    // A reply threads by In-Reply-To.
    let reply = w
        .intake
        .file(plain(
            "m2@example.org",
            "Re: XSS in dashboard",
            "more details",
            "In-Reply-To: <m1@example.org>\r\n",
        ))
        .await
        .unwrap();
    assert_eq!(reply.report, id);
    assert!(!reply.new_report);

    // And by the tracking ID in brackets.
    let by_subject = w
        .intake
        .file(plain(
            "m3@example.org",
            &format!("Update [{id}] patch attached"),
            "patch",
            "",
        ))
        .await
        .unwrap();
    assert_eq!(by_subject.report, id);

    // An unknown ID in brackets opens a new report.
    let other = w
        .intake
        .file(plain("m4@example.org", "[SEC-2020-9999] hmm", "x", ""))
        .await
        .unwrap();
    assert!(other.new_report);
    assert_ne!(other.report, id);

    let detail = w.store.get_report(&id).await.unwrap();
    let inbound = common::inbound(&detail);
    assert_eq!(inbound.len(), 3);
    let m = &inbound[0];
    assert_eq!(m.body_text.trim(), SECRET);
    assert_eq!(m.from, "rita@example.org");
    assert!(!m.encrypted && !m.decrypted);
    assert_eq!(m.signature.status, SigStatus::None);
    assert_eq!(detail.report.subject, "XSS in dashboard");
    assert_eq!(detail.report.reporter, "rita@example.org");
}

#[tokio::test]
async fn pgp_mime_with_protected_subject_and_autocrypt_key() {
    let w = world().await;
    let inner = format!(
        "Content-Type: text/plain; charset=utf-8; protected-headers=\"v1\"\r\n\
Subject: Token leak in notebook controller\r\nFrom: rita@example.org\r\n\r\n{SECRET}\r\n"
    );
    let raw = pgp_mime(
        "e1@example.org",
        "...",
        &encrypt(&w, &inner),
        &autocrypt_header(&w),
    );
    let out = w.intake.file(raw).await.unwrap();
    assert!(out.new_report && out.readable);
    let detail = w.store.get_report(&out.report).await.unwrap();
    assert_eq!(detail.report.subject, "Token leak in notebook controller");
    let m = &common::first_inbound(&detail);
    assert!(m.encrypted && m.decrypted, "{m:?}");
    assert!(m.body_text.contains(SECRET));
    assert_eq!(m.signature.status, SigStatus::Good);
    assert!(m.signature.matches_sender);
    assert_eq!(
        m.signature.signer.as_deref(),
        Some(w.reporter.fingerprint().as_str())
    );
}

#[tokio::test]
async fn signature_without_key_is_unknown_and_by_someone_else_does_not_match() {
    let w = world().await;
    let inner = format!("Content-Type: text/plain\r\n\r\n{SECRET}\r\n");
    // No key attached: unknown-key.
    let raw = pgp_mime("u1@example.org", "report", &encrypt(&w, &inner), "");
    let out = w.intake.file(raw).await.unwrap();
    let m = &common::first_inbound(&w.store.get_report(&out.report).await.unwrap());
    assert!(m.decrypted);
    assert_eq!(m.signature.status, SigStatus::UnknownKey);
    assert!(!m.signature.matches_sender);

    // Signed by Mallory, whose key is attached, but From says rita.
    let mallory = Keyring::from(generate_team_key("mallory@evil.example").unwrap());
    let enc = encrypt_and_sign(inner.as_bytes(), &[w.team.public_cert()], &mallory).unwrap();
    let key = cert_to_armored(&mallory.public_cert()).unwrap();
    let inner_with_key = format!(
        "Content-Type: multipart/mixed; boundary=\"k\"\r\n\r\n--k\r\nContent-Type: text/plain\r\n\r\n{SECRET}\r\n\
--k\r\nContent-Type: application/pgp-keys\r\n\r\n{key}\r\n--k--\r\n"
    );
    let enc2 =
        encrypt_and_sign(inner_with_key.as_bytes(), &[w.team.public_cert()], &mallory).unwrap();
    for (n, e) in [(2, enc), (3, enc2)] {
        let raw = pgp_mime(
            &format!("u{n}@example.org"),
            "report",
            std::str::from_utf8(&e).unwrap(),
            "",
        );
        let out = w.intake.file(raw).await.unwrap();
        let m = &common::first_inbound(&w.store.get_report(&out.report).await.unwrap());
        if n == 3 {
            // The key inside the encryption lets the signature check: good,
            // but not the sender's.
            assert_eq!(m.signature.status, SigStatus::Good);
        }
        assert!(
            !m.signature.matches_sender,
            "a good signature by someone else is not the sender's"
        );
    }
}

#[tokio::test]
async fn undecryptable_and_tampered_mail_is_filed_unreadable() {
    let w = world().await;
    let stranger = Keyring::from(generate_team_key("other-team@example.net").unwrap());
    let to_other =
        encrypt_and_sign(SECRET.as_bytes(), &[stranger.public_cert()], &w.reporter).unwrap();
    let out = w
        .intake
        .file(pgp_mime(
            "x1@example.org",
            "enc",
            std::str::from_utf8(&to_other).unwrap(),
            "",
        ))
        .await
        .unwrap();
    assert!(!out.readable);
    let m = &common::first_inbound(&w.store.get_report(&out.report).await.unwrap());
    assert!(m.encrypted && !m.decrypted);
    assert_eq!(m.decrypt_error.as_deref(), Some("no-matching-key"));
    assert!(!m.body_text.contains("CANARY"));

    // Flip one base64 character in the middle of the ciphertext.
    let armored = encrypt(&w, SECRET);
    let mut lines: Vec<String> = armored.lines().map(str::to_owned).collect();
    let mid = lines.len() / 2;
    let line = lines[mid].clone();
    let flipped: String = line
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 10 {
                if c == 'A' { 'B' } else { 'A' }
            } else {
                c
            }
        })
        .collect();
    lines[mid] = flipped;
    let tampered = lines.join("\r\n");
    let out = w
        .intake
        .file(pgp_mime("x2@example.org", "enc", &tampered, ""))
        .await
        .unwrap();
    let m = &common::first_inbound(&w.store.get_report(&out.report).await.unwrap());
    assert!(m.encrypted && !m.decrypted);
    assert!(m.decrypt_error.is_some());
    assert!(
        !m.body_text.contains("CANARY"),
        "no unauthenticated plaintext"
    );
    // The original is kept (sealed) for a retry.
    let raw = w.store.get_raw_message(m.id).await.unwrap();
    assert!(!raw.is_empty());
}

#[tokio::test]
async fn inline_pgp_and_encrypted_attachment() {
    let w = world().await;
    let block = encrypt(&w, SECRET);
    let raw = plain(
        "i1@example.org",
        "inline",
        &format!("Hello team,\r\n\r\n{block}\r\nbye"),
        "",
    );
    let out = w.intake.file(raw).await.unwrap();
    let m = &common::first_inbound(&w.store.get_report(&out.report).await.unwrap());
    assert!(m.encrypted && m.decrypted);
    assert!(m.body_text.contains(SECRET), "{}", m.body_text);
    assert!(m.body_text.starts_with("Hello team"));
    assert!(!m.body_text.contains("BEGIN PGP MESSAGE"));

    let att = encrypt(&w, "poc.py: print('pwned')");
    let raw = format!(
        "From: rita@example.org\r\nTo: security@project.example\r\nSubject: poc\r\n\
Message-ID: <a1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
--m\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n\
--m\r\nContent-Type: application/octet-stream; name=\"poc.py.asc\"\r\n\
Content-Disposition: attachment; filename=\"poc.py.asc\"\r\n\r\n{att}\r\n--m--\r\n"
    );
    let out = w.intake.file(raw.into_bytes()).await.unwrap();
    let detail = w.store.get_report(&out.report).await.unwrap();
    let m = &common::first_inbound(&detail);
    assert!(m.encrypted && m.decrypted, "{m:?}");
    let names: Vec<_> = m
        .attachments
        .iter()
        .filter_map(|a| a.filename.clone())
        .collect();
    assert_eq!(names, vec!["poc.py".to_string()]);
    let a = &m.attachments[0];
    assert_eq!(a.size as usize, "poc.py: print('pwned')".len());
}

#[tokio::test]
async fn refusals_are_permanent_and_store_trouble_is_temporary() {
    let w = world().await;
    let big = plain("b@example.org", "big", &"x".repeat(2 * 1024 * 1024), "");
    let err = w.intake.file(big).await.unwrap_err();
    assert!(matches!(err, IntakeError::TooLarge { .. }) && err.is_permanent());

    let err = w
        .intake
        .file(b"\x00\x01\x02 definitely not mail".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(err, IntakeError::Refused(_)) && err.is_permanent(),
        "{err:?}"
    );

    w.store.close().await;
    let err = w
        .intake
        .file(plain("c@example.org", "closed", "x", ""))
        .await
        .unwrap_err();
    assert!(matches!(err, IntakeError::Temporary(_)), "{err:?}");
}

#[tokio::test]
async fn corpus_notmuch_pgp_mime_decrypts() {
    let Some(corpus) = corpus_dir() else { return };
    let key = std::fs::read(corpus.join("pgp-mime/notmuch/keys/openpgp4-secret-key.asc")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = Arc::new(
        Store::connect(&url, StorageKeys::ephemeral())
            .await
            .unwrap(),
    );
    let keyring = Keyring::from_armored(&key).unwrap();
    let intake = Intake::new(
        store.clone(),
        Arc::new(keyring.clone()),
        TrackingPrefix::parse("SEC").unwrap(),
        25 * 1024 * 1024,
        flow(&keyring),
    );
    let mut decrypted = 0;
    let mut total = 0;
    for entry in walk(&corpus.join("pgp-mime/notmuch")) {
        if entry.extension().and_then(|e| e.to_str()) != Some("eml") {
            continue;
        }
        let raw = std::fs::read(&entry).unwrap();
        let out = intake.file(raw).await.unwrap();
        total += 1;
        if out.readable {
            decrypted += 1;
        }
    }
    assert!(total > 0);
    assert!(decrypted > 0, "none of {total} notmuch messages decrypted");
    eprintln!("notmuch corpus: {decrypted}/{total} readable");
}

fn corpus_dir() -> Option<std::path::PathBuf> {
    let candidates = [
        std::env::var("EMBARGO_CORPUS_DIR").ok().map(Into::into),
        Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")),
        Some("/work/shared/corpus".into()),
    ];
    for c in candidates.into_iter().flatten() {
        if c.is_dir() {
            return Some(c);
        }
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but the shared corpus is missing");
    }
    eprintln!("skipping: shared/corpus not found");
    None
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// F1 (`fuzz/README.md`): a forward of a forward inside a multipart makes
/// mail-parser 0.11.9 panic on a `debug_assert!` in builds with debug
/// assertions (this test's). The mail is filed anyway, with its content
/// readable (headers-only parse, body kept as text) and its raw bytes kept.
#[tokio::test]
async fn forward_of_a_forward_is_filed_with_its_content() {
    let raw = b"From: a@b\n\
Content-Type: multipart/mixed; boundary=b\n\
\n\
--b\n\
Content-Type: message/rfc822\n\
\n\
From: c@d\n\
Subject: fwd\n\
Content-Type: message/rfc822\n\
\n\
From: e@f\n\
Subject: orig\n\
\n\
hello\n\
--b--\n"
        .to_vec();
    assert_eq!(raw.len(), 177);
    let w = world().await;
    let out = w.intake.file(raw.clone()).await.unwrap();
    assert!(out.new_report && out.readable, "{out:?}");
    let detail = w.store.get_report(&out.report).await.unwrap();
    assert_eq!(detail.report.reporter, "a@b");
    let m = common::first_inbound(&detail);
    if m.attachments.is_empty() {
        // The debug-build path: the body is the raw MIME text.
        assert!(m.body_text.contains("hello"), "{:?}", m.body_text);
        assert!(m.body_text.contains("Subject: orig"), "{:?}", m.body_text);
    } else {
        // A release build of mail-parser: the forward is an attachment.
        assert_eq!(m.attachments.len(), 1, "{m:?}");
    }
    assert_eq!(&w.store.get_raw_message(m.id).await.unwrap()[..], &raw[..]);
}
