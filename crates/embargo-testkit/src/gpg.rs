//! Throw-away GnuPG homes driving the real `gpg`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::skip_or_fail;

/// A throw-away GnuPG home. Kills its agent on drop.
pub struct Gpg {
    pub home: tempfile::TempDir,
}

impl Gpg {
    /// `None` (after printing a reason) when gpg is not installed outside
    /// CI; panics in CI.
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

    /// Generates an unprotected key (`algo`: `default`, `future-default`,
    /// `ed25519`, ...; `usage`: `default`, `sign`, ...) that never
    /// expires, returns its fingerprint.
    pub fn generate(&self, uid: &str, algo: &str, usage: &str) -> String {
        self.ok(
            &[
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                "--quick-gen-key",
                uid,
                algo,
                usage,
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

    /// The exported public certificate of `fpr`, parsed.
    pub fn cert(&self, fpr: &str) -> embargo_pgp::Cert {
        let out = self.ok(&["--armor", "--export", fpr], b"");
        let mut certs = embargo_pgp::parse_certs(&out.stdout).unwrap();
        assert_eq!(certs.len(), 1);
        certs.pop().unwrap()
    }

    /// Decrypts the PGP/MIME message's encrypted part; returns the
    /// plaintext (the inner MIME entity) and the status lines.
    pub fn decrypt_mail(&self, mail: &[u8]) -> (String, String) {
        let armored = crate::armored_message_in(mail);
        let out = self.run(&["--status-fd", "2", "--decrypt"], &armored);
        let status = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "gpg --decrypt failed:\n{status}");
        (String::from_utf8(out.stdout).unwrap(), status)
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
