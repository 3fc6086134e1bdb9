//! Administration (admins only): accounts and their OpenPGP keys, and a
//! read-only view of the configuration. Every change is in the audit
//! trail.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Redirect, Response};
use embargo_domain::{Login, Role, WgName};
use embargo_pgp::{cert_emails, cert_fingerprint, cert_to_armored, parse_certs};
use embargo_store::NewUser;
use jiff::Timestamp;
use serde::Deserialize;

use crate::auth::Authed;
use crate::authz;
use crate::error::WebError;
use crate::pages::{Nav, opt_ts, render, ts};
use crate::reports::SelectOpt;
use crate::text::display_line;
use crate::{AppState, password};

pub(crate) struct UserRow {
    pub login: String,
    pub role: &'static str,
    pub wg: String,
    pub email: String,
    pub must_change: bool,
    pub totp: bool,
    pub key: String,
    pub locked_until: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Option<Nav>,
    csrf: String,
    users: Vec<UserRow>,
    roles: Vec<SelectOpt>,
    wgs: Vec<String>,
}

pub(crate) async fn users(
    State(state): State<AppState>,
    Authed(current): Authed,
) -> Result<Response, WebError> {
    authz::admin_only(&current.user)?;
    let now = Timestamp::now();
    let users = state
        .store()
        .list_users()
        .await?
        .into_iter()
        .map(|u| {
            let key = match u.pgp_cert.as_deref().map(|c| parse_certs(c.as_bytes())) {
                None => String::new(),
                Some(Ok(certs)) => certs
                    .iter()
                    .map(|c| format!("{} ({})", cert_fingerprint(c), cert_emails(c).join(", ")))
                    .collect::<Vec<_>>()
                    .join("; "),
                Some(Err(_)) => "unreadable key".to_owned(),
            };
            UserRow {
                login: u.login.to_string(),
                role: u.role.as_str(),
                wg: u.wg.map(|w| w.to_string()).unwrap_or_default(),
                email: u
                    .email
                    .as_deref()
                    .map(|e| display_line(e, 200))
                    .unwrap_or_default(),
                must_change: u.must_change_password,
                totp: u.totp_secret.is_some(),
                key: display_line(&key, 400),
                locked_until: u
                    .locked_until
                    .filter(|t| *t > now)
                    .map(ts)
                    .unwrap_or_default(),
                created: ts(u.created_at),
            }
        })
        .collect();
    render(&UsersPage {
        nav: Some(Nav::of(&current)),
        csrf: current.csrf_token.clone(),
        users,
        roles: Role::ALL
            .iter()
            .map(|r| SelectOpt {
                value: r.as_str().to_owned(),
                label: r.as_str().to_owned(),
                selected: *r == Role::Triager,
            })
            .collect(),
        wgs: state.config().wgs.iter().map(|w| w.to_string()).collect(),
    })
}

#[derive(Template)]
#[template(path = "one_time.html")]
struct OneTimePage {
    nav: Option<Nav>,
    login: String,
    password: String,
    created: bool,
}

fn one_time_page(
    nav: Nav,
    login: &Login,
    password: &str,
    created: bool,
) -> Result<Response, WebError> {
    let mut res = render(&OneTimePage {
        nav: Some(nav),
        login: login.to_string(),
        password: password.to_owned(),
        created,
    })?;
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[derive(Deserialize)]
pub(crate) struct AddUserForm {
    login: String,
    role: String,
    #[serde(default)]
    wg: String,
    #[serde(default)]
    email: String,
}

pub(crate) async fn add_user(
    State(state): State<AppState>,
    Authed(current): Authed,
    Form(form): Form<AddUserForm>,
) -> Result<Response, WebError> {
    authz::admin_only(&current.user)?;
    let login = Login::parse(form.login.trim()).map_err(|e| WebError::BadRequest(e.to_string()))?;
    let role: Role = form
        .role
        .parse()
        .map_err(|_| WebError::BadRequest("Unknown role.".to_owned()))?;
    let wg = match form.wg.trim() {
        "" => None,
        w => Some(WgName::parse(w).map_err(|e| WebError::BadRequest(e.to_string()))?),
    };
    if role == Role::WgLead && wg.is_none() {
        return Err(WebError::BadRequest("A WG lead needs a WG.".to_owned()));
    }
    let email = match form.email.trim() {
        "" => None,
        e if e.len() <= 254 && e.contains('@') && !e.contains(char::is_whitespace) => {
            Some(e.to_owned())
        }
        _ => {
            return Err(WebError::BadRequest(
                "The e-mail address looks wrong.".to_owned(),
            ));
        }
    };
    let otp = password::one_time();
    let otp_for_hash = otp.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&otp_for_hash))
        .await
        .map_err(|e| WebError::Internal(format!("password worker: {e}")))?
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let now = Timestamp::now();
    state
        .store()
        .add_user(NewUser {
            login: login.clone(),
            role,
            wg: wg.clone(),
            password_hash: hash,
            must_change_password: true,
            email,
            pgp_cert: None,
            totp_secret: None,
            created_at: now,
        })
        .await?;
    state
        .store()
        .append_event(
            None,
            &current.actor(),
            "user-added",
            &format!(
                "login {login}, role {role}{}",
                wg.map(|w| format!(", wg {w}")).unwrap_or_default()
            ),
            now,
        )
        .await?;
    one_time_page(Nav::of(&current), &login, &otp, true)
}

