//! `report list|show|triage|accept`.

use anyhow::{Context, anyhow};
use embargo_domain::{Action, Severity, TrackingId, WgName};
use embargo_intake::TriageError;
use embargo_store::{Actor, ReportFilter, Store, StoreError};

use crate::Failure;
use crate::cli::ReportCommand;
use crate::config::Config;
use crate::init::open_store;

fn parse_id(id: &str) -> anyhow::Result<TrackingId> {
    id.parse().map_err(|e| anyhow!("{e}")).with_context(|| {
        format!(
            "bad report ID {:?}",
            id.chars().take(64).collect::<String>()
        )
    })
}

fn not_found(id: &TrackingId) -> impl FnOnce(StoreError) -> anyhow::Error + '_ {
    move |e| match e {
        StoreError::NotFound(_) => anyhow!("no report {id}"),
        other => anyhow::Error::new(other).context(format!("cannot read report {id}")),
    }
}

pub async fn run(config: &Config, cmd: ReportCommand) -> Result<(), Failure> {
    let store = open_store(config).await?;
    let result = match cmd {
        ReportCommand::List { json: _ } => list(&store).await,
        ReportCommand::Show { id, json: _ } => show(&store, &id).await,
        ReportCommand::Schedule {
            id,
            at,
            advisory,
            by,
        } => crate::publish::schedule(config, &store, &parse_id(&id)?, &at, &advisory, &by).await,
        ReportCommand::Approve { id, by } => {
            crate::publish::approve(&store, &parse_id(&id)?, &by).await
        }
        ReportCommand::Unschedule { id, by } => {
            crate::publish::unschedule(&store, &parse_id(&id)?, &by, false).await
        }
        ReportCommand::Withdraw { id, by } => {
            crate::publish::unschedule(&store, &parse_id(&id)?, &by, true).await
        }
        ReportCommand::RetryPublication { id, by } => {
            crate::publish::retry(&store, &parse_id(&id)?, &by).await
        }
        ReportCommand::Export { id, format } => {
            crate::publish::export(config, &store, &parse_id(&id)?, &format).await
        }
        ReportCommand::RetryDecrypt { id } => retry(config, store.clone(), id.as_deref()).await,
        ReportCommand::Triage {
            id,
            wg,
            severity,
            by,
        } => triage(config, &store, &id, &wg, severity.as_deref(), &by).await,
        ReportCommand::Accept { id, by } => accept(config, &store, &id, &by).await,
    };
    store.close().await;
    result
}

async fn list(store: &Store) -> Result<(), Failure> {
    let reports = store
        .list_reports(&ReportFilter::default())
        .await
        .context("cannot list reports")?;
    println!("{}", serde_json::to_string_pretty(&reports)?);
    Ok(())
}

async fn show(store: &Store, id: &str) -> Result<(), Failure> {
    let id = parse_id(id)?;
    let detail = store.get_report(&id).await.map_err(not_found(&id))?;
    println!("{}", serde_json::to_string_pretty(&detail)?);
    Ok(())
}

async fn triage(
    config: &Config,
    store: &Store,
    id: &str,
    wg: &str,
    severity: Option<&str>,
    by: &str,
) -> Result<(), Failure> {
    let id = parse_id(id)?;
    let wg = WgName::parse(wg).context("bad --wg")?;
    let actor = if by == "cli" {
        Actor::System
    } else {
        Actor::User(embargo_domain::Login::parse(by).context("bad --by")?)
    };
    let current = store
        .load_domain_report(&id)
        .await
        .map_err(not_found(&id))?;
    // Severity defaults to what the report has, else medium.
    let severity: Severity = match severity {
        Some(s) => s.parse().context("bad --severity")?,
        None => current.severity.unwrap_or(Severity::Medium),
    };
    let keyring = crate::init::load_keyring(config)?;
    let intake = crate::mailflow::intake(
        config,
        std::sync::Arc::new(store.clone()),
        std::sync::Arc::new(keyring),
    )?;
    intake
        .triage(&id, wg, severity, &actor, &config.policy)
        .await
        .map_err(|e| match e {
            TriageError::Refused(refusal) => anyhow!("report {id} cannot be triaged: {refusal}"),
            TriageError::Store(StoreError::Conflict(_)) => {
                anyhow!("report {id} changed meanwhile; try again")
            }
            other => anyhow::Error::new(other).context(format!("cannot update report {id}")),
        })?;
    let summary = store.get_report(&id).await.map_err(not_found(&id))?;
    println!("{}", serde_json::to_string_pretty(&summary.report)?);
    Ok(())
}

async fn accept(config: &Config, store: &Store, id: &str, by: &str) -> Result<(), Failure> {
    let id = parse_id(id)?;
    let actor = Actor::User(embargo_domain::Login::parse(by).context("bad --by")?);
    let now = jiff::Timestamp::now();
    let current = store
        .load_domain_report(&id)
        .await
        .map_err(not_found(&id))?;
    let next = current
        .apply(&Action::Accept, now, &config.policy)
        .map_err(|refusal| anyhow!("report {id} cannot be accepted: {refusal}"))?;
    store
        .apply_report_update(current.state, &next, &actor, "accepted", "", now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => anyhow!("report {id} changed meanwhile; try again"),
            other => anyhow::Error::new(other).context(format!("cannot update report {id}")),
        })?;
    if let Some(wg) = &next.wg {
        crate::publish::placeholder_on_accept(config, store, &id, wg).await;
    }
    let summary = store.get_report(&id).await.map_err(not_found(&id))?;
    println!("{}", serde_json::to_string_pretty(&summary.report)?);
    Ok(())
}

async fn retry(config: &Config, store: Store, id: Option<&str>) -> Result<(), Failure> {
    let id = id.map(parse_id).transpose()?;
    let keyring = crate::init::load_keyring(config)?;
    let intake = crate::mailflow::intake(
        config,
        std::sync::Arc::new(store),
        std::sync::Arc::new(keyring),
    )?;
    let counts = intake
        .retry(id.as_ref())
        .await
        .map_err(anyhow::Error::new)?;
    println!(
        "{}",
        serde_json::json!({"examined": counts.examined, "improved": counts.improved})
    );
    Ok(())
}
