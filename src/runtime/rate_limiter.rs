//! The rate limiter behind [`WorkQueue::add_rate_limited`](super::queue::WorkQueue::add_rate_limited):
//! per-key exponential backoff combined (max) with an overall token bucket, client-go's
//! `DefaultControllerRateLimiter`. Time comes from the queue's [`Clock`](crate::clock::Clock),
//! never the system time.

use crate::clock::SharedClock;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Settings of a [`RateLimiter`]. The defaults are client-go's `DefaultControllerRateLimiter`:
/// backoff 5 ms doubling up to 1000 s, combined with a 10 qps token bucket of burst 100.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimiterConfig {
    /// Delay of a key's first failure; each further failure doubles it. Default 5 ms.
    pub base_delay: Duration,
    /// Upper bound of every delay the limiter returns, the bucket's included. Default 1000 s
    /// (client-go's value; an embedded engine usually wants seconds).
    pub max_delay: Duration,
    /// Overall rate, in tokens per second, of the token bucket. Default 10.0.
    /// `f64::INFINITY` never limits; zero or NaN grants only the initial `burst` tokens and then
    /// delays every call by `max_delay`.
    pub qps: f64,
    /// Capacity of the token bucket, which starts full. Default 100. With 0 every call waits
    /// `1 / qps` behind the previous one.
    pub burst: u32,
    /// Whether the per-key exponential backoff applies. Default true.
    pub backoff_enabled: bool,
    /// Whether the overall token bucket applies. Default true.
    pub bucket_enabled: bool,
}

impl Default for RateLimiterConfig {
    fn default() -> Self {
        RateLimiterConfig {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(1000),
            qps: 10.0,
            burst: 100,
            backoff_enabled: true,
            bucket_enabled: true,
        }
    }
}

impl RateLimiterConfig {
    /// A limiter that never delays (both parts off); it still counts failures per key.
    pub fn disabled() -> Self {
        RateLimiterConfig {
            backoff_enabled: false,
            bucket_enabled: false,
            ..Self::default()
        }
    }

    /// Per-key exponential backoff only (`base`, doubling up to `max`), no token bucket.
    pub fn backoff_only(base: Duration, max: Duration) -> Self {
        RateLimiterConfig {
            base_delay: base,
            max_delay: max,
            bucket_enabled: false,
            ..Self::default()
        }
    }
}

#[derive(Debug)]
struct Bucket {
    /// Tokens available; negative when calls have reserved tokens not yet refilled.
    tokens: f64,
    /// Clock reading of the last refill.
    last: Duration,
}

/// Computes the delay before a key may be retried: client-go's `MaxOfRateLimiter` of an
/// `ItemExponentialFailureRateLimiter` and a `BucketRateLimiter`, driven by a
/// [`Clock`](crate::clock::Clock) instead of the system time.
pub struct RateLimiter<K> {
    config: RateLimiterConfig,
    clock: SharedClock,
    failures: parking_lot::Mutex<HashMap<K, u32>>,
    /// How many keys `failures` holds. Invariant: written only under the `failures` lock,
    /// right after the map changed, so a read of 0 (Acquire, pairing with the Release
    /// stores) sees every entry added before it: `forget` and `num_requeues` of a key may
    /// then skip the lock and the hashing, as if they ran at that read. The common case, a
    /// reconcile that never failed, costs one atomic load instead of two locked lookups.
    tracked: std::sync::atomic::AtomicUsize,
    bucket: parking_lot::Mutex<Bucket>,
}

impl<K> fmt::Debug for RateLimiter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.config)
            .field("tracked_keys", &self.failures.lock().len())
            .field("bucket", &*self.bucket.lock())
            .finish()
    }
}

/// `base * 2^exp`, clamped to `max`, without overflow for any `exp`.
fn exponential_backoff(base: Duration, max: Duration, exp: u32) -> Duration {
    let base = base.as_nanos();
    if base == 0 {
        return Duration::ZERO;
    }
    // Invariant: never overflows. A shift of 128 or more, or a product past u128, is past any
    // Duration, so past `max`.
    let nanos = match 1u128.checked_shl(exp).and_then(|f| base.checked_mul(f)) {
        Some(n) => n,
        None => return max,
    };
    if nanos >= max.as_nanos() {
        return max;
    }
    // nanos < max.as_nanos(), so its whole seconds fit in a u64.
    Duration::new(
        (nanos / 1_000_000_000) as u64,
        (nanos % 1_000_000_000) as u32,
    )
}

