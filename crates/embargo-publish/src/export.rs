//! Machine-readable exports of a published advisory: OSV
//! (<https://ossf.github.io/osv-schema/>) and CSAF 2.0
//! (`csaf_security_advisory`). Only published advisories are exported:
//! before the embargo end there is nothing public to describe.

use embargo_domain::{Severity, State, TrackingId, WgName};
use embargo_store::{AdvisoryText, Store};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::error::PublishError;

/// OSV schema version written.
pub const OSV_SCHEMA_VERSION: &str = "1.6.0";

/// A published advisory, with what the exports need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedAdvisory {
    pub id: TrackingId,
    pub severity: Option<Severity>,
    pub wg: Option<WgName>,
    /// `owner/name` of the repository it was published in.
    pub repo: Option<String>,
    pub issue_url: String,
    pub published_at: Timestamp,
    pub embargo_until: Timestamp,
    pub advisory: AdvisoryText,
}

/// Loads a published advisory; [`PublishError::NotPublished`] before.
pub async fn published_advisory(
    store: &Store,
    id: &TrackingId,
) -> Result<PublishedAdvisory, PublishError> {
    let report = store.load_domain_report(id).await?;
    let not_published = || PublishError::NotPublished {
        id: id.clone(),
        state: report.state,
    };
    if report.state != State::Published {
        return Err(not_published());
    }
    let d = store
        .get_disclosure(id)
        .await?
        .ok_or_else(|| PublishError::NoDisclosure(id.clone()))?;
    let (Some(issue_url), Some(published_at)) = (d.published_issue_url, d.published_at) else {
        return Err(not_published());
    };
    Ok(PublishedAdvisory {
        id: id.clone(),
        severity: report.severity,
        wg: report.wg,
        repo: d.published_repo,
        issue_url,
        published_at,
        embargo_until: d.embargo_until,
        advisory: d.advisory,
    })
}

/// The package an OSV record names (`affected[].package`), when the
/// caller knows it (e.g. `PyPI`/`kfp`). Without it the record names no
/// package and carries the versions as agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsvPackage {
    pub ecosystem: String,
    pub name: String,
    pub purl: Option<String>,
}

/// The versions as given: the free text split at commas, semicolons and
/// line breaks, list markers dropped.
fn version_items(text: &str) -> Vec<String> {
    text.split([',', ';', '\n'])
        .map(|s| s.trim().trim_start_matches(['-', '*', '+']).trim())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A single bare version (`2.3.1`, `v1.10.0-rc.1`), usable as an OSV
/// `fixed` event.
fn single_version(text: &str) -> Option<&str> {
    let t = text.trim();
    let ok = !t.is_empty()
        && t.len() <= 64
        && t.trim_start_matches('v')
            .starts_with(|c: char| c.is_ascii_digit())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'));
    ok.then_some(t)
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High => "High",
        Severity::Critical => "Critical",
    }
}

