//! The GitHub client: finding, creating and updating the public issue, and
//! listing security issues for the review.
//!
//! Requests go through octocrab's raw `_get`/`_post`/`_patch`, which return
//! the whole HTTP response: rate-limit headers stay visible, and the JSON is
//! read into the few fields used here. octocrab's own retries are off: a
//! create is not idempotent, so retrying is the caller's decision (see
//! [`crate::Backoff`]), and [`Publisher::publish`] looks before it creates.

use std::future::Future;
use std::time::Duration;

use embargo_domain::TrackingId;
use jiff::Timestamp;
use octocrab::Octocrab;
use octocrab::models::{AppId, InstallationId};
use octocrab::service::middleware::retry::RetryConfig;
use serde::{Deserialize, Serialize};

use crate::config::{Auth, GitHubConfig, Repo};
use crate::draft::{IssueDraft, SECURITY_LABEL, body_has_marker};
use crate::error::{GitHubError, RateHeaders, classify_status, summarise_error_body};

/// Pages of 100 recent `security` issues scanned for a marker (search is
/// eventually consistent; the listing is not).
pub const MARKER_SCAN_PAGES: usize = 3;

/// Upper bound on pages followed by [`Publisher::list_security_issues_since`].
pub const MAX_LIST_PAGES: usize = 100;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A public issue, as far as the gateway needs to know it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct IssueRef {
    pub number: u64,
    pub html_url: String,
}

/// The outcome of [`Publisher::publish`]: the issue, and whether this call
/// created it (`false`: it already existed, e.g. an earlier create whose
/// response was lost).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Published {
    pub issue: IssueRef,
    pub created: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueState {
    Open,
    Closed,
}

/// A `security` issue for the bi-weekly review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicIssue {
    pub number: u64,
    pub title: String,
    pub html_url: String,
    pub state: IssueState,
    pub updated_at: Timestamp,
}

/// What the scheduler and the review need from GitHub. [`Client`]
/// implements it; tests elsewhere may fake it.
pub trait Publisher: Send + Sync {
    /// The issue in `repo` whose body carries the marker of `id`, if any.
    ///
    /// Scans the most recent `security` issues (up to
    /// [`MARKER_SCAN_PAGES`] pages) and also asks the search API, which
    /// lags behind. Only issues that hold the exact marker line and are
    /// trusted count: labelled `security` (only people with triage access
    /// can label) or written by an owner, member or collaborator. Anyone
    /// else's issue quoting the marker is ignored, so a stranger cannot
    /// suppress a publication. Several matches: the lowest number.
    fn find_by_marker(
        &self,
        repo: &Repo,
        id: &TrackingId,
    ) -> impl Future<Output = Result<Option<IssueRef>, GitHubError>> + Send;

    /// Creates the issue. Not idempotent: prefer [`Publisher::publish`].
    fn create_issue(
        &self,
        repo: &Repo,
        draft: &IssueDraft,
    ) -> impl Future<Output = Result<IssueRef, GitHubError>> + Send;

    /// Replaces title and body of issue `number` and adds the draft's labels
    /// (labels already there stay).
    fn update_issue(
        &self,
        repo: &Repo,
        number: u64,
        draft: &IssueDraft,
    ) -> impl Future<Output = Result<IssueRef, GitHubError>> + Send;

    /// Issues labelled `security` (open and closed, pull requests left out)
    /// updated at or after `since`, most recently updated first.
    fn list_security_issues_since(
        &self,
        repo: &Repo,
        since: Timestamp,
    ) -> impl Future<Output = Result<Vec<PublicIssue>, GitHubError>> + Send;

    /// Publishes once: finds the issue by its marker, creates it only when
    /// absent. After an error, calling again is safe; a create whose
    /// response was lost is found, not repeated.
    fn publish(
        &self,
        repo: &Repo,
        draft: &IssueDraft,
    ) -> impl Future<Output = Result<Published, GitHubError>> + Send {
        async move {
            if let Some(issue) = self.find_by_marker(repo, draft.tracking_id()).await? {
                tracing::info!(
                    repo = %repo,
                    tracking_id = %draft.tracking_id(),
                    issue = issue.number,
                    "security issue already published"
                );
                return Ok(Published {
                    issue,
                    created: false,
                });
            }
            let issue = self.create_issue(repo, draft).await?;
            Ok(Published {
                issue,
                created: true,
            })
        }
    }
}

