//! Scale-out: two `embargo serve` replicas on one PostgreSQL database, as
//! two pods of the Deployment in `deploy/kubernetes` (each its own data
//! directory, the same keys, as two pods mounting one Secret).
//!
//! An MTA streams LMTP deliveries to both; both outbox workers send
//! through one real SMTP relay (aiosmtpd); both publication schedulers
//! work the same due jobs against the GitHub stand-in. One replica is
//! SIGKILLed while it holds a batch of outbox entries (one at the relay,
//! the others not tried yet) and a publication job whose issue GitHub has
//! created but not yet confirmed: relay and GitHub are held slow so that
//! this is deterministic, not a matter of timing. The MTA meanwhile sees
//! the replica die and delivers to the other one; the survivor takes the
//! dead replica's leases over when they expire.
//!
//! What the design guarantees, and what is asserted:
//! - every message that got a 250 is filed exactly once;
//! - every outbox entry reaches the relay; none twice, except the one the
//!   dead replica's worker was sending at the kill (a worker sends one
//!   message at a time, so at most one): the relay had it, the worker died
//!   before hearing so, and the survivor sends it again, with the same
//!   Message-ID (SMTP offers no way to ask a relay what it got);
//! - every due publication opens exactly one GitHub issue, including the
//!   one the dead replica had created without recording it (the survivor
//!   finds it by its marker).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use embargo_github_standin as standin;
use jiff::{SignedDuration, Timestamp};

use crate::support::{
    Gateway, GitHubStandIn, SmtpSink, free_port, ingest_ok, lmtp_deliver, psql_query,
};

const STREAM: usize = 40;
const PUBLICATIONS: usize = 3;
const REPO: &str = "kubeflow/pipelines";
/// Short leases, so the survivor takes over within seconds.
const LEASE_SECONDS: u32 = 8;

struct Replica {
    name: &'static str,
    lmtp: u16,
    metrics: u16,
    child: Option<Child>,
}

