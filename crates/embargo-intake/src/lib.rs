//! Intake: one inbound message in, one filed message out, and the mail it
//! causes queued in the same transaction.
//!
//! The path is parse (embargo-mail, once) → decrypt and verify
//! (embargo-pgp, off the async runtime) → thread → seal and file
//! (embargo-store, one transaction, together with the acknowledgement,
//! the team copies and a member's relayed reply). A message that cannot be
//! decrypted is still filed, marked `decrypted: false` with a reason code,
//! its original kept sealed. The only refusals are permanent ones (not an
//! email, over the size limit); everything else that goes wrong is
//! temporary, so the MTA keeps the message and delivers it again.

mod flow;
mod open;

use std::sync::Arc;

use embargo_domain::{TrackingId, TrackingPrefix};
use embargo_mail::Limits;
use embargo_pgp::{Cert, Keyring, parse_certs};
use embargo_store::{Actor, Filed, MessageUpdate, NewReport, Store, StoreError};
use jiff::Timestamp;

pub use flow::MailFlow;
pub use open::{Opened, reason_code};

/// Why a message was not filed.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Refused for good (exit 65 / LMTP 5xx): delivering the same bytes
    /// again gives the same answer.
    #[error("{0}")]
    Refused(String),
    /// Over the size limit (exit 65 / LMTP 552).
    #[error("message is {size} bytes, over the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    /// Not stored; deliver again later (exit 75 / LMTP 451).
    #[error("temporary failure: {0}")]
    Temporary(String),
}

impl IntakeError {
    pub fn is_permanent(&self) -> bool {
        !matches!(self, IntakeError::Temporary(_))
    }
}

impl From<StoreError> for IntakeError {
    fn from(e: StoreError) -> Self {
        // Whatever the store's trouble, the message is not stored: the MTA
        // must keep it. Nothing the store says is a reason to refuse mail.
        IntakeError::Temporary(format!("store: {e}"))
    }
}

/// Why a triage did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    #[error("{0}")]
    Refused(#[from] embargo_domain::Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] IntakeError),
}

/// What filing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub report: TrackingId,
    /// A new report was opened for this message.
    pub new_report: bool,
    /// The same message had been filed before; nothing was written.
    pub duplicate: bool,
    /// The message was encrypted and could be decrypted, or was not
    /// encrypted.
    pub readable: bool,
    /// Messages queued for delivery because of this one.
    pub queued: usize,
}

/// Counts of [`Intake::retry`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryCounts {
    pub examined: usize,
    pub improved: usize,
}

/// Files inbound messages.
#[derive(Clone)]
pub struct Intake {
    store: Arc<Store>,
    keyring: Arc<Keyring>,
    prefix: TrackingPrefix,
    limits: Limits,
    flow: Arc<MailFlow>,
}

impl Intake {
    pub fn new(
        store: Arc<Store>,
        keyring: Arc<Keyring>,
        prefix: TrackingPrefix,
        max_message_bytes: usize,
        flow: Arc<MailFlow>,
    ) -> Self {
        let limits = Limits {
            max_bytes: max_message_bytes,
            ..Limits::default()
        };
        Self {
            store,
            keyring,
            prefix,
            limits,
            flow,
        }
    }

    pub fn max_message_bytes(&self) -> usize {
        self.limits.max_bytes
    }

    async fn open_blocking(&self, raw: Vec<u8>, known: Vec<Cert>) -> Result<Opened, IntakeError> {
        let keyring = self.keyring.clone();
        let limits = self.limits;
        // Parsing and decryption are CPU work on attacker-controlled input:
        // off the async runtime.
        tokio::task::spawn_blocking(move || open::open(raw, &keyring, &limits, &known))
            .await
            .map_err(|e| IntakeError::Temporary(format!("intake worker: {e}")))?
    }

    async fn known_certs(&self, report: &TrackingId) -> Result<Vec<Cert>, IntakeError> {
        let mut out = Vec::new();
        for bytes in self.store.reporter_keys(report).await? {
            if let Ok(certs) = parse_certs(&bytes) {
                out.extend(certs);
            }
        }
        Ok(out)
    }

