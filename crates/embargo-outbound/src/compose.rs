//! Composition of outgoing mail: pure functions from a context to the
//! bytes that are queued in the outbox.
//!
//! Every message has `From` = the team (security) address, a fresh
//! `Message-ID` `<uuid@team-domain>`, `Date`, `MIME-Version` and an
//! `Autocrypt` header with the team's public key.
//!
//! Encrypted messages are PGP/MIME (RFC 3156): `multipart/encrypted;
//! protocol="application/pgp-encrypted"` holding the `Version: 1` part and
//! the armored OpenPGP message (`application/octet-stream`), encrypted to
//! the recipient and signed by the team key (`embargo_pgp::encrypt_and_sign`,
//! which picks SEIPDv1 unless the recipient asks for SEIPDv2). The
//! encrypted MIME entity carries protected headers (RFC 9788:
//! `protected-headers="v1"`, with `Subject`, `From`, `To`, `Date`,
//! `Message-ID` inside); the outer subject is neutral
//! (`[SEC-2026-0001] Encrypted message`): tracking IDs are not secret,
//! report subjects are.

use std::fmt;
use std::time::SystemTime;

use embargo_domain::TrackingId;
use embargo_pgp::{Cert, Keyring, PgpError, encrypt_and_sign};
use embargo_store::NewOutbox;
use jiff::Timestamp;
use lettre::message::header::{
    self, ContentDisposition, ContentTransferEncoding, ContentType, HeaderName, HeaderValue,
};
use lettre::message::{Body, Mailbox, Mailboxes, MultiPart, SinglePart};
use lettre::{Address, Message};

use crate::autocrypt;
use crate::error::OutboundError;
use crate::template::{
    DEFAULT_ENCRYPTED_ACK, DEFAULT_PLAINTEXT_ACK, HOW_TO_ENCRYPT, Template, TemplateVars,
};

/// Neutral outer subject of encrypted messages (after the tracking ID).
pub const ENCRYPTED_SUBJECT: &str = "Encrypted message";

/// Longest Message-ID (without brackets) copied into `In-Reply-To` /
/// `References`.
const MAX_MESSAGE_ID: usize = 250;

/// A composed message, ready for the outbox.
#[derive(Clone, PartialEq, Eq)]
pub struct Composed {
    /// The `Message-ID` header value, with angle brackets.
    pub message_id: String,
    /// Envelope recipients.
    pub recipients: Vec<String>,
    /// The complete RFC 5322 message, CRLF line endings.
    pub bytes: Vec<u8>,
    /// Whether the content is OpenPGP-encrypted (PGP/MIME).
    pub encrypted: bool,
}

impl fmt::Debug for Composed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Composed")
            .field("message_id", &self.message_id)
            .field("recipients", &self.recipients.len())
            .field("size", &self.bytes.len())
            .field("encrypted", &self.encrypted)
            .finish()
    }
}

impl Composed {
    /// The outbox entry for this message (queue it in the transaction of
    /// the change that causes it).
    pub fn into_outbox(self, report_id: Option<TrackingId>) -> NewOutbox {
        NewOutbox {
            report_id,
            recipients: self.recipients,
            body: self.bytes,
        }
    }
}

/// The team's mail identity: the security address (optionally with a
/// display name) and the team keyring (the current key signs and is
/// advertised by Autocrypt).
#[derive(Clone)]
pub struct TeamIdentity {
    mailbox: Mailbox,
    keyring: Keyring,
    autocrypt: HeaderValue,
    fingerprint: String,
}

