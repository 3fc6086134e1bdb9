//! Bounded looks at OpenPGP data before sequoia parses it.
//!
//! Sequoia's parsers read what an attacker put in front of them: a
//! certificate parser reads a Compressed Data packet to its end (gigabytes
//! from a few kilobytes) before it refuses it, and the streaming
//! decryptor/verifier does work that grows faster than linearly with the
//! number of one-pass-signature packets (a 2 KB message took 23 s). Both
//! were found by fuzzing (`fuzz/README.md`, F3 and F4).
//!
//! So before sequoia sees a byte:
//!
//! * [`binary`] removes ASCII armor with a bound on the output (base64
//!   never expands, so the input's length is the bound), and decides
//!   "armored or binary" with the same test as sequoia;
//! * [`walk`] visits the top-level packet headers: tag and length only,
//!   bodies (including partial-length chunks) are skipped, nothing is
//!   decompressed or decrypted. Each header is checked with sequoia's own
//!   `Header::valid`, so the packets walked are the packets sequoia parses
//!   afterwards (it is given the same, already binary bytes);
//! * [`Tally`] bounds what sequoia's streaming parser meets *inside* an
//!   encryption or compression layer, where no header walk can look: it is
//!   fed from `VerificationHelper::inspect`, which sequoia calls for every
//!   packet before its expensive steps.

use std::borrow::Cow;
use std::io::Read;

use openpgp::armor;
use openpgp::packet::Tag;
use openpgp::packet::header::{BodyLength, CTB, Header};
use sequoia_openpgp as openpgp;

use crate::{Excess, PgpError};

/// Packets in one message, at all levels together (session keys
/// included: one per recipient key).
pub(crate) const MAX_MESSAGE_PACKETS: usize = 512;
/// One-pass-signature packets in one message. Each opens a signature
/// group that sequoia hashes everything after it into.
pub(crate) const MAX_ONE_PASS_SIGNATURES: usize = 16;
/// Signature packets in one message (or one detached signature).
pub(crate) const MAX_SIGNATURES: usize = 32;
/// Deepest container nesting (the top level is 0). A signed, compressed,
/// encrypted message from GnuPG reaches 2.
pub(crate) const MAX_NESTING: usize = 4;
/// Packets in certificate data (a keyring: keys, User IDs, signatures).
pub(crate) const MAX_CERT_PACKETS: usize = 4096;
/// Bytes of (binary) certificate data.
pub(crate) const MAX_CERT_BYTES: usize = 8 * 1024 * 1024;

/// Why a walk stopped.
#[derive(Debug)]
pub(crate) enum WalkError {
    /// A header is invalid or a packet is truncated.
    Malformed(String),
    /// More than the allowed number of packets.
    TooManyPackets,
}

impl std::fmt::Display for WalkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WalkError::Malformed(reason) => f.write_str(reason),
            WalkError::TooManyPackets => f.write_str("too many packets"),
        }
    }
}

/// `data` as binary OpenPGP data: unchanged when it starts with a valid
/// packet header (sequoia's own test for "binary"), otherwise the content
/// of its first ASCII armor block, as sequoia's message parsers read it.
/// Cleartext-signed text yields its signature block. The output is at most
/// as long as the input.
pub(crate) fn binary(data: &[u8]) -> Result<Cow<'_, [u8]>, WalkError> {
    if data.is_empty() || header_at(data, 0).is_ok() {
        return Ok(Cow::Borrowed(data));
    }
    dearmor_first(data).map(Cow::Owned)
}

/// Like [`binary`], but every armor block in turn, concatenated: sequoia's
/// certificate parser reads a file of several armored keys as one keyring.
pub(crate) fn binary_all_blocks(data: &[u8]) -> Result<Cow<'_, [u8]>, WalkError> {
    if data.is_empty() || header_at(data, 0).is_ok() {
        return Ok(Cow::Borrowed(data));
    }
    let mut out = dearmor_first(data)?;
    let mut rest = after_armor_block(data);
    while let Some(next) = rest
        && memmem(next, b"-----BEGIN PGP ").is_some()
    {
        out.extend(dearmor_first(next)?);
        rest = after_armor_block(next);
    }
    Ok(Cow::Owned(out))
}

