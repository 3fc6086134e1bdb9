//! Release-scan import against the shared corpus of real Trivy and Grype
//! reports, and a synthetic kubeflow/manifests scan directory built from them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use embargo_domain::WgName;
use embargo_scan::{
    Finding, ImportOptions, Progress, ScanFormat, ScanSeverity, diff, import_path,
    import_path_with, parse_report, summarize,
};
use embargo_wg::{Registry, WgConfig};
use serde_json::{Value, json};

fn corpus(rel: &str) -> PathBuf {
    let base = std::env::var_os("EMBARGO_CORPUS")
        .map(PathBuf::from)
        .or_else(|| {
            let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
            beside.is_dir().then_some(beside)
        })
        .unwrap_or_else(|| PathBuf::from("/work/shared/corpus"));
    base.join(rel)
}

fn sample(rel: &str) -> Value {
    serde_json::from_slice(&fs::read(corpus(rel)).unwrap()).unwrap()
}

fn name(s: &str) -> WgName {
    WgName::parse(s).unwrap()
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Independent of the crate: the bucket a raw severity string falls in.
fn bucket(raw: Option<&str>) -> &'static str {
    match raw.map(str::to_uppercase).as_deref() {
        Some("LOW" | "NEGLIGIBLE") => "LOW",
        Some("MEDIUM" | "MODERATE") => "MEDIUM",
        Some("HIGH" | "IMPORTANT") => "HIGH",
        Some("CRITICAL") => "CRITICAL",
        _ => "UNKNOWN",
    }
}

/// Independent of the crate: severity histogram of a report by walking
/// serde_json::Value, or None when it is neither Trivy nor Grype.
fn expected_histogram(v: &Value) -> Option<(ScanFormat, BTreeMap<&'static str, usize>)> {
    let obj = v.as_object()?;
    let mut hist = BTreeMap::new();
    if obj.contains_key("Results") || obj.contains_key("SchemaVersion") {
        for result in obj
            .get("Results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for vuln in result
                .get("Vulnerabilities")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                *hist
                    .entry(bucket(vuln.get("Severity").and_then(Value::as_str)))
                    .or_default() += 1;
            }
        }
        return Some((ScanFormat::Trivy, hist));
    }
    let matches = obj.get("matches")?.as_array()?;
    for m in matches {
        *hist
            .entry(bucket(m["vulnerability"]["severity"].as_str()))
            .or_default() += 1;
    }
    Some((ScanFormat::Grype, hist))
}

#[test]
fn every_corpus_scan_file_parses() {
    let mut files = Vec::new();
    files_under(&corpus("scans"), &mut files);
    files.sort();
    let (mut trivy, mut grype, mut refused) = (0, 0, 0);
    let mut total_findings = 0;
    for file in &files {
        if file.file_name().unwrap() == "LICENSE" {
            continue;
        }
        let bytes = fs::read(file).unwrap();
        let expected = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| expected_histogram(&v));
        let parsed = parse_report(&bytes);
        match expected {
            Some((format, hist)) => {
                let report = parsed.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                assert_eq!(report.format, format, "{}", file.display());
                assert_eq!(report.dropped, 0, "{}", file.display());
                assert!(!report.image.is_empty());
                let mut got: BTreeMap<&'static str, usize> = BTreeMap::new();
                for f in &report.findings {
                    *got.entry(f.severity.as_str()).or_default() += 1;
                }
                assert_eq!(got, hist, "{}", file.display());
                total_findings += report.findings.len();
                match format {
                    ScanFormat::Trivy => trivy += 1,
                    ScanFormat::Grype => grype += 1,
                }
            }
            None => {
                // SARIF, CycloneDX, SPDX, ASFF, GitLab, JUnit XML: refused
                // with a reason, never a panic.
                let err = parsed.expect_err(&file.display().to_string());
                assert!(!err.to_string().is_empty());
                refused += 1;
            }
        }
    }
    assert_eq!(grype, 1);
    assert!(trivy >= 40, "trivy samples: {trivy}");
    assert!(refused >= 10, "refused: {refused}");
    assert!(total_findings >= 70, "{total_findings}");
}

