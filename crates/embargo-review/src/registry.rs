//! The WG registry in the store, and routing suggestions.
//!
//! What is stored is what imports (`wgs.yaml`) and hand edits (the admin
//! view, [`apply_wg_edit`]) left, one row per WG with its leads sealed.
//! The `[[wg]]` tables of embargo.toml are never stored: [`load_registry`]
//! applies them on top every time, so they always win and removing one
//! from the config gives the field back to imports.

use std::collections::{BTreeMap, BTreeSet};

use embargo_domain::{TrackingId, WgName};
use embargo_store::{Direction, ImportKind, NewImportRun, Store, WgRecord};
use embargo_wg::{Field, ImportReport, Lead, Registry, Suggestion, Wg, WgConfig};
use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{Result, ReviewError};

fn field_from_str(s: &str) -> Option<Field> {
    Field::ALL.into_iter().find(|f| f.as_str() == s)
}

fn wg_from_record(rec: &WgRecord) -> Result<Wg> {
    let leads: Vec<Lead> = serde_json::from_str(&rec.leads)
        .map_err(|e| ReviewError::Corrupt(format!("leads of WG {}: {e}", rec.name)))?;
    let mut hand_set = BTreeSet::new();
    for f in &rec.hand_set {
        let field = field_from_str(f).ok_or_else(|| {
            ReviewError::Corrupt(format!("WG {}: unknown hand-set field", rec.name))
        })?;
        hand_set.insert(field);
    }
    Ok(Wg {
        name: rec.name.clone(),
        title: rec.title.clone(),
        repos: rec.repos.clone(),
        labels: rec.labels.clone(),
        leads,
        images: rec.images.clone(),
        paths: rec.paths.clone(),
        keywords: rec.keywords.clone(),
        hand_set,
    })
}

fn record_from_wg(wg: &Wg, updated_at: Timestamp) -> Result<WgRecord> {
    let leads = serde_json::to_string(&wg.leads)
        .map_err(|e| ReviewError::Invalid(format!("leads of WG {}: {e}", wg.name)))?;
    Ok(WgRecord {
        name: wg.name.clone(),
        title: wg.title.clone(),
        repos: wg.repos.clone(),
        labels: wg.labels.clone(),
        images: wg.images.clone(),
        paths: wg.paths.clone(),
        keywords: wg.keywords.clone(),
        hand_set: wg.hand_set.iter().map(|f| f.as_str().to_owned()).collect(),
        leads: Zeroizing::new(leads),
        updated_at,
    })
}

/// The stored WGs with the time each last changed.
fn from_records(records: &[WgRecord]) -> Result<(Registry, BTreeMap<WgName, Timestamp>)> {
    let wgs = records
        .iter()
        .map(wg_from_record)
        .collect::<Result<Vec<_>>>()?;
    let times = records
        .iter()
        .map(|r| (r.name.clone(), r.updated_at))
        .collect();
    Ok((Registry::from_wgs(wgs)?, times))
}

/// Records for `registry`; a WG equal to what was stored keeps its time.
fn to_records(
    registry: &Registry,
    before: &Registry,
    times: &BTreeMap<WgName, Timestamp>,
    now: Timestamp,
) -> Result<Vec<WgRecord>> {
    registry
        .wgs()
        .map(|wg| {
            let unchanged = before.get(&wg.name) == Some(wg);
            let at = match times.get(&wg.name) {
                Some(t) if unchanged => *t,
                _ => now,
            };
            record_from_wg(wg, at)
        })
        .collect()
}

/// The stored registry alone (imports and hand edits), without config.
pub async fn load_stored_registry(store: &Store) -> Result<Registry> {
    Ok(from_records(&store.load_wg_registry().await?)?.0)
}

/// The registry in effect: the stored one with the embargo.toml `[[wg]]`
/// tables applied on top (what they set is hand-set and wins).
pub async fn load_registry(store: &Store, config_wgs: &[WgConfig]) -> Result<Registry> {
    let mut registry = load_stored_registry(store).await?;
    for config in config_wgs {
        registry.apply_config(config)?;
    }
    Ok(registry)
}

