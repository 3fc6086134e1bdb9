//! Sealing at rest: XChaCha20-Poly1305 under a ring of rotating storage keys,
//! every blob bound to the place it is stored (its *context*, e.g.
//! `embargo:messages:body_sealed:<row id>`), so a blob copied into another
//! row or column does not open.
//!
//! # Key file
//!
//! Plain text, mode `0600`, one key per line, newest first:
//!
//! ```text
//! embargo-storage-key <key id: 16 hex digits> <key: 32 bytes, standard base64>
//! ```
//!
//! The first line is the current key: everything is sealed with it. Later
//! lines are older keys that still open what they sealed. Blank lines and
//! lines starting with `#` are ignored. [`StorageKeys::rotate`] prepends a
//! fresh key. (The `embargo-storage-key` tag also lets `.ci/no-secrets`
//! spot a key file committed by mistake.)
//!
//! # Blob layout (version 1)
//!
//! ```text
//! 0x01 | key id (8) | context check (8) | nonce (24) | ciphertext + tag (16)
//! ```
//!
//! The AEAD associated data is the 17-byte header (version, key id, context
//! check) followed by the caller's context. The context check is the first 8
//! bytes of `SHA-256("embargo-seal context\0" || context)`: it lets
//! [`StorageKeys::open`] tell a blob opened under the wrong context
//! ([`SealError::WrongContext`]) from a damaged one ([`SealError::Tampered`]);
//! the binding itself is enforced by the AEAD.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The blob format version this crate writes.
pub const VERSION: u8 = 1;
const KEY_LEN: usize = 32;
const KEY_ID_LEN: usize = 8;
const CHECK_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + CHECK_LEN;
/// Bytes a sealed blob adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// Identifies a storage key; recorded in every blob it seals.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    pub fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }

    fn parse_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; KEY_ID_LEN];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Self(out))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Why a blob did not open (or could not be sealed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed blob is too short ({len} bytes) to be a sealed value")]
    Truncated { len: usize },
    #[error("sealed blob has unknown format version {0}")]
    BadVersion(u8),
    #[error("sealed blob was sealed with key {0}, which is not in the keyring")]
    UnknownKey(KeyId),
    #[error("sealed blob belongs to another context (row or column): not opened")]
    WrongContext,
    #[error("sealed blob failed authentication: damaged or tampered with")]
    Tampered,
    #[error("value too large to seal")]
    TooLarge,
}

/// Problems with the key file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("storage key file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("storage key file {path} already exists; refusing to overwrite it")]
    Exists { path: PathBuf },
    #[error(
        "storage key file {path} has mode {mode:04o}: it must not be accessible by group or others (chmod 600 {path})"
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("storage key file {path}, line {line}: {reason}")]
    Format {
        path: PathBuf,
        line: usize,
        reason: &'static str,
    },
    #[error("storage key file {path} holds no key")]
    Empty { path: PathBuf },
}

struct Key {
    id: KeyId,
    material: Zeroizing<[u8; KEY_LEN]>,
}

impl Key {
    fn generate() -> Self {
        let mut id = [0u8; KEY_ID_LEN];
        OsRng.fill_bytes(&mut id);
        let mut material = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(material.as_mut_slice());
        Self {
            id: KeyId(id),
            material,
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.material.as_ref().into())
    }
}

/// The keyring: the current key (seals) and older keys (still open).
pub struct StorageKeys {
    current: Key,
    older: Vec<Key>,
}

impl fmt::Debug for StorageKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StorageKeys(***)")
    }
}

/// The tag that starts every key line.
const LINE_TAG: &str = "embargo-storage-key";

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    }
}

fn context_check(context: &[u8]) -> [u8; CHECK_LEN] {
    let digest = Sha256::new()
        .chain_update(b"embargo-seal context\0")
        .chain_update(context)
        .finalize();
    let mut out = [0u8; CHECK_LEN];
    for (o, d) in out.iter_mut().zip(digest.iter()) {
        *o = *d;
    }
    out
}

