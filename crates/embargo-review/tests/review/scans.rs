//! Release scans: import of the shared corpus (Trivy, Grype) with a
//! malformed file and unmapped images, the stored summary in the contract
//! shape, new/fixed between releases, each WG's slice to its leads.

use std::fs;
use std::path::Path;

use embargo_domain::Role;
use embargo_review::{
    Progress, ReviewError, ScanImportOptions, SliceOptions, compare_versions, compose_scan_slices,
    import_scans, import_scans_with, load_registry, releases, scan_changes, scan_findings,
    scan_summary, send_scan_slices, slice_status,
};
use embargo_scan::import_path;
use embargo_store::{ImportKind, Store, StoreError};
use embargo_wg::{Registry, WgConfig};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::common::{Harness, add_user, contains, corpus, header, public_key, t, team};

on_both_backends!(
    scan_import_persists_findings_per_wg,
    scan_changes_between_releases,
    scan_slices_go_to_each_wgs_leads,
);

const KFP_API: &str = "ghcr.io/kubeflow/kfp-api-server:2.5.0";
const KFP_API_OLD: &str = "ghcr.io/kubeflow/kfp-api-server:2.4.0";
const KFP_UI: &str = "ghcr.io/kubeflow/kfp-frontend:2.5.0";
const KATIB: &str = "ghcr.io/kubeflow/katib/katib-controller:v0.18.0";
const STRAY: &str = "quay.io/stray/thing:1";

