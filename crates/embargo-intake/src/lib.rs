//! Intake: one inbound message in, one filed message out.
//!
//! The path is parse (embargo-mail, once) → decrypt and verify
//! (embargo-pgp, off the async runtime) → thread → seal and file
//! (embargo-store, one transaction). A message that cannot be decrypted is
//! still filed, marked `decrypted: false` with a reason code, its original
//! kept sealed. The only refusals are permanent ones (not an email, over
//! the size limit); everything else that goes wrong is temporary, so the
//! MTA keeps the message and delivers it again.

mod open;

use std::sync::Arc;

use embargo_domain::{TrackingId, TrackingPrefix};
use embargo_mail::Limits;
use embargo_pgp::Keyring;
use embargo_store::{Actor, Filed, NewReport, Store, StoreError};
use jiff::Timestamp;

pub use open::Opened;

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
}

/// Files inbound messages.
#[derive(Clone)]
pub struct Intake {
    store: Arc<Store>,
    keyring: Arc<Keyring>,
    prefix: TrackingPrefix,
    limits: Limits,
}

impl Intake {
    pub fn new(
        store: Arc<Store>,
        keyring: Arc<Keyring>,
        prefix: TrackingPrefix,
        max_message_bytes: usize,
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
        }
    }

    pub fn max_message_bytes(&self) -> usize {
        self.limits.max_bytes
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
        let keyring = self.keyring.clone();
        let limits = self.limits;
        // Parsing and decryption are CPU work on attacker-controlled input:
        // off the async runtime.
        let opened = tokio::task::spawn_blocking(move || open::open(raw, &keyring, &limits))
            .await
            .map_err(|e| IntakeError::Temporary(format!("intake worker: {e}")))??;

        let report = self.thread(&opened).await?;
        let readable = !opened.message.encrypted || opened.message.decrypted;
        let size = opened.message.raw.len();
        let flags = opened.flags.clone();
        let filed = match &report {
            Some(id) => self.store.add_message(id, opened.message).await?,
            None => {
                self.store
                    .create_report(
                        &self.prefix,
                        received_at,
                        NewReport {
                            subject: opened.subject,
                            reporter: opened.reporter,
                        },
                        opened.message,
                    )
                    .await?
            }
        };
        let outcome = Outcome {
            report: filed.report().clone(),
            new_report: report.is_none() && filed.is_new(),
            duplicate: !filed.is_new(),
            readable,
        };
        if let Filed::New { report, .. } = &filed
            && !flags.is_empty()
        {
            {
                // The message is already durable; a failure to record the
                // flags must not turn into a redelivery.
                if let Err(e) = self
                    .store
                    .append_event(
                        Some(report),
                        &Actor::System,
                        "flagged",
                        &flags.join(","),
                        received_at,
                    )
                    .await
                {
                    tracing::warn!(%report, error = %e, "could not record message flags");
                }
            }
        }
        tracing::info!(
            report = %outcome.report,
            size,
            new_report = outcome.new_report,
            duplicate = outcome.duplicate,
            readable,
            "message filed"
        );
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
