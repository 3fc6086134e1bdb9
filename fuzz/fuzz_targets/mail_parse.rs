//! `embargo_mail::parse` on arbitrary bytes; every successful result is
//! walked and checked against the invariants the crate documents.
#![no_main]

use embargo_mail::{
    Body, Inbound, Limits, MailError, decrypted_name, effective_subject, is_placeholder_subject,
    looks_like_openpgp_message, parse,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    match parse(data, &limits) {
        Ok(m) => walk(&m, data),
        Err(MailError::TooLarge { size, max }) => assert!(size > max),
        Err(MailError::NotEmail) => {}
    }
});

fn walk(m: &Inbound, raw: &[u8]) {
    assert_eq!(m.size, raw.len());
    walk_body(&m.body);
    // The accessors look through signature layers.
    let _ = m.body.text().map(str::len);
    let _ = m.body.inline_pgp().len();
    let _ = m.suppress_auto_response();

    for addr in m.from.iter().chain(&m.reply_to) {
        if let Some((_, domain)) = addr.rsplit_once('@') {
            assert_eq!(domain, domain.to_lowercase(), "domain not lowercased");
        }
    }
    if let Some(subject) = &m.subject {
        let _ = is_placeholder_subject(subject);
    }
    for a in &m.attachments {
        if let Some(name) = &a.filename {
            assert!(
                !name.contains('/') && !name.contains('\\'),
                "path in filename"
            );
            assert!(
                !name.chars().any(char::is_control),
                "control char in filename"
            );
            assert!(name.len() <= 255, "filename over 255 bytes");
            let plain = decrypted_name(name);
            assert!(plain.len() <= name.len());
        }
        let _ = looks_like_openpgp_message(&a.bytes);
    }
    if let Some(ac) = &m.autocrypt {
        assert!(!ac.addr.is_empty());
    }
    // The subject logic as used for PGP/MIME, with an empty inner part.
    if let Body::PgpMime { encrypted } = &m.body {
        let _ = looks_like_openpgp_message(encrypted);
        let inner = embargo_mail::parse_inner(b"", &Limits::default());
        let _ = effective_subject(m.subject.as_deref(), &inner);
    }
    // Debug-format everything once: touches every field.
    let _ = format!("{m:?}").len();
}

fn walk_body(body: &Body) {
    match body {
        Body::Plain {
            text,
            html_as_text,
            inline_pgp,
        } => {
            let mut prev_end = 0;
            for block in inline_pgp {
                assert!(block.start < block.end && block.end <= text.len());
                assert!(
                    block.start >= prev_end,
                    "inline blocks overlap or are out of order"
                );
                prev_end = block.end;
                assert!(text.is_char_boundary(block.start) && text.is_char_boundary(block.end));
                assert_eq!(
                    text.as_bytes().get(block.start..block.end),
                    Some(block.armored.as_slice())
                );
            }
            let _ = html_as_text.as_deref().map(str::len);
        }
        Body::Signed {
            signed_part_raw,
            signature,
            inner,
        } => {
            // Canonicalised to CRLF.
            assert!(
                !signed_part_raw
                    .windows(2)
                    .any(|w| w.get(1) == Some(&b'\n') && w.first() != Some(&b'\r')),
                "bare LF in signed_part_raw"
            );
            let _ = signature.len();
            walk_body(inner);
        }
        Body::PgpMime { encrypted } => {
            let _ = encrypted.len();
        }
    }
}
