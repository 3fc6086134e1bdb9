//! Composition without external tools: structure, headers, Autocrypt,
//! no content in plaintext, round trip through embargo-pgp.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use embargo_outbound::{
    AckContext, AckSettings, Attachment, Composed, NoticeKind, OutboundError, RelayContext,
    TeamCopyContext, TeamIdentity, TeamNoticeContext, Template, acknowledgement, relay, team_copy,
    team_notice,
};
use embargo_pgp::{
    Cert, DEFAULT_MAX_PLAINTEXT, Keyring, SignatureStatus, TeamKey, generate_team_key,
};
use mail_parser::{MessageParser, MimeHeaders};

const REPORT_MSGID: &str = "<report-1@example.org>";

/// A reporter (or member) with a key we can decrypt with.
fn party(uid: &str) -> (TeamKey, Cert) {
    let key = generate_team_key(uid).unwrap();
    let cert = key.public_cert();
    (key, cert)
}

fn ack(team: &TeamIdentity, settings: &AckSettings, cert: Option<&Cert>) -> Composed {
    let id = tracking_id();
    acknowledgement(&AckContext {
        team,
        settings,
        tracking_id: &id,
        reporter: REPORTER,
        reporter_cert: cert,
        report_message_id: Some(REPORT_MSGID),
        report_subject: Some(&format!("RCE via {CANARY}")),
        now: now(),
    })
    .unwrap()
}

/// Decrypts the encrypted part with `key`; asserts a good team signature.
fn open(mail: &Composed, key: &TeamKey, team: &TeamIdentity) -> String {
    let armored = armored_message_in(&mail.bytes);
    let d = Keyring::from(key.clone())
        .decrypt(
            &armored,
            &[team.keyring().public_cert()],
            DEFAULT_MAX_PLAINTEXT,
        )
        .unwrap();
    assert_eq!(d.signatures.len(), 1);
    assert_eq!(d.signatures[0].status, SignatureStatus::Good);
    assert_eq!(d.signatures[0].signer.as_deref(), Some(team.fingerprint()));
    String::from_utf8(d.plaintext.to_vec()).unwrap()
}

/// Common checks for every message.
fn check_common(mail: &Composed, team: &TeamIdentity, to: &str) {
    assert_eq!(mail.recipients, vec![to.to_owned()]);
    let text = String::from_utf8(mail.bytes.clone()).unwrap();
    assert!(text.is_ascii(), "8-bit message");
    // CRLF line endings only.
    assert!(!text.replace("\r\n", "").contains('\n'));
    assert_autocrypt(&mail.bytes, team);
    let m = MessageParser::default().parse(&mail.bytes).unwrap();
    assert_eq!(
        m.from().unwrap().first().unwrap().address().unwrap(),
        TEAM_ADDR
    );
    assert_eq!(m.to().unwrap().first().unwrap().address().unwrap(), to);
    assert_eq!(
        format!("<{}>", m.message_id().unwrap()),
        mail.message_id,
        "Message-ID header"
    );
    assert!(
        mail.message_id.ends_with("@project.example>") && mail.message_id.len() > 40,
        "{}",
        mail.message_id
    );
    assert_eq!(
        m.date().unwrap().to_rfc3339(),
        "2026-03-01T12:00:00Z",
        "Date header"
    );
    assert_eq!(header(&mail.bytes, "MIME-Version").as_deref(), Some("1.0"));
}

