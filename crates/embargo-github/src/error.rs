//! Errors, classified by what the caller should do next, and the backoff
//! the scheduler uses between attempts.

use std::time::Duration;

use rand::Rng;

use crate::config::RepoError;
use crate::draft::DraftError;

/// How long to wait on a rate limit that gave no usable hint (GitHub's
/// docs: wait at least a minute on a secondary limit).
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Never wait longer than this on one rate limit, whatever the headers say.
pub const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(3600);

/// What went wrong talking to GitHub.
///
/// - [`GitHubError::RateLimited`]: wait `retry_after`, then try again.
/// - [`GitHubError::Transient`]: 5xx, timeouts, connection errors, a
///   response that could not be read: try again with [`Backoff`]. A create
///   that failed this way may have happened: [`crate::Client::publish`]
///   looks for the issue before creating it again.
/// - [`GitHubError::Refused`]: GitHub said no (422 validation, 404 unknown
///   repository, 401/403 without a rate limit): the job fails where an
///   admin sees it; retrying is up to them.
/// - [`GitHubError::Config`]: the configuration cannot work (bad URL,
///   unreadable App key).
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("GitHub rate limit reached; retry after {}s", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    #[error("transient GitHub failure: {reason}")]
    Transient { reason: String },
    #[error("GitHub refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    #[error("GitHub configuration error: {0}")]
    Config(String),
}

impl GitHubError {
    /// The wait GitHub asked for, when rate limited.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GitHubError::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// Worth retrying automatically (rate limits and transient failures).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GitHubError::RateLimited { .. } | GitHubError::Transient { .. }
        )
    }

    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            GitHubError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn transient(reason: impl Into<String>) -> Self {
        GitHubError::Transient {
            reason: reason.into(),
        }
    }
}

impl From<RepoError> for GitHubError {
    fn from(e: RepoError) -> Self {
        GitHubError::Config(e.to_string())
    }
}

impl From<DraftError> for GitHubError {
    fn from(e: DraftError) -> Self {
        GitHubError::Refused {
            status: 422,
            message: e.to_string(),
        }
    }
}

/// The headers that matter for classification, read from a response.
#[derive(Debug, Default, Clone)]
pub(crate) struct RateHeaders {
    pub retry_after: Option<String>,
    pub remaining: Option<String>,
    pub reset: Option<String>,
}

/// Classifies a non-success HTTP response. `message` is GitHub's error
/// message (already summarised); `now_secs` is the current Unix time.
pub(crate) fn classify_status(
    status: u16,
    headers: &RateHeaders,
    message: String,
    now_secs: i64,
) -> GitHubError {
    if status == 403 || status == 429 {
        if let Some(wait) = headers
            .retry_after
            .as_deref()
            .and_then(|v| parse_retry_after(v, now_secs))
        {
            return GitHubError::RateLimited {
                retry_after: wait.min(MAX_RATE_LIMIT_WAIT),
            };
        }
        let exhausted = headers.remaining.as_deref().map(str::trim) == Some("0");
        if exhausted {
            let wait = headers
                .reset
                .as_deref()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map(|reset| {
                    let secs = reset.saturating_sub(now_secs).max(1);
                    Duration::from_secs(u64::try_from(secs).unwrap_or(1))
                })
                .unwrap_or(DEFAULT_RATE_LIMIT_WAIT);
            return GitHubError::RateLimited {
                retry_after: wait.min(MAX_RATE_LIMIT_WAIT),
            };
        }
        if status == 429 || message.to_ascii_lowercase().contains("rate limit") {
            return GitHubError::RateLimited {
                retry_after: DEFAULT_RATE_LIMIT_WAIT,
            };
        }
    }
    if status >= 500 || status == 408 {
        return GitHubError::transient(format!("HTTP {status}: {message}"));
    }
    GitHubError::Refused { status, message }
}

