//! The domain of embargo: reports, tracking IDs, states and the actions that
//! move a report between them, and the embargo policy.
//!
//! Plain Rust: no I/O, no async, no clock. Every function takes the instant it
//! reasons about as an argument, so the rules are tested exhaustively and
//! deterministically. Adapters (mail, OpenPGP, store, web, GitHub) depend on
//! this crate; it depends on none of them.
//!
//! Types follow "parse, don't validate": a [`TrackingId`], [`Severity`],
//! [`State`], [`WgName`] or [`Login`] that exists has been checked.

mod ids;
mod policy;
mod state;

pub use ids::{
    Login, LoginError, TrackingId, TrackingIdError, TrackingPrefix, WgName, WgNameError,
};
pub use policy::{EmbargoPolicy, PolicyError, PolicyViolation, Warning};
pub use state::{
    Action, ActionKind, Refusal, Report, Role, RoleError, Severity, SeverityError, State,
    StateError,
};
