//! The WG registry against Kubeflow's real community files and realistic
//! report texts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use embargo_domain::WgName;
use embargo_wg::{Field, Lead, Registry, Wg, WgConfig, WgError};

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

fn read(rel: &str) -> String {
    std::fs::read_to_string(corpus(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn name(s: &str) -> WgName {
    WgName::parse(s).unwrap()
}

fn imported() -> Registry {
    let mut registry = Registry::new();
    registry
        .import_wgs_yaml(&read("kubeflow/wgs.yaml"))
        .unwrap();
    registry
}

const TEAM_CONFIG: &str = r#"
[[wg]]
name = "pipelines"
repo = "kubeflow/pipelines"
leads = ["lead@example.org", { email = "chen@example.org", github = "chensun" }]
images = ["ghcr.io/kubeflow/kfp-*", "gcr.io/ml-pipeline/*"]
keywords = ["pipeline", "kfp"]

[[wg]]
name = "training"
images = ["ghcr.io/kubeflow/katib/*", "ghcr.io/kubeflow/trainer/*", "docker.io/kubeflowkatib/*"]
paths = ["pkg/controller.v1beta1/"]

[[wg]]
name = "manifests"
repo = "kubeflow/manifests"
images = ["ghcr.io/kubeflow/*"]
keywords = ["istio", "dex", "oauth2-proxy"]
"#;

#[derive(serde::Deserialize)]
struct TeamConfig {
    wg: Vec<WgConfig>,
}

fn team_config() -> Vec<WgConfig> {
    toml::from_str::<TeamConfig>(TEAM_CONFIG).unwrap().wg
}

#[test]
fn imports_the_kubeflow_wgs_yaml() {
    let mut registry = Registry::new();
    let report = registry
        .import_wgs_yaml(&read("kubeflow/wgs.yaml"))
        .unwrap();
    let names: Vec<&str> = registry.wgs().map(|w| w.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "data",
            "ml-experience",
            "notebooks",
            "pipelines",
            "training"
        ]
    );
    assert_eq!(report.added.len(), 5);
    assert!(report.updated.is_empty() && report.unchanged.is_empty());
    assert!(report.missing.is_empty() && report.skipped.is_empty());
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    let data = registry.get(&name("data")).unwrap();
    assert_eq!(data.title.as_deref(), Some("Data"));
    assert_eq!(data.repos, ["kubeflow/hub", "kubeflow/spark-operator"]);
    assert_eq!(data.keywords, ["hub", "spark-operator"]);
    let notebooks = registry.get(&name("notebooks")).unwrap();
    // github.com/.../blob/... URLs as well as raw.githubusercontent.com.
    assert_eq!(
        notebooks.repos,
        ["kubeflow/dashboard", "kubeflow/notebooks"]
    );
    let ml = registry.get(&name("ml-experience")).unwrap();
    assert_eq!(ml.title.as_deref(), Some("ML Experience"));
    assert_eq!(ml.keywords, ["kale", "mcp server", "sdk"]);
    let training = registry.get(&name("training")).unwrap();
    assert_eq!(
        training.repos,
        [
            "kubeflow/katib",
            "kubeflow/mpi-operator",
            "kubeflow/trainer"
        ]
    );
    let first = training.leads.first().unwrap();
    assert_eq!(first.github.as_deref(), Some("andreyvelich"));
    assert_eq!(first.name.as_deref(), Some("Andrey Velichkevich"));
    assert_eq!(first.company.as_deref(), Some("Apple"));
    assert_eq!(first.email, None);
    // Nothing from the file is hand-set; images never come from it.
    assert!(
        registry
            .wgs()
            .all(|w| w.hand_set.is_empty() && w.images.is_empty())
    );
}

#[test]
fn imported_leads_match_owners_aliases() {
    // Independent source: OWNERS_ALIASES lists wg-<dir>-leads.
    let aliases: serde_norway::Value =
        serde_norway::from_str(&read("kubeflow/OWNERS_ALIASES.yaml")).unwrap();
    let aliases = aliases.get("aliases").unwrap().as_mapping().unwrap();
    let registry = imported();
    assert_eq!(aliases.len(), registry.len());
    for (key, handles) in aliases {
        let key = key.as_str().unwrap();
        let wg = key
            .strip_prefix("wg-")
            .and_then(|k| k.strip_suffix("-leads"))
            .unwrap();
        let expected: BTreeSet<String> = handles
            .as_sequence()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_owned())
            .collect();
        let got: BTreeSet<String> = registry
            .get(&name(wg))
            .unwrap()
            .leads
            .iter()
            .map(|l| l.github.clone().unwrap())
            .collect();
        assert_eq!(got, expected, "{wg}");
    }
}

#[test]
fn reimport_keeps_hand_set_fields_and_missing_wgs() {
    let mut registry = Registry::from_config(&team_config()).unwrap();
    let report = registry
        .import_wgs_yaml(&read("kubeflow/wgs.yaml"))
        .unwrap();

    assert_eq!(
        report.added,
        [name("data"), name("ml-experience"), name("notebooks")]
    );
    assert_eq!(report.updated, [name("pipelines"), name("training")]);
    assert_eq!(report.missing, [name("manifests")]);
    assert!(
        registry.get(&name("manifests")).is_some(),
        "missing WG kept"
    );

    let pipelines = registry.get(&name("pipelines")).unwrap();
    // Hand-set: kept exactly.
    assert_eq!(pipelines.repos, ["kubeflow/pipelines"]);
    assert_eq!(pipelines.keywords, ["pipeline", "kfp"]);
    assert_eq!(pipelines.leads.len(), 2);
    assert_eq!(
        pipelines.leads.first().unwrap().email.as_deref(),
        Some("lead@example.org")
    );
    assert_eq!(
        pipelines.images,
        ["ghcr.io/kubeflow/kfp-*", "gcr.io/ml-pipeline/*"]
    );
    // Not hand-set: imported.
    assert_eq!(pipelines.title.as_deref(), Some("Pipelines"));
    let kept: BTreeSet<(String, Field)> = report
        .kept_hand_set
        .iter()
        .map(|k| (k.wg.to_string(), k.field))
        .collect();
    assert!(kept.contains(&("pipelines".to_owned(), Field::Repos)));
    assert!(kept.contains(&("pipelines".to_owned(), Field::Leads)));
    assert!(kept.contains(&("pipelines".to_owned(), Field::Keywords)));

    // training set only images and paths by hand: the rest is imported.
    let training = registry.get(&name("training")).unwrap();
    assert_eq!(training.repos.len(), 3);
    assert_eq!(training.leads.len(), 4);
    assert_eq!(training.paths, ["pkg/controller.v1beta1/"]);
    assert_eq!(
        training.hand_set,
        BTreeSet::from([Field::Images, Field::Paths])
    );

    // A second import of the same file changes nothing.
    let before = registry.clone();
    let again = registry
        .import_wgs_yaml(&read("kubeflow/wgs.yaml"))
        .unwrap();
    assert!(again.added.is_empty() && again.updated.is_empty());
    assert_eq!(again.unchanged.len(), 5);
    assert_eq!(again.missing, [name("manifests")]);
    assert_eq!(registry, before);
}

#[test]
fn reimport_keeps_email_and_key_added_to_an_imported_lead() {
    let mut registry = imported();
    let mut notebooks = registry.get(&name("notebooks")).unwrap().clone();
    let cert = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ\n-----END PGP PUBLIC KEY BLOCK-----";
    let lead = notebooks
        .leads
        .iter_mut()
        .find(|l| l.github.as_deref() == Some("thesuperzapper"))
        .unwrap();
    lead.email = Some("mathew@example.org".to_owned());
    lead.pgp_cert = Some(cert.to_owned());
    // Not marked hand-set: the import still owns the list of leads.
    registry.upsert(notebooks).unwrap();

    let report = registry
        .import_wgs_yaml(&read("kubeflow/wgs.yaml"))
        .unwrap();
    assert_eq!(report.unchanged.len(), 5);
    let lead = registry
        .get(&name("notebooks"))
        .unwrap()
        .leads
        .iter()
        .find(|l| l.github.as_deref() == Some("thesuperzapper"))
        .unwrap()
        .clone();
    assert_eq!(lead.email.as_deref(), Some("mathew@example.org"));
    assert_eq!(lead.pgp_cert.as_deref(), Some(cert));
}

#[test]
fn release_hand_set_lets_the_import_take_over() {
    let mut registry = Registry::from_config(&team_config()).unwrap();
    assert!(
        registry
            .release_hand_set(&name("pipelines"), Field::Repos)
            .unwrap()
    );
    registry
        .import_wgs_yaml(&read("kubeflow/wgs.yaml"))
        .unwrap();
    assert_eq!(
        registry.get(&name("pipelines")).unwrap().repos,
        [
            "kubeflow/mlflow-integration",
            "kubeflow/pipelines",
            "kubeflow/pipelines-components"
        ]
    );
    assert!(matches!(
        registry.release_hand_set(&name("nope"), Field::Repos),
        Err(WgError::UnknownWg(_))
    ));
}

#[test]
fn bad_files_change_nothing() {
    let mut registry = Registry::from_config(&team_config()).unwrap();
    let before = registry.clone();
    for bad in [
        "workinggroups: [",
        "just a string",
        "sigs: []\n",
        "- a\n- b\n",
        "workinggroups: {a: 1}",
    ] {
        assert!(registry.import_wgs_yaml(bad).is_err(), "{bad:?}");
        assert_eq!(registry, before);
    }
    let huge = format!("workinggroups: []\n#{}", "x".repeat(5 * 1024 * 1024));
    assert!(matches!(
        registry.import_wgs_yaml(&huge),
        Err(WgError::TooLarge { .. })
    ));
    assert_eq!(registry, before);
}

#[test]
fn alias_bombs_are_refused() {
    let mut yaml = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        yaml.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    yaml.push_str("workinggroups: [*a11]\n");
    let mut registry = Registry::new();
    assert!(registry.import_wgs_yaml(&yaml).is_err());
    assert!(registry.is_empty());
}

#[test]
fn bad_entries_are_skipped_and_the_rest_imports() {
    let yaml = r#"
workinggroups:
- dir: wg-good
  name: Good
  leadership:
    chairs:
    - github: "bad handle!"
      name: X
    - github: okhandle
  subprojects:
  - name: good
    owners:
    - https://raw.githubusercontent.com/kubeflow/good/main/OWNERS
    - https://gitlab.example/x/y/OWNERS
- dir: "---"
- name: 42
  dir: [1, 2]
- label: only
- dir: wg-good
  name: Again
"#;
    let mut registry = Registry::new();
    let report = registry.import_wgs_yaml(yaml).unwrap();
    assert_eq!(report.added, [name("good")]);
    assert_eq!(report.skipped.len(), 4, "{:?}", report.skipped);
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    let good = registry.get(&name("good")).unwrap();
    assert_eq!(good.repos, ["kubeflow/good"]);
    assert_eq!(good.leads.len(), 1);
}

#[test]
fn config_values_are_checked() {
    // Spelled in pieces: .ci/no-secrets refuses the whole armor line.
    let secret_key_lead = format!(
        "name = \"p\"\nleads = [{{ email = \"a@b.org\", pgp_cert = \"-----BEGIN PGP {}\\nx\\n-----END PGP PRIVATE KEY BLOCK-----\" }}]",
        "PRIVATE KEY BLOCK-----"
    );
    let bad = [
        r#"name = "Pipelines""#,
        r#"name = "p"
repo = "not-a-repo""#,
        r#"name = "p"
images = ["ghcr.io/[oops"]"#,
        r#"name = "p"
leads = ["nobody"]"#,
        secret_key_lead.as_str(),
        r#"name = "p"
keywords = [""]"#,
    ];
    for table in bad {
        let config: WgConfig = toml::from_str(table).unwrap();
        let mut registry = Registry::new();
        assert!(registry.apply_config(&config).is_err(), "{table}");
        assert!(registry.is_empty());
    }
    let config: WgConfig = toml::from_str(&secret_key_lead).unwrap();
    assert!(matches!(
        Registry::new().apply_config(&config),
        Err(WgError::InvalidPgpCert(_))
    ));
    // Unknown keys in a [[wg]] table are refused rather than ignored.
    assert!(toml::from_str::<WgConfig>("name = \"p\"\nrepoz = \"a/b\"").is_err());
}

#[test]
fn list_json_has_the_contract_shape_and_round_trips() {
    let mut registry = Registry::from_config(&team_config()).unwrap();
    registry
        .import_wgs_yaml(&read("kubeflow/wgs.yaml"))
        .unwrap();
    let json = serde_json::to_value(&registry).unwrap();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 6);
    for wg in list {
        let obj = wg.as_object().unwrap();
        for key in ["name", "repos", "labels", "leads", "images", "keywords"] {
            assert!(obj.contains_key(key), "{key} missing in {wg}");
        }
        assert!(obj["name"].is_string());
        for key in ["repos", "labels", "leads", "images", "keywords"] {
            assert!(obj[key].is_array(), "{key}");
        }
    }
    let pipelines = list.iter().find(|w| w["name"] == "pipelines").unwrap();
    assert_eq!(
        pipelines["repos"],
        serde_json::json!(["kubeflow/pipelines"])
    );
    assert_eq!(
        pipelines["leads"][0],
        serde_json::json!({"email": "lead@example.org", "github": null, "name": null, "company": null, "pgp_cert": null})
    );
    assert_eq!(
        pipelines["hand_set"],
        serde_json::json!(["repos", "leads", "images", "keywords"])
    );

    let back: Registry = serde_json::from_value(json).unwrap();
    assert_eq!(back, registry);
    assert_eq!(
        back.image_wg("ghcr.io/kubeflow/kfp-api-server:2.5.0"),
        Some(&name("pipelines"))
    );

    // Deserializing checks every value.
    let bad = serde_json::json!([{"name": "x", "repos": ["nope"]}]);
    assert!(serde_json::from_value::<Registry>(bad).is_err());
    let dup = serde_json::json!([{"name": "x"}, {"name": "x"}]);
    assert!(serde_json::from_value::<Registry>(dup).is_err());
    let bad_name = serde_json::json!([{"name": "X Y"}]);
    assert!(serde_json::from_value::<Registry>(bad_name).is_err());
}