    /// Files one raw message. `Ok` only once it is durably stored.
    pub async fn file(&self, raw: Vec<u8>) -> Result<Outcome, IntakeError> {
        if raw.len() > self.limits.max_bytes {
            return Err(IntakeError::TooLarge {
                size: raw.len(),
                max: self.limits.max_bytes,
            });
        }
        let received_at = Timestamp::now();
        let mut opened = self.open_blocking(raw.clone(), Vec::new()).await?;
        let mut report = self.thread(&opened).await?;

        // A bounce of our own mail belongs to the report that mail was
        // about; it never opens a report of its own.
        if let Some(Some(original)) = &opened.bounce_of
            && let Some(link) = self.store.find_outbox_by_message_id(original).await?
        {
            report = link.report.clone().or(report);
            opened.flags.push("delivery-failure".into());
        }

        // Keys from earlier messages of the same report, or the key of the
        // team member the sender claims to be, may verify this one.
        let members = self.store.list_users().await?;
        if opened.message.signature.status == embargo_store::SigStatus::UnknownKey {
            let mut known = match &report {
                Some(id) => self.known_certs(id).await?,
                None => Vec::new(),
            };
            known.extend(flow::member_certs(&members, &opened.reporter));
            if !known.is_empty() {
                opened = self.open_blocking(raw, known).await?;
            }
        }

        opened.message.received_at = received_at;
        // What the filing causes comes after it, also in the thread's order.
        let caused_at = std::cmp::max(
            Timestamp::now(),
            received_at + jiff::SignedDuration::from_millis(1),
        );
        let readable = !opened.message.encrypted || opened.message.decrypted;
        let size = opened.message.raw.len();
        // Read what the mail flow needs before the write transaction
        // starts (SQLite takes its write lock at BEGIN).
        let (stored_keys, reporter) = match &report {
            Some(id) => (
                self.known_certs(id).await?,
                self.store.get_report(id).await?.report.reporter,
            ),
            None => (Vec::new(), opened.reporter.clone()),
        };
        let mut tx = self.store.begin().await?;
        let filed = match &report {
            Some(id) => tx.add_message(id, &opened.message).await?,
            None => {
                tx.create_report(
                    &self.prefix,
                    received_at,
                    &NewReport {
                        subject: opened.subject.clone(),
                        reporter: opened.reporter.clone(),
                    },
                    &opened.message,
                )
                .await?
            }
        };
        let mut queued = 0;
        if let Filed::New { report: id, .. } = &filed {
            let domain = tx.load_domain_report(id).await?;
            queued = self
                .flow
                .after_filing(
                    &mut tx,
                    flow::Filing {
                        report: id,
                        new_report: report.is_none(),
                        wg: domain.wg.as_ref(),
                        reporter: &reporter,
                        opened: &opened,
                        members: &members,
                        stored_keys: &stored_keys,
                        now: caused_at,
                    },
                )
                .await?;
            if !opened.flags.is_empty() {
                tx.append_event(
                    Some(id),
                    &Actor::System,
                    "flagged",
                    &opened.flags.join(","),
                    received_at,
                )
                .await?;
            }
        }
        tx.commit().await?;
        let outcome = Outcome {
            report: filed.report().clone(),
            new_report: report.is_none() && filed.is_new(),
            duplicate: !filed.is_new(),
            readable,
            queued,
        };
        tracing::info!(
            report = %outcome.report,
            size,
            new_report = outcome.new_report,
            duplicate = outcome.duplicate,
            readable,
            queued,
            "message filed"
        );
        // A key that arrived with this follow-up may verify (or decrypt)
        // earlier messages of the report: re-open them now. The filing is
        // durable already; a failure here only delays that to a later retry.
        if report.is_some() && filed.is_new() && !opened.learned.is_empty() {
            match self.retry(Some(&outcome.report)).await {
                Ok(c) if c.improved > 0 => {
                    tracing::info!(report = %outcome.report, improved = c.improved, "earlier messages re-verified");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(report = %outcome.report, error = %e, "re-verification deferred")
                }
            }
        }
        Ok(outcome)
    }

