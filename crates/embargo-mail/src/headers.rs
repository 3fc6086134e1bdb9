//! Header-level facts: addresses, threading IDs, dates, auto-reply and bounce
//! detection, Autocrypt.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use mail_parser::{Address, Header, HeaderName, HeaderValue};

use crate::{AutoReason, Autocrypt};

/// Longest line we look at when deciding whether input starts with headers.
const MAX_HEADER_NAME: usize = 200;
/// References beyond this many are dropped.
const MAX_IDS: usize = 500;
/// Longer message IDs are not real ones.
const MAX_ID_LEN: usize = 998;

/// True when the input starts like an RFC 5322 header section: optionally an
/// mbox `From ` line, then a `Name:` line.
pub(crate) fn looks_like_header_section(raw: &[u8]) -> bool {
    let mut rest = raw;
    if rest.starts_with(b"From ") {
        match memchr::memchr(b'\n', rest) {
            Some(nl) => rest = rest.get(nl + 1..).unwrap_or_default(),
            None => return false,
        }
    }
    let line = match memchr::memchr(b'\n', rest) {
        Some(nl) => rest.get(..nl).unwrap_or_default(),
        None => rest,
    };
    let Some(colon) = line
        .iter()
        .take(MAX_HEADER_NAME + 2)
        .position(|&c| c == b':')
    else {
        return false;
    };
    let name = line.get(..colon).unwrap_or_default();
    let name = trim_end_ws(name);
    !name.is_empty()
        && name.len() <= MAX_HEADER_NAME
        && name
            .iter()
            .all(|&c| (0x21..=0x7e).contains(&c) && c != b':')
}

fn trim_end_ws(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// True when at least one header is one every mail system writes.
pub(crate) fn has_standard_header(headers: &[Header<'_>]) -> bool {
    headers.iter().any(|h| {
        matches!(
            h.name,
            HeaderName::From
                | HeaderName::Sender
                | HeaderName::To
                | HeaderName::Cc
                | HeaderName::Bcc
                | HeaderName::Subject
                | HeaderName::Date
                | HeaderName::MessageId
                | HeaderName::InReplyTo
                | HeaderName::References
                | HeaderName::Received
                | HeaderName::ReturnPath
                | HeaderName::ReplyTo
                | HeaderName::MimeVersion
                | HeaderName::ContentType
                | HeaderName::ContentTransferEncoding
                | HeaderName::DeliveredTo
                | HeaderName::DkimSignature
                | HeaderName::ArcSeal
                | HeaderName::AuthenticationResults
                | HeaderName::ResentFrom
                | HeaderName::ResentDate
        )
    })
}

pub(crate) fn first_value<'a, 'x>(
    headers: &'a [Header<'x>],
    name: &HeaderName<'_>,
) -> Option<&'a HeaderValue<'x>> {
    headers.iter().find(|h| &h.name == name).map(|h| &h.value)
}

fn values_named<'a, 'x>(
    headers: &'a [Header<'x>],
    name: &'a str,
) -> impl Iterator<Item = &'a HeaderValue<'x>> + 'a {
    headers
        .iter()
        .filter(move |h| h.name.as_str().eq_ignore_ascii_case(name))
        .map(|h| &h.value)
}

