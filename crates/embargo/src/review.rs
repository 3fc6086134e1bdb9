//! The team's procedures from the command line: `wg import|list`,
//! `scan import|send|summary`, `review agenda|done`; the WG-lead digest
//! scheduler `serve` runs, and what the admin view's review and scan pages
//! need ([`web_setup`]).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use embargo_domain::Login;
use embargo_outbound::TeamIdentity;
use embargo_pgp::Keyring;
use embargo_review::{AgendaOptions, DigestOptions, Progress, ReviewError, SliceOptions};
use embargo_store::Store;
use embargo_wg::{Lead, LeadConfig, Registry, WgConfig};
use jiff::Timestamp;
use tokio::sync::watch;

use crate::Failure;
use crate::config::Config;

fn failure(e: ReviewError) -> Failure {
    Failure::from(anyhow::Error::new(e))
}

/// `[[wg]]` entries as hand-set registry entries: only what is set counts
/// as set by hand, so imports can still fill in the rest. A lead's key is
/// taken from the WG's `lead_keys` files (the certificate carrying the
/// lead's address); a key file that cannot be read or parsed is logged
/// and skipped, so that lead gets content-free notices only.
pub fn config_wgs(config: &Config) -> Vec<WgConfig> {
    let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    config
        .settings
        .wgs
        .iter()
        .map(|w| {
            let certs = lead_certs(config, &w.name, &w.lead_keys);
            WgConfig {
                name: w.name.clone(),
                repo: (!w.repo.is_empty()).then(|| w.repo.clone()),
                repos: some(&w.repos),
                labels: some(&w.labels),
                leads: (!w.leads.is_empty()).then(|| {
                    w.leads
                        .iter()
                        .map(|email| lead_config(email, &certs))
                        .collect()
                }),
                images: some(&w.images),
                paths: some(&w.paths),
                keywords: some(&w.keywords),
                ..Default::default()
            }
        })
        .collect()
}

/// The certificates in a WG's `lead_keys` files.
fn lead_certs(config: &Config, wg: &str, files: &[std::path::PathBuf]) -> Vec<embargo_pgp::Cert> {
    let mut out = Vec::new();
    for file in files {
        let path = if file.is_absolute() {
            file.clone()
        } else {
            config.data_dir.join(file)
        };
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| embargo_pgp::parse_certs(&b).map_err(|e| e.to_string()))
        {
            Ok(certs) => out.extend(certs),
            Err(e) => tracing::warn!(
                wg,
                file = %path.display(),
                error = %e,
                "lead key not usable: that lead gets content-free notices"
            ),
        }
    }
    out
}

fn lead_config(email: &str, certs: &[embargo_pgp::Cert]) -> LeadConfig {
    let armored = certs
        .iter()
        .find(|c| embargo_pgp::cert_has_email(c, email))
        .and_then(|c| embargo_pgp::cert_to_armored(c).ok());
    match armored {
        Some(pgp_cert) => LeadConfig::Full(Lead {
            email: Some(email.to_owned()),
            pgp_cert: Some(pgp_cert),
            ..Lead::default()
        }),
        None => LeadConfig::Email(email.to_owned()),
    }
}

pub async fn registry(config: &Config, store: &Store) -> Result<Registry, Failure> {
    embargo_review::load_registry(store, &config_wgs(config))
        .await
        .map_err(failure)
}

pub async fn wg_import(config: &Config, store: &Store, file: &Path) -> Result<(), Failure> {
    let yaml =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let report =
        embargo_review::import_wgs(store, &yaml, &config_wgs(config), "cli", Timestamp::now())
            .await
            .map_err(|e| match e {
                ReviewError::Wg(w) => anyhow!("{} refused: {w}", file.display()).into(),
                other => failure(other),
            })?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

pub async fn wg_list(config: &Config, store: &Store) -> Result<(), Failure> {
    let registry = registry(config, store).await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&embargo_review::wg_list_json(&registry))?
    );
    Ok(())
}

