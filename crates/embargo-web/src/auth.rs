//! Sessions, login (password, lockout, per-IP limit, optional TOTP),
//! logout, password change (forced for one-time passwords) and TOTP
//! enrolment.
//!
//! The session cookie holds 32 random bytes (base64url); the store keeps
//! only their SHA-256 ([`embargo_store::hash_token`]). Cookies are
//! `HttpOnly; SameSite=Strict; Path=/` and `Secure` (with the `__Host-`
//! prefix) unless [`crate::WebConfig::secure_cookies`] is off.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use embargo_domain::Login;
use embargo_store::{Actor, NewSession, User, hash_token};
use jiff::Timestamp;
use rand::RngCore;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::error::WebError;
use crate::pages::{Nav, render};
use crate::{AppState, csrf, password, totp};

/// Session activity is written back at most this often.
const TOUCH_EVERY_SECS: i64 = 60;
/// Shortest password accepted on change.
pub const MIN_PASSWORD_CHARS: usize = 12;
const MAX_PASSWORD_BYTES: usize = 1024;

pub(crate) fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-embargo_session"
    } else {
        "embargo_session"
    }
}

pub(crate) fn login_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-embargo_login"
    } else {
        "embargo_login"
    }
}

/// The value of cookie `name`, if sent.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}; Max-Age={max_age}"
    ))
    .ok()
}

fn random_token(bytes: usize) -> Zeroizing<String> {
    let mut buf = Zeroizing::new(vec![0u8; bytes]);
    rand::rngs::OsRng.fill_bytes(&mut buf);
    Zeroizing::new(URL_SAFE_NO_PAD.encode(&*buf))
}

/// The signed-in user of a request.
pub(crate) struct Current {
    pub token_hash: String,
    pub user: User,
    pub csrf_secret: Zeroizing<Vec<u8>>,
    pub csrf_token: String,
}

impl Current {
    pub(crate) fn actor(&self) -> Actor {
        Actor::User(self.user.login.clone())
    }
}

/// Request extension set by [`load_session`] when the cookie names a live
/// session.
#[derive(Clone)]
pub(crate) struct SessionExt(pub Arc<Current>);

/// The middleware: resolves the session cookie into [`SessionExt`].
/// Expired or idle sessions are deleted; activity is recorded at most once
/// a minute.
pub(crate) async fn load_session(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let secure = state.config().secure_cookies;
    if let Some(token) = cookie(req.headers(), session_cookie_name(secure)) {
        match resolve(&state, &token).await {
            Ok(Some(current)) => {
                req.extensions_mut().insert(SessionExt(Arc::new(current)));
            }
            Ok(None) => {}
            Err(e) => return e.into_response(),
        }
    }
    next.run(req).await
}

async fn resolve(state: &AppState, token: &str) -> Result<Option<Current>, WebError> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    let store = state.store();
    let hash = hash_token(token.as_bytes());
    let Some(session) = store.get_session(&hash).await? else {
        return Ok(None);
    };
    let now = Timestamp::now();
    let idle = state.config().idle_timeout;
    if session.expires_at <= now || session.last_seen + idle <= now {
        store.delete_session(&hash).await?;
        return Ok(None);
    }
    let Some(user) = store.get_user(&session.login).await? else {
        store.delete_session(&hash).await?;
        return Ok(None);
    };
    if now.duration_since(session.last_seen).as_secs() >= TOUCH_EVERY_SECS {
        store.touch_session(&hash, now, None).await?;
    }
    let csrf_token = csrf::token(&session.csrf_secret);
    Ok(Some(Current {
        token_hash: hash,
        user,
        csrf_secret: session.csrf_secret,
        csrf_token,
    }))
}

/// Why a request needing a session was not served.
pub(crate) enum AuthRejection {
    /// No session: GET goes to the login page, anything else is refused.
    SignIn(Method),
    /// The one-time password must be changed first.
    ChangePassword(Method),
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            AuthRejection::SignIn(m) if m == Method::GET || m == Method::HEAD => {
                Redirect::to("/login").into_response()
            }
            AuthRejection::ChangePassword(m) if m == Method::GET || m == Method::HEAD => {
                Redirect::to("/account/password").into_response()
            }
            _ => WebError::Forbidden.into_response(),
        }
    }
}

/// A signed-in user who has no pending password change.
pub(crate) struct Authed(pub Arc<Current>);

impl<S: Send + Sync> FromRequestParts<S> for Authed {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(SessionExt(current)) = parts.extensions.get::<SessionExt>().cloned() else {
            return Err(AuthRejection::SignIn(parts.method.clone()));
        };
        if current.user.must_change_password {
            return Err(AuthRejection::ChangePassword(parts.method.clone()));
        }
        Ok(Authed(current))
    }
}

