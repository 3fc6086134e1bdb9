//! Embargo warnings on both backends: a clock before, at and after each
//! threshold (14 and 2 days by default, configurable), exactly once per
//! warning however many runs there are (one after the other or at once),
//! encrypted to each recipient's key, a content-free reminder otherwise,
//! only to the team and the report's WG leads.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[macro_use]
mod common;

use std::collections::BTreeMap;

use common::*;
use embargo_domain::{EmbargoPolicy, TrackingId, WgName};
use embargo_outbound::TeamIdentity;
use embargo_pgp::{
    DEFAULT_MAX_PLAINTEXT, Keyring, SignatureStatus, TeamKey, generate_team_key, verify_inline,
};
use embargo_publish::{
    DisclosurePolicy, EmbargoWarnings, NoticeRecipient, WarningOutcome, WarningRecipients,
    schedule, send_embargo_warnings, unschedule,
};
use embargo_store::{OutboxItem, Store};
use jiff::{SignedDuration, Timestamp};

on_both_backends!(
    warnings_at_each_threshold_once,
    racing_runs_warn_once,
    late_schedule_and_configured_days,
);

struct Keys {
    team: TeamKey,
    member: TeamKey,
    lead: TeamKey,
}

fn keys() -> Keys {
    Keys {
        team: generate_team_key("Project Security <security@project.example>").unwrap(),
        member: generate_team_key("Member <member@team.example>").unwrap(),
        lead: generate_team_key("Lead <lead@pipelines.example>").unwrap(),
    }
}

/// The team: one member with a key, one without; pipelines' lead (with a
/// key, listed twice: account and registry); another WG's lead.
fn warnings(k: &Keys) -> EmbargoWarnings {
    let r = |a: &str, cert: Option<&TeamKey>| NoticeRecipient {
        address: a.to_owned(),
        cert: cert.map(TeamKey::public_cert),
    };
    let mut leads = BTreeMap::new();
    leads.insert(
        wg(),
        vec![
            r("lead@pipelines.example", None),
            r("LEAD@pipelines.example", Some(&k.lead)),
        ],
    );
    leads.insert(
        WgName::parse("notebooks").unwrap(),
        vec![r("lead@notebooks.example", None)],
    );
    EmbargoWarnings {
        team: TeamIdentity::new(
            "security@project.example",
            Some("Project Security"),
            Keyring::from(k.team.clone()),
        )
        .unwrap(),
        recipients: WarningRecipients {
            team: vec![
                r("member@team.example", Some(&k.member)),
                r("keyless@team.example", None),
            ],
            leads,
        },
        admin_url: Some("https://embargo.project.example/".into()),
        time_zone: "Europe/Berlin".into(),
    }
}

fn policy() -> DisclosurePolicy {
    DisclosurePolicy {
        embargo: EmbargoPolicy::default(),
        approvals_required: 2,
    }
}

async fn scheduled(store: &Store, mid: &str, now: Timestamp, until: Timestamp) -> TrackingId {
    let id = accepted_report(store, mid).await;
    schedule(
        store,
        &id,
        until,
        &advisory("v1"),
        &login("alice"),
        now,
        &policy(),
    )
    .await
    .unwrap();
    id
}

/// Everything queued so far (claimed, so the next call sees only new mail).
async fn take_outbox(store: &Store, now: Timestamp) -> Vec<OutboxItem> {
    store
        .claim_outbox("test", SignedDuration::from_hours(24 * 365), now, 1000)
        .await
        .unwrap()
}