/// The bytes after the END line of the first armor block in `data`, if
/// there is one.
fn after_armor_block(data: &[u8]) -> Option<&[u8]> {
    let begin = memmem(data, b"-----BEGIN PGP ")?;
    let from_begin = data.get(begin..)?;
    let end = memmem(from_begin, b"-----END PGP ")?;
    let from_end = from_begin.get(end..)?;
    let eol = from_end.iter().position(|&c| c == b'\n')?;
    from_end.get(eol.saturating_add(1)..)
}

fn memmem(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The content of the first armor block in `data`, read to at most
/// `data.len()` bytes (base64 never expands).
fn dearmor_first(data: &[u8]) -> Result<Vec<u8>, WalkError> {
    let limit = u64::try_from(data.len()).unwrap_or(u64::MAX);
    let reader = armor::Reader::from_bytes(data, armor::ReaderMode::Tolerant(None));
    let mut out = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| WalkError::Malformed(format!("ASCII armor: {e}")))?;
    if out.len() > data.len() {
        return Err(WalkError::Malformed(
            "ASCII armor decodes to more than its own size".into(),
        ));
    }
    Ok(out)
}

/// Walks the top-level packets of binary OpenPGP data. `visit` is called
/// with each packet's tag as soon as its first byte is read, before its
/// length is looked at, so it can refuse a packet even when the rest is
/// cut off; an error from `visit` ends the walk. Returns the number of
/// packets. More than `max_packets` packets is an error.
pub(crate) fn walk<E>(
    data: &[u8],
    max_packets: usize,
    mut visit: impl FnMut(Tag) -> Result<(), E>,
    on_error: impl Fn(WalkError) -> E,
) -> Result<usize, E> {
    let mut pos = 0usize;
    let mut count = 0usize;
    while pos < data.len() {
        if count >= max_packets {
            return Err(on_error(WalkError::TooManyPackets));
        }
        if let Some(tag) = data.get(pos).and_then(|b| CTB::try_from(*b).ok()) {
            visit(tag.tag())?;
        }
        let (header_len, length) = header_at(data, pos).map_err(&on_error)?;
        pos = skip_body(data, pos.saturating_add(header_len), &length).map_err(&on_error)?;
        count += 1;
    }
    Ok(count)
}

/// Parses and validates (like sequoia) the packet header at `pos`:
/// (header length in bytes, body length).
fn header_at(data: &[u8], pos: usize) -> Result<(usize, BodyLength), WalkError> {
    let first = byte(data, pos)?;
    let ctb = CTB::try_from(first).map_err(|e| WalkError::Malformed(e.to_string()))?;
    let (length, len_bytes) = match ctb {
        CTB::New(_) => new_format_length(data, pos.saturating_add(1))?,
        CTB::Old(_) => old_format_length(data, pos.saturating_add(1), first & 0x03)?,
    };
    let header = Header::new(ctb, length);
    header
        .valid(false)
        .map_err(|e| WalkError::Malformed(e.to_string()))?;
    Ok((1 + len_bytes, length))
}

/// Skips a body starting at `pos`; returns the position after it.
fn skip_body(data: &[u8], mut pos: usize, length: &BodyLength) -> Result<usize, WalkError> {
    match length {
        BodyLength::Full(n) => advance(data, pos, *n),
        BodyLength::Indeterminate => Ok(data.len()),
        BodyLength::Partial(n) => {
            pos = advance(data, pos, *n)?;
            // Every further chunk is at least one byte plus its length
            // byte, so this loop is linear in the input.
            loop {
                let (chunk, len_bytes) = new_format_length(data, pos)?;
                pos = pos.saturating_add(len_bytes);
                match chunk {
                    BodyLength::Full(n) => return advance(data, pos, n),
                    BodyLength::Partial(n) => pos = advance(data, pos, n)?,
                    BodyLength::Indeterminate => {
                        return Err(WalkError::Malformed("bad partial body length".into()));
                    }
                }
            }
        }
    }
}

