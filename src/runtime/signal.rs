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
//! The code is written once over [`Prims`]: parking_lot and std atomics in production,
//! shuttle's controlled primitives in the model-checking test below.

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

/// The synchronization primitives `Signal` runs on.
pub(crate) trait Prims: Send + Sync + 'static {
    type U64: Send + Sync;
    type Usize: Send + Sync;
    type Lock: Send + Sync;
    type Guard<'a>;
    type Cv: Send + Sync;
    fn new_u64() -> Self::U64;
    fn new_usize() -> Self::Usize;
    fn new_lock() -> Self::Lock;
    fn new_cv() -> Self::Cv;
    fn load(a: &Self::U64) -> u64;
    fn bump(a: &Self::U64);
    fn sleepers(a: &Self::Usize) -> usize;
    fn add_sleeper(a: &Self::Usize, delta: isize);
    fn lock(l: &Self::Lock) -> Self::Guard<'_>;
    fn wait<'a>(cv: &Self::Cv, g: Self::Guard<'a>, timeout: Option<Duration>) -> Self::Guard<'a>;
    fn notify(cv: &Self::Cv, all: bool);
}

/// parking_lot and std atomics.
pub(crate) struct Real;

impl Prims for Real {
    type U64 = std::sync::atomic::AtomicU64;
    type Usize = std::sync::atomic::AtomicUsize;
    type Lock = parking_lot::Mutex<()>;
    type Guard<'a> = parking_lot::MutexGuard<'a, ()>;
    type Cv = parking_lot::Condvar;
    fn new_u64() -> Self::U64 {
        Default::default()
    }
    fn new_usize() -> Self::Usize {
        Default::default()
    }
    fn new_lock() -> Self::Lock {
        Default::default()
    }
    fn new_cv() -> Self::Cv {
        Default::default()
    }
    fn load(a: &Self::U64) -> u64 {
        a.load(SeqCst)
    }
    fn bump(a: &Self::U64) {
        a.fetch_add(1, SeqCst);
    }
    fn sleepers(a: &Self::Usize) -> usize {
        a.load(SeqCst)
    }
    fn add_sleeper(a: &Self::Usize, delta: isize) {
        if delta > 0 {
            a.fetch_add(1, SeqCst);
        } else {
            a.fetch_sub(1, SeqCst);
        }
    }
    fn lock(l: &Self::Lock) -> Self::Guard<'_> {
        l.lock()
    }
    fn wait<'a>(
        cv: &Self::Cv,
        mut g: Self::Guard<'a>,
        timeout: Option<Duration>,
    ) -> Self::Guard<'a> {
        match timeout {
            Some(t) => {
                cv.wait_for(&mut g, t);
            }
            None => cv.wait(&mut g),
        }
        g
    }
    fn notify(cv: &Self::Cv, all: bool) {
        if all {
            cv.notify_all();
        } else {
            cv.notify_one();
        }
    }
}

/// A wake-up signal; see the module invariant.
pub(crate) struct Signal<P: Prims = Real> {
    epoch: P::U64,
    sleepers: P::Usize,
    lock: P::Lock,
    cv: P::Cv,
}

impl<P: Prims> Default for Signal<P> {
    fn default() -> Self {
        Signal {
            epoch: P::new_u64(),
            sleepers: P::new_usize(),
            lock: P::new_lock(),
            cv: P::new_cv(),
        }
    }
}

impl<P: Prims> Signal<P> {
    /// The current epoch: read it before looking for work, pass it to [`Signal::wait`].
    pub(crate) fn epoch(&self) -> u64 {
        P::load(&self.epoch)
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
        P::bump(&self.epoch);
        if P::sleepers(&self.sleepers) > 0 {
            let _g = P::lock(&self.lock);
            P::notify(&self.cv, all);
        }
    }

    /// Sleeps unless the epoch moved past `seen`; at most `timeout` when given.
    pub(crate) fn wait(&self, seen: u64, timeout: Option<Duration>) {
        let g = P::lock(&self.lock);
        P::add_sleeper(&self.sleepers, 1);
        let g = if P::load(&self.epoch) == seen {
            P::wait(&self.cv, g, timeout)
        } else {
            g
        };
        P::add_sleeper(&self.sleepers, -1);
        drop(g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// The same `Signal` code on shuttle's primitives.
    struct Model;

    impl Prims for Model {
        type U64 = shuttle::sync::atomic::AtomicU64;
        type Usize = shuttle::sync::atomic::AtomicUsize;
        type Lock = shuttle::sync::Mutex<()>;
        type Guard<'a> = shuttle::sync::MutexGuard<'a, ()>;
        type Cv = shuttle::sync::Condvar;
        fn new_u64() -> Self::U64 {
            shuttle::sync::atomic::AtomicU64::new(0)
        }
        fn new_usize() -> Self::Usize {
            shuttle::sync::atomic::AtomicUsize::new(0)
        }
        fn new_lock() -> Self::Lock {
            shuttle::sync::Mutex::new(())
        }
        fn new_cv() -> Self::Cv {
            shuttle::sync::Condvar::new()
        }
        fn load(a: &Self::U64) -> u64 {
            a.load(SeqCst)
        }
        fn bump(a: &Self::U64) {
            a.fetch_add(1, SeqCst);
        }
        fn sleepers(a: &Self::Usize) -> usize {
            a.load(SeqCst)
        }
        fn add_sleeper(a: &Self::Usize, delta: isize) {
            if delta > 0 {
                a.fetch_add(1, SeqCst);
            } else {
                a.fetch_sub(1, SeqCst);
            }
        }
        fn lock(l: &Self::Lock) -> Self::Guard<'_> {
            l.lock().unwrap()
        }
        fn wait<'a>(
            cv: &Self::Cv,
            g: Self::Guard<'a>,
            _timeout: Option<Duration>,
        ) -> Self::Guard<'a> {
            cv.wait(g).unwrap()
        }
        fn notify(cv: &Self::Cv, all: bool) {
            if all {
                cv.notify_all();
            } else {
                cv.notify_one();
            }
        }
    }

    /// Two workers take `items` units of work published one at a time by a producer, sleeping
    /// on the signal when they find none. A lost wakeup leaves a worker asleep with work
    /// pending, which shuttle reports as a deadlock; the test also checks every item is taken.
    fn scenario() {
        let items = 3usize;
        let signal = Arc::new(Signal::<Model>::default());
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