impl<K: Clone + Eq + Hash> RateLimiter<K> {
    /// A limiter with `config`, reading time from `clock`. The bucket starts full.
    pub fn new(config: RateLimiterConfig, clock: SharedClock) -> Self {
        let bucket = Bucket {
            tokens: f64::from(config.burst),
            last: clock.monotonic(),
        };
        RateLimiter {
            config,
            clock,
            failures: parking_lot::Mutex::new(HashMap::new()),
            tracked: std::sync::atomic::AtomicUsize::new(0),
            bucket: parking_lot::Mutex::new(bucket),
        }
    }

    /// The limiter's settings.
    pub fn config(&self) -> &RateLimiterConfig {
        &self.config
    }

    /// The delay before `key` may be retried, recording one more failure of `key` and reserving
    /// one token of the bucket.
    ///
    /// The delay is the larger of `base_delay * 2^failures` (failures counted before this call)
    /// and the bucket's wait, clamped to `max_delay`.
    pub fn when(&self, key: &K) -> Duration {
        // Invariant: a key's failure count grows only here, by one per call, and resets only in
        // `forget`.
        let exp = {
            let mut failures = self.failures.lock();
            match failures.get_mut(key) {
                Some(n) => {
                    let exp = *n;
                    *n = n.saturating_add(1);
                    exp
                }
                None => {
                    failures.insert(key.clone(), 1);
                    self.tracked.store(failures.len(), Ordering::Release);
                    0
                }
            }
        };
        let backoff = if self.config.backoff_enabled {
            exponential_backoff(self.config.base_delay, self.config.max_delay, exp)
        } else {
            Duration::ZERO
        };
        let bucket = if self.config.bucket_enabled {
            self.reserve_token()
        } else {
            Duration::ZERO
        };
        // Invariant: every delay handed out is clamped to max_delay.
        backoff.max(bucket).min(self.config.max_delay)
    }

    /// Reserves one token (golang.org/x/time/rate `Reserve().Delay()`): the token is taken
    /// even when the bucket is empty, and the wait is how long the refill takes to cover it.
    fn reserve_token(&self) -> Duration {
        let qps = self.config.qps;
        if qps == f64::INFINITY {
            return Duration::ZERO;
        }
        let now = self.clock.monotonic();
        let mut b = self.bucket.lock();
        let elapsed = now.saturating_sub(b.last);
        b.last = b.last.max(now);
        let refills = qps > 0.0;
        if refills {
            b.tokens = (b.tokens + elapsed.as_secs_f64() * qps).min(f64::from(self.config.burst));
        }
        b.tokens -= 1.0;
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else if refills {
            Duration::try_from_secs_f64(-b.tokens / qps)
                .unwrap_or(self.config.max_delay)
                .min(self.config.max_delay)
        } else {
            self.config.max_delay
        }
    }

    /// Forgets `key`'s failures: its next delay is back to `base_delay`. Call it when the key's
    /// reconcile succeeded. The bucket is not refunded.
    pub fn forget(&self, key: &K) {
        if self.tracked.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut failures = self.failures.lock();
        if failures.remove(key).is_some() {
            self.tracked.store(failures.len(), Ordering::Release);
        }
    }