fn advance(data: &[u8], pos: usize, n: u32) -> Result<usize, WalkError> {
    let end = usize::try_from(n)
        .ok()
        .and_then(|n| pos.checked_add(n))
        .filter(|end| *end <= data.len())
        .ok_or_else(|| WalkError::Malformed("packet truncated".into()))?;
    Ok(end)
}

fn byte(data: &[u8], pos: usize) -> Result<u8, WalkError> {
    data.get(pos)
        .copied()
        .ok_or_else(|| WalkError::Malformed("packet header truncated".into()))
}

/// A new-format length at `pos` (RFC 9580, 4.2.1): (length, bytes used).
fn new_format_length(data: &[u8], pos: usize) -> Result<(BodyLength, usize), WalkError> {
    let o1 = byte(data, pos)?;
    Ok(match o1 {
        0..=191 => (BodyLength::Full(u32::from(o1)), 1),
        192..=223 => {
            let o2 = byte(data, pos.saturating_add(1))?;
            let len = ((u32::from(o1) - 192) << 8) + u32::from(o2) + 192;
            (BodyLength::Full(len), 2)
        }
        224..=254 => (BodyLength::Partial(1u32 << (o1 & 0x1f)), 1),
        255 => (BodyLength::Full(be_u32(data, pos.saturating_add(1))?), 5),
    })
}

/// An old-format length at `pos` (RFC 9580, 4.2.2): (length, bytes used).
fn old_format_length(
    data: &[u8],
    pos: usize,
    length_type: u8,
) -> Result<(BodyLength, usize), WalkError> {
    Ok(match length_type {
        0 => (BodyLength::Full(u32::from(byte(data, pos)?)), 1),
        1 => {
            let hi = u32::from(byte(data, pos)?);
            let lo = u32::from(byte(data, pos.saturating_add(1))?);
            (BodyLength::Full((hi << 8) | lo), 2)
        }
        2 => (BodyLength::Full(be_u32(data, pos)?), 4),
        _ => (BodyLength::Indeterminate, 0),
    })
}

fn be_u32(data: &[u8], pos: usize) -> Result<u32, WalkError> {
    let mut out = 0u32;
    for i in 0..4 {
        out = (out << 8) | u32::from(byte(data, pos.saturating_add(i))?);
    }
    Ok(out)
}

/// Whether `tag` may appear in certificate data (transferable public or
/// secret keys, or a keyring of them).
fn is_cert_packet(tag: Tag) -> bool {
    matches!(
        tag,
        Tag::PublicKey
            | Tag::SecretKey
            | Tag::PublicSubkey
            | Tag::SecretSubkey
            | Tag::UserID
            | Tag::UserAttribute
            | Tag::Signature
            | Tag::Trust
            | Tag::Marker
            | Tag::Padding
    )
}

/// Certificate data as binary, checked packet by packet: anything that is
/// not a certificate packet (compressed data above all, which sequoia's
/// certificate parser would decompress before refusing it) is refused, as
/// are more than [`MAX_CERT_PACKETS`] packets or [`MAX_CERT_BYTES`] bytes.
/// `malformed` builds the error for data that is not OpenPGP at all.
pub(crate) fn cert_data(
    data: &[u8],
    malformed: impl Fn(String) -> PgpError,
) -> Result<Cow<'_, [u8]>, PgpError> {
    let on_error = |e: WalkError| match e {
        WalkError::Malformed(reason) => malformed(reason),
        WalkError::TooManyPackets => PgpError::TooComplex {
            what: Excess::Packets,
            limit: MAX_CERT_PACKETS,
        },
    };
    let bin = binary_all_blocks(data).map_err(on_error)?;
    if bin.len() > MAX_CERT_BYTES {
        return Err(PgpError::TooComplex {
            what: Excess::Bytes,
            limit: MAX_CERT_BYTES,
        });
    }
    walk(
        &bin,
        MAX_CERT_PACKETS,
        |tag| {
            if is_cert_packet(tag) {
                Ok(())
            } else {
                Err(PgpError::UnexpectedPacket {
                    tag: u8::from(tag),
                    expected: "certificate packets",
                })
            }
        },
        on_error,
    )?;
    Ok(bin)
}

