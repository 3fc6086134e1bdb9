//! The decrypted MIME entity of a PGP/MIME message, and its protected
//! headers.

use mail_parser::{Header, HeaderName, MessageParser, PartType};

use crate::analyze::{Parsed, Walk, ct_attribute, mime_type};
use crate::armor::find_inline;
use crate::headers;
use crate::prescan;
use crate::{Attachment, AttachmentKind, Body, Flag, Limits, push_flag};

/// What a decrypted PGP/MIME payload contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inner {
    /// Usually [`Body::Plain`]; [`Body::Signed`] for signed-then-encrypted
    /// mail, [`Body::PgpMime`] when the payload is itself encrypted again.
    pub body: Body,
    pub attachments: Vec<Attachment>,
    /// The bytes of every [`AttachmentKind::PublicKeys`] attachment.
    pub keys: Vec<Vec<u8>>,
    /// Headers protected by the encryption (RFC 9788, or the older "memory
    /// hole" forms), when the payload carries them.
    pub protected: Option<ProtectedHeaders>,
    pub flags: Vec<Flag>,
}

/// Header fields found inside the cryptographic payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtectedHeaders {
    pub subject: Option<String>,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub reply_to: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub date: Option<i64>,
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
}

impl ProtectedHeaders {
    fn from_headers(list: &[Header<'_>]) -> Self {
        let from = headers::addresses(headers::first_value(list, &HeaderName::From))
            .into_iter()
            .next();
        let (from, from_name) = match from {
            Some((a, n)) => (Some(a), n),
            None => (None, None),
        };
        let first_addresses = |name: HeaderName<'static>| -> Vec<String> {
            headers::addresses(headers::first_value(list, &name))
                .into_iter()
                .map(|(a, _)| a)
                .collect()
        };
        ProtectedHeaders {
            subject: headers::first_value(list, &HeaderName::Subject).and_then(headers::value_text),
            from,
            from_name,
            reply_to: first_addresses(HeaderName::ReplyTo).into_iter().next(),
            to: first_addresses(HeaderName::To),
            cc: first_addresses(HeaderName::Cc),
            date: headers::date(headers::first_value(list, &HeaderName::Date)),
            message_id: headers::ids(headers::first_value(list, &HeaderName::MessageId))
                .into_iter()
                .next(),
            in_reply_to: headers::ids(headers::first_value(list, &HeaderName::InReplyTo)),
            references: headers::ids(headers::first_value(list, &HeaderName::References)),
        }
    }

    fn is_empty(&self) -> bool {
        self == &ProtectedHeaders::default()
    }

    /// Fills fields this one lacks from `other`.
    fn or(mut self, other: ProtectedHeaders) -> Self {
        self.subject = self.subject.or(other.subject);
        self.from = self.from.or(other.from);
        self.from_name = self.from_name.or(other.from_name);
        self.reply_to = self.reply_to.or(other.reply_to);
        if self.to.is_empty() {
            self.to = other.to;
        }
        if self.cc.is_empty() {
            self.cc = other.cc;
        }
        self.date = self.date.or(other.date);
        self.message_id = self.message_id.or(other.message_id);
        if self.in_reply_to.is_empty() {
            self.in_reply_to = other.in_reply_to;
        }
        if self.references.is_empty() {
            self.references = other.references;
        }
        self
    }
}

/// Subjects that MUAs put on the outside of encrypted mail instead of the
/// real one.
pub fn is_placeholder_subject(subject: &str) -> bool {
    let s = subject.trim();
    s.is_empty()
        || matches!(s, "..." | "[...]" | "\u{2026}" | "[\u{2026}]")
        || s.eq_ignore_ascii_case("encrypted message")
        || s.eq_ignore_ascii_case("encrypted subject")
        || s.eq_ignore_ascii_case("[encrypted message]")
}

/// The subject to show: the protected one when the payload has a non-empty
/// one (RFC 9788: it is authoritative, the outer one is a copy or a
/// placeholder), otherwise the outer one.
pub fn effective_subject(outer: Option<&str>, inner: &Inner) -> Option<String> {
    let protected = inner
        .protected
        .as_ref()
        .and_then(|p| p.subject.as_deref())
        .filter(|s| !s.trim().is_empty());
    match (protected, outer) {
        (Some(p), _) => Some(p.to_string()),
        (None, Some(o)) => Some(o.to_string()),
        (None, None) => None,
    }
}

fn text_only(decrypted: &[u8], mut flags: Vec<Flag>) -> Inner {
    let text = String::from_utf8_lossy(decrypted).into_owned();
    let inline_pgp = find_inline(&text, &mut flags);
    Inner {
        body: Body::Plain {
            text,
            html_as_text: None,
            inline_pgp,
        },
        attachments: Vec::new(),
        keys: Vec::new(),
        protected: None,
        flags,
    }
}

