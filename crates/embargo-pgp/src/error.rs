//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
///
/// Messages never contain plaintext or secret key material: at most
/// fingerprints, key IDs, file names and sequoia's description of the
/// failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgpError {
    /// The User ID given for a new key is unusable.
    #[error("invalid user ID: {0}")]
    InvalidUserId(String),

    /// Sequoia failed to generate a key.
    #[error("key generation failed: {0}")]
    KeyGeneration(String),

    /// A key file could not be read.
    #[error("cannot read key file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// Key data (a file, or bytes in memory) could not be parsed.
    #[error("{origin}: invalid OpenPGP key data: {reason}")]
    InvalidKeyData {
        /// Where the data came from (a file name, or `<memory>`).
        origin: String,
        /// What sequoia said.
        reason: String,
    },

    /// Key data holds no certificate at all.
    #[error("{origin}: no OpenPGP key found")]
    NoKey {
        /// Where the data came from.
        origin: String,
    },

    /// A certificate in a team key file has no secret key material
    /// (a public key was configured where the secret key is needed).
    #[error("{origin}: key {fingerprint} contains no secret key material")]
    NoSecretKey {
        /// Where the data came from.
        origin: String,
        /// Fingerprint of the offending certificate.
        fingerprint: String,
    },

    /// The secret key material is password protected, which the
    /// gateway does not support (it runs unattended).
    #[error("{origin}: secret key material of {fingerprint} is password protected (not supported)")]
    ProtectedSecretKey {
        /// Where the data came from.
        origin: String,
        /// Fingerprint of the offending certificate.
        fingerprint: String,
    },

    /// The key has secret material, but none of it can decrypt.
    #[error("{origin}: key {fingerprint} has no usable secret decryption key")]
    NoDecryptionKey {
        /// Where the data came from.
        origin: String,
        /// Fingerprint of the offending certificate.
        fingerprint: String,
    },

    /// A keyring must hold at least one key.
    #[error("the keyring is empty")]
    EmptyKeyring,

    /// Certificate data (e.g. a sender's public key) is invalid.
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),

    /// The input was expected to hold certificates, but held none.
    #[error("no OpenPGP certificate found")]
    NoCertificate,

    /// The message is not an OpenPGP message sequoia can parse.
    #[error("malformed OpenPGP message: {0}")]
    Malformed(String),

    /// The message parsed, but is not encrypted.
    #[error("the message is not encrypted")]
    NotEncrypted,

    /// None of the keys in the keyring can decrypt the message.
    #[error("no key in the keyring can decrypt this message (encrypted to: {})", recipients.join(", "))]
    NoMatchingKey {
        /// Key IDs / fingerprints the message is encrypted to (hex),
        /// `anonymous` for hidden recipients, `password` for SKESKs.
        recipients: Vec<String>,
    },

    /// The message uses the legacy Symmetrically Encrypted Data packet
    /// without integrity protection (no MDC); it is refused.
    #[error("the message has no integrity protection (legacy SED packet without MDC); refused")]
    NoIntegrityProtection,

    /// Integrity check (MDC or AEAD tag) failed: the message was
    /// modified or corrupted.  No plaintext is returned.
    #[error("integrity check failed: the message was modified or corrupted")]
    Integrity,

    /// The plaintext exceeds the configured bound.
    #[error("plaintext exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The bound that was exceeded.
        limit: usize,
    },

    /// The message uses an algorithm this build cannot handle (e.g.
    /// AEAD OCB with nettle < 3.9, see the crate docs).
    #[error("unsupported algorithm: {0}")]
    Unsupported(String),

    /// Rejected by sequoia's standard policy (weak algorithm, ...).
    #[error("rejected by policy: {0}")]
    Policy(String),

    /// A recipient certificate is unusable (expired, revoked, invalid
    /// under the standard policy).
    #[error("recipient {fingerprint} is unusable: {reason}")]
    InvalidRecipient {
        /// The recipient's fingerprint.
        fingerprint: String,
        /// Why.
        reason: String,
    },

    /// A recipient certificate has no usable encryption subkey.
    #[error("recipient {0} has no usable encryption key")]
    NoEncryptionKey(String),

    /// Encryption needs at least one recipient.
    #[error("no recipients given")]
    NoRecipients,

    /// The keyring's current key cannot sign.
    #[error("key {0} has no usable signing key")]
    NoSigningKey(String),

    /// Refused from the packet headers alone, before sequoia parsed
    /// anything: the data holds a packet that has no place in it, e.g.
    /// compressed data where certificates were expected.  Nothing was
    /// decompressed or decrypted.
    #[error("refused: {} (tag {tag}) where only {expected} belong", tag_name(*tag))]
    UnexpectedPacket {
        /// The packet's tag (RFC 9580, 5), e.g. 8 for Compressed Data.
        tag: u8,
        /// What the data may hold.
        expected: &'static str,
    },

    /// More packets, one-pass signatures, signatures, nesting or bytes
    /// than any legitimate message or certificate has.  Refused before
    /// (or while) sequoia read them: its cost grows faster than linearly
    /// with some of them.
    #[error("refused: more than {limit} {what}")]
    TooComplex {
        /// What there was too much of.
        what: Excess,
        /// The bound that was exceeded.
        limit: usize,
    },

    /// Any other failure reported by sequoia.
    #[error("OpenPGP operation failed: {0}")]
    Crypto(String),
}

/// What a [`PgpError::TooComplex`] input had too much of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Excess {
    /// Packets (at all levels of a message, or in certificate data).
    Packets,
    /// One-pass-signature packets.
    OnePassSignatures,
    /// Signature packets.
    Signatures,
    /// Levels of container nesting (encryption, compression).
    Nesting,
    /// Bytes of certificate data.
    Bytes,
}

impl std::fmt::Display for Excess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Excess::Packets => "packets",
            Excess::OnePassSignatures => "one-pass-signature packets",
            Excess::Signatures => "signature packets",
            Excess::Nesting => "levels of nesting",
            Excess::Bytes => "bytes",
        })
    }
}

/// The name of a packet tag ("Compressed Data Packet", ...).
fn tag_name(tag: u8) -> String {
    sequoia_openpgp::packet::Tag::from(tag).to_string()
}

impl PgpError {
    /// Wraps a sequoia error that has no more specific variant.
    pub(crate) fn crypto(e: impl std::fmt::Display) -> Self {
        PgpError::Crypto(e.to_string())
    }
}