/// The top level of a message to decrypt: session keys, then encrypted
/// data, optionally inside one-pass-signature/signature packets (signed
/// after encryption). Anything else at the top level (compressed or
/// literal data, keys) means the message is not encrypted, and is refused
/// without being read; a legacy SED packet is refused as unprotected.
pub(crate) fn encrypted_message(binary: &[u8]) -> Result<(), PgpError> {
    let mut encrypted = false;
    let mut ops = 0usize;
    let mut sigs = 0usize;
    walk(
        binary,
        MAX_MESSAGE_PACKETS,
        |tag| match tag {
            Tag::SED => Err(PgpError::NoIntegrityProtection),
            Tag::SEIP | Tag::AED => {
                encrypted = true;
                Ok(())
            }
            Tag::PKESK | Tag::SKESK | Tag::Marker | Tag::Padding => Ok(()),
            Tag::OnePassSig => bump(&mut ops, Excess::OnePassSignatures),
            Tag::Signature => bump(&mut sigs, Excess::Signatures),
            _ => Err(PgpError::NotEncrypted),
        },
        |e| match e {
            WalkError::Malformed(reason) => PgpError::Malformed(reason),
            WalkError::TooManyPackets => PgpError::TooComplex {
                what: Excess::Packets,
                limit: MAX_MESSAGE_PACKETS,
            },
        },
    )?;
    if encrypted {
        Ok(())
    } else {
        Err(PgpError::NotEncrypted)
    }
}

/// Counts one more packet of a bounded kind.
fn bump(count: &mut usize, what: Excess) -> Result<(), PgpError> {
    *count = count.saturating_add(1);
    let limit = match what {
        Excess::OnePassSignatures => MAX_ONE_PASS_SIGNATURES,
        Excess::Signatures => MAX_SIGNATURES,
        Excess::Nesting => MAX_NESTING,
        Excess::Packets => MAX_MESSAGE_PACKETS,
        Excess::Bytes => MAX_CERT_BYTES,
    };
    if *count > limit {
        Err(PgpError::TooComplex { what, limit })
    } else {
        Ok(())
    }
}

/// Bounds on what sequoia's streaming parser meets, at every level
/// (inside encryption and compression too). Fed from
/// `VerificationHelper::inspect`, which sequoia calls for each packet
/// before it checks the message grammar or sets up hashing for it; the
/// first bound exceeded is kept so that the caller can report it after
/// sequoia has turned the refusal into its own error.
#[derive(Default)]
pub(crate) struct Tally {
    packets: usize,
    ops: usize,
    sigs: usize,
    /// The refusal, once a bound was exceeded.
    pub(crate) exceeded: Option<PgpError>,
}

impl Tally {
    /// Accounts for one packet at `depth` (0 = top level).
    pub(crate) fn packet(&mut self, tag: Tag, depth: isize) -> openpgp::Result<()> {
        let result = self.check(tag, depth);
        if let Err(e) = result {
            let message = e.to_string();
            self.exceeded.get_or_insert(e);
            return Err(openpgp::Error::InvalidOperation(message).into());
        }
        Ok(())
    }

