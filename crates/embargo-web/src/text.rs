//! Text from reports made safe to show and to name files with.
//!
//! Escaping is the templates' job; this module handles what escaping does
//! not: characters that reorder or hide text (bidi overrides and isolates,
//! zero-width characters) and control characters are replaced by a visible
//! `[U+XXXX]` marker, so `evil\u{202E}fdp.exe` cannot pose as `evilexe.pdf`.

/// Whether `c` changes how surrounding text is ordered or hides itself.
fn is_deceptive(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{206A}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E007F}')
}

fn push_marker(out: &mut String, c: char) {
    out.push_str("[U+");
    out.push_str(&format!("{:04X}", u32::from(c)));
    out.push(']');
}

/// Multi-line text (a message body): newlines and tabs stay, `\r` goes,
/// other control and deceptive characters become markers.
pub fn display_block(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => {}
            c if c.is_control() || is_deceptive(c) => push_marker(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// One-line text (subject, address, file name): every control and
/// deceptive character becomes a marker, and the result is cut at
/// `max_chars` (with an ellipsis).
pub fn display_line(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 4));
    for (n, c) in s.chars().enumerate() {
        if n >= max_chars {
            out.push('…');
            break;
        }
        if c.is_control() || is_deceptive(c) {
            push_marker(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// A file name safe for `Content-Disposition`: the last path component,
/// without control, deceptive, quote, separator or reserved characters,
/// at most 120 characters; `attachment.bin` when nothing is left.
pub fn safe_filename(name: Option<&str>) -> String {
    let base = name.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let mut out = String::new();
    for c in base.chars() {
        if out.chars().count() >= 120 {
            break;
        }
        let bad = c.is_control()
            || is_deceptive(c)
            || matches!(
                c,
                '"' | '\'' | ';' | ':' | '*' | '?' | '<' | '>' | '|' | '%' | '`' | '$'
            );
        out.push(if bad { '_' } else { c });
    }
    let trimmed = out.trim_matches(|c: char| c == '.' || c.is_whitespace());
    if trimmed.is_empty() {
        "attachment.bin".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// The ASCII fallback of a safe file name (`filename="…"`).
pub fn ascii_filename(safe: &str) -> String {
    safe.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// RFC 5987 `ext-value` of a file name: `UTF-8''` and percent-encoding of
/// everything outside `attr-char`.
pub fn rfc5987(safe: &str) -> String {
    let mut out = String::from("UTF-8''");
    for b in safe.bytes() {
        let attr_char = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if attr_char {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a query-string value (`application/x-www-form-urlencoded`).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_and_controls_become_visible() {
        assert_eq!(
            display_line("evil\u{202E}fdp.exe", 100),
            "evil[U+202E]fdp.exe"
        );
        assert_eq!(display_line("a\u{0}b\u{7}c", 100), "a[U+0000]b[U+0007]c");
        assert_eq!(display_block("l1\r\nl2\tx\u{2067}"), "l1\nl2\tx[U+2067]");
        assert_eq!(display_line("abcdef", 3), "abc…");
    }

    #[test]
    fn filenames() {
        assert_eq!(safe_filename(Some("../../etc/passwd")), "passwd");
        assert_eq!(safe_filename(Some("C:\\x\\poc.pdf")), "poc.pdf");
        assert_eq!(
            safe_filename(Some("a\"b;c\r\n\u{202E}d.txt")),
            "a_b_c___d.txt"
        );
        assert_eq!(safe_filename(Some("...")), "attachment.bin");
        assert_eq!(safe_filename(None), "attachment.bin");
        assert_eq!(ascii_filename("rapport-é.pdf"), "rapport-_.pdf");
        assert_eq!(rfc5987("rapport é.pdf"), "UTF-8''rapport%20%C3%A9.pdf");
        assert_eq!(url_encode("a b&c=d"), "a%20b%26c%3Dd");
    }
}
