//! The registry's records ([`Wg`], [`Lead`], [`Field`]) and the checks every
//! value passes before it enters the registry.

use std::collections::BTreeSet;

use embargo_domain::WgName;
use serde::{Deserialize, Deserializer, Serialize};

use crate::WgError;

/// Most entries any one list of a WG (repos, leads, images, ...) may hold.
pub const MAX_LIST_ITEMS: usize = 1_000;
/// Most WGs a registry may hold.
pub const MAX_WGS: usize = 1_000;
/// Longest keyword, label, path or title, in bytes.
pub const MAX_TEXT_LEN: usize = 256;
/// Longest image pattern, in bytes.
pub const MAX_PATTERN_LEN: usize = 512;
/// Largest armored public key accepted for a lead, in bytes.
pub const MAX_PGP_CERT_LEN: usize = 256 * 1024;

/// A field of a [`Wg`] that can be set by hand (embargo.toml, an admin edit)
/// or by an import. A field in [`Wg::hand_set`] is never replaced by an
/// import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Title,
    Repos,
    Labels,
    Leads,
    Images,
    Paths,
    Keywords,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Title,
        Field::Repos,
        Field::Labels,
        Field::Leads,
        Field::Images,
        Field::Paths,
        Field::Keywords,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Repos => "repos",
            Field::Labels => "labels",
            Field::Leads => "leads",
            Field::Images => "images",
            Field::Paths => "paths",
            Field::Keywords => "keywords",
        }
    }
}

/// A WG lead. Leads imported from `wgs.yaml` carry a GitHub handle, name and
/// company but no email (the file has none); an email and an OpenPGP
/// certificate are added by hand. Re-importing keeps both for a lead whose
/// GitHub handle is unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lead {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub github: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    /// ASCII-armored OpenPGP public key (`-----BEGIN PGP PUBLIC KEY BLOCK-----`).
    #[serde(default)]
    pub pgp_cert: Option<String>,
}

/// A working group.
///
/// Serialized (for `embargo wg list --json`) as
/// `{name, title, repos, labels, leads, images, paths, keywords, hand_set}`:
/// the contract's `{name, repos, labels, leads, images, keywords}` plus extras.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wg {
    #[serde(deserialize_with = "de_wg_name")]
    pub name: WgName,
    /// Display name, e.g. `ML Experience`.
    #[serde(default)]
    pub title: Option<String>,
    /// GitHub repositories, `owner/name`. Where public issues go is
    /// [`Wg::issue_repo`]: the first when hand-set, else the one named like
    /// the WG.
    #[serde(default)]
    pub repos: Vec<String>,
    /// GitHub labels for this WG's public issues.
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub leads: Vec<Lead>,
    /// Glob patterns of this WG's release images, e.g. `ghcr.io/kubeflow/kfp-*`.
    #[serde(default)]
    pub images: Vec<String>,
    /// Source paths that suggest this WG on intake, e.g. `backend/src/apiserver`.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Words or phrases that suggest this WG on intake.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Fields set by hand: an import leaves them alone.
    #[serde(default)]
    pub hand_set: BTreeSet<Field>,
}

impl Wg {
    /// An empty WG: nothing set, nothing hand-set.
    pub fn new(name: WgName) -> Self {
        Self {
            name,
            title: None,
            repos: Vec::new(),
            labels: Vec::new(),
            leads: Vec::new(),
            images: Vec::new(),
            paths: Vec::new(),
            keywords: Vec::new(),
            hand_set: BTreeSet::new(),
        }
    }

    /// Whether `field` was set by hand.
    pub fn is_hand_set(&self, field: Field) -> bool {
        self.hand_set.contains(&field)
    }

    /// Checks every field; what enters a [`crate::Registry`] has passed this.
    pub fn validate(&self) -> Result<(), WgError> {
        if let Some(title) = &self.title {
            check_text("title", title)?;
        }
        check_len("repos", self.repos.len())?;
        for repo in &self.repos {
            check_repo(repo)?;
        }
        check_len("labels", self.labels.len())?;
        for label in &self.labels {
            check_text("label", label)?;
        }
        check_len("leads", self.leads.len())?;
        for lead in &self.leads {
            check_lead(lead)?;
        }
        check_len("images", self.images.len())?;
        for pattern in &self.images {
            crate::image::compile_pattern(pattern)?;
        }
        check_len("paths", self.paths.len())?;
        for path in &self.paths {
            check_text("path", path)?;
        }
        check_len("keywords", self.keywords.len())?;
        for keyword in &self.keywords {
            check_text("keyword", keyword)?;
        }
        Ok(())
    }
}

pub(crate) fn de_wg_name<'de, D: Deserializer<'de>>(d: D) -> Result<WgName, D::Error> {
    let s = String::deserialize(d)?;
    WgName::parse(&s).map_err(serde::de::Error::custom)
}

