//! The shared corpus (/work/shared/corpus, see SOURCES.md): every message
//! parses, and specific files parse into the expected structure.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code: failing loudly is the point

use std::path::{Path, PathBuf};

use embargo_mail::{
    AttachmentKind, Body, Flag, InlinePgpKind, Limits, MailError, decrypted_name,
    effective_subject, parse, parse_inner,
};

const CORPUS: &str = "/work/shared/corpus";

fn corpus(rel: &str) -> PathBuf {
    Path::new(CORPUS).join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(corpus(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn parse_file(rel: &str) -> embargo_mail::Inbound {
    parse(&read(rel), &Limits::default()).unwrap_or_else(|e| panic!("{rel}: {e:?}"))
}

fn eml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            eml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "eml") {
            out.push(path);
        }
    }
}

/// Files that are legitimately refused, and why.
const EXPECTED_ERRORS: &[(&str, MailError)] = &[
    // An HTML body fragment from Delta Chat's tests, no header section.
    ("mime/deltachat/gmx-quote-body.eml", MailError::NotEmail),
    // Starts with a line of 255 spaces: the header section is empty (mail-parser
    // reads it the same way), so there is nothing to file it under.
    (
        "mime/schleuder/bounces/undeliverable_gmail.txt.eml",
        MailError::NotEmail,
    ),
];

