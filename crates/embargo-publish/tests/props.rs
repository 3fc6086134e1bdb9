//! Never early, never twice: a property test over random clocks (skewed,
//! non-monotonic workers), schedules and reschedules, approvals,
//! withdrawals, GitHub faults (transient errors, rate limits, refusals,
//! lost responses) and crashes (a worker dying before creating, right after
//! creating, or after recording the issue), with jobs forced due too early,
//! against the in-memory fake GitHub and a real SQLite store.
//!
//! After every step: no report has two issues; every issue write was made
//! by a worker whose clock was at or past the report's embargo end, for a
//! scheduled, approved report, with the agreed text. At the end (clock far
//! ahead, failed jobs retried by an admin, workers without faults): every
//! scheduled and approved report is published, with exactly one issue,
//! the one recorded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashMap;

use common::fake::{FakeGitHub, Fault, run};
use common::*;
use embargo_domain::{EmbargoPolicy, State, TrackingId};
use embargo_publish::{
    AdvisoryInput, DisclosurePolicy, PublicationOutcome, PublishConfig, PublishError, approve,
    retry_job, schedule, unschedule, withdraw,
};
use embargo_store::{JobState, Store};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const REPORTS: usize = 3;
const MEMBERS: [&str; 3] = ["alice", "bob", "carol"];

#[derive(Debug, Clone)]
enum Op {
    Advance {
        minutes: i64,
    },
    Schedule {
        report: usize,
        minutes: i64,
        text: u8,
        by: usize,
    },
    Approve {
        report: usize,
        by: usize,
    },
    Unschedule {
        report: usize,
    },
    Withdraw {
        report: usize,
    },
    Run {
        skew: i64,
        fault: Fault,
    },
    /// A worker whose clock is close to a report's embargo end (seconds
    /// before or after; the sim clock when the report has none).
    RunNearEnd {
        report: usize,
        offset: i64,
        fault: Fault,
    },
    RunPair {
        skew: (i64, i64),
        fault: (Fault, Fault),
    },
    /// A job made due too early (a bug, a hand edit): the domain must hold.
    PullEarly {
        report: usize,
        minutes: i64,
    },
    AdminRetry,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        5 => Just(Fault::None),
        1 => Just(Fault::Transient),
        1 => (1u64..7200).prop_map(Fault::RateLimited),
        1 => Just(Fault::Refused),
        1 => Just(Fault::LoseResponse),
        1 => Just(Fault::CrashAfterCreate),
        1 => Just(Fault::CrashBeforeCreate),
        1 => Just(Fault::CrashAfterRecord),
    ]
}

/// Clock steps: mostly minutes to hours, sometimes days.
fn minutes() -> impl Strategy<Value = i64> {
    prop_oneof![3 => 0i64..=180, 2 => 0i64..=24 * 60, 1 => 0i64..=3 * 24 * 60]
}

/// Embargo lengths and early pulls, in minutes: mostly short, so ends are
/// crossed (and approached closely) within a case.
fn span() -> impl Strategy<Value = i64> {
    prop_oneof![2 => 1i64..=120, 2 => 1i64..=72 * 60, 1 => 1i64..=40 * 24 * 60]
}

fn op() -> impl Strategy<Value = Op> {
    let report = 0..REPORTS;
    prop_oneof![
        3 => minutes().prop_map(|minutes| Op::Advance { minutes }),
        3 => (report.clone(), span(), 0u8..3, 0..MEMBERS.len())
            .prop_map(|(report, minutes, text, by)| Op::Schedule { report, minutes, text, by }),
        2 => (report.clone(), 0..MEMBERS.len()).prop_map(|(report, by)| Op::Approve { report, by }),
        1 => report.clone().prop_map(|report| Op::Unschedule { report }),
        1 => report.clone().prop_map(|report| Op::Withdraw { report }),
        5 => (-120i64..=120, fault()).prop_map(|(skew, fault)| Op::Run { skew, fault }),
        3 => (report.clone(), prop_oneof![-1i64..=1, -900i64..=900], fault())
            .prop_map(|(report, offset, fault)| Op::RunNearEnd { report, offset, fault }),
        2 => ((-120i64..=120, -120i64..=120), (fault(), fault()))
            .prop_map(|(skew, fault)| Op::RunPair { skew, fault }),
        2 => (report, span()).prop_map(|(report, minutes)| Op::PullEarly { report, minutes }),
        1 => Just(Op::AdminRetry),
    ]
}

