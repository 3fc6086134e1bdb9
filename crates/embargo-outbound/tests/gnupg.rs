//! Interoperability with the real GnuPG (2.2 is what many reporters
//! run): gpg decrypts and verifies what we compose. Skipped with a
//! message when gpg is missing, except in CI (CI=true).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use embargo_outbound::{
    AckContext, Attachment, RelayContext, TeamCopyContext, TeamIdentity, acknowledgement, relay,
    team_copy,
};
use mail_parser::{MessageParser, MimeHeaders};

const REPORTER_UID: &str = "Reporter <reporter@example.org>";
const MEMBER_UID: &str = "Member <member@example.org>";

/// A gpg home that knows (and trusts) the team's public key.
fn setup() -> Option<(Gpg, TeamIdentity)> {
    let gpg = Gpg::new()?;
    let team = team();
    gpg.ok(
        &["--import"],
        team.keyring().public_armored().unwrap().as_bytes(),
    );
    gpg.ok(
        &["--import-ownertrust"],
        format!("{}:6:\n", team.fingerprint()).as_bytes(),
    );
    Some((gpg, team))
}

fn report_subject() -> String {
    format!("Heap overflow, {CANARY}")
}

fn assert_no_canary(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert!(!text.contains(CANARY), "report content in the clear");
}

#[test]
fn gpg_reads_the_encrypted_acknowledgement() {
    let Some((gpg, team)) = setup() else { return };
    // `default` is what a gpg 2.2 user gets (RSA; Features: MDC only).
    let fpr = gpg.generate(REPORTER_UID, "default", "default");
    let cert = gpg.cert(&fpr);
    let subject = report_subject();
    let mail = acknowledgement(&AckContext {
        team: &team,
        settings: &settings(),
        tracking_id: &tracking_id(),
        reporter: REPORTER,
        reporter_cert: Some(&cert),
        report_message_id: Some("<report@example.org>"),
        report_subject: Some(&subject),
        now: now(),
    })
    .unwrap();
    assert!(mail.encrypted);
    assert_no_canary(&mail.bytes);
    assert_autocrypt(&mail.bytes, &team);
    assert_eq!(
        header(&mail.bytes, "Subject").as_deref(),
        Some("[SEC-2026-0001] Encrypted message")
    );
    // The reporter's key does not ask for SEIPDv2: SEIPDv1 (with MDC).
    assert_eq!(
        seip_versions(&dearmor(&armored_message_in(&mail.bytes))),
        vec![1]
    );

    let (inner, status) = gpg.decrypt_mail(&mail.bytes);
    assert_good_decryption(&status, team.fingerprint());
    assert!(
        status.contains("[GNUPG:] DECRYPTION_INFO 2"),
        "MDC: {status}"
    );
    assert!(inner.contains("protected-headers=\"v1\""), "{inner}");
    assert!(inner.contains("SEC-2026-0001"), "{inner}");
    let m = MessageParser::default().parse(inner.as_bytes()).unwrap();
    assert_eq!(
        m.subject().unwrap(),
        format!("[SEC-2026-0001] Re: {subject}")
    );
    assert_eq!(format!("<{}>", m.message_id().unwrap()), mail.message_id);
    // The canary (the report subject) is there only after decryption,
    // and only in the protected Subject, not quoted in the text.
    assert!(inner.contains(CANARY));
    assert!(!m.body_text(0).unwrap().contains(CANARY));
}

#[test]
fn plaintext_acknowledgements_carry_no_report_content() {
    let Some((gpg, team)) = setup() else { return };
    let subject = report_subject();
    let ctx = AckContext {
        team: &team,
        settings: &settings(),
        tracking_id: &tracking_id(),
        reporter: REPORTER,
        reporter_cert: None,
        report_message_id: Some("<report@example.org>"),
        report_subject: Some(&subject),
        now: now(),
    };
    let mail = acknowledgement(&ctx).unwrap();
    assert!(!mail.encrypted);
    assert_no_canary(&mail.bytes);
    assert_autocrypt(&mail.bytes, &team);

    // A signing-only reporter key cannot be encrypted to: plaintext
    // acknowledgement, again without content.
    let fpr = gpg.generate(REPORTER_UID, "ed25519", "sign");
    let sign_only = gpg.cert(&fpr);
    let mail = acknowledgement(&AckContext {
        reporter_cert: Some(&sign_only),
        ..ctx
    })
    .unwrap();
    assert!(!mail.encrypted);
    assert_no_canary(&mail.bytes);

    // The Autocrypt key data is the team key, as gpg sees it.
    let other = Gpg::new().unwrap();
    let out = other.ok(
        &["--import", "--status-fd", "2"],
        &autocrypt_keydata(&mail.bytes),
    );
    let status = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.contains(&format!("IMPORT_OK 1 {}", team.fingerprint())),
        "{status}"
    );
}

