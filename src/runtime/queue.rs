//! The controller work queue: deduplicating, delaying and rate limiting, with client-go's
//! `util/workqueue` semantics.
//!
//! A [`WorkQueue`] holds *keys* (for a controller: the name of an object to reconcile), never
//! events. Its guarantees, the ones every reconciler relies on:
//!
//! * **Dedup.** A key queued many times before a worker takes it is handed out once.
//! * **Exclusivity.** A key is never handed to two workers at once. A key added while it is
//!   being processed is marked *dirty* and handed out again after [`WorkQueue::done`]: an update
//!   that arrives during a reconcile is never lost, and never reconciled concurrently.
//! * **Delays.** [`WorkQueue::add_after`] parks a key until a deadline on the queue's
//!   [`Clock`](crate::clock::Clock) (`monotonic()`); when one key is parked several times the
//!   earliest deadline wins. The queue spawns no thread: the runtime's single timer thread calls
//!   [`WorkQueue::promote_due`] when [`WorkQueue::next_deadline`] has passed, and is told by
//!   [`WorkQueue::set_deadline_notify`] when a new, earlier deadline appears.
//! * **Rate limiting.** [`WorkQueue::add_rate_limited`] parks a key for the delay of its
//!   [`RateLimiter`]: per-key exponential backoff combined (max) with an overall token bucket.
//!   [`WorkQueue::forget`] resets a key's backoff after a successful reconcile.
//! * **Pacing** (opt-in, [`WorkQueue::set_pacing`]). A key whose processing took at least the
//!   pacing threshold is not handed out again until as long again has passed: added meanwhile,
//!   it is parked until then. A key with a reconcile over thousands of objects, woken by each
//!   of their changes, then takes at most about half of one worker instead of all of it, and
//!   the work it would repeat accumulates into its next pass. A fast key is never held.
//! * **Shutdown drains.** After [`WorkQueue::shut_down`] adds are ignored, parked keys are
//!   dropped, and the keys already ready are still handed out until the queue is empty.
//!
//! Workers take keys with [`WorkQueue::try_get`] (non-blocking, for a shared thread pool woken
//! through [`WorkQueue::set_notify`]) or [`WorkQueue::get_blocking`], and must call
//! [`WorkQueue::done`] for every key they were handed.
//!
//! Nothing here reads the system clock: delays, token refills and metric ages all come from the
//! queue's clock, so tests drive everything with a [`ManualClock`](crate::clock::ManualClock).

pub use super::rate_limiter::{RateLimiter, RateLimiterConfig};

use super::sync::{ParkingLot, SyncFamily};
use crate::clock::SharedClock;
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// A callback the queue runs outside its lock: see [`WorkQueue::set_notify`] and
/// [`WorkQueue::set_deadline_notify`].
pub type QueueCallback = Arc<dyn Fn() + Send + Sync>;

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/// A snapshot of a queue's metrics, named as controller-runtime's `workqueue_*` metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueMetrics {
    /// `workqueue_depth`: keys ready to be handed out.
    pub depth: usize,
    /// `workqueue_adds_total`: adds that queued a key (deduplicated adds are not counted, as in
    /// client-go).
    pub adds_total: u64,
    /// `workqueue_retries_total`: accepted [`WorkQueue::add_rate_limited`] calls.
    pub retries_total: u64,
    /// Age of the oldest ready key (the current queue latency).
    pub longest_waiting: Duration,
    /// Keys handed out and not yet done.
    pub processing: usize,
    /// `workqueue_unfinished_work_seconds`: sum of how long the keys in processing have been
    /// processing.
    pub unfinished_work: Duration,
    /// `workqueue_longest_running_processor_seconds`: how long the oldest key in processing
    /// has been processing.
    pub longest_running: Duration,
    /// Keys parked by [`WorkQueue::add_after`] or [`WorkQueue::add_rate_limited`].
    pub waiting: usize,
    /// Keys handed out so far.
    pub gets_total: u64,
    /// Sum over handed-out keys of the time each spent ready (`workqueue_queue_duration_seconds`
    /// sum; divide by `gets_total` for the mean).
    pub queue_latency_total: Duration,
    /// Keys whose processing finished ([`WorkQueue::done`]).
    pub done_total: u64,
    /// Sum of processing times of finished keys (`workqueue_work_duration_seconds` sum).
    pub work_duration_total: Duration,
}

// ---------------------------------------------------------------------------------------------
// Queue state (all under one lock)
// ---------------------------------------------------------------------------------------------

/// What an add (or a re-queue in `done`) did with a key.
enum Added {
    /// It became ready: wake a worker.
    Ready,
    /// Pacing parked it; `earliest`: its deadline is now the queue's earliest (tell the timer).
    Parked { earliest: bool },
    /// Nothing to signal (duplicate, processing, or shut down).
    Nothing,
}

struct State<K, H = RandomState> {
    /// Keys ready to be handed out, FIFO by the time they became ready, with that time.
    ready: VecDeque<(K, Duration)>,
    /// Keys that need processing: ready ones, and processing ones added again meanwhile.
    dirty: HashSet<K, H>,
    /// Keys handed out and not yet done, with the time they were handed out.
    processing: HashMap<K, Duration, H>,
    /// Parked keys by (deadline, insertion sequence): due order, FIFO among equal deadlines.
    waiting: BTreeMap<(Duration, u64), K>,
    /// Each parked key's slot in `waiting`: one slot per key.
    waiting_index: HashMap<K, (Duration, u64), H>,
    next_seq: u64,
    /// Pacing: keys whose last processing took at least `pace_from`, with the time before
    /// which they are parked instead of readied. Expired entries are pruned lazily.
    held: HashMap<K, Duration, H>,
    /// Size of `held` at which expired entries are pruned next (amortized O(1) per insert).
    held_prune_at: usize,
    /// Pacing threshold; `None`: no pacing.
    pace_from: Option<Duration>,
    shutting_down: bool,
    adds_total: u64,
    retries_total: u64,
    gets_total: u64,
    queue_latency_total: Duration,
    done_total: u64,
    work_duration_total: Duration,
    notify: Option<QueueCallback>,
    deadline_notify: Option<QueueCallback>,
}

impl<K: Clone + Eq + Hash, H: BuildHasher + Default> State<K, H> {
    fn new() -> Self {
        State {
            ready: VecDeque::new(),
            dirty: HashSet::default(),
            processing: HashMap::default(),
            waiting: BTreeMap::new(),
            waiting_index: HashMap::default(),
            next_seq: 0,
            held: HashMap::default(),
            held_prune_at: 64,
            pace_from: None,
            shutting_down: false,
            adds_total: 0,
            retries_total: 0,
            gets_total: 0,
            queue_latency_total: Duration::ZERO,
            done_total: 0,
            work_duration_total: Duration::ZERO,
            notify: None,
            deadline_notify: None,
        }
    }

    // The core invariants, kept by `add`, `pop` and `done` together:
    //   (I1) a key in `ready` is in `dirty` and not in `processing`;
    //   (I2) a key is in `ready` at most once;
    //   (I3) a key in `dirty` and not in `processing` is in `ready`.
    // So a key is handed out at most once at a time (pop moves it to `processing`, and nothing
    // puts a processing key in `ready`), and a key added while processing stays `dirty` until
    // `done` re-queues it.

    /// Queues `key`: whether it became ready (the caller then wakes a worker) or was parked
    /// by pacing.
    fn add(&mut self, key: K, now: Duration) -> Added {
        // Adds after shutdown are ignored.
        if self.shutting_down {
            return Added::Nothing;
        }
        // Dedup: a dirty key is already in `ready` (I3) or will be re-queued by `done`.
        if self.dirty.contains(&key) {
            return Added::Nothing;
        }
        self.adds_total += 1;
        if self.processing.contains_key(&key) {
            // Exclusivity: a processing key only becomes dirty; `done` re-queues it (keeps I1).
            self.dirty.insert(key);
            return Added::Nothing;
        }
        // Pacing: a held key waits, neither dirty nor ready (I1-I3 untouched); when due, the
        // timer's `promote` adds it again, past its hold.
        if let Some(&until) = self.held.get(&key) {
            if until > now {
                return Added::Parked {
                    earliest: self.park(key, until),
                };
            }
            self.held.remove(&key);
        }
        self.dirty.insert(key.clone());
        // Not dirty before, so not in `ready` (I1): pushing keeps I2 and establishes I3.
        self.push_ready(key, now);
        Added::Ready
    }

    /// Hands out the oldest ready key, marking it processing.
    fn pop(&mut self, now: Duration) -> Option<K> {
        self.pop_timed(now).map(|(key, _)| key)
    }

