//! The reconciler contract and the controller builder.
//!
//! A controller is a [`Reconciler`] (object key in, [`Action`] out) plus what it watches:
//! its primary kind ([`Controller::new`]), kinds it owns ([`Controller::owns`]: events on a
//! child enqueue its controller owner), and any other kind through a mapper
//! ([`Controller::watches`]). The runtime calls the reconciler on the engine's shared thread
//! pool, never for the same key on two threads at once; the reconciler reads the current
//! state from the store (level-triggered) and acts.

use crate::api::{DynamicObject, Object, Resource, Selector, Time};
use crate::client::events::{EventKind, EventRecorder};
use crate::client::{Api, DynamicApi};
use crate::clock::SharedClock;
use crate::error::Result;
use crate::runtime::queue::RateLimiterConfig;
use crate::store::Store;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Which object a reconcile is about: `namespace/name`, or `name` for cluster-scoped kinds.
///
/// Cheap to clone and hash: keys that come from the store share the store's own key string,
/// and a key's hash is computed once, when it is made (a key is hashed by every work queue
/// map it passes through, several times per reconcile). Equality and order are the
/// string's.
#[derive(Clone)]
pub struct ObjectKey(Arc<str>, u64);

/// The hash of a key string: SipHash with one random seed per process, so keys that clients
/// name cannot be chosen to collide.
fn key_hash(key: &str) -> u64 {
    use std::hash::BuildHasher;
    static SEED: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    SEED.get_or_init(Default::default).hash_one(key)
}

impl PartialEq for ObjectKey {
    fn eq(&self, other: &Self) -> bool {
        // Equal strings have equal hashes: the cheap test first.
        self.1 == other.1 && self.0 == other.0
    }
}

impl Eq for ObjectKey {}

impl std::hash::Hash for ObjectKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.1);
    }
}

/// Builds the hasher of the runtime's work queue key sets: an [`ObjectKey`] carries its
/// hash (a seeded SipHash of its string, see `key_hash`), which [`KeyHasher`] passes through
/// instead of hashing it once more in every set a key passes through.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KeyHashes;

impl std::hash::BuildHasher for KeyHashes {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

/// See [`KeyHashes`].
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    /// An [`ObjectKey`]'s one write: its own hash, kept as it is.
    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(26) ^ n;
    }

    /// Anything else (no key of the runtime's queues writes bytes): folded in, FxHash's way.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

impl PartialOrd for ObjectKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ObjectKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

impl ObjectKey {
    /// The key of `obj`.
    pub fn of(obj: &dyn Object) -> Self {
        Self::new(obj.meta().namespace.as_deref(), &obj.meta().name)
    }

    /// A key from parts (`None`: a cluster-scoped object).
    pub fn new(namespace: Option<&str>, name: &str) -> Self {
        match namespace.filter(|n| !n.is_empty()) {
            Some(ns) => {
                // Not `format!`: this runs for every key a controller queues.
                let mut key = String::with_capacity(ns.len() + 1 + name.len());
                key.push_str(ns);
                key.push('/');
                key.push_str(name);
                Self::from_store(key.into())
            }
            None => Self::from_store(name.into()),
        }
    }

    /// The store's key string, shared.
    pub(crate) fn from_store(key: Arc<str>) -> Self {
        let hash = key_hash(&key);
        ObjectKey(key, hash)
    }

    /// The namespace, `None` for cluster-scoped objects.
    pub fn namespace(&self) -> Option<&str> {
        self.0.split_once('/').map(|(ns, _)| ns)
    }

    /// The name.
    pub fn name(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(_, n)| n)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

/// What to do after a successful reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing until the object (or something mapped to it) changes.
    Done,
    /// Reconcile again after this long (clamped to the controller's maximum delay), even if
    /// nothing changes: for polling external state. The delay counts from when the reconcile
    /// began (as do retry backoffs), so a slow reconcile never pushes its deadline later.
    RequeueAfter(Duration),
}

impl Action {
    /// Nothing until something changes.
    pub fn done() -> Self {
        Action::Done
    }

    /// Reconcile again after `d`.
    pub fn requeue(d: Duration) -> Self {
        Action::RequeueAfter(d)
    }
}

/// Why a reconcile failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    /// Try again with per-key exponential backoff.
    #[error("{0}")]
    Retry(String),
    /// Retrying cannot help (the object is wrong): recorded and counted, then left until the
    /// object changes.
    #[error("terminal: {0}")]
    Terminal(String),
}

impl ReconcileError {
    /// A retryable error.
    pub fn retry(msg: impl fmt::Display) -> Self {
        ReconcileError::Retry(msg.to_string())
    }