impl fmt::Debug for TeamIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamIdentity")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl TeamIdentity {
    /// `address` is the security address (`security@project.example`),
    /// `display_name` e.g. `Project Security`.
    pub fn new(
        address: &str,
        display_name: Option<&str>,
        keyring: Keyring,
    ) -> Result<Self, OutboundError> {
        let address = parse_address(address, "team")?;
        let name = match display_name.map(str::trim) {
            Some("") | None => None,
            Some(n) if n.chars().any(char::is_control) => {
                return Err(OutboundError::InvalidField {
                    field: "team display name",
                    reason: "contains control characters",
                });
            }
            Some(n) => Some(n.to_owned()),
        };
        let autocrypt = autocrypt::header(address.as_ref(), &keyring.public_armored()?)?;
        let fingerprint = keyring.fingerprint();
        Ok(TeamIdentity {
            mailbox: Mailbox::new(name, address),
            keyring,
            autocrypt,
            fingerprint,
        })
    }

    /// The security address.
    pub fn address(&self) -> &str {
        self.mailbox.email.as_ref()
    }

    /// The current team key's fingerprint (uppercase hex, no spaces).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The keyring that signs outgoing mail.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    fn domain(&self) -> &str {
        self.mailbox.email.domain()
    }

    /// A fresh `<uuid@domain>`.
    fn new_message_id(&self) -> String {
        format!("<{}@{}>", uuid::Uuid::new_v4().simple(), self.domain())
    }
}

/// Settings of the acknowledgement.
#[derive(Debug, Clone)]
pub struct AckSettings {
    /// The promised time to a first answer, in days (`{response_days}`).
    pub response_days: u32,
    /// Where reporters fetch the team key (`{key_url}`), e.g. the
    /// security.txt or WKD URL.
    pub key_url: String,
    /// Text sent to reporters whose key is known (encrypted).
    pub encrypted_template: Template,
    /// Text sent to reporters without a known key (in the clear). When it
    /// does not use `{fingerprint}`, a paragraph on how to encrypt (with
    /// fingerprint and key URL) is appended.
    pub plaintext_template: Template,
}

impl AckSettings {
    /// The default texts, promising an answer within `response_days`.
    pub fn new(key_url: impl Into<String>, response_days: u32) -> Result<Self, OutboundError> {
        let parse = |t: &str| {
            Template::parse(t).map_err(|_| OutboundError::Build("default template".into()))
        };
        Ok(AckSettings {
            response_days,
            key_url: key_url.into(),
            encrypted_template: parse(DEFAULT_ENCRYPTED_ACK)?,
            plaintext_template: parse(DEFAULT_PLAINTEXT_ACK)?,
        })
    }
}

/// Everything the acknowledgement of a new report needs. It holds no
/// report content except the subject, which only ever goes into the
/// encrypted part.
#[derive(Debug, Clone, Copy)]
pub struct AckContext<'a> {
    pub team: &'a TeamIdentity,
    pub settings: &'a AckSettings,
    pub tracking_id: &'a TrackingId,
    /// The reporter's address (`To` and envelope).
    pub reporter: &'a str,
    /// The reporter's certificate, when known: the acknowledgement is
    /// then encrypted to it. A certificate that cannot be encrypted to
    /// (expired, revoked, no encryption subkey) falls back to the
    /// plaintext acknowledgement, which carries no content either.
    pub reporter_cert: Option<&'a Cert>,
    /// The report's `Message-ID` (`In-Reply-To`, `References`).
    pub report_message_id: Option<&'a str>,
    /// The report's subject: used as `Re: …` in the *encrypted* subject
    /// only; never in a plaintext message.
    pub report_subject: Option<&'a str>,
    pub now: Timestamp,
}

/// An attachment of a message re-sent encrypted.
#[derive(Clone, Copy)]
pub struct Attachment<'a> {
    pub filename: &'a str,
    /// MIME type as received (e.g. `text/x-python`); unusable values
    /// become `application/octet-stream`.
    pub content_type: &'a str,
    pub data: &'a [u8],
}

impl fmt::Debug for Attachment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("size", &self.data.len())
            .finish_non_exhaustive()
    }
}

