//! The scheduler (layer 5): places pods on nodes, with kube-scheduler's semantics.
//!
//! [`Scheduler::start`] runs it over a store: it watches Pods and Nodes, takes every pod
//! without `spec.nodeName` whose `spec.schedulerName` is empty or its own
//! (`default-scheduler`) and that is not being deleted, chooses a node, and binds the pod by
//! setting `spec.nodeName` with compare-and-swap, then the condition `PodScheduled=True` and a
//! `Scheduled` Event ("Successfully assigned ns/pod to node"). A pod no node fits gets
//! `PodScheduled=False`, reason `Unschedulable`, with kube-scheduler's message
//! (`0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: },
//! 2 Insufficient cpu.`: each reason counted over the nodes, sorted) and a `FailedScheduling`
//! Event; it is retried when the cluster changes.
//!
//! # The scheduling cycle and its extension points
//!
//! One pod at a time, on one thread ([`framework`] has the traits):
//! 1. **queue sort** ([`QueueSortPlugin`]) picks the pod: highest `spec.priority` first, then
//!    the earliest to enter the queue;
//! 2. **pre-filter** ([`PreFilterPlugin`]) checks the pod and precomputes per-pod state;
//! 3. **filter** ([`FilterPlugin`]) runs per node, starting where the previous cycle stopped
//!    (a rotating start), until enough feasible nodes are found: all nodes below 100,
//!    otherwise `percentageOfNodesToScore` of them (adaptive default `max(5, 50 - nodes/125)`
//!    percent, at least 100 nodes). Nodes are visited zones interleaved;
//! 4. **post-filter** ([`PostFilterPlugin`]) runs only when no node fits: `DefaultPreemption`
//!    ([`plugins::DefaultPreemption`]) evicts lower-priority pods and nominates the node
//!    (its victims are deleted by a binder thread; a nominated pod tries its node first);
//! 5. **pre-score** and **score** ([`PreScorePlugin`], [`ScorePlugin`], with **normalize
//!    score**) rank the feasible nodes, each plugin from 0 to 100 times its weight; the highest
//!    total wins, ties at random;
//! 6. **reserve** ([`ReservePlugin`]): the pod is assumed on the node in the node-info cache,
//!    so the next cycle counts it; **unreserve** undoes it if binding fails;
//! 7. **bind** ([`BindPlugin`]) on a binder thread: `DefaultBinder` writes `spec.nodeName`
//!    with the resourceVersion the pod was scheduled at; a conflict (the pod changed) forgets
//!    the assumption and schedules the pod again.
//!
//! # Default plugins and score weights
//!
//! | plugin | filter rejects nodes... | score weight |
//! |---|---|---|
//! | `NodeUnschedulable` | cordoned (`spec.unschedulable`), unless tolerated | - |
//! | `NodeName` | other than `spec.nodeName` | - |
//! | `TaintToleration` | with an untolerated `NoSchedule`/`NoExecute` taint | 3 (fewer untolerated `PreferNoSchedule` taints) |
//! | `NodeAffinity` | not matching `nodeSelector` / required node affinity | 2 (preferred terms) |
//! | `NodePorts` | where a requested host port is taken | - |
//! | `NodeResourcesFit` | without room for the requests, or at max pods (`pods`, default 110) | 1 (LeastAllocated, or MostAllocated for bin packing) |
//! | `PodTopologySpread` | that would skew a `DoNotSchedule` constraint (hostname, zone, any label) | 2 (`ScheduleAnyway` constraints) |
//! | `InterPodAffinity` | failing required pod affinity or anti-affinity, or a placed pod's required anti-affinity | 2 (preferred terms, placed pods' terms) |
//! | `NodeResourcesBalancedAllocation` | - | 1 |
//!
//! Users add their own plugins from Rust on the [`SchedulerConfig`] (one registration per
//! extension point the plugin implements), replace a default by registering one of the same
//! name, change weights and disable plugins by name.
//!
//! # Queue timings
//!
//! A pod that failed for an error waits out a backoff of 1 s doubling per attempt to 10 s; a
//! pod no node fits waits in the unschedulable pool until a change that one of the plugins
//! that rejected it cares about (a node added or changed, a bound pod deleted or finished, a
//! pod bound, [`ClusterEvents`]), then goes through its remaining backoff; after 5 minutes it
//! is retried anyway. All times come from the engine [`Clock`](crate::clock::Clock): with a
//! [`ManualClock`](crate::clock::ManualClock) the scheduler wakes when the clock is advanced.
//!
//! # Threads
//!
//! One scheduling thread owns the [node-info cache](NodeInfo) and the queue (no locks on the
//! cycle's path); two threads forward the Pod and Node watches to it; `bind_workers` binder
//! threads write bindings, status and Events. The cache is incremental: each store change
//! adjusts one node's totals, nothing is rescanned per pod.
//!
//! Differences from kube-scheduler: no volume plugins or default (cluster-level) topology
//! spread constraints; preemption's limits are in [`plugins::default_preemption`]; Permit/PreBind/PostBind are not offered. A change of a
//! Namespace's labels does not by itself retry pods waiting on a `namespaceSelector` (they are
//! retried on the next pod or node change, or after 5 minutes).