fn warned(out: &[WarningOutcome]) -> Vec<(TrackingId, Vec<u32>)> {
    out.iter()
        .map(|o| match o {
            WarningOutcome::Warned {
                id, days_before, ..
            } => (id.clone(), days_before.clone()),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn text(m: &OutboxItem) -> String {
    String::from_utf8(m.body.to_vec()).unwrap()
}

fn open(m: &OutboxItem, key: &TeamKey, team: &TeamKey) -> String {
    let mail = text(m);
    let start = mail.find("-----BEGIN PGP MESSAGE-----").expect("encrypted");
    let end_marker = "-----END PGP MESSAGE-----";
    let end = mail[start..].find(end_marker).unwrap() + start + end_marker.len();
    let armored = mail[start..end].replace("\r\n", "\n");
    let d = Keyring::from(key.clone())
        .decrypt(
            armored.as_bytes(),
            &[team.public_cert()],
            DEFAULT_MAX_PLAINTEXT,
        )
        .unwrap();
    assert_eq!(d.signatures.len(), 1);
    assert_eq!(d.signatures[0].status, SignatureStatus::Good);
    // The protected MIME entity; its text decoded.
    mail_parser::MessageParser::default()
        .parse(d.plaintext.as_slice())
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned()
}

async fn warnings_at_each_threshold_once(h: &Harness) {
    let store = &h.store;
    let k = keys();
    let w = warnings(&k);
    let p = EmbargoPolicy::default();
    let scheduled_at = t0() + days(1);
    let until = t0() + days(30);
    let id = scheduled(store, "warn@x", scheduled_at, until).await;
    let second = SignedDuration::from_secs(1);
    let run = |now: Timestamp| send_embargo_warnings(store, &w, &p, now);

    // Before the first threshold: nothing.
    for now in [scheduled_at, until - days(14) - second] {
        assert!(run(now).await.is_empty(), "nothing due at {now}");
    }
    assert!(take_outbox(store, until).await.is_empty());

    // At 14 days: the team and the pipelines lead, once each.
    let out = run(until - days(14)).await;
    assert_eq!(warned(&out), [(id.clone(), vec![14])]);
    let WarningOutcome::Warned {
        recipients,
        encrypted,
        embargo_until,
        ..
    } = &out[0]
    else {
        unreachable!()
    };
    assert_eq!((*recipients, *encrypted, *embargo_until), (3, 2, until));
    let mut mails = take_outbox(store, until).await;
    mails.sort_by_key(|m| m.recipients.clone());
    let to: Vec<&str> = mails.iter().map(|m| m.recipients[0].as_str()).collect();
    assert_eq!(
        to,
        [
            "LEAD@pipelines.example",
            "keyless@team.example",
            "member@team.example"
        ],
        "the other WG's lead is not told"
    );
    assert!(mails.iter().all(|m| m.report_id.as_ref() == Some(&id)));

    // Encrypted to the member and the lead: the end, the approvals, a link.
    for (m, key) in [(&mails[0], &k.lead), (&mails[2], &k.member)] {
        let raw = text(m);
        assert!(
            !raw.contains("Arbitrary code execution"),
            "no title in clear"
        );
        assert!(!raw.contains("Embargo ends"), "protected subject: {raw}");
        let plain = open(m, key, &k.team);
        assert!(
            plain.contains(&format!("The embargo of {id} ends in 14 days")),
            "{plain}"
        );
        assert!(
            plain.contains("2026-03-31 12:00 CEST (+02:00, Europe/Berlin) = 2026-03-31 10:00 UTC"),
            "{plain}"
        );
        assert!(plain.contains("Arbitrary code execution in the pipeline API server"));
        assert!(plain.contains("Approvals: 1 of 2"), "{plain}");
        assert!(plain.contains("NOT published"), "{plain}");
        assert!(plain.contains(&format!("https://embargo.project.example/reports/{id}")));
        assert!(!plain.contains(CANARY) && !plain.contains(SECRET_DETAILS));
    }
    // Without a key: content-free, signed by the team key.
    let raw = text(&mails[1]);
    assert!(!raw.contains("BEGIN PGP MESSAGE"));
    for secret in [
        "Arbitrary",
        "2026-03-31",
        "Approvals",
        "14 days",
        CANARY,
        SECRET_DETAILS,
    ] {
        assert!(!raw.contains(secret), "{secret:?} in the reminder: {raw}");
    }
    assert!(raw.contains(&id.to_string()));
    let body = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned();
    let v = verify_inline(
        body.as_bytes(),
        &[k.team.public_cert()],
        DEFAULT_MAX_PLAINTEXT,
    )
    .unwrap();
    assert_eq!(v.signatures[0].status, SignatureStatus::Good);

    // Again at the threshold and later that day: already sent.
    for now in [
        until - days(14),
        until - days(14) + SignedDuration::from_hours(1),
        until - days(2) - second,
    ] {
        assert!(run(now).await.is_empty(), "sent once, not again at {now}");
    }
    assert!(take_outbox(store, until).await.is_empty());

    // At 2 days: the second warning, once; the approvals changed meanwhile.
    embargo_publish::approve(store, &id, &login("bob"), until - days(3))
        .await
        .unwrap();
    let out = run(until - days(2)).await;
    assert_eq!(warned(&out), [(id.clone(), vec![2])]);
    let mails = take_outbox(store, until).await;
    assert_eq!(mails.len(), 3);
    let member = mails
        .iter()
        .find(|m| m.recipients == ["member@team.example"])
        .unwrap();
    let plain = open(member, &k.member, &k.team);
    assert!(plain.contains("ends in 2 days"), "{plain}");
    assert!(plain.contains("Approvals: 2 of 2"), "{plain}");
    assert!(plain.contains("Publication job: pending"), "{plain}");

    // After: nothing more, up to and after the end.
    for now in [
        until - days(2) + second,
        until - days(1),
        until - second,
        until,
        until + days(1),
    ] {
        assert!(run(now).await.is_empty(), "nothing at {now}");
    }
    assert!(take_outbox(store, until + days(1)).await.is_empty());

    // Recorded: two warnings, and the audit trail says so.
    let sent = store.sent_embargo_warnings(&id).await.unwrap();
    let days_sent: Vec<u32> = sent.iter().map(|s| s.days_before).collect();
    assert_eq!(days_sent, [14, 2]);
    let events = store.report_view(&id, 1000).await.unwrap().events;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == "embargo-warning")
            .count(),
        2
    );
}

/// Several schedulers at the same instant (serve replicas and `publish
/// --due`): one warning, one set of mails.
async fn racing_runs_warn_once(h: &Harness) {
    let store = &h.store;
    let k = keys();
    let w = warnings(&k);
    let p = EmbargoPolicy::default();
    let until = t0() + days(20);
    let a = scheduled(store, "race-a@x", t0() + days(1), until).await;
    let b = scheduled(store, "race-b@x", t0() + days(1), until + days(1)).await;
    let now = until - days(2) + SignedDuration::from_secs(30);
    // a: both warnings due at once (scheduled late); b: the 14-day one.
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let (store, w, p) = (store.clone(), w.clone(), p.clone());
            tokio::spawn(async move { send_embargo_warnings(&store, &w, &p, now).await })
        })
        .collect();
    let mut outs: Vec<Vec<WarningOutcome>> = Vec::new();
    for r in runs {
        outs.push(r.await.unwrap());
    }
    let mut all: Vec<(TrackingId, Vec<u32>)> = outs.iter().flat_map(|o| warned(o)).collect();
    all.sort();
    let mut want = vec![(a.clone(), vec![2, 14]), (b.clone(), vec![14])];
    want.sort();
    assert_eq!(all, want, "each report warned by exactly one run");
    let mails = take_outbox(store, now).await;
    assert_eq!(mails.len(), 6, "three recipients per report, once");
    for id in [&a, &b] {
        assert_eq!(
            mails
                .iter()
                .filter(|m| m.report_id.as_ref() == Some(id))
                .count(),
            3
        );
    }
    // One mail covers both of a's warnings; b's 2-day warning comes later.
    let out = send_embargo_warnings(store, &w, &p, until + days(1) - days(2)).await;
    assert_eq!(warned(&out), [(b.clone(), vec![2])]);
}

