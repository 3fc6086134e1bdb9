//! Property tests: arbitrary bytes, mutated corpus messages and random MIME
//! skeletons never make parsing (or an LMTP session) panic, and what comes
//! out is consistent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code: failing loudly is the point

use std::sync::OnceLock;

use embargo_mail::lmtp::{Deliver, Envelope, LmtpLimits, RcptOutcome, session};
use embargo_mail::{Body, Inbound, Limits, MailError, parse, parse_inner};
use proptest::prelude::*;

const SEEDS: &[&str] = &[
    "pgp-mime/notmuch/crypto/basic-encrypted.eml",
    "pgp-mime/schleuder/signed-mime/thunderbird.eml",
    "pgp-mime/schleuder/encrypted-inline/thunderbird.eml",
    "pgp-mime/deltachat/thunderbird_with_autocrypt.eml",
    "pgp-mime/deltachat/google-workspace-mixed-up.eml",
    "pgp-mime/autocrypt-protected-headers/unfortunately-complex.inner",
    "pgp-mime/autocrypt-protected-headers/pgpmime-enc+legacy-disp.inner",
    "mime/deltachat/dsn_relayed.eml",
    "mime/crymap/torture-test.eml",
    "mime/mikel-mail/multi_charset/japanese_iso_2022.eml",
    "mime/deltachat/text_alt_html.eml",
    "mime/mikel-mail/mime_emails/raw_email_with_nested_attachment.eml",
];

fn seeds() -> &'static Vec<Vec<u8>> {
    static SEEDS_DATA: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS_DATA.get_or_init(|| {
        SEEDS
            .iter()
            .map(|rel| std::fs::read(format!("/work/shared/corpus/{rel}")).unwrap())
            .collect()
    })
}

/// PROPTEST_CASES overrides the default number of cases.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn small_limits() -> Limits {
    Limits {
        max_bytes: 1 << 20,
        max_depth: 4,
        max_parts: 20,
    }
}

/// Invariants of any successful parse.
fn check(m: &Inbound) {
    fn check_body(body: &Body) {
        match body {
            Body::Plain {
                text, inline_pgp, ..
            } => {
                for block in inline_pgp {
                    assert!(block.start < block.end && block.end <= text.len());
                    assert!(text.is_char_boundary(block.start) && text.is_char_boundary(block.end));
                    assert_eq!(
                        &text.as_bytes()[block.start..block.end],
                        block.armored.as_slice()
                    );
                }
            }
            Body::Signed {
                signed_part_raw,
                inner,
                ..
            } => {
                assert!(
                    !signed_part_raw
                        .windows(2)
                        .any(|w| w[1] == b'\n' && w[0] != b'\r')
                );
                check_body(inner);
            }
            Body::PgpMime { .. } => {}
        }
    }
    check_body(&m.body);
    if let Some(from) = &m.from
        && let Some((_, domain)) = from.rsplit_once('@')
    {
        assert_eq!(domain, domain.to_lowercase());
    }
    for a in &m.attachments {
        if let Some(name) = &a.filename {
            assert!(
                !name.contains('/') && !name.contains('\\') && !name.chars().any(char::is_control)
            );
        }
    }
}

fn parse_and_check(raw: &[u8], limits: &Limits) {
    match parse(raw, limits) {
        Ok(m) => check(&m),
        Err(MailError::TooLarge { size, max }) => assert!(size > max),
        Err(MailError::NotEmail) => {}
    }
    let inner = parse_inner(raw, limits);
    check_body_of_inner(&inner.body);
}

