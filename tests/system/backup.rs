//! `backup` and `restore` of the embedded SQLite database.

use std::io::Write;
use std::process::Stdio;

use crate::support::{Gateway, assert_one_line_error, mode_of};

fn ingest(g: &Gateway, id: &str, body: &str) {
    let raw = format!(
        "From: rita@example.org\r\nTo: security@project.example\r\nSubject: backup test\r\n\
Message-ID: <{id}>\r\n\r\n{body}\r\n"
    );
    let mut child = g
        .command(&["ingest"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(raw.as_bytes())
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
}

fn report_count(g: &Gateway) -> usize {
    let list: serde_json::Value =
        serde_json::from_str(&g.ok(&["report", "list", "--json"])).unwrap();
    list.as_array().unwrap().len()
}

#[test]
fn backup_is_sealed_and_restores() {
    let g = Gateway::sqlite();
    g.ok(&["init"]);
    ingest(&g, "b1@example.org", "first report CANARY-BACKUP");
    let file = g.dir.path().join("backup.db");
    g.ok(&["backup", file.to_str().unwrap()]);
    assert_eq!(mode_of(&file), 0o600);
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.len() > 4096);
    assert!(
        !bytes.windows(14).any(|w| w == b"CANARY-BACKUP"),
        "the backup is sealed"
    );
    // Never overwrites.
    let again = g.run(&["backup", file.to_str().unwrap()]);
    assert!(assert_one_line_error(&again).contains("exists"));

    ingest(&g, "b2@example.org", "second report");
    assert_eq!(report_count(&g), 2);
    g.ok(&["restore", file.to_str().unwrap()]);
    assert_eq!(report_count(&g), 1);
    let list: serde_json::Value =
        serde_json::from_str(&g.ok(&["report", "list", "--json"])).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let show = g.ok(&["report", "show", &id, "--json"]);
    assert!(show.contains("CANARY-BACKUP"));
    // What was replaced is kept beside it.
    let kept = std::fs::read_dir(g.data())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("before-restore")
        })
        .count();
    assert!(kept >= 1);

    // Another gateway's storage key cannot open it.
    let other = Gateway::sqlite();
    other.ok(&["init"]);
    let out = other.run(&["restore", file.to_str().unwrap()]);
    assert!(assert_one_line_error(&out).contains("storage key"));
}

#[test]
fn restore_refuses_while_serving() {
    let g = Gateway::sqlite();
    g.ok(&["init"]);
    let file = g.dir.path().join("b.db");
    g.ok(&["backup", file.to_str().unwrap()]);
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
    while std::net::TcpStream::connect(("127.0.0.1", web)).is_err() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = g.run(&["restore", file.to_str().unwrap()]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(assert_one_line_error(&out).contains("stop it first"));
}
