//! From mail-parser's part list to embargo's view of a message.

use mail_parser::decoders::html::html_to_text;
use mail_parser::{HeaderName, Message, MessageParser, MessagePart, MimeHeaders, PartType};

use crate::armor::{classify, find_inline, sanitize_filename};
use crate::headers;
use crate::prescan;
use crate::{Attachment, AutoReason, Body, Dsn, Flag, Inbound, Limits, MailError, push_flag};

/// The header section read when the body is not parsed: at most this many
/// bytes, and at most `FALLBACK_MAX_COLONS` header candidates.
const FALLBACK_MAX_HEADER_BYTES: usize = 256 * 1024;
const FALLBACK_MAX_COLONS: usize = 4096;

/// Owns a parsed message and takes it apart iteratively when dropped.
///
/// mail-parser nests message/rfc822 parts as values inside values, and the
/// compiler-generated drop recurses once per level: 50 000 nested forwards
/// (2 MB of input) overflow the stack. Taking the nested messages out first
/// keeps the drop flat.
pub(crate) struct Parsed<'x>(Option<Message<'x>>);

impl<'x> Parsed<'x> {
    pub(crate) fn new(message: Option<Message<'x>>) -> Self {
        Parsed(message)
    }

    pub(crate) fn get(&self) -> Option<&Message<'x>> {
        self.0.as_ref()
    }

    /// mail-parser's full parse of `raw`, or [`ParserPanicked`] when it
    /// panicked.
    ///
    /// mail-parser 0.11.9 has `debug_assert!(false, ...)`s in its MIME state
    /// machine that well-formed mail reaches: a message/rfc822 whose own
    /// body is message/rfc822, inside a multipart, is enough (177 bytes;
    /// `fuzz/README.md`, F1). They fire wherever debug assertions are on
    /// (tests, dev builds of `embargo serve` and `ingest`), while a release
    /// build parses the same bytes. The panic is caught here and the caller
    /// falls back to a headers-only parse that keeps the body as text
    /// ([`Flag::ParserFault`]): the message is still filed, with its
    /// content, and the raw bytes are kept as always. The default panic hook
    /// still prints mail-parser's message (no content) to stderr.
    pub(crate) fn parse_full(raw: &'x [u8]) -> Result<Self, ParserPanicked> {
        std::panic::catch_unwind(|| MessageParser::new().parse(raw))
            .map(Parsed::new)
            .map_err(|_| ParserPanicked)
    }
}

/// mail-parser panicked (see [`Parsed::parse_full`]).
#[derive(Debug)]
pub(crate) struct ParserPanicked;

impl Drop for Parsed<'_> {
    fn drop(&mut self) {
        let Some(message) = self.0.take() else {
            return;
        };
        let mut stack = vec![message];
        while let Some(mut message) = stack.pop() {
            for part in &mut message.parts {
                if matches!(part.body, PartType::Message(_))
                    && let PartType::Message(nested) = std::mem::take(&mut part.body)
                {
                    stack.push(nested);
                }
            }
        }
    }
}

/// How deeply message/rfc822 parts nest inside each other, iteratively.
fn nested_message_depth(message: &Message<'_>) -> usize {
    let mut max = 0;
    let mut stack = vec![(message, 0usize)];
    while let Some((message, depth)) = stack.pop() {
        max = max.max(depth);
        for part in &message.parts {
            if let PartType::Message(nested) = &part.body {
                stack.push((nested, depth.saturating_add(1)));
            }
        }
    }
    max
}

/// Lowercase type and subtype of a part; text/plain when absent.
pub(crate) fn mime_type(part: &MessagePart<'_>) -> (String, String) {
    match part.content_type() {
        Some(ct) => (
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or_default().to_ascii_lowercase(),
        ),
        None => match part.body {
            PartType::Message(_) => ("message".into(), "rfc822".into()),
            PartType::Binary(_) | PartType::InlineBinary(_) => {
                ("application".into(), "octet-stream".into())
            }
            _ => ("text".into(), "plain".into()),
        },
    }
}

pub(crate) fn ct_attribute<'a>(part: &'a MessagePart<'_>, name: &str) -> Option<&'a str> {
    part.content_type().and_then(|ct| ct.attribute(name))
}

fn attribute_is(part: &MessagePart<'_>, name: &str, value: &str) -> bool {
    ct_attribute(part, name).is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
}

