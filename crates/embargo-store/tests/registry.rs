//! The registry side of the store (issue 7): WG registry rows with sealed
//! leads, import runs, release scans, reviews, runs of mail to WG leads,
//! last actions. Every case runs on SQLite (a temp file) and on PostgreSQL
//! (a fresh database per test) when `TEST_DATABASE_URL` is set; under
//! `CI=true` a missing `TEST_DATABASE_URL` fails the PostgreSQL runs.
//! (Harness copied from tests/store.rs.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use embargo_domain::{Login, TrackingId, WgName};
use embargo_store::{
    Actor, DigestKind, DigestRun, ImportKind, NewImportRun, ScanFindingRow, ScanImageRow, Store,
    StoreError, WgRecord,
};
use jiff::{SignedDuration, Timestamp};
use zeroize::Zeroizing;

mod common;

use common::{Harness, on_both_backends};

on_both_backends!(
    registry_round_trip_with_sealed_leads,
    registry_writers_are_serialised,
    import_runs_are_listed,
    scan_release_replace_and_read_back,
    scan_release_refuses_bad_values,
    reviews_latest_first,
    digest_runs_claimed_once,
    digest_runs_claimed_once_concurrently,
    last_actions_per_report,
);

// ---------------------------------------------------------------- data

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn t0() -> Timestamp {
    t("2026-03-01T10:00:00Z")
}

fn wg(s: &str) -> WgName {
    WgName::parse(s).unwrap()
}

const LEAD_EMAIL: &str = "lead-canary-4d1e@example.org";

fn record(name: &str, leads: &str) -> WgRecord {
    WgRecord {
        name: wg(name),
        title: Some(format!("WG {name}")),
        repos: vec![format!("kubeflow/{name}")],
        labels: vec![format!("area/{name}")],
        images: vec![format!("ghcr.io/kubeflow/{name}-*")],
        paths: vec![],
        keywords: vec![name.to_owned(), "kfp".to_owned()],
        hand_set: vec!["images".to_owned(), "leads".to_owned()],
        leads: Zeroizing::new(leads.to_owned()),
        updated_at: t0(),
    }
}

fn finding(wg_name: Option<&str>, image: &str, id: &str, severity: &str) -> ScanFindingRow {
    ScanFindingRow {
        wg: wg_name.map(wg),
        image: image.to_owned(),
        vuln_id: id.to_owned(),
        package: "openssl".to_owned(),
        installed: "1.1.1".to_owned(),
        fixed: Some("1.1.1w".to_owned()),
        severity: severity.to_owned(),
    }
}

async fn file(store: &Store, mid: &str, at: Timestamp) -> TrackingId {
    embargo_testkit::file_report(store, "subject", mid, "body", at).await
}

// ---------------------------------------------------------------- cases

async fn registry_round_trip_with_sealed_leads(h: &Harness) {
    let store = &h.store;
    assert!(store.load_wg_registry().await.unwrap().is_empty());
    assert_eq!(store.wg_registry_version().await.unwrap(), 0);

    let leads = format!(r#"[{{"email":"{LEAD_EMAIL}","github":"lead1"}}]"#);
    let a = record("pipelines", &leads);
    let b = record("training", "[]");
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.lock_wg_registry(t0()).await.unwrap(), 1);
    tx.replace_wg_registry(&[a.clone(), b.clone()])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.wg_registry_version().await.unwrap(), 1);
    assert_eq!(
        store.load_wg_registry().await.unwrap(),
        vec![a.clone(), b.clone()]
    );

    // The leads are sealed: neither the column nor the database at rest
    // holds the address; the clear columns are queryable.
    let raw: Vec<u8> = sqlx::query_scalar("SELECT leads_sealed FROM wg_registry WHERE name = $1")
        .bind("pipelines")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(
        !raw.windows(LEAD_EMAIL.len())
            .any(|w| w == LEAD_EMAIL.as_bytes())
    );
    let images: String = sqlx::query_scalar("SELECT images FROM wg_registry WHERE name = $1")
        .bind("pipelines")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(images, "ghcr.io/kubeflow/pipelines-*");
    let at_rest = h.at_rest_bytes().await;
    assert!(
        !at_rest
            .windows(LEAD_EMAIL.len())
            .any(|w| w == LEAD_EMAIL.as_bytes()),
        "a lead address is readable at rest"
    );

    // A sealed value moved to another row does not open.
    sqlx::query("UPDATE wg_registry SET leads_sealed = $1 WHERE name = $2")
        .bind(raw)
        .bind("training")
        .execute(store.pool())
        .await
        .unwrap();
    assert!(matches!(
        store.load_wg_registry().await,
        Err(StoreError::Corrupt(_))
    ));

    // Replacing drops what is not listed; put/delete touch one WG.
    let mut tx = store.begin().await.unwrap();
    tx.lock_wg_registry(t0()).await.unwrap();
    tx.replace_wg_registry(std::slice::from_ref(&a))
        .await
        .unwrap();
    let mut c = record("notebooks", "[]");
    c.title = None;
    c.hand_set.clear();
    tx.put_wg(&c).await.unwrap();
    let mut a2 = a.clone();
    a2.keywords = vec!["pipelines".to_owned()];
    tx.put_wg(&a2).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.load_wg_registry().await.unwrap(), vec![c.clone(), a2]);
    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete_wg(&wg("notebooks")).await.unwrap());
    assert!(!tx.delete_wg(&wg("notebooks")).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.load_wg_registry().await.unwrap().len(), 1);

    // Values with line breaks cannot be stored as list items.
    let mut bad = record("bad", "[]");
    bad.keywords = vec!["a\nb".to_owned()];
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(tx.put_wg(&bad).await, Err(StoreError::Invalid(_))));
}

