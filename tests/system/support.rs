//! Running the binary in a fresh data directory.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_embargo");

/// A fresh data directory and the environment the binary runs with.
pub struct Gateway {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    /// A PostgreSQL database created for this gateway, dropped at the end.
    pg_db: Option<String>,
}

impl Gateway {
    /// On the embedded default (SQLite in DIR).
    pub fn sqlite() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            env: Vec::new(),
            pg_db: None,
        }
    }

    /// On a fresh PostgreSQL database, when `TEST_DATABASE_URL` is set. In
    /// CI a missing server is a failure; elsewhere the test is skipped.
    pub fn postgres() -> Option<Self> {
        let Some(admin_url) = std::env::var("TEST_DATABASE_URL").ok() else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but TEST_DATABASE_URL is not set: the PostgreSQL run is mandatory");
            }
            eprintln!("skipping PostgreSQL: TEST_DATABASE_URL not set");
            return None;
        };
        let name = format!("embargo_sys_{}", std::process::id()) + &format!("_{}", rand_suffix());
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        let url = replace_db(&admin_url, &name);
        Some(Self {
            dir: tempfile::tempdir().unwrap(),
            env: vec![("DATABASE_URL".into(), url)],
            pg_db: Some(name),
        })
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_in(&self.data(), args)
    }

    /// Like [`Gateway::command`], on another data directory with this
    /// gateway's environment (its database): a second replica.
    pub fn command_in(&self, data: &Path, args: &[&str]) -> Command {
        self.command_of(Path::new(BIN), data, args)
    }

    /// Like [`Gateway::command_in`], running another copy of the binary
    /// (one that a less privileged user can reach).
    pub fn command_of(&self, bin: &Path, data: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(bin);
        c.arg("--data").arg(data).args(args);
        // The gateway refuses unknown EMBARGO_ variables; the test
        // environment's own (e.g. EMBARGO_CORPUS_DIR) are not for it.
        c.env_remove("DATABASE_URL");
        for (k, _) in std::env::vars() {
            if k.starts_with("EMBARGO_") {
                c.env_remove(k);
            }
        }
        c.env("EMBARGO_LOG_LEVEL", "warn");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "embargo {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Gateway {
    /// The PostgreSQL URL of this gateway's database, if it has one.
    pub fn database_url(&self) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == "DATABASE_URL")
            .map(|(_, v)| v.as_str())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let (Some(name), Ok(admin)) = (&self.pg_db, std::env::var("TEST_DATABASE_URL")) {
            let _ = Command::new("psql")
                .arg(&admin)
                .arg("-qc")
                .arg(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .output();
        }
    }
}

fn rand_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{n}")
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .arg(url)
        .arg("-qc")
        .arg(sql)
        .output()
        .expect("psql (postgresql-client) is needed for the PostgreSQL tests");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `postgres://u@h:p/db?x` with the database replaced.
fn replace_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    format!("{}/{db}{query}", &base[..path_start])
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Stderr is one line: no panic message, no backtrace.
pub fn assert_one_line_error(out: &Output) -> String {
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("embargo: "), "{err:?}");
    assert!(!err.contains("panicked"), "{err:?}");
    assert!(!err.contains("RUST_BACKTRACE"), "{err:?}");
    err
}

/// A private GnuPG home for the real `gpg` as an interoperability peer. In
/// CI a missing `gpg` is a failure; elsewhere the test is skipped.
pub fn gpg_home() -> Option<tempfile::TempDir> {
    let present = Command::new("gpg")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !present {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but gpg (GnuPG) is not installed");
        }
        eprintln!("skipping: gpg (GnuPG) is not installed");
        return None;
    }
    let home = tempfile::Builder::new().prefix("gpg").tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    Some(home)
}

/// The real `gpg` in its own home, as a reporter's or member's client.
pub struct Gpg {
    pub home: tempfile::TempDir,
}