fn now() -> Timestamp {
    t("2026-03-04T15:00:00Z")
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// A corpus Trivy report re-targeted at `image`.
fn trivy_for(sample: &str, image: &str) -> Vec<u8> {
    let mut v: Value =
        serde_json::from_slice(&fs::read(corpus(&format!("scans/trivy/json/{sample}"))).unwrap())
            .unwrap();
    v["ArtifactName"] = json!(image);
    if let Some(meta) = v.get_mut("Metadata").and_then(Value::as_object_mut) {
        meta.remove("RepoTags");
        meta.remove("Reference");
    }
    serde_json::to_vec_pretty(&v).unwrap()
}

/// A release directory: KFP images (pipelines), Katib (training), a stray
/// image (unmapped), the Grype sample (unmapped), a truncated report.
fn release_dir(root: &Path, kfp_api: &str, ui_sample: &str) {
    write(
        &root.join("kfp-api.json"),
        &trivy_for("alpine-39.json", kfp_api),
    );
    write(&root.join("kfp-ui.json"), &trivy_for(ui_sample, KFP_UI));
    write(
        &root.join("katib/controller.json"),
        &trivy_for("gomod-vex.json", KATIB),
    );
    write(
        &root.join("stray.json"),
        &trivy_for("alpine-310.json", STRAY),
    );
    write(
        &root.join("grype/golden.json"),
        &fs::read(corpus("scans/grype/TestJsonImgsPresenter.golden.json")).unwrap(),
    );
    let good = fs::read(corpus("scans/trivy/json/alpine-39.json")).unwrap();
    write(&root.join("broken.json"), &good[..good.len() / 2]);
}

fn config() -> Vec<WgConfig> {
    vec![
        WgConfig {
            name: "pipelines".into(),
            images: Some(vec!["ghcr.io/kubeflow/kfp-*".into()]),
            ..WgConfig::default()
        },
        WgConfig {
            name: "training".into(),
            images: Some(vec!["ghcr.io/kubeflow/katib/*".into()]),
            ..WgConfig::default()
        },
    ]
}

async fn registry(store: &Store) -> Registry {
    load_registry(store, &config()).await.unwrap()
}

async fn scan_import_persists_findings_per_wg(h: &Harness) {
    let store = &h.store;
    let registry = registry(store).await;
    let dir = tempfile::tempdir().unwrap();
    release_dir(dir.path(), KFP_API, "debian-buster.json");

    let mut calls: Vec<Progress> = Vec::new();
    let report = import_scans(
        store,
        &registry,
        dir.path(),
        "1.10.0",
        &mut |p| calls.push(p),
        now(),
    )
    .await
    .unwrap();
    assert!(report.persisted);
    assert_eq!(report.files_ok, 5);
    assert_eq!(report.file_errors.len(), 1);
    assert!(report.file_errors[0].path.ends_with("broken.json"));
    assert!(
        report.file_errors[0].reason.starts_with("not JSON"),
        "{}",
        report.file_errors[0].reason
    );
    assert!(report.unmapped_images.contains(&STRAY.to_owned()));
    assert_eq!(
        report.unmapped_images.len(),
        2,
        "{:?}",
        report.unmapped_images
    );
    // Progress: before the first file and after each.
    assert_eq!(calls.first().unwrap().files_done, 0);
    let last = calls.last().unwrap();
    assert_eq!(last.files_done, last.files_total);
    assert_eq!(calls.len(), last.files_total + 1);

    // Stored: the same summary the scan library computes from the files,
    // in the contract's shape.
    let summary = scan_summary(store, "1.10.0").await.unwrap();
    let expected = import_path(dir.path(), &registry)
        .unwrap()
        .summary("1.10.0");
    assert_eq!(summary, expected);
    assert_eq!(report.summary, summary);
    let v = serde_json::to_value(&summary).unwrap();
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["release", "unmapped", "wgs"]
    );
    assert_eq!(v["release"], "1.10.0");
    let wgs = v["wgs"].as_object().unwrap();
    assert_eq!(wgs.keys().collect::<Vec<_>>(), ["pipelines", "training"]);
    for counts in wgs.values() {
        let mut keys: Vec<&String> = counts.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["CRITICAL", "HIGH", "LOW", "MEDIUM", "UNKNOWN", "images"]
        );
    }
    assert_eq!(v["wgs"]["pipelines"]["images"], 2);
    assert_eq!(v["wgs"]["training"]["images"], 1);
    assert!(v["unmapped"].as_array().unwrap().contains(&json!(STRAY)));
    let findings = store.scan_findings("1.10.0").await.unwrap();
    assert!(
        findings.iter().any(|f| f.wg.is_none() && f.image == STRAY),
        "unmapped findings kept"
    );
    assert!(
        findings
            .iter()
            .any(|f| f.wg.as_ref().map(|w| w.as_str()) == Some("training"))
    );

    let runs = store
        .list_import_runs(Some(ImportKind::Scan), 10)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].files_ok, runs[0].files_failed), (5, 1));
    assert_eq!(runs[0].release.as_deref(), Some("1.10.0"));

    // Nothing readable: stores nothing, keeps what was stored.
    let bad = tempfile::tempdir().unwrap();
    write(&bad.path().join("broken.json"), b"{\"Results\": [");
    let nothing = import_scans(store, &registry, bad.path(), "1.10.0", &mut |_| {}, now())
        .await
        .unwrap();
    assert!(!nothing.persisted);
    assert_eq!(nothing.file_errors.len(), 1);
    assert_eq!(scan_summary(store, "1.10.0").await.unwrap(), summary);
    assert_eq!(
        store
            .list_import_runs(Some(ImportKind::Scan), 10)
            .await
            .unwrap()
            .len(),
        2
    );

    // Adding a file keeps the rest.
    let extra = tempfile::tempdir().unwrap();
    write(
        &extra.path().join("ui2.json"),
        &trivy_for("alpine-310.json", "ghcr.io/kubeflow/kfp-launcher:2.5.0"),
    );
    let added = import_scans_with(
        store,
        &registry,
        extra.path(),
        "1.10.0",
        &ScanImportOptions {
            add: true,
            ..ScanImportOptions::default()
        },
        &mut |_| {},
        now(),
    )
    .await
    .unwrap();
    assert_eq!(added.summary.wgs["pipelines"].images, 3);
    assert_eq!(added.summary.wgs["training"], summary.wgs["training"]);

    // Unknown and refused releases.
    assert!(matches!(
        scan_summary(store, "9.9.9").await,
        Err(ReviewError::UnknownRelease(_))
    ));
    assert!(matches!(
        import_scans(store, &registry, dir.path(), "../1.10", &mut |_| {}, now()).await,
        Err(ReviewError::Store(StoreError::Invalid(_)))
    ));
    assert!(matches!(
        import_scans(
            store,
            &registry,
            &dir.path().join("missing"),
            "1.10.0",
            &mut |_| {},
            now()
        )
        .await,
        Err(ReviewError::Scan(_))
    ));
}

