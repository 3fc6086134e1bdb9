//! The both-backends harness every store suite shares, from
//! `embargo-testkit`: SQLite on a temp file, and PostgreSQL (a fresh
//! database per test) when `TEST_DATABASE_URL` is set; under `CI=true` a
//! missing `TEST_DATABASE_URL` fails the PostgreSQL runs.

pub use embargo_testkit::{TestDb as Harness, on_both_backends};
