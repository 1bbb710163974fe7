//! One kind's share of the store: its objects, history, watchers and indexes.
//!
//! # Invariants
//! - Every change to `objects` of a kind, every history append and every watcher dispatch
//!   happens while holding that kind's `state` mutex, and the revision for the change is taken
//!   from the global counter while holding it. Hence, per kind, changes are applied, recorded
//!   and delivered in strictly increasing revision order, and a watcher registered under the
//!   lock sees exactly the changes committed after its registration point: no gap, no duplicate.
//! - Readers (`get`) use the lock-striped map without the kind lock: they see the object before
//!   or after a concurrent change, never a torn one (objects are immutable `Arc`s).
//! - Unique fields ([`UniqueField`]) are filled and checked at commit, under the kind's lock,
//!   against the field index, which holds exactly the committed objects: no two objects of a
//!   kind ever hold one value, however many writers race.
//! - A transaction locks every kind it touches in ascending kind-name order before taking its
//!   single revision, so transactions never deadlock with each other or with single writes.
//! - With `Durability::Sync` a change is applied to `objects` at once but recorded in
//!   `history` and sent to watchers only once its log record is on disk: until then its event
//!   waits in `unpublished` (in revision order, under the same lock), and whatever a watch
//!   starts with excludes it. So no watcher ever sees a change that a crash can take back.

use super::watch::{Change, WatchShared};
use crate::api::{KindInfo, Object, Selector};
use crossbeam_channel::Sender;
use dashmap::DashMap;
use parking_lot::{Mutex, MutexGuard};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The locks of several kinds, taken in ascending kind-name order (see the invariants
/// above): what a commit touching several kinds holds.
pub(crate) struct Locked<'a>(Vec<(&'a Arc<KindStore>, MutexGuard<'a, KindState>)>);

/// The distinct stores among `stores`, in the order their locks are taken.
pub(crate) fn lock_order<'a>(
    stores: impl IntoIterator<Item = &'a Arc<KindStore>>,
) -> Vec<Arc<KindStore>> {
    let mut kinds: Vec<Arc<KindStore>> = stores.into_iter().cloned().collect();
    kinds.sort_by(|a, b| a.info.kind.cmp(&b.info.kind));
    kinds.dedup_by(|a, b| Arc::ptr_eq(a, b));
    kinds
}

impl<'a> Locked<'a> {
    /// Takes the locks of `kinds` (from [`lock_order`]), in that order.
    pub(crate) fn take(kinds: &'a [Arc<KindStore>]) -> Self {
        Locked(kinds.iter().map(|k| (k, k.state.lock())).collect())
    }

    /// The locked state of `ks`, one of the kinds locked.
    pub(crate) fn state(&mut self, ks: &Arc<KindStore>) -> &mut KindState {
        &mut self
            .0
            .iter_mut()
            .find(|(k, _)| Arc::ptr_eq(k, ks))
            .expect("a kind of the commit, locked with the others")
            .1
    }
}

/// Store key of an object: `namespace/name`, or `name` for cluster-scoped kinds.
pub(crate) type Key = Arc<str>;

/// Extracts the value a field index files an object under (borrowed from the object, so
/// indexing an update allocates nothing when the value did not change).
pub type FieldExtractor = Arc<dyn for<'a> Fn(&'a dyn Object) -> Option<&'a str> + Send + Sync>;

pub(crate) struct FieldIndex {
    pub(crate) name: String,
    extract: FieldExtractor,
    map: HashMap<String, HashSet<Key>>,
    /// Set for a unique field (see [`UniqueField`]): no two objects share a value.
    unique: Option<Arc<UniqueField>>,
}

/// Fills a unique field of an object being committed (see [`UniqueField::allocate`]): gets the
/// object and `taken`, which tells whether a value is held by another object.
pub type UniqueAllocator = Arc<
    dyn Fn(&mut dyn Object, &dyn Fn(&str) -> bool) -> Result<(), crate::api::FieldError>
        + Send
        + Sync,
>;

/// A field whose value no two objects of a kind may share (a Service's `spec.clusterIP`),
/// registered with [`Store::add_unique_field`](super::Store::add_unique_field).
///
/// The check runs when a write commits, under the kind's lock: every commit of the kind holds
/// that lock and the index reflects exactly the committed objects, so "is it free?" and
/// "take it" are one atomic step and concurrent writers can never both win a value.
pub struct UniqueField {
    /// Path of the field, named in errors (`spec.clusterIP`); also the index's name, so
    /// [`ListParams::field`](super::ListParams::field) finds the holder of a value.
    pub field: String,
    /// The value an object holds; `None`: holds none.
    pub extract: FieldExtractor,
    /// The error when a value is taken (`provided IP is already allocated`).
    pub message: String,
    /// Fills the field of an object that should hold a value but has none, choosing a value
    /// that is not `taken`. It runs under the kind's lock: it must be quick and must not use
    /// the store. An error refuses the write (naming the field).
    pub allocate: Option<UniqueAllocator>,
}

