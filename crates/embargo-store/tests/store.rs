//! The store suite: every case runs on SQLite (a temp file) and on
//! PostgreSQL (a fresh database per test) when `TEST_DATABASE_URL` is set.
//! Under `CI=true` a missing `TEST_DATABASE_URL` fails the PostgreSQL runs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashSet;

use embargo_domain::{
    Action, EmbargoPolicy, Login, Role, Severity, State, TrackingId, TrackingPrefix, WgName,
};
use embargo_seal::StorageKeys;
use embargo_store::{
    Actor, Backend, Direction, Filed, JobOutcome, JobState, NewAttachment, NewMessage, NewOutbox,
    NewReport, NewSession, NewUser, ReportFilter, Retry, SigStatus, Signature, Store, StoreError,
    StoreOptions, hash_token, message_id_hash,
};
use jiff::{SignedDuration, Timestamp};
use sqlx::{Connection, Executor};
use zeroize::Zeroizing;

mod common;

use common::{Harness, on_both_backends};

on_both_backends!(
    migrations_apply_twice,
    tracking_ids_sequential_per_year,
    tracking_ids_concurrent,
    same_message_files_once,
    threading_lookup,
    list_order_filters_and_counts,
    get_report_round_trips_sealed_fields,
    stale_update_conflicts,
    events_are_append_only,
    users,
    sessions,
    outbox_claims_are_exclusive,
    outbox_tx_commits_with_the_change,
    publication_jobs,
    publication_claim_concurrent,
    nothing_readable_at_rest,
    reporter_keys_links_and_retry,
    outbox_dead_letters_can_be_retried,
);

// ---------------------------------------------------------------- data

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn t0() -> Timestamp {
    t("2026-03-01T10:00:00Z")
}

fn prefix() -> TrackingPrefix {
    TrackingPrefix::parse("SEC").unwrap()
}

fn message(mid: &str, body: &str, at: Timestamp) -> NewMessage {
    NewMessage {
        message_id: Some(format!("<{mid}>")),
        raw: format!("Message-ID: <{mid}>\r\nSubject: report\r\n\r\n{body}").into_bytes(),
        direction: Direction::Inbound,
        received_at: at,
        date: Some(at - SignedDuration::from_secs(30)),
        from: "Reporter <reporter@example.org>".to_owned(),
        subject: "report".to_owned(),
        headers: format!("Message-ID: <{mid}>\r\nSubject: report\r\n"),
        body_text: body.to_owned(),
        encrypted: false,
        decrypted: false,
        decrypt_error: None,
        signature: Signature::none(),
        attachments: Vec::new(),
    }
}

fn new_report(subject: &str) -> NewReport {
    NewReport {
        subject: subject.to_owned(),
        reporter: "reporter@example.org".to_owned(),
    }
}

async fn file(store: &Store, mid: &str, at: Timestamp) -> TrackingId {
    let filed = store
        .create_report(
            &prefix(),
            at,
            new_report("subject"),
            message(mid, "body", at),
        )
        .await
        .unwrap();
    assert!(filed.is_new());
    filed.report().clone()
}

fn login(s: &str) -> Login {
    Login::parse(s).unwrap()
}

fn wg(s: &str) -> WgName {
    WgName::parse(s).unwrap()
}

// ---------------------------------------------------------------- cases

async fn migrations_apply_twice(h: &Harness) {
    let id = file(&h.store, "m1@x", t0()).await;
    for _ in 0..2 {
        let again = Store::connect(&h.url, h.keys()).await.unwrap();
        let report = again.get_report(&id).await.unwrap();
        assert_eq!(report.report.subject, "subject");
        again.close().await;
    }
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(h.store.pool())
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations/sqlite"
    ))
    .unwrap()
    .count();
    assert_eq!(usize::try_from(applied).unwrap(), files);
}

async fn tracking_ids_sequential_per_year(h: &Harness) {
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(file(&h.store, &format!("seq{i}@x"), t0()).await.to_string());
    }
    assert_eq!(ids, ["SEC-2026-0001", "SEC-2026-0002", "SEC-2026-0003"]);
    // A new year starts again at 1 (the year is UTC).
    let next_year = file(&h.store, "y@x", t("2027-01-01T00:00:00Z")).await;
    assert_eq!(next_year.to_string(), "SEC-2027-0001");
    let late_2026 = file(&h.store, "late@x", t("2026-12-31T23:59:59Z")).await;
    assert_eq!(late_2026.to_string(), "SEC-2026-0004");
    // Prefixes count separately.
    let other = h
        .store
        .create_report(
            &TrackingPrefix::parse("KF").unwrap(),
            t0(),
            new_report("s"),
            message("kf@x", "b", t0()),
        )
        .await
        .unwrap();
    assert_eq!(other.report().to_string(), "KF-2026-0001");
}

async fn tracking_ids_concurrent(h: &Harness) {
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = h.store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_report(
                    &prefix(),
                    t0(),
                    new_report("concurrent"),
                    message(&format!("c{i}@x"), &format!("body {i}"), t0()),
                )
                .await
        }));
    }
    let mut numbers = Vec::new();
    for task in tasks {
        let filed = task.await.unwrap().unwrap();
        assert!(filed.is_new());
        numbers.push(filed.report().number());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=20).collect::<Vec<u32>>());

    // The same message delivered concurrently files once.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = h.store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_report(
                    &prefix(),
                    t0(),
                    new_report("same"),
                    message("same@x", "same", t0()),
                )
                .await
        }));
    }
    let mut reports = HashSet::new();
    let mut new = 0;
    for task in tasks {
        let filed = task.await.unwrap().unwrap();
        new += usize::from(filed.is_new());
        reports.insert(filed.report().clone());
    }
    assert_eq!(new, 1);
    assert_eq!(reports.len(), 1);
    assert_eq!(
        h.store
            .list_reports(&ReportFilter::default())
            .await
            .unwrap()
            .len(),
        21
    );
}

