//! One family of synchronization primitives for the runtime's two subtle protocols, the work
//! queue ([`queue`](super::queue)) and the workers' wake-up signal (`signal`).
//!
//! Both are written once, generic over [`SyncFamily`]: [`ParkingLot`] (parking_lot locks and
//! std atomics) in production, [`Shuttle`] (shuttle's controlled primitives, tests only) in the
//! model-checking tests, whose scheduler explores their interleavings. The code that is
//! model-checked is the code that runs.
//!
//! Every atomic operation of the family is `SeqCst`: the signal's no-lost-wakeup argument
//! rests on one total order of its four accesses (see `signal`).

use std::ops::DerefMut;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

/// Mutexes, condition variables and the two atomic counters the protocols use.
pub(crate) trait SyncFamily: Send + Sync + 'static {
    /// A mutex holding a `T`.
    type Mutex<T: Send>: Send + Sync;
    /// The guard of a locked [`SyncFamily::Mutex`].
    type Guard<'a, T: Send + 'a>: DerefMut<Target = T>;
    /// A condition variable.
    type Condvar: Send + Sync;
    /// A `u64` counter.
    type AtomicU64: Send + Sync;
    /// A `usize` counter.
    type AtomicUsize: Send + Sync;

    /// A mutex holding `value`.
    fn mutex<T: Send>(value: T) -> Self::Mutex<T>;
    /// Locks `mutex` (a poisoned lock is taken as it is).
    fn lock<T: Send>(mutex: &Self::Mutex<T>) -> Self::Guard<'_, T>;
    /// A condition variable.
    fn condvar() -> Self::Condvar;
    /// Waits on `cv`, releasing `guard` meanwhile.
    fn wait<'a, T: Send>(cv: &Self::Condvar, guard: Self::Guard<'a, T>) -> Self::Guard<'a, T>;
    /// Waits on `cv` for at most `timeout` (shuttle never times out: a wait that only a
    /// notification ends, which is the stricter check).
    fn wait_for<'a, T: Send>(
        cv: &Self::Condvar,
        guard: Self::Guard<'a, T>,
        timeout: Duration,
    ) -> Self::Guard<'a, T>;
    /// Wakes one waiter of `cv`.
    fn notify_one(cv: &Self::Condvar);
    /// Wakes every waiter of `cv`.
    fn notify_all(cv: &Self::Condvar);

    /// A `u64` counter at zero.
    fn u64_zero() -> Self::AtomicU64;
    /// Reads `a`.
    fn u64_load(a: &Self::AtomicU64) -> u64;
    /// Adds one to `a`.
    fn u64_increment(a: &Self::AtomicU64);
    /// A `usize` counter at zero.
    fn usize_zero() -> Self::AtomicUsize;
    /// Reads `a`.
    fn usize_load(a: &Self::AtomicUsize) -> usize;
    /// Adds one to `a`.
    fn usize_increment(a: &Self::AtomicUsize);
    /// Takes one from `a`.
    fn usize_decrement(a: &Self::AtomicUsize);
    /// Sets `a` to `v`.
    fn usize_store(a: &Self::AtomicUsize, v: usize);
}

/// parking_lot's locks and std's atomics: the family the engine runs on.
pub(crate) struct ParkingLot;

impl SyncFamily for ParkingLot {
    type Mutex<T: Send> = parking_lot::Mutex<T>;
    type Guard<'a, T: Send + 'a> = parking_lot::MutexGuard<'a, T>;
    type Condvar = parking_lot::Condvar;
    type AtomicU64 = std::sync::atomic::AtomicU64;
    type AtomicUsize = std::sync::atomic::AtomicUsize;

