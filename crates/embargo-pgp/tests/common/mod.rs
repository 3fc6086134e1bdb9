//! Shared test helpers: corpus location, gpg driver, message surgery.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sequoia_openpgp as openpgp;

/// Whether we run in CI, where skipping is not allowed.
pub fn in_ci() -> bool {
    std::env::var("CI").map(|v| v == "true").unwrap_or(false)
}

/// Skips (returns `None`) or, in CI, fails.
pub fn skip_or_fail(reason: &str) {
    if in_ci() {
        panic!("required test resource missing in CI: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// The shared test corpus: `$EMBARGO_CORPUS_DIR`, or `shared/corpus`
/// beside the repository checkout, or `/work/shared/corpus`.
pub fn corpus() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(dir) = std::env::var("EMBARGO_CORPUS_DIR") {
        candidates.push(PathBuf::from(dir));
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(repo_parent) = manifest.ancestors().nth(3) {
        candidates.push(repo_parent.join("shared/corpus"));
    }
    candidates.push(PathBuf::from("/work/shared/corpus"));
    let found = candidates
        .into_iter()
        .find(|p| p.join("SOURCES.md").is_file());
    if found.is_none() {
        skip_or_fail("test corpus (shared/corpus) not found; set EMBARGO_CORPUS_DIR");
    }
    found
}

/// Reads a corpus file.
pub fn corpus_file(corpus: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(corpus.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Extracts the first `-----BEGIN PGP MESSAGE-----` block from a mail.
pub fn armored_message_in(mail: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(mail);
    let start = text
        .find("-----BEGIN PGP MESSAGE-----")
        .expect("no PGP block");
    let end_marker = "-----END PGP MESSAGE-----";
    let end = text[start..].find(end_marker).expect("no PGP end") + start + end_marker.len();
    text[start..end].replace("\r\n", "\n").into_bytes()
}

/// De-armors an ASCII-armored OpenPGP message.
pub fn dearmor(armored: &[u8]) -> Vec<u8> {
    let mut reader =
        openpgp::armor::Reader::from_bytes(armored, openpgp::armor::ReaderMode::Tolerant(None));
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    out
}

/// Versions of the SEIP packets at top level of a message.
pub fn seip_versions(message: &[u8]) -> Vec<u8> {
    use openpgp::parse::{PacketParser, PacketParserResult, Parse};
    let mut versions = Vec::new();
    let mut ppr = PacketParser::from_bytes(message).unwrap();
    while let PacketParserResult::Some(pp) = ppr {
        if let openpgp::Packet::SEIP(seip) = &pp.packet {
            versions.push(seip.version());
        }
        ppr = pp.next().unwrap().1;
    }
    versions
}

/// A throw-away GnuPG home.  Kills its agent on drop.
pub struct Gpg {
    pub home: tempfile::TempDir,
}

impl Gpg {
    /// `None` (after printing a reason) when gpg is not installed
    /// outside CI; panics in CI.
    pub fn new() -> Option<Gpg> {
        let ok = Command::new("gpg")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            skip_or_fail("gpg binary not found");
            return None;
        }
        // Short path: gpg-agent's socket path must fit in sun_path.
        let home = tempfile::Builder::new()
            .prefix("gpg")
            .tempdir_in("/tmp")
            .unwrap();
        let mut perms = std::fs::metadata(home.path()).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
        std::fs::set_permissions(home.path(), perms).unwrap();
        Some(Gpg { home })
    }

    /// Runs gpg in this home with `--batch`, feeding `stdin`.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new("gpg")
            .env("GNUPGHOME", self.home.path())
            .args(["--batch", "--no-tty", "--quiet"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out
    }

    /// Like [`run`](Self::run) but asserts success.
    pub fn ok(&self, args: &[&str], stdin: &[u8]) -> Output {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Generates an unprotected Ed25519/Cv25519 key, returns its fingerprint.
    pub fn generate(&self, uid: &str) -> String {
        self.ok(
            &[
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                "--quick-gen-key",
                uid,
                "future-default",
                "default",
                "never",
            ],
            b"",
        );
        let out = self.ok(&["--with-colons", "--list-secret-keys", uid], b"");
        let listing = String::from_utf8(out.stdout).unwrap();
        listing
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .unwrap()
            .to_string()
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.home.path())
            .args(["--kill", "all"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