/// The decoded bytes of a part. (mail-parser's `contents()` indexes the first
/// part of a nested message; never call it on one without parts.)
pub(crate) fn part_bytes<'a>(part: &'a MessagePart<'_>) -> &'a [u8] {
    match &part.body {
        PartType::Message(nested) if nested.parts.is_empty() => &[],
        _ => part.contents(),
    }
}

/// Text of a part for display, HTML converted.
fn part_text(part: &MessagePart<'_>) -> Option<String> {
    match &part.body {
        PartType::Text(text) => Some(text.to_string()),
        PartType::Html(html) => Some(html_to_text(html)),
        _ => None,
    }
}

/// LF line endings to CRLF, leaving existing CRLF alone (RFC 3156 §5).
fn canonical_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len().saturating_add(bytes.len() / 32));
    let mut prev = 0u8;
    for &c in bytes {
        if c == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(c);
        prev = c;
    }
    out
}

/// One message's part tree with embargo's limits applied.
pub(crate) struct Walk<'a, 'x> {
    pub(crate) msg: &'a Message<'x>,
    raw: &'a [u8],
    /// Parts within the depth and count limits, by part id.
    allowed: Vec<bool>,
    /// Parts explained by the structure (PGP/MIME control parts, signatures,
    /// legacy display parts) that are neither text nor attachments.
    consumed: Vec<bool>,
    /// Parts that are the first child of a multipart/mixed.
    first_of_mixed: Vec<bool>,
    pub(crate) flags: Vec<Flag>,
}

impl<'a, 'x> Walk<'a, 'x> {
    pub(crate) fn new(msg: &'a Message<'x>, limits: &Limits) -> Self {
        let count = msg.parts.len();
        let mut walk = Walk {
            msg,
            raw: msg.raw_message.as_ref(),
            allowed: vec![false; count],
            consumed: vec![false; count],
            first_of_mixed: vec![false; count],
            flags: Vec::new(),
        };
        walk.mark_allowed(limits);
        walk
    }

    fn mark_allowed(&mut self, limits: &Limits) {
        let mut visited = 0usize;
        let mut stack = vec![(0usize, 0usize)];
        while let Some((id, depth)) = stack.pop() {
            if depth > limits.max_depth {
                push_flag(&mut self.flags, Flag::TooDeep);
                continue;
            }
            if visited >= limits.max_parts {
                push_flag(&mut self.flags, Flag::TooManyParts);
                break;
            }
            let Some(slot) = self.allowed.get_mut(id) else {
                continue;
            };
            if *slot {
                continue;
            }
            *slot = true;
            visited += 1;
            if let Some(PartType::Multipart(children)) = self.msg.parts.get(id).map(|p| &p.body) {
                // Children always come after their parent; anything else
                // would be a cycle.
                for &child in children.iter().rev() {
                    let child = child as usize;
                    if child > id {
                        stack.push((child, depth + 1));
                    }
                }
            }
        }
        if self.msg.parts.len() > limits.max_parts {
            push_flag(&mut self.flags, Flag::TooManyParts);
        }
        if nested_message_depth(self.msg) > limits.max_depth {
            push_flag(&mut self.flags, Flag::TooDeep);
        }
        for (id, part) in self.msg.parts.iter().enumerate() {
            if !self.is_allowed(id) {
                continue;
            }
            if part.is_encoding_problem {
                push_flag(&mut self.flags, Flag::EncodingProblem);
            }
            let (ty, sub) = mime_type(part);
            if ty == "multipart"
                && sub == "mixed"
                && let PartType::Multipart(children) = &part.body
                && let Some(&first) = children.first()
                && let Some(slot) = self.first_of_mixed.get_mut(first as usize)
            {
                *slot = true;
            }
            if ty == "application"
                && matches!(
                    sub.as_str(),
                    "pkcs7-mime" | "x-pkcs7-mime" | "pkcs7-signature" | "x-pkcs7-signature"
                )
            {
                push_flag(&mut self.flags, Flag::Smime);
            }
        }
    }

    pub(crate) fn is_allowed(&self, id: usize) -> bool {
        self.allowed.get(id).copied().unwrap_or(false)
    }

    fn is_consumed(&self, id: usize) -> bool {
        self.consumed.get(id).copied().unwrap_or(true)
    }

    fn consume(&mut self, id: usize) {
        if let Some(slot) = self.consumed.get_mut(id) {
            *slot = true;
        }
    }

    pub(crate) fn part(&self, id: usize) -> Option<&'a MessagePart<'x>> {
        self.msg.parts.get(id)
    }

