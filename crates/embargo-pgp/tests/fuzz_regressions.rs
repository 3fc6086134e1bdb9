//! Inputs found by fuzzing (`fuzz/`, targets `pgp_decrypt` and
//! `pgp_inner`; findings F2–F4 in `fuzz/README.md`).
//!
//! Every one of these used to cost seconds to minutes of CPU for a few
//! kilobytes. The tests assert *how* they are refused: the error variants
//! used here are produced only by the packet-header walk that runs before
//! sequoia reads anything (`UnexpectedPacket`, `NotEncrypted` from the top
//! level) or by the per-packet bounds fed from sequoia's `inspect` hook
//! before its verifier does the expensive work (`TooComplex`). No timing
//! is asserted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Write;

use embargo_pgp::{
    Cert, Excess, Keyring, PgpError, encrypt_and_sign, generate_team_key, parse_certs,
    verify_detached, verify_inline,
};
use sequoia_openpgp as openpgp;

use openpgp::armor;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::SerializeInto;
use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message, Signer};

const UID: &str = "security@project.example";
static POLICY: StandardPolicy<'static> = StandardPolicy::new();

/// F2 and F3: an unencrypted bzip2 Compressed Data packet of ~1 GiB (1,007
/// bytes).
const BZIP2_1G: &str = "pgp-bad/rnp/test_partial_length/message.txt.partial-1g";
/// F3: an unencrypted bzip2 Compressed Data packet of ~4 GiB (5,482 bytes).
const BZIP2_4G: &str = "pgp-bad/rnp/test_large_packet/4g.bzip2.gpg";
/// F4: a deflate packet expanding into a stream of one-pass-signature
/// packet headers (263 KB).
const OPS_FLOOD: &str = "pgp-bad/rnp/test_fuzz_verify_detached/clusterfuzz-testcase-minimized-fuzz_verify_detached-5092660526972928";

fn armored(kind: armor::Kind, binary: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = armor::Writer::new(&mut out, kind).unwrap();
    w.write_all(binary).unwrap();
    w.finalize().unwrap();
    out
}

/// Encrypts `inner` as the *raw packet stream* inside a SEIPDv1 container
/// to `cert` (not wrapped in a literal packet), as anyone can with the
/// published team key.
fn encrypt_raw(cert: &Cert, inner: &[u8]) -> Vec<u8> {
    let recipients = cert
        .keys()
        .with_policy(&POLICY, None)
        .supported()
        .for_transport_encryption();
    let mut sink = Vec::new();
    let message = Message::new(&mut sink);
    let mut message = Encryptor::for_recipients(message, recipients)
        .build()
        .unwrap();
    message.write_all(inner).unwrap();
    message.finalize().unwrap();
    sink
}

/// A well-formed v3 one-pass-signature packet (new format, 13 bytes of
/// body): binary-document signature, SHA-256, EdDSA, some issuer.
fn one_pass_signature(last: bool) -> Vec<u8> {
    let mut p = vec![0xc4, 13, 3, 0x00, 8, 22];
    p.extend([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]);
    p.push(u8::from(last));
    p
}

/// A literal data packet holding `text`.
fn literal(text: &[u8]) -> Vec<u8> {
    let mut body = vec![b'b', 0, 0, 0, 0, 0];
    body.extend(text);
    let mut p = vec![0xcb, u8::try_from(body.len()).unwrap()];
    p.extend(body);
    p
}

// ---- F2 -------------------------------------------------------------------

/// `Keyring::decrypt` refuses the unencrypted bomb from its top-level
/// packet header (tag 8 at the top level: not an encrypted message),
/// without decompressing it.
#[test]
fn decrypt_refuses_unencrypted_compression_bomb_from_its_header() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let ring = Keyring::from(generate_team_key(UID).unwrap());
    for rel in [BZIP2_1G, BZIP2_4G] {
        let bomb = common::corpus_file(&corpus, rel);
        for input in [bomb.clone(), armored(armor::Kind::Message, &bomb)] {
            let result = ring.decrypt(&input, &[], 1 << 20);
            assert!(
                matches!(result, Err(PgpError::NotEncrypted)),
                "{rel}: {:?}",
                result.map(|d| d.plaintext.len())
            );
        }
    }
}