/// A report (or a later message of it) re-encrypted to one team member.
#[derive(Clone, Copy)]
pub struct TeamCopyContext<'a> {
    pub team: &'a TeamIdentity,
    pub tracking_id: &'a TrackingId,
    /// The member's address (`To` and envelope).
    pub member: &'a str,
    /// The member's certificate; it must be usable for encryption.
    pub member_cert: &'a Cert,
    /// The reporter's address, shown inside the encrypted part.
    pub reporter: Option<&'a str>,
    /// The message's subject (encrypted subject: `[ID] subject`).
    pub subject: &'a str,
    /// The message's text.
    pub body_text: &'a str,
    pub attachments: &'a [Attachment<'a>],
    /// Link to the report in the admin view.
    pub admin_url: Option<&'a str>,
    pub now: Timestamp,
}

impl fmt::Debug for TeamCopyContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamCopyContext")
            .field("tracking_id", &self.tracking_id.to_string())
            .field("size", &self.body_text.len())
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

/// What a [`team_notice`] announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// A new report was filed.
    NewReport,
    /// A new message arrived for an existing report.
    NewMessage,
}

/// A content-free notice to a member without a usable key.
#[derive(Debug, Clone, Copy)]
pub struct TeamNoticeContext<'a> {
    pub team: &'a TeamIdentity,
    pub tracking_id: &'a TrackingId,
    pub member: &'a str,
    pub kind: NoticeKind,
    /// Link to the report in the admin view.
    pub admin_url: Option<&'a str>,
    pub now: Timestamp,
}

/// A team member's reply, relayed to the reporter under the team's
/// identity.
#[derive(Clone, Copy)]
pub struct RelayContext<'a> {
    pub team: &'a TeamIdentity,
    pub tracking_id: &'a TrackingId,
    /// The reporter's address (`To` and envelope).
    pub reporter: &'a str,
    /// The reporter's certificate: the reply is encrypted to it when
    /// given (and composing fails when it cannot be used: a reply is
    /// never silently downgraded to plaintext).
    pub reporter_cert: Option<&'a Cert>,
    /// The reply's subject; `[ID]` is prepended when missing.
    pub subject: &'a str,
    pub body_text: &'a str,
    pub attachments: &'a [Attachment<'a>],
    /// The member's own address: every occurrence (any case) in the
    /// subject, text and attachment names is replaced by the team
    /// address, so the member stays anonymous to the reporter. It never
    /// appears in a header.
    pub member: Option<&'a str>,
    /// The reporter message this answers (`In-Reply-To`).
    pub in_reply_to: Option<&'a str>,
    /// The thread (`References`), oldest first.
    pub references: &'a [&'a str],
    pub now: Timestamp,
}

impl fmt::Debug for RelayContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayContext")
            .field("tracking_id", &self.tracking_id.to_string())
            .field("encrypted", &self.reporter_cert.is_some())
            .field("size", &self.body_text.len())
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

