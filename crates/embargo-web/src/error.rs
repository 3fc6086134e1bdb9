//! [`WebError`]: everything a request can fail with, and the HTTP status
//! each maps to. Error pages are rendered from a template; messages never
//! carry report content.

use askama::Template;
use axum::http::StatusCode;
use axum::http::header::CACHE_CONTROL;
use axum::response::{Html, IntoResponse, Response};
use embargo_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Also what a WG lead gets for another WG's report: existence is not
    /// leaked.
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    /// A state-changing request without a valid CSRF token.
    #[error("missing or invalid CSRF token")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    /// The action is refused in the report's current state (the domain's
    /// reason, meant for the person who asked).
    #[error("{0}")]
    Refused(String),
    /// The report changed meanwhile, or the row exists.
    #[error("{0}")]
    Conflict(String),
    #[error("too many failed attempts; try again later")]
    TooManyRequests,
    #[error("request body too large")]
    TooLarge,
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Forbidden | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Refused(_) | WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            WebError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the page says: internal details stay in the log.
    fn public_message(&self) -> String {
        match self {
            WebError::NotFound => "There is nothing here.".to_owned(),
            WebError::Forbidden => "Your role does not allow this.".to_owned(),
            WebError::Csrf => {
                "The form was stale or did not come from this site. Reload the page and try again."
                    .to_owned()
            }
            WebError::BadRequest(m) | WebError::Refused(m) | WebError::Conflict(m) => m.clone(),
            WebError::TooManyRequests => self.to_string(),
            WebError::TooLarge => self.to_string(),
            WebError::Unavailable(_) => {
                "The store is unavailable right now. Try again in a moment.".to_owned()
            }
            WebError::Internal(_) => "Something went wrong; it has been logged.".to_owned(),
        }
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => WebError::NotFound,
            StoreError::Conflict(m) => WebError::Conflict(m),
            StoreError::Invalid(m) => WebError::BadRequest(m),
            e if e.is_temporary() => WebError::Unavailable(e.to_string()),
            e => WebError::Internal(e.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Option<crate::pages::Nav>,
    status: u16,
    reason: &'static str,
    message: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            WebError::Internal(m) => tracing::error!(error = %m, "request failed"),
            WebError::Unavailable(m) => tracing::warn!(error = %m, "store unavailable"),
            _ => tracing::debug!(status = status.as_u16(), "request refused"),
        }
        let page = ErrorPage {
            nav: None,
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error"),
            message: self.public_message(),
        };
        let body = page.render().unwrap_or_else(|_| "error".to_owned());
        (status, [(CACHE_CONTROL, "no-store")], Html(body)).into_response()
    }
}
