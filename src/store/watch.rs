//! Watches: ordered, gap-free streams of one kind's changes.
//!
//! A watch is registered under its kind's lock (see [`kind`](super::kind)), after the
//! replayed history or the synthetic initial state has been copied out under the same lock;
//! so what it delivers is exactly every change after its starting point, in revision order.
//! Its channel is bounded: when the store finds it full, the watch is cut off and, once its
//! consumer has read everything already queued, reports [`Error::Expired`]. The consumer then
//! relists and watches again from the list's revision.

use super::kind::KindStore;
use super::*;
use crate::api::{Object, Selector};
use crate::error::{Error, Result};
use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeType {
    /// Created (or, for a filtered watch, started to match).
    Added,
    /// Changed.
    Modified,
    /// Deleted (or, for a filtered watch, stopped matching).
    Deleted,
}

/// One committed change, as recorded in history and sent to watchers.
#[derive(Clone, Debug)]
pub struct Change {
    /// Store revision of the change. Several events share one revision when a transaction
    /// changed several objects.
    pub revision: u64,
    /// Created, changed or deleted.
    pub kind: ChangeType,
    /// The object after the change (for a deletion: its last state).
    pub object: Arc<dyn Object>,
    /// The object before the change (`None` for a creation).
    pub prev: Option<Arc<dyn Object>>,
    /// The object's store key (`namespace/name`, or `name` for cluster-scoped kinds).
    pub key: Arc<str>,
}

/// An event as a watch delivers it.
#[derive(Clone, Debug)]
pub enum WatchEvent {
    /// The object was created, or started matching the watch's filter; also the synthetic
    /// events for the current state when a watch starts without a revision.
    Added(Arc<dyn Object>),
    /// The object changed.
    Modified(Arc<dyn Object>),
    /// The object was deleted, or stopped matching the watch's filter.
    Deleted(Arc<dyn Object>),
    /// Nothing this watch cares about changed up to this revision (only when asked for).
    Bookmark(u64),
}

impl WatchEvent {
    /// The object, except for bookmarks.
    pub fn object(&self) -> Option<&Arc<dyn Object>> {
        match self {
            WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => Some(o),
            WatchEvent::Bookmark(_) => None,
        }
    }

    /// The revision this event brings the watcher to.
    pub fn revision(&self) -> u64 {
        match self {
            WatchEvent::Bookmark(r) => *r,
            other => other
                .object()
                .and_then(|o| o.meta().revision())
                .unwrap_or(0),
        }
    }

    /// `ADDED`, `MODIFIED`, `DELETED` or `BOOKMARK`, as on the Kubernetes wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => "BOOKMARK",
        }
    }
}

/// A watch event as delivered to the controller runtime, with what it needs besides it.
pub(crate) struct Delivered {
    pub(crate) event: WatchEvent,
    pub(crate) prev: Option<Arc<dyn Object>>,
    pub(crate) key: Option<Arc<str>>,
}

/// State shared between a watch and the store's side of it.
#[derive(Debug, Default)]
pub(crate) struct WatchShared {
    /// Revision of the first event the watch could not take (0: none). Written by the
    /// publisher before it drops the sender; read by the watch after the channel reports
    /// disconnection, so the Release/Acquire pair makes the value visible.
    pub(crate) missed: AtomicU64,
    /// A thread to unpark when the watch gets an event or loses its sender ([`Watch::ring`]);
    /// set once, so the publisher reads it without a lock.
    pub(crate) bell: std::sync::OnceLock<std::thread::Thread>,
    /// Set when the store's side is gone (the channel disconnected), before the bell rings.
    pub(crate) closed: std::sync::atomic::AtomicBool,
}

impl WatchShared {
    /// Unparks the bell's thread, if one is set.
    ///
    /// Invariant (no lost wake-up): the publisher queues an event (or marks the watch
    /// closed) *before* it rings, and the bell's thread checks [`Watch::has_pending`] after
    /// it was rung or before it parks; `unpark` on a thread that is not parked makes its next
    /// `park` return at once, so an event queued between that check and the park is seen.
    pub(crate) fn ring(&self) {
        if let Some(t) = self.bell.get() {
            t.unpark();
        }
    }
}