/// The acknowledgement of a new report. Encrypted (PGP/MIME) and signed
/// when the reporter's certificate is known and usable, otherwise a
/// plaintext `text/plain` that explains how to encrypt. It never quotes
/// the report.
pub fn acknowledgement(ctx: &AckContext<'_>) -> Result<Composed, OutboundError> {
    let team = ctx.team;
    let to = mailbox(ctx.reporter, "reporter")?;
    let id = ctx.tracking_id.to_string();
    let fingerprint = grouped_fingerprint(team.fingerprint());
    let vars = TemplateVars {
        tracking_id: &id,
        response_days: ctx.settings.response_days,
        fingerprint: &fingerprint,
        key_url: &ctx.settings.key_url,
    };
    let report_id = ctx.report_message_id.and_then(normalize_message_id);
    let references: Vec<String> = report_id.iter().cloned().collect();
    let headers = ThreadHeaders {
        in_reply_to: report_id.clone(),
        references: &references,
        auto_submitted: Some("auto-replied"),
        reply_to: None,
    };

    if let Some(cert) = ctx.reporter_cert {
        let subject = match ctx.report_subject.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) if s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("re:")) => {
                tagged_subject(&id, s)
            }
            Some(s) => tagged_subject(&id, &format!("Re: {s}")),
            None => format!("[{id}] Report received"),
        };
        let text = ctx.settings.encrypted_template.render(&vars);
        let draft = Draft {
            to: to.clone(),
            subject,
            text,
            attachments: &[],
            headers: headers.clone(),
        };
        match encrypted(team, &id, &draft, cert, ctx.now) {
            Ok(composed) => return Ok(composed),
            // The certificate cannot be used: an acknowledgement holds no
            // content, so it goes out in the clear instead (the caller
            // sees `Composed::encrypted == false`).
            Err(OutboundError::Pgp(
                PgpError::InvalidRecipient { .. } | PgpError::NoEncryptionKey(_),
            )) => {}
            Err(e) => return Err(e),
        }
    }

    let mut text = ctx.settings.plaintext_template.render(&vars);
    if !ctx.settings.plaintext_template.uses("fingerprint") {
        let how = Template::parse(HOW_TO_ENCRYPT)
            .map_err(|_| OutboundError::Build("default template".into()))?;
        text.push_str(&how.render(&vars));
    }
    // Unencrypted, but still signed by the team key (an OpenPGP cleartext
    // signature, readable in any client and verifiable in all).
    let text = embargo_pgp::sign_cleartext(&text, team.keyring())?;
    let draft = Draft {
        to,
        subject: format!("[{id}] Report received"),
        text,
        attachments: &[],
        headers,
    };
    plaintext(team, &draft, ctx.now)
}

/// The report's content re-encrypted to one member and signed by the
/// team key. `Reply-To` is the team address, so answers go back through
/// the gateway.
pub fn team_copy(ctx: &TeamCopyContext<'_>) -> Result<Composed, OutboundError> {
    let team = ctx.team;
    let id = ctx.tracking_id.to_string();
    let to = mailbox(ctx.member, "member")?;
    let mut text = format!("Report {id}\n");
    if let Some(reporter) = ctx.reporter {
        text.push_str(&format!("From: {reporter}\n"));
    }
    if let Some(url) = ctx.admin_url {
        text.push_str(&format!("Admin view: {url}\n"));
    }
    text.push_str(
        "Answer to this message to reply to the reporter through the security address.\n\n",
    );
    text.push_str(ctx.body_text);
    let draft = Draft {
        to,
        subject: tagged_subject(&id, ctx.subject),
        text,
        attachments: ctx.attachments,
        headers: ThreadHeaders {
            in_reply_to: None,
            references: &[],
            auto_submitted: Some("auto-generated"),
            reply_to: Some(team.mailbox.clone()),
        },
    };
    encrypted(team, &id, &draft, ctx.member_cert, ctx.now)
}

/// A content-free notice for a member without a usable key: the tracking
/// ID and a link to the admin view, nothing else.
pub fn team_notice(ctx: &TeamNoticeContext<'_>) -> Result<Composed, OutboundError> {
    let team = ctx.team;
    let id = ctx.tracking_id.to_string();
    let (subject, what) = match ctx.kind {
        NoticeKind::NewReport => (
            format!("[{id}] New report"),
            format!("A new report, {id}, arrived."),
        ),
        NoticeKind::NewMessage => (
            format!("[{id}] New message"),
            format!("A new message for report {id} arrived."),
        ),
    };
    let mut text = format!(
        "{what}\n\nIts content is not sent by mail because no usable OpenPGP key is on\nfile for you. Please read it in the admin view"
    );
    match ctx.admin_url {
        Some(url) => text.push_str(&format!(":\n\n  {url}\n")),
        None => text.push_str(".\n"),
    }
    text.push_str("\nTo receive encrypted copies, ask an administrator to add your key.\n");
    let draft = Draft {
        to: mailbox(ctx.member, "member")?,
        subject,
        text,
        attachments: &[],
        headers: ThreadHeaders {
            in_reply_to: None,
            references: &[],
            auto_submitted: Some("auto-generated"),
            reply_to: None,
        },
    };
    plaintext(team, &draft, ctx.now)
}

