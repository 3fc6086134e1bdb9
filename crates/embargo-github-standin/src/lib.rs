//! A local stand-in for the GitHub REST API: stateful (issues created are
//! listed, searched, updated), speaking GitHub's shapes with response bodies
//! built from recorded fixtures (`fixtures/`), with faults to inject, and
//! GitHub App installation-token exchange (`StandIn::app`).
//!
//! Test support only (dev-dependency); panics on malformed input are fine.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, patch, post};
use jiff::Timestamp;
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Recorded bodies used as templates.
pub struct Templates {
    /// An issue object (`POST /repos/{o}/{r}/issues` -> 201).
    pub issue: Value,
    /// A label object.
    pub label: Value,
    /// The search envelope `{total_count, incomplete_results, items}`.
    pub search: Value,
    /// A 422 Validation Failed body.
    pub validation_failed: Value,
    /// A 404 body.
    pub not_found: Value,
}

impl Templates {
    fn load() -> Self {
        let add_labels = fixture("add-labels-to-issue.normalized-fixture.json");
        let errors = fixture("errors.normalized-fixture.json");
        let search = fixture("search-issues.normalized-fixture.json");
        assert_eq!(add_labels[0]["status"], 201);
        assert_eq!(errors[0]["status"], 422);
        Self {
            issue: add_labels[0]["response"].clone(),
            label: add_labels[1]["response"][0].clone(),
            search: search[0]["response"].clone(),
            validation_failed: errors[0]["response"].clone(),
            not_found: fixture("not-found-404.json"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub labels: Vec<String>,
    pub state: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub author: String,
    pub author_association: String,
    pub pull_request: bool,
}

impl Issue {
    pub fn new(repo: &str, title: &str, body: &str, labels: &[&str]) -> Self {
        let now = Timestamp::now();
        Self {
            repo: repo.into(),
            number: 0,
            title: title.into(),
            body: Some(body.into()),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            state: "open".into(),
            created_at: now,
            updated_at: now,
            author: "someone".into(),
            author_association: "NONE".into(),
            pull_request: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
}

/// What happens to the next create, after the issue is stored.
#[derive(Debug, Clone, Copy)]
pub enum CreateFault {
    /// Stores the issue, answers 502 Bad Gateway.
    ThenStatus(u16),
    /// Stores the issue, drops the connection without an answer.
    ThenDrop,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    pub path_prefix: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

pub struct AppAuth {
    pub app_id: u64,
    pub installation_id: u64,
    pub public_key: rsa::RsaPublicKey,
    pub token: String,
    pub exchanges: usize,
}

pub struct StandIn {
    pub templates: Templates,
    pub host: String,
    /// Repositories that exist, with their numeric IDs.
    pub repos: HashMap<String, u64>,
    pub issues: Vec<Issue>,
    /// The Authorization header every API call must carry.
    pub expected_auth: String,
    pub seen: Vec<Seen>,
    pub faults: VecDeque<Fault>,
    pub create_fault: Option<CreateFault>,
    /// Search only sees issues numbered up to this (eventual consistency).
    pub search_indexed_upto: Option<u64>,
    /// Page size cap (GitHub: 100).
    pub max_per_page: usize,
    /// Issues created through the API get this author association.
    pub creator_association: String,
    pub creates: usize,
    pub app: Option<AppAuth>,
    /// While true, a create stores its issue and then waits before
    /// answering (GitHub slow to respond): the caller can be killed with
    /// the issue open but its answer never received.
    pub hold_creates: bool,
}

impl StandIn {
    fn next_number(&self, repo: &str) -> u64 {
        self.issues
            .iter()
            .filter(|i| i.repo == repo)
            .map(|i| i.number)
            .max()
            .unwrap_or(0)
            + 1
    }

    pub fn insert(&mut self, mut issue: Issue) -> u64 {
        issue.number = self.next_number(&issue.repo);
        let n = issue.number;
        self.issues.push(issue);
        n
    }

    pub fn issue(&self, repo: &str, number: u64) -> Option<&Issue> {
        self.issues
            .iter()
            .find(|i| i.repo == repo && i.number == number)
    }

    pub fn issues_in(&self, repo: &str) -> Vec<&Issue> {
        self.issues.iter().filter(|i| i.repo == repo).collect()
    }

    fn issue_json(&self, issue: &Issue) -> Value {
        let base = format!("http://{}", self.host);
        let mut v = self.templates.issue.clone();
        let api = format!("{base}/repos/{}/issues/{}", issue.repo, issue.number);
        v["url"] = json!(api);
        v["repository_url"] = json!(format!("{base}/repos/{}", issue.repo));
        v["labels_url"] = json!(format!("{api}/labels{{/name}}"));
        v["comments_url"] = json!(format!("{api}/comments"));
        v["events_url"] = json!(format!("{api}/events"));
        v["timeline_url"] = json!(format!("{api}/timeline"));
        v["html_url"] = json!(format!(
            "https://github.com/{}/issues/{}",
            issue.repo, issue.number
        ));
        v["id"] = json!(1_000_000 + issue.number);
        v["number"] = json!(issue.number);
        v["title"] = json!(issue.title);
        v["body"] = json!(issue.body);
        v["state"] = json!(issue.state);
        v["created_at"] = json!(issue.created_at.to_string());
        v["updated_at"] = json!(issue.updated_at.to_string());
        v["closed_at"] = if issue.state == "closed" {
            json!(issue.updated_at.to_string())
        } else {
            Value::Null
        };
        v["author_association"] = json!(issue.author_association);
        v["user"]["login"] = json!(issue.author);
        v["labels"] = Value::Array(
            issue
                .labels
                .iter()
                .map(|l| self.label_json(&issue.repo, l))
                .collect(),
        );
        if issue.pull_request {
            v["pull_request"] =
                json!({ "url": format!("{base}/repos/{}/pulls/{}", issue.repo, issue.number) });
        }
        v
    }

    fn label_json(&self, repo: &str, name: &str) -> Value {
        let mut l = self.templates.label.clone();
        l["name"] = json!(name);
        l["url"] = json!(format!("http://{}/repos/{repo}/labels/{name}", self.host));
        l
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

pub const TOKEN: &str = "ghp_standin_test_token_0001";

/// Starts the stand-in with `kubeflow/pipelines` and `kubeflow/katib`.
pub async fn start() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state: Shared = Arc::new(Mutex::new(StandIn {
        templates: Templates::load(),
        host: addr.to_string(),
        repos: HashMap::from([
            ("kubeflow/pipelines".into(), 1000),
            ("kubeflow/katib".into(), 1001),
        ]),
        issues: Vec::new(),
        expected_auth: format!("Bearer {TOKEN}"),
        seen: Vec::new(),
        faults: VecDeque::new(),
        create_fault: None,
        search_indexed_upto: None,
        max_per_page: 100,
        creator_association: "NONE".into(),
        creates: 0,
        app: None,
        hold_creates: false,
    }));
    let app = Router::new()
        .route(
            "/repos/{owner}/{repo}/issues",
            get(list_issues).post(create_issue),
        )
        .route("/repositories/{id}/issues", get(list_issues_by_id))
        .route("/repos/{owner}/{repo}/issues/{number}", patch(update_issue))
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels",
            post(add_labels),
        )
        .route("/search/issues", get(search_issues))
        .route(
            "/app/installations/{id}/access_tokens",
            post(installation_token),
        )
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
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header("x-github-media-type", "github.v3; format=json");
    for (k, v) in headers {
        resp = resp.header(k.as_str(), v.as_str());
    }
    resp.body(Body::from(body.to_string())).unwrap()
}

fn message(status: u16, text: &str) -> Response {
    json_response(
        status,
        &[],
        &json!({ "message": text, "documentation_url": "https://docs.github.com/rest" }),
    )
}

/// Records every request, checks credentials, injects queued faults.
async fn gate(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    {
        let mut st = state.lock().unwrap();
        st.seen.push(Seen {
            method: method.clone(),
            path: path.clone(),
            authorization: authorization.clone(),
        });
        if !path.starts_with("/app/") {
            let expected = match &st.app {
                Some(app) => format!("Bearer {}", app.token),
                None => st.expected_auth.clone(),
            };
            if authorization.as_deref() != Some(expected.as_str()) {
                return message(401, "Bad credentials");
            }
        }
        if let Some(pos) = st
            .faults
            .iter()
            .position(|f| f.method == method && path.starts_with(&f.path_prefix))
        {
            let f = st.faults.remove(pos).unwrap();
            return json_response(f.status, &f.headers, &f.body);
        }
    }
    next.run(req).await
}

fn repo_name(st: &StandIn, owner: &str, repo: &str) -> Option<String> {
    let name = format!("{owner}/{repo}");
    st.repos.contains_key(&name).then_some(name)
}

fn not_found(st: &StandIn) -> Response {
    json_response(404, &[], &st.templates.not_found)
}

async fn list_issues(
    State(state): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let st = state.lock().unwrap();
    let Some(repo) = repo_name(&st, &owner, &repo) else {
        return not_found(&st);
    };
    list(&st, &repo, &q)
}

async fn list_issues_by_id(
    State(state): State<Shared>,
    Path(id): Path<u64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let st = state.lock().unwrap();
    let Some(repo) = st
        .repos
        .iter()
        .find(|(_, v)| **v == id)
        .map(|(k, _)| k.clone())
    else {
        return not_found(&st);
    };
    list(&st, &repo, &q)
}

fn list(st: &StandIn, repo: &str, q: &HashMap<String, String>) -> Response {
    let labels: Vec<&str> = q
        .get("labels")
        .map(|l| l.split(',').collect())
        .unwrap_or_default();
    let state = q.get("state").map(String::as_str).unwrap_or("open");
    let since: Option<Timestamp> = q.get("since").map(|s| s.parse().unwrap());
    let sort = q.get("sort").map(String::as_str).unwrap_or("created");
    let asc = q.get("direction").map(String::as_str) == Some("asc");
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
    matching.sort_by_key(|i| {
        (
            if sort == "updated" {
                i.updated_at
            } else {
                i.created_at
            },
            i.number,
        )
    });
    if !asc {
        matching.reverse();
    }
    let pages = matching.len().div_ceil(per_page).max(1);
    let items: Vec<Value> = matching
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|i| st.issue_json(i))
        .collect();

    // Like GitHub: links point at /repositories/{id}/issues, other params kept.
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
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
    }
    if page < pages {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(pages)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", link_to(1)));
    }
    let mut headers = vec![
        ("x-ratelimit-limit".to_owned(), "5000".to_owned()),
        ("x-ratelimit-remaining".to_owned(), "4999".to_owned()),
    ];
    if !links.is_empty() {
        headers.push(("link".to_owned(), links.join(", ")));
    }
    json_response(200, &headers, &Value::Array(items))
}

async fn create_issue(
    State(state): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let fault;
    let resp = {
        let mut st = state.lock().unwrap();
        let Some(repo) = repo_name(&st, &owner, &repo) else {
            return not_found(&st);
        };
        let req: Value = serde_json::from_slice(&body).unwrap();
        let title = req["title"].as_str().unwrap_or("");
        if title.is_empty() {
            let mut v = st.templates.validation_failed.clone();
            v["errors"] =
                json!([{ "resource": "Issue", "code": "missing_field", "field": "title" }]);
            return json_response(422, &[], &v);
        }
        let labels: Vec<String> = req["labels"]
            .as_array()
            .map(|a| a.iter().map(|l| l.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        let mut issue = Issue::new(&repo, title, req["body"].as_str().unwrap_or(""), &[]);
        issue.labels = labels;
        issue.author = "embargo-gateway[bot]".into();
        issue.author_association = st.creator_association.clone();
        let n = st.insert(issue);
        st.creates += 1;
        fault = st.create_fault.take();
        let v = st.issue_json(st.issue(&repo, n).unwrap());
        let location = v["url"].as_str().unwrap().to_owned();
        json_response(201, &[("location".into(), location)], &v)
    };
    while state.lock().unwrap().hold_creates {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    match fault {
        None => resp,
        Some(CreateFault::ThenStatus(s)) => {
            json_response(s, &[], &json!({ "message": "Server Error" }))
        }
        // The issue exists; the client never hears about it. resume_unwind
        // skips the panic hook: the connection task ends, the socket closes.
        Some(CreateFault::ThenDrop) => {
            std::panic::resume_unwind(Box::new("stand-in drops the connection"))
        }
    }
}

async fn update_issue(
    State(state): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    body: axum::body::Bytes,
) -> Response {
    let mut st = state.lock().unwrap();
    let Some(repo) = repo_name(&st, &owner, &repo) else {
        return not_found(&st);
    };
    let req: Value = serde_json::from_slice(&body).unwrap();
    let Some(issue) = st
        .issues
        .iter_mut()
        .find(|i| i.repo == repo && i.number == number)
    else {
        return not_found(&st);
    };
    if let Some(t) = req["title"].as_str() {
        issue.title = t.into();
    }
    if let Some(b) = req["body"].as_str() {
        issue.body = Some(b.into());
    }
    if let Some(l) = req["labels"].as_array() {
        issue.labels = l.iter().map(|x| x.as_str().unwrap().to_owned()).collect();
    }
    issue.updated_at = Timestamp::now();
    let issue = issue.clone();
    json_response(200, &[], &st.issue_json(&issue))
}

async fn add_labels(
    State(state): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    body: axum::body::Bytes,
) -> Response {
    let mut st = state.lock().unwrap();
    let Some(repo) = repo_name(&st, &owner, &repo) else {
        return not_found(&st);
    };
    let req: Value = serde_json::from_slice(&body).unwrap();
    let Some(issue) = st
        .issues
        .iter_mut()
        .find(|i| i.repo == repo && i.number == number)
    else {
        return not_found(&st);
    };
    for l in req["labels"].as_array().unwrap() {
        let l = l.as_str().unwrap();
        if !issue.labels.iter().any(|x| x.eq_ignore_ascii_case(l)) {
            issue.labels.push(l.to_owned());
        }
    }
    let labels = issue.labels.clone();
    let out: Vec<Value> = labels.iter().map(|l| st.label_json(&repo, l)).collect();
    json_response(200, &[], &Value::Array(out))
}

/// `q=repo:o/n is:issue in:body "phrase"`: bodies containing the phrase.
async fn search_issues(
    State(state): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let st = state.lock().unwrap();
    let query = q.get("q").cloned().unwrap_or_default();
    let repo = query
        .split_whitespace()
        .find_map(|t| t.strip_prefix("repo:"))
        .map(str::to_owned);
    let phrase = query.split('"').nth(1).map(str::to_lowercase);
    let (Some(repo), Some(phrase)) = (repo, phrase) else {
        let mut v = st.templates.validation_failed.clone();
        v["errors"] = json!([{ "resource": "Search", "field": "q", "code": "invalid" }]);
        return json_response(422, &[], &v);
    };
    if !st.repos.contains_key(&repo) {
        let mut v = st.templates.validation_failed.clone();
        v["errors"] = json!([{ "message": "The listed users and repositories cannot be searched", "resource": "Search", "field": "q", "code": "invalid" }]);
        return json_response(422, &[], &v);
    }
    let items: Vec<Value> = st
        .issues
        .iter()
        .filter(|i| i.repo == repo && !i.pull_request)
        .filter(|i| st.search_indexed_upto.is_none_or(|n| i.number <= n))
        .filter(|i| {
            i.body
                .as_deref()
                .unwrap_or("")
                .to_lowercase()
                .contains(&phrase)
        })
        .map(|i| {
            let mut v = st.issue_json(i);
            v["score"] = json!(1.0);
            v
        })
        .collect();
    let mut v = st.templates.search.clone();
    v["total_count"] = json!(items.len());
    v["incomplete_results"] = json!(false);
    v["items"] = Value::Array(items);
    json_response(200, &[], &v)
}

/// GitHub App: exchanges a JWT (RS256, iss = app ID) for an installation token.
async fn installation_token(
    State(state): State<Shared>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Response {
    use base64::Engine;
    use rsa::signature::Verifier;
    let mut st = state.lock().unwrap();
    let Some(app) = st.app.as_mut() else {
        return message(404, "Not Found");
    };
    if id != app.installation_id {
        return message(404, "Not Found");
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(jwt) = auth.strip_prefix("Bearer ") else {
        return message(401, "A JSON web token could not be decoded");
    };
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return message(401, "A JSON web token could not be decoded");
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header_json: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    let sig = rsa::pkcs1v15::Signature::try_from(b64.decode(parts[2]).unwrap().as_slice()).unwrap();
    let key = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(app.public_key.clone());
    let signed = format!("{}.{}", parts[0], parts[1]);
    let iss_ok =
        claims["iss"] == json!(app.app_id) || claims["iss"] == json!(app.app_id.to_string());
    if header_json["alg"] != "RS256" || !iss_ok || key.verify(signed.as_bytes(), &sig).is_err() {
        return message(401, "'Issuer' claim ('iss') must be an Integer");
    }
    app.exchanges += 1;
    let expires = Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(1))
        .unwrap();
    json_response(
        201,
        &[],
        &json!({ "token": app.token, "expires_at": expires.to_string(), "permissions": { "issues": "write" }, "repository_selection": "selected" }),
    )
}

/// Headers of a GitHub response, for tests that build faults.
pub fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn fault(
    method: &'static str,
    path_prefix: &str,
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
) -> Fault {
    Fault {
        method,
        path_prefix: path_prefix.into(),
        status,
        headers,
        body,
    }
}
