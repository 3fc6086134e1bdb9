//! Shared harness of the web tests and the benchmark: a real store (SQLite
//! in a temp dir, or a fresh PostgreSQL database when `TEST_DATABASE_URL`
//! is set; mandatory under `CI=true`), the router, accounts and sessions,
//! and a small client for `oneshot` requests.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use embargo_domain::{Login, Role, TrackingPrefix, WgName};
use embargo_outbound::TeamIdentity;
use embargo_pgp::{Keyring, generate_team_key};
use embargo_store::{
    Direction, NewMessage, NewReport, NewSession, NewUser, Signature, Store, hash_token,
};
use embargo_testkit::TestDb;
use embargo_web::{AppState, RetryDecryption, WebConfig, csrf, password, router};
use jiff::Timestamp;
use tower::ServiceExt;
use zeroize::Zeroizing;

pub mod disclosure;

/// A store on a backend (`embargo-testkit`), kept alive with its temp dir
/// / database.
pub struct TestStore {
    pub store: Arc<Store>,
    _keep: embargo_testkit::Keep,
}

impl From<TestDb> for TestStore {
    fn from(db: TestDb) -> TestStore {
        let (store, keep) = db.into_store();
        TestStore {
            store: Arc::new(store),
            _keep: keep,
        }
    }
}

impl TestStore {
    pub async fn sqlite() -> TestStore {
        TestDb::sqlite().await.into()
    }

    /// `None` (with a note) when `TEST_DATABASE_URL` is not set, unless
    /// `CI=true`, where that is a failure.
    pub async fn postgres() -> Option<TestStore> {
        TestDb::postgres().await.map(TestStore::from)
    }
}

pub const TEAM_ADDRESS: &str = "security@project.example";
pub const PASSWORD: &str = "correct horse battery staple";

pub fn team() -> TeamIdentity {
    let key = generate_team_key("Project Security <security@project.example>").unwrap();
    let keyring = Keyring::new(vec![key]).unwrap();
    TeamIdentity::new(TEAM_ADDRESS, Some("Project Security"), keyring).unwrap()
}

pub fn wg(s: &str) -> WgName {
    WgName::parse(s).unwrap()
}

pub fn login(s: &str) -> Login {
    Login::parse(s).unwrap()
}

pub fn prefix() -> TrackingPrefix {
    TrackingPrefix::parse("SEC").unwrap()
}

pub fn test_config() -> WebConfig {
    WebConfig {
        secure_cookies: false,
        wgs: vec![wg("pipelines"), wg("notebooks"), wg("training")],
        ..WebConfig::default()
    }
}

pub struct App {
    pub ts: TestStore,
    pub state: AppState,
    pub router: Router,
}

impl App {
    pub async fn new(ts: TestStore, config: WebConfig, with_team: bool) -> App {
        Self::with_retry(ts, config, with_team, None).await
    }

    pub async fn with_retry(
        ts: TestStore,
        config: WebConfig,
        with_team: bool,
        retry: Option<Arc<dyn RetryDecryption>>,
    ) -> App {
        let team = with_team.then(team);
        let state = AppState::new(ts.store.clone(), config, team, retry).unwrap();
        let router = router(state.clone());
        App { ts, state, router }
    }

    pub fn store(&self) -> &Store {
        &self.ts.store
    }

    /// An account with a known password.
    pub async fn user(&self, name: &str, role: Role, wg_name: Option<&str>, must_change: bool) {
        self.store()
            .add_user(NewUser {
                login: login(name),
                role,
                wg: wg_name.map(wg),
                password_hash: password::hash(PASSWORD).unwrap(),
                must_change_password: must_change,
                email: Some(format!("{name}@team.example")),
                pgp_cert: None,
                totp_secret: None,
                created_at: Timestamp::now(),
            })
            .await
            .unwrap();
    }

    /// A session created directly in the store (fast): a client holding
    /// its cookie and CSRF token.
    pub async fn session(&self, name: &str) -> Client {
        let token = format!("test-token-{}", uuid::Uuid::new_v4().simple());
        let secret = Zeroizing::new(uuid::Uuid::new_v4().as_bytes().to_vec());
        let now = Timestamp::now();
        self.store()
            .create_session(NewSession {
                token_hash: hash_token(token.as_bytes()),
                login: login(name),
                csrf_secret: secret.clone(),
                created_at: now,
                expires_at: now + jiff::SignedDuration::from_hours(1),
            })
            .await
            .unwrap();
        let cookie_name = if self.state.config().secure_cookies {
            "__Host-embargo_session"
        } else {
            "embargo_session"
        };
        Client {
            router: self.router.clone(),
            cookies: vec![(cookie_name.to_owned(), token)],
            csrf: Some(csrf::token(&secret)),
            ip: None,
        }
    }