/// What a worker may publish for a report, as the store says before a run.
#[derive(Debug)]
struct Allowed {
    until: Option<Timestamp>,
    /// Scheduled, and the current version approved.
    publishable: bool,
    /// The agreed text (its version tag).
    markdown: Option<String>,
}

struct Sim {
    store: Store,
    gh: FakeGitHub,
    config: PublishConfig,
    policy: DisclosurePolicy,
    clock: Timestamp,
    ids: Vec<TrackingId>,
    checked_writes: usize,
}

fn text(v: u8) -> AdvisoryInput {
    advisory(&format!("v{v}"))
}

fn acceptable(e: &PublishError) -> bool {
    matches!(
        e,
        PublishError::Refused(_)
            | PublishError::Busy { .. }
            | PublishError::IssueExists { .. }
            | PublishError::AlreadyApproved { .. }
            | PublishError::NotFailed(_)
    )
}

impl Sim {
    async fn allowed(&self) -> HashMap<TrackingId, Allowed> {
        let mut out = HashMap::new();
        for id in &self.ids {
            let r = self.store.load_domain_report(id).await.unwrap();
            let d = self.store.get_disclosure(id).await.unwrap();
            out.insert(
                id.clone(),
                Allowed {
                    until: r.embargo_until,
                    publishable: r.state == State::Scheduled
                        && d.as_ref().is_some_and(|d| d.is_approved()),
                    markdown: d.map(|d| d.advisory.markdown),
                },
            );
        }
        out
    }

    /// Checks the writes made since the last check against `allowed`.
    fn check_writes(
        &mut self,
        allowed: &HashMap<TrackingId, Allowed>,
    ) -> Result<(), TestCaseError> {
        let st = self.gh.lock();
        for w in &st.writes[self.checked_writes..] {
            let a = &allowed[&w.tracking_id];
            prop_assert!(
                a.publishable,
                "{} written while not publishable: {a:?}",
                w.tracking_id
            );
            let until = a.until.unwrap();
            prop_assert!(
                w.worker_now >= until,
                "{} written at {} before its embargo end {until}",
                w.tracking_id,
                w.worker_now
            );
            let agreed = a.markdown.as_deref().unwrap();
            prop_assert!(
                w.body.contains(agreed),
                "{} written with another text",
                w.tracking_id
            );
        }
        self.checked_writes = st.writes.len();
        Ok(())
    }

    fn check_never_twice(&self) -> Result<(), TestCaseError> {
        let st = self.gh.lock();
        for id in &self.ids {
            prop_assert!(
                st.issues_of(id).len() <= 1,
                "{id} has {} issues",
                st.issues_of(id).len()
            );
        }
        Ok(())
    }

    fn check_outcomes(out: &Option<Vec<PublicationOutcome>>) -> Result<(), TestCaseError> {
        for o in out.iter().flatten() {
            prop_assert!(
                !matches!(o, PublicationOutcome::Error { .. }),
                "unexpected store error: {o:?}"
            );
        }
        Ok(())
    }