/// A stream of one kind's changes. Dropping it unregisters it at once.
pub struct Watch {
    pub(crate) kind: Arc<KindStore>,
    pub(crate) id: u64,
    pub(crate) rx: Receiver<Arc<Change>>,
    /// Replayed or initial events (with their store keys), delivered before the channel.
    pub(crate) pending: VecDeque<(WatchEvent, Option<Arc<str>>)>,
    pub(crate) namespace: Option<String>,
    pub(crate) selector: Option<Selector>,
    pub(crate) shared: Arc<WatchShared>,
    pub(crate) revision_counter: Arc<AtomicU64>,
    /// Revision of the last change delivered (or the starting point).
    pub(crate) last: u64,
    pub(crate) bookmarks: bool,
    pub(crate) failed: Option<Error>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("kind", &self.kind.info.kind)
            .field("namespace", &self.namespace)
            .field("last", &self.last)
            .finish()
    }
}

/// Ends one [`Watch`] from another thread: the watch delivers what it already has queued, then
/// reports [`Error::Closed`]. For a thread blocked in [`Watch::recv`] that must stop while the
/// store stays open (a component shutting down on its own).
#[derive(Clone)]
pub struct WatchCloser {
    kind: Arc<KindStore>,
    id: u64,
}

impl std::fmt::Debug for WatchCloser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchCloser")
            .field("kind", &self.kind.info.kind)
            .field("id", &self.id)
            .finish()
    }
}

impl WatchCloser {
    /// Unregisters the watch. Its sender goes with its slot, so a blocked receiver wakes
    /// with the channel disconnected and, nothing having been missed, reports `Closed`.
    /// Idempotent.
    pub fn close(&self) {
        let id = self.id;
        self.kind.state.lock().watchers.retain(|w| w.id != id);
    }
}

/// How long [`Watch::next_change`] waits on the channel.
#[derive(Clone, Copy)]
enum Wait {
    Forever,
    Until(std::time::Instant),
    No,
}

impl Watch {
    /// The kind watched.
    pub fn kind(&self) -> &str {
        &self.kind.info.kind
    }

    /// A handle that ends this watch from another thread (see [`WatchCloser`]).
    pub fn closer(&self) -> WatchCloser {
        WatchCloser {
            kind: self.kind.clone(),
            id: self.id,
        }
    }

    /// The revision of the last change delivered (or the point the watch started from).
    pub fn revision(&self) -> u64 {
        self.last
    }

    /// Blocks until the next event. Errors: [`Error::Expired`] when the watch fell behind,
    /// [`Error::Closed`] when the store shut down.
    pub fn recv(&mut self) -> Result<WatchEvent> {
        self.recv_change().map(|c| c.event)
    }

