//! What goes into the store and what comes out of it.

use std::fmt;
use std::str::FromStr;

use embargo_domain::{Login, Role, Severity, State, TrackingId, WgName};
use jiff::Timestamp;
use serde::Serialize;
use uuid::Uuid;
use zeroize::Zeroizing;

/// Which database a [`crate::Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who did something: a team member or the gateway itself.
///
/// Stored as the login, or `system`; the login `system` is therefore
/// reserved ([`crate::Store::add_user`] refuses it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    System,
    User(Login),
}

pub(crate) const SYSTEM_ACTOR: &str = "system";

impl Actor {
    pub fn as_str(&self) -> &str {
        match self {
            Actor::System => SYSTEM_ACTOR,
            Actor::User(login) => login.as_str(),
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        if s == SYSTEM_ACTOR {
            Some(Actor::System)
        } else {
            Login::parse(s).ok().map(Actor::User)
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($s => Ok($name::$variant),)+ _ => Err(()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

str_enum! {
    /// Whether a message came from outside or was sent by the team.
    Direction { Inbound => "inbound", Outbound => "outbound" }
}

str_enum! {
    /// The outcome of checking a message's OpenPGP signature.
    SigStatus { Good => "good", Bad => "bad", UnknownKey => "unknown-key", None => "none" }
}

str_enum! {
    /// Where an outbox entry is.
    OutboxState { Queued => "queued", Sending => "sending", Sent => "sent", Dead => "dead" }
}

str_enum! {
    /// Where a publication job is.
    JobState { Pending => "pending", Running => "running", Done => "done", Failed => "failed" }
}

/// A message's signature, as `report show` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    pub status: SigStatus,
    /// The signing key's fingerprint, when known.
    pub signer: Option<String>,
    /// Whether the signer's User ID matches the message's From address.
    pub matches_sender: bool,
}

impl Signature {
    pub fn none() -> Self {
        Self {
            status: SigStatus::None,
            signer: None,
            matches_sender: false,
        }
    }
}

/// The report-level data of a new report; the rest comes from its first
/// message or is decided later.
#[derive(Clone)]
pub struct NewReport {
    pub subject: String,
    /// The reporter's address (personal data: sealed).
    pub reporter: String,
}

impl fmt::Debug for NewReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewReport { *** }")
    }
}

/// A message to file. Every text field is sealed at rest.
#[derive(Clone)]
pub struct NewMessage {
    /// The raw `Message-ID` header value (angle brackets optional). Only its
    /// hash is stored in clear (for deduplication and threading).
    pub message_id: Option<String>,
    /// The original bytes as delivered.
    pub raw: Vec<u8>,
    pub direction: Direction,
    pub received_at: Timestamp,
    /// The `Date` header, when it parsed.
    pub date: Option<Timestamp>,
    pub from: String,
    pub subject: String,
    /// The header block as text.
    pub headers: String,
    /// The readable body (decrypted when it was encrypted to the team).
    pub body_text: String,
    pub encrypted: bool,
    pub decrypted: bool,
    /// Why decryption failed: a short reason code, never content.
    pub decrypt_error: Option<String>,
    pub signature: Signature,
    pub attachments: Vec<NewAttachment>,
}

impl fmt::Debug for NewMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewMessage")
            .field("direction", &self.direction)
            .field("size", &self.raw.len())
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct NewAttachment {
    pub filename: Option<String>,
    pub content_type: String,
    pub content: Vec<u8>,
}

impl fmt::Debug for NewAttachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAttachment")
            .field("content_type", &self.content_type)
            .field("size", &self.content.len())
            .finish_non_exhaustive()
    }
}

/// What filing a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filed {
    /// Stored now.
    New { report: TrackingId, message: Uuid },
    /// The same message (same Message-ID and content) was stored before:
    /// nothing was written.
    Duplicate { report: TrackingId, message: Uuid },
}

impl Filed {
    pub fn report(&self) -> &TrackingId {
        match self {
            Filed::New { report, .. } | Filed::Duplicate { report, .. } => report,
        }
    }

    pub fn message(&self) -> Uuid {
        match self {
            Filed::New { message, .. } | Filed::Duplicate { message, .. } => *message,
        }
    }

    pub fn is_new(&self) -> bool {
        matches!(self, Filed::New { .. })
    }
}

/// Which reports [`crate::Store::list_reports`] returns.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    pub state: Option<State>,
    pub wg: Option<WgName>,
    /// Only reports updated at or after this instant.
    pub updated_since: Option<Timestamp>,
    /// At most this many (newest first); `None`: all.
    pub limit: Option<u32>,
}

/// One line of `report list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportSummary {
    pub id: TrackingId,
    pub state: State,
    pub subject: String,
    pub reporter: String,
    pub wg: Option<WgName>,
    pub severity: Option<Severity>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub embargo_until: Option<Timestamp>,
    pub duplicate_of: Option<TrackingId>,
    pub acknowledged_at: Option<Timestamp>,
    pub triaged_at: Option<Timestamp>,
    pub message_count: u64,
}