    /// The report this message belongs to: one of its In-Reply-To or
    /// References names a filed message, or its subject carries the ID of
    /// an existing report in brackets.
    async fn thread(&self, opened: &Opened) -> Result<Option<TrackingId>, IntakeError> {
        for reference in &opened.references {
            if let Some(id) = self.store.find_report_by_message_id(reference).await? {
                return Ok(Some(id));
            }
        }
        if let Some(id) = TrackingId::find_in_subject(&opened.subject, &self.prefix) {
            match self.store.load_domain_report(&id).await {
                Ok(_) => return Ok(Some(id)),
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// Opens again, with the current keys, every message that stayed
    /// unreadable or whose signer was unknown (of one report, or all), and
    /// records what improved. Run after adding a team key or learning a
    /// reporter's key.
    pub async fn retry(&self, report: Option<&TrackingId>) -> Result<RetryCounts, IntakeError> {
        let mut counts = RetryCounts::default();
        for candidate in self.store.retry_candidates(report).await? {
            counts.examined += 1;
            let before = self.store.get_report(&candidate.report).await?;
            let Some(old) = before.messages.iter().find(|m| m.id == candidate.message) else {
                continue;
            };
            let raw = self.store.get_raw_message(candidate.message).await?;
            let known = self.known_certs(&candidate.report).await?;
            let opened = self.open_blocking(raw.to_vec(), known).await?;
            let m = &opened.message;
            let better_decryption = m.encrypted && m.decrypted && !old.decrypted;
            let better_signature = old.signature.status == embargo_store::SigStatus::UnknownKey
                && m.signature.status != embargo_store::SigStatus::UnknownKey;
            if !(better_decryption || better_signature) {
                continue;
            }
            let now = Timestamp::now();
            let mut tx = self.store.begin().await?;
            tx.update_message(
                candidate.message,
                &MessageUpdate {
                    subject: m.subject.clone(),
                    body_text: m.body_text.clone(),
                    decrypted: m.decrypted,
                    decrypt_error: m.decrypt_error.clone(),
                    signature: m.signature.clone(),
                    attachments: m.attachments.clone(),
                },
            )
            .await?;
            tx.append_event(
                Some(&candidate.report),
                &Actor::System,
                if better_decryption {
                    "decryption-retried"
                } else {
                    "signature-reverified"
                },
                &format!("message {}", candidate.message),
                now,
            )
            .await?;
            tx.commit().await?;
            counts.improved += 1;
        }
        Ok(counts)
    }

    /// Routes a report to a WG and rates it (through the domain's state
    /// machine), and sends the WG's leads their copy, in one transaction.
    pub async fn triage(
        &self,
        id: &TrackingId,
        wg: embargo_domain::WgName,
        severity: embargo_domain::Severity,
        actor: &Actor,
        policy: &embargo_domain::EmbargoPolicy,
    ) -> Result<embargo_domain::Report, TriageError> {
        let now = Timestamp::now();
        let current = self.store.load_domain_report(id).await?;
        let next = current.apply(
            &embargo_domain::Action::Triage {
                wg: wg.clone(),
                severity,
            },
            now,
            policy,
        )?;
        let detail = self.store.get_report(id).await?;
        let members = self.store.list_users().await?;
        let mut tx = self.store.begin().await?;
        tx.apply_report_update(
            current.state,
            &next,
            actor,
            "triaged",
            &format!("wg={wg} severity={severity}"),
            now,
        )
        .await?;
        // Only a new routing sends copies: re-rating within the same WG
        // does not mail the leads again.
        if current.wg.as_ref() != Some(&wg) {
            self.flow
                .routed_copies(&mut tx, id, &wg, &detail, &members, now)
                .await?;
        }
        tx.commit().await?;
        Ok(next)
    }

    /// Records keys a reporter sent later (e.g. a key attached to a
    /// follow-up) and re-verifies that report's messages.
    pub async fn learn_reporter_key(
        &self,
        report: &TrackingId,
        cert: &[u8],
    ) -> Result<RetryCounts, IntakeError> {
        if parse_certs(cert).map(|c| c.is_empty()).unwrap_or(true) {
            return Err(IntakeError::Refused("no OpenPGP certificate".into()));
        }
        self.store
            .add_reporter_key(report, cert, Timestamp::now())
            .await?;
        self.retry(Some(report)).await
    }
}

impl embargo_mail::lmtp::Deliver for Intake {
    async fn deliver(
        &self,
        _envelope: &embargo_mail::lmtp::Envelope,
        raw: Vec<u8>,
    ) -> Vec<embargo_mail::lmtp::RcptOutcome> {
        use embargo_mail::lmtp::RcptOutcome;
        // One filing for all recipients: they are all the security address.
        let outcome = match self.file(raw).await {
            Ok(_) => RcptOutcome::Accepted,
            Err(e @ IntakeError::Temporary(_)) => {
                tracing::warn!(error = %e, "LMTP delivery deferred");
                RcptOutcome::TempFail("cannot store the message now, try again later".into())
            }
            Err(e) => RcptOutcome::PermFail(e.to_string()),
        };
        vec![outcome]
    }
}
