//! Opening one message: parse, decrypt, verify. Blocking CPU work, run on
//! a blocking thread. Nothing here touches the disk or logs content.

use embargo_mail::{
    AttachmentKind, Body, InlinePgpKind, Limits, MailError, decrypted_name, effective_subject,
    parse, parse_inner,
};
use embargo_pgp::{
    Cert, Keyring, PgpError, SignatureCheck, SignatureStatus, cert_fingerprint, cert_has_email,
    parse_certs, verify_detached, verify_inline,
};
use embargo_store::{Direction, NewAttachment, NewMessage, SigStatus, Signature};
use jiff::Timestamp;

use crate::IntakeError;

/// A message ready to file.
pub struct Opened {
    pub message: NewMessage,
    /// The subject the team sees (the protected one when there is one).
    pub subject: String,
    /// The sender's address, for a new report.
    pub reporter: String,
    /// Message-IDs this message answers (In-Reply-To first, then
    /// References, newest first).
    pub references: Vec<String>,
    /// Structure flags worth recording (names only).
    pub flags: Vec<String>,
    /// Certificates the message brought (Autocrypt for the sender's own
    /// address, attached keys, keys inside the encryption).
    pub learned: Vec<Cert>,
    /// Never answered automatically (auto-reply, list mail, bounce).
    pub suppress_auto_response: bool,
    /// A delivery status notification, with the Message-ID of the message
    /// it reports on when it says so.
    pub bounce_of: Option<Option<String>>,
    /// The text the team sees, without a reply's quoted history (for
    /// relaying).
    pub team_marker_lines: Vec<String>,
}

/// The short reason code stored with a message that stayed unreadable.
pub fn reason_code(e: &PgpError) -> &'static str {
    match e {
        PgpError::NoMatchingKey { .. } | PgpError::NoDecryptionKey { .. } => "no-matching-key",
        PgpError::NoIntegrityProtection => "no-integrity-protection",
        PgpError::Integrity => "integrity-check-failed",
        PgpError::TooLarge { .. } => "too-large",
        PgpError::Unsupported(_) | PgpError::Policy(_) => "unsupported",
        PgpError::NotEncrypted => "not-encrypted",
        // More packets, one-pass signatures or nesting than any real
        // message has (refused before sequoia's costly verification).
        PgpError::TooComplex { .. } => "too-complex",
        _ => "malformed",
    }
}

/// What decryption of the pieces of one message found.
#[derive(Default)]
struct Crypto {
    encrypted: bool,
    /// First failure, as a reason code.
    failure: Option<&'static str>,
    checks: Vec<SignatureCheck>,
    /// Certificates learned from the message itself.
    learned: Vec<Cert>,
}

impl Crypto {
    fn fail(&mut self, e: &PgpError) {
        if self.failure.is_none() {
            self.failure = Some(reason_code(e));
        }
    }
}

fn header_block(raw: &[u8]) -> String {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len());
    String::from_utf8_lossy(raw.get(..end).unwrap_or(raw)).into_owned()
}

