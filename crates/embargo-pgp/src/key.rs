//! The team key: generation, loading, export.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use openpgp::cert::prelude::*;
use openpgp::crypto::KeyPair;
use openpgp::packet::{Signature, UserID};
use openpgp::serialize::{Serialize, SerializeInto};
use openpgp::types::{Features, KeyFlags};
use openpgp::{Cert, Profile};
use sequoia_openpgp as openpgp;
use zeroize::Zeroizing;

use crate::{POLICY, PgpError};

/// Origin label used in errors for key data that did not come from a file.
const MEMORY: &str = "<memory>";

/// Longest User ID accepted by [`generate_team_key`].
const MAX_USER_ID_LEN: usize = 256;

/// Generates a new team key.
///
/// The key is a v4 (RFC 4880) key from [`CipherSuite::Cv25519`]:
///
/// * primary key: Ed25519, certification **and** signing capable (the
///   gateway signs outbound mail with it);
/// * one Curve25519 (ECDH) subkey for transport **and** storage encryption;
/// * User ID `user_id`, e.g. `security@project.example` or
///   `Project Security <security@project.example>`;
/// * Features: **SEIPDv1 only**.  Sequoia 2 advertises SEIPDv2 by
///   default, which makes sequoia-based senders produce SEIPDv2/AEAD
///   messages that GnuPG 2.2 (still the most common reporter setup)
///   cannot decrypt when it is the team's own tooling;
/// * preferences: AES256, AES128; SHA512, SHA256 (sequoia's defaults);
/// * **no expiry**.  An expiring key makes reporters' clients refuse to
///   encrypt once it lapses and most never refresh keys; the key is
///   retired by rotation (a new key listed first in the keyring) and,
///   if needed, the revocation certificate from
///   [`TeamKey::revocation_certificate_armored`].
///
/// The secret key material is not password protected (the gateway runs
/// unattended); protect the file written from
/// [`TeamKey::armored_secret`] with file permissions.
pub fn generate_team_key(user_id: &str) -> Result<TeamKey, PgpError> {
    validate_user_id(user_id)?;
    let (cert, revocation) = CertBuilder::new()
        .set_profile(Profile::RFC4880)
        .and_then(|b| b.set_features(Features::empty().set_seipdv1()))
        .map_err(|e| PgpError::KeyGeneration(e.to_string()))?
        .set_cipher_suite(CipherSuite::Cv25519)
        .set_primary_key_flags(KeyFlags::empty().set_certification().set_signing())
        .add_subkey(
            KeyFlags::empty()
                .set_transport_encryption()
                .set_storage_encryption(),
            None,
            None,
        )
        .add_userid(UserID::from(user_id))
        .generate()
        .map_err(|e| PgpError::KeyGeneration(e.to_string()))?;
    let mut key = TeamKey::from_cert(cert, "<generated>")?;
    key.revocation = Some(revocation);
    Ok(key)
}

fn validate_user_id(user_id: &str) -> Result<(), PgpError> {
    if user_id.trim().is_empty() {
        return Err(PgpError::InvalidUserId("empty".into()));
    }
    if user_id.len() > MAX_USER_ID_LEN {
        return Err(PgpError::InvalidUserId(format!(
            "longer than {MAX_USER_ID_LEN} bytes"
        )));
    }
    if user_id.chars().any(char::is_control) {
        return Err(PgpError::InvalidUserId(
            "contains control characters".into(),
        ));
    }
    match UserID::from(user_id).email() {
        Ok(Some(_)) => Ok(()),
        _ => Err(PgpError::InvalidUserId(format!(
            "no e-mail address in {user_id:?} (expected `addr@host` or `Name <addr@host>`)"
        ))),
    }
}

/// One team key: an OpenPGP certificate with (unprotected) secret key
/// material.
///
/// The secret key material lives in sequoia's protected memory
/// (encrypted while not in use, zeroed when dropped).  `Debug` prints
/// only the fingerprint.
#[derive(Clone)]
pub struct TeamKey {
    cert: Cert,
    revocation: Option<Signature>,
}