    async fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let store = &self.store;
        let by = |i: usize| login(MEMBERS[i]);
        let result: Result<(), PublishError> = match op {
            Op::Advance { minutes } => {
                self.clock += SignedDuration::from_mins(*minutes);
                Ok(())
            }
            Op::Schedule {
                report,
                minutes,
                text: v,
                by: b,
            } => {
                let until = self.clock + SignedDuration::from_mins(*minutes);
                schedule(
                    store,
                    &self.ids[*report],
                    until,
                    &text(*v),
                    &by(*b),
                    self.clock,
                    &self.policy,
                )
                .await
                .map(|_| ())
            }
            Op::Approve { report, by: b } => {
                approve(store, &self.ids[*report], &by(*b), self.clock)
                    .await
                    .map(|_| ())
            }
            Op::Unschedule { report } => unschedule(store, &self.ids[*report], &by(0), self.clock)
                .await
                .map(|_| ()),
            Op::Withdraw { report } => withdraw(store, &self.ids[*report], &by(0), self.clock)
                .await
                .map(|_| ()),
            Op::PullEarly { report, minutes } => {
                let id = &self.ids[*report];
                let early = self.clock - SignedDuration::from_mins(*minutes);
                store
                    .upsert_publication_job(id, early, self.clock)
                    .await
                    .unwrap();
                Ok(())
            }
            Op::AdminRetry => {
                for job in store
                    .list_publication_jobs(Some(JobState::Failed))
                    .await
                    .unwrap()
                {
                    retry_job(store, &job.report_id, &by(2), self.clock)
                        .await
                        .unwrap();
                }
                Ok(())
            }
            Op::Run { skew, fault } => {
                let allowed = self.allowed().await;
                let now = self.clock + SignedDuration::from_mins(*skew);
                let out = run(
                    store,
                    &self.gh,
                    &self.config,
                    &format!("w-{now}"),
                    now,
                    *fault,
                )
                .await;
                Self::check_outcomes(&out)?;
                self.check_writes(&allowed)?;
                Ok(())
            }
            Op::RunNearEnd {
                report,
                offset,
                fault,
            } => {
                let allowed = self.allowed().await;
                let base = allowed[&self.ids[*report]].until.unwrap_or(self.clock);
                let now = base + SignedDuration::from_secs(*offset);
                let out = run(store, &self.gh, &self.config, "near", now, *fault).await;
                Self::check_outcomes(&out)?;
                self.check_writes(&allowed)?;
                Ok(())
            }
            Op::RunPair { skew, fault } => {
                let allowed = self.allowed().await;
                let (na, nb) = (
                    self.clock + SignedDuration::from_mins(skew.0),
                    self.clock + SignedDuration::from_mins(skew.1),
                );
                let (a, b) = tokio::join!(
                    run(store, &self.gh, &self.config, "pair-a", na, fault.0),
                    run(store, &self.gh, &self.config, "pair-b", nb, fault.1),
                );
                Self::check_outcomes(&a)?;
                Self::check_outcomes(&b)?;
                self.check_writes(&allowed)?;
                Ok(())
            }
        };
        if let Err(e) = &result {
            prop_assert!(acceptable(e), "{op:?}: unexpected error {e:?}");
        }
        self.check_never_twice()
    }

    /// Time passes, admins retry, workers run without faults: everything
    /// agreed gets published, once.
    async fn settle(&mut self) -> Result<(), TestCaseError> {
        self.clock += SignedDuration::from_hours(24 * 100);
        for _ in 0..6 {
            self.step(&Op::AdminRetry).await?;
            self.step(&Op::Run {
                skew: 0,
                fault: Fault::None,
            })
            .await?;
            self.clock += SignedDuration::from_hours(24);
        }
        for id in &self.ids {
            let r = self.store.load_domain_report(id).await.unwrap();
            let d = self.store.get_disclosure(id).await.unwrap();
            let issues: Vec<_> = self.gh.lock().issues_of(id).into_iter().cloned().collect();
            match r.state {
                State::Published => {
                    prop_assert_eq!(
                        issues.len(),
                        1,
                        "{} published with {} issues",
                        id,
                        issues.len()
                    );
                    let d = d.unwrap();
                    let url = issues[0].url();
                    prop_assert_eq!(d.published_issue_url.as_deref(), Some(url.as_str()));
                    prop_assert!(issues[0].body.contains(&d.advisory.markdown));
                    let job = self.store.get_publication_job(id).await.unwrap().unwrap();
                    prop_assert_eq!(job.state, JobState::Done);
                }
                State::Scheduled => {
                    prop_assert!(
                        !d.unwrap().is_approved(),
                        "{} scheduled and approved but not published",
                        id
                    );
                }
                // An issue may exist for a report taken back after a worker
                // died having created it (then it was published at a time
                // it was due); never two.
                _ => prop_assert!(issues.len() <= 1),
            }
        }
        Ok(())
    }
}

async fn simulate(approvals: u8, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let h = Harness::sqlite().await;
    let mut ids = Vec::new();
    for i in 0..REPORTS {
        ids.push(accepted_report(&h.store, &format!("prop{i}@x")).await);
    }
    let mut sim = Sim {
        store: h.store.clone(),
        gh: FakeGitHub::new(),
        config: config(false),
        policy: DisclosurePolicy {
            embargo: EmbargoPolicy::default(),
            approvals_required: approvals,
        },
        clock: t0() + SignedDuration::from_hours(1),
        ids,
        checked_writes: 0,
    };
    for op in &ops {
        sim.step(op).await?;
    }
    sim.settle().await?;
    h.finish().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn never_early_never_twice(approvals in 1u8..=2, ops in prop::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(simulate(approvals, ops))?;
    }
}
