//! The store (layer 2): steady's etcd and kube-apiserver in one process.
//!
//! Objects live per kind in a lock-striped map ([`dashmap`]) as immutable `Arc` snapshots:
//! a read clones an `Arc`, never an object. Every committed change takes the next value of
//! one global revision; an object's `metadata.resourceVersion` is the revision of its last
//! change. Writes are compare-and-swap: an update that carries a resourceVersion fails with
//! [`Error::Conflict`] unless it is current. Changes are recorded in a bounded per-kind history
//! and streamed to [`Watch`]es in revision order.
//!
//! Write path: the new object is prepared (checked, defaulted, validated, passed through the
//! admission hooks, measured) without any lock; then the kind's lock is taken, the object the
//! write was prepared against is checked to still be current, the revision is taken, and the
//! change is applied, indexed, recorded and published. The invariants are stated in the
//! `kind` module.
//!
//! The rooms: `params` (what reads, watches and deletions take and return), `admission`
//! (hooks and validation), `write` (preparing creates, updates and deletions), `commit`
//! (the compare-and-swap under the kind's lock), `txn` (atomic multi-object writes),
//! `list` (reads), `watch` (change streams), `kind` (per-kind state and its invariants),
//! `lifecycle` (namespaces and definitions) and [`persist`] (durability).

mod admission;
mod commit;
#[cfg(feature = "etcd")]
pub mod etcd;
mod kind;
mod lifecycle;
mod list;
mod params;
pub mod persist;
mod remote;
mod txn;
mod watch;
mod write;

pub use admission::{AdmissionRequest, Operation};
pub use kind::{FieldExtractor, UniqueAllocator, UniqueField};
#[cfg(test)]
pub(crate) use lifecycle::ensure_namespaces;
#[cfg(feature = "apiserver")]
pub(crate) use lifecycle::missing_namespace;
pub use lifecycle::{INITIAL_NAMESPACES, NAMESPACE_FINALIZER};
pub use params::{DeleteParams, Deleted, ListParams, ObjectList, Propagation, WatchParams};
pub use persist::{Durability, Persist, RecoveryReport, Truncation};
pub(crate) use remote::Fence;
pub use txn::TxnOp;
/// The former name of [`Change`] (renamed: `api::Event` is the Kubernetes Event kind).
#[doc(hidden)]
pub use watch::Change as Event;
/// The former name of [`ChangeType`].
#[doc(hidden)]
pub use watch::ChangeType as EventType;
pub use watch::{Change, ChangeType, Watch, WatchCloser, WatchEvent, WatchSet};

use crate::api::validation::validate_meta;
use crate::api::{FieldError, KindInfo, Object, Registry, Selector};
use crate::clock::{SharedClock, SystemClock};
use crate::error::{Error, ObjectRef, Result};
use kind::{lock_order, AfterUnlock, Key, KindState, KindStore, Locked, Stored, WatcherSlot};
use lifecycle::{Staged, DEFINITION_KIND};
use parking_lot::{Mutex, MutexGuard, RwLock};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use admission::Admission;
use commit::{apply, apply_unpublished, apply_versioned, stale_error, Action, Outcome, Write};
use list::select_locked;
use write::rv_message;

/// Kubernetes' (and etcd's) default maximum request size: 1.5 MiB.
pub const DEFAULT_MAX_OBJECT_BYTES: usize = 1_572_864;

/// Store settings.
#[derive(Clone)]
pub struct StoreConfig {
    /// Events kept per kind for watches that resume from a revision (default 10,000).
    pub history_limit: usize,
    /// Events a watch may have queued before it is cut off with Expired (default 100,000).
    pub watch_capacity: usize,
    /// Largest accepted object, measured as its compact JSON encoding (default 1.5 MiB).
    pub max_object_bytes: usize,
    /// Source of creation and deletion timestamps.
    pub clock: SharedClock,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            history_limit: 10_000,
            watch_capacity: 100_000,
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            clock: Arc::new(SystemClock::new()),
        }
    }
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("history_limit", &self.history_limit)
            .field("watch_capacity", &self.watch_capacity)
            .field("max_object_bytes", &self.max_object_bytes)
            .finish()
    }
}

