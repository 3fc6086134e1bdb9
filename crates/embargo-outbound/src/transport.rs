//! Delivery: the `file` transport (the embedded default) and SMTP
//! (lettre).
//!
//! # Configuration string (`[mail] transport`)
//!
//! | value | meaning |
//! | --- | --- |
//! | `file` | every message becomes `DIR/outbox/<id>.eml` (directory 0700, files 0600, written atomically) |
//! | `smtp://[user:pass@]host[:port]` | SMTP, port 25 by default, **opportunistic STARTTLS**: TLS (with certificate verification) when the server offers it, plaintext otherwise |
//! | `smtp://…?tls=required` | STARTTLS required; fails (and retries later) when not offered |
//! | `smtp://…?tls=none` | never TLS (a loopback relay with a self-signed certificate) |
//! | `smtps://[user:pass@]host[:port]` | implicit TLS, port 465 by default |
//!
//! User and password are percent-decoded from the URL. Credentials are
//! refused with `tls=opportunistic` or `tls=none` unless the host is the
//! loopback interface. The string is secret ([`TransportSpec`]'s `Debug`
//! prints `***`) and never appears in errors or logs.
//!
//! The envelope sender (`MAIL FROM`) is the team address given when the
//! transport is built.

use std::fmt;
use std::future::Future;
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::error::{ConfigError, DeliveryError};

/// Timeout of each SMTP command (and of connecting).
const SMTP_TIMEOUT: Duration = Duration::from_secs(60);

/// Delivers a message. Implemented by [`Transport`]; tests and the
/// binary may wrap it.
pub trait Deliver: Send + Sync {
    /// Delivers `bytes` (a complete RFC 5322 message) to `recipients`.
    /// `id` names the message in logs and, for the file transport, the
    /// file: 1-200 characters of `[A-Za-z0-9._-]`, not starting with a dot
    /// (the outbox entry's UUID).
    fn send(
        &self,
        id: &str,
        recipients: &[String],
        bytes: &[u8],
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

impl<T: Deliver + ?Sized> Deliver for &T {
    fn send(
        &self,
        id: &str,
        recipients: &[String],
        bytes: &[u8],
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send {
        (**self).send(id, recipients, bytes)
    }
}

impl<T: Deliver + ?Sized> Deliver for Arc<T> {
    fn send(
        &self,
        id: &str,
        recipients: &[String],
        bytes: &[u8],
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send {
        (**self).send(id, recipients, bytes)
    }
}

/// The transport configuration string, kept secret: `Debug` is `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct TransportSpec(String);

impl TransportSpec {
    pub fn new(spec: impl Into<String>) -> Self {
        TransportSpec(spec.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TransportSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where outgoing mail goes.
#[derive(Debug, Clone)]
pub enum Transport {
    File(FileTransport),
    Smtp(Box<SmtpTransport>),
}

impl Transport {
    /// Builds the transport from the configuration string (see the module
    /// docs). `data_dir` is DIR (the file transport writes to
    /// `DIR/outbox`), `sender` the envelope sender (the team address).
    pub fn from_config(
        spec: &TransportSpec,
        data_dir: &Path,
        sender: &str,
    ) -> Result<Self, ConfigError> {
        let s = spec.expose().trim();
        if s == "file" {
            return Ok(Transport::File(FileTransport::new(data_dir.join("outbox"))));
        }
        let scheme = s
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("smtp" | "smtps") => Ok(Transport::Smtp(Box::new(SmtpTransport::from_url(
                s, sender,
            )?))),
            _ => Err(ConfigError::UnknownScheme),
        }
    }

    /// Delivers one message.
    pub async fn send(
        &self,
        id: &str,
        recipients: &[String],
        bytes: &[u8],
    ) -> Result<(), DeliveryError> {
        match self {
            Transport::File(t) => t.send(id, bytes).await,
            Transport::Smtp(t) => t.send(id, recipients, bytes).await,
        }
    }
}

impl Deliver for Transport {
    fn send(
        &self,
        id: &str,
        recipients: &[String],
        bytes: &[u8],
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send {
        Transport::send(self, id, recipients, bytes)
    }
}

/// Writes each message to `<dir>/<id>.eml`: a temporary file in the same
/// directory (mode 0600), fsync, rename, fsync of the directory. The
/// directory is created with mode 0700 and refused when group or others
/// may access it. Only the bytes given are written (the final,
/// usually encrypted, message); the envelope is not kept.
#[derive(Debug, Clone)]
pub struct FileTransport {
    dir: PathBuf,
}

impl FileTransport {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileTransport { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the message; a second delivery of the same `id` replaces
    /// the file.
    pub async fn send(&self, id: &str, bytes: &[u8]) -> Result<(), DeliveryError> {
        check_id(id)?;
        let dir = self.dir.clone();
        let name = format!("{id}.eml");
        let bytes = bytes.to_vec();
        let size = bytes.len();
        let result = tokio::task::spawn_blocking(move || write_atomic(&dir, &name, &bytes))
            .await
            .map_err(|_| DeliveryError::Transient("file writer task failed".into()))?;
        match result {
            Ok(()) => {
                tracing::debug!(outbox = id, size, "message written to the outbox directory");
                Ok(())
            }
            Err(e) => Err(DeliveryError::Transient(format!(
                "cannot write to the outbox directory: {}",
                e.kind()
            ))),
        }
    }
}

fn check_id(id: &str) -> Result<(), DeliveryError> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(DeliveryError::Permanent(
            "message id is not usable as a file name".into(),
        ))
    }
}

fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "outbox directory is accessible by group or others",
        ));
    }
    Ok(())
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    ensure_private_dir(dir)?;
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &target)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // Make the rename itself durable.
    std::fs::File::open(dir)?.sync_all()
}

/// STARTTLS policy of `smtp://`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// STARTTLS when offered (default).
    Opportunistic,
    /// STARTTLS or fail.
    Required,
    /// Plaintext only.
    None,
    /// Implicit TLS (`smtps://`).
    Implicit,
}

