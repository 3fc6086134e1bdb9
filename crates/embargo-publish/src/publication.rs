//! The publisher loop and the placeholder issue.
//!
//! Exactly once rests on three things, in this order:
//!
//! 1. the publication job's lease (`claim_publication_job`: `FOR UPDATE
//!    SKIP LOCKED` on PostgreSQL, a single `UPDATE … RETURNING` under
//!    `BEGIN IMMEDIATE` on SQLite), so one worker at a time works a job;
//! 2. the marker search before any create ([`Publisher::publish`]), so a
//!    create whose response was lost, or whose worker died, is found and
//!    not repeated;
//! 3. the issue URL recorded on the job the moment the issue exists, so a
//!    worker that takes over an expired lease goes straight to finishing.
//!
//! Never early: the claim only sees jobs due at `now`, and before anything
//! goes to GitHub the domain decides again ([`Report::apply`] with
//! [`Action::Publish`] at `now`), so a job due too early is put back to the
//! embargo end instead.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use embargo_domain::{Action, EmbargoPolicy, Refusal, Report, State, TrackingId, WgName};
use embargo_github::{Backoff, GitHubError, IssueDraft, IssueRef, Publisher, Repo};
use embargo_store::{
    Actor, JobOutcome, PlaceholderClaim, PlaceholderIssue, PublicationJob, Store, StoreError,
};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::agreement::github_advisory;
use crate::error::PublishError;
use crate::notices::{Notices, PublishedNotice};
use crate::wgs::WgRepos;

/// How [`publish_due`] works.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    pub wgs: WgRepos,
    /// How long a claimed job is a worker's alone. Far longer than one
    /// publication takes; a worker that dies holds the job this long.
    pub lease: SignedDuration,
    /// Waits between attempts after transient GitHub failures.
    pub backoff: Backoff,
    /// Jobs worked per call, at most.
    pub max_jobs: usize,
    /// Transient failures (5xx, timeouts) of one job before it fails
    /// visibly for an admin to retry. Rate limits do not count.
    pub max_attempts: u32,
}

impl PublishConfig {
    pub fn new(wgs: WgRepos) -> Self {
        Self {
            wgs,
            lease: SignedDuration::from_mins(10),
            backoff: Backoff::default(),
            max_jobs: 100,
            max_attempts: 50,
        }
    }
}

/// What happened to one claimed publication job. `publish --due` prints
/// `published` ones as JSON lines on stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PublicationOutcome {
    /// Public: the report is `published`, the issue URL recorded.
    Published {
        id: TrackingId,
        repo: String,
        issue_url: String,
        /// `None` when the issue was recorded by an earlier attempt.
        issue_number: Option<u64>,
        /// This attempt created the issue (not found by its marker, not a
        /// placeholder filled in, not recorded earlier).
        created: bool,
        /// A placeholder issue was filled in.
        placeholder: bool,
    },
    /// Rate limited or a transient failure: the job is due again at
    /// `retry_at`.
    Retrying {
        id: TrackingId,
        retry_at: Timestamp,
        error: String,
    },
    /// GitHub refused (422, 404, 403 …), or the configuration or the
    /// advisory cannot work: the job is `failed`, shown to admins, and
    /// [`crate::retry_job`] makes it pending again.
    Failed { id: TrackingId, error: String },
    /// The embargo has not ended: the job is put back to `until`.
    Deferred { id: TrackingId, until: Timestamp },
    /// The report no longer wants publishing (not scheduled): job removed.
    Cancelled { id: TrackingId, reason: String },
    /// The lease ran out and another worker holds the job: it finishes.
    LeaseLost { id: TrackingId },
    /// The store failed; the job is taken up again when its lease ends.
    Error {
        id: Option<TrackingId>,
        error: String,
        temporary: bool,
    },
}

impl PublicationOutcome {
    pub fn id(&self) -> Option<&TrackingId> {
        match self {
            PublicationOutcome::Published { id, .. }
            | PublicationOutcome::Retrying { id, .. }
            | PublicationOutcome::Failed { id, .. }
            | PublicationOutcome::Deferred { id, .. }
            | PublicationOutcome::Cancelled { id, .. }
            | PublicationOutcome::LeaseLost { id } => Some(id),
            PublicationOutcome::Error { id, .. } => id.as_ref(),
        }
    }
}