/// The GitHub API client (octocrab underneath). Cheap to clone.
///
/// Must be created inside a Tokio runtime (octocrab starts a worker task).
#[derive(Clone)]
pub struct Client {
    crab: Octocrab,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(config: &GitHubConfig) -> Result<Self, GitHubError> {
        let url = config.api_url.trim();
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        if !scheme_ok || url.contains('?') || url.contains('#') {
            return Err(GitHubError::Config(
                "github api_url must be an http(s) URL without query or fragment".into(),
            ));
        }
        let builder = Octocrab::builder()
            .base_uri(url.trim_end_matches('/'))
            .map_err(|_| GitHubError::Config("github api_url is not a valid URL".into()))?
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(CONNECT_TIMEOUT))
            .set_read_timeout(Some(IO_TIMEOUT))
            .set_write_timeout(Some(IO_TIMEOUT));
        let crab = match &config.auth {
            Auth::Token(token) => {
                if token.expose().trim().is_empty() {
                    return Err(GitHubError::Config("github token is empty".into()));
                }
                builder
                    .personal_token(token.expose().trim().to_owned())
                    .build()
                    .map_err(|_| GitHubError::Config("cannot build the GitHub client".into()))?
            }
            Auth::App {
                app_id,
                private_key_pem,
                installation_id,
            } => {
                let key = octocrab::EncodingKey::from_rsa_pem(private_key_pem.expose().as_bytes())
                    .map_err(|_| {
                        GitHubError::Config(
                            "GitHub App private key is not an RSA key in PEM form".into(),
                        )
                    })?;
                builder
                    .app(AppId(*app_id), key)
                    .build()
                    .map_err(|_| GitHubError::Config("cannot build the GitHub client".into()))?
                    .installation(InstallationId(*installation_id))
                    .map_err(|_| {
                        GitHubError::Config("cannot use the GitHub App installation".into())
                    })?
            }
        };
        Ok(Self { crab })
    }

    /// Sends one request; returns the body and the `Link` header of a 2xx
    /// response, a classified error otherwise.
    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(String, Option<String>), GitHubError> {
        tracing::debug!(method = method.as_str(), path, "GitHub request");
        let response = match method {
            Method::Get => self.crab._get(path).await,
            Method::Post => self.crab._post(path, body).await,
            Method::Patch => self.crab._patch(path, body).await,
        }
        .map_err(from_octocrab)?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let rate = RateHeaders {
            retry_after: header("retry-after"),
            remaining: header("x-ratelimit-remaining"),
            reset: header("x-ratelimit-reset"),
        };
        let link = header("link");
        let text = self.crab.body_to_string(response).await.map_err(|e| {
            GitHubError::transient(format!("reading the response failed: {}", short(&e)))
        })?;
        if (200..300).contains(&status) {
            Ok((text, link))
        } else {
            let message = summarise_error_body(status, text.as_bytes());
            let err = classify_status(status, &rate, message, Timestamp::now().as_second());
            tracing::debug!(
                method = method.as_str(),
                path,
                status,
                "GitHub request failed"
            );
            Err(err)
        }
    }

    async fn request_json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(T, Option<String>), GitHubError> {
        let (text, link) = self.request(method, path, body).await?;
        let value = serde_json::from_str(&text).map_err(|e| {
            GitHubError::transient(format!(
                "unexpected response shape from GitHub ({} at line {} column {})",
                e.classify_name(),
                e.line(),
                e.column()
            ))
        })?;
        Ok((value, link))
    }

    /// One page of an issue listing and the relative URL of the next one.
    async fn issue_page(
        &self,
        path: &str,
    ) -> Result<(Vec<IssueJson>, Option<String>), GitHubError> {
        let (items, link) = self
            .request_json::<Vec<IssueJson>>(Method::Get, path, None)
            .await?;
        Ok((items, link.as_deref().and_then(next_link)))
    }
}