/// Reads a Kubeflow community `wgs.yaml` into the stored registry, keeping
/// hand-set fields, and records the import run (`actor`: a login or
/// `cli`). The returned report is as seen with the config applied, so it
/// lists the fields config keeps too. Nothing is stored when the file is
/// refused as a whole.
pub async fn import_wgs(
    store: &Store,
    yaml: &str,
    config_wgs: &[WgConfig],
    actor: &str,
    now: Timestamp,
) -> Result<ImportReport> {
    let mut tx = store.begin().await?;
    tx.lock_wg_registry(now).await?;
    let (before, times) = from_records(&tx.load_wg_registry().await?)?;

    // What is stored: the import over the stored registry.
    let mut stored = before.clone();
    stored.import_wgs_yaml(yaml)?;
    // What the operator sees: the import over the registry in effect.
    let mut effective = before.clone();
    for config in config_wgs {
        effective.apply_config(config)?;
    }
    let report = effective.import_wgs_yaml(yaml)?;

    tx.replace_wg_registry(&to_records(&stored, &before, &times, now)?)
        .await?;
    let summary = json!({
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "missing": report.missing,
        "kept_hand_set": report.kept_hand_set.len(),
        "skipped": report.skipped.len(),
        "warnings": report.warnings.len(),
    });
    tx.record_import_run(
        &NewImportRun {
            kind: ImportKind::Wgs,
            release: None,
            actor: actor.to_owned(),
            source_sha256: Some(hex::encode(Sha256::digest(yaml.as_bytes()))),
            files_ok: 1,
            files_failed: 0,
            summary: summary.to_string(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        added = report.added.len(),
        updated = report.updated.len(),
        skipped = report.skipped.len(),
        "wgs.yaml imported"
    );
    Ok(report)
}

/// A hand edit of one WG (the admin view): every field `edit` sets
/// replaces the stored value and becomes hand-set (see
/// [`Registry::apply_config`]). Returns the stored WG.
pub async fn apply_wg_edit(store: &Store, edit: &WgConfig, now: Timestamp) -> Result<Wg> {
    let mut tx = store.begin().await?;
    tx.lock_wg_registry(now).await?;
    let (before, times) = from_records(&tx.load_wg_registry().await?)?;
    let mut after = before.clone();
    after.apply_config(edit)?;
    let name = WgName::parse(&edit.name).map_err(|source| embargo_wg::WgError::InvalidName {
        value: edit.name.chars().take(80).collect(),
        source,
    })?;
    let wg = after
        .get(&name)
        .cloned()
        .ok_or_else(|| embargo_wg::WgError::UnknownWg(name.to_string()))?;
    tx.replace_wg_registry(&to_records(&after, &before, &times, now)?)
        .await?;
    tx.commit().await?;
    Ok(wg)
}

/// How a lead is listed in `leads`: the address, else `@github-handle`.
fn lead_label(lead: &Lead) -> Option<String> {
    lead.email
        .clone()
        .or_else(|| lead.github.as_ref().map(|g| format!("@{g}")))
}

/// `embargo wg list --json`: `[{name, repos, labels, leads, images,
/// keywords}]` as the contract says, `leads` as strings (the address, or
/// `@handle` for a lead known by GitHub handle only), plus `title`,
/// `paths`, `hand_set` and `lead_details` (`{email, github, name, company,
/// has_key}`; keys themselves are not printed).
pub fn wg_list_json(registry: &Registry) -> Value {
    Value::Array(
        registry
            .wgs()
            .map(|wg| {
                let leads: Vec<String> = wg.leads.iter().filter_map(lead_label).collect();
                let details: Vec<Value> = wg
                    .leads
                    .iter()
                    .map(|l| {
                        json!({
                            "email": l.email,
                            "github": l.github,
                            "name": l.name,
                            "company": l.company,
                            "has_key": l.pgp_cert.is_some(),
                        })
                    })
                    .collect();
                json!({
                    "name": wg.name,
                    "repos": wg.repos,
                    "labels": wg.labels,
                    "leads": leads,
                    "images": wg.images,
                    "keywords": wg.keywords,
                    "title": wg.title,
                    "paths": wg.paths,
                    "hand_set": wg.hand_set,
                    "lead_details": details,
                })
            })
            .collect(),
    )
}

/// The WGs a report is most likely about, from its decrypted text (the
/// report's subject and every inbound message's subject, body and
/// attachment names), best first. Only a suggestion: a human decides.
pub async fn suggest_for_report(
    store: &Store,
    registry: &Registry,
    report_id: &TrackingId,
) -> Result<Vec<Suggestion>> {
    let detail = store.get_report(report_id).await?;
    let mut text = Zeroizing::new(String::new());
    text.push_str(&detail.report.subject);
    text.push('\n');
    for m in detail
        .messages
        .iter()
        .filter(|m| m.direction == Direction::Inbound)
    {
        text.push_str(&m.subject);
        text.push('\n');
        text.push_str(&m.body_text);
        text.push('\n');
        for a in &m.attachments {
            if let Some(name) = &a.filename {
                text.push_str(name);
                text.push('\n');
            }
        }
    }
    Ok(registry.suggest(&text))
}
