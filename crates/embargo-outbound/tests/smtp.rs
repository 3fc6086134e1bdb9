//! Delivery through a real SMTP server (Python aiosmtpd) on loopback.
//! Skipped with a message when python3/aiosmtpd is missing, except in
//! CI (CI=true).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;

use common::*;
use embargo_outbound::{
    AckContext, DeliveryError, TlsMode, Transport, TransportSpec, Worker, WorkerConfig,
    acknowledgement,
};
use embargo_store::{NewOutbox, Store};

fn transport(port: u16, query: &str) -> Transport {
    Transport::from_config(
        &TransportSpec::new(format!("smtp://127.0.0.1:{port}{query}")),
        Path::new("/nonexistent"),
        TEAM_ADDR,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn delivers_composed_mail_over_smtp() {
    let Some(server) = SmtpServer::start() else {
        return;
    };
    let team = team();
    let mail = acknowledgement(&AckContext {
        team: &team,
        settings: &settings(),
        tracking_id: &tracking_id(),
        reporter: REPORTER,
        reporter_cert: None,
        report_message_id: Some("<r@example.org>"),
        report_subject: None,
        now: now(),
    })
    .unwrap();

    // Default: opportunistic STARTTLS; aiosmtpd offers none, so plain.
    let t = transport(server.port, "");
    match &t {
        Transport::Smtp(s) => assert_eq!(s.tls(), TlsMode::Opportunistic),
        Transport::File(_) => panic!(),
    }
    t.send("m1", &mail.recipients, &mail.bytes).await.unwrap();
    let (bytes, envelope) = server.wait_for(1);
    assert_eq!(envelope.mail_from, TEAM_ADDR);
    assert_eq!(envelope.rcpt_tos, vec![REPORTER.to_owned()]);
    assert_eq!(bytes, mail.bytes, "received bytes differ");
    assert_autocrypt(&bytes, &team);

    // tls=none, several recipients, and a body with lines starting with
    // a dot (dot-stuffing must be transparent).
    let body = b"Subject: x\r\nFrom: security@project.example\r\n\r\n.hidden line\r\n..two dots\r\n.\r\nend\r\n".to_vec();
    let recipients = vec!["a@example.org".to_owned(), "b@example.org".to_owned()];
    transport(server.port, "?tls=none")
        .send("m2", &recipients, &body)
        .await
        .unwrap();
    let (bytes, envelope) = server.wait_for(2);
    assert_eq!(envelope.rcpt_tos, recipients);
    assert_eq!(bytes, body);
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_failures_are_classified() {
    let Some(server) = SmtpServer::start() else {
        return;
    };
    let t = transport(server.port, "?tls=none");
    let body = b"Subject: x\r\n\r\nbody\r\n";

    let err = t
        .send("m", &["tempfail@example.org".to_owned()], body)
        .await
        .unwrap_err();
    assert_eq!(err, DeliveryError::Transient("SMTP 451".into()));
    assert_eq!(err.smtp_code(), Some(451));

    let err = t
        .send("m", &["reject@example.org".to_owned()], body)
        .await
        .unwrap_err();
    assert_eq!(err, DeliveryError::Permanent("SMTP 550".into()));
    // The server's text echoes the address; our reason does not.
    assert!(!err.to_string().contains("reject@"));

    // STARTTLS required but not offered: transient (a configuration
    // problem the operator can fix; retried).
    let err = transport(server.port, "?tls=required")
        .send("m", &["a@example.org".to_owned()], body)
        .await
        .unwrap_err();
    assert!(!err.is_permanent(), "{err:?}");
    assert_eq!(server.count(), 0);

    // Nobody listening: transient.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = transport(port, "?tls=none")
        .send("m", &["a@example.org".to_owned()], body)
        .await
        .unwrap_err();
    assert_eq!(err, DeliveryError::Transient("connection failed".into()));

    // An address the transport cannot use: permanent.
    let err = t
        .send("m", &["not an address".to_owned()], body)
        .await
        .unwrap_err();
    assert!(err.is_permanent());
}

#[tokio::test(flavor = "multi_thread")]
async fn worker_delivers_over_smtp_and_dead_letters_5xx() {
    let Some(server) = SmtpServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(
        &format!("sqlite://{}/x.db", dir.path().display()),
        embargo_seal::StorageKeys::ephemeral(),
    )
    .await
    .unwrap();
    let now = now();
    let entry = |to: &str| NewOutbox {
        report_id: None,
        recipients: vec![to.to_owned()],
        body: format!("Subject: to {to}\r\n\r\nbody\r\n").into_bytes(),
    };
    store
        .enqueue_outbox(&entry("ok@example.org"), now)
        .await
        .unwrap();
    store
        .enqueue_outbox(&entry("reject@example.org"), now)
        .await
        .unwrap();
    store
        .enqueue_outbox(&entry("tempfail@example.org"), now)
        .await
        .unwrap();

    let worker = Worker::new(
        store.clone(),
        transport(server.port, "?tls=none"),
        WorkerConfig::default(),
    );
    let counts = worker.flush(now).await.unwrap();
    assert_eq!((counts.sent, counts.dead, counts.retry), (1, 1, 1));
    let c = store.outbox_counts(now).await.unwrap();
    assert_eq!((c.sent, c.dead, c.waiting), (1, 1, 1));
    let (bytes, envelope) = server.wait_for(1);
    assert_eq!(envelope.rcpt_tos, vec!["ok@example.org".to_owned()]);
    assert_eq!(bytes, b"Subject: to ok@example.org\r\n\r\nbody\r\n");
}