#[test]
fn image_wg_prefers_the_most_specific_pattern() {
    let registry = Registry::from_config(&team_config()).unwrap();
    let wg = |image: &str| registry.image_wg(image).map(|n| n.to_string());
    // `ghcr.io/kubeflow/kfp-*` (pipelines) beats `ghcr.io/kubeflow/*` (manifests).
    assert_eq!(
        wg("ghcr.io/kubeflow/kfp-api-server:2.5.0").as_deref(),
        Some("pipelines")
    );
    assert_eq!(
        wg("ghcr.io/kubeflow/katib/katib-controller:v0.18.0").as_deref(),
        Some("training")
    );
    assert_eq!(
        wg("ghcr.io/kubeflow/kubeflow/centraldashboard:v1.10.0").as_deref(),
        Some("manifests")
    );
    assert_eq!(
        wg("gcr.io/ml-pipeline/frontend:2.0.5").as_deref(),
        Some("pipelines")
    );
    assert_eq!(
        wg("gcr.io/ml-pipeline/frontend@sha256:0123456789abcdef").as_deref(),
        Some("pipelines")
    );
    // Docker Hub images written without a registry.
    assert_eq!(
        wg("kubeflowkatib/katib-ui:v0.17.0").as_deref(),
        Some("training")
    );
    assert_eq!(wg("docker.io/istio/proxyv2:1.24.2"), None);
    assert_eq!(wg("busybox:1.28"), None);
    assert_eq!(wg(""), None);
    assert_eq!(wg(&"a/".repeat(1000)), None);

    // Equal specificity: WG name order, then pattern order.
    let mut tie = Registry::new();
    for (n, pattern) in [("zeta", "quay.io/x/*"), ("alpha", "quay.io/x/*")] {
        let mut w = Wg::new(name(n));
        w.images.push(pattern.to_owned());
        tie.upsert(w).unwrap();
    }
    assert_eq!(tie.image_wg("quay.io/x/y:1"), Some(&name("alpha")));
}

