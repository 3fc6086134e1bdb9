//! Publication to GitHub: at the agreed embargo end, one public issue
//! labelled `security` in the working group's repository, exactly once.
//!
//! - [`IssueDraft::render`] turns an [`Advisory`] into title, body and
//!   labels; the body ends with a hidden marker `<!-- embargo:ID -->`.
//!   [`IssueDraft::placeholder`] is the vague issue of a report still
//!   under embargo: the ID and a fixed text, no severity, no details.
//! - [`Client`] talks to the GitHub REST API (octocrab) and implements
//!   [`Publisher`]: [`Publisher::publish`] looks for the marker before it
//!   creates, so a retried publication never opens a second issue.
//! - [`GitHubError`] says what to do next: wait (`RateLimited`), retry with
//!   [`Backoff`] (`Transient`), or show an admin (`Refused`, `Config`).
//!
//! Logs carry repository, tracking ID and issue number only: never the
//! token, never advisory text.

mod client;
mod config;
mod draft;
mod error;

pub use client::{
    Client, IssueRef, IssueState, MARKER_SCAN_PAGES, MAX_LIST_PAGES, PublicIssue, Published,
    Publisher,
};
pub use config::{Auth, GitHubConfig, Repo, RepoError, Secret};
pub use draft::{
    Advisory, DraftError, IssueDraft, MAX_BODY_CHARS, MAX_TITLE_CHARS, PLACEHOLDER_TEXT,
    PLACEHOLDER_TITLE, SECURITY_LABEL, body_has_marker, marker_line,
};
pub use error::{Backoff, DEFAULT_RATE_LIMIT_WAIT, GitHubError, MAX_RATE_LIMIT_WAIT};