// ---- F3 -------------------------------------------------------------------

/// `parse_certs` refuses compressed data from its packet header: the
/// error names the packet (tag 8), which only the header walk reports,
/// before sequoia's certificate parser (which would decompress it to the
/// end) runs. Binary and armored.
#[test]
fn parse_certs_refuses_compressed_data_without_decompressing() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for rel in [BZIP2_1G, BZIP2_4G] {
        let bomb = common::corpus_file(&corpus, rel);
        for input in [
            bomb.clone(),
            armored(armor::Kind::PublicKey, &bomb),
            armored(armor::Kind::Message, &bomb),
        ] {
            match parse_certs(&input) {
                Err(PgpError::UnexpectedPacket { tag: 8, expected }) => {
                    assert_eq!(expected, "certificate packets");
                }
                other => panic!("{rel}: unexpected result {other:?}"),
            }
        }
    }
}

/// A valid certificate followed by a compressed packet is refused as a
/// whole; the certificate alone still parses, binary and armored.
#[test]
fn parse_certs_refuses_trailing_non_cert_packets() {
    let key = generate_team_key(UID).unwrap();
    let cert = key.public_cert().to_vec().unwrap();
    assert_eq!(parse_certs(&cert).unwrap().len(), 1);
    assert_eq!(
        parse_certs(key.public_armored().unwrap().as_bytes())
            .unwrap()
            .len(),
        1
    );

    // Compressed Data (tag 8), algorithm 0 (uncompressed), holding one
    // marker packet.
    let mut with_compressed = cert.clone();
    with_compressed.extend([0xc8, 6, 0, 0xca, 3, b'P', b'G', b'P']);
    assert!(matches!(
        parse_certs(&with_compressed),
        Err(PgpError::UnexpectedPacket { tag: 8, .. })
    ));
    // A literal packet (tag 11), and a PKESK (tag 1) header.
    let mut with_literal = cert.clone();
    with_literal.extend(literal(b"x"));
    assert!(matches!(
        parse_certs(&with_literal),
        Err(PgpError::UnexpectedPacket { tag: 11, .. })
    ));
    let mut with_pkesk = cert.clone();
    with_pkesk.extend([0xc1, 0xff]);
    assert!(matches!(
        parse_certs(&with_pkesk),
        Err(PgpError::UnexpectedPacket { tag: 1, .. })
    ));
    // Markers are allowed; too many packets are not.
    let mut with_markers = cert.clone();
    with_markers.extend([0xca, 3, b'P', b'G', b'P'].repeat(10));
    assert_eq!(parse_certs(&with_markers).unwrap().len(), 1);
    let mut flood = cert;
    flood.extend([0xca, 3, b'P', b'G', b'P'].repeat(5000));
    assert!(matches!(
        parse_certs(&flood),
        Err(PgpError::TooComplex {
            what: Excess::Packets,
            ..
        })
    ));
}

/// The secret-key loader goes through the same check.
#[test]
fn keyring_refuses_compressed_data() {
    let mut data = generate_team_key(UID)
        .unwrap()
        .armored_secret()
        .unwrap()
        .as_bytes()
        .to_vec();
    assert!(Keyring::from_armored(&data).is_ok());
    data = common::dearmor(&data);
    data.extend([0xc8, 6, 0, 0xca, 3, b'P', b'G', b'P']);
    assert!(matches!(
        Keyring::from_armored(&data),
        Err(PgpError::UnexpectedPacket { tag: 8, .. })
    ));
}

// ---- F4 -------------------------------------------------------------------

/// The flood file as-is and its first 2,048 bytes (which took 23 s): an
/// unencrypted top-level compressed packet, refused from its header.
#[test]
fn decrypt_refuses_unencrypted_one_pass_signature_flood() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let ring = Keyring::from(generate_team_key(UID).unwrap());
    let flood = common::corpus_file(&corpus, OPS_FLOOD);
    for input in [&flood[..], &flood[..2048], &flood[..4096]] {
        let result = ring.decrypt(input, &[], 1 << 20);
        assert!(
            matches!(result, Err(PgpError::NotEncrypted)),
            "{} bytes: {:?}",
            input.len(),
            result.map(|d| d.plaintext.len())
        );
    }
}