#[derive(Debug, Clone, Copy)]
enum Method {
    Get,
    Post,
    Patch,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "missing or mistyped field",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

impl Publisher for Client {
    async fn find_by_marker(
        &self,
        repo: &Repo,
        id: &TrackingId,
    ) -> Result<Option<IssueRef>, GitHubError> {
        // 1. The listing: consistent, sees an issue created a moment ago.
        let mut next = Some(format!(
            "/repos/{repo}/issues?labels={SECURITY_LABEL}&state=all&sort=created&direction=desc&per_page=100"
        ));
        let mut pages = 0;
        while let Some(path) = next.take() {
            if pages >= MARKER_SCAN_PAGES {
                break;
            }
            pages += 1;
            let (items, more) = self.issue_page(&path).await?;
            if let Some(found) = best_match(items.iter(), id) {
                tracing::debug!(repo = %repo, tracking_id = %id, issue = found.number, "marker found in listing");
                return Ok(Some(found));
            }
            next = more;
        }

        // 2. Search: covers older issues, lags behind new ones.
        let query = format!("repo:{repo} is:issue in:body \"embargo:{id}\"");
        let path = format!("/search/issues?q={}&per_page=100", encode_query(&query));
        let (result, _) = self
            .request_json::<SearchJson>(Method::Get, &path, None)
            .await?;
        let found = best_match(result.items.iter(), id);
        if let Some(found) = &found {
            tracing::debug!(repo = %repo, tracking_id = %id, issue = found.number, "marker found by search");
        }
        Ok(found)
    }

    async fn create_issue(&self, repo: &Repo, draft: &IssueDraft) -> Result<IssueRef, GitHubError> {
        let body = serde_json::json!({
            "title": draft.title(),
            "body": draft.body(),
            "labels": draft.labels(),
        });
        let path = format!("/repos/{repo}/issues");
        let (issue, _) = self
            .request_json::<IssueJson>(Method::Post, &path, Some(&body))
            .await?;
        if !issue.has_label(SECURITY_LABEL) {
            tracing::warn!(
                repo = %repo,
                tracking_id = %draft.tracking_id(),
                issue = issue.number,
                "created issue lacks the security label: does the token have triage access?"
            );
        }
        tracing::info!(repo = %repo, tracking_id = %draft.tracking_id(), issue = issue.number, "created security issue");
        Ok(issue.into_ref())
    }

    async fn update_issue(
        &self,
        repo: &Repo,
        number: u64,
        draft: &IssueDraft,
    ) -> Result<IssueRef, GitHubError> {
        let body = serde_json::json!({ "title": draft.title(), "body": draft.body() });
        let path = format!("/repos/{repo}/issues/{number}");
        let (issue, _) = self
            .request_json::<IssueJson>(Method::Patch, &path, Some(&body))
            .await?;
        let labels = serde_json::json!({ "labels": draft.labels() });
        let labels_path = format!("/repos/{repo}/issues/{number}/labels");
        self.request(Method::Post, &labels_path, Some(&labels))
            .await?;
        tracing::info!(repo = %repo, tracking_id = %draft.tracking_id(), issue = number, "updated security issue");
        Ok(issue.into_ref())
    }