impl Gpg {
    /// A home with a fresh key for `uid` (e.g. `Rita <rita@example.org>`).
    /// `None` when gpg is missing outside CI.
    pub fn with_key(uid: &str) -> Option<Gpg> {
        let g = Gpg { home: gpg_home()? };
        g.ok(
            &["--quick-gen-key", uid, "default", "default", "never"],
            None,
        );
        Some(g)
    }

    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        use std::io::Write;
        let mut c = Command::new("gpg")
            .env("GNUPGHOME", self.home.path())
            .args([
                "--batch",
                "--trust-model",
                "always",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            c.stdin.take().unwrap().write_all(input).unwrap();
        }
        drop(c.stdin.take());
        c.wait_with_output().unwrap()
    }

    pub fn ok(&self, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    pub fn export(&self, who: &str) -> String {
        String::from_utf8(self.ok(&["--armor", "--export", who], None)).unwrap()
    }

    /// Decrypts and verifies; returns (plaintext, status lines).
    pub fn decrypt(&self, data: &[u8]) -> (String, String) {
        let out = self.run(&["--status-fd", "2", "--decrypt"], Some(data));
        let status = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "gpg --decrypt: {status}");
        (String::from_utf8_lossy(&out.stdout).into_owned(), status)
    }
}

/// The OpenPGP message of a PGP/MIME mail (the armored block).
pub fn armored_block(mail: &str) -> String {
    let start = mail
        .find("-----BEGIN PGP MESSAGE-----")
        .expect("an armored message");
    let end = mail[start..]
        .find("-----END PGP MESSAGE-----")
        .map(|i| start + i + "-----END PGP MESSAGE-----".len())
        .expect("end of the armored message");
    mail[start..end].to_owned()
}

/// A PGP/MIME message around an armored OpenPGP message.
pub fn pgp_mime(from: &str, subject: &str, message_id: &str, armored: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: security@project.example\r\nSubject: {subject}\r\n\
Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n\
--b\r\nContent-Type: application/octet-stream\r\n\r\n{armored}\r\n--b--\r\n"
    )
    .into_bytes()
}

