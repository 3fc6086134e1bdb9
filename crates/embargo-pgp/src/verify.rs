//! Signature verification: results, detached and inline signatures.

use std::time::SystemTime;

use openpgp::packet::Signature;
use openpgp::parse::stream::{
    DetachedVerifierBuilder, MessageLayer, MessageStructure, VerificationError, VerificationHelper,
    VerificationResult, VerifierBuilder,
};
use openpgp::parse::{PacketParser, Parse};
use openpgp::{Cert, KeyHandle};
use sequoia_openpgp as openpgp;
use zeroize::Zeroizing;

use crate::packets::Tally;
use crate::{POLICY, PgpError, bounded};

/// Outcome of checking one signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureStatus {
    /// Cryptographically valid, made by a signing-capable, live,
    /// unrevoked key of one of the known certificates.  (Whether that
    /// certificate belongs to whom it claims is the caller's policy.)
    Good,
    /// The key is known, but the signature does not verify, or the key
    /// was unusable (expired, revoked, not signing capable), or the
    /// signature is malformed.
    Bad,
    /// None of the known certificates holds the issuing key.
    UnknownKey,
}

/// The result of checking one signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureCheck {
    /// The verdict.
    pub status: SignatureStatus,
    /// The issuing key as uppercase hex: the signing (sub)key's
    /// fingerprint when the key is known, otherwise the issuer
    /// fingerprint, or key ID, recorded in the signature.
    pub issuer: Option<String>,
    /// Primary fingerprint of the known certificate holding the issuing
    /// key (`None` for [`SignatureStatus::UnknownKey`]).
    pub signer: Option<String>,
    /// The signature's creation time, if it could be parsed.
    pub created: Option<SystemTime>,
    /// Why the signature is not good (`None` when good).
    pub reason: Option<String>,
}

impl SignatureCheck {
    /// Whether the signature is [`SignatureStatus::Good`].
    pub fn is_good(&self) -> bool {
        self.status == SignatureStatus::Good
    }
}

/// Issuer recorded in the signature: a fingerprint if present, else a key ID.
fn recorded_issuer(sig: &Signature) -> Option<String> {
    let issuers = sig.get_issuers();
    issuers
        .iter()
        .find(|h| matches!(h, KeyHandle::Fingerprint(_)))
        .or_else(|| issuers.first())
        .map(|h| format!("{h:X}"))
}

pub(crate) fn check_from_result(result: &VerificationResult<'_>) -> SignatureCheck {
    match result {
        Ok(good) => SignatureCheck {
            status: SignatureStatus::Good,
            issuer: Some(good.ka.key().fingerprint().to_hex()),
            signer: Some(good.ka.cert().fingerprint().to_hex()),
            created: good.sig.signature_creation_time(),
            reason: None,
        },
        Err(VerificationError::MissingKey { sig }) => SignatureCheck {
            status: SignatureStatus::UnknownKey,
            issuer: recorded_issuer(sig),
            signer: None,
            created: sig.signature_creation_time(),
            reason: Some("no known certificate holds the signing key".into()),
        },
        Err(VerificationError::UnboundKey { sig, cert, error }) => SignatureCheck {
            status: SignatureStatus::Bad,
            issuer: recorded_issuer(sig),
            signer: Some(cert.fingerprint().to_hex()),
            created: sig.signature_creation_time(),
            reason: Some(format!("signing key not bound to the certificate: {error}")),
        },
        Err(VerificationError::BadKey { sig, ka, error }) => SignatureCheck {
            status: SignatureStatus::Bad,
            issuer: Some(ka.key().fingerprint().to_hex()),
            signer: Some(ka.cert().fingerprint().to_hex()),
            created: sig.signature_creation_time(),
            reason: Some(format!("signing key unusable: {error}")),
        },
        Err(VerificationError::BadSignature { sig, ka, error }) => SignatureCheck {
            status: SignatureStatus::Bad,
            issuer: Some(ka.key().fingerprint().to_hex()),
            signer: Some(ka.cert().fingerprint().to_hex()),
            created: sig.signature_creation_time(),
            reason: Some(format!("bad signature: {error}")),
        },
        Err(VerificationError::MalformedSignature { sig, error }) => SignatureCheck {
            status: SignatureStatus::Bad,
            issuer: recorded_issuer(sig),
            signer: None,
            created: sig.signature_creation_time(),
            reason: Some(format!("malformed signature: {error}")),
        },
        Err(VerificationError::UnknownSignature { sig }) => SignatureCheck {
            status: SignatureStatus::Bad,
            issuer: None,
            signer: None,
            created: None,
            reason: Some(format!("unparsable signature: {}", sig.error())),
        },
        Err(other) => SignatureCheck {
            status: SignatureStatus::Bad,
            issuer: None,
            signer: None,
            created: None,
            reason: Some(other.to_string()),
        },
    }
}

/// Certificates among `known` that hold any of the keys in `ids`.
pub(crate) fn certs_for(known: &[Cert], ids: &[KeyHandle]) -> Vec<Cert> {
    known
        .iter()
        .filter(|cert| {
            cert.keys()
                .any(|ka| ids.iter().any(|id| id.aliases(ka.key().key_handle())))
        })
        .cloned()
        .collect()
}

