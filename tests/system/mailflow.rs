//! The whole mail loop with real GnuPG clients on both ends: a reporter
//! writes encrypted, embargo acknowledges encrypted, a member gets an
//! encrypted copy, answers signed, and the reporter gets the answer from
//! the team, encrypted, without the member's address.

use crate::support::{Gateway, Gpg, armored_block, ingest_ok, pgp_mime};

/// Flushes the outbox; returns the new .eml files' contents.
fn flush(g: &Gateway, seen: &mut Vec<std::path::PathBuf>) -> Vec<String> {
    let counts: serde_json::Value = serde_json::from_str(&g.ok(&["outbox", "flush"])).unwrap();
    assert_eq!(counts["dead"], 0, "{counts}");
    let dir = g.data().join("outbox");
    let mut new = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if !seen.contains(&p) {
            assert_eq!(crate::support::mode_of(&p), 0o600);
            new.push(std::fs::read_to_string(&p).unwrap());
            seen.push(p);
        }
    }
    new
}

fn addressed_to<'a>(mails: &'a [String], addr: &str) -> Vec<&'a String> {
    mails
        .iter()
        .filter(|m| m.lines().any(|l| l.starts_with("To:") && l.contains(addr)))
        .collect()
}

#[test]
fn reporter_member_reporter_round_trip_with_gnupg() {
    let Some(rita) = Gpg::with_key("Rita <rita@example.org>") else {
        return;
    };
    let Some(tom) = Gpg::with_key("Tom <tom@project.example>") else {
        return;
    };
    let g = Gateway::sqlite();
    g.ok(&["init"]);
    let team_key = g.ok(&["key", "export"]);
    let tom_key = g.dir.path().join("tom.asc");
    std::fs::write(&tom_key, tom.export("tom@project.example")).unwrap();
    g.ok(&[
        "user",
        "add",
        "tom",
        "--role",
        "triager",
        "--email",
        "tom@project.example",
        "--key",
        tom_key.to_str().unwrap(),
    ]);
    rita.ok(&["--import"], Some(team_key.as_bytes()));
    tom.ok(&["--import"], Some(team_key.as_bytes()));
    let team_fpr = {
        let out = String::from_utf8(rita.ok(
            &["--with-colons", "--fingerprint", "security@project.example"],
            None,
        ))
        .unwrap();
        out.lines()
            .find(|l| l.starts_with("fpr:"))
            .unwrap()
            .split(':')
            .nth(9)
            .unwrap()
            .to_owned()
    };
    let mut seen = Vec::new();

    // 1. Rita reports, encrypted and signed, her key attached inside.
    let inner = format!(
        "Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n\
The pipelines API server trusts X-Forwarded-User. CANARY-ROUND\r\n\
--x\r\nContent-Type: application/pgp-keys\r\n\r\n{}\r\n--x--\r\n",
        rita.export("rita@example.org")
    );
    let enc = rita.ok(
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
    let id = ingest_ok(
        &g,
        &pgp_mime(
            "Rita <rita@example.org>",
            "...",
            "r1@example.org",
            std::str::from_utf8(&enc).unwrap(),
        ),
    );

    let mails = flush(&g, &mut seen);
    for m in &mails {
        assert!(
            !m.contains("CANARY-ROUND"),
            "no plaintext content leaves the gateway"
        );
        assert!(m.contains("Autocrypt:"));
    }
    // 2. The acknowledgement: encrypted to Rita, signed by the team.
    let ack = addressed_to(&mails, "rita@example.org");
    assert_eq!(ack.len(), 1);
    assert!(ack[0].contains(&format!("[{id}]")));
    let (text, status) = rita.decrypt(armored_block(ack[0]).as_bytes());
    assert!(status.contains("DECRYPTION_OKAY"), "{status}");
    assert!(status.contains(&format!("VALIDSIG {team_fpr}")), "{status}");
    assert!(text.contains(&id));
    assert!(
        !text.contains("CANARY-ROUND"),
        "the acknowledgement never quotes the report"
    );

    // 3. Tom's copy: encrypted to Tom, with the report.
    let copy = addressed_to(&mails, "tom@project.example");
    assert_eq!(copy.len(), 1);
    let (text, status) = tom.decrypt(armored_block(copy[0]).as_bytes());
    assert!(
        status.contains("DECRYPTION_OKAY") && status.contains("GOODSIG"),
        "{status}"
    );
    assert!(text.contains("CANARY-ROUND"));

    // 4. Tom answers from his mail client, signed and encrypted to the team.
    let answer = "Content-Type: text/plain\r\n\r\nConfirmed, fix in 2.5.1. Contact me at tom@project.example.\r\n";
    let enc = tom.ok(
        &[
            "--armor",
            "--sign",
            "--encrypt",
            "--local-user",
            "tom@project.example",
            "--recipient",
            "security@project.example",
        ],
        Some(answer.as_bytes()),
    );
    let again = ingest_ok(
        &g,
        &pgp_mime(
            "Tom <tom@project.example>",
            &format!("Re: [{id}] your report"),
            "t1@project.example",
            std::str::from_utf8(&enc).unwrap(),
        ),
    );
    assert_eq!(again, id);

    // 5. Rita gets it from the team, encrypted, without Tom's address.
    let mails = flush(&g, &mut seen);
    let relayed = addressed_to(&mails, "rita@example.org");
    assert_eq!(relayed.len(), 1);
    assert!(
        !relayed[0]
            .to_ascii_lowercase()
            .contains("tom@project.example")
    );
    let (text, status) = rita.decrypt(armored_block(relayed[0]).as_bytes());
    assert!(status.contains(&format!("VALIDSIG {team_fpr}")), "{status}");
    assert!(text.contains("Confirmed, fix in 2.5.1"));
    assert!(
        !text.to_ascii_lowercase().contains("tom@project.example"),
        "{text}"
    );

    let show: serde_json::Value =
        serde_json::from_str(&g.ok(&["report", "show", &id, "--json"])).unwrap();
    let directions: Vec<&str> = show["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["direction"].as_str().unwrap())
        .collect();
    assert_eq!(
        directions.iter().filter(|d| **d == "outbound").count(),
        2,
        "{directions:?}"
    );
    assert!(
        show["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "relayed")
    );
}
