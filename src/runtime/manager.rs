//! The runtime proper: informers, the shared worker pool and the timer.

use super::controller::{
    Context, Controller, KeyHashes, ObjectKey, Predicate, ReconcileError, Watched,
};
use super::metrics::{Counter, Histogram, MetricsRegistry, RECONCILE_TIME_BUCKETS};
use super::queue::{QueueMetrics, WorkQueue};
use super::signal::Signal;
use super::Action;
use crate::api::{Object, Selector};
use crate::client::events::{EventKind, EventRecorder};
use crate::client::leader::Leadership;
use crate::clock::SharedClock;
use crate::error::{Error, Result};
use crate::store::{Store, WatchEvent, WatchParams};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Settings of the controller runtime.
#[derive(Clone, Debug)]
pub(crate) struct ManagerConfig {
    /// Worker threads shared by all controllers.
    pub workers: usize,
    /// How long shutdown waits for running reconciles.
    pub shutdown_grace: Duration,
    /// Longest delay a reconciler may ask for with `Action::RequeueAfter`.
    pub max_requeue: Duration,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            shutdown_grace: Duration::from_secs(30),
            max_requeue: Duration::from_secs(24 * 3600),
        }
    }
}

/// Per-controller metric handles, named as controller-runtime names them. Updating one is
/// an atomic operation; the registry is only locked to register them.
struct Counters {
    success: Counter,
    requeue_after: Counter,
    error: Counter,
    errors: Counter,
    terminal: Counter,
    panics: Counter,
    reconcile_time: Histogram,
    adds: Counter,
    retries: Counter,
}

impl Counters {
    fn register(m: &MetricsRegistry, name: &str) -> Counters {
        let ctl = [("controller", name)];
        let total = |result: &str| {
            m.counter(
                "controller_runtime_reconcile_total",
                "Total number of reconciliations per controller",
                &[("controller", name), ("result", result)],
            )
        };
        Counters {
            success: total("success"),
            requeue_after: total("requeue_after"),
            error: total("error"),
            errors: m.counter(
                "controller_runtime_reconcile_errors_total",
                "Total number of reconciliation errors per controller",
                &ctl,
            ),
            terminal: m.counter(
                "controller_runtime_terminal_reconcile_errors_total",
                "Total number of terminal reconciliation errors per controller",
                &ctl,
            ),
            panics: m.counter(
                "controller_runtime_reconcile_panics_total",
                "Total number of reconciliation panics per controller",
                &ctl,
            ),
            reconcile_time: m.histogram(
                "controller_runtime_reconcile_time_seconds",
                "Length of time per reconciliation per controller",
                &ctl,
                RECONCILE_TIME_BUCKETS,
            ),
            adds: m.counter(
                "workqueue_adds_total",
                "Total number of adds handled by workqueue",
                &[("name", name)],
            ),
            retries: m.counter(
                "workqueue_retries_total",
                "Total number of retries handled by workqueue",
                &[("name", name)],
            ),
        }
    }
}

/// Gauges computed from the controller's state when metrics are read.
fn register_gauges(m: &MetricsRegistry, ctl: &Arc<ControllerState>) {
    let name: &str = &ctl.name;
    let c = ctl.clone();
    m.gauge_fn(
        "controller_runtime_active_workers",
        "Number of currently used workers per controller",
        &[("controller", name)],
        move || c.active.load(Ordering::Relaxed) as f64,
    );
    type Get = fn(&QueueMetrics) -> f64;
    let q: [(&str, &str, Get); 4] = [
        ("workqueue_depth", "Current depth of workqueue", |q| {
            q.depth as f64
        }),
        (
            "workqueue_queue_longest_waiting_seconds",
            "How long the oldest ready item has been waiting",
            |q| q.longest_waiting.as_secs_f64(),
        ),
        (
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has been done that is in progress",
            |q| q.unfinished_work.as_secs_f64(),
        ),
        (
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor been running",
            |q| q.longest_running.as_secs_f64(),
        ),
    ];
    for (metric, help, get) in q {
        let c = ctl.clone();
        m.gauge_fn(metric, help, &[("name", name)], move || {
            get(&c.queue.metrics())
        });
    }
}

pub(crate) struct ControllerState {
    name: Arc<str>,
    kind: Arc<str>,
    queue: WorkQueue<ObjectKey, KeyHashes>,
    reconciler: Arc<dyn super::Reconciler>,
    concurrency: usize,
    active: AtomicUsize,
    predicates: Vec<Predicate>,
    namespace: Option<String>,
    selector: Option<Selector>,
    filter: Option<super::controller::ScopeFn>,
    counters: Counters,
    /// Runs whether or not this engine leads ([`Controller::on_every_engine`]).
    every_engine: bool,
    /// Keys dropped while this engine followed: queued again on election, with every
    /// primary object (a key of an object deleted meanwhile is only here).
    parked: Mutex<std::collections::HashSet<ObjectKey>>,
    /// What each reconcile's [`Context`] shares (the store: fenced for a leader-only
    /// controller, see `Inner::leader_store`).
    context: Arc<super::controller::ContextShared>,
}

