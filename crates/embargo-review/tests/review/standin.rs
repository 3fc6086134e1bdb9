//! The GitHub stand-in (`embargo-github-standin`) as the review agenda's
//! tests use it: the given repositories, issues by last update, faults on
//! the issue listing.
#![allow(dead_code)]

use embargo_github_standin as gh;
use jiff::Timestamp;
use serde_json::Value;

pub use gh::{Issue, Server, TOKEN};

/// Starts the stand-in with `repos` (IDs from 1000 on, in order).
pub async fn start(repos: &[&str]) -> Server {
    let server = gh::start().await;
    {
        let mut st = server.lock();
        st.repos.clear();
        for (id, repo) in (1000..).zip(repos) {
            st.repos.insert((*repo).to_owned(), id);
        }
    }
    server
}

/// An issue in `repo` with `labels`, last updated at `updated_at`.
pub fn issue(repo: &str, title: &str, labels: &[&str], updated_at: Timestamp) -> Issue {
    let mut issue = Issue::new(repo, title, "", labels);
    issue.created_at = updated_at;
    issue.updated_at = updated_at;
    issue
}

/// The next listing under `path_prefix` answers `status`.
pub fn fault(path_prefix: &str, status: u16, headers: &[(&str, &str)], body: Value) -> gh::Fault {
    gh::fault("GET", path_prefix, status, gh::headers(headers), body)
}
