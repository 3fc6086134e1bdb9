//! The disclosure workflow: once the team and the reporter agree on
//! disclosure, exactly one public issue in the WG's repository at the
//! embargo end, never early, never twice.
//!
//! * **Agreement** ([`schedule`], [`approve`], [`unschedule`],
//!   [`withdraw`]): the embargo end and the advisory text go through
//!   [`embargo_domain::Report::apply`] (an out-of-policy date is refused
//!   with the domain's reason), are stored sealed, and are approved per
//!   version (changing the end or the text resets approvals; the
//!   scheduling member is the first approval). The publication job exists
//!   only while enough approvals stand.
//! * **Publication** ([`publish_due`]): claims due jobs with a lease,
//!   re-checks the domain rule (`Action::Publish` at `now`), renders the
//!   [`embargo_github::IssueDraft`], publishes through a
//!   [`embargo_github::Publisher`] (marker search before create), records
//!   the issue URL at once, then in one transaction: state `published`,
//!   audit event, notices to reporter and team, job done. `embargo publish
//!   --due` and the scheduler in `serve` call the same function; any number
//!   may run at once.
//! * **Warnings** ([`send_embargo_warnings`]): before the embargo ends
//!   (the policy's `warn_days`, default 14 and 2 days), the team and the
//!   WG's leads are told, encrypted to each (a content-free reminder for
//!   those without a key), exactly once per warning, report and end: the
//!   warning is recorded in the transaction that queues its mail.
//! * **Placeholder** ([`open_placeholder`]): optional per WG, a vague
//!   public issue at acceptance, filled in at disclosure, opened once
//!   however many attempts race (the store's leased placeholder job)
//!   ([`PlaceholderPublisher`]: the same behind a trait object, as
//!   [`Placeholders`] with its lease).
//! * **Exports** ([`osv`], [`csaf`]): OSV JSON and CSAF 2.0 of a published
//!   advisory.
//!
//! Logs carry tracking IDs, repositories, issue numbers and counts: never
//! advisory text, addresses or tokens.

mod agreement;
mod error;
mod export;
mod notices;
mod publication;
mod time;
mod warnings;
mod wgs;

pub use agreement::{
    AdvisoryInput, ApprovalStatus, DisclosurePolicy, ScheduleOutcome, approve, retry_job, schedule,
    unschedule, withdraw,
};
pub use error::PublishError;
pub use export::{CsafPublisher, OsvPackage, PublishedAdvisory, csaf, osv, published_advisory};
pub use notices::{
    MailNotices, NoNotices, NoticeRecipient, Notices, PublishedNotice, reporter_cert,
};
pub use publication::{
    PlaceholderOutcome, PlaceholderPublisher, Placeholders, PublicationOutcome, PublishConfig,
    open_placeholder, placeholder_draft, publish_due,
};
pub use time::{EmbargoEnd, parse_instant};
pub use warnings::{EmbargoWarnings, WarningOutcome, WarningRecipients, send_embargo_warnings};
pub use wgs::{WgRepos, WgTarget};