struct Subscriber {
    ctl: Arc<ControllerState>,
    role: Watched,
}

struct Informer {
    subscribers: RwLock<Vec<Subscriber>>,
}

struct Inner {
    store: Store,
    clock: SharedClock,
    config: ManagerConfig,
    controllers: RwLock<Vec<Arc<ControllerState>>>,
    informers: Mutex<HashMap<String, Arc<Informer>>>,
    /// The informer thread's mailbox, and the thread to unpark after a message: one thread
    /// serves every kind's watch (started with the first informer).
    hub: Mutex<Option<(crossbeam_channel::Sender<HubMsg>, std::thread::Thread)>>,
    work: Signal,
    timer: Signal,
    stopping: AtomicBool,
    cursor: AtomicUsize,
    workers: Mutex<Vec<JoinHandle<()>>>,
    background: Mutex<Vec<JoinHandle<()>>>,
    metrics: MetricsRegistry,
    /// Whether this engine leads: a follower reconciles only controllers that run on every
    /// engine, and drops the other keys (they are all queued again when it starts leading).
    leadership: Arc<Leadership>,
    /// The store as the reconcilers of leader-only controllers get it: in a leader
    /// election, fenced by its Lease (see [`crate::store::Fence`]), so a reconcile still
    /// running when this engine's lead ended cannot write; else `store` itself.
    leader_store: Store,
}

/// The controller runtime of one engine: the controller manager that runs every controller
/// on one worker pool (kube-controller-manager's role; controller-runtime's Manager).
#[derive(Clone)]
pub(crate) struct ControllerManager {
    inner: Arc<Inner>,
}

/// Registers controllers on an engine's runtime from wherever a host or a controller needs
/// to: a [`Registry`](crate::api::Registry) hook that gives every kind registered later a
/// controller of its own (the garbage collector registers its controllers so), another
/// controller's reconcile, a thread of the host. From [`Engine::controllers`].
///
/// Cheap to clone, and it does not keep the runtime alive: once the engine shut down,
/// [`ControllerRegistrar::add`] returns [`Error::Closed`].
///
/// [`Engine::controllers`]: crate::Engine::controllers
#[derive(Clone)]
pub struct ControllerRegistrar {
    inner: std::sync::Weak<Inner>,
}

impl std::fmt::Debug for ControllerRegistrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerRegistrar")
            .field("running", &(self.inner.strong_count() > 0))
            .finish()
    }
}

impl ControllerRegistrar {
    /// Registers and starts `controller`, as [`Engine::add_controller`] does: it first
    /// reconciles every existing object of its primary kind.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after shutdown; [`Error::AlreadyExists`] for a controller name
    /// taken; an error naming the kind when a kind it reconciles or watches is not served.
    ///
    /// [`Engine::add_controller`]: crate::Engine::add_controller
    pub fn add(&self, controller: Controller) -> Result<()> {
        match self.inner.upgrade() {
            Some(inner) => ControllerManager { inner }.add(controller),
            None => Err(Error::Closed),
        }
    }
}