/// Checks the RFC 3156 structure; returns the parsed outer subject.
fn check_pgp_mime(mail: &Composed) {
    assert!(mail.encrypted);
    let m = MessageParser::default().parse(&mail.bytes).unwrap();
    let ct = m.content_type().unwrap();
    assert_eq!(ct.ctype(), "multipart");
    assert_eq!(ct.subtype(), Some("encrypted"));
    assert_eq!(ct.attribute("protocol"), Some("application/pgp-encrypted"));
    let root = m.root_part();
    let parts = root.sub_parts().unwrap();
    assert_eq!(parts.len(), 2);
    let first = m.part(parts[0]).unwrap();
    let ct = first.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("application", Some("pgp-encrypted"))
    );
    assert_eq!(
        String::from_utf8_lossy(first.contents()).trim(),
        "Version: 1"
    );
    let second = m.part(parts[1]).unwrap();
    let ct = second.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("application", Some("octet-stream"))
    );
    assert!(String::from_utf8_lossy(second.contents()).starts_with("-----BEGIN PGP MESSAGE-----"));
    assert_eq!(
        m.subject(),
        Some("[SEC-2026-0001] Encrypted message"),
        "neutral outer subject"
    );
}

#[test]
fn encrypted_acknowledgement_is_pgp_mime_with_protected_headers() {
    let team = team();
    let (reporter_key, reporter_cert) = party("Reporter <reporter@example.org>");
    let mail = ack(&team, &settings(), Some(&reporter_cert));
    check_common(&mail, &team, REPORTER);
    check_pgp_mime(&mail);
    assert_eq!(
        header(&mail.bytes, "In-Reply-To").as_deref(),
        Some(REPORT_MSGID)
    );
    assert_eq!(
        header(&mail.bytes, "References").as_deref(),
        Some(REPORT_MSGID)
    );
    assert_eq!(
        header(&mail.bytes, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    // The report subject is content: only inside the encryption.
    assert!(!String::from_utf8_lossy(&mail.bytes).contains(CANARY));

    let inner = open(&mail, &reporter_key, &team);
    let inner_msg = MessageParser::default().parse(inner.as_bytes()).unwrap();
    let ct = inner_msg.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));
    assert_eq!(ct.attribute("protected-headers"), Some("v1"));
    assert_eq!(
        inner_msg.subject().unwrap(),
        format!("[SEC-2026-0001] Re: RCE via {CANARY}")
    );
    assert_eq!(
        format!("<{}>", inner_msg.message_id().unwrap()),
        mail.message_id
    );
    assert_eq!(
        inner_msg
            .from()
            .unwrap()
            .first()
            .unwrap()
            .address()
            .unwrap(),
        TEAM_ADDR
    );
    assert_eq!(
        inner_msg.to().unwrap().first().unwrap().address().unwrap(),
        REPORTER
    );
    assert!(inner_msg.date().is_some());
    let body = inner_msg.body_text(0).unwrap();
    assert!(body.contains("SEC-2026-0001"), "{body}");
    assert!(body.contains("within 7 days"), "{body}");
    // Never quotes the report (only the subject is used, in the header).
    assert!(!body.contains(CANARY));
}

