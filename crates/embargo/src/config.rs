//! Settings: one typed struct, read from `DIR/embargo.toml` (or `--config`),
//! every key overridable by `EMBARGO_<SECTION>_<KEY>`, validated once at
//! start-up. Passed down explicitly; there is no global config.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use embargo_domain::{EmbargoPolicy, TrackingPrefix, WgName};
use serde::{Deserialize, Serialize};

/// A value that must never be printed: `Debug` and `Display` show `***`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub web: Web,
    pub lmtp: Lmtp,
    pub mail: Mail,
    pub intake: Intake,
    pub pgp: Pgp,
    pub storage: Storage,
    pub database: Database,
    pub github: GitHub,
    pub metrics: Metrics,
    pub outbox: Outbox,
    pub embargo: Embargo,
    pub publish: Publish,
    pub log: Log,
    pub review: Review,
    #[serde(rename = "wg")]
    pub wgs: Vec<Wg>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Web {
    pub listen: String,
    /// `Secure` on the session cookie. Off only for plain-HTTP localhost.
    pub secure_cookies: bool,
    /// The admin view's public URL, linked from team notices. Empty: none.
    pub public_url: String,
    /// `Policy:` of security.txt (the disclosure policy's URL). Empty: none.
    pub policy_url: String,
    /// Serve security.txt cleartext-signed with the team key.
    pub sign_security_txt: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lmtp {
    pub listen: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mail {
    /// The private address reporters write to.
    pub address: String,
    /// `file` (DIR/outbox/<id>.eml) or `smtp://…` / `smtps://…`; may carry
    /// credentials, hence secret.
    pub transport: Secret,
    /// Display name on outgoing mail.
    pub display_name: String,
    /// Where reporters fetch the team key (in plaintext acknowledgements).
    /// Empty: `https://<domain of address>/.well-known/security.txt`.
    pub key_url: String,
    /// The response time acknowledgements promise, in days.
    pub response_days: u32,
    /// A line consisting of this marker keeps a member's reply team-only.
    pub internal_marker: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Intake {
    /// Prefix of tracking IDs, `<PREFIX>-<YEAR>-<NNNN>`.
    pub tracking_prefix: String,
    /// Largest message accepted, in bytes (default 25 MiB).
    pub max_message_bytes: u64,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pgp {
    /// The team's secret keys, newest first; relative paths are under DIR.
    /// Empty: `init` generates `keys/team.sec.asc`.
    pub secret_keys: Vec<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// The storage keyring that seals everything at rest; under DIR when
    /// relative.
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://DIR/embargo.db`.
    /// `DATABASE_URL` overrides it. Secret: it may carry a password.
    pub url: Secret,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitHub {
    pub api_url: String,
    pub token: Secret,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// Empty disables the metrics listener.
    pub listen: String,
}

/// The outbound mail worker in `serve`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Outbox {
    /// How long a claimed outbox entry stays with one worker. A replica
    /// that dies holds its entries this long before another takes them
    /// over; keep it well above one SMTP transaction (60 s per command).
    pub lease_seconds: u32,
    /// Seconds between looks at the outbox when nothing wakes the worker.
    pub poll_seconds: u32,
}

impl Default for Outbox {
    fn default() -> Self {
        Self {
            lease_seconds: 600,
            poll_seconds: 15,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Embargo {
    pub max_days: u32,
    pub warn_days: Vec<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Publish {
    /// Team members who must approve a disclosure (1, or 2 for the
    /// two-person rule).
    pub approvals: u32,
    /// The IANA time zone embargo ends are shown in (besides UTC).
    pub time_zone: String,
    /// Seconds between runs of the publication scheduler in `serve`.
    pub interval_seconds: u32,
    /// How long a claimed publication job stays with one process. A
    /// replica that dies holds its job this long before another takes it
    /// over (and finds the issue it may have opened by its marker).
    pub lease_seconds: u32,
}

impl Default for Publish {
    fn default() -> Self {
        Self {
            approvals: 1,
            time_zone: "UTC".into(),
            interval_seconds: 30,
            lease_seconds: 600,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// `text` or `json`.
    pub format: String,
    /// A `tracing` filter, e.g. `info` or `embargo=debug`.
    pub level: String,
}

/// The security team's procedures: the severity SLA (the review agenda,
/// the dashboard, WG-lead digests) and the digests' period.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Review {
    /// Days an open report may stay unresolved, counted from filing, per
    /// severity; unrated reports (not triaged yet) use `sla_unrated_days`.
    pub sla_critical_days: u32,
    pub sla_high_days: u32,
    pub sla_medium_days: u32,
    pub sla_low_days: u32,
    pub sla_unrated_days: u32,
    /// Days between digests to each WG's leads (`serve`); 0: none.
    pub digest_days: u32,
}

impl Default for Review {
    fn default() -> Self {
        let sla = embargo_store::Sla::default();
        Self {
            sla_critical_days: sla.critical_days,
            sla_high_days: sla.high_days,
            sla_medium_days: sla.medium_days,
            sla_low_days: sla.low_days,
            sla_unrated_days: sla.unrated_days,
            digest_days: 7,
        }
    }
}

impl Review {
    pub fn sla(&self) -> embargo_store::Sla {
        embargo_store::Sla {
            critical_days: self.sla_critical_days,
            high_days: self.sla_high_days,
            medium_days: self.sla_medium_days,
            low_days: self.sla_low_days,
            unrated_days: self.sla_unrated_days,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Wg {
    pub name: String,
    pub repo: String,
    pub labels: Vec<String>,
    pub leads: Vec<String>,
    pub images: Vec<String>,
    pub keywords: Vec<String>,
    /// Open a vague placeholder issue when a report is accepted and fill it
    /// in at disclosure.
    pub placeholder: bool,
    /// More repositories of the WG (`OWNER/REPO`): their public `security`
    /// issues are on the review agenda; public issues still go to `repo`.
    pub repos: Vec<String>,
    /// Source paths that suggest this WG on intake (`manifests/kfp/`).
    pub paths: Vec<String>,
    /// The leads' OpenPGP public keys: armored files (under DIR when
    /// relative); a lead's key is the one carrying its address. Digests
    /// and scan slices are encrypted to it; a lead without one gets a
    /// content-free notice.
    pub lead_keys: Vec<PathBuf>,
}

impl Default for Web {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            secure_cookies: true,
            public_url: String::new(),
            policy_url: String::new(),
            sign_security_txt: false,
        }
    }
}

impl Default for Lmtp {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:2424".into(),
        }
    }
}

impl Default for Mail {
    fn default() -> Self {
        Self {
            address: "security@project.example".into(),
            transport: Secret("file".into()),
            display_name: "Security Team".into(),
            key_url: String::new(),
            response_days: 5,
            internal_marker: "#internal".into(),
        }
    }
}

impl Default for Intake {
    fn default() -> Self {
        Self {
            tracking_prefix: "SEC".into(),
            max_message_bytes: 25 * 1024 * 1024,
        }
    }
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            key_file: PathBuf::from("keys/storage.key"),
        }
    }
}

impl Default for GitHub {
    fn default() -> Self {
        Self {
            api_url: "https://api.github.com".into(),
            token: Secret::default(),
        }
    }
}

impl Default for Embargo {
    fn default() -> Self {
        Self {
            max_days: 90,
            warn_days: vec![14, 2],
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Self {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{var}: unknown setting (no key {key:?} in section [{section}])")]
    UnknownEnv {
        var: String,
        section: String,
        key: String,
    },
    #[error("{var}: {message}")]
    BadEnv { var: String, message: String },
    #[error("setting {key}: {reason}")]
    Invalid { key: String, reason: String },
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// Environment variables that are not `<SECTION>_<KEY>` settings.
const NON_SETTING_VARS: &[&str] = &["EMBARGO_DATA", "EMBARGO_CONFIG"];

/// Everything the rest of the program needs, resolved and checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub settings: Settings,
    pub web_listen: SocketAddr,
    pub lmtp_listen: SocketAddr,
    /// `None` when `metrics.listen` is empty.
    pub metrics_listen: Option<SocketAddr>,
    pub database_url: Secret,
    pub storage_key_file: PathBuf,
    /// The team's secret key files, newest first, resolved against DIR.
    pub secret_key_files: Vec<PathBuf>,
    /// True when no keys are configured and `init` generates
    /// `keys/team.sec.asc`.
    pub generated_team_key: bool,
    pub tracking_prefix: TrackingPrefix,
    pub policy: EmbargoPolicy,
}

impl Config {
    /// Reads the config file (explicit, or `DIR/embargo.toml` when it exists),
    /// applies `env` overrides and validates the result.
    pub fn load(
        data_dir: &Path,
        explicit: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let default_path = data_dir.join("embargo.toml");
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None if default_path.exists() => Some(default_path),
            None => None,
        };
        let mut table = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.clone(),
                    source,
                })?;
                toml::from_str::<toml::Table>(&text).map_err(|e| ConfigError::Parse {
                    path: p.clone(),
                    message: one_line(&e.to_string()),
                })?
            }
            None => toml::Table::new(),
        };
        apply_env(&mut table, env)?;
        let settings: Settings = Settings::deserialize(table).map_err(|e| ConfigError::Parse {
            path: path
                .clone()
                .unwrap_or_else(|| PathBuf::from("<environment>")),
            message: one_line(&e.to_string()),
        })?;
        Self::validate(data_dir, settings, env)
    }

    fn validate(
        data_dir: &Path,
        settings: Settings,
        env: &HashMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let addr = |key: &str, v: &str| -> Result<SocketAddr, ConfigError> {
            v.parse()
                .map_err(|_| invalid(key, format!("{v:?} is not an IP:port address")))
        };
        let web_listen = addr("web.listen", &settings.web.listen)?;
        let lmtp_listen = addr("lmtp.listen", &settings.lmtp.listen)?;
        let metrics_listen = if settings.metrics.listen.is_empty() {
            None
        } else {
            Some(addr("metrics.listen", &settings.metrics.listen)?)
        };

        if !is_plausible_address(&settings.mail.address) {
            return Err(invalid(
                "mail.address",
                format!("{:?} is not an email address", settings.mail.address),
            ));
        }
        let transport = settings.mail.transport.expose();
        if !(transport == "file"
            || transport.starts_with("smtp://")
            || transport.starts_with("smtps://"))
        {
            return Err(invalid(
                "mail.transport",
                "must be \"file\", smtp://host:port or smtps://host:port",
            ));
        }

        if !(1..=365).contains(&settings.mail.response_days) {
            return Err(invalid("mail.response_days", "must be between 1 and 365"));
        }
        if settings.mail.internal_marker.trim().is_empty() {
            return Err(invalid("mail.internal_marker", "must not be empty"));
        }
        for (key, url) in [
            ("mail.key_url", &settings.mail.key_url),
            ("web.public_url", &settings.web.public_url),
            ("web.policy_url", &settings.web.policy_url),
        ] {
            let is_http = url.starts_with("https://") || url.starts_with("http://");
            if !url.is_empty() && !is_http {
                return Err(invalid(key, "must be an http(s) URL"));
            }
        }
        let tracking_prefix = TrackingPrefix::parse(&settings.intake.tracking_prefix)
            .map_err(|e| invalid("intake.tracking_prefix", e.to_string()))?;
        if settings.intake.max_message_bytes < 1024 {
            return Err(invalid(
                "intake.max_message_bytes",
                "must be at least 1024 bytes",
            ));
        }

        let policy = EmbargoPolicy::new(
            settings.embargo.max_days,
            settings.embargo.warn_days.clone(),
        )
        .map_err(|e| {
            let key = match e {
                embargo_domain::PolicyError::MaxDays => "embargo.max_days",
                embargo_domain::PolicyError::WarnDays => "embargo.warn_days",
            };
            invalid(key, e.to_string())
        })?;

        let database_url = match env.get("DATABASE_URL").filter(|v| !v.is_empty()) {
            Some(url) => Secret(url.clone()),
            None if settings.database.url.expose().is_empty() => Secret(format!(
                "sqlite://{}",
                data_dir.join("embargo.db").display()
            )),
            None => settings.database.url.clone(),
        };
        let url = database_url.expose();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database.url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }

        if settings.github.api_url.is_empty()
            || !(settings.github.api_url.starts_with("https://")
                || settings.github.api_url.starts_with("http://"))
        {
            return Err(invalid("github.api_url", "must be an http(s) URL"));
        }

        let r = &settings.review;
        for (key, days) in [
            ("review.sla_critical_days", r.sla_critical_days),
            ("review.sla_high_days", r.sla_high_days),
            ("review.sla_medium_days", r.sla_medium_days),
            ("review.sla_low_days", r.sla_low_days),
            ("review.sla_unrated_days", r.sla_unrated_days),
        ] {
            if !(1..=3650).contains(&days) {
                return Err(invalid(key, "must be between 1 and 3650"));
            }
        }
        if r.digest_days > 365 {
            return Err(invalid(
                "review.digest_days",
                "must be between 0 (no digests) and 365",
            ));
        }

        if !(1..=2).contains(&settings.publish.approvals) {
            return Err(invalid("publish.approvals", "must be 1 or 2"));
        }
        if jiff::tz::TimeZone::get(&settings.publish.time_zone).is_err() {
            return Err(invalid(
                "publish.time_zone",
                format!("{:?} is not an IANA time zone", settings.publish.time_zone),
            ));
        }
        if !(1..=86_400).contains(&settings.publish.interval_seconds) {
            return Err(invalid(
                "publish.interval_seconds",
                "must be between 1 and 86400",
            ));
        }
        for (key, value, max) in [
            (
                "publish.lease_seconds",
                settings.publish.lease_seconds,
                86_400,
            ),
            (
                "outbox.lease_seconds",
                settings.outbox.lease_seconds,
                86_400,
            ),
            ("outbox.poll_seconds", settings.outbox.poll_seconds, 3_600),
        ] {
            if !(1..=max).contains(&value) {
                return Err(invalid(key, format!("must be between 1 and {max}")));
            }
        }
        if !matches!(settings.log.format.as_str(), "text" | "json") {
            return Err(invalid("log.format", "must be \"text\" or \"json\""));
        }

        let mut seen = BTreeSet::new();
        for (i, wg) in settings.wgs.iter().enumerate() {
            let key = format!("wg[{i}].name");
            WgName::parse(&wg.name).map_err(|e| invalid(&key, e.to_string()))?;
            if !seen.insert(wg.name.clone()) {
                return Err(invalid(key, format!("WG {:?} is listed twice", wg.name)));
            }
            if !wg.repo.is_empty() && !is_repo(&wg.repo) {
                return Err(invalid(
                    format!("wg[{i}].repo"),
                    format!("{:?} is not OWNER/REPO", wg.repo),
                ));
            }
            for repo in &wg.repos {
                if !is_repo(repo) {
                    return Err(invalid(
                        format!("wg[{i}].repos"),
                        format!("{repo:?} is not OWNER/REPO"),
                    ));
                }
            }
            for lead in &wg.leads {
                if !is_plausible_address(lead) {
                    return Err(invalid(
                        format!("wg[{i}].leads"),
                        format!("{lead:?} is not an email address"),
                    ));
                }
            }
        }

        let resolve = |p: &Path| -> PathBuf {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                data_dir.join(p)
            }
        };
        let generated_team_key = settings.pgp.secret_keys.is_empty();
        let secret_key_files = if generated_team_key {
            vec![data_dir.join("keys").join("team.sec.asc")]
        } else {
            settings
                .pgp
                .secret_keys
                .iter()
                .map(|p| resolve(p))
                .collect()
        };
        let storage_key_file = resolve(&settings.storage.key_file);

        Ok(Config {
            data_dir: data_dir.to_path_buf(),
            web_listen,
            lmtp_listen,
            metrics_listen,
            database_url,
            storage_key_file,
            secret_key_files,
            generated_team_key,
            tracking_prefix,
            policy,
            settings,
        })
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn is_plausible_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.len() <= 254
        && s.chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | ',' | ';'))
}

fn is_repo(s: &str) -> bool {
    let ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    matches!(s.split_once('/'), Some((owner, name)) if ok(owner) && ok(name))
}

/// Applies `EMBARGO_<SECTION>_<KEY>` variables to the parsed file. The type
/// of each value follows the type of the setting, so `EMBARGO_WEB_LISTEN`
/// stays a string and `EMBARGO_WEB_SECURE_COOKIES=false` becomes a bool.
/// An unknown `EMBARGO_` variable is an error: a typo must not be ignored.
fn apply_env(table: &mut toml::Table, env: &HashMap<String, String>) -> Result<(), ConfigError> {
    let defaults =
        toml::Table::try_from(Settings::default()).map_err(|e| ConfigError::Invalid {
            key: "<defaults>".into(),
            reason: e.to_string(),
        })?;
    let mut vars: Vec<(&String, &String)> = env
        .iter()
        .filter(|(k, _)| k.starts_with("EMBARGO_") && !NON_SETTING_VARS.contains(&k.as_str()))
        .collect();
    vars.sort();
    for (var, value) in vars {
        let rest = var
            .strip_prefix("EMBARGO_")
            .unwrap_or(var)
            .to_ascii_lowercase();
        let Some((section, key)) = rest.split_once('_') else {
            return Err(ConfigError::UnknownEnv {
                var: var.clone(),
                section: rest,
                key: String::new(),
            });
        };
        let unknown = || ConfigError::UnknownEnv {
            var: var.clone(),
            section: section.to_owned(),
            key: key.to_owned(),
        };
        let Some(toml::Value::Table(section_defaults)) = defaults.get(section) else {
            return Err(unknown());
        };
        let Some(default) = section_defaults.get(key) else {
            return Err(unknown());
        };
        let bad = |message: String| ConfigError::BadEnv {
            var: var.clone(),
            message,
        };
        let parsed = match default {
            toml::Value::String(_) => toml::Value::String(value.clone()),
            toml::Value::Boolean(_) => match value.as_str() {
                "true" | "1" | "yes" => toml::Value::Boolean(true),
                "false" | "0" | "no" => toml::Value::Boolean(false),
                _ => return Err(bad(format!("{value:?} is not a boolean"))),
            },
            toml::Value::Integer(_) => toml::Value::Integer(
                value
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("{value:?} is not an integer")))?,
            ),
            toml::Value::Array(_) => {
                // A TOML array (`["a", "b"]`, `[14, 2]`) or a comma list.
                let as_toml = toml::from_str::<toml::Table>(&format!("v = {value}"))
                    .ok()
                    .and_then(|mut t| t.remove("v"));
                match as_toml {
                    Some(v @ toml::Value::Array(_)) => v,
                    _ => toml::Value::Array(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(|s| match s.parse::<i64>() {
                                Ok(n) => toml::Value::Integer(n),
                                Err(_) => toml::Value::String(s.to_owned()),
                            })
                            .collect(),
                    ),
                }
            }
            _ => return Err(bad("this setting cannot be set from the environment".into())),
        };
        let entry = table
            .entry(section.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry {
            toml::Value::Table(t) => {
                t.insert(key.to_owned(), parsed);
            }
            _ => {
                return Err(bad(format!(
                    "[{section}] in the config file is not a table"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load_with(toml: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("embargo.toml"), toml).unwrap();
        Config::load(dir.path(), None, &env(pairs))
    }

    #[test]
    fn defaults_are_valid() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(dir.path(), None, &HashMap::new()).unwrap();
        assert_eq!(c.web_listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.lmtp_listen.to_string(), "127.0.0.1:2424");
        assert!(c.database_url.expose().starts_with("sqlite://"));
        assert!(c.database_url.expose().ends_with("embargo.db"));
        assert!(c.generated_team_key);
        assert_eq!(c.tracking_prefix.as_str(), "SEC");
        assert_eq!(c.policy.max_days(), 90);
    }

    #[test]
    fn file_and_env_overrides() {
        let c = load_with(
            r#"
[web]
listen = "127.0.0.1:1"
[mail]
address = "security@kubeflow.example"
[pgp]
secret_keys = ["keys/new.sec.asc", "/abs/old.sec.asc"]
[[wg]]
name = "pipelines"
repo = "kubeflow/pipelines"
leads = ["lead@example.org"]
images = ["ghcr.io/kubeflow/kfp-*"]
keywords = ["pipeline", "kfp"]
"#,
            &[
                ("EMBARGO_WEB_LISTEN", "127.0.0.1:9999"),
                ("EMBARGO_WEB_SECURE_COOKIES", "false"),
                ("EMBARGO_INTAKE_MAX_MESSAGE_BYTES", "2048"),
                ("EMBARGO_EMBARGO_WARN_DAYS", "7,1"),
                ("EMBARGO_OUTBOX_LEASE_SECONDS", "30"),
                ("EMBARGO_PUBLISH_LEASE_SECONDS", "45"),
                ("EMBARGO_DATA", "/ignored/here"),
                ("DATABASE_URL", "postgres://u:pw@db/embargo"),
            ],
        )
        .unwrap();
        assert_eq!(c.web_listen.to_string(), "127.0.0.1:9999");
        assert!(!c.settings.web.secure_cookies);
        assert_eq!(c.settings.intake.max_message_bytes, 2048);
        assert_eq!(c.policy.warn_days(), &[7, 1]);
        assert_eq!(c.settings.outbox.lease_seconds, 30);
        assert_eq!(c.settings.outbox.poll_seconds, 15);
        assert_eq!(c.settings.publish.lease_seconds, 45);
        assert_eq!(c.settings.mail.address, "security@kubeflow.example");
        assert_eq!(c.database_url.expose(), "postgres://u:pw@db/embargo");
        assert!(!c.generated_team_key);
        assert!(c.secret_key_files[0].ends_with("keys/new.sec.asc"));
        assert_eq!(c.secret_key_files[1], PathBuf::from("/abs/old.sec.asc"));
        assert_eq!(c.settings.wgs[0].keywords, vec!["pipeline", "kfp"]);
    }

    #[test]
    fn errors_name_the_key() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            ("[web]\nlisten = \"nope\"\n", &[], "web.listen"),
            ("", &[("EMBARGO_LMTP_LISTEN", "x")], "lmtp.listen"),
            (
                "[mail]\naddress = \"not-an-address\"\n",
                &[],
                "mail.address",
            ),
            (
                "[mail]\ntransport = \"carrier-pigeon\"\n",
                &[],
                "mail.transport",
            ),
            (
                "[intake]\ntracking_prefix = \"kf\"\n",
                &[],
                "intake.tracking_prefix",
            ),
            ("[embargo]\nmax_days = 0\n", &[], "embargo.max_days"),
            ("[embargo]\nwarn_days = [200]\n", &[], "embargo.warn_days"),
            ("[database]\nurl = \"mysql://x\"\n", &[], "database.url"),
            ("[log]\nformat = \"xml\"\n", &[], "log.format"),
            ("[outbox]\nlease_seconds = 0\n", &[], "outbox.lease_seconds"),
            (
                "",
                &[("EMBARGO_OUTBOX_POLL_SECONDS", "0")],
                "outbox.poll_seconds",
            ),
            (
                "[publish]\nlease_seconds = 0\n",
                &[],
                "publish.lease_seconds",
            ),
            ("[[wg]]\nname = \"Bad Name\"\n", &[], "wg[0].name"),
            (
                "[[wg]]\nname = \"a\"\n[[wg]]\nname = \"a\"\n",
                &[],
                "wg[1].name",
            ),
            (
                "[[wg]]\nname = \"a\"\nrepo = \"no-slash\"\n",
                &[],
                "wg[0].repo",
            ),
            ("[web]\nlisten_typo = \"x\"\n", &[], "listen_typo"),
            ("[nosuch]\nx = 1\n", &[], "nosuch"),
            ("", &[("EMBARGO_WEB_NOSUCH", "1")], "EMBARGO_WEB_NOSUCH"),
            ("", &[("EMBARGO_NOSUCH_KEY", "1")], "EMBARGO_NOSUCH_KEY"),
            (
                "",
                &[("EMBARGO_WEB_SECURE_COOKIES", "maybe")],
                "EMBARGO_WEB_SECURE_COOKIES",
            ),
            (
                "",
                &[("EMBARGO_INTAKE_MAX_MESSAGE_BYTES", "lots")],
                "EMBARGO_INTAKE_MAX_MESSAGE_BYTES",
            ),
        ];
        for (toml, pairs, key) in cases {
            let err = load_with(toml, pairs).unwrap_err().to_string();
            assert!(
                err.contains(key),
                "{toml:?} {pairs:?}: {err:?} should name {key}"
            );
            assert!(!err.contains('\n'), "one line: {err:?}");
        }
    }

    #[test]
    fn review_settings() {
        let c = load_with(
            "[review]\nsla_critical_days = 1\nsla_low_days = 120\ndigest_days = 14\n",
            &[],
        )
        .unwrap();
        let sla = c.settings.review.sla();
        assert_eq!(
            (sla.critical_days, sla.high_days, sla.low_days),
            (1, 7, 120)
        );
        assert_eq!(c.settings.review.digest_days, 14);
        let d = Review::default();
        assert_eq!(
            (d.sla().critical_days, d.sla().medium_days, d.digest_days),
            (2, 30, 7)
        );
        for (toml, key) in [
            ("[review]\nsla_high_days = 0\n", "review.sla_high_days"),
            ("[review]\ndigest_days = 400\n", "review.digest_days"),
            (
                "[[wg]]\nname = \"a\"\nrepos = [\"no-slash\"]\n",
                "wg[0].repos",
            ),
        ] {
            let e = load_with(toml, &[]).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn secrets_are_not_printed() {
        let c = load_with(
            "[github]\ntoken = \"ghp_supersecret\"\n[mail]\ntransport = \"smtp://u:hunter2@relay:25\"\n",
            &[("DATABASE_URL", "postgres://u:dbpass@db/x")],
        )
        .unwrap();
        let shown = format!("{c:?}");
        for secret in ["ghp_supersecret", "hunter2", "dbpass"] {
            assert!(!shown.contains(secret), "{secret} leaked in Debug");
        }
        assert!(shown.contains("***"));
        assert_eq!(c.settings.github.token.expose(), "ghp_supersecret");
    }

    #[test]
    fn explicit_config_missing_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load(
            dir.path(),
            Some(&dir.path().join("absent.toml")),
            &HashMap::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("absent.toml"));
    }
}