/// `Retry-After`: delay-seconds or an HTTP-date.
fn parse_retry_after(value: &str, now_secs: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let secs = at.as_second().saturating_sub(now_secs).max(0);
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// Summarises a GitHub error body (`{message, errors[]}`) for an admin.
/// Bounded in length; carries no request content of ours.
pub(crate) fn summarise_error_body(status: u16, bytes: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        message: Option<String>,
        #[serde(default)]
        errors: Vec<serde_json::Value>,
    }
    let mut out = match serde_json::from_slice::<Body>(bytes) {
        Ok(body) => {
            let mut msg = body.message.unwrap_or_else(|| format!("HTTP {status}"));
            let details: Vec<String> = body
                .errors
                .iter()
                .map(|e| match e {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Object(o) => {
                        let get = |k: &str| o.get(k).and_then(|v| v.as_str()).unwrap_or("");
                        [get("resource"), get("field"), get("code"), get("message")]
                            .into_iter()
                            .filter(|s| !s.is_empty())
                            .collect::<Vec<_>>()
                            .join(" ")
                    }
                    other => other.to_string(),
                })
                .filter(|s| !s.is_empty())
                .collect();
            if !details.is_empty() {
                msg.push_str(" (");
                msg.push_str(&details.join("; "));
                msg.push(')');
            }
            msg
        }
        Err(_) => {
            let text = String::from_utf8_lossy(bytes).trim().to_owned();
            if text.is_empty() {
                format!("HTTP {status}")
            } else {
                text
            }
        }
    };
    if out.chars().count() > 300 {
        out = out.chars().take(299).collect();
        out.push('…');
    }
    out
}

