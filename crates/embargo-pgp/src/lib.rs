//! All OpenPGP work of the gateway, on top of sequoia-openpgp 2:
//! the team key ([`generate_team_key`], [`TeamKey`], [`Keyring`]),
//! decryption of incoming reports ([`Keyring::decrypt`]), signature
//! checks ([`verify_detached`], [`verify_inline`]) and encryption of
//! outbound mail ([`encrypt_and_sign`]).
//!
//! # Crypto backend
//!
//! Sequoia is built with the **nettle** backend (`crypto-nettle`, set in
//! the workspace).  Nettle's RSA private-key operations are
//! side-channel hardened (blinding plus constant-time `mpz_powm_sec`
//! exponentiation; `rsa_sec_decrypt` when sequoia knows the session key
//! length), so loading an old RSA team key does not expose us to the
//! Marvin timing attack (RUSTSEC-2023-0071) that affects the pure-Rust
//! `rsa` crate used by sequoia's RustCrypto backend.  That backend must
//! moreover be enabled with `allow-experimental-crypto` and
//! `allow-variable-time-crypto`, which is not acceptable on a machine
//! that decrypts attacker-supplied messages.  (Keys generated here are
//! Curve25519 anyway.)
//!
//! Limitation: nettle gained AEAD OCB only in 3.9; with an older system
//! nettle (Debian 12: 3.8.1), SEIPDv2 messages using OCB are refused
//! with [`PgpError::Unsupported`].  Our team key advertises SEIPDv1 only,
//! so conforming senders do not produce those.

//! # Handling of secrets
//!
//! * Secret keys stay in sequoia's protected memory (encrypted at rest
//!   in RAM, zeroed on drop); key files are read into zeroizing buffers.
//! * Plaintext is returned as [`zeroize::Zeroizing`] buffers, is never
//!   written to disk, and is only returned once the message's integrity
//!   protection verified.
//! * Nothing in this crate logs; errors carry fingerprints, key IDs and
//!   file names, never content.

mod bounded;
mod certinfo;
mod cleartext;
mod decrypt;
mod encrypt;
mod error;
mod key;
mod packets;
mod verify;
mod wkd;

use sequoia_openpgp as openpgp;

pub use certinfo::{cert_emails, cert_fingerprint, cert_has_email, cert_to_armored, cert_to_bytes};
pub use cleartext::sign_cleartext;
pub use decrypt::{DEFAULT_MAX_PLAINTEXT, Decrypted};
pub use encrypt::{encrypt_and_sign, parse_certs};
pub use error::{Excess, PgpError};
pub use key::{Keyring, TeamKey, generate_team_key};
pub use openpgp::Cert;
pub use verify::{SignatureCheck, SignatureStatus, Verified, verify_detached, verify_inline};
pub use wkd::wkd_hash;

/// The policy used for everything: sequoia's standard policy at the
/// current time.
static POLICY: openpgp::policy::StandardPolicy<'static> = openpgp::policy::StandardPolicy::new();
