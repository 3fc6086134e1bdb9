//! Shared test helpers: message surgery; corpus location and the gpg
//! driver from `embargo-testkit`.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Read;

pub use embargo_testkit::{
    Gpg, armored_message_in, corpus_dir as corpus, corpus_file, in_ci, skip_or_fail,
};
use sequoia_openpgp as openpgp;

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
