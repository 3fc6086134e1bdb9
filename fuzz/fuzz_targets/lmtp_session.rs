//! The bytes are a client's side of an LMTP connection: written to
//! `embargo_mail::lmtp::session` over an in-memory duplex pipe (then EOF),
//! while the server's replies are drained concurrently. The Deliver impl
//! accepts everything and checks the envelope/size invariants.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use embargo_mail::lmtp::{Deliver, Envelope, LmtpLimits, RcptOutcome, session};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Small enough that the fuzzer reaches the size and recipient limits with
/// short inputs; otherwise the defaults.
fn limits() -> &'static LmtpLimits {
    static LIMITS: OnceLock<LmtpLimits> = OnceLock::new();
    LIMITS.get_or_init(|| LmtpLimits {
        max_bytes: 16 * 1024,
        max_recipients: 8,
        // Never reached: every input ends in EOF. A hang shows as a
        // libFuzzer timeout instead.
        idle_timeout: Duration::from_secs(3600),
        ..LmtpLimits::default()
    })
}

struct Accept;

impl Deliver for Accept {
    async fn deliver(&self, envelope: &Envelope, raw: Vec<u8>) -> Vec<RcptOutcome> {
        let limits = limits();
        assert!(raw.len() <= limits.max_bytes, "oversized message delivered");
        assert!(!envelope.rcpt_to.is_empty(), "delivery without recipients");
        assert!(envelope.rcpt_to.len() <= limits.max_recipients);
        vec![RcptOutcome::Accepted]
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        return;
    };
    rt.block_on(async {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (mut rx, mut tx) = tokio::io::split(client);
        let server_task = session(server, "mx.example", limits(), &Accept);
        let writer = async move {
            // The server may close first (QUIT, too many errors): a broken
            // pipe is expected then.
            let _ = tx.write_all(data).await;
            let _ = tx.shutdown().await;
        };
        let reader = async move {
            let mut out = Vec::new();
            let _ = rx.read_to_end(&mut out).await;
            out
        };
        let (result, (), out) = tokio::join!(server_task, writer, reader);
        assert!(
            result.is_ok(),
            "session error on an in-memory pipe: {result:?}"
        );
        assert!(out.starts_with(b"220 "), "no greeting");
        // Every reply line is CRLF-terminated and starts with a 3-digit code.
        for line in out.split_inclusive(|&b| b == b'\n') {
            assert!(line.ends_with(b"\r\n"), "reply line without CRLF");
            assert!(
                line.len() >= 5 && line.iter().take(3).all(u8::is_ascii_digit),
                "malformed reply line"
            );
        }
    });
});
