//! Mail to WG leads: who they are, and one message each, encrypted to the
//! lead's key or a content-free notice.

use std::fmt;

use embargo_domain::{Role, TrackingId, WgName};
use embargo_outbound::{
    Composed, Direct, OutboundError, TeamIdentity, first_cert, one_per_address,
};
use embargo_pgp::Cert;
use embargo_store::{DigestKind, DigestRun, Store, User};
use embargo_wg::Registry;
use jiff::Timestamp;

use crate::Result;

/// A lead to write to: the address and, when one parses, the key.
#[derive(Clone)]
pub struct LeadRecipient {
    pub email: String,
    pub cert: Option<Cert>,
    /// `account:<login>` or `registry`, for logs and the admin view.
    pub source: String,
}

impl fmt::Debug for LeadRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeadRecipient")
            .field("source", &self.source)
            .field("has_key", &self.cert.is_some())
            .finish_non_exhaustive()
    }
}

/// The leads of `wg`: accounts with role `wg-lead` of that WG and an
/// address (their key from the account), then the registry's leads with an
/// address (their key from the registry). One per address (ASCII
/// case-insensitive), the first with a usable key winning.
pub fn wg_leads(wg: &WgName, registry: &Registry, users: &[User]) -> Vec<LeadRecipient> {
    let accounts = users
        .iter()
        .filter(|u| u.role == Role::WgLead && u.wg.as_ref() == Some(wg))
        .filter_map(|u| {
            u.email.as_ref().map(|e| LeadRecipient {
                email: e.trim().to_owned(),
                cert: first_cert(u.pgp_cert.as_deref()),
                source: format!("account:{}", u.login),
            })
        });
    let listed = registry
        .get(wg)
        .into_iter()
        .flat_map(|w| w.leads.iter())
        .filter_map(|l| {
            l.email.as_ref().map(|e| LeadRecipient {
                email: e.trim().to_owned(),
                cert: first_cert(l.pgp_cert.as_deref()),
                source: "registry".to_owned(),
            })
        });
    one_per_address(
        accounts.chain(listed),
        |l| l.email.as_str(),
        |l| l.cert.is_some(),
    )
}

/// A message to one lead of one WG.
#[derive(Clone)]
pub struct LeadMail {
    pub wg: WgName,
    /// Whether the content went out encrypted; `false`: the content-free
    /// notice.
    pub encrypted: bool,
    pub composed: Composed,
}

impl fmt::Debug for LeadMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeadMail")
            .field("wg", &self.wg)
            .field("encrypted", &self.encrypted)
            .field("composed", &self.composed)
            .finish()
    }
}

/// What one lead gets.
pub(crate) struct MailText<'a> {
    pub reference: &'a TrackingId,
    /// Subject and body of the encrypted message (may hold content).
    pub subject: &'a str,
    pub body: &'a str,
    /// Subject and body of the notice: nothing but where to read it.
    pub notice_subject: &'a str,
    pub notice_body: &'a str,
}

/// The message for `lead`: encrypted and signed when the lead has a key
/// that can be used, otherwise (or when encrypting fails) the content-free
/// notice.
pub(crate) fn compose_for(
    team: &TeamIdentity,
    wg: &WgName,
    lead: &LeadRecipient,
    text: &MailText<'_>,
    now: Timestamp,
) -> std::result::Result<LeadMail, OutboundError> {
    let direct = Direct {
        team,
        tracking_id: text.reference,
        to: &lead.email,
        now,
    };
    let (composed, encrypted) = direct.encrypted_or(
        lead.cert.as_ref(),
        text.subject,
        text.body,
        |e| {
            tracing::warn!(%wg, source = %lead.source, error = %e, "lead key unusable; sending the notice");
        },
        || direct.compose(None, text.notice_subject, text.notice_body),
    )?;
    Ok(LeadMail {
        wg: wg.clone(),
        encrypted,
        composed,
    })
}

/// Composes for every lead; failures are returned as reasons (no address).
pub(crate) fn compose_all(
    team: &TeamIdentity,
    wg: &WgName,
    leads: &[LeadRecipient],
    text: &MailText<'_>,
    now: Timestamp,
    errors: &mut Vec<String>,
) -> Vec<LeadMail> {
    let mut out = Vec::new();
    for lead in leads {
        match compose_for(team, wg, lead, text, now) {
            Ok(m) => out.push(m),
            Err(e) => {
                tracing::warn!(%wg, source = %lead.source, error = %e, "cannot compose mail to a lead");
                errors.push(format!("WG {wg}: mail to a lead ({}): {e}", lead.source));
            }
        }
    }
    out
}

/// Queues `mails` for `wg` under the run `(kind, wg, run_key)` in one
/// transaction: `false` (nothing queued) when the run was claimed before,
/// by this or another process.
pub(crate) async fn queue_once(
    store: &Store,
    kind: DigestKind,
    wg: &WgName,
    run_key: &str,
    mails: &[LeadMail],
    now: Timestamp,
) -> Result<bool> {
    let encrypted = mails.iter().filter(|m| m.encrypted).count();
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let run = DigestRun {
        kind,
        wg: wg.clone(),
        run_key: run_key.to_owned(),
        created_at: now,
        recipients: count(mails.len()),
        encrypted: count(encrypted),
        notices: count(mails.len().saturating_sub(encrypted)),
    };
    let mut tx = store.begin().await?;
    if !tx.claim_digest_run(&run).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    for m in mails {
        tx.enqueue_outbox(&m.composed.clone().into_outbox(None), now)
            .await?;
    }
    tx.append_event(
        None,
        &embargo_store::Actor::System,
        match kind {
            DigestKind::Digest => "wg-digest-sent",
            DigestKind::Scan => "scan-slice-sent",
        },
        &format!(
            "WG {wg}, {run_key}: {} recipients, {} encrypted",
            mails.len(),
            encrypted
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
