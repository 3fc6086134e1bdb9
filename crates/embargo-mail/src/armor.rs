//! Recognising OpenPGP data without decoding it: inline armor blocks in text,
//! encrypted attachments, attached keys.

use crate::{AttachmentKind, Flag, InlinePgp, InlinePgpKind, push_flag};

/// At most this many inline blocks are reported per text.
const MAX_INLINE_BLOCKS: usize = 1000;

const BEGIN_MESSAGE: &str = "-----BEGIN PGP MESSAGE-----";
const END_MESSAGE: &str = "-----END PGP MESSAGE-----";
const BEGIN_SIGNED: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const END_SIGNATURE: &str = "-----END PGP SIGNATURE-----";

/// One line of a text: where it starts, and its content without the line
/// ending and trailing blanks.
struct Line<'a> {
    start: usize,
    content: &'a str,
}

fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    let mut pos = 0;
    text.split_inclusive('\n').map(move |raw| {
        let start = pos;
        pos += raw.len();
        Line {
            start,
            content: raw.trim_end_matches(['\n', '\r', ' ', '\t']),
        }
    })
}

/// Armored blocks at line starts, in two linear passes: the first finds the
/// last END line of each kind, so a BEGIN that can never be closed is skipped
/// without searching.
pub(crate) fn find_inline(text: &str, flags: &mut Vec<Flag>) -> Vec<InlinePgp> {
    let mut last_end_message = None;
    let mut last_end_signature = None;
    for line in lines(text) {
        match line.content {
            END_MESSAGE => last_end_message = Some(line.start),
            END_SIGNATURE => last_end_signature = Some(line.start),
            _ => {}
        }
    }

    let mut found = Vec::new();
    let mut iter = lines(text);
    while let Some(line) = iter.next() {
        let (kind, end_marker, last_end) = match line.content {
            BEGIN_MESSAGE => (InlinePgpKind::Encrypted, END_MESSAGE, last_end_message),
            BEGIN_SIGNED => (
                InlinePgpKind::CleartextSigned,
                END_SIGNATURE,
                last_end_signature,
            ),
            _ => continue,
        };
        if last_end.is_none_or(|end| end <= line.start) {
            continue; // never closed
        }
        let Some(end) = iter
            .by_ref()
            .find(|next| next.content == end_marker)
            .map(|next| next.start + next.content.len())
        else {
            break;
        };
        if found.len() >= MAX_INLINE_BLOCKS {
            push_flag(flags, Flag::TooManyInlineBlocks);
            break;
        }
        if let Some(block) = text.get(line.start..end) {
            found.push(InlinePgp {
                kind,
                start: line.start,
                end,
                armored: block.as_bytes().to_vec(),
            });
        }
    }
    found
}

