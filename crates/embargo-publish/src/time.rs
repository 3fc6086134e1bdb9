//! The embargo end: stored as an instant, shown with its time zone.

use std::fmt;

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::Serialize;

use crate::error::PublishError;

/// An embargo end as people read it: in a configured IANA zone and in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmbargoEnd {
    /// The instant, RFC 3339 in UTC.
    pub at: Timestamp,
    /// e.g. `2026-05-01 14:00 CEST (+02:00, Europe/Berlin)`.
    pub local: String,
    /// e.g. `2026-05-01 12:00 UTC`.
    pub utc: String,
    /// The IANA zone name used for `local`.
    pub zone: String,
}

impl EmbargoEnd {
    /// `at` shown in the IANA zone `zone` (e.g. `Europe/Berlin`, `UTC`)
    /// and in UTC. The system time zone database is used.
    pub fn new(at: Timestamp, zone: &str) -> Result<Self, PublishError> {
        let tz = TimeZone::get(zone).map_err(|_| PublishError::TimeZone(zone.to_owned()))?;
        let local = at.to_zoned(tz);
        Ok(Self {
            at,
            local: format!(
                "{} ({}, {zone})",
                local.strftime("%Y-%m-%d %H:%M %Z"),
                local.strftime("%:z")
            ),
            utc: at
                .to_zoned(TimeZone::UTC)
                .strftime("%Y-%m-%d %H:%M UTC")
                .to_string(),
            zone: zone.to_owned(),
        })
    }
}

impl fmt::Display for EmbargoEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.zone == "UTC" {
            f.write_str(&self.utc)
        } else {
            write!(f, "{} = {}", self.local, self.utc)
        }
    }
}

/// Reads an instant for `--at`: RFC 3339 with an offset
/// (`2026-05-01T14:00:00+02:00`, `…Z`), or a civil time in a named zone
/// (`2026-05-01T14:00[Europe/Berlin]`). A time without offset or zone is
/// refused: it would be ambiguous.
pub fn parse_instant(s: &str) -> Result<Timestamp, PublishError> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    s.parse::<Zoned>()
        .map(|z| z.timestamp())
        .map_err(|_| PublishError::Instant(s.chars().take(64).collect()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn shows_zone_and_utc() {
        let at: Timestamp = "2026-05-01T12:00:00Z".parse().unwrap();
        let e = EmbargoEnd::new(at, "Europe/Berlin").unwrap();
        assert_eq!(e.local, "2026-05-01 14:00 CEST (+02:00, Europe/Berlin)");
        assert_eq!(e.utc, "2026-05-01 12:00 UTC");
        assert_eq!(
            e.to_string(),
            "2026-05-01 14:00 CEST (+02:00, Europe/Berlin) = 2026-05-01 12:00 UTC"
        );
        let winter: Timestamp = "2026-01-15T09:30:00Z".parse().unwrap();
        let e = EmbargoEnd::new(winter, "America/New_York").unwrap();
        assert_eq!(e.local, "2026-01-15 04:30 EST (-05:00, America/New_York)");
        assert_eq!(
            EmbargoEnd::new(at, "UTC").unwrap().to_string(),
            "2026-05-01 12:00 UTC"
        );
        assert!(matches!(
            EmbargoEnd::new(at, "Mars/Olympus"),
            Err(PublishError::TimeZone(_))
        ));
    }

    #[test]
    fn parses_offsets_and_zones() {
        let want: Timestamp = "2026-05-01T12:00:00Z".parse().unwrap();
        assert_eq!(parse_instant("2026-05-01T14:00:00+02:00").unwrap(), want);
        assert_eq!(parse_instant(" 2026-05-01T12:00:00Z ").unwrap(), want);
        assert_eq!(
            parse_instant("2026-05-01T14:00[Europe/Berlin]").unwrap(),
            want
        );
        for bad in ["2026-05-01T14:00:00", "tomorrow", "", "2026-13-01T00:00Z"] {
            assert!(
                matches!(parse_instant(bad), Err(PublishError::Instant(_))),
                "{bad}"
            );
        }
    }
}