mod binder;
mod cache;
mod config;
mod core;
pub mod framework;
pub mod plugins;
mod queue;
mod status;

pub use cache::{NodeInfo, REGION_LABEL, ZONE_LABEL};
pub use config::{SchedulerConfig, DEFAULT_SCHEDULER_NAME};
pub use framework::{
    BindContext, BindOutcome, BindPlugin, ClusterEvents, Code, CycleState, Diagnosis, FilterPlugin,
    HostPort, NodeScore, Plugin, PodInfo, PostFilterPlugin, PostFilterResult, PreFilterPlugin,
    PreScorePlugin, QueueSortPlugin, QueuedPodInfo, ReservePlugin, ScorePlugin, Status,
    MAX_NODE_SCORE,
};
pub use plugins::ScoringStrategy;
pub use queue::QueueCounts;

use self::binder::Binder;
use self::core::{BindDone, Core};
use crate::api::{Node, Object, Pod};
use crate::client::events::EventRecorder;
use crate::client::leader::Leadership;
use crate::clock::SharedClock;
use crate::error::{Error, Result};
use crate::store::{ListParams, Store, Watch, WatchCloser, WatchEvent, WatchParams};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the scheduling thread is told.
///
/// Store changes carry the revision their watch reached with them.
pub(crate) enum Msg {
    PodUpserted(Arc<PodInfo>, u64),
    PodDeleted(Arc<str>, u64),
    PodsRelisted(Vec<Arc<PodInfo>>, u64),
    NodeUpserted(Arc<Node>, u64),
    NodeDeleted(String, u64),
    NodesRelisted(Vec<Arc<Node>>, u64),
    Bound(BindDone),
    /// The watch of this kind reached this revision with changes the scheduler does not need.
    Synced(&'static str, u64),
    /// The manual clock moved: look at the deadlines again.
    Tick,
    Stop,
}

struct Inner {
    stopping: Arc<AtomicBool>,
    tx: Sender<Msg>,
    /// The current watch of each forwarder (replaced when it relists).
    closers: Vec<Arc<Mutex<Option<WatchCloser>>>>,
    counts: Mutex<QueueCounts>,
    /// The revision up to which Pod and Node changes have been applied.
    pods_synced: AtomicU64,
    nodes_synced: AtomicU64,
}

/// A running scheduler. [`stop`](Scheduler::stop) (or dropping it) stops and joins its
/// threads.
pub struct Scheduler {
    inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("stopping", &self.inner.stopping.load(Ordering::Relaxed))
            .finish()
    }
}

fn pod_info(o: Arc<dyn Object>) -> Option<Arc<PodInfo>> {
    o.downcast_arc::<Pod>()
        .ok()
        .map(|p| Arc::new(PodInfo::new(p)))
}

fn pod_key(o: &dyn Object) -> Arc<str> {
    let m = o.meta();
    format!("{}/{}", m.namespace.as_deref().unwrap_or("default"), m.name).into()
}

impl Scheduler {
    /// Starts scheduling the pods of `store`, timing backoffs with `clock`.
    ///
    /// The current Nodes and Pods are read before this returns (so the first cycle already
    /// counts every bound pod); then threads follow the store's changes.
    ///
    /// # Errors
    ///
    /// The store's error when it cannot be listed or watched (for example
    /// [`Error::Closed`] after shutdown).
    pub fn start(store: Store, clock: SharedClock, config: SchedulerConfig) -> Result<Scheduler> {
        Self::start_gated(store, clock, config, Leadership::always())
    }

