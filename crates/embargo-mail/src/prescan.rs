//! A cheap pass over the raw bytes that decides whether mail-parser can be
//! trusted with them.
//!
//! mail-parser itself is iterative (no stack growth with MIME depth), but two
//! of its costs are not linear in the input:
//!
//! * Memory: every header and every MIME part becomes a heap structure of
//!   ~120–200 bytes. 25 MB of `a:\n` lines or of `--b\n\n` delimiters turns
//!   into roughly 1 GB.
//! * Time: for every multipart whose boundary never occurs, mail-parser scans
//!   to the end of the input and then carries on from where it was. Thousands
//!   of such declarations make parsing quadratic (measured: 5 MB took four
//!   minutes). The same can be hidden inside a base64 or quoted-printable
//!   encoded message/rfc822 part, which mail-parser decodes and parses again
//!   (up to three levels deep).
//!
//! This pass over-approximates both costs: every `:` may be a header, every
//! `--` a delimiter, every `boundary=` that may sit in a header section a
//! declaration mail-parser will look for, and every encoded body that may be
//! a nested message is decoded and checked the same way. When an estimate
//! exceeds its budget the message is not given to mail-parser's body parser;
//! the caller falls back to the top-level headers. Legitimate mail stays far
//! below the budgets.
//!
//! Where mail-parser reads headers: at the start of the buffer, right after
//! any `--` + boundary match (anywhere in a line), and after the header
//! section of a message/rfc822 or message/global part (or of any part inside a
//! multipart/digest). A header section certainly ends at an empty line
//! (`\n\n` or `\n\r\n`) and may end at a whitespace-only one. The tracker
//! below errs on the side of "may be a header" everywhere.

use std::collections::HashMap;
use std::iter::Peekable;

use memchr::{memchr_iter, memmem};

/// mail-parser decodes and re-parses encoded nested messages this deep.
const MAX_ENCODED_NESTING: u32 = 3;
/// Observed heap cost of one parsed header / one MIME part, with margin.
const HEADER_COST: u64 = 128;
const PART_COST: u64 = 192;
/// Boundary values longer than this are not searched for (cost assumed).
const MAX_BOUNDARY_LEN: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    Memory,
    Seek,
    Work,
}

struct Budget {
    memory: u64,
    seek: u64,
    work: u64,
}

impl Budget {
    fn for_input(len: usize) -> Self {
        let n = len as u64;
        const MIB: u64 = 1024 * 1024;
        Budget {
            memory: n.saturating_mul(4).saturating_add(48 * MIB),
            seek: n.saturating_mul(16).saturating_add(16 * MIB),
            work: n.saturating_mul(12).saturating_add(32 * MIB),
        }
    }

    fn charge_memory(&mut self, amount: u64) -> Result<(), Exceeded> {
        self.memory = self.memory.checked_sub(amount).ok_or(Exceeded::Memory)?;
        Ok(())
    }

    fn charge_seek(&mut self, amount: u64) -> Result<(), Exceeded> {
        self.seek = self.seek.checked_sub(amount).ok_or(Exceeded::Seek)?;
        Ok(())
    }

    fn charge_work(&mut self, amount: u64) -> Result<(), Exceeded> {
        self.work = self.work.checked_sub(amount).ok_or(Exceeded::Work)?;
        Ok(())
    }
}

/// Ok when mail-parser's cost on `raw` is bounded by a small multiple of its
/// size.
pub(crate) fn check(raw: &[u8]) -> Result<(), Exceeded> {
    let mut budget = Budget::for_input(raw.len());
    scan(raw, MAX_ENCODED_NESTING, &mut budget)
}