impl ControllerManager {
    /// A handle that registers controllers on this runtime without keeping it alive.
    pub(crate) fn registrar(&self) -> ControllerRegistrar {
        ControllerRegistrar {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// Starts the worker pool and the timer.
    pub(crate) fn start(
        store: Store,
        clock: SharedClock,
        config: ManagerConfig,
        metrics: MetricsRegistry,
        leadership: Arc<Leadership>,
    ) -> ControllerManager {
        let rt = ControllerManager {
            inner: Arc::new(Inner {
                clock: clock.clone(),
                config,
                controllers: RwLock::new(Vec::new()),
                informers: Mutex::new(HashMap::new()),
                hub: Mutex::new(None),
                work: Signal::default(),
                timer: Signal::default(),
                stopping: AtomicBool::new(false),
                cursor: AtomicUsize::new(0),
                workers: Mutex::new(Vec::new()),
                background: Mutex::new(Vec::new()),
                metrics,
                leader_store: match leadership.fence() {
                    Some(f) => store.fenced(f),
                    None => store.clone(),
                },
                store,
                leadership: leadership.clone(),
            }),
        };
        // Elected: every key a follower dropped is queued again.
        let weak = Arc::downgrade(&rt.inner);
        leadership.on_change(Arc::new(move |leading| {
            if let Some(inner) = weak.upgrade() {
                if leading {
                    ControllerManager { inner }.queue_all_of_followers();
                }
            }
        }));
        // A manual clock moves by hand: wake the timer when it does.
        let weak = Arc::downgrade(&rt.inner);
        clock.on_advance(Arc::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.timer.notify_all();
            }
        }));
        for i in 0..rt.inner.config.workers.max(1) {
            let inner = rt.inner.clone();
            let h = std::thread::Builder::new()
                .name(format!("steady-worker-{i}"))
                .spawn(move || worker(&inner))
                .expect("spawning a worker thread");
            rt.inner.workers.lock().push(h);
        }
        let inner = rt.inner.clone();
        let h = std::thread::Builder::new()
            .name("steady-timer".into())
            .spawn(move || timer(&inner))
            .expect("spawning the timer thread");
        rt.inner.background.lock().push(h);
        rt
    }

    /// Registers and starts a controller.
    pub(crate) fn add(&self, c: Controller) -> Result<()> {
        let inner = &self.inner;
        if inner.stopping.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let Some(reconciler) = c.reconciler.clone() else {
            return Err(Error::invalid(
                crate::ObjectRef::new("Controller", None, &c.name),
                "reconciler",
                "call Controller::build with a reconciler before registering it",
            ));
        };
        if inner.controllers.read().iter().any(|x| *x.name == c.name) {
            return Err(Error::AlreadyExists {
                object: crate::ObjectRef::new("Controller", None, &c.name),
            });
        }
        // Kinds must be served before they are reconciled or watched.
        let registry = inner.store.registry();
        if registry.served(&c.api_version, &c.kind).is_none() {
            return Err(Error::no_match(&c.api_version, &c.kind));
        }
        for (kind, _) in &c.watches {
            if registry.get(kind).is_none() {
                return Err(Error::invalid(
                    crate::ObjectRef::new("Controller", None, &c.name),
                    "watches",
                    format!("unknown kind {kind:?}: register it on the engine builder first"),
                ));
            }
        }
        let queue = WorkQueue::with_hasher(c.rate_limiter.clone(), inner.clock.clone());
        // Pacing measures work in wall time: on a manual clock a reconcile "takes" whatever
        // the test advanced meanwhile, so there it is off.
        queue.set_pacing(c.pacing.filter(|_| !inner.clock.is_manual()));
        let weak = Arc::downgrade(inner);
        queue.set_notify(Arc::new(move || {
            if let Some(i) = weak.upgrade() {
                i.work.notify_one();
            }
        }));
        // A new earliest deadline must wake the timer, or it would sleep past it.
        let weak = Arc::downgrade(inner);
        queue.set_deadline_notify(Arc::new(move || {
            if let Some(i) = weak.upgrade() {
                i.timer.notify_all();
            }
        }));
        let predicates = if c.predicates.is_empty() {
            vec![Predicate::IgnoreStatusOnly]
        } else {
            c.predicates.clone()
        };
        let (name, kind, api_version): (Arc<str>, Arc<str>, Arc<str>) = (
            c.name.as_str().into(),
            c.kind.as_str().into(),
            c.api_version.as_str().into(),
        );
        let recorder = Arc::new(EventRecorder::new(
            inner.store.clone(),
            &c.name,
            inner.clock.clone(),
        ));
        let context = Arc::new(super::controller::ContextShared {
            kind: kind.clone(),
            api_version: api_version.clone(),
            controller: name.clone(),
            store: if c.every_engine {
                inner.store.clone()
            } else {
                inner.leader_store.clone()
            },
            clock: inner.clock.clone(),
            recorder,
        });
        let ctl = Arc::new(ControllerState {
            name,
            kind,
            queue,
            reconciler,
            concurrency: c.concurrency.max(1),
            active: AtomicUsize::new(0),
            predicates,
            namespace: c.namespace.clone(),
            selector: c.selector.clone(),
            filter: c.filter.clone(),
            counters: Counters::register(&inner.metrics, &c.name),
            every_engine: c.every_engine,
            parked: Mutex::new(Default::default()),
            context,
        });
        register_gauges(&inner.metrics, &ctl);
        // A controller is registered once (names are unique), so the slot is empty here.
        let _ = c.trigger.slot.set(Arc::downgrade(&ctl));
        inner.controllers.write().push(ctl.clone());
        for (kind, role) in c.watches {
            let (informer, fresh) = {
                let mut infs = inner.informers.lock();
                match infs.get(&kind) {
                    Some(i) => (i.clone(), false),
                    None => {
                        let i = Arc::new(Informer {
                            subscribers: RwLock::new(Vec::new()),
                        });
                        infs.insert(kind.clone(), i.clone());
                        (i, true)
                    }
                }
            };
            informer.subscribers.write().push(Subscriber {
                ctl: ctl.clone(),
                role: role.clone(),
            });
            if fresh {
                // A new informer starts with the current state of its kind for everyone.
                // Its watch opens here, before `add` returns: a change made right after
                // registering is then never missed (the thread might start late).
                let watch = match inner.store.watch(&kind, &WatchParams::default()) {
                    Ok(w) => w,
                    Err(Error::Closed) => return Err(Error::Closed),
                    Err(e) => {
                        log::error!("informer {kind}: {e}");
                        continue;
                    }
                };
                let mut hub = inner.hub.lock();
                // `stop` sets the flag before it takes the mailbox: checked under the lock, no
                // informer thread starts after it was told to stop.
                if inner.stopping.load(Ordering::Acquire) {
                    return Err(Error::Closed);
                }
                let (tx, thread) = hub.get_or_insert_with(|| {
                    let (tx, rx) = crossbeam_channel::unbounded();
                    let inner2 = inner.clone();
                    let h = std::thread::Builder::new()
                        .name("steady-informers".into())
                        .spawn(move || informer_hub(&inner2, rx))
                        .expect("spawning the informer thread");
                    let thread = h.thread().clone();
                    inner.background.lock().push(h);
                    (tx, thread)
                });
                let _ = tx.send(HubMsg::Watch(Box::new(Slot {
                    kind: kind.clone(),
                    informer,
                    watch,
                })));
                thread.unpark();
            } else {
                // An existing informer is past its initial state: give the newcomer the
                // current objects itself (subscribed first, so nothing falls in between).
                let sub = Subscriber {
                    ctl: ctl.clone(),
                    role,
                };
                // In no particular order (as a fresh informer's initial events are not
                // either, to its subscribers' reconciles), with the store's keys: no sort and
                // no key formatting for thousands of objects.
                // Woken every `BURST` keys: the workers start while the rest is queued.
                let mut wakes = 0;
                if matches!(sub.role, Watched::Primary) && ctl.takes_every_creation() {
                    // Every object's key, without reading the objects: nothing would filter.
                    for key in inner.store.list_keys(&kind).unwrap_or_default() {
                        ctl.enqueue_quiet(ObjectKey::from_store(key), &mut wakes);
                        if wakes >= BURST {
                            wake_pool(inner, &mut wakes);
                        }
                    }
                } else if let Ok(items) = inner.store.list_keyed(&kind, &Default::default()) {
                    for (key, o) in items {
                        let added = WatchEvent::Added(o);
                        dispatch(&inner.store, &sub, &added, None, Some(&key), &mut wakes);
                        if wakes >= BURST {
                            wake_pool(inner, &mut wakes);
                        }
                    }
                }
                wake_pool(inner, &mut wakes);
            }
        }
        Ok(())
    }

    /// Queues every object of the primary kind of every controller that runs only on the
    /// leader: what this engine dropped while it followed, and what it never saw queued.
    fn queue_all_of_followers(&self) {
        let inner = &self.inner;
        let ctls: Vec<Arc<ControllerState>> = inner
            .controllers
            .read()
            .iter()
            .filter(|c| !c.every_engine)
            .cloned()
            .collect();
        let mut wakes = 0;
        for ctl in ctls {
            let parked: Vec<ObjectKey> = ctl.parked.lock().drain().collect();
            for key in parked {
                ctl.enqueue_quiet(key, &mut wakes);
            }
            let Ok(items) = inner.store.list_keyed(&ctl.kind, &Default::default()) else {
                continue;
            };
            for (key, o) in items {
                if ctl.in_scope(o.as_ref()) {
                    ctl.enqueue_quiet(ObjectKey::from_store(key), &mut wakes);
                }
                if wakes >= BURST {
                    wake_pool(inner, &mut wakes);
                }
            }
        }
        wake_pool(inner, &mut wakes);
    }

    /// Stops taking work, waits up to the grace period for running reconciles, joins the
    /// workers and the timer. Informers end when the store closes its watches.
    pub(crate) fn stop(&self) {
        let inner = &self.inner;
        if inner.stopping.swap(true, Ordering::AcqRel) {
            return;
        }
        for c in inner.controllers.read().iter() {
            c.queue.shut_down();
        }
        if let Some((hub, thread)) = inner.hub.lock().take() {
            let _ = hub.send(HubMsg::Stop);
            thread.unpark();
        }
        inner.work.notify_all();
        inner.timer.notify_all();
        let deadline = Instant::now() + inner.config.shutdown_grace;
        let workers: Vec<JoinHandle<()>> = inner.workers.lock().drain(..).collect();
        for h in workers {
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if h.is_finished() {
                let _ = h.join();
            } else {
                log::warn!("a reconcile is still running after the shutdown grace period; leaving its thread");
            }
        }
    }

    /// Joins the informer and timer threads (after the store closed its watches).
    pub(crate) fn join_background(&self) {
        let hs: Vec<JoinHandle<()>> = self.inner.background.lock().drain(..).collect();
        for h in hs {
            let _ = h.join();
        }
    }
}