    async fn list_security_issues_since(
        &self,
        repo: &Repo,
        since: Timestamp,
    ) -> Result<Vec<PublicIssue>, GitHubError> {
        let since_param = encode_query(&since.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
        let mut next = Some(format!(
            "/repos/{repo}/issues?labels={SECURITY_LABEL}&state=all&sort=updated&direction=desc&since={since_param}&per_page=100"
        ));
        let mut out = Vec::new();
        let mut pages = 0;
        while let Some(path) = next.take() {
            if pages >= MAX_LIST_PAGES {
                tracing::warn!(repo = %repo, pages, "stopped listing security issues at the page limit");
                break;
            }
            pages += 1;
            let (items, more) = self.issue_page(&path).await?;
            out.extend(
                items
                    .into_iter()
                    .filter(|i| i.pull_request.is_none() && i.updated_at >= since)
                    .map(IssueJson::into_public),
            );
            next = more;
        }
        Ok(out)
    }
}

/// The fields of GitHub's issue object that are used here.
#[derive(Debug, Deserialize)]
struct IssueJson {
    number: u64,
    html_url: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: Option<String>,
    state: IssueState,
    updated_at: Timestamp,
    #[serde(default)]
    labels: Vec<LabelJson>,
    #[serde(default)]
    author_association: Option<String>,
    #[serde(default)]
    pull_request: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum LabelJson {
    Named { name: String },
    Plain(String),
}

impl LabelJson {
    fn name(&self) -> &str {
        match self {
            LabelJson::Named { name } | LabelJson::Plain(name) => name,
        }
    }
}

#[derive(Debug, Deserialize)]
struct SearchJson {
    #[serde(default)]
    items: Vec<IssueJson>,
}

impl IssueJson {
    fn has_label(&self, label: &str) -> bool {
        self.labels
            .iter()
            .any(|l| l.name().eq_ignore_ascii_case(label))
    }

    /// Trusted to have been written by the gateway: labelled `security`
    /// (labels need triage access) or written by someone with access.
    fn is_trusted(&self) -> bool {
        self.has_label(SECURITY_LABEL)
            || matches!(
                self.author_association.as_deref(),
                Some("OWNER" | "MEMBER" | "COLLABORATOR")
            )
    }

    fn carries_marker(&self, id: &TrackingId) -> bool {
        self.pull_request.is_none()
            && self.is_trusted()
            && self.body.as_deref().is_some_and(|b| body_has_marker(b, id))
    }

    fn into_ref(self) -> IssueRef {
        IssueRef {
            number: self.number,
            html_url: self.html_url,
        }
    }

    fn into_public(self) -> PublicIssue {
        PublicIssue {
            number: self.number,
            title: self.title,
            html_url: self.html_url,
            state: self.state,
            updated_at: self.updated_at,
        }
    }
}

fn best_match<'a>(items: impl Iterator<Item = &'a IssueJson>, id: &TrackingId) -> Option<IssueRef> {
    items
        .filter(|i| i.carries_marker(id))
        .min_by_key(|i| i.number)
        .map(|i| IssueRef {
            number: i.number,
            html_url: i.html_url.clone(),
        })
}

/// The `rel="next"` target of a `Link` header, made relative (path and
/// query) so it goes to the configured API host with its credentials and
/// nowhere else.
pub(crate) fn next_link(link: &str) -> Option<String> {
    let mut rest = link;
    while let Some(start) = rest.find('<') {
        let after = rest.get(start + 1..)?;
        let end = after.find('>')?;
        let url = after.get(..end)?;
        let params_all = after.get(end + 1..)?;
        let params = params_all.split('<').next().unwrap_or("");
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            p.strip_prefix("rel=")
                .map(|v| v.trim_matches('"').split_whitespace().any(|r| r == "next"))
                .unwrap_or(false)
        });
        if is_next {
            return Some(relative(url));
        }
        rest = params_all;
    }
    None
}

