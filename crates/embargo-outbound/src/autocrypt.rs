//! The `Autocrypt:` header (Autocrypt Level 1) every outgoing message
//! carries: the team address and the team's public key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lettre::message::header::{HeaderName, HeaderValue};

use crate::error::OutboundError;

/// Characters of base64 per folded line (plus the leading space: 77).
const LINE: usize = 76;

/// Decodes the body of an ASCII-armored block (armor headers, the
/// optional CRC line and the BEGIN/END lines are skipped).
pub(crate) fn dearmor(armored: &str) -> Option<Vec<u8>> {
    let mut lines = armored.lines().map(str::trim_end);
    lines.find(|l| l.starts_with("-----BEGIN "))?;
    // Armor headers ("Comment: ...") end at the first empty line.
    let mut data = String::new();
    let mut in_headers = true;
    for line in lines {
        if line.starts_with("-----END ") {
            return STANDARD.decode(data.as_bytes()).ok();
        }
        if in_headers {
            if line.is_empty() {
                in_headers = false;
            } else if !line.contains(": ") {
                // No header block at all: this is already data.
                in_headers = false;
                data.push_str(line);
            }
            continue;
        }
        if line.starts_with('=') {
            continue; // CRC-24
        }
        data.push_str(line);
    }
    None
}

/// Builds the header from the team address and the team's armored
/// public certificate: `addr=…; prefer-encrypt=mutual; keydata=…`, the
/// key data folded onto continuation lines.
pub(crate) fn header(address: &str, public_armored: &str) -> Result<HeaderValue, OutboundError> {
    let binary = dearmor(public_armored)
        .ok_or_else(|| OutboundError::Build("team public key: bad armor".into()))?;
    let keydata = STANDARD.encode(binary);
    let prefix = format!("addr={address}; prefer-encrypt=mutual; keydata=");
    let raw = format!("{prefix}{keydata}");
    let mut encoded = prefix;
    let bytes = keydata.as_bytes();
    for chunk in bytes.chunks(LINE) {
        encoded.push_str("\r\n ");
        // base64 is ASCII, so every chunk is valid UTF-8.
        encoded
            .push_str(std::str::from_utf8(chunk).map_err(|_| {
                OutboundError::Build("team public key: base64 is not ASCII".into())
            })?);
    }
    Ok(HeaderValue::dangerous_new_pre_encoded(
        HeaderName::new_from_ascii_str("Autocrypt"),
        raw,
        encoded,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn dearmor_skips_headers_and_crc() {
        let armored = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: x\n\naGVs\nbG8=\n=AbCd\n-----END PGP PUBLIC KEY BLOCK-----\n";
        assert_eq!(dearmor(armored).unwrap(), b"hello");
        let bare =
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\naGVsbG8=\n-----END PGP PUBLIC KEY BLOCK-----";
        assert_eq!(dearmor(bare).unwrap(), b"hello");
        assert!(dearmor("no armor").is_none());
    }

    #[test]
    fn header_is_folded() {
        let data = STANDARD.encode(vec![7u8; 300]);
        let armored = format!(
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n{data}\n-----END PGP PUBLIC KEY BLOCK-----\n"
        );
        let mut headers = lettre::message::header::Headers::new();
        headers.insert_raw(header("security@project.example", &armored).unwrap());
        let text = headers.to_string();
        assert!(text.starts_with(
            "Autocrypt: addr=security@project.example; prefer-encrypt=mutual; keydata=\r\n "
        ));
        for line in text.split("\r\n") {
            assert!(line.len() <= 78, "{line}");
        }
        let unfolded: String = text
            .split_once("keydata=")
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        assert_eq!(unfolded, data);
    }
}
