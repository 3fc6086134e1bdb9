//! Registry persistence, wg list JSON, routing suggestions.

use std::collections::BTreeSet;

use embargo_domain::{Severity, State};
use embargo_review::{
    ReviewError, apply_wg_edit, import_wgs, load_registry, load_stored_registry,
    suggest_for_report, wg_list_json,
};
use embargo_store::{ImportKind, Store};
use embargo_wg::{Field, Lead, LeadConfig, WgConfig};

use crate::common::{Harness, corpus, file_report, public_key, report_in, t, wg};

on_both_backends!(
    import_keeps_hand_set_fields_and_persists,
    refused_yaml_changes_nothing,
    wg_list_json_has_the_contract_shape,
    suggestions_come_from_the_decrypted_report,
);

fn wgs_yaml() -> String {
    std::fs::read_to_string(corpus("kubeflow/wgs.yaml")).unwrap()
}

/// embargo.toml `[[wg]]` tables.
fn config() -> Vec<WgConfig> {
    vec![
        WgConfig {
            name: "training".into(),
            keywords: Some(vec!["katib".into(), "trainer".into(), "tfjob".into()]),
            images: Some(vec!["ghcr.io/kubeflow/katib/*".into()]),
            ..WgConfig::default()
        },
        WgConfig {
            name: "manifests".into(),
            repo: Some("kubeflow/manifests".into()),
            images: Some(vec!["ghcr.io/kubeflow/*".into()]),
            ..WgConfig::default()
        },
    ]
}

async fn import_keeps_hand_set_fields_and_persists(h: &Harness) {
    let store = &h.store;
    let now = t("2026-03-01T10:00:00Z");
    let cert = public_key("chen@example.org");

    // A hand edit from the admin view, stored.
    let edited = apply_wg_edit(
        store,
        &WgConfig {
            name: "pipelines".into(),
            images: Some(vec!["ghcr.io/kubeflow/kfp-*".into()]),
            leads: Some(vec![LeadConfig::Full(Lead {
                email: Some("chen@example.org".into()),
                github: Some("chensun".into()),
                pgp_cert: Some(cert.clone()),
                ..Lead::default()
            })]),
            ..WgConfig::default()
        },
        now,
    )
    .await
    .unwrap();
    assert!(edited.is_hand_set(Field::Images) && edited.is_hand_set(Field::Leads));

    let report = import_wgs(store, &wgs_yaml(), &config(), "admin", now)
        .await
        .unwrap();
    // Seen with config: training and pipelines existed, manifests is
    // config-only and missing from the file.
    assert_eq!(
        report.added.iter().map(|w| w.as_str()).collect::<Vec<_>>(),
        ["data", "ml-experience", "notebooks"]
    );
    assert_eq!(
        report
            .updated
            .iter()
            .map(|w| w.as_str())
            .collect::<Vec<_>>(),
        ["pipelines", "training"]
    );
    assert_eq!(report.missing, [wg("manifests")]);
    let kept: BTreeSet<(String, Field)> = report
        .kept_hand_set
        .iter()
        .map(|k| (k.wg.to_string(), k.field))
        .collect();
    assert!(
        kept.contains(&("pipelines".into(), Field::Leads)),
        "{kept:?}"
    );
    assert!(
        kept.contains(&("training".into(), Field::Keywords)),
        "{kept:?}"
    );

    // Stored: the import plus the hand edit; config is not stored.
    let stored = load_stored_registry(store).await.unwrap();
    assert_eq!(stored.len(), 5);
    assert!(stored.get(&wg("manifests")).is_none());
    let pipelines = stored.get(&wg("pipelines")).unwrap();
    assert_eq!(pipelines.images, ["ghcr.io/kubeflow/kfp-*"]);
    assert_eq!(pipelines.leads.len(), 1);
    assert_eq!(
        pipelines.leads[0].email.as_deref(),
        Some("chen@example.org")
    );
    assert_eq!(pipelines.leads[0].pgp_cert.as_deref(), Some(cert.as_str()));
    assert_eq!(
        pipelines.hand_set,
        BTreeSet::from([Field::Images, Field::Leads])
    );
    assert!(pipelines.repos.contains(&"kubeflow/pipelines".to_owned()));
    assert_eq!(pipelines.title.as_deref(), Some("Pipelines"));
    let training = stored.get(&wg("training")).unwrap();
    assert_eq!(training.keywords, ["katib", "mpi-operator", "trainer"]);
    assert!(training.hand_set.is_empty());

    // In effect: config on top, winning.
    let effective = load_registry(store, &config()).await.unwrap();
    assert_eq!(effective.len(), 6);
    let training = effective.get(&wg("training")).unwrap();
    assert_eq!(training.keywords, ["katib", "trainer", "tfjob"]);
    assert!(training.is_hand_set(Field::Keywords));
    assert_eq!(
        training.repos,
        [
            "kubeflow/katib",
            "kubeflow/mpi-operator",
            "kubeflow/trainer"
        ]
    );
    assert_eq!(
        effective.image_wg("ghcr.io/kubeflow/katib/katib-controller:v0.18.0"),
        Some(&wg("training"))
    );
    assert_eq!(
        effective.image_wg("ghcr.io/kubeflow/kfp-api-server:2.5.0"),
        Some(&wg("pipelines"))
    );
    assert_eq!(
        effective.image_wg("ghcr.io/kubeflow/model-registry/server:v0.2"),
        Some(&wg("manifests"))
    );

    // Survives a new connection; a second import of the same file changes
    // nothing and is recorded too.
    let again = Store::connect(&h.url, h.keys()).await.unwrap();
    assert_eq!(load_stored_registry(&again).await.unwrap(), stored);
    let second = import_wgs(&again, &wgs_yaml(), &config(), "cli", now)
        .await
        .unwrap();
    assert!(second.added.is_empty() && second.updated.is_empty());
    assert_eq!(second.unchanged.len(), 5);
    assert_eq!(load_stored_registry(&again).await.unwrap(), stored);
    let runs = again
        .list_import_runs(Some(ImportKind::Wgs), 10)
        .await
        .unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].files_ok, 1);
    assert_eq!(runs[0].source_sha256.as_ref().map(String::len), Some(64));
    assert!(!runs[0].summary.contains("chen@example.org"));
    again.close().await;
}