#[test]
fn plaintext_acknowledgement_explains_encryption_and_holds_no_content() {
    let team = team();
    let mail = ack(&team, &settings(), None);
    check_common(&mail, &team, REPORTER);
    assert!(!mail.encrypted);
    let text = String::from_utf8(mail.bytes.clone()).unwrap();
    assert!(!text.contains(CANARY), "report content in a plaintext ack");
    assert!(
        !text.contains("RCE via"),
        "report subject in a plaintext ack"
    );
    let m = MessageParser::default().parse(&mail.bytes).unwrap();
    assert_eq!(m.subject(), Some("[SEC-2026-0001] Report received"));
    let ct = m.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));
    let body = m.body_text(0).unwrap();
    let grouped: Vec<String> = team
        .fingerprint()
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    assert!(body.contains(&grouped.join(" ")), "{body}");
    assert!(body.contains(KEY_URL), "{body}");
    assert!(body.contains("within 7 days"), "{body}");
    assert!(body.contains("SEC-2026-0001"), "{body}");
    assert_eq!(
        header(&mail.bytes, "In-Reply-To").as_deref(),
        Some(REPORT_MSGID)
    );
    assert_eq!(
        header(&mail.bytes, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
}

#[test]
fn custom_templates_are_used_and_how_to_encrypt_is_kept() {
    let team = team();
    let mut settings = settings();
    settings.response_days = 3;
    settings.plaintext_template =
        Template::parse("Filed as {tracking_id}; answer within {response_days} days.").unwrap();
    settings.encrypted_template = Template::parse("Encrypted: {tracking_id}").unwrap();
    let mail = ack(&team, &settings, None);
    let body = MessageParser::default()
        .parse(&mail.bytes)
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned();
    // Cleartext-signed: the template's text opens the signed part.
    assert!(
        body.starts_with("-----BEGIN PGP SIGNED MESSAGE-----"),
        "{body}"
    );
    assert!(
        body.contains("Filed as SEC-2026-0001; answer within 3 days."),
        "{body}"
    );
    // The template does not mention the key: the instructions are added.
    assert!(
        body.contains(KEY_URL) && body.contains("Fingerprint:"),
        "{body}"
    );

    let (key, cert) = party("Reporter <reporter@example.org>");
    let mail = ack(&team, &settings, Some(&cert));
    assert!(open(&mail, &key, &team).contains("Encrypted: SEC-2026-0001"));
}

#[test]
fn unusable_reporter_key_falls_back_to_plaintext_ack() {
    // A revoked certificate cannot be encrypted to.
    let team = team();
    let key = generate_team_key("Reporter <reporter@example.org>").unwrap();
    let revoked = embargo_pgp::parse_certs(
        key.revocation_certificate_armored()
            .unwrap()
            .unwrap()
            .as_bytes(),
    )
    .unwrap()
    .pop()
    .unwrap();
    let mail = ack(&team, &settings(), Some(&revoked));
    assert!(!mail.encrypted);
    assert!(!String::from_utf8_lossy(&mail.bytes).contains(CANARY));
}

#[test]
fn team_copy_is_encrypted_to_the_member_with_attachments() {
    let team = team();
    let (member_key, member_cert) = party("Member <member@example.org>");
    let id = tracking_id();
    let data = format!("print('{CANARY}')\n");
    let attachments = [Attachment {
        filename: "poc.py",
        content_type: "text/x-python",
        data: data.as_bytes(),
    }];
    let mail = team_copy(&TeamCopyContext {
        team: &team,
        tracking_id: &id,
        member: MEMBER,
        member_cert: &member_cert,
        reporter: Some(REPORTER),
        subject: &format!("Heap overflow {CANARY}"),
        body_text: &format!("Details: {CANARY}\nSteps: ..."),
        attachments: &attachments,
        admin_url: Some("https://embargo.project.example/reports/SEC-2026-0001"),
        now: now(),
    })
    .unwrap();
    check_common(&mail, &team, MEMBER);
    check_pgp_mime(&mail);
    let raw = String::from_utf8_lossy(&mail.bytes);
    assert!(!raw.contains(CANARY) && !raw.contains(REPORTER));
    assert!(header(&mail.bytes, "Reply-To").unwrap().contains(TEAM_ADDR));

    let inner = open(&mail, &member_key, &team);
    let m = MessageParser::default().parse(inner.as_bytes()).unwrap();
    let ct = m.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("mixed")));
    assert_eq!(ct.attribute("protected-headers"), Some("v1"));
    assert_eq!(
        m.subject().unwrap(),
        format!("[SEC-2026-0001] Heap overflow {CANARY}")
    );
    let body = m.body_text(0).unwrap();
    assert!(body.contains(&format!("Details: {CANARY}")), "{body}");
    assert!(body.contains(REPORTER), "{body}");
    let att = m.attachment(0).unwrap();
    assert_eq!(att.attachment_name(), Some("poc.py"));
    assert_eq!(att.contents(), data.as_bytes());
}