impl std::fmt::Debug for UniqueField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UniqueField")
            .field("field", &self.field)
            .field("message", &self.message)
            .finish()
    }
}

/// What a publish leaves for after the kind's lock is released (see
/// [`KindState::publish`]): the watches to ring and the changes to free.
/// The usual case, one write with one watch to ring (the informer's) and one change
/// evicted, allocates nothing.
#[derive(Default)]
pub(crate) struct AfterUnlock {
    rings: FirstThenMore<Arc<WatchShared>>,
    evicted: FirstThenMore<Arc<Change>>,
}

/// A list whose first element is kept inline (no allocation for one).
struct FirstThenMore<T> {
    first: Option<T>,
    more: Vec<T>,
}

impl<T> Default for FirstThenMore<T> {
    fn default() -> Self {
        FirstThenMore {
            first: None,
            more: Vec::new(),
        }
    }
}

impl<T> FirstThenMore<T> {
    fn push(&mut self, t: T) {
        match self.first {
            None => self.first = Some(t),
            Some(_) => self.more.push(t),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        self.first.iter().chain(&self.more)
    }
}

impl AfterUnlock {
    fn ring_later(&mut self, shared: &Arc<WatchShared>) {
        self.rings.push(shared.clone());
    }

    fn free_later(&mut self, change: Arc<Change>) {
        self.evicted.push(change);
    }

    /// Rings the watches, then frees the changes. Call it once the lock is released.
    pub(crate) fn run(self) {
        for shared in self.rings.iter() {
            shared.ring();
        }
        drop(self.evicted);
    }
}

pub(crate) struct WatcherSlot {
    pub(crate) id: u64,
    /// Changes at or below this revision are not sent: the watch started after them (a
    /// watch from a revision that changes still unpublished at its start are below).
    pub(crate) after: u64,
    pub(crate) tx: Sender<Arc<Change>>,
    /// Events the watch may have queued; one more cuts it off with Expired.
    pub(crate) capacity: usize,
    pub(crate) namespace: Option<String>,
    pub(crate) selector: Option<Selector>,
    pub(crate) shared: Arc<WatchShared>,
}

impl Drop for WatcherSlot {
    /// However the slot goes (over capacity, the watch closed, the store closing its
    /// watches), the watch learns of it: its sender goes with the slot, and a thread
    /// following it by bell is rung after `closed` is set.
    fn drop(&mut self) {
        // The sender goes first (a dangling one, never used, takes its place), so that the
        // watch finds the channel disconnected once it sees `closed`.
        drop(std::mem::replace(
            &mut self.tx,
            crossbeam_channel::bounded(0).0,
        ));
        self.shared.closed.store(true, Ordering::Release);
        self.shared.ring();
    }
}

impl WatcherSlot {
    fn wants(&self, ev: &Change) -> bool {
        if let Some(ns) = &self.namespace {
            if ev.object.meta().namespace_str() != ns {
                return false;
            }
        }
        match &self.selector {
            None => true,
            Some(sel) => {
                sel.matches(&ev.object.meta().labels)
                    || ev
                        .prev
                        .as_ref()
                        .is_some_and(|p| sel.matches(&p.meta().labels))
            }
        }
    }
}

pub(crate) struct KindState {
    pub(crate) history: VecDeque<Arc<Change>>,
    pub(crate) history_limit: usize,
    /// Highest revision of this kind no longer in `history` (0: nothing dropped yet).
    pub(crate) compacted: u64,
    pub(crate) watchers: Vec<WatcherSlot>,
    /// Changes applied but not yet durable (`Durability::Sync` only), in revision order:
    /// neither in `history` nor sent until [`KindState::publish_durable`].
    pub(crate) unpublished: VecDeque<Arc<Change>>,
    labels: HashMap<String, HashSet<Key>>,
    owners: HashMap<String, HashSet<Key>>,
    pub(crate) fields: Vec<FieldIndex>,
}

/// A stored object with an upper bound of its encoded length. Writes that change only
/// metadata or status bound the new length from this one instead of encoding the whole
/// object again; the bound is made exact whenever it would exceed the size limit.
#[derive(Clone)]
pub(crate) struct Stored {
    pub(crate) obj: Arc<dyn Object>,
    pub(crate) size: usize,
}

pub(crate) struct KindStore {
    pub(crate) info: Arc<KindInfo>,
    pub(crate) objects: DashMap<Key, Stored>,
    pub(crate) state: Mutex<KindState>,
}

fn label_key(k: &str, v: &str) -> String {
    let mut s = String::with_capacity(k.len() + v.len() + 1);
    s.push_str(k);
    s.push('=');
    s.push_str(v);
    s
}

fn same_labels(a: Option<&dyn Object>, b: Option<&dyn Object>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.meta().labels == b.meta().labels,
        (None, None) => true,
        _ => false,
    }
}