/// Exponential backoff with jitter, capped: attempt `n` waits a random
/// time in `[d/2, d]` where `d = min(max, base * 2^n)`.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Default for Backoff {
    /// 2 s doubling up to 15 min.
    fn default() -> Self {
        Self::new(Duration::from_secs(2), Duration::from_secs(15 * 60))
    }
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max: max.max(base),
            attempt: 0,
        }
    }

    /// Attempts made so far (calls to a `next_*` method since the last reset).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Starts over, after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The un-jittered ceiling for attempt `n`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The delay for attempt `n` given a jitter fraction in `[0, 1]`
    /// (deterministic; for tests and for callers with their own RNG).
    pub fn delay_with(&self, attempt: u32, jitter: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            1.0
        };
        ceiling.mul_f64(0.5 + 0.5 * jitter)
    }

    /// The next delay, jittered; counts an attempt.
    pub fn next_delay(&mut self) -> Duration {
        let jitter: f64 = rand::thread_rng().r#gen();
        let d = self.delay_with(self.attempt, jitter);
        self.attempt = self.attempt.saturating_add(1);
        d
    }

    /// How long to wait before retrying after `err`: the wait GitHub asked
    /// for on a rate limit, a jittered backoff on a transient failure,
    /// `None` when the error is not worth an automatic retry (an admin
    /// decides). Counts an attempt.
    pub fn next_delay_for(&mut self, err: &GitHubError) -> Option<Duration> {
        match err {
            GitHubError::RateLimited { retry_after } => {
                self.attempt = self.attempt.saturating_add(1);
                Some(*retry_after)
            }
            GitHubError::Transient { .. } => Some(self.next_delay()),
            GitHubError::Refused { .. } | GitHubError::Config(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(retry_after: Option<&str>, remaining: Option<&str>, reset: Option<&str>) -> RateHeaders {
        RateHeaders {
            retry_after: retry_after.map(Into::into),
            remaining: remaining.map(Into::into),
            reset: reset.map(Into::into),
        }
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn classification() {
        let e = classify_status(429, &h(Some("7"), None, None), "x".into(), NOW);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        let reset = (NOW + 120).to_string();
        let e = classify_status(
            403,
            &h(None, Some("0"), Some(&reset)),
            "API rate limit exceeded".into(),
            NOW,
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
        // Reset already passed: wait a second, not zero or negative.
        let past = (NOW - 10).to_string();
        let e = classify_status(403, &h(None, Some("0"), Some(&past)), "x".into(), NOW);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
        // Absurd reset (milliseconds by mistake): capped.
        let e = classify_status(
            429,
            &h(None, Some("0"), Some("1507651200000")),
            "x".into(),
            NOW,
        );
        assert_eq!(e.retry_after(), Some(MAX_RATE_LIMIT_WAIT));
        // HTTP-date Retry-After.
        let date = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&jiff::Timestamp::from_second(NOW + 30).unwrap())
            .unwrap();
        let e = classify_status(429, &h(Some(&date), None, None), "x".into(), NOW);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
        // Secondary limit without headers.
        let e = classify_status(
            403,
            &h(None, None, None),
            "You have exceeded a secondary rate limit.".into(),
            NOW,
        );
        assert_eq!(e.retry_after(), Some(DEFAULT_RATE_LIMIT_WAIT));
        let e = classify_status(429, &h(None, Some("12"), None), "x".into(), NOW);
        assert_eq!(e.retry_after(), Some(DEFAULT_RATE_LIMIT_WAIT));
        // Plain 403: refused, not retried automatically.
        let e = classify_status(
            403,
            &h(None, Some("4999"), Some(&reset)),
            "Resource not accessible by integration".into(),
            NOW,
        );
        assert!(matches!(e, GitHubError::Refused { status: 403, .. }));
        assert!(!e.is_transient());
        for s in [500, 502, 503, 504, 408] {
            assert!(
                classify_status(s, &h(None, None, None), "x".into(), NOW).is_transient(),
                "{s}"
            );
        }
        for s in [400, 401, 404, 410, 422] {
            let e = classify_status(s, &h(Some("5"), None, None), "x".into(), NOW);
            assert_eq!(e.status(), Some(s));
        }
    }

    #[test]
    fn error_body_summary() {
        let body = br#"{"message":"Validation Failed","errors":[{"resource":"Label","code":"invalid","field":"color"}],"documentation_url":"https://docs.github.com"}"#;
        assert_eq!(
            summarise_error_body(422, body),
            "Validation Failed (Label color invalid)"
        );
        assert_eq!(summarise_error_body(502, b""), "HTTP 502");
        assert_eq!(
            summarise_error_body(502, b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
        assert_eq!(
            summarise_error_body(500, &[b'x'; 1000]).chars().count(),
            300
        );
    }

    #[test]
    fn backoff_grows_capped_with_jitter() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(b.delay_with(0, 1.0), Duration::from_secs(1));
        assert_eq!(b.delay_with(0, 0.0), Duration::from_millis(500));
        assert_eq!(b.delay_with(3, 1.0), Duration::from_secs(8));
        assert_eq!(b.delay_with(6, 1.0), Duration::from_secs(60));
        assert_eq!(b.delay_with(1000, 1.0), Duration::from_secs(60));
        assert_eq!(b.delay_with(1000, f64::NAN), Duration::from_secs(60));
        let mut b = b;
        for n in 0..20 {
            let d = b.next_delay();
            let c = b.ceiling(n);
            assert!(d >= c / 2 && d <= c, "{n}: {d:?} vs {c:?}");
        }
        assert_eq!(b.attempt(), 20);
        b.reset();
        assert_eq!(b.attempt(), 0);
        let rl = GitHubError::RateLimited {
            retry_after: Duration::from_secs(7),
        };
        assert_eq!(b.next_delay_for(&rl), Some(Duration::from_secs(7)));
        assert!(b.next_delay_for(&GitHubError::transient("x")).is_some());
        let refused = GitHubError::Refused {
            status: 422,
            message: "no".into(),
        };
        assert_eq!(b.next_delay_for(&refused), None);
    }
}