#[test]
fn team_notice_is_content_free() {
    let team = team();
    let id = tracking_id();
    for kind in [NoticeKind::NewReport, NoticeKind::NewMessage] {
        let mail = team_notice(&TeamNoticeContext {
            team: &team,
            tracking_id: &id,
            member: MEMBER,
            kind,
            admin_url: Some("https://embargo.project.example/reports/SEC-2026-0001"),
            now: now(),
        })
        .unwrap();
        check_common(&mail, &team, MEMBER);
        assert!(!mail.encrypted);
        let text = String::from_utf8(mail.bytes.clone()).unwrap();
        assert!(!text.contains(CANARY) && !text.contains(REPORTER));
        let m = MessageParser::default().parse(&mail.bytes).unwrap();
        assert!(m.subject().unwrap().starts_with("[SEC-2026-0001] New "));
        let body = m.body_text(0).unwrap();
        assert!(body.contains("SEC-2026-0001"));
        assert!(body.contains("https://embargo.project.example/reports/SEC-2026-0001"));
    }
}

#[test]
fn relay_hides_the_member_and_encrypts() {
    let team = team();
    let (reporter_key, reporter_cert) = party("Reporter <reporter@example.org>");
    let id = tracking_id();
    let body = "Thanks, confirmed. Fix in 1.2.3.\n-- \nMember Name <Member@Example.org>\n";
    let ctx = RelayContext {
        team: &team,
        tracking_id: &id,
        reporter: REPORTER,
        reporter_cert: Some(&reporter_cert),
        subject: "Re: [SEC-2026-0001] Heap overflow (member@example.org)",
        body_text: body,
        attachments: &[],
        member: Some(MEMBER),
        in_reply_to: Some("<reporter-2@example.org>"),
        references: &[REPORT_MSGID, "<reporter-2@example.org>"],
        now: now(),
    };
    let mail = relay(&ctx).unwrap();
    check_common(&mail, &team, REPORTER);
    check_pgp_mime(&mail);
    let raw = String::from_utf8_lossy(&mail.bytes).to_ascii_lowercase();
    assert!(!raw.contains(MEMBER));
    assert_eq!(
        header(&mail.bytes, "In-Reply-To").as_deref(),
        Some("<reporter-2@example.org>")
    );
    assert_eq!(
        header(&mail.bytes, "References").as_deref(),
        Some("<report-1@example.org> <reporter-2@example.org>")
    );
    assert!(header(&mail.bytes, "Auto-Submitted").is_none());
    let inner = open(&mail, &reporter_key, &team);
    assert!(!inner.to_ascii_lowercase().contains(MEMBER), "{inner}");
    let m = MessageParser::default().parse(inner.as_bytes()).unwrap();
    assert_eq!(
        m.subject().unwrap(),
        format!("Re: [SEC-2026-0001] Heap overflow ({TEAM_ADDR})")
    );
    assert!(m.body_text(0).unwrap().contains("Fix in 1.2.3."));

    // Without the reporter's key: plaintext, still anonymous.
    let mail = relay(&RelayContext {
        reporter_cert: None,
        ..ctx
    })
    .unwrap();
    assert!(!mail.encrypted);
    let raw = String::from_utf8_lossy(&mail.bytes).to_ascii_lowercase();
    assert!(!raw.contains(MEMBER), "{raw}");
    assert!(raw.contains("fix in 1.2.3."));
    assert_autocrypt(&mail.bytes, &team);
}

#[test]
fn relay_with_unusable_key_fails_rather_than_downgrading() {
    let team = team();
    let key = generate_team_key("Reporter <reporter@example.org>").unwrap();
    let revoked = embargo_pgp::parse_certs(
        key.revocation_certificate_armored()
            .unwrap()
            .unwrap()
            .as_bytes(),
    )
    .unwrap()
    .pop()
    .unwrap();
    let id = tracking_id();
    let err = relay(&RelayContext {
        team: &team,
        tracking_id: &id,
        reporter: REPORTER,
        reporter_cert: Some(&revoked),
        subject: "Re: x",
        body_text: "y",
        attachments: &[],
        member: None,
        in_reply_to: None,
        references: &[],
        now: now(),
    })
    .unwrap_err();
    assert!(matches!(err, OutboundError::Pgp(_)), "{err:?}");
}