impl ControllerState {
    pub(crate) fn enqueue(&self, key: ObjectKey) {
        self.counters.adds.inc();
        self.queue.add(key);
    }

    /// [`ControllerState::enqueue`] for an informer's burst: no wake-up now, one count in
    /// `wakes` when the key became ready (the informer wakes the pool after the burst).
    fn enqueue_quiet(&self, key: ObjectKey, wakes: &mut usize) {
        self.counters.adds.inc();
        if self.queue.add_quiet(key) {
            *wakes += 1;
        }
    }

    /// Whether the runtime stopped this controller (its queue takes no more keys).
    pub(crate) fn is_stopped(&self) -> bool {
        self.queue.is_shut_down()
    }

    /// A delayed add; the queue's deadline notification wakes the timer if it is now the
    /// earliest.
    pub(crate) fn enqueue_after(&self, key: ObjectKey, delay: Duration) {
        self.counters.adds.inc();
        self.queue.add_after(key, delay);
    }

    /// Whether every creation of the primary kind is reconciled: no scope, and no predicate
    /// that could filter a creation (the built-in ones pass them all).
    fn takes_every_creation(&self) -> bool {
        self.namespace.is_none()
            && self.selector.is_none()
            && self.filter.is_none()
            && self
                .predicates
                .iter()
                .all(|p| !matches!(p, Predicate::Custom(_)))
    }

