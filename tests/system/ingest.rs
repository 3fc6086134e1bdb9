//! `embargo ingest` (MTA pipe) and the LMTP listener: exit codes, replies,
//! filing, and GnuPG-encrypted reports end to end.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use crate::support::{Gateway, gpg_home};

fn ingest(g: &Gateway, raw: &[u8], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = g.command(&["ingest"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    child.wait_with_output().unwrap()
}

fn message(id: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Rita <rita@example.org>\r\nTo: security@project.example\r\nSubject: {subject}\r\n\
Message-ID: <{id}>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&crate::support::Gateway::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $name() {
                if let Some(g) = crate::support::Gateway::postgres() { super::$name(&g); }
            })*
        }
    };
}

both_backends!(ingest_files_once_and_maps_exit_codes);

fn ingest_files_once_and_maps_exit_codes(g: &Gateway) {
    g.ok(&["init"]);
    let raw = message("pipe-1@example.org", "SSRF in katib", "details CANARY-PIPE");
    let first = ingest(g, &raw, &[]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let id = String::from_utf8(first.stdout).unwrap().trim().to_owned();
    assert!(id.starts_with("SEC-"), "{id:?}");

    let second = ingest(g, &raw, &[]);
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(String::from_utf8(second.stdout).unwrap().trim(), id);

    let list: serde_json::Value =
        serde_json::from_str(&g.ok(&["report", "list", "--json"])).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    let r = &list[0];
    for key in [
        "id",
        "state",
        "subject",
        "reporter",
        "wg",
        "severity",
        "created_at",
        "updated_at",
        "embargo_until",
        "message_count",
    ] {
        assert!(r.get(key).is_some(), "report list lacks {key}: {r}");
    }
    assert_eq!(r["id"], id.as_str());
    assert_eq!(r["state"], "new");
    assert_eq!(r["subject"], "SSRF in katib");
    assert_eq!(r["reporter"], "rita@example.org");
    assert_eq!(r["message_count"], 2, "the report and its acknowledgement");

    let show: serde_json::Value =
        serde_json::from_str(&g.ok(&["report", "show", &id, "--json"])).unwrap();
    let m = &show["messages"][0];
    for key in [
        "message_id",
        "direction",
        "from",
        "date",
        "encrypted",
        "decrypted",
        "signature",
        "body_text",
        "attachments",
    ] {
        assert!(m.get(key).is_some(), "message lacks {key}: {m}");
    }
    assert_eq!(m["direction"], "inbound");
    assert_eq!(m["signature"]["status"], "none");
    assert!(m["body_text"].as_str().unwrap().contains("CANARY-PIPE"));
    assert!(show["events"].as_array().is_some_and(|e| !e.is_empty()));

    // Triage through the CLI moves the state.
    let triaged: serde_json::Value = serde_json::from_str(&g.ok(&[
        "report",
        "triage",
        &id,
        "--wg",
        "katib",
        "--severity",
        "high",
    ]))
    .unwrap();
    assert_eq!(triaged["state"], "triaged");
    assert_eq!(triaged["wg"], "katib");
    assert_eq!(triaged["severity"], "high");

    // Refused for good: 65 with a one-line reason.
    let big = message("pipe-2@example.org", "big", &"x".repeat(4096));
    let out = ingest(g, &big, &[("EMBARGO_INTAKE_MAX_MESSAGE_BYTES", "2048")]);
    assert_eq!(out.status.code(), Some(65));
    assert!(crate::support::assert_one_line_error(&out).contains("size limit"));
    let out = ingest(g, b"\x00\x01garbage", &[]);
    assert_eq!(out.status.code(), Some(65));
    crate::support::assert_one_line_error(&out);
}

#[test]
fn store_unreachable_is_tempfail() {
    let g = Gateway::sqlite();
    g.ok(&["init"]);
    let raw = message("pipe-3@example.org", "x", "y");
    // A PostgreSQL URL on a port where nothing listens.
    let port = crate::support::free_port();
    let out = ingest(
        &g,
        &raw,
        &[(
            "DATABASE_URL",
            &format!("postgres://postgres@127.0.0.1:{port}/x"),
        )],
    );
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    crate::support::assert_one_line_error(&out);

    // A broken config is not the message's fault either.
    let out = ingest(&g, &raw, &[("EMBARGO_WEB_LISTEN", "nope")]);
    assert_eq!(out.status.code(), Some(75));
}

#[test]
fn gnupg_encrypted_report_to_an_older_listed_key_decrypts() {
    let Some(home) = gpg_home() else { return };
    // Two gateways' keys; ours lists [newer, older].
    let newer = Gateway::sqlite();
    newer.ok(&["init"]);
    let older = Gateway::sqlite();
    older.ok(&["init"]);
    let g = Gateway::sqlite();
    std::fs::create_dir_all(g.data()).unwrap();
    std::fs::write(
        g.data().join("embargo.toml"),
        format!(
            "[pgp]\nsecret_keys = [{:?}, {:?}]\n",
            newer.data().join("keys/team.sec.asc").display().to_string(),
            older.data().join("keys/team.sec.asc").display().to_string()
        ),
    )
    .unwrap();
    g.ok(&["init"]);

    // A reporter with GnuPG encrypts and signs to the OLDER key.
    let gpg = |args: &[&str], stdin: Option<&[u8]>| {
        let mut c = Command::new("gpg")
            .env("GNUPGHOME", home.path())
            .args([
                "--batch",
                "--quiet",
                "--trust-model",
                "always",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            c.stdin.take().unwrap().write_all(input).unwrap();
        }
        drop(c.stdin.take());
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    gpg(
        &[
            "--quick-gen-key",
            "Rita <rita@example.org>",
            "default",
            "default",
            "never",
        ],
        None,
    );
    let old_pub = older.ok(&["key", "export"]);
    gpg(&["--import"], Some(old_pub.as_bytes()));
    let rita_pub = gpg(&["--armor", "--export", "rita@example.org"], None);
    let inner = format!(
        "Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n\
the kfp-api leaks tokens CANARY-GPG\r\n--x\r\nContent-Type: application/pgp-keys\r\n\r\n{}\r\n--x--\r\n",
        String::from_utf8(rita_pub).unwrap()
    );
    let enc = gpg(
        &[
            "--armor",
            "--sign",
            "--encrypt",
            "--local-user",
            "rita@example.org",
            "--recipient",
            "security@project.example",
        ],
        Some(inner.as_bytes()),
    );
    let raw = format!(
        "From: Rita <rita@example.org>\r\nTo: security@project.example\r\nSubject: ...\r\n\
Message-ID: <gpg-1@example.org>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n\
--b\r\nContent-Type: application/octet-stream\r\n\r\n{}\r\n--b--\r\n",
        String::from_utf8(enc).unwrap()
    );
    let out = ingest(&g, raw.as_bytes(), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let show: serde_json::Value =
        serde_json::from_str(&g.ok(&["report", "show", &id, "--json"])).unwrap();
    let m = &show["messages"][0];
    assert_eq!(m["encrypted"], true);
    assert_eq!(m["decrypted"], true, "{m}");
    assert!(m["body_text"].as_str().unwrap().contains("CANARY-GPG"));
    assert_eq!(m["signature"]["status"], "good", "{m}");
    assert_eq!(m["signature"]["matches_sender"], true);

    // Nothing of it is readable in the database file.
    let db = std::fs::read(g.data().join("embargo.db")).unwrap();
    let wal = std::fs::read(g.data().join("embargo.db-wal")).unwrap_or_default();
    for hay in [&db, &wal] {
        assert!(!hay.windows(10).any(|w| w == b"CANARY-GPG"));
    }
}

#[test]
fn lmtp_delivery_files_the_report() {
    let g = Gateway::sqlite();
    let web = crate::support::free_port();
    let lmtp = crate::support::free_port();
    let mut child = g
        .command(&["serve"])
        .env("EMBARGO_WEB_LISTEN", format!("127.0.0.1:{web}"))
        .env("EMBARGO_LMTP_LISTEN", format!("127.0.0.1:{lmtp}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let stream = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", lmtp)) {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "LMTP did not listen");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut r = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    let mut line = String::new();
    let mut read_reply = |r: &mut BufReader<TcpStream>| -> String {
        // Multi-line replies: read until "NNN " (space after the code).
        let mut all = String::new();
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] == b' ' {
                return all;
            }
        }
    };
    assert!(read_reply(&mut r).starts_with("220"));
    // Pipelined envelope, two recipients: one reply each after DATA.
    w.write_all(
        b"LHLO mta.example\r\nMAIL FROM:<rita@example.org>\r\nRCPT TO:<security@project.example>\r\nRCPT TO:<security@project.example>\r\nDATA\r\n",
    )
    .unwrap();
    let lhlo = read_reply(&mut r);
    assert!(
        lhlo.contains("PIPELINING") && lhlo.contains("SIZE"),
        "{lhlo}"
    );
    for _ in 0..3 {
        assert!(read_reply(&mut r).starts_with("250"));
    }
    assert!(read_reply(&mut r).starts_with("354"));
    let mut body = message(
        "lmtp-1@example.org",
        "via LMTP",
        "..leading dot\r\nCANARY-LMTP",
    );
    body.extend_from_slice(b".\r\n");
    w.write_all(&body).unwrap();
    assert!(read_reply(&mut r).starts_with("250"));
    assert!(read_reply(&mut r).starts_with("250"));
    w.write_all(b"QUIT\r\n").unwrap();
    let _ = child.kill();
    let _ = child.wait();

    let list: serde_json::Value =
        serde_json::from_str(&g.ok(&["report", "list", "--json"])).unwrap();
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "two recipients, one report"
    );
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let show: serde_json::Value =
        serde_json::from_str(&g.ok(&["report", "show", &id, "--json"])).unwrap();
    let text = show["messages"][0]["body_text"].as_str().unwrap();
    assert!(
        text.contains(".leading dot") && !text.contains("..leading"),
        "{text}"
    );
}
