//! `[log] format = "json"`: what a log collector reads from `serve`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Gateway, free_port};

const SECRET_SUBJECT: &str = "LOGCANARY subject of the report";
const SECRET_BODY: &str = "LOGCANARY body of the report";

fn lmtp_deliver(port: u16, raw: &str) -> String {
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut w = c;
    let mut reply = || {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] == b' ' {
                return all;
            }
        }
    };
    assert!(reply().starts_with("220"));
    for cmd in [
        "LHLO mta.example.org\r\n",
        "MAIL FROM:<rita@example.org>\r\n",
        "RCPT TO:<security@project.example>\r\n",
        "DATA\r\n",
    ] {
        w.write_all(cmd.as_bytes()).unwrap();
        let r = reply();
        assert!(r.starts_with('2') || r.starts_with('3'), "{cmd:?}: {r}");
    }
    w.write_all(raw.as_bytes()).unwrap();
    w.write_all(b".\r\n").unwrap();
    let answer = reply();
    w.write_all(b"QUIT\r\n").unwrap();
    answer
}

/// Every line `serve` writes (at debug level, SQL statements included) is
/// one JSON object with a timestamp, a level, a target and fields; a filed
/// report's subject and body appear in none.
#[test]
fn json_logs_are_one_object_per_line() {
    let g = Gateway::sqlite();
    // `init` prints the admin's one-time password as text: once, before
    // the service runs.
    g.ok(&["init"]);
    let (web, lmtp) = (free_port(), free_port());
    let mut child = g
        .command(&["serve"])
        .env("EMBARGO_LOG_FORMAT", "json")
        .env("EMBARGO_LOG_LEVEL", "debug")
        .env("EMBARGO_WEB_LISTEN", format!("127.0.0.1:{web}"))
        .env("EMBARGO_LMTP_LISTEN", format!("127.0.0.1:{lmtp}"))
        .env("EMBARGO_METRICS_LISTEN", "")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", lmtp)).is_err() {
        assert!(child.try_wait().unwrap().is_none(), "serve exited");
        assert!(Instant::now() < deadline, "serve did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let raw = format!(
        "From: Rita <rita@example.org>\r\nTo: security@project.example\r\n\
Subject: {SECRET_SUBJECT}\r\nMessage-ID: <json-log@example.org>\r\n\r\n{SECRET_BODY}\r\n"
    );
    let answer = lmtp_deliver(lmtp, &raw);
    assert!(answer.starts_with("250"), "{answer}");

    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(child.wait().unwrap().success());

    let mut messages = Vec::new();
    for line in stderr.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line:?}"));
        assert!(v["timestamp"].is_string(), "{line}");
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&v["level"].as_str().unwrap()),
            "{line}"
        );
        assert!(v["fields"].is_object() && v["target"].is_string(), "{line}");
        if let Some(message) = v["fields"]["message"].as_str() {
            messages.push(message.to_owned());
        }
    }
    for wanted in ["embargo serving", "stopped"] {
        assert!(
            messages.iter().any(|m| m == wanted),
            "no {wanted:?} in {messages:?}"
        );
    }
    assert!(
        !stderr.contains("LOGCANARY"),
        "report content in the logs: {stderr}"
    );
}