/// A one-line progress bar on stderr, drawn only on a terminal.
fn progress_bar() -> impl FnMut(Progress) + Send {
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    move |p: Progress| {
        if !tty || p.files_total == 0 {
            return;
        }
        let width = 30;
        let done = p.files_done.min(p.files_total);
        let filled = done * width / p.files_total;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r[{}{}] {done}/{} files",
            "#".repeat(filled),
            " ".repeat(width - filled),
            p.files_total
        );
        if done == p.files_total {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }
}

/// The admin view's settings for `/review` and `/scans`: the `[[wg]]`
/// tables, GitHub (when a token is set) as the source of public issues
/// and the opener of placeholder issues on accept (for the WGs with
/// `placeholder = true`), the view's public URL for mail to leads.
pub fn web_setup(config: &Config) -> embargo_web::ReviewSetup {
    let client = crate::publish::github(config).ok();
    let github = client
        .clone()
        .map(|c| Arc::new(c) as Arc<dyn embargo_review::IssueSource>);
    // Placeholder attempts claim the report's job for `[publish] lease_seconds`.
    let lease = jiff::SignedDuration::from_secs(i64::from(config.settings.publish.lease_seconds));
    let placeholders = client.map(|c| {
        Arc::new(embargo_publish::Placeholders::new(c, lease))
            as Arc<dyn embargo_publish::PlaceholderPublisher>
    });
    embargo_web::ReviewSetup {
        config_wgs: config_wgs(config),
        github,
        placeholders,
        placeholder_wgs: crate::publish::placeholder_wgs(config),
        admin_url: admin_url(config),
        ..embargo_web::ReviewSetup::default()
    }
}

fn admin_url(config: &Config) -> Option<String> {
    Some(config.settings.web.public_url.clone()).filter(|u| !u.is_empty())
}

fn team(config: &Config) -> Result<TeamIdentity, Failure> {
    let keyring = crate::init::load_keyring(config)?;
    Ok(TeamIdentity::new(
        &config.settings.mail.address,
        Some(&config.settings.mail.display_name),
        keyring,
    )
    .context("mail.address")?)
}

/// Queues each WG's slice of `release` to its leads (once per WG and
/// release) and says what happened on stderr.
async fn send_slices(
    config: &Config,
    store: &Store,
    registry: &Registry,
    release: &str,
) -> Result<(), Failure> {
    let team = team(config)?;
    let options = SliceOptions {
        admin_url: admin_url(config),
        ..SliceOptions::default()
    };
    let report = embargo_review::send_scan_slices(
        store,
        registry,
        &team,
        release,
        &options,
        Timestamp::now(),
    )
    .await
    .map_err(failure)?;
    for sent in &report.sent {
        eprintln!(
            "slice of {release} queued for WG {} ({} lead(s), {} encrypted, {} notice(s))",
            sent.wg, sent.recipients, sent.encrypted, sent.notices
        );
    }
    for wg in &report.already_sent {
        eprintln!("slice of {release} for WG {wg} was sent before");
    }
    for e in &report.errors {
        eprintln!("slice not composed: {e}");
    }
    if report.sent.is_empty() && report.already_sent.is_empty() {
        eprintln!("no WG of {release} has leads with an address: no slice sent");
    }
    Ok(())
}

/// `embargo scan send --release V`: each WG's slice to its leads.
pub async fn scan_send(config: &Config, store: &Store, release: &str) -> Result<(), Failure> {
    let registry = registry(config, store).await?;
    send_slices(config, store, &registry, release)
        .await
        .map_err(|e| match e.error.downcast_ref::<ReviewError>() {
            Some(ReviewError::UnknownRelease(_)) => {
                anyhow!("no scan stored for release {release}").into()
            }
            _ => e,
        })
}

/// `embargo scan import PATH --release V [--no-send]`: imports, prints the
/// summary, then (unless `send` is off) queues each WG's slice to its
/// leads. A slice that cannot be sent is a warning: the import stands.
pub async fn scan_import(
    config: &Config,
    store: &Store,
    path: &Path,
    release: &str,
    send: bool,
) -> Result<(), Failure> {
    let registry = registry(config, store).await?;
    let mut bar = progress_bar();
    let report =
        embargo_review::import_scans(store, &registry, path, release, &mut bar, Timestamp::now())
            .await
            .map_err(failure)?;
    for issue in &report.file_errors {
        eprintln!("{}: {}", issue.path.display(), issue.reason);
    }
    for image in &report.unmapped_images {
        eprintln!("unmapped image: {image}");
    }
    println!("{}", serde_json::to_string_pretty(&report.summary)?);
    if !report.persisted {
        return Err(anyhow!("no scan file of {} could be imported", path.display()).into());
    }
    if send && let Err(e) = send_slices(config, store, &registry, release).await {
        eprintln!(
            "warning: slices to WG leads not sent ({:#}); `embargo scan send --release {release}` sends them later",
            e.error
        );
    }
    Ok(())
}