fn store_error(id: Option<&TrackingId>, e: &StoreError) -> PublicationOutcome {
    PublicationOutcome::Error {
        id: id.cloned(),
        error: e.to_string(),
        temporary: e.is_temporary(),
    }
}

/// Repository and number of `https://HOST/OWNER/NAME/issues/N`.
fn issue_of_url(url: &str) -> Option<(Repo, u64)> {
    let path = url.split_once("://")?.1;
    let mut parts = path.split('/').skip(1);
    let (owner, name, kind, number) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if kind != "issues" || parts.next().is_some() {
        return None;
    }
    Some((Repo::new(owner, name).ok()?, number.parse().ok()?))
}

fn later(now: Timestamp, wait: Duration) -> Timestamp {
    SignedDuration::try_from(wait)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// Publishes every due job (up to `config.max_jobs`), one at a time, as
/// `owner` (unique per worker: host and process). Safe to run from any
/// number of processes and hosts at once; `now` is the instant every
/// decision is taken at.
pub async fn publish_due<P: Publisher, N: Notices>(
    store: &Store,
    publisher: &P,
    config: &PublishConfig,
    notices: &N,
    owner: &str,
    now: Timestamp,
) -> Vec<PublicationOutcome> {
    let mut out = Vec::new();
    for _ in 0..config.max_jobs {
        let job = match store.claim_publication_job(owner, config.lease, now).await {
            Ok(Some(job)) => job,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim publication jobs");
                out.push(store_error(None, &e));
                break;
            }
        };
        let outcome = publish_job(store, publisher, config, notices, &job, owner, now).await;
        match &outcome {
            PublicationOutcome::Published {
                id,
                repo,
                issue_number,
                created,
                ..
            } => {
                tracing::info!(report = %id, repo, issue = ?issue_number, created, "advisory published")
            }
            PublicationOutcome::Retrying {
                id,
                retry_at,
                error,
            } => {
                tracing::warn!(report = %id, %retry_at, error, "publication postponed")
            }
            PublicationOutcome::Failed { id, error } => {
                tracing::error!(report = %id, error, "publication failed; an admin must retry")
            }
            other => {
                tracing::info!(report = ?other.id().map(|i| i.to_string()), outcome = ?other, "publication job")
            }
        }
        out.push(outcome);
    }
    out
}

/// Ends a claimed job as failed: due again at `retry_at`, or failed for an
/// admin. `Err` is the outcome to report instead (lease lost, store error).
async fn end_failed(
    store: &Store,
    id: &TrackingId,
    owner: &str,
    error: &str,
    retry_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<(), PublicationOutcome> {
    let outcome = JobOutcome::Failed {
        error: error.to_owned(),
        retry_at,
    };
    match store.finish_publication_job(id, owner, &outcome, now).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(_)) => Err(PublicationOutcome::LeaseLost { id: id.clone() }),
        Err(e) => Err(store_error(Some(id), &e)),
    }
}

async fn failed(
    store: &Store,
    id: &TrackingId,
    owner: &str,
    error: String,
    now: Timestamp,
) -> PublicationOutcome {
    match end_failed(store, id, owner, &error, None, now).await {
        Ok(()) => PublicationOutcome::Failed {
            id: id.clone(),
            error,
        },
        Err(o) => o,
    }
}

async fn retrying(
    store: &Store,
    id: &TrackingId,
    owner: &str,
    error: String,
    retry_at: Timestamp,
    now: Timestamp,
) -> PublicationOutcome {
    match end_failed(store, id, owner, &error, Some(retry_at), now).await {
        Ok(()) => PublicationOutcome::Retrying {
            id: id.clone(),
            retry_at,
            error,
        },
        Err(o) => o,
    }
}

