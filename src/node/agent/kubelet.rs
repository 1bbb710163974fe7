//! The [`Kubelet`] handle: its builder, the nodes it serves ([`NodeAgent`]: a node's
//! runtimes and whether it is up), adding, stopping and restarting nodes, logs and usage of
//! running containers, and shutdown. The reconciles it runs are in the sibling files.

use super::pod_state::PodRt;
use crate::api::{Node, Pod, Probe};
use crate::client::events::EventRecorder;
use crate::clock::SharedClock;
use crate::error::Error;
use crate::node::config::{KubeletConfig, NodeConfig};
use crate::node::probe::{run_probe, ProbeKind, ProbeResult, ProbeTarget};
use crate::node::runtime::{ContainerRuntime, RunningContainer};
use crate::node::simulated::SimulatedRuntime;
use crate::node::worker::{WorkerRegistry, WorkerRuntime};
use crate::runtime::{Context, Controller, ControllerRegistrar, ObjectKey, Trigger};
use crate::store::Store;
use dashmap::DashMap;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Runs the network and exec actions of probes (`exec`, `tcpSocket`, `httpGet`) for the
/// agent: [`DefaultProber`] unless the host brings its own. Called on a probe thread, never
/// under an engine lock; must return within about `timeout`.
pub trait ProbeExecutor: Send + Sync + 'static {
    /// Runs `probe` (of kind `kind`) against `target`.
    fn run(
        &self,
        kind: ProbeKind,
        probe: &Probe,
        target: &ProbeTarget,
        timeout: Duration,
    ) -> ProbeResult;
}

/// The built-in probe executor: [`run_probe`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultProber;

impl ProbeExecutor for DefaultProber {
    fn run(
        &self,
        kind: ProbeKind,
        probe: &Probe,
        target: &ProbeTarget,
        timeout: Duration,
    ) -> ProbeResult {
        run_probe(kind, probe, target, timeout)
    }
}

/// The runtimes of a node, in the order they are asked.
pub(super) struct NodeAgent {
    pub(super) config: NodeConfig,
    pub(super) runtimes: Vec<Arc<dyn ContainerRuntime>>,
    /// Whether the node is stopped (a simulated power failure).
    ///
    /// Invariant: every reconcile that acts for this node (starts containers, writes its
    /// Node, Lease or pod status) reads the flag under the read lock and holds that lock to
    /// its end; `stop_node` and `restart_node` change it under the write lock. So once
    /// `stop_node` returns, no reconcile in flight can still act for the node: without this,
    /// one that had checked the flag just before could recreate a Node deleted meanwhile,
    /// or start a container the stop had already killed.
    pub(super) stopped: RwLock<bool>,
    /// The revision of this kubelet's first write of the node's status (0: none yet): from
    /// then on the Node says what this process found, not what a previous one left in a
    /// data dir. See [`Kubelet::node_status_revision`].
    pub(super) registered: std::sync::atomic::AtomicU64,
}

/// What one running container has used so far (see [`Kubelet::container_usage`]); `None`
/// where its runtime cannot measure it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerUsage {
    /// The container's name.
    pub container: String,
    /// CPU time (user + system) since it started.
    pub cpu_time: Option<Duration>,
    /// Resident memory now.
    pub memory_bytes: Option<u64>,
}

/// The node agent of an engine. Cheap to clone.
#[derive(Clone)]
pub struct Kubelet {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) store: Store,
    pub(super) config: KubeletConfig,
    pub(super) nodes: RwLock<HashMap<String, Arc<NodeAgent>>>,
    /// The pods this kubelet runs, by `namespace/name`; shared with the ConfigMap, Secret
    /// and PersistentVolumeClaim mappers ([`pods_referring_to`]).
    pub(super) pods: Arc<DashMap<Arc<str>, Arc<Mutex<PodRt>>>>,
    pub(super) pod_trigger: Trigger,
    node_trigger: Trigger,
    workers: Arc<WorkerRegistry>,
    worker_runtime: Arc<WorkerRuntime>,
    process_runtime: Option<Arc<dyn ContainerRuntime>>,
    pub(super) simulated: SimulatedRuntime,
    pub(super) prober: Option<Arc<dyn ProbeExecutor>>,
    /// Events about pods (skipped envFrom keys...), as component `kubelet`.
    pub(super) events: EventRecorder,
    /// The warning that mountPath is not honoured was logged.
    pub(super) warned_mount_path: AtomicBool,
    pub(super) shutting_down: AtomicBool,
    /// This engine's block of pod addresses (see [`super::addresses`]).
    pub(super) addresses: Arc<super::addresses::AddressBlock>,
    /// The kubelet's controllers while it has no node, with the engine's registrar: an
    /// engine without nodes (an API server and controllers only) runs no kubelet, so its
    /// writes of Pods, ConfigMaps and Secrets wake no informer for it. The first
    /// [`Kubelet::add_node`] registers them. Taken (None) once they run.
    deferred: Mutex<Option<(Vec<Controller>, ControllerRegistrar)>>,
    /// On a store shared with other engines, the identity this engine claimed its nodes
    /// as (see `node_claim`): each heartbeat keeps the claim, and stops the node when the
    /// claim names another engine.
    pub(super) claimed_as: std::sync::OnceLock<String>,
}