/// A header value as one string, whatever mail-parser made of it.
pub(crate) fn value_text(value: &HeaderValue<'_>) -> Option<String> {
    match value {
        HeaderValue::Text(t) => Some(t.to_string()),
        HeaderValue::TextList(list) => Some(
            list.iter()
                .map(|t| t.as_ref())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        HeaderValue::Address(addr) => Some(
            addr.iter()
                .filter_map(|a| a.address.as_deref())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        HeaderValue::ContentType(ct) => Some(match ct.subtype() {
            Some(sub) => format!("{}/{sub}", ct.ctype()),
            None => ct.ctype().to_string(),
        }),
        _ => None,
    }
}

/// Message IDs from an ID header, without angle brackets.
pub(crate) fn ids(value: Option<&HeaderValue<'_>>) -> Vec<String> {
    let raw: Vec<&str> = match value {
        Some(HeaderValue::Text(t)) => vec![t.as_ref()],
        Some(HeaderValue::TextList(list)) => list.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    raw.into_iter()
        .filter_map(normalize_id)
        .take(MAX_IDS)
        .collect()
}

pub(crate) fn normalize_id(id: &str) -> Option<String> {
    let id = id.trim();
    let id = id.strip_prefix('<').unwrap_or(id);
    let id = id.strip_suffix('>').unwrap_or(id).trim();
    if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
        return None;
    }
    Some(id.to_string())
}

/// An address with its domain lowercased; None when empty or unusable.
pub(crate) fn normalize_address(address: &str) -> Option<String> {
    let a = address.trim();
    let a = a.strip_prefix('<').unwrap_or(a);
    let a = a.strip_suffix('>').unwrap_or(a).trim();
    if a.is_empty() || a.len() > MAX_ID_LEN || a.chars().any(char::is_control) {
        return None;
    }
    Some(match a.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
            format!("{local}@{}", domain.to_lowercase())
        }
        _ => a.to_string(),
    })
}

/// (address, display name) pairs of an address header.
pub(crate) fn addresses(value: Option<&HeaderValue<'_>>) -> Vec<(String, Option<String>)> {
    let Some(HeaderValue::Address(addr)) = value else {
        return Vec::new();
    };
    address_pairs(addr)
}

fn address_pairs(addr: &Address<'_>) -> Vec<(String, Option<String>)> {
    addr.iter()
        .filter_map(|a| {
            let address = normalize_address(a.address.as_deref()?)?;
            let name = a
                .name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string);
            Some((address, name))
        })
        .take(MAX_IDS)
        .collect()
}

pub(crate) fn date(value: Option<&HeaderValue<'_>>) -> Option<i64> {
    match value {
        Some(HeaderValue::DateTime(dt)) if dt.is_valid() => Some(dt.to_timestamp()),
        _ => None,
    }
}

const AUTOREPLY_HEADERS: &[&str] = &[
    "x-autoreply",
    "x-autorespond",
    "x-autoresponse",
    "x-autogenerated",
    "x-autoreply-from",
    "x-mail-autoreply",
    "x-autoresponder",
];

/// Why the message must not get an automatic answer, if it must not.
pub(crate) fn auto_reason(headers: &[Header<'_>]) -> Option<AutoReason> {
    let mut list = false;
    for h in headers {
        let value = value_text(&h.value).unwrap_or_default();
        let first_token = value.split(';').next().unwrap_or_default().trim();
        let is = |candidates: &[&str]| {
            candidates
                .iter()
                .any(|c| first_token.eq_ignore_ascii_case(c))
        };
        let name = h.name.as_str();
        let reason = match &h.name {
            HeaderName::AutoSubmitted | HeaderName::Autosubmitted => {
                (!is(&["no"])).then_some(AutoReason::AutoSubmitted)
            }
            HeaderName::ListId
            | HeaderName::ListUnsubscribe
            | HeaderName::ListPost
            | HeaderName::ListHelp
            | HeaderName::ListSubscribe
            | HeaderName::ListOwner
            | HeaderName::ListArchive => {
                list = true;
                None
            }
            _ if name.eq_ignore_ascii_case("precedence") => {
                is(&["bulk", "junk", "list", "auto_reply"]).then_some(AutoReason::Precedence)
            }
            _ if AUTOREPLY_HEADERS
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n)) =>
            {
                (!is(&["no", "false", "0"])).then_some(AutoReason::AutoreplyHeader)
            }
            _ => None,
        };
        if reason.is_some() {
            return reason;
        }
    }
    list.then_some(AutoReason::MailingList)
}

