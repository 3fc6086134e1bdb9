//! Disclosure end to end: a report ingested, triaged, accepted and
//! scheduled through the CLI, then `publish --due` against the local GitHub
//! stand-in: the embargo warnings once (queued for the team and the WG's
//! leads, delivered by `outbox flush`), nothing published before the
//! embargo end, exactly one labelled issue after it even with two
//! publishers racing, and the OSV/CSAF exports.

use std::process::{Output, Stdio};
use std::time::Duration;

use embargo_github_standin as standin;
use jiff::{SignedDuration, Timestamp};

use crate::support::{
    Gateway, GitHubStandIn as GitHub, assert_one_line_error, ingest_ok as ingest,
};

const REPORT: &str = "From: Rita <rita@example.org>\r\nTo: security@project.example\r\n\
Subject: RCE in the pipelines API server\r\nMessage-ID: <publish-1@example.org>\r\n\
Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\nA crafted pipeline spec runs code.\r\n";

const ADVISORY: &str = "---
title: Arbitrary code execution in the pipeline API server
affected: < 2.3.1
fixed: 2.3.1
credit: Rita
---
A crafted pipeline spec lets an attacker run code in the API server.
Upgrade to 2.3.1.
";

fn rfc3339(t: Timestamp) -> String {
    t.round(jiff::Unit::Second).unwrap().to_string()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(crate::support::Gateway::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $name() {
                if let Some(g) = crate::support::Gateway::postgres() { super::$name(g); }
            })*
        }
    };
}

both_backends!(
    publishes_exactly_one_issue_at_the_embargo_end,
    publishes_to_a_wg_imported_from_wgs_yaml,
    a_wg_without_repository_fails_visibly_until_one_is_set,
    serve_publishes_to_a_wg_imported_while_it_runs,
);