/// The OSV record of a published advisory. `id` is the CVE when assigned,
/// otherwise the tracking ID; `details` the advisory Markdown; `affected`
/// the versions as given; `references` the public issue.
pub fn osv(adv: &PublishedAdvisory, package: Option<&OsvPackage>) -> Value {
    let a = &adv.advisory;
    let tracking = adv.id.to_string();
    let id = a.cve.clone().unwrap_or_else(|| tracking.clone());

    let mut affected = Map::new();
    if let Some(p) = package {
        let mut pkg = Map::new();
        pkg.insert("ecosystem".into(), json!(p.ecosystem));
        pkg.insert("name".into(), json!(p.name));
        if let Some(purl) = &p.purl {
            pkg.insert("purl".into(), json!(purl));
        }
        affected.insert("package".into(), Value::Object(pkg));
        if let Some(fixed) = single_version(&a.fixed) {
            affected.insert(
                "ranges".into(),
                json!([{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }, { "fixed": fixed }] }]),
            );
        }
    }
    let versions = version_items(&a.affected);
    if !versions.is_empty() {
        affected.insert("versions".into(), json!(versions));
    }
    affected.insert(
        "database_specific".into(),
        json!({
            "affected_versions": a.affected,
            "fixed_versions": a.fixed,
            "repository": adv.repo,
        }),
    );

    let mut record = Map::new();
    record.insert("schema_version".into(), json!(OSV_SCHEMA_VERSION));
    record.insert("id".into(), json!(id));
    record.insert("modified".into(), json!(adv.published_at.to_string()));
    record.insert("published".into(), json!(adv.published_at.to_string()));
    // The tracking ID is this project's, not a vulnerability database's:
    // it goes into database_specific, not aliases.
    record.insert("summary".into(), json!(a.title));
    record.insert("details".into(), json!(a.markdown));
    record.insert("affected".into(), json!([Value::Object(affected)]));
    record.insert(
        "references".into(),
        json!([{ "type": "ADVISORY", "url": adv.issue_url }]),
    );
    if let Some(credit) = &a.credit {
        record.insert(
            "credits".into(),
            json!([{ "name": credit, "type": "REPORTER" }]),
        );
    }
    record.insert(
        "database_specific".into(),
        json!({
            "tracking_id": tracking,
            "severity": adv.severity.map(severity_name),
            "wg": adv.wg.as_ref().map(WgName::as_str),
            "embargo_until": adv.embargo_until.to_string(),
        }),
    );
    Value::Object(record)
}

/// Who publishes the CSAF document (`document.publisher`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsafPublisher {
    /// e.g. `Kubeflow`.
    pub name: String,
    /// The publisher's URL, e.g. `https://www.kubeflow.org`.
    pub namespace: String,
}

