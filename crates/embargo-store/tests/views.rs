//! Store queries of the web view (`views.rs`): the report list with its
//! filters, sorts and keyset pagination, the report page, attachments
//! checked against their report, the dashboard figures and the bulk
//! seeding helper. Every case runs on SQLite and, when `TEST_DATABASE_URL`
//! is set (mandatory under `CI=true`), on PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashSet;

use embargo_domain::{Action, EmbargoPolicy, Severity, State, TrackingId, TrackingPrefix, WgName};
use embargo_store::{
    Actor, BenchSeed, Direction, NewAttachment, NewMessage, NewReport, ReportCursor, ReportQuery,
    ReportSort, Signature, Sla, Store, StoreError,
};
use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

mod common;

use common::{Harness, on_both_backends};

on_both_backends!(
    keyset_pages_cover_everything_once,
    filters,
    reporter_filter_is_bounded,
    report_view_limits_events,
    attachments_belong_to_their_report,
    dashboard_figures,
    seeding_continues_the_counter,
);

// ---------------------------------------------------------------- data

fn t0() -> Timestamp {
    "2026-03-01T10:00:00Z".parse().unwrap()
}

fn prefix() -> TrackingPrefix {
    TrackingPrefix::parse("SEC").unwrap()
}

fn wg(s: &str) -> WgName {
    WgName::parse(s).unwrap()
}

fn message(mid: &str, body: &str, at: Timestamp) -> NewMessage {
    NewMessage {
        message_id: Some(format!("<{mid}>")),
        raw: format!("Message-ID: <{mid}>\r\n\r\n{body}").into_bytes(),
        direction: Direction::Inbound,
        received_at: at,
        date: Some(at),
        from: "Reporter <reporter@example.org>".to_owned(),
        subject: "report".to_owned(),
        headers: format!("Message-ID: <{mid}>\r\n"),
        body_text: body.to_owned(),
        encrypted: false,
        decrypted: false,
        decrypt_error: None,
        signature: Signature::none(),
        attachments: Vec::new(),
    }
}

async fn file_as(store: &Store, mid: &str, reporter: &str, at: Timestamp) -> TrackingId {
    store
        .create_report(
            &prefix(),
            at,
            NewReport {
                subject: format!("subject {mid}"),
                reporter: reporter.to_owned(),
            },
            message(mid, "body", at),
        )
        .await
        .unwrap()
        .report()
        .clone()
}

async fn triage(store: &Store, id: &TrackingId, w: &str, sev: Severity, at: Timestamp) {
    let r = store.load_domain_report(id).await.unwrap();
    let next = r
        .apply(
            &Action::Triage {
                wg: wg(w),
                severity: sev,
            },
            at,
            &EmbargoPolicy::default(),
        )
        .unwrap();
    store
        .apply_report_update(r.state, &next, &Actor::System, "triage", "", at)
        .await
        .unwrap();
}

async fn all_pages(store: &Store, mut q: ReportQuery) -> Vec<Vec<TrackingId>> {
    let mut pages = Vec::new();
    loop {
        let page = store.report_page(&q).await.unwrap();
        pages.push(page.reports.iter().map(|r| r.id.clone()).collect());
        match page.next {
            Some(c) => {
                // The cursor survives a round trip through the URL form.
                q.after = Some(ReportCursor::parse(&c.to_string()).unwrap());
            }
            None => return pages,
        }
        assert!(pages.len() < 1000, "pagination does not end");
    }
}

// ---------------------------------------------------------------- cases

