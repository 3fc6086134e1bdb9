//! Reports, messages, attachments and the audit trail.

use embargo_domain::{Report, State, TrackingId, TrackingPrefix};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::db::{
    Sealer, get, get_bool, get_opt_parsed, get_opt_tracking_id, get_opt_ts, get_parsed,
    get_tracking_id, get_ts, get_u64, get_uuid, message_id_hash, ms, opt_ms, parse_wg, sha256_hex,
};
use crate::error::{Result, StoreError};
use crate::model::{
    Actor, AttachmentMeta, Event, Filed, MessageDetail, NewAttachment, NewMessage, NewReport,
    ReportDetail, ReportFilter, ReportSummary, Signature,
};
use crate::{Store, Tx};

/// The hashes a message is deduplicated and threaded by.
struct Hashes {
    message_id: String,
    content: String,
}

impl Hashes {
    fn of(m: &NewMessage) -> Self {
        let content = sha256_hex(&m.raw);
        let message_id = match &m.message_id {
            Some(id) if !id.trim().is_empty() => message_id_hash(id),
            // No Message-ID: a stand-in that no real ID hashes to, so the
            // same bytes still deduplicate but never thread.
            _ => sha256_hex(format!("embargo:no-message-id:{content}").as_bytes()),
        };
        Self {
            message_id,
            content,
        }
    }
}

fn check_kind(kind: &str) -> Result<()> {
    let ok = (1..=64).contains(&kind.len())
        && kind.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "event kind must be 1-64 characters of a-z, 0-9, '-', '_', '.'".to_owned(),
        ))
    }
}

/// Only the media type is kept in clear: parameters such as `name=` may
/// carry the (sealed) file name.
fn media_type(content_type: &str) -> String {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ok = !essence.is_empty()
        && essence.len() <= 127
        && essence
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/!#$&^_.+-".contains(&b));
    if ok {
        essence
    } else {
        "application/octet-stream".to_owned()
    }
}

fn len_i64(n: usize) -> Result<i64> {
    i64::try_from(n).map_err(|_| StoreError::Invalid("value too large".to_owned()))
}

async fn find_message(conn: &mut AnyConnection, h: &Hashes) -> Result<Option<(TrackingId, Uuid)>> {
    let row = sqlx::query(
        "SELECT report_id, id FROM messages WHERE message_id_hash = $1 AND content_hash = $2",
    )
    .bind(&h.message_id)
    .bind(&h.content)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| Ok((get_tracking_id(&r, "report_id")?, get_uuid(&r, "id")?)))
        .transpose()
}

/// The columns of a [`ReportSummary`] (a macro so `concat!` builds
/// `&'static str` queries from it).
macro_rules! summary_select {
    () => {
        "SELECT r.tracking_id, r.state, r.wg, r.severity, r.reporter_sealed, r.subject_sealed, \
         r.created_at, r.updated_at, r.embargo_until, r.duplicate_of, r.acknowledged_at, r.triaged_at, \
         (SELECT COUNT(*) FROM messages m WHERE m.report_id = r.tracking_id) AS message_count \
         FROM reports r "
    };
}
pub(crate) use summary_select;

pub(crate) fn summary_from_row(s: Sealer<'_>, row: &AnyRow) -> Result<ReportSummary> {
    let id_text: String = get(row, "tracking_id")?;
    let id = crate::db::parse_tracking_id(&id_text)?;
    Ok(ReportSummary {
        state: get_parsed(row, "state")?,
        subject: s.open_col_text(row, "reports", "subject_sealed", &id_text)?,
        reporter: s.open_col_text(row, "reports", "reporter_sealed", &id_text)?,
        wg: parse_wg(get(row, "wg")?)?,
        severity: get_opt_parsed(row, "severity")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
        embargo_until: get_opt_ts(row, "embargo_until")?,
        duplicate_of: get_opt_tracking_id(row, "duplicate_of")?,
        acknowledged_at: get_opt_ts(row, "acknowledged_at")?,
        triaged_at: get_opt_ts(row, "triaged_at")?,
        message_count: get_u64(row, "message_count")?,
        id,
    })
}

