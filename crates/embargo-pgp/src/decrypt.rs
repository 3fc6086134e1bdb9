//! Decryption of messages to the team key(s).

use std::io;

use openpgp::crypto::SessionKey;
use openpgp::packet::{PKESK, SKESK};
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, MessageLayer, MessageStructure, VerificationHelper,
};
use openpgp::parse::{PacketParser, Parse};
use openpgp::types::SymmetricAlgorithm;
use openpgp::{Cert, Fingerprint, KeyHandle};
use sequoia_openpgp as openpgp;
use zeroize::Zeroizing;

use crate::packets::{self, Tally};
use crate::verify::{SignatureCheck, certs_for, collect_checks};
use crate::{Keyring, POLICY, PgpError, bounded};

/// Default bound on decrypted (decompressed) plaintext: 25 MiB, the same
/// as sequoia's default verification buffer.
pub const DEFAULT_MAX_PLAINTEXT: usize = 25 * 1024 * 1024;

/// A decrypted, integrity-checked message.
///
/// `Debug` shows the plaintext's length only, never its content.
pub struct Decrypted {
    /// The plaintext (zeroed when dropped).  Only ever returned after
    /// the integrity check (MDC or AEAD) succeeded.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// Fingerprint (uppercase hex) of the team key that decrypted it.
    pub decrypted_with: String,
    /// One entry per signature inside the encrypted message.
    pub signatures: Vec<SignatureCheck>,
}

impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decrypted")
            .field("plaintext_len", &self.plaintext.len())
            .field("decrypted_with", &self.decrypted_with)
            .field("signatures", &self.signatures)
            .finish()
    }
}

impl Decrypted {
    /// Whether at least one signature is good.
    pub fn has_good_signature(&self) -> bool {
        self.signatures.iter().any(SignatureCheck::is_good)
    }
}

/// What the helper learned, kept outside the helper so that it survives
/// an error that drops the decryptor.
#[derive(Default)]
struct State {
    /// Recipients named by the PKESK/SKESK packets.
    recipients: Vec<String>,
    /// The team key that decrypted the session key.
    decrypted_with: Option<Fingerprint>,
    /// `check` saw no encryption layer.
    not_encrypted: bool,
    /// A PKESK yielded a session key, but the encrypted data did not
    /// accept it (corrupted or tampered container).
    session_key_rejected: bool,
    /// Signature results.
    checks: Vec<SignatureCheck>,
    /// Bounds on the packets sequoia meets, inside the encryption too.
    tally: Tally,
}

struct Helper<'a> {
    keyring: &'a Keyring,
    senders: &'a [Cert],
    state: &'a mut State,
}

impl Helper<'_> {
    /// Tries the team keys matching `want` (all keys for `None`, i.e. an
    /// anonymous recipient) on one PKESK.
    fn try_pkesk(
        &mut self,
        pkesk: &PKESK,
        want: Option<&KeyHandle>,
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> Option<Cert> {
        for team_key in self.keyring.keys() {
            let cert = team_key.cert();
            // Deliberately not filtered by policy, liveness or key flags:
            // a message to an expired/rotated key of ours must still
            // decrypt.  Only keys whose algorithm can decrypt are tried.
            for ka in cert.keys().unencrypted_secret() {
                let key = ka.key();
                if !key.pk_algo().for_encryption() {
                    continue;
                }
                if let Some(want) = want
                    && !want.aliases(key.key_handle())
                {
                    continue;
                }
                let Ok(mut pair) = key.clone().into_keypair() else {
                    continue;
                };
                let Some((algo, session_key)) = pkesk.decrypt(&mut pair, sym_algo) else {
                    continue;
                };
                if decrypt(algo, &session_key) {
                    self.state.decrypted_with = Some(cert.fingerprint());
                    return Some(cert.clone().strip_secret_key_material());
                }
                if want.is_some() {
                    self.state.session_key_rejected = true;
                }
            }
        }
        None
    }
}