    /// [`Scheduler::start`] for an engine among several on one store: it schedules only
    /// while `leadership` says this engine leads, and follows the store meanwhile (so an
    /// engine elected starts from current caches).
    pub(crate) fn start_gated(
        store: Store,
        clock: SharedClock,
        config: SchedulerConfig,
        leadership: Arc<Leadership>,
    ) -> Result<Scheduler> {
        let mut core = Core::new(&config, clock.clone(), Some(&store));
        let mut nodes = store.list("Node", &ListParams::default())?;
        let mut pods = store.list("Pod", &ListParams::default())?;
        for n in nodes.items.drain(..) {
            if let Ok(n) = n.downcast_arc::<Node>() {
                core.node_upserted(n);
            }
        }
        for p in pods.items.drain(..) {
            if let Some(info) = pod_info(p) {
                core.pod_upserted(info);
            }
        }
        let node_watch = store.watch(
            "Node",
            &WatchParams {
                since: Some(nodes.revision),
                ..Default::default()
            },
        )?;
        let pod_watch = store.watch(
            "Pod",
            &WatchParams {
                since: Some(pods.revision),
                ..Default::default()
            },
        )?;

        let (tx, rx) = crossbeam_channel::unbounded::<Msg>();
        let (work_tx, work_rx) = crossbeam_channel::unbounded();
        let (events_tx, events_rx) = crossbeam_channel::bounded(config.event_queue.max(1));
        let stopping = Arc::new(AtomicBool::new(false));
        let node_closer = Arc::new(Mutex::new(Some(node_watch.closer())));
        let pod_closer = Arc::new(Mutex::new(Some(pod_watch.closer())));
        let inner = Arc::new(Inner {
            stopping: stopping.clone(),
            tx: tx.clone(),
            closers: vec![node_closer.clone(), pod_closer.clone()],
            counts: Mutex::new(core.queue_counts()),
            pods_synced: AtomicU64::new(pods.revision),
            nodes_synced: AtomicU64::new(nodes.revision),
        });
        // A manual clock moves by hand: the scheduling thread re-checks its deadlines then.
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        clock.on_advance(Arc::new(move || {
            if let Some(i) = weak.upgrade() {
                let _ = i.tx.send(Msg::Tick);
            }
        }));
        // Elected: the scheduling thread, idle while following, looks at its queue again.
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        leadership.on_change(Arc::new(move |_| {
            if let Some(i) = weak.upgrade() {
                let _ = i.tx.send(Msg::Tick);
            }
        }));

        // Bindings are written by the leader only: fenced by the election's Lease (see
        // `store::Fence`), so a binding decided before this engine's lead ended fails.
        let leader_store = leadership
            .fence()
            .map_or_else(|| store.clone(), |f| store.fenced(f));
        let binder = Arc::new(Binder {
            store: leader_store.clone(),
            clock: clock.clone(),
            scheduler_name: config.scheduler_name.clone(),
            recorder: EventRecorder::new(leader_store, &config.scheduler_name, clock.clone()),
            plugins: core.bind_plugins(),
            stopping: stopping.clone(),
            events_dropped: AtomicU64::new(0),
        });
        let sched = Scheduler {
            inner: inner.clone(),
            threads: Mutex::new(Vec::new()),
        };
        let spawn = |name: String, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name)
                .spawn(f)
                .map_err(|e| {
                    Error::invalid(
                        crate::ObjectRef::new("Scheduler", None, &config.scheduler_name),
                        "threads",
                        format!("cannot start a scheduler thread: {e}"),
                    )
                })
        };
        let mut threads = Vec::new();
        {
            let inner = inner.clone();
            threads.push(spawn(
                "steady-scheduler".into(),
                Box::new(move || scheduling_loop(core, &inner, rx, work_tx, clock, &leadership)),
            )?);
        }
        {
            let (store, tx, stopping) = (store.clone(), tx.clone(), stopping.clone());
            threads.push(spawn(
                "steady-sched-nodes".into(),
                Box::new(move || {
                    forward(
                        &store,
                        "Node",
                        node_watch,
                        &node_closer,
                        &stopping,
                        &tx,
                        node_msgs,
                    )
                }),
            )?);
        }
        {
            let (store, tx, stopping) = (store.clone(), tx.clone(), stopping.clone());
            threads.push(spawn(
                "steady-sched-pods".into(),
                Box::new(move || {
                    forward(
                        &store,
                        "Pod",
                        pod_watch,
                        &pod_closer,
                        &stopping,
                        &tx,
                        pod_msgs,
                    )
                }),
            )?);
        }
        for i in 0..config.bind_workers.max(1) {
            let (binder, work_rx, events_rx, events_tx, tx) = (
                binder.clone(),
                work_rx.clone(),
                events_rx.clone(),
                events_tx.clone(),
                tx.clone(),
            );
            threads.push(spawn(
                format!("steady-sched-bind-{i}"),
                Box::new(move || binder.run(work_rx, events_rx, events_tx, tx)),
            )?);
        }
        *sched.threads.lock() = threads;
        Ok(sched)
    }

    /// The store revision up to which the scheduler has applied the changes of `kind`
    /// (`Pod` or `Node`; 0 for any other kind): client-go's `LastSyncResourceVersion`. A
    /// caller that wrote a Node at revision `r` knows the scheduler counts it once this is at
    /// least `r`.
    pub fn last_synced_revision(&self, kind: &str) -> u64 {
        match kind {
            "Pod" => self.inner.pods_synced.load(Ordering::Acquire),
            "Node" => self.inner.nodes_synced.load(Ordering::Acquire),
            _ => 0,
        }
    }

    /// How many pods wait where, as of the scheduling thread's last pass.
    pub fn queue_counts(&self) -> QueueCounts {
        *self.inner.counts.lock()
    }

    /// Stops scheduling and joins every thread. Bindings not yet written are dropped (their
    /// pods stay pending). Idempotent.
    pub fn stop(&self) {
        // Order matters for the forwarders: the flag is set before their watches are closed,
        // and a forwarder that opens a new watch publishes its closer before re-checking the
        // flag; so either the closer is seen here or the flag there.
        self.inner.stopping.store(true, Ordering::SeqCst);
        let _ = self.inner.tx.send(Msg::Stop);
        for c in &self.inner.closers {
            if let Some(c) = c.lock().as_ref() {
                c.close();
            }
        }
        let threads: Vec<JoinHandle<()>> = self.threads.lock().drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.stop();
    }
}

