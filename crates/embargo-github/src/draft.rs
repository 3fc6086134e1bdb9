//! Rendering an agreed advisory into the public issue: title, body, labels.
//!
//! The body ends with a hidden marker line, `<!-- embargo:TRACKING-ID -->`,
//! by which [`crate::Client::find_by_marker`] recognises the issue later.
//! Every piece of text that comes from people (title, versions, advisory,
//! credit) is neutralised so that it can never contain `<!--`: no forged
//! marker line, and no HTML comment that would hide the rest of the body.

use std::fmt;

use embargo_domain::{Severity, TrackingId};

/// The label every published issue carries.
pub const SECURITY_LABEL: &str = "security";

/// GitHub's limit on an issue body, in characters.
pub const MAX_BODY_CHARS: usize = 65_536;

/// GitHub's limit on an issue title, in characters.
pub const MAX_TITLE_CHARS: usize = 256;

/// The title of a placeholder issue, after `[TRACKING-ID] `.
pub const PLACEHOLDER_TITLE: &str = "Security issue under embargo";

/// The whole text of a placeholder issue (before the marker).
pub const PLACEHOLDER_TEXT: &str = "This issue stands for a security issue that was reported to the project privately and is under embargo.\n\n\
When the embargo ends, the advisory (details, affected and fixed versions, severity and credit) replaces this text. \
Until then, nothing on this issue describes the vulnerability.";

/// What the team agreed to publish. Plain data; `Debug` shows no text.
#[derive(Clone)]
pub struct Advisory {
    pub tracking_id: TrackingId,
    pub title: String,
    pub severity: Severity,
    /// Free text, e.g. `< 2.3.1` or a Markdown list.
    pub affected_versions: String,
    pub fixed_versions: String,
    pub advisory_markdown: String,
    /// `None` (or blank): the reporter stays anonymous.
    pub credit: Option<String>,
    /// `CVE-YYYY-NNNN…`; `None` (or blank) when none is assigned.
    pub cve: Option<String>,
}

