//! HTTP-level tests of every route, through the router (`oneshot`) with a
//! real store: SQLite, and PostgreSQL when `TEST_DATABASE_URL` is set
//! (mandatory under `CI=true`). Includes the authorization matrix: every
//! route × every role and anonymous, another WG's report, and every form
//! replayed without (or with someone else's) CSRF token.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{Method, StatusCode};
use common::{App, Client, PASSWORD, TestStore, login, test_config};
use embargo_domain::{Role, State};
use embargo_store::{NewAttachment, SigStatus, Signature, hash_token};
use embargo_web::{RetryDecryption, RetryOutcome, WebConfig, totp};
use jiff::Timestamp;

on_both_backends!(
    public_routes_and_headers,
    login_forced_change_logout,
    login_needs_its_csrf_token,
    lockout_and_ip_limit,
    totp_second_factor,
    cookie_attributes,
    list_filters_and_pagination,
    report_page_escapes_and_is_audited,
    attachment_download,
    actions_follow_the_domain_rules,
    reply_is_queued_with_its_event,
    retry_decryption,
    dashboard,
    admin_pages,
    authorization_matrix,
);

const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("content-security-policy", embargo_web::headers::CSP),
];

fn assert_security_headers(r: &common::Resp, what: &str) {
    for (k, v) in SECURITY_HEADERS {
        assert_eq!(r.header(k), Some(v), "{what}: {k}");
    }
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'self'"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));
}

async fn public_routes_and_headers(ts: TestStore) {
    let app = App::new(ts, test_config(), false).await;
    let anon = app.anonymous();
    for (path, status, ctype) in [
        ("/healthz", 200, "text/plain"),
        ("/readyz", 200, "text/plain"),
        ("/static/app.css", 200, "text/css"),
        ("/static/app.js", 200, "text/javascript"),
        ("/login", 200, "text/html"),
        ("/no/such/page", 404, "text/html"),
        ("/", 303, ""),
        ("/reports", 303, ""),
    ] {
        let r = anon.get(path).await;
        assert_eq!(r.status.as_u16(), status, "{path}");
        assert_security_headers(&r, path);
        if !ctype.is_empty() {
            assert!(
                r.header("content-type").unwrap().starts_with(ctype),
                "{path}"
            );
        }
        if status == 303 {
            assert_eq!(r.location(), Some("/login"));
        }
    }
    // Pages carry no inline script, style or handlers.
    let login_page = anon.get("/login").await.body;
    for bad in ["<style", "style=", "onclick", "onload", "<script>"] {
        assert!(!login_page.contains(bad), "{bad}");
    }
    assert!(login_page.contains("<script src=\"/static/app.js\""));
    let js = anon.get("/static/app.js").await.body;
    assert!(js.contains("data-confirm"));
}