/// True when a change of a bound pod cannot matter to scheduling: same node, same spec
/// (generation), labels, deletion mark and termination. Most changes of bound pods are
/// their status (the kubelet's, and our own PodScheduled=True); they are not forwarded.
fn irrelevant_pod_change(prev: &dyn Object, new: &dyn Object) -> bool {
    let (Some(a), Some(b)) = (prev.downcast_ref::<Pod>(), new.downcast_ref::<Pod>()) else {
        return false;
    };
    let node = |p: &Pod| p.spec.node_name.clone().filter(|n| !n.is_empty());
    node(a).is_some()
        && node(a) == node(b)
        && a.metadata.uid == b.metadata.uid
        && a.metadata.generation == b.metadata.generation
        && a.metadata.labels == b.metadata.labels
        && a.metadata.deletion_timestamp.is_some() == b.metadata.deletion_timestamp.is_some()
        && core::terminal(a) == core::terminal(b)
}

/// Turns one Node watch event into a message.
fn node_msgs(ev: WatchEvent, rev: u64) -> Option<Msg> {
    match ev {
        WatchEvent::Added(o) | WatchEvent::Modified(o) => o
            .downcast_arc::<Node>()
            .ok()
            .map(|n| Msg::NodeUpserted(n, rev)),
        WatchEvent::Deleted(o) => Some(Msg::NodeDeleted(o.meta().name.clone(), rev)),
        WatchEvent::Bookmark(_) => None,
    }
}

/// Turns one Pod watch event into a message; the pod's requests are computed here, off the
/// scheduling thread.
fn pod_msgs(ev: WatchEvent, rev: u64) -> Option<Msg> {
    match ev {
        WatchEvent::Added(o) | WatchEvent::Modified(o) => {
            pod_info(o).map(|p| Msg::PodUpserted(p, rev))
        }
        WatchEvent::Deleted(o) => Some(Msg::PodDeleted(pod_key(o.as_ref()), rev)),
        WatchEvent::Bookmark(_) => None,
    }
}