async fn registry_writers_are_serialised(h: &Harness) {
    // Each writer reads the registry, adds its WG and writes everything
    // back; with the lock none is lost.
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = h.store.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let result = async {
                    let mut tx = store.begin().await?;
                    tx.lock_wg_registry(t0()).await?;
                    let mut all = tx.load_wg_registry().await?;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    all.push(record(&format!("wg{i}"), "[]"));
                    tx.replace_wg_registry(&all).await?;
                    tx.commit().await
                }
                .await;
                match result {
                    Ok(()) => break,
                    // SQLite may answer busy past its timeout under load.
                    Err(e) if e.is_temporary() => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let names: Vec<String> = h
        .store
        .load_wg_registry()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name.to_string())
        .collect();
    assert_eq!(names, ["wg0", "wg1", "wg2", "wg3", "wg4", "wg5"]);
    assert_eq!(h.store.wg_registry_version().await.unwrap(), 6);
}

async fn import_runs_are_listed(h: &Harness) {
    let store = &h.store;
    let mut tx = store.begin().await.unwrap();
    let a = tx
        .record_import_run(
            &NewImportRun {
                kind: ImportKind::Wgs,
                release: None,
                actor: "admin".to_owned(),
                source_sha256: Some("ab".repeat(32)),
                files_ok: 1,
                files_failed: 0,
                summary: r#"{"added":["pipelines"]}"#.to_owned(),
            },
            t0(),
        )
        .await
        .unwrap();
    let b = tx
        .record_import_run(
            &NewImportRun {
                kind: ImportKind::Scan,
                release: Some("1.10.0".to_owned()),
                actor: "cli".to_owned(),
                source_sha256: None,
                files_ok: 3,
                files_failed: 1,
                summary: "{}".to_owned(),
            },
            t0() + SignedDuration::from_secs(60),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let all = store.list_import_runs(None, 10).await.unwrap();
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), [b, a]);
    assert_eq!(all[0].release.as_deref(), Some("1.10.0"));
    assert_eq!((all[0].files_ok, all[0].files_failed), (3, 1));
    assert_eq!(
        all[1].source_sha256.as_deref(),
        Some("ab".repeat(32).as_str())
    );
    let wgs = store
        .list_import_runs(Some(ImportKind::Wgs), 10)
        .await
        .unwrap();
    assert_eq!(wgs.len(), 1);
    assert_eq!(wgs[0].kind, ImportKind::Wgs);
    assert_eq!(wgs[0].at, t0());
    assert_eq!(store.list_import_runs(None, 1).await.unwrap().len(), 1);
}