    fn in_scope(&self, o: &dyn Object) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| o.meta().namespace_str() == ns)
            && self
                .selector
                .as_ref()
                .is_none_or(|s| s.matches(&o.meta().labels))
            && self.filter.as_ref().is_none_or(|f| {
                // The user's code: a panic must not take the informer down.
                catch_unwind(AssertUnwindSafe(|| f(o))).unwrap_or_else(|_| {
                    log::error!("controller {}: a scope filter panicked", self.name);
                    false
                })
            })
    }

    /// Whether `p` passes the change, run on the informer thread: a custom predicate is the
    /// user's code, and one that panics lets the change through (a reconcile too many is
    /// harmless; one missed is not) instead of taking the informer down.
    fn passes(&self, p: &Predicate, old: Option<&dyn Object>, new: &dyn Object) -> bool {
        catch_unwind(AssertUnwindSafe(|| p.passes(old, new))).unwrap_or_else(|_| {
            log::error!("controller {}: a predicate panicked", self.name);
            true
        })
    }
}

/// Maps one change to the keys a subscriber reconciles, and queues them.
fn dispatch(
    store: &Store,
    sub: &Subscriber,
    ev: &WatchEvent,
    prev: Option<&Arc<dyn Object>>,
    key: Option<&Arc<str>>,
    wakes: &mut usize,
) {
    let Some(obj) = ev.object() else { return };
    let ctl = &sub.ctl;
    match &sub.role {
        Watched::Primary => {
            let scoped =
                ctl.in_scope(obj.as_ref()) || prev.is_some_and(|p| ctl.in_scope(p.as_ref()));
            if !scoped {
                return;
            }
            // Creations and changes go through the predicates (a creation with no `old`:
            // the built-in ones pass it, a custom one decides); deletions always pass.
            if let WatchEvent::Added(_) | WatchEvent::Modified(_) = ev {
                let old = match ev {
                    WatchEvent::Modified(_) => prev.map(|p| p.as_ref()),
                    _ => None,
                };
                if !ctl
                    .predicates
                    .iter()
                    .any(|p| ctl.passes(p, old, obj.as_ref()))
                {
                    return;
                }
            }
            ctl.enqueue_quiet(
                match key {
                    Some(k) => ObjectKey::from_store(k.clone()),
                    None => ObjectKey::of(obj.as_ref()),
                },
                wakes,
            );
        }
        Watched::Owned => {
            // The controller owner now, and the one before if it changed (adoption/release).
            let ns = obj.meta().namespace.as_deref();
            let now = obj.meta().controller_ref().filter(|r| r.kind == *ctl.kind);
            let before = prev
                .and_then(|p| p.meta().controller_ref())
                .filter(|r| r.kind == *ctl.kind);
            if let Some(r) = now {
                ctl.enqueue_quiet(ObjectKey::new(ns, &r.name), wakes);
            }
            if let Some(r) = before.filter(|b| now.is_none_or(|n| n.name != b.name)) {
                ctl.enqueue_quiet(ObjectKey::new(ns, &r.name), wakes);
            }
        }
        Watched::Mapped(mapper) => {
            // The object as it is now and, when its labels changed, as it was: the objects
            // that selected it before (a budget, a ReplicaSet) must let go of it too, as
            // controller-runtime maps both the old and the new object of an update.
            let relabelled = prev.filter(|p| p.meta().labels != obj.meta().labels);
            for o in std::iter::once(obj).chain(relabelled) {
                // A mapper is the user's code: it must not take the runtime down.
                match catch_unwind(AssertUnwindSafe(|| mapper(store, o.as_ref()))) {
                    Ok(keys) => {
                        for k in keys {
                            ctl.enqueue_quiet(k, wakes);
                        }
                    }
                    Err(_) => log::error!("controller {}: a watch mapper panicked", ctl.name),
                }
            }
        }
    }
}

