//! In-memory guards of the login: failures per IP address, and TOTP codes
//! already used.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use embargo_domain::Login;
use jiff::{SignedDuration, Timestamp};

/// Most addresses tracked at once; older entries are dropped first.
const MAX_TRACKED: usize = 10_000;

/// Counts failed logins per IP address in a fixed window.
pub(crate) struct IpLimiter {
    max: u32,
    window: SignedDuration,
    failures: Mutex<HashMap<IpAddr, (u32, Timestamp)>>,
}

impl IpLimiter {
    pub(crate) fn new(max: u32, window: SignedDuration) -> Self {
        Self {
            max: max.max(1),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` may try to log in now.
    pub(crate) fn allowed(&self, ip: IpAddr, now: Timestamp) -> bool {
        let Ok(map) = self.failures.lock() else {
            return false;
        };
        match map.get(&ip) {
            Some((count, since)) => *count < self.max || *since + self.window <= now,
            None => true,
        }
    }

    pub(crate) fn failed(&self, ip: IpAddr, now: Timestamp) {
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() >= MAX_TRACKED {
            let window = self.window;
            map.retain(|_, (_, since)| *since + window > now);
            if map.len() >= MAX_TRACKED {
                map.clear();
            }
        }
        let entry = map.entry(ip).or_insert((0, now));
        if entry.1 + self.window <= now {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }

    pub(crate) fn succeeded(&self, ip: IpAddr) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&ip);
        }
    }
}

/// The last TOTP step accepted per account: a code works once.
#[derive(Default)]
pub(crate) struct TotpReplay {
    used: Mutex<HashMap<Login, u64>>,
}

impl TotpReplay {
    /// Records `step` for `login`; false when it (or a later step) was
    /// used already.
    pub(crate) fn accept(&self, login: &Login, step: u64) -> bool {
        let Ok(mut map) = self.used.lock() else {
            return false;
        };
        match map.get(login) {
            Some(last) if *last >= step => false,
            _ => {
                map.insert(login.clone(), step);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_window() {
        let l = IpLimiter::new(2, SignedDuration::from_mins(1));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = Timestamp::UNIX_EPOCH;
        assert!(l.allowed(ip, t));
        l.failed(ip, t);
        l.failed(ip, t);
        assert!(!l.allowed(ip, t));
        assert!(l.allowed(ip, t + SignedDuration::from_mins(2)));
        l.succeeded(ip);
        assert!(l.allowed(ip, t));
    }

    #[test]
    fn totp_codes_work_once() {
        let r = TotpReplay::default();
        let a = Login::parse("a").unwrap();
        assert!(r.accept(&a, 10));
        assert!(!r.accept(&a, 10));
        assert!(!r.accept(&a, 9));
        assert!(r.accept(&a, 11));
    }
}