    /// Waits at most `timeout` for the next event. `Ok(None)` on timeout, or a
    /// [`WatchEvent::Bookmark`] instead when the watch was opened with bookmarks.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<WatchEvent>> {
        let deadline = std::time::Instant::now() + timeout;
        match self.next_change(Wait::Until(deadline))? {
            Some(c) => Ok(Some(c.event)),
            None if self.bookmarks => Ok(self.bookmark()),
            None => Ok(None),
        }
    }

    /// Blocks for the next event, with the object's previous state and store key for changes
    /// delivered live (the previous state is `None` for synthetic initial events and replayed
    /// history). For the
    /// controller runtime, whose predicates compare old and new and whose keys reuse the
    /// store's.
    pub(crate) fn recv_change(&mut self) -> Result<Delivered> {
        self.next_change(Wait::Forever)
            .map(|c| c.expect("a wait without end ends with a change"))
    }

    /// [`Watch::recv_change`] without blocking: `Ok(None)` when nothing is queued.
    pub(crate) fn try_recv_change(&mut self) -> Result<Option<Delivered>> {
        self.next_change(Wait::No)
    }

    /// The next change: the pending ones (initial state, replayed history) first, then the
    /// channel, waiting for it as `wait` says; `Ok(None)` when that wait ended without one.
    fn next_change(&mut self, wait: Wait) -> Result<Option<Delivered>> {
        loop {
            if let Some((event, key)) = self.pending.pop_front() {
                return Ok(Some(Delivered {
                    event,
                    prev: None,
                    key,
                }));
            }
            if let Some(e) = &self.failed {
                return Err(e.clone());
            }
            let got = match wait {
                Wait::Forever => self.rx.recv().ok(),
                Wait::Until(deadline) => match self.rx.recv_deadline(deadline) {
                    Ok(ev) => Some(ev),
                    Err(RecvTimeoutError::Timeout) => return Ok(None),
                    Err(RecvTimeoutError::Disconnected) => None,
                },
                Wait::No => match self.rx.try_recv() {
                    Ok(ev) => Some(ev),
                    Err(TryRecvError::Empty) => return Ok(None),
                    Err(TryRecvError::Disconnected) => None,
                },
            };
            match got {
                Some(ev) => {
                    if let Some(event) = self.convert(&ev) {
                        return Ok(Some(Delivered {
                            event,
                            prev: ev.prev.clone(),
                            key: Some(ev.key.clone()),
                        }));
                    }
                }
                None => self.fail(),
            }
        }
    }

    /// Whether a change is ready for [`Watch::recv_change`] without blocking (it may still
    /// turn out to be one this watch filters away), or the watch's end (an error) is.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
            || !self.rx.is_empty()
            || self.shared.closed.load(Ordering::Acquire)
    }

    /// Has `thread` unparked whenever this watch gets an event or loses its sender, so one
    /// thread can follow many watches with `std::thread::park` (see [`WatchShared::ring`]):
    /// no channel select, and a publish to a watch whose thread is awake costs one atomic
    /// swap rather than a wake-up. Set once per watch: a later call is ignored.
    pub(crate) fn ring(&self, thread: std::thread::Thread) {
        let _ = self.shared.bell.set(thread);
    }

    /// The next event if one is ready, without blocking.
    pub fn try_recv(&mut self) -> Result<Option<WatchEvent>> {
        self.next_change(Wait::No).map(|c| c.map(|c| c.event))
    }

    /// A bookmark at the newest revision this watch is complete up to, or `None` when events
    /// are still queued for it.
    fn bookmark(&mut self) -> Option<WatchEvent> {
        // Under the kind lock no change of this kind is between taking its revision and
        // being sent (or queued as unpublished); so an empty channel means every change up
        // to the counter, short of the unpublished ones, was delivered.
        let state = self.kind.state.lock();
        if !self.rx.is_empty() {
            return None;
        }
        // Changes not yet durable are not delivered yet: the bookmark stays below them.
        let rev = state.published_through(self.revision_counter.load(Ordering::Acquire));
        self.last = self.last.max(rev);
        Some(WatchEvent::Bookmark(self.last))
    }

    fn fail(&mut self) {
        let missed = self.shared.missed.load(Ordering::Acquire);
        self.failed = Some(if missed != 0 {
            Error::Expired {
                requested: self.last,
                oldest: missed,
            }
        } else {
            Error::Closed
        });
    }

    /// Turns a store event into what this watch reports, applying its filter: an object
    /// that starts matching a label selector is Added, one that stops matching is Deleted.
    fn convert(&mut self, ev: &Change) -> Option<WatchEvent> {
        self.last = ev.revision;
        convert(ev, self.namespace.as_deref(), self.selector.as_ref())
    }
}

/// Several watches read as one, by one thread: [`WatchSet::recv_timeout`] blocks until any
/// of them has an event (or an error), so following many kinds needs no thread per kind.
///
/// Each watch keeps its own order; between watches, the set takes turns so that a busy
/// kind does not starve a quiet one. A watch that reports an error ([`Error::Expired`],
/// [`Error::Closed`]) leaves the set with that report; put a reopened watch in its place
/// with [`WatchSet::insert`].
#[derive(Debug, Default)]
pub struct WatchSet {
    slots: Vec<Option<Watch>>,
    next: usize,
}

