//! What the mail flow needs beyond filing: keys learned from reporters,
//! links from outgoing Message-IDs to outbox entries (for bounces), and
//! re-opening a filed message once a key arrives.

use embargo_domain::TrackingId;
use jiff::Timestamp;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::db::{
    get, get_opt_ts, get_parsed, get_tracking_id, get_ts, get_u32, get_uuid, message_id_hash, ms,
};
use crate::error::{Result, StoreError};
use crate::model::{NewAttachment, OutboxState, Signature};
use crate::{Store, Tx};

/// The readable part of a filed message, replaced after a successful retry
/// of decryption or verification.
#[derive(Clone)]
pub struct MessageUpdate {
    pub subject: String,
    pub body_text: String,
    pub decrypted: bool,
    /// Reason code only, never content.
    pub decrypt_error: Option<String>,
    pub signature: Signature,
    pub attachments: Vec<NewAttachment>,
}

impl std::fmt::Debug for MessageUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageUpdate")
            .field("decrypted", &self.decrypted)
            .field("decrypt_error", &self.decrypt_error)
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

/// A message whose content may improve with a key added later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryCandidate {
    pub report: TrackingId,
    pub message: Uuid,
}

/// An outgoing message found by its Message-ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxLink {
    pub outbox_id: Uuid,
    pub report: Option<TrackingId>,
    pub kind: String,
}

/// An outbox entry as admins see it: state and bookkeeping, no content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxEntry {
    pub id: Uuid,
    pub report_id: Option<TrackingId>,
    pub state: OutboxState,
    pub attempts: u32,
    pub created_at: Timestamp,
    pub next_attempt_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    /// A short reason (e.g. an SMTP reply code), never content.
    pub last_error: Option<String>,
}

impl Tx<'_> {
    /// Remembers a certificate the reporter of `report` used (public key
    /// bytes; sealed, since it names its owner).
    pub async fn add_reporter_key(
        &mut self,
        report: &TrackingId,
        cert: &[u8],
        now: Timestamp,
    ) -> Result<Uuid> {
        let id = Uuid::now_v7();
        let id_text = id.to_string();
        let sealed = self
            .sealer
            .seal("reporter_keys", "cert_sealed", &id_text, cert)?;
        sqlx::query(
            "INSERT INTO reporter_keys (id, report_id, cert_sealed, learned_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id_text)
        .bind(report.to_string())
        .bind(sealed)
        .bind(ms(now))
        .execute(&mut *self.tx)
        .await?;
        Ok(id)
    }

    /// Links an outgoing message's Message-ID to its outbox entry.
    pub async fn link_outbox_message(
        &mut self,
        message_id: &str,
        outbox_id: Uuid,
        report: Option<&TrackingId>,
        kind: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO outbox_messages (message_id_hash, outbox_id, report_id, kind) VALUES ($1, $2, $3, $4)",
        )
        .bind(message_id_hash(message_id))
        .bind(outbox_id.to_string())
        .bind(report.map(|r| r.to_string()))
        .bind(kind)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Replaces the readable part of a filed message (subject, body,
    /// status, attachments). The original bytes stay as they are.
    pub async fn update_message(&mut self, message: Uuid, update: &MessageUpdate) -> Result<()> {
        let mid = message.to_string();
        let s = self.sealer;
        let done = sqlx::query(
            "UPDATE messages SET decrypted = $1, decrypt_error = $2, sig_status = $3, sig_signer = $4, \
             sig_matches_sender = $5, body_sealed = $6, subject_sealed = $7 WHERE id = $8",
        )
        .bind(update.decrypted)
        .bind(update.decrypt_error.as_deref())
        .bind(update.signature.status.as_str())
        .bind(update.signature.signer.as_deref())
        .bind(update.signature.matches_sender)
        .bind(s.seal("messages", "body_sealed", &mid, update.body_text.as_bytes())?)
        .bind(s.seal("messages", "subject_sealed", &mid, update.subject.as_bytes())?)
        .bind(&mid)
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("message {mid}")));
        }
        sqlx::query("DELETE FROM attachments WHERE message_id = $1")
            .bind(&mid)
            .execute(&mut *self.tx)
            .await?;
        self.insert_attachments(&mid, &update.attachments).await
    }
}