/// The CSAF 2.0 document (`csaf_security_advisory`) of a published
/// advisory: tracking, publisher, one product per stated version range
/// (affected, fixed), one vulnerability with the CVE, the advisory as its
/// description, product status, remediation, the public issue as
/// reference and the credit as acknowledgment, as far as the data allows.
pub fn csaf(adv: &PublishedAdvisory, publisher: &CsafPublisher) -> Value {
    let a = &adv.advisory;
    let at = adv.published_at.to_string();
    let product = adv
        .repo
        .clone()
        .or_else(|| adv.wg.as_ref().map(|w| format!("{w} (WG)")))
        .unwrap_or_else(|| "the affected component".to_owned());
    const AFFECTED: &str = "CSAFPID-0001";
    const FIXED: &str = "CSAFPID-0002";
    let affected_name = if a.affected.is_empty() {
        format!("{product} (affected versions not specified)")
    } else {
        format!("{product} {}", a.affected)
    };
    let mut products = vec![json!({ "product_id": AFFECTED, "name": affected_name })];
    let mut status = Map::new();
    status.insert("known_affected".into(), json!([AFFECTED]));
    let remediation = if a.fixed.is_empty() {
        json!({
            "category": "none_available",
            "details": "No fixed version is stated; see the advisory.",
            "product_ids": [AFFECTED],
            "url": adv.issue_url,
        })
    } else {
        products.push(json!({ "product_id": FIXED, "name": format!("{product} {}", a.fixed) }));
        status.insert("fixed".into(), json!([FIXED]));
        json!({
            "category": "vendor_fix",
            "details": format!("Upgrade to {}.", a.fixed),
            "product_ids": [AFFECTED],
            "url": adv.issue_url,
        })
    };
    let reference = json!({
        "category": "external",
        "summary": "Public advisory",
        "url": adv.issue_url,
    });

    let mut vulnerability = Map::new();
    if let Some(cve) = &a.cve {
        vulnerability.insert("cve".into(), json!(cve));
    }
    vulnerability.insert(
        "ids".into(),
        json!([{ "system_name": "embargo tracking ID", "text": adv.id.to_string() }]),
    );
    vulnerability.insert("title".into(), json!(a.title));
    vulnerability.insert(
        "notes".into(),
        json!([{ "category": "description", "title": "Details", "text": a.markdown }]),
    );
    vulnerability.insert("product_status".into(), Value::Object(status));
    vulnerability.insert("remediations".into(), json!([remediation]));
    vulnerability.insert("references".into(), json!([reference.clone()]));
    vulnerability.insert("release_date".into(), json!(at));
    if let Some(credit) = &a.credit {
        vulnerability.insert("acknowledgments".into(), json!([{ "names": [credit] }]));
    }

    let mut document = Map::new();
    document.insert("category".into(), json!("csaf_security_advisory"));
    document.insert("csaf_version".into(), json!("2.0"));
    document.insert("lang".into(), json!("en"));
    document.insert("title".into(), json!(a.title));
    document.insert(
        "publisher".into(),
        json!({ "category": "vendor", "name": publisher.name, "namespace": publisher.namespace }),
    );
    document.insert(
        "tracking".into(),
        json!({
            "id": adv.id.to_string(),
            "status": "final",
            "version": "1",
            "initial_release_date": at,
            "current_release_date": at,
            "revision_history": [{ "date": at, "number": "1", "summary": "Initial public release." }],
            "generator": { "date": at, "engine": { "name": "embargo", "version": env!("CARGO_PKG_VERSION") } },
        }),
    );
    document.insert(
        "distribution".into(),
        json!({ "tlp": { "label": "WHITE" } }),
    );
    if let Some(s) = adv.severity {
        document.insert(
            "aggregate_severity".into(),
            json!({ "text": severity_name(s) }),
        );
    }
    document.insert(
        "notes".into(),
        json!([{ "category": "summary", "title": "Summary", "text": a.title }]),
    );
    document.insert("references".into(), json!([reference]));
    if let Some(credit) = &a.credit {
        document.insert("acknowledgments".into(), json!([{ "names": [credit] }]));
    }

    json!({
        "document": Value::Object(document),
        "product_tree": { "full_product_names": products },
        "vulnerabilities": [Value::Object(vulnerability)],
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn adv(cve: Option<&str>, credit: Option<&str>, fixed: &str) -> PublishedAdvisory {
        PublishedAdvisory {
            id: "KF-2026-0042".parse().unwrap(),
            severity: Some(Severity::High),
            wg: Some(WgName::parse("pipelines").unwrap()),
            repo: Some("kubeflow/pipelines".into()),
            issue_url: "https://github.com/kubeflow/pipelines/issues/7".into(),
            published_at: "2026-05-01T12:00:00Z".parse().unwrap(),
            embargo_until: "2026-05-01T12:00:00Z".parse().unwrap(),
            advisory: AdvisoryText {
                title: "RCE in the API server".into(),
                markdown: "A crafted spec \"runs\" code.\n\n```\nx\n```".into(),
                affected: "- < 2.3.1\n- 2.4.0-rc.1".into(),
                fixed: fixed.into(),
                credit: credit.map(Into::into),
                cve: cve.map(Into::into),
            },
        }
    }

    /// Serialised and parsed back: well-formed JSON.
    fn round_trip(v: &Value) -> Value {
        serde_json::from_str(&serde_json::to_string_pretty(v).unwrap()).unwrap()
    }

    #[test]
    fn osv_record() {
        let v = round_trip(&osv(
            &adv(Some("CVE-2026-12345"), Some("Jane Doe"), "2.3.1"),
            None,
        ));
        for field in [
            "schema_version",
            "id",
            "modified",
            "published",
            "summary",
            "details",
            "affected",
            "references",
            "credits",
            "database_specific",
        ] {
            assert!(v.get(field).is_some(), "{field}");
        }
        assert_eq!(v["id"], "CVE-2026-12345");
        assert_eq!(v["modified"], "2026-05-01T12:00:00Z");
        assert_eq!(v["details"], "A crafted spec \"runs\" code.\n\n```\nx\n```");
        assert_eq!(
            v["affected"][0]["versions"],
            json!(["< 2.3.1", "2.4.0-rc.1"])
        );
        assert!(v["affected"][0].get("package").is_none());
        assert!(v["affected"][0].get("ranges").is_none());
        assert_eq!(
            v["affected"][0]["database_specific"]["fixed_versions"],
            "2.3.1"
        );
        assert_eq!(
            v["references"][0],
            json!({"type": "ADVISORY", "url": "https://github.com/kubeflow/pipelines/issues/7"})
        );
        assert_eq!(v["credits"][0]["name"], "Jane Doe");
        assert_eq!(v["database_specific"]["tracking_id"], "KF-2026-0042");
        assert_eq!(v["database_specific"]["severity"], "High");

        let pkg = OsvPackage {
            ecosystem: "PyPI".into(),
            name: "kfp".into(),
            purl: Some("pkg:pypi/kfp".into()),
        };
        let v = round_trip(&osv(&adv(None, None, "2.3.1"), Some(&pkg)));
        assert_eq!(v["id"], "KF-2026-0042");
        assert!(v.get("credits").is_none());
        assert!(v.get("aliases").is_none());
        assert_eq!(
            v["affected"][0]["package"],
            json!({"ecosystem": "PyPI", "name": "kfp", "purl": "pkg:pypi/kfp"})
        );
        assert_eq!(
            v["affected"][0]["ranges"][0]["events"],
            json!([{"introduced": "0"}, {"fixed": "2.3.1"}])
        );
        // Free-text fixed versions make no range.
        let v = osv(&adv(None, None, "2.3.1 and 2.2.9"), Some(&pkg));
        assert!(v["affected"][0].get("ranges").is_none());
    }

    #[test]
    fn csaf_document() {
        let v = round_trip(&csaf(
            &adv(Some("CVE-2026-12345"), Some("Jane Doe"), "2.3.1"),
            &CsafPublisher {
                name: "Kubeflow".into(),
                namespace: "https://www.kubeflow.org".into(),
            },
        ));
        for field in ["document", "product_tree", "vulnerabilities"] {
            assert!(v.get(field).is_some(), "{field}");
        }
        let d = &v["document"];
        assert_eq!(d["category"], "csaf_security_advisory");
        assert_eq!(d["csaf_version"], "2.0");
        for field in ["title", "publisher", "tracking", "notes", "references"] {
            assert!(d.get(field).is_some(), "document.{field}");
        }
        for field in ["category", "name", "namespace"] {
            assert!(d["publisher"].get(field).is_some(), "publisher.{field}");
        }
        let t = &d["tracking"];
        for field in [
            "id",
            "status",
            "version",
            "initial_release_date",
            "current_release_date",
            "revision_history",
        ] {
            assert!(t.get(field).is_some(), "tracking.{field}");
        }
        assert_eq!(t["id"], "KF-2026-0042");
        assert_eq!(t["revision_history"][0]["number"], t["version"]);
        let vuln = &v["vulnerabilities"][0];
        assert_eq!(vuln["cve"], "CVE-2026-12345");
        assert_eq!(vuln["notes"][0]["category"], "description");
        assert_eq!(
            vuln["product_status"]["known_affected"],
            json!(["CSAFPID-0001"])
        );
        assert_eq!(vuln["product_status"]["fixed"], json!(["CSAFPID-0002"]));
        assert_eq!(vuln["remediations"][0]["category"], "vendor_fix");
        assert_eq!(vuln["acknowledgments"][0]["names"], json!(["Jane Doe"]));
        // Every product ID used is defined in the product tree.
        let defined: Vec<&str> = v["product_tree"]["full_product_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["product_id"].as_str().unwrap())
            .collect();
        for used in ["CSAFPID-0001", "CSAFPID-0002"] {
            assert!(defined.contains(&used));
        }

        let v = csaf(
            &adv(None, None, ""),
            &CsafPublisher {
                name: "K".into(),
                namespace: "https://k.example".into(),
            },
        );
        assert!(v["vulnerabilities"][0].get("cve").is_none());
        assert!(
            v["vulnerabilities"][0]["product_status"]
                .get("fixed")
                .is_none()
        );
        assert_eq!(
            v["vulnerabilities"][0]["remediations"][0]["category"],
            "none_available"
        );
        assert_eq!(
            v["product_tree"]["full_product_names"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}
