//! The crate's error types.
//!
//! No message carries content, subjects or addresses: only which field
//! was wrong, IDs, sizes, SMTP reply codes and the OpenPGP layer's
//! description (fingerprints at most).

use embargo_pgp::PgpError;
use embargo_store::StoreError;

/// Composition failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    /// An e-mail address (team, reporter, member) does not parse. The
    /// value is not repeated.
    #[error("invalid e-mail address in {field}")]
    InvalidAddress {
        /// Which field: `team`, `reporter`, `member`, ...
        field: &'static str,
    },

    /// A display name or subject holds characters that are not allowed.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// Which field.
        field: &'static str,
        /// Why (never the value).
        reason: &'static str,
    },

    /// Encryption, signing or key export failed.
    #[error("OpenPGP: {0}")]
    Pgp(#[from] PgpError),

    /// lettre refused to build the message.
    #[error("cannot build the message: {0}")]
    Build(String),

    /// The store failed (worker only).
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// A template (acknowledgement text) does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// `{name}` with a name that is not a known placeholder.
    #[error(
        "unknown placeholder {{{name}}} (known: {{tracking_id}}, {{response_days}}, {{fingerprint}}, {{key_url}}; write {{{{ and }}}} for literal braces)"
    )]
    UnknownPlaceholder {
        /// The name between the braces (config text, not content).
        name: String,
    },
    /// A `{` without its `}`, or a lone `}`.
    #[error("unbalanced brace at byte {0} (write {{{{ and }}}} for literal braces)")]
    Unbalanced(usize),
}

/// The transport configuration string is unusable. The string itself is
/// never repeated (it may carry a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither `file`, `smtp://…` nor `smtps://…`.
    #[error(
        "mail transport must be `file`, `smtp://host[:port][?tls=required|opportunistic|none]` or `smtps://host[:port]`"
    )]
    UnknownScheme,
    /// The URL does not parse or lacks a host.
    #[error("invalid SMTP URL: {0}")]
    InvalidUrl(&'static str),
    /// An unknown or invalid query parameter.
    #[error("invalid SMTP URL parameter: {0}")]
    InvalidParameter(String),
    /// Credentials would be sent in the clear to a host that is not the
    /// loopback interface.
    #[error(
        "refusing to send SMTP credentials without TLS to a non-loopback host; use smtps:// or ?tls=required"
    )]
    CredentialsWithoutTls,
    /// The envelope sender does not parse.
    #[error("invalid envelope sender address")]
    InvalidSender,
    /// lettre refused the TLS parameters.
    #[error("TLS setup failed")]
    Tls,
}

/// Delivery failed. `Transient` (4xx replies, connection, TLS, I/O) is
/// retried later; `Permanent` (5xx replies, a message the transport
/// cannot take) is not.
///
/// The reason is short and content-free (reply code, error kind), so it
/// may be logged and stored in clear.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Try again later.
    #[error("transient delivery failure: {0}")]
    Transient(String),
    /// Giving up is the right answer.
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

impl DeliveryError {
    /// Whether this is a [`DeliveryError::Permanent`].
    pub fn is_permanent(&self) -> bool {
        matches!(self, DeliveryError::Permanent(_))
    }

    /// The SMTP reply code, when the failure was a server reply.
    pub fn smtp_code(&self) -> Option<u16> {
        let reason = match self {
            DeliveryError::Transient(r) | DeliveryError::Permanent(r) => r,
        };
        reason
            .strip_prefix("SMTP ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
    }
}