    /// [`State::pop`], also returning how long the key waited ready.
    fn pop_timed(&mut self, now: Duration) -> Option<(K, Duration)> {
        let (key, since) = self.ready.pop_front()?;
        // It leaves `ready` and `dirty` together (I3), and enters `processing`: a later add
        // only marks it dirty until `done`.
        self.dirty.remove(&key);
        let waited = now.saturating_sub(since);
        self.gets_total += 1;
        self.queue_latency_total += waited;
        self.processing.insert(key.clone(), now);
        Some((key, waited))
    }

    /// Ends the processing of `key`: re-queued (ready, or parked by pacing) when it was added
    /// meanwhile.
    fn done(&mut self, key: &K, now: Duration) -> Added {
        // `done` for a key not handed out is a no-op (client-go would queue a duplicate).
        let Some(started) = self.processing.remove(key) else {
            return Added::Nothing;
        };
        self.done_total += 1;
        let took = now.saturating_sub(started);
        self.work_duration_total += took;
        // After shutdown nothing is parked: a dirty key is re-queued as before (drain).
        let hold = self
            .pace_from
            .filter(|from| took >= *from && !self.shutting_down)
            .and_then(|_| now.checked_add(took));
        if let Some(until) = hold {
            if self.held.len() >= self.held_prune_at {
                self.held.retain(|_, t| *t > now);
                self.held_prune_at = (self.held.len() * 2).max(64);
            }
            self.held.insert(key.clone(), until);
        }
        if !self.dirty.contains(key) {
            return Added::Nothing;
        }
        // No lost update: dirty and no longer processing, so it must be queued again.
        if let Some(until) = hold {
            // Paced: parked, and no longer dirty (I3 holds: it is neither ready nor
            // processing); `promote` adds it when due.
            self.dirty.remove(key);
            return Added::Parked {
                earliest: self.park(key.clone(), until),
            };
        }
        // It was not in `ready` while processing (I1), so this keeps I2 and I3.
        self.push_ready(key.clone(), now);
        Added::Ready
    }

    /// Appends `key` to `ready`, ready since `now` or since the last key's time if that is
    /// later: callers read the clock before the lock, so a reading may be older than one
    /// already queued. `ready` stays ordered by time (its front is the longest waiting).
    fn push_ready(&mut self, key: K, now: Duration) {
        let since = self.ready.back().map_or(now, |(_, last)| now.max(*last));
        self.ready.push_back((key, since));
    }

    /// Parks `key` until `deadline`; true when this is now the earliest deadline of the queue.
    fn park(&mut self, key: K, deadline: Duration) -> bool {
        if self.shutting_down {
            return false;
        }
        // Earliest deadline wins: one slot per parked key, moved only to an earlier deadline.
        if let Some(&(current, seq)) = self.waiting_index.get(&key) {
            if current <= deadline {
                return false;
            }
            self.waiting.remove(&(current, seq));
        }
        let slot = (deadline, self.next_seq);
        self.next_seq += 1;
        self.waiting.insert(slot, key.clone());
        self.waiting_index.insert(key, slot);
        self.waiting.keys().next() == Some(&slot)
    }

    /// Adds every key parked until `due_by` or earlier, in deadline order.
    /// Returns (keys taken off the waiting list, keys that became ready).
    fn promote(&mut self, due_by: Duration, now: Duration) -> (usize, usize) {
        let (mut moved, mut readied) = (0, 0);
        while let Some(entry) = self.waiting.first_entry() {
            if entry.key().0 > due_by {
                break;
            }
            let key = entry.remove();
            self.waiting_index.remove(&key);
            moved += 1;
            // Due keys go through `add`: deduplicated (and paced) like any other add. A key
            // parked again here is due later than `due_by`, so this loop ends.
            if let Added::Ready = self.add(key, now) {
                readied += 1;
            }
        }
        (moved, readied)
    }

    fn shut_down(&mut self) {
        self.shutting_down = true;
        // Parked keys would be refused when due: drop them now so the queue can become idle.
        self.waiting.clear();
        self.held.clear();
        self.waiting_index.clear();
    }

    fn is_idle(&self) -> bool {
        // `dirty` is covered: a dirty key is ready or processing (I3).
        self.ready.is_empty() && self.processing.is_empty() && self.waiting.is_empty()
    }

    fn longest_waiting(&self, now: Duration) -> Duration {
        // `ready` is ordered by time (`push_ready`): the front is the oldest.
        self.ready
            .front()
            .map_or(Duration::ZERO, |(_, since)| now.saturating_sub(*since))
    }

    fn unfinished_work(&self, now: Duration) -> Duration {
        self.processing
            .values()
            .map(|started| now.saturating_sub(*started))
            .sum()
    }

    fn longest_running(&self, now: Duration) -> Duration {
        self.processing
            .values()
            .map(|started| now.saturating_sub(*started))
            .max()
            .unwrap_or(Duration::ZERO)
    }

    fn metrics(&self, now: Duration) -> QueueMetrics {
        QueueMetrics {
            depth: self.ready.len(),
            adds_total: self.adds_total,
            retries_total: self.retries_total,
            longest_waiting: self.longest_waiting(now),
            processing: self.processing.len(),
            unfinished_work: self.unfinished_work(now),
            longest_running: self.longest_running(now),
            waiting: self.waiting.len(),
            gets_total: self.gets_total,
            queue_latency_total: self.queue_latency_total,
            done_total: self.done_total,
            work_duration_total: self.work_duration_total,
        }
    }

