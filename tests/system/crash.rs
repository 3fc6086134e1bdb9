//! Crash safety of the LMTP hand-off, as an MTA sees it: a 250 means the
//! message is stored for good, anything else means "try again", and trying
//! again never files a message twice.
//!
//! - `embargo serve` is SIGKILLed at random points (during start-up, idle,
//!   mid-transaction) and restarted while several clients stream
//!   deliveries and retry whatever did not get a 250.
//! - On PostgreSQL, the database goes away mid-stream (connections refused,
//!   backends terminated): senders get 451, `ingest` exits 75, `/readyz`
//!   says 503; when it is back the retries file, and nothing that was
//!   acknowledged is lost.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::support::{CUT_AFTER_DATA, Gateway, lmtp_deliver};

/// A loopback port below the kernel's ephemeral range, so that no other
/// test's `free_port()` is handed it while our server is down between a
/// kill and its restart (the clients would then talk to someone else).
fn steady_port(rng: &mut StdRng) -> u16 {
    loop {
        let p = rng.gen_range(20_000..32_000);
        if TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

#[derive(Clone, Copy)]
struct Ports {
    web: u16,
    lmtp: u16,
}

/// `embargo serve` with its stderr in `DIR/../serve-N.log`.
fn spawn_serve(g: &Gateway, ports: Ports, n: usize) -> Child {
    let log = std::fs::File::create(g.dir.path().join(format!("serve-{n}.log"))).unwrap();
    g.command(&["serve"])
        .env("EMBARGO_WEB_LISTEN", format!("127.0.0.1:{}", ports.web))
        .env("EMBARGO_LMTP_LISTEN", format!("127.0.0.1:{}", ports.lmtp))
        .env("EMBARGO_METRICS_LISTEN", "")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// The last lines of every serve log, for failure messages.
fn serve_logs(g: &Gateway) -> String {
    let mut names: Vec<_> = std::fs::read_dir(g.dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    names.sort();
    let mut all = String::new();
    for p in names {
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        if !tail.is_empty() {
            all.push_str(&format!("== {}\n", p.display()));
            for l in tail.into_iter().rev() {
                all.push_str(l);
                all.push('\n');
            }
        }
    }
    all
}

/// Waits until the LMTP port accepts; panics when serve exits first.
fn wait_listening(g: &Gateway, child: &mut Child, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("serve exited ({status}):\n{}", serve_logs(g));
        }
        assert!(
            Instant::now() < deadline,
            "serve did not listen:\n{}",
            serve_logs(g)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn message(tag: &str, i: usize) -> (String, Vec<u8>) {
    let subject = format!("{tag} {i:03}");
    let raw = format!(
        "From: Rita <rita@example.org>\r\nTo: security@project.example\r\n\
Subject: {subject}\r\nMessage-ID: <{tag}-{i}@example.org>\r\n\
Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\n\
Report {i} of the stream.\r\nCANARY-{tag}-{i}\r\n"
    );
    (subject, raw.into_bytes())
}

#[derive(Default)]
struct Tally {
    /// Transactions that got 250, per message (more than one: redelivered).
    acked: BTreeMap<usize, usize>,
    /// Transactions answered 4xx.
    temp: usize,
    /// Transactions whose connection failed (server down or killed).
    broken: usize,
    /// Of those, cut after the whole message was sent: delivered, maybe.
    cut_after_data: usize,
    /// When each 250 arrived.
    ack_times: Vec<Instant>,
}

/// Delivers `raw` until it gets a 250, as an MTA retries from its queue.
/// A 5xx would be a bug: these messages are all acceptable.
fn deliver_until_accepted(
    port: u16,
    i: usize,
    raw: &[u8],
    tally: &Mutex<Tally>,
    deadline: Instant,
    pause: Duration,
) {
    loop {
        match lmtp_deliver(port, raw, Duration::from_secs(20)) {
            Ok(reply) if reply.starts_with("250") => {
                let mut t = tally.lock().unwrap();
                *t.acked.entry(i).or_default() += 1;
                t.ack_times.push(Instant::now());
                return;
            }
            Ok(reply) if reply.starts_with('4') => tally.lock().unwrap().temp += 1,
            Ok(reply) => panic!("message {i}: permanent failure {reply:?}"),
            Err(e) => {
                let mut t = tally.lock().unwrap();
                t.broken += 1;
                if e.starts_with(CUT_AFTER_DATA) {
                    t.cut_after_data += 1;
                }
            }
        }
        assert!(Instant::now() < deadline, "message {i} was never accepted");
        std::thread::sleep(pause);
    }
}

/// Every message filed exactly once, with its acknowledgement and no
/// second copy of itself; returns the reports by subject.
fn assert_filed_once(
    g: &Gateway,
    tag: &str,
    count: usize,
    extra: &[&str],
) -> BTreeMap<String, serde_json::Value> {
    let list: serde_json::Value =
        serde_json::from_str(&g.ok(&["report", "list", "--json"])).unwrap();
    let mut by_subject: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for r in list.as_array().unwrap() {
        by_subject
            .entry(r["subject"].as_str().unwrap().to_owned())
            .or_default()
            .push(r.clone());
    }
    let mut wanted: Vec<String> = (0..count).map(|i| message(tag, i).0).collect();
    wanted.extend(extra.iter().map(|s| (*s).to_owned()));
    for subject in &wanted {
        let found = by_subject.get(subject).map(Vec::len).unwrap_or(0);
        assert_eq!(found, 1, "{subject:?} filed {found} times");
        // The inbound message and its acknowledgement, committed together.
        let r = &by_subject[subject][0];
        assert_eq!(r["message_count"], 2, "{subject:?}: {r}");
    }
    assert_eq!(by_subject.len(), wanted.len(), "unexpected reports");
    by_subject
        .into_iter()
        .map(|(k, mut v)| (k, v.remove(0)))
        .collect()
}

/// For a few redelivered messages, the report holds the message once.
fn assert_single_copy(g: &Gateway, report: &serde_json::Value, message_id: &str) {
    let id = report["id"].as_str().unwrap();
    let show: serde_json::Value =
        serde_json::from_str(&g.ok(&["report", "show", id, "--json"])).unwrap();
    let copies = show["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "inbound" && m["message_id"] == message_id)
        .count();
    assert_eq!(copies, 1, "{message_id} in {id}: {show}");
}

const STREAM: usize = 200;
const SENDERS: usize = 4;

/// Clients stream `STREAM` messages while serve is SIGKILLed and restarted
/// at random points; every 250 is filed, nothing twice.
fn sigkill_mid_stream(g: &Gateway, tag: &'static str) {
    let seed: u64 = rand::thread_rng().r#gen();
    eprintln!("crash test {tag}: seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let ports = Ports {
        web: steady_port(&mut rng),
        lmtp: steady_port(&mut rng),
    };
    let started = Instant::now();
    let mut child = spawn_serve(g, ports, 0);
    wait_listening(g, &mut child, ports.lmtp);

    let tally = Arc::new(Mutex::new(Tally::default()));
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(40);
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let tally = tally.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                for i in (s..STREAM).step_by(SENDERS) {
                    let (_, raw) = message(tag, i);
                    deliver_until_accepted(
                        ports.lmtp,
                        i,
                        &raw,
                        &tally,
                        deadline,
                        Duration::from_millis(20),
                    );
                    // Every 8th message again, as an MTA does when the 250
                    // got lost: it must be accepted and not filed again.
                    if i % 8 == 0 {
                        deliver_until_accepted(
                            ports.lmtp,
                            i,
                            &raw,
                            &tally,
                            deadline,
                            Duration::from_millis(20),
                        );
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();

    // The killer: SIGKILL at a random moment, restart; sometimes again
    // during start-up, before the listener is up.
    let mut kills = 0;
    let mut generation = 0;
    while done.load(Ordering::SeqCst) < SENDERS {
        let early = rng.gen_ratio(1, 5);
        let wait = if early {
            rng.gen_range(0..150)
        } else {
            wait_listening(g, &mut child, ports.lmtp);
            rng.gen_range(30..400)
        };
        std::thread::sleep(Duration::from_millis(wait));
        if done.load(Ordering::SeqCst) == SENDERS {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("serve died by itself ({status}):\n{}", serve_logs(g));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        generation += 1;
        child = spawn_serve(g, ports, generation);
        assert!(Instant::now() < deadline, "stream did not finish");
    }
    for s in senders {
        s.join().unwrap();
    }
    let _ = child.kill();
    let _ = child.wait();
    let stream_time = started.elapsed();

    let t = tally.lock().unwrap();
    assert_eq!(t.acked.len(), STREAM, "every message got its 250");
    let redelivered: Vec<usize> = t
        .acked
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(i, _)| *i)
        .collect();
    eprintln!(
        "crash test {tag}: {STREAM} messages in {stream_time:?}, {kills} SIGKILLs, \
         {} broken connections ({} after the message was sent), {} 4xx, \
         {} acknowledged more than once",
        t.broken,
        t.cut_after_data,
        t.temp,
        redelivered.len()
    );
    assert!(kills >= 3, "only {kills} kills: the stream was too short");
    assert!(t.broken > 0, "no delivery was cut by a kill");

    let reports = assert_filed_once(g, tag, STREAM, &[]);
    for i in redelivered.iter().take(5) {
        let (subject, _) = message(tag, *i);
        assert_single_copy(g, &reports[&subject], &format!("{tag}-{i}@example.org"));
    }
    eprintln!("crash test {tag}: total {:?}", started.elapsed());
}

#[test]
fn sigkill_mid_stream_on_sqlite() {
    sigkill_mid_stream(&Gateway::sqlite(), "crash-sqlite");
}

#[test]
fn sigkill_mid_stream_on_postgres() {
    if let Some(g) = Gateway::postgres() {
        sigkill_mid_stream(&g, "crash-pg");
    }
}

fn psql(url: &str, sqls: &[&str]) {
    let mut cmd = Command::new("psql");
    cmd.arg(url).args(["-v", "ON_ERROR_STOP=1", "-qAt"]);
    for sql in sqls {
        cmd.arg("-c").arg(sql);
    }
    let out = cmd.output().expect("psql");
    assert!(
        out.status.success(),
        "psql {sqls:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn database_name(g: &Gateway) -> String {
    let url = &g
        .env
        .iter()
        .find(|(k, _)| k == "DATABASE_URL")
        .expect("a PostgreSQL gateway")
        .1;
    let path = url.split('?').next().unwrap();
    path.rsplit('/').next().unwrap().to_owned()
}

fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut resp = String::new();
    c.read_to_string(&mut resp).ok()?;
    resp.split_whitespace().nth(1)?.parse().ok()
}

fn ingest(g: &Gateway, raw: &[u8]) -> std::process::Output {
    let mut child = g
        .command(&["ingest"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    child.wait_with_output().unwrap()
}

/// PostgreSQL goes away mid-stream (new connections refused, every backend
/// of the database terminated) and comes back.
#[test]
fn store_outage_mid_stream_on_postgres() {
    let Some(g) = Gateway::postgres() else {
        return;
    };
    let admin = std::env::var("TEST_DATABASE_URL").unwrap();
    let db = database_name(&g);
    let tag = "outage";
    let count = 60;
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(rand::thread_rng().r#gen());
    let ports = Ports {
        web: steady_port(&mut rng),
        lmtp: steady_port(&mut rng),
    };
    let mut child = spawn_serve(&g, ports, 0);
    wait_listening(&g, &mut child, ports.lmtp);

    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(40);
    let senders: Vec<_> = (0..2)
        .map(|s| {
            let tally = tally.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                for i in (s..count).step_by(2) {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let (_, raw) = message(tag, i);
                    deliver_until_accepted(
                        ports.lmtp,
                        i,
                        &raw,
                        &tally,
                        deadline,
                        Duration::from_millis(100),
                    );
                    // Spread the stream over the outage.
                    std::thread::sleep(Duration::from_millis(60));
                }
            })
        })
        .collect();
    let wait_for = |what: &str, cond: &dyn Fn(&Tally) -> bool| {
        while !cond(&tally.lock().unwrap()) {
            if Instant::now() > deadline {
                stop.store(true, Ordering::SeqCst);
                panic!("timed out waiting for {what}:\n{}", serve_logs(&g));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for("10 acknowledged messages", &|t| t.acked.len() >= 10);

    // The store goes away.
    psql(
        &admin,
        &[
            &format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false"),
            &format!(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = '{db}' AND pid <> pg_backend_pid()"
            ),
        ],
    );
    let outage = Instant::now();
    let temp_before = tally.lock().unwrap().temp;
    let acked_before = tally.lock().unwrap().acked.len();
    let (_, late) = message(tag, count);
    let out = ingest(&g, &late);
    assert_eq!(
        out.status.code(),
        Some(75),
        "ingest during the outage: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(http_status(ports.web, "/readyz"), Some(503), "/readyz");
    assert_eq!(http_status(ports.web, "/healthz"), Some(200), "/healthz");
    wait_for("451s during the outage", &|t| t.temp >= temp_before + 3);
    std::thread::sleep(Duration::from_millis(500));
    let during = tally.lock().unwrap().acked.len() - acked_before;
    // A 250 needs a commit, and nothing can commit now. (Grace for a
    // transaction that committed just before the backends were ended.)
    let grace = outage + Duration::from_millis(500);
    let restore = Instant::now();
    let acked_in_outage = tally
        .lock()
        .unwrap()
        .ack_times
        .iter()
        .filter(|t| **t > grace && **t < restore)
        .count();
    assert_eq!(acked_in_outage, 0, "250s while the store was down");

    // Back: the senders' retries file.
    psql(
        &admin,
        &[&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true")],
    );
    let outage_time = outage.elapsed();
    for s in senders {
        s.join().unwrap();
    }
    let ready_by = Instant::now() + Duration::from_secs(15);
    while http_status(ports.web, "/readyz") != Some(200) {
        assert!(Instant::now() < ready_by, "/readyz did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = ingest(&g, &late);
    assert_eq!(
        out.status.code(),
        Some(0),
        "ingest after the outage: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = child.kill();
    let _ = child.wait();

    let t = tally.lock().unwrap();
    assert_eq!(t.acked.len(), count, "every message got its 250");
    eprintln!(
        "outage test: {count} messages, outage {outage_time:?}, {} 4xx, {} broken, \
         {during} acknowledged in the grace period",
        t.temp, t.broken
    );
    let late_subject = message(tag, count).0;
    assert_filed_once(&g, tag, count, &[&late_subject]);
    eprintln!("outage test: total {:?}", started.elapsed());
}