#[test]
fn header_injection_is_impossible() {
    let team = team();
    let (_, cert) = party("Reporter <reporter@example.org>");
    let id = tracking_id();
    // Bad addresses are refused without repeating them.
    let err = acknowledgement(&AckContext {
        team: &team,
        settings: &settings(),
        tracking_id: &id,
        reporter: "victim@example.org\r\nBcc: evil@example.net",
        reporter_cert: None,
        report_message_id: None,
        report_subject: None,
        now: now(),
    })
    .unwrap_err();
    assert!(!err.to_string().contains("evil"), "{err}");
    // A hostile subject or Message-ID cannot add headers.
    let mail = relay(&RelayContext {
        team: &team,
        tracking_id: &id,
        reporter: REPORTER,
        reporter_cert: None,
        subject: "Re: x\r\nBcc: evil@example.net",
        body_text: "body",
        attachments: &[],
        member: None,
        in_reply_to: Some("<a@b>\r\nBcc: evil@example.net"),
        references: &[],
        now: now(),
    })
    .unwrap();
    assert!(
        headers(&mail.bytes)
            .iter()
            .all(|(n, _)| !n.eq_ignore_ascii_case("Bcc")),
        "{:?}",
        headers(&mail.bytes)
    );
    assert!(header(&mail.bytes, "In-Reply-To").is_none());
    let _ = cert;
}

#[test]
fn message_ids_are_unique() {
    let team = team();
    let a = ack(&team, &settings(), None);
    let b = ack(&team, &settings(), None);
    assert_ne!(a.message_id, b.message_id);
    let debug = format!("{a:?}");
    assert!(!debug.contains(REPORTER), "{debug}");
}

#[test]
fn follows_seipdv2_when_the_reporter_asks_for_it() {
    // RFC 9580 v6 sample key: advertises SEIPDv2. Our own (and gpg 2.2)
    // keys advertise SEIPDv1 only (see tests/gnupg.rs).
    let Some(corpus) = corpus() else { return };
    let path = corpus.join("pgp-mime/rfc9580-vectors-from-rnp/A.3.transferable-pubkey-v6.asc");
    let cert = embargo_pgp::parse_certs(&std::fs::read(path).unwrap())
        .unwrap()
        .pop()
        .unwrap();
    let team = team();
    match acknowledgement(&AckContext {
        team: &team,
        settings: &settings(),
        tracking_id: &tracking_id(),
        reporter: REPORTER,
        reporter_cert: Some(&cert),
        report_message_id: None,
        report_subject: None,
        now: now(),
    }) {
        Ok(mail) if mail.encrypted => {
            let binary = dearmor(&armored_message_in(&mail.bytes));
            assert_eq!(seip_versions(&binary), vec![2]);
        }
        other => panic!("expected an encrypted ack: {other:?}"),
    }

    // Our own key: SEIPDv1.
    let (_, cert) = party("Reporter <reporter@example.org>");
    let mail = ack(&team, &settings(), Some(&cert));
    let binary = dearmor(&armored_message_in(&mail.bytes));
    assert_eq!(seip_versions(&binary), vec![1]);
}

#[test]
fn reply_subject_is_not_doubled() {
    let team = team();
    let (key, cert) = party("Reporter <reporter@example.org>");
    let mail = acknowledgement(&AckContext {
        team: &team,
        settings: &settings(),
        tracking_id: &tracking_id(),
        reporter: REPORTER,
        reporter_cert: Some(&cert),
        report_message_id: None,
        report_subject: Some("RE: [SEC-2026-0001] more details"),
        now: now(),
    })
    .unwrap();
    let inner = open(&mail, &key, &team);
    let m = MessageParser::default().parse(inner.as_bytes()).unwrap();
    assert_eq!(m.subject(), Some("RE: [SEC-2026-0001] more details"));
    assert!(header(&mail.bytes, "In-Reply-To").is_none());
}