/// The most changes (or keys) an informer queues before it wakes the pool.
const BURST: usize = 256;

/// Wakes the pool for `wakes` keys readied quietly, and resets the count.
fn wake_pool(inner: &Inner, wakes: &mut usize) {
    match std::mem::take(wakes) {
        0 => {}
        1 => inner.work.notify_one(),
        _ => inner.work.notify_all(),
    }
}

/// One kind's watch, served by the informer thread.
struct Slot {
    kind: String,
    informer: Arc<Informer>,
    watch: crate::store::Watch,
}

enum HubMsg {
    /// Serve this kind's watch from now on.
    Watch(Box<Slot>),
    /// The runtime is stopping.
    Stop,
}

/// The informer thread: every kind's watch, one thread. It takes changes from whichever
/// watch has one (the initial state first, then live changes), maps each to the keys of
/// every subscribed controller, and queues them; a watch that fell behind (Expired) is
/// reopened with the current state, as a relist.
///
/// Invariant (no lost wakeup): keys are queued quietly and the pool is woken before this
/// thread blocks for the next change, or after `BURST` changes, so a readied key waits at
/// most for the rest of its burst (an initial list, a transaction), never for a later
/// change.
fn informer_hub(inner: &Arc<Inner>, ctrl: crossbeam_channel::Receiver<HubMsg>) {
    let mut slots: Vec<Slot> = Vec::new();
    let mut wakes = 0usize;
    let mut in_burst = 0usize;
    let mut cursor = 0usize;
    loop {
        loop {
            match ctrl.try_recv() {
                Ok(HubMsg::Watch(slot)) => {
                    slot.watch.ring(std::thread::current());
                    slots.push(*slot);
                }
                Ok(HubMsg::Stop) | Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    wake_pool(inner, &mut wakes);
                    return;
                }
                Err(crossbeam_channel::TryRecvError::Empty) => break,
            }
        }
        // A watch with a change queued, from a rotating start (no kind starves another).
        let n = slots.len();
        let ready = (0..n)
            .map(|i| (cursor + i) % n.max(1))
            .find(|&i| slots[i].watch.has_pending());
        let at = match ready {
            Some(i) => i,
            None => {
                wake_pool(inner, &mut wakes);
                in_burst = 0;
                // No lost wake-up: each watch rings this thread after it queues a change or
                // closes, and the mailbox's senders unpark it after they send; both checks
                // above ran after this thread was last unparked, and an unpark between them
                // and here makes `park` return at once (see `WatchShared::ring`).
                std::thread::park();
                continue;
            }
        };
        cursor = at + 1;
        let slot = &mut slots[at];
        match slot.watch.try_recv_change() {
            Ok(Some(ch)) => {
                for sub in slot.informer.subscribers.read().iter() {
                    dispatch(
                        &inner.store,
                        sub,
                        &ch.event,
                        ch.prev.as_ref(),
                        ch.key.as_ref(),
                        &mut wakes,
                    );
                }
                in_burst += 1;
                if in_burst >= BURST {
                    wake_pool(inner, &mut wakes);
                    in_burst = 0;
                }
            }
            Ok(None) => {}
            Err(Error::Expired { .. }) => {
                // From now, with the current state first.
                log::warn!("informer {}: fell behind; relisting", slot.kind);
                match inner.store.watch(&slot.kind, &WatchParams::default()) {
                    Ok(w) => {
                        // The new watch must ring this thread too, or it parks deaf to
                        // this kind (see "No lost wakeups" above).
                        w.ring(std::thread::current());
                        slot.watch = w;
                    }
                    Err(e) => {
                        if !matches!(e, Error::Closed) {
                            log::error!("informer {}: {e}", slot.kind);
                        }
                        slots.swap_remove(at);
                    }
                }
            }
            // The store closed its watches: this kind is done.
            Err(_) => {
                slots.swap_remove(at);
                if slots.is_empty() && inner.stopping.load(Ordering::Acquire) {
                    wake_pool(inner, &mut wakes);
                    return;
                }
            }
        }
    }
}

