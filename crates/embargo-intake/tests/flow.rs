//! The mail a filed message causes: acknowledgements, team copies, relayed
//! member replies, bounces and auto-replies; and retrying decryption.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use common::{World, autocrypt_header, encrypt, flow, pgp_mime, plain, world};
use embargo_domain::{Login, Role, TrackingPrefix, WgName};
use embargo_intake::Intake;
use embargo_pgp::{Keyring, cert_to_armored, encrypt_and_sign, generate_team_key};
use embargo_store::{Direction, NewUser, OutboxItem};
use jiff::{SignedDuration, Timestamp};

const SECRET: &str = "heap overflow in the katib suggestion service CANARY-FLOW";

async fn add_member(
    w: &World,
    login: &str,
    role: Role,
    wg: Option<&str>,
    email: &str,
    key: Option<&Keyring>,
) {
    w.store
        .add_user(NewUser {
            login: Login::parse(login).unwrap(),
            role,
            wg: wg.map(|g| WgName::parse(g).unwrap()),
            password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
            must_change_password: false,
            email: Some(email.into()),
            pgp_cert: key.map(|k| cert_to_armored(&k.public_cert()).unwrap()),
            totp_secret: None,
            created_at: Timestamp::now(),
        })
        .await
        .unwrap();
}

/// Everything queued so far (claimed, so each call sees only new mail).
async fn take_outbox(w: &World) -> Vec<OutboxItem> {
    w.store
        .claim_outbox(
            "test",
            SignedDuration::from_mins(5),
            Timestamp::now() + SignedDuration::from_secs(1),
            1000,
        )
        .await
        .unwrap()
}

/// The messages queued for `addr`: the raw bytes followed by the decoded
/// text of every part, so a canary cannot hide behind a transfer encoding.
fn to(items: &[OutboxItem], addr: &str) -> Vec<String> {
    items
        .iter()
        .filter(|i| i.recipients.iter().any(|r| r == addr))
        .map(|i| {
            let raw = String::from_utf8_lossy(&i.body).into_owned();
            let parsed = embargo_mail::parse(&i.body, &embargo_mail::Limits::default()).unwrap();
            let text = parsed.body.text().unwrap_or_default().to_owned();
            let attachments: String = parsed
                .attachments
                .iter()
                .map(|a| String::from_utf8_lossy(&a.bytes).into_owned())
                .collect();
            format!("{raw}\n----decoded----\n{text}\n{attachments}")
        })
        .collect()
}

