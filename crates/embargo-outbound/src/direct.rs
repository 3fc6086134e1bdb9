//! Team mail to one recipient outside a report's thread (embargo warnings,
//! publication notices, WG-lead mail): who gets it, one per address, and
//! the message, encrypted to the recipient's key or a content-free
//! version.

use embargo_domain::TrackingId;
use embargo_pgp::{Cert, parse_certs};
use jiff::Timestamp;

use crate::compose::{Composed, RelayContext, TeamIdentity, relay};
use crate::error::OutboundError;

/// The first certificate of an armored key block, when one parses.
pub fn first_cert(armored: Option<&str>) -> Option<Cert> {
    armored
        .and_then(|a| parse_certs(a.as_bytes()).ok())
        .and_then(|v| v.into_iter().next())
}

/// One recipient per address (ASCII case-insensitive), in order; blank
/// addresses are left out; of two with the same address the first with a
/// key wins.
pub fn one_per_address<T>(
    recipients: impl IntoIterator<Item = T>,
    address: impl Fn(&T) -> &str,
    has_key: impl Fn(&T) -> bool,
) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for r in recipients {
        if address(&r).trim().is_empty() {
            continue;
        }
        match out
            .iter_mut()
            .find(|o| address(o).eq_ignore_ascii_case(address(&r)))
        {
            Some(existing) => {
                if !has_key(existing) && has_key(&r) {
                    *existing = r;
                }
            }
            None => out.push(r),
        }
    }
    out
}

/// A message from the team to `to` about `tracking_id`.
#[derive(Clone, Copy)]
pub struct Direct<'a> {
    pub team: &'a TeamIdentity,
    pub tracking_id: &'a TrackingId,
    pub to: &'a str,
    pub now: Timestamp,
}

impl Direct<'_> {
    /// The message, encrypted to `cert` when given (composing fails when
    /// it cannot be used), otherwise plain.
    pub fn compose(
        &self,
        cert: Option<&Cert>,
        subject: &str,
        body: &str,
    ) -> Result<Composed, OutboundError> {
        relay(&RelayContext {
            team: self.team,
            tracking_id: self.tracking_id,
            reporter: self.to,
            reporter_cert: cert,
            subject,
            body_text: body,
            attachments: &[],
            member: None,
            in_reply_to: None,
            references: &[],
            now: self.now,
        })
    }

    /// Encrypted to `cert` when there is one and it can be used (then
    /// `true`); otherwise what `fallback` composes (`false`), the
    /// content-free version: never the content in clear. The error of an
    /// unusable key goes to `unusable` (for the log line).
    pub fn encrypted_or(
        &self,
        cert: Option<&Cert>,
        subject: &str,
        body: &str,
        unusable: impl FnOnce(&OutboundError),
        fallback: impl FnOnce() -> Result<Composed, OutboundError>,
    ) -> Result<(Composed, bool), OutboundError> {
        if let Some(cert) = cert {
            match self.compose(Some(cert), subject, body) {
                Ok(composed) => return Ok((composed, true)),
                Err(e) => unusable(&e),
            }
        }
        Ok((fallback()?, false))
    }
}
