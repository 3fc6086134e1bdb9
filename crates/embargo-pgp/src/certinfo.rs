//! What the rest of the gateway needs to know about a certificate without
//! touching sequoia: its fingerprint, its e-mail addresses, its armored and
//! binary forms.

use openpgp::serialize::{Serialize, SerializeInto};
use sequoia_openpgp as openpgp;

use crate::{Cert, PgpError};

/// The primary key's fingerprint, 40 upper-case hex digits.
pub fn cert_fingerprint(cert: &Cert) -> String {
    cert.fingerprint().to_hex()
}

/// The e-mail addresses of the certificate's User IDs, lower-cased. User
/// IDs are not checked for self-signature validity beyond what sequoia's
/// parser keeps.
pub fn cert_emails(cert: &Cert) -> Vec<String> {
    let mut out: Vec<String> = cert
        .userids()
        .filter_map(|ua| ua.userid().email().ok().flatten().map(|e| e.to_lowercase()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether one of the certificate's User IDs carries `address`
/// (case-insensitive).
pub fn cert_has_email(cert: &Cert, address: &str) -> bool {
    let address = address.to_lowercase();
    cert_emails(cert).contains(&address)
}

/// The public certificate, binary (secret key material stripped).
pub fn cert_to_bytes(cert: &Cert) -> Result<Vec<u8>, PgpError> {
    let mut out = Vec::new();
    cert.clone()
        .strip_secret_key_material()
        .serialize(&mut out)
        .map_err(|e| PgpError::Malformed(e.to_string()))?;
    Ok(out)
}

/// The public certificate, ASCII-armored.
pub fn cert_to_armored(cert: &Cert) -> Result<String, PgpError> {
    let bytes = cert
        .clone()
        .strip_secret_key_material()
        .armored()
        .to_vec()
        .map_err(|e| PgpError::Malformed(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| PgpError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_round_trip() {
        let key = crate::generate_team_key("Security Team <Security@Project.Example>").unwrap();
        let cert = key.public_cert();
        assert_eq!(cert_emails(&cert), vec!["security@project.example"]);
        assert!(cert_has_email(&cert, "SECURITY@project.example"));
        assert!(!cert_has_email(&cert, "other@project.example"));
        let bytes = cert_to_bytes(&cert).unwrap();
        let back = crate::parse_certs(&bytes).unwrap();
        assert_eq!(cert_fingerprint(&back[0]), key.fingerprint());
        let armored = cert_to_armored(&key.cert().clone()).unwrap();
        assert!(armored.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"));
        assert!(!armored.contains("PRIVATE"));
    }
}
