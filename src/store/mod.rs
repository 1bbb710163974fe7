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

mod kind;
mod lifecycle;
pub mod persist;
mod watch;

pub use kind::{FieldExtractor, UniqueAllocator, UniqueField};
#[cfg(test)]
pub(crate) use lifecycle::ensure_namespaces;
pub use lifecycle::{INITIAL_NAMESPACES, NAMESPACE_FINALIZER};
pub use persist::{Durability, Persist, RecoveryReport, Truncation};
pub use watch::{Event, EventType, Watch, WatchCloser, WatchEvent, WatchSet};

use crate::api::validation::validate_meta;
use crate::api::{FieldError, KindInfo, Object, Registry, Selector};
use crate::clock::{SharedClock, SystemClock};
use crate::error::{Error, ObjectRef, Result};
use kind::{Key, KindState, KindStore, Stored, WatcherSlot};
use lifecycle::{Staged, DEFINITION_KIND};
use parking_lot::{Mutex, MutexGuard, RwLock};
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use watch::WatchShared;

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

/// What a write is; told to admission hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A create.
    Create,
    /// An update of spec and metadata.
    Update,
    /// An update of the status subresource.
    UpdateStatus,
    /// A deletion (the object is the one being deleted).
    Delete,
}

/// A write presented to admission hooks.
pub struct AdmissionRequest<'a> {
    /// What the write is.
    pub operation: Operation,
    /// The object as it will be stored (the object being deleted, for deletions).
    pub object: &'a dyn Object,
    /// The stored object being replaced, for updates.
    pub old: Option<&'a dyn Object>,
}

type MutateFn = dyn Fn(Operation, &mut dyn Object, Option<&dyn Object>) -> std::result::Result<(), String>
    + Send
    + Sync;
type ValidateFn = dyn Fn(&AdmissionRequest<'_>) -> std::result::Result<(), String> + Send + Sync;

enum Hook {
    Mutate(Arc<MutateFn>),
    Validate(Arc<ValidateFn>),
}

struct Admission {
    name: String,
    kind: Option<String>,
    hook: Hook,
}

/// How a deletion treats the object's dependents (see the garbage collector).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    /// Delete the object now; the garbage collector deletes dependents afterwards (default).
    #[default]
    Background,
    /// Delete dependents first: the object gets finalizer `foregroundDeletion`.
    Foreground,
    /// Keep dependents, removing their owner references: finalizer `orphan`.
    Orphan,
}

impl Propagation {
    /// The finalizer this policy adds, if any.
    pub fn finalizer(self) -> Option<&'static str> {
        match self {
            Propagation::Background => None,
            Propagation::Foreground => Some("foregroundDeletion"),
            Propagation::Orphan => Some("orphan"),
        }
    }
}

/// Options of a deletion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteParams {
    /// Delete only if the object still has this uid.
    pub uid: Option<String>,
    /// Delete only if the object is still at this resourceVersion.
    pub resource_version: Option<String>,
    /// What happens to dependents.
    pub propagation: Propagation,
    /// Grace period recorded in `metadata.deletionGracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
}

/// What a deletion did.
#[derive(Clone, Debug)]
pub enum Deleted {
    /// The object is gone; this was its last state.
    Gone(Arc<dyn Object>),
    /// The object has finalizers: it now carries a deletionTimestamp and goes when they are
    /// removed.
    Pending(Arc<dyn Object>),
}

impl Deleted {
    /// The object, gone or pending.
    pub fn object(&self) -> &Arc<dyn Object> {
        match self {
            Deleted::Gone(o) | Deleted::Pending(o) => o,
        }
    }
}

/// Which objects a list or watch selects.
#[derive(Clone, Debug, Default)]
pub struct ListParams {
    /// Only this namespace (`None`: all).
    pub namespace: Option<String>,
    /// Only objects whose labels match.
    pub selector: Option<Selector>,
    /// Only objects a field index files under a value: `("spec.nodeName", "node-1")`.
    pub field: Option<(String, String)>,
    /// Only objects with an owner reference to this uid.
    pub owner_uid: Option<String>,
}

/// A consistent list: every object of a kind matching the parameters at one revision.
#[derive(Clone, Debug)]
pub struct ObjectList {
    /// The objects, sorted by namespace and name.
    pub items: Vec<Arc<dyn Object>>,
    /// The revision the list was read at; watch from it to follow on without a gap.
    pub revision: u64,
}

/// Where a watch starts.
#[derive(Clone, Debug, Default)]
pub struct WatchParams {
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Only objects whose labels match (objects moving in or out are Added or Deleted).
    pub selector: Option<Selector>,
    /// `None`: first a synthetic Added event per current object (in no particular order),
    /// then live changes.
    /// `Some(r)`: every change after revision `r`, replayed from history; `r` beyond the
    /// store's revision is refused ([`Error::TooNew`]).
    pub since: Option<u64>,
    /// Deliver [`WatchEvent::Bookmark`]s when a `recv_timeout` finds nothing new.
    pub bookmarks: bool,
}

impl TxnOp {
    /// The kind the operation writes or checks.
    pub fn kind(&self) -> &str {
        match self {
            TxnOp::Create(o) | TxnOp::Update(o) | TxnOp::UpdateStatus(o) => o.kind(),
            TxnOp::Delete { kind, .. } | TxnOp::Check { kind, .. } => kind,
        }
    }
}

/// One operation of a [`Store::transaction`].
#[derive(Debug)]
pub enum TxnOp {
    /// Create the object.
    Create(Arc<dyn Object>),
    /// Update spec and metadata; compare-and-swap when it carries a resourceVersion.
    Update(Arc<dyn Object>),
    /// Update the status; compare-and-swap when it carries a resourceVersion.
    UpdateStatus(Arc<dyn Object>),
    /// Delete the object.
    Delete {
        /// Kind.
        kind: String,
        /// Namespace (`None`: `default` for namespaced kinds).
        namespace: Option<String>,
        /// Name.
        name: String,
        /// Preconditions and propagation.
        params: DeleteParams,
    },
    /// Write nothing, but commit only if the object is at this resourceVersion (or, with
    /// `None`, does not exist).
    Check {
        /// Kind.
        kind: String,
        /// Namespace.
        namespace: Option<String>,
        /// Name.
        name: String,
        /// Required resourceVersion; `None` requires absence.
        resource_version: Option<String>,
    },
}

/// A write ready to commit: apply `action` to `key` if the stored object is still `base`.
struct Write {
    ks: Arc<KindStore>,
    key: Key,
    /// The stored object the write was prepared against (`None`: must be absent).
    base: Option<Arc<dyn Object>>,
    action: Action,
    /// Whether a stale `base` is a conflict (the caller gave a precondition) or a retry.
    strict: bool,
    /// Upper bound of the new object's encoded length (for `Action::Put`).
    size: usize,
}