fn check_body_of_inner(body: &Body) {
    if let Body::Plain {
        text, inline_pgp, ..
    } = body
    {
        for b in inline_pgp {
            assert_eq!(&text.as_bytes()[b.start..b.end], b.armored.as_slice());
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Duplicate(usize, usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let tokens = prop::sample::select(vec![
        &b"\r\n"[..],
        b"\n",
        b"--",
        b"\r\n\r\n",
        b"Content-Type: multipart/mixed; boundary=",
        b"Content-Type: message/rfc822\r\n\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"=?utf-8?b?",
        b"?=",
        b"=\r\n",
        b"=3D",
        b"\x00",
        b"\xff\xfe",
        b"-----BEGIN PGP MESSAGE-----\n",
        b"-----END PGP MESSAGE-----\n",
        b"<html><p>&amp;&#x110000;",
        b"protected-headers=\"v1\"",
        b";",
        b"\"",
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (
            any::<usize>(),
            prop_oneof![
                tokens.prop_map(|t| t.to_vec()),
                prop::collection::vec(any::<u8>(), 0..16)
            ]
        )
            .prop_map(|(p, v)| Mutation::Insert(p, v)),
        (any::<usize>(), 0usize..200).prop_map(|(p, n)| Mutation::Delete(p, n)),
        (any::<usize>(), 0usize..200, any::<usize>())
            .prop_map(|(a, n, b)| Mutation::Duplicate(a, n, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(data: &mut Vec<u8>, m: &Mutation) {
    let len = data.len().max(1);
    match m {
        Mutation::Flip(p, b) => {
            if !data.is_empty() {
                let i = p % data.len();
                data[i] ^= b;
            }
        }
        Mutation::Insert(p, v) => {
            let i = p % (data.len() + 1);
            data.splice(i..i, v.iter().copied());
        }
        Mutation::Delete(p, n) => {
            let i = p % len;
            let end = (i + n).min(data.len());
            if i < end {
                data.drain(i..end);
            }
        }
        Mutation::Duplicate(a, n, b) => {
            let i = a % len;
            let end = (i + n).min(data.len());
            if i < end {
                let chunk = data[i..end].to_vec();
                let at = b % (data.len() + 1);
                data.splice(at..at, chunk);
            }
        }
        Mutation::Truncate(p) => {
            let keep = p % (data.len() + 1);
            data.truncate(keep);
        }
    }
}

/// A random MIME skeleton: headers, boundaries and bodies from a small
/// vocabulary so that structure actually forms.
fn skeleton() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop::sample::select(vec![
        "From: a@Example.ORG\r\n",
        "Subject: =?utf-8?q?caf=C3=A9?= \u{202e}\r\n",
        "Content-Type: multipart/mixed; boundary=\"a\"\r\n",
        "Content-Type: multipart/mixed; boundary=b\r\n",
        "Content-Type: multipart/alternative; boundary=\"a\"\r\n",
        "Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=\"s\"\r\n",
        "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"e\"\r\n",
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"a\"\r\n",
        "Content-Type: multipart/digest; boundary=\"d\"\r\n",
        "Content-Type: message/rfc822\r\n",
        "Content-Type: message/delivery-status\r\n",
        "Content-Type: text/plain; charset=iso-2022-jp; protected-headers=\"v1\"\r\n",
        "Content-Type: text/html; charset=utf-8\r\n",
        "Content-Type: application/octet-stream; name=\"x.txt.pgp\"\r\n",
        "Content-Type: application/pgp-encrypted\r\n",
        "Content-Type: application/pgp-signature\r\n",
        "Content-Type: application/pgp-keys\r\n",
        "Content-Disposition: attachment; filename*=utf-8''..%2F..%2Fevil\r\n",
        "Content-Transfer-Encoding: base64\r\n",
        "Content-Transfer-Encoding: quoted-printable\r\n",
        "Autocrypt: addr=a@example.org; keydata=xjMEXlh13RYJKwYBBAHaRw8BAQdA\r\n",
        "Auto-Submitted: auto-replied\r\n",
        "\r\n",
        "--a\r\n",
        "--a--\r\n",
        "--b\r\n",
        "--s\r\n",
        "--s--\r\n",
        "--e\r\n",
        "--d\r\n",
        "Version: 1\r\n",
        "aGVsbG8gd29ybGQ=\r\n",
        "hello =3D world=\r\n",
        "-----BEGIN PGP MESSAGE-----\r\n",
        "-----END PGP MESSAGE-----\r\n",
        "-----BEGIN PGP SIGNED MESSAGE-----\r\n",
        "-----BEGIN PGP SIGNATURE-----\r\n",
        "-----END PGP SIGNATURE-----\r\n",
        "<p>x &amp; y</p>\r\n",
        "Subject: inner\r\n",
    ]);
    prop::collection::vec(piece, 0..60).prop_map(|pieces| {
        let mut out = b"From: start@example.org\r\n".to_vec();
        for p in pieces {
            out.extend_from_slice(p.as_bytes());
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        parse_and_check(&data, &Limits::default());
    }

    #[test]
    fn arbitrary_bytes_after_a_header(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        let mut raw = b"From: a@b.example\r\n".to_vec();
        raw.extend_from_slice(&data);
        parse_and_check(&raw, &small_limits());
    }

    #[test]
    fn mutated_corpus_messages(
        seed in 0..SEEDS.len(),
        mutations in prop::collection::vec(mutation(), 1..12),
    ) {
        let mut data = seeds()[seed].clone();
        for m in &mutations {
            apply(&mut data, m);
        }
        parse_and_check(&data, &Limits::default());
        parse_and_check(&data, &small_limits());
    }

    #[test]
    fn random_mime_skeletons(raw in skeleton()) {
        parse_and_check(&raw, &Limits::default());
        parse_and_check(&raw, &small_limits());
    }
}

struct Sink;

impl Deliver for Sink {
    async fn deliver(&self, envelope: &Envelope, raw: Vec<u8>) -> Vec<RcptOutcome> {
        assert!(raw.len() <= 2048);
        assert!(!envelope.rcpt_to.is_empty());
        vec![RcptOutcome::Accepted]
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(128), ..ProptestConfig::default() })]

    #[test]
    fn lmtp_never_panics(chunks in prop::collection::vec(
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            prop::sample::select(vec![
                &b"LHLO x\r\n"[..], b"MAIL FROM:<a@b.c> SIZE=10\r\n", b"RCPT TO:<d@e.f>\r\n",
                b"DATA\r\n", b".\r\n", b"..\r\n", b"\r\n", b"RSET\r\n", b"QUIT\r\n", b"\n.\n",
                b"BDAT 10 LAST\r\n", b"STARTTLS\r\n", b"AUTH PLAIN\r\n",
            ]).prop_map(|s| s.to_vec()),
        ],
        0..40,
    )) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let limits = LmtpLimits { max_bytes: 2048, max_line: 256, ..LmtpLimits::default() };
            let (mut client, server) = tokio::io::duplex(1 << 16);
            let server_task = session(server, "mx", &limits, &Sink);
            let client_task = async move {
                for c in chunks {
                    if client.write_all(&c).await.is_err() {
                        break;
                    }
                }
                let _ = client.shutdown().await;
                let mut out = Vec::new();
                let _ = client.read_to_end(&mut out).await;
                out
            };
            let (result, out) = tokio::join!(server_task, client_task);
            assert!(result.is_ok());
            assert!(out.starts_with(b"220 "));
        });
    }
}