#[test]
fn every_corpus_message_parses() {
    let mut files = Vec::new();
    eml_files(&corpus("mime"), &mut files);
    eml_files(&corpus("pgp-mime"), &mut files);
    files.sort();
    assert!(files.len() > 400, "corpus missing? found {}", files.len());
    let limits = Limits::default();
    let mut failures = Vec::new();
    for file in &files {
        let raw = std::fs::read(file).unwrap();
        let rel = file.strip_prefix(CORPUS).unwrap().display().to_string();
        let expected = EXPECTED_ERRORS
            .iter()
            .find(|(f, _)| *f == rel)
            .map(|(_, e)| e);
        match (parse(&raw, &limits), expected) {
            (Ok(m), None) => {
                if m.has_flag(Flag::HostileStructure) {
                    failures.push(format!("{rel}: flagged hostile"));
                }
            }
            (Err(e), Some(exp)) if &e == exp => {}
            (got, exp) => failures.push(format!("{rel}: got {:?}, expected {exp:?}", got.err())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn pgp_mime_message() {
    for rel in [
        "pgp-mime/notmuch/crypto/basic-encrypted.eml",
        "pgp-mime/autocrypt-protected-headers/pgpmime-enc+legacy-disp.eml",
        "pgp-mime/deltachat/thunderbird_encrypted_signed.eml",
        "pgp-mime/schleuder/qp-encoding-encrypted.eml",
    ] {
        let m = parse_file(rel);
        let Body::PgpMime { encrypted } = &m.body else {
            panic!("{rel}: {:?}", m.body)
        };
        assert!(
            encrypted.starts_with(b"-----BEGIN PGP MESSAGE-----"),
            "{rel}"
        );
        assert!(
            encrypted
                .trim_ascii_end()
                .ends_with(b"-----END PGP MESSAGE-----"),
            "{rel}"
        );
        // The control part and the payload are structure, not attachments.
        assert!(m.attachments.is_empty(), "{rel}: {:?}", m.attachments);
    }
}

#[test]
fn mangled_pgp_mime_is_repaired() {
    for rel in [
        "pgp-mime/deltachat/google-workspace-mixed-up.eml",
        "pgp-mime/deltachat/protonmail-mixed-up.eml",
        "pgp-mime/deltachat/mixed-up-long.eml",
    ] {
        let m = parse_file(rel);
        assert!(matches!(m.body, Body::PgpMime { .. }), "{rel}");
        assert!(m.has_flag(Flag::RepairedPgpMime), "{rel}");
        assert!(m.attachments.is_empty(), "{rel}");
    }
}

#[test]
fn pgp_mime_header_facts() {
    let m = parse_file("pgp-mime/deltachat/thunderbird_with_autocrypt.eml");
    assert_eq!(m.from.as_deref(), Some("alice@example.org"));
    assert_eq!(m.from_name.as_deref(), Some("Alice"));
    assert_eq!(m.to, vec!["bob@example.net".to_string()]);
    assert_eq!(m.subject.as_deref(), Some("..."));
    assert_eq!(
        m.message_id.as_deref(),
        Some("0bb9ffe1-2596-d997-95b4-1fef8cc4808e@example.org")
    );
    let ac = m.autocrypt.expect("autocrypt header");
    assert_eq!(ac.addr, "alice@example.org");
    // A binary OpenPGP certificate: new-format public-key packet (tag 6).
    assert_eq!(ac.keydata.first(), Some(&0xc6));
    assert!(matches!(m.body, Body::PgpMime { .. }));

    // Two Autocrypt headers: per the spec, none is used.
    let m = parse_file("pgp-mime/deltachat/thunderbird_with_multiple_autocrypts.eml");
    assert!(m.autocrypt.is_none());
}

#[test]
fn thunderbird_inline_pgp() {
    let m = parse_file("pgp-mime/schleuder/encrypted-inline/thunderbird.eml");
    let Body::Plain {
        text, inline_pgp, ..
    } = &m.body
    else {
        panic!("{:?}", m.body)
    };
    assert_eq!(inline_pgp.len(), 1);
    let block = &inline_pgp[0];
    assert_eq!(block.kind, InlinePgpKind::Encrypted);
    assert_eq!(
        &text.as_bytes()[block.start..block.end],
        block.armored.as_slice()
    );
    assert!(block.armored.starts_with(b"-----BEGIN PGP MESSAGE-----"));
    assert!(block.armored.ends_with(b"-----END PGP MESSAGE-----"));

    let m = parse_file("pgp-mime/schleuder/signed-inline/thunderbird.eml");
    let blocks = m.body.inline_pgp();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].kind, InlinePgpKind::CleartextSigned);
    assert!(blocks[0].armored.ends_with(b"-----END PGP SIGNATURE-----"));

    let m = parse_file("pgp-mime/schleuder/encrypted+signed-inline/thunderbird.eml");
    assert_eq!(m.body.inline_pgp().len(), 1);
}

/// The first part of a multipart/signed, cut out of the file by hand: from
/// after the first delimiter line to the line break before the next one.
fn signed_part_by_hand(raw: &[u8], boundary: &str) -> Vec<u8> {
    let delim = format!("--{boundary}");
    let find = |hay: &[u8], from: usize| {
        hay[from..]
            .windows(delim.len())
            .position(|w| w == delim.as_bytes())
            .map(|p| p + from)
    };
    let first = find(raw, 0).unwrap();
    let start = first
        + delim.len()
        + raw[first + delim.len()..]
            .iter()
            .position(|&c| c == b'\n')
            .unwrap()
        + 1;
    let next = find(raw, start).unwrap();
    let mut end = next - 1; // the LF before the delimiter
    if raw[end - 1] == b'\r' {
        end -= 1;
    }
    let mut out = Vec::new();
    for (i, &c) in raw[start..end].iter().enumerate() {
        if c == b'\n' && (i == 0 || raw[start + i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

fn boundary_of(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let at = text.find("boundary=").unwrap() + "boundary=".len();
    let rest = &text[at..];
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    rest.chars()
        .take_while(|&c| c != '"' && c != ';' && !c.is_whitespace())
        .collect()
}

#[test]
fn multipart_signed_exact_bytes() {
    // Each of these verifies with GnuPG over `signed_part_raw` (checked while
    // writing this crate; no crypto here).
    for rel in [
        "pgp-mime/notmuch/protected-headers/simple-signed-mail.eml",
        "pgp-mime/autocrypt-protected-headers/pgpmime-signed.eml",
        "pgp-mime/schleuder/signed-mime/thunderbird.eml",
        "pgp-mime/schleuder/multipart-alternative/thunderbird-multi-alt-signed.eml",
        "pgp-mime/deltachat/thunderbird_signed_unencrypted.eml",
    ] {
        let raw = read(rel);
        let m = parse(&raw, &Limits::default()).unwrap();
        let Body::Signed {
            signed_part_raw,
            signature,
            inner,
        } = &m.body
        else {
            panic!("{rel}: {:?}", m.body)
        };
        assert_eq!(
            signed_part_raw,
            &signed_part_by_hand(&raw, &boundary_of(&raw)),
            "{rel}"
        );
        assert!(
            !signed_part_raw
                .windows(2)
                .any(|w| w[1] == b'\n' && w[0] != b'\r'),
            "{rel}: bare LF"
        );
        assert!(
            signature.starts_with(b"-----BEGIN PGP SIGNATURE-----"),
            "{rel}"
        );
        assert!(matches!(**inner, Body::Plain { .. }), "{rel}");
        // The signature is structure, not an attachment.
        assert!(
            m.attachments
                .iter()
                .all(|a| a.content_type != "application/pgp-signature"),
            "{rel}"
        );
    }

    let m = parse_file("pgp-mime/schleuder/multipart-alternative/thunderbird-multi-alt-signed.eml");
    let Body::Signed { inner, .. } = &m.body else {
        panic!()
    };
    let Body::Plain { html_as_text, .. } = &**inner else {
        panic!()
    };
    assert!(html_as_text.is_some());
}

#[test]
fn encrypted_attachments() {
    // A mailing list re-wrapped PGP/MIME with a footer: the encrypted part is
    // an attachment to decrypt.
    let m = parse_file("pgp-mime/notmuch/protected-headers/wrapped-protected-header.eml");
    assert!(
        m.body
            .text()
            .unwrap()
            .contains("re-wrapped by a mailing list")
    );
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].kind, AttachmentKind::EncryptedPgp);

    // A binary OpenPGP message (PKESK first) attached as report.txt.pgp.
    let payload = read("pgp-mime/sequoia-openpgp/messages/encrypted/cv25519.msg.pgp");
    let mut b64 = String::new();
    {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&payload);
        for chunk in encoded.as_bytes().chunks(76) {
            b64.push_str(std::str::from_utf8(chunk).unwrap());
            b64.push_str("\r\n");
        }
    }
    let mail = format!(
        "From: Reporter <r@Example.COM>\r\nTo: security@project.example\r\nSubject: vuln\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nDetails attached.\r\n\
         --b\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"report.txt.pgp\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{b64}--b\r\n\
         Content-Type: application/pgp-keys\r\n\
         Content-Disposition: attachment; filename=\"key.asc\"\r\n\r\n\
         -----BEGIN PGP PUBLIC KEY BLOCK-----\r\n\r\nxjM=\r\n-----END PGP PUBLIC KEY BLOCK-----\r\n--b--\r\n"
    );
    let m = parse(mail.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(m.from.as_deref(), Some("r@example.com"));
    assert_eq!(m.body.text().unwrap().trim(), "Details attached.");
    assert_eq!(m.attachments.len(), 2);
    let enc = &m.attachments[0];
    assert_eq!(enc.kind, AttachmentKind::EncryptedPgp);
    assert_eq!(enc.bytes, payload);
    assert_eq!(enc.filename.as_deref(), Some("report.txt.pgp"));
    assert_eq!(
        decrypted_name(enc.filename.as_deref().unwrap()),
        "report.txt"
    );
    assert_eq!(m.attachments[1].kind, AttachmentKind::PublicKeys);
}

#[test]
fn attached_keys() {
    let m = parse_file("mime/schleuder/charset_mails/signed_utf8.eml");
    assert!(
        m.attachments
            .iter()
            .any(|a| a.kind == AttachmentKind::PublicKeys
                && a.filename.as_deref() == Some("0x4DCFFC92.asc"))
    );
}

#[test]
fn delivery_status_notifications() {
    let m = parse_file("mime/deltachat/dsn_relayed.eml");
    assert!(m.is_bounce);
    assert!(m.suppress_auto_response());
    let dsn = m.dsn.expect("dsn details");
    assert_eq!(
        dsn.original_message_id.as_deref(),
        Some("8b7b1a9d0c8cc588c7bcac47f5687634@posteo.de")
    );

    for rel in [
        "mime/deltachat/gmail_ndn.eml",
        "mime/deltachat/posteo_ndn.eml",
        "mime/mikel-mail/multipart_report_emails/report_422.eml",
        "mime/schleuder/bounce.eml",
    ] {
        assert!(parse_file(rel).is_bounce, "{rel}");
    }
    for rel in [
        "mime/mikel-mail/plain_emails/basic_email.eml",
        "pgp-mime/deltachat/thunderbird_with_autocrypt.eml",
    ] {
        let m = parse_file(rel);
        assert!(!m.is_bounce, "{rel}");
        assert!(!m.is_auto_reply, "{rel}");
    }
}

#[test]
fn mailing_lists_are_auto() {
    let m = parse_file("mime/deltachat/mailinglist_dhl.eml");
    assert!(m.is_auto_reply);
}

#[test]
fn torture_tests_parse() {
    for rel in [
        "mime/crymap/torture-test.eml",
        "mime/crymap/christmas-tree.eml",
        "mime/mikel-mail/mime_emails/raw_email_encoded_stack_level_too_deep.eml",
    ] {
        let m = parse_file(rel);
        assert!(!m.has_flag(Flag::HostileStructure), "{rel}");
        assert!(m.body.text().is_some(), "{rel}");
    }
    let m = parse_file("mime/crymap/torture-test.eml");
    assert!(!m.attachments.is_empty());

    // Every header set once.
    let m = parse_file("mime/crymap/christmas-tree.eml");
    assert_eq!(m.from.as_deref(), Some("from@example.com"));
    assert_eq!(m.to, vec!["to@example.com".to_string()]);
    assert_eq!(m.cc, vec!["cc@example.com".to_string()]);
    assert_eq!(m.reply_to.as_deref(), Some("reply-to@example.com"));
    assert_eq!(m.subject.as_deref(), Some("This is the subject"));
    assert_eq!(m.message_id.as_deref(), Some("messageid@example.com"));
    assert_eq!(m.in_reply_to, vec!["inreplyto@example.com".to_string()]);
    assert_eq!(
        m.references,
        vec![
            "inreplyto@example.com".to_string(),
            "anothermessage@example.com".to_string()
        ]
    );
    assert_eq!(m.date, Some(880_127_706));
    // text/rich sent as an attachment.
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].content_type, "text/rich");
    // With tight limits the same files still parse, flagged.
    let tight = Limits {
        max_depth: 2,
        max_parts: 5,
        ..Limits::default()
    };
    let m = parse(&read("mime/crymap/torture-test.eml"), &tight).unwrap();
    assert!(
        m.has_flag(Flag::TooManyParts) || m.has_flag(Flag::TooDeep),
        "{:?}",
        m.flags
    );
}

#[test]
fn charsets_are_decoded() {
    let m = parse_file("mime/mikel-mail/multi_charset/japanese_iso_2022.eml");
    let text = m.body.text().unwrap();
    assert!(
        text.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c)),
        "{text}"
    );
    let m = parse_file("mime/deltachat/text_plain_iso88591.eml");
    assert!(!m.body.text().unwrap().contains('\u{fffd}'));
}