struct Inner {
    registry: Arc<Registry>,
    kinds: RwLock<HashMap<String, Arc<KindStore>>>,
    /// The last revision handed out. Only ever incremented while holding the lock of every
    /// kind the change touches (see `kind`).
    revision: Arc<AtomicU64>,
    config: StoreConfig,
    admission: RwLock<Vec<Admission>>,
    field_indexes: RwLock<Vec<RegisteredIndex>>,
    uid_seed: u64,
    uid_counter: AtomicU64,
    watch_ids: AtomicU64,
    /// Set once by `close_watches`; checked by `watch` under the kind lock, so no watch can
    /// register after its kind was closed.
    closed: AtomicBool,
    /// Kinds whose deletion is graceful (pods on a node), with their policy.
    graceful: RwLock<HashMap<String, GracefulDeletion>>,
    /// Held by every write of a CustomResourceDefinition from prepare to publish (see
    /// `lifecycle`).
    definitions: Mutex<()>,
    /// Where commits are made durable ([`persist`]); unset for the in-memory store, whose
    /// write path then only checks that it is unset.
    backend: OnceLock<Arc<dyn persist::Backend>>,
    /// The source of truth of a store that is a cache of it ([`remote`]: etcd); unset
    /// otherwise, and then the write path only checks that it is unset.
    remote: OnceLock<Arc<dyn remote::Remote>>,
    /// Through which of the source's revisions the cache holds every change.
    applied: remote::Applied,
    /// The versions of the source's claims keys (see [`remote::Claims`]).
    claims: remote::Claims,
    /// What recovery did, for a store opened on a data dir.
    recovery: OnceLock<RecoveryReport>,
    /// Changes at or below this revision are in no kind's history (a store recovered from a
    /// snapshot): kind stores start with it as their `compacted` mark.
    history_floor: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(b) = self.backend.get() {
            b.close();
        }
        if let Some(r) = self.remote.get() {
            r.close();
        }
    }
}

/// A field index registered on the store: (kind, name, extractor, uniqueness).
type RegisteredIndex = (String, String, FieldExtractor, Option<Arc<UniqueField>>);

/// Decides whether deleting an object is graceful and for how long by default: `Some(seconds)`
/// for an object that must be stopped before it goes (a pod running on a node), `None` for
/// an ordinary deletion. See [`Store::set_graceful_deletion`].
pub type GracefulDeletion = Arc<dyn Fn(&dyn Object) -> Option<i64> + Send + Sync>;

/// The versioned object store. Cheap to clone: clones share one store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    /// Set on a handle of a leader-only controller or the scheduler of an engine in a
    /// leader election ([`Store::fenced`]): its writes to a remote source hold only while
    /// this engine still holds the election's Lease.
    fence: Option<Arc<remote::Fence>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("revision", &self.revision())
            .finish()
    }
}

/// A handle that does not keep the store alive: what an admission hook registered on a
/// store holds to read that store (a [`Store`] there would keep it alive forever).
#[derive(Clone)]
pub struct WeakStore {
    inner: std::sync::Weak<Inner>,
}

impl std::fmt::Debug for WeakStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakStore").finish()
    }
}

impl WeakStore {
    /// The store, unless it was dropped.
    pub fn upgrade(&self) -> Option<Store> {
        self.inner
            .upgrade()
            .map(|inner| Store { inner, fence: None })
    }
}

fn thin(a: &Arc<dyn Object>) -> *const () {
    Arc::as_ptr(a) as *const ()
}

fn same(a: &Option<Arc<dyn Object>>, b: &Option<Arc<dyn Object>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => thin(a) == thin(b),
        (None, None) => true,
        _ => false,
    }
}

fn obj_ref(info: &KindInfo, meta: &crate::api::ObjectMeta) -> ObjectRef {
    ObjectRef::new(&info.kind, meta.namespace.as_deref(), &meta.name)
}

fn conflict(info: &KindInfo, cur: &dyn Object, message: String) -> Error {
    Error::Conflict {
        object: obj_ref(info, cur.meta()),
        message,
    }
}