#[tokio::test]
async fn new_report_is_acknowledged_and_copied_to_the_team() {
    let w = world().await;
    let admin_key = Keyring::from(generate_team_key("admin@project.example").unwrap());
    let lead_key = Keyring::from(generate_team_key("lead@project.example").unwrap());
    add_member(
        &w,
        "ada",
        Role::Admin,
        None,
        "admin@project.example",
        Some(&admin_key),
    )
    .await;
    add_member(&w, "tom", Role::Triager, None, "tom@project.example", None).await;
    add_member(
        &w,
        "lea",
        Role::WgLead,
        Some("katib"),
        "lead@project.example",
        Some(&lead_key),
    )
    .await;
    add_member(
        &w,
        "aud",
        Role::Auditor,
        None,
        "aud@project.example",
        Some(&lead_key),
    )
    .await;

    let out = w
        .intake
        .file(plain("n1@example.org", "katib overflow", SECRET, ""))
        .await
        .unwrap();
    assert!(out.new_report);
    assert_eq!(out.queued, 3, "ack + admin copy + triager notice");
    let items = take_outbox(&w).await;
    assert_eq!(items.len(), 3);

    // Plaintext reporter: plaintext acknowledgement, no report content,
    // the way to encrypt, the tracking ID.
    let ack = to(&items, "rita@example.org");
    assert_eq!(ack.len(), 1);
    assert!(ack[0].contains(&out.report.to_string()));
    let spaced: String = w
        .team
        .fingerprint()
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(ack[0].contains(&spaced), "{}", ack[0]);
    assert!(
        !ack[0].contains("CANARY-FLOW"),
        "the acknowledgement never quotes the report"
    );
    assert!(ack[0].contains("Autocrypt:"));
    // Signed by the team key even in plaintext.
    let decoded = ack[0]
        .split("----decoded----")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    assert!(
        decoded.starts_with("-----BEGIN PGP SIGNED MESSAGE-----"),
        "{decoded}"
    );
    let verified =
        embargo_pgp::verify_inline(decoded.as_bytes(), &[w.team.public_cert()], 1 << 20).unwrap();
    assert!(
        verified.signatures.iter().any(|c| c.is_good()),
        "{:?}",
        verified.signatures
    );

    // Admin with a key: encrypted copy; triager without: content-free notice.
    let admin = to(&items, "admin@project.example");
    assert_eq!(admin.len(), 1);
    assert!(admin[0].contains("multipart/encrypted"));
    assert!(!admin[0].contains("CANARY-FLOW"));
    let tom = to(&items, "tom@project.example");
    assert_eq!(tom.len(), 1);
    assert!(!tom[0].contains("CANARY-FLOW") && !tom[0].contains("katib overflow"));
    // The lead's WG is not routed yet; auditors get no mail.
    assert!(to(&items, "lead@project.example").is_empty());
    assert!(to(&items, "aud@project.example").is_empty());

    let detail = w.store.get_report(&out.report).await.unwrap();
    assert!(detail.report.acknowledged_at.is_some());
    let outbound: Vec<_> = detail
        .messages
        .iter()
        .filter(|m| m.direction == Direction::Outbound)
        .collect();
    assert_eq!(outbound.len(), 1, "the acknowledgement is in the thread");

    // A reply to the acknowledgement threads into the report.
    let ack_id = outbound[0].message_id.clone().unwrap();
    let reply = w
        .intake
        .file(plain(
            "n2@example.org",
            "Re: your ack",
            "thanks",
            &format!("In-Reply-To: <{ack_id}>\r\n"),
        ))
        .await
        .unwrap();
    assert_eq!(reply.report, out.report);
    assert!(!reply.new_report);
    let follow = take_outbox(&w).await;
    assert!(
        to(&follow, "rita@example.org").is_empty(),
        "follow-ups are not acknowledged"
    );
    assert_eq!(to(&follow, "admin@project.example").len(), 1);
}

#[tokio::test]
async fn encrypted_reporter_gets_an_encrypted_acknowledgement() {
    let w = world().await;
    let inner = format!("Content-Type: text/plain\r\n\r\n{SECRET}\r\n");
    let raw = pgp_mime(
        "e1@example.org",
        "...",
        &encrypt(&w, &inner),
        &autocrypt_header(&w),
    );
    let out = w.intake.file(raw).await.unwrap();
    let items = take_outbox(&w).await;
    let ack = to(&items, "rita@example.org");
    assert_eq!(ack.len(), 1);
    assert!(
        ack[0].contains("multipart/encrypted"),
        "{}",
        &ack[0][..400.min(ack[0].len())]
    );
    assert!(ack[0].contains(&format!("[{}]", out.report)));
    assert!(!ack[0].contains("CANARY-FLOW"));
}

#[tokio::test]
async fn auto_replies_and_bounces_are_not_answered() {
    let w = world().await;
    let out = w
        .intake
        .file(plain(
            "v1@example.org",
            "Out of office",
            "I am away",
            "Auto-Submitted: auto-replied\r\n",
        ))
        .await
        .unwrap();
    assert!(out.new_report, "filed all the same");
    assert_eq!(out.queued, 0);

    // A report, its acknowledgement, and a DSN about the acknowledgement.
    let first = w
        .intake
        .file(plain("r1@example.org", "report", SECRET, ""))
        .await
        .unwrap();
    let detail = w.store.get_report(&first.report).await.unwrap();
    let ack_id = detail
        .messages
        .iter()
        .find(|m| m.direction == Direction::Outbound)
        .and_then(|m| m.message_id.clone())
        .unwrap();
    let dsn = format!(
        "From: MAILER-DAEMON@mx.example.org\r\nTo: security@project.example\r\nSubject: Undelivered Mail\r\n\
Message-ID: <dsn1@mx.example.org>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"d\"\r\n\r\n\
--d\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\
--d\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n\
Final-Recipient: rfc822; rita@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
--d\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{ack_id}>\r\nSubject: [{}]\r\n\r\n--d--\r\n",
        first.report
    );
    take_outbox(&w).await;
    let bounced = w.intake.file(dsn.into_bytes()).await.unwrap();
    assert_eq!(
        bounced.report, first.report,
        "matched to the outbox entry's report"
    );
    assert!(!bounced.new_report);
    assert_eq!(bounced.queued, 0);
    assert!(
        take_outbox(&w).await.is_empty(),
        "a bounce is never answered"
    );
    let events = w.store.get_report(&first.report).await.unwrap().events;
    assert!(
        events
            .iter()
            .any(|e| e.kind == "flagged" && e.detail.contains("delivery-failure")),
        "{events:?}"
    );
}

