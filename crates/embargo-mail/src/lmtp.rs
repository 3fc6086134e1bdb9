//! An RFC 2033 LMTP server session.
//!
//! The MTA connects, says LHLO, and hands over one or more transactions
//! (MAIL, RCPT…, DATA). After the final dot of DATA there is one reply per
//! accepted recipient, in RCPT order, so the MTA knows for each recipient
//! whether the message was stored (2xx), should be retried (4xx) or bounced
//! (5xx). Only [`RcptOutcome::Accepted`] yields 250.
//!
//! Commands are parsed by `smtp-proto`; DATA is dot-unstuffed by its
//! `DataReceiver`. Command lines are framed here, with a length limit, so
//! that an over-long line is discarded whole instead of being re-read as
//! commands. Message bytes beyond [`LmtpLimits::max_bytes`] are counted and
//! discarded, never buffered, and the message is refused with 552.
//!
//! Replies are buffered and written when the session needs more input, so
//! pipelined commands (RFC 2920) are answered in order in one write.
//!
//! Nothing here logs addresses or content; only sizes and counts.

use std::future::Future;
use std::ops::Range;
use std::time::Duration;

use smtp_proto::request::receiver::DataReceiver;
use smtp_proto::{Error as ProtoError, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use crate::Limits;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Longest reply text taken from a [`RcptOutcome`].
const MAX_REPLY_TEXT: usize = 200;

/// The envelope of one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path; empty for the null sender `<>` (bounces).
    pub mail_from: String,
    /// Accepted recipients in RCPT order.
    pub rcpt_to: Vec<String>,
}

/// What happened to the message for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptOutcome {
    /// Stored durably: `250 2.0.0`.
    Accepted,
    /// Not stored, try again later: `451 4.3.0 <text>`.
    TempFail(String),
    /// Refused for good: `554 5.6.0 <text>`.
    PermFail(String),
}

/// Where accepted messages go.
pub trait Deliver: Send + Sync {
    /// Stores one message for the envelope's recipients. Returns one outcome
    /// per recipient in `envelope.rcpt_to` order, or a single outcome for
    /// all of them. A missing outcome counts as a temporary failure.
    fn deliver(
        &self,
        envelope: &Envelope,
        raw: Vec<u8>,
    ) -> impl Future<Output = Vec<RcptOutcome>> + Send;

    /// Whether RCPT TO this address is accepted at all (`550 5.1.1` if not).
    fn accepts_recipient(&self, _rcpt: &str) -> bool {
        true
    }
}

/// Limits of one LMTP session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LmtpLimits {
    /// Largest message accepted, advertised as SIZE.
    pub max_bytes: usize,
    /// Recipients per transaction; more get `452 4.5.3`.
    pub max_recipients: usize,
    /// Longest command line, CRLF included.
    pub max_line: usize,
    /// Time to wait for the client before `421 4.4.2` and closing.
    pub idle_timeout: Duration,
    /// Failed commands before `421 4.7.0` and closing.
    pub max_errors: usize,
}

impl Default for LmtpLimits {
    fn default() -> Self {
        LmtpLimits::from(&Limits::default())
    }
}

