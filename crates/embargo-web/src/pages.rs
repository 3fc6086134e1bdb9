//! What every page shares: the navigation bar, rendering, and formatting
//! of times and durations.

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use embargo_domain::Role;
use jiff::{SignedDuration, Timestamp};

use crate::auth::Current;
use crate::error::WebError;

/// The navigation bar of a signed-in page.
#[derive(Debug, Clone)]
pub struct Nav {
    pub login: String,
    pub role: &'static str,
    pub is_admin: bool,
    /// The session's CSRF token, for the logout form.
    pub csrf: String,
    /// Whether the account must change its password first (the bar shows
    /// nothing else).
    pub pending: bool,
}

impl Nav {
    pub(crate) fn of(current: &Current) -> Self {
        Nav {
            login: current.user.login.to_string(),
            role: current.user.role.as_str(),
            is_admin: current.user.role == Role::Admin,
            csrf: current.csrf_token.clone(),
            pending: current.user.must_change_password,
        }
    }
}

/// Renders a template into an HTML response.
pub(crate) fn render<T: Template>(page: &T) -> Result<Response, WebError> {
    page.render()
        .map(|html| Html(html).into_response())
        .map_err(|e| WebError::Internal(format!("template: {e}")))
}

/// `2026-03-01 10:00 UTC`.
pub fn ts(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

pub fn opt_ts(t: Option<Timestamp>) -> String {
    t.map(ts).unwrap_or_else(|| "—".to_owned())
}

/// `3d 4h`, `5h 12m`, `42m`, `12s`.
pub fn duration(d: SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    let (days, hours, mins) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {mins}m")
    } else if mins > 0 {
        format!("{mins}m")
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(SignedDuration::from_hours(76)), "3d 4h");
        assert_eq!(duration(SignedDuration::from_mins(312)), "5h 12m");
        assert_eq!(duration(SignedDuration::from_mins(42)), "42m");
        assert_eq!(duration(SignedDuration::from_secs(12)), "12s");
        assert_eq!(
            ts("2026-03-01T10:00:00Z".parse().unwrap()),
            "2026-03-01 10:00 UTC"
        );
    }
}