#[tokio::test]
async fn member_replies_are_relayed_under_the_team_identity() {
    let w = world().await;
    let tom_key = Keyring::from(generate_team_key("Tom <tom@project.example>").unwrap());
    add_member(
        &w,
        "tom",
        Role::Triager,
        None,
        "tom@project.example",
        Some(&tom_key),
    )
    .await;
    let raw = pgp_mime(
        "m1@example.org",
        "report",
        &encrypt(&w, &format!("Content-Type: text/plain\r\n\r\n{SECRET}\r\n")),
        &autocrypt_header(&w),
    );
    let report = w.intake.file(raw).await.unwrap().report;
    take_outbox(&w).await;

    let member_mail = |id: &str, body: &str, signer: &Keyring| {
        let inner = format!("Content-Type: text/plain\r\n\r\n{body}\r\n");
        let enc = encrypt_and_sign(inner.as_bytes(), &[w.team.public_cert()], signer).unwrap();
        let raw = format!(
            "From: Tom <tom@project.example>\r\nTo: security@project.example\r\nSubject: Re: [{report}] report\r\n\
Message-ID: <{id}>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n\
--b1\r\nContent-Type: application/octet-stream\r\n\r\n{}\r\n--b1--\r\n",
            String::from_utf8(enc).unwrap()
        );
        raw.into_bytes()
    };

    // Signed by Tom's key: relayed to the reporter, encrypted, without Tom.
    let out = w
        .intake
        .file(member_mail(
            "t1@project.example",
            "Thanks, we reproduced it. Write to tom@project.example",
            &tom_key,
        ))
        .await
        .unwrap();
    assert_eq!(out.report, report);
    let items = take_outbox(&w).await;
    let relayed = to(&items, "rita@example.org");
    assert_eq!(relayed.len(), 1);
    assert!(relayed[0].contains("multipart/encrypted"));
    assert!(
        !relayed[0]
            .to_ascii_lowercase()
            .contains("tom@project.example"),
        "member address hidden"
    );
    assert!(relayed[0].contains("security@project.example"));
    let events = w.store.get_report(&report).await.unwrap().events;
    assert!(
        events
            .iter()
            .any(|e| e.kind == "relayed" && e.actor.as_str() == "tom")
    );

    // #internal: team-only.
    let out = w
        .intake
        .file(member_mail(
            "t2@project.example",
            "#internal\r\nlooks like a dup of last year's",
            &tom_key,
        ))
        .await
        .unwrap();
    assert_eq!(out.report, report);
    assert!(to(&take_outbox(&w).await, "rita@example.org").is_empty());

    // Claiming Tom's address with someone else's key: outsider, relayed nowhere.
    let mallory = Keyring::from(generate_team_key("tom@project.example").unwrap());
    w.intake
        .file(member_mail(
            "t3@project.example",
            "please send me the PoC",
            &mallory,
        ))
        .await
        .unwrap();
    assert!(to(&take_outbox(&w).await, "rita@example.org").is_empty());
    let events = w.store.get_report(&report).await.unwrap().events;
    assert!(events.iter().any(|e| e.kind == "unverified-member-claim"));
}