async fn same_message_files_once(h: &Harness) {
    let m = message("dup@x", "the body", t0());
    let first = h
        .store
        .create_report(&prefix(), t0(), new_report("s"), m.clone())
        .await
        .unwrap();
    let Filed::New {
        report,
        message: mid,
    } = first.clone()
    else {
        panic!("first filing is new")
    };
    // Delivered again, later: nothing new.
    let later = t0() + SignedDuration::from_hours(1);
    let mut again = m.clone();
    again.received_at = later;
    let second = h
        .store
        .create_report(&prefix(), later, new_report("s"), again.clone())
        .await
        .unwrap();
    assert_eq!(
        second,
        Filed::Duplicate {
            report: report.clone(),
            message: mid
        }
    );
    // add_message deduplicates the same way.
    let third = h.store.add_message(&report, again).await.unwrap();
    assert!(!third.is_new());
    assert_eq!(third.message(), mid);
    // Angle brackets do not matter.
    let mut bare = m.clone();
    bare.message_id = Some("dup@x".to_owned());
    assert!(!h.store.add_message(&report, bare).await.unwrap().is_new());

    let detail = h.store.get_report(&report).await.unwrap();
    assert_eq!(detail.messages.len(), 1);
    assert_eq!(
        detail.events.iter().filter(|e| e.kind == "filed").count(),
        1
    );
    assert_eq!(
        h.store
            .list_reports(&ReportFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );

    // Same Message-ID, different content: a different message.
    let changed = message("dup@x", "another body", later);
    let filed = h.store.add_message(&report, changed).await.unwrap();
    assert!(filed.is_new());
    // No Message-ID: deduplicated by content alone.
    let mut no_id = message("none@x", "no id", later);
    no_id.message_id = None;
    assert!(
        h.store
            .add_message(&report, no_id.clone())
            .await
            .unwrap()
            .is_new()
    );
    assert!(!h.store.add_message(&report, no_id).await.unwrap().is_new());
    assert_eq!(h.store.get_report(&report).await.unwrap().messages.len(), 3);

    // Unknown report.
    let unknown = TrackingId::new(prefix(), 2026, 999).unwrap();
    assert!(matches!(
        h.store
            .add_message(&unknown, message("u@x", "u", t0()))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn threading_lookup(h: &Harness) {
    let id = file(&h.store, "thread-root@example.org", t0()).await;
    let mut reply = message(
        "reply@example.org",
        "a reply",
        t0() + SignedDuration::from_mins(5),
    );
    reply.direction = Direction::Outbound;
    h.store.add_message(&id, reply).await.unwrap();

    for raw in [
        "<thread-root@example.org>",
        "thread-root@example.org",
        " <reply@example.org> ",
    ] {
        assert_eq!(
            h.store.find_report_by_message_id(raw).await.unwrap(),
            Some(id.clone()),
            "{raw}"
        );
    }
    assert_eq!(
        h.store
            .find_report_by_message_id_hash(&message_id_hash("thread-root@example.org"))
            .await
            .unwrap(),
        Some(id.clone())
    );
    assert_eq!(
        h.store
            .find_report_by_message_id("<other@example.org>")
            .await
            .unwrap(),
        None
    );
    // The hash is of the ID, not a reversible encoding.
    assert_eq!(message_id_hash("<a@b>").len(), 64);
    assert_eq!(message_id_hash("<a@b>"), message_id_hash("a@b"));
}

async fn list_order_filters_and_counts(h: &Harness) {
    let a = file(&h.store, "a@x", t0()).await;
    let b = file(&h.store, "b@x", t0() + SignedDuration::from_hours(1)).await;
    let c = file(&h.store, "c@x", t0() + SignedDuration::from_hours(2)).await;
    // Same instant: the higher number is newer.
    let d = file(&h.store, "d@x", t0() + SignedDuration::from_hours(2)).await;
    for i in 0..2 {
        let at = t0() + SignedDuration::from_hours(3 + i);
        h.store
            .add_message(&a, message(&format!("a{i}@x"), "more", at))
            .await
            .unwrap();
    }
    let all = h
        .store
        .list_reports(&ReportFilter::default())
        .await
        .unwrap();
    let ids: Vec<_> = all.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids, [d.clone(), c.clone(), b.clone(), a.clone()]);
    let counts: Vec<_> = all.iter().map(|r| r.message_count).collect();
    assert_eq!(counts, [1, 1, 1, 3]);
    assert_eq!(all[3].updated_at, t0() + SignedDuration::from_hours(4));
    assert_eq!(all[0].subject, "subject");
    assert_eq!(all[0].reporter, "reporter@example.org");
    assert_eq!(all[0].state, State::New);

    let limited = h
        .store
        .list_reports(&ReportFilter {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(limited.len(), 2);
    assert_eq!(limited[0].id, d);

    // Triage b, then filter by state and WG.
    let policy = EmbargoPolicy::default();
    let now = t0() + SignedDuration::from_hours(5);
    let before = h.store.load_domain_report(&b).await.unwrap();
    let after = before
        .apply(
            &Action::Triage {
                wg: wg("pipelines"),
                severity: Severity::High,
            },
            now,
            &policy,
        )
        .unwrap();
    h.store
        .apply_report_update(State::New, &after, &Actor::System, "triage", "", now)
        .await
        .unwrap();
    let triaged = h
        .store
        .list_reports(&ReportFilter {
            state: Some(State::Triaged),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(triaged.len(), 1);
    assert_eq!(triaged[0].id, b);
    assert_eq!(triaged[0].wg, Some(wg("pipelines")));
    assert_eq!(triaged[0].severity, Some(Severity::High));
    let by_wg = h
        .store
        .list_reports(&ReportFilter {
            wg: Some(wg("pipelines")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_wg.len(), 1);
    let none = h
        .store
        .list_reports(&ReportFilter {
            wg: Some(wg("notebooks")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    let recent = h
        .store
        .list_reports(&ReportFilter {
            updated_since: Some(t0() + SignedDuration::from_hours(4)),
            ..Default::default()
        })
        .await
        .unwrap();
    let recent: HashSet<_> = recent.into_iter().map(|r| r.id).collect();
    assert_eq!(recent, HashSet::from([a, b]));
}

async fn get_report_round_trips_sealed_fields(h: &Harness) {
    let at = t0();
    let pdf = b"%PDF-1.7 proof of concept \x00\x01\xff".to_vec();
    let mut m = message("<full@x>", "Steps to reproduce:\n1. ...\n", at);
    m.message_id = Some("<full@x>".to_owned());
    m.from = "Ada Reporter <ada@example.org>".to_owned();
    m.subject = "RCE via crafted pipeline spec".to_owned();
    m.headers = "From: Ada Reporter <ada@example.org>\r\nX-Custom: 1\r\n".to_owned();
    m.encrypted = true;
    m.decrypted = true;
    m.signature = Signature {
        status: SigStatus::Good,
        signer: Some("0123456789ABCDEF0123456789ABCDEF01234567".to_owned()),
        matches_sender: true,
    };
    m.attachments = vec![
        NewAttachment {
            filename: Some("poc.pdf".to_owned()),
            content_type: "application/pdf; name=\"poc.pdf\"".to_owned(),
            content: pdf.clone(),
        },
        NewAttachment {
            filename: None,
            content_type: "text/plain".to_owned(),
            content: b"log".to_vec(),
        },
    ];
    let raw = m.raw.clone();
    let filed = h
        .store
        .create_report(
            &prefix(),
            at,
            NewReport {
                subject: "RCE via crafted pipeline spec".to_owned(),
                reporter: "ada@example.org".to_owned(),
            },
            m,
        )
        .await
        .unwrap();
    let id = filed.report().clone();

    let mut bad = message("bad@x", "undecryptable", at + SignedDuration::from_mins(1));
    bad.encrypted = true;
    bad.decrypt_error = Some("no-matching-key".to_owned());
    bad.signature = Signature {
        status: SigStatus::UnknownKey,
        signer: None,
        matches_sender: false,
    };
    h.store.add_message(&id, bad).await.unwrap();

    let d = h.store.get_report(&id).await.unwrap();
    assert_eq!(d.report.id, id);
    assert_eq!(d.report.subject, "RCE via crafted pipeline spec");
    assert_eq!(d.report.reporter, "ada@example.org");
    assert_eq!(d.report.created_at, at);
    assert_eq!(d.report.message_count, 2);
    assert_eq!(d.messages.len(), 2);

    let first = &d.messages[0];
    assert_eq!(first.id, filed.message());
    assert_eq!(first.message_id.as_deref(), Some("<full@x>"));
    assert_eq!(first.direction, Direction::Inbound);
    assert_eq!(first.from, "Ada Reporter <ada@example.org>");
    assert_eq!(first.subject, "RCE via crafted pipeline spec");
    assert_eq!(
        first.headers,
        "From: Ada Reporter <ada@example.org>\r\nX-Custom: 1\r\n"
    );
    assert_eq!(first.body_text, "Steps to reproduce:\n1. ...\n");
    assert_eq!(first.date, Some(at - SignedDuration::from_secs(30)));
    assert_eq!(first.received_at, at);
    assert_eq!(first.size, raw.len() as u64);
    assert!(first.encrypted && first.decrypted);
    assert_eq!(first.decrypt_error, None);
    assert_eq!(first.signature.status, SigStatus::Good);
    assert_eq!(
        first.signature.signer.as_deref(),
        Some("0123456789ABCDEF0123456789ABCDEF01234567")
    );
    assert!(first.signature.matches_sender);
    assert_eq!(first.attachments.len(), 2);
    let a = &first.attachments[0];
    assert_eq!(a.filename.as_deref(), Some("poc.pdf"));
    assert_eq!(
        a.content_type, "application/pdf",
        "parameters are not kept in clear"
    );
    assert_eq!(a.size, pdf.len() as u64);
    assert_eq!(a.sha256, hash_token(&pdf));
    assert_eq!(first.attachments[1].filename, None);
    assert_eq!(first.attachments[1].content_type, "text/plain");

    let (meta, content) = h.store.get_attachment(a.id).await.unwrap();
    assert_eq!(&meta, a);
    assert_eq!(&content[..], &pdf[..]);
    assert_eq!(
        &h.store.get_raw_message(first.id).await.unwrap()[..],
        &raw[..]
    );

    let second = &d.messages[1];
    assert!(second.encrypted && !second.decrypted);
    assert_eq!(second.decrypt_error.as_deref(), Some("no-matching-key"));
    assert_eq!(second.signature.status, SigStatus::UnknownKey);

    let kinds: Vec<_> = d.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["filed", "message"]);
    assert_eq!(d.events[0].actor, Actor::System);
    assert_eq!(d.events[0].detail, format!("message {}", filed.message()));

    // JSON shape used by `report show --json`.
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["id"], id.to_string());
    assert_eq!(json["messages"][0]["signature"]["status"], "good");
    assert_eq!(json["messages"][0]["attachments"][0]["filename"], "poc.pdf");
    assert_eq!(json["message_count"], 2);

    // A blob moved to another row does not open: Corrupt, not garbage.
    let other = file(&h.store, "other@x", at).await;
    sqlx::query(
        "UPDATE reports SET subject_sealed = (SELECT subject_sealed FROM reports WHERE tracking_id = $1) \
         WHERE tracking_id = $2",
    )
    .bind(id.to_string())
    .bind(other.to_string())
    .execute(h.store.pool())
    .await
    .unwrap();
    assert!(matches!(
        h.store.get_report(&other).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        h.store
            .get_report(&TrackingId::new(prefix(), 2026, 4242).unwrap())
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn stale_update_conflicts(h: &Harness) {
    let id = file(&h.store, "stale@x", t0()).await;
    let policy = EmbargoPolicy::default();
    let now = t0() + SignedDuration::from_hours(1);
    let actor = Actor::User(login("alice"));

    let loaded = h.store.load_domain_report(&id).await.unwrap();
    assert_eq!(loaded.state, State::New);
    assert_eq!(loaded.created_at, t0());
    let triaged = loaded
        .apply(
            &Action::Triage {
                wg: wg("pipelines"),
                severity: Severity::Critical,
            },
            now,
            &policy,
        )
        .unwrap();
    // A second editor decided on the same old state.
    let rejected = loaded.apply(&Action::Reject, now, &policy).unwrap();

    h.store
        .apply_report_update(
            State::New,
            &triaged,
            &actor,
            "triage",
            "routed to pipelines",
            now,
        )
        .await
        .unwrap();
    let err = h
        .store
        .apply_report_update(State::New, &rejected, &actor, "reject", "", now)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let current = h.store.load_domain_report(&id).await.unwrap();
    assert_eq!(current, triaged);
    let detail = h.store.get_report(&id).await.unwrap();
    assert_eq!(detail.report.triaged_at, Some(now));
    assert_eq!(detail.report.updated_at, now);
    let kinds: Vec<_> = detail.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["filed", "triage"],
        "the refused update left no event"
    );
    assert_eq!(detail.events[1].actor, actor);
    assert_eq!(detail.events[1].detail, "routed to pipelines");

    // Accept, schedule: embargo_until persists.
    let accepted = current.apply(&Action::Accept, now, &policy).unwrap();
    h.store
        .apply_report_update(State::Triaged, &accepted, &actor, "accept", "", now)
        .await
        .unwrap();
    let until = t0() + SignedDuration::from_hours(24 * 30);
    let scheduled = accepted
        .apply(&Action::Schedule { until }, now, &policy)
        .unwrap();
    h.store
        .apply_report_update(State::Accepted, &scheduled, &actor, "schedule", "", now)
        .await
        .unwrap();
    assert_eq!(
        h.store.load_domain_report(&id).await.unwrap().embargo_until,
        Some(until)
    );

    // Duplicate-of must name an existing report.
    let other = file(&h.store, "stale-other@x", t0()).await;
    let base = h.store.load_domain_report(&other).await.unwrap();
    let dup = base
        .apply(&Action::MarkDuplicate { of: id.clone() }, now, &policy)
        .unwrap();
    h.store
        .apply_report_update(State::New, &dup, &actor, "mark-duplicate", "", now)
        .await
        .unwrap();
    assert_eq!(
        h.store
            .load_domain_report(&other)
            .await
            .unwrap()
            .duplicate_of,
        Some(id.clone())
    );

    // Unknown report; bad event kind.
    let mut ghost = triaged.clone();
    ghost.id = TrackingId::new(prefix(), 2026, 777).unwrap();
    assert!(matches!(
        h.store
            .apply_report_update(State::New, &ghost, &actor, "triage", "", now)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        h.store
            .apply_report_update(State::Scheduled, &scheduled, &actor, "Bad Kind", "", now)
            .await,
        Err(StoreError::Invalid(_))
    ));
}

async fn events_are_append_only(h: &Harness) {
    let id = file(&h.store, "ev@x", t0()).await;
    let event = h
        .store
        .append_event(
            Some(&id),
            &Actor::User(login("bob")),
            "note",
            "a private note",
            t0(),
        )
        .await
        .unwrap();
    h.store
        .append_event(None, &Actor::System, "startup", "", t0())
        .await
        .unwrap();
    let pool = h.store.pool();
    let update = sqlx::query("UPDATE events SET kind = 'x' WHERE id = $1")
        .bind(event.to_string())
        .execute(pool)
        .await;
    assert!(update.is_err(), "UPDATE on events must fail");
    assert!(
        update.unwrap_err().to_string().contains("append-only"),
        "the trigger refused it"
    );
    let delete = sqlx::query("DELETE FROM events WHERE id = $1")
        .bind(event.to_string())
        .execute(pool)
        .await;
    assert!(delete.is_err(), "DELETE on events must fail");
    assert!(
        sqlx::query("DELETE FROM events")
            .execute(pool)
            .await
            .is_err()
    );
    if h.backend() == Backend::Postgres {
        assert!(sqlx::query("TRUNCATE events").execute(pool).await.is_err());
    }
    let events = h.store.list_events(t0(), 100).await.unwrap();
    assert_eq!(events.len(), 3);
    let note = events.iter().find(|e| e.id == event).unwrap();
    assert_eq!(note.detail, "a private note");
    assert_eq!(note.kind, "note");
    assert_eq!(note.report_id, Some(id));
    assert!(
        events
            .iter()
            .any(|e| e.report_id.is_none() && e.kind == "startup")
    );
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        login: login(name),
        role: Role::WgLead,
        wg: Some(wg("pipelines")),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
            .to_owned(),
        must_change_password: true,
        email: Some(format!("{name}@example.org")),
        pgp_cert: Some("-----BEGIN PGP PUBLIC KEY BLOCK-----\n...".to_owned()),
        totp_secret: Some(Zeroizing::new(b"totp-secret-bytes".to_vec())),
        created_at: t0(),
    }
}

async fn users(h: &Harness) {
    h.store.add_user(new_user("carol")).await.unwrap();
    let err = h.store.add_user(new_user("carol")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(matches!(
        h.store.add_user(new_user("system")).await,
        Err(StoreError::Invalid(_))
    ));
    let mut admin = new_user("admin");
    admin.role = Role::Admin;
    admin.wg = None;
    admin.email = None;
    admin.totp_secret = None;
    admin.pgp_cert = None;
    h.store.add_user(admin).await.unwrap();

    let carol = h.store.get_user(&login("carol")).await.unwrap().unwrap();
    assert_eq!(carol.role, Role::WgLead);
    assert_eq!(carol.wg, Some(wg("pipelines")));
    assert!(carol.must_change_password);
    assert_eq!(carol.email.as_deref(), Some("carol@example.org"));
    assert_eq!(
        carol.totp_secret.as_deref().map(|v| &v[..]),
        Some(&b"totp-secret-bytes"[..])
    );
    assert!(
        carol
            .pgp_cert
            .as_deref()
            .unwrap()
            .starts_with("-----BEGIN PGP PUBLIC")
    );
    assert_eq!(carol.failed_logins, 0);
    assert_eq!(carol.locked_until, None);
    let dbg = format!("{carol:?}");
    assert!(
        !dbg.contains("argon2") && !dbg.contains("totp-secret"),
        "{dbg}"
    );

    assert_eq!(h.store.get_user(&login("nobody")).await.unwrap(), None);
    let logins: Vec<_> = h
        .store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.login.to_string())
        .collect();
    assert_eq!(logins, ["admin", "carol"]);

    h.store
        .set_password(&login("carol"), "$argon2id$new", false)
        .await
        .unwrap();
    let carol = h.store.get_user(&login("carol")).await.unwrap().unwrap();
    assert_eq!(carol.password_hash, "$argon2id$new");
    assert!(!carol.must_change_password);
    assert!(matches!(
        h.store.set_password(&login("nobody"), "x", false).await,
        Err(StoreError::NotFound(_))
    ));

    let lock_until = t0() + SignedDuration::from_mins(15);
    for n in 1..=2 {
        let f = h
            .store
            .record_failed_login(&login("carol"), 3, lock_until)
            .await
            .unwrap();
        assert_eq!(f.count, n);
        assert_eq!(f.locked_until, None);
    }
    let f = h
        .store
        .record_failed_login(&login("carol"), 3, lock_until)
        .await
        .unwrap();
    assert_eq!(f.count, 3);
    assert_eq!(f.locked_until, Some(lock_until));
    h.store.reset_failed_logins(&login("carol")).await.unwrap();
    let carol = h.store.get_user(&login("carol")).await.unwrap().unwrap();
    assert_eq!((carol.failed_logins, carol.locked_until), (0, None));

    h.store
        .set_totp_secret(&login("carol"), None)
        .await
        .unwrap();
    h.store.set_pgp_cert(&login("carol"), None).await.unwrap();
    let carol = h.store.get_user(&login("carol")).await.unwrap().unwrap();
    assert!(carol.totp_secret.is_none() && carol.pgp_cert.is_none());
}

async fn sessions(h: &Harness) {
    h.store.add_user(new_user("dave")).await.unwrap();
    let token = b"session-token-from-the-cookie";
    let hash = hash_token(token);
    assert_eq!(hash.len(), 64);
    h.store
        .create_session(NewSession {
            token_hash: hash.clone(),
            login: login("dave"),
            csrf_secret: Zeroizing::new(b"csrf-secret".to_vec()),
            created_at: t0(),
            expires_at: t0() + SignedDuration::from_hours(8),
        })
        .await
        .unwrap();
    let s = h.store.get_session(&hash).await.unwrap().unwrap();
    assert_eq!(s.login, login("dave"));
    assert_eq!(&s.csrf_secret[..], b"csrf-secret");
    assert_eq!(s.last_seen, t0());
    assert_eq!(s.expires_at, t0() + SignedDuration::from_hours(8));
    assert!(!format!("{s:?}").contains("csrf-secret"));
    assert_eq!(
        h.store.get_session(&hash_token(b"other")).await.unwrap(),
        None
    );

    let later = t0() + SignedDuration::from_hours(1);
    h.store
        .touch_session(&hash, later, Some(later + SignedDuration::from_hours(8)))
        .await
        .unwrap();
    let s = h.store.get_session(&hash).await.unwrap().unwrap();
    assert_eq!(s.last_seen, later);
    assert_eq!(s.expires_at, later + SignedDuration::from_hours(8));

    // Sessions of unknown users are refused.
    let err = h
        .store
        .create_session(NewSession {
            token_hash: hash_token(b"x"),
            login: login("nobody"),
            csrf_secret: Zeroizing::new(vec![1]),
            created_at: t0(),
            expires_at: t0(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    assert_eq!(
        h.store
            .delete_expired_sessions(later + SignedDuration::from_hours(9))
            .await
            .unwrap(),
        1
    );
    assert_eq!(h.store.get_session(&hash).await.unwrap(), None);
    h.store
        .create_session(NewSession {
            token_hash: hash.clone(),
            login: login("dave"),
            csrf_secret: Zeroizing::new(vec![2]),
            created_at: t0(),
            expires_at: t0() + SignedDuration::from_hours(8),
        })
        .await
        .unwrap();
    h.store.delete_session(&hash).await.unwrap();
    h.store.delete_session(&hash).await.unwrap();
    assert_eq!(h.store.get_session(&hash).await.unwrap(), None);
}

fn mail(n: usize) -> NewOutbox {
    NewOutbox {
        report_id: None,
        recipients: vec![format!("to{n}@example.org"), "team@example.org".to_owned()],
        body: format!("Subject: ack {n}\r\n\r\nThanks\r\n").into_bytes(),
    }
}

async fn outbox_claims_are_exclusive(h: &Harness) {
    let mut queued = HashSet::new();
    for n in 0..10 {
        queued.insert(h.store.enqueue_outbox(&mail(n), t0()).await.unwrap());
    }
    let lease = SignedDuration::from_mins(5);
    let now = t0() + SignedDuration::from_secs(1);
    let (a, b) = tokio::join!(
        h.store.claim_outbox("worker-a", lease, now, 10),
        h.store.claim_outbox("worker-b", lease, now, 10),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let ids_a: HashSet<_> = a.iter().map(|i| i.id).collect();
    let ids_b: HashSet<_> = b.iter().map(|i| i.id).collect();
    assert!(ids_a.is_disjoint(&ids_b), "no entry claimed twice");
    assert_eq!(&ids_a | &ids_b, queued, "every entry claimed");
    let item = a.iter().chain(b.iter()).next().unwrap();
    assert_eq!(item.attempts, 1);
    assert_eq!(item.recipients.len(), 2);
    assert_eq!(item.recipients[1], "team@example.org");
    assert!(item.body.starts_with(b"Subject: ack "));
    assert_eq!(item.lease_until, now + lease);

    // Nothing left while the leases hold.
    assert!(
        h.store
            .claim_outbox("worker-c", lease, now, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let counts = h.store.outbox_counts(now).await.unwrap();
    assert_eq!(counts.sending, 10);

    // Settle a's entries: one sent, one retried later, one dead.
    let mut a_ids = a.iter().map(|i| i.id).collect::<Vec<_>>();
    let mut b_ids = b.iter().map(|i| i.id).collect::<Vec<_>>();
    // Make sure both lists are usable whatever the split was.
    let mut all: Vec<_> = a_ids.drain(..).map(|id| (id, "worker-a")).collect();
    all.extend(b_ids.drain(..).map(|id| (id, "worker-b")));
    let (sent, sent_owner) = all[0];
    let wrong = if sent_owner == "worker-a" {
        "worker-b"
    } else {
        "worker-a"
    };
    assert!(matches!(
        h.store.mark_sent(sent, wrong, now).await,
        Err(StoreError::Conflict(_))
    ));
    h.store.mark_sent(sent, sent_owner, now).await.unwrap();
    assert!(matches!(
        h.store.mark_sent(sent, sent_owner, now).await,
        Err(StoreError::Conflict(_))
    ));
    let (retry, retry_owner) = all[1];
    let retry_at = now + SignedDuration::from_mins(10);
    h.store
        .mark_failed(
            retry,
            retry_owner,
            "451 4.3.0 try later",
            Retry::At(retry_at),
        )
        .await
        .unwrap();
    let (dead, dead_owner) = all[2];
    h.store
        .mark_failed(dead, dead_owner, "550 5.1.1 no such user", Retry::Dead)
        .await
        .unwrap();

    // Leases run out: the 7 unsettled entries are claimable again, by
    // someone else; the retried one only once its time has come.
    let expired = now + lease + SignedDuration::from_secs(1);
    let again = h
        .store
        .claim_outbox("worker-c", lease, expired, 100)
        .await
        .unwrap();
    assert_eq!(again.len(), 7);
    assert!(again.iter().all(|i| i.attempts == 2));
    assert!(again.iter().all(|i| ![sent, retry, dead].contains(&i.id)));
    let counts = h.store.outbox_counts(expired).await.unwrap();
    assert_eq!(
        (
            counts.ready,
            counts.waiting,
            counts.sending,
            counts.sent,
            counts.dead
        ),
        (0, 1, 7, 1, 1)
    );
    let later = h
        .store
        .claim_outbox("worker-d", lease, retry_at, 100)
        .await
        .unwrap();
    assert_eq!(later.iter().map(|i| i.id).collect::<Vec<_>>(), [retry]);
    assert_eq!(later[0].attempts, 2);

    // The old holder lost its lease.
    let (stale, stale_owner) = all[3];
    assert!(matches!(
        h.store.mark_sent(stale, stale_owner, expired).await,
        Err(StoreError::Conflict(_))
    ));
    h.store.mark_sent(stale, "worker-c", expired).await.unwrap();

    // Limits hold; bad inputs refused.
    assert!(matches!(
        h.store
            .enqueue_outbox(
                &NewOutbox {
                    report_id: None,
                    recipients: vec![],
                    body: vec![]
                },
                t0()
            )
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        h.store
            .claim_outbox("w", SignedDuration::ZERO, now, 1)
            .await,
        Err(StoreError::Invalid(_))
    ));
}

async fn outbox_tx_commits_with_the_change(h: &Harness) {
    let id = file(&h.store, "tx@x", t0()).await;
    let now = t0() + SignedDuration::from_mins(1);
    let mut m = mail(1);
    m.report_id = Some(id.clone());

    // Rolled back (dropped): neither the event nor the mail exists.
    {
        let mut tx = h.store.begin().await.unwrap();
        tx.append_event(Some(&id), &Actor::System, "acknowledged", "", now)
            .await
            .unwrap();
        tx.enqueue_outbox(&m, now).await.unwrap();
        tx.mark_acknowledged(&id, now).await.unwrap();
    }
    assert_eq!(h.store.outbox_counts(now).await.unwrap().ready, 0);
    let d = h.store.get_report(&id).await.unwrap();
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.report.acknowledged_at, None);

    let mut tx = h.store.begin().await.unwrap();
    tx.append_event(Some(&id), &Actor::System, "acknowledged", "", now)
        .await
        .unwrap();
    let queued = tx.enqueue_outbox(&m, now).await.unwrap();
    tx.mark_acknowledged(&id, now).await.unwrap();
    tx.commit().await.unwrap();
    let claimed = h
        .store
        .claim_outbox("w", SignedDuration::from_mins(1), now, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, queued);
    assert_eq!(claimed[0].report_id, Some(id.clone()));
    let d = h.store.get_report(&id).await.unwrap();
    assert_eq!(d.events.len(), 2);
    assert_eq!(d.report.acknowledged_at, Some(now));
}

async fn publication_jobs(h: &Harness) {
    let id = file(&h.store, "pub@x", t0()).await;
    let due = t0() + SignedDuration::from_hours(24);
    let lease = SignedDuration::from_mins(2);
    h.store
        .upsert_publication_job(&id, due, t0())
        .await
        .unwrap();
    let job = h.store.get_publication_job(&id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.due_at, job.attempts),
        (JobState::Pending, due, 0)
    );

    // Not due yet.
    assert!(
        h.store
            .claim_publication_job("host-a", lease, t0())
            .await
            .unwrap()
            .is_none()
    );
    let job = h
        .store
        .claim_publication_job("host-a", lease, due)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.report_id, id);
    assert_eq!(job.state, JobState::Running);
    assert_eq!(job.attempts, 1);
    assert_eq!(job.lease_owner.as_deref(), Some("host-a"));
    assert_eq!(job.lease_until, Some(due + lease));
    // Held: nobody else gets it.
    assert!(
        h.store
            .claim_publication_job("host-b", lease, due)
            .await
            .unwrap()
            .is_none()
    );

    // host-a dies after creating the issue; the lease runs out.
    h.store
        .set_publication_issue_url(
            &id,
            "host-a",
            "https://github.example/kubeflow/pipelines/issues/1",
        )
        .await
        .unwrap();
    let after = due + lease + SignedDuration::from_secs(1);
    let job = h
        .store
        .claim_publication_job("host-b", lease, after)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.attempts, 2);
    assert_eq!(
        job.issue_url.as_deref(),
        Some("https://github.example/kubeflow/pipelines/issues/1"),
        "the next holder sees the issue exists"
    );
    let done = JobOutcome::Done {
        issue_url: "https://github.example/kubeflow/pipelines/issues/1".to_owned(),
    };
    assert!(matches!(
        h.store
            .finish_publication_job(&id, "host-a", &done, after)
            .await,
        Err(StoreError::Conflict(_))
    ));
    h.store
        .finish_publication_job(&id, "host-b", &done, after)
        .await
        .unwrap();
    let job = h.store.get_publication_job(&id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Done);
    assert_eq!(job.lease_owner, None);

    // A done job is never rescheduled nor claimed again.
    h.store
        .upsert_publication_job(&id, after, after)
        .await
        .unwrap();
    assert_eq!(
        h.store
            .get_publication_job(&id)
            .await
            .unwrap()
            .unwrap()
            .state,
        JobState::Done
    );
    let far = after + SignedDuration::from_hours(24 * 365);
    assert!(
        h.store
            .claim_publication_job("host-c", lease, far)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!h.store.cancel_publication_job(&id).await.unwrap());

    // Failure with retry, failure for good, rescheduling a failed job, cancel.
    let other = file(&h.store, "pub2@x", t0()).await;
    h.store
        .upsert_publication_job(&other, due, t0())
        .await
        .unwrap();
    h.store
        .claim_publication_job("host-a", lease, due)
        .await
        .unwrap()
        .unwrap();
    let retry_at = due + SignedDuration::from_hours(1);
    h.store
        .finish_publication_job(
            &other,
            "host-a",
            &JobOutcome::Failed {
                error: "github: 502".to_owned(),
                retry_at: Some(retry_at),
            },
            due,
        )
        .await
        .unwrap();
    let job = h.store.get_publication_job(&other).await.unwrap().unwrap();
    assert_eq!((job.state, job.due_at), (JobState::Pending, retry_at));
    assert_eq!(job.last_error.as_deref(), Some("github: 502"));
    assert!(
        h.store
            .claim_publication_job("host-a", lease, due)
            .await
            .unwrap()
            .is_none()
    );
    h.store
        .claim_publication_job("host-a", lease, retry_at)
        .await
        .unwrap()
        .unwrap();
    h.store
        .finish_publication_job(
            &other,
            "host-a",
            &JobOutcome::Failed {
                error: "github: 404 repo".to_owned(),
                retry_at: None,
            },
            retry_at,
        )
        .await
        .unwrap();
    assert_eq!(
        h.store
            .get_publication_job(&other)
            .await
            .unwrap()
            .unwrap()
            .state,
        JobState::Failed
    );
    h.store
        .upsert_publication_job(&other, far, far)
        .await
        .unwrap();
    let job = h.store.get_publication_job(&other).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.due_at, job.last_error),
        (JobState::Pending, far, None)
    );
    assert!(h.store.cancel_publication_job(&other).await.unwrap());
    assert!(h.store.get_publication_job(&other).await.unwrap().is_none());
}

async fn publication_claim_concurrent(h: &Harness) {
    let mut ids = HashSet::new();
    for i in 0..4 {
        let id = file(&h.store, &format!("pc{i}@x"), t0()).await;
        h.store
            .upsert_publication_job(&id, t0(), t0())
            .await
            .unwrap();
        ids.insert(id);
    }
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = h.store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .claim_publication_job(&format!("host-{w}"), SignedDuration::from_mins(5), t0())
                .await
                .unwrap()
        }));
    }
    let mut claimed = Vec::new();
    for task in tasks {
        if let Some(job) = task.await.unwrap() {
            claimed.push(job.report_id);
        }
    }
    assert_eq!(claimed.len(), 4, "each job claimed exactly once");
    assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), ids);
}

/// Distinctive values that must never be readable at rest.
const SECRETS: &[&str] = &[
    "ZEBRA-SUBJECT-7f3a remote code execution",
    "ada.lovelace.secret@reporter.example",
    "QUOKKA-BODY-91c2 steps to reproduce",
    "PANGOLIN-HEADER-55aa",
    "AXOLOTL-FROM-2b9e",
    "narwhal-exploit-poc.py",
    "OKAPI-ATTACHMENT-CONTENT-e41d",
    "CAPYBARA-EVENT-DETAIL-0c77",
    "MARMOT-OUTBOX-BODY-6d18",
    "recipient.marmot@lead.example",
    "<TAPIR-MESSAGE-ID-3e1f@reporter.example>",
    "IBEX-TOTP-SECRET-88",
    "wombat.user.email@team.example",
];

/// The value, as plain bytes or as hex (how `pg_dump` prints BYTEA).
fn readable_in(haystack: &[u8], needle: &str) -> bool {
    let plain = needle.as_bytes();
    let hex = hex::encode(plain);
    let hex_upper = hex.to_uppercase();
    [plain, hex.as_bytes(), hex_upper.as_bytes()]
        .iter()
        .any(|n| haystack.windows(n.len()).any(|w| w == *n))
}

async fn nothing_readable_at_rest(h: &Harness) {
    let s = SECRETS;
    let mut m = message("x@y", s[2], t0());
    m.message_id = Some(s[10].to_owned());
    m.raw = format!("From: {}\r\nSubject: {}\r\n\r\n{}", s[4], s[0], s[2]).into_bytes();
    m.subject = s[0].to_owned();
    m.headers = format!("X-Marker: {}\r\n", s[3]);
    m.from = format!("{} <{}>", s[4], s[1]);
    m.attachments = vec![NewAttachment {
        filename: Some(s[5].to_owned()),
        content_type: format!("text/x-python; name=\"{}\"", s[5]),
        content: s[6].as_bytes().to_vec(),
    }];
    let filed = h
        .store
        .create_report(
            &prefix(),
            t0(),
            NewReport {
                subject: s[0].to_owned(),
                reporter: s[1].to_owned(),
            },
            m,
        )
        .await
        .unwrap();
    let id = filed.report().clone();
    h.store
        .append_event(Some(&id), &Actor::System, "note", s[7], t0())
        .await
        .unwrap();
    h.store
        .enqueue_outbox(
            &NewOutbox {
                report_id: Some(id.clone()),
                recipients: vec![s[9].to_owned()],
                body: s[8].as_bytes().to_vec(),
            },
            t0(),
        )
        .await
        .unwrap();
    let mut user = new_user("wombat");
    user.email = Some(s[12].to_owned());
    user.totp_secret = Some(Zeroizing::new(s[11].as_bytes().to_vec()));
    h.store.add_user(user).await.unwrap();
    h.store
        .create_session(NewSession {
            token_hash: hash_token(b"tok"),
            login: login("wombat"),
            csrf_secret: Zeroizing::new(b"csrf".to_vec()),
            created_at: t0(),
            expires_at: t0(),
        })
        .await
        .unwrap();
    // Deliberately unsealed metadata, to prove the scan sees the data.
    let policy = EmbargoPolicy::default();
    let r = h.store.load_domain_report(&id).await.unwrap();
    let next = r
        .apply(
            &Action::Triage {
                wg: wg("unsealed-marker-wg-4d2c"),
                severity: Severity::Low,
            },
            t0(),
            &policy,
        )
        .unwrap();
    h.store
        .apply_report_update(State::New, &next, &Actor::System, "triage", s[7], t0())
        .await
        .unwrap();

    // Everything opens through the store.
    let d = h.store.get_report(&id).await.unwrap();
    assert_eq!(d.report.subject, s[0]);
    assert_eq!(d.messages[0].attachments[0].filename.as_deref(), Some(s[5]));
    assert_eq!(d.messages[0].message_id.as_deref(), Some(s[10]));

    let bytes = h.at_rest_bytes().await;
    assert!(
        readable_in(&bytes, "unsealed-marker-wg-4d2c"),
        "the scan must see clear metadata (else it proves nothing)"
    );
    assert!(readable_in(&bytes, &id.to_string()));
    // The scan also finds a secret written to a BYTEA/BLOB column unsealed.
    sqlx::query("INSERT INTO tracking_counters (prefix, year, last) VALUES ($1, 1, 1)")
        .bind("CANARY-UNSEALED-TEXT-91")
        .execute(h.store.pool())
        .await
        .unwrap();
    let bytes = h.at_rest_bytes().await;
    assert!(readable_in(&bytes, "CANARY-UNSEALED-TEXT-91"));
    for secret in SECRETS {
        assert!(
            !readable_in(&bytes, secret),
            "{secret:?} is readable at rest"
        );
    }
}

// ---------------------------------------------------------------- single-backend

#[tokio::test]
async fn unknown_scheme_is_named() {
    for (url, scheme) in [
        ("mysql://root@localhost/db", "mysql"),
        ("file:///tmp/x.db", "file"),
        ("embargo.db", ""),
    ] {
        let err = Store::connect(url, StorageKeys::ephemeral())
            .await
            .unwrap_err();
        match &err {
            StoreError::UnsupportedScheme(s) => assert_eq!(s, scheme),
            other => panic!("{url}: {other:?}"),
        }
        assert!(err.to_string().contains(&format!("{scheme:?}")), "{err}");
    }
    assert_eq!(
        embargo_store::backend_of("postgresql://h/db").unwrap(),
        Backend::Postgres
    );
    assert_eq!(
        embargo_store::backend_of("SQLITE:x.db").unwrap(),
        Backend::Sqlite
    );
}

#[tokio::test]
async fn sqlite_needs_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("embargo.db");
    let err = Store::connect(
        &format!("sqlite://{}", path.display()),
        StorageKeys::ephemeral(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::MissingDirectory { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("missing"), "{err}");
    assert!(!path.exists());
    assert!(
        !path.parent().unwrap().exists(),
        "the directory is not created either"
    );

    let err = Store::connect("sqlite::memory:", StorageKeys::ephemeral())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

#[tokio::test]
async fn sqlite_file_settings() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("embargo.db");
    let store = Store::connect(
        &format!("sqlite:{}", path.display()),
        StorageKeys::ephemeral(),
    )
    .await
    .unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the database file is private");
    let mut conn = store.pool().acquire().await.unwrap();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(sync, 2, "synchronous=FULL");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(fk, 1);
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(busy, 5000);
    // `$N` placeholders, reused, work on SQLite through Any.
    let n: i64 = sqlx::query_scalar("SELECT $1 + $1 + $2")
        .bind(20_i64)
        .bind(2_i64)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(n, 42);
    drop(conn);
    store.close().await;
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/embargo");
    let err = Store::connect_with(
        &url,
        StorageKeys::ephemeral(),
        StoreOptions {
            acquire_timeout: std::time::Duration::from_secs(2),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.is_temporary());
}

#[tokio::test]
async fn sqlite_unavailable_when_locked() {
    // Another process holds the write lock longer than busy_timeout allows:
    // the write fails as Unavailable (retry later), not as a hard error.
    let h = Harness::sqlite().await;
    let mut blocker = sqlx::AnyConnection::connect(&h.url).await.unwrap();
    blocker.execute("BEGIN IMMEDIATE").await.unwrap();
    let store = h.store.clone();
    let err = store
        .create_report(
            &prefix(),
            t0(),
            new_report("s"),
            message("locked@x", "b", t0()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.is_temporary(), "a locked store is retried later");
    blocker.execute("ROLLBACK").await.unwrap();
    blocker.close().await.unwrap();
    file(&h.store, "unlocked@x", t0()).await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_first_open() {
    // Several processes (e.g. `ingest` runs) opening a new database at once.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("embargo.db").display());
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            Store::connect(&url, StorageKeys::ephemeral()).await
        }));
    }
    for task in tasks {
        let store = task.await.unwrap().unwrap();
        store.ping().await.unwrap();
        store.close().await;
    }
}

async fn reporter_keys_links_and_retry(h: &Harness) {
    let s = &h.store;
    let id = file(s, "k1@x", t0()).await;
    assert!(s.reporter_keys(&id).await.unwrap().is_empty());
    s.add_reporter_key(&id, b"CERT-BYTES-ONE", t0())
        .await
        .unwrap();
    s.add_reporter_key(&id, b"CERT-BYTES-TWO", t0() + SignedDuration::from_secs(1))
        .await
        .unwrap();
    let keys: Vec<Vec<u8>> = s
        .reporter_keys(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.to_vec())
        .collect();
    assert_eq!(
        keys,
        vec![b"CERT-BYTES-ONE".to_vec(), b"CERT-BYTES-TWO".to_vec()]
    );

    // An outgoing message links its Message-ID to its outbox entry.
    let mut tx = s.begin().await.unwrap();
    let outbox = tx
        .enqueue_outbox(
            &NewOutbox {
                report_id: Some(id.clone()),
                recipients: vec!["reporter@example.org".into()],
                body: b"ack".to_vec(),
            },
            t0(),
        )
        .await
        .unwrap();
    tx.link_outbox_message("ack-1@project.example", outbox, Some(&id), "ack")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let link = s
        .find_outbox_by_message_id("ack-1@project.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.outbox_id, outbox);
    assert_eq!(link.report, Some(id.clone()));
    assert_eq!(link.kind, "ack");
    assert!(
        s.find_outbox_by_message_id("other@x")
            .await
            .unwrap()
            .is_none()
    );

    // Unreadable and unknown-signer messages are retry candidates; an
    // update replaces their readable part and attachments.
    let mut unreadable = message("k2@x", "", t0());
    unreadable.encrypted = true;
    unreadable.decrypt_error = Some("no-matching-key".into());
    unreadable.attachments = vec![NewAttachment {
        filename: Some("x.pgp".into()),
        content_type: "application/octet-stream".into(),
        content: b"ciphertext".to_vec(),
    }];
    let filed = s.add_message(&id, unreadable).await.unwrap();
    let mut unknown = message("k3@x", "signed", t0());
    unknown.signature.status = SigStatus::UnknownKey;
    s.add_message(&id, unknown).await.unwrap();
    let candidates = s.retry_candidates(Some(&id)).await.unwrap();
    assert_eq!(candidates.len(), 2);
    assert_eq!(s.retry_candidates(None).await.unwrap().len(), 2);
    s.update_message(
        filed.message(),
        &embargo_store::MessageUpdate {
            subject: "decrypted subject".into(),
            body_text: "decrypted body".into(),
            decrypted: true,
            decrypt_error: None,
            signature: Signature::none(),
            attachments: vec![NewAttachment {
                filename: Some("x".into()),
                content_type: "text/plain".into(),
                content: b"plain".to_vec(),
            }],
        },
    )
    .await
    .unwrap();
    let detail = s.get_report(&id).await.unwrap();
    let m = detail
        .messages
        .iter()
        .find(|m| m.id == filed.message())
        .unwrap();
    assert!(m.decrypted && m.decrypt_error.is_none());
    assert_eq!(m.body_text, "decrypted body");
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].filename.as_deref(), Some("x"));
    assert_eq!(s.retry_candidates(Some(&id)).await.unwrap().len(), 1);
    let missing = s
        .update_message(
            uuid::Uuid::now_v7(),
            &embargo_store::MessageUpdate {
                subject: String::new(),
                body_text: String::new(),
                decrypted: false,
                decrypt_error: None,
                signature: Signature::none(),
                attachments: Vec::new(),
            },
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))));

    // Reporter keys are sealed like everything else.
    let rest = h.at_rest_bytes().await;
    let hex_of = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for needle in [&b"CERT-BYTES-ONE"[..], b"decrypted body"] {
        assert!(!rest.windows(needle.len()).any(|w| w == needle));
        assert!(!String::from_utf8_lossy(&rest).contains(&hex_of(needle)));
    }
}

async fn outbox_dead_letters_can_be_retried(h: &Harness) {
    let s = &h.store;
    let id = s
        .enqueue_outbox(
            &NewOutbox {
                report_id: None,
                recipients: vec!["x@example.org".into()],
                body: b"m".to_vec(),
            },
            t0(),
        )
        .await
        .unwrap();
    assert!(
        matches!(s.retry_outbox(id, t0()).await, Err(StoreError::NotFound(_))),
        "only dead entries"
    );
    let claimed = s
        .claim_outbox("w", SignedDuration::from_mins(1), t0(), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    s.mark_failed(id, "w", "SMTP 550", Retry::Dead)
        .await
        .unwrap();
    let dead = s
        .list_outbox(Some(embargo_store::OutboxState::Dead), 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, id);
    assert_eq!(dead[0].last_error.as_deref(), Some("SMTP 550"));
    assert_eq!(dead[0].attempts, 1);
    s.retry_outbox(id, t0() + SignedDuration::from_mins(5))
        .await
        .unwrap();
    let all = s.list_outbox(None, 10).await.unwrap();
    assert_eq!(all[0].state, embargo_store::OutboxState::Queued);
    assert_eq!(all[0].attempts, 0);
    let again = s
        .claim_outbox(
            "w2",
            SignedDuration::from_mins(1),
            t0() + SignedDuration::from_mins(5),
            10,
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
}