/// Forwards a watch to the scheduling thread; relists and re-watches when it expires.
fn forward(
    store: &Store,
    kind: &str,
    mut watch: Watch,
    closer: &Mutex<Option<WatchCloser>>,
    stopping: &AtomicBool,
    tx: &Sender<Msg>,
    convert: fn(WatchEvent, u64) -> Option<Msg>,
) {
    loop {
        match watch.recv_change() {
            Ok(ch) => {
                let rev = watch.revision();
                let skip = matches!(ch.event, WatchEvent::Modified(_))
                    && kind == "Pod"
                    && ch
                        .prev
                        .as_ref()
                        .zip(ch.event.object())
                        .is_some_and(|(a, b)| irrelevant_pod_change(a.as_ref(), b.as_ref()));
                let msg = if skip {
                    Some(Msg::Synced("Pod", rev))
                } else {
                    convert(ch.event, rev)
                };
                if let Some(m) = msg {
                    if tx.send(m).is_err() {
                        return;
                    }
                }
            }
            Err(Error::Expired { .. }) => {
                log::warn!("scheduler: the {kind} watch fell behind; relisting");
                let Ok(list) = store.list(kind, &ListParams::default()) else {
                    return;
                };
                let Ok(w) = store.watch(
                    kind,
                    &WatchParams {
                        since: Some(list.revision),
                        ..Default::default()
                    },
                ) else {
                    return;
                };
                *closer.lock() = Some(w.closer());
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                watch = w;
                let rev = list.revision;
                let msg = if kind == "Pod" {
                    Msg::PodsRelisted(list.items.into_iter().filter_map(pod_info).collect(), rev)
                } else {
                    Msg::NodesRelisted(
                        list.items
                            .into_iter()
                            .filter_map(|o| o.downcast_arc::<Node>().ok())
                            .collect(),
                        rev,
                    )
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
            Err(_) => return, // closed: stopping, or the store shut down
        }
    }
}

/// Applies one message; false on Stop.
fn handle(core: &mut Core, inner: &Inner, m: Msg) -> bool {
    let (synced, rev) = match m {
        Msg::PodUpserted(p, rev) => {
            core.pod_upserted(p);
            (&inner.pods_synced, rev)
        }
        Msg::PodDeleted(k, rev) => {
            core.pod_deleted(&k);
            (&inner.pods_synced, rev)
        }
        Msg::PodsRelisted(ps, rev) => {
            core.pods_relisted(ps);
            (&inner.pods_synced, rev)
        }
        Msg::NodeUpserted(n, rev) => {
            core.node_upserted(n);
            (&inner.nodes_synced, rev)
        }
        Msg::NodeDeleted(n, rev) => {
            core.node_deleted(&n);
            (&inner.nodes_synced, rev)
        }
        Msg::NodesRelisted(ns, rev) => {
            core.nodes_relisted(ns);
            (&inner.nodes_synced, rev)
        }
        Msg::Bound(done) => {
            core.bind_done(done);
            return true;
        }
        Msg::Synced(kind, rev) => match kind {
            "Pod" => (&inner.pods_synced, rev),
            _ => (&inner.nodes_synced, rev),
        },
        Msg::Tick => return true,
        Msg::Stop => return false,
    };
    synced.fetch_max(rev, Ordering::AcqRel);
    true
}

/// The scheduling thread: applies changes, schedules pods one at a time, sleeps until a
/// message or the next queue deadline.
///
/// No lost wakeup: every change arrives as a message on `rx`, and the thread only blocks in
/// `rx.recv*` after it found the active queue empty having applied every message received so
/// far; a manual clock's advance is itself a message (`Tick`).
fn scheduling_loop(
    mut core: Core,
    inner: &Inner,
    rx: Receiver<Msg>,
    work: Sender<core::Outgoing>,
    clock: SharedClock,
    leadership: &Leadership,
) {
    let flush = |core: &mut Core| {
        for o in core.take_outgoing() {
            let _ = work.send(o);
        }
    };
    let mut publish_counts = true;
    loop {
        // Everything already received first: the cycle should see the newest state.
        loop {
            match rx.try_recv() {
                Ok(m) => {
                    publish_counts = true;
                    if !handle(&mut core, inner, m) {
                        return;
                    }
                }
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                Err(crossbeam_channel::TryRecvError::Disconnected) => return,
            }
        }
        if inner.stopping.load(Ordering::Acquire) {
            return;
        }
        if !leadership.is_leader() {
            // A follower keeps its caches and queue current and binds nothing; election
            // sends a Tick.
            match rx.recv() {
                Ok(m) => {
                    if !handle(&mut core, inner, m) {
                        return;
                    }
                    continue;
                }
                Err(_) => return,
            }
        }
        core.tick();
        if core.schedule_one() {
            flush(&mut core);
            publish_counts = true;
            continue;
        }
        flush(&mut core);
        if publish_counts {
            *inner.counts.lock() = core.queue_counts();
            publish_counts = false;
        }
        let deadline = core.next_deadline();
        let msg = match deadline {
            Some(d) if !clock.is_manual() => {
                let wait = d.saturating_sub(clock.monotonic());
                match rx.recv_timeout(wait.max(Duration::from_micros(100))) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            _ => match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => return,
            },
        };
        if let Some(m) = msg {
            publish_counts = true;
            if !handle(&mut core, inner, m) {
                return;
            }
        }
    }
}
