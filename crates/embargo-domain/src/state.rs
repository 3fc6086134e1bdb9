//! Report states, the actions on a report, and the one function that decides
//! whether an action is allowed: [`Report::apply`].

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;

use crate::ids::{TrackingId, WgName};
use crate::policy::{EmbargoPolicy, PolicyViolation};

/// `new → triaged → accepted → scheduled → published`, and the closed states
/// `rejected`, `duplicate`, `withdrawn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    New,
    Triaged,
    Accepted,
    Scheduled,
    Published,
    Rejected,
    Duplicate,
    Withdrawn,
}

impl State {
    pub const ALL: [State; 8] = [
        State::New,
        State::Triaged,
        State::Accepted,
        State::Scheduled,
        State::Published,
        State::Rejected,
        State::Duplicate,
        State::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Triaged => "triaged",
            State::Accepted => "accepted",
            State::Scheduled => "scheduled",
            State::Published => "published",
            State::Rejected => "rejected",
            State::Duplicate => "duplicate",
            State::Withdrawn => "withdrawn",
        }
    }

    /// Closed states accept no further action.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            State::Published | State::Rejected | State::Duplicate | State::Withdrawn
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown state {0:?} (expected one of new, triaged, accepted, scheduled, published, rejected, duplicate, withdrawn)"
)]
pub struct StateError(String);

impl FromStr for State {
    type Err = StateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| StateError(s.chars().take(32).collect()))
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for State {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Severity as the team rates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?} (expected one of low, medium, high, critical)")]
pub struct SeverityError(String);

impl FromStr for Severity {
    type Err = SeverityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| SeverityError(s.chars().take(32).collect()))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What a team account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Users, their OpenPGP keys, configuration; everything a triager can.
    Admin,
    /// Every report.
    Triager,
    /// Only reports routed to the account's WG.
    WgLead,
    /// Read-only.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Triager, Role::WgLead, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Triager => "triager",
            Role::WgLead => "wg-lead",
            Role::Auditor => "auditor",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected one of admin, triager, wg-lead, auditor)")]
pub struct RoleError(String);

impl FromStr for Role {
    type Err = RoleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| RoleError(s.chars().take(32).collect()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Something a team member (or the scheduler, for [`Action::Publish`]) does
/// to a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Route to a WG and rate the severity.
    Triage { wg: WgName, severity: Severity },
    /// Confirmed as a vulnerability the project will fix.
    Accept,
    /// Not a vulnerability, or out of scope.
    Reject,
    /// Same issue as another report.
    MarkDuplicate { of: TrackingId },
    /// The reporter withdrew the report; cancels any scheduled publication.
    Withdraw,
    /// Disclosure agreed: publish at `until`.
    Schedule { until: Timestamp },
    /// Disclosure no longer agreed; back to accepted.
    Unschedule,
    /// Make the advisory public. Only at or after the embargo end.
    Publish,
}

/// The kind of an [`Action`], without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    Triage,
    Accept,
    Reject,
    MarkDuplicate,
    Withdraw,
    Schedule,
    Unschedule,
    Publish,
}

impl ActionKind {
    pub const ALL: [ActionKind; 8] = [
        ActionKind::Triage,
        ActionKind::Accept,
        ActionKind::Reject,
        ActionKind::MarkDuplicate,
        ActionKind::Withdraw,
        ActionKind::Schedule,
        ActionKind::Unschedule,
        ActionKind::Publish,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Triage => "triage",
            ActionKind::Accept => "accept",
            ActionKind::Reject => "reject",
            ActionKind::MarkDuplicate => "mark-duplicate",
            ActionKind::Withdraw => "withdraw",
            ActionKind::Schedule => "schedule",
            ActionKind::Unschedule => "unschedule",
            ActionKind::Publish => "publish",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Triage { .. } => ActionKind::Triage,
            Action::Accept => ActionKind::Accept,
            Action::Reject => ActionKind::Reject,
            Action::MarkDuplicate { .. } => ActionKind::MarkDuplicate,
            Action::Withdraw => ActionKind::Withdraw,
            Action::Schedule { .. } => ActionKind::Schedule,
            Action::Unschedule => ActionKind::Unschedule,
            Action::Publish => ActionKind::Publish,
        }
    }
}

/// Why an action was refused. The `Display` text is meant for the person
/// who asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the report is {0}, a closed state: no further action is possible")]
    Closed(State),
    #[error("the report must be triaged (WG and severity) before it can be accepted")]
    NotTriaged,
    #[error("the report must be accepted before its disclosure can be scheduled")]
    NotAccepted,
    #[error("the report is {0}; only a new or triaged report can be triaged")]
    AlreadyPastTriage(State),
    #[error("the report is already accepted")]
    AlreadyAccepted,
    #[error("the report is scheduled for disclosure; unschedule it first")]
    ScheduledFirstUnschedule,
    #[error("the report is {0}, not scheduled")]
    NotScheduled(State),
    #[error("the embargo ends at {until}; publication before then is refused")]
    EmbargoNotEnded { until: Timestamp },
    #[error("a report cannot be a duplicate of itself")]
    DuplicateOfItself,
    #[error("embargo policy: {0}")]
    Policy(#[from] PolicyViolation),
}