    /// Allowed direct children of a multipart.
    pub(crate) fn children(&self, id: usize) -> Vec<usize> {
        match self.part(id).map(|p| &p.body) {
            Some(PartType::Multipart(children)) => children
                .iter()
                .map(|&c| c as usize)
                .filter(|&c| c > id && self.is_allowed(c))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `id` and every allowed part below it, in document order.
    fn subtree(&self, id: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            if !self.is_allowed(id) {
                continue;
            }
            out.push(id);
            let mut children = self.children(id);
            children.reverse();
            stack.extend(children);
        }
        out
    }

    fn is_type(&self, id: usize, ty: &str, sub: &str) -> bool {
        self.part(id).is_some_and(|p| {
            let (t, s) = mime_type(p);
            t == ty && s == sub
        })
    }

    fn contents(&self, id: usize) -> Vec<u8> {
        self.part(id)
            .map(|p| part_bytes(p).to_vec())
            .unwrap_or_default()
    }

    /// The analysis of the entity rooted at part `id`.
    pub(crate) fn body_of(&mut self, id: usize) -> Body {
        let Some(part) = self.part(id) else {
            return Body::empty();
        };
        let (ty, sub) = mime_type(part);
        if ty == "multipart" {
            let children = self.children(id);
            match sub.as_str() {
                "encrypted" if attribute_is(part, "protocol", "application/pgp-encrypted") => {
                    if let Some(body) = self.pgp_mime(&children) {
                        return body;
                    }
                    push_flag(&mut self.flags, Flag::MalformedPgpMime);
                }
                "signed" if attribute_is(part, "protocol", "application/pgp-signature") => {
                    if let Some(body) = self.signed(&children) {
                        return body;
                    }
                    push_flag(&mut self.flags, Flag::MalformedPgpMime);
                }
                "mixed" => {
                    if let Some(body) = self.mangled_pgp_mime(&children) {
                        push_flag(&mut self.flags, Flag::RepairedPgpMime);
                        return body;
                    }
                }
                _ => {}
            }
        }
        self.plain(id)
    }

    /// RFC 3156 §4: a version part, then the application/octet-stream part
    /// holding the OpenPGP message.
    fn pgp_mime(&mut self, children: &[usize]) -> Option<Body> {
        let payload = children
            .iter()
            .copied()
            .find(|&c| self.is_type(c, "application", "octet-stream"))
            .or_else(|| match children {
                [control, payload] if self.is_type(*control, "application", "pgp-encrypted") => {
                    Some(*payload)
                }
                _ => None,
            })?;
        for &c in children {
            if c == payload || self.is_type(c, "application", "pgp-encrypted") {
                self.consume(c);
            }
        }
        Some(Body::PgpMime {
            encrypted: self.contents(payload),
        })
    }

    /// RFC 3156 §5: the signed part first, the signature second.
    fn signed(&mut self, children: &[usize]) -> Option<Body> {
        let (&first, rest) = children.split_first()?;
        let signature = rest
            .iter()
            .copied()
            .find(|&c| self.is_type(c, "application", "pgp-signature"))?;
        let part = self.part(first)?;
        let signed = self
            .raw
            .get(part.offset_header as usize..part.offset_end as usize)?;
        self.consume(signature);
        let signed_part_raw = canonical_crlf(signed);
        let signature = self.contents(signature);
        let inner = self.body_of(first);
        Some(Body::Signed {
            signed_part_raw,
            signature,
            inner: Box::new(inner),
        })
    }

    /// PGP/MIME that a relay turned into multipart/mixed: Google Workspace
    /// wraps it with an empty text part, Proton/Exchange flatten it into
    /// mixed[text?, application/pgp-encrypted, application/octet-stream].
    /// Only recognised when every other part is empty filler, so no cleartext
    /// the sender wrote is hidden.
    fn mangled_pgp_mime(&mut self, children: &[usize]) -> Option<Body> {
        let mut crypto = Vec::new();
        for &c in children {
            if self.is_filler(c) {
                continue;
            }
            crypto.push(c);
        }
        let body = match crypto.as_slice() {
            [single] => {
                let part = self.part(*single)?;
                let (ty, sub) = mime_type(part);
                let is_pgp = ty == "multipart"
                    && ((sub == "encrypted"
                        && attribute_is(part, "protocol", "application/pgp-encrypted"))
                        || (sub == "signed"
                            && attribute_is(part, "protocol", "application/pgp-signature")));
                if !is_pgp {
                    return None;
                }
                self.body_of(*single)
            }
            [control, payload]
                if self.is_type(*control, "application", "pgp-encrypted")
                    && self.is_type(*payload, "application", "octet-stream")
                    && looks_like_version_part(&self.contents(*control)) =>
            {
                self.consume(*control);
                self.consume(*payload);
                Body::PgpMime {
                    encrypted: self.contents(*payload),
                }
            }
            _ => return None,
        };
        for &c in children {
            if self.is_filler(c) {
                self.consume(c);
            }
        }
        Some(body)
    }

    /// A text part with nothing in it but blank lines, a signature
    /// separator, or Proton's "Empty Message".
    fn is_filler(&self, id: usize) -> bool {
        let Some(PartType::Text(text)) = self.part(id).map(|p| &p.body) else {
            return false;
        };
        text.lines().all(|line| {
            let line = line.trim();
            line.is_empty() || line == "--" || line.eq_ignore_ascii_case("empty message")
        })
    }

    /// RFC 9788 legacy display part / memory-hole headers part: the first
    /// child of a multipart/mixed, marked protected-headers="v1" or
    /// hp-legacy-display="1", holding nothing but header lines.
    pub(crate) fn is_legacy_display(&self, id: usize) -> bool {
        let Some(part) = self.part(id) else {
            return false;
        };
        let (ty, sub) = mime_type(part);
        if ty != "text" || !matches!(sub.as_str(), "plain" | "rfc822-headers") {
            return false;
        }
        if !(attribute_is(part, "protected-headers", "v1")
            || attribute_is(part, "hp-legacy-display", "1"))
        {
            return false;
        }
        let is_first_of_mixed = self.first_of_mixed.get(id).copied().unwrap_or(false);
        let (PartType::Text(text) | PartType::Html(text)) = &part.body else {
            return false;
        };
        is_first_of_mixed
            && text.lines().all(|line| {
                let line = line.trim_end();
                line.is_empty()
                    || line.starts_with([' ', '\t'])
                    || line
                        .split_once(':')
                        .is_some_and(|(name, _)| is_header_name(name))
            })
    }

    fn plain(&mut self, id: usize) -> Body {
        let in_subtree = {
            let mut v = vec![false; self.msg.parts.len()];
            for p in self.subtree(id) {
                if let Some(slot) = v.get_mut(p) {
                    *slot = true;
                }
            }
            v
        };
        let wanted = |walk: &Walk<'_, '_>, p: u32| {
            let p = p as usize;
            in_subtree.get(p).copied().unwrap_or(false)
                && !walk.is_consumed(p)
                && !walk.is_legacy_display(p)
        };
        let mut text = String::new();
        for &p in &self.msg.text_body {
            if !wanted(self, p) {
                continue;
            }
            if let Some(t) = self.part(p as usize).and_then(part_text) {
                append_paragraph(&mut text, &t);
            }
        }
        let mut html_text: Option<String> = None;
        for &p in &self.msg.html_body {
            if !wanted(self, p) {
                continue;
            }
            if let Some(PartType::Html(html)) = self.part(p as usize).map(|p| &p.body) {
                append_paragraph(
                    html_text.get_or_insert_with(String::new),
                    &html_to_text(html),
                );
            }
        }
        if text.trim().is_empty()
            && let Some(html) = &html_text
        {
            text = html.clone();
        }
        let inline_pgp = find_inline(&text, &mut self.flags);
        Body::Plain {
            text,
            html_as_text: html_text,
            inline_pgp,
        }
    }

    /// Every allowed part that is neither body text nor structure.
    pub(crate) fn attachments(&self) -> Vec<Attachment> {
        let mut out = Vec::new();
        for &p in &self.msg.attachments {
            let id = p as usize;
            if !self.is_allowed(id) || self.is_consumed(id) || self.is_legacy_display(id) {
                continue;
            }
            let Some(part) = self.part(id) else { continue };
            let (ty, sub) = mime_type(part);
            if ty == "application"
                && sub == "pgp-encrypted"
                && looks_like_version_part(part_bytes(part))
            {
                continue; // a stray PGP/MIME version part
            }
            let filename = part.attachment_name().and_then(sanitize_filename);
            let content_type = format!("{ty}/{sub}");
            let bytes = part_bytes(part).to_vec();
            let kind = classify(filename.as_deref(), &content_type, &bytes);
            out.push(Attachment {
                filename,
                content_type,
                bytes,
                kind,
            });
        }
        out
    }

    /// Envelope ID and original Message-ID of a delivery status report.
    fn dsn(&self) -> Option<Dsn> {
        let mut dsn = Dsn::default();
        for (id, part) in self.msg.parts.iter().enumerate() {
            if !self.is_allowed(id) {
                continue;
            }
            let (ty, sub) = mime_type(part);
            match (ty.as_str(), sub.as_str()) {
                ("message", "delivery-status" | "global-delivery-status")
                    if dsn.original_envelope_id.is_none() =>
                {
                    let text = String::from_utf8_lossy(part_bytes(part));
                    let per_message = text.split("\n\n").next().unwrap_or_default();
                    let per_message = per_message.split("\r\n\r\n").next().unwrap_or_default();
                    dsn.original_envelope_id =
                        headers::field_in_text(per_message, "original-envelope-id")
                            .filter(|v| !v.is_empty() && !v.chars().any(char::is_control));
                }
                ("message", "rfc822" | "global") if dsn.original_message_id.is_none() => {
                    if let PartType::Message(nested) = &part.body {
                        dsn.original_message_id = nested
                            .parts
                            .first()
                            .map(|root| {
                                headers::ids(headers::first_value(
                                    &root.headers,
                                    &HeaderName::MessageId,
                                ))
                            })
                            .and_then(|ids| ids.into_iter().next());
                    }
                }
                ("text", "rfc822-headers") | ("message", "rfc822-headers" | "global-headers")
                    if dsn.original_message_id.is_none() =>
                {
                    let text = String::from_utf8_lossy(part_bytes(part));
                    dsn.original_message_id = headers::field_in_text(&text, "message-id")
                        .and_then(|v| headers::normalize_id(&v));
                }
                _ => {}
            }
        }
        (dsn != Dsn::default()).then_some(dsn)
    }
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 76
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

fn looks_like_version_part(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    text.is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim().eq_ignore_ascii_case("version: 1"))
}

fn append_paragraph(out: &mut String, text: &str) {
    if text.is_empty() {
        return;
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(text);
}

pub(crate) fn parse_outer(raw: &[u8], limits: &Limits) -> Result<Inbound, MailError> {
    if let Err(reason) = prescan::check(raw) {
        tracing::warn!(
            size = raw.len(),
            reason = ?reason,
            "MIME structure too costly to parse; reading top-level headers only"
        );
        return fallback(raw, Flag::HostileStructure);
    }
    let Ok(parsed) = Parsed::parse_full(raw) else {
        tracing::warn!(
            size = raw.len(),
            "mail parser failed on this MIME structure; reading top-level headers only"
        );
        return fallback(raw, Flag::ParserFault);
    };
    let msg = parsed.get().ok_or(MailError::NotEmail)?;
    let root = msg.parts.first().ok_or(MailError::NotEmail)?;
    if !headers::has_standard_header(&root.headers) {
        return Err(MailError::NotEmail);
    }
    let mut walk = Walk::new(msg, limits);
    let body = walk.body_of(0);
    let attachments = walk.attachments();
    let dsn = walk.dsn();
    let is_report = walk.is_type(0, "multipart", "report");
    let report_type = ct_attribute(root, "report-type").map(str::to_ascii_lowercase);
    let mut flags = std::mem::take(&mut walk.flags);

    let mut inbound = header_facts(&root.headers, raw, &mut flags);
    inbound.body = body;
    inbound.attachments = attachments;
    if is_report && report_type.as_deref() == Some("delivery-status") {
        inbound.is_bounce = true;
    }
    if is_report
        && report_type.as_deref() == Some("disposition-notification")
        && !inbound.is_auto_reply
    {
        inbound.is_auto_reply = true;
        inbound.auto_reason = Some(AutoReason::Mdn);
    }
    if inbound.is_bounce {
        inbound.dsn = dsn;
    }
    inbound.flags = flags;
    tracing::debug!(
        size = raw.len(),
        parts = msg.parts.len(),
        attachments = inbound.attachments.len(),
        flags = inbound.flags.len(),
        "parsed inbound message"
    );
    Ok(inbound)
}

/// Everything the top-level headers say. The body fields are left empty.
fn header_facts(root: &[mail_parser::Header<'_>], raw: &[u8], flags: &mut Vec<Flag>) -> Inbound {
    let from_headers = root.iter().filter(|h| h.name == HeaderName::From).count();
    if from_headers > 1 {
        push_flag(flags, Flag::MultipleFrom);
    }
    let from = headers::addresses(headers::first_value(root, &HeaderName::From))
        .into_iter()
        .next();
    let (from, from_name) = match from {
        Some((addr, name)) => (Some(addr), name),
        None => (None, None),
    };
    let reply_to = headers::addresses(headers::first_value(root, &HeaderName::ReplyTo))
        .into_iter()
        .next()
        .map(|(a, _)| a);
    let to = headers::addresses(headers::first_value(root, &HeaderName::To))
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    let cc = headers::addresses(headers::first_value(root, &HeaderName::Cc))
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    let subject = headers::first_value(root, &HeaderName::Subject).and_then(headers::value_text);
    let auto_reason = headers::auto_reason(root);
    let is_bounce =
        headers::is_mailer_daemon(from.as_deref()) || headers::null_return_path(root, raw);
    let autocrypt = headers::autocrypt(root, from.as_deref());
    Inbound {
        size: raw.len(),
        message_id: headers::ids(headers::first_value(root, &HeaderName::MessageId))
            .into_iter()
            .next(),
        in_reply_to: headers::ids(headers::first_value(root, &HeaderName::InReplyTo)),
        references: headers::ids(headers::first_value(root, &HeaderName::References)),
        from,
        from_name,
        reply_to,
        to,
        cc,
        subject,
        date: headers::date(headers::first_value(root, &HeaderName::Date)),
        is_auto_reply: auto_reason.is_some(),
        auto_reason,
        is_bounce,
        dsn: None,
        autocrypt,
        body: Body::empty(),
        attachments: Vec::new(),
        flags: Vec::new(),
    }
}

/// Headers only, for input whose body mail-parser must not see. The header
/// section handed to mail-parser is bounded in size; the body is the raw
/// text after it.
/// Headers-only parse, the body kept as text; `why` is the flag that says
/// why the full parse was not used.
fn fallback(raw: &[u8], why: Flag) -> Result<Inbound, MailError> {
    let mut flags = vec![why];
    let (header_end, body_start, truncated) = header_section_bounds(raw);
    if truncated {
        push_flag(&mut flags, Flag::HeadersTruncated);
    }
    let head = raw.get(..header_end).unwrap_or_default();
    let parsed = Parsed::new(MessageParser::new().parse_headers(head));
    let msg = parsed.get().ok_or(MailError::NotEmail)?;
    let root = msg.parts.first().ok_or(MailError::NotEmail)?;
    if !headers::has_standard_header(&root.headers) {
        return Err(MailError::NotEmail);
    }
    let mut inbound = header_facts(&root.headers, head, &mut flags);
    let text = String::from_utf8_lossy(raw.get(body_start..).unwrap_or_default()).into_owned();
    let inline_pgp = find_inline(&text, &mut flags);
    inbound.size = raw.len();
    inbound.body = Body::Plain {
        text,
        html_as_text: None,
        inline_pgp,
    };
    inbound.flags = flags;
    Ok(inbound)
}

/// (end of the header section to parse, start of the body, truncated?)
fn header_section_bounds(raw: &[u8]) -> (usize, usize, bool) {
    let limit = raw.len().min(FALLBACK_MAX_HEADER_BYTES);
    let window = raw.get(..limit).unwrap_or_default();
    let mut colons = 0usize;
    let mut line_start = 0usize;
    for nl in memchr::memchr_iter(b'\n', window) {
        let line = window.get(line_start..nl).unwrap_or_default();
        let line_end = nl + 1;
        if line.iter().all(|&c| c == b'\r' || c == b' ' || c == b'\t') {
            return (line_end, line_end, false);
        }
        colons += line.iter().filter(|&&c| c == b':').count();
        if colons > FALLBACK_MAX_COLONS {
            return (line_start, line_start, true);
        }
        line_start = line_end;
    }
    if limit == raw.len() {
        (raw.len(), raw.len(), false)
    } else {
        (line_start, line_start, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_canonicalization() {
        assert_eq!(canonical_crlf(b"a\nb\r\nc\r"), b"a\r\nb\r\nc\r");
    }

    #[test]
    fn header_bounds() {
        assert_eq!(
            header_section_bounds(b"A: b\nC: d\n\nbody"),
            (11, 11, false)
        );
        assert_eq!(header_section_bounds(b"A: b\r\n\r\nbody"), (8, 8, false));
        assert_eq!(header_section_bounds(b"A: b"), (4, 4, false));
    }
}
