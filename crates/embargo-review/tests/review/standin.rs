//! A minimal local stand-in for the GitHub REST API: only the issue
//! listing the review agenda uses (labels, state, since, sort, per_page,
//! page, `Link` headers pointing at `/repositories/{id}/issues` like
//! GitHub), with faults to inject. Trimmed from embargo-github's
//! tests/standin; response bodies are built from that crate's recorded
//! fixtures, read in place.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use jiff::Timestamp;
use serde_json::{Value, json};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../embargo-github-standin/fixtures"
);

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub labels: Vec<String>,
    pub state: String,
    pub updated_at: Timestamp,
    pub pull_request: bool,
}

impl Issue {
    pub fn new(repo: &str, title: &str, labels: &[&str], updated_at: Timestamp) -> Self {
        Self {
            repo: repo.into(),
            number: 0,
            title: title.into(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            state: "open".into(),
            updated_at,
            pull_request: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub path_prefix: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

pub struct StandIn {
    issue_template: Value,
    label_template: Value,
    pub host: String,
    pub repos: HashMap<String, u64>,
    pub issues: Vec<Issue>,
    /// Every request path (with query), in order.
    pub seen: Vec<String>,
    pub faults: VecDeque<Fault>,
    pub max_per_page: usize,
}

impl StandIn {
    pub fn insert(&mut self, mut issue: Issue) -> u64 {
        issue.number = self
            .issues
            .iter()
            .filter(|i| i.repo == issue.repo)
            .map(|i| i.number)
            .max()
            .unwrap_or(0)
            + 1;
        let n = issue.number;
        self.issues.push(issue);
        n
    }

    fn issue_json(&self, issue: &Issue) -> Value {
        let base = format!("http://{}", self.host);
        let mut v = self.issue_template.clone();
        v["url"] = json!(format!(
            "{base}/repos/{}/issues/{}",
            issue.repo, issue.number
        ));
        v["html_url"] = json!(format!(
            "https://github.com/{}/issues/{}",
            issue.repo, issue.number
        ));
        v["id"] = json!(1_000_000 + issue.number);
        v["number"] = json!(issue.number);
        v["title"] = json!(issue.title);
        v["body"] = json!("public issue");
        v["state"] = json!(issue.state);
        v["updated_at"] = json!(issue.updated_at.to_string());
        v["labels"] = Value::Array(
            issue
                .labels
                .iter()
                .map(|l| {
                    let mut label = self.label_template.clone();
                    label["name"] = json!(l);
                    label
                })
                .collect(),
        );
        if issue.pull_request {
            v["pull_request"] =
                json!({ "url": format!("{base}/repos/{}/pulls/{}", issue.repo, issue.number) });
        }
        v
    }
}

pub type Shared = Arc<Mutex<StandIn>>;

pub struct Server {
    pub addr: SocketAddr,
    pub state: Shared,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn lock(&self) -> MutexGuard<'_, StandIn> {
        self.state.lock().unwrap()
    }
}

pub const TOKEN: &str = "ghp_standin_review_token_0001";

/// Starts the stand-in with `repos` (`owner/name`).
pub async fn start(repos: &[&str]) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let add_labels = fixture("add-labels-to-issue.normalized-fixture.json");
    let state: Shared = Arc::new(Mutex::new(StandIn {
        issue_template: add_labels[0]["response"].clone(),
        label_template: add_labels[1]["response"][0].clone(),
        host: addr.to_string(),
        repos: repos
            .iter()
            .enumerate()
            .map(|(i, r)| (r.to_string(), 1000 + i as u64))
            .collect(),
        issues: Vec::new(),
        seen: Vec::new(),
        faults: VecDeque::new(),
        max_per_page: 100,
    }));
    let app = Router::new()
        .route("/repos/{owner}/{repo}/issues", get(list_issues))
        .route("/repositories/{id}/issues", get(list_issues_by_id))
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state.clone());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server { addr, state }
}

fn json_response(status: u16, headers: &[(String, String)], body: &Value) -> Response {
    let mut resp = Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8");
    for (k, v) in headers {
        resp = resp.header(k.as_str(), v.as_str());
    }
    resp.body(Body::from(body.to_string())).unwrap()
}

async fn gate(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let authorized = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(format!("Bearer {TOKEN}").as_str());
    {
        let mut st = state.lock().unwrap();
        st.seen.push(path.clone());
        if !authorized {
            return json_response(401, &[], &json!({ "message": "Bad credentials" }));
        }
        if let Some(pos) = st
            .faults
            .iter()
            .position(|f| path.starts_with(&f.path_prefix))
        {
            let f = st.faults.remove(pos).unwrap();
            return json_response(f.status, &f.headers, &f.body);
        }
    }
    next.run(req).await
}

fn not_found() -> Response {
    json_response(404, &[], &fixture("not-found-404.json"))
}

async fn list_issues(
    State(state): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let st = state.lock().unwrap();
    let name = format!("{owner}/{repo}");
    if !st.repos.contains_key(&name) {
        return not_found();
    }
    list(&st, &name, &q)
}

async fn list_issues_by_id(
    State(state): State<Shared>,
    Path(id): Path<u64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let st = state.lock().unwrap();
    let Some(name) = st
        .repos
        .iter()
        .find(|(_, v)| **v == id)
        .map(|(k, _)| k.clone())
    else {
        return not_found();
    };
    list(&st, &name, &q)
}

fn list(st: &StandIn, repo: &str, q: &HashMap<String, String>) -> Response {
    let labels: Vec<&str> = q
        .get("labels")
        .map(|l| l.split(',').collect())
        .unwrap_or_default();
    let state = q.get("state").map(String::as_str).unwrap_or("open");
    let since: Option<Timestamp> = q.get("since").map(|s| s.parse().unwrap());
    let per_page = q
        .get("per_page")
        .map(|p| p.parse::<usize>().unwrap())
        .unwrap_or(30)
        .min(st.max_per_page);
    let page = q
        .get("page")
        .map(|p| p.parse::<usize>().unwrap())
        .unwrap_or(1);
    let mut matching: Vec<&Issue> = st
        .issues
        .iter()
        .filter(|i| i.repo == repo)
        .filter(|i| {
            labels
                .iter()
                .all(|l| i.labels.iter().any(|x| x.eq_ignore_ascii_case(l)))
        })
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| since.is_none_or(|s| i.updated_at >= s))
        .collect();
    matching.sort_by_key(|i| (i.updated_at, i.number));
    matching.reverse();
    let pages = matching.len().div_ceil(per_page).max(1);
    let items: Vec<Value> = matching
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|i| st.issue_json(i))
        .collect();
    let id = st.repos[repo];
    let mut params: Vec<(String, String)> = q
        .iter()
        .filter(|(k, _)| *k != "page")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    params.sort();
    let qs: String = params.iter().map(|(k, v)| format!("{k}={v}&")).collect();
    let link_to = |p: usize| format!("<http://{}/repositories/{id}/issues?{qs}page={p}>", st.host);
    let mut links = Vec::new();
    if page < pages {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(pages)));
    }
    let mut headers = vec![("x-ratelimit-remaining".to_owned(), "4999".to_owned())];
    if !links.is_empty() {
        headers.push(("link".to_owned(), links.join(", ")));
    }
    json_response(200, &headers, &Value::Array(items))
}

pub fn fault(path_prefix: &str, status: u16, headers: &[(&str, &str)], body: Value) -> Fault {
    Fault {
        path_prefix: path_prefix.into(),
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body,
    }
}