/// Checks one buffer that mail-parser parses from its first byte: the raw
/// message, or the decoded body of a nested message.
fn scan(buf: &[u8], depth_left: u32, budget: &mut Budget) -> Result<(), Exceeded> {
    let lower = buf.to_ascii_lowercase();

    // Memory: every ':' may end a header name, every "--" may start a
    // delimiter, every message/rfc822 may open a nested message.
    let colons = memchr_iter(b':', buf).count() as u64;
    let dashes = memmem::find_iter(buf, b"--").count() as u64;
    let nested_tokens = count(&lower, b"rfc822") + count(&lower, b"global");
    let parts = dashes
        .saturating_add(nested_tokens)
        .saturating_add(1)
        .saturating_mul(2);
    budget.charge_memory(
        colons
            .saturating_mul(HEADER_COST)
            .saturating_add(parts.saturating_mul(PART_COST)),
    )?;

    let nested = structure(buf, &lower, depth_left > 0, budget)?;
    drop(lower);

    for body in nested {
        let rest = buf.get(body.start..).unwrap_or_default();
        if body.base64 {
            let decoded = base64_body(rest);
            budget.charge_work(decoded.len() as u64)?;
            // Shorter than "a:\n\n--x" cannot hold anything that costs.
            if decoded.len() >= 8 {
                scan(&decoded, depth_left - 1, budget)?;
            }
        }
        if body.quoted_printable && rest.contains(&b'=') {
            budget.charge_work(rest.len() as u64)?;
            let decoded = qp_decode(rest);
            // Identical bytes were already checked as part of this buffer,
            // in a context at least as permissive.
            if decoded != rest {
                scan(&decoded, depth_left - 1, budget)?;
            }
        }
    }
    Ok(())
}

fn count(haystack: &[u8], needle: &[u8]) -> u64 {
    memmem::find_iter(haystack, needle).count() as u64
}

/// Where an encoded body that may be a nested message starts, and how it
/// may be encoded.
struct NestedBody {
    start: usize,
    base64: bool,
    quoted_printable: bool,
}

/// The events of the header-context tracker, by kind.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Event {
    Dash,
    Message,
    Base64,
    QuotedPrintable,
    EncodedWord,
    Declaration,
    /// A whitespace-only line: (end, empty).
    Blank(usize, bool),
}

type Finds<'a> = Peekable<memmem::FindIter<'a, 'static>>;

/// Walks the buffer once, in order: tracks where header sections may be,
/// charges the boundary declarations found in them, and lists the bodies
/// that may be encoded nested messages.
fn structure(
    buf: &[u8],
    lower: &[u8],
    find_nested: bool,
    budget: &mut Budget,
) -> Result<Vec<NestedBody>, Exceeded> {
    let mut sources: [(Event, Finds<'_>); 6] = [
        (Event::Dash, memmem::find_iter(buf, b"--").peekable()),
        (
            Event::Message,
            memmem::find_iter(lower, b"rfc822").peekable(),
        ),
        (
            Event::Message,
            memmem::find_iter(lower, b"global").peekable(),
        ),
        (
            Event::Base64,
            memmem::find_iter(lower, b"base64").peekable(),
        ),
        (
            Event::QuotedPrintable,
            memmem::find_iter(lower, b"quoted-printable").peekable(),
        ),
        (Event::EncodedWord, memmem::find_iter(buf, b"=?").peekable()),
    ];
    let mut declarations = memmem::find_iter(lower, b"boundary").peekable();
    let mut blanks = WhitespaceLines::new(buf).peekable();
    let digest = memmem::find(lower, b"digest").is_some();

    let mut seeks = Seeks::new(buf);
    let mut nested = Vec::new();
    let mut in_header = true;
    let mut names_message = false;
    let mut base64 = false;
    let mut quoted_printable = false;

    loop {
        // The earliest pending event.
        let mut next: Option<(usize, Event)> = None;
        let mut consider = |at: usize, event: Event| {
            if next.is_none_or(|(best, _)| at < best) {
                next = Some((at, event));
            }
        };
        for (event, finds) in &mut sources {
            if let Some(&at) = finds.peek() {
                consider(at, *event);
            }
        }
        if let Some(&at) = declarations.peek() {
            consider(at, Event::Declaration);
        }
        if let Some(&(start, end, empty)) = blanks.peek() {
            consider(start, Event::Blank(end, empty));
        }
        let Some((at, event)) = next else {
            break;
        };
        match event {
            Event::Blank(..) => {
                blanks.next();
            }
            Event::Declaration => {
                declarations.next();
            }
            _ => {
                for (kind, finds) in &mut sources {
                    if *kind == event && finds.peek() == Some(&at) {
                        finds.next();
                        break;
                    }
                }
            }
        }
        match event {
            // A delimiter may start a header section. What the current one
            // said is kept: the "--" may just as well be inside a header.
            Event::Dash => in_header = true,
            Event::Message => names_message |= in_header,
            Event::Base64 => base64 |= in_header,
            Event::QuotedPrintable => quoted_printable |= in_header,
            Event::EncodedWord => {
                // An encoded word may hide the transfer encoding's name.
                base64 |= in_header;
                quoted_printable |= in_header;
            }
            Event::Declaration => {
                if in_header {
                    seeks.charge(at, budget)?;
                }
            }
            Event::Blank(end, empty) => {
                let nests = names_message || digest;
                if find_nested && in_header && nests && (base64 || quoted_printable) {
                    nested.push(NestedBody {
                        start: end,
                        base64,
                        quoted_printable,
                    });
                }
                // Only an empty line certainly ends a header section; what
                // follows is another one if this one opened a nested message.
                if empty && in_header {
                    in_header = nests;
                    names_message = false;
                    base64 = false;
                    quoted_printable = false;
                }
            }
        }
    }
    Ok(nested)
}

/// Whitespace-only lines as (start, end, empty), in order, lazily. `empty`
/// means nothing but an optional CR before the LF.
struct WhitespaceLines<'a> {
    buf: &'a [u8],
    newlines: memchr::Memchr<'a>,
}

