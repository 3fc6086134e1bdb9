//! [`PublishError`]: why a disclosure step was refused or failed.

use embargo_domain::{Login, Refusal, State, TrackingId};
use embargo_github::GitHubError;
use embargo_store::StoreError;
use jiff::Timestamp;

/// Everything the workflow can fail with. `Display` is meant for the
/// person who asked; it never carries advisory text.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The domain refused the action (state machine or embargo policy).
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("GitHub: {0}")]
    GitHub(#[from] GitHubError),
    /// The advisory cannot be published as given.
    #[error("advisory: {0}")]
    Advisory(String),
    #[error("no disclosure is recorded for {0}")]
    NoDisclosure(TrackingId),
    #[error("{login} approved this version already; a different team member must approve")]
    AlreadyApproved { login: Login },
    #[error(
        "the publication of {id} is in progress (lease until {lease_until}); try again afterwards"
    )]
    Busy {
        id: TrackingId,
        lease_until: Timestamp,
    },
    #[error(
        "the advisory of {id} is public already ({issue_url}); the next publication run completes it"
    )]
    IssueExists { id: TrackingId, issue_url: String },
    #[error("the publication job of {0} has not failed: nothing to retry")]
    NotFailed(TrackingId),
    #[error("report {id} has no WG: triage it first")]
    NoWg { id: TrackingId },
    /// The report's WG has no repository to publish to (`why` says what
    /// to set); an admin retries once one is set.
    #[error("{why}")]
    NoRepository { wg: String, why: String },
    #[error("report {id} is {state}, not published")]
    NotPublished { id: TrackingId, state: State },
    #[error("approvals required must be between 1 and {max}")]
    ApprovalsRequired { max: u8 },
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
    #[error(
        "cannot read the instant {0:?}: expected RFC 3339 with an offset (2026-05-01T14:00:00+02:00) or a zone (2026-05-01T14:00[Europe/Berlin])"
    )]
    Instant(String),
}

impl PublishError {
    /// Whether trying again later may succeed (database unavailable,
    /// GitHub rate limit or transient failure, a publication in progress).
    pub fn is_temporary(&self) -> bool {
        match self {
            PublishError::Store(e) => e.is_temporary(),
            PublishError::GitHub(e) => e.is_transient(),
            PublishError::Busy { .. } => true,
            _ => false,
        }
    }
}