/// A signed-in user, password change pending or not (password page,
/// logout).
pub(crate) struct AnyAuthed(pub Arc<Current>);

impl<S: Send + Sync> FromRequestParts<S> for AnyAuthed {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<SessionExt>().cloned() {
            Some(SessionExt(current)) => Ok(AnyAuthed(current)),
            None => Err(AuthRejection::SignIn(parts.method.clone())),
        }
    }
}

/// The peer's address (unspecified when not served over TCP, e.g. tests).
pub(crate) struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        ))
    }
}

// ---------------------------------------------------------------- login

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Option<Nav>,
    csrf: String,
    login: String,
    error: Option<&'static str>,
}

/// A login form with a fresh nonce cookie and its token.
fn login_form(
    state: &AppState,
    login: String,
    error: Option<&'static str>,
) -> Result<Response, WebError> {
    let secure = state.config().secure_cookies;
    let nonce = random_token(24);
    let page = LoginPage {
        nav: None,
        csrf: csrf::login_token(state.inner().login_key.as_ref(), &nonce),
        login,
        error,
    };
    let mut res = render(&page)?;
    if error.is_some() {
        *res.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
    }
    if let Some(c) = set_cookie(login_cookie_name(secure), &nonce, 3600, secure) {
        res.headers_mut().append(SET_COOKIE, c);
    }
    Ok(res)
}

pub(crate) async fn login_page(State(state): State<AppState>) -> Result<Response, WebError> {
    login_form(&state, String::new(), None)
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    login: String,
    password: String,
    #[serde(default)]
    code: String,
}

const LOGIN_FAILED: &str = "Login failed. Check the login, password and code; after repeated failures the account is locked for a while.";

async fn verify_password(password: String, hash: String) -> Result<bool, WebError> {
    tokio::task::spawn_blocking(move || {
        let password = Zeroizing::new(password);
        password::verify(&password, &hash)
    })
    .await
    .map_err(|e| WebError::Internal(format!("password worker: {e}")))?
    .map_err(|e| WebError::Internal(e.to_string()))
}

async fn hash_password(password: String) -> Result<String, WebError> {
    tokio::task::spawn_blocking(move || {
        let password = Zeroizing::new(password);
        password::hash(&password)
    })
    .await
    .map_err(|e| WebError::Internal(format!("password worker: {e}")))?
    .map_err(|e| WebError::Internal(e.to_string()))
}

/// A new session for `login`: its cookie.
async fn start_session(state: &AppState, login: &Login) -> Result<HeaderValue, WebError> {
    let token = random_token(32);
    let mut csrf_secret = Zeroizing::new(vec![0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut csrf_secret);
    let now = Timestamp::now();
    state
        .store()
        .create_session(NewSession {
            token_hash: hash_token(token.as_bytes()),
            login: login.clone(),
            csrf_secret,
            created_at: now,
            expires_at: now + state.config().session_ttl,
        })
        .await?;
    let secure = state.config().secure_cookies;
    let ttl = state.config().session_ttl.as_secs();
    set_cookie(session_cookie_name(secure), &token, ttl, secure)
        .ok_or_else(|| WebError::Internal("session cookie".to_owned()))
}

pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let now = Timestamp::now();
    let inner = state.inner();
    if !inner.limiter.allowed(ip, now) {
        tracing::warn!(%ip, "login refused: too many failures from this address");
        let mut res = login_form(
            &state,
            form.login,
            Some("Too many failed logins from your address. Wait a few minutes."),
        )?;
        *res.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
        return Ok(res);
    }
    let entered = form.login.trim().to_owned();
    let user = match Login::parse(&entered) {
        Ok(login) => state.store().get_user(&login).await?,
        Err(_) => None,
    };
    let Some(user) = user else {
        // Same work as a real check, so timing does not reveal logins.
        let _ = verify_password(form.password, inner.dummy_hash.clone()).await;
        inner.limiter.failed(ip, now);
        return login_form(&state, entered, Some(LOGIN_FAILED));
    };
    let locked = user.locked_until.is_some_and(|t| t > now);
    let password_ok = if locked || form.password.len() > MAX_PASSWORD_BYTES {
        let _ = verify_password(form.password, inner.dummy_hash.clone()).await;
        false
    } else {
        verify_password(form.password, user.password_hash.clone()).await?
    };
    let second_factor_ok = match &user.totp_secret {
        None => true,
        Some(secret) => {
            password_ok
                && totp::verify(secret, &form.code, now.as_second())
                    .is_some_and(|step| inner.totp_replay.accept(&user.login, step))
        }
    };
    if locked || !password_ok || !second_factor_ok {
        inner.limiter.failed(ip, now);
        if !locked {
            let failed = state
                .store()
                .record_failed_login(
                    &user.login,
                    state.config().lock_after,
                    now + state.config().lock_for,
                )
                .await?;
            if failed.locked_until.is_some_and(|t| t > now) {
                state
                    .store()
                    .append_event(
                        None,
                        &Actor::System,
                        "account-locked",
                        &format!("login {}", user.login),
                        now,
                    )
                    .await?;
            }
        }
        return login_form(&state, entered, Some(LOGIN_FAILED));
    }
    inner.limiter.succeeded(ip);
    state.store().reset_failed_logins(&user.login).await?;
    let cookie = start_session(&state, &user.login).await?;
    state
        .store()
        .append_event(None, &Actor::User(user.login.clone()), "login", "", now)
        .await?;
    tracing::info!(login = %user.login, "signed in");
    let target = if user.must_change_password {
        "/account/password"
    } else {
        "/"
    };
    let secure = state.config().secure_cookies;
    let mut res = Redirect::to(target).into_response();
    res.headers_mut().append(SET_COOKIE, cookie);
    if let Some(c) = set_cookie(login_cookie_name(secure), "", 0, secure) {
        res.headers_mut().append(SET_COOKIE, c);
    }
    Ok(res)
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    AnyAuthed(current): AnyAuthed,
) -> Result<Response, WebError> {
    state.store().delete_session(&current.token_hash).await?;
    state
        .store()
        .append_event(None, &current.actor(), "logout", "", Timestamp::now())
        .await?;
    let secure = state.config().secure_cookies;
    let mut res = Redirect::to("/login").into_response();
    if let Some(c) = set_cookie(session_cookie_name(secure), "", 0, secure) {
        res.headers_mut().append(SET_COOKIE, c);
    }
    Ok(res)
}