/// Scheduled inside the 14-day window: that warning goes out at once
/// (with the real time left), the 2-day one at its time. A configured
/// policy warns on its own days; a new end after unscheduling warns anew.
async fn late_schedule_and_configured_days(h: &Harness) {
    let store = &h.store;
    let k = keys();
    let w = warnings(&k);
    let p = EmbargoPolicy::default();
    let now = t0() + days(1);
    let until = now + days(5);
    let id = scheduled(store, "late@x", now, until).await;
    let out = send_embargo_warnings(store, &w, &p, now).await;
    assert_eq!(warned(&out), [(id.clone(), vec![14])]);
    let mails = take_outbox(store, now).await;
    let member = mails
        .iter()
        .find(|m| m.recipients == ["member@team.example"])
        .unwrap();
    assert!(open(member, &k.member, &k.team).contains("ends in 5 days"));
    assert!(
        send_embargo_warnings(store, &w, &p, now + days(1))
            .await
            .is_empty()
    );
    assert_eq!(
        warned(&send_embargo_warnings(store, &w, &p, until - days(2)).await),
        [(id.clone(), vec![2])]
    );
    take_outbox(store, until).await;

    // Taken back and scheduled for a new end: the warnings start over.
    let later = until + days(20);
    unschedule(store, &id, &login("alice"), until - days(2))
        .await
        .unwrap();
    assert!(
        send_embargo_warnings(store, &w, &p, until - days(1))
            .await
            .is_empty(),
        "not scheduled: no warning"
    );
    schedule(
        store,
        &id,
        later,
        &advisory("v1"),
        &login("alice"),
        until - days(1),
        &policy(),
    )
    .await
    .unwrap();
    assert_eq!(
        warned(&send_embargo_warnings(store, &w, &p, later - days(14)).await),
        [(id.clone(), vec![14])]
    );

    // A policy with other days warns on those only.
    let custom = EmbargoPolicy::new(90, vec![7]).unwrap();
    let other = scheduled(store, "custom@x", now, now + days(30)).await;
    let end = now + days(30);
    assert!(
        send_embargo_warnings(store, &w, &custom, end - days(14))
            .await
            .iter()
            .all(|o| !matches!(o, WarningOutcome::Warned { id, .. } if id == &other))
    );
    let out = send_embargo_warnings(store, &w, &custom, end - days(7)).await;
    assert!(warned(&out).contains(&(other.clone(), vec![7])), "{out:?}");
    let out = send_embargo_warnings(store, &w, &custom, end - days(2)).await;
    assert!(
        !warned(&out).iter().any(|(i, _)| i == &other),
        "no 2-day warning under this policy: {out:?}"
    );
}
