//! The report list, the report page, its audit trail, attachment
//! downloads, and the actions on a report.
//!
//! Every state change goes through [`embargo_domain::Report::apply`] and
//! is persisted with [`embargo_store::Store::apply_report_update`] (state
//! check and audit event in one transaction). Every view of decrypted
//! content appends a `viewed` or `downloaded` event *before* the content
//! is sent.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::Response;
use embargo_domain::{Action, Report, Severity, State as ReportState, TrackingId, WgName};
use embargo_outbound::RelayContext;
use embargo_pgp::{Cert, cert_has_email, parse_certs};
use embargo_store::{
    Direction, NewMessage, ReportCursor, ReportQuery, ReportSort, SigStatus, Signature,
};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use uuid::Uuid;

use crate::AppState;
use crate::actions::{EmptyForm, actionable, done, download, visible_report};
use crate::auth::{Authed, Current};
use crate::authz::{self, Scope};
use crate::error::WebError;
use crate::pages::{Nav, opt_ts, render, ts};
use crate::text::{
    ascii_filename, display_block, display_line, rfc5987, safe_filename, url_encode,
};

/// Events shown on the report page (the audit page shows them all).
const PAGE_EVENTS: u32 = 100;
const AUDIT_EVENTS: u32 = 10_000;
const MAX_NOTE_BYTES: usize = 64 * 1024;
const MAX_REPLY_BYTES: usize = 256 * 1024;

/// An `<option>` of a `<select>`.
pub(crate) struct SelectOpt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn opts<I: IntoIterator<Item = (String, String)>>(items: I, selected: &str) -> Vec<SelectOpt> {
    items
        .into_iter()
        .map(|(value, label)| SelectOpt {
            selected: value == selected,
            value,
            label,
        })
        .collect()
}

fn severity_opts(selected: &str, any: bool) -> Vec<SelectOpt> {
    let mut items: Vec<(String, String)> = Vec::new();
    if any {
        items.push((String::new(), "any".to_owned()));
    }
    items.extend(
        Severity::ALL
            .iter()
            .rev()
            .map(|s| (s.as_str().to_owned(), s.as_str().to_owned())),
    );
    opts(items, selected)
}

// ---------------------------------------------------------------- list

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    wg: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    reporter: String,
    #[serde(default)]
    age: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    after: String,
}