/// The same bytes behind a valid encryption layer to the team key (what
/// `pgp_inner` does; more than 30 s under ASan before): sequoia decrypts
/// and decompresses, and the 17th one-pass-signature packet it meets ends
/// it.
#[test]
fn decrypt_refuses_encrypted_one_pass_signature_flood() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let team = generate_team_key(UID).unwrap();
    let ring = Keyring::from(team.clone());
    let flood = common::corpus_file(&corpus, OPS_FLOOD);
    for inner in [&flood[..2048], &flood[..4096]] {
        let message = encrypt_raw(&team.public_cert(), inner);
        let result = ring.decrypt(&message, &[team.public_cert()], 1 << 20);
        assert!(
            matches!(
                result,
                Err(PgpError::TooComplex {
                    what: Excess::OnePassSignatures,
                    limit: 16
                })
            ),
            "{} bytes: {:?}",
            inner.len(),
            result.map(|d| d.plaintext.len())
        );
    }
}

/// A generated flood: 1,000 well-formed one-pass-signature packets and a
/// literal packet, encrypted to a team key generated here; also nested
/// (each OPS not the last) and armored.
#[test]
fn decrypt_refuses_generated_one_pass_signature_flood() {
    let team = generate_team_key(UID).unwrap();
    let ring = Keyring::from(team.clone());
    for last in [true, false] {
        let mut inner = one_pass_signature(last).repeat(1000);
        inner.extend(literal(b"hello"));
        let message = encrypt_raw(&team.public_cert(), &inner);
        for input in [message.clone(), armored(armor::Kind::Message, &message)] {
            let result = ring.decrypt(&input, &[], 1 << 20);
            assert!(
                matches!(
                    result,
                    Err(PgpError::TooComplex {
                        what: Excess::OnePassSignatures,
                        limit: 16
                    })
                ),
                "{:?}",
                result.map(|d| d.plaintext.len())
            );
        }
    }
    // Sixteen are still fine as far as the bound goes (sequoia then
    // finds no signatures for them: a malformed message, not a refusal
    // for complexity).
    let mut inner = one_pass_signature(true).repeat(16);
    inner.extend(literal(b"hello"));
    let message = encrypt_raw(&team.public_cert(), &inner);
    let result = ring.decrypt(&message, &[], 1 << 20);
    assert!(
        !matches!(result, Err(PgpError::TooComplex { .. })),
        "{:?}",
        result.map(|d| d.plaintext.len())
    );
}

/// A flood outside the encryption: one-pass signatures before the session
/// keys (a "signed, then encrypted as a whole" shape), refused from the
/// top-level headers.
#[test]
fn decrypt_refuses_top_level_one_pass_signature_flood() {
    let team = generate_team_key(UID).unwrap();
    let ring = Keyring::from(team.clone());
    let sealed = encrypt_raw(&team.public_cert(), &literal(b"hello"));
    let mut message = one_pass_signature(true).repeat(1000);
    message.extend(&sealed);
    assert!(matches!(
        ring.decrypt(&message, &[], 1 << 20),
        Err(PgpError::TooComplex {
            what: Excess::OnePassSignatures,
            limit: 16
        })
    ));
    // Too many packets of any kind.
    let mut message = [0xca, 3, b'P', b'G', b'P'].repeat(1000);
    message.extend(&sealed);
    assert!(matches!(
        ring.decrypt(&message, &[], 1 << 20),
        Err(PgpError::TooComplex {
            what: Excess::Packets,
            ..
        })
    ));
}