fn starts_like_mime_entity(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\n")
        || bytes.starts_with(b"\r\n")
        || headers::looks_like_header_section(bytes)
}

fn has_protected_marker(part: &mail_parser::MessagePart<'_>) -> bool {
    ct_attribute(part, "protected-headers").is_some_and(|v| v.trim().eq_ignore_ascii_case("v1"))
        || ct_attribute(part, "hp").is_some()
}

pub(crate) fn parse_inner(decrypted: &[u8], limits: &Limits) -> Inner {
    if decrypted.len() > limits.max_bytes {
        tracing::warn!(
            size = decrypted.len(),
            "decrypted payload over the size limit"
        );
        return Inner {
            body: Body::empty(),
            attachments: Vec::new(),
            keys: Vec::new(),
            protected: None,
            flags: vec![Flag::TooLarge],
        };
    }
    if !starts_like_mime_entity(decrypted) {
        return text_only(decrypted, Vec::new());
    }
    if let Err(reason) = prescan::check(decrypted) {
        tracing::warn!(
            size = decrypted.len(),
            reason = ?reason,
            "decrypted MIME structure too costly to parse; kept as text"
        );
        return text_only(decrypted, vec![Flag::HostileStructure]);
    }
    let Ok(parsed) = Parsed::parse_full(decrypted) else {
        tracing::warn!(
            size = decrypted.len(),
            "mail parser failed on the decrypted MIME structure; kept as text"
        );
        return text_only(decrypted, vec![Flag::ParserFault]);
    };
    let Some(outer) = parsed.get() else {
        return text_only(decrypted, Vec::new());
    };
    // draft-melnikov-lamps-header-protection: the payload is a whole
    // message/rfc822 whose headers are the protected ones.
    let (msg, wrapped) = match outer.parts.first().map(|p| (p, &p.body)) {
        Some((root, PartType::Message(nested))) if mime_type(root).0 == "message" => (nested, true),
        _ => (outer, false),
    };
    let mut walk = Walk::new(msg, limits);
    let protected = protected_headers(&walk, wrapped);
    let body = walk.body_of(0);
    let attachments = walk.attachments();
    let keys = attachments
        .iter()
        .filter(|a| a.kind == AttachmentKind::PublicKeys)
        .map(|a| a.bytes.clone())
        .collect();
    let mut flags = std::mem::take(&mut walk.flags);
    if wrapped
        && let Some(root) = outer.parts.first()
        && root.is_encoding_problem
    {
        push_flag(&mut flags, Flag::EncodingProblem);
    }
    Inner {
        body,
        attachments,
        keys,
        protected,
        flags,
    }
}

/// Protected headers live on the root of the cryptographic payload (below a
/// multipart/signed layer if there is one). Headers elsewhere in the tree are
/// ignored: anything could be there. A legacy display part (or memory-hole
/// text/rfc822-headers part) supplies what the root does not.
fn protected_headers(walk: &Walk<'_, '_>, wrapped: bool) -> Option<ProtectedHeaders> {
    let mut payload_root = 0usize;
    let root = walk.part(0)?;
    let (ty, sub) = mime_type(root);
    if ty == "multipart"
        && sub == "signed"
        && let Some(&first) = walk.children(0).first()
    {
        payload_root = first;
    }
    let payload = walk.part(payload_root)?;
    let mut protected = if wrapped || has_protected_marker(payload) {
        ProtectedHeaders::from_headers(&payload.headers)
    } else {
        ProtectedHeaders::default()
    };

    // Legacy display / memory-hole headers part: first child of the payload
    // root when that is multipart/mixed.
    let (ty, sub) = mime_type(payload);
    if ty == "multipart"
        && sub == "mixed"
        && let Some(&first) = walk.children(payload_root).first()
        && walk.is_legacy_display(first)
        && let Some(PartType::Text(text)) = walk.part(first).map(|p| &p.body)
    {
        let mut block = text.trim_start().to_string();
        if !block.ends_with('\n') {
            block.push('\n');
        }
        block.push('\n');
        let parsed = Parsed::new(MessageParser::new().parse_headers(block.as_bytes()));
        if let Some(root) = parsed.get().and_then(|m| m.parts.first()) {
            protected = protected.or(ProtectedHeaders::from_headers(&root.headers));
        }
    }
    (!protected.is_empty()).then_some(protected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        for s in [
            "...",
            "[...]",
            "Encrypted Message",
            "encrypted message",
            "",
            "  ",
        ] {
            assert!(is_placeholder_subject(s), "{s:?}");
        }
        assert!(!is_placeholder_subject("RCE in pipelines"));
    }
}