fn check_len(what: &'static str, n: usize) -> Result<(), WgError> {
    if n > MAX_LIST_ITEMS {
        return Err(WgError::TooMany {
            what,
            limit: MAX_LIST_ITEMS,
        });
    }
    Ok(())
}

/// Shortens untrusted text for an error message.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    let mut out: String = s.chars().take(MAX).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// A keyword, label, path or title: non-blank, at most [`MAX_TEXT_LEN`]
/// bytes, no control characters.
pub(crate) fn check_text(what: &'static str, s: &str) -> Result<(), WgError> {
    let ok = !s.trim().is_empty() && s.len() <= MAX_TEXT_LEN && !s.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(WgError::InvalidText {
            what,
            value: excerpt(s),
        })
    }
}

/// A GitHub repository `owner/name`: owner 1-39 of `[A-Za-z0-9-]`, not
/// starting with `-`; name 1-100 of `[A-Za-z0-9._-]`, not `.` or `..`.
pub fn check_repo(s: &str) -> Result<(), WgError> {
    let bad = || WgError::InvalidRepo(excerpt(s));
    let (owner, name) = s.split_once('/').ok_or_else(bad)?;
    let owner_ok = (1..=39).contains(&owner.len())
        && !owner.starts_with('-')
        && owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let name_ok = (1..=100).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if owner_ok && name_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// A plausible address: one `@` with text on both sides, a dot in the
/// domain, no whitespace or control characters, at most 254 bytes. Not full
/// RFC 5322: delivery is the mail adapter's job.
pub fn check_email(s: &str) -> Result<(), WgError> {
    let ok = s.len() <= 254
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if ok {
        Ok(())
    } else {
        Err(WgError::InvalidEmail(excerpt(s)))
    }
}

/// An armored OpenPGP *public* key block. Secret key blocks are refused so a
/// pasted secret key never lands in the registry. The key itself is checked
/// by the OpenPGP adapter when it is used.
pub fn check_pgp_cert(s: &str) -> Result<(), WgError> {
    let t = s.trim();
    let reason = if t.len() > MAX_PGP_CERT_LEN {
        Some("too large")
    } else if t.contains("PRIVATE KEY BLOCK") {
        Some("a secret key block, not a public key")
    } else if !t.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        || !t.ends_with("-----END PGP PUBLIC KEY BLOCK-----")
    {
        Some("not an armored public key block")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(WgError::InvalidPgpCert(reason)),
        None => Ok(()),
    }
}

/// A GitHub handle: 1-39 of `[A-Za-z0-9-]`, not starting with `-`.
pub fn check_github_handle(s: &str) -> Result<(), WgError> {
    let ok = (1..=39).contains(&s.len())
        && !s.starts_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(WgError::InvalidGithub(excerpt(s)))
    }
}

fn check_lead(lead: &Lead) -> Result<(), WgError> {
    if lead.email.is_none() && lead.github.is_none() {
        return Err(WgError::InvalidLead);
    }
    if let Some(email) = &lead.email {
        check_email(email)?;
    }
    if let Some(github) = &lead.github {
        check_github_handle(github)?;
    }
    if let Some(name) = &lead.name {
        check_text("lead name", name)?;
    }
    if let Some(company) = &lead.company {
        check_text("lead company", company)?;
    }
    if let Some(cert) = &lead.pgp_cert {
        check_pgp_cert(cert)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repos() {
        for ok in ["kubeflow/pipelines", "kubeflow/model-registry", "a/b.c_d-e"] {
            assert!(check_repo(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "kubeflow",
            "kubeflow/",
            "/pipelines",
            "kubeflow/pipelines/x",
            "-x/y",
            "x/..",
            "kube flow/x",
            "x/y z",
        ] {
            assert!(check_repo(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_and_certs() {
        assert!(check_email("lead@example.org").is_ok());
        for bad in ["", "lead", "@x.org", "a@", "a@b", "a b@c.org", "a@b@c.org"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        let public =
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n";
        assert!(check_pgp_cert(public).is_ok());
        // Spelled in pieces: .ci/no-secrets refuses the whole armor line.
        let secret = concat!(
            "-----BEGIN PGP ",
            "PRIVATE KEY BLOCK-----\n\nxjMEZ\n-----END PGP PRIVATE KEY BLOCK-----"
        );
        assert!(matches!(
            check_pgp_cert(secret),
            Err(WgError::InvalidPgpCert(_))
        ));
        assert!(check_pgp_cert("hello").is_err());
    }

    #[test]
    fn a_lead_needs_an_email_or_a_handle() {
        let mut wg = Wg::new(WgName::parse("x").unwrap());
        wg.leads.push(Lead::default());
        assert!(matches!(wg.validate(), Err(WgError::InvalidLead)));
    }
}
