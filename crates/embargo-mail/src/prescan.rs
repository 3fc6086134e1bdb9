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
//! This pass over-approximates both costs (every `:` may be a header, every
//! `--` a delimiter, every `boundary=` a declaration that mail-parser will
//! look for) and, where an encoded nested message is possible, decodes every
//! candidate region the way mail-parser would and checks that too. When an
//! estimate exceeds its budget the message is not given to mail-parser's body
//! parser at all; the caller falls back to reading the top-level headers.
//! Legitimate mail stays orders of magnitude below the budgets.

use std::collections::HashMap;

use memchr::{memchr_iter, memmem};

/// mail-parser decodes and re-parses encoded nested messages this deep.
const MAX_ENCODED_NESTING: u32 = 3;
/// Observed heap cost of one parsed header / one MIME part, with margin.
const HEADER_COST: u64 = 128;
const PART_COST: u64 = 192;
/// Boundary values longer than this are not searched for (cost assumed).
const MAX_BOUNDARY_LEN: usize = 1000;
/// More concurrent base64 decoders than this in one region is not mail.
const MAX_THREADS_PER_REGION: usize = 64;

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
            memory: n.saturating_mul(8).saturating_add(64 * MIB),
            seek: n.saturating_mul(16).saturating_add(16 * MIB),
            work: n.saturating_mul(32).saturating_add(32 * MIB),
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

    check_boundaries(buf, &lower, budget)?;

    // mail-parser only re-parses decoded content for a part whose type is
    // message/rfc822 or message/global, or a multipart/digest child. Those
    // tokens are in this buffer's own headers, unencoded and contiguous
    // (mail-parser does not join a subtype across comments or folding).
    let can_nest = depth_left > 0
        && (memmem::find(&lower, b"rfc822").is_some()
            || memmem::find(&lower, b"global").is_some()
            || memmem::find(&lower, b"digest").is_some());
    drop(lower);
    if !can_nest {
        return Ok(());
    }

    for decoded in base64_candidates(buf, budget)? {
        scan(&decoded, depth_left - 1, budget)?;
    }
    if buf.contains(&b'=') {
        let decoded = qp_decode(buf);
        budget.charge_work(decoded.len() as u64)?;
        if decoded != buf {
            scan(&decoded, depth_left - 1, budget)?;
        }
    }
    Ok(())
}

fn count(haystack: &[u8], needle: &[u8]) -> u64 {
    memmem::find_iter(haystack, needle).count() as u64
}

/// Charges, for every `boundary=` in the buffer, the distance mail-parser
/// would scan to find its first delimiter (or to the end of the buffer when
/// there is none or the value cannot be read exactly).
fn check_boundaries(buf: &[u8], lower: &[u8], budget: &mut Budget) -> Result<(), Exceeded> {
    let blank_lines = BlankLines::new(buf);
    let mut blank_lines = blank_lines.peekable_from();
    // Last position at which each boundary's delimiter was found.
    let mut found_at: HashMap<Vec<u8>, usize> = HashMap::new();

    for pos in memmem::find_iter(lower, b"boundary") {
        let after = pos.saturating_add(8);
        let worst = buf.len().saturating_sub(pos) as u64;
        let value = match declaration_value(buf, after) {
            Declaration::NotOne => continue,
            Declaration::Unknown => {
                budget.charge_seek(worst)?;
                continue;
            }
            Declaration::Value(v) => v,
        };
        if value.is_empty() {
            continue; // mail-parser does not search for an empty boundary
        }
        // mail-parser starts looking after the header section that holds the
        // declaration. Starting at the end of the first CRLFCRLF/LFLF after
        // it is at or after that point, which can only overcharge.
        let Some(start) = blank_lines.next_after(pos) else {
            // No empty line follows; a whitespace-only line might still end
            // the header section, so assume the worst.
            budget.charge_seek(worst)?;
            continue;
        };
        let cost = match found_at.get(value) {
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
                        found_at.insert(value.to_vec(), start.saturating_add(offset));
                        offset
                    }
                    None => buf.len().saturating_sub(start),
                }
            }
        };
        budget.charge_seek(cost as u64)?;
    }
    Ok(())
}

enum Declaration<'a> {
    /// Not an attribute assignment (prose, another attribute name).
    NotOne,
    /// An assignment whose value mail-parser may read differently from us
    /// (RFC 2231, comments, escapes, folding, encoded words).
    Unknown,
    Value(&'a [u8]),
}

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

/// Positions just after each empty line (`\n\n` or `\n\r\n`), in order.
struct BlankLines {
    ends: Vec<usize>,
}

impl BlankLines {
    fn new(buf: &[u8]) -> Self {
        let mut ends = Vec::new();
        for nl in memchr_iter(b'\n', buf) {
            let next = nl + 1;
            match buf.get(next) {
                Some(b'\n') => ends.push(next + 1),
                Some(b'\r') if buf.get(next + 1) == Some(&b'\n') => ends.push(next + 2),
                _ => {}
            }
        }
        BlankLines { ends }
    }

    fn peekable_from(self) -> BlankCursor {
        BlankCursor {
            ends: self.ends,
            index: 0,
        }
    }
}

struct BlankCursor {
    ends: Vec<usize>,
    index: usize,
}

impl BlankCursor {
    /// First blank-line end after `pos`; positions are asked in increasing
    /// order, so the cursor only moves forward.
    fn next_after(&mut self, pos: usize) -> Option<usize> {
        while let Some(&end) = self.ends.get(self.index) {
            if end > pos {
                return Some(end);
            }
            self.index += 1;
        }
        None
    }
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

/// Decodes every stretch of the buffer that mail-parser could decode as a
/// base64 body, from every line start, at every alignment that can differ.
///
/// A body that mail-parser decodes consists only of base64 characters,
/// whitespace, `=` and single dashes, contains no `--` (that ends it) and
/// starts at a line start. Decoders started at two line starts produce the
/// same bytes from the first point where both are at a group boundary, so a
/// new decoder is only needed when no running one is at a group boundary.
fn base64_candidates(buf: &[u8], budget: &mut Budget) -> Result<Vec<Vec<u8>>, Exceeded> {
    let mut outputs = Vec::new();
    let mut threads: Vec<Decoder> = Vec::new();
    let mut line_start = true;
    let mut prev = 0u8;

    for &c in buf {
        let ends_region = !in_base64_region(c) || (c == b'-' && prev == b'-');
        if ends_region {
            finish(&mut threads, &mut outputs);
        } else {
            if line_start && !threads.iter().any(|t| t.count == 0) {
                if threads.len() >= MAX_THREADS_PER_REGION {
                    return Err(Exceeded::Work);
                }
                threads.push(Decoder::new());
            }
            budget.charge_work(threads.len() as u64)?;
            for t in &mut threads {
                t.push(c);
            }
        }
        line_start = c == b'\n';
        prev = c;
    }
    finish(&mut threads, &mut outputs);
    Ok(outputs)
}

fn finish(threads: &mut Vec<Decoder>, outputs: &mut Vec<Vec<u8>>) {
    for t in threads.drain(..) {
        // Shorter than "a:\n\n--x" cannot hold anything that costs.
        if t.out.len() >= 8 {
            outputs.push(t.out);
        }
    }
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
}