// ---------------------------------------------------------------- account

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    nav: Option<Nav>,
    login: String,
    role: &'static str,
    wg: String,
    totp_enabled: bool,
    has_key: bool,
}

pub(crate) async fn account(Authed(current): Authed) -> Result<Response, WebError> {
    let u = &current.user;
    render(&AccountPage {
        nav: Some(Nav::of(&current)),
        login: u.login.to_string(),
        role: u.role.as_str(),
        wg: u.wg.as_ref().map(|w| w.to_string()).unwrap_or_default(),
        totp_enabled: u.totp_secret.is_some(),
        has_key: u.pgp_cert.is_some(),
    })
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    nav: Option<Nav>,
    forced: bool,
    error: Option<String>,
    min_chars: usize,
}

pub(crate) async fn password_page(AnyAuthed(current): AnyAuthed) -> Result<Response, WebError> {
    render(&PasswordPage {
        nav: Some(Nav::of(&current)),
        forced: current.user.must_change_password,
        error: None,
        min_chars: MIN_PASSWORD_CHARS,
    })
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

/// Why a new password is refused, if it is.
pub fn password_problem(login: &str, current: &str, new: &str, confirm: &str) -> Option<String> {
    if new != confirm {
        return Some("The new password and its confirmation differ.".to_owned());
    }
    if new.chars().count() < MIN_PASSWORD_CHARS {
        return Some(format!(
            "The new password needs at least {MIN_PASSWORD_CHARS} characters."
        ));
    }
    if new.len() > MAX_PASSWORD_BYTES {
        return Some("The new password is too long.".to_owned());
    }
    if new == current {
        return Some("The new password must differ from the current one.".to_owned());
    }
    if new.to_lowercase().contains(&login.to_lowercase()) {
        return Some("The new password must not contain the login.".to_owned());
    }
    None
}

pub(crate) async fn change_password(
    State(state): State<AppState>,
    AnyAuthed(current): AnyAuthed,
    Form(form): Form<PasswordForm>,
) -> Result<Response, WebError> {
    let u = &current.user;
    let again = |error: String| -> Result<Response, WebError> {
        let mut res = render(&PasswordPage {
            nav: Some(Nav::of(&current)),
            forced: u.must_change_password,
            error: Some(error),
            min_chars: MIN_PASSWORD_CHARS,
        })?;
        *res.status_mut() = axum::http::StatusCode::BAD_REQUEST;
        Ok(res)
    };
    if form.current.len() > MAX_PASSWORD_BYTES
        || !verify_password(form.current.clone(), u.password_hash.clone()).await?
    {
        return again("The current password is wrong.".to_owned());
    }
    if let Some(problem) =
        password_problem(u.login.as_str(), &form.current, &form.new, &form.confirm)
    {
        return again(problem);
    }
    let hash = hash_password(form.new).await?;
    let store = state.store();
    store.set_password(&u.login, &hash, false).await?;
    // Every other session of the account ends; this one is replaced.
    store.delete_user_sessions(&u.login).await?;
    let cookie = start_session(&state, &u.login).await?;
    store
        .append_event(
            None,
            &current.actor(),
            "password-changed",
            "",
            Timestamp::now(),
        )
        .await?;
    tracing::info!(login = %u.login, "password changed");
    let mut res = Redirect::to("/").into_response();
    res.headers_mut().append(SET_COOKIE, cookie);
    Ok(res)
}

// ---------------------------------------------------------------- TOTP

#[derive(Template)]
#[template(path = "totp_setup.html")]
struct TotpSetupPage {
    nav: Option<Nav>,
    secret: String,
    uri: String,
    error: Option<&'static str>,
}

fn totp_uri(login: &str, secret_b32: &str) -> String {
    format!(
        "otpauth://totp/embargo:{login}?secret={secret_b32}&issuer=embargo&algorithm=SHA1&digits=6&period=30"
    )
}

pub(crate) async fn totp_setup(Authed(current): Authed) -> Result<Response, WebError> {
    let mut secret = Zeroizing::new(vec![0u8; 20]);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let b32 = totp::base32_encode(&secret);
    render(&TotpSetupPage {
        nav: Some(Nav::of(&current)),
        uri: totp_uri(current.user.login.as_str(), &b32),
        secret: b32,
        error: None,
    })
}

#[derive(Deserialize)]
pub(crate) struct TotpEnableForm {
    secret: String,
    code: String,
    password: String,
}

pub(crate) async fn totp_enable(
    State(state): State<AppState>,
    Authed(current): Authed,
    Form(form): Form<TotpEnableForm>,
) -> Result<Response, WebError> {
    let secret = totp::base32_decode(&form.secret)
        .filter(|s| s.len() >= 16)
        .ok_or_else(|| WebError::BadRequest("The TOTP secret is malformed.".to_owned()))?;
    let now = Timestamp::now();
    let code_ok = totp::verify(&secret, &form.code, now.as_second())
        .is_some_and(|step| state.inner().totp_replay.accept(&current.user.login, step));
    let password_ok = form.password.len() <= MAX_PASSWORD_BYTES
        && verify_password(form.password, current.user.password_hash.clone()).await?;
    if !code_ok || !password_ok {
        let mut res = render(&TotpSetupPage {
            nav: Some(Nav::of(&current)),
            uri: totp_uri(current.user.login.as_str(), form.secret.trim()),
            secret: form.secret.trim().to_owned(),
            error: Some("The code or the password is wrong."),
        })?;
        *res.status_mut() = axum::http::StatusCode::BAD_REQUEST;
        return Ok(res);
    }
    state
        .store()
        .set_totp_secret(&current.user.login, Some(&secret))
        .await?;
    state
        .store()
        .append_event(None, &current.actor(), "totp-enabled", "", now)
        .await?;
    Ok(Redirect::to("/account").into_response())
}

#[derive(Deserialize)]
pub(crate) struct TotpDisableForm {
    password: String,
}

pub(crate) async fn totp_disable(
    State(state): State<AppState>,
    Authed(current): Authed,
    Form(form): Form<TotpDisableForm>,
) -> Result<Response, WebError> {
    if form.password.len() > MAX_PASSWORD_BYTES
        || !verify_password(form.password, current.user.password_hash.clone()).await?
    {
        return Err(WebError::BadRequest("The password is wrong.".to_owned()));
    }
    state
        .store()
        .set_totp_secret(&current.user.login, None)
        .await?;
    state
        .store()
        .append_event(
            None,
            &current.actor(),
            "totp-disabled",
            "",
            Timestamp::now(),
        )
        .await?;
    Ok(Redirect::to("/account").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_parse() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; embargo_session=tok; b=2"),
        );
        assert_eq!(cookie(&h, "embargo_session").as_deref(), Some("tok"));
        assert_eq!(cookie(&h, "missing"), None);
        let c = set_cookie("n", "v", 60, true).unwrap();
        assert_eq!(
            c.to_str().unwrap(),
            "n=v; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=60"
        );
    }

    #[test]
    fn password_rules() {
        assert!(password_problem("alice", "old", "short", "short").is_some());
        assert!(password_problem("alice", "old", "a long password!", "different").is_some());
        assert!(
            password_problem("alice", "x", "alice-long-password", "alice-long-password").is_some()
        );
        assert!(
            password_problem(
                "alice",
                "a long password!",
                "a long password!",
                "a long password!"
            )
            .is_some()
        );
        assert!(password_problem("alice", "old", "a long password!", "a long password!").is_none());
    }
}