/// A worker: takes keys round-robin across controllers until the runtime stops.
fn worker(inner: &Arc<Inner>) {
    loop {
        let seen = inner.work.epoch();
        if inner.stopping.load(Ordering::Acquire) {
            return;
        }
        if let Some((ctl, key, at)) = next_work(inner) {
            process(inner, &ctl, key, at);
            continue;
        }
        inner.work.wait(seen, None);
    }
}

/// The next key to reconcile. The start rotates, so controllers take turns (fairness), and
/// a controller at its concurrency limit is skipped. With the key, the clock reading at
/// which it was handed out.
fn next_work(inner: &Inner) -> Option<(Arc<ControllerState>, ObjectKey, Duration)> {
    let ctls = inner.controllers.read();
    let n = ctls.len();
    if n == 0 {
        return None;
    }
    let start = inner.cursor.fetch_add(1, Ordering::Relaxed);
    for i in 0..n {
        let c = &ctls[(start + i) % n];
        // Empty queues are passed over without their lock: the caller read the work epoch
        // before this scan, so a key readied after this read wakes it (see `ready_hint`).
        if c.queue.ready_hint() == 0 {
            continue;
        }
        // Reserve a slot first, so concurrency is never exceeded between check and take.
        if c.active.fetch_add(1, Ordering::AcqRel) >= c.concurrency {
            c.active.fetch_sub(1, Ordering::AcqRel);
            continue;
        }
        if let Some((k, at)) = c.queue.take() {
            return Some((c.clone(), k, at));
        }
        c.active.fetch_sub(1, Ordering::AcqRel);
    }
    None
}

/// Reconciles `key`, handed out at `began` (a reading of the engine clock).
fn process(inner: &Arc<Inner>, ctl: &Arc<ControllerState>, key: ObjectKey, began: Duration) {
    if !ctl.every_engine && !inner.leadership.is_leader() {
        // A follower's key: the leader reconciles it. Parked, and queued again if this
        // engine is elected (`queue_all_of_followers`, after the flag is set, so no key
        // falls between).
        ctl.queue.forget(&key);
        ctl.queue.done(&key);
        ctl.active.fetch_sub(1, Ordering::AcqRel);
        ctl.parked.lock().insert(key.clone());
        // Elected between the check above and the parking (its drain ran before): queue it
        // back now. Either this sees the flag, or the drain, which runs after the flag is
        // set, sees the parked key.
        if inner.leadership.is_leader() && ctl.parked.lock().remove(&key) {
            ctl.enqueue(key);
            inner.work.notify_one();
        }
        return;
    }
    let ctx = Context {
        retries: ctl.queue.num_requeues(&key),
        key: key.clone(),
        shared: ctl.context.clone(),
    };
    // Requeue and retry deadlines count from `began`, the clock reading when the queue
    // handed the key out, before the reconcile looked at anything: a delay decided from what
    // it observed then is never pushed later by the time the reconcile took, or by a (manual)
    // clock moved meanwhile. Early is harmless, as the next reconcile reads the clock again;
    // late could miss a deadline for good. The run ends at `ended`, which the queue takes as
    // the end of the processing (pacing): two clock readings for a reconcile that is done (a
    // requeue or a retry reads once more to park the key).
    let manual = inner.clock.is_manual();
    let started = manual.then(Instant::now);
    let result = catch_unwind(AssertUnwindSafe(|| ctl.reconciler.reconcile(&ctx)));
    let ended = inner.clock.monotonic();
    let c = &ctl.counters;
    // The histogram is of the engine clock's time, which is the wall clock's unless the
    // clock is manual (then the wall clock measures).
    c.reconcile_time.observe_duration(match started {
        Some(t) => t.elapsed(),
        None => ended.saturating_sub(began),
    });
    let mut kick_timer = false;
    match result {
        Ok(Ok(Action::Done)) => {
            c.success.inc();
            ctl.queue.forget(&key);
        }
        Ok(Ok(Action::RequeueAfter(d))) => {
            c.requeue_after.inc();
            ctl.queue.forget(&key);
            ctl.queue
                .add_after_since(key.clone(), began, d.min(inner.config.max_requeue));
            kick_timer = true;
        }
        Ok(Err(ReconcileError::Retry(msg))) => {
            c.error.inc();
            c.errors.inc();
            c.retries.inc();
            log::warn!(
                "controller {}: reconcile {key} failed (will retry): {msg}",
                ctl.name
            );
            ctl.queue.add_rate_limited_since(key.clone(), began);
            kick_timer = true;
        }
        Ok(Err(ReconcileError::Terminal(msg))) => {
            c.error.inc();
            c.errors.inc();
            c.terminal.inc();
            log::error!(
                "controller {}: reconcile {key} failed for good: {msg}",
                ctl.name
            );
            if let Some(o) = ctx.object() {
                ctx.event(o.as_ref(), EventKind::Warning, "ReconcileFailed", &msg);
            }
            ctl.queue.forget(&key);
        }
        Err(panic) => {
            c.error.inc();
            c.errors.inc();
            c.panics.inc();
            c.retries.inc();
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-string panic".into());
            log::error!(
                "controller {}: reconcile {key} panicked (will retry): {msg}",
                ctl.name
            );
            ctl.queue.add_rate_limited_since(key.clone(), began);
            kick_timer = true;
        }
    }
    ctl.queue.done_at(&key, ended);
    ctl.active.fetch_sub(1, Ordering::AcqRel);
    if kick_timer {
        inner.timer.notify_all();
    }
    // A key skipped while this controller was at its concurrency limit may be waiting.
    if ctl.queue.ready_hint() > 0 {
        inner.work.notify_one();
    }
}

