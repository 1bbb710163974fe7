//! `Signal`: how idle workers and the timer sleep and are woken.
//!
//! Invariant (no lost wakeup): `notify` bumps `epoch`, then reads `sleepers`; a waiter counts
//! itself in `sleepers` under the mutex, then re-reads `epoch` before sleeping. All four
//! accesses are SeqCst, so in their single total order either the waiter sees the new epoch
//! (and does not sleep), or the notifier sees the sleeper and signals under the mutex, which
//! the waiter holds until the condvar has it waiting. Work published after a waiter read the
//! epoch it compares against is never missed; and while nobody sleeps, notifying costs two
//! atomic operations and no system call.
//!
//! The code is written once over the runtime's [`SyncFamily`]: parking_lot and std atomics in
//! production, shuttle's controlled primitives in the model-checking test below.

use super::sync::{ParkingLot, SyncFamily};
use std::time::Duration;

/// A wake-up signal; see the module invariant.
pub(crate) struct Signal<S: SyncFamily = ParkingLot> {
    epoch: S::AtomicU64,
    sleepers: S::AtomicUsize,
    lock: S::Mutex<()>,
    cv: S::Condvar,
}

impl<S: SyncFamily> Default for Signal<S> {
    fn default() -> Self {
        Signal {
            epoch: S::u64_zero(),
            sleepers: S::usize_zero(),
            lock: S::mutex(()),
            cv: S::condvar(),
        }
    }
}

impl<S: SyncFamily> Signal<S> {
    /// The current epoch: read it before looking for work, pass it to [`Signal::wait`].
    pub(crate) fn epoch(&self) -> u64 {
        S::u64_load(&self.epoch)
    }

    /// Publishes "there may be work" to one sleeper.
    pub(crate) fn notify_one(&self) {
        self.notify(false)
    }

    /// Publishes "there may be work" to every sleeper.
    pub(crate) fn notify_all(&self) {
        self.notify(true)
    }

    fn notify(&self, all: bool) {
        S::u64_increment(&self.epoch);
        if S::usize_load(&self.sleepers) > 0 {
            let _g = S::lock(&self.lock);
            if all {
                S::notify_all(&self.cv);
            } else {
                S::notify_one(&self.cv);
            }
        }
    }

    /// Sleeps unless the epoch moved past `seen`; at most `timeout` when given.
    pub(crate) fn wait(&self, seen: u64, timeout: Option<Duration>) {
        let g = S::lock(&self.lock);
        S::usize_increment(&self.sleepers);
        let g = if S::u64_load(&self.epoch) != seen {
            g
        } else if let Some(timeout) = timeout {
            S::wait_for(&self.cv, g, timeout)
        } else {
            S::wait(&self.cv, g)
        };
        S::usize_decrement(&self.sleepers);
        drop(g);
    }
}

#[cfg(test)]
mod tests {
    use super::super::sync::Shuttle;
    use super::*;
    use std::sync::atomic::Ordering::SeqCst;
    use std::sync::Arc;

    /// Two workers take `items` units of work published one at a time by a producer, sleeping
    /// on the signal when they find none. A lost wakeup leaves a worker asleep with work
    /// pending, which shuttle reports as a deadlock; the test also checks every item is taken.
    fn scenario() {
        let items = 3usize;
        let signal = Arc::new(Signal::<Shuttle>::default());
        let work = Arc::new(shuttle::sync::atomic::AtomicUsize::new(0));
        let taken = Arc::new(shuttle::sync::atomic::AtomicUsize::new(0));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (signal, work, taken) = (signal.clone(), work.clone(), taken.clone());
                shuttle::thread::spawn(move || loop {
                    let seen = signal.epoch();
                    if taken.load(SeqCst) == items {
                        return;
                    }
                    let avail = work.load(SeqCst);
                    if avail > 0
                        && work
                            .compare_exchange(avail, avail - 1, SeqCst, SeqCst)
                            .is_ok()
                    {
                        if taken.fetch_add(1, SeqCst) + 1 == items {
                            signal.notify_all(); // let the other worker see we are done
                        }
                        continue;
                    }
                    signal.wait(seen, None);
                })
            })
            .collect();
        for _ in 0..items {
            work.fetch_add(1, SeqCst);
            signal.notify_one();
        }
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(taken.load(SeqCst), items);
    }

    #[test]
    fn model_check_no_lost_wakeup_random_schedules() {
        shuttle::check_random(scenario, 3000);
    }

    #[test]
    fn model_check_no_lost_wakeup_pct_schedules() {
        shuttle::check_pct(scenario, 3000, 3);
    }
}