impl std::fmt::Debug for TeamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamKey")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl TeamKey {
    /// Validates a certificate as a team key: it must carry secret key
    /// material, unprotected, able to decrypt, and be valid under the
    /// standard policy.
    fn from_cert(cert: Cert, origin: &str) -> Result<Self, PgpError> {
        let fingerprint = cert.fingerprint().to_hex();
        if !cert.is_tsk() {
            return Err(PgpError::NoSecretKey {
                origin: origin.into(),
                fingerprint,
            });
        }
        let mut any_decryption_secret = false;
        let mut usable = false;
        for ka in cert.keys().secret() {
            let key = ka.key();
            if key.pk_algo().for_encryption() {
                any_decryption_secret = true;
                if key.has_unencrypted_secret() {
                    usable = true;
                }
            }
        }
        if !usable {
            return Err(if any_decryption_secret {
                PgpError::ProtectedSecretKey {
                    origin: origin.into(),
                    fingerprint,
                }
            } else {
                PgpError::NoDecryptionKey {
                    origin: origin.into(),
                    fingerprint,
                }
            });
        }
        cert.with_policy(&POLICY, None)
            .map_err(|e| PgpError::InvalidKeyData {
                origin: origin.into(),
                reason: format!("{fingerprint}: {e}"),
            })?;
        Ok(TeamKey {
            cert,
            revocation: None,
        })
    }

    /// Parses exactly one secret key (armored or binary).
    pub fn from_bytes(data: &[u8]) -> Result<Self, PgpError> {
        let mut certs = parse_secret_certs(data, MEMORY)?;
        match (certs.pop(), certs.is_empty()) {
            (Some(key), true) => Ok(key),
            (Some(_), false) => Err(PgpError::InvalidKeyData {
                origin: MEMORY.into(),
                reason: "more than one key; use Keyring::from_armored".into(),
            }),
            (None, _) => Err(PgpError::NoKey {
                origin: MEMORY.into(),
            }),
        }
    }

    /// The full certificate, including secret key material.
    pub fn cert(&self) -> &Cert {
        &self.cert
    }

    /// The public certificate (secret key material stripped).
    pub fn public_cert(&self) -> Cert {
        self.cert.clone().strip_secret_key_material()
    }

    /// The primary key's fingerprint: uppercase hex, no spaces.
    pub fn fingerprint(&self) -> String {
        self.cert.fingerprint().to_hex()
    }

    /// The certificate's User IDs, lossily decoded as UTF-8.
    pub fn user_ids(&self) -> Vec<String> {
        self.cert
            .userids()
            .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
            .collect()
    }

    /// Creation time of the primary key.
    pub fn creation_time(&self) -> SystemTime {
        self.cert.primary_key().key().creation_time()
    }

    /// The transferable secret key, ASCII armored, for writing to the
    /// key file.  The buffer is zeroed when dropped.
    pub fn armored_secret(&self) -> Result<Zeroizing<String>, PgpError> {
        let tsk = self.cert.as_tsk();
        // Armor adds a third plus headers; reserve enough up front so the
        // buffer never reallocates (which would leave unzeroed copies).
        let capacity = tsk.serialized_len().saturating_mul(2).saturating_add(1024);
        let mut buf = Zeroizing::new(Vec::with_capacity(capacity));
        tsk.armored()
            .serialize(&mut *buf)
            .map_err(PgpError::crypto)?;
        let bytes = std::mem::take(&mut *buf);
        String::from_utf8(bytes).map(Zeroizing::new).map_err(|e| {
            // Zero the bytes inside the error before reporting.
            drop(Zeroizing::new(e.into_bytes()));
            PgpError::Crypto("armored key is not UTF-8".into())
        })
    }

    /// The public certificate, ASCII armored ("key export": what goes on
    /// the website / keyserver / WKD).
    pub fn public_armored(&self) -> Result<String, PgpError> {
        let bytes = self.cert.armored().to_vec().map_err(PgpError::crypto)?;
        String::from_utf8(bytes).map_err(PgpError::crypto)
    }

    /// The revocation certificate created with the key, ASCII armored
    /// (the public certificate with the revocation signature attached).
    /// Only available right after [`generate_team_key`]; store it
    /// offline.
    pub fn revocation_certificate_armored(&self) -> Option<Result<String, PgpError>> {
        let rev = self.revocation.clone()?;
        Some((|| {
            let revoked = self
                .public_cert()
                .insert_packets(rev)
                .map_err(PgpError::crypto)?
                .0;
            let bytes = revoked.armored().to_vec().map_err(PgpError::crypto)?;
            String::from_utf8(bytes).map_err(PgpError::crypto)
        })())
    }

    /// A key pair for signing (the primary key for generated team keys).
    pub(crate) fn signing_keypair(&self) -> Result<KeyPair, PgpError> {
        let no_key = || PgpError::NoSigningKey(self.fingerprint());
        let vc = self.cert.with_policy(&POLICY, None).map_err(|_| no_key())?;
        let ka = vc
            .keys()
            .unencrypted_secret()
            .supported()
            .alive()
            .revoked(false)
            .for_signing()
            .next()
            .ok_or_else(no_key)?;
        ka.key().clone().into_keypair().map_err(|_| no_key())
    }
}