/// The job was claimed but the report does not want publishing.
async fn cancelled(
    store: &Store,
    job: &PublicationJob,
    owner: &str,
    state: State,
    now: Timestamp,
) -> PublicationOutcome {
    let id = &job.report_id;
    if state == State::Published {
        // Published, the job not finished: finish it with the recorded issue.
        let url = match store.get_disclosure(id).await {
            Ok(d) => d
                .and_then(|d| d.published_issue_url)
                .or(job.issue_url.clone()),
            Err(e) => return store_error(Some(id), &e),
        };
        if let Some(issue_url) = url {
            return match store
                .finish_publication_job(id, owner, &JobOutcome::Done { issue_url }, now)
                .await
            {
                Ok(()) => PublicationOutcome::Cancelled {
                    id: id.clone(),
                    reason: "published already".to_owned(),
                },
                Err(StoreError::Conflict(_)) => PublicationOutcome::LeaseLost { id: id.clone() },
                Err(e) => store_error(Some(id), &e),
            };
        }
    }
    if let Some(issue_url) = &job.issue_url {
        // An issue exists but the report moved on: an admin must look.
        return failed(
            store,
            id,
            owner,
            format!("report is {state} but its issue exists: {issue_url}"),
            now,
        )
        .await;
    }
    let result = async {
        let mut tx = store.begin().await?;
        tx.drop_held_publication_job(id, owner).await?;
        tx.append_event(
            Some(id),
            &Actor::System,
            "publication-cancelled",
            &format!("report is {state}"),
            now,
        )
        .await?;
        tx.commit().await
    }
    .await;
    match result {
        Ok(()) => PublicationOutcome::Cancelled {
            id: id.clone(),
            reason: format!("report is {state}"),
        },
        Err(StoreError::Conflict(_)) => PublicationOutcome::LeaseLost { id: id.clone() },
        Err(e) => store_error(Some(id), &e),
    }
}

/// Where the issue ended up.
struct OnGitHub {
    repo: Repo,
    issue: IssueRef,
    created: bool,
    placeholder: bool,
}

/// Creates the issue exactly once, or fills in the placeholder.
async fn put_on_github<P: Publisher>(
    publisher: &P,
    repo: &Repo,
    placeholder: Option<(Repo, u64)>,
    draft: &IssueDraft,
) -> Result<OnGitHub, GitHubError> {
    if let Some((repo, number)) = placeholder {
        let issue = publisher.update_issue(&repo, number, draft).await?;
        return Ok(OnGitHub {
            repo,
            issue,
            created: false,
            placeholder: true,
        });
    }
    let published = publisher.publish(repo, draft).await?;
    if published.created {
        return Ok(OnGitHub {
            repo: repo.clone(),
            issue: published.issue,
            created: true,
            placeholder: false,
        });
    }
    // Found by its marker: an earlier attempt whose outcome was lost, or a
    // placeholder not recorded here. Its text becomes the agreed one.
    let issue = publisher
        .update_issue(repo, published.issue.number, draft)
        .await?;
    Ok(OnGitHub {
        repo: repo.clone(),
        issue,
        created: false,
        placeholder: false,
    })
}

