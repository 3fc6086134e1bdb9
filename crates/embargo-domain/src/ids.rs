//! Identifiers that cross boundaries: tracking IDs, WG names, logins.

use std::fmt;
use std::str::FromStr;

/// The configurable prefix of tracking IDs, e.g. `KF` in `KF-2026-0042`.
///
/// 1 to 16 ASCII upper-case letters or digits, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackingPrefix(String);

impl TrackingPrefix {
    pub fn parse(s: &str) -> Result<Self, TrackingIdError> {
        let ok = (1..=16).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_uppercase())
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(TrackingIdError::Prefix)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrackingPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A report's tracking ID: `<PREFIX>-<YEAR>-<NNNN>`.
///
/// The number has at least four digits (zero-padded) and grows beyond four
/// when a year holds more than 9999 reports. Years are 2000..=9999.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackingId {
    prefix: TrackingPrefix,
    year: u16,
    number: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackingIdError {
    #[error("tracking ID prefix must be 1-16 upper-case letters or digits, starting with a letter")]
    Prefix,
    #[error("tracking ID must look like PREFIX-YEAR-NNNN")]
    Shape,
    #[error("tracking ID year must be between 2000 and 9999")]
    Year,
    #[error("tracking ID number must be between 1 and 99999999")]
    Number,
}

const MAX_NUMBER: u32 = 99_999_999;

impl TrackingId {
    pub fn new(prefix: TrackingPrefix, year: i16, number: u32) -> Result<Self, TrackingIdError> {
        let year = u16::try_from(year).map_err(|_| TrackingIdError::Year)?;
        if !(2000..=9999).contains(&year) {
            return Err(TrackingIdError::Year);
        }
        if number == 0 || number > MAX_NUMBER {
            return Err(TrackingIdError::Number);
        }
        Ok(Self {
            prefix,
            year,
            number,
        })
    }

    pub fn prefix(&self) -> &TrackingPrefix {
        &self.prefix
    }

    pub fn year(&self) -> u16 {
        self.year
    }

    pub fn number(&self) -> u32 {
        self.number
    }

    /// Finds the first bracketed tracking ID with the given prefix in a
    /// subject line, e.g. `Re: [KF-2026-0042] ...`.
    pub fn find_in_subject(subject: &str, prefix: &TrackingPrefix) -> Option<Self> {
        subject
            .split('[')
            .skip(1)
            .filter_map(|rest| rest.split_once(']').map(|(inside, _)| inside.trim()))
            .filter_map(|inside| inside.parse::<TrackingId>().ok())
            .find(|id| &id.prefix == prefix)
    }
}

impl fmt::Display for TrackingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{:04}", self.prefix, self.year, self.number)
    }
}

impl FromStr for TrackingId {
    type Err = TrackingIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('-');
        let (Some(prefix), Some(year), Some(number), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TrackingIdError::Shape);
        };
        let prefix = TrackingPrefix::parse(prefix)?;
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TrackingIdError::Year);
        }
        if number.len() < 4 || number.len() > 8 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TrackingIdError::Number);
        }
        // A number longer than four digits must not be zero-padded, so
        // every ID has exactly one spelling.
        if number.len() > 4 && number.starts_with('0') {
            return Err(TrackingIdError::Number);
        }
        let year: i16 = year.parse().map_err(|_| TrackingIdError::Year)?;
        let number: u32 = number.parse().map_err(|_| TrackingIdError::Number)?;
        Self::new(prefix, year, number)
    }
}

impl serde::Serialize for TrackingId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The name of a working group: 1-64 characters of `[a-z0-9-]`, starting with
/// a letter or digit. Used in URLs and config, so deliberately narrow.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct WgName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("WG name must be 1-64 characters of a-z, 0-9 and '-', not starting with '-'")]
pub struct WgNameError;

impl WgName {
    pub fn parse(s: &str) -> Result<Self, WgNameError> {
        let ok = (1..=64).contains(&s.len())
            && !s.starts_with('-')
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(WgNameError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WgName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A team member's login: 1-64 characters of `[a-z0-9._-]`, starting with a
/// letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Login(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "login must be 1-64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
)]
pub struct LoginError;

impl Login {
    pub fn parse(s: &str) -> Result<Self, LoginError> {
        let ok = (1..=64).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            });
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(LoginError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kf() -> TrackingPrefix {
        TrackingPrefix::parse("KF").unwrap()
    }

    #[test]
    fn tracking_id_formats_with_four_digits() {
        let id = TrackingId::new(kf(), 2026, 42).unwrap();
        assert_eq!(id.to_string(), "KF-2026-0042");
        let big = TrackingId::new(kf(), 2026, 12345).unwrap();
        assert_eq!(big.to_string(), "KF-2026-12345");
    }

    #[test]
    fn tracking_id_refuses_bad_shapes() {
        for bad in [
            "",
            "KF",
            "KF-2026",
            "KF-2026-42",
            "kf-2026-0042",
            "KF-26-0042",
            "KF-2026-0000",
            "KF-2026-00042",
            "KF-1999-0001",
            "KF-2026-0042-1",
            "KF-2026-+042",
            "K F-2026-0042",
            "1KF-2026-0042",
            "KF-2026-123456789",
            "KF-２０２６-0042",
        ] {
            assert!(bad.parse::<TrackingId>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn tracking_id_in_subject() {
        let p = kf();
        let found = TrackingId::find_in_subject("Re: [KF-2026-0007] RCE in kfp", &p).unwrap();
        assert_eq!(found.to_string(), "KF-2026-0007");
        assert!(TrackingId::find_in_subject("Re: KF-2026-0007 no brackets", &p).is_none());
        assert!(TrackingId::find_in_subject("[OTHER-2026-0007]", &p).is_none());
        let second = TrackingId::find_in_subject("[x] [ KF-2026-0008 ]", &p).unwrap();
        assert_eq!(second.number(), 8);
        assert!(TrackingId::find_in_subject("[[[[]]]", &p).is_none());
    }

    #[test]
    fn names_and_logins() {
        assert!(WgName::parse("pipelines").is_ok());
        assert!(WgName::parse("training-operator").is_ok());
        for bad in ["", "-x", "Pipelines", "a b", "a/b", &"a".repeat(65)] {
            assert!(WgName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Login::parse("admin").is_ok());
        assert!(Login::parse("j.doe_2").is_ok());
        for bad in ["", ".x", "Admin", "a b", "a@b", &"a".repeat(65)] {
            assert!(Login::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn tracking_id_round_trips(year in 2000i16..=9999, number in 1u32..=MAX_NUMBER) {
            let id = TrackingId::new(kf(), year, number).unwrap();
            let parsed: TrackingId = id.to_string().parse().unwrap();
            prop_assert_eq!(parsed, id);
        }

        #[test]
        fn tracking_id_parse_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<TrackingId>();
            let _ = TrackingId::find_in_subject(&s, &kf());
        }
    }
}
