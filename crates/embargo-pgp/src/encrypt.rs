//! Encryption (outbound mail) and certificate parsing.

use std::borrow::Cow;
use std::io::Write;

use openpgp::Cert;
use openpgp::cert::prelude::*;
use openpgp::parse::{Dearmor, PacketParserBuilder, Parse};
use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message, Signer};
use openpgp::types::RevocationStatus;
use sequoia_openpgp as openpgp;

use crate::{Keyring, POLICY, PgpError, packets};

/// Encrypts `plaintext` to every recipient and signs it with the
/// keyring's current key; returns an ASCII-armored OpenPGP message.
///
/// Each recipient must be valid under the standard policy, alive and
/// not revoked, and have at least one live transport-encryption subkey
/// (all such subkeys are used).
///
/// The encryption container follows the recipients' advertised
/// Features (sequoia's `Encryptor` decides): SEIPDv2 (AEAD) only when
/// *every* recipient advertises SEIPDv2, otherwise SEIPDv1 (with MDC),
/// which GnuPG 2.2 reads.  The signature names the recipients as
/// intended recipients.  No compression.
pub fn encrypt_and_sign(
    plaintext: &[u8],
    recipients: &[Cert],
    signer: &Keyring,
) -> Result<Vec<u8>, PgpError> {
    if recipients.is_empty() {
        return Err(PgpError::NoRecipients);
    }
    let mut recipient_keys = Vec::new();
    for cert in recipients {
        let fingerprint = cert.fingerprint().to_hex();
        let invalid = |reason: String| PgpError::InvalidRecipient {
            fingerprint: fingerprint.clone(),
            reason,
        };
        let vc = cert
            .with_policy(&POLICY, None)
            .map_err(|e| invalid(e.to_string()))?;
        vc.alive().map_err(|e| invalid(e.to_string()))?;
        if let RevocationStatus::Revoked(_) = vc.revocation_status() {
            return Err(invalid("certificate is revoked".into()));
        }
        let before = recipient_keys.len();
        recipient_keys.extend(
            vc.keys()
                .supported()
                .alive()
                .revoked(false)
                .for_transport_encryption(),
        );
        if recipient_keys.len() == before {
            return Err(PgpError::NoEncryptionKey(fingerprint));
        }
    }
    let signing_pair = signer.current().signing_keypair()?;

    let mut sink = Vec::new();
    let message = Message::new(&mut sink);
    let message = Armorer::new(message).build().map_err(PgpError::crypto)?;
    let message = Encryptor::for_recipients(message, recipient_keys)
        .build()
        .map_err(PgpError::crypto)?;
    let mut signer = Signer::new(message, signing_pair).map_err(PgpError::crypto)?;
    for cert in recipients {
        signer = signer.add_intended_recipient(cert);
    }
    let message = signer.build().map_err(PgpError::crypto)?;
    let mut writer = LiteralWriter::new(message)
        .build()
        .map_err(PgpError::crypto)?;
    writer.write_all(plaintext).map_err(PgpError::crypto)?;
    writer.finalize().map_err(PgpError::crypto)?;
    Ok(sink)
}

/// Parses certificates (public keys), ASCII armored or binary, one or
/// several (a keyring).  Secret key material, if any, is dropped.
///
/// Fails if the data holds no certificate or any certificate is
/// malformed.  The data may come from an attacker (Autocrypt headers,
/// attached keys), so before sequoia parses it, its packet headers are
/// walked: a packet that has no place in certificate data (compressed or
/// literal data, encrypted data, session keys, one-pass signatures) is
/// refused with [`PgpError::UnexpectedPacket`] without being read, and
/// more than 4096 packets or 8 MiB with [`PgpError::TooComplex`].
pub fn parse_certs(data: &[u8]) -> Result<Vec<Cert>, PgpError> {
    let parser = cert_parser(data, PgpError::InvalidCertificate)?;
    let mut certs = Vec::new();
    for cert in parser {
        let cert = cert.map_err(|e| PgpError::InvalidCertificate(e.to_string()))?;
        certs.push(cert.strip_secret_key_material());
    }
    if certs.is_empty() {
        return Err(PgpError::NoCertificate);
    }
    Ok(certs)
}

/// A certificate parser over `data` once [`packets::cert_data`] has
/// checked it: sequoia parses exactly the (binary) bytes that were walked,
/// with its own armor detection off.
pub(crate) fn cert_parser(
    data: &[u8],
    malformed: impl Fn(String) -> PgpError,
) -> Result<CertParser<'_>, PgpError> {
    let builder = match packets::cert_data(data, &malformed)? {
        Cow::Borrowed(bin) => PacketParserBuilder::from_bytes(bin),
        Cow::Owned(bin) => PacketParserBuilder::from_reader(std::io::Cursor::new(bin)),
    };
    let ppr = builder
        .map(|b| b.dearmor(Dearmor::Disabled))
        .and_then(|b| b.build())
        .map_err(|e| malformed(e.to_string()))?;
    Ok(CertParser::from(ppr))
}