/// A member's reply relayed to the reporter: `From` is the team address,
/// the member's address is nowhere; encrypted when the reporter's
/// certificate is given.
pub fn relay(ctx: &RelayContext<'_>) -> Result<Composed, OutboundError> {
    let team = ctx.team;
    let id = ctx.tracking_id.to_string();
    let to = mailbox(ctx.reporter, "reporter")?;
    let scrub = |s: &str| match ctx.member.map(str::trim).filter(|m| !m.is_empty()) {
        Some(member) => replace_ignore_ascii_case(s, member, team.address()),
        None => s.to_owned(),
    };
    let names: Vec<String> = ctx.attachments.iter().map(|a| scrub(a.filename)).collect();
    let attachments: Vec<Attachment<'_>> = ctx
        .attachments
        .iter()
        .zip(&names)
        .map(|(a, name)| Attachment {
            filename: name,
            content_type: a.content_type,
            data: a.data,
        })
        .collect();
    let mut references: Vec<String> = ctx
        .references
        .iter()
        .filter_map(|r| normalize_message_id(r))
        .collect();
    let in_reply_to = ctx.in_reply_to.and_then(normalize_message_id);
    if let Some(irt) = &in_reply_to
        && !references.contains(irt)
    {
        references.push(irt.clone());
    }
    let draft = Draft {
        to,
        subject: tagged_subject(&id, &scrub(ctx.subject)),
        text: scrub(ctx.body_text),
        attachments: &attachments,
        headers: ThreadHeaders {
            in_reply_to,
            references: &references,
            auto_submitted: None,
            reply_to: None,
        },
    };
    match ctx.reporter_cert {
        Some(cert) => encrypted(team, &id, &draft, cert, ctx.now),
        None => plaintext(team, &draft, ctx.now),
    }
}

/// Headers that differ between kinds of message.
#[derive(Clone)]
struct ThreadHeaders<'a> {
    in_reply_to: Option<String>,
    references: &'a [String],
    auto_submitted: Option<&'static str>,
    reply_to: Option<Mailbox>,
}

/// A message before it is turned into bytes.
struct Draft<'a> {
    to: Mailbox,
    subject: String,
    text: String,
    attachments: &'a [Attachment<'a>],
    headers: ThreadHeaders<'a>,
}

fn plaintext(
    team: &TeamIdentity,
    draft: &Draft<'_>,
    now: Timestamp,
) -> Result<Composed, OutboundError> {
    let message_id = team.new_message_id();
    let date = SystemTime::from(now);
    let builder = outer_builder(team, draft, &draft.subject, &message_id, date);
    let message = if draft.attachments.is_empty() {
        builder.singlepart(text_part(&draft.text))
    } else {
        builder.multipart(mixed(draft, None)?)
    }
    .map_err(|e| OutboundError::Build(e.to_string()))?;
    finish(message, message_id, draft, false)
}

