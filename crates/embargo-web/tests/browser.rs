//! End to end in real headless Chromium, driven over WebDriver
//! (chromedriver, fantoccini): log in (forced password change), find a
//! report, open it, triage it, reply. Then the hostile set (script tags,
//! event handlers, `javascript:` URLs, CSS, SVG, RTL overrides, a 1 MB
//! line, every message of `shared/corpus/mime`) is rendered and no script
//! may run: canaries the payloads would set (`document.title`,
//! `window.__pwned`) stay untouched, and message bodies hold text only.
//! Screenshots go to `target/screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`CHROMIUM`,
//! `CHROMEDRIVER` override the paths). Under `CI=true` their absence is a
//! failure; otherwise the test is skipped with a note.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{App, PASSWORD, TestStore, test_config};
use embargo_domain::{Role, State};
use embargo_store::{Direction, NewAttachment, NewMessage, NewReport, Signature};
use fantoccini::{Client, ClientBuilder, Locator};
use jiff::Timestamp;
use serde_json::json;

fn tool(env: &str, default: &str) -> Option<PathBuf> {
    let p = std::env::var(env)
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(default));
    p.exists().then_some(p)
}

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn target_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

fn corpus_dir() -> PathBuf {
    // None: skipped with a note, or a failure under CI=true (testkit).
    embargo_testkit::corpus_dir()
        .unwrap_or_default()
        .join("mime")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver as a child process, killed on drop.
struct Driver {
    child: tokio::process::Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

async fn start_browser(chromium: &Path, chromedriver: &Path) -> (Driver, Client) {
    let port = free_port();
    let child = tokio::process::Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromedriver");
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: profile,
    };
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": chromium.to_string_lossy(),
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1400,1000",
                format!("--user-data-dir={}", driver._profile.path().display()),
            ]
        }),
    );
    let mut last_err = String::new();
    for _ in 0..100 {
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps.clone());
        match builder.connect(&driver.url).await {
            Ok(client) => return (driver, client),
            Err(e) => {
                last_err = e.to_string();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    panic!("cannot start a WebDriver session: {last_err}");
}

async fn screenshot(client: &Client, name: &str) {
    let dir = target_dir().join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// What a page must look like after hostile content was rendered.
async fn assert_inert(client: &Client, expected_title: &str, what: &str) {
    let v = client
        .execute(
            "return [document.title, typeof window.__pwned, \
             document.querySelectorAll('.message-body *, .subject *, .reporter *, .msg-subject *, .from *, .headers *, .detail *').length, \
             document.querySelectorAll('main script, main img, main iframe, main object, main embed, main style, main video, main audio, main form[action^=\"javascript\"]').length, \
             document.querySelectorAll('main a[href^=\"javascript\"], main [onerror], main [onload], main [onclick]').length, \
             location.protocol];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(v[0], expected_title, "{what}: title changed");
    assert_eq!(v[1], "undefined", "{what}: window.__pwned set");
    assert_eq!(v[2], 0, "{what}: markup inside rendered text");
    assert_eq!(v[3], 0, "{what}: active elements");
    assert_eq!(v[4], 0, "{what}: javascript: links or handlers");
    assert_eq!(v[5], "http:", "{what}: navigated away");
}

/// The hostile payloads: each would set a canary if it ran.
fn hostile() -> Vec<(&'static str, String, String)> {
    let mb_line = format!(
        "{}<img src=x onerror=\"window.__pwned=1\">",
        "A".repeat(1024 * 1024)
    );
    vec![
        (
            "script",
            "<script>document.title='PWNED'</script>".to_owned(),
            "<script>window.__pwned=1;document.title='PWNED'</script>\n</pre><script>window.__pwned=2</script>".to_owned(),
        ),
        (
            "handlers",
            "<img src=x onerror=\"document.title='PWNED'\">".to_owned(),
            "<img src=x onerror=\"window.__pwned=1\"><body onload=\"window.__pwned=1\"><div onmouseover=\"window.__pwned=1\">hover</div><input autofocus onfocus=\"window.__pwned=1\">".to_owned(),
        ),
        (
            "javascript-url",
            "<a href=\"javascript:document.title='PWNED'\">click</a>".to_owned(),
            "<a href=\"javascript:window.__pwned=1\">click me</a>\n<iframe src=\"javascript:parent.__pwned=1\"></iframe><form action=\"javascript:window.__pwned=1\"><button>go</button></form>".to_owned(),
        ),
        (
            "css",
            "<style>body{background:url(javascript:window.__pwned=1)}</style>".to_owned(),
            "<style>*{display:none} body::after{content:'PWNED'}</style><div style=\"background:url('javascript:window.__pwned=1')\">x</div><link rel=stylesheet href=\"data:text/css,*{color:red}\">".to_owned(),
        ),
        (
            "svg",
            "<svg onload=\"document.title='PWNED'\"></svg>".to_owned(),
            "<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"window.__pwned=1\"><script>window.__pwned=1</script><a xlink:href=\"javascript:window.__pwned=1\"><text>x</text></a></svg><math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=1>".to_owned(),
        ),
        (
            "rtl",
            "Invoice \u{202E}fdp.exe\u{202C} \u{2067}hidden\u{2069}".to_owned(),
            "Totally normal \u{202E}gnp.tpircs\u{202C}.js\n\u{200B}zero\u{FEFF}width\u{2066}isolate\u{2069}\n\u{0}\u{7}\u{1b}[31mANSI".to_owned(),
        ),
        ("one-megabyte-line", "A 1 MB line".to_owned(), mb_line),
        (
            "entities-and-templates",
            "{{7*7}} ${7*7} &lt;script&gt; &#x3c;script&#x3e;".to_owned(),
            "&lt;img src=x onerror=window.__pwned=1&gt; {% raw %} {{ window.__pwned=1 }} <!-- --><script>window.__pwned=1</script> <![CDATA[<script>window.__pwned=1</script>]]>".to_owned(),
        ),
    ]
}

/// A simple decode of a raw message: header block up to the first empty
/// line, unfolded `Subject` and `From`, the rest as (lossy) text. Parts and
/// encodings are left as they are: the raw MIME is itself hostile text.
fn simple_decode(raw: &[u8]) -> (String, String, String, String) {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = match text.find("\r\n\r\n") {
        Some(i) => (text[..i].to_owned(), text[i + 4..].to_owned()),
        None => match text.find("\n\n") {
            Some(i) => (text[..i].to_owned(), text[i + 2..].to_owned()),
            None => (String::new(), text.clone()),
        },
    };
    let unfolded = head
        .replace("\r\n ", " ")
        .replace("\r\n\t", " ")
        .replace("\n ", " ")
        .replace("\n\t", " ");
    let field = |name: &str| {
        unfolded
            .lines()
            .find(|l| {
                l.get(..name.len())
                    .is_some_and(|h| h.eq_ignore_ascii_case(name))
            })
            .map(|l| l[name.len()..].trim().to_owned())
    };
    (
        field("subject:").unwrap_or_else(|| "(no subject)".to_owned()),
        field("from:").unwrap_or_else(|| "unknown@corpus.example".to_owned()),
        head,
        body,
    )
}

async fn file_raw(app: &App, name: &str, raw: Vec<u8>) -> embargo_domain::TrackingId {
    let (subject, from, headers, body) = simple_decode(&raw);
    let now = Timestamp::now();
    app.store()
        .create_report(
            &common::prefix(),
            now,
            NewReport {
                subject: subject.clone(),
                reporter: from.clone(),
            },
            NewMessage {
                // Distinct per file: some corpus messages share IDs.
                message_id: Some(format!("<corpus-{}@test>", uuid::Uuid::new_v4().simple())),
                raw: raw.clone(),
                direction: Direction::Inbound,
                received_at: now,
                date: None,
                from,
                subject,
                headers,
                body_text: body,
                encrypted: false,
                decrypted: false,
                decrypt_error: None,
                signature: Signature::none(),
                attachments: vec![NewAttachment {
                    filename: Some(name.to_owned()),
                    content_type: "message/rfc822".to_owned(),
                    content: raw,
                }],
            },
        )
        .await
        .unwrap()
        .report()
        .clone()
}

fn corpus_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            corpus_files(&p, out);
        } else if p
            .extension()
            .is_some_and(|e| e == "eml" || e == "txt" || e == "msg" || e == "mbox")
        {
            out.push(p);
        }
    }
}