async fn scan_release_replace_and_read_back(h: &Harness) {
    let store = &h.store;
    assert!(store.scan_release("1.9.0").await.unwrap().is_none());
    assert!(store.scan_findings("1.9.0").await.unwrap().is_empty());

    // More rows than one INSERT batch.
    let mut findings: Vec<ScanFindingRow> = (0..950)
        .map(|i| {
            finding(
                if i % 3 == 0 { None } else { Some("pipelines") },
                &format!("ghcr.io/kubeflow/kfp-{}:2.4.0", i % 7),
                &format!("CVE-2025-{i:05}"),
                ["LOW", "MEDIUM", "HIGH", "CRITICAL", "UNKNOWN"][i % 5],
            )
        })
        .collect();
    findings[1].fixed = None;
    let images = vec![
        ScanImageRow {
            image: "docker.io/library/busybox:1.28".to_owned(),
            wg: None,
        },
        ScanImageRow {
            image: "ghcr.io/kubeflow/kfp-0:2.4.0".to_owned(),
            wg: Some(wg("pipelines")),
        },
        ScanImageRow {
            image: "ghcr.io/kubeflow/kfp-0:2.4.0".to_owned(),
            wg: Some(wg("manifests")),
        },
    ];
    let mut tx = store.begin().await.unwrap();
    let run = tx
        .record_import_run(
            &NewImportRun {
                kind: ImportKind::Scan,
                release: Some("1.9.0".to_owned()),
                actor: "cli".to_owned(),
                source_sha256: None,
                files_ok: 1,
                files_failed: 0,
                summary: "{}".to_owned(),
            },
            t0(),
        )
        .await
        .unwrap();
    tx.replace_scan_release("1.9.0", run, &images, &findings, t0())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut sorted = findings.clone();
    sorted.sort();
    assert_eq!(store.scan_findings("1.9.0").await.unwrap(), sorted);
    let mut sorted_images = images.clone();
    sorted_images.sort();
    assert_eq!(store.scan_images("1.9.0").await.unwrap(), sorted_images);
    let rel = store.scan_release("1.9.0").await.unwrap().unwrap();
    assert_eq!((rel.images, rel.findings), (2, 950));
    assert_eq!(rel.import_id, run);
    assert_eq!(rel.imported_at, t0());

    // Replacing keeps only the new content; other releases are untouched.
    let mut tx = store.begin().await.unwrap();
    tx.replace_scan_release("1.10.0", run, &[], &findings[..2], t0())
        .await
        .unwrap();
    tx.replace_scan_release("1.9.0", run, &images[..1], &findings[..1], t0())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.scan_findings("1.9.0").await.unwrap(), findings[..1]);
    assert_eq!(store.scan_images("1.9.0").await.unwrap(), images[..1]);
    assert_eq!(store.scan_findings("1.10.0").await.unwrap().len(), 2);
    let releases: Vec<String> = store
        .scan_releases()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.release)
        .collect();
    assert_eq!(releases, ["1.10.0", "1.9.0"]);
}

async fn scan_release_refuses_bad_values(h: &Harness) {
    let store = &h.store;
    let mut tx = store.begin().await.unwrap();
    let run = tx
        .record_import_run(
            &NewImportRun {
                kind: ImportKind::Scan,
                release: Some("1.0".to_owned()),
                actor: "cli".to_owned(),
                source_sha256: None,
                files_ok: 1,
                files_failed: 0,
                summary: "{}".to_owned(),
            },
            t0(),
        )
        .await
        .unwrap();
    let bad_severity = [finding(None, "x:1", "CVE-1", "SEVERE")];
    assert!(matches!(
        tx.replace_scan_release("1.0", run, &[], &bad_severity, t0())
            .await,
        Err(StoreError::Invalid(_))
    ));
    let bad_image = [finding(None, "x\n:1", "CVE-1", "LOW")];
    assert!(matches!(
        tx.replace_scan_release("1.0", run, &[], &bad_image, t0())
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        tx.replace_scan_release("../1.0", run, &[], &[], t0()).await,
        Err(StoreError::Invalid(_))
    ));
    tx.rollback().await.unwrap();
}

async fn reviews_latest_first(h: &Harness) {
    let store = &h.store;
    assert!(store.last_review().await.unwrap().is_none());
    let alice = Login::parse("alice").unwrap();
    let bob = Login::parse("bob").unwrap();
    let first = store.record_review_done(&alice, None, t0()).await.unwrap();
    let second = store
        .record_review_done(&bob, Some(t0()), t0() + SignedDuration::from_hours(24 * 14))
        .await
        .unwrap();
    let last = store.last_review().await.unwrap().unwrap();
    assert_eq!(last, second);
    assert_eq!(last.done_by, bob);
    assert_eq!(last.since, Some(t0()));
    assert_eq!(
        store.list_review_runs(10).await.unwrap(),
        vec![second, first]
    );
}

