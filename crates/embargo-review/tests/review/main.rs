//! embargo-review against the real store, on SQLite (a temp file) and on
//! PostgreSQL (a fresh database per test) when `TEST_DATABASE_URL` is set;
//! under `CI=true` a missing `TEST_DATABASE_URL` fails the PostgreSQL
//! runs. One test binary: registry, digests, the review agenda (against a
//! GitHub stand-in), release scans.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[macro_use]
mod common;
mod agenda;
mod digest;
mod registry;
mod scans;
mod standin;