async fn fill(client: &Client, css: &str, text: &str) {
    let e = client.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

/// Clicks `button` (every one here submits a form) and waits for the next
/// page: first for the current document to go (its root element turns
/// stale), then for `then` on the new one. Waiting for `then` alone could
/// match the page being left when it has that element too.
async fn click_and_wait(client: &Client, button: &str, then: &str) {
    let old_root = client.find(Locator::Css("html")).await.unwrap();
    client
        .find(Locator::Css(button))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while old_root.tag_name().await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "clicking {button} did not leave the page"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(then))
        .await
        .unwrap_or_else(|e| panic!("after clicking {button}: {then} did not appear: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_end_to_end() {
    let chromium = tool("CHROMIUM", "/usr/bin/chromium");
    let chromedriver = tool("CHROMEDRIVER", "/usr/bin/chromedriver");
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        if in_ci() {
            panic!(
                "CI=true but chromium or chromedriver is missing (apt-get install chromium chromium-driver)"
            );
        }
        eprintln!(
            "skipping the browser test: /usr/bin/chromium or /usr/bin/chromedriver missing (apt-get install chromium chromium-driver)"
        );
        return;
    };

    let app = App::new(
        TestStore::sqlite().await,
        embargo_web::WebConfig {
            page_size: 500,
            review: scan_wgs(),
            ..test_config()
        },
        true,
    )
    .await;
    app.user("root", Role::Admin, None, true).await;
    let reporter_key =
        embargo_pgp::generate_team_key("Ada Reporter <ada@reporter.example>").unwrap();
    let armored = reporter_key.public_armored().unwrap();
    let id = app
        .report_with(
            "Pipeline RCE via crafted spec",
            "Steps:\n1. upload spec\n2. boom",
            |m| {
                m.attachments = vec![NewAttachment {
                    filename: Some("ada.asc".to_owned()),
                    content_type: "application/pgp-keys".to_owned(),
                    content: armored.into_bytes(),
                }];
            },
        )
        .await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(embargo_web::serve(
        listener,
        app.state.clone(),
        async move {
            let _ = stopped.await;
        },
    ));

    let (driver, client) = start_browser(&chromium, &chromedriver).await;

    // --- log in with the one-time password, forced change.
    client.goto(&format!("{base}/reports")).await.unwrap();
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .ends_with("/login")
    );
    fill(&client, "#login", "root").await;
    fill(&client, "#password", PASSWORD).await;
    click_and_wait(&client, "#login-submit", "#forced").await;
    screenshot(&client, "01-forced-password-change").await;
    fill(&client, "#current", PASSWORD).await;
    fill(&client, "#new", "a much better passphrase").await;
    fill(&client, "#confirm", "a much better passphrase").await;
    click_and_wait(&client, "#password-submit", "#total").await;
    screenshot(&client, "02-dashboard").await;

    // --- find the report.
    client.goto(&format!("{base}/reports")).await.unwrap();
    fill(&client, "#f-reporter", "ada@reporter").await;
    click_and_wait(&client, "#f-apply", "#reports").await;
    let link = client
        .find(Locator::LinkText(&id.to_string()))
        .await
        .unwrap();
    screenshot(&client, "03-report-list").await;
    link.click().await.unwrap();
    client
        .wait()
        .for_element(Locator::Css("#triage-form"))
        .await
        .unwrap();
    assert_eq!(client.title().await.unwrap(), format!("{id} · embargo"));

    // --- triage it.
    client
        .find(Locator::Css("#triage-wg"))
        .await
        .unwrap()
        .select_by_value("pipelines")
        .await
        .unwrap();
    client
        .find(Locator::Css("#triage-severity"))
        .await
        .unwrap()
        .select_by_value("critical")
        .await
        .unwrap();
    click_and_wait(&client, "#triage-submit", "#flash").await;
    let state = client.find(Locator::Css("#report-state")).await.unwrap();
    assert_eq!(state.text().await.unwrap(), "triaged");
    assert_eq!(
        app.store().load_domain_report(&id).await.unwrap().state,
        State::Triaged
    );

    // --- reply.
    fill(
        &client,
        "#reply-body",
        "Thank you, we reproduced the issue.",
    )
    .await;
    click_and_wait(&client, "#reply-submit", "#flash").await;
    let flash = client.find(Locator::Css("#flash")).await.unwrap();
    assert!(flash.text().await.unwrap().contains("Reply queued"));
    screenshot(&client, "04-report-triaged-and-replied").await;
    let counts = app.store().outbox_counts(Timestamp::now()).await.unwrap();
    assert_eq!(counts.ready, 1);
    let events = app.events(&id).await;
    for kind in ["viewed", "triage", "replied"] {
        assert!(
            events
                .iter()
                .any(|e| e.kind == kind && e.actor.as_str() == "root"),
            "{kind}"
        );
    }

    // --- accept it and agree disclosure through the form: the embargo end
    // entered in Berlin time, a hostile advisory shown inert.
    click_and_wait(&client, "#accept-submit", "#schedule-form").await;
    let end = (Timestamp::now() + jiff::SignedDuration::from_hours(30 * 24))
        .in_tz("Europe/Berlin")
        .unwrap();
    let date = end.strftime("%Y-%m-%d").to_string();
    // Date and time inputs take their value as the browser shows it;
    // setting it through WebDriver keeps the test independent of locale.
    for (css, value) in [
        ("#schedule-date", date.as_str()),
        ("#schedule-time", "14:30"),
    ] {
        client
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1];",
                vec![serde_json::json!(css), serde_json::json!(value)],
            )
            .await
            .unwrap();
    }
    client
        .find(Locator::Css("#schedule-zone"))
        .await
        .unwrap()
        .select_by_value("Europe/Berlin")
        .await
        .unwrap();
    fill(
        &client,
        "#schedule-title",
        "Code execution in the pipeline API server",
    )
    .await;
    fill(
        &client,
        "#schedule-advisory",
        "Upgrade now. <img src=x onerror=\"document.title='PWNED'\"> <script>document.title='PWNED'</script>",
    )
    .await;
    fill(&client, "#schedule-credit-name", "Ada").await;
    click_and_wait(&client, "#schedule-submit", "#agreement-end").await;
    assert_inert(
        &client,
        &format!("{id} · embargo"),
        "the disclosure section",
    )
    .await;
    let shown = client
        .find(Locator::Css("#agreement-end"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        shown.contains(&date) && shown.contains("Europe/Berlin"),
        "{shown}"
    );
    let advisory = client
        .find(Locator::Css("#agreement-advisory"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(advisory.contains("<script>"), "shown as text: {advisory}");
    screenshot(&client, "05-disclosure-scheduled").await;
    let report = app.store().load_domain_report(&id).await.unwrap();
    assert_eq!(report.state, State::Scheduled);
    let until = report.embargo_until.unwrap();
    assert_eq!(
        until
            .in_tz("Europe/Berlin")
            .unwrap()
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        format!("{date} 14:30")
    );

    // --- the hostile set.
    let mut pages: Vec<(String, embargo_domain::TrackingId)> = Vec::new();
    for (name, subject, body) in hostile() {
        let rid = app
            .report_with(&subject, &body, |m| {
                m.from = format!("\"{subject}\" <evil@attacker.example>");
                m.headers = format!("X-Evil: {subject}\r\n");
                m.attachments = vec![NewAttachment {
                    filename: Some(format!("{subject}.html")),
                    content_type: "text/html".to_owned(),
                    content: body.clone().into_bytes(),
                }];
            })
            .await;
        app.store()
            .append_event(
                Some(&rid),
                &embargo_store::Actor::System,
                "note",
                &body,
                Timestamp::now(),
            )
            .await
            .unwrap();
        pages.push((name.to_owned(), rid));
    }
    let mut files = Vec::new();
    corpus_files(&corpus_dir(), &mut files);
    if files.is_empty() {
        if in_ci() {
            panic!(
                "CI=true but the corpus {} is missing",
                corpus_dir().display()
            );
        }
        eprintln!(
            "corpus {} missing: only the built-in hostile set runs",
            corpus_dir().display()
        );
    }
    for f in &files {
        let raw = std::fs::read(f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let rid = file_raw(&app, &name, raw).await;
        pages.push((format!("corpus {}", f.display()), rid));
    }

    for (i, (what, rid)) in pages.iter().enumerate() {
        client.goto(&format!("{base}/reports/{rid}")).await.unwrap();
        assert_inert(&client, &format!("{rid} · embargo"), what).await;
        if i < hostile().len() {
            screenshot(&client, &format!("10-hostile-{}", what.replace(' ', "-"))).await;
            // The audit page renders the same text (the note).
            client
                .goto(&format!("{base}/reports/{rid}/audit"))
                .await
                .unwrap();
            assert_inert(&client, &format!("{rid} audit trail · embargo"), what).await;
        }
    }
    // Every hostile subject and reporter in one list.
    client.goto(&format!("{base}/reports")).await.unwrap();
    assert_inert(&client, "Reports · embargo", "report list").await;
    screenshot(&client, "20-hostile-list").await;
    client.goto(&format!("{base}/")).await.unwrap();
    assert_inert(&client, "Dashboard · embargo", "dashboard").await;
    review_and_scans(&app, &client, &base).await;
    eprintln!(
        "rendered {} hostile pages ({} corpus messages) with no script executed; screenshots in {}",
        pages.len(),
        files.len(),
        target_dir().join("screenshots").display()
    );

    client.close().await.unwrap();
    drop(driver);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// WGs placing the corpus's Trivy sample images (all tags of
/// `ghcr.io/aquasecurity/trivy-test-images`) by distribution.
fn scan_wgs() -> embargo_web::ReviewSetup {
    let wg = |name: &str, images: &[&str]| embargo_wg::WgConfig {
        name: name.into(),
        images: Some(images.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    };
    embargo_web::ReviewSetup {
        config_wgs: vec![
            wg("pipelines", &["*:alpine-*"]),
            wg("notebooks", &["*:debian-*", "*:ubuntu-*"]),
            wg("training", &["*:centos-*", "*:ubi-*"]),
        ],
        ..Default::default()
    }
}

/// The review page and a release scan page after importing the corpus's
/// Trivy samples (every one as 1.10.0, the alpine 3.9 and Debian stretch
/// ones as 1.9.0): the chart is drawn (one SVG per WG and the unmapped
/// images, five bars each, filled by the stylesheet) and nothing runs.
async fn review_and_scans(app: &App, client: &Client, base: &str) {
    let trivy = corpus_dir().join("../scans/trivy/json");
    if !trivy.is_dir() {
        assert!(!in_ci(), "CI=true but {} is missing", trivy.display());
        eprintln!("{} missing: scan pages not checked", trivy.display());
        return;
    }
    let registry = embargo_review::load_registry(app.store(), &scan_wgs().config_wgs)
        .await
        .unwrap();
    let old = tempfile::tempdir().unwrap();
    for n in ["alpine-39.json", "debian-stretch.json", "centos-6.json"] {
        std::fs::copy(trivy.join(n), old.path().join(n)).unwrap();
    }
    for (dir, release) in [(old.path(), "1.9.0"), (trivy.as_path(), "1.10.0")] {
        let report = embargo_review::import_scans(
            app.store(),
            &registry,
            dir,
            release,
            &mut |_| {},
            Timestamp::now(),
        )
        .await
        .unwrap();
        assert!(report.persisted, "{release}: {:?}", report.file_errors);
    }

    client.goto(&format!("{base}/review")).await.unwrap();
    assert_inert(client, "Review · embargo", "review").await;
    client
        .find(Locator::Css("#review-done"))
        .await
        .expect("an admin may mark the review done");
    screenshot(client, "30-review").await;

    client.goto(&format!("{base}/scans/1.10.0")).await.unwrap();
    assert_inert(client, "Release 1.10.0 scan · embargo", "scan page").await;
    let v = client
        .execute(
            "var rects = document.querySelectorAll('svg.scan-chart rect'); \
             var widths = Array.prototype.map.call(rects, function (r) { return r.getBBox().width; }); \
             return [document.querySelectorAll('svg.scan-chart').length, rects.length, \
                     document.querySelectorAll('#wg-table tr.wg-row').length, \
                     getComputedStyle(document.querySelector('svg.scan-chart rect.sev-critical')).fill, \
                     Math.max.apply(null, widths), \
                     document.querySelectorAll('#unmapped-images li').length];",
            vec![],
        )
        .await
        .unwrap();
    let charts = v[0].as_u64().unwrap();
    assert_eq!(charts, 4, "three WGs and the unmapped images: {v:?}");
    assert_eq!(v[1].as_u64().unwrap(), charts * 5, "five bars per chart");
    assert_eq!(v[2], 3);
    assert_eq!(v[3], "rgb(217, 83, 79)", "bars coloured by app.css");
    assert!(
        v[4].as_f64().unwrap() > 100.0,
        "the longest bar is drawn: {v:?}"
    );
    assert!(v[5].as_u64().unwrap() > 0, "unmapped images listed");
    screenshot(client, "31-scan-release").await;
    client.goto(&format!("{base}/scans")).await.unwrap();
    assert_inert(client, "Release scans · embargo", "scan list").await;
}
