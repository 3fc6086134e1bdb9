//! What the report, disclosure, review and scan handlers share: the
//! report a user may see or act on, the redirect after an action, the
//! empty form of a button (its CSRF token is checked by the middleware),
//! and downloads.

use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Redirect, Response};
use embargo_domain::{Report, TrackingId};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Current;
use crate::authz;
use crate::error::WebError;

/// The form of a button that only carries its CSRF token.
#[derive(Deserialize)]
pub(crate) struct EmptyForm {}

/// A tracking ID from the path (404 when it does not parse).
pub(crate) fn parse_id(s: &str) -> Result<TrackingId, WebError> {
    s.parse().map_err(|_| WebError::NotFound)
}

/// Loads the domain view of a report the user may see (404 otherwise).
pub(crate) async fn visible_report(
    state: &AppState,
    current: &Current,
    id: &str,
) -> Result<Report, WebError> {
    let id = parse_id(id)?;
    let report = state.store().load_domain_report(&id).await?;
    authz::visible(&current.user, report.wg.as_ref())?;
    Ok(report)
}

/// A report the user may see *and* act on (auditors: 403).
pub(crate) async fn actionable(
    state: &AppState,
    current: &Current,
    id: &str,
) -> Result<Report, WebError> {
    let report = visible_report(state, current, id).await?;
    authz::may_act(&current.user)?;
    Ok(report)
}

/// Back to the report page, with the flash of `what` (`?done=`).
pub(crate) fn done(id: &TrackingId, what: &str) -> Response {
    Redirect::to(&format!("/reports/{id}?done={what}")).into_response()
}

/// A download: `content_type`, `no-store`, and the `Content-Disposition`
/// when there is one (`nosniff` and the CSP come from the global headers).
pub(crate) fn download(
    body: impl IntoResponse,
    content_type: &'static str,
    disposition: Option<HeaderValue>,
) -> Response {
    let mut res = (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response();
    if let Some(disposition) = disposition {
        res.headers_mut().insert(CONTENT_DISPOSITION, disposition);
    }
    res
}
