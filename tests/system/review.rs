//! The team's procedures through the CLI: WG registry, release scans, the
//! bi-weekly review agenda.

use crate::support::{Gateway, assert_one_line_error};

fn corpus() -> Option<std::path::PathBuf> {
    let candidates = [
        std::env::var("EMBARGO_CORPUS_DIR").ok().map(Into::into),
        Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")),
        Some("/work/shared/corpus".into()),
    ];
    let found = candidates.into_iter().flatten().find(|c| c.is_dir());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but the shared corpus is missing"
        );
        eprintln!("skipping: shared/corpus not found");
    }
    found
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&crate::support::Gateway::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $name() {
                if let Some(g) = crate::support::Gateway::postgres() { super::$name(&g); }
            })*
        }
    };
}

both_backends!(registry_scans_and_agenda);

fn registry_scans_and_agenda(g: &Gateway) {
    let Some(corpus) = corpus() else { return };
    std::fs::create_dir_all(g.data().join("keys")).unwrap();
    // The lead's key, by file: slices are encrypted to it.
    let lead_key = embargo_pgp::generate_team_key("Lead <lead@example.org>").unwrap();
    std::fs::write(
        g.data().join("keys/lead.asc"),
        lead_key.public_armored().unwrap(),
    )
    .unwrap();
    std::fs::write(
        g.data().join("embargo.toml"),
        "[review]\nsla_critical_days = 3\ndigest_days = 14\n\
[[wg]]\nname = \"pipelines\"\nrepo = \"kubeflow/pipelines\"\nrepos = [\"kubeflow/kfp-tekton\"]\n\
leads = [\"lead@example.org\"]\nlead_keys = [\"keys/lead.asc\"]\npaths = [\"backend/src/apiserver/\"]\n\
images = [\"*kfp*\", \"*ml-pipeline*\", \"*:alpine-*\"]\nkeywords = [\"pipeline\", \"kfp\"]\n",
    )
    .unwrap();
    g.ok(&["init"]);

    let wgs = corpus.join("kubeflow/wgs.yaml");
    g.ok(&["wg", "import", wgs.to_str().unwrap()]);
    let list: serde_json::Value = serde_json::from_str(&g.ok(&["wg", "list", "--json"])).unwrap();
    let list = list.as_array().unwrap();
    assert!(list.len() >= 5, "{list:?}");
    for wg in list {
        for key in ["name", "repos", "labels", "leads", "images", "keywords"] {
            assert!(wg.get(key).is_some(), "wg lacks {key}: {wg}");
        }
    }
    let pipelines = list.iter().find(|w| w["name"] == "pipelines").unwrap();
    assert_eq!(
        pipelines["leads"][0], "lead@example.org",
        "hand-set leads are kept"
    );
    assert_eq!(pipelines["lead_details"][0]["has_key"], true);
    assert_eq!(pipelines["repos"][0], "kubeflow/pipelines");
    assert_eq!(pipelines["repos"][1], "kubeflow/kfp-tekton");
    assert_eq!(pipelines["paths"][0], "backend/src/apiserver/");

    // Release scans: every Trivy sample plus one broken file.
    let dir = g.dir.path().join("scans");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(corpus.join("scans/trivy/json")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) == Some("json") {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(dir.join("broken.json"), "{\"Results\": [").unwrap();
    let out = g.run(&[
        "scan",
        "import",
        dir.to_str().unwrap(),
        "--release",
        "1.10.0",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.json"));
    let summary: serde_json::Value =
        serde_json::from_str(&g.ok(&["scan", "summary", "--release", "1.10.0", "--json"])).unwrap();
    assert_eq!(summary["release"], "1.10.0");
    assert!(
        summary["wgs"].is_object() && summary["unmapped"].is_array(),
        "{summary}"
    );
    for counts in summary["wgs"].as_object().unwrap().values() {
        for key in ["images", "LOW", "MEDIUM", "HIGH", "CRITICAL", "UNKNOWN"] {
            assert!(counts.get(key).is_some(), "{counts}");
        }
    }
    let unknown = g.run(&["scan", "summary", "--release", "0.0.1", "--json"]);
    assert_one_line_error(&unknown);
    // The first release: everything is new.
    let changes: serde_json::Value =
        serde_json::from_str(&g.ok(&["scan", "changes", "--release", "1.10.0", "--json"])).unwrap();
    assert_eq!(changes["previous"], serde_json::Value::Null);
    assert!(!changes["new"].as_array().unwrap().is_empty());
    assert!(changes["fixed"].as_array().unwrap().is_empty());
    assert_one_line_error(&g.run(&["scan", "changes", "--release", "0.0.1", "--json"]));

    // The import sent the pipelines leads their slice (the alpine images
    // are theirs), encrypted to the lead's key, once.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "slice of 1.10.0 queued for WG pipelines (1 lead(s), 1 encrypted, 0 notice(s))"
        ),
        "{stderr}"
    );
    let outbox = |g: &Gateway| -> usize {
        serde_json::from_str::<serde_json::Value>(&g.ok(&["outbox", "list", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(outbox(g), 1);
    let again = g.run(&["scan", "send", "--release", "1.10.0"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("was sent before"));
    assert_eq!(outbox(g), 1);
    // --no-send imports only; `scan send` sends later.
    let out = g.run(&[
        "scan",
        "import",
        dir.to_str().unwrap(),
        "--release",
        "1.11.0",
        "--no-send",
    ]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("queued"));
    assert_eq!(outbox(g), 1);
    // The same images again: nothing new, nothing fixed.
    let changes: serde_json::Value =
        serde_json::from_str(&g.ok(&["scan", "changes", "--release", "1.11.0", "--json"])).unwrap();
    assert_eq!(changes["previous"], "1.10.0");
    assert!(changes["new"].as_array().unwrap().is_empty());
    assert!(changes["fixed"].as_array().unwrap().is_empty());
    let sent = g.run(&["scan", "send", "--release", "1.11.0"]);
    assert!(
        String::from_utf8_lossy(&sent.stderr).contains("slice of 1.11.0 queued for WG pipelines")
    );
    assert_eq!(outbox(g), 2);
    assert_one_line_error(&g.run(&["scan", "send", "--release", "0.0.1"]));

    // The agenda: JSON with the contract's keys, then marked done.
    let agenda: serde_json::Value =
        serde_json::from_str(&g.ok(&["review", "agenda", "--format", "json"])).unwrap();
    for key in ["since", "reports", "public_issues", "overdue"] {
        assert!(agenda.get(key).is_some(), "agenda lacks {key}: {agenda}");
    }
    let md = g.ok(&["review", "agenda", "--format", "markdown"]);
    assert!(md.starts_with('#'), "{md}");
    g.ok(&["review", "done", "--by", "admin"]);
    let bad = g.run(&[
        "review",
        "agenda",
        "--since",
        "yesterday",
        "--format",
        "json",
    ]);
    assert!(assert_one_line_error(&bad).contains("--since"));
}
