//! The embargo policy: how far out a disclosure may be scheduled, and when
//! the team is warned before it ends.

use jiff::{SignedDuration, Timestamp};

/// Default: disclosure at most 90 days after the report; warnings 14 and 2
/// days before the embargo ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbargoPolicy {
    max_days: u32,
    warn_days: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("max_days must be between 1 and 3650")]
    MaxDays,
    #[error("every warning must be between 1 day and max_days before the end")]
    WarnDays,
}

/// Why an embargo end breaks the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("the embargo end {until} is not in the future (now {now})")]
    InThePast { until: Timestamp, now: Timestamp },
    #[error(
        "the embargo end {until} is more than {max_days} days after the report ({reported}); the latest allowed is {latest}"
    )]
    TooLate {
        until: Timestamp,
        reported: Timestamp,
        max_days: u32,
        latest: Timestamp,
    },
}

/// A warning that is due: the embargo ends in at most `days_before` days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warning {
    pub days_before: u32,
}

fn days(d: u32) -> SignedDuration {
    SignedDuration::from_hours(24 * i64::from(d))
}

impl Default for EmbargoPolicy {
    fn default() -> Self {
        Self {
            max_days: 90,
            warn_days: vec![14, 2],
        }
    }
}

impl EmbargoPolicy {
    pub fn new(max_days: u32, mut warn_days: Vec<u32>) -> Result<Self, PolicyError> {
        if !(1..=3650).contains(&max_days) {
            return Err(PolicyError::MaxDays);
        }
        if warn_days.iter().any(|&d| d == 0 || d > max_days) {
            return Err(PolicyError::WarnDays);
        }
        warn_days.sort_unstable_by(|a, b| b.cmp(a));
        warn_days.dedup();
        Ok(Self {
            max_days,
            warn_days,
        })
    }

    pub fn max_days(&self) -> u32 {
        self.max_days
    }

    pub fn warn_days(&self) -> &[u32] {
        &self.warn_days
    }

    /// The latest embargo end allowed for a report filed at `reported`.
    pub fn latest_end(&self, reported: Timestamp) -> Timestamp {
        reported
            .checked_add(days(self.max_days))
            .unwrap_or(Timestamp::MAX)
    }

    /// Is `until` an acceptable embargo end for a report filed at `reported`,
    /// decided at `now`?
    pub fn check(
        &self,
        reported: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<(), PolicyViolation> {
        if until <= now {
            return Err(PolicyViolation::InThePast { until, now });
        }
        let latest = self.latest_end(reported);
        if until > latest {
            return Err(PolicyViolation::TooLate {
                until,
                reported,
                max_days: self.max_days,
                latest,
            });
        }
        Ok(())
    }

    /// The warnings due at `now` for an embargo ending at `until`, most
    /// urgent first. Empty once the embargo has ended.
    pub fn due_warnings(&self, until: Timestamp, now: Timestamp) -> Vec<Warning> {
        if now >= until {
            return Vec::new();
        }
        let mut due: Vec<Warning> = self
            .warn_days
            .iter()
            .filter(|&&d| {
                until
                    .checked_sub(days(d))
                    .map(|from| now >= from)
                    .unwrap_or(true)
            })
            .map(|&d| Warning { days_before: d })
            .collect();
        due.sort_by_key(|w| w.days_before);
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t0() -> Timestamp {
        "2026-03-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn defaults() {
        let p = EmbargoPolicy::default();
        assert_eq!(p.max_days(), 90);
        assert_eq!(p.warn_days(), &[14, 2]);
    }

    #[test]
    fn boundaries() {
        let p = EmbargoPolicy::default();
        let now = t0();
        assert!(p.check(t0(), t0() + days(90), now).is_ok());
        let over = t0() + days(90) + SignedDuration::from_secs(1);
        let err = p.check(t0(), over, now).unwrap_err();
        assert!(err.to_string().contains("more than 90 days"), "{err}");
        assert!(matches!(
            p.check(t0(), now, now),
            Err(PolicyViolation::InThePast { .. })
        ));
    }

    #[test]
    fn warnings_fire_in_order() {
        let p = EmbargoPolicy::default();
        let until = t0() + days(30);
        assert!(p.due_warnings(until, t0()).is_empty());
        let w = p.due_warnings(until, until - days(14));
        assert_eq!(w, vec![Warning { days_before: 14 }]);
        let w = p.due_warnings(until, until - days(1));
        assert_eq!(
            w,
            vec![Warning { days_before: 2 }, Warning { days_before: 14 }]
        );
        assert!(p.due_warnings(until, until).is_empty());
    }

    #[test]
    fn invalid_policies_are_refused() {
        assert_eq!(EmbargoPolicy::new(0, vec![]), Err(PolicyError::MaxDays));
        assert_eq!(EmbargoPolicy::new(10, vec![11]), Err(PolicyError::WarnDays));
        assert_eq!(EmbargoPolicy::new(10, vec![0]), Err(PolicyError::WarnDays));
        let p = EmbargoPolicy::new(30, vec![2, 7, 7]).unwrap();
        assert_eq!(p.warn_days(), &[7, 2]);
    }

    proptest! {
        #[test]
        fn check_agrees_with_the_rule(
            reported_s in 1_600_000_000i64..1_900_000_000,
            until_off in -10_000_000i64..20_000_000,
            now_off in -1_000_000i64..10_000_000,
            max_days in 1u32..400,
        ) {
            let p = EmbargoPolicy::new(max_days, vec![]).unwrap();
            let reported = Timestamp::from_second(reported_s).unwrap();
            let until = Timestamp::from_second(reported_s + until_off).unwrap();
            let now = Timestamp::from_second(reported_s + now_off).unwrap();
            let ok = until > now && until_off <= i64::from(max_days) * 86_400;
            prop_assert_eq!(p.check(reported, until, now).is_ok(), ok);
        }
    }
}