fn encrypted(
    team: &TeamIdentity,
    id: &str,
    draft: &Draft<'_>,
    cert: &Cert,
    now: Timestamp,
) -> Result<Composed, OutboundError> {
    let message_id = team.new_message_id();
    let date = SystemTime::from(now);

    // The protected inner entity: content plus the real headers.
    let protected = ProtectedHeaders {
        subject: &draft.subject,
        from: &team.mailbox,
        to: &draft.to,
        date,
        message_id: &message_id,
        thread: &draft.headers,
    };
    let inner = if draft.attachments.is_empty() {
        let part = protected.apply_single(SinglePart::builder().header(content_type(
            "text/plain; charset=utf-8; protected-headers=\"v1\"",
        )?));
        part.body(text_body(&draft.text)).formatted()
    } else {
        mixed(draft, Some(&protected))?.formatted()
    };
    let armored = encrypt_and_sign(&inner, std::slice::from_ref(cert), &team.keyring)?;
    drop(inner);

    let version = SinglePart::builder()
        .header(content_type("application/pgp-encrypted")?)
        .header(content_description("PGP/MIME version identification"))
        .body(seven_bit("Version: 1\r\n")?);
    let payload = SinglePart::builder()
        .header(content_type(
            "application/octet-stream; name=\"encrypted.asc\"",
        )?)
        .header(content_description("OpenPGP encrypted message"))
        .header(ContentDisposition::inline_with_name("encrypted.asc"))
        .body(seven_bit(String::from_utf8(armored).map_err(|_| {
            OutboundError::Build("armored message is not ASCII".into())
        })?)?);
    let body = MultiPart::encrypted("application/pgp-encrypted".to_owned())
        .singlepart(version)
        .singlepart(payload);
    let outer_subject = format!("[{id}] {ENCRYPTED_SUBJECT}");
    let message = outer_builder(team, draft, &outer_subject, &message_id, date)
        .multipart(body)
        .map_err(|e| OutboundError::Build(e.to_string()))?;
    finish(message, message_id, draft, true)
}

/// The protected headers of RFC 9788, copied into the encrypted entity.
struct ProtectedHeaders<'a> {
    subject: &'a str,
    from: &'a Mailbox,
    to: &'a Mailbox,
    date: SystemTime,
    message_id: &'a str,
    thread: &'a ThreadHeaders<'a>,
}

impl ProtectedHeaders<'_> {
    fn headers(&self) -> Vec<HeaderValue> {
        use lettre::message::header::Header as _;
        let mut out = vec![
            header::Subject::from(self.subject.to_owned()).display(),
            header::From::from(Mailboxes::from(self.from.clone())).display(),
            header::To::from(Mailboxes::from(self.to.clone())).display(),
            header::Date::new(self.date).display(),
            header::MessageId::from(self.message_id.to_owned()).display(),
        ];
        if let Some(irt) = &self.thread.in_reply_to {
            out.push(header::InReplyTo::from(irt.clone()).display());
        }
        if !self.thread.references.is_empty() {
            out.push(header::References::from(self.thread.references.join(" ")).display());
        }
        if let Some(reply_to) = &self.thread.reply_to {
            out.push(header::ReplyTo::from(Mailboxes::from(reply_to.clone())).display());
        }
        out
    }

    fn apply_single(
        &self,
        builder: lettre::message::SinglePartBuilder,
    ) -> lettre::message::SinglePartBuilder {
        self.headers()
            .into_iter()
            .fold(builder, |b, h| b.header(RawHeader(h)))
    }
}

/// Lets a prepared [`HeaderValue`] go through the typed `header()` APIs
/// of the part builders.
#[derive(Clone)]
struct RawHeader(HeaderValue);

impl header::Header for RawHeader {
    fn name() -> HeaderName {
        // Not used when setting: `Headers::set` takes the name from
        // `display()`, which carries the real one.
        HeaderName::new_from_ascii_str("X-Embargo-Raw")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Err("not parsable".into())
    }

    fn display(&self) -> HeaderValue {
        self.0.clone()
    }
}

/// `multipart/mixed` with the text and the attachments; with protected
/// headers when it is the encrypted entity.
fn mixed(
    draft: &Draft<'_>,
    protected: Option<&ProtectedHeaders<'_>>,
) -> Result<MultiPart, OutboundError> {
    let boundary = uuid::Uuid::new_v4().simple().to_string();
    let ct = match protected {
        Some(_) => format!("multipart/mixed; boundary=\"{boundary}\"; protected-headers=\"v1\""),
        None => format!("multipart/mixed; boundary=\"{boundary}\""),
    };
    let mut multipart = MultiPart::builder().header(content_type(&ct)?).build();
    if let Some(p) = protected {
        for h in p.headers() {
            multipart.headers_mut().insert_raw(h);
        }
    }
    let mut multipart = multipart.singlepart(text_part(&draft.text));
    for a in draft.attachments {
        let ct = usable_content_type(a.content_type);
        let part = SinglePart::builder()
            .header(ct)
            .header(ContentDisposition::attachment(&safe_filename(a.filename)))
            .body(Body::new(a.data.to_vec()));
        multipart = multipart.singlepart(part);
    }
    Ok(multipart)
}