/// Deep nesting inside the encryption: compressed (algorithm 0) packets
/// inside each other.
#[test]
fn decrypt_refuses_deep_nesting() {
    let team = generate_team_key(UID).unwrap();
    let ring = Keyring::from(team.clone());
    let mut inner = literal(b"hello");
    for _ in 0..8 {
        let mut p = vec![0xc8, u8::try_from(inner.len() + 1).unwrap(), 0];
        p.extend(&inner);
        inner = p;
    }
    let message = encrypt_raw(&team.public_cert(), &inner);
    let result = ring.decrypt(&message, &[], 1 << 20);
    assert!(
        matches!(
            result,
            Err(PgpError::TooComplex {
                what: Excess::Nesting,
                limit: 4
            })
        ),
        "{:?}",
        result.map(|d| d.plaintext.len())
    );
}

/// The verifiers are bounded the same way: the flood file given to
/// `verify_inline`, and a detached signature of 100 signature packets.
#[test]
fn verifiers_refuse_floods() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let flood = common::corpus_file(&corpus, OPS_FLOOD);
    for input in [&flood[..2048], &flood[..]] {
        let result = verify_inline(input, &[], 1 << 20);
        assert!(
            matches!(
                result,
                Err(PgpError::TooComplex {
                    what: Excess::OnePassSignatures,
                    limit: 16
                })
            ),
            "{} bytes: {:?}",
            input.len(),
            result.map(|v| v.content.len())
        );
    }

    let signer = generate_team_key("Signer <signer@example.org>").unwrap();
    let pair = signer
        .cert()
        .primary_key()
        .key()
        .clone()
        .parts_into_secret()
        .unwrap()
        .into_keypair()
        .unwrap();
    let data = b"signed data";
    let mut sig = Vec::new();
    {
        let m = Message::new(&mut sig);
        let mut s = Signer::new(m, pair).unwrap().detached().build().unwrap();
        s.write_all(data).unwrap();
        s.finalize().unwrap();
    }
    let known = [signer.public_cert()];
    assert!(verify_detached(data, &sig, &known).unwrap()[0].is_good());
    let many = sig.repeat(100);
    assert!(matches!(
        verify_detached(data, &many, &known),
        Err(PgpError::TooComplex {
            what: Excess::Signatures,
            limit: 32
        })
    ));
}

/// Legitimate messages are untouched by the bounds: signed and encrypted
/// (armored and binary), a cleartext signature, an inline signature.
#[test]
fn legitimate_messages_pass_the_bounds() {
    let team = generate_team_key(UID).unwrap();
    let ring = Keyring::from(team.clone());
    let sender = Keyring::from(generate_team_key("s@example.org").unwrap());
    let msg = encrypt_and_sign(b"report", &[team.public_cert()], &sender).unwrap();
    for input in [msg.clone(), common::dearmor(&msg)] {
        let d = ring
            .decrypt(&input, &[sender.public_cert()], 1 << 20)
            .unwrap();
        assert_eq!(&d.plaintext[..], b"report");
        assert!(d.has_good_signature());
    }

    let pair = sender
        .current()
        .cert()
        .primary_key()
        .key()
        .clone()
        .parts_into_secret()
        .unwrap()
        .into_keypair()
        .unwrap();
    let mut csf = Vec::new();
    {
        let m = Message::new(&mut csf);
        let mut s = Signer::new(m, pair).unwrap().cleartext().build().unwrap();
        s.write_all(b"cleartext\n").unwrap();
        s.finalize().unwrap();
    }
    let v = verify_inline(&csf, &[sender.public_cert()], 1 << 20).unwrap();
    assert!(v.signatures[0].is_good());

    let pair = sender
        .current()
        .cert()
        .primary_key()
        .key()
        .clone()
        .parts_into_secret()
        .unwrap()
        .into_keypair()
        .unwrap();
    let mut inline = Vec::new();
    {
        let m = Message::new(&mut inline);
        let m = Armorer::new(m).build().unwrap();
        let m = Signer::new(m, pair).unwrap().build().unwrap();
        let mut w = LiteralWriter::new(m).build().unwrap();
        w.write_all(b"inline").unwrap();
        w.finalize().unwrap();
    }
    let v = verify_inline(&inline, &[sender.public_cert()], 1 << 20).unwrap();
    assert_eq!(&v.content[..], b"inline");
    assert!(v.signatures[0].is_good());
}