#[test]
fn trivy_sample_in_detail() {
    let v = sample("scans/trivy/json/alpine-39.json");
    let report =
        parse_report(&fs::read(corpus("scans/trivy/json/alpine-39.json")).unwrap()).unwrap();
    // Independent count: Results[].Vulnerabilities[] by Value traversal.
    let expected: Vec<(String, String, String, Option<String>, String)> = v["Results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .map(|v| {
            (
                v["VulnerabilityID"].as_str().unwrap().to_owned(),
                v["PkgName"].as_str().unwrap().to_owned(),
                v["InstalledVersion"].as_str().unwrap().to_owned(),
                v["FixedVersion"].as_str().map(str::to_owned),
                v["Severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(expected.len(), 6);
    let got: Vec<(String, String, String, Option<String>, String)> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.vuln_id.clone(),
                f.package.clone(),
                f.installed.clone(),
                f.fixed.clone(),
                f.severity.to_string(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    // ArtifactName is a local archive: the image reference comes from the
    // report's metadata.
    assert_eq!(
        report.image,
        "ghcr.io/aquasecurity/trivy-test-images:alpine-39"
    );
}

#[test]
fn grype_sample_in_detail() {
    let v = sample("scans/grype/TestJsonImgsPresenter.golden.json");
    let report =
        parse_report(&fs::read(corpus("scans/grype/TestJsonImgsPresenter.golden.json")).unwrap())
            .unwrap();
    assert_eq!(report.format, ScanFormat::Grype);
    assert_eq!(
        report.image,
        v["source"]["target"]["userInput"].as_str().unwrap()
    );
    assert_eq!(
        report.findings.len(),
        v["matches"].as_array().unwrap().len()
    );
    let first = &report.findings[0];
    assert_eq!(first.vuln_id, "CVE-1999-0001");
    assert_eq!(first.package, "package-1");
    assert_eq!(first.installed, "1.1.1");
    assert_eq!(first.fixed.as_deref(), Some("1.2.1, 2.1.3, 3.4.0"));
    assert_eq!(first.severity, ScanSeverity::Low);
    let second = &report.findings[1];
    assert_eq!(second.vuln_id, "CVE-1999-0002");
    assert_eq!(second.fixed, None);
    assert_eq!(second.severity, ScanSeverity::Critical);
}

#[test]
fn unknown_and_odd_severities_are_kept() {
    // gomod-vex: four findings the scanner rated UNKNOWN.
    let report =
        parse_report(&fs::read(corpus("scans/trivy/json/gomod-vex.json")).unwrap()).unwrap();
    assert_eq!(report.findings.len(), 4);
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.severity == ScanSeverity::Unknown)
    );
    // Grype's Negligible and Unknown, and a severity nobody has heard of.
    let grype = json!({
        "matches": [
            {"vulnerability": {"id": "CVE-1", "severity": "Negligible"}, "artifact": {"name": "a", "version": "1"}},
            {"vulnerability": {"id": "CVE-2", "severity": "Unknown"}, "artifact": {"name": "b", "version": "1"}},
            {"vulnerability": {"id": "CVE-3", "severity": "Apocalyptic"}, "artifact": {"name": "c", "version": "1"}},
            {"vulnerability": {"id": "CVE-4"}, "artifact": {"name": "d"}}
        ],
        "source": {"type": "image", "target": {"userInput": "quay.io/x/y:1"}}
    });
    let report = parse_report(grype.to_string().as_bytes()).unwrap();
    let severities: Vec<ScanSeverity> = report.findings.iter().map(|f| f.severity).collect();
    assert_eq!(
        severities,
        [
            ScanSeverity::Low,
            ScanSeverity::Unknown,
            ScanSeverity::Unknown,
            ScanSeverity::Unknown
        ]
    );
    let s = summarize(
        "1.0.0",
        &report
            .findings
            .iter()
            .map(|f| Finding {
                wg: Some(name("data")),
                image: report.image.clone(),
                vuln_id: f.vuln_id.clone(),
                package: f.package.clone(),
                installed: f.installed.clone(),
                fixed: f.fixed.clone(),
                severity: f.severity,
            })
            .collect::<Vec<_>>(),
    );
    assert_eq!(s.wgs["data"].unknown, 3);
    assert_eq!(s.wgs["data"].low, 1);
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// A Trivy sample re-targeted at `image`, as `trivy image IMAGE` would name it.
fn trivy_for(sample_rel: &str, image: &str) -> Vec<u8> {
    let mut v = sample(sample_rel);
    v["ArtifactName"] = json!(image);
    if let Some(meta) = v.get_mut("Metadata").and_then(Value::as_object_mut) {
        meta.remove("RepoTags");
        meta.remove("Reference");
    }
    serde_json::to_vec_pretty(&v).unwrap()
}

const KFP_API: &str = "ghcr.io/kubeflow/kfp-api-server:2.5.0";
const KFP_UI: &str = "ghcr.io/kubeflow/kfp-frontend:2.5.0";
const KATIB: &str = "ghcr.io/kubeflow/katib/katib-controller:v0.18.0";
const DASHBOARD: &str = "ghcr.io/kubeflow/kubeflow/centraldashboard:v1.10.0";
const STRAY: &str = "quay.io/stray/thing:1";
const CLEAN: &str = "ghcr.io/kubeflow/kfp-cache-server:2.5.0";

/// The layout kubeflow/manifests' tests/trivy_scan.py leaves behind for
/// version 1.10.0, with real Trivy reports re-targeted at Kubeflow images.
fn kubeflow_layout(root: &Path) {
    let lists = root.join("image_lists");
    let lines = |images: &[&str]| images.join("\n").into_bytes();
    write(
        &lists.join("kf_1.10.0_pipelines_images.txt"),
        &lines(&[KFP_API, KFP_UI, CLEAN]),
    );
    write(&lists.join("kf_1.10.0_katib_images.txt"), &lines(&[KATIB]));
    write(
        &lists.join("kf_1.10.0_workbenches_images.txt"),
        &lines(&[DASHBOARD]),
    );
    write(
        &lists.join("kf_1.10.0_all_images.txt"),
        &lines(&[
            KFP_API,
            KFP_UI,
            CLEAN,
            KATIB,
            DASHBOARD,
            STRAY,
            "",
            "# comment",
        ]),
    );
    let reports = lists.join("security_scan_reports");
    let wg_dir = |wg: &str| reports.join(format!("kf_1.10.0_{wg}_images"));
    let all = [
        (
            "pipelines",
            "kfp-api-server_2.5.0",
            "scans/trivy/json/alpine-39.json",
            KFP_API,
        ),
        (
            "pipelines",
            "kfp-frontend_2.5.0",
            "scans/trivy/json/debian-buster.json",
            KFP_UI,
        ),
        (
            "pipelines",
            "kfp-cache-server_2.5.0",
            "scans/trivy/json/alpine-39-skip.json",
            CLEAN,
        ),
        (
            "katib",
            "katib-controller_v0.18.0",
            "scans/trivy/json/gomod-vex.json",
            KATIB,
        ),
        (
            "workbenches",
            "centraldashboard_v1.10.0",
            "scans/trivy/json/ubuntu-1804.json",
            DASHBOARD,
        ),
    ];
    for (wg, file, sample_rel, image) in all {
        let body = trivy_for(sample_rel, image);
        write(&wg_dir(wg).join(format!("{file}_scan.json")), &body);
        // The script scans the `all` list too (except for `latest`).
        write(&wg_dir("all").join(format!("{file}_scan.json")), &body);
    }
    write(
        &wg_dir("all").join("thing_1_scan.json"),
        &trivy_for("scans/trivy/json/alpine-310.json", STRAY),
    );
    // The script's derived outputs: skipped, not errors.
    write(
        &wg_dir("pipelines").join("severity_counts/kfp-api-server_2.5.0_severity_report.json"),
        br#"{"image": "x", "severity_counts": {"LOW": 0}}"#,
    );
    write(
        &lists.join("severity_counts_with_images_for_WG/kf_1.10.0_pipelines_images.json"),
        br#"{"data": []}"#,
    );
    write(
        &lists.join("summary_of_severity_counts_for_WG/severity_summary_in_json_format.json"),
        br#"{"Pipelines": {"images": 2}}"#,
    );
    write(
        &lists.join(
            "summary_of_severity_counts_for_WG/summary_of_severity_counts_for_WGs_in_table.txt",
        ),
        b"+---+",
    );
}

fn imported_registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .import_wgs_yaml(&fs::read_to_string(corpus("kubeflow/wgs.yaml")).unwrap())
        .unwrap();
    registry
}

#[test]
fn kubeflow_layout_places_images_by_wg_token() {
    let dir = tempfile::tempdir().unwrap();
    kubeflow_layout(dir.path());
    let registry = imported_registry();
    let outcome = import_path(dir.path(), &registry).unwrap();

    assert!(outcome.file_errors.is_empty(), "{:?}", outcome.file_errors);
    assert_eq!(outcome.image_lists, 4);
    assert_eq!(outcome.files_ok, 11);
    assert_eq!(outcome.files_skipped, 3); // severity_counts/, two derived dirs
    let wgs = |image: &str| -> Vec<String> {
        outcome.images[image]
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    // `pipelines` is a registry WG; `katib` resolves through kubeflow/katib
    // to training; `workbenches` is unknown to the registry and taken as is.
    assert_eq!(wgs(KFP_API), ["pipelines"]);
    assert_eq!(wgs(CLEAN), ["pipelines"]);
    assert_eq!(wgs(KATIB), ["training"]);
    assert_eq!(wgs(DASHBOARD), ["workbenches"]);
    // Only in the `all` list: no WG, listed, kept.
    assert_eq!(wgs(STRAY), Vec::<String>::new());
    assert_eq!(outcome.unmapped_images, BTreeSet::from([STRAY.to_owned()]));
    assert!(outcome.listed_not_scanned.is_empty());
    let stray: Vec<&Finding> = outcome
        .findings
        .iter()
        .filter(|f| f.image == STRAY)
        .collect();
    assert_eq!(stray.len(), 4);
    assert!(stray.iter().all(|f| f.wg.is_none()));
    // Identical findings are kept once: reports scanned twice (WG list and
    // `all`), and gomod-vex's GMS-2022-20, reported identically for three
    // targets: 6 + 2 + 2 + 5 + 4.
    assert_eq!(outcome.findings.len(), 19);

    let summary = outcome.summary("1.10.0");
    assert_eq!(
        serde_json::to_value(&summary).unwrap(),
        json!({
            "release": "1.10.0",
            "wgs": {
                "pipelines": {"images": 3, "LOW": 1, "MEDIUM": 4, "HIGH": 0, "CRITICAL": 3, "UNKNOWN": 0},
                // gomod-vex: GMS-2022-20 in one package three times counts once.
                "training": {"images": 1, "LOW": 0, "MEDIUM": 0, "HIGH": 0, "CRITICAL": 0, "UNKNOWN": 2},
                "workbenches": {"images": 1, "LOW": 1, "MEDIUM": 4, "HIGH": 0, "CRITICAL": 0, "UNKNOWN": 0}
            },
            "unmapped": [STRAY]
        })
    );
    // From findings alone the clean image is not known.
    let from_findings = summarize("1.10.0", &outcome.findings);
    assert_eq!(from_findings.wgs["pipelines"].images, 2);
}

#[test]
fn registry_patterns_take_precedence_over_layout_tokens() {
    let dir = tempfile::tempdir().unwrap();
    kubeflow_layout(dir.path());
    let mut registry = imported_registry();
    let config: WgConfig = toml::from_str(
        r#"
name = "notebooks"
images = ["ghcr.io/kubeflow/kubeflow/*"]
"#,
    )
    .unwrap();
    registry.apply_config(&config).unwrap();
    let stray: WgConfig =
        toml::from_str("name = \"data\"\nimages = [\"quay.io/stray/*\"]").unwrap();
    registry.apply_config(&stray).unwrap();
    let outcome = import_path(dir.path(), &registry).unwrap();
    assert_eq!(outcome.images[DASHBOARD], [name("notebooks")]);
    assert_eq!(outcome.images[STRAY], [name("data")]);
    assert!(outcome.unmapped_images.is_empty());
    let summary = outcome.summary("1.10.0");
    assert!(summary.unmapped.is_empty());
    assert!(!summary.wgs.contains_key("workbenches"));
    assert_eq!(summary.wgs["notebooks"].medium, 4);
    assert_eq!(summary.wgs["data"].medium, 4);
}

#[test]
fn an_image_listed_for_two_wgs_counts_in_both() {
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("image_lists");
    write(
        &lists.join("kf_1.10.0_kserve_images.txt"),
        KFP_API.as_bytes(),
    );
    write(
        &lists.join("kf_1.10.0_pipelines_images.txt"),
        KFP_API.as_bytes(),
    );
    write(
        &lists.join("security_scan_reports/kf_1.10.0_kserve_images/kfp-api-server_2.5.0_scan.json"),
        &trivy_for("scans/trivy/json/alpine-39.json", KFP_API),
    );
    // Listed but its scan failed: no report.
    write(
        &lists.join("kf_1.10.0_spark_images.txt"),
        b"docker.io/kubeflow/spark-operator:2.1.0\n",
    );
    let outcome = import_path(dir.path(), &imported_registry()).unwrap();
    assert_eq!(outcome.images[KFP_API], [name("kserve"), name("pipelines")]);
    assert_eq!(outcome.findings.len(), 12);
    assert_eq!(
        outcome.listed_not_scanned,
        BTreeSet::from(["docker.io/kubeflow/spark-operator:2.1.0".to_owned()])
    );
    let summary = outcome.summary("1.10.0");
    assert_eq!(summary.wgs["kserve"], summary.wgs["pipelines"]);
    assert_eq!(summary.wgs["kserve"].critical, 2);
}

#[test]
fn malformed_files_are_reported_and_the_rest_imports() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let good = fs::read(corpus("scans/trivy/json/alpine-39.json")).unwrap();
    write(&root.join("a-good.json"), &good);
    write(&root.join("b-truncated.json"), &good[..good.len() / 2]);
    write(
        &root.join("c/grype.json"),
        &fs::read(corpus("scans/grype/TestJsonImgsPresenter.golden.json")).unwrap(),
    );
    write(&root.join("c/empty.json"), b"");
    write(
        &root.join("c/sbom.json"),
        &fs::read(corpus("scans/trivy/sbom/npm-cyclonedx.json")).unwrap(),
    );
    write(
        &root.join("c/wrong-type.json"),
        br#"{"ArtifactName": "x:1", "Results": [{"Vulnerabilities": [{"VulnerabilityID": 7}]}]}"#,
    );
    write(
        &root.join("d/ubuntu.json"),
        &fs::read(corpus("scans/trivy/json/ubuntu-1804.json")).unwrap(),
    );
    write(&root.join("notes.md"), b"not a report");

    let outcome = import_path(root, &Registry::new()).unwrap();
    assert_eq!(outcome.files_ok, 3);
    let errors: BTreeMap<String, String> = outcome
        .file_errors
        .iter()
        .map(|(p, r)| {
            (
                p.strip_prefix(root).unwrap().display().to_string(),
                r.clone(),
            )
        })
        .collect();
    assert_eq!(
        errors.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "b-truncated.json",
            "c/empty.json",
            "c/sbom.json",
            "c/wrong-type.json"
        ]
    );
    assert!(
        errors["b-truncated.json"].starts_with("not JSON"),
        "{errors:?}"
    );
    assert!(errors["c/sbom.json"].contains("CycloneDX"), "{errors:?}");
    assert!(errors["c/wrong-type.json"].contains("line 1"), "{errors:?}");
    assert_eq!(outcome.files_skipped, 1);
    assert_eq!(outcome.findings.len(), 6 + 2 + 5);
    // No registry: every image is unmapped, none dropped.
    assert_eq!(outcome.unmapped_images.len(), 3);
    assert!(outcome.findings.iter().all(|f| f.wg.is_none()));
    let summary = outcome.summary("1.10.0");
    assert!(summary.wgs.is_empty());
    assert_eq!(summary.unmapped.len(), 3);
}

#[test]
fn a_single_file_or_a_missing_path() {
    let registry = Registry::new();
    let one = import_path(&corpus("scans/trivy/json/debian-buster.json"), &registry).unwrap();
    assert_eq!(one.files_ok, 1);
    assert_eq!(one.findings.len(), 2);
    // A file given by name is read whatever its extension.
    let golden = import_path(
        &corpus("scans/trivy/other-formats/alpine-310.sarif.golden"),
        &registry,
    )
    .unwrap();
    assert_eq!(golden.files_ok, 0);
    assert!(golden.file_errors[0].1.contains("SARIF"));
    assert!(import_path(Path::new("/nonexistent/scans"), &registry).is_err());
}

#[test]
fn limits_are_enforced_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        &root.join("small.json"),
        &fs::read(corpus("scans/trivy/json/debian-buster.json")).unwrap(),
    );
    write(
        &root.join("big.json"),
        &fs::read(corpus("scans/trivy/json/alpine-39.json")).unwrap(),
    );
    write(
        &root.join("a/b/c/deep.json"),
        &fs::read(corpus("scans/trivy/json/ubi-7.json")).unwrap(),
    );
    let small = fs::metadata(root.join("small.json")).unwrap().len();
    let options = ImportOptions {
        max_file_bytes: small,
        max_depth: 2,
        ..ImportOptions::default()
    };
    let outcome = import_path_with(root, &Registry::new(), &options, &mut |_| {}).unwrap();
    assert_eq!(outcome.files_ok, 1);
    assert_eq!(outcome.file_errors.len(), 1);
    assert!(outcome.file_errors[0].1.contains("limit"));
    assert_eq!(outcome.files_skipped, 1); // a/b/c is too deep

    let options = ImportOptions {
        max_findings: 3,
        ..ImportOptions::default()
    };
    let outcome = import_path_with(root, &Registry::new(), &options, &mut |_| {}).unwrap();
    assert!(outcome.truncated);
    assert_eq!(outcome.findings.len(), 3);
    assert!(!outcome.warnings.is_empty());
    assert!(!outcome.file_errors.is_empty());
}