fn owner_uids(o: Option<&dyn Object>) -> impl Iterator<Item = &str> {
    o.into_iter()
        .flat_map(|o| o.meta().owner_references.iter().map(|r| r.uid.as_str()))
}

impl KindStore {
    /// [`KindState::publish_durable`] under the kind's lock, ringing and freeing after it.
    pub(crate) fn publish_durable(&self, durable: u64) {
        let mut after = AfterUnlock::default();
        self.state.lock().publish_durable(durable, &mut after);
        after.run();
    }

    pub(crate) fn new(info: Arc<KindInfo>, history_limit: usize) -> Self {
        KindStore {
            info,
            objects: DashMap::new(),
            state: Mutex::new(KindState {
                history: VecDeque::new(),
                history_limit: history_limit.max(1),
                compacted: 0,
                watchers: Vec::new(),
                unpublished: VecDeque::new(),
                labels: HashMap::new(),
                owners: HashMap::new(),
                fields: Vec::new(),
            }),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<Arc<dyn Object>> {
        self.objects.get(key).map(|r| r.value().obj.clone())
    }

    /// The stored key and object: writes reuse the key instead of allocating one.
    pub(crate) fn entry(&self, key: &str) -> Option<(Key, Stored)> {
        self.objects
            .get(key)
            .map(|r| (r.key().clone(), r.value().clone()))
    }
}

impl KindState {
    /// Moves `key` in every index from `old`'s values to `new`'s. Cheap when the indexed
    /// values did not change, which is the common case for updates.
    pub(crate) fn reindex(
        &mut self,
        key: &Key,
        old: Option<&dyn Object>,
        new: Option<&dyn Object>,
    ) {
        if !same_labels(old, new) {
            if let Some(o) = old {
                for (k, v) in &o.meta().labels {
                    let lk = label_key(k, v);
                    if let Some(set) = self.labels.get_mut(&lk) {
                        set.remove(key);
                        if set.is_empty() {
                            self.labels.remove(&lk);
                        }
                    }
                }
            }
            if let Some(n) = new {
                for (k, v) in &n.meta().labels {
                    self.labels
                        .entry(label_key(k, v))
                        .or_default()
                        .insert(key.clone());
                }
            }
        }
        if !owner_uids(old).eq(owner_uids(new)) {
            for uid in owner_uids(old) {
                if let Some(set) = self.owners.get_mut(uid) {
                    set.remove(key);
                    if set.is_empty() {
                        self.owners.remove(uid);
                    }
                }
            }
            for uid in owner_uids(new) {
                self.owners
                    .entry(uid.to_string())
                    .or_default()
                    .insert(key.clone());
            }
        }
        for idx in &mut self.fields {
            let ov = old.and_then(|o| (idx.extract)(o));
            let nv = new.and_then(|n| (idx.extract)(n));
            if ov == nv {
                continue;
            }
            if let Some(ov) = ov {
                if let Some(set) = idx.map.get_mut(ov) {
                    set.remove(key);
                    if set.is_empty() {
                        idx.map.remove(ov);
                    }
                }
            }
            if let Some(nv) = nv {
                idx.map
                    .entry(nv.to_string())
                    .or_default()
                    .insert(key.clone());
            }
        }
    }

    /// Records `ev` in the bounded history and hands it to every interested watcher.
    /// A watcher whose channel is full is cut off here and told Expired when it has read what
    /// it already holds: it never silently misses an event.
    ///
    /// What can wait for the lock's release is left to `after`, which the caller runs once it
    /// released the lock: waking the fed watches' threads (a system call when one is parked)
    /// and freeing the change pushed out of the history (often the last reference to an old,
    /// cache-cold version of an object), so that the other writers of the kind do not wait
    /// for either. No wake-up is lost: the event is queued here, under the lock, before its
    /// ring (see [`WatchShared::ring`] for the bell's side); only the moment moves.
    pub(crate) fn publish(&mut self, ev: Arc<Change>, after: &mut AfterUnlock) {
        self.watchers.retain(|w| {
            if ev.revision <= w.after || !w.wants(&ev) {
                return true;
            }
            // Sends of a kind are serialised by its lock (held here), so the length checked
            // is at most what the receiver has since drained: never over capacity.
            if w.tx.len() >= w.capacity {
                w.shared.missed.store(ev.revision, Ordering::Release);
                return false;
            }
            let sent = w.tx.send(ev.clone()).is_ok();
            if sent && w.shared.bell.get().is_some() {
                after.ring_later(&w.shared);
            }
            sent
        });
        if self.history.len() >= self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.revision;
                after.free_later(old);
            }
        }
        self.history.push_back(ev);
    }