#[test]
fn component_tokens_resolve_through_names_repos_and_keywords() {
    let mut registry = Registry::from_config(&team_config()).unwrap();
    registry
        .import_wgs_yaml(&read("kubeflow/wgs.yaml"))
        .unwrap();
    let r = |t: &str| registry.resolve_token(t).map(|n| n.to_string());
    assert_eq!(r("pipelines").as_deref(), Some("pipelines"));
    assert_eq!(r("Pipelines").as_deref(), Some("pipelines"));
    assert_eq!(r("katib").as_deref(), Some("training")); // kubeflow/katib
    assert_eq!(r("trainer").as_deref(), Some("training")); // kubeflow/trainer
    assert_eq!(r("manifests").as_deref(), Some("manifests"));
    assert_eq!(r("spark-operator").as_deref(), Some("data"));
    assert_eq!(r("kserve"), None);
    assert_eq!(r(""), None);
}

#[test]
fn suggests_pipelines_for_a_kfp_report() {
    let mut registry = Registry::from_config(&team_config()).unwrap();
    registry
        .import_wgs_yaml(&read("kubeflow/wgs.yaml"))
        .unwrap();
    let text = "Subject: SSRF in KFP API server artifact download\n\n\
        Hello Kubeflow security team,\n\n\
        the ml-pipeline API server in kubeflow/pipelines (tested on image \
        ghcr.io/kubeflow/kfp-api-server:2.5.0) fetches any URL given to \
        /apis/v2beta1/artifacts without checking the scheme. See \
        https://github.com/kubeflow/pipelines/blob/master/backend/src/apiserver/server/artifact_server.go.\n\
        Any Pipeline run author can reach the cloud metadata service.";
    let suggestions = registry.suggest(text);
    let top = suggestions.first().unwrap();
    assert_eq!(top.wg, name("pipelines"));
    assert_eq!(
        top.reasons,
        [
            "repo kubeflow/pipelines",
            "image ghcr.io/kubeflow/kfp-api-server:2.5.0",
            "keyword \"kfp\"",
            "keyword \"pipeline\"",
        ]
    );
    assert_eq!(top.score, 10 + 8 + 3 + 3);
    // Deterministic.
    assert_eq!(registry.suggest(text), suggestions);
}