#[cfg(unix)]
#[test]
fn symbolic_links_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("scans");
    let outside = dir.path().join("outside");
    write(
        &outside.join("secret.json"),
        &fs::read(corpus("scans/trivy/json/alpine-39.json")).unwrap(),
    );
    write(
        &root.join("real.json"),
        &fs::read(corpus("scans/trivy/json/debian-buster.json")).unwrap(),
    );
    std::os::unix::fs::symlink(outside.join("secret.json"), root.join("link.json")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("linkdir")).unwrap();
    std::os::unix::fs::symlink(&root, root.join("loop")).unwrap();
    let outcome = import_path(&root, &Registry::new()).unwrap();
    assert_eq!(outcome.files_ok, 1);
    assert_eq!(outcome.files_skipped, 3);
    assert_eq!(outcome.findings.len(), 2);
}

#[test]
fn progress_is_reported_for_every_file() {
    let dir = tempfile::tempdir().unwrap();
    kubeflow_layout(dir.path());
    let mut seen: Vec<Progress> = Vec::new();
    let outcome = import_path_with(
        dir.path(),
        &imported_registry(),
        &ImportOptions::default(),
        &mut |p| seen.push(p),
    )
    .unwrap();
    let total = outcome.image_lists + outcome.files_ok + outcome.file_errors.len();
    assert_eq!(seen.len(), total + 1);
    assert_eq!(seen.first().unwrap().files_done, 0);
    assert!(seen.iter().all(|p| p.files_total == total));
    assert!(
        seen.windows(2)
            .all(|w| w[1].files_done == w[0].files_done + 1)
    );
    assert_eq!(seen.last().unwrap().files_done, total);
}

