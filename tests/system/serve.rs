//! `embargo serve`: both listeners answer, SIGTERM stops it cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Gateway, free_port};

struct Server {
    child: Child,
    web: u16,
    lmtp: u16,
}

impl Server {
    fn start_with(g: &Gateway, metrics: Option<u16>) -> Server {
        let web = free_port();
        let lmtp = free_port();
        let child = g
            .command(&["serve"])
            .env("EMBARGO_WEB_LISTEN", format!("127.0.0.1:{web}"))
            .env("EMBARGO_LMTP_LISTEN", format!("127.0.0.1:{lmtp}"))
            .env(
                "EMBARGO_METRICS_LISTEN",
                metrics
                    .map(|p| format!("127.0.0.1:{p}"))
                    .unwrap_or_default(),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut s = Server { child, web, lmtp };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", web)).is_err() {
            if let Some(status) = s.child.try_wait().unwrap() {
                let mut err = String::new();
                s.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("serve exited early ({status}): {err}");
            }
            assert!(Instant::now() < deadline, "serve did not listen in time");
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    fn get(&self, path: &str) -> (u16, String) {
        get_from(self.web, path)
    }
}

fn get_from(port: u16, path: &str) -> (u16, String) {
    {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            c,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut bytes = Vec::new();
        c.read_to_end(&mut bytes).unwrap();
        let resp = String::from_utf8_lossy(&bytes).into_owned();
        let status = resp
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap();
        (status, resp)
    }
}

impl Server {
    /// SIGTERM, then the exit status within a deadline.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(kill.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_answers_and_stops(g: &Gateway) {
    // serve runs init itself when DIR is new.
    let metrics = free_port();
    let server = Server::start_with(g, Some(metrics));

    // Public endpoints: security.txt (RFC 9116), the team key, WKD.
    let (status, txt) = server.get("/.well-known/security.txt");
    assert_eq!(status, 200, "{txt}");
    assert!(
        txt.contains("Contact: mailto:security@project.example"),
        "{txt}"
    );
    assert!(
        txt.contains("Expires: ") && txt.contains("Encryption: "),
        "{txt}"
    );
    let (status, key) = server.get("/.well-known/embargo/team-key.asc");
    assert_eq!(status, 200);
    assert!(key.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") && !key.contains("PRIVATE"));
    assert_eq!(server.get("/.well-known/openpgpkey/policy").0, 200);
    // z-base-32(SHA-1("security")), as gpg-wks-client --print-wkd-hash says.
    let (status, wkd) = server.get("/.well-known/openpgpkey/hu/t5s8ztdbon8yzntexy6oz5y48etqsnbb");
    assert_eq!(status, 200, "{wkd}");
    assert!(
        wkd.to_ascii_lowercase()
            .contains("application/octet-stream")
    );
    assert_eq!(
        server
            .get("/.well-known/openpgpkey/hu/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
            .0,
        404
    );

    // Prometheus metrics on their own listener.
    let (status, m) = get_from(metrics, "/metrics");
    assert_eq!(status, 200, "{m}");
    for series in [
        "embargo_up 1",
        "embargo_store_up 1",
        "embargo_outbox_entries",
        "embargo_publication_jobs",
    ] {
        assert!(m.contains(series), "missing {series}: {m}");
    }
    assert_eq!(server.get("/metrics").0, 404, "not on the web listener");

    let (status, resp) = server.get("/healthz");
    assert_eq!(status, 200, "{resp}");
    let lower = resp.to_ascii_lowercase();
    for header in [
        "content-security-policy: default-src 'self'",
        "frame-ancestors 'none'",
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
    ] {
        assert!(lower.contains(header), "missing {header}: {resp}");
    }
    let (status, _) = server.get("/readyz");
    assert_eq!(status, 200);
    let (status, _) = server.get("/no-such-page");
    assert_eq!(status, 404);

    let lmtp = TcpStream::connect(("127.0.0.1", server.lmtp)).unwrap();
    lmtp.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(lmtp.try_clone().unwrap());
    let mut greeting = String::new();
    reader.read_line(&mut greeting).unwrap();
    assert!(greeting.starts_with("220 "), "{greeting:?}");
    (&lmtp).write_all(b"LHLO client.example\r\n").unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("250"), "{line:?}");
    (&lmtp).write_all(b"QUIT\r\n").unwrap();
    drop(reader);
    drop(lmtp);

    let status = server.terminate();
    assert!(status.success(), "serve exits 0 on SIGTERM: {status}");
}

#[test]
fn serve_on_sqlite() {
    serve_answers_and_stops(&Gateway::sqlite());
}

#[test]
fn serve_on_postgres() {
    if let Some(g) = Gateway::postgres() {
        serve_answers_and_stops(&g);
    }
}

#[test]
fn serve_refuses_a_taken_port() {
    let g = Gateway::sqlite();
    g.ok(&["init"]);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = g
        .command(&["serve"])
        .env("EMBARGO_WEB_LISTEN", format!("127.0.0.1:{port}"))
        .env("EMBARGO_LMTP_LISTEN", format!("127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    let err = crate::support::assert_one_line_error(&out);
    assert!(err.contains("web.listen"), "{err}");
}
