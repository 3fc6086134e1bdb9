//! `ingest`: one message from an MTA pipe. Exit codes per sysexits(3), as
//! MTAs understand them: 0 stored, 75 try again later, 65 refused for good.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use embargo_intake::{Intake, IntakeError};
use embargo_store::{IntakeChannel, IntakeOutcome, Store};
use embargo_web::metrics::IntakeCounter;

use crate::Failure;
use crate::config::Config;
use crate::init;

pub const EX_DATAERR: u8 = 65;
pub const EX_TEMPFAIL: u8 = 75;

fn temp(e: anyhow::Error) -> Failure {
    Failure {
        code: EX_TEMPFAIL,
        error: e,
    }
}

/// Reads at most `max + 1` bytes, so an oversized message is detected
/// without holding all of it.
fn read_bounded(reader: impl Read, max: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    reader
        .take(u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut buf)?;
    Ok(buf)
}

async fn build_intake(config: &Config) -> anyhow::Result<(Intake, Arc<Store>)> {
    let keyring = init::load_keyring(config)?;
    let store = Arc::new(init::open_store(config).await?);
    let intake = crate::mailflow::intake(config, store.clone(), Arc::new(keyring))?;
    Ok((intake, store))
}

/// Counts the answer in the store (`embargo_messages_total{channel="pipe"}`
/// on every replica's /metrics). Best effort and bounded: the answer to the
/// MTA does not depend on it.
async fn count(store: Arc<Store>, outcome: IntakeOutcome, undecryptable: bool) {
    let counter = IntakeCounter::new(store);
    let write = counter.record(IntakeChannel::Pipe, outcome, undecryptable);
    match tokio::time::timeout(std::time::Duration::from_secs(2), write).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "intake count not written"),
        Err(_) => tracing::debug!("intake count not written: the store is slow"),
    }
}

pub async fn ingest(config: &Config, file: Option<&Path>) -> Result<(), Failure> {
    let max = crate::mailflow::max_message_bytes(config);
    let raw = match file {
        Some(path) => std::fs::File::open(path)
            .and_then(|f| read_bounded(f, max))
            .with_context(|| format!("cannot read {}", path.display())),
        None => read_bounded(std::io::stdin().lock(), max).context("cannot read stdin"),
    }
    .map_err(temp)?;
    if raw.len() > max {
        return Err(Failure {
            code: EX_DATAERR,
            error: anyhow!(
                "message is over the size limit of {max} bytes (intake.max_message_bytes)"
            ),
        });
    }
    let (intake, store) = build_intake(config).await.map_err(temp)?;
    match intake.file(raw).await {
        Ok(outcome) => {
            println!("{}", outcome.report);
            count(store, IntakeOutcome::Accepted, !outcome.readable).await;
            Ok(())
        }
        Err(e @ IntakeError::Temporary(_)) => {
            count(store, IntakeOutcome::Tempfail, false).await;
            Err(temp(anyhow::Error::new(e)))
        }
        Err(e) => {
            count(store, IntakeOutcome::Refused, false).await;
            Err(Failure {
                code: EX_DATAERR,
                error: anyhow!("refused: {e}"),
            })
        }
    }
}