    /// How many times [`RateLimiter::when`] was called for `key` since it was last forgotten.
    pub fn num_requeues(&self, key: &K) -> u32 {
        if self.tracked.load(Ordering::Acquire) == 0 {
            return 0;
        }
        self.failures.lock().get(key).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn backoff_doubles_from_5ms_and_is_capped_at_max_delay() {
        let clock = Arc::new(ManualClock::default());
        let rl = RateLimiter::new(
            RateLimiterConfig {
                bucket_enabled: false,
                ..RateLimiterConfig::default()
            },
            clock,
        );
        let got: Vec<Duration> = (0..6).map(|_| rl.when(&"k")).collect();
        let want: Vec<Duration> = [5, 10, 20, 40, 80, 160].map(|m| m * MS).to_vec();
        assert_eq!(got, want);
        // 5 ms * 2^17 = 655.36 s; 2^18 would be 1310.72 s, past the 1000 s cap.
        for _ in 6..17 {
            rl.when(&"k");
        }
        assert_eq!(rl.when(&"k"), Duration::from_millis(655_360));
        assert_eq!(rl.when(&"k"), Duration::from_secs(1000));
        assert_eq!(rl.when(&"k"), Duration::from_secs(1000));
        assert_eq!(rl.num_requeues(&"k"), 20);
        assert_eq!(rl.when(&"other"), 5 * MS, "backoff is per key");
    }

    #[test]
    fn forget_resets_the_backoff() {
        let clock = Arc::new(ManualClock::default());
        let rl = RateLimiter::new(
            RateLimiterConfig::backoff_only(MS, Duration::from_secs(1)),
            clock,
        );
        rl.when(&1);
        rl.when(&1);
        assert_eq!(rl.when(&1), 4 * MS);
        rl.forget(&1);
        assert_eq!(rl.num_requeues(&1), 0);
        assert_eq!(rl.when(&1), MS);
    }

    #[test]
    fn backoff_does_not_overflow_for_huge_failure_counts() {
        let max = Duration::from_secs(30);
        assert_eq!(exponential_backoff(5 * MS, max, 40), max);
        assert_eq!(exponential_backoff(5 * MS, max, 127), max);
        assert_eq!(exponential_backoff(5 * MS, max, 128), max);
        assert_eq!(exponential_backoff(5 * MS, max, u32::MAX), max);
        assert_eq!(
            exponential_backoff(5 * MS, Duration::MAX, u32::MAX),
            Duration::MAX
        );
        assert_eq!(
            exponential_backoff(Duration::ZERO, max, u32::MAX),
            Duration::ZERO
        );
        assert_eq!(exponential_backoff(Duration::MAX, max, 0), max);
    }

    #[test]
    fn token_bucket_delays_calls_past_the_burst_and_refills_with_time() {
        let clock = Arc::new(ManualClock::default());
        let rl = RateLimiter::new(
            RateLimiterConfig {
                qps: 4.0,
                burst: 2,
                backoff_enabled: false,
                ..RateLimiterConfig::default()
            },
            clock.clone(),
        );
        // Different keys: only the bucket limits.
        assert_eq!(rl.when(&1), Duration::ZERO);
        assert_eq!(rl.when(&2), Duration::ZERO);
        assert_eq!(rl.when(&3), 250 * MS);
        assert_eq!(rl.when(&4), 500 * MS);
        clock.advance(250 * MS); // one token back: still one owed
        assert_eq!(rl.when(&5), 500 * MS);
        clock.advance(Duration::from_secs(3600)); // refills only up to the burst
        assert_eq!(rl.when(&6), Duration::ZERO);
        assert_eq!(rl.when(&7), Duration::ZERO);
        assert_eq!(rl.when(&8), 250 * MS);
    }

    #[test]
    fn default_limiter_is_the_max_of_backoff_and_bucket() {
        let clock = Arc::new(ManualClock::default());
        let rl = RateLimiter::new(RateLimiterConfig::default(), clock);
        for k in 0..100 {
            assert_eq!(rl.when(&k), 5 * MS, "burst of 100: backoff dominates");
        }
        assert_eq!(rl.when(&100), 100 * MS, "10 qps: the 101st waits 100 ms");
        assert_eq!(
            rl.when(&0),
            200 * MS,
            "bucket (200 ms) beats backoff (10 ms)"
        );
    }

    #[test]
    fn bucket_delay_is_clamped_to_max_delay() {
        let clock = Arc::new(ManualClock::default());
        let config = RateLimiterConfig {
            qps: 1.0,
            burst: 0,
            max_delay: Duration::from_secs(2),
            backoff_enabled: false,
            ..RateLimiterConfig::default()
        };
        let rl = RateLimiter::new(config.clone(), clock.clone());
        let got: Vec<u64> = (0..4).map(|k| rl.when(&k).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 2, 2]);
        let no_refill = RateLimiter::new(
            RateLimiterConfig {
                qps: 0.0,
                burst: 1,
                ..config
            },
            clock,
        );
        assert_eq!(no_refill.when(&0), Duration::ZERO);
        assert_eq!(no_refill.when(&1), Duration::from_secs(2));
    }

    #[test]
    fn disabled_limiter_never_delays_but_counts_requeues() {
        let clock = Arc::new(ManualClock::default());
        let rl = RateLimiter::new(RateLimiterConfig::disabled(), clock);
        for _ in 0..1000 {
            assert_eq!(rl.when(&"k"), Duration::ZERO);
        }
        assert_eq!(rl.num_requeues(&"k"), 1000);
    }
}