/// Opens `raw`. `known` are certificates already associated with the
/// sender (from earlier messages of the same report).
pub fn open(
    raw: Vec<u8>,
    keyring: &Keyring,
    limits: &Limits,
    known: &[Cert],
) -> Result<Opened, IntakeError> {
    let inbound = parse(&raw, limits).map_err(|e| match e {
        MailError::TooLarge { size, max } => IntakeError::TooLarge { size, max },
        MailError::NotEmail => IntakeError::Refused(e.to_string()),
    })?;
    let from = inbound.from.clone().unwrap_or_default();

    // Keys the sender brought along: Autocrypt (only for its own address)
    // and attached certificates.
    let mut crypto = Crypto::default();
    let mut learned_here: Vec<Cert> = Vec::new();
    for c in known {
        crypto.learned.push(c.clone());
    }
    let known_count = crypto.learned.len();
    if let Some(ac) = &inbound.autocrypt
        && ac.addr.eq_ignore_ascii_case(&from)
    {
        learn(&mut crypto, &ac.keydata);
    }
    for a in &inbound.attachments {
        if a.kind == AttachmentKind::PublicKeys {
            learn(&mut crypto, &a.bytes);
        }
    }

    let max = limits.max_bytes;
    let mut protected_subject = None;
    let mut protected_from = None;
    let mut attachments = Vec::new();
    let mut flags: Vec<String> = inbound.flags.iter().map(|f| format!("{f:?}")).collect();

    let body_text = match &inbound.body {
        Body::PgpMime { encrypted } => {
            crypto.encrypted = true;
            match decrypt_twice(keyring, encrypted, &mut crypto, max) {
                Ok(plaintext) => {
                    let inner = parse_inner(&plaintext, limits);
                    for k in &inner.keys {
                        learn(&mut crypto, k);
                    }
                    flags.extend(inner.flags.iter().map(|f| format!("inner-{f:?}")));
                    if let Some(p) = &inner.protected {
                        protected_from = p.from.clone();
                    }
                    protected_subject = effective_subject(inbound.subject.as_deref(), &inner);
                    // Signed, then encrypted as separate PGP/MIME layers.
                    if let Body::Signed {
                        signed_part_raw,
                        signature,
                        ..
                    } = &inner.body
                    {
                        check_detached(&mut crypto, signed_part_raw, signature);
                    }
                    collect_attachments(
                        keyring,
                        &inner.attachments,
                        &mut crypto,
                        max,
                        &mut attachments,
                    );
                    text_of(keyring, &inner.body, &mut crypto, max)
                }
                Err(e) => {
                    crypto.fail(&e);
                    String::new()
                }
            }
        }
        Body::Signed {
            signed_part_raw,
            signature,
            ..
        } => {
            check_detached(&mut crypto, signed_part_raw, signature);
            text_of(keyring, &inbound.body, &mut crypto, max)
        }
        Body::Plain { .. } => text_of(keyring, &inbound.body, &mut crypto, max),
    };
    collect_attachments(
        keyring,
        &inbound.attachments,
        &mut crypto,
        max,
        &mut attachments,
    );

    let reporter = if from.is_empty() {
        protected_from.unwrap_or_default()
    } else {
        from
    };
    let subject = protected_subject
        .or_else(|| inbound.subject.clone())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "(no subject)".to_owned());
    let signature = summarize(&crypto.checks, &crypto.learned, &reporter);
    learned_here.extend(crypto.learned.iter().skip(known_count).cloned());
    let decrypted = crypto.encrypted && crypto.failure.is_none();

    let mut references = inbound.in_reply_to.clone();
    references.extend(inbound.references.iter().rev().cloned());

    let message = NewMessage {
        message_id: inbound.message_id.clone(),
        headers: header_block(&raw),
        direction: Direction::Inbound,
        received_at: Timestamp::now(),
        date: inbound.date.and_then(|s| Timestamp::from_second(s).ok()),
        from: reporter.clone(),
        subject: subject.clone(),
        body_text,
        encrypted: crypto.encrypted,
        decrypted,
        decrypt_error: crypto.failure.map(str::to_owned),
        signature,
        attachments,
        raw,
    };
    let team_marker_lines = message
        .body_text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    Ok(Opened {
        message,
        subject,
        reporter,
        references,
        flags,
        learned: learned_here,
        suppress_auto_response: inbound.suppress_auto_response(),
        bounce_of: inbound.is_bounce.then(|| {
            inbound
                .dsn
                .as_ref()
                .and_then(|d| d.original_message_id.clone())
        }),
        team_marker_lines,
    })
}

fn learn(crypto: &mut Crypto, bytes: &[u8]) {
    if let Ok(certs) = parse_certs(bytes) {
        for c in certs {
            let fpr = cert_fingerprint(&c);
            if !crypto.learned.iter().any(|k| cert_fingerprint(k) == fpr) {
                crypto.learned.push(c);
            }
        }
    }
}

/// Decrypts; when the plaintext itself carries the signer's key (attached
/// inside the encryption), the signatures are checked again with it.
fn decrypt_twice(
    keyring: &Keyring,
    message: &[u8],
    crypto: &mut Crypto,
    max: usize,
) -> Result<zeroize::Zeroizing<Vec<u8>>, PgpError> {
    let d = keyring.decrypt(message, &crypto.learned, max)?;
    let unknown = d
        .signatures
        .iter()
        .any(|c| c.status == SignatureStatus::UnknownKey);
    if unknown {
        let inner = parse_inner(&d.plaintext, &Limits::default());
        let before = crypto.learned.len();
        for k in &inner.keys {
            learn(crypto, k);
        }
        if crypto.learned.len() > before {
            let again = keyring.decrypt(message, &crypto.learned, max)?;
            crypto.checks.extend(again.signatures);
            return Ok(again.plaintext);
        }
    }
    crypto.checks.extend(d.signatures);
    Ok(d.plaintext)
}

