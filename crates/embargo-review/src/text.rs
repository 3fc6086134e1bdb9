//! Small text helpers for mail bodies and Markdown.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// One line of untrusted text (a subject, an issue title): control
/// characters become spaces, runs of blanks collapse, at most `max` chars.
pub(crate) fn one_line(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut blank = false;
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c.is_whitespace() {
            if !blank && !out.is_empty() {
                out.push(' ');
            }
            blank = true;
            continue;
        }
        blank = false;
        if out.chars().count() >= max {
            out.push('…');
            return out;
        }
        out.push(c);
    }
    out.trim_end().to_owned()
}

/// Untrusted text for a Markdown table cell or list item: one line, with
/// the characters that would change the Markdown structure or inject HTML
/// escaped.
pub(crate) fn md(s: &str, max: usize) -> String {
    let line = one_line(s, max);
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out
}

/// `2026-03-01` (UTC).
pub(crate) fn day(t: Timestamp) -> String {
    t.to_zoned(TimeZone::UTC).strftime("%Y-%m-%d").to_string()
}

/// `2026-03-01 12:00 UTC`.
pub(crate) fn minute(t: Timestamp) -> String {
    t.to_zoned(TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%M UTC")
        .to_string()
}

/// Whole days from `from` to `to` (negative when `to` is earlier).
pub(crate) fn whole_days(from: Timestamp, to: Timestamp) -> i64 {
    to.as_millisecond()
        .saturating_sub(from.as_millisecond())
        .div_euclid(86_400_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_cleans_and_clips() {
        assert_eq!(one_line("a\r\n  b\tc", 80), "a b c");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("  x  ", 10), "x");
    }

    #[test]
    fn markdown_is_escaped() {
        assert_eq!(md("a|b <script>", 80), "a\\|b &lt;script&gt;");
        assert_eq!(md("[x](javascript:1)", 80), "\\[x\\](javascript:1)");
    }

    #[test]
    fn days() {
        let a: Timestamp = "2026-03-01T12:00:00Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let b: Timestamp = "2026-03-04T11:00:00Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        assert_eq!(whole_days(a, b), 2);
        assert_eq!(whole_days(b, a), -3);
        assert_eq!(day(a), "2026-03-01");
    }
}