    fn mutex<T: Send>(value: T) -> Self::Mutex<T> {
        parking_lot::Mutex::new(value)
    }
    fn lock<T: Send>(mutex: &Self::Mutex<T>) -> Self::Guard<'_, T> {
        mutex.lock()
    }
    fn condvar() -> Self::Condvar {
        parking_lot::Condvar::new()
    }
    fn wait<'a, T: Send>(cv: &Self::Condvar, mut guard: Self::Guard<'a, T>) -> Self::Guard<'a, T> {
        cv.wait(&mut guard);
        guard
    }
    fn wait_for<'a, T: Send>(
        cv: &Self::Condvar,
        mut guard: Self::Guard<'a, T>,
        timeout: Duration,
    ) -> Self::Guard<'a, T> {
        cv.wait_for(&mut guard, timeout);
        guard
    }
    fn notify_one(cv: &Self::Condvar) {
        cv.notify_one();
    }
    fn notify_all(cv: &Self::Condvar) {
        cv.notify_all();
    }
    fn u64_zero() -> Self::AtomicU64 {
        Default::default()
    }
    fn u64_load(a: &Self::AtomicU64) -> u64 {
        a.load(SeqCst)
    }
    fn u64_increment(a: &Self::AtomicU64) {
        a.fetch_add(1, SeqCst);
    }
    fn usize_zero() -> Self::AtomicUsize {
        Default::default()
    }
    fn usize_load(a: &Self::AtomicUsize) -> usize {
        a.load(SeqCst)
    }
    fn usize_increment(a: &Self::AtomicUsize) {
        a.fetch_add(1, SeqCst);
    }
    fn usize_decrement(a: &Self::AtomicUsize) {
        a.fetch_sub(1, SeqCst);
    }
    fn usize_store(a: &Self::AtomicUsize, v: usize) {
        a.store(v, SeqCst);
    }
}

/// shuttle's controlled primitives, whose scheduler explores interleavings (tests only).
#[cfg(test)]
pub(crate) struct Shuttle;

#[cfg(test)]
impl SyncFamily for Shuttle {
    type Mutex<T: Send> = shuttle::sync::Mutex<T>;
    type Guard<'a, T: Send + 'a> = shuttle::sync::MutexGuard<'a, T>;
    type Condvar = shuttle::sync::Condvar;
    type AtomicU64 = shuttle::sync::atomic::AtomicU64;
    type AtomicUsize = shuttle::sync::atomic::AtomicUsize;

    fn mutex<T: Send>(value: T) -> Self::Mutex<T> {
        shuttle::sync::Mutex::new(value)
    }
    fn lock<T: Send>(mutex: &Self::Mutex<T>) -> Self::Guard<'_, T> {
        mutex
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    fn condvar() -> Self::Condvar {
        shuttle::sync::Condvar::new()
    }
    fn wait<'a, T: Send>(cv: &Self::Condvar, guard: Self::Guard<'a, T>) -> Self::Guard<'a, T> {
        cv.wait(guard)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    fn wait_for<'a, T: Send>(
        cv: &Self::Condvar,
        guard: Self::Guard<'a, T>,
        timeout: Duration,
    ) -> Self::Guard<'a, T> {
        cv.wait_timeout(guard, timeout)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
    }
    fn notify_one(cv: &Self::Condvar) {
        cv.notify_one();
    }
    fn notify_all(cv: &Self::Condvar) {
        cv.notify_all();
    }
    fn u64_zero() -> Self::AtomicU64 {
        shuttle::sync::atomic::AtomicU64::new(0)
    }
    fn u64_load(a: &Self::AtomicU64) -> u64 {
        a.load(SeqCst)
    }
    fn u64_increment(a: &Self::AtomicU64) {
        a.fetch_add(1, SeqCst);
    }
    fn usize_zero() -> Self::AtomicUsize {
        shuttle::sync::atomic::AtomicUsize::new(0)
    }
    fn usize_load(a: &Self::AtomicUsize) -> usize {
        a.load(SeqCst)
    }
    fn usize_increment(a: &Self::AtomicUsize) {
        a.fetch_add(1, SeqCst);
    }
    fn usize_decrement(a: &Self::AtomicUsize) {
        a.fetch_sub(1, SeqCst);
    }
    fn usize_store(a: &Self::AtomicUsize, v: usize) {
        a.store(v, SeqCst);
    }
}