impl fmt::Debug for Advisory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Advisory")
            .field("tracking_id", &self.tracking_id.to_string())
            .field("severity", &self.severity)
            .field("cve", &self.cve)
            .field("advisory_len", &self.advisory_markdown.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DraftError {
    #[error("CVE ID must look like CVE-YYYY-NNNN (four or more digits)")]
    InvalidCve,
    #[error("advisory title is empty")]
    EmptyTitle,
    #[error("rendered issue body has {chars} characters, over GitHub's limit of {MAX_BODY_CHARS}")]
    BodyTooLong { chars: usize },
}

/// A rendered issue, ready to create or update. Built only by
/// [`IssueDraft::render`], so the body always ends with the one real marker.
#[derive(Clone, PartialEq, Eq)]
pub struct IssueDraft {
    tracking_id: TrackingId,
    title: String,
    body: String,
    labels: Vec<String>,
}

impl fmt::Debug for IssueDraft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssueDraft")
            .field("tracking_id", &self.tracking_id.to_string())
            .field("labels", &self.labels)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The hidden marker line for a tracking ID: `<!-- embargo:KF-2026-0042 -->`.
pub fn marker_line(id: &TrackingId) -> String {
    format!("<!-- embargo:{id} -->")
}

/// Whether `body` holds the exact marker line for `id` (a line of its own,
/// surrounding whitespace ignored).
pub fn body_has_marker(body: &str, id: &TrackingId) -> bool {
    let marker = marker_line(id);
    body.lines().any(|line| line.trim() == marker)
}

impl IssueDraft {
    /// Renders `advisory`; labels are `security` followed by `wg_labels`,
    /// blanks dropped, duplicates (case-insensitive, as GitHub compares
    /// label names) removed.
    pub fn render<L: AsRef<str>>(advisory: &Advisory, wg_labels: &[L]) -> Result<Self, DraftError> {
        let id = &advisory.tracking_id;
        let cve = advisory
            .cve
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        let cve = cve.map(normalise_cve).transpose()?;

        let title = one_line(&advisory.title);
        if title.is_empty() {
            return Err(DraftError::EmptyTitle);
        }
        let title = truncate_chars(&format!("[{id}] {title}"), MAX_TITLE_CHARS);

        let credit = advisory
            .credit
            .as_deref()
            .map(one_line)
            .filter(|c| !c.is_empty());

        let mut body = String::new();
        body.push_str(&format!("## Security advisory {id}\n\n"));
        body.push_str(&format!(
            "- **Severity:** {}\n",
            severity_label(advisory.severity)
        ));
        body.push_str(&format!(
            "- **CVE:** {}\n\n",
            cve.as_deref().unwrap_or("not assigned")
        ));
        body.push_str("### Affected versions\n\n");
        body.push_str(&block_or(&advisory.affected_versions, "Not specified."));
        body.push_str("### Fixed versions\n\n");
        body.push_str(&block_or(&advisory.fixed_versions, "Not specified."));
        body.push_str("### Details\n\n");
        body.push_str(&block_or(&advisory.advisory_markdown, "No details."));
        body.push_str("### Credit\n\n");
        match credit {
            Some(name) => body.push_str(&format!("Reported by {name}.\n\n")),
            None => body.push_str("Reported anonymously.\n\n"),
        }
        body.push_str(&marker_line(id));
        body.push('\n');

        let chars = body.chars().count();
        if chars > MAX_BODY_CHARS {
            return Err(DraftError::BodyTooLong { chars });
        }

        Ok(Self {
            tracking_id: id.clone(),
            title,
            body,
            labels: labels(wg_labels),
        })
    }

    /// The vague public placeholder of a report under embargo (Kubernetes
    /// practice): the tracking ID, a fixed title and a fixed text saying
    /// that details follow when the embargo ends, and the marker. No
    /// severity, versions, details, credit or CVE: nothing about the
    /// vulnerability can reach it, because it takes nothing but the ID.
    /// Labels as in [`IssueDraft::render`].
    pub fn placeholder<L: AsRef<str>>(id: &TrackingId, wg_labels: &[L]) -> Self {
        let title = truncate_chars(&format!("[{id}] {PLACEHOLDER_TITLE}"), MAX_TITLE_CHARS);
        let mut body = String::new();
        body.push_str(&format!("## Security issue {id}\n\n"));
        body.push_str(PLACEHOLDER_TEXT);
        body.push_str("\n\n");
        body.push_str(&marker_line(id));
        body.push('\n');
        Self {
            tracking_id: id.clone(),
            title,
            body,
            labels: labels(wg_labels),
        }
    }

    pub fn tracking_id(&self) -> &TrackingId {
        &self.tracking_id
    }

    pub fn title(&self) -> &str {
        &self.title
    }

    pub fn body(&self) -> &str {
        &self.body
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }
}

/// `security` followed by `wg_labels`, blanks dropped, duplicates
/// (case-insensitive, as GitHub compares label names) removed.
fn labels<L: AsRef<str>>(wg_labels: &[L]) -> Vec<String> {
    let mut labels: Vec<String> = vec![SECURITY_LABEL.to_owned()];
    for label in wg_labels {
        let label = one_line(label.as_ref());
        if !label.is_empty() && !labels.iter().any(|l| l.eq_ignore_ascii_case(&label)) {
            labels.push(label);
        }
    }
    labels
}

fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High => "High",
        Severity::Critical => "Critical",
    }
}

/// `CVE-YYYY-NNNN+`, case-insensitive on input, upper-case on output.
fn normalise_cve(s: &str) -> Result<String, DraftError> {
    let upper = s.to_ascii_uppercase();
    let mut parts = upper.split('-');
    let ok = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("CVE"), Some(year), Some(number), None) => {
            year.len() == 4
                && year.bytes().all(|b| b.is_ascii_digit())
                && year >= "1999"
                && (4..=19).contains(&number.len())
                && number.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    };
    if ok {
        Ok(upper)
    } else {
        Err(DraftError::InvalidCve)
    }
}

/// Makes text unable to open an HTML comment: no forged marker, no hidden
/// remainder of the body. `&lt;` renders as `<` outside code.
fn neutralise(s: &str) -> String {
    s.replace("<!--", "&lt;!--")
}