impl<'a> WhitespaceLines<'a> {
    fn new(buf: &'a [u8]) -> Self {
        WhitespaceLines {
            buf,
            newlines: memchr_iter(b'\n', buf),
        }
    }
}

impl Iterator for WhitespaceLines<'_> {
    type Item = (usize, usize, bool);

    fn next(&mut self) -> Option<Self::Item> {
        for nl in self.newlines.by_ref() {
            let start = nl + 1;
            let mut i = start;
            let mut only_cr = true;
            while let Some(&c) = self.buf.get(i) {
                match c {
                    b'\r' => {}
                    b' ' | b'\t' => only_cr = false,
                    _ => break,
                }
                i += 1;
            }
            if self.buf.get(i) == Some(&b'\n') {
                let empty = only_cr && i.saturating_sub(start) <= 1;
                return Some((start, i + 1, empty));
            }
        }
        None
    }
}

/// Charges boundary declarations the distance mail-parser would scan for
/// their first delimiter.
struct Seeks<'a> {
    buf: &'a [u8],
    /// Ends of empty lines: mail-parser starts looking after the header
    /// section, which ends at or before the first empty line after the
    /// declaration. Starting there can only overcharge.
    search_starts: Peekable<EmptyLineEnds<'a>>,
    /// Last position at which each boundary's delimiter was found.
    found_at: HashMap<Vec<u8>, usize>,
}

impl<'a> Seeks<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Seeks {
            buf,
            search_starts: EmptyLineEnds::new(buf).peekable(),
            found_at: HashMap::new(),
        }
    }

    /// `pos` is where the word "boundary" starts; positions come in order.
    fn charge(&mut self, pos: usize, budget: &mut Budget) -> Result<(), Exceeded> {
        let buf = self.buf;
        let worst = buf.len().saturating_sub(pos) as u64;
        let value = match declaration_value(buf, pos.saturating_add(8)) {
            Declaration::NotOne => return Ok(()),
            Declaration::Unknown => return budget.charge_seek(worst),
            Declaration::Value(v) => v,
        };
        if value.is_empty() {
            return Ok(()); // mail-parser does not search for an empty boundary
        }
        while self.search_starts.next_if(|&end| end <= pos).is_some() {}
        let Some(&start) = self.search_starts.peek() else {
            // No empty line follows; a whitespace-only line might still end
            // the header section, so assume the worst.
            return budget.charge_seek(worst);
        };
        let cost = match self.found_at.get(value) {
            Some(&at) if at >= start => at - start,
            _ => {
                let mut needle = Vec::with_capacity(value.len().saturating_add(2));
                needle.extend_from_slice(b"--");
                needle.extend_from_slice(value);
                match buf
                    .get(start..)
                    .and_then(|tail| memmem::find(tail, &needle))
                {
                    Some(offset) => {
                        self.found_at
                            .insert(value.to_vec(), start.saturating_add(offset));
                        offset
                    }
                    None => buf.len().saturating_sub(start),
                }
            }
        };
        budget.charge_seek(cost as u64)
    }
}