fn publishes_exactly_one_issue_at_the_embargo_end(mut g: Gateway) {
    let github = GitHub::start();
    let repo = "kubeflow/pipelines";
    std::fs::create_dir_all(g.data()).unwrap();
    std::fs::write(
        g.data().join("embargo.toml"),
        format!(
            "[github]\napi_url = \"{}\"\n\n\
             [[wg]]\nname = \"pipelines\"\nrepo = \"{repo}\"\nlabels = [\"area/security\"]\n",
            github.server.url()
        ),
    )
    .unwrap();
    g.env
        .push(("EMBARGO_GITHUB_TOKEN".into(), standin::TOKEN.into()));
    g.ok(&["init"]);
    // Warned before the end: the triager and the pipelines lead (no keys:
    // content-free reminders), not another WG's lead.
    for (login, role, wg) in [
        ("tina", "triager", None),
        ("lena", "wg-lead", Some("pipelines")),
        ("nina", "wg-lead", Some("notebooks")),
    ] {
        let email = format!("--email={login}@team.example");
        let mut args = vec!["user", "add", login, "--role", role, email.as_str()];
        if let Some(wg) = wg {
            args.extend(["--wg", wg]);
        }
        g.ok(&args);
    }

    let id = ingest(&g, REPORT.as_bytes());
    assert!(id.starts_with("SEC-"), "{id:?}");
    let triaged = json(&g.ok(&[
        "report",
        "triage",
        &id,
        "--wg",
        "pipelines",
        "--severity",
        "high",
    ]));
    assert_eq!(triaged["state"], "triaged");
    let accepted = json(&g.ok(&["report", "accept", &id, "--by", "admin"]));
    assert_eq!(accepted["state"], "accepted");

    let advisory = g.dir.path().join("advisory.md");
    std::fs::write(&advisory, ADVISORY).unwrap();
    let advisory = advisory.to_str().unwrap();

    // An end beyond the embargo policy (90 days by default) is refused.
    let too_late = rfc3339(Timestamp::now() + SignedDuration::from_hours(200 * 24));
    let out = g.run(&[
        "report",
        "schedule",
        &id,
        "--at",
        &too_late,
        "--advisory",
        advisory,
        "--by",
        "admin",
    ]);
    let err = assert_one_line_error(&out);
    assert!(err.contains("embargo policy"), "{err:?}");
    assert!(err.contains("90 days"), "{err:?}");

    let end = Timestamp::now() + SignedDuration::from_secs(3);
    let scheduled = json(&g.ok(&[
        "report",
        "schedule",
        &id,
        "--at",
        &rfc3339(end),
        "--advisory",
        advisory,
        "--by",
        "admin",
    ]));
    assert_eq!(scheduled["approved"], true, "{scheduled}");

    // Before the end: nothing is published; both warnings (14 and 2 days)
    // are due and go out together, once.
    let before = g.run(&["publish", "--due"]);
    assert!(before.status.success(), "{}", stderr(&before));
    assert!(
        Timestamp::now() < end,
        "the run before the end took too long to start"
    );
    assert_eq!(String::from_utf8_lossy(&before.stdout), "");
    assert!(github.server.lock().issues_in(repo).is_empty());
    assert_eq!(github.server.lock().creates, 0);
    let warned: Vec<serde_json::Value> = stderr(&before)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["outcome"] == "warned")
        .collect();
    assert_eq!(warned.len(), 1, "{}", stderr(&before));
    assert_eq!(warned[0]["id"], id.as_str());
    assert_eq!(warned[0]["days_before"], serde_json::json!([2, 14]));
    assert_eq!(warned[0]["recipients"], 2, "{}", warned[0]);
    let flushed = json(&g.ok(&["outbox", "flush"]));
    assert_eq!(flushed["dead"], 0, "{flushed}");
    let reminders: Vec<String> = std::fs::read_dir(g.data().join("outbox"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .filter(|m| m.contains(&format!("Subject: [{id}] Reminder")))
        .collect();
    let to = |who: &str| {
        reminders
            .iter()
            .filter(|m| m.lines().any(|l| l.starts_with("To:") && l.contains(who)))
            .count()
    };
    assert_eq!(
        (to("tina@"), to("lena@"), to("nina@"), reminders.len()),
        (1, 1, 0, 2),
        "{reminders:?}"
    );
    for m in &reminders {
        assert!(m.contains("-----BEGIN PGP SIGNED MESSAGE-----"), "{m}");
        assert!(!m.contains("Arbitrary code execution"), "content-free: {m}");
    }

    // After the end: two publishers race; exactly one issue.
    let wait = end.duration_since(Timestamp::now()) + SignedDuration::from_millis(500);
    if wait.is_positive() {
        std::thread::sleep(wait.unsigned_abs());
    }
    let spawn = || {
        g.command(&["publish", "--due"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    for out in &outs {
        assert!(out.status.success(), "publish --due: {}", stderr(out));
        assert!(
            !stderr(out).contains("\"warned\""),
            "warned once only: {}",
            stderr(out)
        );
    }
    let lines: Vec<String> = outs
        .iter()
        .flat_map(|o| {
            String::from_utf8(o.stdout.clone())
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one JSON line across both runs: {lines:?}");
    let line = json(&lines[0]);
    assert_eq!(line["outcome"], "published", "{line}");
    assert_eq!(line["id"], id.as_str());
    assert_eq!(line["repo"], repo);
    let url = line["issue_url"].as_str().unwrap().to_owned();

    {
        let st = github.server.lock();
        let issues = st.issues_in(repo);
        assert_eq!(issues.len(), 1, "exactly one issue: {issues:?}");
        let issue = issues[0];
        assert_eq!(
            url,
            format!("https://github.com/{repo}/issues/{}", issue.number)
        );
        assert!(issue.labels.iter().any(|l| l == "security"), "{issue:?}");
        assert!(
            issue.labels.iter().any(|l| l == "area/security"),
            "{issue:?}"
        );
        let body = issue.body.as_deref().unwrap_or("");
        let marker = format!("<!-- embargo:{id} -->");
        assert!(body.lines().any(|l| l.trim() == marker), "{body}");
        assert!(st.issues_in("kubeflow/katib").is_empty());
    }

    let show = json(&g.ok(&["report", "show", &id, "--json"]));
    assert_eq!(show["state"], "published");

    let osv = json(&g.ok(&["report", "export", &id, "--format", "osv"]));
    for key in [
        "schema_version",
        "id",
        "modified",
        "published",
        "summary",
        "details",
        "affected",
    ] {
        assert!(osv.get(key).is_some(), "OSV lacks {key}: {osv}");
    }
    assert_eq!(
        osv["summary"],
        "Arbitrary code execution in the pipeline API server"
    );
    assert!(osv.to_string().contains(&url), "{osv}");

    let csaf = json(&g.ok(&["report", "export", &id, "--format", "csaf"]));
    for key in ["document", "product_tree", "vulnerabilities"] {
        assert!(csaf.get(key).is_some(), "CSAF lacks {key}: {csaf}");
    }
    let doc = &csaf["document"];
    assert_eq!(doc["csaf_version"], "2.0", "{doc}");
    for key in ["category", "title", "publisher", "tracking"] {
        assert!(doc.get(key).is_some(), "CSAF document lacks {key}: {doc}");
    }
}

fn corpus() -> Option<std::path::PathBuf> {
    let candidates = [
        std::env::var("EMBARGO_CORPUS_DIR").ok().map(Into::into),
        Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")),
        Some("/work/shared/corpus".into()),
    ];
    let found = candidates.into_iter().flatten().find(|c| c.is_dir());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but the shared corpus is missing"
        );
        eprintln!("skipping: shared/corpus not found");
    }
    found
}

/// Flushes the outbox; the mails in it so far (every `.eml` written).
fn outbox(g: &Gateway) -> Vec<String> {
    let flushed = json(&g.ok(&["outbox", "flush"]));
    assert_eq!(flushed["dead"], 0, "{flushed}");
    match std::fs::read_dir(g.data().join("outbox")) {
        Ok(dir) => dir
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn addressed_to(mails: &[String], who: &str) -> usize {
    mails
        .iter()
        .filter(|m| m.lines().any(|l| l.starts_with("To:") && l.contains(who)))
        .count()
}

/// JSON lines of a run's stderr with this `outcome`.
fn outcomes(out: &Output, outcome: &str) -> Vec<serde_json::Value> {
    stderr(out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["outcome"] == outcome)
        .collect()
}

/// A WG only `embargo wg import wgs.yaml` knows (no `[[wg]]` table): its
/// lead's account gets the routed copy and the embargo warning, and its
/// advisory goes to the first repository of its registry entry
/// (`training`: kubeflow/katib), once, labelled `security`.
fn publishes_to_a_wg_imported_from_wgs_yaml(mut g: Gateway) {
    let Some(corpus) = corpus() else { return };
    let github = GitHub::start();
    std::fs::create_dir_all(g.data()).unwrap();
    std::fs::write(
        g.data().join("embargo.toml"),
        format!(
            "[github]\napi_url = \"{}\"\n\n[publish]\napprovals = 2\n",
            github.server.url()
        ),
    )
    .unwrap();
    g.env
        .push(("EMBARGO_GITHUB_TOKEN".into(), standin::TOKEN.into()));
    g.ok(&["init"]);
    for (login, role, wg) in [
        ("tina", "triager", None),
        ("tara", "wg-lead", Some("training")),
        ("nina", "wg-lead", Some("notebooks")),
    ] {
        let email = format!("--email={login}@team.example");
        let mut args = vec!["user", "add", login, "--role", role, email.as_str()];
        if let Some(wg) = wg {
            args.extend(["--wg", wg]);
        }
        g.ok(&args);
    }
    let wgs = corpus.join("kubeflow/wgs.yaml");
    let imported = json(&g.ok(&["wg", "import", wgs.to_str().unwrap()]));
    assert!(
        imported["added"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == "training"),
        "{imported}"
    );

    let report = REPORT
        .replace("publish-1@", "publish-imported@")
        .replace("the pipelines API server", "the katib controller");
    let id = ingest(&g, report.as_bytes());
    assert_eq!(addressed_to(&outbox(&g), "tara@"), 0, "not routed yet");
    let triaged = json(&g.ok(&[
        "report",
        "triage",
        &id,
        "--wg",
        "training",
        "--severity",
        "high",
    ]));
    assert_eq!(triaged["state"], "triaged");
    assert_eq!(triaged["wg"], "training");
    // The routed copy finds the imported WG's lead (and no other WG's).
    let mails = outbox(&g);
    assert_eq!(
        (addressed_to(&mails, "tara@"), addressed_to(&mails, "nina@")),
        (1, 0)
    );
    let accepted = json(&g.ok(&["report", "accept", &id, "--by", "admin"]));
    assert_eq!(accepted["state"], "accepted");

    let advisory = g.dir.path().join("advisory.md");
    std::fs::write(&advisory, ADVISORY).unwrap();
    let advisory = advisory.to_str().unwrap();
    let schedule = |end: Timestamp| {
        let scheduled = json(&g.ok(&[
            "report",
            "schedule",
            &id,
            "--at",
            &rfc3339(end),
            "--advisory",
            advisory,
            "--by",
            "admin",
        ]));
        assert_eq!(scheduled["approved"], false, "two approvals: {scheduled}");
        let approved = json(&g.ok(&["report", "approve", &id, "--by", "tina"]));
        assert_eq!(approved["approved"], true, "{approved}");
    };

    // Ten days before the end: the 14-day warning reaches the team and
    // the imported WG's lead; nothing is published.
    schedule(Timestamp::now() + SignedDuration::from_hours(10 * 24));
    let early = g.run(&["publish", "--due"]);
    assert!(early.status.success(), "{}", stderr(&early));
    assert_eq!(String::from_utf8_lossy(&early.stdout), "");
    let warned = outcomes(&early, "warned");
    assert_eq!(warned.len(), 1, "{}", stderr(&early));
    assert_eq!(warned[0]["id"], id.as_str());
    assert_eq!(warned[0]["recipients"], 2, "{}", warned[0]);
    let reminders: Vec<String> = outbox(&g)
        .into_iter()
        .filter(|m| m.contains(&format!("Subject: [{id}] Reminder")))
        .collect();
    assert_eq!(
        (
            addressed_to(&reminders, "tina@"),
            addressed_to(&reminders, "tara@"),
            addressed_to(&reminders, "nina@")
        ),
        (1, 1, 0),
        "{reminders:?}"
    );

    // The end moved close; approved again; published after it.
    let end = Timestamp::now() + SignedDuration::from_secs(3);
    schedule(end);
    let wait = end.duration_since(Timestamp::now()) + SignedDuration::from_millis(500);
    if wait.is_positive() {
        std::thread::sleep(wait.unsigned_abs());
    }
    let out = g.run(&["publish", "--due"]);
    assert!(out.status.success(), "publish --due: {}", stderr(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(json)
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?} / {}", stderr(&out));
    assert_eq!(lines[0]["outcome"], "published", "{}", lines[0]);
    assert_eq!(lines[0]["id"], id.as_str());
    assert_eq!(lines[0]["repo"], "kubeflow/katib");
    // A second run publishes nothing more.
    let again = g.run(&["publish", "--due"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(String::from_utf8_lossy(&again.stdout), "");

    {
        let st = github.server.lock();
        let issues = st.issues_in("kubeflow/katib");
        assert_eq!(issues.len(), 1, "exactly one issue: {issues:?}");
        let issue = issues[0];
        assert!(issue.labels.iter().any(|l| l == "security"), "{issue:?}");
        let body = issue.body.as_deref().unwrap_or("");
        let marker = format!("<!-- embargo:{id} -->");
        assert!(body.lines().any(|l| l.trim() == marker), "{body}");
        assert_eq!(
            lines[0]["issue_url"],
            format!("https://github.com/kubeflow/katib/issues/{}", issue.number)
        );
        assert!(st.issues_in("kubeflow/pipelines").is_empty());
        assert_eq!(st.creates, 1);
    }
    let show = json(&g.ok(&["report", "show", &id, "--json"]));
    assert_eq!(show["state"], "published");
}

/// A WG with no repository anywhere (its `[[wg]]` table names none, no
/// import lists one): accepting says the placeholder cannot be opened, the
/// publication job fails with the reason and what to set, not retried on
/// its own; once `repo` is set, an admin's retry publishes exactly once.
fn a_wg_without_repository_fails_visibly_until_one_is_set(mut g: Gateway) {
    let github = GitHub::start();
    std::fs::create_dir_all(g.data()).unwrap();
    let config = |repo: &str| {
        format!(
            "[github]\napi_url = \"{}\"\n\n\
             [[wg]]\nname = \"security-tools\"\nleads = [\"lead@team.example\"]\nplaceholder = true\n{repo}",
            github.server.url()
        )
    };
    std::fs::write(g.data().join("embargo.toml"), config("")).unwrap();
    g.env
        .push(("EMBARGO_GITHUB_TOKEN".into(), standin::TOKEN.into()));
    g.ok(&["init"]);

    let id = ingest(
        &g,
        REPORT.replace("publish-1@", "publish-norepo@").as_bytes(),
    );
    g.ok(&[
        "report",
        "triage",
        &id,
        "--wg",
        "security-tools",
        "--severity",
        "medium",
    ]);
    let accept = g.run(&["report", "accept", &id, "--by", "admin"]);
    assert!(accept.status.success(), "{}", stderr(&accept));
    assert_eq!(
        json(&String::from_utf8_lossy(&accept.stdout))["state"],
        "accepted"
    );
    let not_opened = outcomes(&accept, "placeholder_failed");
    assert_eq!(not_opened.len(), 1, "{}", stderr(&accept));
    let why = not_opened[0]["error"].as_str().unwrap();
    assert!(why.contains("no repository for WG security-tools"), "{why}");

    let advisory = g.dir.path().join("advisory.md");
    std::fs::write(&advisory, ADVISORY).unwrap();
    let end = Timestamp::now() + SignedDuration::from_secs(2);
    g.ok(&[
        "report",
        "schedule",
        &id,
        "--at",
        &rfc3339(end),
        "--advisory",
        advisory.to_str().unwrap(),
        "--by",
        "admin",
    ]);
    let wait = end.duration_since(Timestamp::now()) + SignedDuration::from_millis(500);
    if wait.is_positive() {
        std::thread::sleep(wait.unsigned_abs());
    }

    let out = g.run(&["publish", "--due"]);
    // Not a crash, not a temporary failure: the job failed for an admin.
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    let failed = outcomes(&out, "failed");
    assert_eq!(failed.len(), 1, "{}", stderr(&out));
    assert_eq!(failed[0]["id"], id.as_str());
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains("no repository for WG security-tools"),
        "{error}"
    );
    assert!(error.contains("set `repo`"), "{error}");
    assert!(error.contains("then retry"), "{error}");
    // Failed stays failed until an admin retries.
    let idle = g.run(&["publish", "--due"]);
    assert!(idle.status.success(), "{}", stderr(&idle));
    assert!(outcomes(&idle, "failed").is_empty(), "{}", stderr(&idle));
    assert_eq!(github.server.lock().creates, 0);
    assert_eq!(
        json(&g.ok(&["report", "show", &id, "--json"]))["state"],
        "scheduled"
    );

    std::fs::write(
        g.data().join("embargo.toml"),
        config("repo = \"kubeflow/pipelines\"\n"),
    )
    .unwrap();
    g.ok(&["report", "retry-publication", &id, "--by", "admin"]);
    let out = g.run(&["publish", "--due"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = json(String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(line["outcome"], "published", "{line}");
    assert_eq!(line["repo"], "kubeflow/pipelines");
    let st = github.server.lock();
    assert_eq!(st.issues_in("kubeflow/pipelines").len(), 1);
    assert_eq!(st.creates, 1);
}

/// `serve`'s scheduler reads the WG registry every round: a WG imported
/// after it started is published to (its entry's first repository), once.
fn serve_publishes_to_a_wg_imported_while_it_runs(mut g: Gateway) {
    let Some(corpus) = corpus() else { return };
    let github = GitHub::start();
    std::fs::create_dir_all(g.data()).unwrap();
    std::fs::write(
        g.data().join("embargo.toml"),
        format!(
            "[github]\napi_url = \"{}\"\n\n[publish]\ninterval_seconds = 1\n",
            github.server.url()
        ),
    )
    .unwrap();
    g.env
        .push(("EMBARGO_GITHUB_TOKEN".into(), standin::TOKEN.into()));
    g.ok(&["init"]);

    let web = crate::support::free_port();
    let log = std::fs::File::create(g.dir.path().join("serve.log")).unwrap();
    /// Kills serve if the test fails before stopping it.
    struct Serve(std::process::Child);
    impl Drop for Serve {
        fn drop(&mut self) {
            if matches!(self.0.try_wait(), Ok(None)) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
    let mut serve = Serve(
        g.command(&["serve"])
            .env("EMBARGO_WEB_LISTEN", format!("127.0.0.1:{web}"))
            .env(
                "EMBARGO_LMTP_LISTEN",
                format!("127.0.0.1:{}", crate::support::free_port()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let serve_log = || std::fs::read_to_string(g.dir.path().join("serve.log")).unwrap_or_default();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", web)).is_err() {
        assert!(
            serve.0.try_wait().unwrap().is_none(),
            "serve exited: {}",
            serve_log()
        );
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not listen: {}",
            serve_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Imported while serve runs.
    let wgs = corpus.join("kubeflow/wgs.yaml");
    g.ok(&["wg", "import", wgs.to_str().unwrap()]);
    let id = ingest(
        &g,
        REPORT.replace("publish-1@", "publish-serve@").as_bytes(),
    );
    g.ok(&[
        "report",
        "triage",
        &id,
        "--wg",
        "training",
        "--severity",
        "high",
    ]);
    g.ok(&["report", "accept", &id, "--by", "admin"]);
    let advisory = g.dir.path().join("advisory.md");
    std::fs::write(&advisory, ADVISORY).unwrap();
    let end = Timestamp::now() + SignedDuration::from_secs(2);
    let scheduled = json(&g.ok(&[
        "report",
        "schedule",
        &id,
        "--at",
        &rfc3339(end),
        "--advisory",
        advisory.to_str().unwrap(),
        "--by",
        "admin",
    ]));
    assert_eq!(scheduled["approved"], true, "{scheduled}");

    // Wait for the scheduler (rounds every second) to publish.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let show = json(&g.ok(&["report", "show", &id, "--json"]));
        if show["state"] == "published" {
            break;
        }
        assert!(
            serve.0.try_wait().unwrap().is_none(),
            "serve exited: {}",
            serve_log()
        );
        assert!(
            std::time::Instant::now() < deadline,
            "not published by serve: {show}\n{}",
            serve_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &serve.0.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = serve.0.wait().unwrap();
    assert!(status.success(), "serve: {status}: {}", serve_log());

    let st = github.server.lock();
    let issues = st.issues_in("kubeflow/katib");
    assert_eq!(issues.len(), 1, "exactly one issue: {issues:?}");
    assert!(
        issues[0].labels.iter().any(|l| l == "security"),
        "{:?}",
        issues[0]
    );
    assert_eq!(st.creates, 1);
}
