//! Public key publication, without authentication:
//!
//! * `GET /.well-known/security.txt`: RFC 9116 (Contact, Encryption,
//!   Expires, Policy, Preferred-Languages, Canonical), optionally
//!   cleartext-signed with the team key;
//! * the team key through the Web Key Directory, direct method
//!   (`/.well-known/openpgpkey/hu/{hash}` and the `policy` file), and
//!   the advanced method's paths for the security address's domain
//!   (`/.well-known/openpgpkey/{domain}/…`, used when
//!   `openpgpkey.{domain}` points here);
//! * `GET /.well-known/embargo/team-key.asc`: the armored team key at a
//!   stable URL (what `Encryption:` points to).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use embargo_pgp::{Keyring, PgpError, cert_to_bytes, sign_cleartext, wkd_hash};
use jiff::{SignedDuration, Timestamp};

/// Path of the armored team key (the stable key URL).
pub const TEAM_KEY_PATH: &str = "/.well-known/embargo/team-key.asc";
/// Path of the security.txt file.
pub const SECURITY_TXT_PATH: &str = "/.well-known/security.txt";

/// Default validity of security.txt (RFC 9116 recommends less than a
/// year).
pub const DEFAULT_EXPIRES_IN: SignedDuration = SignedDuration::from_hours(365 * 24);

/// Public caching: the key and security.txt change rarely.
const PUBLIC_CACHE: &str = "public, max-age=3600";

/// What the public endpoints publish.
#[derive(Clone, Debug)]
pub struct PublicConfig {
    /// The security address (`security@project.example`): `Contact:`
    /// and the WKD address.
    pub security_address: String,
    /// The team's public certificate, binary (WKD).
    pub team_cert_binary: Vec<u8>,
    /// The team's public certificate, ASCII armored (the key URL).
    pub team_cert_armored: String,
    /// `Policy:` (the disclosure policy page), when set.
    pub policy_url: Option<String>,
    /// `Encryption:`: an absolute `https://` URL of the armored key,
    /// normally `https://{host}/.well-known/embargo/team-key.asc`.
    pub key_url: String,
    /// `Canonical:`: the absolute URL security.txt is served at, when
    /// known (RFC 9116 recommends it, in particular for a signed file).
    pub canonical_url: Option<String>,
    /// `Expires:` is now + this (per request when unsigned; at signing
    /// time when signed).
    pub expires_in: SignedDuration,
    /// The cleartext-signed security.txt, built at start-up with
    /// [`PublicConfig::sign_security_txt`]; served instead of the
    /// per-request text when set.  Its `Expires:` is fixed at signing
    /// time, so a process must be restarted (re-signed) within
    /// `expires_in`.
    pub signed_security_txt: Option<String>,
    /// `Preferred-Languages:` (e.g. `en`, or `en, de`).
    pub preferred_languages: String,
}

impl PublicConfig {
    /// A configuration publishing the keyring's current key for
    /// `security_address`, with the key at `key_url`; no policy, no
    /// canonical URL, unsigned, `expires_in` 365 days, `en`.
    pub fn new(
        security_address: impl Into<String>,
        keyring: &Keyring,
        key_url: impl Into<String>,
    ) -> Result<Self, PgpError> {
        Ok(PublicConfig {
            security_address: security_address.into(),
            team_cert_binary: cert_to_bytes(&keyring.public_cert())?,
            team_cert_armored: keyring.public_armored()?,
            policy_url: None,
            key_url: key_url.into(),
            canonical_url: None,
            expires_in: DEFAULT_EXPIRES_IN,
            signed_security_txt: None,
            preferred_languages: "en".into(),
        })
    }

    /// Builds security.txt as of `now` and cleartext-signs it with the
    /// keyring's current key; from then on that text is served.
    pub fn sign_security_txt(&mut self, keyring: &Keyring, now: Timestamp) -> Result<(), PgpError> {
        let text = security_txt_text(self, now);
        self.signed_security_txt = Some(sign_cleartext(&text, keyring)?);
        Ok(())
    }

