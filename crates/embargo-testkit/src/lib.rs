//! Test support shared by the crates' test suites (a dev-dependency only,
//! never shipped):
//!
//! * [`TestDb`] and [`on_both_backends!`]: a real store on a SQLite file in
//!   a temp dir, and on a fresh PostgreSQL database (dropped afterwards)
//!   when `TEST_DATABASE_URL` is set.
//! * [`Gpg`]: a throw-away GnuPG home driving the real `gpg`.
//! * [`corpus_dir`]: the shared test corpus.
//! * [`headers`], [`header`], [`armored_message_in`]: reading composed mail.
//!
//! One rule for every external resource (PostgreSQL, GnuPG, the corpus, a
//! browser): under `CI=true` a missing one fails the test
//! ([`skip_or_fail`]); elsewhere the test skips with a printed reason.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test support: failing loudly is the point

mod db;
mod gpg;
mod mail;

use std::path::{Path, PathBuf};

pub use db::{Keep, TestDb, file_report, inbound_message, with_database};
pub use gpg::Gpg;
pub use mail::{armored_message_in, header, headers};

/// Whether we run in CI (`CI=true`), where skipping is not allowed.
pub fn in_ci() -> bool {
    std::env::var("CI").map(|v| v == "true").unwrap_or(false)
}

/// A required resource is missing: in CI that fails the test (panics);
/// elsewhere it prints the reason, and the caller skips.
pub fn skip_or_fail(reason: &str) {
    if in_ci() {
        panic!("required test resource missing in CI: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// The shared test corpus: `$EMBARGO_CORPUS_DIR`, or `shared/corpus`
/// beside the repository checkout, or `/work/shared/corpus`; `None` (after
/// [`skip_or_fail`]) when there is none.
pub fn corpus_dir() -> Option<PathBuf> {
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

/// Reads a corpus file (panics with its name when it cannot).
pub fn corpus_file(corpus: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(corpus.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}
