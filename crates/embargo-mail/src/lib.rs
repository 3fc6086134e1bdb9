//! Inbound mail for embargo: parsing what reporters send, and the LMTP
//! listener the MTA delivers it through.
//!
//! * [`parse`] turns one RFC 5322 message into an [`Inbound`]: threading
//!   headers, sender, auto-reply and bounce detection, Autocrypt, and a
//!   [`Body`] that says where the OpenPGP pieces are (RFC 3156 PGP/MIME,
//!   multipart/signed, inline armor, encrypted attachments, attached keys).
//! * [`parse_inner`] describes the decrypted MIME entity of a PGP/MIME
//!   message, including its protected headers (RFC 9788 and "memory hole").
//! * [`lmtp`] is an RFC 2033 server loop.
//!
//! No cryptography happens here: another crate decrypts and verifies with the
//! bytes this crate extracts.
//!
//! Every byte of every message is attacker-controlled. Parsing never panics,
//! keeps memory and time roughly linear in the input (see the guard in
//! `prescan`), and never loses a message: whatever it cannot analyse it
//! reports in [`Inbound::flags`] instead of failing. Nothing here logs content,
//! subjects or addresses; only sizes and counts.

mod analyze;
mod armor;
mod headers;
mod inner;
pub mod lmtp;
mod prescan;

pub use armor::{decrypted_name, looks_like_openpgp_message};
pub use inner::{Inner, ProtectedHeaders, effective_subject, is_placeholder_subject};

/// Size and structure limits applied to every parsed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Larger messages are refused with [`MailError::TooLarge`].
    pub max_bytes: usize,
    /// MIME nesting deeper than this is not analysed ([`Flag::TooDeep`]).
    pub max_depth: usize,
    /// MIME parts beyond this many are not analysed ([`Flag::TooManyParts`]).
    pub max_parts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 25 * 1024 * 1024,
            max_depth: 16,
            max_parts: 500,
        }
    }
}

/// Why a message was refused. Both are permanent: delivering the same bytes
/// again gives the same answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("message is {size} bytes, over the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("input is not an email message (no header section)")]
    NotEmail,
}

/// Something about the message that the triage view should know, or that
/// made part of it unanalysable. The message itself is never dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag {
    /// MIME nesting went deeper than [`Limits::max_depth`]; deeper parts were
    /// not analysed.
    TooDeep,
    /// More than [`Limits::max_parts`] MIME parts; the rest were not analysed.
    TooManyParts,
    /// The MIME structure would have cost far more memory or time to parse
    /// than its size justifies (a parser bomb). Only the top-level headers
    /// were parsed and the body is the raw text after them.
    HostileStructure,
    /// The MIME parser (mail-parser) failed on the structure: it panicked,
    /// which its `debug_assert!`s do on some well-formed mail in builds with
    /// debug assertions. Only the top-level headers were parsed and the body
    /// is the raw text after them (for a decrypted payload: the whole
    /// payload as text).
    ParserFault,
    /// The top-level header section was too large; only its beginning was
    /// read.
    HeadersTruncated,
    /// A part's transfer encoding was broken; its bytes were recovered as-is.
    EncodingProblem,
    /// multipart/encrypted or multipart/signed without the parts RFC 3156
    /// requires; handled as an ordinary multipart.
    MalformedPgpMime,
    /// PGP/MIME that a relay had mangled (e.g. rewritten as multipart/mixed)
    /// and that was recognised anyway.
    RepairedPgpMime,
    /// Inline OpenPGP armor blocks beyond the first 1000 were ignored.
    TooManyInlineBlocks,
    /// The message contains S/MIME (application/pkcs7-mime or -signature);
    /// it is kept as an attachment.
    Smime,
    /// More than one From header; the first is used.
    MultipleFrom,
    /// A decrypted payload over [`Limits::max_bytes`]; not analysed.
    TooLarge,
}

/// The parsed form of one inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// Size of the raw message in bytes.
    pub size: usize,
    /// Message-ID without the angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// First From address, domain lowercased.
    pub from: Option<String>,
    pub from_name: Option<String>,
    /// First Reply-To address, domain lowercased.
    pub reply_to: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: Option<String>,
    /// Date header as Unix seconds.
    pub date: Option<i64>,
    /// Auto-Submitted (other than "no"), Precedence bulk/junk/list,
    /// X-Autoreply and friends, or a mailing-list header: never answer this
    /// automatically.
    pub is_auto_reply: bool,
    /// Which header made [`Inbound::is_auto_reply`] true.
    pub auto_reason: Option<AutoReason>,
    /// A delivery status notification (multipart/report;
    /// report-type=delivery-status, a MAILER-DAEMON sender or an empty
    /// Return-Path).
    pub is_bounce: bool,
    /// What the DSN says about the original message, when it says it.
    pub dsn: Option<Dsn>,
    /// A valid Autocrypt header whose addr matches From.
    pub autocrypt: Option<Autocrypt>,
    pub body: Body,
    pub attachments: Vec<Attachment>,
    pub flags: Vec<Flag>,
}

