//! The security team's processes (issue 7), on top of the store: the WG
//! registry and routing suggestions, WG-lead digests, the bi-weekly review
//! and release scans per WG. Everything is a library call with the instant
//! as an argument; the binary wires the CLI, the admin view and the
//! scheduler to it.
//!
//! - **Registry** ([`load_registry`], [`import_wgs`], [`apply_wg_edit`],
//!   [`wg_list_json`], [`suggest_for_report`]): what imports and hand edits
//!   left is stored per WG (leads sealed); embargo.toml `[[wg]]` tables are
//!   applied on top when loading and always win. Suggestions only suggest:
//!   a triager decides.
//! - **Digests** ([`compose_digests`], [`run_digests`]): per WG, to its
//!   leads (accounts with role `wg-lead` of the WG, and registry leads with
//!   an address): new, open, overdue and scheduled reports, encrypted to
//!   each lead's key; a lead without a usable key gets a content-free
//!   notice. Sent once per period per WG, whatever the number of processes.
//! - **Review** ([`agenda`], [`agenda_markdown`], [`mark_review_done`]):
//!   every open report by WG with age, state, SLA status and last action,
//!   overdue first; public `security` issues of the WGs' repositories since
//!   the last review (rate limits waited out within a bound, or the
//!   repository reported as skipped), from any [`IssueSource`] (the GitHub
//!   client, or `Arc<dyn IssueSource>` as the admin view holds it);
//!   [`Agenda::restricted_to`] is a WG lead's view.
//! - **Scans** ([`import_scans`], [`scan_summary`], [`scan_changes`],
//!   [`scan_findings`], [`releases`], [`compose_scan_slices`],
//!   [`send_scan_slices`], [`slice_status`]): findings stored per release
//!   and WG, unmapped images kept, per-file errors reported, new and fixed
//!   against the previous release, each WG's slice to its leads (once per
//!   WG and release).
//!
//! Mail to leads is composed with `embargo_outbound::relay` (PGP/MIME,
//! signed by the team key, or plaintext for the content-free notice) under
//! a tracking-ID-shaped reference of its own prefix (`DIGEST-2026-2939`,
//! `SCAN-2026-0003`), never a report's: a reply cannot thread into a report.

mod agenda;
mod digest;
mod error;
mod mail;
mod registry;
mod scans;
mod text;

pub use agenda::{
    Agenda, AgendaOptions, AgendaReport, IssueSource, LastActionInfo, LastReviewInfo,
    PublicIssueItem, SinceSource, SkippedRepo, SlaInfo, SlaStatus, agenda, agenda_markdown,
    agenda_with, mark_review_done, sla_info,
};
pub use digest::{
    DigestItem, DigestOptions, DigestRunReport, SentRun, WgDigest, compose_digests,
    digest_contents, period_start, run_digests,
};
pub use error::ReviewError;
pub use mail::{LeadMail, LeadRecipient, wg_leads};
pub use registry::{
    apply_wg_edit, import_wgs, load_registry, load_stored_registry, suggest_for_report,
    wg_list_json,
};
pub use scans::{
    FileIssue, ScanChanges, ScanImportOptions, ScanImportReport, SliceOptions, SliceRunReport,
    SliceStatus, compare_versions, compose_scan_slices, import_scans, import_scans_with,
    previous_release, releases, scan_changes, scan_findings, scan_summary, send_scan_slices,
    slice_status,
};

/// Re-exported for callers: the SLA (days per severity) and the scan
/// progress hook.
pub use embargo_github::IssueState;
pub use embargo_scan::Progress;
pub use embargo_store::{ScanRelease, Sla};

pub type Result<T, E = ReviewError> = std::result::Result<T, E>;
