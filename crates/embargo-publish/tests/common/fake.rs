//! An in-memory GitHub behind the `Publisher` trait, with faults: a
//! transient error, a rate limit, a refusal, a create whose response is
//! lost, and a worker that crashes (its future never completes) before or
//! right after creating. Every create and update is logged with the clock
//! of the worker that made it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use embargo_domain::TrackingId;
use embargo_github::{
    GitHubError, IssueDraft, IssueRef, PublicIssue, Publisher, Repo, body_has_marker,
};
use embargo_publish::{
    NoNotices, Notices, PublicationOutcome, PublishConfig, PublishedNotice, publish_due,
};
use embargo_store::{NewOutbox, Store};
use jiff::Timestamp;
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct FakeIssue {
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
}

impl FakeIssue {
    pub fn url(&self) -> String {
        format!("https://github.com/{}/issues/{}", self.repo, self.number)
    }
}

/// One write to the fake, with the clock of the worker that made it.
#[derive(Debug, Clone)]
pub struct Write {
    pub tracking_id: TrackingId,
    /// The body written.
    pub body: String,
    pub number: u64,
    pub created: bool,
    pub worker_now: Timestamp,
}

/// What goes wrong in one worker run (at most once per run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// The first call fails with a 5xx.
    Transient,
    /// The first call is rate limited for this many seconds.
    RateLimited(u64),
    /// The create is refused (422).
    Refused,
    /// The issue is created but the response is lost (5xx to the caller).
    LoseResponse,
    /// The worker dies after the issue is created, before it hears back.
    CrashAfterCreate,
    /// The worker dies on its first call to GitHub.
    CrashBeforeCreate,
    /// The worker dies after the issue URL is recorded, before the
    /// publication transaction (while composing the notices).
    CrashAfterRecord,
}

#[derive(Debug, Default)]
pub struct FakeState {
    pub issues: Vec<FakeIssue>,
    pub writes: Vec<Write>,
    pub calls: usize,
}

impl FakeState {
    pub fn issues_of(&self, id: &TrackingId) -> Vec<&FakeIssue> {
        self.issues
            .iter()
            .filter(|i| body_has_marker(&i.body, id))
            .collect()
    }
}

/// The fake GitHub, shared by all workers.
#[derive(Debug, Clone, Default)]
pub struct FakeGitHub {
    pub state: Arc<Mutex<FakeState>>,
}

impl FakeGitHub {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    /// A worker with its own clock and fault.
    pub fn worker(&self, now: Timestamp, fault: Fault) -> FakeWorker {
        FakeWorker {
            gh: self.clone(),
            now,
            faults: Mutex::new(VecDeque::from([fault])),
            crashed: Arc::new(Notify::new()),
        }
    }
}

pub struct FakeWorker {
    gh: FakeGitHub,
    now: Timestamp,
    faults: Mutex<VecDeque<Fault>>,
    /// Notified when the worker "crashes".
    pub crashed: Arc<Notify>,
}

enum Step {
    Go,
    Fail(GitHubError),
    Crash,
}

impl FakeWorker {
    /// The fault for this call, if it applies to it (consumed).
    fn fault(&self, create: bool) -> Fault {
        let mut faults = self.faults.lock().unwrap();
        let applies = match faults.front() {
            None | Some(Fault::None) => false,
            Some(Fault::Refused | Fault::LoseResponse | Fault::CrashAfterCreate) => create,
            Some(Fault::Transient | Fault::RateLimited(_) | Fault::CrashBeforeCreate) => true,
            Some(Fault::CrashAfterRecord) => false,
        };
        if applies {
            faults.pop_front().unwrap_or(Fault::None)
        } else {
            Fault::None
        }
    }

    fn before(&self, create: bool) -> (Step, Fault) {
        self.gh.lock().calls += 1;
        let f = self.fault(create);
        let step = match f {
            Fault::Transient => Step::Fail(GitHubError::Transient {
                reason: "HTTP 502: Bad Gateway".into(),
            }),
            Fault::RateLimited(s) => Step::Fail(GitHubError::RateLimited {
                retry_after: Duration::from_secs(s),
            }),
            Fault::Refused => Step::Fail(GitHubError::Refused {
                status: 422,
                message: "Validation Failed".into(),
            }),
            Fault::CrashBeforeCreate => Step::Crash,
            _ => Step::Go,
        };
        (step, f)
    }

    /// Never returns: the test drops the worker's future.
    async fn crash(&self) {
        self.crashed.notify_one();
        std::future::pending::<()>().await;
    }
}

