//! The mail a filed message causes, queued in the filing transaction: the
//! acknowledgement of a new report, copies for the team (re-encrypted to
//! each member, or a content-free notice), and a member's reply relayed to
//! the reporter under the team's identity.

use embargo_domain::{Role, TrackingId, WgName};
use embargo_outbound::{
    AckContext, AckSettings, Attachment, Composed, NoticeKind, RelayContext, TeamCopyContext,
    TeamIdentity, TeamNoticeContext, acknowledgement, relay, team_copy, team_notice,
};
use embargo_pgp::{Cert, cert_fingerprint, cert_has_email, cert_to_bytes};
use embargo_store::{Actor, Direction, NewMessage, SigStatus, Signature, Tx, User};
use jiff::Timestamp;

use crate::IntakeError;
use crate::open::Opened;

/// How the gateway answers by mail.
pub struct MailFlow {
    pub team: TeamIdentity,
    pub ack: AckSettings,
    /// A line consisting of this marker keeps a member's reply team-only.
    pub internal_marker: String,
    /// Link to the admin view in team notices.
    pub admin_url: Option<String>,
}

/// Everything [`MailFlow::after_filing`] needs to know about a filing.
pub(crate) struct Filing<'a> {
    pub report: &'a TrackingId,
    pub new_report: bool,
    pub wg: Option<&'a WgName>,
    /// The report's reporter (for relays); the sender for a new report.
    pub reporter: &'a str,
    pub opened: &'a Opened,
    pub members: &'a [User],
    /// Certificates stored for this report before this message.
    pub stored_keys: &'a [Cert],
    pub now: Timestamp,
}

/// The certificates of the members whose address is `sender`.
pub(crate) fn member_certs(members: &[User], sender: &str) -> Vec<Cert> {
    members
        .iter()
        .filter(|u| {
            u.email
                .as_deref()
                .is_some_and(|e| !sender.is_empty() && e.eq_ignore_ascii_case(sender))
        })
        .filter_map(|u| embargo_outbound::first_cert(u.pgp_cert.as_deref()))
        .collect()
}