#[test]
fn suggests_training_for_a_katib_report() {
    let mut registry = Registry::from_config(&team_config()).unwrap();
    registry
        .import_wgs_yaml(&read("kubeflow/wgs.yaml"))
        .unwrap();
    let text = "Katib's suggestion service runs user-supplied code: an Experiment \
        with a crafted algorithm setting gets RCE in the katib-controller \
        (docker.io/kubeflowkatib/katib-controller:v0.17.0). The bug is in \
        pkg/controller.v1beta1/suggestion/suggestion_controller.go.";
    let suggestions = registry.suggest(text);
    let top = suggestions.first().unwrap();
    assert_eq!(top.wg, name("training"));
    assert_eq!(
        top.reasons,
        [
            "image docker.io/kubeflowkatib/katib-controller:v0.17.0",
            "path pkg/controller.v1beta1/",
            "repo name katib",
        ]
    );
    // `kubeflow/katib` was not written: the bare repo name `katib` counts
    // once, not again as the keyword of the same text.
    assert_eq!(top.score, 8 + 6 + 4);
    assert!(suggestions.iter().all(|s| s.wg != name("pipelines")));
}

#[test]
fn suggestion_boundaries_and_ranking() {
    let mut registry = Registry::from_config(&team_config()).unwrap();
    registry
        .import_wgs_yaml(&read("kubeflow/wgs.yaml"))
        .unwrap();
    // Substrings of words do not count; nothing matches.
    assert!(registry.suggest("kfpx pipelinesque istiod").is_empty());
    assert!(registry.suggest("").is_empty());
    // kubeflow/pipelines-components is its own repository: not in the
    // hand-set repos of pipelines here...
    assert!(
        registry
            .suggest("bug in kubeflow/pipelines-components")
            .is_empty()
    );
    // ...but imported from wgs.yaml when repos are not set by hand.
    let s = imported().suggest("bug in kubeflow/pipelines-components");
    let top = s.first().unwrap();
    assert_eq!(top.wg, name("pipelines"));
    // The keyword `pipelines-components` (a subproject) is the repository
    // already counted; `pipelines` is a keyword hit of its own (`-` ends a
    // keyword).
    assert_eq!(
        top.reasons,
        [
            "repo kubeflow/pipelines-components",
            "keyword \"pipelines\""
        ]
    );
    // Several WGs: sorted by score, then name.
    let s =
        registry.suggest("dex and istio misconfig affects the spark-operator and the Kubeflow SDK");
    let order: Vec<(String, u32)> = s.iter().map(|s| (s.wg.to_string(), s.score)).collect();
    assert_eq!(
        order,
        [
            ("manifests".to_owned(), 6),
            ("data".to_owned(), 4),
            ("ml-experience".to_owned(), 4),
        ]
    );
}