async fn scan_changes_between_releases(h: &Harness) {
    let store = &h.store;
    let registry = registry(store).await;
    let old = tempfile::tempdir().unwrap();
    release_dir(old.path(), KFP_API_OLD, "debian-buster.json");
    let new = tempfile::tempdir().unwrap();
    // kfp-api rebuilt with the same base (same findings, new tag);
    // kfp-frontend on a new base: debian-buster's 2 fixed, alpine-310's 4 new.
    release_dir(new.path(), KFP_API, "alpine-310.json");
    // Imported newest first: the order of versions decides.
    import_scans(store, &registry, new.path(), "1.10.0", &mut |_| {}, now())
        .await
        .unwrap();
    import_scans(store, &registry, old.path(), "1.9.0", &mut |_| {}, now())
        .await
        .unwrap();

    let changes = scan_changes(store, "1.10.0").await.unwrap();
    assert_eq!(changes.previous.as_deref(), Some("1.9.0"));
    assert_eq!(
        (changes.wgs["pipelines"].new, changes.wgs["pipelines"].fixed),
        (4, 2)
    );
    assert_eq!(
        (changes.wgs["training"].new, changes.wgs["training"].fixed),
        (0, 0)
    );
    assert_eq!((changes.unmapped.new, changes.unmapped.fixed), (0, 0));
    assert!(
        changes
            .new
            .iter()
            .chain(&changes.fixed)
            .all(|f| f.image == KFP_UI)
    );
    let v = serde_json::to_value(&changes).unwrap();
    assert_eq!(v["wgs"]["pipelines"], json!({"new": 4, "fixed": 2}));

    let first = scan_changes(store, "1.9.0").await.unwrap();
    assert_eq!(first.previous, None);
    assert_eq!(first.fixed.len(), 0);
    assert_eq!(
        first.new.len(),
        store.scan_findings("1.9.0").await.unwrap().len()
    );

    // A release candidate sorts before its release.
    import_scans(
        store,
        &registry,
        old.path(),
        "1.10.0-rc.1",
        &mut |_| {},
        now(),
    )
    .await
    .unwrap();
    assert_eq!(
        scan_changes(store, "1.10.0")
            .await
            .unwrap()
            .previous
            .as_deref(),
        Some("1.10.0-rc.1")
    );
    assert_eq!(
        scan_changes(store, "1.10.0-rc.1")
            .await
            .unwrap()
            .previous
            .as_deref(),
        Some("1.9.0")
    );
    assert_eq!(
        compare_versions("1.10.0", "1.9.0"),
        std::cmp::Ordering::Greater
    );
    assert!(matches!(
        scan_changes(store, "2.0").await,
        Err(ReviewError::UnknownRelease(_))
    ));
    // Releases newest first in version order, whatever the import order.
    let names: Vec<String> = releases(store)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.release)
        .collect();
    assert_eq!(names, ["1.10.0", "1.10.0-rc.1", "1.9.0"]);
    // The stored findings, as the unmapped row counts them.
    let findings = scan_findings(store, "1.10.0").await.unwrap();
    let summary = scan_summary(store, "1.10.0").await.unwrap();
    let pipelines = embargo_scan::counts_of(
        findings
            .iter()
            .filter(|f| f.wg.as_ref().is_some_and(|w| w.as_str() == "pipelines")),
    );
    assert_eq!(pipelines, summary.wgs["pipelines"]);
    assert!(matches!(
        scan_findings(store, "2.0").await,
        Err(ReviewError::UnknownRelease(_))
    ));
}

