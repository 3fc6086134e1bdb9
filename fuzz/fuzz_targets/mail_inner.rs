//! `embargo_mail::parse_inner` (the decrypted PGP/MIME payload) on arbitrary
//! bytes. It never fails, so every input is walked.
#![no_main]

use embargo_mail::{AttachmentKind, Body, Limits, effective_subject, parse_inner};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let inner = parse_inner(data, &Limits::default());
    walk_body(&inner.body);
    // `keys` is documented as the bytes of every PublicKeys attachment.
    let keys: Vec<&[u8]> = inner
        .attachments
        .iter()
        .filter(|a| a.kind == AttachmentKind::PublicKeys)
        .map(|a| a.bytes.as_slice())
        .collect();
    assert_eq!(keys.len(), inner.keys.len());
    assert!(
        keys.iter()
            .zip(&inner.keys)
            .all(|(a, b)| *a == b.as_slice())
    );
    for a in &inner.attachments {
        if let Some(name) = &a.filename {
            assert!(
                !name.contains('/') && !name.contains('\\'),
                "path in filename"
            );
            assert!(
                !name.chars().any(char::is_control),
                "control char in filename"
            );
        }
    }
    let _ = effective_subject(Some("..."), &inner);
    let _ = format!("{inner:?}").len();
});

fn walk_body(body: &Body) {
    match body {
        Body::Plain {
            text, inline_pgp, ..
        } => {
            for block in inline_pgp {
                assert!(block.start < block.end && block.end <= text.len());
                assert!(text.is_char_boundary(block.start) && text.is_char_boundary(block.end));
                assert_eq!(
                    text.as_bytes().get(block.start..block.end),
                    Some(block.armored.as_slice())
                );
            }
        }
        Body::Signed { inner, .. } => walk_body(inner),
        Body::PgpMime { .. } => {}
    }
}
