//! Web Key Directory (draft-koch-openpgp-webkey-service): the hashed
//! local part used in WKD URLs.

use openpgp::types::HashAlgorithm;
use sequoia_openpgp as openpgp;

/// The z-base-32 alphabet (Zooko's human-oriented base-32).
const ZBASE32: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// The WKD hash of an address's local part: ASCII upper case mapped to
/// lower case (other characters unchanged), SHA-1, z-base-32 (32
/// characters).  `Joe.Doe` (of `Joe.Doe@Example.ORG`) gives
/// `iy9q119eutrkn8s1mk4r39qejnbu3n5q`, as `gpg-wks-client
/// --print-wkd-hash` does.
pub fn wkd_hash(local_part: &str) -> String {
    let lowered = local_part.to_ascii_lowercase();
    // SHA-1 is always available in sequoia (collision-detecting
    // SHA-1, which equals SHA-1 for any input that is not an attack).
    let digest = HashAlgorithm::SHA1
        .context()
        .map(|b| {
            let mut ctx = b.for_digest();
            ctx.update(lowered.as_bytes());
            ctx
        })
        .and_then(|ctx| ctx.into_digest())
        .unwrap_or_default();
    zbase32(&digest)
}

/// z-base-32 encoding, most significant bit first, no padding.
fn zbase32(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().saturating_mul(8).div_ceil(5));
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in data {
        acc = (acc << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(zchar(acc >> bits));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(zchar(acc << (5 - bits)));
    }
    out
}

fn zchar(index: u32) -> char {
    ZBASE32
        .get((index & 31) as usize)
        .map_or('y', |&c| char::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // draft-koch-openpgp-webkey-service, section 3.1 example.
        assert_eq!(wkd_hash("Joe.Doe"), "iy9q119eutrkn8s1mk4r39qejnbu3n5q");
        assert_eq!(wkd_hash("joe.doe"), "iy9q119eutrkn8s1mk4r39qejnbu3n5q");
        // gpg-wks-client --print-wkd-hash security@project.example
        assert_eq!(wkd_hash("security"), "t5s8ztdbon8yzntexy6oz5y48etqsnbb");
        assert_eq!(wkd_hash("SECURITY"), "t5s8ztdbon8yzntexy6oz5y48etqsnbb");
        // Non-ASCII is not case-mapped.
        assert_ne!(wkd_hash("Ä"), wkd_hash("ä"));
    }

    #[test]
    fn zbase32_encodes() {
        // Examples from the z-base-32 specification (bit lengths that are
        // multiples of 8).
        assert_eq!(zbase32(&[]), "");
        assert_eq!(zbase32(&[0xf0, 0xbf, 0xc7]), "6n9hq");
        assert_eq!(zbase32(&[0xd4, 0x7a, 0x04]), "4t7ye");
        assert_eq!(zbase32(&[0u8; 20]).len(), 32);
    }
}