impl From<&Limits> for LmtpLimits {
    fn from(limits: &Limits) -> Self {
        LmtpLimits {
            max_bytes: limits.max_bytes,
            max_recipients: 100,
            max_line: 4096,
            idle_timeout: Duration::from_secs(300),
            max_errors: 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LmtpError {
    #[error("LMTP connection error: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs one LMTP session until QUIT, EOF, idle timeout or too many errors.
pub async fn session<S, D>(
    stream: S,
    hostname: &str,
    limits: &LmtpLimits,
    deliver: &D,
) -> Result<(), LmtpError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Deliver,
{
    session_until(stream, hostname, limits, deliver, None).await
}

/// Like [`session`], and stops gracefully once `stop` becomes true: a
/// transaction in progress (MAIL given, DATA not finished) is completed,
/// then the next command, or an idle wait, gets `421 4.3.2` and the
/// connection is closed. Dropping the sender never stops the session.
pub async fn session_until<S, D>(
    stream: S,
    hostname: &str,
    limits: &LmtpLimits,
    deliver: &D,
    stop: Option<watch::Receiver<bool>>,
) -> Result<(), LmtpError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Deliver,
{
    let host: String = hostname
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    let host = if host.is_empty() {
        "localhost".to_string()
    } else {
        host
    };
    let mut session = Session {
        io: Io {
            stream,
            chunk: vec![0u8; READ_CHUNK],
            inbuf: Vec::new(),
            pos: 0,
            out: Vec::new(),
            idle_timeout: limits.idle_timeout,
            stop,
        },
        host,
        limits,
        deliver,
        lhlo: false,
        mail_from: None,
        rcpts: Vec::new(),
        errors: 0,
        discarding: false,
    };
    session.run().await
}

enum Input {
    Line(Range<usize>),
    TooLong,
    Eof,
    Timeout,
    Stopped,
}

enum Read {
    Data,
    Eof,
    Timeout,
    Stopped,
}

struct Io<S> {
    stream: S,
    chunk: Vec<u8>,
    inbuf: Vec<u8>,
    pos: usize,
    out: Vec<u8>,
    idle_timeout: Duration,
    stop: Option<watch::Receiver<bool>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Io<S> {
    fn reply(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.stream.flush().await?;
            self.out.clear();
        }
        Ok(())
    }

    fn stop_requested(&self) -> bool {
        self.stop.as_ref().is_some_and(|rx| *rx.borrow())
    }

    fn pending(&self) -> &[u8] {
        self.inbuf.get(self.pos..).unwrap_or_default()
    }

    /// Flushes replies, then reads more input. While `interruptible`, a stop
    /// request ends the wait.
    async fn read_more(&mut self, interruptible: bool) -> std::io::Result<Read> {
        self.flush().await?;
        if self.pos > 0 {
            self.inbuf.drain(..self.pos.min(self.inbuf.len()));
            self.pos = 0;
        }
        if interruptible && self.stop_requested() {
            return Ok(Read::Stopped);
        }
        let read = tokio::time::timeout(self.idle_timeout, self.stream.read(&mut self.chunk));
        let result = match (&mut self.stop, interruptible) {
            (Some(stop), true) => {
                tokio::select! {
                    r = read => Some(r),
                    () = wait_for_stop(stop) => None,
                }
            }
            _ => Some(read.await),
        };
        match result {
            None => Ok(Read::Stopped),
            Some(Err(_elapsed)) => Ok(Read::Timeout),
            Some(Ok(Ok(0))) => Ok(Read::Eof),
            Some(Ok(Ok(n))) => {
                self.inbuf
                    .extend_from_slice(self.chunk.get(..n).unwrap_or_default());
                Ok(Read::Data)
            }
            Some(Ok(Err(e))) => Err(e),
        }
    }
}

/// Resolves once the value is true; never, if the sender is gone.
async fn wait_for_stop(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

struct Session<'a, S, D> {
    io: Io<S>,
    host: String,
    limits: &'a LmtpLimits,
    deliver: &'a D,
    lhlo: bool,
    mail_from: Option<String>,
    rcpts: Vec<String>,
    errors: usize,
    /// Inside an over-long line, dropping bytes up to its end.
    discarding: bool,
}

enum Next {
    Continue,
    Close,
}

impl<S, D> Session<'_, S, D>
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Deliver,
{
    fn in_transaction(&self) -> bool {
        self.mail_from.is_some()
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpts.clear();
    }

    async fn run(&mut self) -> Result<(), LmtpError> {
        let greeting = format!("220 {} LMTP embargo ready", self.host);
        self.io.reply(&greeting);
        loop {
            let input = self.next_line().await?;
            let next = match input {
                Input::Line(range) => {
                    if self.io.stop_requested() && !self.in_transaction() {
                        self.shutdown_reply();
                        Next::Close
                    } else {
                        let line = self.io.inbuf.get(range).unwrap_or_default().to_vec();
                        self.command(&line).await?
                    }
                }
                Input::TooLong => self.error("500 5.5.2 Line too long"),
                Input::Eof => Next::Close,
                Input::Timeout => {
                    let text = format!("421 4.4.2 {} Idle timeout, closing", self.host);
                    self.io.reply(&text);
                    Next::Close
                }
                Input::Stopped => {
                    self.shutdown_reply();
                    Next::Close
                }
            };
            if let Next::Close = next {
                self.io.flush().await?;
                let _ = self.io.stream.shutdown().await;
                return Ok(());
            }
        }
    }

    fn shutdown_reply(&mut self) {
        let text = format!("421 4.3.2 {} Service shutting down", self.host);
        self.io.reply(&text);
    }

    /// Counts a failed command; closes the session after too many.
    fn error(&mut self, reply: &str) -> Next {
        self.io.reply(reply);
        self.errors += 1;
        if self.errors > self.limits.max_errors {
            let text = format!("421 4.7.0 {} Too many errors, closing", self.host);
            self.io.reply(&text);
            Next::Close
        } else {
            Next::Continue
        }
    }

    async fn next_line(&mut self) -> std::io::Result<Input> {
        loop {
            if let Some(nl) = memchr::memchr(b'\n', self.io.pending()) {
                let start = self.io.pos;
                let end = start + nl + 1;
                self.io.pos = end;
                if self.discarding {
                    self.discarding = false;
                    return Ok(Input::TooLong);
                }
                if end - start > self.limits.max_line {
                    return Ok(Input::TooLong);
                }
                return Ok(Input::Line(start..end));
            }
            if self.io.pending().len() > self.limits.max_line {
                // Drop what we have of the line and everything up to its LF.
                self.discarding = true;
                self.io.inbuf.clear();
                self.io.pos = 0;
            }
            let interruptible = !self.in_transaction();
            match self.io.read_more(interruptible).await? {
                Read::Data => {}
                Read::Eof => return Ok(Input::Eof),
                Read::Timeout => return Ok(Input::Timeout),
                Read::Stopped => return Ok(Input::Stopped),
            }
        }
    }

    async fn command(&mut self, line: &[u8]) -> Result<Next, LmtpError> {
        let request = Request::parse(&mut line.iter()).map(Request::into_owned);
        let next = match request {
            Ok(Request::Lhlo { .. }) => {
                self.reset();
                self.lhlo = true;
                let text = format!(
                    "250-{}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE {}",
                    self.host, self.limits.max_bytes
                );
                self.io.reply(&text);
                Next::Continue
            }
            Ok(Request::Ehlo { .. } | Request::Helo { .. }) => {
                self.error("500 5.5.1 This is LMTP: use LHLO")
            }
            Ok(Request::Mail { from }) => {
                if !self.lhlo {
                    self.error("503 5.5.1 Send LHLO first")
                } else if self.in_transaction() {
                    self.error("503 5.5.1 Nested MAIL command")
                } else if from.size > self.limits.max_bytes {
                    self.error("552 5.3.4 Message size exceeds fixed maximum message size")
                } else {
                    self.mail_from = Some(from.address);
                    self.io.reply("250 2.1.0 Sender OK");
                    Next::Continue
                }
            }
            Ok(Request::Rcpt { to }) => {
                if !self.in_transaction() {
                    self.error("503 5.5.1 Send MAIL first")
                } else if self.rcpts.len() >= self.limits.max_recipients {
                    self.io.reply("452 4.5.3 Too many recipients");
                    Next::Continue
                } else if to.address.is_empty() {
                    self.error("501 5.1.3 Bad recipient address syntax")
                } else if !self.deliver.accepts_recipient(&to.address) {
                    self.error("550 5.1.1 No such mailbox")
                } else {
                    self.rcpts.push(to.address);
                    self.io.reply("250 2.1.5 Recipient OK");
                    Next::Continue
                }
            }
            Ok(Request::Data) => {
                if !self.in_transaction() {
                    self.error("503 5.5.1 Send MAIL first")
                } else if self.rcpts.is_empty() {
                    self.error("503 5.5.1 No valid recipients")
                } else {
                    self.io
                        .reply("354 Start mail input; end with <CRLF>.<CRLF>");
                    self.data().await?
                }
            }
            Ok(Request::Rset) => {
                self.reset();
                self.io.reply("250 2.0.0 OK");
                Next::Continue
            }
            Ok(Request::Noop { .. }) => {
                self.io.reply("250 2.0.0 OK");
                Next::Continue
            }
            Ok(Request::Quit) => {
                let text = format!("221 2.0.0 {} Bye", self.host);
                self.io.reply(&text);
                Next::Close
            }
            Ok(Request::Vrfy { .. }) => {
                self.io.reply("252 2.5.0 Cannot VRFY user");
                Next::Continue
            }
            Ok(Request::Help { .. }) => {
                self.io.reply("214 2.0.0 RFC 2033 LMTP");
                Next::Continue
            }
            Ok(
                Request::Auth { .. }
                | Request::StartTls
                | Request::Bdat { .. }
                | Request::Expn { .. }
                | Request::Etrn { .. }
                | Request::Atrn { .. }
                | Request::Burl { .. },
            ) => self.error("502 5.5.1 Command not implemented"),
            Err(ProtoError::UnknownCommand | ProtoError::NeedsMoreData { .. }) => {
                self.error("500 5.5.2 Command unrecognized")
            }
            Err(ProtoError::InvalidSenderAddress) => {
                self.error("501 5.1.7 Bad sender address syntax")
            }
            Err(ProtoError::InvalidRecipientAddress) => {
                self.error("501 5.1.3 Bad recipient address syntax")
            }
            Err(ProtoError::InvalidParameter { .. } | ProtoError::UnsupportedParameter { .. }) => {
                self.error("555 5.5.4 Parameter not recognized or not implemented")
            }
            Err(_) => self.error("501 5.5.4 Syntax error"),
        };
        Ok(next)
    }

    /// Reads the message after 354, then replies once per recipient.
    async fn data(&mut self) -> Result<Next, LmtpError> {
        let mut receiver = DataReceiver::new();
        // The receiver recognises ".\r\n" and dot-stuffing only after a CRLF;
        // the message starts right after the CRLF of the DATA command.
        let mut scratch = Vec::new();
        receiver.ingest(&mut b"\r\n".iter(), &mut scratch);

        let mut message = Vec::new();
        let mut received = 0usize;
        let mut oversize = false;
        loop {
            let pending = self.io.pending();
            let mut iter = pending.iter();
            let before = message.len();
            let done = receiver.ingest(&mut iter, &mut message);
            let consumed = pending.len() - iter.as_slice().len();
            self.io.pos += consumed;
            received = received.saturating_add(message.len().saturating_sub(before));
            if !oversize && message.len() > self.limits.max_bytes {
                oversize = true;
                message = Vec::new();
            }
            if oversize {
                message.clear();
            }
            if done {
                break;
            }
            match self.io.read_more(false).await? {
                Read::Data => {}
                Read::Eof => {
                    tracing::info!(received, "LMTP client closed the connection during DATA");
                    return Ok(Next::Close);
                }
                Read::Timeout => {
                    let text = format!("421 4.4.2 {} Timeout during DATA, closing", self.host);
                    self.io.reply(&text);
                    return Ok(Next::Close);
                }
                Read::Stopped => {}
            }
        }

        let rcpts = std::mem::take(&mut self.rcpts);
        let mail_from = self.mail_from.take().unwrap_or_default();
        if oversize {
            tracing::info!(
                received,
                max = self.limits.max_bytes,
                recipients = rcpts.len(),
                "LMTP message over the size limit refused"
            );
            for _ in &rcpts {
                self.io
                    .reply("552 5.3.4 Message size exceeds fixed maximum message size");
            }
            return Ok(Next::Continue);
        }

        let envelope = Envelope {
            mail_from,
            rcpt_to: rcpts,
        };
        let size = message.len();
        self.io.flush().await?;
        let outcomes = self.deliver.deliver(&envelope, message).await;
        let count = envelope.rcpt_to.len();
        if outcomes.len() != count && outcomes.len() != 1 {
            tracing::warn!(
                outcomes = outcomes.len(),
                recipients = count,
                "Deliver returned the wrong number of outcomes"
            );
        }
        let mut accepted = 0usize;
        for i in 0..count {
            let outcome = if outcomes.len() == 1 {
                outcomes.first()
            } else {
                outcomes.get(i)
            };
            let reply = match outcome {
                Some(RcptOutcome::Accepted) => {
                    accepted += 1;
                    "250 2.0.0 Message accepted for delivery".to_string()
                }
                Some(RcptOutcome::TempFail(text)) => {
                    format!(
                        "451 4.3.0 {}",
                        reply_text(text, "Temporary failure, try again later")
                    )
                }
                Some(RcptOutcome::PermFail(text)) => {
                    format!("554 5.6.0 {}", reply_text(text, "Message refused"))
                }
                None => "451 4.3.0 Temporary failure, try again later".to_string(),
            };
            self.io.reply(&reply);
        }
        tracing::debug!(size, recipients = count, accepted, "LMTP transaction done");
        Ok(Next::Continue)
    }
}

/// Reply text safe for the wire: printable ASCII, bounded, never empty.
fn reply_text(text: &str, default: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .take(MAX_REPLY_TEXT)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        default.to_string()
    } else {
        clean.to_string()
    }
}