const GENERATE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

impl Store {
    /// A new store over `registry`. When the registry serves Namespaces, the store starts as
    /// a Kubernetes cluster does, with the Namespaces [`INITIAL_NAMESPACES`] (created in one
    /// write, revision 2); otherwise it is empty at revision 1.
    pub fn new(registry: Arc<Registry>, config: StoreConfig) -> Self {
        let store = Store::empty(registry, config);
        store.create_initial_namespaces();
        store
    }

    /// A store at revision 1 with nothing in it, not even the initial Namespaces.
    fn empty(registry: Arc<Registry>, config: StoreConfig) -> Self {
        let seed = RandomState::new().hash_one(0x5eed_u64);
        Store {
            fence: None,
            inner: Arc::new(Inner {
                registry,
                kinds: RwLock::new(HashMap::new()),
                revision: Arc::new(AtomicU64::new(1)),
                config,
                admission: RwLock::new(Vec::new()),
                field_indexes: RwLock::new(Vec::new()),
                uid_seed: seed,
                uid_counter: AtomicU64::new(0),
                watch_ids: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                graceful: RwLock::new(HashMap::new()),
                definitions: Mutex::new(()),
                backend: OnceLock::new(),
                remote: OnceLock::new(),
                applied: remote::Applied::default(),
                claims: Mutex::new(HashMap::new()),
                recovery: OnceLock::new(),
                history_floor: AtomicU64::new(0),
            }),
        }
    }

    /// The kind registry.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    /// The store's settings.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// A handle on the same store whose writes carry `fence` (see [`remote::Fence`]).
    pub(crate) fn fenced(&self, fence: remote::Fence) -> Store {
        Store {
            inner: self.inner.clone(),
            fence: Some(Arc::new(fence)),
        }
    }