    #[cfg(test)]
    fn check_invariants(&self) {
        let mut seen = HashSet::new();
        for (key, _) in &self.ready {
            assert!(seen.insert(key.clone()), "I2: a key is ready twice");
            assert!(self.dirty.contains(key), "I1: a ready key is not dirty");
            assert!(
                !self.processing.contains_key(key),
                "I1: a ready key is processing"
            );
        }
        for key in &self.dirty {
            assert!(
                self.processing.contains_key(key) || seen.contains(key),
                "I3: a dirty key is neither ready nor processing"
            );
        }
        assert_eq!(self.waiting.len(), self.waiting_index.len());
        for (slot, key) in &self.waiting {
            assert_eq!(self.waiting_index.get(key), Some(slot));
        }
        let mut last = Duration::ZERO;
        for (_, since) in &self.ready {
            assert!(*since >= last, "ready is not FIFO by readiness");
            last = *since;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The queue, generic over the lock family
// ---------------------------------------------------------------------------------------------

/// The wakeup an add or a re-queue owes, taken under the lock and sent after it is released.
enum Wakeup {
    /// A key became ready: wake one worker (and run the notify callback).
    Ready(Option<QueueCallback>),
    /// A key was parked with the earliest deadline: run the deadline callback.
    Deadline(Option<QueueCallback>),
    None,
}

impl Wakeup {
    fn of<K, H>(s: &State<K, H>, added: Added) -> Wakeup {
        match added {
            Added::Ready => Wakeup::Ready(s.notify.clone()),
            Added::Parked { earliest: true } => Wakeup::Deadline(s.deadline_notify.clone()),
            Added::Parked { earliest: false } | Added::Nothing => Wakeup::None,
        }
    }

    fn send<K, S, H>(self, inner: &Inner<K, S, H>)
    where
        K: Clone + Eq + Hash + Send + Sync + 'static,
        S: SyncFamily,
        H: BuildHasher + Default + Send + Sync + 'static,
    {
        match self {
            Wakeup::Ready(notify) => inner.wake(1, notify),
            Wakeup::Deadline(Some(notify)) => notify(),
            Wakeup::Deadline(None) | Wakeup::None => {}
        }
    }
}

struct Inner<K, S: SyncFamily, H = RandomState>
where
    K: Send,
    H: Send,
{
    state: S::Mutex<State<K, H>>,
    /// `state.ready.len()` as of the last change, readable without the lock (a hint for the
    /// pool's workers, which look at every controller's queue for work).
    ///
    /// Invariant (no lost wakeup): it is stored under the lock by every method that changes
    /// `ready`, before the lock is released, so before the wake-up that follows a key becoming
    /// ready. A worker that reads its wake-up epoch, then reads 0 here, either read it before
    /// the store (and the wake-up after it moves the epoch, so its wait returns at once) or
    /// after a later store of a true 0.
    ready_len: S::AtomicUsize,
    /// Signalled once per key that becomes ready, and on shutdown / manual clock advance.
    ready_cond: S::Condvar,
    clock: SharedClock,
    limiter: RateLimiter<K>,
}

impl<K, S, H> Inner<K, S, H>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    S: SyncFamily,
    H: BuildHasher + Default + Send + Sync + 'static,
{
    fn new(clock: SharedClock, limiter: RateLimiter<K>) -> Self {
        Inner {
            state: S::mutex(State::new()),
            ready_len: S::usize_zero(),
            ready_cond: S::condvar(),
            clock,
            limiter,
        }
    }

    fn lock(&self) -> S::Guard<'_, State<K, H>> {
        S::lock(&self.state)
    }

    /// Publishes `s.ready.len()` to [`Inner::ready_len`]; call it holding the lock, after
    /// changing `ready` (see the invariant there).
    fn publish_len(&self, s: &State<K, H>) {
        S::usize_store(&self.ready_len, s.ready.len());
    }

    /// [`WorkQueue::ready_hint`]: the count [`Inner::publish_len`] last published.
    fn ready_hint(&self) -> usize {
        S::usize_load(&self.ready_len)
    }

    /// Wakes `n` workers: blocked `get_blocking` callers through the condvar, pool workers
    /// through the notify callback. Called after the lock is released; the keys are already in
    /// `ready`, so a worker woken now finds them (no lost wakeup).
    fn wake(&self, n: usize, notify: Option<QueueCallback>) {
        if n == 0 {
            return;
        }
        if n == 1 {
            S::notify_one(&self.ready_cond);
        } else {
            S::notify_all(&self.ready_cond);
        }
        if let Some(notify) = notify {
            for _ in 0..n {
                notify();
            }
        }
    }

    fn set_pacing(&self, from: Option<Duration>) {
        let mut s = self.lock();
        s.pace_from = from;
        if from.is_none() {
            s.held.clear();
        }
    }

    fn add(&self, key: K) {
        self.add_signal(key).send(self);
    }

    /// Queues `key` and returns the wake-up it calls for, to be sent after the lock.
    ///
    /// The clock is read before the lock, here and in `take` and `done_at`: the lock is held
    /// only for the state change, which is what the informer and the workers contend on. A
    /// reading taken just before the lock may be older than another thread's under it:
    /// `ready` keeps its order (`push_ready`), a wait or a run of a key is `saturating_sub`,
    /// and a hold compared with an older reading parks the key until a deadline the timer
    /// then finds due, so nothing is lost, only measured a hair long or short.
    fn add_signal(&self, key: K) -> Wakeup {
        let now = self.clock.monotonic();
        let mut s = self.lock();
        let added = s.add(key, now);
        self.publish_len(&s);
        Wakeup::of(&s, added)
    }

    /// Parks `key` until `since + delay`, where `since` is a reading of the queue clock (now, or
    /// an earlier instant the caller decided at). A deadline not in the future is an [`add`].
    ///
    /// [`add`]: Inner::add
    fn add_after_inner(&self, key: K, since: Option<Duration>, delay: Duration, retry: bool) {
        let now = self.clock.monotonic();
        let deadline = since
            .unwrap_or(now)
            .checked_add(delay)
            .unwrap_or(Duration::MAX);
        if deadline <= now {
            if retry {
                let mut s = self.lock();
                if !s.shutting_down {
                    s.retries_total += 1;
                }
            }
            return self.add(key);
        }
        let parked = {
            let mut s = self.lock();
            if s.shutting_down {
                return;
            }
            if retry {
                s.retries_total += 1;
            }
            let earliest = s.park(key, deadline);
            Wakeup::of(&s, Added::Parked { earliest })
        };
        parked.send(self);
    }

    fn add_rate_limited(&self, key: K, since: Option<Duration>) {
        if self.is_shut_down() {
            return;
        }
        let delay = self.limiter.when(&key);
        self.add_after_inner(key, since, delay, true);
    }

    fn try_get(&self) -> Option<(K, Duration)> {
        self.take().map(|(key, waited, _)| (key, waited))
    }

    /// Hands out the oldest ready key: `(key, how long it waited ready, the clock reading it
    /// was handed out at)`.
    fn take(&self) -> Option<(K, Duration, Duration)> {
        // An empty queue answers without reading the clock: the pool's workers ask every
        // controller's queue in turn, most of them empty. A queue that looks non-empty has
        // the clock read before the lock (see `add_signal`).
        let early = (self.ready_hint() > 0).then(|| self.clock.monotonic());
        let mut s = self.lock();
        if s.ready.is_empty() {
            return None;
        }
        let now = early.unwrap_or_else(|| self.clock.monotonic());
        let got = s.pop_timed(now);
        self.publish_len(&s);
        got.map(|(key, waited)| (key, waited, now))
    }

    fn get_blocking(&self, timeout: Duration) -> Option<K> {
        let manual = self.clock.is_manual();
        let deadline = self.clock.monotonic().checked_add(timeout);
        let mut s = self.lock();
        loop {
            // The state is checked and the wait begins under one lock hold, and every change
            // that makes a key ready signals after changing the state: no lost wakeup.
            let now = self.clock.monotonic();
            if let Some(key) = s.pop(now) {
                self.publish_len(&s);
                return Some(key);
            }
            if s.shutting_down {
                return None;
            }
            let remaining = match deadline {
                Some(d) if now >= d => return None,
                Some(d) => Some(d - now),
                None => None,
            };
            s = match remaining {
                // A manual clock moves only by hand: `advance` wakes us (see `WorkQueue::new`).
                Some(_) if manual => S::wait(&self.ready_cond, s),
                Some(r) => S::wait_for(&self.ready_cond, s, r),
                None => S::wait(&self.ready_cond, s),
            };
        }
    }

    fn done(&self, key: &K) {
        self.done_at(key, self.clock.monotonic())
    }

    /// [`Inner::done`] with `now`, a reading of the queue clock taken after the processing
    /// ended (and before the lock, see `add_signal`).
    fn done_at(&self, key: &K, now: Duration) {
        let requeued = {
            let mut s = self.lock();
            let requeued = s.done(key, now);
            self.publish_len(&s);
            Wakeup::of(&s, requeued)
        };
        requeued.send(self);
    }

    fn promote_due(&self, now: Duration) -> usize {
        let (moved, readied, notify) = {
            let mut s = self.lock();
            let stamp = self.clock.monotonic();
            let (moved, readied) = s.promote(now, stamp);
            self.publish_len(&s);
            (moved, readied, s.notify.clone())
        };
        self.wake(readied, notify);
        moved
    }

    fn shut_down(&self) {
        let notify = {
            let mut s = self.lock();
            s.shut_down();
            s.notify.clone()
        };
        S::notify_all(&self.ready_cond);
        if let Some(notify) = notify {
            notify();
        }
    }

    fn is_shut_down(&self) -> bool {
        self.lock().shutting_down
    }

    /// Wakes every `get_blocking` caller so it re-reads the clock. Taking the lock orders this
    /// after any caller's check-then-wait, so the wakeup cannot fall between the two.
    fn wake_waiters(&self) {
        let _s = self.lock();
        S::notify_all(&self.ready_cond);
    }

    fn with_state<R>(&self, f: impl FnOnce(&State<K, H>) -> R) -> R {
        f(&self.lock())
    }

    /// [`Inner::with_state`] with a clock reading taken under the lock.
    fn with_state_at<R>(&self, f: impl FnOnce(&State<K, H>, Duration) -> R) -> R {
        let s = self.lock();
        let now = self.clock.monotonic();
        f(&s, now)
    }
}

// ---------------------------------------------------------------------------------------------
// Public queue
// ---------------------------------------------------------------------------------------------

/// A deduplicating, delaying, rate-limiting work queue of keys (client-go's rate-limiting
/// work queue). See the [module documentation](self) for its guarantees.
///
/// Share it between producers and workers with an [`Arc`]; every method takes `&self`.
///
/// `H` builds the hasher of the queue's key sets, as for a `HashMap` (SipHash with a random
/// seed by default, [`WorkQueue::with_hasher`] for another).
pub struct WorkQueue<K, H = RandomState>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    H: BuildHasher + Default + Send + Sync + 'static,
{
    inner: Arc<Inner<K, ParkingLot, H>>,
}

impl<K, H> fmt::Debug for WorkQueue<K, H>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    H: BuildHasher + Default + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkQueue")
            .field("shut_down", &self.is_shut_down())
            .field("metrics", &self.metrics())
            .finish()
    }
}

impl<K> WorkQueue<K>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    /// A queue on `clock` whose [`WorkQueue::add_rate_limited`] uses a limiter with `config`
    /// (`RateLimiterConfig::default()` for client-go's defaults).
    pub fn new(config: RateLimiterConfig, clock: SharedClock) -> Self {
        Self::with_hasher(config, clock)
    }
}

impl<K, H> WorkQueue<K, H>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    H: BuildHasher + Default + Send + Sync + 'static,
{
    /// [`WorkQueue::new`] with the key sets hashed by `H`: for keys that carry a hash of
    /// their own, a hasher that passes it through saves hashing the key again in every set
    /// it passes through (a few times per key handed out).
    pub fn with_hasher(config: RateLimiterConfig, clock: SharedClock) -> Self {
        let limiter = RateLimiter::new(config, clock.clone());
        let inner = Arc::new(Inner::new(clock.clone(), limiter));
        if clock.is_manual() {
            // `get_blocking` with a timeout on a manual clock waits for the clock to move.
            let weak: Weak<Inner<K, ParkingLot, H>> = Arc::downgrade(&inner);
            clock.on_advance(Arc::new(move || {
                if let Some(inner) = weak.upgrade() {
                    inner.wake_waiters();
                }
            }));
        }
        WorkQueue { inner }
    }