impl Store {
    /// Every certificate learned from the reporter of `report`, oldest
    /// first.
    pub async fn reporter_keys(&self, report: &TrackingId) -> Result<Vec<Zeroizing<Vec<u8>>>> {
        let rows = sqlx::query(
            "SELECT id, cert_sealed FROM reporter_keys WHERE report_id = $1 ORDER BY learned_at, id",
        )
        .bind(report.to_string())
        .fetch_all(self.pool())
        .await?;
        let s = self.sealer();
        rows.iter()
            .map(|row| {
                let id: String = get(row, "id")?;
                let blob: Vec<u8> = get(row, "cert_sealed")?;
                s.open("reporter_keys", "cert_sealed", &id, &blob)
            })
            .collect()
    }

    /// See [`Tx::add_reporter_key`]; one transaction.
    pub async fn add_reporter_key(
        &self,
        report: &TrackingId,
        cert: &[u8],
        now: Timestamp,
    ) -> Result<Uuid> {
        let mut tx = self.begin().await?;
        let id = tx.add_reporter_key(report, cert, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The outbox entry that sent the message with this Message-ID.
    pub async fn find_outbox_by_message_id(&self, message_id: &str) -> Result<Option<OutboxLink>> {
        let row = sqlx::query(
            "SELECT outbox_id, report_id, kind FROM outbox_messages WHERE message_id_hash = $1",
        )
        .bind(message_id_hash(message_id))
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(OutboxLink {
                outbox_id: get_uuid(&r, "outbox_id")?,
                report: get::<Option<String>>(&r, "report_id")?
                    .map(|s| crate::db::parse_tracking_id(&s))
                    .transpose()?,
                kind: get(&r, "kind")?,
            })
        })
        .transpose()
    }

    /// Inbound messages that stayed unreadable or whose signer was unknown:
    /// the ones a new key may open. Of one report, or of all.
    pub async fn retry_candidates(
        &self,
        report: Option<&TrackingId>,
    ) -> Result<Vec<RetryCandidate>> {
        let rows = sqlx::query(
            "SELECT report_id, id FROM messages WHERE direction = 'inbound' \
             AND ((encrypted = $1 AND decrypted = $2) OR sig_status = 'unknown-key') \
             AND ($3 IS NULL OR report_id = $3) ORDER BY received_at, id",
        )
        .bind(true)
        .bind(false)
        .bind(report.map(|r| r.to_string()))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RetryCandidate {
                    report: get_tracking_id(r, "report_id")?,
                    message: get_uuid(r, "id")?,
                })
            })
            .collect()
    }

    /// See [`Tx::update_message`]; one transaction.
    pub async fn update_message(&self, message: Uuid, update: &MessageUpdate) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.update_message(message, update).await?;
        tx.commit().await
    }
}

impl Store {
    /// Outbox entries, newest first: all, or those in `state`.
    pub async fn list_outbox(
        &self,
        state: Option<OutboxState>,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>> {
        let rows = sqlx::query(
            "SELECT id, report_id, state, attempts, created_at, next_attempt_at, sent_at, last_error \
             FROM outbox WHERE ($1 IS NULL OR state = $1) ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(state.map(|s| s.as_str()))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxEntry {
                    id: get_uuid(r, "id")?,
                    report_id: get::<Option<String>>(r, "report_id")?
                        .map(|s| crate::db::parse_tracking_id(&s))
                        .transpose()?,
                    state: get_parsed(r, "state")?,
                    attempts: get_u32(r, "attempts")?,
                    created_at: get_ts(r, "created_at")?,
                    next_attempt_at: get_ts(r, "next_attempt_at")?,
                    sent_at: get_opt_ts(r, "sent_at")?,
                    last_error: get(r, "last_error")?,
                })
            })
            .collect()
    }

    /// Puts a dead-lettered entry back in the queue, due at `now`, with
    /// its attempts counted from zero again.
    pub async fn retry_outbox(&self, id: Uuid, now: Timestamp) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = $1, last_error = NULL \
             WHERE id = $2 AND state = 'dead'",
        )
        .bind(ms(now))
        .bind(id.to_string())
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("dead outbox entry {id}")));
        }
        tx.commit().await
    }
}
