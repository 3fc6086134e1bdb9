//! The LMTP session driven over an in-memory duplex stream.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code: failing loudly is the point

use std::sync::Mutex;
use std::time::Duration;

use embargo_mail::lmtp::{Deliver, Envelope, LmtpLimits, RcptOutcome, session, session_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// Records deliveries and answers with a fixed outcome list.
struct Fake {
    outcomes: Vec<RcptOutcome>,
    delivered: Mutex<Vec<(Envelope, Vec<u8>)>>,
}

impl Fake {
    fn accepting() -> Self {
        Fake::answering(vec![RcptOutcome::Accepted])
    }

    fn answering(outcomes: Vec<RcptOutcome>) -> Self {
        Fake {
            outcomes,
            delivered: Mutex::new(Vec::new()),
        }
    }

    fn delivered(&self) -> Vec<(Envelope, Vec<u8>)> {
        self.delivered.lock().unwrap().clone()
    }
}

impl Deliver for Fake {
    async fn deliver(&self, envelope: &Envelope, raw: Vec<u8>) -> Vec<RcptOutcome> {
        self.delivered.lock().unwrap().push((envelope.clone(), raw));
        self.outcomes.clone()
    }

    fn accepts_recipient(&self, rcpt: &str) -> bool {
        !rcpt.starts_with("nobody@")
    }
}

fn limits() -> LmtpLimits {
    LmtpLimits {
        max_bytes: 10_000,
        max_recipients: 3,
        max_line: 512,
        idle_timeout: Duration::from_secs(5),
        max_errors: 5,
    }
}

/// Sends `input` (possibly in several writes), closes the write side, and
/// returns everything the server said.
async fn converse(deliver: &Fake, limits: &LmtpLimits, writes: Vec<Vec<u8>>) -> String {
    let (client, server) = tokio::io::duplex(1 << 20);
    let server_task = session(server, "mx.test", limits, deliver);
    let client_task = async move {
        let mut client: DuplexStream = client;
        for w in writes {
            client.write_all(&w).await.unwrap();
        }
        client.shutdown().await.unwrap();
        let mut out = String::new();
        client.read_to_string(&mut out).await.unwrap();
        out
    };
    let (result, out) = tokio::join!(server_task, client_task);
    result.unwrap();
    out
}

fn codes(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.len() >= 4 && l.as_bytes()[3] == b' ')
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect()
}

const TX: &str = "LHLO client\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<security@project.example>\r\n\
                  RCPT TO:<other@project.example>\r\nDATA\r\n";

#[tokio::test]
async fn happy_path_two_recipients() {
    let fake = Fake::accepting();
    let msg = "From: a@example.org\r\nSubject: hi\r\n\r\nHello\r\n.\r\n";
    let out = converse(
        &fake,
        &limits(),
        vec![
            TX.as_bytes().to_vec(),
            msg.as_bytes().to_vec(),
            b"QUIT\r\n".to_vec(),
        ],
    )
    .await;
    assert!(out.starts_with("220 mx.test"), "{out}");
    assert!(
        out.contains(
            "250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE 10000\r\n"
        ),
        "{out}"
    );
    assert_eq!(
        codes(&out),
        [
            "220 mx.test",
            "250 SIZE",
            "250 2.1.0",
            "250 2.1.5",
            "250 2.1.5",
            "354 Start",
            "250 2.0.0",
            "250 2.0.0",
            "221 2.0.0"
        ]
    );
    let delivered = fake.delivered();
    assert_eq!(delivered.len(), 1);
    let (env, raw) = &delivered[0];
    assert_eq!(env.mail_from, "a@example.org");
    assert_eq!(
        env.rcpt_to,
        ["security@project.example", "other@project.example"]
    );
    assert_eq!(raw, b"From: a@example.org\r\nSubject: hi\r\n\r\nHello\r\n");
}

#[tokio::test]
async fn pipelined_in_one_write_and_dot_stuffing() {
    let fake = Fake::accepting();
    let all = format!(
        "{TX}..line starting with a dot\r\n..\r\nlast\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<s@p.example>\r\nDATA\r\n.\r\nQUIT\r\n"
    );
    let out = converse(&fake, &limits(), vec![all.into_bytes()]).await;
    assert_eq!(
        codes(&out),
        [
            "220 mx.test",
            "250 SIZE",
            "250 2.1.0",
            "250 2.1.5",
            "250 2.1.5",
            "354 Start",
            "250 2.0.0",
            "250 2.0.0",
            "250 2.1.0",
            "250 2.1.5",
            "354 Start",
            "250 2.0.0",
            "221 2.0.0"
        ],
        "{out}"
    );
    let delivered = fake.delivered();
    assert_eq!(delivered.len(), 2);
    assert_eq!(
        delivered[0].1,
        b".line starting with a dot\r\n.\r\nlast\r\n"
    );
    // The null sender and an empty message.
    assert_eq!(delivered[1].0.mail_from, "");
    assert_eq!(delivered[1].1, b"");
}