impl Write {
    /// A write that commits nothing but still requires `cur` to be current (a no-op).
    fn keep(ks: &Arc<KindStore>, key: Key, cur: Arc<dyn Object>, strict: bool) -> Write {
        Write {
            ks: ks.clone(),
            key,
            base: Some(cur),
            action: Action::Keep,
            strict,
            size: 0,
        }
    }
}

enum Action {
    /// The new object; not shared until it is committed.
    Put(Arc<dyn Object>),
    Remove,
    /// Nothing to write (a no-op update, or a check); `base` is still verified.
    Keep,
}

enum Outcome {
    Done(Option<Arc<dyn Object>>),
    Stale(Write),
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
        self.inner.upgrade().map(|inner| Store { inner })
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

    /// Registers a mutating admission hook: it may change objects before they are validated
    /// and stored. Hooks run in registration order, without any store lock held, for `kind`
    /// (or every kind with `None`). An `Err` refuses the write with [`Error::Denied`].
    pub fn add_mutating_hook<F>(&self, name: &str, kind: Option<&str>, hook: F)
    where
        F: Fn(Operation, &mut dyn Object, Option<&dyn Object>) -> std::result::Result<(), String>
            + Send
            + Sync
            + 'static,
    {
        self.inner.admission.write().push(Admission {
            name: name.to_string(),
            kind: kind.map(str::to_string),
            hook: Hook::Mutate(Arc::new(hook)),
        });
    }

