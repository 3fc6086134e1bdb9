//! Disclosure from the command line: `report schedule|approve|unschedule|
//! withdraw|retry-publication|export`, `publish --due`, and the scheduler
//! `serve` runs. All of them go through `embargo-publish`, so any number of
//! them may run at once and each report is published exactly once. Both
//! `publish --due` and the scheduler also send the embargo warnings
//! (`embargo.warn_days` before the end), each exactly once.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use embargo_domain::{Login, TrackingId, WgName};
use embargo_github::{Auth, Client, GitHubConfig, Secret};
use embargo_outbound::TeamIdentity;
use embargo_pgp::{Keyring, parse_certs};
use embargo_publish::{
    AdvisoryInput, DisclosurePolicy, EmbargoEnd, EmbargoWarnings, MailNotices, NoticeRecipient,
    PublicationOutcome, PublishConfig, PublishError, WarningOutcome, WarningRecipients, WgRepos,
};
use embargo_store::Store;
use embargo_wg::Registry;
use jiff::Timestamp;
use tokio::sync::watch;

use crate::Failure;
use crate::config::Config;
use crate::ingest::EX_TEMPFAIL;

fn failure(e: PublishError) -> Failure {
    Failure {
        code: if e.is_temporary() { EX_TEMPFAIL } else { 1 },
        error: anyhow::Error::new(e),
    }
}

pub fn policy(config: &Config) -> DisclosurePolicy {
    DisclosurePolicy {
        embargo: config.policy.clone(),
        approvals_required: u8::try_from(config.settings.publish.approvals).unwrap_or(2),
    }
}

fn login(by: &str) -> anyhow::Result<Login> {
    Login::parse(by).context("bad --by")
}

fn show_end(config: &Config, at: Timestamp) {
    match EmbargoEnd::new(at, &config.settings.publish.time_zone) {
        Ok(end) => eprintln!("embargo ends {end}"),
        Err(_) => eprintln!("embargo ends {at}"),
    }
}