/// The one timer thread: promotes due delayed keys of every queue.
fn timer(inner: &Arc<Inner>) {
    loop {
        let seen = inner.timer.epoch();
        if inner.stopping.load(Ordering::Acquire) {
            return;
        }
        let now = inner.clock.monotonic();
        let mut next: Option<Duration> = None;
        for c in inner.controllers.read().iter() {
            c.queue.promote_due(now);
            if let Some(d) = c.queue.next_deadline() {
                next = Some(next.map_or(d, |n: Duration| n.min(d)));
            }
        }
        let wait = if inner.clock.is_manual() {
            None
        } else {
            Some(
                next.map_or(Duration::from_secs(1), |d| d.saturating_sub(now))
                    .max(Duration::from_micros(50)),
            )
        };
        inner.timer.wait(seen, wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ConfigMap;
    use crate::clock::{Clock, ManualClock, Time};
    use crate::runtime::ReconcileResult;

    struct Record(Arc<Mutex<Vec<String>>>);

    impl super::super::Reconciler for Record {
        fn reconcile(&self, ctx: &Context) -> ReconcileResult {
            self.0.lock().push(ctx.name().to_string());
            Ok(Action::done())
        }
    }

    fn wait(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn a_follower_reconciles_nothing_and_once_elected_every_key_it_dropped() {
        let store = Store::new(
            Arc::new({
                let r = crate::api::Registry::new();
                crate::api::register_builtins(&r);
                r
            }),
            Default::default(),
        );
        // The lead's deadline runs on a clock of its own, moved by hand.
        let lease_clock = Arc::new(ManualClock::new(Time::from_unix_micros(0)));
        let leadership = Leadership::candidate(lease_clock.clone());
        let m = ControllerManager::start(
            store.clone(),
            store.config().clock.clone(),
            ManagerConfig {
                workers: 1,
                ..Default::default()
            },
            MetricsRegistry::new(),
            leadership.clone(),
        );
        let (leader_only, everywhere) = (Arc::default(), Arc::default());
        m.add(
            Controller::new("leader-only", "v1", "ConfigMap")
                .build(Record(Arc::clone(&leader_only))),
        )
        .unwrap();
        m.add(
            Controller::new("everywhere", "v1", "ConfigMap")
                .on_every_engine()
                .build(Record(Arc::clone(&everywhere))),
        )
        .unwrap();
        let parked = |m: &ControllerManager| m.inner.controllers.read()[0].parked.lock().len();
        for name in ["a", "b"] {
            let mut c = ConfigMap::default();
            c.metadata.name = name.into();
            store.create(Arc::new(c)).unwrap();
        }
        wait("both keys parked", || parked(&m) == 2);
        store
            .delete("ConfigMap", None, "b", &Default::default())
            .unwrap();
        wait("the node-agent-like controller to see both", || {
            everywhere.lock().len() >= 3
        });
        assert!(leader_only.lock().is_empty(), "a follower reconciled");

        leadership.renewed(lease_clock.monotonic() + Duration::from_secs(10));
        leadership.set(true);
        wait(
            "the elected engine to reconcile a and the deleted b",
            || {
                let seen = leader_only.lock();
                seen.contains(&"a".to_string()) && seen.contains(&"b".to_string())
            },
        );
        assert_eq!(parked(&m), 0);
        m.stop();
    }
}