async fn scan_slices_go_to_each_wgs_leads(h: &Harness) {
    let store = &h.store;
    let registry = registry(store).await;
    add_user(
        store,
        "pl-lead",
        Role::WgLead,
        Some("pipelines"),
        Some("pl@example.org"),
        Some(public_key("pl@example.org")),
    )
    .await;
    add_user(
        store,
        "tr-lead",
        Role::WgLead,
        Some("training"),
        Some("tr@example.org"),
        None,
    )
    .await;
    let old = tempfile::tempdir().unwrap();
    release_dir(old.path(), KFP_API_OLD, "debian-buster.json");
    let new = tempfile::tempdir().unwrap();
    release_dir(new.path(), KFP_API, "alpine-310.json");
    import_scans(store, &registry, old.path(), "1.9.0", &mut |_| {}, now())
        .await
        .unwrap();
    import_scans(store, &registry, new.path(), "1.10.0", &mut |_| {}, now())
        .await
        .unwrap();

    let options = SliceOptions {
        admin_url: Some("https://security.project.example/admin/scans".into()),
        ..SliceOptions::default()
    };
    let mails = compose_scan_slices(store, &registry, &team(), "1.10.0", &options, now())
        .await
        .unwrap();
    assert_eq!(mails.len(), 2);
    let pl = mails.iter().find(|m| m.wg.as_str() == "pipelines").unwrap();
    assert!(pl.encrypted);
    assert_eq!(pl.composed.recipients, ["pl@example.org"]);
    assert!(
        header(&pl.composed.bytes, "Content-Type")
            .unwrap()
            .starts_with("multipart/encrypted")
    );
    let tr = mails.iter().find(|m| m.wg.as_str() == "training").unwrap();
    assert!(!tr.encrypted);
    assert!(
        header(&tr.composed.bytes, "Content-Type")
            .unwrap()
            .starts_with("text/plain")
    );
    // The notice names no finding.
    let ids: Vec<String> = store
        .scan_findings("1.10.0")
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.vuln_id)
        .collect();
    assert!(ids.iter().all(|id| !contains(&tr.composed.bytes, id)));
    assert!(contains(
        &tr.composed.bytes,
        "https://security.project.example/admin/scans"
    ));
    assert!(
        header(&tr.composed.bytes, "Subject")
            .unwrap()
            .starts_with("[SCAN-2026-")
    );

    let status = slice_status(store, &registry, "1.10.0").await.unwrap();
    let of = |wg: &str| status.iter().find(|s| s.wg.as_str() == wg).unwrap().clone();
    assert_eq!(
        (of("pipelines").leads, of("pipelines").leads_with_key),
        (1, 1)
    );
    assert_eq!(
        (of("training").leads, of("training").leads_with_key),
        (1, 0)
    );
    assert!(status.iter().all(|s| s.sent_at.is_none()));

    let sent = send_scan_slices(store, &registry, &team(), "1.10.0", &options, now())
        .await
        .unwrap();
    assert_eq!(sent.sent.len(), 2);
    let status = slice_status(store, &registry, "1.10.0").await.unwrap();
    let of = |wg: &str| status.iter().find(|s| s.wg.as_str() == wg).unwrap().clone();
    assert_eq!(of("pipelines").sent_at, Some(now()));
    assert_eq!(of("pipelines").sent_to, 1);
    let again = send_scan_slices(store, &registry, &team(), "1.10.0", &options, now())
        .await
        .unwrap();
    assert!(again.sent.is_empty());
    assert_eq!(again.already_sent.len(), 2);
    assert_eq!(store.list_outbox(None, 100).await.unwrap().len(), 2);
}