fn parse_secret_certs(data: &[u8], origin: &str) -> Result<Vec<TeamKey>, PgpError> {
    let parser = crate::encrypt::cert_parser(data, |reason| PgpError::InvalidKeyData {
        origin: origin.into(),
        reason,
    })?;
    let mut keys = Vec::new();
    for cert in parser {
        let cert = cert.map_err(|e| PgpError::InvalidKeyData {
            origin: origin.into(),
            reason: e.to_string(),
        })?;
        keys.push(TeamKey::from_cert(cert, origin)?);
    }
    if keys.is_empty() {
        return Err(PgpError::NoKey {
            origin: origin.into(),
        });
    }
    Ok(keys)
}

/// The team's secret keys: the current one and older ones kept for
/// decrypting mail sent to them (rotation).
///
/// Keys are ordered newest first by primary-key creation time (ties keep
/// the order given).  The newest key is the *current* key: it is
/// exported, it signs outbound mail, and its fingerprint is reported.
/// Decryption tries every key.
#[derive(Clone, Debug)]
pub struct Keyring {
    current: TeamKey,
    older: Vec<TeamKey>,
}

impl From<TeamKey> for Keyring {
    fn from(key: TeamKey) -> Self {
        Keyring {
            current: key,
            older: Vec::new(),
        }
    }
}

impl Keyring {
    /// A keyring from the given keys, in the given order: the first is the
    /// current key (signs, is exported and advertised); all decrypt. The
    /// operator's order in `[pgp] secret_keys` decides, not creation
    /// times, so a rotation can be rolled back by reordering.
    pub fn new(keys: Vec<TeamKey>) -> Result<Self, PgpError> {
        let mut keys = keys.into_iter();
        let current = keys.next().ok_or(PgpError::EmptyKeyring)?;
        Ok(Keyring {
            current,
            older: keys.collect(),
        })
    }

    /// Parses one or more secret keys, ASCII armored or binary.
    ///
    /// Every certificate must carry unprotected secret key material that
    /// can decrypt; a public key is refused.
    pub fn from_armored(data: &[u8]) -> Result<Self, PgpError> {
        Self::new(parse_secret_certs(data, MEMORY)?)
    }

    /// Loads secret keys from files (each armored or binary, each holding
    /// one or more keys).  Errors name the file.
    pub fn load<P: AsRef<Path>>(paths: &[P]) -> Result<Self, PgpError> {
        let mut keys = Vec::new();
        for path in paths {
            let path = path.as_ref();
            let data = Zeroizing::new(std::fs::read(path).map_err(|source| PgpError::Read {
                path: PathBuf::from(path),
                source,
            })?);
            keys.extend(parse_secret_certs(&data, &path.display().to_string())?);
        }
        Self::new(keys)
    }

    /// All keys, newest first.
    pub fn keys(&self) -> impl Iterator<Item = &TeamKey> {
        std::iter::once(&self.current).chain(self.older.iter())
    }

    /// The current (newest) key.
    pub fn current(&self) -> &TeamKey {
        &self.current
    }

    /// Fingerprint of the current key (uppercase hex).
    pub fn fingerprint(&self) -> String {
        self.current.fingerprint()
    }

    /// User IDs of the current key.
    pub fn user_ids(&self) -> Vec<String> {
        self.current.user_ids()
    }

    /// The current key's public certificate, ASCII armored.
    pub fn public_armored(&self) -> Result<String, PgpError> {
        self.current.public_armored()
    }

    /// The current key's public certificate.
    pub fn public_cert(&self) -> Cert {
        self.current.public_cert()
    }
}