impl DecryptionHelper for Helper<'_> {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        self.state.recipients = pkesks
            .iter()
            .map(|p| {
                p.recipient()
                    .map(|h| format!("{h:X}"))
                    .unwrap_or_else(|| "anonymous".into())
            })
            .chain(skesks.iter().map(|_| "password".into()))
            .collect();

        // First the PKESKs addressed to one of our keys, then the
        // anonymous ones (`gpg --throw-keyids`) with every key.
        for pkesk in pkesks {
            if let Some(rcpt) = pkesk.recipient()
                && let Some(cert) = self.try_pkesk(pkesk, Some(&rcpt), sym_algo, decrypt)
            {
                return Ok(Some(cert));
            }
        }
        for pkesk in pkesks.iter().filter(|p| p.recipient().is_none()) {
            if let Some(cert) = self.try_pkesk(pkesk, None, sym_algo, decrypt) {
                return Ok(Some(cert));
            }
        }
        // Password-encrypted (SKESK) messages are not supported.  Not
        // calling `decrypt` makes sequoia fail with MissingSessionKey.
        Ok(None)
    }
}

impl VerificationHelper for Helper<'_> {
    fn inspect(&mut self, pp: &PacketParser<'_>) -> openpgp::Result<()> {
        self.state
            .tally
            .packet(pp.packet.tag(), pp.recursion_depth())
    }

    fn get_certs(&mut self, ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(certs_for(self.senders, ids))
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        // There is exactly one literal data packet, innermost; any
        // encryption layer therefore covers it.
        let encrypted = structure
            .iter()
            .any(|layer| matches!(layer, MessageLayer::Encryption { .. }));
        if !encrypted {
            self.state.not_encrypted = true;
            return Err(openpgp::Error::InvalidOperation("message is not encrypted".into()).into());
        }
        collect_checks(&structure, &mut self.state.checks);
        Ok(())
    }
}

impl Keyring {
    /// Decrypts an OpenPGP message (ASCII armored or binary) with any
    /// of the keyring's keys, and checks the signatures inside against
    /// `known_senders`.
    ///
    /// * Only integrity-protected messages are accepted: SEIPDv1 (with a
    ///   valid MDC) or SEIPDv2 (AEAD).  Legacy SED packets are refused
    ///   with [`PgpError::NoIntegrityProtection`]; a failed check gives
    ///   [`PgpError::Integrity`].
    /// * The plaintext is buffered in memory (never on disk) and only
    ///   returned once sequoia has processed the whole message,
    ///   including the integrity check.
    /// * More than `max_plaintext` bytes of (decompressed) plaintext
    ///   gives [`PgpError::TooLarge`] (compression bombs).
    /// * Unencrypted (e.g. only signed) messages give
    ///   [`PgpError::NotEncrypted`]; password-encrypted ones, or ones to
    ///   other keys, [`PgpError::NoMatchingKey`].
    /// * Bad or unknown signatures are reported in
    ///   [`Decrypted::signatures`], not as errors.
    /// * Before sequoia reads the message, its top-level packet headers
    ///   are walked (nothing is decompressed or decrypted): a message whose
    ///   top level holds compressed or literal data, or no encrypted data
    ///   at all, is [`PgpError::NotEncrypted`]; more than 512 packets, 16
    ///   one-pass signatures or 32 signatures are [`PgpError::TooComplex`].
    ///   The same bounds, and a nesting depth of 4, apply to what sequoia
    ///   meets inside the encryption, packet by packet, before its
    ///   verifier does work that grows faster than linearly with them
    ///   (one-pass-signature floods, found by fuzzing).
    pub fn decrypt(
        &self,
        message: &[u8],
        known_senders: &[Cert],
        max_plaintext: usize,
    ) -> Result<Decrypted, PgpError> {
        let message = packets::binary(message).map_err(|e| PgpError::Malformed(e.to_string()))?;
        packets::encrypted_message(&message)?;
        let mut state = State::default();
        let result = self.decrypt_inner(&message, known_senders, max_plaintext, &mut state);
        if let Some(refusal) = state.tally.exceeded.take() {
            return Err(refusal);
        }
        match result {
            Ok(plaintext) => match state.decrypted_with {
                Some(fingerprint) => Ok(Decrypted {
                    plaintext,
                    decrypted_with: fingerprint.to_hex(),
                    signatures: state.checks,
                }),
                // Decrypted, but not by us: impossible for a message
                // without SKESK support; refuse rather than guess.
                None => Err(PgpError::NotEncrypted),
            },
            Err(_) if state.not_encrypted => Err(PgpError::NotEncrypted),
            // Our key recovered a session key the data did not accept:
            // the encrypted container was modified or corrupted.
            Err(PgpError::NoMatchingKey { .. }) if state.session_key_rejected => {
                Err(PgpError::Integrity)
            }
            Err(PgpError::NoMatchingKey { .. }) => Err(PgpError::NoMatchingKey {
                recipients: state.recipients,
            }),
            Err(e) => Err(e),
        }
    }