/// The part of a report the rules need. The store keeps the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub id: TrackingId,
    pub state: State,
    pub wg: Option<WgName>,
    pub severity: Option<Severity>,
    pub created_at: Timestamp,
    pub embargo_until: Option<Timestamp>,
    pub duplicate_of: Option<TrackingId>,
}

impl Report {
    /// A report as filed: state `new`, nothing decided.
    pub fn new(id: TrackingId, created_at: Timestamp) -> Self {
        Self {
            id,
            state: State::New,
            wg: None,
            severity: None,
            created_at,
            embargo_until: None,
            duplicate_of: None,
        }
    }

    /// Decides `action` at instant `now` under `policy`: the report as it is
    /// afterwards, or why not. Pure; the caller persists the result.
    pub fn apply(
        &self,
        action: &Action,
        now: Timestamp,
        policy: &EmbargoPolicy,
    ) -> Result<Report, Refusal> {
        use State::*;
        if self.state.is_closed() {
            return Err(Refusal::Closed(self.state));
        }
        let mut next = self.clone();
        match action {
            Action::Triage { wg, severity } => match self.state {
                New | Triaged => {
                    next.state = Triaged;
                    next.wg = Some(wg.clone());
                    next.severity = Some(*severity);
                }
                other => return Err(Refusal::AlreadyPastTriage(other)),
            },
            Action::Accept => match self.state {
                Triaged => next.state = Accepted,
                New => return Err(Refusal::NotTriaged),
                _ => return Err(Refusal::AlreadyAccepted),
            },
            Action::Reject | Action::MarkDuplicate { .. } => {
                if self.state == Scheduled {
                    return Err(Refusal::ScheduledFirstUnschedule);
                }
                if let Action::MarkDuplicate { of } = action {
                    if *of == self.id {
                        return Err(Refusal::DuplicateOfItself);
                    }
                    next.state = Duplicate;
                    next.duplicate_of = Some(of.clone());
                } else {
                    next.state = Rejected;
                }
            }
            Action::Withdraw => {
                next.state = Withdrawn;
                next.embargo_until = None;
            }
            Action::Schedule { until } => match self.state {
                Accepted | Scheduled => {
                    policy.check(self.created_at, *until, now)?;
                    next.state = Scheduled;
                    next.embargo_until = Some(*until);
                }
                _ => return Err(Refusal::NotAccepted),
            },
            Action::Unschedule => match self.state {
                Scheduled => {
                    next.state = Accepted;
                    next.embargo_until = None;
                }
                other => return Err(Refusal::NotScheduled(other)),
            },
            Action::Publish => match (self.state, self.embargo_until) {
                (Scheduled, Some(until)) if now >= until => next.state = Published,
                (Scheduled, Some(until)) => return Err(Refusal::EmbargoNotEnded { until }),
                (other, _) => return Err(Refusal::NotScheduled(other)),
            },
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TrackingPrefix;
    use jiff::SignedDuration;

    fn id(n: u32) -> TrackingId {
        TrackingId::new(TrackingPrefix::parse("KF").unwrap(), 2026, n).unwrap()
    }

    fn t0() -> Timestamp {
        "2026-01-10T12:00:00Z".parse().unwrap()
    }

    fn days(d: i64) -> SignedDuration {
        SignedDuration::from_hours(24 * d)
    }

    /// A report in `state`, with the fields that state implies.
    fn report_in(state: State) -> Report {
        let mut r = Report::new(id(1), t0());
        r.state = state;
        if state != State::New {
            r.wg = Some(WgName::parse("pipelines").unwrap());
            r.severity = Some(Severity::High);
        }
        if state == State::Scheduled {
            r.embargo_until = Some(t0() + days(30));
        }
        r
    }

    fn action_of(kind: ActionKind) -> Action {
        match kind {
            ActionKind::Triage => Action::Triage {
                wg: WgName::parse("notebooks").unwrap(),
                severity: Severity::Critical,
            },
            ActionKind::Accept => Action::Accept,
            ActionKind::Reject => Action::Reject,
            ActionKind::MarkDuplicate => Action::MarkDuplicate { of: id(2) },
            ActionKind::Withdraw => Action::Withdraw,
            ActionKind::Schedule => Action::Schedule {
                until: t0() + days(60),
            },
            ActionKind::Unschedule => Action::Unschedule,
            ActionKind::Publish => Action::Publish,
        }
    }

    /// The specification, written out: for every state and every action,
    /// the state afterwards or the refusal. `now` is 40 days after filing,
    /// so a report scheduled at +30 days may publish.
    fn expected(state: State, kind: ActionKind) -> Result<State, Refusal> {
        use ActionKind as A;
        use State::*;
        match (state, kind) {
            (Published | Rejected | Duplicate | Withdrawn, _) => Err(Refusal::Closed(state)),
            (New | Triaged, A::Triage) => Ok(Triaged),
            (Accepted | Scheduled, A::Triage) => Err(Refusal::AlreadyPastTriage(state)),
            (New, A::Accept) => Err(Refusal::NotTriaged),
            (Triaged, A::Accept) => Ok(Accepted),
            (Accepted | Scheduled, A::Accept) => Err(Refusal::AlreadyAccepted),
            (New | Triaged | Accepted, A::Reject) => Ok(Rejected),
            (New | Triaged | Accepted, A::MarkDuplicate) => Ok(Duplicate),
            (Scheduled, A::Reject | A::MarkDuplicate) => Err(Refusal::ScheduledFirstUnschedule),
            (_, A::Withdraw) => Ok(Withdrawn),
            (New | Triaged, A::Schedule) => Err(Refusal::NotAccepted),
            (Accepted | Scheduled, A::Schedule) => Ok(Scheduled),
            (Scheduled, A::Unschedule) => Ok(Accepted),
            (_, A::Unschedule) => Err(Refusal::NotScheduled(state)),
            (Scheduled, A::Publish) => Ok(Published),
            (_, A::Publish) => Err(Refusal::NotScheduled(state)),
        }
    }

    #[test]
    fn every_state_times_every_action() {
        let policy = EmbargoPolicy::default();
        let now = t0() + days(40);
        let mut checked = 0;
        for state in State::ALL {
            for kind in ActionKind::ALL {
                let before = report_in(state);
                let got = before.apply(&action_of(kind), now, &policy);
                let want = expected(state, kind);
                match (&got, &want) {
                    (Ok(after), Ok(want_state)) => {
                        assert_eq!(after.state, *want_state, "{state} × {kind}")
                    }
                    (Err(g), Err(w)) => {
                        assert_eq!(g, w, "{state} × {kind}");
                        assert!(!g.to_string().is_empty());
                    }
                    _ => panic!("{state} × {kind}: got {got:?}, want {want:?}"),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, State::ALL.len() * ActionKind::ALL.len());
    }

    #[test]
    fn transitions_carry_their_data() {
        let policy = EmbargoPolicy::default();
        let now = t0() + days(1);
        let r = report_in(State::New)
            .apply(&action_of(ActionKind::Triage), now, &policy)
            .unwrap();
        assert_eq!(r.wg.as_ref().map(WgName::as_str), Some("notebooks"));
        assert_eq!(r.severity, Some(Severity::Critical));

        let r = report_in(State::Accepted)
            .apply(&action_of(ActionKind::Schedule), now, &policy)
            .unwrap();
        assert_eq!(r.embargo_until, Some(t0() + days(60)));

        let r = r.apply(&Action::Unschedule, now, &policy).unwrap();
        assert_eq!(r.embargo_until, None);

        let r = report_in(State::Triaged)
            .apply(&action_of(ActionKind::MarkDuplicate), now, &policy)
            .unwrap();
        assert_eq!(r.duplicate_of, Some(id(2)));

        let r = report_in(State::Scheduled)
            .apply(&Action::Withdraw, now, &policy)
            .unwrap();
        assert_eq!(r.embargo_until, None, "withdrawal cancels publication");
    }

    #[test]
    fn never_published_before_the_end() {
        let policy = EmbargoPolicy::default();
        let r = report_in(State::Scheduled);
        let until = t0() + days(30);
        let early = until - SignedDuration::from_secs(1);
        assert_eq!(
            r.apply(&Action::Publish, early, &policy),
            Err(Refusal::EmbargoNotEnded { until })
        );
        assert_eq!(
            r.apply(&Action::Publish, until, &policy).unwrap().state,
            State::Published
        );
    }

    #[test]
    fn refusals_that_need_data() {
        let policy = EmbargoPolicy::default();
        let now = t0() + days(1);
        let r = report_in(State::Triaged);
        assert_eq!(
            r.apply(&Action::MarkDuplicate { of: id(1) }, now, &policy),
            Err(Refusal::DuplicateOfItself)
        );
        let r = report_in(State::Accepted);
        let too_late = Action::Schedule {
            until: t0() + days(91),
        };
        assert!(matches!(
            r.apply(&too_late, now, &policy),
            Err(Refusal::Policy(PolicyViolation::TooLate { .. }))
        ));
        let past = Action::Schedule {
            until: now - SignedDuration::from_secs(1),
        };
        assert!(matches!(
            r.apply(&past, now, &policy),
            Err(Refusal::Policy(PolicyViolation::InThePast { .. }))
        ));
    }

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>().unwrap(), s);
        }
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), s);
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("NEW".parse::<State>().is_err());
        assert!("urgent".parse::<Severity>().is_err());
        assert!("root".parse::<Role>().is_err());
    }
}