    /// Queues `key` for processing.
    ///
    /// A key already ready is not queued twice; a key being processed is handed out again after
    /// its [`WorkQueue::done`]. Ignored after [`WorkQueue::shut_down`].
    pub fn add(&self, key: K) {
        self.inner.add(key)
    }

    /// [`WorkQueue::add`] without running the notify callback: returns whether the key became
    /// ready, and the caller then owes the pool the wake-up the callback would have given (a
    /// burst of adds wakes the pool once). Blocked [`WorkQueue::get_blocking`] callers are
    /// still woken.
    pub(crate) fn add_quiet(&self, key: K) -> bool {
        match self.inner.add_signal(key) {
            Wakeup::Ready(_) => {
                self.inner.wake(1, None);
                true
            }
            other => {
                other.send(&self.inner);
                false
            }
        }
    }

    /// Queues `key` once `delay` has passed on the queue's clock (`monotonic() + delay`).
    ///
    /// A key parked twice keeps the earlier deadline. Parking does not affect the key's ready or
    /// processing state: a key added now and parked for later is processed now and again later.
    /// A zero delay is [`WorkQueue::add`]. Ignored after [`WorkQueue::shut_down`]. Parked keys
    /// become ready only through [`WorkQueue::promote_due`].
    pub fn add_after(&self, key: K, delay: Duration) {
        self.inner.add_after_inner(key, None, delay, false)
    }

    /// Queues `key` once `delay` has passed since `since`, a reading of the queue clock's
    /// `monotonic()` taken earlier; like [`WorkQueue::add_after`] otherwise, and an
    /// [`WorkQueue::add`] when that time has already come.
    ///
    /// Use it when the delay was decided at `since`: the controller runtime passes the instant
    /// a reconcile began, so the time the reconcile took (or a clock moved meanwhile) never
    /// pushes its requeue later than the reconcile asked for. Early is harmless, as a
    /// reconcile reads the clock again; late can miss a deadline for good.
    pub fn add_after_since(&self, key: K, since: Duration, delay: Duration) {
        self.inner.add_after_inner(key, Some(since), delay, false)
    }

    /// Queues `key` after the delay its rate limiter gives ([`RateLimiter::when`]): one more
    /// failure for `key`, one token of the bucket. Counts in `retries_total`.
    pub fn add_rate_limited(&self, key: K) {
        self.inner.add_rate_limited(key, None)
    }

    /// [`WorkQueue::add_rate_limited`] with the delay measured from `since` (see
    /// [`WorkQueue::add_after_since`]).
    pub fn add_rate_limited_since(&self, key: K, since: Duration) {
        self.inner.add_rate_limited(key, Some(since))
    }

    /// Resets `key`'s backoff (its failure count): call it when the key's reconcile succeeded.
    pub fn forget(&self, key: &K) {
        self.inner.limiter.forget(key)
    }

    /// How many rate-limited adds `key` had since it was last forgotten.
    pub fn num_requeues(&self, key: &K) -> u32 {
        self.inner.limiter.num_requeues(key)
    }

    /// The queue's rate limiter.
    pub fn rate_limiter(&self) -> &RateLimiter<K> {
        &self.inner.limiter
    }

    /// Hands out the ready key that became ready first, if any, without blocking. The key is
    /// then processing: no other caller gets it until [`WorkQueue::done`] is called for it.
    ///
    /// After shutdown it keeps handing out the remaining ready keys (drain).
    pub fn try_get(&self) -> Option<K> {
        self.inner.try_get().map(|(key, _)| key)
    }

    /// [`WorkQueue::try_get`], also returning how long the key waited ready: one observation
    /// for a `workqueue_queue_duration_seconds` histogram.
    pub fn try_get_timed(&self) -> Option<(K, Duration)> {
        self.inner.try_get()
    }

    /// [`WorkQueue::try_get`] for the runtime's workers: also the queue clock's reading at
    /// which the key was handed out, so the worker need not read the clock again before it
    /// reconciles (and can pass the end of the run to [`WorkQueue::done_at`]).
    pub(crate) fn take(&self) -> Option<(K, Duration)> {
        self.inner.take().map(|(key, _, at)| (key, at))
    }

    /// Like [`WorkQueue::try_get`], but waits up to `timeout` (on the queue's clock) for a key.
    /// Returns `None` on timeout, or at once when the queue is shut down and has no ready key.
    ///
    /// On a manual clock the wait ends only when the clock is advanced past the timeout, a key
    /// becomes ready or the queue shuts down; `Duration::MAX` waits without a timeout.
    pub fn get_blocking(&self, timeout: Duration) -> Option<K> {
        self.inner.get_blocking(timeout)
    }

    /// Ends the processing of `key`, handed out by [`WorkQueue::try_get`] or
    /// [`WorkQueue::get_blocking`]. If `key` was added while it was processing, it is queued
    /// again now. A key not being processed is ignored.
    pub fn done(&self, key: &K) {
        self.inner.done(key)
    }

    /// [`WorkQueue::done`] with `now`, a reading of the queue's clock taken when the
    /// processing ended.
    pub(crate) fn done_at(&self, key: &K, now: Duration) {
        self.inner.done_at(key, now)
    }