    /// A terminal error.
    pub fn terminal(msg: impl fmt::Display) -> Self {
        ReconcileError::Terminal(msg.to_string())
    }
}

impl From<crate::Error> for ReconcileError {
    fn from(e: crate::Error) -> Self {
        ReconcileError::Retry(e.to_string())
    }
}

impl<E: fmt::Display> From<crate::runtime::finalizer::FinalizerError<E>> for ReconcileError {
    fn from(e: crate::runtime::finalizer::FinalizerError<E>) -> Self {
        ReconcileError::Retry(e.to_string())
    }
}

impl From<String> for ReconcileError {
    fn from(e: String) -> Self {
        ReconcileError::Retry(e)
    }
}

impl From<&str> for ReconcileError {
    fn from(e: &str) -> Self {
        ReconcileError::Retry(e.to_string())
    }
}

/// The outcome of one reconcile.
pub type ReconcileResult = Result<Action, ReconcileError>;

/// A reconcile loop: observe (read the store), compare, act. Must be idempotent.
///
/// Any `Fn(&Context) -> ReconcileResult` is a reconciler.
pub trait Reconciler: Send + Sync + 'static {
    /// Brings the object `ctx.key()` (of the controller's primary kind) towards its desired
    /// state. Called on a pool thread; never concurrently for the same key.
    fn reconcile(&self, ctx: &Context) -> ReconcileResult;
}

impl<F> Reconciler for F
where
    F: Fn(&Context) -> ReconcileResult + Send + Sync + 'static,
{
    fn reconcile(&self, ctx: &Context) -> ReconcileResult {
        self(ctx)
    }
}

/// What a reconcile gets: the key, and the engine's store, clock and event recorder.
pub struct Context {
    pub(crate) key: ObjectKey,
    pub(crate) retries: u32,
    /// What every reconcile of the controller shares: one reference count to move per
    /// reconcile, not six shared ones that the workers' cores would pass to each other.
    pub(crate) shared: Arc<ContextShared>,
}

/// The part of a [`Context`] that is the same for every reconcile of one controller.
pub(crate) struct ContextShared {
    pub(crate) kind: Arc<str>,
    pub(crate) api_version: Arc<str>,
    pub(crate) controller: Arc<str>,
    pub(crate) store: Store,
    pub(crate) clock: SharedClock,
    pub(crate) recorder: Arc<EventRecorder>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("controller", &self.shared.controller)
            .field("kind", &self.shared.kind)
            .field("key", &self.key)
            .finish()
    }
}

impl Context {
    /// The key being reconciled.
    pub fn key(&self) -> &ObjectKey {
        &self.key
    }

    /// The object's name.
    pub fn name(&self) -> &str {
        self.key.name()
    }

    /// The object's namespace (`None` for cluster-scoped kinds).
    pub fn namespace(&self) -> Option<&str> {
        self.key.namespace()
    }

    /// The controller's name.
    pub fn controller(&self) -> &str {
        &self.shared.controller
    }

    /// The primary kind.
    pub fn kind(&self) -> &str {
        &self.shared.kind
    }

    /// How many times in a row this key has failed before this call.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The object being reconciled as the store holds it now, or `None` if it is gone.
    pub fn object(&self) -> Option<Arc<dyn Object>> {
        self.shared
            .store
            .get(&self.shared.kind, self.key.namespace(), self.key.name())
            .ok()
    }

    /// The object as `K`, or `None` if it is gone (or is not a `K`).
    pub fn get<K: Resource>(&self) -> Option<Arc<K>> {
        self.object().and_then(|o| o.downcast_arc::<K>().ok())
    }

    /// Typed access to kind `K`, in the object's namespace.
    pub fn api<K: Resource>(&self) -> Api<K> {
        let api = Api::<K>::all(self.shared.store.clone());
        match self.key.namespace() {
            Some(ns) if K::NAMESPACED => api.namespace(ns),
            _ => api,
        }
    }

    /// Access to any served kind by name, in the object's namespace ([`Error::NoMatch`](crate::Error::NoMatch) for
    /// a kind the engine does not serve).
    pub fn dynamic(&self, api_version: &str, kind: &str) -> Result<DynamicApi> {
        let api = DynamicApi::new(self.shared.store.clone(), api_version, kind)?;
        Ok(match self.key.namespace() {
            Some(ns) if api.info().namespaced => api.namespace(ns),
            _ => api,
        })
    }

    /// Access to the primary kind by name (objects as [`DynamicObject`]s); an error only
    /// once the kind is no longer served (its CustomResourceDefinition was deleted).
    pub fn primary(&self) -> Result<DynamicApi> {
        self.dynamic(&self.shared.api_version, &self.shared.kind)
    }

