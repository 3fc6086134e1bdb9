//! Inputs found by fuzzing (`fuzz/`, target `pgp_decrypt`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, Instant};

use embargo_pgp::{Keyring, PgpError, generate_team_key};

/// A 1007-byte *unencrypted* message: one top-level Compressed Data packet
/// (bzip2) holding about 1 GiB. `Keyring::decrypt` must refuse it
/// cheaply; `contains_sed` walks top-level packets with
/// `PacketParser::next()`, which reads a compressed container to its end
/// (decompressing all of it) before the bounded decryptor ever runs: ~5 s
/// of CPU per packet in a release build, and a message may hold up to 256
/// such packets.
#[test]
fn unencrypted_top_level_compression_bomb_is_cheap() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let bomb = common::corpus_file(
        &corpus,
        "pgp-bad/rnp/test_partial_length/message.txt.partial-1g",
    );
    let ring = Keyring::from(generate_team_key("security@project.example").unwrap());
    let start = Instant::now();
    let result = ring.decrypt(&bomb, &[], 1 << 20);
    let took = start.elapsed();
    assert!(
        matches!(
            result,
            Err(PgpError::TooLarge { .. } | PgpError::NotEncrypted | PgpError::Malformed(_))
        ),
        "unexpected result: {:?}",
        result.map(|d| d.plaintext.len())
    );
    assert!(
        took < Duration::from_secs(1),
        "decrypt of a 1 KiB unencrypted message took {took:?}"
    );
}