/// A report with its messages (oldest first) and audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportDetail {
    #[serde(flatten)]
    pub report: ReportSummary,
    pub messages: Vec<MessageDetail>,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageDetail {
    /// The store's ID of this message.
    pub id: Uuid,
    /// The `Message-ID` header, as received.
    pub message_id: Option<String>,
    pub direction: Direction,
    pub from: String,
    pub subject: String,
    pub date: Option<Timestamp>,
    pub received_at: Timestamp,
    pub size: u64,
    pub encrypted: bool,
    pub decrypted: bool,
    pub decrypt_error: Option<String>,
    pub signature: Signature,
    pub body_text: String,
    #[serde(skip)]
    pub headers: String,
    pub attachments: Vec<AttachmentMeta>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentMeta {
    pub id: Uuid,
    pub filename: Option<String>,
    pub content_type: String,
    pub size: u64,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub id: Uuid,
    pub report_id: Option<TrackingId>,
    pub at: Timestamp,
    pub actor: Actor,
    pub kind: String,
    pub detail: String,
}

/// A team account to create. The password hash (argon2 PHC string) is
/// computed by the caller.
#[derive(Clone)]
pub struct NewUser {
    pub login: Login,
    pub role: Role,
    pub wg: Option<WgName>,
    pub password_hash: String,
    pub must_change_password: bool,
    pub email: Option<String>,
    pub pgp_cert: Option<String>,
    pub totp_secret: Option<Zeroizing<Vec<u8>>>,
    pub created_at: Timestamp,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("login", &self.login)
            .field("role", &self.role)
            .field("wg", &self.wg)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub login: Login,
    pub role: Role,
    pub wg: Option<WgName>,
    pub password_hash: String,
    pub must_change_password: bool,
    pub email: Option<String>,
    pub pgp_cert: Option<String>,
    pub totp_secret: Option<Zeroizing<Vec<u8>>>,
    pub created_at: Timestamp,
    pub failed_logins: u32,
    pub locked_until: Option<Timestamp>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("login", &self.login)
            .field("role", &self.role)
            .field("wg", &self.wg)
            .field("password_hash", &"***")
            .field("must_change_password", &self.must_change_password)
            .field("totp_secret", &self.totp_secret.as_ref().map(|_| "***"))
            .field("failed_logins", &self.failed_logins)
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

/// The result of [`crate::Store::record_failed_login`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedLogins {
    pub count: u32,
    pub locked_until: Option<Timestamp>,
}

/// A session to create. Only the hash of the session token is stored (see
/// [`crate::hash_token`]).
#[derive(Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub login: Login,
    /// The per-session CSRF secret (sealed at rest).
    pub csrf_secret: Zeroizing<Vec<u8>>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSession")
            .field("login", &self.login)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: String,
    pub login: Login,
    pub csrf_secret: Zeroizing<Vec<u8>>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub last_seen: Timestamp,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("token_hash", &"***")
            .field("login", &self.login)
            .field("csrf_secret", &"***")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("last_seen", &self.last_seen)
            .finish()
    }
}

/// A composed message to deliver.
#[derive(Clone)]
pub struct NewOutbox {
    pub report_id: Option<TrackingId>,
    /// Envelope recipients (sealed at rest).
    pub recipients: Vec<String>,
    /// The complete RFC 5322 message (sealed at rest).
    pub body: Vec<u8>,
}

impl fmt::Debug for NewOutbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewOutbox")
            .field("report_id", &self.report_id)
            .field("recipients", &self.recipients.len())
            .field("size", &self.body.len())
            .finish()
    }
}

/// An outbox entry claimed for delivery.
#[derive(Clone)]
pub struct OutboxItem {
    pub id: Uuid,
    pub report_id: Option<TrackingId>,
    pub created_at: Timestamp,
    pub recipients: Vec<String>,
    pub body: Zeroizing<Vec<u8>>,
    /// Delivery attempts including the current one.
    pub attempts: u32,
    pub lease_until: Timestamp,
}

impl fmt::Debug for OutboxItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxItem")
            .field("id", &self.id)
            .field("report_id", &self.report_id)
            .field("recipients", &self.recipients.len())
            .field("size", &self.body.len())
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// After a failed delivery: when to try again, or give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    At(Timestamp),
    Dead,
}

/// Outbox entries by state; `ready` are queued and due at the given
/// instant, `waiting` queued for a later retry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    pub ready: u64,
    pub waiting: u64,
    pub sending: u64,
    pub sent: u64,
    pub dead: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicationJob {
    pub report_id: TrackingId,
    pub due_at: Timestamp,
    pub state: JobState,
    pub attempts: u32,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Timestamp>,
    pub issue_url: Option<String>,
    pub last_error: Option<String>,
}

/// How a claimed publication job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Published: the public issue's URL.
    Done { issue_url: String },
    /// Failed; `retry_at` makes it due again then, `None` gives up.
    Failed {
        error: String,
        retry_at: Option<Timestamp>,
    },
}
