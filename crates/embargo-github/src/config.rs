//! Configuration: where the GitHub API is, how to authenticate, and which
//! repository an issue goes to.

use std::fmt;
use std::str::FromStr;

use zeroize::Zeroize;

/// A secret string (token, private key). `Debug` and `Display` never show
/// it; the memory is wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call only where it is handed to the HTTP layer.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// How the gateway authenticates to GitHub.
#[derive(Debug, Clone)]
pub enum Auth {
    /// A personal access token (classic or fine-grained) or any bearer token.
    Token(Secret),
    /// A GitHub App installation: the app signs a JWT with its private key
    /// and exchanges it for short-lived installation tokens (octocrab
    /// caches and renews them).
    App {
        app_id: u64,
        /// The app's RSA private key, PEM (PKCS#1 or PKCS#8).
        private_key_pem: Secret,
        installation_id: u64,
    },
}

/// `[github]` configuration.
#[derive(Debug, Clone)]
pub struct GitHubConfig {
    /// `https://api.github.com`, a GitHub Enterprise `https://HOST/api/v3`,
    /// or a local stand-in in tests.
    pub api_url: String,
    pub auth: Auth,
}

/// A repository, `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repo {
    owner: String,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "repository must look like OWNER/NAME (owner: letters, digits, '-'; name: letters, digits, '.', '_', '-')"
)]
pub struct RepoError;

impl Repo {
    pub fn new(owner: &str, name: &str) -> Result<Self, RepoError> {
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
            Ok(Self {
                owner: owner.to_owned(),
                name: name.to_owned(),
            })
        } else {
            Err(RepoError)
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl FromStr for Repo {
    type Err = RepoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (owner, name) = s.split_once('/').ok_or(RepoError)?;
        Self::new(owner, name)
    }
}

impl fmt::Display for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl serde::Serialize for Repo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("ghp_supersecret");
        assert_eq!(format!("{s:?}"), "***");
        let auth = Auth::Token(s.clone());
        assert!(!format!("{auth:?}").contains("supersecret"));
        let app = Auth::App {
            app_id: 1,
            private_key_pem: Secret::new("-----BEGIN RSA PRIVATE KEY-----"),
            installation_id: 2,
        };
        assert!(!format!("{app:?}").contains("BEGIN"));
        assert_eq!(s.expose(), "ghp_supersecret");
    }

    #[test]
    fn repo_parses() {
        let r: Repo = "kubeflow/pipelines".parse().unwrap();
        assert_eq!(r.owner(), "kubeflow");
        assert_eq!(r.name(), "pipelines");
        assert_eq!(r.to_string(), "kubeflow/pipelines");
        assert!("kubeflow/model-registry.io_x".parse::<Repo>().is_ok());
        for bad in [
            "", "kubeflow", "/x", "x/", "a/b/c", "a b/c", "-a/b", "a/..", "a/.", "a/b?c", "a/b#",
        ] {
            assert!(bad.parse::<Repo>().is_err(), "{bad:?}");
        }
    }
}