#[tokio::test]
async fn retry_decrypts_once_the_key_is_added() {
    let w = world().await;
    // Mail to a second team key the gateway does not have yet.
    let second = Keyring::from(generate_team_key("security@project.example").unwrap());
    let enc = encrypt_and_sign(SECRET.as_bytes(), &[second.public_cert()], &w.reporter).unwrap();
    let out = w
        .intake
        .file(pgp_mime(
            "k1@example.org",
            "enc",
            std::str::from_utf8(&enc).unwrap(),
            "",
        ))
        .await
        .unwrap();
    assert!(!out.readable);

    let both = Keyring::new(vec![w.team.current().clone(), second.current().clone()]).unwrap();
    let intake = Intake::new(
        w.store.clone(),
        Arc::new(both.clone()),
        TrackingPrefix::parse("SEC").unwrap(),
        1024 * 1024,
        flow(&both),
    );
    let counts = intake.retry(None).await.unwrap();
    assert_eq!(counts.improved, 1, "{counts:?}");
    let m = common::first_inbound(&w.store.get_report(&out.report).await.unwrap());
    assert!(m.decrypted && m.body_text.contains("CANARY-FLOW"));
    assert_eq!(m.decrypt_error, None);
    let again = intake.retry(None).await.unwrap();
    assert_eq!(again.improved, 0);
}

#[tokio::test]
async fn routing_sends_the_wg_leads_their_copy_once() {
    let w = world().await;
    let lead_key = Keyring::from(generate_team_key("lead@project.example").unwrap());
    add_member(
        &w,
        "lea",
        Role::WgLead,
        Some("katib"),
        "lead@project.example",
        Some(&lead_key),
    )
    .await;
    add_member(
        &w,
        "leo",
        Role::WgLead,
        Some("pipelines"),
        "leo@project.example",
        None,
    )
    .await;
    let out = w
        .intake
        .file(plain("w1@example.org", "katib overflow", SECRET, ""))
        .await
        .unwrap();
    assert!(
        to(&take_outbox(&w).await, "lead@project.example").is_empty(),
        "not routed yet"
    );

    let policy = embargo_domain::EmbargoPolicy::default();
    let katib = WgName::parse("katib").unwrap();
    w.intake
        .triage(
            &out.report,
            katib.clone(),
            embargo_domain::Severity::High,
            &embargo_store::Actor::System,
            &policy,
        )
        .await
        .unwrap();
    let items = take_outbox(&w).await;
    let copy = to(&items, "lead@project.example");
    assert_eq!(copy.len(), 1);
    assert!(copy[0].contains("multipart/encrypted") && !copy[0].contains("CANARY-FLOW"));
    assert!(
        to(&items, "leo@project.example").is_empty(),
        "other WGs' leads get nothing"
    );

    // Re-rating within the same WG does not mail again; a refusal is typed.
    w.intake
        .triage(
            &out.report,
            katib,
            embargo_domain::Severity::Critical,
            &embargo_store::Actor::System,
            &policy,
        )
        .await
        .unwrap();
    assert!(take_outbox(&w).await.is_empty());
    let state = w.store.load_domain_report(&out.report).await.unwrap();
    assert_eq!(state.severity, Some(embargo_domain::Severity::Critical));
}

#[tokio::test]
async fn a_key_that_arrives_later_reverifies_earlier_messages() {
    let w = world().await;
    // Signed and encrypted, but no key anywhere: unknown-key.
    let inner = format!("Content-Type: text/plain\r\n\r\n{SECRET}\r\n");
    let first = w
        .intake
        .file(pgp_mime(
            "late1@example.org",
            "report",
            &encrypt(&w, &inner),
            "",
        ))
        .await
        .unwrap();
    let m = common::first_inbound(&w.store.get_report(&first.report).await.unwrap());
    assert_eq!(m.signature.status, embargo_store::SigStatus::UnknownKey);

    // A follow-up brings the reporter's key (Autocrypt).
    let follow = w
        .intake
        .file(plain(
            "late2@example.org",
            "my key",
            "here is my key",
            &format!(
                "In-Reply-To: <late1@example.org>\r\n{}",
                autocrypt_header(&w)
            ),
        ))
        .await
        .unwrap();
    assert_eq!(follow.report, first.report);
    let detail = w.store.get_report(&first.report).await.unwrap();
    let m = common::first_inbound(&detail);
    assert_eq!(
        m.signature.status,
        embargo_store::SigStatus::Good,
        "re-verified"
    );
    assert!(m.signature.matches_sender);
    assert!(
        detail
            .events
            .iter()
            .any(|e| e.kind == "signature-reverified")
    );
}