fn skip_leading_whitespace(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

fn is_armored(bytes: &[u8], header: &[u8]) -> bool {
    skip_leading_whitespace(bytes).starts_with(header)
}

/// True when `bytes` start like an OpenPGP message: ASCII armor, or a binary
/// packet header for a public-key or symmetric-key encrypted session key
/// (RFC 9580 tags 1 and 3, old or new format) or a marker packet (tag 10).
pub fn looks_like_openpgp_message(bytes: &[u8]) -> bool {
    is_armored(bytes, b"-----BEGIN PGP MESSAGE") || starts_with_esk_packet(bytes)
}

fn starts_with_esk_packet(bytes: &[u8]) -> bool {
    matches!(
        bytes.first(),
        // old format: 0b10_tttt_ll
        Some(0x84..=0x87 | 0x8c..=0x8f | 0xa8..=0xab)
        // new format: 0b11_tttttt
        | Some(0xc1 | 0xc3 | 0xca)
    )
}

fn starts_with_key_packet(bytes: &[u8]) -> bool {
    // Public-key packet, tag 6: old format 0x98..=0x9b, new format 0xc6.
    matches!(bytes.first(), Some(0x98..=0x9b | 0xc6))
}

fn has_pgp_suffix(name: &str) -> bool {
    pgp_suffix_len(name).is_some()
}

fn pgp_suffix_len(name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    [".pgp", ".gpg", ".asc"]
        .iter()
        .find(|s| lower.ends_with(*s))
        .map(|s| s.len())
}

pub(crate) fn classify(filename: Option<&str>, content_type: &str, bytes: &[u8]) -> AttachmentKind {
    let pgp_name = filename.is_some_and(has_pgp_suffix);
    if content_type == "application/pgp-keys"
        || is_armored(bytes, b"-----BEGIN PGP PUBLIC KEY BLOCK-----")
        || (pgp_name && starts_with_key_packet(bytes))
    {
        return AttachmentKind::PublicKeys;
    }
    if is_armored(bytes, b"-----BEGIN PGP MESSAGE") {
        return AttachmentKind::EncryptedPgp;
    }
    let pgp_type = matches!(
        content_type,
        "application/pgp-encrypted" | "application/octet-stream" | "application/pgp"
    );
    if (pgp_name || pgp_type) && starts_with_esk_packet(bytes) {
        return AttachmentKind::EncryptedPgp;
    }
    AttachmentKind::Regular
}

/// The file name for the plaintext of an encrypted attachment: the `.pgp`,
/// `.gpg` or `.asc` suffix removed (`"x.txt.pgp"` → `"x.txt"`). Names without
/// such a suffix, or that would become empty, are returned unchanged.
pub fn decrypted_name(name: &str) -> String {
    match pgp_suffix_len(name) {
        Some(len) if name.len() > len => name
            .get(..name.len() - len)
            .map_or_else(|| name.to_string(), str::to_string),
        _ => name.to_string(),
    }
}

/// A file name safe to show and to offer as a download name: the last path
/// component, without control characters, at most 255 bytes.
pub(crate) fn sanitize_filename(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut clean: String = last.chars().filter(|c| !c.is_control()).collect();
    let trimmed = clean.trim();
    if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
        return None;
    }
    clean = trimmed.to_string();
    if clean.len() > 255 {
        let mut cut = 255;
        while !clean.is_char_boundary(cut) {
            cut -= 1;
        }
        clean.truncate(cut);
    }
    Some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decrypted_names() {
        assert_eq!(decrypted_name("x.txt.pgp"), "x.txt");
        assert_eq!(decrypted_name("report.PDF.GPG"), "report.PDF");
        assert_eq!(decrypted_name("key.asc"), "key");
        assert_eq!(decrypted_name(".pgp"), ".pgp");
        assert_eq!(decrypted_name("plain.txt"), "plain.txt");
        assert_eq!(decrypted_name("ünïcødé.pgp"), "ünïcødé");
    }

    #[test]
    fn inline_blocks_with_positions() {
        let text = "Hi,\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nhQEM\r\n-----END PGP MESSAGE-----\r\nbye\n\
                    -----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nsigned\n-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n";
        let mut flags = Vec::new();
        let blocks = find_inline(text, &mut flags);
        assert_eq!(blocks.len(), 2);
        let first = &blocks[0];
        assert_eq!(first.kind, InlinePgpKind::Encrypted);
        assert_eq!(
            &text[first.start..first.end],
            "-----BEGIN PGP MESSAGE-----\r\n\r\nhQEM\r\n-----END PGP MESSAGE-----"
        );
        assert_eq!(first.armored, &text.as_bytes()[first.start..first.end]);
        assert_eq!(blocks[1].kind, InlinePgpKind::CleartextSigned);
        assert!(text[blocks[1].start..blocks[1].end].ends_with(END_SIGNATURE));
    }

    #[test]
    fn unterminated_and_quoted_blocks_are_ignored() {
        let mut flags = Vec::new();
        assert!(
            find_inline(
                "> -----BEGIN PGP MESSAGE-----\n> x\n> -----END PGP MESSAGE-----\n",
                &mut flags
            )
            .is_empty()
        );
        assert!(find_inline("-----BEGIN PGP MESSAGE-----\nabc\n", &mut flags).is_empty());
        let text = "-----BEGIN PGP SIGNED MESSAGE-----\nx\n-----BEGIN PGP MESSAGE-----\ny\n-----END PGP MESSAGE-----\n";
        let blocks = find_inline(text, &mut flags);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].kind, InlinePgpKind::Encrypted);
    }

    #[test]
    fn attachment_kinds() {
        use AttachmentKind::*;
        assert_eq!(
            classify(Some("a.pgp"), "application/octet-stream", &[0x85, 1, 2]),
            EncryptedPgp
        );
        assert_eq!(
            classify(Some("a.bin"), "application/octet-stream", &[0xc1, 1]),
            EncryptedPgp
        );
        assert_eq!(classify(Some("a.jpg"), "image/jpeg", &[0x84, 1]), Regular);
        assert_eq!(
            classify(None, "text/plain", b"\n-----BEGIN PGP MESSAGE-----\n"),
            EncryptedPgp
        );
        assert_eq!(
            classify(
                Some("k.asc"),
                "text/plain",
                b"-----BEGIN PGP PUBLIC KEY BLOCK-----"
            ),
            PublicKeys
        );
        assert_eq!(
            classify(None, "application/pgp-keys", b"\x99\x01"),
            PublicKeys
        );
        assert_eq!(
            classify(
                Some("s.asc"),
                "application/pgp-signature",
                b"-----BEGIN PGP SIGNATURE-----"
            ),
            Regular
        );
    }

    #[test]
    fn filenames_are_sanitized() {
        assert_eq!(
            sanitize_filename("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            sanitize_filename("C:\\x\\evil\u{0}.exe").as_deref(),
            Some("evil.exe")
        );
        assert_eq!(sanitize_filename(" .. "), None);
        assert_eq!(
            sanitize_filename("a\u{202e}txt.exe").as_deref(),
            Some("a\u{202e}txt.exe")
        );
    }
}