/// Works one claimed job to its end.
async fn publish_job<P: Publisher, N: Notices>(
    store: &Store,
    publisher: &P,
    config: &PublishConfig,
    notices: &N,
    job: &PublicationJob,
    owner: &str,
    now: Timestamp,
) -> PublicationOutcome {
    let id = &job.report_id;
    let report = match store.load_domain_report(id).await {
        Ok(r) => r,
        Err(e) => return store_error(Some(id), &e),
    };
    // The domain decides, again, at `now`.
    let next = match report.apply(&Action::Publish, now, &EmbargoPolicy::default()) {
        Ok(next) => next,
        Err(Refusal::EmbargoNotEnded { until }) => {
            return match end_failed(
                store,
                id,
                owner,
                &format!("the embargo ends at {until}"),
                Some(until),
                now,
            )
            .await
            {
                Ok(()) => PublicationOutcome::Deferred {
                    id: id.clone(),
                    until,
                },
                Err(o) => o,
            };
        }
        Err(Refusal::NotScheduled(state) | Refusal::Closed(state)) => {
            return cancelled(store, job, owner, state, now).await;
        }
        Err(other) => return failed(store, id, owner, other.to_string(), now).await,
    };
    let disclosure = match store.get_disclosure(id).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            return failed(store, id, owner, "no advisory is recorded".to_owned(), now).await;
        }
        Err(e) => return store_error(Some(id), &e),
    };
    if Some(disclosure.embargo_until) != report.embargo_until {
        return failed(
            store,
            id,
            owner,
            "the advisory's embargo end differs from the report's".to_owned(),
            now,
        )
        .await;
    }
    if !disclosure.is_approved() {
        return failed(
            store,
            id,
            owner,
            format!(
                "awaiting approval ({} of {})",
                disclosure.approvals.len(),
                disclosure.approvals_required
            ),
            now,
        )
        .await;
    }
    let Some(wg) = &report.wg else {
        return failed(store, id, owner, "the report has no WG".to_owned(), now).await;
    };
    let target = match config.wgs.target(wg) {
        Ok(target) => target,
        Err(e) => return failed(store, id, owner, e.to_string(), now).await,
    };
    let Some(severity) = report.severity else {
        return failed(
            store,
            id,
            owner,
            "the report has no severity".to_owned(),
            now,
        )
        .await;
    };

    let (repo, issue_url, issue_number, created, placeholder) = match &job.issue_url {
        // A previous holder published and died: finish.
        Some(url) => {
            let (repo, number) = match issue_of_url(url) {
                Some((repo, number)) => (repo.to_string(), Some(number)),
                None => (target.repo.to_string(), None),
            };
            (repo, url.clone(), number, false, false)
        }
        None => {
            let draft = match IssueDraft::render(
                &github_advisory(id, severity, &disclosure.advisory),
                &target.labels,
            ) {
                Ok(d) => d,
                Err(e) => return failed(store, id, owner, format!("advisory: {e}"), now).await,
            };
            let stored_placeholder = match store.get_placeholder_issue(id).await {
                Ok(p) => p,
                Err(e) => return store_error(Some(id), &e),
            };
            let placeholder = match stored_placeholder {
                Some(p) => match p.repo.parse::<Repo>() {
                    Ok(repo) => Some((repo, p.number)),
                    Err(e) => {
                        return failed(
                            store,
                            id,
                            owner,
                            format!("placeholder repository: {e}"),
                            now,
                        )
                        .await;
                    }
                },
                None => None,
            };
            let on = match put_on_github(publisher, &target.repo, placeholder, &draft).await {
                Ok(on) => on,
                Err(e) => return github_failure(store, config, job, owner, &e, now).await,
            };
            match store
                .set_publication_issue_url(id, owner, &on.issue.html_url)
                .await
            {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => {
                    return PublicationOutcome::LeaseLost { id: id.clone() };
                }
                Err(e) => return store_error(Some(id), &e),
            }
            (
                on.repo.to_string(),
                on.issue.html_url,
                Some(on.issue.number),
                on.created,
                on.placeholder,
            )
        }
    };

    match complete(
        store, notices, id, &report, &next, &repo, &issue_url, owner, now,
    )
    .await
    {
        Ok(()) => PublicationOutcome::Published {
            id: id.clone(),
            repo,
            issue_url,
            issue_number,
            created,
            placeholder,
        },
        Err(StoreError::Conflict(_)) => PublicationOutcome::LeaseLost { id: id.clone() },
        Err(e) => store_error(Some(id), &e),
    }
}

/// Rate limit: due again when GitHub says. Transient: backoff, until
/// `max_attempts`. Anything else: failed, for an admin.
async fn github_failure(
    store: &Store,
    config: &PublishConfig,
    job: &PublicationJob,
    owner: &str,
    e: &GitHubError,
    now: Timestamp,
) -> PublicationOutcome {
    let id = &job.report_id;
    match e {
        GitHubError::RateLimited { retry_after } => {
            retrying(
                store,
                id,
                owner,
                e.to_string(),
                later(now, *retry_after),
                now,
            )
            .await
        }
        GitHubError::Transient { .. } if job.attempts < config.max_attempts => {
            let wait = config
                .backoff
                .delay_with(job.attempts.saturating_sub(1), rand::random::<f64>());
            retrying(store, id, owner, e.to_string(), later(now, wait), now).await
        }
        GitHubError::Transient { .. } => {
            failed(
                store,
                id,
                owner,
                format!("gave up after {} attempts: {e}", job.attempts),
                now,
            )
            .await
        }
        GitHubError::Refused { .. } | GitHubError::Config(_) => {
            failed(store, id, owner, e.to_string(), now).await
        }
    }
}