pub async fn scan_summary(store: &Store, release: &str) -> Result<(), Failure> {
    let summary = embargo_review::scan_summary(store, release)
        .await
        .map_err(|e| release_failure(e, release))?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// An unknown release is said as such; anything else as it is.
fn release_failure(e: ReviewError, release: &str) -> Failure {
    match e {
        ReviewError::UnknownRelease(_) => anyhow!("no scan stored for release {release}").into(),
        other => failure(other),
    }
}

/// `embargo scan changes --release V --json`: `{"release", "previous",
/// "wgs": {WG: {"new", "fixed"}}, "unmapped": {"new", "fixed"}, "new":
/// [finding…], "fixed": [finding…]}`.
pub async fn scan_changes(store: &Store, release: &str) -> Result<(), Failure> {
    let changes = embargo_review::scan_changes(store, release)
        .await
        .map_err(|e| release_failure(e, release))?;
    println!("{}", serde_json::to_string_pretty(&changes)?);
    Ok(())
}

pub async fn agenda(
    config: &Config,
    store: &Store,
    since: Option<&str>,
    format: &str,
) -> Result<(), Failure> {
    let since = since
        .map(|s| {
            s.parse::<Timestamp>()
                .with_context(|| format!("bad --since {s:?} (RFC 3339)"))
        })
        .transpose()?;
    if !matches!(format, "json" | "markdown") {
        return Err(anyhow!("unknown --format {format:?} (json or markdown)").into());
    }
    let registry = registry(config, store).await?;
    let github = crate::publish::github(config).ok();
    let options = AgendaOptions {
        sla: config.settings.review.sla(),
        ..AgendaOptions::default()
    };
    let agenda = embargo_review::agenda_with(
        store,
        &registry,
        github.as_ref(),
        since,
        Timestamp::now(),
        &options,
    )
    .await
    .map_err(failure)?;
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(&agenda)?);
    } else {
        print!("{}", embargo_review::agenda_markdown(&agenda));
    }
    Ok(())
}

pub async fn review_done(store: &Store, by: &str) -> Result<(), Failure> {
    let login = Login::parse(by).context("bad --by")?;
    embargo_review::mark_review_done(store, &login, Timestamp::now())
        .await
        .map_err(failure)?;
    eprintln!("review marked done by {login}; the next agenda starts now");
    Ok(())
}

/// The digest scheduler in `serve`: once an hour, sends each WG's leads
/// their digest if this period's has not gone out yet (from any process).
pub async fn digests(
    config: Arc<Config>,
    store: Arc<Store>,
    keyring: Arc<Keyring>,
    mut stop: watch::Receiver<bool>,
) {
    let team = match TeamIdentity::new(
        &config.settings.mail.address,
        Some(&config.settings.mail.display_name),
        keyring.as_ref().clone(),
    ) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "digest scheduler not running");
            return;
        }
    };
    let days = config.settings.review.digest_days;
    if days == 0 {
        tracing::info!("WG-lead digests off (review.digest_days = 0)");
        return;
    }
    let options = DigestOptions {
        admin_url: admin_url(&config),
        sla: config.settings.review.sla(),
        period: jiff::SignedDuration::from_hours(24 * i64::from(days)),
        ..DigestOptions::default()
    };
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let registry = match embargo_review::load_registry(&store, &config_wgs(&config)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "digest round skipped");
                continue;
            }
        };
        match embargo_review::run_digests(&store, &registry, &team, &options, Timestamp::now())
            .await
        {
            Ok(report) => tracing::debug!(?report, "digest round"),
            Err(e) => tracing::warn!(error = %e, "digest round failed; next hour again"),
        }
    }
}