/// SMTP delivery through lettre (one connection per message).
#[derive(Clone)]
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
    sender: Address,
    host: String,
    port: u16,
    tls: TlsMode,
    authenticated: bool,
}

impl fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field(
                "credentials",
                &if self.authenticated { "***" } else { "none" },
            )
            .finish_non_exhaustive()
    }
}

impl SmtpTransport {
    /// Builds from an `smtp://` or `smtps://` URL (see the module docs).
    pub fn from_url(spec: &str, sender: &str) -> Result<Self, ConfigError> {
        let url = url::Url::parse(spec).map_err(|_| ConfigError::InvalidUrl("does not parse"))?;
        let implicit = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            _ => return Err(ConfigError::UnknownScheme),
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(ConfigError::InvalidUrl("no host")),
        };
        if !matches!(url.path(), "" | "/") {
            return Err(ConfigError::InvalidUrl("unexpected path"));
        }
        if url.fragment().is_some() {
            return Err(ConfigError::InvalidUrl("unexpected fragment"));
        }
        let mut tls = if implicit {
            TlsMode::Implicit
        } else {
            TlsMode::Opportunistic
        };
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref(), implicit) {
                ("tls", "required", false) => tls = TlsMode::Required,
                ("tls", "opportunistic", false) => tls = TlsMode::Opportunistic,
                ("tls", "none", false) => tls = TlsMode::None,
                ("tls", _, _) => {
                    return Err(ConfigError::InvalidParameter(
                        "tls must be required, opportunistic or none (smtp:// only)".into(),
                    ));
                }
                (other, _, _) => {
                    return Err(ConfigError::InvalidParameter(format!(
                        "unknown parameter {:?}",
                        other.chars().take(32).collect::<String>()
                    )));
                }
            }
        }
        let port = url.port().unwrap_or(if implicit { 465 } else { 25 });
        let user = percent_decode(url.username())?;
        let password = url.password().map(percent_decode).transpose()?;
        let credentials = match (user.is_empty(), password) {
            (true, None) => None,
            (false, Some(p)) => Some(Credentials::new(user, p)),
            _ => {
                return Err(ConfigError::InvalidUrl(
                    "credentials need both user and password",
                ));
            }
        };
        let loopback = host == "localhost"
            || host
                .parse::<IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false);
        if credentials.is_some()
            && matches!(tls, TlsMode::None | TlsMode::Opportunistic)
            && !loopback
        {
            return Err(ConfigError::CredentialsWithoutTls);
        }
        let sender: Address = sender.parse().map_err(|_| ConfigError::InvalidSender)?;

        let tls_params = || TlsParameters::new(host.clone()).map_err(|_| ConfigError::Tls);
        let lettre_tls = match tls {
            TlsMode::None => Tls::None,
            TlsMode::Opportunistic => Tls::Opportunistic(tls_params()?),
            TlsMode::Required => Tls::Required(tls_params()?),
            TlsMode::Implicit => Tls::Wrapper(tls_params()?),
        };
        let authenticated = credentials.is_some();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .tls(lettre_tls)
            .timeout(Some(SMTP_TIMEOUT));
        if let Some(c) = credentials {
            builder = builder.credentials(c);
        }
        Ok(SmtpTransport {
            inner: builder.build(),
            sender,
            host,
            port,
            tls,
            authenticated,
        })
    }

    pub fn tls(&self) -> TlsMode {
        self.tls
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Delivers one message in one SMTP transaction.
    pub async fn send(
        &self,
        id: &str,
        recipients: &[String],
        bytes: &[u8],
    ) -> Result<(), DeliveryError> {
        let to = recipients
            .iter()
            .map(|r| r.trim().parse::<Address>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| DeliveryError::Permanent("invalid recipient address".into()))?;
        let envelope = Envelope::new(Some(self.sender.clone()), to)
            .map_err(|_| DeliveryError::Permanent("no recipients".into()))?;
        // lettre always terminates DATA with CRLF "." CRLF; without the
        // message's own final CRLF the server receives exactly `bytes`.
        let payload = bytes.strip_suffix(b"\r\n").unwrap_or(bytes);
        match self.inner.send_raw(&envelope, payload).await {
            Ok(_) => {
                tracing::debug!(
                    outbox = id,
                    size = bytes.len(),
                    recipients = recipients.len(),
                    "message accepted by the SMTP server"
                );
                Ok(())
            }
            Err(e) => Err(classify(&e)),
        }
    }
}

