//! Acknowledgement texts: plain text with `{placeholder}`s.

use std::fmt;
use std::str::FromStr;

use crate::error::TemplateError;

/// The placeholders a template may use.
const PLACEHOLDERS: [&str; 4] = ["tracking_id", "response_days", "fingerprint", "key_url"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(&'static str),
}

/// A parsed template: literal text and the placeholders `{tracking_id}`,
/// `{response_days}`, `{fingerprint}` and `{key_url}`. `{{` and `}}`
/// stand for literal braces. Unknown placeholders are refused when the
/// template is parsed (at configuration time), not when it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// The values substituted into a [`Template`].
#[derive(Debug, Clone, Copy)]
pub struct TemplateVars<'a> {
    /// `{tracking_id}`, e.g. `SEC-2026-0001`.
    pub tracking_id: &'a str,
    /// `{response_days}`: the promised time to a first answer.
    pub response_days: u32,
    /// `{fingerprint}`: the team key's fingerprint, in groups of four.
    pub fingerprint: &'a str,
    /// `{key_url}`: where the team key can be fetched.
    pub key_url: &'a str,
}

impl Template {
    /// Parses a template.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let mut offset = 0usize;
        while let Some(pos) = rest.find(['{', '}']) {
            let (before, from) = rest.split_at(pos);
            literal.push_str(before);
            let at = offset + pos;
            if let Some(after) = from.strip_prefix("{{") {
                literal.push('{');
                offset = at + 2;
                rest = after;
            } else if let Some(after) = from.strip_prefix("}}") {
                literal.push('}');
                offset = at + 2;
                rest = after;
            } else if let Some(after) = from.strip_prefix('{') {
                let end = after.find('}').ok_or(TemplateError::Unbalanced(at))?;
                let (name, tail) = after.split_at(end);
                let var = PLACEHOLDERS
                    .iter()
                    .copied()
                    .find(|p| *p == name)
                    .ok_or_else(|| TemplateError::UnknownPlaceholder {
                        name: name.chars().take(64).collect(),
                    })?;
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Var(var));
                // `tail` starts with the closing brace.
                rest = tail.get(1..).unwrap_or("");
                offset = at + 1 + end + 1;
            } else {
                return Err(TemplateError::Unbalanced(at));
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    /// Whether the template uses `{name}`.
    pub fn uses(&self, name: &str) -> bool {
        self.pieces
            .iter()
            .any(|p| matches!(p, Piece::Var(v) if *v == name))
    }

    /// Substitutes the placeholders.
    pub fn render(&self, vars: &TemplateVars<'_>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var("tracking_id") => out.push_str(vars.tracking_id),
                Piece::Var("response_days") => out.push_str(&vars.response_days.to_string()),
                Piece::Var("fingerprint") => out.push_str(vars.fingerprint),
                Piece::Var(_) => out.push_str(vars.key_url),
            }
        }
        out
    }
}

impl FromStr for Template {
    type Err = TemplateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Template::parse(s)
    }
}

impl fmt::Display for Template {
    /// The template source (braces escaped again).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => f.write_str(&t.replace('{', "{{").replace('}', "}}"))?,
                Piece::Var(v) => write!(f, "{{{v}}}")?,
            }
        }
        Ok(())
    }
}

/// The default acknowledgement for a reporter whose key we know (it is
/// sent encrypted).
pub const DEFAULT_ENCRYPTED_ACK: &str = "\
Hello,

thank you for your report. We received it and filed it as {tracking_id}.

The security team will get back to you within {response_days} days.
Please keep \"[{tracking_id}]\" in the subject of every message about this
report, and keep encrypting to our key:

  Fingerprint: {fingerprint}

This acknowledgement was sent automatically; it does not repeat the
content of your report.
";

/// The default acknowledgement for a reporter whose key we do not know
/// (it is sent in the clear, and explains how to encrypt).
pub const DEFAULT_PLAINTEXT_ACK: &str = "\
Hello,

thank you for your report. We received it and filed it as {tracking_id}.

The security team will get back to you within {response_days} days.
Please keep \"[{tracking_id}]\" in the subject of every message about this
report.

Please encrypt everything you send us about it with OpenPGP, to the
security team's key:

  Fingerprint: {fingerprint}
  Key:         {key_url}

Your mail client may also pick the key up from the Autocrypt header of
this message. Attach your own public key (or publish it by WKD) so that
we can answer you encrypted.

This acknowledgement was sent automatically and unencrypted; it does not
repeat the content of your report.
";

/// Appended to a custom plaintext template that does not mention the key
/// fingerprint, so that every plaintext acknowledgement says how to
/// encrypt.
pub(crate) const HOW_TO_ENCRYPT: &str = "
To encrypt your messages to the security team, use the OpenPGP key
  Fingerprint: {fingerprint}
  Key:         {key_url}
";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn vars() -> TemplateVars<'static> {
        TemplateVars {
            tracking_id: "SEC-2026-0001",
            response_days: 7,
            fingerprint: "ABCD 1234",
            key_url: "https://example.org/key.asc",
        }
    }

    #[test]
    fn renders_all_placeholders_and_escapes() {
        let t = Template::parse(
            "{tracking_id}/{response_days}/{fingerprint}/{key_url} {{literal}} }}{{",
        )
        .unwrap();
        assert_eq!(
            t.render(&vars()),
            "SEC-2026-0001/7/ABCD 1234/https://example.org/key.asc {literal} }{"
        );
        assert!(t.uses("key_url"));
        assert_eq!(Template::parse(&t.to_string()).unwrap(), t);
    }

    #[test]
    fn refuses_unknown_and_unbalanced() {
        assert_eq!(
            Template::parse("hi {reporter}"),
            Err(TemplateError::UnknownPlaceholder {
                name: "reporter".into()
            })
        );
        assert_eq!(Template::parse("a { b"), Err(TemplateError::Unbalanced(2)));
        assert_eq!(Template::parse("a } b"), Err(TemplateError::Unbalanced(2)));
        assert!(Template::parse("").unwrap().render(&vars()).is_empty());
    }

    #[test]
    fn defaults_parse() {
        let enc = Template::parse(DEFAULT_ENCRYPTED_ACK).unwrap();
        let plain = Template::parse(DEFAULT_PLAINTEXT_ACK).unwrap();
        assert!(plain.uses("fingerprint") && plain.uses("key_url"));
        assert!(enc.uses("response_days") && plain.uses("response_days"));
        Template::parse(HOW_TO_ENCRYPT).unwrap();
    }
}