    /// The earliest deadline (on the clock's `monotonic()` scale) of the parked keys, if any:
    /// the timer should call [`WorkQueue::promote_due`] then.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.inner
            .with_state(|s| s.waiting.keys().next().map(|(deadline, _)| *deadline))
    }

    /// Queues every parked key whose deadline is `now` or earlier, earliest first, with the
    /// dedup of [`WorkQueue::add`]. Returns how many keys left the waiting list.
    pub fn promote_due(&self, now: Duration) -> usize {
        self.inner.promote_due(now)
    }

    /// Sets the callback run (outside the queue's lock) once per key that becomes ready (by
    /// [`WorkQueue::add`], [`WorkQueue::promote_due`] or a re-queue in [`WorkQueue::done`]),
    /// and once on [`WorkQueue::shut_down`]. A thread pool uses it to wake a worker that then
    /// calls [`WorkQueue::try_get`]; the pool must count wakeups (a permit per call) rather than
    /// rely on a worker already sleeping, or a call that lands between a worker's empty
    /// `try_get` and its sleep is lost.
    pub fn set_notify(&self, notify: QueueCallback) {
        self.inner.lock().notify = Some(notify);
    }

    /// Sets the callback run (outside the queue's lock) when [`WorkQueue::add_after`] or
    /// [`WorkQueue::add_rate_limited`] parks a key with a deadline earlier than every other:
    /// the timer thread then re-reads [`WorkQueue::next_deadline`].
    pub fn set_deadline_notify(&self, notify: QueueCallback) {
        self.inner.lock().deadline_notify = Some(notify);
    }

    /// Paces slow keys: a key whose processing (from [`WorkQueue::try_get`] to
    /// [`WorkQueue::done`], on the queue's clock) took at least `from` is not handed out again
    /// until as long again has passed; added meanwhile, it is parked until then (and counts
    /// in `waiting`). `None` (the default) turns pacing off. See the module documentation.
    pub fn set_pacing(&self, from: Option<Duration>) {
        self.inner.set_pacing(from)
    }

    /// Shuts the queue down: later adds are ignored, parked keys are dropped, and the ready keys
    /// are still handed out (drain). Wakes every blocked [`WorkQueue::get_blocking`] caller.
    pub fn shut_down(&self) {
        self.inner.shut_down()
    }

    /// Whether [`WorkQueue::shut_down`] was called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.is_shut_down()
    }

    /// True when no key is ready, processing or parked.
    pub fn is_idle(&self) -> bool {
        self.inner.with_state(|s| s.is_idle())
    }

    /// `workqueue_depth`: how many keys are ready.
    pub fn depth(&self) -> usize {
        self.inner.with_state(|s| s.ready.len())
    }

    /// How many keys were ready at the queue's last change, read without its lock: a hint
    /// that may be stale by the time it is used. A reader that reads its wake-up epoch
    /// before it cannot miss a key: a 0 read before a key became ready is followed by that
    /// key's wake-up.
    pub(crate) fn ready_hint(&self) -> usize {
        self.inner.ready_hint()
    }

    /// How many keys are parked until a deadline.
    pub fn waiting_count(&self) -> usize {
        self.inner.with_state(|s| s.waiting.len())
    }

    /// `workqueue_adds_total`: adds that queued a key (deduplicated adds excluded).
    pub fn adds_total(&self) -> u64 {
        self.inner.with_state(|s| s.adds_total)
    }

    /// `workqueue_retries_total`: accepted rate-limited adds.
    pub fn retries_total(&self) -> u64 {
        self.inner.with_state(|s| s.retries_total)
    }

    /// Age of the oldest ready key (queue latency), zero when none is ready.
    pub fn longest_waiting(&self) -> Duration {
        self.inner.with_state_at(|s, now| s.longest_waiting(now))
    }

    /// How many keys are processing (handed out, not yet done).
    pub fn processing_count(&self) -> usize {
        self.inner.with_state(|s| s.processing.len())
    }

    /// `workqueue_unfinished_work_seconds`: the sum of how long the processing keys have been
    /// processing.
    pub fn unfinished_work(&self) -> Duration {
        self.inner.with_state_at(|s, now| s.unfinished_work(now))
    }

    /// `workqueue_longest_running_processor_seconds`: how long the oldest processing key has
    /// been processing.
    pub fn longest_running(&self) -> Duration {
        self.inner.with_state_at(|s, now| s.longest_running(now))
    }

    /// A consistent snapshot of every metric.
    pub fn metrics(&self) -> QueueMetrics {
        self.inner.with_state_at(|s, now| s.metrics(now))
    }

    #[cfg(test)]
    fn check_invariants(&self) {
        self.inner.with_state(|s| s.check_invariants())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    const MS: Duration = Duration::from_millis(1);

    fn manual() -> (Arc<ManualClock>, WorkQueue<&'static str>) {
        let clock = Arc::new(ManualClock::default());
        let q = WorkQueue::new(RateLimiterConfig::default(), clock.clone());
        (clock, q)
    }

    fn drain<K: Clone + Eq + Hash + Send + Sync + 'static>(q: &WorkQueue<K>) -> Vec<K> {
        std::iter::from_fn(|| q.try_get()).collect()
    }

    // ---- add / get / done --------------------------------------------------------------------

    #[test]
    fn key_added_many_times_before_processing_is_handed_out_once() {
        let (_, q) = manual();
        q.add("a");
        q.add("b");
        q.add("a");
        q.add("a");
        assert_eq!(q.depth(), 2);
        assert_eq!(q.adds_total(), 2, "deduplicated adds are not counted");
        assert_eq!(drain(&q), vec!["a", "b"]);
        q.check_invariants();
    }

    #[test]
    fn processing_key_is_not_handed_out_again_until_done() {
        let (_, q) = manual();
        q.add("a");
        assert_eq!(q.try_get(), Some("a"));
        q.add("a");
        assert_eq!(q.try_get(), None, "a is processing: it must wait for done");
        assert_eq!(q.depth(), 0);
        assert_eq!(q.processing_count(), 1);
        q.check_invariants();
    }

    #[test]
    fn key_added_while_processing_is_processed_again_after_done() {
        let (_, q) = manual();
        q.add("a");
        let a = q.try_get().unwrap();
        q.add("a");
        q.add("a");
        q.done(&a);
        assert_eq!(
            q.try_get(),
            Some("a"),
            "the add during processing is not lost"
        );
        q.done(&"a");
        assert_eq!(
            q.try_get(),
            None,
            "and it is processed once more, not twice"
        );
        assert!(q.is_idle());
    }

    #[test]
    fn done_without_a_new_add_does_not_requeue() {
        let (_, q) = manual();
        q.add("a");
        q.try_get().unwrap();
        q.done(&"a");
        assert_eq!(q.try_get(), None);
        assert!(q.is_idle());
    }

    #[test]
    fn done_for_a_key_not_handed_out_is_ignored() {
        let (_, q) = manual();
        q.add("a");
        q.done(&"a");
        q.done(&"zzz");
        assert_eq!(drain(&q), vec!["a"], "no duplicate was queued");
        q.check_invariants();
    }

    #[test]
    fn keys_are_handed_out_in_the_order_they_became_ready() {
        let (_, q) = manual();
        q.add("a");
        q.add("b");
        let a = q.try_get().unwrap();
        q.add("a"); // dirty while processing
        q.add("c");
        q.done(&a); // a becomes ready again now, after c
        assert_eq!(drain(&q), vec!["b", "c", "a"]);
    }

    // ---- delays ------------------------------------------------------------------------------

    #[test]
    fn add_after_becomes_ready_only_when_promoted_at_its_deadline() {
        let (clock, q) = manual();
        q.add_after("a", 10 * MS);
        assert_eq!(q.next_deadline(), Some(10 * MS));
        assert_eq!(q.waiting_count(), 1);
        assert_eq!(q.try_get(), None);
        clock.advance(9 * MS);
        assert_eq!(q.promote_due(clock.monotonic()), 0);
        assert_eq!(q.try_get(), None);
        clock.advance(MS);
        assert_eq!(q.promote_due(clock.monotonic()), 1);
        assert_eq!(q.next_deadline(), None);
        assert_eq!(q.try_get(), Some("a"));
    }

    #[test]
    fn earliest_deadline_wins_for_a_key_parked_twice() {
        let (clock, q) = manual();
        q.add_after("late-first", 50 * MS);
        q.add_after("late-first", 10 * MS);
        q.add_after("early-first", 10 * MS);
        q.add_after("early-first", 50 * MS);
        assert_eq!(q.waiting_count(), 2, "one slot per key");
        assert_eq!(q.next_deadline(), Some(10 * MS));
        clock.advance(10 * MS);
        assert_eq!(q.promote_due(clock.monotonic()), 2);
        assert_eq!(drain(&q), vec!["late-first", "early-first"]);
        assert!(
            q.next_deadline().is_none(),
            "the later deadlines were dropped"
        );
    }

    #[test]
    fn due_keys_are_promoted_in_deadline_order_and_deduplicated() {
        let (clock, q) = manual();
        q.add_after("c", 30 * MS);
        q.add_after("a", 10 * MS);
        q.add_after("b", 20 * MS);
        q.add("b");
        clock.advance(Duration::from_secs(1));
        assert_eq!(q.promote_due(clock.monotonic()), 3);
        assert_eq!(
            drain(&q),
            vec!["b", "a", "c"],
            "b was already ready: not queued twice"
        );
    }

    #[test]
    fn add_after_zero_is_add() {
        let (_, q) = manual();
        q.add_after("a", Duration::ZERO);
        assert_eq!(q.waiting_count(), 0);
        assert_eq!(q.try_get(), Some("a"));
    }

    #[test]
    fn add_after_a_huge_delay_saturates_instead_of_overflowing() {
        let (_, q) = manual();
        q.add_after("a", Duration::MAX);
        assert_eq!(q.next_deadline(), Some(Duration::MAX));
    }

    #[test]
    fn deadline_notify_fires_only_for_a_new_earliest_deadline() {
        let (_, q) = manual();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        q.set_deadline_notify(Arc::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
        }));
        q.add_after("a", 20 * MS);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        q.add_after("b", 30 * MS);
        q.add_after("a", 25 * MS);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "no earlier deadline");
        q.add_after("b", 5 * MS);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn add_rate_limited_parks_the_key_for_its_backoff() {
        let clock = Arc::new(ManualClock::default());
        let q = WorkQueue::new(
            RateLimiterConfig::backoff_only(5 * MS, Duration::from_secs(1)),
            clock.clone(),
        );
        q.add_rate_limited("a");
        assert_eq!(q.next_deadline(), Some(5 * MS));
        assert_eq!(q.num_requeues(&"a"), 1);
        clock.advance(5 * MS);
        q.promote_due(clock.monotonic());
        let a = q.try_get().unwrap();
        q.add_rate_limited(a);
        q.done(&a);
        assert_eq!(q.next_deadline(), Some(15 * MS), "second failure: 10 ms");
        assert_eq!(q.retries_total(), 2);
        q.forget(&"a");
        assert_eq!(q.num_requeues(&"a"), 0);
    }

    #[test]
    fn deadlines_since_an_earlier_instant_count_from_that_instant() {
        let clock = Arc::new(ManualClock::default());
        let q = WorkQueue::new(
            RateLimiterConfig::backoff_only(5 * MS, Duration::from_secs(1)),
            clock.clone(),
        );
        let began = clock.monotonic();
        clock.advance(4 * MS);
        q.add_after_since("requeue", began, 10 * MS);
        assert_eq!(
            q.next_deadline(),
            Some(10 * MS),
            "10 ms after `began`, not after now"
        );
        q.add_rate_limited_since("retry", began);
        assert_eq!(
            q.next_deadline(),
            Some(5 * MS),
            "the 5 ms backoff, from `began`"
        );
        assert_eq!(q.retries_total(), 1);
        // A deadline already past is an add: the key is ready now, nothing is parked for it.
        clock.advance(6 * MS);
        q.add_after_since("late", began, 10 * MS);
        assert_eq!(q.try_get(), Some("late"));
        q.promote_due(clock.monotonic());
        let mut due = vec![q.try_get().unwrap(), q.try_get().unwrap()];
        due.sort();
        assert_eq!(due, ["requeue", "retry"]);
        assert_eq!(q.next_deadline(), None);
    }

    #[test]
    fn rate_limited_add_with_zero_delay_is_ready_at_once() {
        let clock = Arc::new(ManualClock::default());
        let q = WorkQueue::new(RateLimiterConfig::disabled(), clock);
        q.add_rate_limited(7);
        assert_eq!(q.try_get(), Some(7));
        assert_eq!(q.retries_total(), 1);
    }

    // ---- shutdown ----------------------------------------------------------------------------

    #[test]
    fn shutdown_drains_ready_keys_and_ignores_new_adds() {
        let (clock, q) = manual();
        q.add("a");
        q.add("b");
        let a = q.try_get().unwrap();
        q.add("a"); // accepted before shutdown: re-queued by done
        q.add_after("later", 5 * MS);
        q.shut_down();
        assert!(q.is_shut_down());
        assert_eq!(q.waiting_count(), 0, "parked keys are dropped");
        q.add("c");
        q.add_after("d", 5 * MS);
        q.add_rate_limited("e");
        assert_eq!(q.num_requeues(&"e"), 0);
        assert_eq!(q.retries_total(), 0);
        clock.advance(Duration::from_secs(1));
        assert_eq!(q.promote_due(clock.monotonic()), 0);
        assert_eq!(q.try_get(), Some("b"));
        q.done(&"b");
        q.done(&a);
        assert_eq!(q.try_get(), Some("a"));
        q.done(&"a");
        assert_eq!(q.try_get(), None);
        assert_eq!(
            q.get_blocking(Duration::MAX),
            None,
            "no blocking once shut down"
        );
        assert!(q.is_idle());
    }

    #[test]
    fn is_idle_only_when_nothing_is_ready_processing_or_parked() {
        let (clock, q) = manual();
        assert!(q.is_idle());
        q.add_after("a", MS);
        assert!(!q.is_idle());
        clock.advance(MS);
        q.promote_due(clock.monotonic());
        assert!(!q.is_idle());
        let a = q.try_get().unwrap();
        assert!(!q.is_idle());
        q.done(&a);
        assert!(q.is_idle());
    }

    // ---- wakeups -----------------------------------------------------------------------------

    #[test]
    fn notify_runs_outside_the_lock_once_per_key_that_becomes_ready() {
        let (clock, q) = manual();
        let q = Arc::new(q);
        let calls = Arc::new(AtomicUsize::new(0));
        let (c, weak) = (calls.clone(), Arc::downgrade(&q));
        q.set_notify(Arc::new(move || {
            // Re-entering the queue would deadlock if the lock were held.
            let depth = weak.upgrade().map_or(0, |q| q.depth());
            assert!(depth > 0 || weak.upgrade().is_some_and(|q| q.is_shut_down()));
            c.fetch_add(1, Ordering::SeqCst);
        }));
        q.add("a");
        q.add("a"); // dedup: no wakeup
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        q.add_after("b", MS);
        q.add_after("c", MS);
        clock.advance(MS);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "parked keys wait for promote_due"
        );
        q.promote_due(clock.monotonic());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let a = q.try_get().unwrap();
        q.add("a");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "processing: marked dirty only"
        );
        q.done(&a);
        assert_eq!(calls.load(Ordering::SeqCst), 4, "re-queued by done");
        q.shut_down();
        assert_eq!(calls.load(Ordering::SeqCst), 5, "shutdown wakes too");
    }

    #[test]
    fn get_blocking_wakes_when_a_key_is_added() {
        let (_, q) = manual();
        let q = Arc::new(q);
        let worker = {
            let q = q.clone();
            std::thread::spawn(move || q.get_blocking(Duration::MAX))
        };
        q.add("a");
        assert_eq!(worker.join().unwrap(), Some("a"));
    }

    #[test]
    fn get_blocking_wakes_on_shutdown() {
        let (_, q) = manual();
        let q = Arc::new(q);
        let worker = {
            let q = q.clone();
            std::thread::spawn(move || q.get_blocking(Duration::MAX))
        };
        q.shut_down();
        assert_eq!(worker.join().unwrap(), None);
    }

    #[test]
    fn get_blocking_times_out_on_the_queue_clock() {
        let (clock, q) = manual();
        assert_eq!(q.get_blocking(Duration::ZERO), None);
        let q = Arc::new(q);
        let worker = {
            let q = q.clone();
            std::thread::spawn(move || q.get_blocking(10 * MS))
        };
        // Time moves only by hand: keep moving it until the worker's timeout has passed.
        while !worker.is_finished() {
            clock.advance(10 * MS);
            std::thread::yield_now();
        }
        assert_eq!(worker.join().unwrap(), None);
    }

    // ---- metrics -----------------------------------------------------------------------------

    #[test]
    fn metrics_report_latency_and_work_in_progress_on_the_clock() {
        let (clock, q) = manual();
        q.add("a");
        clock.advance(10 * MS);
        q.add("b");
        clock.advance(5 * MS);
        assert_eq!(q.longest_waiting(), 15 * MS);
        let (a, waited) = q.try_get_timed().unwrap();
        assert_eq!(waited, 15 * MS);
        assert_eq!(q.longest_waiting(), 5 * MS, "b is now the oldest ready key");
        clock.advance(5 * MS);
        let b = q.try_get().unwrap();
        clock.advance(20 * MS);
        assert_eq!(q.longest_running(), 25 * MS);
        assert_eq!(q.unfinished_work(), 45 * MS);
        q.done(&a);
        q.done(&b);
        q.add_rate_limited("c");
        let m = q.metrics();
        assert_eq!(
            m,
            QueueMetrics {
                depth: 0,
                adds_total: 2,
                retries_total: 1,
                longest_waiting: Duration::ZERO,
                processing: 0,
                unfinished_work: Duration::ZERO,
                longest_running: Duration::ZERO,
                waiting: 1,
                gets_total: 2,
                queue_latency_total: 25 * MS,
                done_total: 2,
                work_duration_total: 45 * MS,
            }
        );
    }

    // ---- pacing ------------------------------------------------------------------------------

    #[test]
    fn a_slow_key_added_while_processing_waits_as_long_as_its_processing_took() {
        let (clock, q) = manual();
        q.set_pacing(Some(MS));
        q.add("big");
        assert_eq!(q.try_get(), Some("big"));
        clock.advance(10 * MS); // the reconcile takes 10 ms
        q.add("big");
        q.add("big");
        q.done(&"big");
        assert_eq!(q.try_get(), None, "held for 10 ms");
        assert_eq!(q.next_deadline(), Some(clock.monotonic() + 10 * MS));
        clock.advance(9 * MS);
        q.promote_due(clock.monotonic());
        assert_eq!(q.try_get(), None);
        clock.advance(MS);
        q.promote_due(clock.monotonic());
        assert_eq!(q.try_get(), Some("big"), "the adds are not lost");
        q.done(&"big");
        q.check_invariants();
        assert!(q.is_idle());
    }

    #[test]
    fn a_slow_key_is_held_after_done_and_a_fast_one_never() {
        let (clock, q) = manual();
        q.set_pacing(Some(2 * MS));
        q.add("slow");
        q.add("fast");
        assert_eq!(q.try_get(), Some("slow"));
        clock.advance(4 * MS);
        q.done(&"slow");
        assert_eq!(q.try_get(), Some("fast"));
        clock.advance(MS); // under the threshold
        q.done(&"fast");
        q.add("fast");
        q.add("slow");
        assert_eq!(q.try_get(), Some("fast"), "a fast key is never held");
        q.done(&"fast");
        assert_eq!(q.try_get(), None, "slow is held until 4 ms after its done");
        assert_eq!(q.metrics().waiting, 1);
        clock.advance(3 * MS);
        q.promote_due(clock.monotonic());
        assert_eq!(q.try_get(), Some("slow"));
        q.done(&"slow");
        q.check_invariants();
    }

    #[test]
    fn without_pacing_a_slow_key_is_handed_out_again_at_once() {
        let (clock, q) = manual();
        q.add("big");
        assert_eq!(q.try_get(), Some("big"));
        clock.advance(10 * MS);
        q.add("big");
        q.done(&"big");
        assert_eq!(q.try_get(), Some("big"));
    }

    // ---- property test against a sequential model --------------------------------------------

    mod model {
        use super::*;
        use proptest::prelude::*;
        use std::collections::{HashMap, HashSet, VecDeque};

        #[derive(Debug, Clone)]
        pub(super) enum Op {
            Add(u8),
            AddAfter(u8, u8),
            AddRateLimited(u8),
            Forget(u8),
            TryGet,
            Done(u8),
            Advance(u8),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (0..6u8).prop_map(Op::Add),
                2 => (0..6u8, 0..20u8).prop_map(|(k, d)| Op::AddAfter(k, d)),
                1 => (0..6u8).prop_map(Op::AddRateLimited),
                1 => (0..6u8).prop_map(Op::Forget),
                4 => Just(Op::TryGet),
                3 => (0..6u8).prop_map(Op::Done),
                2 => (0..15u8).prop_map(Op::Advance),
            ]
        }

        /// The specification, written as plainly as possible.
        #[derive(Default)]
        struct Model {
            now: Duration,
            ready: VecDeque<u8>,
            dirty: HashSet<u8>,
            processing: HashSet<u8>,
            waiting: Vec<(u8, Duration, u64)>,
            seq: u64,
            shut: bool,
            failures: HashMap<u8, u32>,
            adds: u64,
            retries: u64,
            /// Pacing threshold, and when each processing key started.
            pace: Option<Duration>,
            started: HashMap<u8, Duration>,
            held: HashMap<u8, Duration>,
        }

        impl Model {
            fn add(&mut self, k: u8) {
                if self.shut || self.dirty.contains(&k) {
                    return;
                }
                self.adds += 1;
                if !self.processing.contains(&k) {
                    if let Some(&until) = self.held.get(&k).filter(|u| **u > self.now) {
                        // Paced: parked until the hold ends, not dirty.
                        return self.park(k, until);
                    }
                    self.held.remove(&k);
                    self.ready.push_back(k);
                }
                self.dirty.insert(k);
            }
            fn park(&mut self, k: u8, deadline: Duration) {
                if let Some(i) = self.waiting.iter().position(|w| w.0 == k) {
                    if self.waiting[i].1 <= deadline {
                        return;
                    }
                    self.waiting.remove(i);
                }
                self.seq += 1;
                self.waiting.push((k, deadline, self.seq));
            }
            fn add_after(&mut self, k: u8, d: Duration) {
                if d.is_zero() {
                    return self.add(k);
                }
                if self.shut {
                    return;
                }
                self.park(k, self.now + d);
            }
            fn advance(&mut self, d: Duration) {
                self.now += d;
                let now = self.now;
                let mut due: Vec<_> = self
                    .waiting
                    .iter()
                    .filter(|w| w.1 <= now)
                    .copied()
                    .collect();
                self.waiting.retain(|w| w.1 > now);
                due.sort_by_key(|w| (w.1, w.2));
                for (k, _, _) in due {
                    self.add(k);
                }
            }
            fn add_rate_limited(&mut self, k: u8) {
                if self.shut {
                    return;
                }
                let n = self.failures.entry(k).or_insert(0);
                let delay = (MS * 2u32.saturating_pow(*n)).min(50 * MS);
                *n += 1;
                self.retries += 1;
                self.add_after(k, delay);
            }
            fn try_get(&mut self) -> Option<u8> {
                let k = self.ready.pop_front()?;
                self.dirty.remove(&k);
                self.processing.insert(k);
                self.started.insert(k, self.now);
                Some(k)
            }
            fn done(&mut self, k: u8) {
                if !self.processing.remove(&k) {
                    return;
                }
                let took = self.now - self.started.remove(&k).unwrap();
                let hold = self
                    .pace
                    .filter(|p| took >= *p && !self.shut)
                    .map(|_| self.now + took);
                if let Some(until) = hold {
                    self.held.insert(k, until);
                }
                if self.dirty.contains(&k) {
                    match hold {
                        Some(until) => {
                            self.dirty.remove(&k);
                            self.park(k, until);
                        }
                        None => self.ready.push_back(k),
                    }
                }
            }
            fn shut_down(&mut self) {
                self.shut = true;
                self.waiting.clear();
                self.held.clear();
            }
        }

        pub(super) fn run(ops: Vec<Op>, shutdown_at: Option<usize>, pace: Option<Duration>) {
            let clock = Arc::new(ManualClock::default());
            let q = WorkQueue::new(RateLimiterConfig::backoff_only(MS, 50 * MS), clock.clone());
            q.set_pacing(pace);
            let mut m = Model {
                pace,
                ..Model::default()
            };
            for (i, op) in ops.into_iter().enumerate() {
                if shutdown_at == Some(i) {
                    q.shut_down();
                    m.shut_down();
                }
                match op {
                    Op::Add(k) => {
                        q.add(k);
                        m.add(k);
                    }
                    Op::AddAfter(k, d) => {
                        q.add_after(k, u32::from(d) * MS);
                        m.add_after(k, u32::from(d) * MS);
                    }
                    Op::AddRateLimited(k) => {
                        q.add_rate_limited(k);
                        m.add_rate_limited(k);
                    }
                    Op::Forget(k) => {
                        q.forget(&k);
                        m.failures.remove(&k);
                    }
                    Op::TryGet => assert_eq!(q.try_get(), m.try_get()),
                    Op::Done(k) => {
                        q.done(&k);
                        m.done(k);
                    }
                    Op::Advance(d) => {
                        clock.advance(u32::from(d) * MS);
                        q.promote_due(clock.monotonic());
                        m.advance(u32::from(d) * MS);
                    }
                }
                q.check_invariants();
                let mt = q.metrics();
                assert_eq!(mt.depth, m.ready.len());
                assert_eq!(mt.processing, m.processing.len());
                assert_eq!(mt.waiting, m.waiting.len());
                assert_eq!(mt.adds_total, m.adds);
                assert_eq!(mt.retries_total, m.retries);
                assert_eq!(q.next_deadline(), m.waiting.iter().map(|w| w.1).min());
                let model_idle =
                    m.ready.is_empty() && m.processing.is_empty() && m.waiting.is_empty();
                assert_eq!(q.is_idle(), model_idle);
                assert_eq!(q.is_shut_down(), m.shut);
                for k in 0..6 {
                    assert_eq!(q.num_requeues(&k), m.failures.get(&k).copied().unwrap_or(0));
                }
            }
            // Drain: what is left comes out in the model's order.
            loop {
                let got = q.try_get();
                assert_eq!(got, m.try_get());
                match got {
                    Some(k) => {
                        q.done(&k);
                        m.done(k);
                    }
                    None if m.processing.is_empty() => break,
                    None => {
                        let k = *m.processing.iter().next().unwrap();
                        q.done(&k);
                        m.done(k);
                    }
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            #[test]
            fn queue_matches_the_sequential_model(
                ops in proptest::collection::vec(op(), 0..120),
                shutdown_at in proptest::option::weighted(0.3, 0..120usize),
                pace in proptest::option::weighted(0.5, 1..8u32),
            ) {
                run(ops, shutdown_at, pace.map(|p| p * MS));
            }
        }
    }

    // ---- many-thread stress ------------------------------------------------------------------

    #[test]
    fn many_threads_never_process_a_key_twice_at_once_nor_lose_an_update() {
        const KEYS: usize = 64;
        const ADDERS: u64 = 8;
        const WORKERS: usize = 4;
        const ADDS_PER_THREAD: usize = 4000;

        let clock = Arc::new(ManualClock::default());
        let q = Arc::new(WorkQueue::<usize>::new(RateLimiterConfig::default(), clock));
        // generation[k]: bumped before every add of k; seen[k]: the generation a processing of k
        // read when it started. No lost update <=> at the end seen[k] == generation[k].
        let generation: Arc<Vec<AtomicU64>> =
            Arc::new((0..KEYS).map(|_| AtomicU64::new(0)).collect());
        let seen: Arc<Vec<AtomicU64>> = Arc::new((0..KEYS).map(|_| AtomicU64::new(0)).collect());
        let in_flight = Arc::new(parking_lot::Mutex::new(HashSet::new()));
        let processed = Arc::new(AtomicUsize::new(0));

        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let (q, generation, seen, in_flight, processed) = (
                    q.clone(),
                    generation.clone(),
                    seen.clone(),
                    in_flight.clone(),
                    processed.clone(),
                );
                std::thread::spawn(move || {
                    while let Some(k) = q.get_blocking(Duration::MAX) {
                        assert!(in_flight.lock().insert(k), "key {k} handed to two workers");
                        seen[k].store(generation[k].load(Ordering::SeqCst), Ordering::SeqCst);
                        std::thread::yield_now();
                        processed.fetch_add(1, Ordering::Relaxed);
                        assert!(in_flight.lock().remove(&k));
                        q.done(&k);
                    }
                })
            })
            .collect();
        let adders: Vec<_> = (0..ADDERS)
            .map(|t| {
                let (q, generation) = (q.clone(), generation.clone());
                std::thread::spawn(move || {
                    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (t + 1);
                    for _ in 0..ADDS_PER_THREAD {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let k = (x % KEYS as u64) as usize;
                        generation[k].fetch_add(1, Ordering::SeqCst);
                        q.add(k);
                        if x % 16 == 0 {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        for a in adders {
            a.join().unwrap();
        }
        q.shut_down(); // workers drain what is left, then stop
        for w in workers {
            w.join().unwrap();
        }
        for k in 0..KEYS {
            assert_eq!(
                seen[k].load(Ordering::SeqCst),
                generation[k].load(Ordering::SeqCst),
                "key {k}: an add after its last processing start was lost"
            );
        }
        assert!(q.is_idle());
        let total = ADDERS as usize * ADDS_PER_THREAD;
        let processed = processed.load(Ordering::Relaxed);
        assert!(processed <= total);
        assert_eq!(q.metrics().gets_total as usize, processed);
        q.check_invariants();
    }

    // ---- model checking with shuttle ---------------------------------------------------------
    use super::super::sync::Shuttle;

    type ModelQueue = Inner<u8, Shuttle>;

    fn model_queue() -> Arc<ModelQueue> {
        let clock: SharedClock = Arc::new(ManualClock::default());
        let limiter = RateLimiter::new(RateLimiterConfig::disabled(), clock.clone());
        Arc::new(ModelQueue::new(clock, limiter))
    }

    /// Bookkeeping shared by the model's workers: the exclusivity and no-lost-update checks.
    #[derive(Default)]
    struct Ledger {
        generation: [u32; 2],
        seen: [u32; 2],
        in_flight: [bool; 2],
    }

    /// The ledger, and a condvar signalled after every `done`.
    #[derive(Default)]
    struct Book {
        ledger: shuttle::sync::Mutex<Ledger>,
        changed: shuttle::sync::Condvar,
    }

    fn process(q: &ModelQueue, book: &Book, k: u8) {
        let i = usize::from(k);
        {
            let mut l = book.ledger.lock().unwrap();
            assert!(!l.in_flight[i], "key {k} handed to two workers");
            l.in_flight[i] = true;
            l.seen[i] = l.generation[i];
        }
        shuttle::thread::yield_now();
        book.ledger.lock().unwrap().in_flight[i] = false;
        q.done(&k);
        let _l = book.ledger.lock().unwrap();
        book.changed.notify_all();
    }

    fn adder(q: &ModelQueue, book: &Book, keys: &[u8]) {
        for &k in keys {
            book.ledger.lock().unwrap().generation[usize::from(k)] += 1;
            q.add(k);
        }
    }

    /// Two adder threads add `keys` (one list each); once both ended and every add was
    /// processed, the queue is shut down.
    fn add_from_two_threads_then_shut_down(
        q: &Arc<ModelQueue>,
        book: &Arc<Book>,
        keys: [[u8; 3]; 2],
    ) {
        let adders: Vec<_> = keys
            .into_iter()
            .map(|keys| {
                let (q, book) = (q.clone(), book.clone());
                shuttle::thread::spawn(move || adder(&q, &book, &keys))
            })
            .collect();
        for a in adders {
            a.join().unwrap();
        }
        wait_until_all_processed(q, book);
        q.shut_down();
    }

    /// Blocks until every add was seen by a processing start and the queue is idle, without
    /// shutting the queue down: a lost wakeup or a lost update leaves this waiting forever,
    /// which shuttle reports as a deadlock.
    fn wait_until_all_processed(q: &ModelQueue, book: &Book) {
        let mut l = book.ledger.lock().unwrap();
        while !(l.seen == l.generation && q.lock().is_idle()) {
            l = book.changed.wait(l).unwrap();
        }
    }

    fn check_ledger(q: &ModelQueue, book: &Book) {
        let l = book.ledger.lock().unwrap();
        assert_eq!(
            l.seen, l.generation,
            "an add after a processing start was lost"
        );
        let s = q.lock();
        s.check_invariants();
        assert!(s.is_idle());
    }

    /// Two adders, two workers blocked in `get_blocking`: every interleaving ends (no lost
    /// wakeup: shuttle reports a deadlock otherwise), never runs a key twice at once, and
    /// processes every key after its last add.
    fn blocking_workers_scenario() {
        let q = model_queue();
        let book = Arc::new(Book::default());
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (q, book) = (q.clone(), book.clone());
                shuttle::thread::spawn(move || {
                    while let Some(k) = q.get_blocking(Duration::MAX) {
                        process(&q, &book, k);
                    }
                })
            })
            .collect();
        add_from_two_threads_then_shut_down(&q, &book, [[0, 1, 0], [1, 0, 1]]);
        for w in workers {
            w.join().unwrap();
        }
        check_ledger(&q, &book);
    }

    /// The runtime's way: a pool that counts `set_notify` wakeups as permits and workers that
    /// drain with `try_get`. The notify callback runs outside the queue lock after the key is
    /// ready, so a permit always finds its key (or a worker that took it).
    fn pool_workers_scenario() {
        let q = model_queue();
        let book = Arc::new(Book::default());
        // (permits, stop)
        let pool = Arc::new((
            shuttle::sync::Mutex::new((0usize, false)),
            shuttle::sync::Condvar::new(),
        ));
        {
            let pool = pool.clone();
            q.lock().notify = Some(Arc::new(move || {
                pool.0.lock().unwrap().0 += 1;
                pool.1.notify_one();
            }));
        }
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (q, book, pool) = (q.clone(), book.clone(), pool.clone());
                shuttle::thread::spawn(move || loop {
                    {
                        let mut p = pool.0.lock().unwrap();
                        while p.0 == 0 && !p.1 {
                            p = pool.1.wait(p).unwrap();
                        }
                        if p.0 == 0 {
                            return; // stopped, and no wakeup pending
                        }
                        p.0 -= 1;
                    }
                    while let Some((k, _)) = q.try_get() {
                        process(&q, &book, k);
                    }
                })
            })
            .collect();
        add_from_two_threads_then_shut_down(&q, &book, [[0, 1, 0], [1, 1, 0]]);
        pool.0.lock().unwrap().1 = true;
        pool.1.notify_all();
        for w in workers {
            w.join().unwrap();
        }
        check_ledger(&q, &book);
    }

    /// The pool as the controller manager runs it: a worker reads the work signal's epoch,
    /// passes the queue over without its lock when [`WorkQueue::ready_hint`] says nothing is
    /// ready, and otherwise takes a key; with nothing taken it sleeps on the epoch it read.
    /// The queue's notify callback wakes one sleeper, and a worker that finished a key wakes
    /// another while keys are ready (as `manager::process` does). A key readied after a
    /// worker read 0 must still wake it: a lost wakeup leaves a worker asleep with the key
    /// pending, which shuttle reports as a deadlock.
    fn hinted_pool_scenario() {
        use super::super::signal::Signal;
        use shuttle::sync::atomic::AtomicBool;
        use std::sync::atomic::Ordering::SeqCst;

        let q = model_queue();
        let book = Arc::new(Book::default());
        let signal = Arc::new(Signal::<Shuttle>::default());
        let stop = Arc::new(AtomicBool::new(false));
        {
            let signal = signal.clone();
            q.lock().notify = Some(Arc::new(move || signal.notify_one()));
        }
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (q, book, signal, stop) =
                    (q.clone(), book.clone(), signal.clone(), stop.clone());
                shuttle::thread::spawn(move || loop {
                    let seen = signal.epoch();
                    if stop.load(SeqCst) {
                        return;
                    }
                    if q.ready_hint() > 0 {
                        if let Some((k, _, _)) = q.take() {
                            process(&q, &book, k);
                            if q.ready_hint() > 0 {
                                signal.notify_one();
                            }
                            continue;
                        }
                    }
                    signal.wait(seen, None);
                })
            })
            .collect();
        add_from_two_threads_then_shut_down(&q, &book, [[0, 1, 0], [1, 1, 0]]);
        stop.store(true, SeqCst);
        signal.notify_all();
        for w in workers {
            w.join().unwrap();
        }
        check_ledger(&q, &book);
    }

    #[test]
    fn model_check_blocking_workers_random_schedules() {
        shuttle::check_random(blocking_workers_scenario, 3000);
    }

    #[test]
    fn model_check_blocking_workers_pct_schedules() {
        shuttle::check_pct(blocking_workers_scenario, 3000, 3);
    }

    #[test]
    fn model_check_notify_pool_random_schedules() {
        shuttle::check_random(pool_workers_scenario, 3000);
    }

    #[test]
    fn model_check_hinted_pool_random_schedules() {
        shuttle::check_random(hinted_pool_scenario, 3000);
    }

    #[test]
    fn model_check_hinted_pool_pct_schedules() {
        shuttle::check_pct(hinted_pool_scenario, 3000, 3);
    }

    #[test]
    fn model_check_notify_pool_pct_schedules() {
        shuttle::check_pct(pool_workers_scenario, 3000, 3);
    }
}