/// Maps a lettre error to a content-free [`DeliveryError`]: only 5xx
/// replies are permanent. Server texts (which may echo addresses) are
/// dropped; the reply code is kept.
fn classify(e: &lettre::transport::smtp::Error) -> DeliveryError {
    if let Some(code) = e.status() {
        let reason = format!("SMTP {code}");
        return if e.is_permanent() {
            DeliveryError::Permanent(reason)
        } else {
            DeliveryError::Transient(reason)
        };
    }
    let reason = if e.is_timeout() {
        "timeout"
    } else if e.is_tls() {
        "TLS failure"
    } else if e.is_response() {
        "malformed SMTP response"
    } else if e.is_client() {
        "SMTP client error (e.g. STARTTLS required but not offered)"
    } else {
        "connection failed"
    };
    DeliveryError::Transient(reason.into())
}

fn percent_decode(s: &str) -> Result<String, ConfigError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(ConfigError::InvalidUrl(
                    "bad percent-encoding in credentials",
                ))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ConfigError::InvalidUrl("credentials are not UTF-8"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const SENDER: &str = "security@project.example";

    fn smtp(spec: &str) -> Result<SmtpTransport, ConfigError> {
        match Transport::from_config(&TransportSpec::new(spec), Path::new("/data"), SENDER)? {
            Transport::Smtp(t) => Ok(*t),
            Transport::File(_) => panic!("file"),
        }
    }

    #[test]
    fn parses_transport_strings() {
        match Transport::from_config(&TransportSpec::new("file"), Path::new("/data"), SENDER)
            .unwrap()
        {
            Transport::File(f) => assert_eq!(f.dir(), Path::new("/data/outbox")),
            Transport::Smtp(_) => panic!(),
        }
        let t = smtp("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (t.host(), t.port(), t.tls()),
            ("127.0.0.1", 2525, TlsMode::Opportunistic)
        );
        let t = smtp("smtp://relay.example").unwrap();
        assert_eq!((t.port(), t.tls()), (25, TlsMode::Opportunistic));
        assert_eq!(
            smtp("smtp://relay.example?tls=required").unwrap().tls(),
            TlsMode::Required
        );
        assert_eq!(
            smtp("smtp://relay.example:587/?tls=none").unwrap().tls(),
            TlsMode::None
        );
        let t = smtp("SMTPS://u%40x:p%3Ass@relay.example").unwrap();
        assert_eq!((t.port(), t.tls()), (465, TlsMode::Implicit));
        assert!(t.authenticated);
        // Loopback may authenticate without TLS.
        assert!(smtp("smtp://u:p@127.0.0.1:25?tls=none").is_ok());
        assert!(smtp("smtp://u:p@[::1]:25").is_ok());
    }

    #[test]
    fn refuses_bad_transport_strings() {
        let err = |s: &str| {
            Transport::from_config(&TransportSpec::new(s), Path::new("/d"), SENDER).unwrap_err()
        };
        assert_eq!(err("sendmail"), ConfigError::UnknownScheme);
        assert_eq!(err("http://x"), ConfigError::UnknownScheme);
        assert_eq!(err("smtp://"), ConfigError::InvalidUrl("no host"));
        assert_eq!(err("smtp://[x"), ConfigError::InvalidUrl("does not parse"));
        assert!(matches!(
            err("smtp://h?tls=maybe"),
            ConfigError::InvalidParameter(_)
        ));
        assert!(matches!(
            err("smtps://h?tls=none"),
            ConfigError::InvalidParameter(_)
        ));
        assert!(matches!(
            err("smtp://h?foo=1"),
            ConfigError::InvalidParameter(_)
        ));
        assert_eq!(
            err("smtp://u:p@relay.example"),
            ConfigError::CredentialsWithoutTls
        );
        assert_eq!(
            err("smtp://u:p@relay.example?tls=none"),
            ConfigError::CredentialsWithoutTls
        );
        assert!(smtp("smtp://u:p@relay.example?tls=required").is_ok());
        assert_eq!(
            err("smtp://u@relay.example?tls=required"),
            ConfigError::InvalidUrl("credentials need both user and password")
        );
        assert_eq!(
            err("smtp://h/path"),
            ConfigError::InvalidUrl("unexpected path")
        );
        assert!(matches!(
            Transport::from_config(&TransportSpec::new("smtp://h"), Path::new("/d"), "nope"),
            Err(ConfigError::InvalidSender)
        ));
    }

    #[test]
    fn secrets_are_not_printed() {
        let spec = TransportSpec::new("smtps://user:hunter2@relay.example");
        assert_eq!(format!("{spec:?}"), "***");
        let t = Transport::from_config(&spec, Path::new("/d"), SENDER).unwrap();
        let debug = format!("{t:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("user"),
            "{debug}"
        );
        assert!(debug.contains("***"), "{debug}");
        // Errors do not repeat the string either.
        let e = Transport::from_config(
            &TransportSpec::new("smtp://user:hunter2@relay.example"),
            Path::new("/d"),
            SENDER,
        )
        .unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn file_ids_are_checked() {
        assert!(check_id("0190c3a4-7b2e-7c1d-9a7e-1b2c3d4e5f60").is_ok());
        for bad in ["", ".hidden", "a/b", "../x", "a b", "<a@b>"] {
            assert!(check_id(bad).unwrap_err().is_permanent(), "{bad}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%40b%3a").unwrap(), "a@b:");
        assert!(percent_decode("a%4").is_err());
        assert!(percent_decode("%zz").is_err());
    }
}