    /// The local part and the (lower-cased) domain of the security
    /// address; `None` when it has no `@`.
    fn address_parts(&self) -> Option<(&str, String)> {
        let (local, domain) = self.security_address.rsplit_once('@')?;
        Some((local, domain.to_ascii_lowercase()))
    }

    /// Whether `hash` (from a WKD URL) is the security address's.
    fn wkd_matches(&self, hash: &str) -> bool {
        self.address_parts()
            .is_some_and(|(local, _)| wkd_hash(local).eq_ignore_ascii_case(hash))
    }

    fn domain_matches(&self, domain: &str) -> bool {
        self.address_parts()
            .is_some_and(|(_, own)| own.eq_ignore_ascii_case(domain))
    }
}

/// The unsigned security.txt as of `now` (RFC 9116): `Expires:` is
/// `now + expires_in`, RFC 3339 in UTC, whole seconds.
pub fn security_txt_text(cfg: &PublicConfig, now: Timestamp) -> String {
    let expires = now.checked_add(cfg.expires_in).unwrap_or(Timestamp::MAX);
    // Whole seconds: `2026-01-01T12:00:00Z`.
    let expires = Timestamp::from_second(expires.as_second()).unwrap_or(expires);
    let mut out = String::new();
    out.push_str("# Reports of security vulnerabilities: please encrypt to our key.\n");
    push_field(
        &mut out,
        "Contact",
        &format!("mailto:{}", cfg.security_address),
    );
    push_field(&mut out, "Encryption", &cfg.key_url);
    push_field(&mut out, "Expires", &expires.to_string());
    if let Some(policy) = &cfg.policy_url {
        push_field(&mut out, "Policy", policy);
    }
    if !cfg.preferred_languages.trim().is_empty() {
        push_field(&mut out, "Preferred-Languages", &cfg.preferred_languages);
    }
    if let Some(canonical) = &cfg.canonical_url {
        push_field(&mut out, "Canonical", canonical);
    }
    out
}

/// One `Name: value` line; line breaks in configured values are dropped
/// so a value cannot inject fields.
fn push_field(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.extend(value.chars().filter(|c| !c.is_control()));
    out.push('\n');
}

/// The public endpoints (no state besides `cfg`, no authentication).
pub fn public_router(cfg: Arc<PublicConfig>) -> Router {
    Router::new()
        .route(SECURITY_TXT_PATH, get(security_txt))
        .route(TEAM_KEY_PATH, get(team_key))
        .route("/.well-known/openpgpkey/policy", get(wkd_policy))
        .route("/.well-known/openpgpkey/hu/{hash}", get(wkd_direct))
        .route(
            "/.well-known/openpgpkey/{domain}/policy",
            get(wkd_advanced_policy),
        )
        .route(
            "/.well-known/openpgpkey/{domain}/hu/{hash}",
            get(wkd_advanced),
        )
        .with_state(cfg)
}