    /// The primary object as a [`DynamicObject`], or `None` if it is gone.
    pub fn dynamic_object(&self) -> Option<Arc<DynamicObject>> {
        self.primary().ok()?.get(self.key.name()).ok()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The engine's clock.
    pub fn clock(&self) -> &SharedClock {
        &self.shared.clock
    }

    /// Wall-clock now, from the engine's clock.
    pub fn now(&self) -> Time {
        self.shared.clock.now()
    }

    /// The event recorder (writes core/v1 Events as this controller).
    pub fn recorder(&self) -> &EventRecorder {
        &self.shared.recorder
    }

    /// Records an Event about `object`; failures are logged, never returned (an event is
    /// never worth failing a reconcile for).
    pub fn event(&self, object: &dyn Object, kind: EventKind, reason: &str, message: &str) {
        if let Err(e) = self.shared.recorder.record(object, kind, reason, message) {
            log::debug!(
                "controller {}: recording event {reason}: {e}",
                self.shared.controller
            );
        }
    }
}

/// The default pacing threshold of [`Controller::pacing`].
pub const DEFAULT_PACING: Duration = Duration::from_millis(1);

/// A scope filter of [`Controller::filter`].
pub type ScopeFn = Arc<dyn Fn(&dyn Object) -> bool + Send + Sync>;

/// A custom predicate: `(old, new)`; `old` is `None` for creations and initial state.
pub type PredicateFn = Arc<dyn Fn(Option<&dyn Object>, &dyn Object) -> bool + Send + Sync>;

/// Decides whether a change of a watched object is worth a reconcile.
#[derive(Clone)]
pub enum Predicate {
    /// Creations, deletions, and changes of anything but status (the default for the
    /// primary kind: a controller that writes its own status does not wake itself up).
    IgnoreStatusOnly,
    /// Only when `metadata.generation` changed (plus creations and deletions).
    GenerationChanged,
    /// Only when labels changed (plus creations and deletions).
    LabelsChanged,
    /// Only when annotations changed (plus creations and deletions).
    AnnotationsChanged,
    /// Your own rule: `(old, new)`; `old` is `None` for creations and initial state, which it
    /// may filter too. A predicate that panics passes the change.
    Custom(PredicateFn),
}

impl fmt::Debug for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Predicate::IgnoreStatusOnly => f.write_str("IgnoreStatusOnly"),
            Predicate::GenerationChanged => f.write_str("GenerationChanged"),
            Predicate::LabelsChanged => f.write_str("LabelsChanged"),
            Predicate::AnnotationsChanged => f.write_str("AnnotationsChanged"),
            Predicate::Custom(_) => f.write_str("Custom"),
        }
    }
}

impl Predicate {
    /// Whether the change from `old` to `new` passes. `old` is `None` for a creation (and the
    /// initial state a controller starts from): the built-in predicates pass every creation,
    /// a [`Predicate::Custom`] one decides. Deletions are not filtered.
    pub fn passes(&self, old: Option<&dyn Object>, new: &dyn Object) -> bool {
        if let Predicate::Custom(f) = self {
            return f(old, new);
        }
        let Some(old) = old else { return true };
        let (o, n) = (old.meta(), new.meta());
        match self {
            Predicate::IgnoreStatusOnly => {
                !new.spec_eq(old)
                    || o.labels != n.labels
                    || o.annotations != n.annotations
                    || o.finalizers != n.finalizers
                    || o.owner_references != n.owner_references
                    || o.deletion_timestamp != n.deletion_timestamp
                    || o.generation != n.generation
            }
            Predicate::GenerationChanged => o.generation != n.generation,
            Predicate::LabelsChanged => o.labels != n.labels,
            Predicate::AnnotationsChanged => o.annotations != n.annotations,
            Predicate::Custom(_) => unreachable!("handled above"),
        }
    }
}

/// Maps an object of a watched kind to the primary keys to reconcile.
pub type Mapper = Arc<dyn Fn(&dyn Object) -> Vec<ObjectKey> + Send + Sync>;

/// A mapper that also reads the store (see [`Controller::watches_with_store`]).
pub type StoreMapper = Arc<dyn Fn(&Store, &dyn Object) -> Vec<ObjectKey> + Send + Sync>;

/// How a controller relates to one watched kind.
#[derive(Clone)]
pub(crate) enum Watched {
    /// Events on the primary kind enqueue the object itself.
    Primary,
    /// Events on an owned kind enqueue the controller owner of that kind.
    Owned,
    /// Events enqueue whatever the mapper returns; it is given the engine's store.
    Mapped(StoreMapper),
}

