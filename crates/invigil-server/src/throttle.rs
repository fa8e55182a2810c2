//! Limits on what one client can make the server do: sign-in attempts (per
//! client address and per user name, with growing delays), concurrent
//! password checks, and session creation per address.
//!
//! All state is in memory and per process: a restart forgets it, which
//! only gives an attacker a fresh start of a few attempts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed sign-ins a key may have before delays start.
pub const FREE_FAILURES: u32 = 5;
/// The longest delay between failed sign-ins of one key.
pub const MAX_DELAY: Duration = Duration::from_secs(300);
/// A key's failures are forgotten after this long without one.
pub const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// Most keys remembered; the stalest are dropped beyond it.
const MAX_KEYS: usize = 100_000;

/// Who failed to sign in.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Key {
    Address(IpAddr),
    User(String),
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    /// Until when the key must wait: nothing for the first
    /// [`FREE_FAILURES`], then 1 s, 2 s, 4 s, ... up to [`MAX_DELAY`].
    fn blocked_until(&self) -> Option<Instant> {
        let over = self.count.checked_sub(FREE_FAILURES)?;
        let delay = Duration::from_secs(1u64 << over.min(20)).min(MAX_DELAY);
        Some(self.last + delay)
    }
}

/// Failed sign-ins by client address and by user name.
#[derive(Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<Key, Failures>>,
}

impl SignInThrottle {
    /// How long the caller must wait before trying again, if at all: the
    /// longest wait of its keys.
    pub fn wait(&self, keys: &[Key], now: Instant) -> Option<Duration> {
        let map = self.failures.lock().expect("throttle never poisoned");
        keys.iter()
            .filter_map(|k| map.get(k)?.blocked_until())
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    /// Counts a failure against every key.
    pub fn failed(&self, keys: &[Key], now: Instant) {
        let mut map = self.failures.lock().expect("throttle never poisoned");
        if map.len() >= MAX_KEYS {
            map.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if map.len() >= MAX_KEYS {
                // Still full: an address flood. Keep the user names (what
                // protects accounts) and the most recent addresses.
                let mut oldest: Vec<Instant> = map.values().map(|f| f.last).collect();
                oldest.sort_unstable();
                let cut = oldest[oldest.len() / 2];
                map.retain(|k, f| matches!(k, Key::User(_)) || f.last > cut);
            }
        }
        for key in keys {
            let entry = map.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now.duration_since(entry.last) >= FORGET_AFTER {
                entry.count = 0;
            }
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
        }
    }

    /// A successful sign-in clears its keys.
    pub fn succeeded(&self, keys: &[Key]) {
        let mut map = self.failures.lock().expect("throttle never poisoned");
        for key in keys {
            map.remove(key);
        }
    }
}

/// A token bucket per client address: `per_minute` requests a minute, in
/// bursts of up to `per_minute`.
pub struct RateLimit {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimit {
    /// `per_minute` 0 means no limit.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request's token, or says how long until one is free.
    pub fn take(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let mut map = self.buckets.lock().expect("rate limit never poisoned");
        if map.len() >= MAX_KEYS {
            // Full buckets carry nothing worth keeping.
            map.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_sec < capacity
            });
        }
        let (tokens, at) = map.entry(addr).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_sec).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / per_sec))
        }
    }
}

/// Seconds for a `Retry-After` header: at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_the_free_failures_and_success_clears_them() {
        let t = SignInThrottle::default();
        let keys = [
            Key::Address("192.0.2.1".parse().unwrap()),
            Key::User("alice".into()),
        ];
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert_eq!(t.wait(&keys, t0), None);
            t.failed(&keys, t0);
        }
        assert_eq!(t.wait(&keys, t0), Some(Duration::from_secs(1)));
        t.failed(&keys, t0);
        assert_eq!(t.wait(&keys, t0), Some(Duration::from_secs(2)));
        for _ in 0..30 {
            t.failed(&keys, t0);
        }
        assert_eq!(t.wait(&keys, t0), Some(MAX_DELAY));
        assert_eq!(t.wait(&keys, t0 + MAX_DELAY), None);
        // Another address trying the same user waits too.
        let other = [
            Key::Address("192.0.2.2".parse().unwrap()),
            Key::User("alice".into()),
        ];
        assert!(t.wait(&other, t0).is_some());
        t.succeeded(&keys);
        assert_eq!(t.wait(&other, t0), None);
    }

    #[test]
    fn failures_are_forgotten_after_an_hour() {
        let t = SignInThrottle::default();
        let keys = [Key::User("bob".into())];
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES + 1 {
            t.failed(&keys, t0);
        }
        let later = t0 + FORGET_AFTER;
        t.failed(&keys, later);
        assert_eq!(t.wait(&keys, later), None);
    }

    #[test]
    fn the_rate_limit_refills_over_a_minute() {
        let r = RateLimit::new(60);
        let addr: IpAddr = "192.0.2.9".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..60 {
            r.take(addr, t0).unwrap();
        }
        let wait = r.take(addr, t0).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        r.take(addr, t0 + Duration::from_secs(1)).unwrap();
        assert!(RateLimit::new(0).take(addr, t0).is_ok());
        assert_eq!(retry_after_secs(Duration::from_millis(200)), 1);
    }
}