fn respond(content_type: &'static str, body: impl IntoResponse, cors: bool) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static(PUBLIC_CACHE));
    if cors {
        // WKD: let web-based OpenPGP clients fetch the key.
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    res
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

async fn security_txt(State(cfg): State<Arc<PublicConfig>>) -> Response {
    let text = match &cfg.signed_security_txt {
        Some(signed) => signed.clone(),
        None => security_txt_text(&cfg, Timestamp::now()),
    };
    respond("text/plain; charset=utf-8", text, false)
}

async fn team_key(State(cfg): State<Arc<PublicConfig>>) -> Response {
    respond("application/pgp-keys", cfg.team_cert_armored.clone(), true)
}

async fn wkd_policy() -> Response {
    respond("text/plain; charset=utf-8", "", true)
}

/// The direct method.  The `?l=` query parameter (the unhashed local
/// part) is ignored: the hash identifies the address.
async fn wkd_direct(State(cfg): State<Arc<PublicConfig>>, Path(hash): Path<String>) -> Response {
    wkd_key(&cfg, &hash)
}

async fn wkd_advanced_policy(
    State(cfg): State<Arc<PublicConfig>>,
    Path(domain): Path<String>,
) -> Response {
    if cfg.domain_matches(&domain) {
        wkd_policy().await
    } else {
        not_found()
    }
}

async fn wkd_advanced(
    State(cfg): State<Arc<PublicConfig>>,
    Path((domain, hash)): Path<(String, String)>,
) -> Response {
    if cfg.domain_matches(&domain) {
        wkd_key(&cfg, &hash)
    } else {
        not_found()
    }
}

fn wkd_key(cfg: &PublicConfig, hash: &str) -> Response {
    if cfg.wkd_matches(hash) {
        respond(
            "application/octet-stream",
            cfg.team_cert_binary.clone(),
            true,
        )
    } else {
        not_found()
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use embargo_pgp::{SignatureStatus, generate_team_key, parse_certs, verify_inline};
    use tower::ServiceExt;

    const ADDR: &str = "security@project.example";
    /// `gpg-wks-client --print-wkd-hash security@project.example`
    const HASH: &str = "t5s8ztdbon8yzntexy6oz5y48etqsnbb";
    const KEY_URL: &str = "https://project.example/.well-known/embargo/team-key.asc";

    fn setup() -> (Keyring, PublicConfig) {
        let team = Keyring::from(generate_team_key(&format!("Project Security <{ADDR}>")).unwrap());
        let cfg = PublicConfig::new(ADDR, &team, KEY_URL).unwrap();
        (team, cfg)
    }

    async fn get(cfg: &Arc<PublicConfig>, uri: &str) -> (StatusCode, Option<String>, Vec<u8>) {
        let res = public_router(cfg.clone())
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let ct = res
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = to_bytes(res.into_body(), 1 << 20).await.unwrap().to_vec();
        (status, ct, body)
    }

    fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
    }

    #[test]
    fn wkd_hash_of_the_address() {
        assert_eq!(wkd_hash("security"), HASH);
        assert_eq!(wkd_hash("Joe.Doe"), "iy9q119eutrkn8s1mk4r39qejnbu3n5q");
    }

    #[tokio::test]
    async fn security_txt_unsigned() {
        let (_, mut cfg) = setup();
        cfg.policy_url = Some("https://project.example/security-policy".into());
        cfg.canonical_url = Some("https://project.example/.well-known/security.txt".into());
        let cfg = Arc::new(cfg);
        let before = Timestamp::now();
        let (status, ct, body) = get(&cfg, SECURITY_TXT_PATH).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ct.as_deref(), Some("text/plain; charset=utf-8"));
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            field(&text, "Contact"),
            Some("mailto:security@project.example")
        );
        assert_eq!(field(&text, "Encryption"), Some(KEY_URL));
        assert_eq!(
            field(&text, "Policy"),
            Some("https://project.example/security-policy")
        );
        assert_eq!(field(&text, "Preferred-Languages"), Some("en"));
        assert_eq!(
            field(&text, "Canonical"),
            Some("https://project.example/.well-known/security.txt")
        );
        let expires_raw = field(&text, "Expires").unwrap();
        assert!(
            expires_raw.ends_with('Z') && !expires_raw.contains('.'),
            "{expires_raw}"
        );
        let expires: Timestamp = expires_raw.parse().unwrap();
        let days = expires.duration_since(before).as_hours() / 24;
        assert!((364..=365).contains(&days), "{days}");
        assert!(!text.contains("BEGIN PGP"));
    }

    #[test]
    fn security_txt_optional_fields_and_injection() {
        let (_, mut cfg) = setup();
        cfg.preferred_languages = "en, de".into();
        cfg.expires_in = SignedDuration::from_hours(24 * 30);
        cfg.key_url = "https://x.example/k.asc\nContact: mailto:evil@example.org".into();
        let now: Timestamp = "2030-05-01T10:20:30.123Z".parse().unwrap();
        let text = security_txt_text(&cfg, now);
        assert_eq!(field(&text, "Expires"), Some("2030-05-31T10:20:30Z"));
        assert_eq!(field(&text, "Preferred-Languages"), Some("en, de"));
        assert_eq!(field(&text, "Policy"), None);
        assert_eq!(field(&text, "Canonical"), None);
        assert_eq!(
            text.lines().filter(|l| l.starts_with("Contact:")).count(),
            1,
            "{text}"
        );
        assert_eq!(text.lines().count(), 5, "{text}");
    }

    #[tokio::test]
    async fn security_txt_signed() {
        let (team, mut cfg) = setup();
        let now: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        cfg.sign_security_txt(&team, now).unwrap();
        let cfg = Arc::new(cfg);
        let (status, ct, body) = get(&cfg, SECURITY_TXT_PATH).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ct.as_deref(), Some("text/plain; charset=utf-8"));
        assert!(body.starts_with(b"-----BEGIN PGP SIGNED MESSAGE-----\n"));
        let v = verify_inline(&body, &[team.public_cert()], 1 << 20).unwrap();
        assert_eq!(v.signatures.len(), 1);
        assert_eq!(v.signatures[0].status, SignatureStatus::Good);
        let text = String::from_utf8(v.content.to_vec()).unwrap();
        // Fixed at signing time.
        assert_eq!(field(&text, "Expires"), Some("2031-01-01T00:00:00Z"));
        assert_eq!(
            field(&text, "Contact"),
            Some("mailto:security@project.example")
        );
        // Served the same each time.
        assert_eq!(get(&cfg, SECURITY_TXT_PATH).await.2, body);
    }

    #[tokio::test]
    async fn team_key_at_stable_url() {
        let (team, cfg) = setup();
        let cfg = Arc::new(cfg);
        let (status, ct, body) = get(&cfg, TEAM_KEY_PATH).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ct.as_deref(), Some("application/pgp-keys"));
        assert!(body.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"));
        let certs = parse_certs(&body).unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].fingerprint().to_hex(), team.fingerprint());
        assert!(!certs[0].is_tsk());
    }

    #[tokio::test]
    async fn wkd_direct_and_advanced() {
        let (team, cfg) = setup();
        let cfg = Arc::new(cfg);

        let (status, _, body) = get(&cfg, "/.well-known/openpgpkey/policy").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.is_empty());

        for uri in [
            format!("/.well-known/openpgpkey/hu/{HASH}"),
            format!("/.well-known/openpgpkey/hu/{HASH}?l=security"),
            format!("/.well-known/openpgpkey/hu/{HASH}?l=Security"),
            format!("/.well-known/openpgpkey/project.example/hu/{HASH}?l=security"),
            format!("/.well-known/openpgpkey/Project.Example/hu/{HASH}"),
        ] {
            let (status, ct, body) = get(&cfg, &uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert_eq!(ct.as_deref(), Some("application/octet-stream"), "{uri}");
            // Binary, not armored.
            assert!(!body.starts_with(b"-----"), "{uri}");
            assert_eq!(body, cfg.team_cert_binary, "{uri}");
            let certs = parse_certs(&body).unwrap();
            assert_eq!(certs.len(), 1);
            assert_eq!(certs[0].fingerprint().to_hex(), team.fingerprint());
            assert!(!certs[0].is_tsk());
        }

        let (status, _, body) = get(&cfg, "/.well-known/openpgpkey/project.example/policy").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.is_empty());

        let other = wkd_hash("joe.doe");
        for uri in [
            format!("/.well-known/openpgpkey/hu/{other}"),
            format!("/.well-known/openpgpkey/hu/{other}?l=joe.doe"),
            "/.well-known/openpgpkey/hu/security".to_owned(),
            format!("/.well-known/openpgpkey/other.example/hu/{HASH}"),
            "/.well-known/openpgpkey/other.example/policy".to_owned(),
        ] {
            let (status, _, _) = get(&cfg, &uri).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        }
    }

    /// GnuPG's own WKD client computes the URL we serve.
    #[test]
    fn gpg_wks_client_agrees() {
        let tool = ["/usr/lib/gnupg/gpg-wks-client", "gpg-wks-client"]
            .into_iter()
            .find_map(|t| {
                std::process::Command::new(t)
                    .args(["--print-wkd-hash", "Security@project.example"])
                    .output()
                    .ok()
                    .filter(|o| o.status.success())
            });
        let Some(out) = tool else {
            eprintln!("SKIPPED: gpg-wks-client not found");
            return;
        };
        let line = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            line.split_whitespace().next(),
            Some(wkd_hash("Security").as_str())
        );
        assert_eq!(line.split_whitespace().next(), Some(HASH));
    }
}
