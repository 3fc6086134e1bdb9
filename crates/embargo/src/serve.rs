//! `serve`: the web view and the LMTP listener in one process, stopped
//! cleanly by SIGTERM or Ctrl-C.

use std::sync::Arc;

use anyhow::Context;
use embargo_intake::{Intake, IntakeError};
use embargo_mail::lmtp::{self, LmtpLimits};
use embargo_store::{IntakeChannel, IntakeOutcome};
use embargo_web::metrics::{IntakeCounter, Metrics};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Failure;
use crate::config::Config;
use crate::init;

pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.settings.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless; ignore it.
    let _ = if config.settings.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub async fn serve(config: &Config) -> Result<(), Failure> {
    if !config.storage_key_file.exists() {
        init::init(config).await?;
    }
    // One serve per data directory; `restore` waits for it to stop.
    let _lock = crate::backup::take_serve_lock(config)?;
    // Fail early on unusable keys rather than at the first message.
    let keyring = Arc::new(init::load_keyring(config)?);
    let store = Arc::new(init::open_store(config).await?);

    let web = TcpListener::bind(config.web_listen)
        .await
        .with_context(|| format!("cannot listen on {} (web.listen)", config.web_listen))?;
    let lmtp = TcpListener::bind(config.lmtp_listen)
        .await
        .with_context(|| format!("cannot listen on {} (lmtp.listen)", config.lmtp_listen))?;
    tracing::info!(web = %config.web_listen, lmtp = %config.lmtp_listen, "embargo serving");

    let (stop_tx, stop_rx) = watch::channel(false);
    let intake = crate::mailflow::intake(config, store.clone(), keyring.clone())?;
    let metrics = Arc::new(Metrics::new());
    let counter = Arc::new(IntakeCounter::new(store.clone()));
    let state = web_state(
        config,
        store.clone(),
        &keyring,
        intake.clone(),
        metrics.clone(),
    )?;
    let metrics_task = match config.metrics_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (metrics.listen)"))?;
            let app = embargo_web::metrics::metrics_router(
                metrics.clone(),
                store.clone(),
                Some(counter.clone()),
            );
            let mut metrics_stop = stop_rx.clone();
            Some(tokio::spawn(async move {
                axum_serve_metrics(listener, app, async move {
                    let _ = metrics_stop.wait_for(|s| *s).await;
                })
                .await
            }))
        }
        None => None,
    };
    let mut web_stop = stop_rx.clone();
    let web_task = tokio::spawn(embargo_web::serve(web, state, async move {
        let _ = web_stop.wait_for(|s| *s).await;
    }));
    let shared_config = Arc::new(config.clone());
    let publisher_task = tokio::spawn(crate::publish::scheduler(
        shared_config.clone(),
        store.clone(),
        keyring.clone(),
        stop_rx.clone(),
    ));
    let digest_task = tokio::spawn(crate::review::digests(
        shared_config,
        store.clone(),
        keyring,
        stop_rx.clone(),
    ));
    let transport = crate::mailflow::transport(config)?;
    let worker =
        embargo_outbound::Worker::new(store.as_ref().clone(), transport, worker_config(config));
    let outbox_wake = worker.waker();
    let mut worker_stop = stop_rx.clone();
    let worker_task = tokio::spawn(async move {
        worker
            .run(async move {
                let _ = worker_stop.wait_for(|s| *s).await;
            })
            .await;
    });
    let limits = LmtpLimits {
        max_bytes: intake.max_message_bytes(),
        ..LmtpLimits::default()
    };
    let hostname = config
        .settings
        .mail
        .address
        .rsplit_once('@')
        .map(|(_, d)| d.to_owned())
        .unwrap_or_else(|| "localhost".to_owned());
    let counted = Counted {
        intake,
        counter: counter.clone(),
        outbox_wake,
    };
    let lmtp_task = tokio::spawn(lmtp_accept(lmtp, hostname, counted, limits, stop_rx));

    shutdown_signal().await;
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    web_task
        .await
        .context("web task")?
        .context("web listener failed")?;
    lmtp_task.await.context("LMTP task")?;
    worker_task.await.context("outbound mail worker")?;
    publisher_task.await.context("publication scheduler")?;
    digest_task.await.context("digest scheduler")?;
    if let Some(task) = metrics_task {
        task.await
            .context("metrics task")?
            .context("metrics listener failed")?;
    }
    if let Err(e) = counter.flush().await {
        tracing::warn!(error = %e, unwritten = counter.unwritten(), "intake counts lost at stop");
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The outbox worker's settings: `[outbox]`, and a lease owner that names
/// this host and process (`outbox list` shows who holds an entry).
fn worker_config(config: &Config) -> embargo_outbound::WorkerConfig {
    let o = &config.settings.outbox;
    embargo_outbound::WorkerConfig {
        owner: format!("outbound:{}", crate::publish::owner()),
        lease: jiff::SignedDuration::from_secs(i64::from(o.lease_seconds)),
        poll_interval: std::time::Duration::from_secs(u64::from(o.poll_seconds)),
        ..embargo_outbound::WorkerConfig::default()
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}

/// The LMTP listener: one task per connection. On stop, sessions finish
/// the transaction in progress and then answer 421.
async fn lmtp_accept(
    listener: TcpListener,
    hostname: String,
    intake: Counted,
    limits: LmtpLimits,
    mut stop: watch::Receiver<bool>,
) {
    let intake = Arc::new(intake);
    let limits = Arc::new(limits);
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        let session_stop = stop.clone();
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::debug!(%peer, "LMTP connection");
                    let host = hostname.clone();
                    let intake = intake.clone();
                    let limits = limits.clone();
                    sessions.spawn(async move {
                        if let Err(e) = lmtp::session_until(stream, &host, &limits, intake.as_ref(), Some(session_stop)).await {
                            tracing::debug!(error = %e, "LMTP session ended");
                        }
                    });
                }
                Err(e) => tracing::warn!(error = %e, "LMTP accept failed"),
            },
            _ = stop.wait_for(|s| *s) => break,
        }
        // Reap finished sessions so the set does not grow.
        while sessions.try_join_next().is_some() {}
    }
    // Sessions in flight finish their transaction: an accepted message is
    // answered before the process exits.
    while sessions.join_next().await.is_some() {}
}