    /// Registers a validating admission hook; it runs after every mutating hook.
    pub fn add_validating_hook<F>(&self, name: &str, kind: Option<&str>, hook: F)
    where
        F: Fn(&AdmissionRequest<'_>) -> std::result::Result<(), String> + Send + Sync + 'static,
    {
        self.inner.admission.write().push(Admission {
            name: name.to_string(),
            kind: kind.map(str::to_string),
            hook: Hook::Validate(Arc::new(hook)),
        });
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

    fn admit(
        &self,
        info: &KindInfo,
        op: Operation,
        obj: &mut dyn Object,
        old: Option<&dyn Object>,
    ) -> Result<()> {
        let hooks = self.inner.admission.read();
        if hooks.is_empty() {
            return Ok(());
        }
        let applies = |h: &&Admission| h.kind.as_deref().is_none_or(|k| k == info.kind);
        // Hooks are cloned out so none runs under the registry lock (a hook may register more).
        let mutators: Vec<(String, Arc<MutateFn>)> = hooks
            .iter()
            .filter(applies)
            .filter_map(|h| match &h.hook {
                Hook::Mutate(f) => Some((h.name.clone(), f.clone())),
                _ => None,
            })
            .collect();
        let validators: Vec<(String, Arc<ValidateFn>)> = hooks
            .iter()
            .filter(applies)
            .filter_map(|h| match &h.hook {
                Hook::Validate(f) => Some((h.name.clone(), f.clone())),
                _ => None,
            })
            .collect();
        drop(hooks);
        let deny = |name: &str, obj: &dyn Object, message: String| Error::Denied {
            object: obj_ref(info, obj.meta()),
            hook: name.to_string(),
            message,
        };
        for (name, f) in mutators {
            if op == Operation::Delete {
                break;
            }
            f(op, obj, old).map_err(|m| deny(&name, obj, m))?;
        }
        for (name, f) in validators {
            let req = AdmissionRequest {
                operation: op,
                object: obj,
                old,
            };
            f(&req).map_err(|m| deny(&name, obj, m))?;
        }
        Ok(())
    }

    /// Checks `obj` as a write would (metadata, kind-specific rules, size), without writing.
    pub fn validate(&self, obj: &dyn Object) -> Result<()> {
        let ks = self.kind_of(obj)?;
        self.validate_as(&ks.info, obj)
    }

    /// [`Store::validate`] of an object of the kind `info` describes, which need not be
    /// registered yet (a kind whose definition comes earlier in the same manifest).
    pub fn validate_as(&self, info: &KindInfo, obj: &dyn Object) -> Result<()> {
        self.validate_in(info, obj)?;
        self.check_size(info, obj, None).map(|_| ())
    }

    fn validate_in(&self, info: &KindInfo, obj: &dyn Object) -> Result<()> {
        let mut errors: Vec<FieldError> = validate_meta(obj.meta(), info.namespaced);
        obj.validate(&mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid {
                object: obj_ref(info, obj.meta()),
                errors,
            })
        }
    }

    /// Checks the object's encoded length against the limit and returns the bound to store
    /// with it. `bound`, when given, is an upper bound of the length derived from the stored
    /// version; only when it exceeds the limit is the object encoded to measure it exactly.
    fn check_size(&self, info: &KindInfo, obj: &dyn Object, bound: Option<usize>) -> Result<usize> {
        let limit = self.inner.config.max_object_bytes;
        if let Some(b) = bound.filter(|b| *b <= limit) {
            return Ok(b);
        }
        // The resourceVersion is written after measuring: leave room for its widest form.
        let size = obj.encoded_len() + 22;
        if size > limit {
            return Err(Error::TooLarge {
                object: obj_ref(info, obj.meta()),
                size,
                limit,
            });
        }
        Ok(size)
    }

    // ----- reads -----

    /// The object `kind` `namespace/name` (namespace ignored for cluster-scoped kinds;
    /// `None` means `default` for namespaced ones).
    pub fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Result<Arc<dyn Object>> {
        let ks = self.kind_named(kind)?;
        with_key(&ks.info, namespace, name, |k| ks.get(k)).ok_or_else(|| Error::NotFound {
            object: ObjectRef::new(
                kind,
                namespace.or(ks.info.namespaced.then_some("default")),
                name,
            ),
        })
    }

    /// A consistent list of `kind` at one revision.
    pub fn list(&self, kind: &str, params: &ListParams) -> Result<ObjectList> {
        let ks = self.kind_named(kind)?;
        let st = ks.state.lock();
        Ok(list_locked(&ks, &st, params, self.revision()))
    }

    /// Like [`Store::list`], with the items in no particular order: what a controller that
    /// counts or claims its children needs, without paying for sorting thousands of names.
    /// Still a consistent view of the kind at `revision`.
    pub fn list_unordered(&self, kind: &str, params: &ListParams) -> Result<ObjectList> {
        let ks = self.kind_named(kind)?;
        let st = ks.state.lock();
        let items = objects_locked(&ks, &st, params);
        Ok(ObjectList {
            items,
            revision: self.revision(),
        })
    }

    /// [`Store::list_unordered`] with each object's store key (`namespace/name`, or `name`
    /// for a cluster-scoped kind), shared rather than formatted again: what the controller
    /// runtime queues when it hands a newcomer the current objects.
    pub(crate) fn list_keyed(
        &self,
        kind: &str,
        params: &ListParams,
    ) -> Result<Vec<(Key, Arc<dyn Object>)>> {
        let ks = self.kind_named(kind)?;
        let st = ks.state.lock();
        let mut out = Vec::with_capacity(ks.objects.len());
        visit_locked(&ks, &st, params, |k, o| out.push((k.clone(), o.clone())));
        Ok(out)
    }

    /// Number of objects of `kind` (in every namespace) with an owner reference to the owner
    /// with uid `owner_uid`: the size of the owner index entry, without reading the objects.
    pub fn owned_count(&self, kind: &str, owner_uid: &str) -> Result<usize> {
        let ks = self.kind_named(kind)?;
        let st = ks.state.lock();
        Ok(st.by_owner(owner_uid).map_or(0, |s| s.len()))
    }

    /// Number of watches open on `kind`.
    pub fn watch_count(&self, kind: &str) -> usize {
        self.inner
            .kinds
            .read()
            .get(kind)
            .map_or(0, |k| k.state.lock().watchers.len())
    }

    /// Number of objects of `kind`.
    pub fn count(&self, kind: &str) -> usize {
        self.inner
            .kinds
            .read()
            .get(kind)
            .map_or(0, |k| k.objects.len())
    }

    // ----- writes -----

    /// Creates `obj`. The store assigns uid, resourceVersion, generation 1 and
    /// creationTimestamp, generates the name from `generateName` when the name is empty,
    /// and drops any status (status is written through [`Store::update_status`]).
    pub fn create(&self, obj: Arc<dyn Object>) -> Result<Arc<dyn Object>> {
        if obj.kind() == DEFINITION_KIND {
            return self.single(TxnOp::Create(obj));
        }
        let ks = self.kind_of(obj.as_ref())?;
        let generated = obj.meta().name.is_empty() && obj.meta().generate_name.is_some();
        let mut w = self.prepare_create(&ks, obj, &Staged::default())?;
        for _ in 0..8 {
            match self.commit_one(w)? {
                Outcome::Done(o) => return Ok(o.expect("a create writes an object")),
                Outcome::Stale(mut back) if generated => {
                    if let Action::Put(o) = &mut back.action {
                        let o = uniq(o);
                        let prefix = o.meta().generate_name.clone().unwrap_or_default();
                        o.meta_mut().name = self.generated_name(&prefix);
                        back.key =
                            make_key(&ks.info, o.meta().namespace.as_deref(), &o.meta().name);
                    }
                    w = back;
                }
                Outcome::Stale(back) => {
                    let Action::Put(o) = &back.action else {
                        unreachable!()
                    };
                    return Err(Error::AlreadyExists {
                        object: obj_ref(&ks.info, o.meta()),
                    });
                }
            }
        }
        Err(Error::AlreadyExists {
            object: ObjectRef::new(&ks.info.kind, None, "(generated name)"),
        })
    }

    /// Updates spec and metadata of `obj` (its status is ignored: the stored status is kept).
    /// With `metadata.resourceVersion` set, this is a compare-and-swap that fails with
    /// [`Error::Conflict`] unless the object is still at that revision; without it, the update
    /// applies to whatever is current. An update that changes nothing commits nothing.
    pub fn update(&self, obj: Arc<dyn Object>) -> Result<Arc<dyn Object>> {
        self.update_inner(obj, false)
    }

    /// [`Store::update`], of the status too with `with_status`.
    fn update_inner(&self, mut obj: Arc<dyn Object>, with_status: bool) -> Result<Arc<dyn Object>> {
        if obj.kind() == DEFINITION_KIND && !with_status {
            return self.single(TxnOp::Update(obj));
        }
        let ks = self.kind_of(obj.as_ref())?;
        Self::normalize(&ks.info, uniq(&mut obj).meta_mut())?;
        loop {
            let w = self.prepare_update(&ks, obj, with_status)?;
            match self.commit_one(w)? {
                Outcome::Done(o) => return Ok(o.expect("an update keeps or writes an object")),
                Outcome::Stale(back) => match back.action {
                    Action::Put(o) => obj = o,
                    _ => unreachable!("an update that was current needs no retry"),
                },
            }
        }
    }

    /// Replaces the status of the stored object with `obj`'s status; spec and metadata of
    /// `obj` are ignored. Compare-and-swap when `obj` carries a resourceVersion.
    pub fn update_status(&self, obj: &dyn Object) -> Result<Arc<dyn Object>> {
        let ks = self.kind_of(obj)?;
        loop {
            let w = self.prepare_status(&ks, obj)?;
            if let Outcome::Done(o) = self.commit_one(w)? {
                return Ok(o.expect("a status update keeps an object"));
            }
        }
    }

    /// Updates spec, metadata and status of `obj` in one write (one resourceVersion, one
    /// watch event): what kube-apiserver's binding subresource does when it sets a pod's
    /// `spec.nodeName` and its `PodScheduled` condition together. `obj` must carry a
    /// resourceVersion: this is always a compare-and-swap ([`Error::Conflict`] when the
    /// object changed since), so no status written meanwhile is overwritten.
    pub fn update_with_status(&self, obj: Arc<dyn Object>) -> Result<Arc<dyn Object>> {
        if obj.meta().resource_version.is_none() {
            let ks = self.kind_of(obj.as_ref())?;
            return Err(Error::invalid(
                obj_ref(&ks.info, obj.meta()),
                "metadata.resourceVersion",
                "an update of spec and status together needs the resourceVersion it was read at",
            ));
        }
        self.update_inner(obj, true)
    }

    /// Deletes `kind` `namespace/name`. An object with finalizers (or deleted with Foreground
    /// or Orphan propagation) is only marked with a deletionTimestamp: it goes when its
    /// finalizers are removed.
    pub fn delete(
        &self,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<Deleted> {
        let ks = self.kind_named(kind)?;
        if kind == DEFINITION_KIND {
            // Through a transaction: it unregisters the kind when the definition goes.
            let removing = ks.get(&make_key(&ks.info, None, name)).is_some_and(|c| {
                c.meta().finalizers.is_empty() && params.propagation.finalizer().is_none()
            });
            let o = self.single(TxnOp::Delete {
                kind: kind.to_string(),
                namespace: None,
                name: name.to_string(),
                params: params.clone(),
            })?;
            return Ok(if removing {
                Deleted::Gone(o)
            } else {
                Deleted::Pending(o)
            });
        }
        loop {
            let w = self.prepare_delete(&ks, namespace, name, params)?;
            let removing = matches!(w.action, Action::Remove);
            if let Outcome::Done(o) = self.commit_one(w)? {
                let o = o.expect("a deletion reports the object");
                return Ok(if removing {
                    Deleted::Gone(o)
                } else {
                    Deleted::Pending(o)
                });
            }
        }
    }

    /// Applies several writes atomically under one revision: either every operation commits
    /// or none does. Each operation's preconditions (resourceVersion, uid, absence) are
    /// checked against the state at commit time. Returns, per operation, the object written
    /// (for a deletion its last state; for a check, the object checked).
    pub fn transaction(&self, ops: Vec<TxnOp>) -> Result<Vec<Option<Arc<dyn Object>>>> {
        let defines = ops.iter().any(|op| op.kind() == DEFINITION_KIND);
        let _definitions = defines.then(|| self.inner.definitions.lock());
        loop {
            let mut writes = Vec::with_capacity(ops.len());
            let mut staged = Staged::default();
            for op in &ops {
                if let TxnOp::Delete { kind, name, .. } = op {
                    if kind == DEFINITION_KIND {
                        self.check_undefine(name)?;
                    }
                }
                let w = self.prepare_op(op, &staged)?;
                if defines || w.ks.info.kind == "Namespace" {
                    self.stage(&w, &mut staged)?;
                }
                writes.push(w);
            }
            let mut seen = std::collections::HashSet::with_capacity(writes.len());
            for a in &writes {
                if !seen.insert((Arc::as_ptr(&a.ks), a.key.clone())) {
                    return Err(Error::invalid(
                        ObjectRef::new(&a.ks.info.kind, None, &a.key),
                        "",
                        "a transaction may touch each object only once",
                    ));
                }
            }
            let backend = self.inner.backend.get();
            // A transaction is one log record, encoded before the locks (as in
            // `commit_one_durable`) and again under them if a kind fills unique fields.
            let writes_any = writes.iter().any(|w| !matches!(w.action, Action::Keep));
            let mut payload = match backend {
                Some(_) if writes_any => persist::replay::encode(&writes),
                _ => Vec::new(),
            };
            // Lock every kind involved, in ascending name order (see `kind` invariants).
            let mut kinds: Vec<Arc<KindStore>> = writes.iter().map(|w| w.ks.clone()).collect();
            kinds.sort_by(|a, b| a.info.kind.cmp(&b.info.kind));
            kinds.dedup_by(|a, b| Arc::ptr_eq(a, b));
            let mut guards: Vec<(&Arc<KindStore>, MutexGuard<'_, KindState>)> =
                kinds.iter().map(|k| (k, k.state.lock())).collect();
            let mut stale = None;
            for w in &writes {
                if !same(&w.ks.get(&w.key), &w.base) {
                    stale = Some(w);
                    break;
                }
            }
            if let Some(w) = stale {
                if w.strict {
                    return Err(stale_error(w));
                }
                drop(guards);
                continue;
            }
            // Unique fields, in write order: a value claimed by an earlier write of this
            // transaction is taken for the later ones.
            let mut claimed = Vec::new();
            let mut unique = false;
            for w in writes.iter_mut() {
                let st = &guards
                    .iter()
                    .find(|(k, _)| Arc::ptr_eq(k, &w.ks))
                    .expect("locked above")
                    .1;
                if st.has_unique() {
                    self.claim_unique(st, w, &mut claimed)?;
                    unique = true;
                }
            }
            // An allocated unique value is part of what is logged.
            if unique && backend.is_some() && writes_any {
                payload = persist::replay::encode(&writes);
            }
            // A transaction that writes nothing commits nothing: no revision is taken.
            let rev = match backend {
                _ if !writes_any => 0,
                None => self.inner.revision.fetch_add(1, Ordering::AcqRel) + 1,
                Some(b) => b.append(&self.inner.revision, &payload)?,
            };
            let mut out = Vec::with_capacity(writes.len());
            let mut definitions = Vec::new();
            let deferred = backend.is_some_and(|b| b.publishes_when_durable());
            for w in writes {
                let st = &mut guards
                    .iter_mut()
                    .find(|(k, _)| Arc::ptr_eq(k, &w.ks))
                    .expect("locked above")
                    .1;
                let defines = w.ks.info.kind == DEFINITION_KIND;
                let removed = matches!(w.action, Action::Remove);
                let o = if deferred {
                    let (o, ev) = apply_unpublished(w, st, rev);
                    st.unpublished.extend(ev);
                    o
                } else {
                    apply(w, st, rev)
                };
                if let Some(o) = o.as_ref().filter(|_| defines) {
                    definitions.push((o.clone(), removed));
                }
                out.push(o);
            }
            drop(guards);
            if defines {
                self.publish(&definitions, &staged);
            }
            if let Some(b) = backend.filter(|_| writes_any) {
                b.wait(rev)?;
                if deferred {
                    for k in &kinds {
                        k.state.lock().publish_durable(rev);
                    }
                }
            }
            return Ok(out);
        }
    }

    /// Checks `op` exactly as a write would (kind, namespace, admission hooks, validation,
    /// immutable fields, preconditions, size) and returns what it would write, committing
    /// nothing: a server-side dry run (`kubectl apply --dry-run=server`). A deletion returns
    /// the object as it would be marked, or as it is when it would go.
    pub fn dry_run(&self, op: &TxnOp) -> Result<Option<Arc<dyn Object>>> {
        if let TxnOp::Delete { kind, name, .. } = op {
            if kind == DEFINITION_KIND {
                self.check_undefine(name)?;
            }
        }
        let w = self.prepare_op(op, &Staged::default())?;
        Ok(match w.action {
            Action::Put(o) => Some(o),
            Action::Remove | Action::Keep => w.base,
        })
    }

    /// One write of a transaction through a transaction (the path that publishes kinds).
    fn single(&self, op: TxnOp) -> Result<Arc<dyn Object>> {
        let mut out = self.transaction(vec![op])?;
        Ok(out
            .pop()
            .flatten()
            .expect("a write of one object reports it"))
    }

    fn prepare_op(&self, op: &TxnOp, staged: &Staged) -> Result<Write> {
        match op {
            TxnOp::Create(o) => {
                let ks = self.kind_in(o.as_ref(), staged)?;
                self.prepare_create(&ks, o.clone_arc(), staged)
            }
            TxnOp::Update(o) => {
                let ks = self.kind_in(o.as_ref(), staged)?;
                let mut o = o.clone_arc();
                Self::normalize(&ks.info, uniq(&mut o).meta_mut())?;
                self.prepare_update(&ks, o, false)
            }
            TxnOp::UpdateStatus(o) => {
                let ks = self.kind_of(o.as_ref())?;
                self.prepare_status(&ks, o.as_ref())
            }
            TxnOp::Delete {
                kind,
                namespace,
                name,
                params,
            } => {
                let ks = self.kind_named(kind)?;
                self.prepare_delete(&ks, namespace.as_deref(), name, params)
            }
            TxnOp::Check {
                kind,
                namespace,
                name,
                resource_version,
            } => {
                let ks = self.kind_named(kind)?;
                let found = with_key(&ks.info, namespace.as_deref(), name, |k| ks.entry(k));
                let r = ObjectRef::new(kind, namespace.as_deref(), name);
                match (&found, resource_version) {
                    (None, Some(_)) => return Err(Error::NotFound { object: r }),
                    (Some(_), None) => return Err(Error::AlreadyExists { object: r }),
                    (Some((_, c)), Some(rv))
                        if c.obj.meta().resource_version.as_deref() != Some(rv) =>
                    {
                        return Err(conflict(
                            &ks.info,
                            c.obj.as_ref(),
                            rv_message(rv, c.obj.as_ref()),
                        ))
                    }
                    _ => {}
                }
                let (key, base) = match found {
                    Some((k, c)) => (k, Some(c.obj)),
                    None => (make_key(&ks.info, namespace.as_deref(), name), None),
                };
                Ok(Write {
                    ks,
                    key,
                    base,
                    action: Action::Keep,
                    strict: true,
                    size: 0,
                })
            }
        }
    }

    fn prepare_create(
        &self,
        ks: &Arc<KindStore>,
        mut obj: Arc<dyn Object>,
        staged: &Staged,
    ) -> Result<Write> {
        let info = &ks.info;
        let o = uniq(&mut obj);
        if o.meta().name.is_empty() {
            if let Some(prefix) = o.meta().generate_name.clone() {
                o.meta_mut().name = self.generated_name(&prefix);
            }
        }
        if o.api_version().is_empty() {
            return Err(Error::invalid(
                obj_ref(info, o.meta()),
                "apiVersion",
                "apiVersion is required",
            ));
        }
        Self::normalize(info, o.meta_mut())?;
        self.check_namespace(info, o, staged)?;
        if info.kind == "Namespace" && !o.meta().finalizers.iter().any(|f| f == NAMESPACE_FINALIZER)
        {
            o.meta_mut()
                .finalizers
                .push(NAMESPACE_FINALIZER.to_string());
        }
        let key = make_key(info, o.meta().namespace.as_deref(), &o.meta().name);
        {
            let now = self.inner.config.clock.now();
            let m = o.meta_mut();
            m.uid = Some(self.new_uid());
            m.resource_version = None;
            m.generation = Some(1);
            m.creation_timestamp = Some(now);
            m.deletion_timestamp = None;
            m.deletion_grace_period_seconds = None;
        }
        o.clear_status();
        // As kube-apiserver's namespace strategy: a new Namespace is Active from its creation
        // (not one write later, by the namespace controller).
        if let Some(ns) = o.as_any_mut().downcast_mut::<crate::api::Namespace>() {
            ns.status.get_or_insert_with(Default::default).phase = Some("Active".into());
        }
        o.set_defaults(true);
        self.admit(info, Operation::Create, o, None)?;
        self.validate_in(info, o)?;
        let size = self.check_size(info, o, None)?;
        Ok(Write {
            ks: ks.clone(),
            key,
            base: None,
            action: Action::Put(obj),
            strict: false,
            size,
        })
    }

    /// Prepares an update of spec and metadata, and of the status too with `with_status`
    /// (else the stored status is kept). `obj`'s namespace is already normalized.
    fn prepare_update(
        &self,
        ks: &Arc<KindStore>,
        mut obj: Arc<dyn Object>,
        with_status: bool,
    ) -> Result<Write> {
        let info = &ks.info;
        let (
            key,
            Stored {
                obj: cur,
                size: cur_size,
            },
            strict,
        ) = current_for(ks, obj.meta())?;
        let o = uniq(&mut obj);
        if !with_status {
            o.set_status_from(cur.as_ref());
        }
        let status_same = !with_status || o.status_eq(cur.as_ref());
        let c = cur.meta();
        {
            let m = o.meta_mut();
            m.uid = c.uid.clone();
            m.creation_timestamp = c.creation_timestamp;
            m.deletion_timestamp = c.deletion_timestamp;
            m.deletion_grace_period_seconds = c.deletion_grace_period_seconds;
            m.generation = c.generation;
            m.resource_version = c.resource_version.clone();
        }
        o.set_defaults(false);
        self.admit(info, Operation::Update, o, Some(cur.as_ref()))?;
        let spec_same = o.spec_eq(cur.as_ref());
        if c.deletion_timestamp.is_some() {
            if !spec_same {
                return Err(Error::invalid(
                    obj_ref(info, c),
                    "spec",
                    "the object is being deleted (metadata.deletionTimestamp is set): spec changes are refused",
                ));
            }
            if let Some(f) = o
                .meta()
                .finalizers
                .iter()
                .find(|f| !c.finalizers.contains(f))
            {
                return Err(Error::invalid(
                    obj_ref(info, c),
                    "metadata.finalizers",
                    format!("the object is being deleted: finalizer {f:?} cannot be added"),
                ));
            }
        }
        let meta_same = o.meta() == c;
        if spec_same && meta_same && status_same {
            return Ok(Write::keep(ks, key, cur, strict));
        }
        if !spec_same {
            o.meta_mut().generation = Some(c.generation.unwrap_or(0) + 1);
        }
        // What did not change was validated when it was written: check only what changed.
        let mut errors = Vec::new();
        if !meta_same && !validated_meta_eq(o.meta(), c) {
            errors = validate_meta(o.meta(), info.namespaced);
        }
        if !spec_same {
            o.validate(&mut errors);
            o.validate_update(cur.as_ref(), &mut errors);
        }
        if !errors.is_empty() {
            return Err(Error::Invalid {
                object: obj_ref(info, o.meta()),
                errors,
            });
        }
        // Only the metadata changed: the new encoding is at most the old one plus the new
        // metadata's (over-estimated) encoding.
        let bound = (spec_same && status_same).then(|| cur_size + meta_len_bound(o.meta()));
        let size = self.check_size(info, o, bound)?;
        let action = if o.meta().deletion_timestamp.is_some()
            && o.meta().finalizers.is_empty()
            && !self.awaits_grace(&info.kind, o)
        {
            Action::Remove
        } else {
            Action::Put(obj)
        };
        Ok(Write {
            ks: ks.clone(),
            key,
            base: Some(cur),
            action,
            strict,
            size,
        })
    }

    fn prepare_status(&self, ks: &Arc<KindStore>, input: &dyn Object) -> Result<Write> {
        let info = &ks.info;
        let (
            key,
            Stored {
                obj: cur,
                size: cur_size,
            },
            strict,
        ) = current_for(ks, input.meta())?;
        if input.status_eq(cur.as_ref()) {
            return Ok(Write::keep(ks, key, cur, strict));
        }
        let mut obj = cur.clone_arc();
        let o = uniq(&mut obj);
        o.set_status_from(input);
        self.admit(info, Operation::UpdateStatus, o, Some(cur.as_ref()))?;
        // Only the status changed (unless a hook changed more: then measure exactly).
        let bound = o
            .spec_eq(cur.as_ref())
            .then(|| cur_size + o.status_len() + 1);
        let size = self.check_size(info, o, bound)?;
        Ok(Write {
            ks: ks.clone(),
            key,
            base: Some(cur),
            action: Action::Put(obj),
            strict,
            size,
        })
    }

    fn prepare_delete(
        &self,
        ks: &Arc<KindStore>,
        namespace: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<Write> {
        let info = &ks.info;
        self.check_namespace_deletion(info, name)?;
        let Some((
            key,
            Stored {
                obj: cur,
                size: cur_size,
            },
        )) = with_key(info, namespace, name, |k| ks.entry(k))
        else {
            let ns = if info.namespaced {
                Some(namespace.unwrap_or("default"))
            } else {
                None
            };
            return Err(Error::NotFound {
                object: ObjectRef::new(&info.kind, ns, name),
            });
        };
        let strict = params.resource_version.is_some() || params.uid.is_some();
        check_preconditions(
            info,
            cur.as_ref(),
            params.resource_version.as_deref(),
            params.uid.as_deref(),
        )?;
        let mut extra_finalizer = params.propagation.finalizer();
        if extra_finalizer.is_some_and(|f| cur.meta().finalizers.iter().any(|x| x == f)) {
            extra_finalizer = None;
        }
        // Graceful deletion (pods on a node): the grace asked for, else the policy's default.
        let grace = self
            .graceful_default(&info.kind, cur.as_ref())
            .map(|default| params.grace_period_seconds.unwrap_or(default).max(0));
        let graceful = grace.is_some_and(|g| g > 0);
        if cur.meta().finalizers.is_empty() && extra_finalizer.is_none() && !graceful {
            let mut probe = cur.clone_boxed();
            self.admit(info, Operation::Delete, probe.as_mut(), None)?;
            return Ok(Write {
                ks: ks.clone(),
                key,
                base: Some(cur),
                action: Action::Remove,
                strict,
                size: 0,
            });
        }
        let shorter = |m: &crate::api::ObjectMeta| {
            grace.is_some_and(|g| m.deletion_grace_period_seconds.is_none_or(|c| g < c))
        };
        if cur.meta().deletion_timestamp.is_some()
            && extra_finalizer.is_none()
            && !shorter(cur.meta())
        {
            return Ok(Write::keep(ks, key, cur, strict));
        }
        let mut obj = cur.clone_arc();
        let o = uniq(&mut obj);
        {
            let m = o.meta_mut();
            if let Some(f) = extra_finalizer {
                m.finalizers.push(f.to_string());
            }
            // A second deletion may only shorten the grace period, as in Kubernetes.
            if m.deletion_timestamp.is_some() && shorter(m) {
                m.deletion_grace_period_seconds = grace;
            }
            if m.deletion_timestamp.is_none() {
                // As kube-apiserver does, marking for deletion bumps generation: controllers
                // that ignore status-only changes still see it.
                m.generation = Some(m.generation.unwrap_or(0) + 1);
                // Graceful: the time by which it should be gone, as kube-apiserver writes it.
                let now = self.inner.config.clock.now();
                m.deletion_timestamp = Some(match grace.filter(|&g| g > 0) {
                    Some(g) => now.plus(std::time::Duration::from_secs(g as u64)),
                    None => now,
                });
                m.deletion_grace_period_seconds = grace.or(params.grace_period_seconds).or(Some(0));
            }
        }
        lifecycle::mark_terminating(o);
        self.admit(info, Operation::Delete, o, Some(cur.as_ref()))?;
        // Only metadata changed (but for a Namespace's phase): bound from the stored size.
        let bound = (o.spec_eq(cur.as_ref()) && o.status_eq(cur.as_ref()))
            .then(|| cur_size + meta_len_bound(o.meta()));
        let size = self.check_size(info, o, bound)?;
        Ok(Write {
            ks: ks.clone(),
            key,
            base: Some(cur),
            action: Action::Put(obj),
            strict,
            size,
        })
    }

    /// True for an object marked for graceful deletion whose grace has not been cut to zero:
    /// it stays until its runner deletes it with grace 0, even with no finalizers left.
    fn awaits_grace(&self, kind: &str, o: &dyn Object) -> bool {
        o.meta().deletion_grace_period_seconds.unwrap_or(0) > 0
            && self.graceful_default(kind, o).is_some()
    }

    /// Commits one prepared write under its kind's lock.
    fn commit_one(&self, w: Write) -> Result<Outcome> {
        if let Some(backend) = self.inner.backend.get() {
            return self.commit_one_durable(w, backend.as_ref());
        }
        let ks = w.ks.clone();
        let (mut st, mut w) = match compare(&ks, w) {
            Ok(go) => go,
            Err(end) => return end,
        };
        if st.has_unique() {
            self.claim_unique(&st, &mut w, &mut Vec::new())?;
        }
        let rev = self.inner.revision.fetch_add(1, Ordering::AcqRel) + 1;
        Ok(Outcome::Done(apply(w, &mut st, rev)))
    }

    /// Fills and checks the unique fields of a write's object (see [`UniqueField`]). Caller
    /// holds the kind's lock `st`.
    fn claim_unique(
        &self,
        st: &KindState,
        w: &mut Write,
        claimed: &mut Vec<(String, String)>,
    ) -> Result<()> {
        let Action::Put(obj) = &mut w.action else {
            return Ok(());
        };
        let invalid = |e: FieldError, o: &dyn Object| Error::Invalid {
            object: obj_ref(&w.ks.info, o.meta()),
            errors: vec![e],
        };
        match st.claim_unique(&w.key, obj, claimed) {
            Ok(false) => Ok(()),
            // The allocator added a value: measure again.
            Ok(true) => {
                w.size = self.check_size(&w.ks.info, obj.as_ref(), None)?;
                Ok(())
            }
            Err(e) => Err(invalid(e, obj.as_ref())),
        }
    }

    /// [`Store::commit_one`] through a durable backend: the record is encoded and appended
    /// (taking the revision) under the kind's lock, after the unique fields were claimed
    /// (an allocated value is part of what is logged), and waited for after it. Kept apart
    /// so that the in-memory path stays as it was.
    #[cold]
    fn commit_one_durable(&self, w: Write, backend: &dyn persist::Backend) -> Result<Outcome> {
        // Encoded before the kind's lock: the JSON is most of a durable write's CPU, and
        // every writer of the kind would wait for it under the lock. The JSON's
        // resourceVersion is never read back (the record's revision is), so the object can
        // be encoded before its revision is known; one whose unique fields are filled at
        // commit is encoded again under the lock.
        let mut payload = match w.action {
            Action::Keep => Vec::new(),
            _ => persist::replay::encode([&w]),
        };
        let ks = w.ks.clone();
        let (mut st, mut w) = match compare(&ks, w) {
            Ok(go) => go,
            Err(end) => return end,
        };
        if st.has_unique() {
            self.claim_unique(&st, &mut w, &mut Vec::new())?;
            payload = persist::replay::encode([&w]);
        }
        let rev = backend.append(&self.inner.revision, &payload)?;
        let deferred = backend.publishes_when_durable();
        let out = if deferred {
            let (out, ev) = apply_unpublished(w, &mut st, rev);
            st.unpublished.extend(ev);
            out
        } else {
            apply(w, &mut st, rev)
        };
        drop(st);
        backend.wait(rev)?;
        if deferred {
            ks.state.lock().publish_durable(rev);
        }
        Ok(Outcome::Done(out))
    }

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

/// An upper bound of the length of `m`'s JSON encoding, computed without encoding it: every
/// string counted as if each byte needed a six-byte escape, plus room for every key and
/// punctuation.
fn meta_len_bound(m: &crate::api::ObjectMeta) -> usize {
    fn s(x: &str) -> usize {
        6 * x.len() + 40
    }
    fn o(x: &Option<String>) -> usize {
        x.as_deref().map_or(0, s)
    }
    let mut n = 200
        + s(&m.name)
        + o(&m.generate_name)
        + o(&m.namespace)
        + o(&m.uid)
        + o(&m.resource_version);
    n += m
        .labels
        .iter()
        .chain(m.annotations.iter())
        .map(|(k, v)| s(k) + s(v))
        .sum::<usize>();
    n += m.finalizers.iter().map(|f| s(f)).sum::<usize>();
    n += m
        .owner_references
        .iter()
        .map(|r| 200 + s(&r.api_version) + s(&r.kind) + s(&r.name) + s(&r.uid))
        .sum::<usize>();
    if !m.extra.is_empty() {
        n += crate::api::json_len(&m.extra) + 2;
    }
    n
}

/// True when the metadata fields that validation looks at are unchanged.
fn validated_meta_eq(a: &crate::api::ObjectMeta, b: &crate::api::ObjectMeta) -> bool {
    a.labels == b.labels
        && a.annotations == b.annotations
        && a.finalizers == b.finalizers
        && a.owner_references == b.owner_references
        && a.generate_name == b.generate_name
}

fn obj_ref_any(obj: &dyn Object) -> ObjectRef {
    ObjectRef::new(
        obj.kind(),
        obj.meta().namespace.as_deref(),
        &obj.meta().name,
    )
}

use crate::api::make_mut as uniq;

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

/// The stored entry a write of `meta` applies to, after checking its preconditions
/// (resourceVersion and uid, when given); also whether a stale entry is a conflict.
fn current_for(ks: &KindStore, meta: &crate::api::ObjectMeta) -> Result<(Key, Stored, bool)> {
    let info = &ks.info;
    let found = with_key(info, meta.namespace.as_deref(), &meta.name, |k| ks.entry(k));
    let Some((key, cur)) = found else {
        return Err(Error::NotFound {
            object: obj_ref(info, meta),
        });
    };
    check_preconditions(
        info,
        cur.obj.as_ref(),
        meta.resource_version.as_deref(),
        meta.uid.as_deref(),
    )?;
    Ok((key, cur, meta.resource_version.is_some()))
}

fn rv_message(expected: &str, cur: &dyn Object) -> String {
    format!(
        "the object has been modified: resourceVersion {expected} was given but the current one is {}; read it again and retry",
        cur.meta().resource_version.as_deref().unwrap_or("")
    )
}

fn check_preconditions(
    info: &KindInfo,
    cur: &dyn Object,
    rv: Option<&str>,
    uid: Option<&str>,
) -> Result<()> {
    if let Some(rv) = rv {
        if cur.meta().resource_version.as_deref() != Some(rv) {
            return Err(conflict(info, cur, rv_message(rv, cur)));
        }
    }
    if let Some(uid) = uid {
        if cur.meta().uid.as_deref() != Some(uid) {
            return Err(conflict(
                info,
                cur,
                format!(
                    "uid precondition failed: {uid} was given but the object's uid is {}",
                    cur.meta().uid.as_deref().unwrap_or("")
                ),
            ));
        }
    }
    Ok(())
}

/// The compare half of a single write's compare-and-swap: takes `ks`'s lock and returns it
/// with the write when the stored object is still the write's base, or how the commit ends
/// (stale: released before its error is built; nothing to write: done).
fn compare(
    ks: &KindStore,
    w: Write,
) -> std::result::Result<(MutexGuard<'_, KindState>, Write), Result<Outcome>> {
    let st = ks.state.lock();
    if !same(&ks.get(&w.key), &w.base) {
        drop(st);
        return Err(if w.strict {
            Err(stale_error(&w))
        } else {
            Ok(Outcome::Stale(w))
        });
    }
    if matches!(w.action, Action::Keep) {
        return Err(Ok(Outcome::Done(w.base)));
    }
    Ok((st, w))
}

fn stale_error(w: &Write) -> Error {
    let info = &w.ks.info;
    match (w.ks.get(&w.key), &w.base) {
        (Some(cur), None) => Error::AlreadyExists {
            object: obj_ref(info, cur.meta()),
        },
        (None, Some(base)) => Error::NotFound {
            object: obj_ref(info, base.meta()),
        },
        (Some(cur), Some(base)) => conflict(
            info,
            cur.as_ref(),
            rv_message(
                base.meta().resource_version.as_deref().unwrap_or(""),
                cur.as_ref(),
            ),
        ),
        (None, None) => Error::Conflict {
            object: ObjectRef::new(&info.kind, None, &w.key),
            message: "changed concurrently".into(),
        },
    }
}

/// Applies a verified write at revision `rev` and publishes it. Caller holds the kind's
/// lock.
#[inline]
fn apply(w: Write, st: &mut KindState, rev: u64) -> Option<Arc<dyn Object>> {
    let (o, ev) = apply_unpublished(w, st, rev);
    if let Some(ev) = ev {
        st.publish(ev);
    }
    o
}

/// Applies a verified write at revision `rev` and returns its event, not yet published.
/// Caller holds the kind's lock.
#[inline]
fn apply_unpublished(
    w: Write,
    st: &mut KindState,
    rev: u64,
) -> (Option<Arc<dyn Object>>, Option<Arc<Event>>) {
    let Write {
        ks,
        key,
        base,
        action,
        size,
        ..
    } = w;
    match action {
        Action::Keep => (base, None),
        Action::Put(mut obj) => {
            uniq(&mut obj).meta_mut().resource_version = Some(rev.to_string());
            ks.objects.insert(
                key.clone(),
                Stored {
                    obj: obj.clone(),
                    size,
                },
            );
            st.reindex(&key, base.as_deref(), Some(obj.as_ref()));
            let kind = if base.is_some() {
                EventType::Modified
            } else {
                EventType::Added
            };
            let ev = Arc::new(Event {
                revision: rev,
                kind,
                object: obj.clone(),
                prev: base,
                key: key.clone(),
            });
            (Some(obj), Some(ev))
        }
        Action::Remove => {
            let base = base.expect("a removal has a base");
            ks.objects.remove(&key);
            st.reindex(&key, Some(base.as_ref()), None);
            // The DELETED event carries the deletion's revision, as in Kubernetes.
            let mut last = base.clone_arc();
            uniq(&mut last).meta_mut().resource_version = Some(rev.to_string());
            let ev = Arc::new(Event {
                revision: rev,
                kind: EventType::Deleted,
                object: last.clone(),
                prev: Some(base),
                key: key.clone(),
            });
            (Some(last), Some(ev))
        }
    }
}

/// Lists under the kind's lock, so the result is the state at exactly `revision`.
fn list_locked(ks: &KindStore, st: &KindState, p: &ListParams, revision: u64) -> ObjectList {
    let mut items = objects_locked(ks, st, p);
    items.sort_unstable_by(|a, b| {
        (a.meta().namespace_str(), a.meta().name.as_str())
            .cmp(&(b.meta().namespace_str(), b.meta().name.as_str()))
    });
    ObjectList { items, revision }
}

/// The matching objects with their keys, in no particular order. Caller holds the kind lock.
fn select_locked(ks: &KindStore, st: &KindState, p: &ListParams) -> Vec<(Key, Arc<dyn Object>)> {
    let mut out = Vec::new();
    visit_locked(ks, st, p, |k, o| out.push((k.clone(), o.clone())));
    out
}

/// The matching objects, in no particular order. Caller holds the kind lock.
fn objects_locked(ks: &KindStore, st: &KindState, p: &ListParams) -> Vec<Arc<dyn Object>> {
    let mut out = Vec::new();
    visit_locked(ks, st, p, |_, o| out.push(o.clone()));
    out
}

/// Calls `f` with every object matching `p` and its key, in no particular order. Caller holds
/// the kind lock, so the objects visited are the state at one revision.
///
/// The narrowest index that applies (owner, field, label equality) gives the candidates;
/// when even that holds more than half of the kind, one pass over the objects is cheaper
/// than a lookup per candidate (a ReplicaSet's selector matches every pod of a large
/// Deployment).
fn visit_locked(
    ks: &KindStore,
    st: &KindState,
    p: &ListParams,
    mut f: impl FnMut(&Key, &Arc<dyn Object>),
) {
    let ns = p.namespace.as_deref().filter(|n| !n.is_empty());
    let matches = |o: &dyn Object| {
        ns.is_none_or(|n| o.meta().namespace_str() == n)
            && p.selector
                .as_ref()
                .is_none_or(|s| s.matches(&o.meta().labels))
            && p.owner_uid
                .as_deref()
                .is_none_or(|u| o.meta().owner_references.iter().any(|r| r.uid == u))
            && p.field
                .as_ref()
                .is_none_or(|(f, v)| st.field_value(f, o) == Some(v.as_str()))
    };
    // The narrowest index entry that applies. An index without an entry for the value
    // means nothing matches.
    let lookups = p
        .owner_uid
        .as_ref()
        .map(|uid| st.by_owner(uid))
        .into_iter()
        .chain(p.field.as_ref().and_then(|(f, v)| st.by_field(f, v)))
        .chain(
            p.selector
                .iter()
                .flat_map(|sel| sel.equality_pairs())
                .map(|(k, v)| st.by_label(k, v)),
        );
    let mut candidates: Option<&std::collections::HashSet<Key>> = None;
    for set in lookups {
        let Some(set) = set else { return };
        if candidates.is_none_or(|c| set.len() < c.len()) {
            candidates = Some(set);
        }
    }
    match candidates {
        Some(keys) if keys.len() * 2 <= ks.objects.len() => {
            for k in keys {
                if let Some(e) = ks.objects.get(k) {
                    let o = &e.value().obj;
                    if matches(o.as_ref()) {
                        f(k, o);
                    }
                }
            }
        }
        _ => {
            for e in ks.objects.iter() {
                let o = &e.value().obj;
                if matches(o.as_ref()) {
                    f(e.key(), o);
                }
            }
        }
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ConfigMap;

    #[test]
    fn an_unordered_list_holds_what_the_sorted_list_holds() {
        let registry = Arc::new(Registry::new());
        crate::api::register_builtins(&registry);
        let store = Store::new(registry, StoreConfig::default());
        ensure_namespaces(&store, &["a", "b", "c"]);
        for (ns, name) in [("b", "x"), ("a", "y"), ("a", "x"), ("c", "a")] {
            let mut cm = ConfigMap::default();
            cm.metadata.name = name.into();
            cm.metadata.namespace = Some(ns.into());
            cm.metadata.labels.insert("k".into(), ns.into());
            store.create(Arc::new(cm)).unwrap();
        }
        let keys = |l: &ObjectList| {
            let mut k: Vec<(String, String)> = l
                .items
                .iter()
                .map(|o| (o.meta().namespace_str().to_string(), o.meta().name.clone()))
                .collect();
            k.sort();
            k
        };
        for params in [
            ListParams::default(),
            ListParams {
                namespace: Some("a".into()),
                ..Default::default()
            },
            ListParams {
                selector: Some(Selector::parse("k in (b,c)").unwrap()),
                ..Default::default()
            },
        ] {
            let sorted = store.list("ConfigMap", &params).unwrap();
            let unordered = store.list_unordered("ConfigMap", &params).unwrap();
            assert_eq!(keys(&sorted), keys(&unordered));
            assert_eq!(sorted.revision, unordered.revision);
        }
    }

    #[test]
    fn owned_count_is_the_number_of_dependents_in_the_owner_index() {
        let registry = Arc::new(Registry::new());
        crate::api::register_builtins(&registry);
        let store = Store::new(registry, StoreConfig::default());
        let reference = |uid: &str| crate::api::OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: "owner".into(),
            uid: uid.into(),
            ..Default::default()
        };
        for (name, uids) in [("a", vec!["u1"]), ("b", vec!["u1", "u2"]), ("c", vec![])] {
            let mut cm = ConfigMap::default();
            cm.metadata.name = name.into();
            cm.metadata.owner_references = uids.into_iter().map(reference).collect();
            store.create(Arc::new(cm)).unwrap();
        }
        assert_eq!(store.owned_count("ConfigMap", "u1").unwrap(), 2);
        assert_eq!(store.owned_count("ConfigMap", "u2").unwrap(), 1);
        assert_eq!(store.owned_count("ConfigMap", "u3").unwrap(), 0);
        store
            .delete("ConfigMap", None, "b", &DeleteParams::default())
            .unwrap();
        assert_eq!(store.owned_count("ConfigMap", "u1").unwrap(), 1);
    }
}