async fn keyset_pages_cover_everything_once(h: &Harness) {
    // 23 reports, several sharing a filing instant (ties broken by ID).
    let mut ids = Vec::new();
    for i in 0..23 {
        let at = t0() + SignedDuration::from_mins(i / 3);
        ids.push(file_as(&h.store, &format!("k{i}@x"), "r@example.org", at).await);
    }
    for sort in ReportSort::ALL {
        let pages = all_pages(
            &h.store,
            ReportQuery {
                limit: 5,
                sort,
                ..ReportQuery::default()
            },
        )
        .await;
        assert_eq!(pages.len(), 5, "{sort:?}");
        assert!(pages[..4].iter().all(|p| p.len() == 5));
        let flat: Vec<TrackingId> = pages.concat();
        assert_eq!(flat.len(), 23, "{sort:?}");
        let unique: HashSet<_> = flat.iter().collect();
        assert_eq!(unique.len(), 23, "{sort:?}: no row twice");
        if sort == ReportSort::OldestFirst {
            assert_eq!(flat[0], ids[0]);
        }
        if sort == ReportSort::NewestFirst {
            assert_eq!(flat[22], ids[0]);
        }
    }
    // An exact multiple of the page size ends without an empty page.
    let pages = all_pages(
        &h.store,
        ReportQuery {
            limit: 23,
            ..ReportQuery::default()
        },
    )
    .await;
    assert_eq!(pages.len(), 1);
    // Rows filed after the first page was read appear in no later page of
    // a newest-first walk (keyset: stable under inserts).
    let first = h
        .store
        .report_page(&ReportQuery {
            limit: 5,
            ..ReportQuery::default()
        })
        .await
        .unwrap();
    file_as(
        &h.store,
        "late@x",
        "r@example.org",
        t0() + SignedDuration::from_hours(5),
    )
    .await;
    let second = h
        .store
        .report_page(&ReportQuery {
            limit: 5,
            after: first.next.clone(),
            ..ReportQuery::default()
        })
        .await
        .unwrap();
    assert!(
        second
            .reports
            .iter()
            .all(|r| !first.reports.iter().any(|f| f.id == r.id))
    );
}