impl WatchSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `watch`; returns its index, under which its events are reported.
    pub fn push(&mut self, watch: Watch) -> usize {
        self.slots.push(Some(watch));
        self.slots.len() - 1
    }

    /// Puts `watch` at `index` (e.g. a reopened watch where one failed), replacing and
    /// returning whatever was there. Indexes past the end are added.
    pub fn insert(&mut self, index: usize, watch: Watch) -> Option<Watch> {
        if index >= self.slots.len() {
            self.slots.resize_with(index + 1, || None);
        }
        self.slots[index].replace(watch)
    }

    /// The watch at `index`, if it is still in the set.
    pub fn get(&self, index: usize) -> Option<&Watch> {
        self.slots.get(index).and_then(Option::as_ref)
    }

    /// How many watches are in the set.
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// True when no watch is in the set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next event of any watch, without blocking: `None` when none has one queued.
    pub fn try_recv(&mut self) -> Option<(usize, Result<WatchEvent>)> {
        let n = self.slots.len();
        for step in 0..n {
            let i = (self.next + step) % n;
            let Some(w) = self.slots[i].as_mut() else {
                continue;
            };
            match w.try_recv() {
                Ok(None) => continue,
                Ok(Some(ev)) => {
                    self.next = i + 1;
                    return Some((i, Ok(ev)));
                }
                Err(e) => {
                    self.slots[i] = None;
                    self.next = i + 1;
                    return Some((i, Err(e)));
                }
            }
        }
        None
    }

    /// Waits at most `timeout` for the next event of any watch; `None` on timeout (at once
    /// when the set is empty).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<(usize, Result<WatchEvent>)> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(got) = self.try_recv() {
                return Some(got);
            }
            let mut sel = crossbeam_channel::Select::new();
            let mut at = Vec::new();
            for (i, w) in self.slots.iter().enumerate() {
                if let Some(w) = w {
                    sel.recv(&w.rx);
                    at.push(i);
                }
            }
            if at.is_empty() {
                return None;
            }
            // Readiness only: `try_recv` above takes the event (or sees the channel closed),
            // and a spurious wake-up just goes round again.
            if sel.ready_deadline(deadline).is_err() {
                return None;
            }
        }
    }
}

pub(crate) fn convert(ev: &Change, ns: Option<&str>, sel: Option<&Selector>) -> Option<WatchEvent> {
    if let Some(ns) = ns {
        if ev.object.meta().namespace_str() != ns {
            return None;
        }
    }
    let now = sel.is_none_or(|s| s.matches(&ev.object.meta().labels));
    let before = match (&ev.prev, sel) {
        (Some(p), Some(s)) => s.matches(&p.meta().labels),
        (Some(_), None) => true,
        (None, _) => false,
    };
    let obj = ev.object.clone();
    match ev.kind {
        ChangeType::Added => now.then_some(WatchEvent::Added(obj)),
        ChangeType::Deleted => now.then_some(WatchEvent::Deleted(obj)),
        ChangeType::Modified => match (before, now) {
            (true, true) => Some(WatchEvent::Modified(obj)),
            (false, true) => Some(WatchEvent::Added(obj)),
            (true, false) => Some(WatchEvent::Deleted(obj)),
            (false, false) => None,
        },
    }
}

impl Iterator for Watch {
    type Item = Result<WatchEvent>;

    /// Blocks for the next event; ends after the first error.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed.is_some() && self.pending.is_empty() {
            return None;
        }
        Some(self.recv())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let id = self.id;
        self.kind.state.lock().watchers.retain(|w| w.id != id);
    }
}

impl Store {
    /// Ends every watch (they report [`Error::Closed`] once drained) and refuses new ones.
    /// Used at engine shutdown.
    pub fn close_watches(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        for ks in self.inner.kinds.read().values() {
            ks.state.lock().watchers.clear();
        }
    }