#[tokio::test]
async fn byte_by_byte() {
    let fake = Fake::accepting();
    let all = format!("{TX}x\r\n..y\r\n.\r\nQUIT\r\n");
    let writes = all.bytes().map(|b| vec![b]).collect();
    let out = converse(&fake, &limits(), writes).await;
    assert!(out.ends_with("221 2.0.0 mx.test Bye\r\n"), "{out}");
    assert_eq!(fake.delivered()[0].1, b"x\r\n.y\r\n");
}

#[tokio::test]
async fn oversize_data_is_refused_and_not_delivered() {
    let fake = Fake::accepting();
    let big = "x".repeat(998) + "\r\n";
    let mut data = String::new();
    while data.len() < 50_000 {
        data.push_str(&big);
    }
    let out = converse(
        &fake,
        &limits(),
        vec![
            TX.as_bytes().to_vec(),
            data.into_bytes(),
            b".\r\nNOOP\r\nQUIT\r\n".to_vec(),
        ],
    )
    .await;
    assert_eq!(
        codes(&out)[5..],
        [
            "354 Start",
            "552 5.3.4",
            "552 5.3.4",
            "250 2.0.0",
            "221 2.0.0"
        ],
        "{out}"
    );
    assert!(fake.delivered().is_empty());
}

#[tokio::test]
async fn declared_size_too_big() {
    let fake = Fake::accepting();
    let out = converse(
        &fake,
        &limits(),
        vec![
            b"LHLO c\r\nMAIL FROM:<a@b.c> SIZE=10001\r\nMAIL FROM:<a@b.c> SIZE=10000\r\nQUIT\r\n"
                .to_vec(),
        ],
    )
    .await;
    assert_eq!(
        codes(&out)[2..],
        ["552 5.3.4", "250 2.1.0", "221 2.0.0"],
        "{out}"
    );
}

#[tokio::test]
async fn bad_sequences_and_unknown_commands() {
    let fake = Fake::accepting();
    let out = converse(
        &fake,
        &LmtpLimits {
            max_errors: 20,
            ..limits()
        },
        vec![
            b"MAIL FROM:<a@b.c>\r\nEHLO c\r\nLHLO c\r\nRCPT TO:<x@y.z>\r\nDATA\r\nMAIL FROM:<a@b.c>\r\n\
              DATA\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<nobody@y.z>\r\nXYZZY\r\nVRFY root\r\nRSET\r\nNOOP\r\nQUIT\r\n"
                .to_vec(),
        ],
    )
    .await;
    assert_eq!(
        codes(&out),
        [
            "220 mx.test",
            "503 5.5.1",
            "500 5.5.1",
            "250 SIZE",
            "503 5.5.1",
            "503 5.5.1",
            "250 2.1.0",
            "503 5.5.1",
            "503 5.5.1",
            "550 5.1.1",
            "500 5.5.2",
            "252 2.5.0",
            "250 2.0.0",
            "250 2.0.0",
            "221 2.0.0"
        ],
        "{out}"
    );
    assert!(fake.delivered().is_empty());
}

#[tokio::test]
async fn tempfail_permfail_and_per_recipient_outcomes() {
    let fake = Fake::answering(vec![RcptOutcome::TempFail("store down\r\nINJECT".into())]);
    let out = converse(
        &fake,
        &limits(),
        vec![format!("{TX}m\r\n.\r\nQUIT\r\n").into_bytes()],
    )
    .await;
    assert!(
        out.contains("451 4.3.0 store down  INJECT\r\n451 4.3.0 store down  INJECT\r\n"),
        "{out}"
    );

    let fake = Fake::answering(vec![
        RcptOutcome::Accepted,
        RcptOutcome::PermFail("no".into()),
    ]);
    let out = converse(
        &fake,
        &limits(),
        vec![format!("{TX}m\r\n.\r\nQUIT\r\n").into_bytes()],
    )
    .await;
    assert_eq!(codes(&out)[6..8], ["250 2.0.0", "554 5.6.0"], "{out}");

    // Too few outcomes: the missing one is a temporary failure, never 250.
    let fake = Fake::answering(vec![]);
    let out = converse(
        &fake,
        &limits(),
        vec![format!("{TX}m\r\n.\r\nQUIT\r\n").into_bytes()],
    )
    .await;
    assert_eq!(codes(&out)[6..8], ["451 4.3.0", "451 4.3.0"], "{out}");
}