impl Publisher for FakeWorker {
    async fn find_by_marker(
        &self,
        repo: &Repo,
        id: &TrackingId,
    ) -> Result<Option<IssueRef>, GitHubError> {
        match self.before(false).0 {
            Step::Go => {}
            Step::Fail(e) => return Err(e),
            Step::Crash => {
                self.crash().await;
                unreachable!("a crashed worker never resumes")
            }
        }
        let st = self.gh.lock();
        let repo = repo.to_string();
        Ok(st
            .issues
            .iter()
            .filter(|i| i.repo == repo && body_has_marker(&i.body, id))
            .min_by_key(|i| i.number)
            .map(|i| IssueRef {
                number: i.number,
                html_url: i.url(),
            }))
    }

    async fn create_issue(&self, repo: &Repo, draft: &IssueDraft) -> Result<IssueRef, GitHubError> {
        let (step, fault) = self.before(true);
        match step {
            Step::Go => {}
            Step::Fail(e) => return Err(e),
            Step::Crash => {
                self.crash().await;
                unreachable!("a crashed worker never resumes")
            }
        }
        let issue = {
            let mut st = self.gh.lock();
            let repo = repo.to_string();
            let number = st.issues.iter().filter(|i| i.repo == repo).count() as u64 + 1;
            let issue = FakeIssue {
                repo,
                number,
                title: draft.title().to_owned(),
                body: draft.body().to_owned(),
                labels: draft.labels().to_vec(),
            };
            st.issues.push(issue.clone());
            st.writes.push(Write {
                tracking_id: draft.tracking_id().clone(),
                body: draft.body().to_owned(),
                number,
                created: true,
                worker_now: self.now,
            });
            issue
        };
        match fault {
            Fault::LoseResponse => Err(GitHubError::Transient {
                reason: "GitHub unreachable: connection closed".into(),
            }),
            Fault::CrashAfterCreate => {
                self.crash().await;
                unreachable!("a crashed worker never resumes")
            }
            _ => Ok(IssueRef {
                number: issue.number,
                html_url: issue.url(),
            }),
        }
    }

    async fn update_issue(
        &self,
        repo: &Repo,
        number: u64,
        draft: &IssueDraft,
    ) -> Result<IssueRef, GitHubError> {
        match self.before(false).0 {
            Step::Go => {}
            Step::Fail(e) => return Err(e),
            Step::Crash => {
                self.crash().await;
                unreachable!("a crashed worker never resumes")
            }
        }
        let mut st = self.gh.lock();
        let repo = repo.to_string();
        let Some(issue) = st
            .issues
            .iter_mut()
            .find(|i| i.repo == repo && i.number == number)
        else {
            return Err(GitHubError::Refused {
                status: 404,
                message: "Not Found".into(),
            });
        };
        issue.title = draft.title().to_owned();
        issue.body = draft.body().to_owned();
        for l in draft.labels() {
            if !issue.labels.iter().any(|x| x.eq_ignore_ascii_case(l)) {
                issue.labels.push(l.clone());
            }
        }
        let r = IssueRef {
            number,
            html_url: issue.url(),
        };
        st.writes.push(Write {
            tracking_id: draft.tracking_id().clone(),
            body: draft.body().to_owned(),
            number,
            created: false,
            worker_now: self.now,
        });
        Ok(r)
    }

    async fn list_security_issues_since(
        &self,
        _repo: &Repo,
        _since: Timestamp,
    ) -> Result<Vec<PublicIssue>, GitHubError> {
        Ok(Vec::new())
    }
}

/// Notices that never come back: the worker dies after recording the
/// issue URL, before the publication transaction.
pub struct CrashingNotices(pub Arc<Notify>);

impl Notices for CrashingNotices {
    async fn published(&self, _store: &Store, _notice: &PublishedNotice<'_>) -> Vec<NewOutbox> {
        self.0.notify_one();
        std::future::pending::<()>().await;
        unreachable!("a crashed worker never resumes")
    }
}

/// One `publish_due` run of a fake worker. `None`: the worker crashed (its
/// future was dropped mid-way, its lease left to expire).
pub async fn run(
    store: &Store,
    gh: &FakeGitHub,
    config: &PublishConfig,
    owner: &str,
    now: Timestamp,
    fault: Fault,
) -> Option<Vec<PublicationOutcome>> {
    let worker = gh.worker(now, fault);
    let crashed = worker.crashed.clone();
    if fault == Fault::CrashAfterRecord {
        let notices = CrashingNotices(crashed.clone());
        tokio::select! {
            out = publish_due(store, &worker, config, &notices, owner, now) => Some(out),
            _ = crashed.notified() => None,
        }
    } else {
        tokio::select! {
            out = publish_due(store, &worker, config, &NoNotices, owner, now) => Some(out),
            _ = crashed.notified() => None,
        }
    }
}