#[test]
fn html_only_mail_becomes_text() {
    let m = parse_file("mime/deltachat/text_html.eml");
    let Body::Plain {
        text, html_as_text, ..
    } = &m.body
    else {
        panic!()
    };
    assert!(html_as_text.is_some());
    assert!(!text.is_empty());
    assert!(
        !text.contains("<html") && !text.contains("<body") && !text.contains("<p>"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------
// Decrypted payloads (the .inner files are the plaintexts of the .eml files).

#[test]
fn protected_headers_rfc9788_with_legacy_display() {
    let outer = parse_file("pgp-mime/autocrypt-protected-headers/pgpmime-enc+legacy-disp.eml");
    assert!(matches!(outer.body, Body::PgpMime { .. }));
    let inner = parse_inner(
        &read("pgp-mime/autocrypt-protected-headers/pgpmime-enc+legacy-disp.inner"),
        &Limits::default(),
    );
    let p = inner.protected.as_ref().expect("protected headers");
    assert_eq!(
        p.subject.as_deref(),
        Some("BarCorp contract signed, let's go!")
    );
    assert_eq!(p.from.as_deref(), Some("alice@openpgp.example"));
    assert_eq!(p.to, vec!["bob@openpgp.example".to_string()]);
    assert_eq!(
        p.message_id.as_deref(),
        Some("pgpmime-enc+legacy-disp@protected-headers.example")
    );
    assert!(p.date.is_some());
    let text = inner.body.text().unwrap();
    assert!(text.starts_with("Hi Bob!"), "{text}");
    // The legacy display part is not shown twice.
    assert!(!text.contains("Subject:"), "{text}");
    assert!(inner.attachments.is_empty());
    assert_eq!(
        effective_subject(outer.subject.as_deref(), &inner).as_deref(),
        Some("BarCorp contract signed, let's go!")
    );
}

#[test]
fn protected_headers_single_part_and_layered() {
    let inner = parse_inner(
        &read("pgp-mime/autocrypt-protected-headers/pgpmime-sign+enc.inner"),
        &Limits::default(),
    );
    assert_eq!(
        inner.protected.unwrap().subject.as_deref(),
        Some("BarCorp contract signed, let's go!")
    );
    assert!(inner.body.text().unwrap().contains("pgpmime-sign+enc"));

    for rel in [
        "pgp-mime/autocrypt-protected-headers/pgpmime-layered+legacy-disp.inner",
        "pgp-mime/autocrypt-protected-headers/unfortunately-complex.inner",
    ] {
        let inner = parse_inner(&read(rel), &Limits::default());
        let Body::Signed {
            signed_part_raw,
            signature,
            inner: signed,
        } = &inner.body
        else {
            panic!("{rel}: {:?}", inner.body)
        };
        assert!(
            signed_part_raw.starts_with(b"From: Alice Lovelace"),
            "{rel}"
        );
        assert!(signature.starts_with(b"-----BEGIN PGP SIGNATURE-----"));
        let text = signed.text().unwrap();
        assert!(
            text.contains("Hi Bob!") && !text.contains("Subject:"),
            "{rel}: {text}"
        );
        let p = inner.protected.unwrap();
        assert_eq!(
            p.subject.as_deref(),
            Some("BarCorp contract signed, let's go!"),
            "{rel}"
        );
        assert_eq!(p.from.as_deref(), Some("alice@openpgp.example"), "{rel}");
    }
}

#[test]
fn memory_hole_and_misplaced_headers() {
    // Memory hole: text/rfc822-headers legacy part, headers on the root.
    let decrypted = b"Content-Type: multipart/mixed; boundary=\"xxxx\";\n protected-headers=\"v1\"\n\
        From: test@example.org\nSubject: Interrupting Cow\n\n--xxxx\n\
        Content-Type: text/rfc822-headers; protected-headers=\"v1\"\nContent-Disposition: inline\n\n\
        Subject: Interrupting Cow\n\n--xxxx\nContent-Type: text/plain; charset=utf-8\n\nMoo!\n--xxxx--\n";
    let inner = parse_inner(decrypted, &Limits::default());
    assert_eq!(
        inner.protected.unwrap().subject.as_deref(),
        Some("Interrupting Cow")
    );
    assert_eq!(inner.body.text().unwrap().trim(), "Moo!");

    // Only the legacy part carries the subject.
    let decrypted = b"Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\n\
        Content-Type: text/plain; protected-headers=\"v1\"\n\nSubject: Secret subject\n\n\
        --b\nContent-Type: text/plain\n\nbody\n--b--\n";
    let inner = parse_inner(decrypted, &Limits::default());
    assert_eq!(
        inner.protected.unwrap().subject.as_deref(),
        Some("Secret subject")
    );
    assert_eq!(
        effective_subject(Some("..."), &parse_inner(decrypted, &Limits::default())).as_deref(),
        Some("Secret subject")
    );

    // No protected-headers attribute: not protected headers.
    let inner = parse_inner(
        b"Content-Type: text/plain\nSubject: not protected\n\nsekrit\n",
        &Limits::default(),
    );
    assert!(inner.protected.is_none());
    assert_eq!(
        effective_subject(Some("outer"), &inner).as_deref(),
        Some("outer")
    );

    // Headers deeper in the tree are ignored.
    let inner = parse_inner(
        b"Content-Type: multipart/alternative; boundary=\"x\"\n\n--x\n\
          Content-Type: text/plain; protected-headers=\"v1\"\nSubject: botched\n\nbody\n--x--\n",
        &Limits::default(),
    );
    assert!(inner.protected.is_none());
    assert_eq!(inner.body.text().unwrap().trim(), "body");
}

#[test]
fn inner_variants() {
    // draft-melnikov: the payload is a whole message.
    let inner = parse_inner(
        b"Content-Type: message/rfc822; forwarded=\"no\"\n\nFrom: a@example.org\n\
          Subject: wrapped subject\nContent-Type: text/plain\n\nI think this works.\n",
        &Limits::default(),
    );
    assert_eq!(
        inner.protected.unwrap().subject.as_deref(),
        Some("wrapped subject")
    );
    assert_eq!(inner.body.text().unwrap().trim(), "I think this works.");

    // Encrypted twice: the caller decrypts again.
    let inner = parse_inner(
        b"Content-Type: multipart/encrypted; boundary=\"=-=-=\";\n\tprotocol=\"application/pgp-encrypted\"\n\n\
          --=-=-=\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--=-=-=\n\
          Content-Type: application/octet-stream\nSubject: phony\n\n-----BEGIN PGP MESSAGE-----\n\nhIwD\n-----END PGP MESSAGE-----\n--=-=-=--\n",
        &Limits::default(),
    );
    assert!(matches!(inner.body, Body::PgpMime { .. }));
    assert!(inner.protected.is_none());

    // Not MIME at all: text.
    let inner = parse_inner(b"\xef\xbb\xbfjust text, no headers\n", &Limits::default());
    assert_eq!(
        inner.body.text().unwrap(),
        "\u{feff}just text, no headers\n"
    );

    // Attached keys are listed.
    let inner = parse_inner(
        b"Content-Type: multipart/mixed; boundary=\"k\"\n\n--k\nContent-Type: text/plain\n\nmy key\n\
          --k\nContent-Type: application/pgp-keys\nContent-Disposition: attachment; filename=\"me.asc\"\n\n\
          -----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjM=\n-----END PGP PUBLIC KEY BLOCK-----\n--k--\n",
        &Limits::default(),
    );
    assert_eq!(inner.keys.len(), 1);
    assert!(inner.keys[0].starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"));
}