/// Single-line, neutralised, whitespace collapsed.
fn one_line(s: &str) -> String {
    neutralise(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// A neutralised Markdown block followed by a blank line; a code fence left
/// open by the text is closed so it cannot swallow the following sections.
fn block_or(text: &str, empty: &str) -> String {
    let text = text.trim_matches(|c: char| c == '\n' || c == '\r');
    if text.trim().is_empty() {
        return format!("{empty}\n\n");
    }
    let mut out = neutralise(&text.replace("\r\n", "\n").replace('\r', "\n"));
    if let Some(fence) = open_fence(&out) {
        out.push('\n');
        out.push_str(&fence);
    }
    out.push_str("\n\n");
    out
}

/// The fence (e.g. "```" or "~~~~") still open at the end of `text`, if any
/// (CommonMark: up to three spaces of indentation, three or more backticks
/// or tildes; closed by at least as many of the same character).
fn open_fence(text: &str) -> Option<String> {
    let mut open: Option<(char, usize)> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent > 3 {
            continue;
        }
        let rest = line.trim_start_matches(' ');
        let Some(c) = rest.chars().next().filter(|c| *c == '`' || *c == '~') else {
            continue;
        };
        let run = rest.chars().take_while(|x| *x == c).count();
        if run < 3 {
            continue;
        }
        match open {
            None => {
                // An opening backtick fence's info string may not hold a backtick.
                let info = rest.get(run..).unwrap_or("");
                if c == '~' || !info.contains('`') {
                    open = Some((c, run));
                }
            }
            Some((oc, olen)) => {
                let after = rest.get(run..).unwrap_or("");
                if c == oc && run >= olen && after.trim().is_empty() {
                    open = None;
                }
            }
        }
    }
    open.map(|(c, len)| std::iter::repeat_n(c, len).collect())
}

fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> TrackingId {
        "KF-2026-0042".parse().unwrap()
    }

    fn advisory() -> Advisory {
        Advisory {
            tracking_id: id(),
            title: "RCE in the\npipeline API server".into(),
            severity: Severity::High,
            affected_versions: "< 2.3.1".into(),
            fixed_versions: "2.3.1".into(),
            advisory_markdown: "An attacker can run code.\n\n```sh\ncurl -X POST ...\n```".into(),
            credit: Some("Jane Doe".into()),
            cve: Some("cve-2026-12345".into()),
        }
    }

    #[test]
    fn renders_sections_and_marker_last() {
        let d = IssueDraft::render(&advisory(), &["area/pipelines"]).unwrap();
        assert_eq!(d.title(), "[KF-2026-0042] RCE in the pipeline API server");
        let body = d.body();
        assert!(body.contains("- **Severity:** High\n"));
        assert!(body.contains("- **CVE:** CVE-2026-12345\n"));
        assert!(body.contains("### Affected versions\n\n< 2.3.1\n"));
        assert!(body.contains("### Fixed versions\n\n2.3.1\n"));
        assert!(body.contains("An attacker can run code."));
        assert!(body.contains("Reported by Jane Doe."));
        assert_eq!(body.lines().last(), Some("<!-- embargo:KF-2026-0042 -->"));
        assert!(body_has_marker(body, &id()));
        assert_eq!(d.labels(), ["security", "area/pipelines"]);
        assert_eq!(d.tracking_id(), &id());
    }

    #[test]
    fn anonymous_and_no_cve() {
        let mut a = advisory();
        a.credit = None;
        a.cve = None;
        let body = IssueDraft::render(&a, &[] as &[&str])
            .unwrap()
            .body()
            .to_owned();
        assert!(body.contains("Reported anonymously."));
        assert!(body.contains("- **CVE:** not assigned"));
        a.credit = Some("   ".into());
        a.cve = Some(" ".into());
        let body = IssueDraft::render(&a, &[] as &[&str])
            .unwrap()
            .body()
            .to_owned();
        assert!(body.contains("Reported anonymously."));
        assert!(body.contains("- **CVE:** not assigned"));
    }

    #[test]
    fn cve_shape_is_checked() {
        for good in ["CVE-2026-0001", "CVE-1999-1234567", "cve-2024-53412"] {
            assert!(normalise_cve(good).is_ok(), "{good}");
        }
        for bad in [
            "CVE-2026-123",
            "CVE-26-1234",
            "CVE-2026-12a4",
            "CVE-2026-1234-1",
            "GHSA-xxxx-yyyy-zzzz",
            "CVE-2026-1234\n<!-- embargo:KF-2026-0001 -->",
            "CVE-1998-1234",
        ] {
            let mut a = advisory();
            a.cve = Some(bad.into());
            assert_eq!(
                IssueDraft::render(&a, &[] as &[&str]),
                Err(DraftError::InvalidCve),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn labels_dedup_case_insensitively() {
        let d = IssueDraft::render(
            &advisory(),
            &[
                "Security",
                "kind/bug",
                "",
                " kind/bug ",
                "KIND/BUG",
                "area/x",
            ],
        )
        .unwrap();
        assert_eq!(d.labels(), ["security", "kind/bug", "area/x"]);
    }

    #[test]
    fn forged_markers_are_neutralised() {
        let other: TrackingId = "KF-2026-0007".parse().unwrap();
        let forged = "<!-- embargo:KF-2026-0042 -->";
        let mut a = advisory();
        a.tracking_id = other.clone();
        a.advisory_markdown = format!(
            "Intro\n{forged}\n  {forged}  \n<!--embargo:KF-2026-0042-->\n```\n{forged}\n```"
        );
        a.title = format!("t {forged}");
        a.credit = Some(format!("x\n{forged}"));
        a.affected_versions = forged.into();
        a.fixed_versions = format!("\r\n{forged}\r\n");
        let d = IssueDraft::render(&a, &[forged]).unwrap();
        // Only the real marker opens an HTML comment.
        assert_eq!(d.body().matches("<!--").count(), 1);
        assert!(!body_has_marker(d.body(), &id()));
        assert!(body_has_marker(d.body(), &other));
        assert!(!d.title().contains("<!--"));
        assert!(d.labels().iter().all(|l| !l.contains("<!--")));
        assert_eq!(
            d.body().lines().last(),
            Some("<!-- embargo:KF-2026-0007 -->")
        );
    }

    #[test]
    fn open_fence_is_closed() {
        let mut a = advisory();
        a.advisory_markdown =
            "Example:\n````text\nstill code\n```\nnot closed by a shorter fence".into();
        let d = IssueDraft::render(&a, &[] as &[&str]).unwrap();
        assert!(
            d.body()
                .contains("not closed by a shorter fence\n````\n\n### Credit")
        );
        assert_eq!(open_fence(d.body()), None);
        assert_eq!(open_fence("```\ncode\n```\n"), None);
        assert_eq!(open_fence("~~~\ncode"), Some("~~~".into()));
        assert_eq!(open_fence("    ```\nindented is code, not a fence"), None);
        assert_eq!(open_fence("``` a`b\nnot a fence"), None);
    }

    #[test]
    fn title_and_body_limits() {
        let mut a = advisory();
        a.title = "x".repeat(400);
        let d = IssueDraft::render(&a, &[] as &[&str]).unwrap();
        assert_eq!(d.title().chars().count(), MAX_TITLE_CHARS);
        a.title = " \n ".into();
        assert_eq!(
            IssueDraft::render(&a, &[] as &[&str]),
            Err(DraftError::EmptyTitle)
        );
        a.title = "t".into();
        a.advisory_markdown = "y".repeat(MAX_BODY_CHARS);
        assert!(matches!(
            IssueDraft::render(&a, &[] as &[&str]),
            Err(DraftError::BodyTooLong { .. })
        ));
    }

    #[test]
    fn placeholder_says_nothing() {
        let d = IssueDraft::placeholder(&id(), &["area/pipelines", "Security"]);
        assert_eq!(d.title(), "[KF-2026-0042] Security issue under embargo");
        let body = d.body();
        assert!(
            body.starts_with("## Security issue KF-2026-0042\n\n"),
            "{body}"
        );
        assert!(body.contains(PLACEHOLDER_TEXT));
        for absent in [
            "**Severity:**",
            "Low",
            "Medium",
            "High",
            "Critical",
            "**CVE:**",
            "### Affected versions",
            "### Fixed versions",
            "### Details",
            "### Credit",
            "Reported",
        ] {
            assert!(!body.contains(absent), "{absent:?} in {body}");
        }
        assert_eq!(body.lines().last(), Some("<!-- embargo:KF-2026-0042 -->"));
        assert_eq!(body.matches("<!--").count(), 1);
        assert!(body_has_marker(body, &id()));
        assert_eq!(d.labels(), ["security", "area/pipelines"]);
        // What an advisory renders to has the sections a placeholder lacks.
        let full = IssueDraft::render(&advisory(), &[] as &[&str]).unwrap();
        assert!(full.body().contains("**Severity:**"));
        assert!(full.body().contains("### Details"));
    }

    #[test]
    fn debug_hides_text() {
        let a = advisory();
        let d = IssueDraft::render(&a, &[] as &[&str]).unwrap();
        for s in [format!("{a:?}"), format!("{d:?}")] {
            assert!(!s.contains("attacker"), "{s}");
            assert!(!s.contains("Jane"), "{s}");
            assert!(s.contains("KF-2026-0042"), "{s}");
        }
    }
}
