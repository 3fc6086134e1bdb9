//! Shared fixtures of the intake tests: a real SQLite store, generated
//! team and reporter keys, hand-built messages.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use embargo_domain::TrackingPrefix;
use embargo_intake::{Intake, MailFlow};
use embargo_outbound::{AckSettings, TeamIdentity};
use embargo_pgp::{Keyring, cert_to_armored, encrypt_and_sign, generate_team_key};
use embargo_seal::StorageKeys;
use embargo_store::Store;

pub fn flow(team: &Keyring) -> Arc<MailFlow> {
    Arc::new(MailFlow {
        team: TeamIdentity::new(
            "security@project.example",
            Some("Security Team"),
            team.clone(),
        )
        .unwrap(),
        ack: AckSettings::new("https://project.example/.well-known/security.txt", 5).unwrap(),
        internal_marker: "#internal".into(),
        admin_url: None,
    })
}

pub struct World {
    pub _dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub team: Keyring,
    pub intake: Intake,
    pub reporter: Keyring,
}

pub async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = Arc::new(
        Store::connect(&url, StorageKeys::ephemeral())
            .await
            .unwrap(),
    );
    let team = Keyring::from(generate_team_key("security@project.example").unwrap());
    let reporter = Keyring::from(generate_team_key("Rita Reporter <rita@example.org>").unwrap());
    let intake = Intake::new(
        store.clone(),
        Arc::new(team.clone()),
        TrackingPrefix::parse("SEC").unwrap(),
        1024 * 1024,
        flow(&team),
    );
    World {
        _dir: dir,
        store,
        team,
        intake,
        reporter,
    }
}

pub fn plain(message_id: &str, subject: &str, body: &str, extra: &str) -> Vec<u8> {
    format!(
        "From: Rita Reporter <rita@example.org>\r\nTo: security@project.example\r\n\
Subject: {subject}\r\nMessage-ID: <{message_id}>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\
{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

pub fn pgp_mime(message_id: &str, outer_subject: &str, armored: &str, extra: &str) -> Vec<u8> {
    format!(
        "From: Rita Reporter <rita@example.org>\r\nTo: security@project.example\r\n\
Subject: {outer_subject}\r\nMessage-ID: <{message_id}>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\
{extra}MIME-Version: 1.0\r\n\
Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n\
--b1\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\r\n{armored}\r\n--b1--\r\n"
    )
    .into_bytes()
}

pub fn encrypt(w: &World, inner: &str) -> String {
    let out = encrypt_and_sign(inner.as_bytes(), &[w.team.public_cert()], &w.reporter).unwrap();
    String::from_utf8(out).unwrap()
}

pub fn autocrypt_header(w: &World) -> String {
    // Autocrypt keydata is the base64 of the binary cert; the armored body
    // without its header lines and checksum is exactly that.
    let armored = cert_to_armored(&w.reporter.public_cert()).unwrap();
    let b64: String = armored
        .lines()
        .filter(|l| {
            !l.starts_with("-----") && !l.contains(':') && !l.starts_with('=') && !l.is_empty()
        })
        .collect::<Vec<_>>()
        .join("\r\n ");
    format!("Autocrypt: addr=rita@example.org; prefer-encrypt=mutual; keydata=\r\n {b64}\r\n")
}

/// The inbound messages of a report, oldest first.
pub fn inbound(detail: &embargo_store::ReportDetail) -> Vec<embargo_store::MessageDetail> {
    detail
        .messages
        .iter()
        .filter(|m| m.direction == embargo_store::Direction::Inbound)
        .cloned()
        .collect()
}

pub fn first_inbound(detail: &embargo_store::ReportDetail) -> embargo_store::MessageDetail {
    inbound(detail)
        .into_iter()
        .next()
        .expect("an inbound message")
}