async fn refused_yaml_changes_nothing(h: &Harness) {
    let store = &h.store;
    let now = t("2026-03-01T10:00:00Z");
    import_wgs(store, &wgs_yaml(), &[], "cli", now)
        .await
        .unwrap();
    let before = load_stored_registry(store).await.unwrap();
    let version = store.wg_registry_version().await.unwrap();
    for bad in ["sigs: []\n", "workinggroups: [: nope", ""] {
        let err = import_wgs(store, bad, &[], "cli", now).await.unwrap_err();
        assert!(matches!(err, ReviewError::Wg(_)), "{err:?}");
    }
    assert_eq!(load_stored_registry(store).await.unwrap(), before);
    assert_eq!(store.wg_registry_version().await.unwrap(), version);
    assert_eq!(store.list_import_runs(None, 10).await.unwrap().len(), 1);
    // A bad config table is refused too, and nothing is written.
    let bad_config = [WgConfig {
        name: "Not A Name!".into(),
        ..WgConfig::default()
    }];
    assert!(
        import_wgs(store, &wgs_yaml(), &bad_config, "cli", now)
            .await
            .is_err()
    );
    assert!(load_registry(store, &bad_config).await.is_err());
    assert_eq!(store.wg_registry_version().await.unwrap(), version);
}

async fn wg_list_json_has_the_contract_shape(h: &Harness) {
    let store = &h.store;
    let now = t("2026-03-01T10:00:00Z");
    import_wgs(store, &wgs_yaml(), &[], "cli", now)
        .await
        .unwrap();
    let config = vec![WgConfig {
        name: "pipelines".into(),
        repo: Some("kubeflow/pipelines".into()),
        leads: Some(vec![LeadConfig::Email("lead@example.org".into())]),
        images: Some(vec!["ghcr.io/kubeflow/kfp-*".into()]),
        keywords: Some(vec!["pipeline".into(), "kfp".into()]),
        ..WgConfig::default()
    }];
    let registry = load_registry(store, &config).await.unwrap();
    let json = wg_list_json(&registry);
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 5);
    for entry in list {
        let obj = entry.as_object().unwrap();
        for key in ["name", "repos", "labels", "leads", "images", "keywords"] {
            assert!(obj.contains_key(key), "{key} missing in {entry}");
        }
        assert!(obj["name"].is_string());
        for key in ["repos", "labels", "leads", "images", "keywords"] {
            assert!(
                obj[key].as_array().unwrap().iter().all(|v| v.is_string()),
                "{key}"
            );
        }
    }
    let pipelines = list.iter().find(|e| e["name"] == "pipelines").unwrap();
    assert_eq!(
        pipelines["repos"],
        serde_json::json!(["kubeflow/pipelines"])
    );
    assert_eq!(pipelines["leads"], serde_json::json!(["lead@example.org"]));
    assert_eq!(
        pipelines["images"],
        serde_json::json!(["ghcr.io/kubeflow/kfp-*"])
    );
    assert_eq!(
        pipelines["keywords"],
        serde_json::json!(["pipeline", "kfp"])
    );
    assert_eq!(pipelines["lead_details"][0]["has_key"], false);
    // Imported leads have GitHub handles only.
    let training = list.iter().find(|e| e["name"] == "training").unwrap();
    assert!(
        training["leads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "@andreyvelich"),
        "{training}"
    );
}

async fn suggestions_come_from_the_decrypted_report(h: &Harness) {
    let store = &h.store;
    let now = t("2026-03-01T10:00:00Z");
    import_wgs(store, &wgs_yaml(), &[], "cli", now)
        .await
        .unwrap();
    let registry = load_registry(store, &config()).await.unwrap();
    let id = file_report(
        store,
        "Path traversal in the experiment controller",
        "The katib controller image ghcr.io/kubeflow/katib/katib-controller:v0.18.0 \
         lets a user read files; see https://github.com/kubeflow/katib/issues/1.",
        now,
    )
    .await;
    let suggestions = suggest_for_report(store, &registry, &id).await.unwrap();
    assert_eq!(suggestions[0].wg, wg("training"), "{suggestions:?}");
    assert!(
        suggestions[0]
            .reasons
            .iter()
            .any(|r| r.contains("kubeflow/katib"))
    );
    // Suggesting changes nothing: the report is still unrouted.
    let report = store.get_report(&id).await.unwrap();
    assert_eq!(report.report.wg, None);
    assert_eq!(report.report.state, State::New);

    let other = report_in(
        store,
        "Nothing specific",
        State::Triaged,
        Some("data"),
        Some(Severity::Low),
        now,
    )
    .await;
    assert!(
        suggest_for_report(store, &registry, &other)
            .await
            .unwrap()
            .is_empty()
    );
}