pub async fn schedule(
    config: &Config,
    store: &Store,
    id: &TrackingId,
    at: &str,
    advisory: &std::path::Path,
    by: &str,
) -> Result<(), Failure> {
    let until = embargo_publish::parse_instant(at).map_err(failure)?;
    let text = std::fs::read_to_string(advisory)
        .with_context(|| format!("cannot read --advisory {}", advisory.display()))?;
    let input = AdvisoryInput::from_markdown_file(&text).map_err(failure)?;
    let out = embargo_publish::schedule(
        store,
        id,
        until,
        &input,
        &login(by)?,
        Timestamp::now(),
        &policy(config),
    )
    .await
    .map_err(failure)?;
    show_end(config, out.embargo_until);
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

pub async fn approve(store: &Store, id: &TrackingId, by: &str) -> Result<(), Failure> {
    let out = embargo_publish::approve(store, id, &login(by)?, Timestamp::now())
        .await
        .map_err(failure)?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

pub async fn unschedule(
    store: &Store,
    id: &TrackingId,
    by: &str,
    withdraw: bool,
) -> Result<(), Failure> {
    let by = login(by)?;
    let now = Timestamp::now();
    let report = if withdraw {
        embargo_publish::withdraw(store, id, &by, now).await
    } else {
        embargo_publish::unschedule(store, id, &by, now).await
    }
    .map_err(failure)?;
    println!(
        "{}",
        serde_json::json!({"id": report.id, "state": report.state})
    );
    Ok(())
}

pub async fn retry(store: &Store, id: &TrackingId, by: &str) -> Result<(), Failure> {
    embargo_publish::retry_job(store, id, &login(by)?, Timestamp::now())
        .await
        .map_err(failure)?;
    eprintln!("publication of {id} queued again");
    Ok(())
}

pub async fn export(
    config: &Config,
    store: &Store,
    id: &TrackingId,
    format: &str,
) -> Result<(), Failure> {
    let adv = embargo_publish::published_advisory(store, id)
        .await
        .map_err(failure)?;
    let doc = match format {
        "osv" => embargo_publish::osv(&adv, None),
        "csaf" => embargo_publish::csaf(&adv, &csaf_publisher(config)),
        other => return Err(anyhow!("unknown --format {other:?} (osv or csaf)").into()),
    };
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

/// The publisher named in CSAF exports: the team's display name and its
/// mail domain.
pub fn csaf_publisher(config: &Config) -> embargo_publish::CsafPublisher {
    let domain = config
        .settings
        .mail
        .address
        .rsplit_once('@')
        .map(|(_, d)| d.to_owned())
        .unwrap_or_default();
    embargo_publish::CsafPublisher {
        name: config.settings.mail.display_name.clone(),
        namespace: format!("https://{domain}"),
    }
}

/// The WGs whose `[[wg]]` table asks for a placeholder issue on accept
/// (`placeholder = true`).
pub fn placeholder_wgs(config: &Config) -> BTreeSet<WgName> {
    config
        .settings
        .wgs
        .iter()
        .filter(|w| w.placeholder)
        .filter_map(|w| WgName::parse(&w.name).ok())
        .collect()
}

/// The publication targets: every WG of the registry in effect (the stored
/// registry, i.e. imported `wgs.yaml` and hand edits, with the `[[wg]]`
/// tables applied on top, see [`crate::review::registry`]), each to its
/// configured `repo` (see `embargo_wg::Registry::issue_target` for the
/// rule without one: the imported repository named like the WG), with the
/// registry's labels and the table's `placeholder`. A WG without a
/// repository has no target: its publication fails with the reason.
pub fn wg_targets(config: &Config, registry: &Registry) -> WgRepos {
    WgRepos::from_registry(registry, &placeholder_wgs(config))
}

/// How publication runs: the WG targets and `[publish] lease_seconds`.
fn publish_config(config: &Config, wgs: WgRepos) -> PublishConfig {
    let mut publish = PublishConfig::new(wgs);
    publish.lease =
        jiff::SignedDuration::from_secs(i64::from(config.settings.publish.lease_seconds));
    publish
}

/// The GitHub client, or why there is none.
pub fn github(config: &Config) -> anyhow::Result<Client> {
    let token = config.settings.github.token.expose();
    if token.is_empty() {
        return Err(anyhow!(
            "github.token is not set (EMBARGO_GITHUB_TOKEN): nothing can be published"
        ));
    }
    Client::new(&GitHubConfig {
        api_url: config.settings.github.api_url.clone(),
        auth: Auth::Token(Secret::new(token.to_owned())),
    })
    .context("github")
}

/// Who hears that an advisory is public: the team members with an
/// address (encrypted to their key when they have one).
async fn notices(config: &Config, store: &Store, keyring: &Keyring) -> anyhow::Result<MailNotices> {
    let team = TeamIdentity::new(
        &config.settings.mail.address,
        Some(&config.settings.mail.display_name),
        keyring.clone(),
    )
    .context("mail.address")?;
    let members = store
        .list_users()
        .await
        .context("cannot list team members")?
        .into_iter()
        .filter(|u| u.role != embargo_domain::Role::Auditor)
        .filter_map(|u| {
            let address = u.email?;
            let cert = u
                .pgp_cert
                .as_deref()
                .and_then(|c| parse_certs(c.as_bytes()).ok())
                .and_then(|v| v.into_iter().next());
            Some(NoticeRecipient { address, cert })
        })
        .collect();
    Ok(MailNotices { team, members })
}

/// Who is warned before an embargo ends: admins and triagers with an
/// address, and each WG's leads (accounts and the WG registry), each
/// with their key when one parses.
async fn warning_recipients(
    store: &Store,
    registry: &Registry,
) -> anyhow::Result<WarningRecipients> {
    let users = store
        .list_users()
        .await
        .context("cannot list team members")?;
    let cert_of = |armored: Option<&str>| {
        armored
            .and_then(|c| parse_certs(c.as_bytes()).ok())
            .and_then(|v| v.into_iter().next())
    };
    let team = users
        .iter()
        .filter(|u| {
            matches!(
                u.role,
                embargo_domain::Role::Admin | embargo_domain::Role::Triager
            )
        })
        .filter_map(|u| {
            Some(NoticeRecipient {
                address: u.email.clone()?,
                cert: cert_of(u.pgp_cert.as_deref()),
            })
        })
        .collect();
    let mut wgs: BTreeSet<WgName> = registry.wgs().map(|w| w.name.clone()).collect();
    wgs.extend(users.iter().filter_map(|u| u.wg.clone()));
    let leads = wgs
        .into_iter()
        .map(|wg| {
            let leads = embargo_review::wg_leads(&wg, registry, &users)
                .into_iter()
                .map(|l| NoticeRecipient {
                    address: l.email,
                    cert: l.cert,
                })
                .collect();
            (wg, leads)
        })
        .collect();
    Ok(WarningRecipients { team, leads })
}

/// Sends the embargo warnings due now (see `embargo_publish::send_embargo_warnings`).
async fn warn(
    config: &Config,
    store: &Store,
    keyring: &Keyring,
    registry: &Registry,
) -> anyhow::Result<Vec<WarningOutcome>> {
    let team = TeamIdentity::new(
        &config.settings.mail.address,
        Some(&config.settings.mail.display_name),
        keyring.clone(),
    )
    .context("mail.address")?;
    let warnings = EmbargoWarnings {
        team,
        recipients: warning_recipients(store, registry).await?,
        admin_url: Some(config.settings.web.public_url.clone()).filter(|u| !u.is_empty()),
        time_zone: config.settings.publish.time_zone.clone(),
    };
    Ok(
        embargo_publish::send_embargo_warnings(store, &warnings, &config.policy, Timestamp::now())
            .await,
    )
}

/// A lease owner naming this host and process, unique per call (what
/// `outbox list` and the job tables show as the holder).
pub(crate) fn owner() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    format!(
        "{host}:{}:{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

/// `publish --due`: the embargo warnings due now (JSON lines on stderr),
/// then one JSON line per publication on stdout.
pub async fn publish_due(config: &Config, store: &Store) -> Result<(), Failure> {
    let keyring = crate::init::load_keyring(config)?;
    // One view of the WGs for the warnings and the targets.
    let registry = crate::review::registry(config, store).await?;
    let mut warnings_temporary = false;
    for o in warn(config, store, &keyring, &registry).await? {
        if let WarningOutcome::Error {
            temporary: true, ..
        } = &o
        {
            warnings_temporary = true;
        }
        eprintln!("{}", serde_json::to_string(&o)?);
    }
    let client = github(config)?;
    let publish = publish_config(config, wg_targets(config, &registry));
    let notices = notices(config, store, &keyring).await?;
    let outcomes = embargo_publish::publish_due(
        store,
        &client,
        &publish,
        &notices,
        &owner(),
        Timestamp::now(),
    )
    .await;
    let mut temporary = warnings_temporary;
    for o in &outcomes {
        let line = serde_json::to_string(o)?;
        match o {
            PublicationOutcome::Published { .. } => println!("{line}"),
            PublicationOutcome::Error { temporary: t, .. } => {
                temporary |= *t;
                eprintln!("{line}");
            }
            _ => eprintln!("{line}"),
        }
    }
    if temporary {
        return Err(Failure {
            code: EX_TEMPFAIL,
            error: anyhow!("some publications or warnings hit a temporary failure; run again"),
        });
    }
    Ok(())
}

/// The scheduler in `serve`: every interval until stopped, sends the
/// embargo warnings due and publishes what is due. Without a GitHub token
/// it only warns (and says once that it does not publish). The WG registry
/// is read again each round, so WGs imported or edited while `serve` runs
/// get their warnings and publications without a restart.
pub async fn scheduler(
    config: Arc<Config>,
    store: Arc<Store>,
    keyring: Arc<Keyring>,
    mut stop: watch::Receiver<bool>,
) {
    // Warnings need no GitHub: they run even when publishing cannot.
    let client = match github(&config) {
        Ok(client) => Some(client),
        Err(e) => {
            tracing::warn!(error = %e, "publication scheduler not publishing; embargo warnings still go out");
            None
        }
    };
    let owner = owner();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(u64::from(
        config.settings.publish.interval_seconds,
    )));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let registry = match crate::review::registry(&config, &store).await {
            Ok(r) => r,
            Err(f) => {
                tracing::warn!(error = %f.error, "WG registry unavailable: warning and publication round skipped");
                continue;
            }
        };
        match warn(&config, &store, &keyring, &registry).await {
            Ok(outcomes) => {
                for o in outcomes {
                    match &o {
                        WarningOutcome::Warned {
                            id, days_before, ..
                        } => {
                            tracing::info!(report = %id, ?days_before, "embargo warning queued")
                        }
                        WarningOutcome::Error { id, error, .. } => {
                            tracing::warn!(report = ?id.as_ref().map(|i| i.to_string()), error, "embargo warning round incomplete")
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "embargo warning round skipped"),
        }
        let Some(client) = &client else {
            continue;
        };
        let publish = publish_config(&config, wg_targets(&config, &registry));
        let notices = match notices(&config, &store, &keyring).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "publication round skipped");
                continue;
            }
        };
        let round = embargo_publish::publish_due(
            &store,
            client,
            &publish,
            &notices,
            &owner,
            Timestamp::now(),
        );
        tokio::select! {
            outcomes = round => {
                for o in outcomes {
                    if let PublicationOutcome::Published { id, .. } = &o {
                        tracing::info!(report = %id, "advisory published");
                    } else if let Some(id) = o.id() {
                        tracing::info!(report = %id, outcome = ?std::mem::discriminant(&o), "publication job handled");
                    }
                }
            }
            // Stopping halfway is safe: the lease expires and the next run
            // finds the issue by its marker.
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// After `report accept`: opens the report's placeholder issue when its
/// WG's `[[wg]]` table asks for one (`placeholder = true`), in the
/// repository [`wg_targets`] names. The accept stands whatever happens
/// here; the outcome (or why nothing was opened) is one JSON line on
/// stderr: `in_progress` when another attempt (the admin view, another
/// process) holds the report's placeholder job, whose lease is
/// `[publish] lease_seconds`. At the embargo end the publication fills
/// the placeholder in, or opens the issue when there is none.
pub async fn placeholder_on_accept(config: &Config, store: &Store, id: &TrackingId, wg: &WgName) {
    if !placeholder_wgs(config).contains(wg) {
        return;
    }
    let result = async {
        let registry = crate::review::registry(config, store)
            .await
            .map_err(|f| f.error)?;
        let targets = wg_targets(config, &registry);
        let client = github(config)?;
        let lease =
            jiff::SignedDuration::from_secs(i64::from(config.settings.publish.lease_seconds));
        embargo_publish::open_placeholder(store, &client, &targets, id, lease, Timestamp::now())
            .await
            .map_err(anyhow::Error::new)
    }
    .await;
    let line = match result {
        Ok(outcome) => serde_json::to_value(&outcome).unwrap_or_default(),
        Err(e) => {
            tracing::warn!(report = %id, error = %e, "placeholder issue not opened");
            serde_json::json!({
                "outcome": "placeholder_failed",
                "id": id,
                "error": format!("{e:#}"),
            })
        }
    };
    eprintln!("{line}");
}
