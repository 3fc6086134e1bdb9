//! Whole-system tests: they start the real `embargo` binary, as an operator
//! or an MTA would, and check only what `shared/CONTRACT.md` promises.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

mod backup;
mod cli;
mod crash;
mod ingest;
mod mailflow;
mod observability;
mod postfix;
mod publish;
mod review;
mod scaleout;
mod serve;