fn digest_run(wg_name: &str, key: &str, at: Timestamp) -> DigestRun {
    DigestRun {
        kind: DigestKind::Digest,
        wg: wg(wg_name),
        run_key: key.to_owned(),
        created_at: at,
        recipients: 2,
        encrypted: 1,
        notices: 1,
    }
}

async fn digest_runs_claimed_once(h: &Harness) {
    let store = &h.store;
    let run = digest_run("pipelines", "1000", t0());
    let mut tx = store.begin().await.unwrap();
    assert!(tx.claim_digest_run(&run).await.unwrap());
    assert!(!tx.claim_digest_run(&run).await.unwrap());
    // Another WG, kind or key is another run.
    assert!(
        tx.claim_digest_run(&digest_run("training", "1000", t0()))
            .await
            .unwrap()
    );
    let mut scan = run.clone();
    scan.kind = DigestKind::Scan;
    scan.run_key = "1.10.0".to_owned();
    assert!(tx.claim_digest_run(&scan).await.unwrap());
    let later = digest_run("pipelines", "2000", t0() + SignedDuration::from_hours(1));
    assert!(tx.claim_digest_run(&later).await.unwrap());
    tx.commit().await.unwrap();

    // A claim rolled back leaves nothing behind.
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.claim_digest_run(&digest_run("notebooks", "1000", t0()))
            .await
            .unwrap()
    );
    tx.rollback().await.unwrap();
    assert!(
        store
            .get_digest_run(DigestKind::Digest, &wg("notebooks"), "1000")
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(
        store
            .get_digest_run(DigestKind::Digest, &wg("pipelines"), "1000")
            .await
            .unwrap(),
        Some(run)
    );
    assert_eq!(
        store
            .last_digest_run(DigestKind::Digest, &wg("pipelines"))
            .await
            .unwrap(),
        Some(later)
    );
    assert_eq!(store.list_digest_runs(10).await.unwrap().len(), 4);
}

async fn digest_runs_claimed_once_concurrently(h: &Harness) {
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = h.store.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let result = async {
                    let mut tx = store.begin().await?;
                    let claimed = tx
                        .claim_digest_run(&digest_run("pipelines", "42", t0()))
                        .await?;
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    tx.commit().await?;
                    Ok::<bool, StoreError>(claimed)
                }
                .await;
                match result {
                    Ok(claimed) => break claimed,
                    Err(e) if e.is_temporary() => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    let mut claimed = 0;
    for t in tasks {
        if t.await.unwrap() {
            claimed += 1;
        }
    }
    assert_eq!(claimed, 1);
}

async fn last_actions_per_report(h: &Harness) {
    let store = &h.store;
    let a = file(store, "a@x", t0()).await;
    let b = file(store, "b@x", t0()).await;
    let alice = Actor::User(Login::parse("alice").unwrap());
    store
        .append_event(
            Some(&a),
            &alice,
            "note",
            "secret detail",
            t0() + SignedDuration::from_secs(60),
        )
        .await
        .unwrap();
    store
        .append_event(
            None,
            &alice,
            "review-done",
            "",
            t0() + SignedDuration::from_secs(120),
        )
        .await
        .unwrap();
    // Reads are audited, but are not actions.
    for kind in ["viewed", "downloaded"] {
        store
            .append_event(
                Some(&a),
                &alice,
                kind,
                "report page",
                t0() + SignedDuration::from_secs(180),
            )
            .await
            .unwrap();
    }
    let actions = store.last_actions().await.unwrap();
    assert_eq!(actions.len(), 2);
    let of = |id: &TrackingId| actions.iter().find(|x| &x.report_id == id).unwrap();
    assert_eq!(of(&a).kind, "note");
    assert_eq!(of(&a).actor, "alice");
    assert_eq!(of(&a).at, t0() + SignedDuration::from_secs(60));
    assert_eq!(of(&b).kind, "filed");
    assert_eq!(of(&b).actor, "system");
}