async fn login_forced_change_logout(ts: TestStore) {
    let app = App::new(ts, test_config(), false).await;
    app.user("alice", Role::Triager, None, true).await;
    let mut c = app.anonymous();
    let r = c.log_in("alice", PASSWORD, "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/account/password"));
    // Nothing else before the change.
    for path in ["/", "/reports", "/account"] {
        let r = c.get(path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.location(), Some("/account/password"));
    }
    c.refresh_csrf().await;
    let id = app.report("s", "b").await;
    let r = c
        .post(&format!("/reports/{id}/note"), &[("note", "x")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let page = c.get("/account/password").await;
    assert!(page.body.contains("one-time password"));
    // Refusals: wrong current, too short, mismatch.
    for (cur, new, confirm) in [
        ("wrong", "a brand new passphrase", "a brand new passphrase"),
        (PASSWORD, "short", "short"),
        (PASSWORD, "a brand new passphrase", "another one entirely"),
    ] {
        let r = c
            .post(
                "/account/password",
                &[("current", cur), ("new", new), ("confirm", confirm)],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    let old_cookie = c.cookies.clone();
    let r = c
        .post(
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new", "a brand new passphrase"),
                ("confirm", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    c.absorb(&r);
    assert_ne!(c.cookies, old_cookie, "session rotated");
    assert_eq!(c.get("/").await.status, StatusCode::OK);
    // The old session is gone.
    let mut old = app.anonymous();
    old.cookies = old_cookie;
    assert_eq!(old.get("/").await.location(), Some("/login"));
    let u = app
        .store()
        .get_user(&login("alice"))
        .await
        .unwrap()
        .unwrap();
    assert!(!u.must_change_password);
    // The old password no longer works, the new one does.
    let mut other = app.anonymous();
    assert_eq!(
        other.log_in("alice", PASSWORD, "").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = other.log_in("alice", "a brand new passphrase", "").await;
    assert_eq!(r.location(), Some("/"));
    // Logout ends the session.
    c.refresh_csrf().await;
    let r = c.post("/logout", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/login"));
    c.absorb(&r);
    assert_eq!(c.get("/").await.location(), Some("/login"));
    // The store holds only hashes of session tokens.
    let (_, token) = other
        .cookies
        .iter()
        .find(|(k, _)| k == "embargo_session")
        .unwrap();
    assert!(app.store().get_session(token).await.unwrap().is_none());
    assert!(
        app.store()
            .get_session(&hash_token(token.as_bytes()))
            .await
            .unwrap()
            .is_some()
    );
}

async fn login_needs_its_csrf_token(ts: TestStore) {
    let app = App::new(ts, test_config(), false).await;
    app.user("bob", Role::Triager, None, false).await;
    let anon = app.anonymous();
    // No token.
    let r = anon
        .post_raw("/login", &[("login", "bob"), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A token without its nonce cookie.
    let form = anon.get("/login").await;
    let token = form.csrf_field().unwrap();
    let r = anon
        .post_raw(
            "/login",
            &[("csrf", &token), ("login", "bob"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Not a form.
    let r = anon.send(Method::POST, "/login", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // With both: fine.
    let mut c = app.anonymous();
    assert_eq!(c.log_in("bob", PASSWORD, "").await.location(), Some("/"));
}

async fn lockout_and_ip_limit(ts: TestStore) {
    let config = WebConfig {
        ip_max_failures: 8,
        ..test_config()
    };
    let app = App::new(ts, config, false).await;
    app.user("carol", Role::Triager, None, false).await;
    let mut c = app.anonymous();
    c.ip = Some("192.0.2.10:5000".parse().unwrap());
    for _ in 0..5 {
        let r = c.log_in("carol", "wrong password", "").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.body.contains("Login failed"));
    }
    let u = app
        .store()
        .get_user(&login("carol"))
        .await
        .unwrap()
        .unwrap();
    assert!(u.locked_until.unwrap() > Timestamp::now(), "locked after 5");
    // Locked: even the right password fails, with the same message.
    let r = c.log_in("carol", PASSWORD, "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Unknown logins fail the same way.
    let r = c.log_in("nobody", PASSWORD, "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c.log_in("Not A Login!", PASSWORD, "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // 8 failures from this address: 429, even for another account.
    app.user("dave", Role::Triager, None, false).await;
    let r = c.log_in("dave", PASSWORD, "").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Another address is not affected.
    let mut d = app.anonymous();
    d.ip = Some("192.0.2.11:5000".parse().unwrap());
    assert_eq!(d.log_in("dave", PASSWORD, "").await.location(), Some("/"));
    let events = app
        .store()
        .list_events(Timestamp::UNIX_EPOCH, 100)
        .await
        .unwrap();
    assert!(events.iter().any(|e| e.kind == "account-locked"));
}

async fn totp_second_factor(ts: TestStore) {
    let app = App::new(ts, test_config(), false).await;
    app.user("erin", Role::Auditor, None, false).await;
    let mut c = app.anonymous();
    c.log_in("erin", PASSWORD, "").await;
    c.refresh_csrf().await;
    let setup = c.post("/account/totp/setup", &[]).await;
    assert_eq!(setup.status, StatusCode::OK);
    let start = setup.body.find("id=\"totp-secret\">").unwrap() + 17;
    let secret_b32 = setup.body[start..start + 32].to_owned();
    let secret = totp::base32_decode(&secret_b32).unwrap();
    assert_eq!(secret.len(), 20);
    let now = Timestamp::now().as_second();
    let code = |t: i64| format!("{:06}", totp::hotp(&secret, totp::step_of(t), 6).unwrap());
    // A wrong code or password refuses.
    let r = c
        .post(
            "/account/totp/enable",
            &[
                ("secret", &secret_b32),
                ("code", "000000"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .post(
            "/account/totp/enable",
            &[
                ("secret", &secret_b32),
                // The current step: still inside the ±1 window if the
                // server's clock has moved into the next step meanwhile
                // (the window itself is unit-tested in totp.rs).
                ("code", &code(now)),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(c.get("/account").await.body.contains("enabled"));
    // Password alone no longer logs in; password and code do, once.
    let mut d = app.anonymous();
    assert_eq!(
        d.log_in("erin", PASSWORD, "").await.status,
        StatusCode::UNAUTHORIZED
    );
    let fresh = code(now + 30);
    assert_eq!(
        d.log_in("erin", PASSWORD, &fresh).await.location(),
        Some("/")
    );
    let mut e = app.anonymous();
    assert_eq!(
        e.log_in("erin", PASSWORD, &fresh).await.status,
        StatusCode::UNAUTHORIZED,
        "a code works once"
    );
    // Disabling needs the password.
    let r = c
        .post("/account/totp/disable", &[("password", "wrong")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .post("/account/totp/disable", &[("password", PASSWORD)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let u = app.store().get_user(&login("erin")).await.unwrap().unwrap();
    assert!(u.totp_secret.is_none());
}

async fn cookie_attributes(ts: TestStore) {
    let app = App::new(
        ts,
        WebConfig {
            secure_cookies: true,
            ..test_config()
        },
        false,
    )
    .await;
    app.user("frank", Role::Triager, None, false).await;
    let mut c = app.anonymous();
    let form = c.get("/login").await;
    let nonce = form.set_cookies();
    assert!(nonce[0].starts_with("__Host-embargo_login="));
    let r = c.log_in("frank", PASSWORD, "").await;
    let session = r
        .set_cookies()
        .into_iter()
        .find(|s| s.starts_with("__Host-embargo_session="))
        .unwrap();
    for attr in [
        "Path=/",
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
        "Max-Age=",
    ] {
        assert!(session.contains(attr), "{session}: {attr}");
    }
    assert!(!session.contains("Domain="));
    assert_eq!(c.get("/").await.status, StatusCode::OK);

    // Plain-HTTP localhost: no Secure, no __Host- prefix.
    let app2 = App::new(TestStore::sqlite().await, test_config(), false).await;
    app2.user("frank", Role::Triager, None, false).await;
    let mut c2 = app2.anonymous();
    let r = c2.log_in("frank", PASSWORD, "").await;
    let session = r
        .set_cookies()
        .into_iter()
        .find(|s| s.starts_with("embargo_session="))
        .unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
    assert!(!session.contains("Secure"));
}

async fn list_filters_and_pagination(ts: TestStore) {
    let app = App::new(
        ts,
        WebConfig {
            page_size: 2,
            ..test_config()
        },
        false,
    )
    .await;
    app.user("tri", Role::Triager, None, false).await;
    app.user("lead", Role::WgLead, Some("pipelines"), false)
        .await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.report(&format!("report {i}"), "body").await);
    }
    app.triage(&ids[0], "pipelines").await;
    app.triage(&ids[1], "notebooks").await;
    let c = app.session("tri").await;
    let mut seen = Vec::new();
    let mut url = "/reports".to_owned();
    loop {
        let r = c.get(&url).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        for id in &ids {
            if r.body.contains(&format!("href=\"/reports/{id}\"")) {
                seen.push(id.clone());
            }
        }
        let Some(start) = r.body.find("id=\"next-page\"") else {
            break;
        };
        let href_start = r.body[..start].rfind("href=\"").unwrap() + 6;
        let href_end = r.body[href_start..].find('"').unwrap() + href_start;
        url = r.body[href_start..href_end]
            .replace("&#38;", "&")
            .replace("&amp;", "&");
    }
    assert_eq!(seen.len(), 5);
    let body = c.get("/reports?state=triaged").await.body;
    assert!(body.contains(&ids[0].to_string()) && body.contains(&ids[1].to_string()));
    assert!(!body.contains(&ids[2].to_string()));
    let body = c
        .get("/reports?wg=notebooks&severity=high&age=1d&sort=oldest")
        .await
        .body;
    assert!(body.contains(&ids[1].to_string()) && !body.contains(&ids[0].to_string()));
    let body = c.get("/reports?reporter=ADA%40reporter").await.body;
    assert!(body.contains("report-link"));
    let body = c.get("/reports?reporter=nobody").await.body;
    assert!(body.contains("no-reports"));
    let body = c.get("/reports?age=gt90d").await.body;
    assert!(body.contains("no-reports"));
    for bad in [
        "state=open",
        "severity=urgent",
        "wg=Bad%20WG",
        "age=x",
        "sort=x",
        "after=x",
    ] {
        assert_eq!(
            c.get(&format!("/reports?{bad}")).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    // A WG lead sees their WG only, whatever the filter says.
    let l = app.session("lead").await;
    let body = l.get("/reports?wg=notebooks").await.body;
    assert!(body.contains(&ids[0].to_string()));
    assert!(!body.contains(&ids[1].to_string()));
    assert!(!body.contains(&ids[4].to_string()));
}

const HOSTILE_SUBJECT: &str = "<img src=x onerror=\"document.title='PWNED'\"> evil\u{202E}fdp.exe";
const HOSTILE_BODY: &str = "<script>window.__pwned=1</script>\n<a href=\"javascript:alert(1)\">x</a>\n<svg onload=alert(1)></svg><style>*{display:none}</style>\n</pre></article><iframe src=//evil>";

async fn report_page_escapes_and_is_audited(ts: TestStore) {
    let app = App::new(ts, test_config(), true).await;
    app.user("tri", Role::Triager, None, false).await;
    let id = app
        .report_with(HOSTILE_SUBJECT, HOSTILE_BODY, |m| {
            m.from = "\"<b>x</b>\" <a@b.example>".to_owned();
            m.signature = Signature {
                status: SigStatus::Good,
                signer: Some("0123456789ABCDEF0123456789ABCDEF01234567".to_owned()),
                matches_sender: true,
            };
        })
        .await;
    let c = app.session("tri").await;
    let r = c.get(&format!("/reports/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_security_headers(&r, "report page");
    for raw in [
        "<script>window",
        "<img src=x",
        "<svg onload",
        "<style>*",
        "<iframe",
        "<b>x</b>",
        "\u{202E}",
    ] {
        assert!(!r.body.contains(raw), "unescaped {raw:?}");
    }
    assert!(
        r.body
            .contains("&#60;script&#62;window.__pwned=1&#60;/script&#62;")
    );
    assert!(r.body.contains("[U+202E]"));
    assert!(r.body.contains("good signature, signer matches sender"));
    assert!(r.body.contains("encrypted, decrypted"));
    // The view is in the audit trail, with who.
    let events = app.events(&id).await;
    let viewed: Vec<_> = events.iter().filter(|e| e.kind == "viewed").collect();
    assert_eq!(viewed.len(), 1);
    assert_eq!(viewed[0].actor.as_str(), "tri");
    // The audit page too.
    let r = c.get(&format!("/reports/{id}/audit")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("report page"));
    assert_eq!(
        app.events(&id)
            .await
            .iter()
            .filter(|e| e.kind == "viewed")
            .count(),
        2
    );
    // Unknown and malformed IDs.
    assert_eq!(
        c.get("/reports/SEC-2026-9999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get("/reports/..%2F..%2Fetc").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get("/reports/%3Cscript%3E").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn attachment_download(ts: TestStore) {
    let app = App::new(ts, test_config(), false).await;
    app.user("tri", Role::Triager, None, false).await;
    let id = app
        .report_with("s", "see attached", |m| {
            m.attachments = vec![NewAttachment {
                filename: Some("../ev\"il\u{202E}lmth.pdf; x=1\r\n".to_owned()),
                content_type: "text/html".to_owned(),
                content: b"<script>alert(1)</script>".to_vec(),
            }];
        })
        .await;
    let view = app.store().report_view(&id, 0).await.unwrap();
    let aid = view.messages[0].attachments[0].id;
    let c = app.session("tri").await;
    let r = c.get(&format!("/reports/{id}/attachments/{aid}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let cd = r.header("content-disposition").unwrap();
    assert!(cd.starts_with("attachment; filename=\""), "{cd}");
    assert!(cd.contains("filename*=UTF-8''"), "{cd}");
    assert!(!cd.contains('\u{202E}') && !cd.contains("\r") && !cd.contains(".."));
    assert_eq!(
        cd,
        "attachment; filename=\"ev_il_lmth.pdf_ x=1__\"; filename*=UTF-8''ev_il_lmth.pdf_%20x%3D1__"
    );
    assert_eq!(r.bytes, b"<script>alert(1)</script>");
    assert!(
        app.events(&id)
            .await
            .iter()
            .any(|e| e.kind == "downloaded" && e.actor.as_str() == "tri")
    );
    // Another report's URL with this attachment: 404.
    let other = app.report("o", "b").await;
    assert_eq!(
        c.get(&format!("/reports/{other}/attachments/{aid}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get(&format!("/reports/{id}/attachments/not-a-uuid"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn actions_follow_the_domain_rules(ts: TestStore) {
    let app = App::new(ts, test_config(), false).await;
    app.user("tri", Role::Triager, None, false).await;
    let c = app.session("tri").await;
    let id = app.report("s", "b").await;
    let p = |a: &str| format!("/reports/{id}/{a}");
    // Accept before triage: refused by the domain, 409 with its reason.
    let r = c.post(&p("accept"), &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("must be triaged"));
    // Triage: unknown WG, bad severity.
    assert_eq!(
        c.post(&p("triage"), &[("wg", "elsewhere"), ("severity", "high")])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        c.post(&p("triage"), &[("wg", "pipelines"), ("severity", "urgent")])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let r = c
        .post(
            &p("triage"),
            &[("wg", "pipelines"), ("severity", "critical")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location(),
        Some(format!("/reports/{id}?done=triage").as_str())
    );
    let d = app.store().load_domain_report(&id).await.unwrap();
    assert_eq!(d.state, State::Triaged);
    assert_eq!(d.wg.unwrap().as_str(), "pipelines");
    assert!(
        c.get(&format!("/reports/{id}?done=triage"))
            .await
            .body
            .contains("Triaged.")
    );
    assert_eq!(
        c.post(&p("accept"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.store().load_domain_report(&id).await.unwrap().state,
        State::Accepted
    );
    // Notes.
    assert_eq!(
        c.post(&p("note"), &[("note", "  ")]).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        c.post(&p("note"), &[("note", "<b>checked</b> on 1.9")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let page = c.get(&format!("/reports/{id}")).await.body;
    assert!(page.contains("&#60;b&#62;checked&#60;/b&#62; on 1.9"));
    // Duplicates: of itself (domain refusal), of nothing, of another.
    assert_eq!(
        c.post(&p("duplicate"), &[("of", &id.to_string())])
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        c.post(&p("duplicate"), &[("of", "SEC-2026-9999")])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        c.post(&p("duplicate"), &[("of", "nonsense")]).await.status,
        StatusCode::BAD_REQUEST
    );
    let original = app.report("o", "b").await;
    assert_eq!(
        c.post(&p("duplicate"), &[("of", &original.to_string())])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let d = app.store().load_domain_report(&id).await.unwrap();
    assert_eq!(d.state, State::Duplicate);
    assert_eq!(d.duplicate_of, Some(original.clone()));
    // Closed: every further action is refused.
    for a in ["accept", "reject", "withdraw"] {
        assert_eq!(c.post(&p(a), &[]).await.status, StatusCode::CONFLICT, "{a}");
    }
    // Reject and withdraw on fresh reports.
    let r2 = app.report("r", "b").await;
    assert_eq!(
        c.post(&format!("/reports/{r2}/reject"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.store().load_domain_report(&r2).await.unwrap().state,
        State::Rejected
    );
    let r3 = app.report("w", "b").await;
    assert_eq!(
        c.post(&format!("/reports/{r3}/withdraw"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.store().load_domain_report(&r3).await.unwrap().state,
        State::Withdrawn
    );
    // The audit trail names who did what.
    let kinds: Vec<(String, String)> = app
        .events(&id)
        .await
        .into_iter()
        .map(|e| (e.kind, e.actor.to_string()))
        .collect();
    for k in ["triage", "accept", "note", "mark-duplicate"] {
        assert!(
            kinds.contains(&(k.to_owned(), "tri".to_owned())),
            "{k}: {kinds:?}"
        );
    }
}

async fn reply_is_queued_with_its_event(ts: TestStore) {
    let app = App::new(ts, test_config(), true).await;
    app.user("tri", Role::Triager, None, false).await;
    let reporter_key =
        embargo_pgp::generate_team_key("Ada Reporter <ada@reporter.example>").unwrap();
    let armored = reporter_key.public_armored().unwrap();
    let with_key = app
        .report_with("RCE", "details", |m| {
            m.attachments = vec![NewAttachment {
                filename: Some("key.asc".to_owned()),
                content_type: "application/pgp-keys".to_owned(),
                content: armored.clone().into_bytes(),
            }];
        })
        .await;
    let c = app.session("tri").await;
    let now = Timestamp::now();
    let before = app.store().outbox_counts(now).await.unwrap();
    let r = c
        .post(
            &format!("/reports/{with_key}/reply"),
            &[
                ("subject", ""),
                (
                    "body",
                    "Thanks, we reproduced it. tri@team.example will fix it.",
                ),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let after = app.store().outbox_counts(Timestamp::now()).await.unwrap();
    assert_eq!(after.ready, before.ready + 1);
    let events = app.events(&with_key).await;
    let replied = events.iter().find(|e| e.kind == "replied").unwrap();
    assert_eq!(replied.actor.as_str(), "tri");
    assert!(
        replied.detail.ends_with(", encrypted"),
        "{}",
        replied.detail
    );
    let view = app.store().report_view(&with_key, 0).await.unwrap();
    let out = view.messages.last().unwrap();
    assert_eq!(out.direction, embargo_store::Direction::Outbound);
    assert!(out.encrypted);
    assert!(out.body_text.contains("we reproduced it"));
    // The queued mail is encrypted: the text is not in it, nor the member's address.
    let claimed = app
        .store()
        .claim_outbox(
            "test",
            jiff::SignedDuration::from_mins(1),
            Timestamp::now(),
            10,
        )
        .await
        .unwrap();
    let mail = String::from_utf8_lossy(&claimed[0].body).into_owned();
    assert!(mail.contains("BEGIN PGP MESSAGE"));
    assert!(!mail.contains("reproduced"));
    assert!(!mail.contains("tri@team.example"));
    assert_eq!(claimed[0].recipients, ["ada@reporter.example"]);

    // No key known: refused unless the member accepts plaintext.
    let no_key = app.report("other", "b").await;
    let r = c
        .post(&format!("/reports/{no_key}/reply"), &[("body", "hello")])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("No OpenPGP key"));
    let r = c
        .post(
            &format!("/reports/{no_key}/reply"),
            &[("body", "hello"), ("key", "not a key")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .post(
            &format!("/reports/{no_key}/reply"),
            &[("body", "hello"), ("key", &armored)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = c
        .post(
            &format!("/reports/{no_key}/reply"),
            &[("body", "hello again"), ("plaintext", "yes")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let events = app.events(&no_key).await;
    let details: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "replied")
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(details.len(), 2);
    assert!(details[1].ends_with("NOT encrypted"));

    // Without the team identity: refused, nothing queued.
    let bare = App::new(TestStore::sqlite().await, test_config(), false).await;
    bare.user("tri", Role::Triager, None, false).await;
    let id = bare.report("s", "b").await;
    let c = bare.session("tri").await;
    let r = c
        .post(
            &format!("/reports/{id}/reply"),
            &[("body", "x"), ("plaintext", "yes")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        bare.store()
            .outbox_counts(Timestamp::now())
            .await
            .unwrap()
            .ready,
        0
    );
}

struct CountingRetry(AtomicUsize);

impl RetryDecryption for CountingRetry {
    fn retry<'a>(
        &'a self,
        _report: &'a embargo_domain::TrackingId,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<RetryOutcome, String>> + Send + 'a>,
    > {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {
            Ok(RetryOutcome {
                examined: 1,
                improved: 1,
            })
        })
    }
}

async fn retry_decryption(ts: TestStore) {
    let app = App::new(ts, test_config(), false).await;
    app.user("tri", Role::Triager, None, false).await;
    let id = app
        .report_with("s", "", |m| {
            m.decrypted = false;
            m.decrypt_error = Some("no-matching-key".to_owned());
        })
        .await;
    let c = app.session("tri").await;
    let page = c.get(&format!("/reports/{id}")).await.body;
    assert!(page.contains("encrypted, NOT decrypted") && page.contains("no-matching-key"));
    assert!(page.contains("Retry decryption"));
    let mid = app.store().report_view(&id, 0).await.unwrap().messages[0]
        .id
        .to_string();
    let r = c
        .post(
            &format!("/reports/{id}/retry-decryption"),
            &[("message", &mid)],
        )
        .await;
    assert_eq!(
        r.location(),
        Some(format!("/reports/{id}?done=retry-recorded").as_str())
    );
    assert!(
        app.events(&id)
            .await
            .iter()
            .any(|e| e.kind == "decryption-retry-requested")
    );
    let r = c
        .post(
            &format!("/reports/{id}/retry-decryption"),
            &[("message", &uuid::Uuid::now_v7().to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let hook = Arc::new(CountingRetry(AtomicUsize::new(0)));
    let app2 = App::with_retry(
        TestStore::sqlite().await,
        test_config(),
        false,
        Some(hook.clone()),
    )
    .await;
    app2.user("tri", Role::Triager, None, false).await;
    let id = app2.report("s", "b").await;
    let c = app2.session("tri").await;
    let r = c
        .post(&format!("/reports/{id}/retry-decryption"), &[])
        .await;
    assert_eq!(
        r.location(),
        Some(format!("/reports/{id}?done=retry").as_str())
    );
    assert_eq!(hook.0.load(Ordering::SeqCst), 1);
    let e = app2.events(&id).await;
    assert!(
        e.iter()
            .any(|e| e.kind == "decryption-retried" && e.detail == "examined 1, improved 1")
    );
}

async fn dashboard(ts: TestStore) {
    let app = App::new(ts, test_config(), false).await;
    app.user("aud", Role::Auditor, None, false).await;
    app.user("lead", Role::WgLead, Some("notebooks"), false)
        .await;
    let a = app.report("a", "b").await;
    app.triage(&a, "pipelines").await;
    app.report("b", "b").await;
    let c = app.session("aud").await;
    let r = c.get("/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<svg"));
    assert!(r.body.contains("id=\"total\">2<"));
    assert!(r.body.contains("Reports by WG"));
    assert!(!r.body.contains("style="));
    let l = app.session("lead").await;
    let r = l.get("/").await;
    assert!(
        r.body.contains("id=\"total\">0<"),
        "a WG lead sees their WG's figures"
    );
}

async fn admin_pages(ts: TestStore) {
    let app = App::new(
        ts,
        WebConfig {
            config_summary: vec![("database".to_owned(), "sqlite".to_owned())],
            ..test_config()
        },
        true,
    )
    .await;
    app.user("root", Role::Admin, None, false).await;
    let c = app.session("root").await;
    assert_eq!(c.get("/admin/users").await.status, StatusCode::OK);
    let r = c
        .post(
            "/admin/users",
            &[
                ("login", "newbie"),
                ("role", "wg-lead"),
                ("wg", ""),
                ("email", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "a WG lead needs a WG");
    let r = c
        .post(
            "/admin/users",
            &[
                ("login", "newbie"),
                ("role", "wg-lead"),
                ("wg", "pipelines"),
                ("email", "newbie@team.example"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let marker = "id=\"one-time-password\">";
    let start = r.body.find(marker).unwrap() + marker.len();
    let otp = r.body[start..start + 23].to_owned();
    let u = app
        .store()
        .get_user(&login("newbie"))
        .await
        .unwrap()
        .unwrap();
    assert!(u.must_change_password);
    assert_eq!(u.wg.unwrap().as_str(), "pipelines");
    let mut n = app.anonymous();
    assert_eq!(
        n.log_in("newbie", &otp, "").await.location(),
        Some("/account/password")
    );
    // The same login again: conflict.
    let r = c
        .post("/admin/users", &[("login", "newbie"), ("role", "triager")])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // Keys.
    assert_eq!(
        c.post("/admin/users/newbie/key", &[("key", "garbage")])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let key = embargo_pgp::generate_team_key("Newbie <newbie@team.example>").unwrap();
    let r = c
        .post(
            "/admin/users/newbie/key",
            &[("key", &key.public_armored().unwrap())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        app.store()
            .get_user(&login("newbie"))
            .await
            .unwrap()
            .unwrap()
            .pgp_cert
            .is_some()
    );
    assert!(
        c.get("/admin/users")
            .await
            .body
            .contains(&key.fingerprint())
    );
    assert_eq!(
        c.post("/admin/users/ghost/key", &[("key", "")])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Reset: new one-time password, sessions end.
    let r = c.post("/admin/users/newbie/reset", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(n.get("/account/password").await.location(), Some("/login"));
    assert_eq!(
        c.post("/admin/users/ghost/reset", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    // Configuration: no secrets.
    let r = c.get("/admin/config").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("security@project.example"));
    assert!(r.body.contains("database"));
    for secret in ["PRIVATE KEY", "password_hash", "argon2"] {
        assert!(!r.body.contains(secret));
    }
    let events = app
        .store()
        .list_events(Timestamp::UNIX_EPOCH, 100)
        .await
        .unwrap();
    for k in ["user-added", "user-key", "password-reset"] {
        assert!(
            events
                .iter()
                .any(|e| e.kind == k && e.actor.as_str() == "root"),
            "{k}"
        );
    }
}

// ---------------------------------------------------------------- the matrix

/// Expected outcome per role, in the order of [`ROLES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum X {
    Ok,
    /// 303 somewhere other than the login page.
    Done,
    /// 303 to the login page.
    SignIn,
    Bad,
    Forbidden,
    NotFound,
}

impl X {
    fn check(self, r: &common::Resp) -> bool {
        match self {
            X::Ok => r.status == StatusCode::OK,
            X::Done => r.status == StatusCode::SEE_OTHER && r.location() != Some("/login"),
            X::SignIn => r.status == StatusCode::SEE_OTHER && r.location() == Some("/login"),
            X::Bad => r.status == StatusCode::BAD_REQUEST,
            X::Forbidden => r.status == StatusCode::FORBIDDEN,
            X::NotFound => r.status == StatusCode::NOT_FOUND,
        }
    }
}

const ROLES: [&str; 5] = ["anonymous", "admin", "triager", "lead", "auditor"];

async fn authorization_matrix(ts: TestStore) {
    use X::*;
    let app = App::new(ts, test_config(), true).await;
    app.user("admin", Role::Admin, None, false).await;
    app.user("triager", Role::Triager, None, false).await;
    app.user("lead", Role::WgLead, Some("pipelines"), false)
        .await;
    app.user("auditor", Role::Auditor, None, false).await;
    app.user("victim", Role::Triager, None, false).await;

    let with_attachment = |m: &mut embargo_store::NewMessage| {
        m.attachments = vec![NewAttachment {
            filename: Some("poc.txt".to_owned()),
            content_type: "text/plain".to_owned(),
            content: b"poc".to_vec(),
        }];
    };
    let mine = app.report_with("mine", "b", with_attachment).await;
    app.triage(&mine, "pipelines").await;
    let other = app.report_with("other", "b", with_attachment).await;
    app.triage(&other, "notebooks").await;
    let untriaged = app.report("new", "b").await;
    let att = |id| {
        let store = app.store().clone();
        async move { store.report_view(&id, 0).await.unwrap().messages[0].attachments[0].id }
    };
    let a_mine = att(mine.clone()).await;
    let a_other = att(other.clone()).await;
    let pub_mine = common::disclosure::published(&app, "pipelines").await;
    let pub_other = common::disclosure::published(&app, "notebooks").await;
    // A release scan for /scans/{release}.
    let scan_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        scan_dir.path().join("one.json"),
        r#"{"ArtifactName":"ghcr.io/x/y:1","Results":[{"Target":"t","Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"p","InstalledVersion":"1","Severity":"HIGH"}]}]}"#,
    )
    .unwrap();
    embargo_review::import_scans(
        app.store(),
        &embargo_review::load_registry(app.store(), &[])
            .await
            .unwrap(),
        scan_dir.path(),
        "1.0.0",
        &mut |_| {},
        Timestamp::now(),
    )
    .await
    .unwrap();

    let mut clients: Vec<Client> = vec![app.anonymous()];
    for r in &ROLES[1..] {
        clients.push(app.session(r).await);
    }

    // GET routes: (path, expectations for anonymous, admin, triager, lead, auditor).
    let gets: Vec<(String, [X; 5])> = vec![
        ("/healthz".into(), [Ok, Ok, Ok, Ok, Ok]),
        ("/readyz".into(), [Ok, Ok, Ok, Ok, Ok]),
        ("/static/app.css".into(), [Ok, Ok, Ok, Ok, Ok]),
        ("/static/app.js".into(), [Ok, Ok, Ok, Ok, Ok]),
        ("/login".into(), [Ok, Ok, Ok, Ok, Ok]),
        ("/".into(), [SignIn, Ok, Ok, Ok, Ok]),
        ("/reports".into(), [SignIn, Ok, Ok, Ok, Ok]),
        (format!("/reports/{mine}"), [SignIn, Ok, Ok, Ok, Ok]),
        (format!("/reports/{other}"), [SignIn, Ok, Ok, NotFound, Ok]),
        (
            format!("/reports/{untriaged}"),
            [SignIn, Ok, Ok, NotFound, Ok],
        ),
        (
            "/reports/SEC-2026-9999".into(),
            [SignIn, NotFound, NotFound, NotFound, NotFound],
        ),
        (format!("/reports/{mine}/audit"), [SignIn, Ok, Ok, Ok, Ok]),
        (
            format!("/reports/{other}/audit"),
            [SignIn, Ok, Ok, NotFound, Ok],
        ),
        (
            format!("/reports/{mine}/attachments/{a_mine}"),
            [SignIn, Ok, Ok, Ok, Ok],
        ),
        (
            format!("/reports/{other}/attachments/{a_other}"),
            [SignIn, Ok, Ok, NotFound, Ok],
        ),
        (
            format!("/reports/{mine}/attachments/{a_other}"),
            [SignIn, NotFound, NotFound, NotFound, NotFound],
        ),
        (
            "/admin/users".into(),
            [SignIn, Ok, Forbidden, Forbidden, Forbidden],
        ),
        (
            "/admin/config".into(),
            [SignIn, Ok, Forbidden, Forbidden, Forbidden],
        ),
        (
            format!("/reports/{pub_mine}/advisory.osv.json"),
            [SignIn, Ok, Ok, Ok, Ok],
        ),
        (
            format!("/reports/{pub_mine}/advisory.csaf.json"),
            [SignIn, Ok, Ok, Ok, Ok],
        ),
        (
            format!("/reports/{pub_other}/advisory.osv.json"),
            [SignIn, Ok, Ok, NotFound, Ok],
        ),
        (
            format!("/reports/{pub_other}/advisory.csaf.json"),
            [SignIn, Ok, Ok, NotFound, Ok],
        ),
        (
            format!("/reports/{mine}/advisory.osv.json"),
            [SignIn, NotFound, NotFound, NotFound, NotFound],
        ),
        ("/account".into(), [SignIn, Ok, Ok, Ok, Ok]),
        ("/account/password".into(), [SignIn, Ok, Ok, Ok, Ok]),
        ("/review".into(), [SignIn, Ok, Ok, Ok, Ok]),
        ("/review?since=2026-01-01".into(), [SignIn, Ok, Ok, Ok, Ok]),
        (
            "/review?since=yesterday".into(),
            [SignIn, Bad, Bad, Bad, Bad],
        ),
        ("/review/agenda.md".into(), [SignIn, Ok, Ok, Ok, Ok]),
        ("/review/agenda.json".into(), [SignIn, Ok, Ok, Ok, Ok]),
        ("/scans".into(), [SignIn, Ok, Ok, Ok, Ok]),
        ("/scans/1.0.0".into(), [SignIn, Ok, Ok, Ok, Ok]),
        (
            "/scans/9.9.9".into(),
            [SignIn, NotFound, NotFound, NotFound, NotFound],
        ),
        (
            "/no/such/route".into(),
            [NotFound, NotFound, NotFound, NotFound, NotFound],
        ),
    ];
    let mut checked = 0;
    for (path, want) in &gets {
        for (i, c) in clients.iter().enumerate() {
            let r = c.get(path).await;
            assert!(
                want[i].check(&r),
                "GET {path} as {}: want {:?}, got {} {:?}",
                ROLES[i],
                want[i],
                r.status,
                r.location()
            );
            assert_security_headers(&r, path);
            checked += 1;
        }
    }

    // POST routes on a fresh report per attempt, in the lead's WG (own)
    // and in another WG (other).
    type Form = Vec<(&'static str, String)>;
    let actions: Vec<(&str, Form)> = vec![
        (
            "triage",
            vec![("wg", "pipelines".into()), ("severity", "low".into())],
        ),
        ("accept", vec![]),
        ("reject", vec![]),
        ("duplicate", vec![("of", mine.to_string())]),
        ("withdraw", vec![]),
        ("note", vec![("note", "n".into())]),
        (
            "reply",
            vec![("body", "hello".into()), ("plaintext", "yes".into())],
        ),
        ("retry-decryption", vec![]),
    ];
    for (action, form) in &actions {
        for (wg_name, lead_sees) in [("pipelines", true), ("notebooks", false)] {
            let want = [
                Forbidden,
                Done,
                Done,
                if lead_sees { Done } else { NotFound },
                Forbidden,
            ];
            for (i, c) in clients.iter().enumerate() {
                let id = app.report("fresh", "b").await;
                // Every fresh report is routed, so the lead can see the own-WG one.
                app.triage(&id, wg_name).await;
                let path = format!("/reports/{id}/{action}");
                let fields: Vec<(&str, &str)> =
                    form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                // Replays without a token, and with another session's token, first.
                if i > 0 {
                    let r = c.post_raw(&path, &fields).await;
                    assert_eq!(
                        r.status,
                        StatusCode::FORBIDDEN,
                        "POST {action} without token as {}",
                        ROLES[i]
                    );
                    let mut foreign = fields.clone();
                    let other_token = clients[if i == 1 { 2 } else { 1 }].csrf.clone().unwrap();
                    foreign.push(("csrf", &other_token));
                    let r = c.post_raw(&path, &foreign).await;
                    assert_eq!(
                        r.status,
                        StatusCode::FORBIDDEN,
                        "POST {action} with a foreign token as {}",
                        ROLES[i]
                    );
                    checked += 2;
                }
                let before = app.events(&id).await.len();
                let r = c.post(&path, &fields).await;
                assert!(
                    want[i].check(&r),
                    "POST {action} ({wg_name}) as {}: want {:?}, got {} {}",
                    ROLES[i],
                    want[i],
                    r.status,
                    r.body.chars().take(300).collect::<String>()
                );
                let after = app.events(&id).await.len();
                if want[i] == Done {
                    assert!(after > before, "{action} is audited");
                } else {
                    assert_eq!(after, before, "a refused {action} leaves no trace");
                }
                checked += 1;
            }
        }
    }

    // Disclosure POST routes, each on a fresh report at the step it needs:
    // accepted (schedule), scheduled by someone else with two approvals
    // needed (approve, unschedule, withdraw), failed publication (retry,
    // admins only).
    #[derive(Clone, Copy)]
    enum Step {
        Accepted,
        Scheduled,
        Failed,
    }
    let end_date = (Timestamp::now() + common::disclosure::days(10))
        .strftime("%Y-%m-%d")
        .to_string();
    let schedule_form: Form = vec![
        ("date", end_date.clone()),
        ("time", "14:00".into()),
        ("zone", "Europe/Berlin".into()),
        ("title", "t".into()),
        ("advisory", "a".into()),
        ("credit", "anonymous".into()),
    ];
    let member = |lead_sees: bool| {
        [
            Forbidden,
            Done,
            Done,
            if lead_sees { Done } else { NotFound },
            Forbidden,
        ]
    };
    let admin = |lead_sees: bool| {
        [
            Forbidden,
            Done,
            Forbidden,
            if lead_sees { Forbidden } else { NotFound },
            Forbidden,
        ]
    };
    type Want = fn(bool) -> [X; 5];
    let disclosure_actions: Vec<(&str, Form, Step, Want)> = vec![
        ("schedule", schedule_form, Step::Accepted, member),
        ("approve", vec![], Step::Scheduled, member),
        ("unschedule", vec![], Step::Scheduled, member),
        ("withdraw", vec![], Step::Scheduled, member),
        ("retry", vec![], Step::Failed, admin),
        // Not under disclosure/: the placeholder issue's retry.
        ("placeholder/retry", vec![], Step::Accepted, admin),
    ];
    for (action, form, step, want) in &disclosure_actions {
        for (wg_name, lead_sees) in [("pipelines", true), ("notebooks", false)] {
            let want = want(lead_sees);
            for (i, c) in clients.iter().enumerate() {
                let id = match step {
                    Step::Accepted => common::disclosure::accepted(&app, wg_name).await,
                    Step::Scheduled => {
                        let until = Timestamp::now() + common::disclosure::days(10);
                        common::disclosure::scheduled(&app, wg_name, "alice", until, 2).await
                    }
                    Step::Failed => common::disclosure::failed(&app, wg_name).await,
                };
                let path = if action.starts_with("placeholder/") {
                    format!("/reports/{id}/{action}")
                } else {
                    format!("/reports/{id}/disclosure/{action}")
                };
                let fields: Vec<(&str, &str)> =
                    form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                if i > 0 {
                    let r = c.post_raw(&path, &fields).await;
                    assert_eq!(
                        r.status,
                        StatusCode::FORBIDDEN,
                        "POST {path} without token as {}",
                        ROLES[i]
                    );
                    checked += 1;
                }
                let before = app.events(&id).await.len();
                let r = c.post(&path, &fields).await;
                assert!(
                    want[i].check(&r),
                    "POST disclosure/{action} ({wg_name}) as {}: want {:?}, got {} {}",
                    ROLES[i],
                    want[i],
                    r.status,
                    r.body.chars().take(300).collect::<String>()
                );
                assert_security_headers(&r, &path);
                let after = app.events(&id).await.len();
                if want[i] == Done {
                    assert!(after > before, "disclosure/{action} is audited");
                } else {
                    assert_eq!(
                        after, before,
                        "a refused disclosure/{action} leaves no trace"
                    );
                }
                checked += 1;
            }
        }
    }

    // Account and admin POST routes.
    type Row<'a> = (&'a str, Vec<(&'a str, &'a str)>, [X; 5]);
    let otherwise: Vec<Row> = vec![
        (
            "/account/password",
            vec![("current", "wrong"), ("new", "x"), ("confirm", "x")],
            [Forbidden, Bad, Bad, Bad, Bad],
        ),
        ("/account/totp/setup", vec![], [Forbidden, Ok, Ok, Ok, Ok]),
        (
            "/account/totp/enable",
            vec![
                ("secret", "MZXW6YTBOIMZXW6YTBOIMZXW6YTBOI"),
                ("code", "000000"),
                ("password", "x"),
            ],
            [Forbidden, Bad, Bad, Bad, Bad],
        ),
        (
            "/account/totp/disable",
            vec![("password", "wrong")],
            [Forbidden, Bad, Bad, Bad, Bad],
        ),
        (
            "/admin/users",
            vec![("login", "made-by-matrix"), ("role", "auditor")],
            [Forbidden, Ok, Forbidden, Forbidden, Forbidden],
        ),
        (
            "/admin/users/victim/key",
            vec![("key", "")],
            [Forbidden, Done, Forbidden, Forbidden, Forbidden],
        ),
        (
            "/admin/users/victim/reset",
            vec![],
            [Forbidden, Ok, Forbidden, Forbidden, Forbidden],
        ),
        (
            "/reports/SEC-2026-9999/note",
            vec![("note", "x")],
            [Forbidden, NotFound, NotFound, NotFound, NotFound],
        ),
        (
            "/review/done",
            vec![],
            [Forbidden, Done, Done, Forbidden, Forbidden],
        ),
        (
            "/scans/1.0.0/send",
            vec![],
            [Forbidden, Done, Done, Forbidden, Forbidden],
        ),
        (
            "/scans/9.9.9/send",
            vec![],
            [Forbidden, NotFound, NotFound, Forbidden, Forbidden],
        ),
    ];
    for (path, fields, want) in &otherwise {
        for (i, c) in clients.iter().enumerate() {
            if i > 0 {
                let r = c.post_raw(path, fields).await;
                assert_eq!(
                    r.status,
                    StatusCode::FORBIDDEN,
                    "POST {path} without token as {}",
                    ROLES[i]
                );
                checked += 1;
            }
            let r = c.post(path, fields).await;
            assert!(
                want[i].check(&r),
                "POST {path} as {}: want {:?}, got {}",
                ROLES[i],
                want[i],
                r.status
            );
            assert_security_headers(&r, path);
            checked += 1;
        }
    }

    // Logout last: every role, with and without its token.
    for (i, c) in clients.iter().enumerate().skip(1) {
        assert_eq!(
            c.post_raw("/logout", &[]).await.status,
            StatusCode::FORBIDDEN
        );
        let r = c.post("/logout", &[]).await;
        assert!(X::SignIn.check(&r), "logout as {}", ROLES[i]);
        assert!(X::SignIn.check(&c.get("/").await), "signed out");
        checked += 3;
    }
    assert_eq!(
        clients[0].post("/logout", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(checked > 300, "{checked} checks");
}
