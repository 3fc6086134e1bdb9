//! Who may see and do what. One place, so the route × role test has one
//! thing to check against.
//!
//! | role | reports seen | report actions | admin pages |
//! | --- | --- | --- | --- |
//! | admin | all | all | yes |
//! | triager | all | all | no |
//! | wg-lead | those routed to the account's WG | all on those; triage only to that WG | no |
//! | auditor | all | none (read-only) | no |
//!
//! The review agenda and release scans (`/review`, `/scans`) follow the
//! same scope: a WG lead sees the own WG's rows only. Marking the review
//! done and sending scan slices to WG leads are the security team's own
//! procedures: admins and triagers ([`team_process`]).
//!
//! Retrying a failed publication is for admins only (on reports they see).
//!
//! A report a role may not see does not exist for it: 404, never 403.

use embargo_domain::{Role, WgName};
use embargo_store::User;

use crate::error::WebError;

/// Whether `user` may see a report routed to `wg`.
pub(crate) fn can_see(user: &User, wg: Option<&WgName>) -> bool {
    match user.role {
        Role::Admin | Role::Triager | Role::Auditor => true,
        Role::WgLead => match (&user.wg, wg) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => false,
        },
    }
}

/// [`can_see`] as a result: `NotFound` when not.
pub(crate) fn visible(user: &User, wg: Option<&WgName>) -> Result<(), WebError> {
    if can_see(user, wg) {
        Ok(())
    } else {
        Err(WebError::NotFound)
    }
}

/// Whether `user` may act on reports at all (everyone but auditors).
pub(crate) fn may_act(user: &User) -> Result<(), WebError> {
    match user.role {
        Role::Auditor => Err(WebError::Forbidden),
        _ => Ok(()),
    }
}

/// Whether `user` may route a report to `target`.
pub(crate) fn may_triage_to(user: &User, target: &WgName) -> Result<(), WebError> {
    match user.role {
        Role::WgLead if user.wg.as_ref() != Some(target) => Err(WebError::Forbidden),
        Role::Auditor => Err(WebError::Forbidden),
        _ => Ok(()),
    }
}

/// Whether `user` may run the security team's own procedures: mark the
/// bi-weekly review done, send release-scan slices to WG leads.
pub(crate) fn team_process(user: &User) -> Result<(), WebError> {
    match user.role {
        Role::Admin | Role::Triager => Ok(()),
        Role::WgLead | Role::Auditor => Err(WebError::Forbidden),
    }
}

pub(crate) fn admin_only(user: &User) -> Result<(), WebError> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(WebError::Forbidden)
    }
}

/// What a user's lists and figures cover.
pub(crate) enum Scope<'a> {
    All,
    Wg(&'a WgName),
    /// A WG lead without a WG: nothing.
    Nothing,
}

pub(crate) fn scope(user: &User) -> Scope<'_> {
    match (user.role, &user.wg) {
        (Role::WgLead, Some(wg)) => Scope::Wg(wg),
        (Role::WgLead, None) => Scope::Nothing,
        _ => Scope::All,
    }
}