#[derive(Deserialize)]
pub(crate) struct KeyForm {
    #[serde(default)]
    key: String,
}

fn target_login(s: &str) -> Result<Login, WebError> {
    Login::parse(s).map_err(|_| WebError::NotFound)
}

pub(crate) async fn set_key(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(login): Path<String>,
    Form(form): Form<KeyForm>,
) -> Result<Response, WebError> {
    authz::admin_only(&current.user)?;
    let login = target_login(&login)?;
    let armored = if form.key.trim().is_empty() {
        None
    } else {
        let certs = parse_certs(form.key.as_bytes())
            .map_err(|_| WebError::BadRequest("That is not an OpenPGP certificate.".to_owned()))?;
        let [cert] = certs.as_slice() else {
            return Err(WebError::BadRequest(
                "Paste exactly one certificate.".to_owned(),
            ));
        };
        Some(cert_to_armored(cert).map_err(|e| WebError::BadRequest(e.to_string()))?)
    };
    state
        .store()
        .set_pgp_cert(&login, armored.as_deref())
        .await?;
    state
        .store()
        .append_event(
            None,
            &current.actor(),
            "user-key",
            &format!(
                "login {login}, key {}",
                if armored.is_some() { "set" } else { "removed" }
            ),
            Timestamp::now(),
        )
        .await?;
    Ok(Redirect::to("/admin/users").into_response())
}

#[derive(Deserialize)]
pub(crate) struct ResetForm {}

pub(crate) async fn reset_password(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(login): Path<String>,
    Form(_): Form<ResetForm>,
) -> Result<Response, WebError> {
    authz::admin_only(&current.user)?;
    let login = target_login(&login)?;
    if state.store().get_user(&login).await?.is_none() {
        return Err(WebError::NotFound);
    }
    let otp = password::one_time();
    let otp_for_hash = otp.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&otp_for_hash))
        .await
        .map_err(|e| WebError::Internal(format!("password worker: {e}")))?
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let store = state.store();
    store.set_password(&login, &hash, true).await?;
    store.delete_user_sessions(&login).await?;
    store
        .append_event(
            None,
            &current.actor(),
            "password-reset",
            &format!("login {login}"),
            Timestamp::now(),
        )
        .await?;
    one_time_page(Nav::of(&current), &login, &otp, false)
}

#[derive(Template)]
#[template(path = "config.html")]
struct ConfigPage {
    nav: Option<Nav>,
    rows: Vec<(String, String)>,
}

pub(crate) async fn config(
    State(state): State<AppState>,
    Authed(current): Authed,
) -> Result<Response, WebError> {
    authz::admin_only(&current.user)?;
    let c = state.config();
    let mut rows = vec![
        (
            "store backend".to_owned(),
            state.store().backend().to_string(),
        ),
        (
            "web.secure_cookies".to_owned(),
            c.secure_cookies.to_string(),
        ),
        (
            "session lifetime".to_owned(),
            crate::pages::duration(c.session_ttl),
        ),
        (
            "session idle timeout".to_owned(),
            crate::pages::duration(c.idle_timeout),
        ),
        (
            "account lock".to_owned(),
            format!(
                "after {} failures, for {}",
                c.lock_after,
                crate::pages::duration(c.lock_for)
            ),
        ),
        (
            "per-address login limit".to_owned(),
            format!(
                "{} failures per {}",
                c.ip_max_failures,
                crate::pages::duration(c.ip_window)
            ),
        ),
        (
            "SLA (days)".to_owned(),
            format!(
                "critical {}, high {}, medium {}, low {}, unrated {}",
                c.sla.critical_days,
                c.sla.high_days,
                c.sla.medium_days,
                c.sla.low_days,
                c.sla.unrated_days
            ),
        ),
        (
            "WGs".to_owned(),
            c.wgs
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "replies to reporters".to_owned(),
            match &state.inner().team {
                Some(t) => format!("from {} (key {})", t.address(), t.fingerprint()),
                None => "not configured".to_owned(),
            },
        ),
        (
            "retry of decryption".to_owned(),
            if state.inner().retry.is_some() {
                "available"
            } else {
                "recorded only"
            }
            .to_owned(),
        ),
        ("now".to_owned(), opt_ts(Some(Timestamp::now()))),
    ];
    rows.extend(
        c.config_summary
            .iter()
            .map(|(k, v)| (display_line(k, 100), display_line(v, 400))),
    );
    render(&ConfigPage {
        nav: Some(Nav::of(&current)),
        rows,
    })
}