/// A controller ready to register with [`Engine::add_controller`](crate::Engine::add_controller)
/// or [`EngineBuilder::controller`](crate::EngineBuilder::controller).
///
/// ```
/// use steady::runtime::{Action, Context, Controller, ReconcileResult};
///
/// fn reconcile(ctx: &Context) -> ReconcileResult {
///     if let Some(obj) = ctx.dynamic_object() {
///         // compare obj.data["spec"] with the world and act...
///         let _ = obj;
///     }
///     Ok(Action::done())
/// }
///
/// // The kind must be served: registered here, or defined by a CustomResourceDefinition.
/// let engine = steady::Engine::builder()
///     .kind(steady::api::KindInfo::dynamic("example.com/v1", "Widget", true))
///     .build()
///     .unwrap();
/// engine.add_controller(Controller::new("widgets", "example.com/v1", "Widget").owns("ConfigMap").build(reconcile)).unwrap();
/// ```
pub struct Controller {
    pub(crate) name: String,
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) watches: Vec<(String, Watched)>,
    pub(crate) predicates: Vec<Predicate>,
    pub(crate) namespace: Option<String>,
    pub(crate) selector: Option<Selector>,
    pub(crate) filter: Option<ScopeFn>,
    pub(crate) concurrency: usize,
    pub(crate) rate_limiter: RateLimiterConfig,
    pub(crate) pacing: Option<Duration>,
    pub(crate) reconciler: Option<Arc<dyn Reconciler>>,
    pub(crate) trigger: Trigger,
    pub(crate) every_engine: bool,
}

impl fmt::Debug for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Controller")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field(
                "watches",
                &self
                    .watches
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("predicates", &self.predicates)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

impl Controller {
    /// A controller named `name` for the primary kind `kind` (served as `api_version`; a
    /// kind not yet known becomes a custom kind).
    pub fn new(name: &str, api_version: &str, kind: &str) -> Self {
        Controller {
            name: name.to_string(),
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            watches: vec![(kind.to_string(), Watched::Primary)],
            predicates: Vec::new(),
            namespace: None,
            selector: None,
            filter: None,
            concurrency: 1,
            rate_limiter: RateLimiterConfig::default(),
            pacing: Some(DEFAULT_PACING),
            reconciler: None,
            trigger: Trigger::default(),
            every_engine: false,
        }
    }

    /// Runs this controller on every engine sharing the store, leader or not (a node
    /// agent's work: what it reconciles belongs to this engine alone). By default a
    /// controller runs only on the engine that leads (see
    /// [`EngineBuilder::leader_election`](crate::engine::EngineBuilder::leader_election));
    /// an engine alone on its store always leads, so this changes nothing there.
    pub fn on_every_engine(mut self) -> Self {
        self.every_engine = true;
        self
    }

    /// A controller for the typed kind `K`.
    pub fn for_kind<K: Resource>(name: &str) -> Self {
        Self::new(name, K::API_VERSION, K::KIND)
    }

    /// Also reconcile the controller owner when an object of `kind` it owns changes
    /// (its ownerReference with `controller: true` whose kind is the primary kind).
    pub fn owns(mut self, kind: &str) -> Self {
        self.watches.push((kind.to_string(), Watched::Owned));
        self
    }

    /// [`Controller::owns`] for a typed kind.
    pub fn owns_kind<K: Resource>(self) -> Self {
        self.owns(K::KIND)
    }

    /// Also reconcile whatever `mapper` returns when an object of `kind` changes. When an
    /// update changed the object's labels, `mapper` also runs on the object as it was, so
    /// what selected it before hears of the change (as controller-runtime maps both).
    ///
    /// Mappers run on the engine's one informer thread, which serves every kind's watch:
    /// keep them quick (look up, never wait), as Kubernetes asks of informer event handlers.
    /// A mapper slow enough to let a watch fall behind costs a relist of that kind.
    pub fn watches<F>(self, kind: &str, mapper: F) -> Self
    where
        F: Fn(&dyn Object) -> Vec<ObjectKey> + Send + Sync + 'static,
    {
        self.watches_with_store(kind, move |_: &Store, o: &dyn Object| mapper(o))
    }

    /// [`Controller::watches`] with a mapper that reads the engine's store, e.g. to find the
    /// objects whose selector matches the changed one.
    pub fn watches_with_store<F>(mut self, kind: &str, mapper: F) -> Self
    where
        F: Fn(&Store, &dyn Object) -> Vec<ObjectKey> + Send + Sync + 'static,
    {
        self.watches
            .push((kind.to_string(), Watched::Mapped(Arc::new(mapper))));
        self
    }