fn finding(wg: Option<&str>, image: &str, id: &str, package: &str, installed: &str) -> Finding {
    Finding {
        wg: wg.map(name),
        image: image.to_owned(),
        vuln_id: id.to_owned(),
        package: package.to_owned(),
        installed: installed.to_owned(),
        fixed: None,
        severity: ScanSeverity::High,
    }
}

#[test]
fn diff_reports_new_and_fixed_per_wg() {
    let previous = vec![
        finding(
            Some("pipelines"),
            "ghcr.io/kubeflow/kfp-api-server:2.4.0",
            "CVE-A",
            "openssl",
            "3.0.1",
        ),
        finding(
            Some("pipelines"),
            "ghcr.io/kubeflow/kfp-api-server:2.4.0",
            "CVE-B",
            "zlib",
            "1.2",
        ),
        finding(None, "quay.io/stray/thing:1", "CVE-S", "curl", "7"),
    ];
    let current = vec![
        // Same repository, new tag, new installed version: still there.
        finding(
            Some("pipelines"),
            "ghcr.io/kubeflow/kfp-api-server:2.5.0",
            "CVE-B",
            "zlib",
            "1.3",
        ),
        finding(
            Some("pipelines"),
            "ghcr.io/kubeflow/kfp-api-server:2.5.0@sha256:ab",
            "CVE-C",
            "curl",
            "8",
        ),
        // The same vulnerability in another WG is new there.
        finding(
            Some("training"),
            "ghcr.io/kubeflow/katib/katib-controller:v0.18.0",
            "CVE-A",
            "openssl",
            "3.0.1",
        ),
        finding(None, "quay.io/stray/thing:2", "CVE-S", "curl", "7"),
    ];
    let d = diff(&previous, &current);
    let ids = |v: &[Finding]| -> Vec<(String, String)> {
        v.iter()
            .map(|f| {
                (
                    f.wg.as_ref().map(ToString::to_string).unwrap_or_default(),
                    f.vuln_id.clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        ids(&d.new),
        [
            ("pipelines".to_owned(), "CVE-C".to_owned()),
            ("training".to_owned(), "CVE-A".to_owned())
        ]
    );
    assert_eq!(
        ids(&d.fixed),
        [("pipelines".to_owned(), "CVE-A".to_owned())]
    );
    let per = d.per_wg();
    assert_eq!(per[&Some(name("pipelines"))].new, 1);
    assert_eq!(per[&Some(name("pipelines"))].fixed, 1);
    assert_eq!(per[&Some(name("training"))].new, 1);
    assert!(!per.contains_key(&None));
    // Nothing changes against itself.
    assert_eq!(diff(&current, &current), Default::default());
}

#[test]
fn diff_between_two_imported_scans() {
    let registry = imported_registry();
    let before = tempfile::tempdir().unwrap();
    kubeflow_layout(before.path());
    let after = tempfile::tempdir().unwrap();
    kubeflow_layout(after.path());
    // The next release: kfp-frontend rebuilt on a base with fewer findings.
    let reports = after.path().join("image_lists/security_scan_reports");
    for wg in ["pipelines", "all"] {
        write(
            &reports.join(format!(
                "kf_1.10.0_{wg}_images/kfp-frontend_2.5.0_scan.json"
            )),
            &trivy_for("scans/trivy/json/alpine-310.json", KFP_UI),
        );
    }
    let a = import_path(before.path(), &registry).unwrap();
    let b = import_path(after.path(), &registry).unwrap();
    let d = diff(&a.findings, &b.findings);
    assert_eq!(d.fixed.len(), 2); // debian-buster's two
    assert_eq!(d.new.len(), 4); // alpine-310's four
    assert!(d.new.iter().chain(&d.fixed).all(|f| f.image == KFP_UI));
}

#[test]
fn summary_shape_is_exactly_the_contract() {
    let findings = vec![
        finding(Some("pipelines"), KFP_API, "CVE-1", "openssl", "1"),
        // Same (image, vuln, package), another installed version: once, at
        // the worst severity.
        Finding {
            severity: ScanSeverity::Critical,
            ..finding(Some("pipelines"), KFP_API, "CVE-1", "openssl", "2")
        },
        Finding {
            severity: ScanSeverity::Unknown,
            ..finding(Some("pipelines"), KFP_UI, "CVE-2", "zlib", "1")
        },
        finding(None, STRAY, "CVE-3", "curl", "1"),
        finding(None, STRAY, "CVE-4", "curl", "1"),
    ];
    let summary = summarize("1.10.0", &findings);
    let text = serde_json::to_string(&summary).unwrap();
    assert_eq!(
        text,
        r#"{"release":"1.10.0","wgs":{"pipelines":{"images":2,"LOW":0,"MEDIUM":0,"HIGH":0,"CRITICAL":1,"UNKNOWN":1}},"unmapped":["quay.io/stray/thing:1"]}"#
    );
    let back: embargo_scan::Summary = serde_json::from_str(&text).unwrap();
    assert_eq!(back, summary);
    let empty = serde_json::to_value(summarize("2.0.0", &[])).unwrap();
    assert_eq!(
        empty,
        json!({"release": "2.0.0", "wgs": {}, "unmapped": []})
    );
}

#[test]
fn findings_round_trip_through_json() {
    let f = finding(Some("pipelines"), KFP_API, "CVE-1", "openssl", "1");
    let v = serde_json::to_value(&f).unwrap();
    assert_eq!(v["severity"], "HIGH");
    assert_eq!(serde_json::from_value::<Finding>(v).unwrap(), f);
    let bad = json!({"wg": "Not Valid", "image": "x", "vuln_id": "a", "package": "b", "installed": "", "fixed": null, "severity": "LOW"});
    assert!(serde_json::from_value::<Finding>(bad).is_err());
}