    fn decrypt_inner(
        &self,
        message: &[u8],
        known_senders: &[Cert],
        max_plaintext: usize,
        state: &mut State,
    ) -> Result<Zeroizing<Vec<u8>>, PgpError> {
        let helper = Helper {
            keyring: self,
            senders: known_senders,
            state,
        };
        let mut decryptor = DecryptorBuilder::from_bytes(message)
            .map(|b| b.buffer_size(bounded::buffer_size(max_plaintext)))
            .and_then(|b| b.with_policy(&POLICY, None, helper))
            .map_err(|e| classify(&e))?;
        let plaintext = bounded::read(&mut decryptor, max_plaintext)
            .map_err(|e| e.into_pgp_error(max_plaintext))?;
        if !decryptor.message_processed() {
            return Err(PgpError::Malformed(
                "message not completely processed".into(),
            ));
        }
        Ok(plaintext)
    }
}

/// Maps a sequoia error to a [`PgpError`].
pub(crate) fn classify(err: &openpgp::anyhow::Error) -> PgpError {
    let root: &(dyn std::error::Error + 'static) = &**err;
    classify_dyn(root)
}

/// Maps an I/O error from sequoia's streaming reader to a [`PgpError`].
pub(crate) fn classify_io(err: &io::Error) -> PgpError {
    classify_dyn(err)
}

fn classify_dyn(err: &(dyn std::error::Error + 'static)) -> PgpError {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(oe) = e.downcast_ref::<openpgp::Error>() {
            return map_openpgp_error(oe);
        }
        if let Some(io_err) = e.downcast_ref::<io::Error>()
            && let Some(inner) = io_err.get_ref()
        {
            current = Some(inner);
            continue;
        }
        current = e.source();
    }
    PgpError::crypto(err)
}

fn map_openpgp_error(e: &openpgp::Error) -> PgpError {
    use openpgp::Error as E;
    match e {
        E::ManipulatedMessage => PgpError::Integrity,
        E::MissingSessionKey(_) => PgpError::NoMatchingKey {
            recipients: Vec::new(),
        },
        E::PolicyViolation(..) => PgpError::Policy(e.to_string()),
        E::MalformedMessage(_) | E::MalformedPacket(_) => PgpError::Malformed(e.to_string()),
        E::UnsupportedPacketType(_)
        | E::UnsupportedHashAlgorithm(_)
        | E::UnsupportedPublicKeyAlgorithm(_)
        | E::UnsupportedEllipticCurve(_)
        | E::UnsupportedSymmetricAlgorithm(_)
        | E::UnsupportedAEADAlgorithm(_)
        | E::UnsupportedCompressionAlgorithm(_) => PgpError::Unsupported(e.to_string()),
        _ => PgpError::crypto(e),
    }
}