#[test]
fn suggest_is_bounded_on_huge_inputs() {
    let mut registry = Registry::from_config(&team_config()).unwrap();
    registry
        .import_wgs_yaml(&read("kubeflow/wgs.yaml"))
        .unwrap();
    // 8 MiB of needles: only the first MiB is read.
    let mut text = "kfp ".repeat(2 * 1024 * 1024);
    text.push_str("kubeflow/katib");
    let s = registry.suggest(&text);
    assert_eq!(s.len(), 1);
    assert_eq!(s.first().unwrap().wg, name("pipelines"));
    // Many distinct image tokens.
    let images: String = (0..200_000)
        .map(|i| format!("ghcr.io/kubeflow/kfp-{i}:1 "))
        .collect();
    let s = registry.suggest(&images);
    let top = s.first().unwrap();
    assert_eq!(top.wg, name("pipelines"));
    let images = top
        .reasons
        .iter()
        .filter(|r| r.starts_with("image "))
        .count();
    assert_eq!(images, embargo_wg::suggest::MAX_HITS_PER_KIND);
}

#[test]
fn leads_serialize_without_surprises() {
    let lead = Lead {
        email: Some("a@b.org".to_owned()),
        ..Lead::default()
    };
    let v = serde_json::to_value(&lead).unwrap();
    assert_eq!(v["email"], "a@b.org");
    assert!(v["pgp_cert"].is_null());
}