async fn filters(h: &Harness) {
    let a = file_as(&h.store, "f1@x", "ada@example.org", t0()).await;
    let b = file_as(
        &h.store,
        "f2@x",
        "bob@example.org",
        t0() + SignedDuration::from_hours(48),
    )
    .await;
    let c = file_as(
        &h.store,
        "f3@x",
        "cy@example.org",
        t0() + SignedDuration::from_hours(96),
    )
    .await;
    triage(
        &h.store,
        &a,
        "pipelines",
        Severity::High,
        t0() + SignedDuration::from_hours(1),
    )
    .await;
    triage(
        &h.store,
        &b,
        "notebooks",
        Severity::Critical,
        t0() + SignedDuration::from_hours(50),
    )
    .await;
    let ids = |q: ReportQuery| {
        let store = h.store.clone();
        async move {
            store
                .report_page(&q)
                .await
                .unwrap()
                .reports
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ids(ReportQuery {
            state: Some(State::New),
            ..Default::default()
        })
        .await,
        vec![c.clone()]
    );
    assert_eq!(
        ids(ReportQuery {
            wg: Some(wg("pipelines")),
            ..Default::default()
        })
        .await,
        vec![a.clone()]
    );
    assert_eq!(
        ids(ReportQuery {
            severity: Some(Severity::Critical),
            ..Default::default()
        })
        .await,
        vec![b.clone()]
    );
    assert_eq!(
        ids(ReportQuery {
            created_since: Some(t0() + SignedDuration::from_hours(24)),
            ..Default::default()
        })
        .await,
        [c.clone(), b.clone()]
    );
    assert_eq!(
        ids(ReportQuery {
            created_before: Some(t0() + SignedDuration::from_hours(24)),
            ..Default::default()
        })
        .await,
        vec![a.clone()]
    );
    assert_eq!(
        ids(ReportQuery {
            reporter: Some("BOB@".to_owned()),
            ..Default::default()
        })
        .await,
        vec![b.clone()]
    );
    assert!(
        ids(ReportQuery {
            reporter: Some("nobody".to_owned()),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        ids(ReportQuery {
            sort: ReportSort::RecentlyUpdated,
            ..Default::default()
        })
        .await,
        [c.clone(), b.clone(), a.clone()]
    );
    // Summaries are opened: subject and reporter in clear.
    let page = h
        .store
        .report_page(&ReportQuery {
            wg: Some(wg("pipelines")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.reports[0].reporter, "ada@example.org");
    assert_eq!(page.reports[0].subject, "subject f1@x");
    assert_eq!(page.reports[0].message_count, 1);
    // A filter value is a bound parameter, never SQL.
    assert!(
        ids(ReportQuery {
            reporter: Some("' OR 1=1 --".to_owned()),
            ..Default::default()
        })
        .await
        .is_empty()
    );
}

async fn reporter_filter_is_bounded(h: &Harness) {
    for i in 0..12 {
        let who = if i % 4 == 0 {
            "needle@example.org"
        } else {
            "hay@example.org"
        };
        file_as(
            &h.store,
            &format!("r{i}@x"),
            who,
            t0() + SignedDuration::from_mins(i),
        )
        .await;
    }
    let mut q = ReportQuery {
        reporter: Some("needle".to_owned()),
        limit: 10,
        max_scan: 5,
        ..Default::default()
    };
    let mut found = Vec::new();
    let mut pages = 0;
    loop {
        let page = h.store.report_page(&q).await.unwrap();
        assert!(page.scanned <= 5);
        found.extend(page.reports.into_iter().map(|r| r.reporter));
        pages += 1;
        match page.next {
            Some(c) => q.after = Some(c),
            None => break,
        }
    }
    assert_eq!(found.len(), 3);
    assert!(found.iter().all(|r| r == "needle@example.org"));
    assert!(pages >= 3, "the scan bound splits the walk: {pages}");
}

async fn report_view_limits_events(h: &Harness) {
    let id = file_as(&h.store, "v@x", "r@example.org", t0()).await;
    for i in 0..7 {
        h.store
            .append_event(
                Some(&id),
                &Actor::System,
                "viewed",
                &format!("view {i}"),
                t0() + SignedDuration::from_mins(i + 1),
            )
            .await
            .unwrap();
    }
    h.store
        .add_message(
            &id,
            message("v2@x", "second", t0() + SignedDuration::from_hours(1)),
        )
        .await
        .unwrap();
    let v = h.store.report_view(&id, 3).await.unwrap();
    assert_eq!(v.event_count, 9, "filed + 7 views + message");
    assert_eq!(v.events.len(), 3);
    assert!(v.events[0].at <= v.events[2].at, "oldest first");
    assert_eq!(v.events[2].kind, "message");
    assert_eq!(v.messages.len(), 2);
    assert_eq!(v.messages[1].body_text, "second");
    assert_eq!(v.report.message_count, 2);
    assert!(matches!(
        h.store
            .report_view(&TrackingId::new(prefix(), 2026, 999).unwrap(), 3)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn attachments_belong_to_their_report(h: &Harness) {
    let mut m = message("a@x", "see attached", t0());
    m.attachments = vec![
        NewAttachment {
            filename: Some("poc.html".to_owned()),
            content_type: "text/html".to_owned(),
            content: b"<script>x</script>".to_vec(),
        },
        NewAttachment {
            filename: None,
            content_type: "application/pgp-keys".to_owned(),
            content: b"KEYDATA".to_vec(),
        },
    ];
    let id = h
        .store
        .create_report(
            &prefix(),
            t0(),
            NewReport {
                subject: "s".into(),
                reporter: "r@example.org".into(),
            },
            m,
        )
        .await
        .unwrap()
        .report()
        .clone();
    let other = file_as(&h.store, "other@x", "r@example.org", t0()).await;
    let v = h.store.report_view(&id, 10).await.unwrap();
    let aid = v.messages[0].attachments[0].id;
    let (meta, content) = h.store.report_attachment(&id, aid).await.unwrap();
    assert_eq!(meta.filename.as_deref(), Some("poc.html"));
    assert_eq!(&content[..], b"<script>x</script>");
    assert!(matches!(
        h.store.report_attachment(&other, aid).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        h.store.report_attachment(&id, Uuid::now_v7()).await,
        Err(StoreError::NotFound(_))
    ));
    let keys = h.store.report_key_attachments(&id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(&keys[0][..], b"KEYDATA");
    assert!(
        h.store
            .message_in_report(&id, v.messages[0].id)
            .await
            .unwrap()
    );
    assert!(
        !h.store
            .message_in_report(&other, v.messages[0].id)
            .await
            .unwrap()
    );
}

async fn dashboard_figures(h: &Harness) {
    let now = t0() + SignedDuration::from_hours(24 * 10);
    let a = file_as(&h.store, "d1@x", "r@example.org", t0()).await;
    let b = file_as(&h.store, "d2@x", "r@example.org", t0()).await;
    let c = file_as(
        &h.store,
        "d3@x",
        "r@example.org",
        now - SignedDuration::from_hours(1),
    )
    .await;
    triage(
        &h.store,
        &a,
        "pipelines",
        Severity::Critical,
        t0() + SignedDuration::from_hours(2),
    )
    .await;
    triage(
        &h.store,
        &b,
        "notebooks",
        Severity::Low,
        t0() + SignedDuration::from_hours(4),
    )
    .await;
    h.store
        .mark_acknowledged(&a, t0() + SignedDuration::from_mins(10))
        .await
        .unwrap();
    h.store
        .mark_acknowledged(&b, t0() + SignedDuration::from_mins(30))
        .await
        .unwrap();
    let sla = Sla::default();
    let s = h.store.dashboard_stats(None, now, &sla, 10).await.unwrap();
    assert_eq!(s.total, 3);
    assert_eq!(
        s.by_state
            .iter()
            .find(|(st, _)| *st == State::New)
            .unwrap()
            .1,
        1
    );
    assert_eq!(
        s.by_state
            .iter()
            .find(|(st, _)| *st == State::Triaged)
            .unwrap()
            .1,
        2
    );
    assert_eq!(s.by_state.len(), 8);
    assert_eq!(s.by_severity[0], (Some(Severity::Critical), 1));
    assert_eq!(s.by_severity.last().unwrap(), &(None, 1));
    assert_eq!(
        s.by_wg,
        vec![
            (Some(wg("notebooks")), 1),
            (Some(wg("pipelines")), 1),
            (None, 1)
        ]
    );
    assert_eq!(s.acknowledged, 2);
    assert_eq!(
        s.time_to_acknowledge,
        Some(SignedDuration::from_mins(20)),
        "median of 10 and 30 min"
    );
    assert_eq!(s.triaged, 2);
    assert_eq!(s.time_to_triage, Some(SignedDuration::from_hours(3)));
    // a: critical, 10 days old (SLA 2 d): overdue. b: low (90 d): not. c:
    // unrated, 1 h old (2 d): not.
    assert_eq!(s.overdue.len(), 1);
    assert_eq!(s.overdue[0].id, a);
    assert_eq!(s.overdue[0].due_at, t0() + SignedDuration::from_hours(48));
    assert_eq!(s.overdue_by_severity[0], (Some(Severity::Critical), 1));
    let _ = c;
    // Scoped to a WG.
    let p = h
        .store
        .dashboard_stats(Some(&wg("notebooks")), now, &sla, 10)
        .await
        .unwrap();
    assert_eq!(p.total, 1);
    assert!(p.overdue.is_empty());
    // A shorter SLA makes b overdue too.
    let strict = Sla {
        low_days: 1,
        ..Sla::default()
    };
    let s = h
        .store
        .dashboard_stats(None, now, &strict, 10)
        .await
        .unwrap();
    assert_eq!(s.overdue.len(), 2);
    // Empty store: no medians.
    let empty = h
        .store
        .dashboard_stats(Some(&wg("nobody")), now, &sla, 10)
        .await
        .unwrap();
    assert_eq!(empty.total, 0);
    assert_eq!(empty.time_to_acknowledge, None);
}

async fn seeding_continues_the_counter(h: &Harness) {
    let first = file_as(&h.store, "s1@x", "r@example.org", t0()).await;
    assert_eq!(first.to_string(), "SEC-2026-0001");
    let ids = h
        .store
        .seed_reports_for_benchmark(&BenchSeed {
            prefix: prefix(),
            year: 2026,
            count: 1000,
            first_created_at: t0(),
            step: SignedDuration::from_secs(30),
            wgs: vec![wg("pipelines"), wg("notebooks")],
        })
        .await
        .unwrap();
    assert_eq!(ids.len(), 1000);
    assert_eq!(ids[0].to_string(), "SEC-2026-0002");
    assert_eq!(ids[999].to_string(), "SEC-2026-1001");
    let next = file_as(&h.store, "s2@x", "r@example.org", t0()).await;
    assert_eq!(next.to_string(), "SEC-2026-1002");
    let s = h
        .store
        .dashboard_stats(None, t0(), &Sla::default(), 5)
        .await
        .unwrap();
    assert_eq!(s.total, 1002);
    assert!(s.by_state.iter().all(|(_, n)| *n >= 125));
    // Seeded rows open like any other.
    let v = h.store.report_view(&ids[500], 5).await.unwrap();
    assert!(v.report.subject.starts_with("Benchmark report 500"));
    let all = all_pages(
        &h.store,
        ReportQuery {
            limit: 500,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(all.concat().len(), 1002);
}