impl fmt::Debug for Kubelet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kubelet")
            .field("nodes", &self.node_names())
            .field("pods", &self.inner.pods.len())
            .finish()
    }
}

/// Builds a [`Kubelet`].
pub struct KubeletBuilder {
    pub(super) config: KubeletConfig,
    pub(super) nodes: Vec<NodeConfig>,
    workers: Arc<WorkerRegistry>,
    process_runtime: Option<Arc<dyn ContainerRuntime>>,
    pub(super) simulated: SimulatedRuntime,
    pub(super) prober: Option<Arc<dyn ProbeExecutor>>,
}

impl fmt::Debug for KubeletBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeletBuilder")
            .field("nodes", &self.nodes)
            .finish()
    }
}

impl KubeletBuilder {
    /// A builder for `nodes` with `config`.
    pub fn new(config: KubeletConfig, nodes: Vec<NodeConfig>) -> Self {
        KubeletBuilder {
            config,
            nodes,
            workers: Arc::new(WorkerRegistry::default()),
            process_runtime: None,
            simulated: SimulatedRuntime::new(),
            prober: Some(Arc::new(DefaultProber)),
        }
    }

    /// The registry of in-process workers (by image) shared with the engine.
    pub fn worker_registry(mut self, workers: Arc<WorkerRegistry>) -> Self {
        self.workers = workers;
        self
    }

    /// The former name of [`KubeletBuilder::worker_registry`] (beside
    /// `EngineBuilder::workers(n)`, a thread count, the name said the wrong thing).
    #[doc(hidden)]
    #[deprecated(note = "renamed worker_registry")]
    pub fn workers(self, workers: Arc<WorkerRegistry>) -> Self {
        self.worker_registry(workers)
    }

    /// The runtime of real processes on local nodes.
    pub fn process_runtime(mut self, rt: Arc<dyn ContainerRuntime>) -> Self {
        self.process_runtime = Some(rt);
        self
    }

    /// The simulated runtime (shared, so tests can inject faults).
    pub fn simulated(mut self, rt: SimulatedRuntime) -> Self {
        self.simulated = rt;
        self
    }

    /// What runs exec, tcpSocket and httpGet probes.
    pub fn prober(mut self, prober: Arc<dyn ProbeExecutor>) -> Self {
        self.prober = Some(prober);
        self
    }