/// The hook behind the web view's "retry decryption".
struct Retry(Intake, embargo_domain::EmbargoPolicy);

impl embargo_web::RetryDecryption for Retry {
    fn retry<'a>(
        &'a self,
        report: &'a embargo_domain::TrackingId,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<embargo_web::RetryOutcome, String>> + Send + 'a,
        >,
    > {
        Box::pin(async move {
            self.0
                .retry(Some(report))
                .await
                .map(|c| embargo_web::RetryOutcome {
                    examined: c.examined,
                    improved: c.improved,
                })
                .map_err(|e| e.to_string())
        })
    }

    fn triage<'a>(
        &'a self,
        report: &'a embargo_domain::TrackingId,
        wg: &'a embargo_domain::WgName,
        severity: embargo_domain::Severity,
        actor: &'a embargo_store::Actor,
    ) -> Option<embargo_web::TriageRun<'a>> {
        Some(Box::pin(async move {
            use embargo_intake::TriageError;
            use embargo_web::TriageFailure;
            self.0
                .triage(report, wg.clone(), severity, actor, &self.1)
                .await
                .map(|_| ())
                .map_err(|e| match e {
                    TriageError::Refused(r) => TriageFailure::Refused(r.to_string()),
                    TriageError::Store(embargo_store::StoreError::Conflict(_)) => {
                        TriageFailure::Conflict
                    }
                    other => TriageFailure::Unavailable(other.to_string()),
                })
        }))
    }
}

