//! Shared test helpers: team identity, message surgery, a real SMTP
//! server (Python aiosmtpd) on loopback; the gpg driver, corpus and CI
//! rule from `embargo-testkit`.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use embargo_domain::TrackingId;
use embargo_outbound::{AckSettings, TeamIdentity};
use embargo_pgp::{Keyring, generate_team_key};
pub use embargo_testkit::{
    Gpg, armored_message_in, corpus_dir as corpus, header, headers, in_ci, skip_or_fail,
};

pub const TEAM_ADDR: &str = "security@project.example";
pub const TEAM_UID: &str = "Project Security <security@project.example>";
pub const REPORTER: &str = "reporter@example.org";
pub const MEMBER: &str = "member@example.org";
pub const KEY_URL: &str = "https://project.example/.well-known/security.txt";
/// Report content that must never show up in a plaintext message.
pub const CANARY: &str = "CANARY-7f3a9c-heap-overflow-in-parse_header";

pub fn tracking_id() -> TrackingId {
    "SEC-2026-0001".parse().unwrap()
}

pub fn now() -> jiff::Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

pub fn team() -> TeamIdentity {
    let keyring = Keyring::from(generate_team_key(TEAM_UID).unwrap());
    TeamIdentity::new(TEAM_ADDR, Some("Project Security"), keyring).unwrap()
}

pub fn settings() -> AckSettings {
    AckSettings::new(KEY_URL, 7).unwrap()
}

/// The binary key data of the `Autocrypt` header.
pub fn autocrypt_keydata(message: &[u8]) -> Vec<u8> {
    let value = header(message, "Autocrypt").expect("no Autocrypt header");
    assert!(
        value.starts_with(&format!(
            "addr={TEAM_ADDR}; prefer-encrypt=mutual; keydata="
        )),
        "{value}"
    );
    let data: String = value
        .split_once("keydata=")
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap()
}

/// Asserts the Autocrypt header carries the team's certificate.
pub fn assert_autocrypt(message: &[u8], team: &TeamIdentity) {
    let certs = embargo_pgp::parse_certs(&autocrypt_keydata(message)).unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].fingerprint().to_hex(), team.fingerprint());
    // Folded: no line longer than 78 characters in the header block.
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap();
    for line in head.split("\r\n") {
        if line.starts_with("Autocrypt:") || line.starts_with(' ') {
            assert!(line.len() <= 78, "long header line: {line}");
        }
    }
}

/// De-armors (body lines between the blank line and the CRC / END).
pub fn dearmor(armored: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(armored);
    let mut data = String::new();
    let mut in_body = false;
    for line in text.lines() {
        let line = line.trim_end();
        if line.starts_with("-----BEGIN") {
            continue;
        }
        if line.starts_with("-----END") {
            break;
        }
        if !in_body {
            if line.is_empty() {
                in_body = true;
            } else if !line.contains(": ") {
                in_body = true;
                data.push_str(line);
            }
            continue;
        }
        if line.starts_with('=') {
            continue;
        }
        data.push_str(line);
    }
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap()
}

/// Versions of the top-level SEIP (tag 18) packets of a binary OpenPGP
/// message (a minimal packet walker: enough for PKESKs followed by the
/// encrypted data packet).
pub fn seip_versions(binary: &[u8]) -> Vec<u8> {
    let mut versions = Vec::new();
    let mut i = 0usize;
    while i < binary.len() {
        let b = binary[i];
        assert!(b & 0x80 != 0, "not an OpenPGP packet at {i}");
        let (tag, len, body) = if b & 0x40 != 0 {
            let tag = b & 0x3f;
            let l0 = binary[i + 1] as usize;
            if l0 < 192 {
                (tag, Some(l0), i + 2)
            } else if l0 < 224 {
                (
                    tag,
                    Some(((l0 - 192) << 8) + binary[i + 2] as usize + 192),
                    i + 3,
                )
            } else if l0 == 255 {
                let n = u32::from_be_bytes(binary[i + 2..i + 6].try_into().unwrap()) as usize;
                (tag, Some(n), i + 6)
            } else {
                (tag, None, i + 2) // partial body length: streamed data packet
            }
        } else {
            let tag = (b >> 2) & 0x0f;
            match b & 3 {
                0 => (tag, Some(binary[i + 1] as usize), i + 2),
                1 => (
                    tag,
                    Some(u16::from_be_bytes([binary[i + 1], binary[i + 2]]) as usize),
                    i + 3,
                ),
                2 => (
                    tag,
                    Some(u32::from_be_bytes(binary[i + 1..i + 5].try_into().unwrap()) as usize),
                    i + 5,
                ),
                _ => (tag, None, i + 1),
            }
        };
        if tag == 18 {
            versions.push(binary[body]);
        }
        match len {
            Some(n) => i = body + n,
            None => break,
        }
    }
    versions
}