/// Runs one SQL statement with `psql` and returns its unaligned,
/// tuples-only output (`|` between columns).
pub fn psql_query(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .output()
        .expect("psql (postgresql-client) is needed for the PostgreSQL tests");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A real SMTP server (Python aiosmtpd) on loopback, as the relay the
/// gateway sends through: every message it accepts is written to
/// `received/NNNN.eml`. While [`SmtpSink::hold`] is on, it stores each
/// message and then waits before answering the end of DATA, as a relay
/// that has queued the message but is slow to say so. In CI a missing
/// aiosmtpd is a failure; elsewhere the test is skipped.
pub struct SmtpSink {
    child: std::process::Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

const SMTP_SINK: &str = r#"
import asyncio, os, socket, sys
from aiosmtpd.smtp import SMTP

out, hold = sys.argv[1], sys.argv[2]

class Handler:
    def __init__(self):
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(out, '%04d' % self.n)
        with open(base + '.tmp', 'wb') as f:
            f.write(envelope.original_content)
        os.rename(base + '.tmp', base + '.eml')
        while os.path.exists(hold):
            await asyncio.sleep(0.02)
        return '250 2.0.0 queued'

async def main():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(64)
    loop = asyncio.get_running_loop()
    handler = Handler()
    await loop.create_server(lambda: SMTP(handler, decode_data=False), sock=sock)
    print(sock.getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"#;

impl SmtpSink {
    pub fn start() -> Option<SmtpSink> {
        use std::io::BufRead;
        let available = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !available {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but python3 with aiosmtpd is not installed");
            }
            eprintln!("skipping: python3 with aiosmtpd is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("sink.py");
        std::fs::write(&script, SMTP_SINK).unwrap();
        std::fs::create_dir(dir.path().join("received")).unwrap();
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(dir.path().join("received"))
            .arg(dir.path().join("hold"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the SMTP sink did not start: {line:?}"));
        Some(SmtpSink { child, port, dir })
    }

    /// Holds (or releases) the answers to the end of DATA.
    pub fn hold(&self, on: bool) {
        let flag = self.dir.path().join("hold");
        if on {
            std::fs::write(flag, b"").unwrap();
        } else {
            let _ = std::fs::remove_file(flag);
        }
    }

    /// The messages received so far, in order of arrival.
    pub fn received(&self) -> Vec<Vec<u8>> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("received"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect()
    }

    /// The Message-ID of each received message, in order of arrival.
    pub fn message_ids(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|m| header_value(m, "Message-ID").expect("every message has a Message-ID"))
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the first header `name` of a message (unfolded).
pub fn header_value(message: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut lines = head.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if key.eq_ignore_ascii_case(name) {
            let mut v = value.trim().to_owned();
            while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                v.push(' ');
                v.push_str(next.trim());
                lines.next();
            }
            return Some(v);
        }
    }
    None
}

/// The GitHub stand-in, served by its own runtime on a background thread
/// for as long as this value lives.
pub struct GitHubStandIn {
    pub server: embargo_github_standin::Server,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GitHubStandIn {
    pub fn start() -> Self {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                ready_tx
                    .send(embargo_github_standin::start().await)
                    .unwrap();
                let _ = stop_rx.await;
            });
        });
        let server = ready_rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the stand-in started");
        Self {
            server,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for GitHubStandIn {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------- mail in

/// One LMTP/SMTP reply, all its lines (up to the one with a space after
/// the code).
pub fn read_reply(r: &mut std::io::BufReader<std::net::TcpStream>) -> Result<String, String> {
    use std::io::BufRead as _;
    let mut all = String::new();
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) => return Err(format!("connection closed after {all:?}")),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
        all.push_str(&line);
        if line.len() < 4 || line.as_bytes()[3] == b' ' {
            return Ok(all);
        }
    }
}

/// How the error of [`lmtp_deliver`] begins when the connection failed
/// after the message was sent (it may or may not be stored).
pub const CUT_AFTER_DATA: &str = "cut after the message was sent";

/// One LMTP transaction for one recipient, as an MTA's LMTP client runs
/// it, each read and write bounded by `io_timeout`. `Ok(reply)`: the
/// server's answer to the message (or the first unexpected reply before
/// it); `Err`: the connection failed.
pub fn lmtp_deliver(
    port: u16,
    raw: &[u8],
    io_timeout: std::time::Duration,
) -> Result<String, String> {
    use std::io::Write as _;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let stream = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(io_timeout)).unwrap();
    stream.set_write_timeout(Some(io_timeout)).unwrap();
    let mut r = std::io::BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut w = stream;
    let greeting = read_reply(&mut r)?;
    if !greeting.starts_with("220") {
        return Ok(greeting);
    }
    for (cmd, want) in [
        (&b"LHLO mta.example.org\r\n"[..], "250"),
        (b"MAIL FROM:<rita@example.org>\r\n", "250"),
        (b"RCPT TO:<security@project.example>\r\n", "250"),
        (b"DATA\r\n", "354"),
    ] {
        w.write_all(cmd).map_err(|e| e.to_string())?;
        let reply = read_reply(&mut r)?;
        if !reply.starts_with(want) {
            return Ok(reply);
        }
    }
    w.write_all(raw).map_err(|e| e.to_string())?;
    w.write_all(b".\r\n").map_err(|e| e.to_string())?;
    // Cut here, the message may or may not be stored: a retry must not
    // file it twice.
    let reply = read_reply(&mut r).map_err(|e| format!("{CUT_AFTER_DATA}: {e}"))?;
    let _ = w.write_all(b"QUIT\r\n");
    Ok(reply)
}

/// `embargo ingest` with `raw` on stdin, which must succeed; what it
/// printed (the tracking ID), trimmed.
pub fn ingest_ok(g: &Gateway, raw: &[u8]) -> String {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = g
        .command(&["ingest"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ingest: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
