//! Outgoing mail of the gateway: composition and delivery.
//!
//! * **Composition** ([`acknowledgement`], [`team_copy`], [`team_notice`],
//!   [`relay`]): pure functions (no I/O, the instant is an argument) from a
//!   context to a [`Composed`] message: the envelope recipients and the
//!   complete RFC 5322 bytes, built with lettre. Queue it in the store's
//!   outbox ([`Composed::into_outbox`], `Tx::enqueue_outbox`) in the
//!   transaction of the change that causes it. Encryption and signing go
//!   through `embargo-pgp` (PGP/MIME, RFC 3156, with RFC 9788 protected
//!   headers). Every message carries an `Autocrypt` header with the team
//!   key. Plaintext messages never carry report content.
//! * **Delivery** ([`Transport`]: `file` or SMTP; [`Worker`], [`flush`]):
//!   claims due outbox entries, delivers them, marks them sent, retries
//!   with exponential backoff (1 m doubling to 6 h) and gives up after
//!   [`WorkerConfig::max_attempts`] (10) or a permanent (5xx) failure.
//!
//! Logs carry outbox IDs, tracking IDs, sizes, counts and SMTP reply
//! codes; never content, subjects or addresses.

mod autocrypt;
mod compose;
mod direct;
mod error;
mod template;
mod transport;
mod worker;

pub use compose::{
    AckContext, AckSettings, Attachment, Composed, ENCRYPTED_SUBJECT, NoticeKind, RelayContext,
    TeamCopyContext, TeamIdentity, TeamNoticeContext, acknowledgement, relay, team_copy,
    team_notice,
};
pub use direct::{Direct, first_cert, one_per_address};
pub use error::{ConfigError, DeliveryError, OutboundError, TemplateError};
pub use template::{DEFAULT_ENCRYPTED_ACK, DEFAULT_PLAINTEXT_ACK, Template, TemplateVars};
pub use transport::{Deliver, FileTransport, SmtpTransport, TlsMode, Transport, TransportSpec};
pub use worker::{FlushCounts, Worker, WorkerConfig, flush};