#[tokio::test]
async fn recipient_and_line_limits() {
    let fake = Fake::accepting();
    let long = format!("NOOP {}\r\n", "a".repeat(5000));
    let input = format!(
        "LHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<1@x.y>\r\nRCPT TO:<2@x.y>\r\nRCPT TO:<3@x.y>\r\nRCPT TO:<4@x.y>\r\n{long}RSET\r\nQUIT\r\n"
    );
    let out = converse(&fake, &limits(), vec![input.into_bytes()]).await;
    assert_eq!(
        codes(&out)[2..],
        [
            "250 2.1.0",
            "250 2.1.5",
            "250 2.1.5",
            "250 2.1.5",
            "452 4.5.3",
            "500 5.5.2",
            "250 2.0.0",
            "221 2.0.0"
        ],
        "{out}"
    );
    // The tail of the long line was not taken for commands.
    assert_eq!(out.matches("500 5.5.2").count(), 1);
}

#[tokio::test]
async fn too_many_errors_closes() {
    let fake = Fake::accepting();
    let out = converse(&fake, &limits(), vec![b"X\r\n".repeat(50)]).await;
    assert!(
        out.trim_end().ends_with("Too many errors, closing"),
        "{out}"
    );
    assert_eq!(out.matches("500 5.5.2").count(), 6);
}

#[tokio::test]
async fn eof_during_data_delivers_nothing() {
    let fake = Fake::accepting();
    let out = converse(
        &fake,
        &limits(),
        vec![format!("{TX}partial message\r\n").into_bytes()],
    )
    .await;
    assert!(out.contains("354"));
    assert!(fake.delivered().is_empty());
}

#[tokio::test]
async fn binary_garbage_does_not_panic() {
    let fake = Fake::accepting();
    let mut garbage = Vec::new();
    let mut x: u32 = 0x1234_5678;
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        garbage.push((x & 0xff) as u8);
    }
    let out = converse(&fake, &limits(), vec![garbage]).await;
    assert!(out.starts_with("220"));

    // Garbage inside a transaction and DATA.
    let fake = Fake::accepting();
    let mut input = TX.as_bytes().to_vec();
    input.extend_from_slice(b"\x00\xff\r\n.\r\n\r\n\x00MAIL FROM:<\xff>\r\n\r\n");
    let out = converse(&fake, &limits(), vec![input]).await;
    assert!(out.contains("250 2.0.0 Message accepted"), "{out}");
    assert_eq!(fake.delivered()[0].1, b"\x00\xff\r\n");
}

#[tokio::test]
async fn graceful_stop() {
    let fake = Fake::accepting();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (mut client, server) = tokio::io::duplex(1 << 16);
    let lim = limits();
    let server_task = session_until(server, "mx.test", &lim, &fake, Some(stop_rx));
    let client_task = async {
        let mut buf = vec![0u8; 4096];
        let mut out = String::new();
        client.write_all(TX.as_bytes()).await.unwrap();
        // Wait for the 354, then ask the server to stop mid-transaction.
        while !out.contains("354") {
            let n = client.read(&mut buf).await.unwrap();
            out.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        stop_tx.send(true).unwrap();
        client.write_all(b"body\r\n.\r\nNOOP\r\n").await.unwrap();
        let mut rest = String::new();
        client.read_to_string(&mut rest).await.unwrap();
        out.push_str(&rest);
        out
    };
    let (result, out) = tokio::join!(server_task, client_task);
    result.unwrap();
    // The transaction in progress completes; the next command gets 421.
    assert_eq!(
        codes(&out)[5..],
        ["354 Start", "250 2.0.0", "250 2.0.0", "421 4.3.2"],
        "{out}"
    );
    assert_eq!(fake.delivered().len(), 1);
}

#[tokio::test]
async fn stop_while_idle() {
    let fake = Fake::accepting();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (mut client, server) = tokio::io::duplex(1 << 16);
    let lim = limits();
    let server_task = session_until(server, "mx.test", &lim, &fake, Some(stop_rx));
    let client_task = async {
        client.write_all(b"LHLO c\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop_tx.send(true).unwrap();
        let mut out = String::new();
        client.read_to_string(&mut out).await.unwrap();
        out
    };
    let (result, out) = tokio::join!(server_task, client_task);
    result.unwrap();
    assert!(out.trim_end().ends_with("Service shutting down"), "{out}");
}

#[tokio::test(start_paused = true)]
async fn idle_timeout() {
    let fake = Fake::accepting();
    let (mut client, server) = tokio::io::duplex(1 << 16);
    let lim = limits();
    let server_task = session(server, "mx.test", &lim, &fake);
    let client_task = async {
        let mut out = String::new();
        client.read_to_string(&mut out).await.unwrap();
        out
    };
    let (result, out) = tokio::join!(server_task, client_task);
    result.unwrap();
    assert!(out.contains("421 4.4.2"), "{out}");
}

#[test]
fn session_future_is_send() {
    // The binary spawns one session per connection.
    fn assert_send<T: Send>(_: &T) {}
    let fake = Fake::accepting();
    let lim = limits();
    let (_client, server) = tokio::io::duplex(64);
    let future = session(server, "mx.test", &lim, &fake);
    assert_send(&future);
    let (_client, server) = tokio::io::duplex(64);
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let future = session_until(server, "mx.test", &lim, &fake, Some(rx));
    assert_send(&future);
}