/// Collects the signature results of all signature groups.
pub(crate) fn collect_checks(structure: &MessageStructure<'_>, out: &mut Vec<SignatureCheck>) {
    for layer in structure.iter() {
        if let MessageLayer::SignatureGroup { results } = layer {
            out.extend(results.iter().map(check_from_result));
        }
    }
}

/// Verification helper: known certificates in, results out.  It never
/// aborts on a bad signature: the caller decides what to do with them.
/// It does abort when the message exceeds the bounds of [`Tally`] (kept
/// outside the helper, which sequoia drops on an error).
struct VerifyHelper<'a> {
    known: &'a [Cert],
    checks: Vec<SignatureCheck>,
    tally: &'a mut Tally,
}

impl VerificationHelper for VerifyHelper<'_> {
    fn inspect(&mut self, pp: &PacketParser<'_>) -> openpgp::Result<()> {
        self.tally.packet(pp.packet.tag(), pp.recursion_depth())
    }

    fn get_certs(&mut self, ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(certs_for(self.known, ids))
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        collect_checks(&structure, &mut self.checks);
        Ok(())
    }
}

/// Checks a detached signature (e.g. the `application/pgp-signature`
/// part of a `multipart/signed` mail) over `data`, against the known
/// certificates.  `data` must already be in the form that was signed
/// (for MIME: the canonical CRLF form of the signed part).
///
/// Returns one entry per signature; an error only when the signature
/// data cannot be parsed at all, or holds more than 32 signatures
/// ([`PgpError::TooComplex`]).
pub fn verify_detached(
    data: &[u8],
    signature: &[u8],
    known_certs: &[Cert],
) -> Result<Vec<SignatureCheck>, PgpError> {
    let mut tally = Tally::default();
    let result = verify_detached_with(data, signature, known_certs, &mut tally);
    match tally.exceeded.take() {
        Some(refusal) => Err(refusal),
        None => result,
    }
}

fn verify_detached_with(
    data: &[u8],
    signature: &[u8],
    known_certs: &[Cert],
    tally: &mut Tally,
) -> Result<Vec<SignatureCheck>, PgpError> {
    let helper = VerifyHelper {
        known: known_certs,
        checks: Vec::new(),
        tally,
    };
    let mut verifier = DetachedVerifierBuilder::from_bytes(signature)
        .and_then(|b| b.with_policy(&POLICY, None, helper))
        .map_err(|e| PgpError::Malformed(e.to_string()))?;
    verifier
        .verify_bytes(data)
        .map_err(|e| PgpError::Malformed(e.to_string()))?;
    Ok(verifier.into_helper().checks)
}

/// A signed, unencrypted message after verification.
///
/// `Debug` shows the content's length only.
pub struct Verified {
    /// The signed content.  For cleartext-signed messages this is the
    /// text with dash-escaping undone.
    pub content: Zeroizing<Vec<u8>>,
    /// One entry per signature.
    pub signatures: Vec<SignatureCheck>,
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("content_len", &self.content.len())
            .field("signatures", &self.signatures)
            .finish()
    }
}

/// Verifies an inline-signed message: an OpenPGP signed message
/// (armored or binary) or a cleartext-signed (`-----BEGIN PGP SIGNED
/// MESSAGE-----`) text, bounded to `max_content` bytes of content.
///
/// The content is only returned after every signature was checked; a
/// bad or unknown signature is reported in [`Verified::signatures`],
/// not as an error.  More than 512 packets, 16 one-pass signatures, 32
/// signatures or 4 levels of nesting are refused with
/// [`PgpError::TooComplex`] as soon as sequoia meets them (before its
/// verifier does work that grows faster than linearly with them).
pub fn verify_inline(
    message: &[u8],
    known_certs: &[Cert],
    max_content: usize,
) -> Result<Verified, PgpError> {
    let mut tally = Tally::default();
    let result = verify_inline_with(message, known_certs, max_content, &mut tally);
    match tally.exceeded.take() {
        Some(refusal) => Err(refusal),
        None => result,
    }
}

fn verify_inline_with(
    message: &[u8],
    known_certs: &[Cert],
    max_content: usize,
    tally: &mut Tally,
) -> Result<Verified, PgpError> {
    let helper = VerifyHelper {
        known: known_certs,
        checks: Vec::new(),
        tally,
    };
    let mut verifier = VerifierBuilder::from_bytes(message)
        .map(|b| b.buffer_size(bounded::buffer_size(max_content)))
        .and_then(|b| b.with_policy(&POLICY, None, helper))
        .map_err(|e| crate::decrypt::classify(&e))?;
    let content =
        bounded::read(&mut verifier, max_content).map_err(|e| e.into_pgp_error(max_content))?;
    if !verifier.message_processed() {
        return Err(PgpError::Malformed(
            "message not completely processed".into(),
        ));
    }
    Ok(Verified {
        content,
        signatures: verifier.into_helper().checks,
    })
}
