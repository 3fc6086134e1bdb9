//! TOTP (RFC 6238): HMAC-SHA1, 30-second steps, 6 digits, one step of
//! clock drift either way; secrets shown to the user in base32 (RFC 4648).

use hmac::{Hmac, Mac};
use sha1::Sha1;

pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: u32 = 6;

/// The HOTP value (RFC 4226) of `counter` with `digits` digits.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> Option<u32> {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).ok()?;
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash.get(19)? & 0x0f);
    let b = hash.get(offset..offset + 4)?;
    let bin = (u32::from(b.first()? & 0x7f) << 24)
        | (u32::from(*b.get(1)?) << 16)
        | (u32::from(*b.get(2)?) << 8)
        | u32::from(*b.get(3)?);
    Some(bin % 10u32.checked_pow(digits)?)
}

/// The time step of a unix time.
pub fn step_of(unix_seconds: i64) -> u64 {
    u64::try_from(unix_seconds.div_euclid(STEP_SECONDS)).unwrap_or(0)
}

/// Checks a 6-digit `code` at `unix_seconds`, allowing one step either
/// way. Returns the matching step (for replay protection).
pub fn verify(secret: &[u8], code: &str, unix_seconds: i64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let now = step_of(unix_seconds);
    let mut found = None;
    // Check all three steps so the time taken does not tell which matched.
    for step in [now.saturating_sub(1), now, now + 1] {
        if hotp(secret, step, DIGITS) == Some(wanted) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32, without padding (as authenticator apps expect).
pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            let idx = ((buffer >> (bits - 5)) & 31) as usize;
            out.push(char::from(BASE32.get(idx).copied().unwrap_or(b'A')));
            bits -= 5;
        }
    }
    if bits > 0 {
        let idx = ((buffer << (5 - bits)) & 31) as usize;
        out.push(char::from(BASE32.get(idx).copied().unwrap_or(b'A')));
    }
    out
}

/// Decodes base32 (case-insensitive, spaces and padding ignored).
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in s.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let c = c.to_ascii_uppercase();
        let v = BASE32.iter().position(|&b| char::from(b) == c)?;
        buffer = (buffer << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            out.push(((buffer >> (bits - 8)) & 0xff) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 column (8 digits).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, want) in [
            (59i64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(secret, step_of(t), 8), Some(want), "t={t}");
        }
    }

    /// RFC 4226 appendix D.
    #[test]
    fn rfc4226_vectors() {
        let secret = b"12345678901234567890";
        let want = [755224, 287082, 359152, 969429, 338314];
        for (c, w) in want.iter().enumerate() {
            assert_eq!(hotp(secret, c as u64, 6), Some(*w));
        }
    }

    #[test]
    fn verify_window() {
        let secret = b"12345678901234567890";
        let code = format!("{:06}", hotp(secret, step_of(1_000_000), 6).unwrap());
        assert_eq!(verify(secret, &code, 1_000_000), Some(step_of(1_000_000)));
        assert!(verify(secret, &code, 1_000_000 + 30).is_some());
        assert!(verify(secret, &code, 1_000_000 - 30).is_some());
        assert!(verify(secret, &code, 1_000_000 + 90).is_none());
        assert!(verify(secret, "12345", 1_000_000).is_none());
        assert!(verify(secret, "abcdef", 1_000_000).is_none());
    }

    #[test]
    fn base32_round_trip() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI").unwrap(), b"foobar");
        assert_eq!(base32_decode("mzxw 6ytb oi==").unwrap(), b"foobar");
        assert!(base32_decode("1!").is_none());
        let secret: Vec<u8> = (0u8..20).collect();
        assert_eq!(base32_decode(&base32_encode(&secret)).unwrap(), secret);
    }
}