pub(crate) struct ListRow {
    pub id: String,
    pub state: &'static str,
    pub wg: String,
    pub severity: &'static str,
    pub subject: String,
    pub reporter: String,
    pub created: String,
    pub updated: String,
    pub messages: u64,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ListPage {
    nav: Option<Nav>,
    states: Vec<SelectOpt>,
    wgs: Vec<SelectOpt>,
    wg_locked: Option<String>,
    severities: Vec<SelectOpt>,
    ages: Vec<SelectOpt>,
    sorts: Vec<SelectOpt>,
    reporter: String,
    rows: Vec<ListRow>,
    next_url: Option<String>,
    first_url: Option<String>,
    partial: bool,
}

const AGES: [(&str, &str); 6] = [
    ("", "any age"),
    ("1d", "filed in the last day"),
    ("7d", "filed in the last 7 days"),
    ("30d", "filed in the last 30 days"),
    ("gt30d", "older than 30 days"),
    ("gt90d", "older than 90 days"),
];

fn bad(what: &str) -> WebError {
    WebError::BadRequest(format!("Unknown value for the {what} filter."))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Authed(current): Authed,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let user = &current.user;
    let now = Timestamp::now();
    let mut query = ReportQuery {
        limit: state.config().page_size,
        ..ReportQuery::default()
    };
    if !q.state.is_empty() {
        query.state = Some(q.state.parse().map_err(|_| bad("state"))?);
    }
    if !q.severity.is_empty() {
        query.severity = Some(q.severity.parse().map_err(|_| bad("severity"))?);
    }
    if !q.wg.is_empty() {
        query.wg = Some(WgName::parse(&q.wg).map_err(|_| bad("WG"))?);
    }
    let scope = authz::scope(user);
    match scope {
        Scope::All => {}
        Scope::Wg(wg) => query.wg = Some(wg.clone()),
        Scope::Nothing => query.wg = None,
    }
    let reporter = q.reporter.trim().chars().take(200).collect::<String>();
    if !reporter.is_empty() {
        query.reporter = Some(reporter.clone());
    }
    let day = SignedDuration::from_hours(24);
    match q.age.as_str() {
        "" => {}
        "1d" => query.created_since = Some(now - day),
        "7d" => query.created_since = Some(now - day * 7),
        "30d" => query.created_since = Some(now - day * 30),
        "gt30d" => query.created_before = Some(now - day * 30),
        "gt90d" => query.created_before = Some(now - day * 90),
        _ => return Err(bad("age")),
    }
    if !q.sort.is_empty() {
        query.sort = ReportSort::parse(&q.sort).ok_or_else(|| bad("sort"))?;
    }
    if !q.after.is_empty() {
        query.after = Some(ReportCursor::parse(&q.after).ok_or_else(|| bad("page"))?);
    }
    let page = match scope {
        Scope::Nothing => embargo_store::ReportPage {
            reports: Vec::new(),
            next: None,
            scanned: 0,
        },
        _ => state.store().report_page(&query).await?,
    };

    // The query string of this filter set, for the pagination links.
    let mut base = String::from("/reports?");
    for (k, v) in [
        ("state", &q.state),
        ("wg", &q.wg),
        ("severity", &q.severity),
        ("reporter", &reporter),
        ("age", &q.age),
        ("sort", &q.sort),
    ] {
        if !v.is_empty() {
            base.push_str(k);
            base.push('=');
            base.push_str(&url_encode(v));
            base.push('&');
        }
    }
    let partial = page.next.is_some() && page.reports.len() < query.limit as usize;
    let next_url = page
        .next
        .as_ref()
        .map(|c| format!("{base}after={}", url_encode(&c.to_string())));
    let first_url = query
        .after
        .is_some()
        .then(|| base.trim_end_matches(['&', '?']).to_owned());

    // The WGs reports can be routed to: the configured ones and the
    // registry's (an imported wgs.yaml). Read only when the filter is
    // shown: a WG lead's list is locked to their WG.
    let offered: Vec<WgName> = match scope {
        Scope::All => crate::review::routable_wgs(&state).await,
        Scope::Wg(_) | Scope::Nothing => Vec::new(),
    };
    let mut wg_items = vec![(String::new(), "any WG".to_owned())];
    wg_items.extend(
        offered
            .iter()
            .map(|w| (w.as_str().to_owned(), w.as_str().to_owned())),
    );
    if !q.wg.is_empty() && !offered.iter().any(|w| w.as_str() == q.wg) {
        wg_items.push((q.wg.clone(), q.wg.clone()));
    }
    let mut state_items = vec![(String::new(), "any state".to_owned())];
    state_items.extend(
        ReportState::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), s.as_str().to_owned())),
    );
    let sort_items = [
        ("newest", "newest first"),
        ("oldest", "oldest first"),
        ("updated", "recently active"),
    ]
    .map(|(a, b)| (a.to_owned(), b.to_owned()));
    let sort_selected = if q.sort.is_empty() {
        "newest"
    } else {
        q.sort.as_str()
    };

    let rows = page
        .reports
        .iter()
        .map(|r| ListRow {
            id: r.id.to_string(),
            state: r.state.as_str(),
            wg: r.wg.as_ref().map(|w| w.to_string()).unwrap_or_default(),
            severity: r.severity.map(|s| s.as_str()).unwrap_or(""),
            subject: display_line(&r.subject, 200),
            reporter: display_line(&r.reporter, 120),
            created: ts(r.created_at),
            updated: ts(r.updated_at),
            messages: r.message_count,
        })
        .collect();
    render(&ListPage {
        nav: Some(Nav::of(&current)),
        states: opts(state_items, &q.state),
        wgs: opts(wg_items, &q.wg),
        wg_locked: match scope {
            Scope::Wg(w) => Some(w.to_string()),
            Scope::Nothing => Some("(none)".to_owned()),
            Scope::All => None,
        },
        severities: severity_opts(&q.severity, true),
        ages: opts(AGES.map(|(a, b)| (a.to_owned(), b.to_owned())), &q.age),
        sorts: opts(sort_items, sort_selected),
        reporter,
        rows,
        next_url,
        first_url,
        partial,
    })
}