    /// The kubelet and its two controllers (`kubelet` on Pods, `kubelet-node` on Nodes),
    /// which the caller registers on the engine.
    pub fn build(self, store: Store, clock: SharedClock) -> (Kubelet, Vec<Controller>) {
        let worker_runtime = Arc::new(WorkerRuntime::new(self.workers.clone(), clock.clone()));
        // A ConfigMap, Secret or PersistentVolumeClaim that appears or changes wakes the
        // pods that use it: a container held back by a missing one starts, and its volumes
        // are rewritten.
        let running: Arc<DashMap<Arc<str>, Arc<Mutex<PodRt>>>> = Arc::default();
        let (r1, r2, r3) = (running.clone(), running.clone(), running.clone());
        let pods = Controller::for_kind::<Pod>("kubelet")
            .concurrency(64)
            .watches_with_store(
                "ConfigMap",
                move |store: &Store, o: &dyn crate::api::Object| {
                    let name = &o.meta().name;
                    pods_referring_to(store, &r1, o, |p| {
                        crate::node::env::pod_refers_to(p, false, name)
                    })
                },
            )
            .watches_with_store(
                "Secret",
                move |store: &Store, o: &dyn crate::api::Object| {
                    let name = &o.meta().name;
                    pods_referring_to(store, &r2, o, |p| {
                        crate::node::env::pod_refers_to(p, true, name)
                    })
                },
            )
            .watches_with_store(
                "PersistentVolumeClaim",
                move |store: &Store, o: &dyn crate::api::Object| {
                    let name = &o.meta().name;
                    pods_referring_to(store, &r3, o, |p| {
                        p.spec.volumes.iter().any(|v| {
                            v.persistent_volume_claim
                                .as_ref()
                                .is_some_and(|c| c.claim_name == *name)
                        })
                    })
                },
            );
        let nodes = Controller::for_kind::<Node>("kubelet-node").concurrency(4);
        let k = Kubelet {
            inner: Arc::new(Inner {
                events: EventRecorder::new(store.clone(), "kubelet", clock.clone()),
                warned_mount_path: AtomicBool::new(false),
                store,
                config: self.config,
                nodes: RwLock::new(HashMap::new()),
                pods: running,
                pod_trigger: pods.trigger(),
                node_trigger: nodes.trigger(),
                workers: self.workers,
                worker_runtime,
                process_runtime: self.process_runtime,
                simulated: self.simulated,
                prober: self.prober,
                shutting_down: AtomicBool::new(false),
                addresses: super::addresses::AddressBlock::new(),
                deferred: Mutex::new(None),
                claimed_as: std::sync::OnceLock::new(),
            }),
        };
        for n in self.nodes {
            k.add_node_agent(n);
        }
        // As the kubelet's field selector spec.nodeName=<node>: pods on no node of this
        // engine (unscheduled, or on nodes that are objects only) are not reconciled here.
        let kf = k.clone();
        let pods = pods.filter(move |o| kf.runs_here(o));
        let kp = k.clone();
        let kn = k.clone();
        let controllers = vec![
            pods.build(move |ctx: &Context| kp.reconcile_pod(ctx)),
            nodes.build(move |ctx: &Context| kn.reconcile_node(ctx)),
        ];
        (k, controllers)
    }
}

/// The pods this kubelet runs (`running`) in `o`'s namespace that `refers` says use `o` (a
/// ConfigMap, Secret or PersistentVolumeClaim). Only those: such a write costs nothing when
/// no pod of its namespace runs here, rather than a pass over every pod of the namespace.
fn pods_referring_to(
    store: &Store,
    running: &DashMap<Arc<str>, Arc<Mutex<PodRt>>>,
    o: &dyn crate::api::Object,
    refers: impl Fn(&Pod) -> bool,
) -> Vec<ObjectKey> {
    let ns = o.meta().namespace_str();
    let keys: Vec<Arc<str>> = running
        .iter()
        .filter(|e| e.key().split_once('/').is_some_and(|(n, _)| n == ns))
        .map(|e| e.key().clone())
        .collect();
    let pods = crate::client::Api::<Pod>::all(store.clone()).namespace(ns);
    keys.iter()
        .filter_map(|k| pods.get_opt(k.split_once('/')?.1).ok().flatten())
        .filter(|p| p.spec.node_name.is_some())
        .filter(|p| refers(p))
        .map(|p| ObjectKey::of(p.as_ref()))
        .collect()
}

impl Kubelet {
    /// Whether `o` is a pod bound to a node of this engine.
    fn runs_here(&self, o: &dyn crate::api::Object) -> bool {
        o.as_any()
            .downcast_ref::<Pod>()
            .and_then(|p| p.spec.node_name.as_deref())
            .is_some_and(|n| self.inner.nodes.read().contains_key(n))
    }

    fn add_node_agent(&self, config: NodeConfig) {
        let mut runtimes: Vec<Arc<dyn ContainerRuntime>> = vec![self.inner.worker_runtime.clone()];
        if config.simulated {
            runtimes.push(Arc::new(self.inner.simulated.clone()));
        } else if let Some(p) = &self.inner.process_runtime {
            runtimes.push(p.clone());
        }
        let name = config.name.clone();
        self.inner.nodes.write().insert(
            name,
            Arc::new(NodeAgent {
                config,
                runtimes,
                stopped: RwLock::new(false),
                registered: std::sync::atomic::AtomicU64::new(0),
            }),
        );
    }