/// Ends of empty lines (just after `\n\n` or `\n\r\n`), in order, lazily.
struct EmptyLineEnds<'a> {
    buf: &'a [u8],
    newlines: memchr::Memchr<'a>,
}

impl<'a> EmptyLineEnds<'a> {
    fn new(buf: &'a [u8]) -> Self {
        EmptyLineEnds {
            buf,
            newlines: memchr_iter(b'\n', buf),
        }
    }
}

impl Iterator for EmptyLineEnds<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        for nl in self.newlines.by_ref() {
            match self.buf.get(nl + 1) {
                Some(b'\n') => return Some(nl + 2),
                Some(b'\r') if self.buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
                _ => {}
            }
        }
        None
    }
}

enum Declaration<'a> {
    /// Not an attribute assignment (prose, another attribute name).
    NotOne,
    /// An assignment whose value mail-parser may read differently from us
    /// (RFC 2231, comments, escapes, folding, encoded words).
    Unknown,
    Value(&'a [u8]),
}

/// Reads the value after the word "boundary" at `i`. Where mail-parser could
/// end up with a different value than a plain reading gives, the answer is
/// `Unknown` and the declaration is charged as if its boundary never came.
fn declaration_value(buf: &[u8], mut i: usize) -> Declaration<'_> {
    let at = |i: usize| buf.get(i).copied();
    while matches!(at(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    match at(i) {
        Some(b'=') => i += 1,
        Some(b'*' | b'(' | b'"') => return Declaration::Unknown,
        _ => return Declaration::NotOne,
    }
    while matches!(at(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    let start = i;
    if at(i) == Some(b'"') {
        let start = i + 1;
        let window = buf.get(start..).unwrap_or_default();
        let window = window.get(..MAX_BOUNDARY_LEN).unwrap_or(window);
        return match window
            .iter()
            .position(|&c| matches!(c, b'"' | b'\\' | b'\r' | b'\n'))
        {
            Some(len) if window.get(len) == Some(&b'"') => {
                let value = window.get(..len).unwrap_or_default();
                if value.starts_with(b"=?") {
                    Declaration::Unknown
                } else {
                    Declaration::Value(value)
                }
            }
            _ => Declaration::Unknown,
        };
    }
    let window = buf.get(start..).unwrap_or_default();
    let window = window.get(..MAX_BOUNDARY_LEN).unwrap_or(window);
    let Some(len) = window
        .iter()
        .position(|&c| matches!(c, b';' | b'\r' | b'\n' | b'(' | b'"' | b'\\'))
    else {
        return Declaration::Unknown;
    };
    let stop = window.get(len).copied();
    if matches!(stop, Some(b'(' | b'"' | b'\\')) {
        return Declaration::Unknown;
    }
    let mut value = window.get(..len).unwrap_or_default();
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    if value.starts_with(b"=?") {
        return Declaration::Unknown;
    }
    if matches!(stop, Some(b'\r' | b'\n')) {
        // A folded continuation could extend the value.
        let mut j = start + len;
        if at(j) == Some(b'\r') {
            j += 1;
        }
        if at(j) == Some(b'\n') {
            j += 1;
        }
        if matches!(at(j), Some(b' ' | b'\t')) {
            return Declaration::Unknown;
        }
    }
    Declaration::Value(value)
}

fn base64_value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

fn in_base64_region(c: u8) -> bool {
    base64_value(c).is_some() || matches!(c, b'=' | b' ' | b'\t' | b'\r' | b'\n' | b'-')
}

/// A base64 decoder with mail-parser's tolerance: whitespace and single
/// dashes are skipped, `=` flushes a partial group and restarts alignment.
struct Decoder {
    out: Vec<u8>,
    acc: u32,
    count: u8,
}

impl Decoder {
    fn new() -> Self {
        Decoder {
            out: Vec::new(),
            acc: 0,
            count: 0,
        }
    }

    fn push(&mut self, c: u8) {
        if let Some(v) = base64_value(c) {
            self.acc = (self.acc << 6) | v;
            self.count += 1;
            if self.count == 4 {
                let [_, a, b, c] = self.acc.to_be_bytes();
                self.out.extend_from_slice(&[a, b, c]);
                self.acc = 0;
                self.count = 0;
            }
        } else if c == b'=' {
            let shift = 6 * u32::from(4u8.saturating_sub(self.count));
            let [_, a, b, _] = (self.acc << shift).to_be_bytes();
            match self.count {
                1 | 2 => self.out.push(a),
                3 => self.out.extend_from_slice(&[a, b]),
                _ => {}
            }
            self.acc = 0;
            self.count = 0;
        }
    }
}

/// Decodes what mail-parser would decode as a base64 body starting at the
/// beginning of `body`: up to the first character that is not base64,
/// whitespace, `=` or a single dash (a valid body ends at `--boundary`).
fn base64_body(body: &[u8]) -> Vec<u8> {
    let mut decoder = Decoder::new();
    let mut prev = 0u8;
    for &c in body {
        if !in_base64_region(c) || (c == b'-' && prev == b'-') {
            break;
        }
        decoder.push(c);
        prev = c;
    }
    decoder.out
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Quoted-printable decoding of the whole buffer. Decoding is local, so any
/// body mail-parser decodes appears, decoded, inside the result.
fn qp_decode(buf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(buf.len());
    let mut i = 0;
    while let Some(&c) = buf.get(i) {
        if c != b'=' {
            out.push(c);
            i += 1;
            continue;
        }
        // Soft line break: '=' then optional whitespace then a newline.
        let mut j = i + 1;
        while matches!(buf.get(j), Some(b' ' | b'\t' | b'\r')) {
            j += 1;
        }
        if buf.get(j) == Some(&b'\n') {
            i = j + 1;
            continue;
        }
        match (
            buf.get(i + 1).copied().and_then(hex_value),
            buf.get(i + 2).copied().and_then(hex_value),
        ) {
            (Some(h), Some(l)) => {
                out.push((h << 4) | l);
                i += 3;
            }
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_matches_standard_base64() {
        let mut d = Decoder::new();
        for &c in b"aGVs\nbG8g-d29y bGQ=" {
            d.push(c);
        }
        assert_eq!(d.out, b"hello world");
    }

    #[test]
    fn qp_decoding() {
        assert_eq!(qp_decode(b"bound=\nary=3D\"x\" =ZZ"), b"boundary=\"x\" =ZZ");
    }

    #[test]
    fn declaration_values() {
        let v = |s: &'static [u8]| match declaration_value(s, 0) {
            Declaration::Value(v) => Some(v.to_vec()),
            Declaration::Unknown => Some(b"?".to_vec()),
            Declaration::NotOne => None,
        };
        assert_eq!(v(b"=\"abc\"; x"), Some(b"abc".to_vec()));
        assert_eq!(v(b" = abc ;"), Some(b"abc".to_vec()));
        assert_eq!(v(b"=abc\n y"), Some(b"?".to_vec()));
        assert_eq!(v(b"=abc\nX: y"), Some(b"abc".to_vec()));
        assert_eq!(v(b"*0=abc"), Some(b"?".to_vec()));
        assert_eq!(v(b" conditions"), None);
    }

    #[test]
    fn ordinary_mail_passes() {
        let raw = b"From: a@b\nContent-Type: multipart/mixed; boundary=\"xx\"\n\n--xx\nContent-Type: text/plain\n\nhi\n--xx--\n";
        assert!(check(raw).is_ok());
    }

    #[test]
    fn missing_boundaries_are_refused() {
        let mut s = String::from("From: a@b\nContent-Type: multipart/mixed; boundary=B\n\n");
        while s.len() < 2_000_000 {
            s.push_str("--B\nContent-Type: multipart/mixed; boundary=NOPE\n\nx\n");
        }
        assert_eq!(check(s.as_bytes()), Err(Exceeded::Seek));
    }

    #[test]
    fn header_floods_are_refused() {
        let mut s = String::from("From: a@b\n");
        while s.len() < 2_000_000 {
            s.push_str("a:\n");
        }
        assert_eq!(check(s.as_bytes()), Err(Exceeded::Memory));
    }

    fn bomb(len: usize) -> String {
        let mut s = String::from("From: a@b\nContent-Type: multipart/mixed; boundary=B\n\n");
        while s.len() < len {
            s.push_str("--B\nContent-Type: multipart/mixed; boundary=NOPE\n\nx\n");
        }
        s
    }

    fn b64(data: &[u8]) -> String {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        encoded
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
            .collect()
    }

    #[test]
    fn quoted_mime_in_a_body_is_not_a_declaration() {
        let mut s = String::from("From: a@b\nContent-Type: text/plain\n\n");
        let body = "Content-Type: multipart/mixed; boundary=NOPE\n".repeat(200);
        s.push_str(&body);
        s.push_str(&"x".repeat(1_000_000));
        // 200 failing searches over 1 MB would exceed the seek budget.
        assert!(check(s.as_bytes()).is_ok());
        // The same declarations in header sections (after delimiters) count.
        let mut s = String::from("From: a@b\nContent-Type: multipart/mixed; boundary=B\n\n");
        for _ in 0..200 {
            s.push_str("--B\nContent-Type: multipart/mixed; boundary=NOPE\n\nx\n");
        }
        s.push_str(&"x".repeat(1_000_000));
        assert_eq!(check(s.as_bytes()), Err(Exceeded::Seek));
    }

    #[test]
    fn encoded_nested_messages_are_decoded() {
        let inner = bomb(1_500_000);
        for (header, body) in [
            (
                "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64",
                b64(inner.as_bytes()),
            ),
            (
                "Content-Type: message/global\nContent-Transfer-Encoding: =?us-ascii?q?base64?=",
                b64(inner.as_bytes()),
            ),
            (
                "Content-Transfer-Encoding: quoted-printable\nContent-Type: message/rfc822",
                inner.replace("boundary", "bound=\nary"),
            ),
            (
                "Content-Type: message/rfc822\nX-Note: -- not a delimiter\nContent-Transfer-Encoding: base64",
                b64(inner.as_bytes()),
            ),
        ] {
            let s = format!(
                "From: a@b\nContent-Type: multipart/mixed; boundary=o\n\n--o\n{header}\n\n{body}\n--o--\n"
            );
            assert_eq!(check(s.as_bytes()), Err(Exceeded::Seek), "{header}");
        }
        // A digest child is a message without saying so.
        let s = format!(
            "From: a@b\nContent-Type: multipart/digest; boundary=o\n\n--o\nContent-Transfer-Encoding: base64\n\n{}\n--o--\n",
            b64(inner.as_bytes())
        );
        assert_eq!(check(s.as_bytes()), Err(Exceeded::Seek));
        // Encoded but not a message: mail-parser does not look inside.
        let s = format!(
            "From: a@b\nContent-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n{}\n--o--\n",
            b64(inner.as_bytes())
        );
        assert!(check(s.as_bytes()).is_ok());
    }

    #[test]
    fn whitespace_lines() {
        let lines: Vec<_> = WhitespaceLines::new(b"a\n\n \t\r\nb\n\r\nc").collect();
        assert_eq!(lines, vec![(2, 3, true), (3, 7, false), (9, 11, true)]);
    }
}