// ---------------------------------------------------------------- report page

pub(crate) struct AttachmentView {
    pub url: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
}

pub(crate) struct MessageView {
    pub id: String,
    pub inbound: bool,
    pub from: String,
    pub subject: String,
    pub date: String,
    pub received: String,
    pub size: u64,
    pub encryption: &'static str,
    pub encryption_class: &'static str,
    pub decrypt_error: String,
    pub signature: &'static str,
    pub signature_class: &'static str,
    pub signer: String,
    pub body: String,
    pub headers: String,
    pub attachments: Vec<AttachmentView>,
    pub unreadable: bool,
}

pub(crate) struct EventView {
    pub at: String,
    pub actor: String,
    pub kind: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    nav: Option<Nav>,
    csrf: String,
    id: String,
    state: &'static str,
    wg: String,
    severity: &'static str,
    subject: String,
    reporter: String,
    created: String,
    updated: String,
    embargo_until: String,
    duplicate_of: String,
    acknowledged: String,
    triaged: String,
    flash: Option<&'static str>,
    can_act: bool,
    can_triage: bool,
    can_accept: bool,
    can_close: bool,
    wg_options: Vec<SelectOpt>,
    wg_free: bool,
    severity_options: Vec<SelectOpt>,
    reply_enabled: bool,
    reply_subject: String,
    messages: Vec<MessageView>,
    events: Vec<EventView>,
    event_count: u64,
    more_events: bool,
    /// WGs the registry suggests (triagers decide).
    suggestions: Vec<crate::review::SuggestionView>,
    /// The disclosure section (`templates/disclosure.html`).
    disclosure: Option<crate::disclosure::Section>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Option<Nav>,
    id: String,
    events: Vec<EventView>,
    event_count: u64,
}

#[derive(Deserialize, Default)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    done: String,
    /// The time zone an embargo end was just entered in.
    #[serde(default)]
    zone: String,
}

fn flash(done: &str) -> Option<&'static str> {
    Some(match done {
        "triage" => "Triaged.",
        "accept" => "Accepted.",
        "reject" => "Rejected.",
        "duplicate" => "Marked as a duplicate.",
        "withdraw" => "Withdrawn.",
        "note" => "Note added.",
        "reply" => "Reply queued for delivery to the reporter.",
        "retry" => "Decryption retried with the keys known now; see the audit trail.",
        "retry-recorded" => {
            "Retry of decryption requested and recorded in the audit trail. Retrying is not wired up in this deployment: ask an operator to re-import the message once the key is available."
        }
        other => return crate::disclosure::flash(other),
    })
}

fn event_views(events: &[embargo_store::Event]) -> Vec<EventView> {
    events
        .iter()
        .map(|e| EventView {
            at: ts(e.at),
            actor: e.actor.to_string(),
            kind: display_line(&e.kind, 64),
            detail: display_block(&e.detail),
        })
        .collect()
}