    /// The settings this kubelet runs with.
    pub fn config(&self) -> &KubeletConfig {
        &self.inner.config
    }

    /// Registers every node with the API (Node object, Lease) once the controllers run.
    pub fn start(&self) {
        for n in self.node_names() {
            self.inner.node_trigger.enqueue(ObjectKey::new(None, &n));
        }
    }

    /// Registers the kubelet's `controllers` (from [`KubeletBuilder::build`]) through
    /// `registrar` now when it has a node, else at the first [`Kubelet::add_node`].
    pub(crate) fn register_controllers(
        &self,
        controllers: Vec<Controller>,
        registrar: ControllerRegistrar,
    ) -> crate::Result<()> {
        *self.inner.deferred.lock() = Some((controllers, registrar));
        if self.inner.nodes.read().is_empty() {
            return Ok(());
        }
        self.start_deferred_controllers()
    }

    /// Registers the controllers [`Kubelet::register_controllers`] deferred, if they still
    /// are. The lock is held while they register, so a caller that finds them taken finds
    /// them registered.
    fn start_deferred_controllers(&self) -> crate::Result<()> {
        let mut deferred = self.inner.deferred.lock();
        match deferred.take() {
            Some((controllers, registrar)) => {
                // A node agent runs its own node's pods, whichever engine leads.
                controllers
                    .into_iter()
                    .try_for_each(|c| registrar.add(c.on_every_engine()))
            }
            None => Ok(()),
        }
    }

    /// Adds a node while the engine runs.
    pub fn add_node(&self, config: NodeConfig) -> crate::Result<()> {
        config.check_name()?;
        if self.inner.nodes.read().contains_key(&config.name) {
            return Err(Error::AlreadyExists {
                object: crate::ObjectRef::new("Node", None, &config.name),
            });
        }
        // The first node starts the kubelet's controllers (see `Inner::deferred`) before its
        // key is queued: a key queued for a controller not yet registered would be lost.
        self.start_deferred_controllers()?;
        let name = config.name.clone();
        self.add_node_agent(config);
        self.inner.node_trigger.enqueue(ObjectKey::new(None, &name));
        // Pods bound to it before it existed were out of this kubelet's scope.
        self.enqueue_pods_of(&name);
        Ok(())
    }

    /// Queues every pod bound to node `name` for the pod controller.
    fn enqueue_pods_of(&self, name: &str) {
        for p in crate::node::pods_on(&self.inner.store, name).unwrap_or_default() {
            self.inner.pod_trigger.enqueue(ObjectKey::of(p.as_ref()));
        }
    }

    /// Stops a node as a power failure would: its containers die at once (killed), it stops
    /// renewing its Lease and driving pods. The node lifecycle controller then marks it
    /// unreachable and evicts its pods. False for an unknown node.
    pub fn stop_node(&self, name: &str) -> bool {
        let Some(agent) = self.inner.nodes.read().get(name).cloned() else {
            return false;
        };
        // Waits for the reconciles acting for the node to end (see `NodeAgent::stopped`).
        *agent.stopped.write() = true;
        let keys: Vec<Arc<str>> = self
            .inner
            .pods
            .iter()
            .filter(|e| e.value().lock().node == name)
            .map(|e| e.key().clone())
            .collect();
        for k in keys {
            if let Some((_, st)) = self.inner.pods.remove(&k) {
                st.lock().kill_all();
            }
        }
        true
    }

    /// Makes each heartbeat keep this kubelet's nodes claimed by engine `identity`, and stop
    /// a node whose claim another engine took (see `node_claim`). Set once, before
    /// [`Kubelet::start`], by an engine on a shared store.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))] // only stores shared through etcd
    pub(crate) fn claim_nodes_as(&self, identity: &str) {
        let _ = self.inner.claimed_as.set(identity.to_string());
    }

    /// Starts a stopped node again: it renews its Lease and runs its pods anew.
    pub fn restart_node(&self, name: &str) -> bool {
        let Some(agent) = self.inner.nodes.read().get(name).cloned() else {
            return false;
        };
        *agent.stopped.write() = false;
        self.inner.node_trigger.enqueue(ObjectKey::new(None, name));
        self.enqueue_pods_of(name);
        true
    }