impl MailFlow {
    /// Queues the mail caused by a filed message. Returns how many messages
    /// were queued. A message that cannot be composed is recorded as an
    /// event and skipped: it never costs the inbound message its filing.
    pub(crate) async fn after_filing(
        &self,
        tx: &mut Tx<'_>,
        f: Filing<'_>,
    ) -> Result<usize, IntakeError> {
        let opened = f.opened;
        let sender = opened.reporter.as_str();
        let author = f.members.iter().find(|u| {
            u.email
                .as_deref()
                .is_some_and(|e| !sender.is_empty() && e.eq_ignore_ascii_case(sender))
        });
        let author_cert = author.and_then(|u| embargo_outbound::first_cert(u.pgp_cert.as_deref()));
        let verified_member = match (&author_cert, &opened.message.signature) {
            (Some(cert), sig) if sig.status == SigStatus::Good => {
                sig.signer.as_deref() == Some(cert_fingerprint(cert).as_str())
            }
            _ => false,
        };
        if author.is_some() && !verified_member {
            tx.append_event(
                Some(f.report),
                &Actor::System,
                "unverified-member-claim",
                "sender claims a team address without a good signature by that member's key: filed as outsider mail, relayed nowhere",
                f.now,
            )
            .await?;
        }

        // Keys an outsider brought belong to the report's reporter.
        let mut known: Vec<Cert> = f.stored_keys.to_vec();
        if !verified_member {
            for cert in &opened.learned {
                let fpr = cert_fingerprint(cert);
                if known.iter().any(|k| cert_fingerprint(k) == fpr) {
                    continue;
                }
                if let Ok(bytes) = cert_to_bytes(cert) {
                    tx.add_reporter_key(f.report, &bytes, f.now).await?;
                }
                known.push(cert.clone());
            }
        }
        let reporter_cert = known.iter().find(|c| cert_has_email(c, f.reporter));

        let mut queued = 0;
        // Mail from our own address is a loop: never answered.
        let from_ourselves = sender.eq_ignore_ascii_case(self.team.address());
        if f.new_report && !opened.suppress_auto_response && !verified_member && !from_ourselves {
            let composed = acknowledgement(&AckContext {
                team: &self.team,
                settings: &self.ack,
                tracking_id: f.report,
                reporter: f.reporter,
                reporter_cert,
                report_message_id: opened.message.message_id.as_deref(),
                report_subject: Some(opened.subject.as_str()),
                now: f.now,
            });
            if self
                .queue(tx, f.report, composed, "ack", "acknowledgement", f.now)
                .await?
            {
                tx.mark_acknowledged(f.report, f.now).await?;
                queued += 1;
            }
        }

        let attachments: Vec<Attachment<'_>> = opened
            .message
            .attachments
            .iter()
            .map(|a| Attachment {
                filename: a.filename.as_deref().unwrap_or("attachment"),
                content_type: &a.content_type,
                data: &a.content,
            })
            .collect();

        if verified_member {
            let internal = opened
                .team_marker_lines
                .iter()
                .any(|l| l == &self.internal_marker);
            let login = author
                .map(|u| Actor::User(u.login.clone()))
                .unwrap_or(Actor::System);
            if internal {
                tx.append_event(
                    Some(f.report),
                    &login,
                    "internal-reply",
                    "team-only reply by mail",
                    f.now,
                )
                .await?;
            } else {
                let references: Vec<&str> = opened.references.iter().map(String::as_str).collect();
                let composed = relay(&RelayContext {
                    team: &self.team,
                    tracking_id: f.report,
                    reporter: f.reporter,
                    reporter_cert,
                    subject: &opened.subject,
                    body_text: &opened.message.body_text,
                    attachments: &attachments,
                    member: Some(opened.reporter.as_str()),
                    in_reply_to: references.first().copied(),
                    references: &references,
                    now: f.now,
                });
                if self
                    .queue(
                        tx,
                        f.report,
                        composed,
                        "relay",
                        &opened.message.body_text,
                        f.now,
                    )
                    .await?
                {
                    tx.append_event(
                        Some(f.report),
                        &login,
                        "relayed",
                        "reply relayed to the reporter",
                        f.now,
                    )
                    .await?;
                    queued += 1;
                }
            }
        }

        // Copies for the team: everyone who may see this report, but the
        // member who wrote it.
        for member in f.members {
            let Some(email) = member.email.as_deref() else {
                continue;
            };
            let entitled = match member.role {
                Role::Admin | Role::Triager => true,
                Role::WgLead => member.wg.is_some() && member.wg.as_ref() == f.wg,
                Role::Auditor => false,
            };
            if !entitled || author.is_some_and(|a| a.login == member.login) {
                continue;
            }
            let kind = if f.new_report {
                NoticeKind::NewReport
            } else {
                NoticeKind::NewMessage
            };
            let notice = || {
                team_notice(&TeamNoticeContext {
                    team: &self.team,
                    tracking_id: f.report,
                    member: email,
                    kind,
                    admin_url: self.admin_url.as_deref(),
                    now: f.now,
                })
            };
            let composed = match embargo_outbound::first_cert(member.pgp_cert.as_deref()) {
                Some(cert) => team_copy(&TeamCopyContext {
                    team: &self.team,
                    tracking_id: f.report,
                    member: email,
                    member_cert: &cert,
                    reporter: Some(f.reporter),
                    subject: &opened.subject,
                    body_text: &opened.message.body_text,
                    attachments: &attachments,
                    admin_url: self.admin_url.as_deref(),
                    now: f.now,
                })
                // An unusable key gets the notice, never plaintext.
                .or_else(|_| notice()),
                None => notice(),
            };
            if self
                .queue(tx, f.report, composed, "team-copy", "", f.now)
                .await?
            {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Queues, for the leads of `wg`, a copy of a report just routed to it:
    /// every inbound message so far, re-encrypted to each lead (or a
    /// content-free notice for a lead without a usable key).
    pub(crate) async fn routed_copies(
        &self,
        tx: &mut Tx<'_>,
        report: &TrackingId,
        wg: &WgName,
        detail: &embargo_store::ReportDetail,
        members: &[User],
        now: Timestamp,
    ) -> Result<usize, IntakeError> {
        let inbound: Vec<&embargo_store::MessageDetail> = detail
            .messages
            .iter()
            .filter(|m| m.direction == Direction::Inbound)
            .collect();
        let body: String = inbound
            .iter()
            .map(|m| {
                format!(
                    "From: {}\nSubject: {}\n\n{}\n",
                    m.from, m.subject, m.body_text
                )
            })
            .collect::<Vec<_>>()
            .join("\n-----\n\n");
        let mut queued = 0;
        for lead in members
            .iter()
            .filter(|u| u.role == Role::WgLead && u.wg.as_ref() == Some(wg))
        {
            let Some(email) = lead.email.as_deref() else {
                continue;
            };
            let notice = || {
                team_notice(&TeamNoticeContext {
                    team: &self.team,
                    tracking_id: report,
                    member: email,
                    kind: NoticeKind::NewReport,
                    admin_url: self.admin_url.as_deref(),
                    now,
                })
            };
            let composed = match embargo_outbound::first_cert(lead.pgp_cert.as_deref()) {
                Some(cert) => team_copy(&TeamCopyContext {
                    team: &self.team,
                    tracking_id: report,
                    member: email,
                    member_cert: &cert,
                    reporter: Some(&detail.report.reporter),
                    subject: &detail.report.subject,
                    body_text: &body,
                    attachments: &[],
                    admin_url: self.admin_url.as_deref(),
                    now,
                })
                .or_else(|_| notice()),
                None => notice(),
            };
            if self
                .queue(tx, report, composed, "team-copy", "", now)
                .await?
            {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Queues one composed message and links its Message-ID; an outgoing
    /// message the reporter sees is also filed in the report's thread.
    async fn queue(
        &self,
        tx: &mut Tx<'_>,
        report: &TrackingId,
        composed: Result<Composed, embargo_outbound::OutboundError>,
        kind: &str,
        thread_text: &str,
        now: Timestamp,
    ) -> Result<bool, IntakeError> {
        let composed = match composed {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(%report, kind, error = %e, "cannot compose outgoing mail");
                tx.append_event(
                    Some(report),
                    &Actor::System,
                    "mail-not-composed",
                    &format!("{kind}: {e}"),
                    now,
                )
                .await?;
                return Ok(false);
            }
        };
        let message_id = composed.message_id.clone();
        let to_reporter = kind != "team-copy";
        let filed = to_reporter.then(|| NewMessage {
            message_id: Some(message_id.clone()),
            raw: composed.bytes.clone(),
            direction: Direction::Outbound,
            received_at: now,
            date: Some(now),
            from: self.team.address().to_owned(),
            subject: format!("[{report}]"),
            headers: String::new(),
            body_text: thread_text.to_owned(),
            encrypted: composed.encrypted,
            decrypted: composed.encrypted,
            decrypt_error: None,
            signature: Signature::none(),
            attachments: Vec::new(),
        });
        let outbox = tx
            .enqueue_outbox(&composed.into_outbox(Some(report.clone())), now)
            .await?;
        tx.link_outbox_message(&message_id, outbox, Some(report), kind)
            .await?;
        if let Some(m) = filed {
            tx.add_message(report, &m).await?;
        }
        Ok(true)
    }
}