/// The issue exists and is recorded on the job: state `published`, audit
/// event, issue URL on the disclosure, notices queued, job done, in one
/// transaction.
#[allow(clippy::too_many_arguments)]
async fn complete<N: Notices>(
    store: &Store,
    notices: &N,
    id: &TrackingId,
    report: &Report,
    next: &Report,
    repo: &str,
    issue_url: &str,
    owner: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let reporter = match store.reporter_address(id).await {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(report = %id, error = %e, "cannot read the reporter's address");
            None
        }
    };
    let mails = notices
        .published(
            store,
            &PublishedNotice {
                tracking_id: id,
                issue_url,
                reporter: reporter.as_deref(),
                now,
            },
        )
        .await;
    let mut tx = store.begin().await?;
    tx.apply_report_update(
        report.state,
        next,
        &Actor::System,
        "published",
        &format!("published as {issue_url}"),
        now,
    )
    .await?;
    tx.set_published_issue(id, repo, issue_url, now).await?;
    let mut queued = 0usize;
    for mail in &mails {
        match tx.enqueue_outbox(mail, now).await {
            Ok(_) => queued += 1,
            // Refused before touching the database: skip that one.
            Err(StoreError::Invalid(e)) => {
                tracing::warn!(report = %id, error = %e, "publication notice not queued")
            }
            Err(e) => return Err(e),
        }
    }
    tx.finish_publication_job(
        id,
        owner,
        &JobOutcome::Done {
            issue_url: issue_url.to_owned(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::debug!(report = %id, notices = queued, "publication recorded");
    Ok(())
}

/// The vague public issue of a report under embargo
/// ([`IssueDraft::placeholder`]): its tracking ID and a fixed text, no
/// severity, no details. It carries the report's marker, so a create whose
/// response was lost is found, and the publication finds it too.
pub fn placeholder_draft<L: AsRef<str>>(id: &TrackingId, labels: &[L]) -> IssueDraft {
    IssueDraft::placeholder(id, labels)
}

/// The result of [`open_placeholder`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PlaceholderOutcome {
    Opened {
        id: TrackingId,
        repo: String,
        issue_url: String,
        number: u64,
    },
    /// Opened before: nothing done.
    Existing {
        id: TrackingId,
        repo: String,
        issue_url: String,
        number: u64,
    },
    /// The report's WG does not use placeholders.
    NotWanted { id: TrackingId },
    /// Another attempt (another admin, the CLI, another replica) holds the
    /// placeholder job's lease until `lease_until`: nothing done. If that
    /// attempt dies, the next one after `lease_until` takes over.
    InProgress {
        id: TrackingId,
        lease_until: Timestamp,
    },
}

fn existing(p: PlaceholderIssue) -> PlaceholderOutcome {
    PlaceholderOutcome::Existing {
        id: p.report_id,
        repo: p.repo,
        issue_url: p.url,
        number: p.number,
    }
}

/// A lease owner unique to one attempt: process and a random part.
fn attempt_owner() -> String {
    format!(
        "placeholder:{}:{:016x}",
        std::process::id(),
        rand::random::<u64>()
    )
}

/// When a report is accepted, and its WG wants it: opens the vague public
/// placeholder issue ("[SEC-…] Security issue under embargo", no details)
/// that [`publish_due`] fills in at the embargo end instead of opening a
/// second issue.
///
/// Exactly once, however many attempts run at the same time (CLI accept,
/// admin retries, replicas): a placeholder already recorded is returned as
/// [`PlaceholderOutcome::Existing`]; otherwise the attempt claims the
/// report's placeholder job for `lease` (`[publish] lease_seconds`) before
/// it searches for the report's marker and creates, and a concurrent
/// attempt gets [`PlaceholderOutcome::InProgress`] and does nothing. The
/// issue is recorded and the job done in one transaction; a failure is
/// recorded on the job with its reason (shown to admins, and the next
/// attempt claims it again). A holder that dies leaves a lease that runs
/// out; the next attempt finds its issue, if any, by the marker.
pub async fn open_placeholder<P: Publisher>(
    store: &Store,
    publisher: &P,
    wgs: &WgRepos,
    id: &TrackingId,
    lease: SignedDuration,
    now: Timestamp,
) -> Result<PlaceholderOutcome, PublishError> {
    if let Some(p) = store.get_placeholder_issue(id).await? {
        return Ok(existing(p));
    }
    let report = store.load_domain_report(id).await?;
    match report.state {
        State::Accepted | State::Scheduled => {}
        s if s.is_closed() => return Err(Refusal::Closed(s).into()),
        _ => return Err(Refusal::NotAccepted.into()),
    }
    let wg = report
        .wg
        .as_ref()
        .ok_or_else(|| PublishError::NoWg { id: id.clone() })?;
    if wgs.get(wg).is_some_and(|t| !t.placeholder) {
        return Ok(PlaceholderOutcome::NotWanted { id: id.clone() });
    }
    let owner = attempt_owner();
    match store.claim_placeholder_job(id, &owner, lease, now).await? {
        PlaceholderClaim::Claimed(_) => {}
        PlaceholderClaim::Busy { lease_until } => {
            tracing::info!(report = %id, %lease_until, "placeholder issue being opened by another attempt");
            return Ok(PlaceholderOutcome::InProgress {
                id: id.clone(),
                lease_until,
            });
        }
        PlaceholderClaim::Done { .. } => {
            // Finished by another attempt since the first look.
            return match store.get_placeholder_issue(id).await? {
                Some(p) => Ok(existing(p)),
                None => Err(PublishError::Store(StoreError::Conflict(
                    "the placeholder job is done but no placeholder issue is recorded".to_owned(),
                ))),
            };
        }
    }
    match open_claimed(store, publisher, wgs, id, wg, &owner, now).await {
        Ok(outcome) => Ok(outcome),
        Err(e) => {
            // Lease lost: the new holder records its own outcome.
            if !matches!(&e, PublishError::Store(StoreError::Conflict(_)))
                && let Err(store_err) = store
                    .fail_placeholder_job(id, &owner, &e.to_string(), now)
                    .await
            {
                tracing::warn!(report = %id, error = %store_err, "placeholder failure not recorded");
            }
            Err(e)
        }
    }
}

/// The claimed part of [`open_placeholder`]: marker search, create, record.
async fn open_claimed<P: Publisher>(
    store: &Store,
    publisher: &P,
    wgs: &WgRepos,
    id: &TrackingId,
    wg: &WgName,
    owner: &str,
    now: Timestamp,
) -> Result<PlaceholderOutcome, PublishError> {
    let target = wgs.target(wg)?;
    let draft = placeholder_draft(id, &target.labels);
    let published = publisher.publish(&target.repo, &draft).await?;
    let p = PlaceholderIssue {
        report_id: id.clone(),
        repo: target.repo.to_string(),
        number: published.issue.number,
        url: published.issue.html_url.clone(),
        created_at: now,
    };
    let mut tx = store.begin().await?;
    if !tx.set_placeholder_issue(&p).await? {
        drop(tx);
        return match store.get_placeholder_issue(id).await? {
            Some(p) => Ok(existing(p)),
            None => Err(PublishError::Store(StoreError::Conflict(
                "placeholder changed meanwhile".to_owned(),
            ))),
        };
    }
    tx.finish_placeholder_job(id, owner, &p.url, now).await?;
    tx.append_event(
        Some(id),
        &Actor::System,
        "placeholder-opened",
        &format!("placeholder issue {}", p.url),
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(report = %id, repo = %target.repo, issue = p.number, created = published.created, "placeholder issue opened");
    Ok(PlaceholderOutcome::Opened {
        id: id.clone(),
        repo: p.repo,
        issue_url: p.url,
        number: p.number,
    })
}

/// [`open_placeholder`] behind a trait object, for callers that hold the
/// GitHub client as `Arc<dyn PlaceholderPublisher>` (the admin view):
/// [`Publisher`] itself is not object safe. [`Placeholders`] is one.
pub trait PlaceholderPublisher: Send + Sync {
    /// [`open_placeholder`] through this publisher, with its lease.
    fn open_placeholder<'a>(
        &'a self,
        store: &'a Store,
        wgs: &'a WgRepos,
        id: &'a TrackingId,
        now: Timestamp,
    ) -> Pin<Box<dyn Future<Output = Result<PlaceholderOutcome, PublishError>> + Send + 'a>>;
}

/// A [`Publisher`] and the lease its placeholder attempts claim the job
/// for (`[publish] lease_seconds`): the [`PlaceholderPublisher`] to hand
/// to the admin view.
#[derive(Debug, Clone)]
pub struct Placeholders<P> {
    pub publisher: P,
    pub lease: SignedDuration,
}

impl<P: Publisher> Placeholders<P> {
    pub fn new(publisher: P, lease: SignedDuration) -> Self {
        Self { publisher, lease }
    }
}

impl<P: Publisher> PlaceholderPublisher for Placeholders<P> {
    fn open_placeholder<'a>(
        &'a self,
        store: &'a Store,
        wgs: &'a WgRepos,
        id: &'a TrackingId,
        now: Timestamp,
    ) -> Pin<Box<dyn Future<Output = Result<PlaceholderOutcome, PublishError>> + Send + 'a>> {
        Box::pin(open_placeholder(
            store,
            &self.publisher,
            wgs,
            id,
            self.lease,
            now,
        ))
    }
}