    /// Publishes the unpublished changes at or below `durable`, a revision whose log record
    /// (and so every one before it) is on disk.
    pub(crate) fn publish_durable(&mut self, durable: u64, after: &mut AfterUnlock) {
        while self
            .unpublished
            .front()
            .is_some_and(|e| e.revision <= durable)
        {
            let ev = self.unpublished.pop_front().expect("checked above");
            self.publish(ev, after);
        }
    }

    /// The revision up to which this kind's changes are published: just below its first
    /// unpublished change, or `now` (the store's revision) when there is none.
    pub(crate) fn published_through(&self, now: u64) -> u64 {
        self.unpublished
            .front()
            .map_or(now, |e| (e.revision - 1).min(now))
    }

    pub(crate) fn add_field_index(
        &mut self,
        name: &str,
        extract: FieldExtractor,
        unique: Option<Arc<UniqueField>>,
        objects: &DashMap<Key, Stored>,
    ) {
        if self.fields.iter().any(|f| f.name == name) {
            return;
        }
        let mut map: HashMap<String, HashSet<Key>> = HashMap::new();
        for e in objects.iter() {
            if let Some(v) = extract(e.value().obj.as_ref()) {
                map.entry(v.to_string())
                    .or_default()
                    .insert(e.key().clone());
            }
        }
        self.fields.push(FieldIndex {
            name: name.to_string(),
            extract,
            map,
            unique,
        });
    }

    /// Whether the kind has unique fields to check at commit.
    pub(crate) fn has_unique(&self) -> bool {
        self.fields.iter().any(|f| f.unique.is_some())
    }

    /// Fills (through their allocators) and checks the unique fields of `obj`, about to be
    /// stored under `key`; true when an allocator ran (the object changed). `claimed` holds the values taken by earlier writes of the same
    /// transaction, as (index, value); this write's values are added. Caller holds the
    /// kind's lock. An error names the field and value.
    pub(crate) fn claim_unique(
        &self,
        key: &Key,
        obj: &mut Arc<dyn Object>,
        claimed: &mut Vec<(String, String)>,
    ) -> Result<bool, crate::api::FieldError> {
        let mut allocated = false;
        for idx in &self.fields {
            let Some(u) = &idx.unique else { continue };
            let taken = |v: &str| {
                idx.map
                    .get(v)
                    .is_some_and(|holders| holders.iter().any(|k| k != key))
                    || claimed.iter().any(|(i, c)| *i == idx.name && c == v)
            };
            if let Some(allocate) = &u.allocate {
                if (idx.extract)(obj.as_ref()).is_none() {
                    allocate(crate::api::make_mut(obj), &taken)?;
                    allocated = true;
                }
            }
            if let Some(v) = (idx.extract)(obj.as_ref()) {
                if taken(v) {
                    return Err(crate::api::FieldError::new(
                        &u.field,
                        format!("Invalid value: {v:?}: {}", u.message),
                    ));
                }
                claimed.push((idx.name.clone(), v.to_string()));
            }
        }
        Ok(allocated)
    }

    /// Whether `obj` holds a unique value that `base` (its stored version, if any) did not.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))] // only stores on a remote source
    pub(crate) fn claims_new_values(&self, base: Option<&dyn Object>, obj: &dyn Object) -> bool {
        self.fields
            .iter()
            .filter(|idx| idx.unique.is_some())
            .any(|idx| match (idx.extract)(obj) {
                None => false,
                Some(v) => base.and_then(|b| (idx.extract)(b)) != Some(v),
            })
    }

    pub(crate) fn by_label(&self, k: &str, v: &str) -> Option<&HashSet<Key>> {
        self.labels.get(&label_key(k, v))
    }

    pub(crate) fn by_owner(&self, uid: &str) -> Option<&HashSet<Key>> {
        self.owners.get(uid)
    }

    /// `None` when no index of that name exists; an empty set when nothing matches.
    pub(crate) fn by_field(&self, name: &str, value: &str) -> Option<Option<&HashSet<Key>>> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.map.get(value))
    }

    pub(crate) fn field_value<'a>(&self, name: &str, obj: &'a dyn Object) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| (f.extract)(obj))
    }
}