    pub fn anonymous(&self) -> Client {
        Client {
            router: self.router.clone(),
            cookies: Vec::new(),
            csrf: None,
            ip: None,
        }
    }

    /// Files a report with one inbound message.
    pub async fn report(&self, subject: &str, body: &str) -> embargo_domain::TrackingId {
        self.report_with(subject, body, |_| {}).await
    }

    pub async fn report_with(
        &self,
        subject: &str,
        body: &str,
        tweak: impl FnOnce(&mut NewMessage),
    ) -> embargo_domain::TrackingId {
        let now = Timestamp::now();
        let mid = format!("<{}@reporter.example>", uuid::Uuid::new_v4().simple());
        let mut m = NewMessage {
            message_id: Some(mid.clone()),
            raw: format!("Message-ID: {mid}\r\nSubject: x\r\n\r\n{body}").into_bytes(),
            direction: Direction::Inbound,
            received_at: now,
            date: Some(now),
            from: "Ada Reporter <ada@reporter.example>".to_owned(),
            subject: subject.to_owned(),
            headers: format!("Message-ID: {mid}\r\nFrom: Ada Reporter <ada@reporter.example>\r\n"),
            body_text: body.to_owned(),
            encrypted: true,
            decrypted: true,
            decrypt_error: None,
            signature: Signature::none(),
            attachments: Vec::new(),
        };
        tweak(&mut m);
        self.store()
            .create_report(
                &prefix(),
                now,
                NewReport {
                    subject: subject.to_owned(),
                    reporter: "ada@reporter.example".to_owned(),
                },
                m,
            )
            .await
            .unwrap()
            .report()
            .clone()
    }

    /// Triages a report directly in the store (through the domain rules).
    pub async fn triage(&self, id: &embargo_domain::TrackingId, w: &str) {
        let r = self.store().load_domain_report(id).await.unwrap();
        let next = r
            .apply(
                &embargo_domain::Action::Triage {
                    wg: wg(w),
                    severity: embargo_domain::Severity::High,
                },
                Timestamp::now(),
                &embargo_domain::EmbargoPolicy::default(),
            )
            .unwrap();
        self.store()
            .apply_report_update(
                r.state,
                &next,
                &embargo_store::Actor::System,
                "triage",
                "",
                Timestamp::now(),
            )
            .await
            .unwrap();
    }

    pub async fn events(&self, id: &embargo_domain::TrackingId) -> Vec<embargo_store::Event> {
        self.store().report_view(id, 10_000).await.unwrap().events
    }
}

/// A response, body read.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Resp {
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first hidden `csrf` field of the page.
    pub fn csrf_field(&self) -> Option<String> {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].to_owned())
    }
}

/// Sends requests through the router with its cookies.
#[derive(Clone)]
pub struct Client {
    pub router: Router,
    pub cookies: Vec<(String, String)>,
    pub csrf: Option<String>,
    pub ip: Option<SocketAddr>,
}

impl Client {
    fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    pub async fn send(&self, method: Method, path: &str, form: Option<String>) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(c) = self.cookie_header() {
            b = b.header(header::COOKIE, c);
        }
        let body = match form {
            Some(f) => {
                b = b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(f)
            }
            None => Body::empty(),
        };
        let mut req = b.body(body).unwrap();
        if let Some(ip) = self.ip {
            req.extensions_mut().insert(ConnectInfo(ip));
        }
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }

    /// POST with this client's CSRF token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if let Some(t) = &self.csrf {
            all.push(("csrf", t));
        }
        self.post_raw(path, &all).await
    }

    /// POST exactly these fields (no token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.send(Method::POST, path, Some(body)).await
    }

    /// Applies `Set-Cookie` headers of a response (Max-Age=0 deletes).
    pub fn absorb(&mut self, r: &Resp) {
        for c in r.set_cookies() {
            let first = c.split(';').next().unwrap();
            let (k, v) = first.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !c.contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
    }

    /// The real login flow: GET the form (nonce cookie + token), POST it.
    pub async fn log_in(&mut self, name: &str, password: &str, code: &str) -> Resp {
        let form = self.get("/login").await;
        assert_eq!(form.status, StatusCode::OK);
        self.absorb(&form);
        let token = form.csrf_field().unwrap();
        let r = self
            .post_raw(
                "/login",
                &[
                    ("csrf", &token),
                    ("login", name),
                    ("password", password),
                    ("code", code),
                ],
            )
            .await;
        self.absorb(&r);
        r
    }

    /// Reads the session's CSRF token from a page.
    pub async fn refresh_csrf(&mut self) {
        let page = self.get("/account/password").await;
        self.csrf = page.csrf_field();
    }
}

/// Runs each case on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let ts = $crate::common::TestStore::sqlite().await;
                super::$case(ts).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(ts) = $crate::common::TestStore::postgres().await else { return };
                super::$case(ts).await;
            }
        }
    )*};
}