fn web_state(
    config: &Config,
    store: Arc<embargo_store::Store>,
    keyring: &embargo_pgp::Keyring,
    intake: Intake,
    metrics: Arc<Metrics>,
) -> anyhow::Result<embargo_web::AppState> {
    let s = &config.settings;
    let mut public = embargo_web::public::PublicConfig::new(
        s.mail.address.clone(),
        keyring,
        crate::mailflow::key_url(config),
    )
    .map_err(|e| anyhow::anyhow!("team key for security.txt: {e}"))?;
    public.policy_url = Some(s.web.policy_url.clone()).filter(|u| !u.is_empty());
    if s.web.sign_security_txt {
        public
            .sign_security_txt(keyring, jiff::Timestamp::now())
            .context("signing security.txt")?;
    }
    let wgs = s
        .wgs
        .iter()
        .filter_map(|w| embargo_domain::WgName::parse(&w.name).ok())
        .collect();
    let web = embargo_web::WebConfig {
        secure_cookies: s.web.secure_cookies,
        wgs,
        policy: config.policy.clone(),
        approvals_required: crate::publish::policy(config).approvals_required,
        time_zone: s.publish.time_zone.clone(),
        csaf_publisher: Some(crate::publish::csaf_publisher(config)),
        config_summary: vec![
            ("mail.address".into(), s.mail.address.clone()),
            ("web.listen".into(), s.web.listen.clone()),
            ("lmtp.listen".into(), s.lmtp.listen.clone()),
            (
                "intake.tracking_prefix".into(),
                s.intake.tracking_prefix.clone(),
            ),
            (
                "intake.max_message_bytes".into(),
                s.intake.max_message_bytes.to_string(),
            ),
            ("embargo.max_days".into(), s.embargo.max_days.to_string()),
            ("publish.approvals".into(), s.publish.approvals.to_string()),
            ("github.api_url".into(), s.github.api_url.clone()),
            ("team key".into(), keyring.fingerprint()),
            (
                "database".into(),
                if config.database_url.expose().starts_with("sqlite") {
                    "SQLite (embedded)".into()
                } else {
                    "PostgreSQL".into()
                },
            ),
        ],
        sla: s.review.sla(),
        review: crate::review::web_setup(config),
        public: Some(Arc::new(public)),
        metrics: Some(metrics),
        ..embargo_web::WebConfig::default()
    };
    let team = embargo_outbound::TeamIdentity::new(
        &s.mail.address,
        Some(&s.mail.display_name),
        keyring.clone(),
    )
    .context("mail.address")?;
    embargo_web::AppState::new(
        store,
        web,
        Some(team),
        Some(Arc::new(Retry(intake, config.policy.clone()))),
    )
    .map_err(|e| anyhow::anyhow!("web view: {e}"))
}

/// The intake behind the LMTP listener, counting what it does.
struct Counted {
    intake: Intake,
    counter: Arc<IntakeCounter>,
    /// Filing queues mail (the acknowledgement): the worker sends it now
    /// rather than at its next poll.
    outbox_wake: Arc<tokio::sync::Notify>,
}

impl lmtp::Deliver for Counted {
    async fn deliver(&self, _envelope: &lmtp::Envelope, raw: Vec<u8>) -> Vec<lmtp::RcptOutcome> {
        // One filing for all recipients: they are all the security address.
        let (reply, outcome, undecryptable) = match self.intake.file(raw).await {
            Ok(filed) => {
                self.outbox_wake.notify_one();
                (
                    lmtp::RcptOutcome::Accepted,
                    IntakeOutcome::Accepted,
                    !filed.readable,
                )
            }
            Err(e @ IntakeError::Temporary(_)) => {
                tracing::warn!(error = %e, "LMTP delivery deferred");
                (
                    lmtp::RcptOutcome::TempFail(
                        "cannot store the message now, try again later".into(),
                    ),
                    IntakeOutcome::Tempfail,
                    false,
                )
            }
            Err(e) => (
                lmtp::RcptOutcome::PermFail(e.to_string()),
                IntakeOutcome::Refused,
                false,
            ),
        };
        // Counted in the store, off the answer's path: a store that is
        // down must not hold up the 4xx.
        let counter = self.counter.clone();
        tokio::spawn(async move {
            if let Err(e) = counter
                .record(IntakeChannel::Lmtp, outcome, undecryptable)
                .await
            {
                tracing::debug!(error = %e, "intake count kept for later");
            }
        });
        vec![reply]
    }
}

/// The metrics listener: `/metrics` only, no session, no admin view.
async fn axum_serve_metrics(
    listener: TcpListener,
    app: embargo_web::metrics::MetricsApp,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    embargo_web::metrics::serve(listener, app, shutdown).await
}