#[test]
fn gpg_reads_the_team_copy() {
    let Some((gpg, team)) = setup() else { return };
    let fpr = gpg.generate(MEMBER_UID, "default", "default");
    let cert = gpg.cert(&fpr);
    let body = format!("Steps to reproduce: {CANARY}\n");
    let poc = format!("#!/bin/sh\necho {CANARY}\n");
    let attachments = [Attachment {
        filename: "poc.sh",
        content_type: "application/x-sh",
        data: poc.as_bytes(),
    }];
    let mail = team_copy(&TeamCopyContext {
        team: &team,
        tracking_id: &tracking_id(),
        member: MEMBER,
        member_cert: &cert,
        reporter: Some(REPORTER),
        subject: &report_subject(),
        body_text: &body,
        attachments: &attachments,
        admin_url: Some("https://embargo.project.example/r/SEC-2026-0001"),
        now: now(),
    })
    .unwrap();
    assert_no_canary(&mail.bytes);
    assert!(!String::from_utf8_lossy(&mail.bytes).contains(REPORTER));
    assert_autocrypt(&mail.bytes, &team);
    assert_eq!(mail.recipients, vec![MEMBER.to_owned()]);
    assert_eq!(
        seip_versions(&dearmor(&armored_message_in(&mail.bytes))),
        vec![1]
    );

    let (inner, status) = gpg.decrypt_mail(&mail.bytes);
    assert_good_decryption(&status, team.fingerprint());
    let m = MessageParser::default().parse(inner.as_bytes()).unwrap();
    let ct = m.content_type().unwrap();
    assert_eq!(ct.attribute("protected-headers"), Some("v1"));
    assert_eq!(
        m.subject().unwrap(),
        format!("[SEC-2026-0001] {}", report_subject())
    );
    assert!(
        m.body_text(0)
            .unwrap()
            .contains(&body.trim_end().to_owned())
    );
    assert_eq!(m.attachment(0).unwrap().contents(), poc.as_bytes());
}

#[test]
fn gpg_reads_the_relayed_reply_and_the_member_stays_hidden() {
    let Some((gpg, team)) = setup() else { return };
    let fpr = gpg.generate(REPORTER_UID, "default", "default");
    let cert = gpg.cert(&fpr);
    let body =
        "We confirmed the issue; the fix ships in 1.2.3.\n\n-- \nMember (member@example.org)\n";
    let mail = relay(&RelayContext {
        team: &team,
        tracking_id: &tracking_id(),
        reporter: REPORTER,
        reporter_cert: Some(&cert),
        subject: "Re: [SEC-2026-0001] status",
        body_text: body,
        attachments: &[],
        member: Some(MEMBER),
        in_reply_to: Some("<reporter-2@example.org>"),
        references: &["<report@example.org>"],
        now: now(),
    })
    .unwrap();
    let raw = String::from_utf8_lossy(&mail.bytes).to_ascii_lowercase();
    assert!(!raw.contains(MEMBER), "member address in the relayed mail");
    assert_autocrypt(&mail.bytes, &team);
    assert_eq!(mail.recipients, vec![REPORTER.to_owned()]);

    let (inner, status) = gpg.decrypt_mail(&mail.bytes);
    assert_good_decryption(&status, team.fingerprint());
    assert!(!inner.to_ascii_lowercase().contains(MEMBER), "{inner}");
    let m = MessageParser::default().parse(inner.as_bytes()).unwrap();
    assert_eq!(m.subject(), Some("Re: [SEC-2026-0001] status"));
    assert_eq!(
        m.from().unwrap().first().unwrap().address(),
        Some(TEAM_ADDR)
    );
    assert!(m.body_text(0).unwrap().contains("the fix ships in 1.2.3."));
}