    /// Filters changes of the primary kind: a change is reconciled when any predicate passes.
    /// Without one, [`Predicate::IgnoreStatusOnly`] applies.
    pub fn predicate(mut self, p: Predicate) -> Self {
        self.predicates.push(p);
        self
    }

    /// Only objects of the primary kind in `namespace`.
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_string());
        self
    }

    /// Only objects of the primary kind whose labels match.
    pub fn selector(mut self, selector: Selector) -> Self {
        self.selector = Some(selector);
        self
    }

    /// Only objects of the primary kind for which `f` holds, before or after a change (so an
    /// object that leaves the scope is reconciled once more, to let go of it): the role of a
    /// field selector, as the kubelet watches only the pods whose `spec.nodeName` is its node.
    /// `f` runs on the informer thread for every change of the kind: keep it cheap, and never
    /// let it block. A panic in it counts as false.
    pub fn filter<F>(mut self, f: F) -> Self
    where
        F: Fn(&dyn Object) -> bool + Send + Sync + 'static,
    {
        self.filter = Some(Arc::new(f));
        self
    }

    /// At most `n` keys of this controller reconciled at once (default 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Backoff and rate limit of failed reconciles.
    pub fn rate_limiter(mut self, config: RateLimiterConfig) -> Self {
        self.rate_limiter = config;
        self
    }

    /// Pacing of slow keys (default [`DEFAULT_PACING`], 1 ms; `None` turns it off): a key
    /// whose reconcile took at least this long is not reconciled again until as long again
    /// has passed on the engine clock, however often its objects change meanwhile (see
    /// [`WorkQueue::set_pacing`](super::queue::WorkQueue::set_pacing)). A reconcile over
    /// thousands of objects, woken by each of their changes, then uses about half of one
    /// worker instead of all of it, leaving the rest of the pool to the work that changes
    /// them. Off on a manual clock, where the time a reconcile takes is whatever the test
    /// advanced meanwhile.
    pub fn pacing(mut self, from: Option<Duration>) -> Self {
        self.pacing = from;
        self
    }

    /// A handle that queues keys for this controller from outside the store: process exits,
    /// probe results, the host's own events. It does nothing until the controller is
    /// registered on an engine, and nothing after the engine stops.
    pub fn trigger(&self) -> Trigger {
        self.trigger.clone()
    }

    /// Finishes the controller with its reconciler.
    pub fn build(mut self, reconciler: impl Reconciler) -> Self {
        self.reconciler = Some(Arc::new(reconciler));
        self
    }
}

/// Queues keys of one controller from outside the store (what controller-runtime calls a
/// channel source). Cheap to clone; safe to call from any thread, including from inside a
/// reconcile. Keys are deduplicated and excluded per key like any other.
#[derive(Clone, Default)]
pub struct Trigger {
    pub(crate) slot: Arc<std::sync::OnceLock<std::sync::Weak<super::manager::ControllerState>>>,
}

impl fmt::Debug for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trigger")
            .field("registered", &self.slot.get().is_some())
            .finish()
    }
}

impl Trigger {
    fn running(&self) -> Option<Arc<super::manager::ControllerState>> {
        self.slot
            .get()
            .and_then(|w| w.upgrade())
            .filter(|c| !c.is_stopped())
    }

    /// Queues `key` now. False when the controller is not (or no longer) running.
    pub fn enqueue(&self, key: ObjectKey) -> bool {
        match self.running() {
            Some(ctl) => {
                ctl.enqueue(key);
                true
            }
            None => false,
        }
    }

    /// Queues `key` once `delay` has passed on the engine clock. False when the controller
    /// is not (or no longer) running.
    pub fn enqueue_after(&self, key: ObjectKey, delay: Duration) -> bool {
        match self.running() {
            Some(ctl) => {
                ctl.enqueue_after(key, delay);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    /// The runtime's queues hash a key by the hash it carries: equal keys alike, whichever
    /// way they were made, and nothing hashed again.
    #[test]
    fn a_key_hashes_to_the_hash_it_carries() {
        let a = ObjectKey::new(Some("default"), "web");
        let b = ObjectKey::from_store("default/web".into());
        assert_eq!(a, b);
        assert_eq!(KeyHashes.hash_one(&a), a.1);
        assert_eq!(KeyHashes.hash_one(&a), KeyHashes.hash_one(&b));
        assert_ne!(
            KeyHashes.hash_one(&a),
            KeyHashes.hash_one(ObjectKey::new(Some("default"), "db"))
        );
    }
}