/// Where public issues go, with the corpus's wgs.yaml under the team's
/// `[[wg]]` tables: a configured `repo` wins; a WG only the import knows
/// publishes to its primary repository (named like the WG, else containing
/// its name, else the entry's first); labels are the table's when it sets
/// them.
#[test]
fn issue_targets_of_config_and_imported_wgs() {
    let mut registry = Registry::from_config(&team_config()).unwrap();
    registry
        .import_wgs_yaml(&read("kubeflow/wgs.yaml"))
        .unwrap();

    // Configured `repo`, though the import lists kubeflow/mlflow-integration first.
    let pipelines = registry.issue_target(&name("pipelines")).unwrap();
    assert_eq!(pipelines.repo, "kubeflow/pipelines");
    // training's table sets no repository: the import's; none is named
    // like the WG or contains "training" (kubeflow/trainer does not), so
    // the first one.
    let training = registry.issue_target(&name("training")).unwrap();
    assert_eq!(training.repo, "kubeflow/katib");
    // Only in wgs.yaml: no repository named like the WG, the entry's first,
    // no labels (`label: ""`).
    let data = registry.issue_target(&name("data")).unwrap();
    assert_eq!(data.repo, "kubeflow/hub");
    assert!(data.labels.is_empty());
    // kubeflow/notebooks, though wgs.yaml lists kubeflow/dashboard first.
    let notebooks = registry.issue_target(&name("notebooks")).unwrap();
    assert_eq!(notebooks.repo, "kubeflow/notebooks");

    // Every corpus WG without the tables: the repository named like the WG
    // when there is one (pipelines: not kubeflow/mlflow-integration, listed
    // first, nor kubeflow/pipelines-components, which only contains the
    // name), else the entry's first.
    let only_import = imported();
    let targets: Vec<(String, String)> = only_import
        .issue_targets()
        .map(|(wg, t)| (wg.to_string(), t.unwrap().repo))
        .collect();
    let want = [
        ("data", "kubeflow/hub"),
        ("ml-experience", "kubeflow/kale"),
        ("notebooks", "kubeflow/notebooks"),
        ("pipelines", "kubeflow/pipelines"),
        ("training", "kubeflow/katib"),
    ];
    assert_eq!(
        targets,
        want.map(|(w, r)| (w.to_owned(), r.to_owned())).to_vec()
    );
    // The import's file order is kept: only the target changed.
    assert_eq!(
        only_import
            .get(&name("pipelines"))
            .unwrap()
            .repos
            .first()
            .map(String::as_str),
        Some("kubeflow/mlflow-integration")
    );

    // A table without any repository, the import not knowing the WG.
    let mut bare = registry.clone();
    bare.apply_config(&WgConfig {
        name: "security-tools".into(),
        leads: Some(vec![embargo_wg::LeadConfig::Email(
            "sec@example.org".into(),
        )]),
        ..WgConfig::default()
    })
    .unwrap();
    let err = bare.issue_target(&name("security-tools")).unwrap_err();
    assert_eq!(err, WgError::NoRepository(name("security-tools")));
    assert!(err.to_string().contains("has no repository"), "{err}");
    assert!(matches!(
        bare.issue_target(&name("nope")),
        Err(WgError::UnknownWg(_))
    ));
}
