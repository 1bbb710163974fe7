//! Time, as every layer of steady sees it (below every layer: any may use it).
//!
//! Nothing in steady reads the system clock directly: timestamps (creationTimestamp,
//! deletionTimestamp, condition transition times) and every delay (backoff, grace periods,
//! windows) come from a [`Clock`]. Tests install a [`ManualClock`] and move time forward by hand,
//! so no test ever sleeps to wait for a backoff or a window.

mod time;

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
pub use time::{Time, TimeParseError};

/// A source of wall-clock and monotonic time.
pub trait Clock: Send + Sync + 'static {
    /// Wall-clock time, used for the timestamps written into objects.
    fn now(&self) -> Time;
    /// Monotonic time since an arbitrary origin fixed for this clock, used for delays.
    fn monotonic(&self) -> Duration;
    /// True when time moves only by hand ([`ManualClock`]): waiting for a deadline then means
    /// waiting for [`Clock::on_advance`] callbacks rather than for real time to pass.
    fn is_manual(&self) -> bool {
        false
    }
    /// Registers `wake` to run after every manual jump of time. Timers waiting on a manual
    /// clock use it to re-check their deadlines; the system clock never calls it.
    fn on_advance(&self, wake: Arc<dyn Fn() + Send + Sync>) {
        let _ = wake;
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock: `SystemTime` for timestamps, `Instant` for delays.
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A system clock whose monotonic origin is now.
    pub fn new() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Time {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        Time::from_unix_micros(micros)
    }

    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that moves only when told to: for tests.
///
/// Wall time and monotonic time advance together by [`ManualClock::advance`].
pub struct ManualClock {
    state: Mutex<(Time, Duration)>,
    wakers: Mutex<Vec<Arc<dyn Fn() + Send + Sync>>>,
}

impl std::fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManualClock")
            .field("state", &*self.state.lock())
            .finish()
    }
}

impl ManualClock {
    /// A manual clock showing `start` as wall time and zero as monotonic time.
    pub fn new(start: Time) -> Self {
        ManualClock {
            state: Mutex::new((start, Duration::ZERO)),
            wakers: Mutex::new(Vec::new()),
        }
    }

    /// Moves both wall and monotonic time forward by `by`, then wakes every timer waiting on
    /// this clock (outside any lock, so a woken timer may read the clock at once).
    pub fn advance(&self, by: Duration) {
        {
            let mut s = self.state.lock();
            s.0 = Time::from_unix_micros(s.0.unix_micros() + by.as_micros() as i64);
            s.1 += by;
        }
        let wakers: Vec<_> = self.wakers.lock().clone();
        for w in wakers {
            w();
        }
    }
}

impl Default for ManualClock {
    /// Starts at 2024-01-01T00:00:00Z.
    fn default() -> Self {
        ManualClock::new(Time::from_unix_micros(1_704_067_200_000_000))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Time {
        self.state.lock().0
    }

    fn monotonic(&self) -> Duration {
        self.state.lock().1
    }

    fn is_manual(&self) -> bool {
        true
    }

    fn on_advance(&self, wake: Arc<dyn Fn() + Send + Sync>) {
        self.wakers.lock().push(wake);
    }
}
