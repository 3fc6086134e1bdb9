//! The mail that tells the reporter and the team that an advisory is
//! public. Composed before the publication transaction, queued in it.
//!
//! Each notice is encrypted to its recipient's certificate when one is
//! known and usable (the reporter's from the keys the store learned from
//! their mail, as for acknowledgements), and otherwise sent as an OpenPGP
//! cleartext-signed text, signed by the team key: the notice is public
//! information by now, but the recipient can still check who sent it.

use std::fmt;
use std::future::Future;

use embargo_domain::TrackingId;
use embargo_outbound::{Direct, TeamIdentity};
use embargo_pgp::{Cert, cert_has_email, parse_certs, sign_cleartext};
use embargo_store::{NewOutbox, Store};
use jiff::Timestamp;

/// What happened, for the notices. Everything here is public by now.
#[derive(Debug, Clone, Copy)]
pub struct PublishedNotice<'a> {
    pub tracking_id: &'a TrackingId,
    pub issue_url: &'a str,
    /// The reporter's address, when it could be read.
    pub reporter: Option<&'a str>,
    pub now: Timestamp,
}

/// Composes the notices of a publication. Failures are the composer's to
/// log (without addresses or content): a notice that cannot be composed
/// never holds back a publication that already happened.
pub trait Notices: Send + Sync {
    fn published(
        &self,
        store: &Store,
        notice: &PublishedNotice<'_>,
    ) -> impl Future<Output = Vec<NewOutbox>> + Send;
}

/// No notices (tests, or a deployment without outgoing mail).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNotices;

impl Notices for NoNotices {
    async fn published(&self, _store: &Store, _notice: &PublishedNotice<'_>) -> Vec<NewOutbox> {
        Vec::new()
    }
}

/// A team member who is told about publications.
#[derive(Clone)]
pub struct NoticeRecipient {
    pub address: String,
    /// The member's certificate: the notice is encrypted to it (and sent
    /// plain, being content-free, when it cannot be used).
    pub cert: Option<Cert>,
}

impl fmt::Debug for NoticeRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoticeRecipient")
            .field("cert", &self.cert.is_some())
            .finish_non_exhaustive()
    }
}

/// Notices by mail through `embargo-outbound`: from the security address,
/// signed by the team key, encrypted where a certificate is known. They
/// carry the tracking ID and the public issue URL only.
#[derive(Clone)]
pub struct MailNotices {
    pub team: TeamIdentity,
    /// The team (e.g. the WG leads and the security team).
    pub members: Vec<NoticeRecipient>,
}

impl fmt::Debug for MailNotices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailNotices")
            .field("team", &self.team)
            .field("members", &self.members.len())
            .finish_non_exhaustive()
    }
}

const SUBJECT: &str = "Advisory published";

fn reporter_text(id: &TrackingId, url: &str) -> String {
    format!(
        "Hello,\n\nthe security advisory for your report {id} is public now:\n\n  {url}\n\n\
         Thank you for reporting the issue and for coordinating its disclosure with us.\n"
    )
}

fn team_text(id: &TrackingId, url: &str) -> String {
    format!(
        "The embargo of {id} has ended and its advisory is public now:\n\n  {url}\n\n\
         The report is in state published.\n"
    )
}

/// The bare address of `Name <addr>` or `addr`.
fn bare_address(s: &str) -> &str {
    match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => s.get(a + 1..b).unwrap_or(s).trim(),
        _ => s.trim(),
    }
}

/// The reporter's certificate for `address`: the newest the store learned
/// from the reporter's mail (keys sent along or attached), that carries
/// the address. `None` when there is none or the store cannot say (logged,
/// without the address: the notice then goes out signed in the clear).
pub async fn reporter_cert(store: &Store, id: &TrackingId, address: &str) -> Option<Cert> {
    let address = bare_address(address);
    let mut blobs: Vec<Vec<u8>> = Vec::new();
    match store.reporter_keys(id).await {
        Ok(keys) => blobs.extend(keys.iter().map(|k| k.to_vec())),
        Err(e) => tracing::warn!(report = %id, error = %e, "cannot read the reporter's keys"),
    }
    match store.report_key_attachments(id).await {
        Ok(keys) => blobs.extend(keys.iter().map(|k| k.to_vec())),
        Err(e) => {
            tracing::warn!(report = %id, error = %e, "cannot read keys attached to the report")
        }
    }
    blobs
        .iter()
        .filter_map(|b| parse_certs(b).ok())
        .flatten()
        .rfind(|c| cert_has_email(c, address))
}

impl MailNotices {
    fn compose(
        &self,
        id: &TrackingId,
        to: &str,
        cert: Option<&Cert>,
        text: &str,
        now: Timestamp,
    ) -> Option<NewOutbox> {
        let direct = Direct {
            team: &self.team,
            tracking_id: id,
            to,
            now,
        };
        // In the clear: signed by the team key (unsigned only if signing
        // itself fails; the notice is public information).
        let clear = || match sign_cleartext(text, self.team.keyring()) {
            Ok(signed) => direct.compose(None, SUBJECT, &signed),
            Err(e) => {
                tracing::warn!(report = %id, error = %e, "cannot sign a publication notice; sending it unsigned");
                direct.compose(None, SUBJECT, text)
            }
        };
        // A certificate that cannot be used: the notice is public
        // information, so it goes out in the clear rather than not.
        let composed = direct
            .encrypted_or(
                cert,
                SUBJECT,
                text,
                |e| {
                    tracing::warn!(report = %id, error = %e, "cannot encrypt a publication notice; sending it signed in the clear");
                },
                clear,
            )
            .map(|(c, _)| c);
        match composed {
            Ok(c) => Some(c.into_outbox(Some(id.clone()))),
            Err(e) => {
                tracing::warn!(report = %id, error = %e, "cannot compose a publication notice");
                None
            }
        }
    }
}

impl MailNotices {
    /// The reporter's notice, encrypted to `cert` when given and usable,
    /// otherwise cleartext-signed by the team key. (The [`Notices`]
    /// implementation passes the certificate [`reporter_cert`] finds.)
    pub fn to_reporter(
        &self,
        notice: &PublishedNotice<'_>,
        cert: Option<&Cert>,
    ) -> Option<NewOutbox> {
        let id = notice.tracking_id;
        let reporter = notice.reporter?;
        self.compose(
            id,
            reporter,
            cert,
            &reporter_text(id, notice.issue_url),
            notice.now,
        )
    }

    /// One notice per team member, encrypted where a certificate is known
    /// (cleartext-signed otherwise).
    pub fn to_team(&self, notice: &PublishedNotice<'_>) -> Vec<NewOutbox> {
        let id = notice.tracking_id;
        let text = team_text(id, notice.issue_url);
        self.members
            .iter()
            .filter_map(|m| self.compose(id, &m.address, m.cert.as_ref(), &text, notice.now))
            .collect()
    }
}

impl Notices for MailNotices {
    async fn published(&self, store: &Store, notice: &PublishedNotice<'_>) -> Vec<NewOutbox> {
        let cert = match notice.reporter {
            Some(address) => reporter_cert(store, notice.tracking_id, address).await,
            None => None,
        };
        let mut out: Vec<NewOutbox> = self
            .to_reporter(notice, cert.as_ref())
            .into_iter()
            .collect();
        out.extend(self.to_team(notice));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(bare_address("Rita <rita@example.org>"), "rita@example.org");
        assert_eq!(bare_address(" rita@example.org "), "rita@example.org");
    }
}