fn outer_builder(
    team: &TeamIdentity,
    draft: &Draft<'_>,
    subject: &str,
    message_id: &str,
    date: SystemTime,
) -> lettre::message::MessageBuilder {
    let mut b = Message::builder()
        .from(team.mailbox.clone())
        .to(draft.to.clone())
        .subject(subject)
        .date(date)
        .message_id(Some(message_id.to_owned()));
    if let Some(irt) = &draft.headers.in_reply_to {
        b = b.in_reply_to(irt.clone());
    }
    if !draft.headers.references.is_empty() {
        b = b.references(draft.headers.references.join(" "));
    }
    if let Some(reply_to) = &draft.headers.reply_to {
        b = b.reply_to(reply_to.clone());
    }
    if let Some(kind) = draft.headers.auto_submitted {
        b = b
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                kind.to_owned(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".to_owned(),
            ));
    }
    b.raw_header(team.autocrypt.clone())
}

fn finish(
    message: Message,
    message_id: String,
    draft: &Draft<'_>,
    encrypted: bool,
) -> Result<Composed, OutboundError> {
    let bytes = message.formatted();
    Ok(Composed {
        message_id,
        recipients: vec![draft.to.email.to_string()],
        bytes,
        encrypted,
    })
}

fn text_body(text: &str) -> Body {
    Body::new(text.to_owned())
}

fn text_part(text: &str) -> SinglePart {
    SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(text_body(text))
}

fn seven_bit(text: impl Into<String>) -> Result<Body, OutboundError> {
    Body::new_with_encoding(text.into(), ContentTransferEncoding::SevenBit)
        .map_err(|_| OutboundError::Build("part is not 7bit".into()))
}

fn content_type(value: &str) -> Result<ContentType, OutboundError> {
    ContentType::parse(value).map_err(|_| OutboundError::Build("content type".into()))
}

fn content_description(text: &str) -> RawHeader {
    RawHeader(HeaderValue::new(
        HeaderName::new_from_ascii_str("Content-Description"),
        text.to_owned(),
    ))
}

/// The attachment's MIME type if it is a plain, parameterless
/// `type/subtype`; `application/octet-stream` otherwise.
fn usable_content_type(value: &str) -> ContentType {
    let essence = value.split(';').next().unwrap_or("").trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match essence.split_once('/') {
        Some((t, s)) if token(t) && token(s) => {
            ContentType::parse(&essence.to_ascii_lowercase()).unwrap_or_else(|_| octet_stream())
        }
        _ => octet_stream(),
    }
}

fn octet_stream() -> ContentType {
    ContentType::parse("application/octet-stream").unwrap_or(ContentType::TEXT_PLAIN)
}

/// A file name safe inside `filename="…"`: no quotes, backslashes,
/// control characters or path separators.
fn safe_filename(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '"' | '\\' | '/') {
                '_'
            } else {
                c
            }
        })
        .take(200)
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        "attachment.bin".to_owned()
    } else {
        cleaned.to_owned()
    }
}

fn parse_address(address: &str, field: &'static str) -> Result<Address, OutboundError> {
    address
        .trim()
        .parse::<Address>()
        .map_err(|_| OutboundError::InvalidAddress { field })
}

/// A bare-address mailbox (no display name: names of reporters and
/// members are not repeated).
fn mailbox(address: &str, field: &'static str) -> Result<Mailbox, OutboundError> {
    Ok(Mailbox::new(None, parse_address(address, field)?))
}