/// True when the Return-Path header is the null path `<>`.
pub(crate) fn null_return_path(headers: &[Header<'_>], raw: &[u8]) -> bool {
    headers
        .iter()
        .filter(|h| h.name == HeaderName::ReturnPath)
        .any(|h| {
            let value = raw
                .get(h.offset_start as usize..h.offset_end as usize)
                .unwrap_or_default();
            let compact: Vec<u8> = value
                .iter()
                .copied()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            compact == b"<>"
        })
}

pub(crate) fn is_mailer_daemon(from: Option<&str>) -> bool {
    let Some(from) = from else { return false };
    let local = from.rsplit_once('@').map_or(from, |(local, _)| local);
    local.eq_ignore_ascii_case("mailer-daemon")
}

/// The Autocrypt header (Autocrypt Level 1, section 2.1), when there is
/// exactly one, it is well-formed and its addr is the From address.
pub(crate) fn autocrypt(headers: &[Header<'_>], from: Option<&str>) -> Option<Autocrypt> {
    let mut values = values_named(headers, "autocrypt");
    let value = value_text(values.next()?)?;
    if values.next().is_some() {
        return None;
    }
    let mut addr = None;
    let mut keydata = None;
    let mut prefer_encrypt_mutual = false;
    for attr in value.split(';') {
        let attr = attr.trim();
        if attr.is_empty() {
            continue;
        }
        let (name, val) = attr.split_once('=')?;
        let name = name.trim();
        let val = val.trim();
        match name {
            "addr" => addr = Some(normalize_address(val)?),
            "keydata" => {
                let compact: String = val.chars().filter(|c| !c.is_whitespace()).collect();
                let engine = GeneralPurpose::new(
                    &base64::alphabet::STANDARD,
                    GeneralPurposeConfig::new()
                        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
                );
                keydata = Some(engine.decode(compact.as_bytes()).ok()?);
            }
            "prefer-encrypt" => prefer_encrypt_mutual = val == "mutual",
            // Non-critical attributes start with an underscore.
            _ if name.starts_with('_') => {}
            _ => return None,
        }
    }
    let addr = addr?;
    let keydata = keydata.filter(|k| !k.is_empty())?;
    if !from.is_some_and(|f| f.eq_ignore_ascii_case(&addr)) {
        return None;
    }
    Some(Autocrypt {
        addr,
        prefer_encrypt_mutual,
        keydata,
    })
}

/// The value of `Name:` in a block of header lines (unfolded), the first
/// occurrence; used for DSN fields and rfc822-headers parts.
pub(crate) fn field_in_text(text: &str, name: &str) -> Option<String> {
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((n, v)) = line.split_once(':') else {
            continue;
        };
        if !n.trim().eq_ignore_ascii_case(name) {
            continue;
        }
        let mut value = v.trim().to_string();
        while let Some(next) = lines.peek() {
            if next.starts_with([' ', '\t']) {
                value.push(' ');
                value.push_str(next.trim());
                lines.next();
            } else {
                break;
            }
        }
        return Some(value.trim().to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_section_detection() {
        assert!(looks_like_header_section(b"From: a@b\n\nx"));
        assert!(looks_like_header_section(
            b"From a@b Mon Jan 1\nSubject: x\n"
        ));
        assert!(looks_like_header_section(b"X-Foo : bar"));
        assert!(!looks_like_header_section(b""));
        assert!(!looks_like_header_section(b"\nSubject: x"));
        assert!(!looks_like_header_section(b"hello world"));
        assert!(!looks_like_header_section(b"\x00\xff:\x12"));
        assert!(!looks_like_header_section(b"a b: c"));
    }

    #[test]
    fn addresses_are_normalized() {
        assert_eq!(
            normalize_address(" <Alice@Example.ORG> ").as_deref(),
            Some("Alice@example.org")
        );
        assert_eq!(
            normalize_address("MAILER-DAEMON").as_deref(),
            Some("MAILER-DAEMON")
        );
        assert_eq!(normalize_address("<>"), None);
        assert_eq!(normalize_id("<a@b>").as_deref(), Some("a@b"));
    }

    #[test]
    fn fields_in_text() {
        let text = "Reporting-MTA: dns; x\r\nOriginal-Envelope-Id:\r\n  abc123\r\n\r\n";
        assert_eq!(
            field_in_text(text, "original-envelope-id").as_deref(),
            Some("abc123")
        );
    }
}