async fn load_domain(conn: &mut AnyConnection, id: &TrackingId) -> Result<Report> {
    let row = sqlx::query(
        "SELECT state, wg, severity, created_at, embargo_until, duplicate_of FROM reports WHERE tracking_id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("report {id}")))?;
    Ok(Report {
        id: id.clone(),
        state: get_parsed(&row, "state")?,
        wg: get::<Option<String>>(&row, "wg")?
            .map(|w| embargo_domain::WgName::parse(&w))
            .transpose()
            .map_err(|_| StoreError::corrupt("stored WG name does not parse"))?,
        severity: get_opt_parsed(&row, "severity")?,
        created_at: get_ts(&row, "created_at")?,
        embargo_until: get_opt_ts(&row, "embargo_until")?,
        duplicate_of: get_opt_tracking_id(&row, "duplicate_of")?,
    })
}

impl Tx<'_> {
    async fn insert_message(
        &mut self,
        report: &TrackingId,
        id: Uuid,
        h: &Hashes,
        m: &NewMessage,
    ) -> Result<()> {
        let s = self.sealer;
        let mid = id.to_string();
        let seal = |column: &str, bytes: &[u8]| s.seal("messages", column, &mid, bytes);
        let message_id_sealed = m
            .message_id
            .as_deref()
            .map(|v| seal("message_id_sealed", v.as_bytes()))
            .transpose()?;
        sqlx::query(
            "INSERT INTO messages (id, report_id, message_id_hash, content_hash, direction, received_at, date, size, \
             encrypted, decrypted, decrypt_error, sig_status, sig_signer, sig_matches_sender, \
             message_id_sealed, raw_sealed, headers_sealed, body_sealed, subject_sealed, from_sealed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        )
        .bind(&mid)
        .bind(report.to_string())
        .bind(&h.message_id)
        .bind(&h.content)
        .bind(m.direction.as_str())
        .bind(ms(m.received_at))
        .bind(opt_ms(m.date))
        .bind(len_i64(m.raw.len())?)
        .bind(m.encrypted)
        .bind(m.decrypted)
        .bind(m.decrypt_error.as_deref())
        .bind(m.signature.status.as_str())
        .bind(m.signature.signer.as_deref())
        .bind(m.signature.matches_sender)
        .bind(message_id_sealed)
        .bind(seal("raw_sealed", &m.raw)?)
        .bind(seal("headers_sealed", m.headers.as_bytes())?)
        .bind(seal("body_sealed", m.body_text.as_bytes())?)
        .bind(seal("subject_sealed", m.subject.as_bytes())?)
        .bind(seal("from_sealed", m.from.as_bytes())?)
        .execute(&mut *self.tx)
        .await?;

        self.insert_attachments(&mid, &m.attachments).await
    }

    /// Inserts a message's attachments, sealed, in order.
    pub(crate) async fn insert_attachments(
        &mut self,
        mid: &str,
        attachments: &[NewAttachment],
    ) -> Result<()> {
        let s = self.sealer;
        for (position, a) in attachments.iter().enumerate() {
            let aid = Uuid::now_v7().to_string();
            let filename = a
                .filename
                .as_deref()
                .map(|f| s.seal("attachments", "filename_sealed", &aid, f.as_bytes()))
                .transpose()?;
            sqlx::query(
                "INSERT INTO attachments (id, message_id, position, filename_sealed, content_type, size, sha256, content_sealed) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&aid)
            .bind(mid)
            .bind(len_i64(position)?)
            .bind(filename)
            .bind(media_type(&a.content_type))
            .bind(len_i64(a.content.len())?)
            .bind(sha256_hex(&a.content))
            .bind(s.seal("attachments", "content_sealed", &aid, &a.content)?)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    /// See [`Store::create_report`]. On PostgreSQL a concurrent filing of
    /// the same message surfaces here as [`StoreError::Conflict`]; the
    /// store-level method retries.
    pub async fn create_report(
        &mut self,
        prefix: &TrackingPrefix,
        now: Timestamp,
        report: &NewReport,
        first: &NewMessage,
    ) -> Result<Filed> {
        let h = Hashes::of(first);
        if let Some((report, message)) = find_message(&mut self.tx, &h).await? {
            tracing::info!(%report, %message, "duplicate delivery of a filed message");
            return Ok(Filed::Duplicate { report, message });
        }
        let year = now.to_zoned(TimeZone::UTC).year();
        let last: i64 = sqlx::query_scalar(
            "INSERT INTO tracking_counters (prefix, year, last) VALUES ($1, $2, 1) \
             ON CONFLICT (prefix, year) DO UPDATE SET last = tracking_counters.last + 1 \
             RETURNING last",
        )
        .bind(prefix.as_str())
        .bind(i64::from(year))
        .fetch_one(&mut *self.tx)
        .await?;
        let number = u32::try_from(last)
            .map_err(|_| StoreError::corrupt("tracking counter out of range"))?;
        let id = TrackingId::new(prefix.clone(), year, number)
            .map_err(|e| StoreError::Invalid(format!("cannot allocate a tracking ID: {e}")))?;
        let id_text = id.to_string();
        let s = self.sealer;
        sqlx::query(
            "INSERT INTO reports (tracking_id, prefix, year, number, state, reporter_sealed, subject_sealed, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id_text)
        .bind(prefix.as_str())
        .bind(i64::from(year))
        .bind(last)
        .bind(State::New.as_str())
        .bind(s.seal("reports", "reporter_sealed", &id_text, report.reporter.as_bytes())?)
        .bind(s.seal("reports", "subject_sealed", &id_text, report.subject.as_bytes())?)
        .bind(ms(now))
        .bind(ms(now))
        .execute(&mut *self.tx)
        .await?;
        let message = Uuid::now_v7();
        self.insert_message(&id, message, &h, first).await?;
        self.append_event(
            Some(&id),
            &Actor::System,
            "filed",
            &format!("message {message}"),
            now,
        )
        .await?;
        tracing::info!(report = %id, %message, size = first.raw.len(), attachments = first.attachments.len(), "report filed");
        Ok(Filed::New {
            report: id,
            message,
        })
    }

    /// See [`Store::add_message`].
    pub async fn add_message(&mut self, report: &TrackingId, m: &NewMessage) -> Result<Filed> {
        let h = Hashes::of(m);
        if let Some((report, message)) = find_message(&mut self.tx, &h).await? {
            tracing::info!(%report, %message, "duplicate delivery of a filed message");
            return Ok(Filed::Duplicate { report, message });
        }
        let updated = sqlx::query(
            "UPDATE reports SET updated_at = CASE WHEN updated_at < $1 THEN $1 ELSE updated_at END WHERE tracking_id = $2",
        )
        .bind(ms(m.received_at))
        .bind(report.to_string())
        .execute(&mut *self.tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("report {report}")));
        }
        let message = Uuid::now_v7();
        self.insert_message(report, message, &h, m).await?;
        self.append_event(
            Some(report),
            &Actor::System,
            "message",
            &format!("{} message {message}", m.direction),
            m.received_at,
        )
        .await?;
        tracing::info!(%report, %message, direction = %m.direction, size = m.raw.len(), "message filed");
        Ok(Filed::New {
            report: report.clone(),
            message,
        })
    }

    /// Appends to the audit trail. `detail` is sealed; `kind` is a short
    /// code (`a-z0-9-_.`) in clear.
    pub async fn append_event(
        &mut self,
        report: Option<&TrackingId>,
        actor: &Actor,
        kind: &str,
        detail: &str,
        at: Timestamp,
    ) -> Result<Uuid> {
        check_kind(kind)?;
        let id = Uuid::now_v7();
        let id_text = id.to_string();
        sqlx::query(
            "INSERT INTO events (id, report_id, at, actor, kind, detail_sealed) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id_text)
        .bind(report.map(|r| r.to_string()))
        .bind(ms(at))
        .bind(actor.as_str())
        .bind(kind)
        .bind(self.sealer.seal("events", "detail_sealed", &id_text, detail.as_bytes())?)
        .execute(&mut *self.tx)
        .await?;
        tracing::debug!(event = %id, report = ?report.map(|r| r.to_string()), kind, "event appended");
        Ok(id)
    }

    /// Persists `next` (the result of [`embargo_domain::Report::apply`])
    /// if the report is still in `expected` state, and appends the event.
    /// A report that moved on meanwhile: [`StoreError::Conflict`].
    pub async fn apply_report_update(
        &mut self,
        expected: State,
        next: &Report,
        actor: &Actor,
        kind: &str,
        detail: &str,
        now: Timestamp,
    ) -> Result<()> {
        check_kind(kind)?;
        let id = &next.id;
        let updated = sqlx::query(
            "UPDATE reports SET state = $1, wg = $2, severity = $3, embargo_until = $4, duplicate_of = $5, updated_at = $6, \
             triaged_at = CASE WHEN $1 = 'triaged' AND triaged_at IS NULL THEN $6 ELSE triaged_at END \
             WHERE tracking_id = $7 AND state = $8",
        )
        .bind(next.state.as_str())
        .bind(next.wg.as_ref().map(|w| w.as_str().to_owned()))
        .bind(next.severity.map(|s| s.as_str()))
        .bind(opt_ms(next.embargo_until))
        .bind(next.duplicate_of.as_ref().map(|d| d.to_string()))
        .bind(ms(now))
        .bind(id.to_string())
        .bind(expected.as_str())
        .execute(&mut *self.tx)
        .await?;
        if updated.rows_affected() == 0 {
            let current: Option<String> =
                sqlx::query_scalar("SELECT state FROM reports WHERE tracking_id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&mut *self.tx)
                    .await?;
            return Err(match current {
                None => StoreError::NotFound(format!("report {id}")),
                Some(state) => StoreError::Conflict(format!(
                    "report {id} is {state}, not {expected}: it changed meanwhile"
                )),
            });
        }
        self.append_event(Some(id), actor, kind, detail, now)
            .await?;
        tracing::info!(report = %id, from = %expected, to = %next.state, kind, "report updated");
        Ok(())
    }

    /// Records that the reporter was sent an acknowledgement (first time only).
    pub async fn mark_acknowledged(&mut self, id: &TrackingId, now: Timestamp) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE reports SET acknowledged_at = COALESCE(acknowledged_at, $1) WHERE tracking_id = $2",
        )
        .bind(ms(now))
        .bind(id.to_string())
        .execute(&mut *self.tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("report {id}")));
        }
        Ok(())
    }

    pub async fn load_domain_report(&mut self, id: &TrackingId) -> Result<Report> {
        load_domain(&mut self.tx, id).await
    }
}

impl Store {
    /// Files a new report from its first message, in one transaction:
    /// allocates the next tracking number of `prefix` for the (UTC) year of
    /// `now`, stores the report, the message and its attachments, and
    /// appends a `filed` event. A message stored before (same Message-ID and
    /// same bytes) is not stored again: [`Filed::Duplicate`] names it.
    pub async fn create_report(
        &self,
        prefix: &TrackingPrefix,
        now: Timestamp,
        report: NewReport,
        first: NewMessage,
    ) -> Result<Filed> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = self.begin().await?;
            match tx.create_report(prefix, now, &report, &first).await {
                Ok(filed) => {
                    tx.commit().await?;
                    return Ok(filed);
                }
                // A concurrent delivery of the same message won the race:
                // the next attempt finds it.
                Err(StoreError::Conflict(_)) if attempt < 3 => {
                    tx.rollback().await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Adds a message to an existing report (same deduplication as
    /// [`Store::create_report`]) and appends a `message` event.
    pub async fn add_message(&self, report: &TrackingId, message: NewMessage) -> Result<Filed> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = self.begin().await?;
            match tx.add_message(report, &message).await {
                Ok(filed) => {
                    tx.commit().await?;
                    return Ok(filed);
                }
                Err(StoreError::Conflict(_)) if attempt < 3 => {
                    tx.rollback().await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The report a message belongs to, by the hash of its Message-ID (see
    /// [`crate::message_id_hash`]): threading of replies via `In-Reply-To`
    /// and `References`.
    pub async fn find_report_by_message_id_hash(&self, hash: &str) -> Result<Option<TrackingId>> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT report_id FROM messages WHERE message_id_hash = $1 ORDER BY received_at, id LIMIT 1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        id.map(|s| crate::db::parse_tracking_id(&s)).transpose()
    }

    /// [`Store::find_report_by_message_id_hash`] of a raw Message-ID.
    pub async fn find_report_by_message_id(&self, message_id: &str) -> Result<Option<TrackingId>> {
        self.find_report_by_message_id_hash(&message_id_hash(message_id))
            .await
    }

    /// Reports, newest first.
    pub async fn list_reports(&self, filter: &ReportFilter) -> Result<Vec<ReportSummary>> {
        let limit = filter.limit.map(i64::from).unwrap_or(i64::MAX);
        let rows = sqlx::query(concat!(
            summary_select!(),
            "WHERE ($1 IS NULL OR r.state = $1) AND ($2 IS NULL OR r.wg = $2) AND ($3 IS NULL OR r.updated_at >= $3) \
             ORDER BY r.created_at DESC, r.year DESC, r.number DESC LIMIT $4"
        ))
            .bind(filter.state.map(|s| s.as_str()))
            .bind(filter.wg.as_ref().map(|w| w.as_str().to_owned()))
            .bind(opt_ms(filter.updated_since))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let s = self.sealer();
        rows.iter().map(|r| summary_from_row(s, r)).collect()
    }

    /// A report with its messages (oldest first, opened) and audit trail.
    pub async fn get_report(&self, id: &TrackingId) -> Result<ReportDetail> {
        let s = self.sealer();
        let id_text = id.to_string();
        let mut conn = self.pool.acquire().await?;
        let (report, messages) = report_with_messages(s, &mut conn, id).await?;

        let event_rows = sqlx::query(
            "SELECT id, report_id, at, actor, kind, detail_sealed FROM events WHERE report_id = $1 ORDER BY at, id",
        )
        .bind(&id_text)
        .fetch_all(&mut *conn)
        .await?;
        let events = event_rows
            .iter()
            .map(|r| event_from_row(s, r))
            .collect::<Result<Vec<_>>>()?;

        Ok(ReportDetail {
            report,
            messages,
            events,
        })
    }

    /// The original bytes of a stored message.
    pub async fn get_raw_message(&self, message: Uuid) -> Result<Zeroizing<Vec<u8>>> {
        let id = message.to_string();
        let blob: Vec<u8> = sqlx::query_scalar("SELECT raw_sealed FROM messages WHERE id = $1")
            .bind(&id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("message {id}")))?;
        self.sealer().open("messages", "raw_sealed", &id, &blob)
    }

    /// An attachment's metadata and content.
    pub async fn get_attachment(
        &self,
        attachment: Uuid,
    ) -> Result<(AttachmentMeta, Zeroizing<Vec<u8>>)> {
        let id = attachment.to_string();
        let row = sqlx::query(
            "SELECT id, filename_sealed, content_type, size, sha256, content_sealed FROM attachments WHERE id = $1",
        )
        .bind(&id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("attachment {id}")))?;
        let s = self.sealer();
        let meta = attachment_meta(s, &row, attachment)?;
        let blob: Vec<u8> = get(&row, "content_sealed")?;
        Ok((meta, s.open("attachments", "content_sealed", &id, &blob)?))
    }

    /// The domain view of a report, for [`embargo_domain::Report::apply`].
    pub async fn load_domain_report(&self, id: &TrackingId) -> Result<Report> {
        let mut conn = self.pool.acquire().await?;
        load_domain(&mut conn, id).await
    }

    /// See [`Tx::apply_report_update`]; one transaction.
    pub async fn apply_report_update(
        &self,
        expected: State,
        next: &Report,
        actor: &Actor,
        kind: &str,
        detail: &str,
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.apply_report_update(expected, next, actor, kind, detail, now)
            .await?;
        tx.commit().await
    }

    /// See [`Tx::mark_acknowledged`].
    pub async fn mark_acknowledged(&self, id: &TrackingId, now: Timestamp) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.mark_acknowledged(id, now).await?;
        tx.commit().await
    }

    /// See [`Tx::append_event`]; one transaction.
    pub async fn append_event(
        &self,
        report: Option<&TrackingId>,
        actor: &Actor,
        kind: &str,
        detail: &str,
        at: Timestamp,
    ) -> Result<Uuid> {
        let mut tx = self.begin().await?;
        let id = tx.append_event(report, actor, kind, detail, at).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The whole audit trail (all reports and report-less events) from
    /// `since` on, oldest first.
    pub async fn list_events(&self, since: Timestamp, limit: u32) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT id, report_id, at, actor, kind, detail_sealed FROM events WHERE at >= $1 ORDER BY at, id LIMIT $2",
        )
        .bind(ms(since))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let s = self.sealer();
        rows.iter().map(|r| event_from_row(s, r)).collect()
    }
}

/// A report's summary and its messages (oldest first, opened, with their
/// attachment metadata): the part the report detail and the report page
/// share.
pub(crate) async fn report_with_messages(
    s: Sealer<'_>,
    conn: &mut AnyConnection,
    id: &TrackingId,
) -> Result<(ReportSummary, Vec<MessageDetail>)> {
    let id_text = id.to_string();
    let row = sqlx::query(concat!(summary_select!(), "WHERE r.tracking_id = $1"))
        .bind(&id_text)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("report {id}")))?;
    let report = summary_from_row(s, &row)?;

    let attachment_rows = sqlx::query(
        "SELECT a.id, a.message_id, a.filename_sealed, a.content_type, a.size, a.sha256 \
         FROM attachments a JOIN messages m ON m.id = a.message_id \
         WHERE m.report_id = $1 ORDER BY a.message_id, a.position",
    )
    .bind(&id_text)
    .fetch_all(&mut *conn)
    .await?;
    let mut attachments: Vec<(Uuid, AttachmentMeta)> = Vec::with_capacity(attachment_rows.len());
    for r in &attachment_rows {
        let aid = get_uuid(r, "id")?;
        attachments.push((get_uuid(r, "message_id")?, attachment_meta(s, r, aid)?));
    }

    let message_rows = sqlx::query(
        "SELECT id, direction, received_at, date, size, encrypted, decrypted, decrypt_error, sig_status, sig_signer, \
         sig_matches_sender, message_id_sealed, headers_sealed, body_sealed, subject_sealed, from_sealed \
         FROM messages WHERE report_id = $1 ORDER BY received_at, id",
    )
    .bind(&id_text)
    .fetch_all(&mut *conn)
    .await?;
    let mut messages = Vec::with_capacity(message_rows.len());
    for r in &message_rows {
        let mid = get_uuid(r, "id")?;
        let mid_text = mid.to_string();
        let open = |column: &str| s.open_col_text(r, "messages", column, &mid_text);
        messages.push(MessageDetail {
            id: mid,
            message_id: s.open_opt_col_text(r, "messages", "message_id_sealed", &mid_text)?,
            direction: get_parsed(r, "direction")?,
            from: open("from_sealed")?,
            subject: open("subject_sealed")?,
            date: get_opt_ts(r, "date")?,
            received_at: get_ts(r, "received_at")?,
            size: get_u64(r, "size")?,
            encrypted: get_bool(r, "encrypted")?,
            decrypted: get_bool(r, "decrypted")?,
            decrypt_error: get(r, "decrypt_error")?,
            signature: Signature {
                status: get_parsed(r, "sig_status")?,
                signer: get(r, "sig_signer")?,
                matches_sender: get_bool(r, "sig_matches_sender")?,
            },
            body_text: open("body_sealed")?,
            headers: open("headers_sealed")?,
            attachments: attachments
                .iter()
                .filter(|(m, _)| *m == mid)
                .map(|(_, a)| a.clone())
                .collect(),
        });
    }
    Ok((report, messages))
}

pub(crate) fn attachment_meta(s: Sealer<'_>, r: &AnyRow, id: Uuid) -> Result<AttachmentMeta> {
    Ok(AttachmentMeta {
        id,
        filename: s.open_opt_col_text(r, "attachments", "filename_sealed", &id.to_string())?,
        content_type: get(r, "content_type")?,
        size: get_u64(r, "size")?,
        sha256: get(r, "sha256")?,
    })
}

pub(crate) fn event_from_row(s: Sealer<'_>, r: &AnyRow) -> Result<Event> {
    let id = get_uuid(r, "id")?;
    let actor: String = r.try_get("actor")?;
    Ok(Event {
        report_id: get_opt_tracking_id(r, "report_id")?,
        at: get_ts(r, "at")?,
        actor: crate::model::Actor::parse(&actor)
            .ok_or_else(|| StoreError::corrupt("stored actor does not parse"))?,
        kind: get(r, "kind")?,
        detail: s.open_col_text(r, "events", "detail_sealed", &id.to_string())?,
        id,
    })
}
