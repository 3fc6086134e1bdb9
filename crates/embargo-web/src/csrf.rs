//! CSRF protection of every state-changing request.
//!
//! Each session has a random secret (sealed in the store); its token is
//! `base64url(HMAC-SHA256(secret, "embargo-csrf-v1"))`, put in a hidden
//! `csrf` field of every form. The login form has no session yet: its
//! token is the HMAC, under a key held in memory, of a random nonce kept in
//! a `SameSite=Strict` cookie. [`guard`] runs before every handler: a
//! request other than GET/HEAD without a valid token is answered 403.
//! Tokens are compared in constant time (`Mac::verify_slice`).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::AppState;
use crate::auth::{self, SessionExt};
use crate::error::WebError;

/// Largest form accepted (a reply or a key can be long).
pub const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

const SESSION_LABEL: &[u8] = b"embargo-csrf-v1";
const LOGIN_LABEL: &[u8] = b"embargo-login-csrf-v1:";

fn mac(key: &[u8], parts: &[&[u8]]) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).ok()?;
    for p in parts {
        m.update(p);
    }
    Some(m)
}

/// The CSRF token of a session secret.
pub fn token(secret: &[u8]) -> String {
    mac(secret, &[SESSION_LABEL])
        .map(|m| URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether `token` is the token of `secret` (constant time).
pub fn verify(secret: &[u8], token: &str) -> bool {
    let Ok(raw) = URL_SAFE_NO_PAD.decode(token.trim()) else {
        return false;
    };
    mac(secret, &[SESSION_LABEL]).is_some_and(|m| m.verify_slice(&raw).is_ok())
}

/// The login form's token for the nonce in its cookie.
pub fn login_token(key: &[u8], nonce: &str) -> String {
    mac(key, &[LOGIN_LABEL, nonce.as_bytes()])
        .map(|m| URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

fn verify_login(key: &[u8], nonce: &str, token: &str) -> bool {
    let Ok(raw) = URL_SAFE_NO_PAD.decode(token.trim()) else {
        return false;
    };
    !nonce.is_empty()
        && mac(key, &[LOGIN_LABEL, nonce.as_bytes()]).is_some_and(|m| m.verify_slice(&raw).is_ok())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

/// The middleware: checks the token of every request that is not GET or
/// HEAD, then hands the (buffered) form on to the handler.
pub(crate) async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if is_safe(req.method()) {
        return next.run(req).await;
    }
    let form_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return WebError::Csrf.into_response();
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
        Ok(b) => b,
        Err(_) => return WebError::TooLarge.into_response(),
    };
    let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v));
    let Some(token) = token else {
        return WebError::Csrf.into_response();
    };
    let ok = if parts.uri.path() == "/login" {
        let nonce = auth::cookie(
            &parts.headers,
            auth::login_cookie_name(state.config().secure_cookies),
        );
        nonce.is_some_and(|n| verify_login(state.inner().login_key.as_ref(), &n, &token))
    } else {
        parts
            .extensions
            .get::<SessionExt>()
            .is_some_and(|s| verify(&s.0.csrf_secret, &token))
    };
    if !ok {
        tracing::info!(
            path = parts.uri.path(),
            "request refused: CSRF token missing or invalid"
        );
        return WebError::Csrf.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let t = token(b"secret one");
        assert!(verify(b"secret one", &t));
        assert!(!verify(b"secret two", &t));
        assert!(!verify(b"secret one", ""));
        assert!(!verify(b"secret one", "not base64 !"));
        let l = login_token(b"key", "nonce");
        assert!(verify_login(b"key", "nonce", &l));
        assert!(!verify_login(b"key", "other", &l));
        assert!(!verify_login(b"key", "", &login_token(b"key", "")));
    }
}
