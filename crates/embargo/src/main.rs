//! `embargo`: the command operators and MTAs run. See `shared/CONTRACT.md`.
//!
//! Every failure ends as one line on stderr and a non-zero exit; no panic
//! message or backtrace reaches the operator.

mod backup;
mod cli;
mod config;
mod ingest;
mod init;
mod mailflow;
mod publish;
mod report;
mod review;
mod serve;

use std::collections::HashMap;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// A failure with the exit code it maps to.
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: 1,
            error: e.into(),
        }
    }
}

fn main() -> ExitCode {
    // A panic is a bug; it still ends as one line, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("embargo: internal error{at}; please report it");
    }));

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not failures.
            let code = if e.use_stderr() { 64 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let env: HashMap<String, String> = std::env::vars().collect();
    match run(cli, &env) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("embargo: {}", one_line(&f.error));
            ExitCode::from(f.code)
        }
    }
}

/// The whole cause chain on one line.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(cli: Cli, env: &HashMap<String, String>) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move { dispatch(cli, env).await })
}

async fn dispatch(cli: Cli, env: &HashMap<String, String>) -> Result<(), Failure> {
    // For an MTA pipe every failure that is not the message's fault is
    // temporary: the MTA keeps the message and tries again.
    let is_ingest = matches!(cli.command, Command::Ingest { .. });
    let config =
        config::Config::load(&cli.data, cli.config.as_deref(), env).map_err(|e| Failure {
            code: if is_ingest { ingest::EX_TEMPFAIL } else { 1 },
            error: anyhow::Error::new(e),
        })?;
    serve::init_logging(&config);
    match cli.command {
        Command::Init => init::init(&config).await.map(|_| ()),
        Command::Serve => serve::serve(&config).await,
        Command::Ingest { file } => ingest::ingest(&config, file.as_deref()).await,
        Command::Key(cli::KeyCommand::Export) => init::key_export(&config),
        Command::Report(cmd) => report::run(&config, cmd).await,
        Command::User(cli::UserCommand::Add {
            login,
            role,
            wg,
            email,
            key,
        }) => {
            init::user_add(
                &config,
                init::UserSpec {
                    login: &login,
                    role: &role,
                    wg: wg.as_deref(),
                    email: email.as_deref(),
                    key: key.as_deref(),
                },
            )
            .await
        }
        Command::Wg(cmd) => {
            let store = init::open_store(&config).await?;
            let result = match cmd {
                cli::WgCommand::Import { file } => review::wg_import(&config, &store, &file).await,
                cli::WgCommand::List { json: _ } => review::wg_list(&config, &store).await,
            };
            store.close().await;
            result
        }
        Command::Scan(cmd) => {
            let store = init::open_store(&config).await?;
            let result = match cmd {
                cli::ScanCommand::Import {
                    path,
                    release,
                    no_send,
                } => review::scan_import(&config, &store, &path, &release, !no_send).await,
                cli::ScanCommand::Send { release } => {
                    review::scan_send(&config, &store, &release).await
                }
                cli::ScanCommand::Summary { release, json: _ } => {
                    review::scan_summary(&store, &release).await
                }
                cli::ScanCommand::Changes { release, json: _ } => {
                    review::scan_changes(&store, &release).await
                }
            };
            store.close().await;
            result
        }
        Command::Review(cmd) => {
            let store = init::open_store(&config).await?;
            let result = match cmd {
                cli::ReviewCommand::Agenda { since, format } => {
                    review::agenda(&config, &store, since.as_deref(), &format).await
                }
                cli::ReviewCommand::Done { by } => review::review_done(&store, &by).await,
            };
            store.close().await;
            result
        }
        Command::Publish { due: _ } => {
            let store = init::open_store(&config).await?;
            let result = publish::publish_due(&config, &store).await;
            store.close().await;
            result
        }
        Command::Backup { file } => backup::backup(&config, &file).await,
        Command::Restore { file } => backup::restore(&config, &file).await,
        Command::Outbox(cli::OutboxCommand::Flush) => outbox_flush(&config).await,
        Command::Outbox(cli::OutboxCommand::List { json: _, state }) => {
            outbox_list(&config, state.as_deref()).await
        }
        Command::Outbox(cli::OutboxCommand::Retry { id }) => outbox_retry(&config, &id).await,
    }
}

async fn outbox_flush(config: &config::Config) -> Result<(), Failure> {
    let store = init::open_store(config).await?;
    let transport = mailflow::transport(config)?;
    let counts = embargo_outbound::flush(&store, &transport, jiff::Timestamp::now())
        .await
        .map_err(anyhow::Error::new)?;
    store.close().await;
    println!(
        "{}",
        serde_json::json!({
            "sent": counts.sent,
            "retry": counts.retry,
            "dead": counts.dead,
        })
    );
    Ok(())
}

async fn outbox_list(config: &config::Config, state: Option<&str>) -> Result<(), Failure> {
    let state = state
        .map(|s| {
            s.parse::<embargo_store::OutboxState>()
                .map_err(|()| anyhow::anyhow!("bad --state {s:?} (queued, sending, sent, dead)"))
        })
        .transpose()?;
    let store = init::open_store(config).await?;
    let entries = store
        .list_outbox(state, 1000)
        .await
        .map_err(anyhow::Error::new)?;
    store.close().await;
    println!("{}", serde_json::to_string_pretty(&entries)?);
    Ok(())
}

async fn outbox_retry(config: &config::Config, id: &str) -> Result<(), Failure> {
    let uuid = uuid::Uuid::parse_str(id).map_err(|_| anyhow::anyhow!("bad outbox ID {id:?}"))?;
    let store = init::open_store(config).await?;
    store
        .retry_outbox(uuid, jiff::Timestamp::now())
        .await
        .map_err(|e| match e {
            embargo_store::StoreError::NotFound(_) => {
                anyhow::anyhow!("no dead-lettered outbox entry {uuid}")
            }
            other => anyhow::Error::new(other),
        })?;
    store.close().await;
    eprintln!("outbox entry {uuid} queued again");
    Ok(())
}