    fn check(&mut self, tag: Tag, depth: isize) -> Result<(), PgpError> {
        bump(&mut self.packets, Excess::Packets)?;
        if usize::try_from(depth).map_or(true, |d| d > MAX_NESTING) {
            return Err(PgpError::TooComplex {
                what: Excess::Nesting,
                limit: MAX_NESTING,
            });
        }
        match tag {
            Tag::OnePassSig => bump(&mut self.ops, Excess::OnePassSignatures),
            Tag::Signature => bump(&mut self.sigs, Excess::Signatures),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(data: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        walk(
            data,
            100,
            |t| {
                out.push(u8::from(t));
                Ok::<(), String>(())
            },
            |e| format!("{e:?}"),
        )?;
        Ok(out)
    }

    #[test]
    fn lengths_of_both_formats() {
        // New format: marker (tag 10) "PGP", one-octet length.
        assert_eq!(tags(b"\xca\x03PGP").unwrap(), vec![10]);
        // Old format, tag 10, one-octet length, twice.
        assert_eq!(tags(b"\xa8\x03PGP\xa8\x03PGP").unwrap(), vec![10, 10]);
        // Old format, two-octet length.
        assert_eq!(tags(b"\xa9\x00\x03PGP").unwrap(), vec![10]);
        // New format, five-octet length.
        assert_eq!(tags(b"\xca\xff\x00\x00\x00\x03PGP").unwrap(), vec![10]);
        // Two-octet new-format length: 192 bytes of padding (tag 21).
        let mut padding = vec![0xd5, 0xc0, 0x00];
        padding.extend([0u8; 192]);
        assert_eq!(tags(&padding).unwrap(), vec![21]);
        // Truncated.
        assert!(tags(b"\xca\x03PG").is_err());
        assert!(tags(b"\xca").is_err());
        // Not a packet.
        assert!(tags(b"hello").is_err());
    }

    #[test]
    fn partial_chunks_are_followed() {
        // Literal data (tag 11) in a 512-byte partial chunk, then a final
        // 6-byte chunk, then a marker.
        let mut data = vec![0xcb, 0xe9];
        data.extend([b'x'; 512]);
        data.push(6);
        data.extend(b"b\0\0\0\0\0");
        data.extend(b"\xca\x03PGP");
        assert_eq!(tags(&data).unwrap(), vec![11, 10]);
        // The chunk chain cut off.
        assert!(tags(&data[..300]).is_err());
        assert!(tags(&data[..516]).is_err());
    }

    #[test]
    fn invalid_headers_are_refused_like_sequoia() {
        // A marker must be 3 bytes long.
        assert!(tags(b"\xca\x04PGPX").is_err());
        // Partial lengths only for data packets.
        let mut data = vec![0xca, 0xe9];
        data.extend([0u8; 513]);
        assert!(tags(&data).is_err());
    }

    #[test]
    fn too_many_packets() {
        let data = b"\xca\x03PGP".repeat(101);
        assert!(tags(&data).unwrap_err().contains("TooManyPackets"));
    }

    #[test]
    fn visit_sees_the_tag_before_a_truncated_length() {
        let mut seen = Vec::new();
        let result = walk(
            b"\xc8\xff\x00",
            10,
            |t| {
                seen.push(u8::from(t));
                Ok::<(), String>(())
            },
            |e| format!("{e:?}"),
        );
        assert!(result.is_err());
        assert_eq!(seen, vec![8]);
    }

    #[test]
    fn armor_is_removed_within_bounds() {
        let armored = b"-----BEGIN PGP MESSAGE-----\n\nygNQR1A=\n-----END PGP MESSAGE-----\n";
        let bin = binary(armored).unwrap();
        assert_eq!(&bin[..], b"\xca\x03PGP");
        assert!(matches!(binary(b"\xca\x03PGP").unwrap(), Cow::Borrowed(_)));
        assert!(binary(b"no armor here").is_err());

        let two = [&armored[..], b"text between\n", &armored[..]].concat();
        assert_eq!(&binary(&two).unwrap()[..], b"\xca\x03PGP");
        assert_eq!(
            &binary_all_blocks(&two).unwrap()[..],
            b"\xca\x03PGP\xca\x03PGP"
        );
        assert_eq!(&binary_all_blocks(armored).unwrap()[..], b"\xca\x03PGP");
    }

    #[test]
    fn tally_bounds() {
        let mut t = Tally::default();
        for _ in 0..MAX_ONE_PASS_SIGNATURES {
            t.packet(Tag::OnePassSig, 1).unwrap();
        }
        assert!(t.packet(Tag::OnePassSig, 1).is_err());
        assert!(matches!(
            t.exceeded,
            Some(PgpError::TooComplex {
                what: Excess::OnePassSignatures,
                limit: MAX_ONE_PASS_SIGNATURES
            })
        ));
        let mut t = Tally::default();
        assert!(t.packet(Tag::Literal, MAX_NESTING as isize).is_ok());
        assert!(t.packet(Tag::Literal, MAX_NESTING as isize + 1).is_err());
        assert!(matches!(
            t.exceeded,
            Some(PgpError::TooComplex {
                what: Excess::Nesting,
                ..
            })
        ));
    }
}