impl StorageKeys {
    /// A keyring with one fresh key that lives only in memory (tests, tools).
    pub fn ephemeral() -> Self {
        Self {
            current: Key::generate(),
            older: Vec::new(),
        }
    }

    /// Creates a new key file with one fresh key, mode 0600 from the start.
    /// Refuses to overwrite an existing file.
    pub fn generate_file(path: &Path) -> Result<Self, KeyFileError> {
        let ring = Self::ephemeral();
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| {
                if source.kind() == io::ErrorKind::AlreadyExists {
                    KeyFileError::Exists {
                        path: path.to_owned(),
                    }
                } else {
                    KeyFileError::Io {
                        path: path.to_owned(),
                        source,
                    }
                }
            })?;
        file.write_all(ring.render().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io_err(path))?;
        sync_parent(path);
        Ok(ring)
    }

    /// Loads a key file, refusing one that group or others may access.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let mut file = File::open(path).map_err(io_err(path))?;
        let mode = file.metadata().map_err(io_err(path))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Permissions {
                path: path.to_owned(),
                mode: mode & 0o7777,
            });
        }
        let mut text = Zeroizing::new(String::new());
        file.read_to_string(&mut text).map_err(io_err(path))?;
        Self::parse(path, &text)
    }

    /// Prepends a fresh key to the key file (atomically: a new 0600 file
    /// renamed over the old one) and returns the new keyring. Blobs sealed
    /// with the older keys still open.
    pub fn rotate(path: &Path) -> Result<Self, KeyFileError> {
        let old = Self::load(path)?;
        let mut older = vec![old.current];
        older.extend(old.older);
        let ring = Self {
            current: Key::generate(),
            older,
        };

        let mut suffix = [0u8; 8];
        OsRng.fill_bytes(&mut suffix);
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".tmp-{}", hex::encode(suffix)));
        let tmp = path.with_file_name(tmp_name);
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(ring.render().as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, path)
        })();
        if let Err(source) = written {
            let _ = fs::remove_file(&tmp);
            return Err(KeyFileError::Io {
                path: path.to_owned(),
                source,
            });
        }
        sync_parent(path);
        Ok(ring)
    }

    fn parse(path: &Path, text: &str) -> Result<Self, KeyFileError> {
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason| KeyFileError::Format {
                path: path.to_owned(),
                line: i + 1,
                reason,
            };
            let mut fields = line.split_whitespace();
            let (Some(LINE_TAG), Some(id), Some(material), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(bad("expected \"embargo-storage-key <key id> <key>\""));
            };
            let id = KeyId::parse_hex(id).ok_or_else(|| bad("key id must be 16 hex digits"))?;
            let decoded = Zeroizing::new(
                B64.decode(material)
                    .map_err(|_| bad("key is not valid base64"))?,
            );
            let mut key = Zeroizing::new([0u8; KEY_LEN]);
            if decoded.len() != KEY_LEN {
                return Err(bad("key must be 32 bytes"));
            }
            key.copy_from_slice(&decoded);
            if keys.iter().any(|k: &Key| k.id == id) {
                return Err(bad("duplicate key id"));
            }
            keys.push(Key { id, material: key });
        }
        let mut keys = keys.into_iter();
        let current = keys.next().ok_or_else(|| KeyFileError::Empty {
            path: path.to_owned(),
        })?;
        Ok(Self {
            current,
            older: keys.collect(),
        })
    }

    fn render(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::new());
        for key in self.keys() {
            out.push_str(LINE_TAG);
            out.push(' ');
            out.push_str(&key.id.to_string());
            out.push(' ');
            let encoded = Zeroizing::new(B64.encode(key.material.as_slice()));
            out.push_str(&encoded);
            out.push('\n');
        }
        out
    }

    fn keys(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(&self.current).chain(self.older.iter())
    }

    /// The key new blobs are sealed with.
    pub fn current_key_id(&self) -> KeyId {
        self.current.id
    }

    /// Every key in the ring, current first.
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.keys().map(|k| k.id).collect()
    }

    /// Seals `plaintext` with the current key, bound to `context`.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let key = &self.current;
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let mut blob = Vec::with_capacity(plaintext.len().saturating_add(OVERHEAD));
        blob.push(VERSION);
        blob.extend_from_slice(&key.id.0);
        blob.extend_from_slice(&context_check(context));
        let mut aad = Vec::with_capacity(HEADER_LEN + context.len());
        aad.extend_from_slice(&blob);
        aad.extend_from_slice(context);
        let sealed = key
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::TooLarge)?;
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        Ok(blob)
    }

    /// Opens a blob sealed under `context` by any key in the ring.
    pub fn open(&self, context: &[u8], blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let parts = Parts::split(blob)?;
        let key = self
            .keys()
            .find(|k| k.id == parts.key_id)
            .ok_or(SealError::UnknownKey(parts.key_id))?;
        if parts.check != context_check(context) {
            return Err(SealError::WrongContext);
        }
        let mut aad = Vec::with_capacity(HEADER_LEN + context.len());
        aad.extend_from_slice(parts.header);
        aad.extend_from_slice(context);
        key.cipher()
            .decrypt(
                XNonce::from_slice(parts.nonce),
                Payload {
                    msg: parts.sealed,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::Tampered)
    }

    /// Opens a blob holding UTF-8 text.
    pub fn open_string(&self, context: &[u8], blob: &[u8]) -> Result<Zeroizing<String>, SealError> {
        let mut bytes = self.open(context, blob)?;
        let owned = std::mem::take(&mut *bytes);
        String::from_utf8(owned).map(Zeroizing::new).map_err(|e| {
            // Authenticated yet not UTF-8: it was never sealed as text.
            drop(Zeroizing::new(e.into_bytes()));
            SealError::Tampered
        })
    }

    /// The key a blob was sealed with (without opening it), e.g. to find
    /// blobs still sealed with a retired key.
    pub fn key_id_of(blob: &[u8]) -> Result<KeyId, SealError> {
        Parts::split(blob).map(|p| p.key_id)
    }
}