pub(crate) async fn show(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, WebError> {
    let report = visible_report(&state, &current, &id).await?;
    let store = state.store();
    let now = Timestamp::now();
    // Recorded before anything is shown.
    store
        .append_event(
            Some(&report.id),
            &current.actor(),
            "viewed",
            "report page",
            now,
        )
        .await?;
    let view = store.report_view(&report.id, PAGE_EVENTS).await?;
    let r = &view.report;
    let id_text = r.id.to_string();
    let can_act = authz::may_act(&current.user).is_ok() && !r.state.is_closed();
    let user_wg = current.user.wg.as_ref().map(|w| w.as_str().to_owned());
    let selected_wg =
        r.wg.as_ref()
            .map(|w| w.as_str().to_owned())
            .or(user_wg)
            .unwrap_or_default();
    let wg_list: Vec<(String, String)> = match authz::scope(&current.user) {
        Scope::Wg(w) => vec![(w.to_string(), w.to_string())],
        Scope::Nothing => Vec::new(),
        Scope::All => crate::review::routable_wgs(&state)
            .await
            .iter()
            .map(|w| (w.to_string(), w.to_string()))
            .collect(),
    };
    let wg_free = wg_list.is_empty() && matches!(authz::scope(&current.user), Scope::All);
    let messages: Vec<MessageView> = view
        .messages
        .iter()
        .map(|m| {
            let (encryption, encryption_class) = match (m.encrypted, m.decrypted) {
                (true, true) => ("encrypted, decrypted", "ok"),
                (true, false) => ("encrypted, NOT decrypted", "bad"),
                (false, _) => ("not encrypted", "warn"),
            };
            let (signature, signature_class) = match m.signature.status {
                SigStatus::Good if m.signature.matches_sender => {
                    ("good signature, signer matches sender", "ok")
                }
                SigStatus::Good => ("good signature, signer does NOT match sender", "warn"),
                SigStatus::Bad => ("BAD signature", "bad"),
                SigStatus::UnknownKey => ("signed by an unknown key", "warn"),
                SigStatus::None => ("not signed", "neutral"),
            };
            MessageView {
                id: m.id.to_string(),
                inbound: m.direction == Direction::Inbound,
                from: display_line(&m.from, 300),
                subject: display_line(&m.subject, 300),
                date: opt_ts(m.date),
                received: ts(m.received_at),
                size: m.size,
                encryption,
                encryption_class,
                decrypt_error: m
                    .decrypt_error
                    .as_deref()
                    .map(|e| display_line(e, 100))
                    .unwrap_or_default(),
                signature,
                signature_class,
                signer: m
                    .signature
                    .signer
                    .as_deref()
                    .map(|s| display_line(s, 100))
                    .unwrap_or_default(),
                body: display_block(&m.body_text),
                headers: display_block(&m.headers),
                attachments: m
                    .attachments
                    .iter()
                    .map(|a| AttachmentView {
                        url: format!("/reports/{id_text}/attachments/{}", a.id),
                        name: display_line(&safe_filename(a.filename.as_deref()), 120),
                        content_type: a.content_type.clone(),
                        size: a.size,
                        sha256: a.sha256.clone(),
                    })
                    .collect(),
                unreadable: m.direction == Direction::Inbound
                    && ((m.encrypted && !m.decrypted)
                        || m.signature.status == SigStatus::UnknownKey),
            }
        })
        .collect();
    let subject = display_line(&r.subject, 300);
    let disclosure = crate::disclosure::section(
        &state,
        &current,
        &crate::disclosure::Facts {
            id: &r.id,
            state: r.state,
            severity: r.severity,
            created_at: r.created_at,
            wg: r.wg.as_ref(),
        },
        &q.zone,
    )
    .await?;
    let reply_subject = if r.subject.trim_start().to_lowercase().starts_with("re:") {
        display_line(&r.subject, 300)
    } else {
        format!("Re: {}", display_line(&r.subject, 300))
    };
    let mut res = render(&ReportPage {
        nav: Some(Nav::of(&current)),
        csrf: current.csrf_token.clone(),
        id: id_text.clone(),
        state: r.state.as_str(),
        wg: r.wg.as_ref().map(|w| w.to_string()).unwrap_or_default(),
        severity: r.severity.map(|s| s.as_str()).unwrap_or(""),
        subject,
        reporter: display_line(&r.reporter, 300),
        created: ts(r.created_at),
        updated: ts(r.updated_at),
        embargo_until: opt_ts(r.embargo_until),
        duplicate_of: r
            .duplicate_of
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or_default(),
        acknowledged: opt_ts(r.acknowledged_at),
        triaged: opt_ts(r.triaged_at),
        flash: flash(&q.done),
        can_act,
        can_triage: can_act && matches!(r.state, ReportState::New | ReportState::Triaged),
        can_accept: can_act && r.state == ReportState::Triaged,
        can_close: can_act && r.state != ReportState::Scheduled,
        wg_options: opts(wg_list, &selected_wg),
        wg_free,
        severity_options: severity_opts(r.severity.map(|s| s.as_str()).unwrap_or(""), false),
        reply_enabled: state.inner().team.is_some(),
        reply_subject,
        messages,
        events: event_views(&view.events),
        event_count: view.event_count,
        more_events: view.event_count > view.events.len() as u64,
        suggestions: if can_act && matches!(r.state, ReportState::New | ReportState::Triaged) {
            crate::review::suggestions(&state, &r.id).await
        } else {
            Vec::new()
        },
        disclosure,
    })?;
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

pub(crate) async fn audit(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let report = visible_report(&state, &current, &id).await?;
    let store = state.store();
    store
        .append_event(
            Some(&report.id),
            &current.actor(),
            "viewed",
            "audit trail",
            Timestamp::now(),
        )
        .await?;
    let view = store.report_view(&report.id, AUDIT_EVENTS).await?;
    let mut res = render(&AuditPage {
        nav: Some(Nav::of(&current)),
        id: report.id.to_string(),
        events: event_views(&view.events),
        event_count: view.event_count,
    })?;
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// An attachment, for download only: `application/octet-stream`,
/// `Content-Disposition: attachment` with a sanitised name (RFC 5987 for
/// the UTF-8 form), `nosniff` (global), a sandboxing CSP, `no-store`.
pub(crate) async fn attachment(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path((id, attachment)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let report = visible_report(&state, &current, &id).await?;
    let aid = Uuid::parse_str(&attachment).map_err(|_| WebError::NotFound)?;
    let store = state.store();
    let (meta, content) = store.report_attachment(&report.id, aid).await?;
    store
        .append_event(
            Some(&report.id),
            &current.actor(),
            "downloaded",
            &format!("attachment {aid}"),
            Timestamp::now(),
        )
        .await?;
    let safe = safe_filename(meta.filename.as_deref());
    let disposition = format!(
        "attachment; filename=\"{}\"; filename*={}",
        ascii_filename(&safe),
        rfc5987(&safe)
    );
    let disposition = HeaderValue::from_str(&disposition)
        .unwrap_or_else(|_| HeaderValue::from_static("attachment; filename=\"attachment.bin\""));
    Ok(download(
        content.to_vec(),
        "application/octet-stream",
        Some(disposition),
    ))
}

// ---------------------------------------------------------------- actions

/// Decides `action` with the domain rules and persists it with its audit
/// event.
async fn apply(
    state: &AppState,
    current: &Current,
    report: &Report,
    action: Action,
    detail: &str,
) -> Result<Response, WebError> {
    let now = Timestamp::now();
    let next = report
        .apply(&action, now, &state.config().policy)
        .map_err(|refusal| WebError::Refused(refusal.to_string()))?;
    let kind = action.kind().as_str();
    state
        .store()
        .apply_report_update(report.state, &next, &current.actor(), kind, detail, now)
        .await?;
    Ok(done(&report.id, kind_flash(kind)))
}

fn kind_flash(kind: &str) -> &'static str {
    match kind {
        "triage" => "triage",
        "accept" => "accept",
        "reject" => "reject",
        "mark-duplicate" => "duplicate",
        "withdraw" => "withdraw",
        _ => "",
    }
}

#[derive(Deserialize)]
pub(crate) struct TriageForm {
    wg: String,
    severity: String,
}

pub(crate) async fn triage(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
    Form(form): Form<TriageForm>,
) -> Result<Response, WebError> {
    let report = actionable(&state, &current, &id).await?;
    let wg = WgName::parse(form.wg.trim())
        .map_err(|_| WebError::BadRequest("Choose a WG (a-z, 0-9, '-').".to_owned()))?;
    let configured = crate::review::routable_wgs(&state).await;
    if !configured.is_empty() && !configured.contains(&wg) {
        return Err(WebError::BadRequest(
            "That WG is not configured.".to_owned(),
        ));
    }
    authz::may_triage_to(&current.user, &wg)?;
    let severity: Severity = form
        .severity
        .parse()
        .map_err(|_| WebError::BadRequest("Choose a severity.".to_owned()))?;
    let hook: Option<Arc<dyn crate::RetryDecryption>> = state.inner().retry.clone();
    if let Some(hook) = hook
        && let Some(run) = hook.triage(&report.id, &wg, severity, &current.actor())
    {
        return match run.await {
            Ok(()) => Ok(done(&report.id, "triage")),
            Err(crate::TriageFailure::Refused(why)) => Err(WebError::Refused(why)),
            Err(crate::TriageFailure::Conflict) => Err(WebError::Refused(
                "The report changed meanwhile; reload and try again.".to_owned(),
            )),
            Err(crate::TriageFailure::Unavailable(e)) => Err(WebError::Unavailable(e)),
        };
    }
    let detail = format!("wg {wg}, severity {severity}");
    apply(
        &state,
        &current,
        &report,
        Action::Triage { wg, severity },
        &detail,
    )
    .await
}

pub(crate) async fn accept(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
    Form(_): Form<EmptyForm>,
) -> Result<Response, WebError> {
    let report = actionable(&state, &current, &id).await?;
    let accepted = apply(&state, &current, &report, Action::Accept, "").await?;
    // The accept has committed: it stands whatever the placeholder does.
    Ok(
        match crate::placeholder::after_accept(&state, &report.id, report.wg.as_ref()).await {
            Some(what) => done(&report.id, what),
            None => accepted,
        },
    )
}

pub(crate) async fn reject(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
    Form(_): Form<EmptyForm>,
) -> Result<Response, WebError> {
    let report = actionable(&state, &current, &id).await?;
    apply(&state, &current, &report, Action::Reject, "").await
}

pub(crate) async fn withdraw(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
    Form(_): Form<EmptyForm>,
) -> Result<Response, WebError> {
    let report = actionable(&state, &current, &id).await?;
    if report.state == ReportState::Scheduled {
        // The publication job and the approvals go with it.
        return crate::disclosure::withdraw_scheduled(&state, &current, &report.id).await;
    }
    apply(&state, &current, &report, Action::Withdraw, "").await
}

#[derive(Deserialize)]
pub(crate) struct DuplicateForm {
    of: String,
}

pub(crate) async fn duplicate(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
    Form(form): Form<DuplicateForm>,
) -> Result<Response, WebError> {
    let report = actionable(&state, &current, &id).await?;
    let no_such =
        || WebError::BadRequest("There is no such report to be a duplicate of.".to_owned());
    let of: TrackingId = form.of.trim().parse().map_err(|_| no_such())?;
    let original = match state.store().load_domain_report(&of).await {
        Ok(r) => r,
        Err(embargo_store::StoreError::NotFound(_)) => return Err(no_such()),
        Err(e) => return Err(e.into()),
    };
    if !authz::can_see(&current.user, original.wg.as_ref()) {
        return Err(no_such());
    }
    let detail = format!("duplicate of {of}");
    apply(
        &state,
        &current,
        &report,
        Action::MarkDuplicate { of },
        &detail,
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct NoteForm {
    note: String,
}

pub(crate) async fn note(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
    Form(form): Form<NoteForm>,
) -> Result<Response, WebError> {
    let report = actionable(&state, &current, &id).await?;
    let text = form.note.trim();
    if text.is_empty() || text.len() > MAX_NOTE_BYTES {
        return Err(WebError::BadRequest(
            "A note needs some text (at most 64 KiB).".to_owned(),
        ));
    }
    state
        .store()
        .append_event(
            Some(&report.id),
            &current.actor(),
            "note",
            text,
            Timestamp::now(),
        )
        .await?;
    Ok(done(&report.id, "note"))
}

#[derive(Deserialize)]
pub(crate) struct ReplyForm {
    #[serde(default)]
    subject: String,
    body: String,
    /// The reporter's key, ASCII-armored, when the gateway does not know it.
    #[serde(default)]
    key: String,
    /// Set when the member explicitly accepts sending in the clear.
    #[serde(default)]
    plaintext: Option<String>,
}

/// The bare address of `Name <addr>` or `addr`.
fn bare_address(s: &str) -> &str {
    match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => s.get(a + 1..b).unwrap_or(s).trim(),
        _ => s.trim(),
    }
}

/// The newest certificate among `blobs` that carries `address`.
fn reporter_cert(blobs: &[Vec<u8>], address: &str) -> Option<Cert> {
    blobs
        .iter()
        .filter_map(|b| parse_certs(b).ok())
        .flatten()
        .rfind(|c| cert_has_email(c, address))
}

pub(crate) async fn reply(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
    Form(form): Form<ReplyForm>,
) -> Result<Response, WebError> {
    let report = actionable(&state, &current, &id).await?;
    let Some(team) = state.inner().team.clone() else {
        return Err(WebError::Refused(
            "Replies need the team's mail identity, which this deployment does not configure."
                .to_owned(),
        ));
    };
    let body = form.body.replace("\r\n", "\n");
    if body.trim().is_empty() || body.len() > MAX_REPLY_BYTES {
        return Err(WebError::BadRequest(
            "A reply needs some text (at most 256 KiB).".to_owned(),
        ));
    }
    let store = state.store();
    let view = store.report_view(&report.id, 0).await?;
    let reporter = bare_address(&view.report.reporter).to_owned();

    // The reporter's key: pasted now, learned from their mail, or attached.
    let cert = if form.key.trim().is_empty() {
        let mut blobs: Vec<Vec<u8>> = store
            .reporter_keys(&report.id)
            .await?
            .iter()
            .map(|k| k.to_vec())
            .collect();
        blobs.extend(
            store
                .report_key_attachments(&report.id)
                .await?
                .iter()
                .map(|k| k.to_vec()),
        );
        reporter_cert(&blobs, &reporter)
    } else {
        let certs = parse_certs(form.key.as_bytes()).map_err(|_| {
            WebError::BadRequest("The pasted key is not an OpenPGP certificate.".to_owned())
        })?;
        certs.into_iter().next()
    };
    if cert.is_none() && form.plaintext.is_none() {
        return Err(WebError::Refused(
            "No OpenPGP key of the reporter is known, so the reply cannot be encrypted. Paste the reporter's key, or tick \"send unencrypted\" if the reporter agreed to plaintext."
                .to_owned(),
        ));
    }
    let subject = if form.subject.trim().is_empty() {
        format!("Re: {}", view.report.subject)
    } else {
        form.subject.trim().chars().take(300).collect()
    };
    let references: Vec<String> = view
        .messages
        .iter()
        .filter_map(|m| m.message_id.clone())
        .collect();
    let in_reply_to = view
        .messages
        .iter()
        .rev()
        .find(|m| m.direction == Direction::Inbound)
        .and_then(|m| m.message_id.clone());
    let member = current.user.email.clone();
    let now = Timestamp::now();
    let id = report.id.clone();
    let (compose_team, compose_subject, compose_body) =
        (team.clone(), subject.clone(), body.clone());
    let compose_id = id.clone();
    let composed = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = references.iter().map(String::as_str).collect();
        embargo_outbound::relay(&RelayContext {
            team: &compose_team,
            tracking_id: &compose_id,
            reporter: &reporter,
            reporter_cert: cert.as_ref(),
            subject: &compose_subject,
            body_text: &compose_body,
            attachments: &[],
            member: member.as_deref(),
            in_reply_to: in_reply_to.as_deref(),
            references: &refs,
            now,
        })
    })
    .await
    .map_err(|e| WebError::Internal(format!("compose worker: {e}")))?
    .map_err(|e| WebError::Refused(format!("The reply could not be composed: {e}")))?;

    let encrypted = composed.encrypted;
    let message_id = composed.message_id.clone();
    let record = NewMessage {
        message_id: Some(message_id.clone()),
        raw: composed.bytes.clone(),
        direction: Direction::Outbound,
        received_at: now,
        date: Some(now),
        from: team.address().to_owned(),
        subject,
        headers: String::new(),
        body_text: body,
        encrypted,
        decrypted: encrypted,
        decrypt_error: None,
        signature: Signature::none(),
        attachments: Vec::new(),
    };
    // The mail, the thread entry and the audit event commit together.
    let mut tx = store.begin().await?;
    let outbox = tx
        .enqueue_outbox(&composed.into_outbox(Some(id.clone())), now)
        .await?;
    tx.link_outbox_message(&message_id, outbox, Some(&id), "relay")
        .await?;
    tx.add_message(&id, &record).await?;
    tx.append_event(
        Some(&id),
        &current.actor(),
        "replied",
        &format!(
            "outbox {outbox}, {}",
            if encrypted {
                "encrypted"
            } else {
                "NOT encrypted"
            }
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(report = %id, %outbox, encrypted, "reply queued");
    Ok(done(&id, "reply"))
}

#[derive(Deserialize)]
pub(crate) struct RetryForm {
    #[serde(default)]
    message: String,
}

pub(crate) async fn retry_decryption(
    State(state): State<AppState>,
    Authed(current): Authed,
    Path(id): Path<String>,
    Form(form): Form<RetryForm>,
) -> Result<Response, WebError> {
    let report = actionable(&state, &current, &id).await?;
    let store = state.store();
    if !form.message.is_empty() {
        let mid = Uuid::parse_str(&form.message)
            .map_err(|_| WebError::BadRequest("No such message.".to_owned()))?;
        if !store.message_in_report(&report.id, mid).await? {
            return Err(WebError::BadRequest("No such message.".to_owned()));
        }
    }
    let now = Timestamp::now();
    let hook: Option<Arc<dyn crate::RetryDecryption>> = state.inner().retry.clone();
    match hook {
        Some(hook) => {
            let outcome = hook
                .retry(&report.id)
                .await
                .map_err(|e| WebError::Unavailable(format!("retry of decryption: {e}")))?;
            store
                .append_event(
                    Some(&report.id),
                    &current.actor(),
                    "decryption-retried",
                    &format!(
                        "examined {}, improved {}",
                        outcome.examined, outcome.improved
                    ),
                    now,
                )
                .await?;
            Ok(done(&report.id, "retry"))
        }
        None => {
            store
                .append_event(
                    Some(&report.id),
                    &current.actor(),
                    "decryption-retry-requested",
                    "",
                    now,
                )
                .await?;
            Ok(done(&report.id, "retry-recorded"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(bare_address("Ada <ada@example.org>"), "ada@example.org");
        assert_eq!(bare_address(" ada@example.org "), "ada@example.org");
        assert_eq!(bare_address("x> <"), "x> <");
    }

    #[test]
    fn flashes() {
        assert!(flash("reply").is_some());
        assert!(flash("<script>").is_none());
    }
}
