//! Cleartext signatures (RFC 9580 section 7, the "cleartext signature
//! framework"): text that stays readable, followed by an armored
//! signature.  Used for the signed `security.txt` (RFC 9116 section 2.3).

use std::io::Write;

use openpgp::serialize::stream::{Message, Signer};
use sequoia_openpgp as openpgp;

use crate::{Keyring, PgpError};

/// Signs `text` with the keyring's current key in the cleartext
/// signature framework: `-----BEGIN PGP SIGNED MESSAGE-----`, a `Hash:`
/// header, the dash-escaped text, then the armored signature.
///
/// Line endings are normalised by the framework (trailing whitespace on
/// a line is not signed); the output uses `\n`.  The signature is a text
/// signature, so verifiers that read the file with CRLF line endings
/// accept it too.  `verify_inline` and `gpg --verify` check it.
pub fn sign_cleartext(text: &str, signer: &Keyring) -> Result<String, PgpError> {
    let keypair = signer.current().signing_keypair()?;
    let mut sink = Vec::new();
    {
        let message = Message::new(&mut sink);
        let mut writer = Signer::new(message, keypair)
            .map_err(PgpError::crypto)?
            .cleartext()
            .build()
            .map_err(PgpError::crypto)?;
        writer
            .write_all(text.as_bytes())
            .map_err(PgpError::crypto)?;
        writer.finalize().map_err(PgpError::crypto)?;
    }
    String::from_utf8(sink).map_err(PgpError::crypto)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::{SignatureStatus, generate_team_key, verify_inline};

    const TEXT: &str = "Contact: mailto:security@project.example\n\
                        Expires: 2031-01-01T00:00:00Z\n\
                        - a line starting with a dash\n\
                        -----BEGIN PGP MESSAGE----- (not really)\n";

    #[test]
    fn cleartext_signature_verifies_with_the_team_cert() {
        let team = Keyring::from(generate_team_key("security@project.example").unwrap());
        let signed = sign_cleartext(TEXT, &team).unwrap();
        assert!(
            signed.starts_with("-----BEGIN PGP SIGNED MESSAGE-----\n"),
            "{signed}"
        );
        assert!(signed.contains("\n-----BEGIN PGP SIGNATURE-----\n"));
        assert!(signed.trim_end().ends_with("-----END PGP SIGNATURE-----"));
        // The text stays readable (dash-escaped where needed).
        assert!(signed.contains("\nContact: mailto:security@project.example\n"));
        assert!(signed.contains("\n- - a line starting with a dash\n"));

        let v = verify_inline(signed.as_bytes(), &[team.public_cert()], 1 << 20).unwrap();
        assert_eq!(v.signatures.len(), 1);
        assert_eq!(
            v.signatures[0].status,
            SignatureStatus::Good,
            "{:?}",
            v.signatures
        );
        assert_eq!(
            v.signatures[0].signer.as_deref(),
            Some(&*team.fingerprint())
        );
        // The framework does not sign the final line break.
        assert_eq!(
            String::from_utf8_lossy(&v.content).trim_end(),
            TEXT.trim_end()
        );

        // Someone else's cert: not good.
        let other = generate_team_key("other@example.org")
            .unwrap()
            .public_cert();
        let v = verify_inline(signed.as_bytes(), &[other], 1 << 20).unwrap();
        assert_eq!(v.signatures[0].status, SignatureStatus::UnknownKey);

        // Tampered text: bad.
        let tampered = signed.replace("2031-01-01", "2039-01-01");
        let v = verify_inline(tampered.as_bytes(), &[team.public_cert()], 1 << 20).unwrap();
        assert_eq!(v.signatures[0].status, SignatureStatus::Bad);
    }
}