impl Inbound {
    /// True when no automatic answer (acknowledgement) may be sent.
    pub fn suppress_auto_response(&self) -> bool {
        self.is_auto_reply || self.is_bounce
    }

    pub fn has_flag(&self, flag: Flag) -> bool {
        self.flags.contains(&flag)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoReason {
    AutoSubmitted,
    Precedence,
    AutoreplyHeader,
    MailingList,
    /// A disposition notification (read receipt).
    Mdn,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dsn {
    pub original_envelope_id: Option<String>,
    /// Message-ID of the bounced message, without angle brackets.
    pub original_message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Autocrypt {
    pub addr: String,
    pub prefer_encrypt_mutual: bool,
    /// The binary OpenPGP certificate.
    pub keydata: Vec<u8>,
}

/// What the body of a message is, from the point of view of OpenPGP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// RFC 3156 multipart/encrypted: the OpenPGP message to decrypt (the
    /// application/octet-stream part, usually ASCII-armored). Parse the
    /// plaintext with [`parse_inner`].
    PgpMime { encrypted: Vec<u8> },
    /// RFC 3156 multipart/signed with application/pgp-signature.
    Signed {
        /// The first part exactly as transmitted, MIME headers included, with
        /// line endings canonicalised to CRLF: the data the signature covers.
        signed_part_raw: Vec<u8>,
        /// The detached signature (usually ASCII-armored).
        signature: Vec<u8>,
        /// The analysis of the signed part.
        inner: Box<Body>,
    },
    /// Anything else: the text to show, converted from any charset.
    Plain {
        text: String,
        /// The HTML alternative converted to plain text, when there is one.
        /// HTML itself is never kept.
        html_as_text: Option<String>,
        /// Inline OpenPGP blocks found in `text`, in order.
        inline_pgp: Vec<InlinePgp>,
    },
}

impl Body {
    /// The displayable text, looking through a signature layer.
    pub fn text(&self) -> Option<&str> {
        match self {
            Body::Plain { text, .. } => Some(text),
            Body::Signed { inner, .. } => inner.text(),
            Body::PgpMime { .. } => None,
        }
    }

    pub fn inline_pgp(&self) -> &[InlinePgp] {
        match self {
            Body::Plain { inline_pgp, .. } => inline_pgp,
            Body::Signed { inner, .. } => inner.inline_pgp(),
            Body::PgpMime { .. } => &[],
        }
    }

    pub(crate) fn empty() -> Body {
        Body::Plain {
            text: String::new(),
            html_as_text: None,
            inline_pgp: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InlinePgpKind {
    /// `-----BEGIN PGP MESSAGE-----` … `-----END PGP MESSAGE-----`
    Encrypted,
    /// `-----BEGIN PGP SIGNED MESSAGE-----` … `-----END PGP SIGNATURE-----`
    CleartextSigned,
}

/// An ASCII-armored OpenPGP block inside a text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlinePgp {
    pub kind: InlinePgpKind,
    /// Byte range of the block in the body text (`text[start..end]`), from
    /// the first dash of the BEGIN line to the last dash of the END line.
    /// Both are char boundaries, so the caller can splice in the plaintext.
    pub start: usize,
    pub end: usize,
    /// The block itself (`text[start..end]` as bytes).
    pub armored: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentKind {
    /// An OpenPGP message to decrypt; name the plaintext with
    /// [`decrypted_name`].
    EncryptedPgp,
    /// OpenPGP certificate(s).
    PublicKeys,
    Regular,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// File name from Content-Disposition or Content-Type, reduced to its
    /// last path component, control characters removed.
    pub filename: Option<String>,
    /// Lowercase `type/subtype`.
    pub content_type: String,
    /// Decoded content. Text attachments are converted to UTF-8.
    pub bytes: Vec<u8>,
    pub kind: AttachmentKind,
}

/// Parses one raw RFC 5322 message.
///
/// Fails only for input over [`Limits::max_bytes`] or input that is not an
/// email at all. Structure limits, parser bombs and broken encodings are
/// reported in [`Inbound::flags`].
pub fn parse(raw: &[u8], limits: &Limits) -> Result<Inbound, MailError> {
    if raw.len() > limits.max_bytes {
        return Err(MailError::TooLarge {
            size: raw.len(),
            max: limits.max_bytes,
        });
    }
    if !headers::looks_like_header_section(raw) {
        return Err(MailError::NotEmail);
    }
    analyze::parse_outer(raw, limits)
}

/// Describes the decrypted MIME entity of a PGP/MIME message. Never fails:
/// plaintext that is not MIME is returned as text.
pub fn parse_inner(decrypted: &[u8], limits: &Limits) -> Inner {
    inner::parse_inner(decrypted, limits)
}

pub(crate) fn push_flag(flags: &mut Vec<Flag>, flag: Flag) {
    if !flags.contains(&flag) {
        flags.push(flag);
    }
}
