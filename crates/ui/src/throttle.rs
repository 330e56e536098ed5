//! Slowing down repeated failed logins, per email and per client address.
//!
//! Each key (an email, a client address) counts its failures in a row. From the
//! `free_failures`-th failure on, the key must wait before its next attempt: `base`, then twice
//! as long after each further failure, at most `max`. An attempt during the wait is refused
//! without checking the password (so guessing gets no faster by trying more), and a successful
//! login clears the email's and the address's counters. Counters idle for longer than `max`
//! are forgotten.
//!
//! TODO-scalability: the counters are in this process's memory; replicas count separately and
//! a restart forgets them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys kept at most; past this, idle keys are dropped first, then the oldest.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Failed-login counters with an exponential wait.
#[derive(Debug)]
pub struct LoginThrottle {
    free_failures: u32,
    base: Duration,
    max: Duration,
    keys: Mutex<HashMap<String, Failures>>,
}

impl Default for LoginThrottle {
    /// Three free failures, then 1 s, 2 s, 4 s, ... up to 15 minutes.
    fn default() -> Self {
        Self::new(3, Duration::from_secs(1), Duration::from_secs(15 * 60))
    }
}

impl LoginThrottle {
    /// Counters that let `free_failures` failures through, then wait `base`, doubling up to
    /// `max`.
    pub fn new(free_failures: u32, base: Duration, max: Duration) -> Self {
        Self {
            free_failures,
            base,
            max,
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn wait_after(&self, failures: u32) -> Duration {
        if failures < self.free_failures {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_failures).min(30);
        self.base
            .checked_mul(1 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// How long the longest-waiting of `keys` must still wait at `now` (zero: go ahead).
    pub fn wait(&self, keys: &[String], now: Instant) -> Duration {
        let map = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .filter_map(|k| map.get(k))
            .map(|f| (f.last + self.wait_after(f.count)).saturating_duration_since(now))
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// Records a failed attempt for every key.
    pub fn failed(&self, keys: &[String], now: Instant) {
        let mut map = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEYS {
            let max = self.max;
            map.retain(|_, f| now.saturating_duration_since(f.last) < max);
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        for key in keys {
            let entry = map.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: now,
            });
            // A key idle for longer than the longest wait starts over.
            if now.saturating_duration_since(entry.last) > self.max {
                entry.count = 0;
            }
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
        }
    }

    /// Forgets the failures of every key (after a successful login).
    pub fn succeeded(&self, keys: &[String]) {
        let mut map = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_after_the_free_failures_and_reset_on_success() {
        let t = LoginThrottle::new(2, Duration::from_secs(1), Duration::from_secs(8));
        let keys = vec!["email:a@example.com".to_owned(), "ip:192.0.2.1".to_owned()];
        let start = Instant::now();
        t.failed(&keys, start);
        assert_eq!(t.wait(&keys, start), Duration::ZERO);
        t.failed(&keys, start);
        assert_eq!(t.wait(&keys, start), Duration::from_secs(1));
        t.failed(&keys, start);
        assert_eq!(t.wait(&keys, start), Duration::from_secs(2));
        for _ in 0..10 {
            t.failed(&keys, start);
        }
        assert_eq!(t.wait(&keys, start), Duration::from_secs(8), "capped");
        assert_eq!(
            t.wait(&keys, start + Duration::from_secs(3)),
            Duration::from_secs(5)
        );
        // Another email from the same address waits too; an unrelated one does not.
        assert!(t.wait(&["ip:192.0.2.1".to_owned()], start) > Duration::ZERO);
        assert_eq!(
            t.wait(&["email:b@example.com".to_owned()], start),
            Duration::ZERO
        );
        t.succeeded(&keys);
        assert_eq!(t.wait(&keys, start), Duration::ZERO);
    }
}