    /// The store revision of this kubelet's first write of `node`'s status since it started
    /// (the node registered, or its status renewed after a restart on a data dir), or
    /// `None` before that or for a node it does not run.
    pub fn node_status_revision(&self, node: &str) -> Option<u64> {
        let rev = self
            .inner
            .nodes
            .read()
            .get(node)?
            .registered
            .load(std::sync::atomic::Ordering::Acquire);
        (rev > 0).then_some(rev)
    }

    /// Whether this kubelet runs node `name` now: one of its nodes, not stopped (a node
    /// stopped by [`Kubelet::stop_node`], or given up to another engine that took it over).
    pub fn runs_node(&self, name: &str) -> bool {
        let agent = self.inner.nodes.read().get(name).cloned();
        // Not waiting for a stop in progress (it holds the flag's lock): stopping counts.
        agent.is_some_and(|a| a.stopped.try_read().is_some_and(|s| !*s))
    }

    /// Names of the nodes this kubelet runs, sorted.
    pub fn node_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.inner.nodes.read().keys().cloned().collect();
        v.sort();
        v
    }

    /// The registry of in-process workers (by image).
    pub fn worker_registry(&self) -> &Arc<WorkerRegistry> {
        &self.inner.workers
    }

    /// The former name of [`Kubelet::worker_registry`].
    #[doc(hidden)]
    #[deprecated(note = "renamed worker_registry")]
    pub fn workers(&self) -> &Arc<WorkerRegistry> {
        self.worker_registry()
    }

    /// The simulated runtime (fault injection).
    pub fn simulated(&self) -> &SimulatedRuntime {
        &self.inner.simulated
    }

    /// The output of a container of a pod: the current instance (the one that exited, while
    /// it waits to restart), or with `previous` the one before it (`kubectl logs
    /// [--previous]`). `container` may be omitted for a pod with one container.
    pub fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        previous: bool,
    ) -> crate::Result<String> {
        self.logs_of_instance(namespace, pod, container, previous)
            .map(|(_, text)| text)
    }

    /// [`Kubelet::logs`], with an identity of the instance whose output it is (equal for two
    /// reads of one instance), so a follower can tell a restart from more output.
    pub fn logs_of_instance(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        previous: bool,
    ) -> crate::Result<(u64, String)> {
        let key: Arc<str> = format!("{namespace}/{pod}").into();
        let not_found = || Error::NotFound {
            object: crate::ObjectRef::new("Pod", Some(namespace), pod),
        };
        let st = self.inner.pods.get(&key).map(|e| e.value().clone());
        let st = st.ok_or_else(not_found)?;
        let st = st.lock();
        let c = match container {
            Some(name) => st
                .all_containers()
                .find(|c| c.spec.name == name)
                .ok_or_else(|| {
                    Error::invalid(
                        crate::ObjectRef::new("Pod", Some(namespace), pod),
                        "container",
                        format!("container {name:?} is not in pod {namespace}/{pod}"),
                    )
                })?,
            None => {
                if st.containers.len() != 1 {
                    return Err(Error::invalid(
                        crate::ObjectRef::new("Pod", Some(namespace), pod),
                        "container",
                        format!(
                            "a container name must be given for pod {pod}, choose one of: [{}]",
                            st.containers
                                .iter()
                                .map(|c| c.spec.name.as_str())
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                    ));
                }
                &st.containers[0]
            }
        };
        let log = if previous {
            c.previous_log.as_ref().ok_or_else(|| {
                Error::invalid(
                    crate::ObjectRef::new("Pod", Some(namespace), pod),
                    "previous",
                    format!(
                        "previous terminated container {:?} in pod {pod:?} not found",
                        c.spec.name
                    ),
                )
            })?
        } else {
            // Between an exit and the restart (CrashLoopBackOff) the latest instance is the
            // one that exited: its output is the container's, as the kubelet serves it.
            let latest = c.log.as_ref().or_else(|| {
                c.current
                    .is_none()
                    .then_some(c.previous_log.as_ref())
                    .flatten()
            });
            latest.ok_or_else(|| {
                let reason = c
                    .waiting
                    .as_ref()
                    .map_or("ContainerCreating", |(reason, _)| reason.as_str());
                Error::invalid(
                    crate::ObjectRef::new("Pod", Some(namespace), pod),
                    "container",
                    format!(
                        "container {:?} in pod {pod:?} is waiting to start: {reason}",
                        c.spec.name
                    ),
                )
            })?
        };
        Ok((log.id(), log.text()))
    }

    /// CPU time used by the running containers of a pod, where the runtime measures it.
    pub fn pod_cpu_time(&self, namespace: &str, pod: &str) -> Option<Duration> {
        self.sum_running(namespace, pod, |h| h.cpu_time())
    }

    /// The memory in use by the running containers (sidecars included) of pod
    /// `namespace/pod`, as their runtimes measure it (a process container's working set,
    /// children included where it has a control group). `None` when the pod does not run
    /// here or no container is measured.
    pub fn pod_memory_bytes(&self, namespace: &str, pod: &str) -> Option<u64> {
        self.sum_running(namespace, pod, |h| h.memory_bytes())
    }

    /// The sum of what `measure` gives for the running containers (sidecars included) of pod
    /// `namespace/pod`; `None` when the pod does not run here or nothing was measured.
    fn sum_running<T: std::iter::Sum<T>>(
        &self,
        namespace: &str,
        pod: &str,
        measure: impl Fn(&dyn RunningContainer) -> Option<T>,
    ) -> Option<T> {
        let key: Arc<str> = format!("{namespace}/{pod}").into();
        let st = self.inner.pods.get(&key)?.value().clone();
        let st = st.lock();
        let mut any = false;
        let total = st
            .init
            .iter()
            .filter(|c| c.spec.is_sidecar())
            .chain(&st.containers)
            .filter_map(|c| c.current.as_ref().and_then(|i| measure(i.handle.as_ref())))
            .inspect(|_| any = true)
            .sum();
        any.then_some(total)
    }

    /// What each running container of pod `namespace/pod` has used so far, as its runtime
    /// measures it. `None` when the pod does not run here.
    pub fn container_usage(&self, namespace: &str, pod: &str) -> Option<Vec<ContainerUsage>> {
        let key: Arc<str> = format!("{namespace}/{pod}").into();
        let st = self.inner.pods.get(&key)?.value().clone();
        let st = st.lock();
        Some(
            st.containers
                .iter()
                .filter_map(|c| {
                    let i = c.current.as_ref()?;
                    Some(ContainerUsage {
                        container: c.spec.name.clone(),
                        cpu_time: i.handle.cpu_time(),
                        memory_bytes: i.handle.memory_bytes(),
                    })
                })
                .collect(),
        )
    }

    /// Stops every container: a graceful stop (within each pod's grace period, at most the
    /// configured shutdown grace, in real time), then a kill; waits (bounded) for every exit.
    /// Called at engine shutdown, after the controllers stopped.
    pub fn shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::Release);
        let states: Vec<Arc<Mutex<PodRt>>> =
            self.inner.pods.iter().map(|e| e.value().clone()).collect();
        let mut grace = Duration::ZERO;
        for st in &states {
            let st = st.lock();
            if st.any_running() {
                grace = grace.max(st.grace.min(self.inner.config.shutdown_grace));
            }
            for c in st.all_containers() {
                if let Some(i) = &c.current {
                    i.handle.terminate();
                }
            }
        }
        let deadline = std::time::Instant::now() + grace;
        let all_exited =
            |states: &[Arc<Mutex<PodRt>>]| states.iter().all(|s| !s.lock().any_running());
        while !all_exited(&states) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        for st in &states {
            st.lock().kill_all();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !all_exited(&states) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        // What the pods had on this host goes with them: configuration volumes (Secrets
        // among them) and emptyDirs are not left behind. Claims stay, as they do when a pod
        // goes.
        for st in &states {
            let uid = st.lock().uid.clone();
            self.remove_pod_dir(&uid);
        }
        let _ = std::fs::remove_dir(self.inner.config.data_dir().join("pods"));
        self.inner.pods.clear();
        // Every instance has been stopped: end the worker threads kept for restarts.
        let left = self.inner.worker_runtime.shutdown(Duration::from_secs(2));
        if left > 0 {
            log::warn!(
                "{left} worker thread(s) still running after shutdown: their workers ignore stop"
            );
        }
    }
}