struct Parts<'a> {
    header: &'a [u8],
    key_id: KeyId,
    check: [u8; CHECK_LEN],
    nonce: &'a [u8],
    sealed: &'a [u8],
}

impl<'a> Parts<'a> {
    fn split(blob: &'a [u8]) -> Result<Self, SealError> {
        let (&version, _) = blob
            .split_first()
            .ok_or(SealError::Truncated { len: blob.len() })?;
        if version != VERSION {
            return Err(SealError::BadVersion(version));
        }
        if blob.len() < OVERHEAD {
            return Err(SealError::Truncated { len: blob.len() });
        }
        let (header, rest) = blob.split_at(HEADER_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let mut key_id = [0u8; KEY_ID_LEN];
        let mut check = [0u8; CHECK_LEN];
        for (o, b) in key_id
            .iter_mut()
            .chain(check.iter_mut())
            .zip(header.iter().skip(1))
        {
            *o = *b;
        }
        Ok(Self {
            header,
            key_id: KeyId(key_id),
            check,
            nonce,
            sealed,
        })
    }
}

/// Makes a created or renamed file's directory entry durable (best effort).
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent() {
        let dir = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("storage.key");
        (dir, path)
    }

    #[test]
    fn round_trip() {
        let keys = StorageKeys::ephemeral();
        let blob = keys
            .seal(
                b"embargo:reports:subject_sealed:KF-2026-0001",
                b"RCE in kfp",
            )
            .unwrap();
        assert_eq!(blob.len(), b"RCE in kfp".len() + OVERHEAD);
        assert!(!blob.windows(3).any(|w| w == b"RCE"));
        let opened = keys
            .open(b"embargo:reports:subject_sealed:KF-2026-0001", &blob)
            .unwrap();
        assert_eq!(&opened[..], b"RCE in kfp");
        let empty = keys.seal(b"ctx", b"").unwrap();
        assert!(keys.open(b"ctx", &empty).unwrap().is_empty());
        assert_eq!(
            &*keys
                .open_string(b"ctx", &keys.seal(b"ctx", "é".as_bytes()).unwrap())
                .unwrap(),
            "é"
        );
    }