/// Asserts gpg decrypted and found a good signature by `fingerprint`.
pub fn assert_good_decryption(status: &str, fingerprint: &str) {
    assert!(status.contains("[GNUPG:] DECRYPTION_OKAY"), "{status}");
    assert!(status.contains("[GNUPG:] GOODSIG"), "{status}");
    let validsig = status
        .lines()
        .find(|l| l.starts_with("[GNUPG:] VALIDSIG "))
        .unwrap_or_else(|| panic!("no VALIDSIG:\n{status}"));
    assert!(validsig.contains(fingerprint), "{validsig}");
    assert!(
        !status.contains("BADSIG") && !status.contains("ERRSIG"),
        "{status}"
    );
}

/// The handler script: every accepted message is stored as `NNNN.eml`
/// (the DATA bytes) plus `NNNN.json` (envelope). Recipients whose local
/// part starts with `tempfail` get 451, with `reject` 550.
const SMTP_SERVER: &str = r#"
import asyncio, json, os, socket, sys
from aiosmtpd.smtp import SMTP

out = sys.argv[1]

class Handler:
    def __init__(self):
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split('@')[0].lower()
        if local.startswith('tempfail'):
            return '451 4.3.0 ' + address + ': try again later'
        if local.startswith('reject'):
            return '550 5.1.1 ' + address + ': no such user'
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(out, '%04d' % self.n)
        with open(base + '.json', 'w') as f:
            json.dump({'mail_from': envelope.mail_from, 'rcpt_tos': envelope.rcpt_tos}, f)
        with open(base + '.tmp', 'wb') as f:
            f.write(envelope.original_content)
        os.rename(base + '.tmp', base + '.eml')
        return '250 2.0.0 queued'

async def main():
    handler = Handler()
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(16)
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: SMTP(handler, decode_data=False), sock=sock)
    print(sock.getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"#;

/// The SMTP envelope the server saw.
#[derive(Debug, PartialEq, Eq)]
pub struct Envelope {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
}

/// A real SMTP server (aiosmtpd) on 127.0.0.1; killed on drop.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl SmtpServer {
    /// `None` (after printing why) when python3 or aiosmtpd is missing;
    /// panics in CI.
    pub fn start() -> Option<SmtpServer> {
        let available = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !available {
            skip_or_fail("python3 with aiosmtpd not available (pip install aiosmtpd)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("server.py");
        std::fs::write(&script, SMTP_SERVER).unwrap();
        let received = dir.path().join("received");
        std::fs::create_dir(&received).unwrap();
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(&received)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("SMTP server did not start: {line:?}"));
        Some(SmtpServer { child, port, dir })
    }

    pub fn received_dir(&self) -> PathBuf {
        self.dir.path().join("received")
    }

    /// Waits for message number `n` (1-based): its bytes and envelope.
    pub fn wait_for(&self, n: usize) -> (Vec<u8>, Envelope) {
        let base = self.received_dir().join(format!("{n:04}"));
        let eml = base.with_extension("eml");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !eml.exists() {
            assert!(Instant::now() < deadline, "message {n} never arrived");
            std::thread::sleep(Duration::from_millis(20));
        }
        let json = std::fs::read_to_string(base.with_extension("json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let envelope = Envelope {
            mail_from: v["mail_from"].as_str().unwrap().to_owned(),
            rcpt_tos: v["rcpt_tos"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect(),
        };
        (std::fs::read(eml).unwrap(), envelope)
    }

    pub fn count(&self) -> usize {
        std::fs::read_dir(self.received_dir())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "eml")
            })
            .count()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