impl Replica {
    fn start(g: &Gateway, name: &'static str, data: PathBuf) -> Replica {
        let (web, lmtp, metrics) = (free_port(), free_port(), free_port());
        let log = std::fs::File::create(g.dir.path().join(format!("serve-{name}.log"))).unwrap();
        let child = g
            .command_in(&data, &["serve"])
            .env("EMBARGO_WEB_LISTEN", format!("127.0.0.1:{web}"))
            .env("EMBARGO_LMTP_LISTEN", format!("127.0.0.1:{lmtp}"))
            .env("EMBARGO_METRICS_LISTEN", format!("127.0.0.1:{metrics}"))
            .env("EMBARGO_LOG_LEVEL", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut r = Replica {
            name,
            lmtp,
            metrics,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let listening = |port: u16| TcpStream::connect(("127.0.0.1", port)).is_ok();
        while !(listening(r.lmtp) && listening(r.metrics)) {
            if let Some(status) = r.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("replica {name} exited ({status}):\n{}", logs(g));
            }
            assert!(Instant::now() < deadline, "replica {name} did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn sigkill(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM; serve finishes what it holds and exits 0.
    fn stop(&mut self) {
        let mut child = self.child.take().unwrap();
        let pid = child.id().to_string();
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(ok.success());
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "replica {} on SIGTERM: {status}",
            self.name
        );
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The last lines of both replicas' logs, for failure messages.
fn logs(g: &Gateway) -> String {
    let mut all = String::new();
    for name in ["a", "b"] {
        let text = std::fs::read_to_string(g.dir.path().join(format!("serve-{name}.log")))
            .unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        all.push_str(&format!("== replica {name}\n"));
        for l in tail.into_iter().rev() {
            all.push_str(l);
            all.push('\n');
        }
    }
    all
}

/// A second data directory with copies of the first one's config and key
/// files (the same Secret in another pod), and nothing else.
fn replica_dir(g: &Gateway, name: &str) -> PathBuf {
    use std::os::unix::fs::DirBuilderExt;
    let dir = g.dir.path().join(format!("data-{name}"));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir.join("keys"))
        .unwrap();
    for file in ["embargo.toml", "keys/team.sec.asc", "keys/storage.key"] {
        if file == "embargo.toml" && !g.data().join(file).exists() {
            continue;
        }
        // fs::copy keeps the mode (0600).
        std::fs::copy(g.data().join(file), dir.join(file)).unwrap();
    }
    dir
}

fn message(i: usize) -> (String, Vec<u8>) {
    let subject = format!("scale-out {i:03}");
    let raw = format!(
        "From: Rita <rita@example.org>\r\nTo: security@project.example\r\n\
Subject: {subject}\r\nMessage-ID: <scaleout-{i}@example.org>\r\n\
Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\nReport {i} of the stream.\r\n"
    );
    (subject, raw.into_bytes())
}

#[derive(Default)]
struct Tally {
    /// 250s per message.
    acked: BTreeMap<usize, usize>,
    /// Transactions that failed (connection refused or cut) or got 4xx.
    failed: usize,
}

/// Messages from here on wait for the kill: the MTA sees a replica die.
const AFTER_KILL: usize = STREAM - 10;

/// The MTA: each message to its replica (alternating), and to the other
/// one when that fails, until it gets a 250.
fn stream(ports: [u16; 2], tally: Arc<Mutex<Tally>>, killed: Arc<AtomicBool>) {
    let deadline = Instant::now() + Duration::from_secs(180);
    for i in 0..STREAM {
        if i == AFTER_KILL {
            while !killed.load(Ordering::SeqCst) {
                assert!(Instant::now() < deadline, "no kill");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let (_, raw) = message(i);
        let mut target = i % 2;
        loop {
            let port = ports[target];
            match lmtp_deliver(port, &raw, Duration::from_secs(30)) {
                Ok(reply) if reply.starts_with("250") => {
                    *tally.lock().unwrap().acked.entry(i).or_default() += 1;
                    break;
                }
                Ok(reply) if reply.starts_with('4') => tally.lock().unwrap().failed += 1,
                Ok(reply) => panic!("message {i}: permanent failure {reply:?}"),
                Err(_) => tally.lock().unwrap().failed += 1,
            }
            assert!(Instant::now() < deadline, "message {i} was never accepted");
            target = 1 - target;
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(40));
    }
}

/// Reports filed, accepted and scheduled for publication at `at`.
fn scheduled_reports(g: &Gateway, at: Timestamp) -> Vec<String> {
    let advisory = g.dir.path().join("advisory.md");
    std::fs::write(
        &advisory,
        "---\ntitle: Code execution in the API server\naffected: < 2.3.1\nfixed: 2.3.1\n---\n\
         Upgrade to 2.3.1.\n",
    )
    .unwrap();
    let at = at.round(jiff::Unit::Second).unwrap().to_string();
    (0..PUBLICATIONS)
        .map(|i| {
            let raw = format!(
                "From: Rita <rita@example.org>\r\nTo: security@project.example\r\n\
Subject: to publish {i}\r\nMessage-ID: <publish-{i}@example.org>\r\n\r\nDetails {i}.\r\n"
            );
            let id = ingest_ok(g, raw.as_bytes());
            g.ok(&[
                "report",
                "triage",
                &id,
                "--wg",
                "pipelines",
                "--severity",
                "high",
            ]);
            g.ok(&["report", "accept", &id, "--by", "admin"]);
            g.ok(&[
                "report",
                "schedule",
                &id,
                "--at",
                &at,
                "--advisory",
                advisory.to_str().unwrap(),
                "--by",
                "admin",
            ]);
            id
        })
        .collect()
}

fn count(db: &str, sql: &str) -> usize {
    psql_query(db, sql).trim().parse().unwrap()
}

/// Waits for `what` to hold, failing with the replicas' logs at the
/// deadline.
fn wait_until(g: &Gateway, what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{}",
            logs(g)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_replicas_one_killed_everything_exactly_once_on_postgres() {
    let Some(mut g) = Gateway::postgres() else {
        return;
    };
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let db = g.database_url().unwrap().to_owned();
    let github = GitHubStandIn::start();
    let started = Instant::now();

    std::fs::create_dir_all(g.data()).unwrap();
    std::fs::write(
        g.data().join("embargo.toml"),
        format!(
            "[mail]\ntransport = \"smtp://127.0.0.1:{}?tls=none\"\n\n\
             [github]\napi_url = \"{}\"\n\n\
             [publish]\ninterval_seconds = 1\nlease_seconds = {LEASE_SECONDS}\n\n\
             [outbox]\nlease_seconds = {LEASE_SECONDS}\npoll_seconds = 1\n\n\
             [[wg]]\nname = \"pipelines\"\nrepo = \"{REPO}\"\n",
            sink.port,
            github.server.url()
        ),
    )
    .unwrap();
    g.env
        .push(("EMBARGO_GITHUB_TOKEN".into(), standin::TOKEN.into()));
    g.ok(&["init"]);
    let data_b = replica_dir(&g, "b");

    // GitHub answers creates slowly from now on: whichever replica claims
    // a due job has opened its issue and is waiting for the answer.
    github.server.lock().hold_creates = true;
    // Outbox entries and publication jobs a replica holds, by its pid (in
    // every lease owner's name).
    let holds = |pid: u32| -> (usize, usize) {
        let row = psql_query(
            &db,
            &format!(
                "SELECT (SELECT count(*) FROM outbox WHERE state = 'sending' AND lease_owner LIKE '%:{pid}:%'), \
                 (SELECT count(*) FROM publication_jobs WHERE state = 'running' AND lease_owner LIKE '%:{pid}:%')"
            ),
        );
        let (m, j) = row.trim().split_once('|').unwrap();
        (m.parse().unwrap(), j.parse().unwrap())
    };
    let due = Timestamp::now() + SignedDuration::from_secs(8);
    let to_publish = scheduled_reports(&g, due);
    assert!(
        Timestamp::now() < due,
        "scheduling took too long to test anything"
    );

    // The relay answers slowly from now on.
    sink.hold(true);
    // A starts first and claims the acknowledgements of the reports to
    // publish (one batch): it sends the first and holds the others.
    let mut a = Replica::start(&g, "a", g.data());
    let pid_a = a.pid();
    wait_until(&g, "replica a to claim the first batch", 60, || {
        holds(pid_a).0 == PUBLICATIONS
    });
    let mut b = Replica::start(&g, "b", data_b);
    let pid_b = b.pid();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let killed = Arc::new(AtomicBool::new(false));
    let mta = {
        let (ports, tally, killed) = ([a.lmtp, b.lmtp], tally.clone(), killed.clone());
        std::thread::spawn(move || stream(ports, tally, killed))
    };

    // A still holds its batch and now a publication job too, and B holds
    // its own (neither can take the other's while both are busy).
    wait_until(&g, "replica a to hold mail and a job", 90, || {
        let (mail, jobs) = holds(pid_a);
        mail == PUBLICATIONS && jobs > 0 && tally.lock().unwrap().acked.len() >= 10
    });
    wait_until(&g, "replica b to hold a job", 30, || holds(pid_b).1 > 0);
    a.sigkill();
    killed.store(true, Ordering::SeqCst);
    let (a_mail, a_jobs) = holds(pid_a);
    // Everything the relay got before it answers again, including the
    // message A was waiting to hear about (if it got that far).
    let at_relay_before_kill: BTreeSet<String> = sink.message_ids().into_iter().collect();
    let a_issue_open = github.server.lock().issues_in(REPO).len();
    eprintln!(
        "scale-out: killed replica a (pid {pid_a}) holding {a_mail} outbox entries and \
         {a_jobs} publication job(s); {} messages acknowledged so far; {a_issue_open} issues open",
        tally.lock().unwrap().acked.len()
    );
    assert!(a_mail == PUBLICATIONS && a_jobs == 1);

    // Relay and GitHub answer again; the MTA goes on with replica b only.
    sink.hold(false);
    github.server.lock().hold_creates = false;
    mta.join().expect("the MTA stream");

    // Publications first: they queue notices to the reporter.
    wait_until(&g, "every publication done", 120, || {
        count(
            &db,
            "SELECT count(*) FROM publication_jobs WHERE state = 'done'",
        ) == PUBLICATIONS
    });
    let outbox_total = || count(&db, "SELECT count(*) FROM outbox");
    wait_until(&g, "every outbox entry sent", 120, || {
        count(&db, "SELECT count(*) FROM outbox WHERE state <> 'sent'") == 0
            && outbox_total() >= STREAM + PUBLICATIONS
    });
    b.stop();
    let elapsed = started.elapsed();

    // Every 250 filed exactly once: inbound message and acknowledgement.
    let t = tally.lock().unwrap();
    assert_eq!(t.acked.len(), STREAM, "every message got its 250");
    // Half of the messages after the kill went to the dead replica first.
    assert!(
        t.failed >= (STREAM - AFTER_KILL) / 2,
        "failed: {}",
        t.failed
    );
    let list: serde_json::Value =
        serde_json::from_str(&g.ok(&["report", "list", "--json"])).unwrap();
    let mut by_subject: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for r in list.as_array().unwrap() {
        by_subject
            .entry(r["subject"].as_str().unwrap().to_owned())
            .or_default()
            .push(r.clone());
    }
    for i in 0..STREAM {
        let (subject, _) = message(i);
        let found = by_subject.get(&subject).map(Vec::len).unwrap_or(0);
        assert_eq!(found, 1, "{subject:?} filed {found} times");
        let r = &by_subject[&subject][0];
        assert_eq!(r["message_count"], 2, "{subject:?}: {r}");
    }
    assert_eq!(
        by_subject.len(),
        STREAM + PUBLICATIONS,
        "unexpected reports"
    );

    // Every outbox entry at the relay; a second copy only of what A was
    // sending when it died, and at most one such.
    let total = outbox_total();
    let ids = sink.message_ids();
    let mut copies: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &ids {
        *copies.entry(id.as_str()).or_default() += 1;
    }
    assert_eq!(
        copies.len(),
        total,
        "distinct messages at the relay vs outbox entries"
    );
    let twice: Vec<&str> = copies
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    assert!(
        copies.values().all(|n| *n <= 2),
        "a message sent more than twice: {copies:?}"
    );
    assert!(
        twice.len() <= 1,
        "more second copies than the dead worker had in flight: {twice:?}"
    );
    for id in &twice {
        assert!(
            at_relay_before_kill.contains(*id),
            "{id} sent twice but was not in flight at the kill"
        );
    }

    // Exactly one issue per published report, A's included.
    {
        let st = github.server.lock();
        let issues = st.issues_in(REPO);
        assert_eq!(issues.len(), PUBLICATIONS, "{issues:?}");
        for id in &to_publish {
            let marker = format!("<!-- embargo:{id} -->");
            let with_marker = issues
                .iter()
                .filter(|i| {
                    i.body
                        .as_deref()
                        .unwrap_or("")
                        .lines()
                        .any(|l| l.trim() == marker)
                })
                .count();
            assert_eq!(with_marker, 1, "{id}: {with_marker} issues");
        }
        assert_eq!(st.creates, PUBLICATIONS, "creates at the stand-in");
    }
    for id in &to_publish {
        let show: serde_json::Value =
            serde_json::from_str(&g.ok(&["report", "show", id, "--json"])).unwrap();
        assert_eq!(show["state"], "published", "{id}");
    }

    eprintln!(
        "scale-out: {STREAM} LMTP messages ({} failed transactions retried), {total} outbox \
         entries, {} received by the relay ({} sent twice), {PUBLICATIONS} issues; {elapsed:?}",
        t.failed,
        ids.len(),
        twice.len()
    );
}

/// `GET /metrics` of a replica: the value of each sample line.
fn scrape(r: &Replica) -> BTreeMap<String, f64> {
    use std::io::Read;
    let mut c = TcpStream::connect(("127.0.0.1", r.metrics)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        c,
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let body = resp.split("\r\n\r\n").nth(1).unwrap();
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn messages(channel: &str, outcome: &str) -> String {
    format!("embargo_messages_total{{channel=\"{channel}\",outcome=\"{outcome}\"}}")
}

/// A PGP/MIME report encrypted to someone else's key: filed, unreadable.
fn undecryptable_report() -> Vec<u8> {
    let other = embargo_pgp::generate_team_key("Other <security@other.example>").unwrap();
    let cert = other.public_cert();
    let keyring = embargo_pgp::Keyring::new(vec![other]).unwrap();
    let armored = embargo_pgp::encrypt_and_sign(b"not for this team", &[cert], &keyring).unwrap();
    crate::support::pgp_mime(
        "Rita <rita@example.org>",
        "...",
        "undecryptable@example.org",
        &String::from_utf8(armored).unwrap(),
    )
}

/// The pipe channel and every replica's LMTP listener count into the
/// store, so /metrics of any replica shows them all: `embargo ingest` is a
/// process of its own, and a replica's LMTP answers are not only its own
/// business.
fn metrics_count_every_channel(g: Gateway, replicas: usize) {
    g.ok(&["init"]);
    let mut running = vec![Replica::start(&g, "a", g.data())];
    if replicas > 1 {
        let data_b = replica_dir(&g, "b");
        running.push(Replica::start(&g, "b", data_b));
    }
    let before = scrape(&running[0]);
    for series in [messages("pipe", "accepted"), messages("lmtp", "accepted")] {
        assert_eq!(before.get(&series), Some(&0.0), "{series}: {before:?}");
    }

    // Through the pipe: two filed (one unreadable), one refused.
    ingest_ok(&g, &message(900).1);
    ingest_ok(&g, &undecryptable_report());
    let out = g
        .command(&["ingest"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(b"\x00\x01garbage")?;
            c.wait()
        })
        .unwrap();
    assert_eq!(out.code(), Some(65));
    // Through LMTP, to the first replica: one filed, once redelivered.
    for _ in 0..2 {
        let reply =
            lmtp_deliver(running[0].lmtp, &message(901).1, Duration::from_secs(30)).unwrap();
        assert!(reply.starts_with("250"), "{reply}");
    }

    let want = [
        (messages("pipe", "accepted"), 2.0),
        (messages("pipe", "refused"), 1.0),
        (messages("pipe", "tempfail"), 0.0),
        (messages("lmtp", "accepted"), 2.0),
        (messages("lmtp", "refused"), 0.0),
        ("embargo_decrypt_failures_total".to_owned(), 1.0),
    ];
    // Every replica says the same (the LMTP count is written just after
    // the answer: wait for it).
    for r in &running {
        wait_until(&g, "the counts on /metrics", 30, || {
            let m = scrape(r);
            want.iter().all(|(k, v)| m.get(k) == Some(v))
        });
    }
    for mut r in running {
        r.stop();
    }
}

#[test]
fn metrics_count_the_pipe_on_sqlite() {
    metrics_count_every_channel(Gateway::sqlite(), 1);
}

#[test]
fn metrics_count_the_pipe_and_every_replica_on_postgres() {
    if let Some(g) = Gateway::postgres() {
        metrics_count_every_channel(g, 2);
    }
}