fn check_detached(crypto: &mut Crypto, data: &[u8], signature: &[u8]) {
    match verify_detached(data, signature, &crypto.learned) {
        Ok(checks) => crypto.checks.extend(checks),
        Err(_) => crypto.checks.push(SignatureCheck {
            status: SignatureStatus::Bad,
            issuer: None,
            signer: None,
            created: None,
            reason: Some("malformed signature".into()),
        }),
    }
}

/// The readable text of a body, with inline OpenPGP blocks replaced by
/// their decrypted or verified content. A block that cannot be opened stays
/// as it is (ciphertext, harmless) and the failure is recorded.
fn text_of(keyring: &Keyring, body: &Body, crypto: &mut Crypto, max: usize) -> String {
    let Some(text) = body.text() else {
        return String::new();
    };
    let html_fallback = match body {
        Body::Plain { html_as_text, .. } if text.trim().is_empty() => html_as_text.clone(),
        _ => None,
    };
    let mut out = text.to_owned();
    // Replace from the end so earlier ranges stay valid.
    for block in body.inline_pgp().iter().rev() {
        let replacement = match block.kind {
            InlinePgpKind::Encrypted => {
                crypto.encrypted = true;
                match decrypt_twice(keyring, &block.armored, crypto, max) {
                    Ok(p) => Some(String::from_utf8_lossy(&p).into_owned()),
                    Err(e) => {
                        crypto.fail(&e);
                        None
                    }
                }
            }
            InlinePgpKind::CleartextSigned => {
                match verify_inline(&block.armored, &crypto.learned, max) {
                    Ok(v) => {
                        crypto.checks.extend(v.signatures);
                        Some(String::from_utf8_lossy(&v.content).into_owned())
                    }
                    Err(_) => None,
                }
            }
        };
        if let Some(r) = replacement
            && block.start <= block.end
            && block.end <= out.len()
            && out.is_char_boundary(block.start)
            && out.is_char_boundary(block.end)
        {
            out.replace_range(block.start..block.end, &r);
        }
    }
    html_fallback.unwrap_or(out)
}

fn collect_attachments(
    keyring: &Keyring,
    list: &[embargo_mail::Attachment],
    crypto: &mut Crypto,
    max: usize,
    out: &mut Vec<NewAttachment>,
) {
    for a in list {
        match a.kind {
            AttachmentKind::EncryptedPgp => {
                crypto.encrypted = true;
                match decrypt_twice(keyring, &a.bytes, crypto, max) {
                    Ok(p) => out.push(NewAttachment {
                        filename: a.filename.as_deref().map(decrypted_name),
                        content_type: "application/octet-stream".into(),
                        content: p.to_vec(),
                    }),
                    Err(e) => {
                        // Kept as received (sealed like everything else),
                        // to retry once a key is added.
                        crypto.fail(&e);
                        out.push(NewAttachment {
                            filename: a.filename.clone(),
                            content_type: a.content_type.clone(),
                            content: a.bytes.clone(),
                        });
                    }
                }
            }
            AttachmentKind::PublicKeys | AttachmentKind::Regular => out.push(NewAttachment {
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
                content: a.bytes.clone(),
            }),
        }
    }
}

/// One verdict per message: good beats bad beats unknown-key beats none. A
/// good signature counts as the sender's only if the signer's certificate
/// carries the From address.
fn summarize(checks: &[SignatureCheck], certs: &[Cert], from: &str) -> Signature {
    let pick = |status: SignatureStatus| checks.iter().find(|c| c.status == status);
    let (status, check) = if let Some(c) = pick(SignatureStatus::Good) {
        (SigStatus::Good, Some(c))
    } else if let Some(c) = pick(SignatureStatus::Bad) {
        (SigStatus::Bad, Some(c))
    } else if let Some(c) = pick(SignatureStatus::UnknownKey) {
        (SigStatus::UnknownKey, Some(c))
    } else {
        (SigStatus::None, None)
    };
    let signer = check.and_then(|c| c.signer.clone().or_else(|| c.issuer.clone()));
    let matches_sender = status == SigStatus::Good
        && !from.is_empty()
        && check
            .and_then(|c| c.signer.as_deref())
            .and_then(|fpr| certs.iter().find(|k| cert_fingerprint(k) == fpr))
            .is_some_and(|cert| cert_has_email(cert, from));
    Signature {
        status,
        signer,
        matches_sender,
    }
}