    /// Watches `kind`. See [`WatchParams`] for where it starts. Errors with
    /// [`Error::Expired`] when `since` is older than the kind's history, and with
    /// [`Error::TooNew`] when it is beyond the store's revision.
    pub fn watch(&self, kind: &str, params: &WatchParams) -> Result<Watch> {
        let ks = self.kind_named(kind)?;
        // Unbounded, with the capacity enforced by `publish`: a bounded channel allocates and
        // touches its whole capacity up front (1.6 MB per watch at the default), where this
        // one grows with what is queued.
        let (tx, rx) = crossbeam_channel::unbounded();
        let capacity = self.inner.config.watch_capacity.max(1);
        let shared = Arc::new(WatchShared::default());
        let id = self.inner.watch_ids.fetch_add(1, Ordering::Relaxed);
        let ns = params.namespace.clone().filter(|n| !n.is_empty());
        let mut pending = VecDeque::new();
        let last;
        let mut after = 0;
        {
            let mut st = ks.state.lock();
            // Checked under the kind lock: `close_watches` sets the flag before it takes each
            // kind's lock to end its watches, so a watch either sees the flag or is ended.
            if self.inner.closed.load(Ordering::SeqCst) {
                return Err(Error::Closed);
            }
            let now = self.revision();
            match params.since {
                None => {
                    let lp = ListParams {
                        namespace: ns.clone(),
                        selector: params.selector.clone(),
                        ..Default::default()
                    };
                    // The initial state needs no order: unsorted, with the store keys.
                    let initial = select_locked(&ks, &st, &lp);
                    if st.unpublished.is_empty() {
                        for (k, o) in initial {
                            pending.push_back((WatchEvent::Added(o), Some(k)));
                        }
                    } else {
                        // The state as of the last published change: changes not yet durable
                        // are undone here and delivered as events once they are.
                        let mut undone: HashMap<Key, Option<Arc<dyn Object>>> = HashMap::new();
                        for ev in &st.unpublished {
                            undone
                                .entry(ev.key.clone())
                                .or_insert_with(|| ev.prev.clone());
                        }
                        for (k, o) in initial {
                            if !undone.contains_key(&k) {
                                pending.push_back((WatchEvent::Added(o), Some(k)));
                            }
                        }
                        let wanted = |o: &dyn Object| {
                            ns.as_deref().is_none_or(|n| o.meta().namespace_str() == n)
                                && params
                                    .selector
                                    .as_ref()
                                    .is_none_or(|s| s.matches(&o.meta().labels))
                        };
                        for (k, prev) in undone {
                            if let Some(o) = prev.filter(|o| wanted(o.as_ref())) {
                                pending.push_back((WatchEvent::Added(o), Some(k)));
                            }
                        }
                    }
                    last = st.published_through(now);
                }
                Some(since) => {
                    if since > now {
                        return Err(Error::TooNew {
                            requested: since,
                            current: now,
                        });
                    }
                    if since < st.compacted {
                        return Err(Error::Expired {
                            requested: since,
                            oldest: st.compacted + 1,
                        });
                    }
                    for ev in st.history.iter().filter(|e| e.revision > since) {
                        if let Some(we) =
                            watch::convert(ev, ns.as_deref(), params.selector.as_ref())
                        {
                            pending.push_back((we, Some(ev.key.clone())));
                        }
                    }
                    last = since.max(st.history.back().map_or(0, |e| e.revision));
                    // A client that read changes not yet published (a list) does not get
                    // them again when they are.
                    if !st.unpublished.is_empty() {
                        after = since;
                    }
                }
            }
            st.watchers.push(WatcherSlot {
                id,
                after,
                tx,
                capacity,
                namespace: ns.clone(),
                selector: params.selector.clone(),
                shared: shared.clone(),
            });
        }
        Ok(Watch {
            kind: ks,
            id,
            rx,
            pending,
            namespace: ns,
            selector: params.selector.clone(),
            shared,
            revision_counter: self.inner.revision.clone(),
            last,
            bookmarks: params.bookmarks,
            failed: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::api::{ConfigMap, ObjectMeta, Registry};
    use crate::error::Error;
    use crate::store::{Store, StoreConfig, WatchParams};
    use std::sync::Arc;

    #[test]
    fn closer_wakes_a_blocked_watch_after_what_it_had_queued() {
        let registry = Arc::new(Registry::new());
        crate::api::register_builtins(&registry);
        let store = Store::new(registry, StoreConfig::default());
        let mut w = store
            .watch("ConfigMap", &WatchParams::default())
            .expect("watch");
        let closer = w.closer();
        store
            .create(Arc::new(ConfigMap {
                metadata: ObjectMeta {
                    name: "a".into(),
                    ..Default::default()
                },
                ..Default::default()
            }))
            .expect("create");
        let t = std::thread::spawn(move || {
            let first = w.recv().map(|e| e.type_name());
            let second = w.recv();
            (first, second)
        });
        closer.close();
        closer.close();
        let (first, second) = t.join().expect("receiver thread");
        assert_eq!(first.ok(), Some("ADDED"));
        assert!(matches!(second, Err(Error::Closed)), "{second:?}");
        assert_eq!(store.watch_count("ConfigMap"), 0);
    }

    /// The bell protocol (`Watch::ring`, `WatchShared::ring`) as the informer thread uses it:
    /// one thread follows many watches with `park`, while writers on other threads publish
    /// and the store cuts a slow watch off. No event and no cut-off may be slept through: the
    /// follower must see every write (a hang here is a lost wake-up).
    #[test]
    fn one_thread_follows_many_watches_by_bell_and_misses_nothing() {
        use std::collections::HashSet;
        use std::sync::atomic::{AtomicBool, Ordering};
        const WRITES: usize = 2_000;
        const KINDS: [&str; 4] = ["ConfigMap", "Secret", "Endpoints", "Event"];
        let kinds = KINDS;
        let registry = Arc::new(Registry::new());
        crate::api::register_builtins(&registry);
        // A small capacity, and the first kind left unread until the writers are done: its
        // watch is cut off (Expired) mid-run, deterministically.
        let store = Store::new(
            registry,
            StoreConfig {
                watch_capacity: 64,
                ..StoreConfig::default()
            },
        );
        let gate = Arc::new(AtomicBool::new(false));
        let follower = {
            let (store, gate) = (store.clone(), gate.clone());
            std::thread::spawn(move || {
                let me = std::thread::current();
                let open = |k: &str| {
                    let w = store.watch(k, &WatchParams::default()).unwrap();
                    w.ring(me.clone());
                    w
                };
                let mut watches: Vec<_> = kinds.iter().map(|k| open(k)).collect();
                let mut seen: HashSet<String> = HashSet::new();
                let mut expired = 0;
                while seen.len() < kinds.len() * WRITES {
                    let mut any = false;
                    for (i, w) in watches.iter_mut().enumerate() {
                        if !w.has_pending() || (i == 0 && !gate.load(Ordering::Acquire)) {
                            continue;
                        }
                        any = true;
                        match w.try_recv() {
                            Ok(Some(ev)) => {
                                seen.extend(ev.object().map(|o| o.meta().name.clone()));
                            }
                            Ok(None) => {}
                            Err(Error::Expired { .. }) => {
                                // Catch up from the current state, as the informer relists.
                                expired += 1;
                                let list = store.list(kinds[i], &Default::default()).unwrap();
                                seen.extend(list.items.iter().map(|o| o.meta().name.clone()));
                                *w = open(kinds[i]);
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                    if !any {
                        std::thread::park();
                    }
                }
                expired
            })
        };
        // The follower's watches exist before the writes start.
        while kinds.iter().any(|k| store.watch_count(k) == 0) {
            std::thread::yield_now();
        }
        let writers: Vec<_> = KINDS
            .iter()
            .map(|kind| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let info = store.registry().get(kind).unwrap();
                    for i in 0..WRITES {
                        let v = serde_json::json!({"apiVersion": "v1", "kind": kind,
                            "metadata": {"name": format!("{}-{i}", kind.to_lowercase()), "namespace": "default"}});
                        store.create(info.decode(v).unwrap()).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        gate.store(true, Ordering::Release);
        follower.thread().unpark();
        let expired = follower.join().expect("the follower saw every write");
        assert!(expired >= 1, "the unread watch was cut off and caught up");
    }
}
