//! Passwords: argon2id hashes in PHC form, and one-time passwords.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("stored password hash is malformed")]
    Malformed,
}

/// argon2id with OWASP's first recommended parameter set (19 MiB, t=2, p=1).
fn argon2() -> Result<Argon2<'static>, PasswordError> {
    let params =
        Params::new(19 * 1024, 2, 1, None).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password to a PHC string (`$argon2id$v=19$...`).
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Checks a password against a stored PHC string, in constant time.
pub fn verify(password: &str, phc: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|_| PasswordError::Malformed)?;
    Ok(argon2()?
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// A one-time password: 20 characters from an unambiguous alphabet
/// (about 100 bits), grouped for reading aloud.
pub fn one_time() -> Zeroizing<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    let mut out = Zeroizing::new(String::with_capacity(24));
    for i in 0..20 {
        if i > 0 && i % 5 == 0 {
            out.push('-');
        }
        let idx = rng.gen_range(0..ALPHABET.len());
        out.push(char::from(ALPHABET.get(idx).copied().unwrap_or(b'a')));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse", &h).unwrap());
        assert!(!verify("wrong", &h).unwrap());
        assert!(verify("x", "not a hash").is_err());
        assert_ne!(hash("correct horse").unwrap(), h, "salted");
    }

    #[test]
    fn one_time_passwords_differ() {
        let a = one_time();
        let b = one_time();
        assert_eq!(a.len(), 23);
        assert_ne!(*a, *b);
    }
}