/// `<id>` for a usable Message-ID (with or without brackets), else `None`.
pub(crate) fn normalize_message_id(id: &str) -> Option<String> {
    let t = id.trim();
    let inner = t
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(t);
    let ok = !inner.is_empty()
        && inner.len() <= MAX_MESSAGE_ID
        && inner.contains('@')
        && inner
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\'));
    ok.then(|| format!("<{inner}>"))
}

/// `[ID] subject`, unless the subject already carries `[ID]`.
fn tagged_subject(id: &str, subject: &str) -> String {
    let subject = subject.trim();
    let tag = format!("[{id}]");
    if subject.contains(&tag) {
        subject.to_owned()
    } else if subject.is_empty() {
        tag
    } else {
        format!("{tag} {subject}")
    }
}

/// `ABCD 1234 …`: the fingerprint in groups of four, as gpg prints it.
pub(crate) fn grouped_fingerprint(hex: &str) -> String {
    let chars: Vec<char> = hex.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Replaces every occurrence of `needle` (ASCII case-insensitive).
fn replace_ignore_ascii_case(haystack: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() {
        return haystack.to_owned();
    }
    let lower_h = haystack.to_ascii_lowercase();
    let lower_n = needle.to_ascii_lowercase();
    let mut out = String::with_capacity(haystack.len());
    let mut last = 0;
    // ASCII lowercasing keeps byte offsets, so indices map 1:1.
    for (pos, _) in lower_h.match_indices(&lower_n) {
        if let Some(s) = haystack.get(last..pos) {
            out.push_str(s);
        }
        out.push_str(with);
        last = pos + needle.len();
    }
    if let Some(s) = haystack.get(last..) {
        out.push_str(s);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn message_ids_are_normalized() {
        assert_eq!(normalize_message_id(" <a@b> ").as_deref(), Some("<a@b>"));
        assert_eq!(normalize_message_id("a@b").as_deref(), Some("<a@b>"));
        assert_eq!(normalize_message_id("a b@c"), None);
        assert_eq!(normalize_message_id("<a@b>\r\nX: y"), None);
        assert_eq!(normalize_message_id("nobrackets"), None);
        assert_eq!(normalize_message_id(""), None);
    }

    #[test]
    fn subjects_are_tagged_once() {
        assert_eq!(
            tagged_subject("SEC-2026-0001", "Re: x"),
            "[SEC-2026-0001] Re: x"
        );
        assert_eq!(
            tagged_subject("SEC-2026-0001", "Re: [SEC-2026-0001] x"),
            "Re: [SEC-2026-0001] x"
        );
        assert_eq!(tagged_subject("SEC-2026-0001", " "), "[SEC-2026-0001]");
    }

    #[test]
    fn replacement_ignores_case() {
        assert_eq!(
            replace_ignore_ascii_case(
                "Alice <ALICE@Member.org>, alice@member.org.",
                "alice@member.org",
                "sec@x"
            ),
            "Alice <sec@x>, sec@x."
        );
        assert_eq!(replace_ignore_ascii_case("äöü", "x", "y"), "äöü");
    }

    #[test]
    fn filenames_and_types_are_sanitized() {
        assert_eq!(safe_filename("a\"b\r\n/../c.txt"), "a_b___.._c.txt");
        assert_eq!(safe_filename(".."), "attachment.bin");
        let raw = |ct: ContentType| {
            let mut h = lettre::message::header::Headers::new();
            h.set(ct);
            h.get_raw("Content-Type").unwrap().to_owned()
        };
        assert_eq!(
            raw(usable_content_type(
                "Text/X-Python; charset=\"x\r\nBcc: a@b\""
            )),
            "text/x-python"
        );
        assert_eq!(
            raw(usable_content_type("bogus")),
            "application/octet-stream"
        );
    }

    #[test]
    fn fingerprint_grouping() {
        assert_eq!(grouped_fingerprint("ABCD1234EF"), "ABCD 1234 EF");
    }
}