fn relative(url: &str) -> String {
    match url.split_once("://") {
        Some((_, after_scheme)) => match after_scheme.find('/') {
            Some(slash) => after_scheme.get(slash..).unwrap_or("/").to_owned(),
            None => "/".to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Percent-encodes a query component (RFC 3986 unreserved kept).
pub(crate) fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn short(e: &octocrab::Error) -> String {
    let s = e.to_string();
    let first = s.lines().next().unwrap_or("").to_owned();
    if first.chars().count() > 200 {
        first.chars().take(200).collect()
    } else {
        first
    }
}

/// Maps octocrab's error (transport failures, and GitHub errors from the
/// App token exchange) onto [`GitHubError`].
fn from_octocrab(e: octocrab::Error) -> GitHubError {
    match e {
        octocrab::Error::GitHub { source, .. } => {
            let headers = source.headers.as_ref();
            let header = |name: &str| {
                headers
                    .and_then(|h| h.get(name))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let rate = RateHeaders {
                retry_after: header("retry-after"),
                remaining: header("x-ratelimit-remaining"),
                reset: header("x-ratelimit-reset"),
            };
            classify_status(
                source.status_code.as_u16(),
                &rate,
                source.message.chars().take(300).collect(),
                Timestamp::now().as_second(),
            )
        }
        octocrab::Error::JWT { .. } => {
            GitHubError::Config("cannot sign a GitHub App token with the configured key".into())
        }
        octocrab::Error::Uri { .. }
        | octocrab::Error::UriParse { .. }
        | octocrab::Error::InvalidHeaderValue { .. }
        | octocrab::Error::Http { .. }
        | octocrab::Error::Installation { .. }
        | octocrab::Error::InstallationTokenInvalidAuth { .. } => {
            GitHubError::Config(format!("cannot build the GitHub request: {}", short(&e)))
        }
        other => GitHubError::transient(format!("GitHub unreachable: {}", short(&other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let fixture = r#"<https://api.github.com/repositories/1000/issues?per_page=3&page=1>; rel="prev", <https://api.github.com/repositories/1000/issues?per_page=3&page=3>; rel="next", <https://api.github.com/repositories/1000/issues?per_page=3&page=5>; rel="last", <https://api.github.com/repositories/1000/issues?per_page=3&page=1>; rel="first""#;
        assert_eq!(
            next_link(fixture).as_deref(),
            Some("/repositories/1000/issues?per_page=3&page=3")
        );
        let last = r#"<https://api.github.com/repositories/1000/issues?per_page=3&page=4>; rel="prev", <https://api.github.com/repositories/1000/issues?per_page=3&page=1>; rel="first""#;
        assert_eq!(next_link(last), None);
        // Commas inside the URL, GHES path prefix.
        let ghes = r#"<https://ghe.example/api/v3/repos/o/n/issues?labels=a,b&page=2>; rel="next""#;
        assert_eq!(
            next_link(ghes).as_deref(),
            Some("/api/v3/repos/o/n/issues?labels=a,b&page=2")
        );
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("<broken"), None);
        assert_eq!(next_link("garbage; rel=\"next\""), None);
    }

    #[test]
    fn query_encoding() {
        assert_eq!(
            encode_query("repo:o/n is:issue \"embargo:KF-2026-0042\""),
            "repo%3Ao%2Fn%20is%3Aissue%20%22embargo%3AKF-2026-0042%22"
        );
    }

    #[test]
    fn trust_rules() {
        let id: TrackingId = "KF-2026-0001".parse().unwrap();
        let issue = |labels: serde_json::Value, assoc: &str, pr: bool| -> IssueJson {
            let mut v = serde_json::json!({
                "number": 1, "html_url": "u", "title": "t", "state": "open",
                "updated_at": "2026-01-01T00:00:00Z", "labels": labels,
                "author_association": assoc,
                "body": "x\n<!-- embargo:KF-2026-0001 -->\n",
            });
            if pr {
                v["pull_request"] = serde_json::json!({"url": "u"});
            }
            serde_json::from_value(v).unwrap()
        };
        assert!(
            issue(serde_json::json!([{"name": "security"}]), "NONE", false).carries_marker(&id)
        );
        assert!(issue(serde_json::json!(["Security"]), "NONE", false).carries_marker(&id));
        assert!(issue(serde_json::json!([]), "MEMBER", false).carries_marker(&id));
        assert!(!issue(serde_json::json!([]), "NONE", false).carries_marker(&id));
        assert!(!issue(serde_json::json!([]), "CONTRIBUTOR", false).carries_marker(&id));
        assert!(!issue(serde_json::json!(["security"]), "OWNER", true).carries_marker(&id));
    }
}