    /// A handle to this store that does not keep it alive.
    pub fn downgrade(&self) -> WeakStore {
        WeakStore {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// The newest revision. The store starts at 1; every committed change adds exactly one.
    pub fn revision(&self) -> u64 {
        self.inner.revision.load(Ordering::Acquire)
    }

    /// Adds a field index to `kind`: objects are filed under what `extract` returns, and
    /// [`ListParams::field`] with `(name, value)` looks them up without a scan.
    pub fn add_field_index(&self, kind: &str, name: &str, extract: FieldExtractor) {
        self.add_index(kind, name, extract, None);
    }

    /// Makes `unique.field` of `kind` unique: a write that would give an object a value
    /// another object of the kind holds fails with [`Error::Invalid`] naming the field, and
    /// `unique.allocate` fills the field of objects that need a value and have none. Both
    /// happen as the write commits, under the kind's lock, so concurrent writers never share
    /// a value (see [`UniqueField`]). A value is free again once its holder is gone. The field
    /// is also a field index named `unique.field`. Register before objects of the kind exist:
    /// those already stored are not checked.
    pub fn add_unique_field(&self, kind: &str, unique: UniqueField) {
        let name = unique.field.clone();
        let extract = unique.extract.clone();
        self.add_index(kind, &name, extract, Some(Arc::new(unique)));
    }

    fn add_index(
        &self,
        kind: &str,
        name: &str,
        extract: FieldExtractor,
        unique: Option<Arc<UniqueField>>,
    ) {
        self.inner.field_indexes.write().push((
            kind.to_string(),
            name.to_string(),
            extract.clone(),
            unique.clone(),
        ));
        if let Some(ks) = self.inner.kinds.read().get(kind) {
            let mut st = ks.state.lock();
            st.add_field_index(name, extract, unique, &ks.objects);
        }
    }

    /// Makes deletions of `kind` graceful where `policy` says so, as kube-apiserver does for
    /// pods: deleting such an object with a grace period above zero (the request's, else the
    /// policy's default) only marks it with `deletionTimestamp` and
    /// `deletionGracePeriodSeconds`; it stays, visibly terminating, until whoever runs it
    /// (the node agent) has stopped it and deletes it again with a grace period of 0. A
    /// deletion with grace 0, or of an object the policy no longer applies to, removes it at
    /// once (finalizers permitting).
    pub fn set_graceful_deletion(&self, kind: &str, policy: GracefulDeletion) {
        self.inner.graceful.write().insert(kind.to_string(), policy);
    }

    /// The default grace period of deleting `obj`, if its deletion is graceful.
    fn graceful_default(&self, kind: &str, obj: &dyn Object) -> Option<i64> {
        let g = self.inner.graceful.read();
        if g.is_empty() {
            return None;
        }
        g.get(kind).and_then(|p| p(obj))
    }

    fn kind_store(&self, info: &Arc<KindInfo>) -> Arc<KindStore> {
        if let Some(ks) = self.inner.kinds.read().get(&info.kind) {
            return ks.clone();
        }
        let mut kinds = self.inner.kinds.write();
        kinds
            .entry(info.kind.clone())
            .or_insert_with(|| Arc::new(self.new_kind_store(info.clone())))
            .clone()
    }

    /// Puts `obj` at `key` of `ks` as loaded (a snapshot's, or a listing's of etcd): no
    /// change, no history; a definition's kind is published at once, so that the objects
    /// after it decode.
    fn load_object(&self, ks: &Arc<KindStore>, key: Key, obj: Arc<dyn Object>, size: usize) {
        let mut st = ks.state.lock();
        ks.objects.insert(
            key.clone(),
            Stored {
                obj: obj.clone(),
                size,
            },
        );
        st.reindex(&key, None, Some(obj.as_ref()));
        drop(st);
        if ks.info.kind == DEFINITION_KIND {
            self.publish(&[(obj, false)], &Staged::default());
        }
    }

    /// Closes every kind's history through `rev`: a watch from an older revision is
    /// Expired (the changes up to it are not known one by one).
    fn close_history_through(&self, rev: u64) {
        for ks in self.inner.kinds.read().values() {
            let mut st = ks.state.lock();
            st.compacted = st.compacted.max(rev);
        }
    }

    /// An empty kind store for `info`, with the field indexes registered for its kind.
    fn new_kind_store(&self, info: Arc<KindInfo>) -> KindStore {
        let ks = KindStore::new(info, self.inner.config.history_limit);
        {
            let mut st = ks.state.lock();
            st.compacted = self.inner.history_floor.load(Ordering::Acquire);
            for (k, name, ex, unique) in self.inner.field_indexes.read().iter() {
                if *k == ks.info.kind {
                    st.add_field_index(name, ex.clone(), unique.clone(), &ks.objects);
                }
            }
        }
        ks
    }

    fn kind_named(&self, kind: &str) -> Result<Arc<KindStore>> {
        if let Some(ks) = self.inner.kinds.read().get(kind) {
            return Ok(ks.clone());
        }
        match self.inner.registry.get(kind) {
            Some(info) => Ok(self.kind_store(&info)),
            None => Err(Error::NoMatch {
                object: ObjectRef::new(kind, None, ""),
                api_version: String::new(),
            }),
        }
    }

    /// The kind store of `obj`'s kind, which must be served in `obj`'s apiVersion (by the
    /// registry, or by a definition staged earlier in the same transaction).
    fn kind_of(&self, obj: &dyn Object) -> Result<Arc<KindStore>> {
        self.kind_in(obj, &Staged::default())
    }

    fn kind_in(&self, obj: &dyn Object, staged: &Staged) -> Result<Arc<KindStore>> {
        if obj.kind().is_empty() {
            return Err(Error::invalid(obj_ref_any(obj), "kind", "kind is required"));
        }
        // The write path's common case: a kind that no definition registered (built-in or
        // configured) is never unregistered, so its kind store alone says it is served.
        if let Some(ks) = self.inner.kinds.read().get(obj.kind()) {
            if ks.info.definition.is_none() && ks.info.serves(obj.api_version()) {
                return Ok(ks.clone());
            }
        }
        // For a defined kind the registry decides (a removed definition's kind store may
        // linger while it still holds objects, and a new definition may serve other
        // versions); the kind store is looked up after.
        if self
            .inner
            .registry
            .served(obj.api_version(), obj.kind())
            .is_none()
        {
            if let Some(ks) = staged.kind(obj.api_version(), obj.kind()) {
                return Ok(ks.clone());
            }
            return Err(Error::NoMatch {
                object: obj_ref_any(obj),
                api_version: obj.api_version().to_string(),
            });
        }
        if let Some(ks) = self.inner.kinds.read().get(obj.kind()) {
            return Ok(ks.clone());
        }
        let info = self
            .inner
            .registry
            .get(obj.kind())
            .ok_or_else(|| Error::no_match(obj.api_version(), obj.kind()))?;
        Ok(self.kind_store(&info))
    }

    /// Defaults the namespace of namespaced kinds to `default`, refuses one on cluster-scoped
    /// kinds, and requires a name.
    fn normalize(info: &KindInfo, meta: &mut crate::api::ObjectMeta) -> Result<()> {
        if info.namespaced {
            if meta.namespace.as_deref().is_none_or(str::is_empty) {
                meta.namespace = Some("default".to_string());
            }
        } else if meta.namespace.as_deref().is_some_and(|n| !n.is_empty()) {
            return Err(Error::invalid(
                obj_ref(info, meta),
                "metadata.namespace",
                format!("{} is cluster-scoped: namespace must not be set", info.kind),
            ));
        } else {
            meta.namespace = None;
        }
        if meta.name.is_empty() {
            return Err(Error::invalid(
                obj_ref(info, meta),
                "metadata.name",
                "name is required",
            ));
        }
        Ok(())
    }

    /// A new uid, unique within this store and random across stores, in UUID v4 form.
    fn new_uid(&self) -> String {
        let n = self.inner.uid_counter.fetch_add(1, Ordering::Relaxed);
        let a = splitmix(n ^ self.inner.uid_seed);
        let b = splitmix(a ^ n.rotate_left(17));
        let hi = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
        let lo = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0xffff,
            lo >> 48,
            lo & 0xffff_ffff_ffff
        )
    }

    fn generated_name(&self, prefix: &str) -> String {
        let mut x = splitmix(
            self.inner.uid_counter.fetch_add(1, Ordering::Relaxed)
                ^ self.inner.uid_seed.rotate_left(7),
        );
        let mut s = String::with_capacity(prefix.len() + 5);
        s.push_str(prefix);
        for _ in 0..5 {
            s.push(GENERATE_ALPHABET[(x % GENERATE_ALPHABET.len() as u64) as usize] as char);
            x /= GENERATE_ALPHABET.len() as u64;
        }
        s
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn obj_ref_any(obj: &dyn Object) -> ObjectRef {
    ObjectRef::new(
        obj.kind(),
        obj.meta().namespace.as_deref(),
        &obj.meta().name,
    )
}

/// Calls `f` with the store key of `namespace/name`, built on the stack: reads and updates
/// look objects up without allocating.
fn with_key<R>(
    info: &KindInfo,
    namespace: Option<&str>,
    name: &str,
    f: impl FnOnce(&str) -> R,
) -> R {
    if !info.namespaced {
        return f(name);
    }
    let ns = namespace.filter(|n| !n.is_empty()).unwrap_or("default");
    let len = ns.len() + 1 + name.len();
    let mut buf = [0u8; 320];
    if len > buf.len() {
        return f(&format!("{ns}/{name}"));
    }
    buf[..ns.len()].copy_from_slice(ns.as_bytes());
    buf[ns.len()] = b'/';
    buf[ns.len() + 1..len].copy_from_slice(name.as_bytes());
    f(std::str::from_utf8(&buf[..len]).expect("two UTF-8 strings joined by '/' are UTF-8"))
}

fn make_key(info: &KindInfo, namespace: Option<&str>, name: &str) -> Key {
    if info.namespaced {
        let ns = namespace.unwrap_or("default");
        let mut s = String::with_capacity(ns.len() + 1 + name.len());
        s.push_str(ns);
        s.push('/');
        s.push_str(name);
        Arc::from(s)
    } else {
        Arc::from(name)
    }
}