    #[test]
    fn two_seals_differ() {
        let keys = StorageKeys::ephemeral();
        assert_ne!(
            keys.seal(b"c", b"same").unwrap(),
            keys.seal(b"c", b"same").unwrap()
        );
    }

    #[test]
    fn wrong_context_fails() {
        let keys = StorageKeys::ephemeral();
        let row1 = keys
            .seal(b"embargo:messages:body_sealed:1", b"body one")
            .unwrap();
        let row2 = keys
            .seal(b"embargo:messages:body_sealed:2", b"body two")
            .unwrap();
        // Swapped between rows.
        assert_eq!(
            keys.open(b"embargo:messages:body_sealed:2", &row1),
            Err(SealError::WrongContext)
        );
        assert_eq!(
            keys.open(b"embargo:messages:body_sealed:1", &row2),
            Err(SealError::WrongContext)
        );
        // Swapped between columns.
        assert_eq!(
            keys.open(b"embargo:messages:subject_sealed:1", &row1),
            Err(SealError::WrongContext)
        );
    }

    #[test]
    fn tamper_fails() {
        let keys = StorageKeys::ephemeral();
        let blob = keys.seal(b"ctx", b"secret payload").unwrap();
        for i in HEADER_LEN..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                keys.open(b"ctx", &bad),
                Err(SealError::Tampered),
                "byte {i}"
            );
        }
        // The context check bytes are covered too.
        let mut bad = blob.clone();
        bad[1 + KEY_ID_LEN] ^= 1;
        assert!(keys.open(b"ctx", &bad).is_err());
        // Forging the context check does not help: the AEAD binds the context.
        let mut forged = blob.clone();
        forged[1 + KEY_ID_LEN..HEADER_LEN].copy_from_slice(&context_check(b"other"));
        assert_eq!(keys.open(b"other", &forged), Err(SealError::Tampered));
        // Truncation.
        assert_eq!(
            keys.open(b"ctx", &blob[..10]),
            Err(SealError::Truncated { len: 10 })
        );
        assert_eq!(keys.open(b"ctx", &[]), Err(SealError::Truncated { len: 0 }));
        // Version.
        let mut v2 = blob.clone();
        v2[0] = 2;
        assert_eq!(keys.open(b"ctx", &v2), Err(SealError::BadVersion(2)));
        // Unknown key.
        let other = StorageKeys::ephemeral();
        let id = other.current_key_id();
        assert_eq!(
            keys.open(b"ctx", &other.seal(b"ctx", b"x").unwrap()),
            Err(SealError::UnknownKey(id))
        );
    }

    #[test]
    fn key_file_and_rotation() {
        let (_dir, path) = tmp();
        let first = StorageKeys::generate_file(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let old_blob = first.seal(b"ctx", b"old secret").unwrap();
        let old_id = first.current_key_id();
        assert_eq!(StorageKeys::key_id_of(&old_blob).unwrap(), old_id);

        // Never overwritten.
        assert!(matches!(
            StorageKeys::generate_file(&path),
            Err(KeyFileError::Exists { .. })
        ));

        let loaded = StorageKeys::load(&path).unwrap();
        assert_eq!(loaded.key_ids(), vec![old_id]);
        assert_eq!(&loaded.open(b"ctx", &old_blob).unwrap()[..], b"old secret");

        let rotated = StorageKeys::rotate(&path).unwrap();
        let new_id = rotated.current_key_id();
        assert_ne!(new_id, old_id);
        assert_eq!(rotated.key_ids(), vec![new_id, old_id]);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "rotation keeps the mode");

        let reloaded = StorageKeys::load(&path).unwrap();
        assert_eq!(reloaded.key_ids(), vec![new_id, old_id]);
        assert_eq!(
            &reloaded.open(b"ctx", &old_blob).unwrap()[..],
            b"old secret"
        );
        let new_blob = reloaded.seal(b"ctx", b"new secret").unwrap();
        assert_eq!(StorageKeys::key_id_of(&new_blob).unwrap(), new_id);
        assert_eq!(
            &reloaded.open(b"ctx", &new_blob).unwrap()[..],
            b"new secret"
        );
        // The old keyring cannot open what the new key sealed.
        assert_eq!(
            first.open(b"ctx", &new_blob),
            Err(SealError::UnknownKey(new_id))
        );
        // No temporary files left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn refuses_readable_key_file() {
        let (_dir, path) = tmp();
        StorageKeys::generate_file(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = StorageKeys::load(&path).unwrap_err();
        assert!(
            matches!(err, KeyFileError::Permissions { mode: 0o644, .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("0644"), "{msg}");
        assert!(StorageKeys::rotate(&path).is_err());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(StorageKeys::load(&path).is_err());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        assert!(StorageKeys::load(&path).is_ok());
    }

    #[test]
    fn bad_key_files() {
        let (_dir, path) = tmp();
        let write = |text: &str| {
            let _ = fs::remove_file(&path);
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .unwrap();
            f.write_all(text.as_bytes()).unwrap();
        };
        write("# nothing\n\n");
        assert!(matches!(
            StorageKeys::load(&path),
            Err(KeyFileError::Empty { .. })
        ));
        write("zz AAAA\n");
        assert!(matches!(
            StorageKeys::load(&path),
            Err(KeyFileError::Format { line: 1, .. })
        ));
        write("embargo-storage-key zz AAAA\n");
        assert!(matches!(
            StorageKeys::load(&path),
            Err(KeyFileError::Format { line: 1, .. })
        ));
        write(&format!(
            "embargo-storage-key 0011223344556677 {}\n",
            B64.encode([1u8; 16])
        ));
        assert!(matches!(
            StorageKeys::load(&path),
            Err(KeyFileError::Format { .. })
        ));
        let k = B64.encode([7u8; 32]);
        write(&format!(
            "# c\nembargo-storage-key 0011223344556677 {k}\nembargo-storage-key 0011223344556677 {k}\n"
        ));
        assert!(matches!(
            StorageKeys::load(&path),
            Err(KeyFileError::Format { line: 3, .. })
        ));
        write(&format!("\nembargo-storage-key 0011223344556677 {k}\n"));
        let keys = StorageKeys::load(&path).unwrap();
        assert_eq!(keys.current_key_id().to_string(), "0011223344556677");
        // Errors never echo key material.
        write(&format!("embargo-storage-key 0011223344556677 {k} extra\n"));
        let msg = StorageKeys::load(&path).err().unwrap().to_string();
        assert!(!msg.contains(&k), "{msg}");
    }

    #[test]
    fn debug_shows_no_key() {
        let (_dir, path) = tmp();
        let keys = StorageKeys::generate_file(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap();
        assert!(first.starts_with("embargo-storage-key "), "{first}");
        let material = first.split(' ').nth(2).unwrap().to_owned();
        assert_eq!(B64.decode(&material).unwrap().len(), 32);
        let dbg = format!("{keys:?}");
        assert_eq!(dbg, "StorageKeys(***)");
        assert!(!dbg.contains(&material));
        assert!(!format!("{keys:#?}").contains(&material));
    }
}
