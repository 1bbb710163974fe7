//! The node agent (kubelet): drives the pods bound to the nodes this engine runs.
//!
//! One [`Kubelet`] serves every node of the engine (the local node, further local nodes,
//! simulated nodes); per node it keeps the runtimes and whether the node is up. It is an
//! ordinary controller on Pods (named `kubelet`): a reconcile of a pod compares what the pod
//! asks for with what runs and acts: starts containers through the node's first
//! [`Runtime`] that handles them, restarts them by restart policy with crash-loop backoff,
//! runs probes, stops containers gracefully (SIGTERM, then SIGKILL after the grace period)
//! when the pod is deleted, and writes the pod's status (phase, conditions, container
//! statuses). Everything outside the store that matters to a pod (a container exit, a probe
//! result) queues the pod's key through the controller's [`Trigger`]; every timer (backoff,
//! probe period, grace period) is a requeue on the engine clock. So a manual clock drives it
//! all in tests, and a crash is acted on as soon as it is reported.
//!
//! Invariants:
//! - the runtime's work queue never hands one pod to two workers, so a pod's state
//!   (`PodRt`) is only touched by one reconcile at a time; its mutex is only contended by
//!   shutdown and log readers;
//! - exit notifiers and probe threads never take a pod's mutex: they fill a slot of their own
//!   and queue the key, so they cannot deadlock with a reconcile that stops a container;
//! - a container instance is identified by its slot; a late exit or probe result of an
//!   instance that was replaced lands in the old slot and is never mistaken for the new one.

use super::config::{KubeletConfig, NodeConfig, HOSTNAME_LABEL, LEASE_NAMESPACE};
use super::logs::LogBuffer;
use super::probe::{run_probe, ProbeKind, ProbeResult, ProbeTarget};
use super::runtime::{ContainerSpec, ExitStatus, Mount, RunningContainer, Runtime};
use super::simulated::SimulatedRuntime;
use super::worker::{WorkerRegistry, WorkerRuntime};
use crate::api::{
    Condition, Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, Lease, LeaseSpec, LifecycleHandler, Node, NodeAddress,
    NodeSpec, NodeStatus, ObjectMeta, Pod, PodIp, PodStatus, Probe, Quantity, Time,
};
use crate::clock::SharedClock;
use crate::error::Error;
use crate::runtime::conditions::{condition, set_condition, status_of};
use crate::runtime::events::{EventKind, EventRecorder};
use crate::runtime::{Action, Context, Controller, ObjectKey, ReconcileResult, Trigger};
use crate::store::{DeleteParams, Store};
use dashmap::DashMap;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
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
struct NodeAgent {
    config: NodeConfig,
    runtimes: Vec<Arc<dyn Runtime>>,
    /// Whether the node is stopped (a simulated power failure).
    ///
    /// Invariant: every reconcile that acts for this node (starts containers, writes its
    /// Node, Lease or pod status) reads the flag under the read lock and holds that lock to
    /// its end; `stop_node` and `restart_node` change it under the write lock. So once
    /// `stop_node` returns, no reconcile in flight can still act for the node: without this,
    /// one that had checked the flag just before could recreate a Node deleted meanwhile,
    /// or start a container the stop had already killed.
    stopped: RwLock<bool>,
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
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: KubeletConfig,
    nodes: RwLock<HashMap<String, Arc<NodeAgent>>>,
    /// The pods this kubelet runs, by `namespace/name`; shared with the ConfigMap and
    /// Secret mappers ([`pods_referring_to`]).
    pods: Arc<DashMap<Arc<str>, Arc<Mutex<PodRt>>>>,
    pod_trigger: Trigger,
    node_trigger: Trigger,
    workers: Arc<WorkerRegistry>,
    worker_runtime: Arc<WorkerRuntime>,
    process_runtime: Option<Arc<dyn Runtime>>,
    simulated: SimulatedRuntime,
    prober: Option<Arc<dyn ProbeExecutor>>,
    /// Events about pods (skipped envFrom keys...), as component `kubelet`.
    events: EventRecorder,
    /// The warning that mountPath is not honoured was logged.
    warned_mount_path: AtomicBool,
    shutting_down: AtomicBool,
    /// Next pod address (see [`pod_ip`]).
    next_ip: std::sync::atomic::AtomicU32,
}

/// The `n`th pod address: `127.a.b.c` with `a` >= 1 and `c` in 1..=254, so never 127.0.0.1
/// (the host's) and never a network or broadcast-looking address. Linux routes all of
/// 127.0.0.0/8 to the loopback interface, so every pod has an address of its own and two
/// replicas can listen on the same port. Wraps after about 16 million pods.
fn pod_ip(n: u32) -> String {
    let c = n % 254 + 1;
    let rest = n / 254;
    let b = rest % 256;
    let a = (rest / 256) % 254 + 1;
    format!("127.{a}.{b}.{c}")
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
    config: KubeletConfig,
    nodes: Vec<NodeConfig>,
    workers: Arc<WorkerRegistry>,
    process_runtime: Option<Arc<dyn Runtime>>,
    simulated: SimulatedRuntime,
    prober: Option<Arc<dyn ProbeExecutor>>,
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

    /// The worker registry shared with the engine.
    pub fn workers(mut self, workers: Arc<WorkerRegistry>) -> Self {
        self.workers = workers;
        self
    }

    /// The runtime of real processes on local nodes.
    pub fn process_runtime(mut self, rt: Arc<dyn Runtime>) -> Self {
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
        // A ConfigMap or Secret that appears or changes wakes the pods that use it: a
        // container held back by a missing one starts, and its volumes are rewritten.
        let running: Arc<DashMap<Arc<str>, Arc<Mutex<PodRt>>>> = Arc::default();
        let (r1, r2) = (running.clone(), running.clone());
        let pods = Controller::for_kind::<Pod>("kubelet")
            .concurrency(64)
            .watches_with_store(
                "ConfigMap",
                move |store: &Store, o: &dyn crate::api::Object| {
                    pods_referring_to(store, &r1, o, false)
                },
            )
            .watches_with_store(
                "Secret",
                move |store: &Store, o: &dyn crate::api::Object| {
                    pods_referring_to(store, &r2, o, true)
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
                next_ip: std::sync::atomic::AtomicU32::new(0),
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

/// The pods this kubelet runs (`running`) in `o`'s namespace that use ConfigMap `o` (or
/// Secret `o` when `secret`). Only those: a ConfigMap write costs nothing when no pod of its
/// namespace runs here, rather than a pass over every pod of the namespace.
fn pods_referring_to(
    store: &Store,
    running: &DashMap<Arc<str>, Arc<Mutex<PodRt>>>,
    o: &dyn crate::api::Object,
    secret: bool,
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
        .filter(|p| super::env::pod_refers_to(p, secret, &o.meta().name))
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
        let mut runtimes: Vec<Arc<dyn Runtime>> = vec![self.inner.worker_runtime.clone()];
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

    /// Adds a node while the engine runs.
    pub fn add_node(&self, config: NodeConfig) -> crate::Result<()> {
        crate::api::validation::dns1123_subdomain(&config.name).map_err(|e| {
            Error::invalid(
                crate::ObjectRef::new("Node", None, &config.name),
                "metadata.name",
                e,
            )
        })?;
        if self.inner.nodes.read().contains_key(&config.name) {
            return Err(Error::AlreadyExists {
                object: crate::ObjectRef::new("Node", None, &config.name),
            });
        }
        let name = config.name.clone();
        self.add_node_agent(config);
        self.inner.node_trigger.enqueue(ObjectKey::new(None, &name));
        // Pods bound to it before it existed were out of this kubelet's scope.
        self.enqueue_pods_of(&name);
        Ok(())
    }

    /// Queues every pod bound to node `name` for the pod controller.
    fn enqueue_pods_of(&self, name: &str) {
        for p in super::pods_on(&self.inner.store, name).unwrap_or_default() {
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

    /// Names of the nodes this kubelet runs, sorted.
    pub fn node_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.inner.nodes.read().keys().cloned().collect();
        v.sort();
        v
    }

    /// The worker registry.
    pub fn workers(&self) -> &Arc<WorkerRegistry> {
        &self.inner.workers
    }

    /// The simulated runtime (fault injection).
    pub fn simulated(&self) -> &SimulatedRuntime {
        &self.inner.simulated
    }

    /// The output of a container of a pod: the current instance, or with `previous` the one
    /// before it (`kubectl logs [--previous]`). `container` may be omitted for a pod with
    /// one container.
    pub fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        previous: bool,
    ) -> crate::Result<String> {
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
            c.log.as_ref().ok_or_else(|| {
                Error::invalid(
                    crate::ObjectRef::new("Pod", Some(namespace), pod),
                    "container",
                    format!("container {:?} in pod {pod:?} has not started", c.spec.name),
                )
            })?
        };
        Ok(log.text())
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

    // -----------------------------------------------------------------------------------
    // Nodes: registration, status and Lease
    // -----------------------------------------------------------------------------------

    fn reconcile_node(&self, ctx: &Context) -> ReconcileResult {
        let name = ctx.name();
        let Some(agent) = self.inner.nodes.read().get(name).cloned() else {
            return Ok(Action::done());
        };
        // Held to the end of the reconcile: see `NodeAgent::stopped`.
        let stopped = agent.stopped.read();
        if *stopped || self.inner.shutting_down.load(Ordering::Acquire) {
            return Ok(Action::done());
        }
        let now = ctx.now();
        let nodes = ctx.api::<Node>();
        let status = self.node_status(&agent.config, now);
        match nodes.get_opt(name)? {
            None => {
                let mut labels = agent.config.labels.clone();
                labels.insert(HOSTNAME_LABEL.to_string(), name.to_string());
                labels.insert("kubernetes.io/os".into(), std::env::consts::OS.into());
                labels.insert("kubernetes.io/arch".into(), go_arch().into());
                let node = Node {
                    metadata: ObjectMeta {
                        name: name.to_string(),
                        labels,
                        ..Default::default()
                    },
                    spec: NodeSpec {
                        taints: agent.config.taints.clone(),
                        ..Default::default()
                    },
                    ..Default::default()
                };
                // Created in two steps as kubelets do: the object, then its status. A
                // conflict (someone created it meanwhile) retries with backoff.
                let created = nodes.create(node)?;
                let mut n = (*created).clone();
                n.status = Some(status);
                nodes.update_status(&n)?;
            }
            Some(cur) => {
                let mut n = (*cur).clone();
                let mut st = n.status.clone().unwrap_or_default();
                st.capacity = status.capacity.clone();
                st.allocatable = status.allocatable.clone();
                st.addresses = status.addresses.clone();
                if st.node_info.is_none() {
                    st.node_info = status.node_info.clone();
                }
                for c in status.conditions {
                    set_condition(&mut st.conditions, c, now);
                }
                // The heartbeat time moves on every renewal, as the kubelet's does.
                if let Some(r) = st.conditions.iter_mut().find(|c| c.type_ == "Ready") {
                    r.last_update_time = Some(now);
                }
                n.status = Some(st);
                nodes.update_status(&n)?;
            }
        }
        self.renew_lease(ctx, name, now)?;
        Ok(Action::requeue(self.inner.config.heartbeat_period))
    }

    fn node_status(&self, config: &NodeConfig, _now: Time) -> NodeStatus {
        let mut capacity = crate::api::ResourceList::new();
        capacity.insert("cpu".into(), Quantity::from_milli(config.cpu_millis));
        capacity.insert(
            "memory".into(),
            Quantity::from_bytes_binary(config.memory_bytes),
        );
        capacity.insert("pods".into(), Quantity::from_value(config.max_pods));
        let ready = condition(
            "Ready",
            "True",
            "KubeletReady",
            "steady node agent is posting ready status",
            None,
        );
        let pressure = |t: &str, reason: &str, msg: &str| condition(t, "False", reason, msg, None);
        NodeStatus {
            allocatable: capacity.clone(),
            capacity,
            conditions: vec![
                pressure(
                    "MemoryPressure",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                pressure(
                    "DiskPressure",
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                ),
                pressure(
                    "PIDPressure",
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                ),
                ready,
            ],
            addresses: vec![
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: "127.0.0.1".into(),
                    ..Default::default()
                },
                NodeAddress {
                    type_: "Hostname".into(),
                    address: config.name.clone(),
                    ..Default::default()
                },
            ],
            node_info: Some(serde_json::json!({
                "kubeletVersion": concat!("steady-", env!("CARGO_PKG_VERSION")),
                "operatingSystem": std::env::consts::OS,
                "architecture": go_arch(),
                "containerRuntimeVersion": if config.simulated { "simulated" } else { "process" },
            })),
            ..Default::default()
        }
    }

    fn renew_lease(
        &self,
        ctx: &Context,
        name: &str,
        now: Time,
    ) -> Result<(), crate::runtime::ReconcileError> {
        let leases = ctx.api::<Lease>().namespace(LEASE_NAMESPACE);
        let secs = self.inner.config.lease_duration.as_secs().max(1) as i32;
        match leases.get_opt(name)? {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: name.to_string(),
                        namespace: Some(LEASE_NAMESPACE.into()),
                        ..Default::default()
                    },
                    spec: LeaseSpec {
                        holder_identity: Some(name.to_string()),
                        lease_duration_seconds: Some(secs),
                        acquire_time: Some(now),
                        renew_time: Some(now),
                        ..Default::default()
                    },
                    ..Default::default()
                };
                leases.create(lease)?;
            }
            Some(cur) => {
                let mut l = (*cur).clone();
                l.spec.renew_time = Some(now);
                l.spec.lease_duration_seconds = Some(secs);
                leases.update(l)?;
            }
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Pods
    // -----------------------------------------------------------------------------------

    fn reconcile_pod(&self, ctx: &Context) -> ReconcileResult {
        if self.inner.shutting_down.load(Ordering::Acquire) {
            return Ok(Action::done());
        }
        let key: Arc<str> = ctx.key().to_string().into();
        let pod = ctx.get::<Pod>();
        let existing = self.inner.pods.get(&key).map(|e| e.value().clone());
        let agent = pod.as_ref().and_then(|p| {
            let n = p.spec.node_name.as_deref()?;
            self.inner.nodes.read().get(n).cloned()
        });
        // Held to the end of the reconcile: see `NodeAgent::stopped`.
        let stopped = agent.as_ref().map(|a| a.stopped.read());
        let running = stopped.as_deref() == Some(&false);
        let (pod, agent) = match (pod, agent.as_ref()) {
            (Some(p), Some(a)) if running => (p, a),
            (pod, _) => {
                // Gone, force-deleted, or not ours (any more): nothing of it may keep running.
                if let Some(st) = existing {
                    let same = pod
                        .as_ref()
                        .is_some_and(|p| p.metadata.uid.as_deref() == Some(&st.lock().uid));
                    if !same || pod.is_none() {
                        let st = st.lock();
                        st.kill_all();
                        self.remove_pod_dir(&st.uid);
                        drop(st);
                        self.inner.pods.remove(&key);
                    }
                }
                return Ok(Action::done());
            }
        };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let st = match existing {
            Some(st) if st.lock().uid == uid => st,
            other => {
                // A new pod under an old name is a new pod: the old one's containers go.
                if let Some(old) = other {
                    let old = old.lock();
                    old.kill_all();
                    self.remove_pod_dir(&old.uid);
                }
                if pod.metadata.deletion_timestamp.is_some() {
                    // Never started here: nothing to stop.
                    return self.finish_deletion(ctx, &pod);
                }
                let ip = pod_ip(self.inner.next_ip.fetch_add(1, Ordering::Relaxed));
                let mut rt = PodRt::new(&pod, &agent.config.name, ip);
                if rt.recover(&pod) {
                    // It ran before this engine started (a restart on a durable data dir):
                    // started again as after a node reboot, and the event says why.
                    let _ = self.inner.events.record(
                        pod.as_ref(),
                        EventKind::Normal,
                        "SandboxChanged",
                        "The engine restarted: the pod's containers are started again.",
                    );
                }
                let st = Arc::new(Mutex::new(rt));
                self.inner.pods.insert(key.clone(), st.clone());
                st
            }
        };
        let mut st = st.lock();
        let mut sync = PodSync {
            kubelet: self,
            agent,
            pod: &pod,
            key: &key,
            now: ctx.clock().monotonic(),
            wall: ctx.now(),
            next: None,
            ip: String::new(),
        };
        sync.ip = st.ip.clone();
        let outcome = sync.run(&mut st);
        let next = sync.next;
        drop(st);
        match outcome {
            Outcome::Delete => {
                self.inner.pods.remove(&key);
                self.remove_pod_dir(&uid);
                return self.finish_deletion(ctx, &pod);
            }
            Outcome::Status(status) => self.write_status(ctx, &pod, *status)?,
        }
        Ok(match next {
            Some(d) => Action::requeue(d),
            None => Action::done(),
        })
    }

    /// The last step of a graceful deletion: every container stopped, delete with grace 0.
    fn finish_deletion(&self, ctx: &Context, pod: &Pod) -> ReconcileResult {
        let params = DeleteParams {
            uid: pod.metadata.uid.clone(),
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        match ctx.api::<Pod>().delete(&pod.metadata.name, &params) {
            Ok(_) => Ok(Action::done()),
            Err(e) if e.is_not_found() || e.is_conflict() => Ok(Action::done()),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the pod's status if it changed; a conflict (someone else wrote the pod) is
    /// retried on the fresh object, keeping conditions others own.
    fn write_status(
        &self,
        ctx: &Context,
        pod: &Arc<Pod>,
        status: PodStatus,
    ) -> Result<(), crate::runtime::ReconcileError> {
        let api = ctx.api::<Pod>();
        let mut cur = pod.clone();
        for _ in 0..5 {
            let mut merged = status.clone();
            if let Some(old) = cur.status.as_deref() {
                // Conditions the kubelet does not own (DisruptionTarget, readiness gates...)
                // are kept; PodScheduled stays as the scheduler wrote it.
                for c in &old.conditions {
                    if !KUBELET_CONDITIONS.contains(&c.type_.as_str()) {
                        merged.conditions.push(c.clone());
                    }
                }
                merged.nominated_node_name = old.nominated_node_name.clone();
                merged.extra = old.extra.clone();
                if merged.start_time.is_none() {
                    merged.start_time = old.start_time;
                }
                // Keep transition times of conditions whose status did not change.
                for c in merged.conditions.iter_mut() {
                    if let Some(o) = old.conditions.iter().find(|o| o.type_ == c.type_) {
                        if o.status == c.status {
                            c.last_transition_time = o.last_transition_time;
                        }
                    }
                }
                if *old == merged {
                    return Ok(());
                }
            }
            // The status subresource reads only the identity, the resourceVersion (the
            // compare-and-swap) and the status: no copy of the spec and the rest of the pod.
            let p = Pod {
                metadata: ObjectMeta {
                    name: cur.metadata.name.clone(),
                    namespace: cur.metadata.namespace.clone(),
                    uid: cur.metadata.uid.clone(),
                    resource_version: cur.metadata.resource_version.clone(),
                    ..Default::default()
                },
                status: Some(Box::new(merged)),
                ..Default::default()
            };
            match api.update_status(&p) {
                Ok(_) => return Ok(()),
                Err(e) if e.is_conflict() => match api.get_opt(&pod.metadata.name)? {
                    Some(fresh) if fresh.metadata.uid == pod.metadata.uid => cur = fresh,
                    _ => return Ok(()),
                },
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        Err(crate::runtime::ReconcileError::retry(
            "pod status kept changing under the kubelet",
        ))
    }

    /// Removes what the pod had on this host (its emptyDir and configuration volumes):
    /// called once its containers are stopped (or killed) and it is gone from here.
    fn remove_pod_dir(&self, uid: &str) {
        // uids are the store's, but this is a recursive removal: never outside the data dir.
        if uid.is_empty() || uid.contains('/') || uid.starts_with('.') {
            return;
        }
        let dir = self.inner.config.data_dir().join("pods").join(uid);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log::warn!("kubelet: removing {}: {e}", dir.display()),
        }
    }

    fn volume_dir(&self, pod: &Pod, volume: &crate::api::Volume) -> Result<PathBuf, String> {
        let base = self.inner.config.data_dir();
        let ns = pod.metadata.namespace_str();
        if let Some(c) = &volume.persistent_volume_claim {
            // Admission validates claim names; check again, since this is a filesystem path.
            crate::api::validation::dns1123_subdomain(&c.claim_name).map_err(|e| {
                format!(
                    "volume {:?}: claimName {:?} is not a valid claim name: {e}",
                    volume.name, c.claim_name
                )
            })?;
            return Ok(base.join("claims").join(ns).join(&c.claim_name));
        }
        if let Some(h) = &volume.host_path {
            return Ok(PathBuf::from(&h.path));
        }
        let uid = pod.metadata.uid.as_deref().unwrap_or("none");
        crate::api::validation::dns1123_label(&volume.name)
            .map_err(|e| format!("volume name {:?}: {e}", volume.name))?;
        Ok(base
            .join("pods")
            .join(uid)
            .join("volumes")
            .join(&volume.name))
    }
}

/// Pod condition types the kubelet writes.
const KUBELET_CONDITIONS: &[&str] = &["Initialized", "ContainersReady", "Ready", "PodScheduled"];

/// Go's name of this architecture, as Kubernetes labels nodes.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

// ---------------------------------------------------------------------------------------
// Per-pod state
// ---------------------------------------------------------------------------------------

/// What the agent knows of one pod.
struct PodRt {
    uid: String,
    node: String,
    /// The pod's own loopback address (`status.podIP`, `POD_IP`).
    ip: String,
    init: Vec<ContRt>,
    containers: Vec<ContRt>,
    /// Index of the init container running or next to run; `init.len()` when done.
    init_done: usize,
    start_time: Option<Time>,
    /// Set when the pod's containers are being stopped for deletion or a deadline.
    stopping: Option<Stopping>,
    /// Grace period of this pod (for engine shutdown).
    grace: Duration,
    /// The pod failed for good (deadline exceeded, init failure with restartPolicy Never).
    failed: Option<(String, String)>,
}

struct Stopping {
    kill_at: Duration,
    killed: bool,
}

/// One container of a pod, across its instances.
struct ContRt {
    spec: Container,
    current: Option<Instance>,
    restart_count: i32,
    /// `lastState.terminated`.
    last_terminated: Option<ContainerStateTerminated>,
    /// The state after the last exit when the container will not run again.
    final_state: Option<ContainerStateTerminated>,
    waiting: Option<(String, String)>,
    /// Next crash-loop delay.
    backoff: Duration,
    /// Do not start before this monotonic time.
    not_before: Option<Duration>,
    log: Option<Arc<LogBuffer>>,
    previous_log: Option<Arc<LogBuffer>>,
    env: Vec<(String, String)>,
    working_dir: Option<PathBuf>,
}

/// One started instance of a container.
struct Instance {
    handle: Box<dyn RunningContainer>,
    /// Filled once by the exit notifier.
    exit: Arc<Mutex<Option<ExitStatus>>>,
    started_at: Time,
    started_mono: Duration,
    probes: Vec<ProbeRt>,
    /// The startup probe passed (or there is none).
    started: bool,
    ready: bool,
    /// Stopped because a probe failed: the reason for the restart.
    stopping_for: Option<String>,
    /// Runs in a mount namespace of its own (volumes at their mountPath).
    private_mounts: bool,
    kill_at: Option<Duration>,
    /// The postStart hook while it runs: no probes, not started, not ready until it returns.
    post_start: Option<Hook>,
    /// The preStop hook while it runs; the stop signal follows it.
    pre_stop: Option<Hook>,
    /// The stop signal was sent (after the preStop hook, if any): the hook never runs twice.
    term_sent: bool,
}

/// What an exec or httpGet probe or hook of `container` (its resolved environment and working
/// directory, in the pod at `ip`) runs against; exec enters the mount namespace of process
/// `mount_namespace_of` (the container's, when it has one of its own).
fn probe_target(
    container: &Container,
    env: &[(String, String)],
    working_dir: &Option<PathBuf>,
    ip: &str,
    mount_namespace_of: Option<u32>,
) -> ProbeTarget {
    ProbeTarget {
        container: container.clone(),
        env: env.to_vec(),
        working_dir: working_dir.clone(),
        host: ip.to_string(),
        mount_namespace_of,
    }
}

/// A lifecycle hook in progress.
enum Hook {
    /// `exec` or `httpGet`, on a thread of its own, which leaves its outcome here.
    Running(ProbeSlot),
    /// `sleep`: done at this monotonic time (the engine clock).
    Sleeping(Duration),
}

impl Hook {
    /// The outcome, once the hook is done.
    fn poll(&self, now: Duration) -> Option<Result<(), String>> {
        match self {
            Hook::Running(slot) => slot.lock().take(),
            Hook::Sleeping(until) => (now >= *until).then_some(Ok(())),
        }
    }
}

/// The longest an `exec` or `httpGet` postStart hook may run before it counts as failed
/// (Kubernetes sets none; a hook that never returns would hold its container for good).
const POST_START_TIMEOUT: Duration = Duration::from_secs(600);

/// Where a probe thread leaves its outcome.
type ProbeSlot = Arc<Mutex<Option<Result<(), String>>>>;

struct ProbeRt {
    kind: ProbeKind,
    probe: Probe,
    period: Duration,
    timeout: Duration,
    success_threshold: u32,
    failure_threshold: u32,
    successes: u32,
    failures: u32,
    /// `None` until the thresholds decide.
    result: Option<bool>,
    next_due: Duration,
    in_flight: Option<ProbeSlot>,
    last_message: Option<String>,
}

fn secs(v: Option<i32>, default: i32) -> Duration {
    Duration::from_secs(v.unwrap_or(default).max(0) as u64)
}

impl ProbeRt {
    fn new(kind: ProbeKind, probe: &Probe, started: Duration) -> Self {
        ProbeRt {
            kind,
            period: secs(probe.period_seconds, 10).max(Duration::from_secs(1)),
            timeout: secs(probe.timeout_seconds, 1).max(Duration::from_secs(1)),
            success_threshold: probe.success_threshold.unwrap_or(1).max(1) as u32,
            failure_threshold: probe.failure_threshold.unwrap_or(3).max(1) as u32,
            successes: 0,
            failures: 0,
            result: None,
            next_due: started + secs(probe.initial_delay_seconds, 0),
            in_flight: None,
            last_message: None,
            probe: probe.clone(),
        }
    }

    fn record(&mut self, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                self.failures = 0;
                self.successes += 1;
                if self.successes >= self.success_threshold {
                    self.result = Some(true);
                }
            }
            Err(msg) => {
                self.successes = 0;
                self.failures += 1;
                self.last_message = Some(msg);
                if self.failures >= self.failure_threshold {
                    self.result = Some(false);
                }
            }
        }
    }
}

impl ContRt {
    fn new(spec: &Container) -> Self {
        ContRt {
            spec: spec.clone(),
            current: None,
            restart_count: 0,
            last_terminated: None,
            final_state: None,
            waiting: Some(("ContainerCreating".into(), String::new())),
            backoff: Duration::ZERO,
            not_before: None,
            log: None,
            previous_log: None,
            env: Vec::new(),
            working_dir: None,
        }
    }

    fn running(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|i| i.exit.lock().is_none())
    }
}

impl PodRt {
    fn new(pod: &Pod, node: &str, ip: String) -> Self {
        PodRt {
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            node: node.to_string(),
            ip,
            init: pod.spec.init_containers.iter().map(ContRt::new).collect(),
            containers: pod.spec.containers.iter().map(ContRt::new).collect(),
            init_done: 0,
            start_time: None,
            stopping: None,
            grace: Duration::from_secs(
                pod.spec
                    .termination_grace_period_seconds
                    .unwrap_or(30)
                    .max(0) as u64,
            ),
            failed: None,
        }
    }

    /// Takes in what `pod`'s stored status says of containers that ran before this engine
    /// started (the engine restarted on a durable data dir), as the kubelet does after a
    /// node reboot. A pod that had finished stays finished: its containers' final states
    /// are kept and nothing runs again. Otherwise each container that had started counts a
    /// restart and keeps a `lastState` saying why. Whatever of a process pod the previous
    /// engine left running (its control groups, processes carrying its `POD_UID`, their
    /// process groups: see [`super::orphans`]) is killed first, so nothing runs twice.
    /// True when the pod had run before.
    fn recover(&mut self, pod: &Pod) -> bool {
        let Some(status) = pod.status.as_ref() else {
            return false;
        };
        if status.container_statuses.is_empty() && status.init_container_statuses.is_empty() {
            return false;
        }
        #[cfg(target_os = "linux")]
        self.kill_left_behind(status);
        let finished = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
        let pairs = self
            .init
            .iter_mut()
            .zip(&status.init_container_statuses)
            .chain(self.containers.iter_mut().zip(&status.container_statuses));
        for (c, stored) in pairs {
            if stored.name != c.spec.name {
                continue;
            }
            let state = stored.state.as_ref();
            let terminated = state.and_then(|s| s.terminated.as_deref().cloned());
            if finished {
                c.restart_count = stored.restart_count;
                c.final_state = terminated.or_else(|| {
                    Some(ContainerStateTerminated {
                        exit_code: 0,
                        reason: Some("Completed".into()),
                        ..Default::default()
                    })
                });
                c.waiting = None;
                continue;
            }
            let ran = state.is_some_and(|s| s.running.is_some() || s.terminated.is_some())
                || stored.restart_count > 0;
            if ran {
                c.restart_count = stored.restart_count + 1;
                c.last_terminated = Some(ContainerStateTerminated {
                    exit_code: 255,
                    reason: Some("Unknown".into()),
                    message: Some(
                        "The container could not be located when the engine restarted".into(),
                    ),
                    started_at: state
                        .and_then(|s| s.running.as_ref())
                        .and_then(|r| r.started_at),
                    ..Default::default()
                });
            }
        }
        if finished {
            self.init_done = self.init.len();
            if status.phase.as_deref() == Some("Failed")
                && self.containers.iter().all(|c| c.final_state.is_none())
            {
                self.failed = Some((
                    status.reason.clone().unwrap_or_else(|| "Failed".into()),
                    status.message.clone().unwrap_or_default(),
                ));
            }
        }
        true
    }

    /// Kills what the previous engine left running of this pod, when it ran as processes
    /// (a `process://<pid>` container id in `status`): the cost of a scan of /proc is paid
    /// by process pods only.
    #[cfg(target_os = "linux")]
    fn kill_left_behind(&self, status: &PodStatus) {
        let groups: Vec<i32> = status
            .init_container_statuses
            .iter()
            .chain(&status.container_statuses)
            .filter_map(|c| c.container_id.as_deref()?.strip_prefix("process://"))
            .filter_map(|pid| pid.parse().ok())
            .collect();
        if groups.is_empty() {
            return;
        }
        let names: Vec<&str> = self
            .all_containers()
            .map(|c| c.spec.name.as_str())
            .collect();
        super::orphans::kill_left_behind(&self.uid, &names, &groups);
    }

    fn all_containers(&self) -> impl Iterator<Item = &ContRt> {
        self.init.iter().chain(self.containers.iter())
    }

    fn any_running(&self) -> bool {
        self.all_containers().any(ContRt::running)
    }

    fn kill_all(&self) {
        for c in self.all_containers() {
            if let Some(i) = &c.current {
                if i.exit.lock().is_none() {
                    i.handle.kill();
                }
            }
        }
    }
}

enum Outcome {
    Status(Box<PodStatus>),
    Delete,
}

/// One reconcile of one pod.
struct PodSync<'a> {
    kubelet: &'a Kubelet,
    agent: &'a NodeAgent,
    pod: &'a Pod,
    key: &'a Arc<str>,
    now: Duration,
    wall: Time,
    next: Option<Duration>,
    /// The pod's address.
    ip: String,
}

impl PodSync<'_> {
    fn wake_in(&mut self, d: Duration) {
        self.next = Some(self.next.map_or(d, |n| n.min(d)));
    }

    fn wake_at(&mut self, at: Duration) {
        let d = at.saturating_sub(self.now);
        self.wake_in(d.max(Duration::from_millis(1)));
    }

    fn restart_policy(&self) -> &str {
        self.pod.spec.restart_policy.as_deref().unwrap_or("Always")
    }

    fn run(&mut self, st: &mut PodRt) -> Outcome {
        if st.start_time.is_none() {
            st.start_time = Some(self.wall);
        }
        // Collect exits and probe results first: they are what usually woke us. Nothing is
        // restarted once the pod is being stopped (its sidecars included).
        let stopping = st.stopping.is_some();
        for i in 0..st.init.len() {
            self.observe(&mut st.init[i], true, stopping);
        }
        for i in 0..st.containers.len() {
            self.observe(&mut st.containers[i], false, stopping);
        }
        let deleting = self.pod.metadata.deletion_timestamp.is_some();
        let deadline_passed = self.active_deadline_passed(st);
        if deleting || deadline_passed || st.failed.is_some() {
            if deadline_passed && st.failed.is_none() {
                let ads = self.pod.spec.active_deadline_seconds.unwrap_or(0);
                st.failed = Some((
                    "DeadlineExceeded".into(),
                    format!(
                        "Pod was active on the node longer than the specified deadline ({ads}s)"
                    ),
                ));
            }
            if self.stop_all(st, deleting) && deleting {
                return Outcome::Delete;
            }
            return Outcome::Status(Box::new(self.status(st)));
        }
        if self.terminal(st).is_some() {
            // The main containers are done: the sidecars go too.
            self.stop_all(st, false);
            return Outcome::Status(Box::new(self.status(st)));
        }
        // Init containers, one after the other, each to success; a sidecar counts once it
        // started (and its startup probe and postStart hook passed), and keeps running.
        while st.init_done < st.init.len() {
            let idx = st.init_done;
            if st.init[idx].spec.is_sidecar() {
                self.ensure_running(&mut st.init[idx], true);
                self.probe(&mut st.init[idx]);
                let started = st.init[idx]
                    .current
                    .as_ref()
                    .is_some_and(|i| i.started && i.post_start.is_none());
                if started {
                    st.init_done += 1;
                    continue;
                }
                return Outcome::Status(Box::new(self.status(st)));
            }
            let done = st.init[idx]
                .final_state
                .as_ref()
                .is_some_and(|t| t.exit_code == 0);
            if done {
                st.init_done += 1;
                continue;
            }
            if st.init[idx].final_state.is_some() {
                // Failed for good (restartPolicy Never).
                st.failed = Some((
                    "Failed".into(),
                    format!("init container {:?} failed", st.init[idx].spec.name),
                ));
                return Outcome::Status(Box::new(self.status(st)));
            }
            self.ensure_running(&mut st.init[idx], true);
            return Outcome::Status(Box::new(self.status(st)));
        }
        self.refresh_volumes();
        for i in 0..st.init.len() {
            if st.init[i].spec.is_sidecar() {
                self.ensure_running(&mut st.init[i], true);
                self.probe(&mut st.init[i]);
            }
        }
        for i in 0..st.containers.len() {
            self.ensure_running(&mut st.containers[i], false);
            self.probe(&mut st.containers[i]);
        }
        Outcome::Status(Box::new(self.status(st)))
    }

    fn active_deadline_passed(&mut self, st: &PodRt) -> bool {
        let (Some(ads), Some(start)) = (self.pod.spec.active_deadline_seconds, st.start_time)
        else {
            return false;
        };
        let limit = Duration::from_secs(ads.max(0) as u64);
        let ran = self.wall.saturating_duration_since(start);
        if ran >= limit {
            return true;
        }
        self.wake_in(limit - ran);
        false
    }

    /// Stops every container (grace, then kill). True once none runs.
    fn stop_all(&mut self, st: &mut PodRt, deleting: bool) -> bool {
        if !st.any_running() {
            return true;
        }
        match &mut st.stopping {
            None => {
                let grace = if deleting {
                    self.pod
                        .metadata
                        .deletion_grace_period_seconds
                        .or(self.pod.spec.termination_grace_period_seconds)
                        .unwrap_or(30)
                } else {
                    self.pod.spec.termination_grace_period_seconds.unwrap_or(30)
                };
                let grace = Duration::from_secs(grace.max(0) as u64);
                st.stopping = Some(Stopping {
                    kill_at: self.now + grace,
                    killed: grace.is_zero(),
                });
                if grace.is_zero() {
                    // No grace: everything at once, sidecars included.
                    st.kill_all();
                } else {
                    for c in st.init.iter_mut().chain(st.containers.iter_mut()) {
                        if !c.spec.is_sidecar() {
                            self.stop_container(c, grace);
                        }
                    }
                    self.stop_sidecars_after_mains(st);
                    self.wake_in(grace);
                }
            }
            Some(s) => {
                if !s.killed && self.now >= s.kill_at {
                    s.killed = true;
                    st.kill_all();
                } else if !s.killed {
                    let at = s.kill_at;
                    self.wake_at(at);
                    for c in st.init.iter_mut().chain(st.containers.iter_mut()) {
                        self.poll_pre_stop(c);
                    }
                    self.stop_sidecars_after_mains(st);
                }
            }
        }
        !st.any_running()
    }

    /// Stops the sidecars once no other container of the pod runs (as the kubelet stops
    /// them after the main containers), within what is left of the grace period.
    fn stop_sidecars_after_mains(&mut self, st: &mut PodRt) {
        let mains_running = st
            .init
            .iter()
            .chain(&st.containers)
            .any(|c| !c.spec.is_sidecar() && c.running());
        let Some(stopping) = &st.stopping else { return };
        if mains_running {
            return;
        }
        let grace = stopping.kill_at.saturating_sub(self.now);
        for c in st.init.iter_mut().rev().filter(|c| c.spec.is_sidecar()) {
            self.stop_container(c, grace);
        }
    }

    /// Starts stopping `c`'s running instance within `grace`: at once by force when it is
    /// zero; else its preStop hook first (the stop signal follows when the hook returns, see
    /// [`Self::poll_pre_stop`]), or the stop signal now. The caller keeps the kill deadline.
    fn stop_container(&mut self, c: &mut ContRt, grace: Duration) {
        let Some(inst) = &c.current else { return };
        if grace.is_zero() {
            inst.handle.kill();
            return;
        }
        if inst.term_sent || inst.pre_stop.is_some() {
            return;
        }
        let hook = c
            .spec
            .lifecycle
            .as_ref()
            .and_then(|l| l.pre_stop.clone())
            .filter(|_| inst.exit.lock().is_none());
        match hook {
            Some(h) => {
                let running = self.start_hook(c, &h, grace);
                if let Some(inst) = &mut c.current {
                    inst.pre_stop = Some(running);
                }
                // It may be done already (a zero sleep).
                self.poll_pre_stop(c);
            }
            None => {
                if let Some(inst) = &mut c.current {
                    inst.handle.terminate();
                    inst.term_sent = true;
                }
            }
        }
    }

    /// Sends the stop signal once `c`'s preStop hook returned; a failed hook is a Warning
    /// `FailedPreStopHook` event, and the stop goes on.
    fn poll_pre_stop(&mut self, c: &mut ContRt) {
        let Some(inst) = &mut c.current else { return };
        let Some(done) = inst.pre_stop.as_ref().and_then(|h| h.poll(self.now)) else {
            if let Some(Hook::Sleeping(until)) = inst.pre_stop {
                self.wake_at(until);
            }
            return;
        };
        inst.pre_stop = None;
        inst.handle.terminate();
        inst.term_sent = true;
        if let Err(msg) = done {
            log::info!("pod {}: {msg}", self.key);
            let _ = self.kubelet.inner.events.record(
                self.pod,
                EventKind::Warning,
                "FailedPreStopHook",
                &msg,
            );
        }
    }

    /// Starts `handler` for `c`'s running instance: a `sleep` becomes a wake-up on the engine
    /// clock; `exec` and `httpGet` run on a thread of their own (at most `timeout`) that
    /// wakes the pod when done.
    fn start_hook(&mut self, c: &ContRt, handler: &LifecycleHandler, timeout: Duration) -> Hook {
        if let Some(sleep) = &handler.sleep {
            let until = self.now + Duration::from_secs(sleep.seconds.max(0) as u64);
            self.wake_at(until);
            return Hook::Sleeping(until);
        }
        let slot: ProbeSlot = Arc::new(Mutex::new(None));
        let target = self.target_of(c);
        let handler = handler.clone();
        let spawned = self.off_thread(
            "steady-hook",
            &slot,
            "the lifecycle hook panicked",
            move || super::probe::run_hook(&handler, &target, timeout),
        );
        if let Err(e) = spawned {
            *slot.lock() = Some(Err(format!("cannot start the lifecycle hook: {e}")));
        }
        Hook::Running(slot)
    }

    /// Where a probe or hook of `c`'s running instance reaches it.
    fn target_of(&self, c: &ContRt) -> ProbeTarget {
        let inst = c
            .current
            .as_ref()
            .expect("probes and hooks run for a running instance");
        probe_target(
            &c.spec,
            &c.env,
            &c.working_dir,
            &self.ip,
            inst.private_mounts.then(|| inst.handle.pid()).flatten(),
        )
    }

    /// Runs `job` (a probe or a hook) on a thread of its own, puts its result in `slot`
    /// (`panicked` if it panics) and queues this pod, whose next sync takes the result.
    fn off_thread(
        &self,
        name: &str,
        slot: &ProbeSlot,
        panicked: &str,
        job: impl FnOnce() -> Result<(), String> + Send + 'static,
    ) -> std::io::Result<()> {
        let trigger = self.kubelet.inner.pod_trigger.clone();
        let key = ObjectKey::new(
            Some(self.pod.metadata.namespace_str()),
            &self.pod.metadata.name,
        );
        let (out, panicked) = (slot.clone(), panicked.to_string());
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                *out.lock() = Some(r.unwrap_or(Err(panicked)));
                trigger.enqueue(key);
            })
            .map(drop)
    }

    /// Takes in a reported exit or finished probe of the current instance.
    fn observe(&mut self, c: &mut ContRt, init: bool, stopping: bool) {
        let Some(inst) = &mut c.current else { return };
        let mut unhealthy = Vec::new();
        for p in inst.probes.iter_mut() {
            let done = p.in_flight.as_ref().and_then(|slot| slot.lock().take());
            if let Some(outcome) = done {
                p.in_flight = None;
                if let Err(msg) = &outcome {
                    unhealthy.push(format!("{} probe failed: {msg}", p.kind.as_str()));
                }
                p.record(outcome);
                p.next_due = self.now + p.period;
            }
        }
        // As the kubelet: every failed probe is a Warning `Unhealthy` (repeats aggregate).
        for message in unhealthy {
            let _ = self.kubelet.inner.events.record(
                self.pod,
                EventKind::Warning,
                "Unhealthy",
                &message,
            );
        }
        let exit = inst.exit.lock().clone();
        let Some(exit) = exit else { return };
        let inst = c.current.take().expect("checked above");
        let mut message = exit.message.clone();
        if let Some(why) = &inst.stopping_for {
            message = Some(why.clone());
        }
        let term = ContainerStateTerminated {
            exit_code: exit.exit_code,
            signal: exit.signal,
            reason: Some(exit.reason.clone()),
            message,
            started_at: Some(inst.started_at),
            finished_at: Some(self.wall),
            container_id: Some(inst.handle.id().to_string()),
            ..Default::default()
        };
        let policy = if init && c.spec.is_sidecar() {
            "Always" // a sidecar runs beside the main containers, whatever the pod's policy
        } else if init && self.restart_policy() == "Always" {
            "OnFailure" // init containers must succeed once; Always restarts only failures
        } else {
            self.restart_policy()
        };
        let restart = match policy {
            "Never" => false,
            "OnFailure" => exit.exit_code != 0 || inst.stopping_for.is_some(),
            _ => true,
        } && self.pod.metadata.deletion_timestamp.is_none()
            && !stopping;
        // Crash-loop backoff: the first restart is immediate, then initial doubling to max;
        // a container that ran long enough starts over.
        let ran = self.now.saturating_sub(inst.started_mono);
        let cfg = &self.kubelet.inner.config;
        if ran >= cfg.crash_loop_reset {
            c.backoff = Duration::ZERO;
        }
        c.previous_log = c.log.take();
        if restart {
            let delay = c.backoff;
            c.backoff = if delay.is_zero() {
                cfg.crash_loop_initial
            } else {
                (delay * 2).min(cfg.crash_loop_max)
            };
            c.last_terminated = Some(term);
            c.restart_count += 1;
            c.not_before = Some(self.now + delay);
            if !delay.is_zero() {
                c.waiting = Some((
                    "CrashLoopBackOff".into(),
                    format!(
                        "back-off {}s restarting failed container={} pod={}_{}({})",
                        delay.as_secs(),
                        c.spec.name,
                        self.pod.metadata.name,
                        self.pod.metadata.namespace_str(),
                        self.pod.metadata.uid.as_deref().unwrap_or("")
                    ),
                ));
            }
            // The restarted instance keeps the old output readable as `previous`.
            c.log = None;
        } else {
            c.final_state = Some(term);
        }
    }

    /// Starts the container unless it runs, will not run again, or is backing off.
    fn ensure_running(&mut self, c: &mut ContRt, init: bool) {
        if c.current.is_some() || c.final_state.is_some() {
            return;
        }
        if let Some(t) = c.not_before {
            if self.now < t {
                self.wake_at(t);
                return;
            }
        }
        let Some(runtime) = self.agent.runtimes.iter().find(|r| r.handles(&c.spec)) else {
            let image = c.spec.image.as_deref().unwrap_or("");
            c.waiting = Some((
                "ErrImageNeverPull".into(),
                format!(
                    "image {image:?} is neither a registered worker image nor in the image table, \
                     and container {:?} has no command to run as a process: map the image \
                     (EngineBuilder::images, \"images\" in the C/Python config, steady run \
                     --images FILE) or give the container a command",
                    c.spec.name
                ),
            ));
            return;
        };
        let held = match self.mounts(&c.spec) {
            Ok(mounts) => self.env(&c.spec, &mounts).map(|env| (mounts, env)),
            Err(msg) => Err(msg),
        };
        let (mounts, env) = match held {
            Ok(x) => x,
            Err(msg) => {
                // As the kubelet: held back until the ConfigMap or Secret appears (its
                // watch wakes the pod), retried now and then in any case; a Warning
                // `Failed` event each time the reason changes.
                let reason = "CreateContainerConfigError";
                if c.waiting.as_ref() != Some(&(reason.to_string(), msg.clone())) {
                    let _ = self.kubelet.inner.events.record(
                        self.pod,
                        EventKind::Warning,
                        "Failed",
                        &format!("Error: {msg}"),
                    );
                }
                c.waiting = Some((reason.into(), msg));
                self.wake_in(Duration::from_secs(10));
                return;
            }
        };
        let working_dir = c
            .spec
            .working_dir
            .as_ref()
            .map(PathBuf::from)
            .or_else(|| mounts.first().map(|m| m.host_path.clone()));
        let log = Arc::new(LogBuffer::new(self.kubelet.inner.config.log_limit));
        let exit = Arc::new(Mutex::new(None));
        let slot = exit.clone();
        let trigger = self.kubelet.inner.pod_trigger.clone();
        let key = ObjectKey::new(
            Some(self.pod.metadata.namespace_str()),
            &self.pod.metadata.name,
        );
        let (trigger2, key2) = (trigger.clone(), key.clone());
        let spec = ContainerSpec {
            namespace: self.pod.metadata.namespace_str().to_string(),
            pod_name: self.pod.metadata.name.clone(),
            pod_uid: self.pod.metadata.uid.clone().unwrap_or_default(),
            node_name: self.agent.config.name.clone(),
            container: c.spec.clone(),
            env: env.clone(),
            working_dir: working_dir.clone(),
            mounts,
            log: log.clone(),
            on_exit: Arc::new(move |status| {
                // Never takes the pod's mutex: see the module invariants.
                *slot.lock() = Some(status);
                trigger.enqueue(key.clone());
            }),
            on_change: Arc::new(move || {
                trigger2.enqueue(key2.clone());
            }),
        };
        let private_mounts = !spec.mounts.is_empty() && runtime.mounts_at_mount_path();
        if !spec.mounts.is_empty() {
            self.record_mount_mode(runtime.as_ref(), &spec.container.name, &spec.mounts);
        }
        c.env = env;
        c.working_dir = working_dir;
        c.log = Some(log);
        c.not_before = None;
        match runtime.start(spec) {
            Ok(handle) => {
                let mut probes = Vec::new();
                if !init || c.spec.is_sidecar() {
                    let s = &c.spec;
                    for (kind, p) in [
                        (ProbeKind::Startup, &s.startup_probe),
                        (ProbeKind::Liveness, &s.liveness_probe),
                        (ProbeKind::Readiness, &s.readiness_probe),
                    ] {
                        if let Some(p) = p {
                            probes.push(ProbeRt::new(kind, p, self.now));
                        }
                    }
                }
                let started = !probes.iter().any(|p| p.kind == ProbeKind::Startup);
                c.waiting = None;
                let post_start = c.spec.lifecycle.as_ref().and_then(|l| l.post_start.clone());
                c.current = Some(Instance {
                    handle,
                    exit,
                    started_at: self.wall,
                    started_mono: self.now,
                    probes,
                    started,
                    ready: false,
                    stopping_for: None,
                    private_mounts,
                    kill_at: None,
                    post_start: None,
                    pre_stop: None,
                    term_sent: false,
                });
                if let Some(h) = post_start {
                    let hook = self.start_hook(c, &h, POST_START_TIMEOUT);
                    if let Some(inst) = &mut c.current {
                        inst.post_start = Some(hook);
                    }
                }
            }
            Err(e) => {
                // As the kubelet reports a failed exec: a terminated instance with the
                // runtime's reason and the OS error, then a restart by policy.
                let mut inst_log = c.log.take();
                if let Some(l) = &mut inst_log {
                    l.line(&format!("{}: {}", e.reason, e.message));
                }
                c.log = inst_log;
                let slot = Arc::new(Mutex::new(Some(ExitStatus::failed(
                    128, &e.reason, e.message,
                ))));
                c.current = Some(Instance {
                    handle: Box::new(NeverStarted),
                    exit: slot,
                    started_at: self.wall,
                    started_mono: self.now,
                    probes: Vec::new(),
                    started: false,
                    ready: false,
                    stopping_for: None,
                    private_mounts,
                    kill_at: None,
                    post_start: None,
                    pre_stop: None,
                    term_sent: false,
                });
                self.observe(c, init, false);
                if c.final_state.is_none() {
                    // Restart by the crash-loop rules.
                    let nb = c.not_before.unwrap_or(self.now);
                    if nb <= self.now {
                        // First failure restarts at once; avoid a hot loop inside this call.
                        self.wake_in(Duration::from_millis(1));
                    } else {
                        self.wake_at(nb);
                    }
                }
            }
        }
    }

    /// Rewrites the configuration volumes already set up (by a container start) whose
    /// source changed, in place and atomically ([`super::volumes`]). A source that went
    /// missing leaves the last version in place, as the kubelet does, and is reported.
    fn refresh_volumes(&self) {
        if self.agent.config.simulated {
            return;
        }
        for v in &self.pod.spec.volumes {
            if !super::volumes::is_projected(v) {
                continue;
            }
            let Ok(dir) = self.kubelet.volume_dir(self.pod, v) else {
                continue;
            };
            if std::fs::symlink_metadata(dir.join("..data")).is_err() {
                continue; // not set up yet: the first container start does it
            }
            let result = match self.facts().payload(v) {
                Ok(Some(payload)) => super::volumes::write_atomically(&dir, &payload)
                    .map(|_| ())
                    .map_err(|e| format!("writing {}: {e}", dir.display())),
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                let _ = self.kubelet.inner.events.record(
                    self.pod,
                    EventKind::Warning,
                    "FailedMount",
                    &format!("MountVolume.SetUp failed for volume {:?} : {e}", v.name),
                );
            }
        }
    }

    /// Records in the pod's events whether the container sees its volumes at their
    /// `mountPath` (`VolumesAtMountPath`) or only at `STEADY_VOLUME_<NAME>`
    /// (`VolumesNotAtMountPath`), and warns once per engine of the latter for processes.
    fn record_mount_mode(&self, runtime: &dyn Runtime, container: &str, mounts: &[Mount]) {
        let list: Vec<String> = mounts
            .iter()
            .map(|m| format!("{} at {}", m.volume, m.mount_path))
            .collect();
        let (kind, reason, message) = if runtime.mounts_at_mount_path() {
            (
                EventKind::Normal,
                "VolumesAtMountPath",
                format!(
                    "container {container}: volumes mounted at their mountPath in a private \
                     mount namespace: {}",
                    list.join(", ")
                ),
            )
        } else {
            let why = if runtime.name() == "process" {
                if !self
                    .kubelet
                    .inner
                    .warned_mount_path
                    .swap(true, Ordering::Relaxed)
                {
                    log::warn!(
                        "kubelet: volume mountPath is not honoured on this host (a private \
                         mount namespace needs Linux and root); processes find their volumes \
                         at STEADY_VOLUME_<NAME>"
                    );
                }
                "this host gives processes no private mount namespace (needs Linux and root)"
            } else {
                "an in-process worker shares the engine's view of the filesystem"
            };
            (
                EventKind::Warning,
                "VolumesNotAtMountPath",
                format!(
                    "container {container}: mountPath is not honoured: {why}; the volumes are \
                     at STEADY_VOLUME_<NAME>, not at {}",
                    list.join(", ")
                ),
            )
        };
        let _ = self
            .kubelet
            .inner
            .events
            .record(self.pod, kind, reason, &message);
    }

    fn mounts(&self, c: &Container) -> Result<Vec<Mount>, String> {
        let mut out = Vec::new();
        for vm in &c.volume_mounts {
            let Some(v) = self.pod.spec.volumes.iter().find(|v| v.name == vm.name) else {
                return Err(format!(
                    "volumeMount {:?} of container {:?} names no volume of the pod",
                    vm.name, c.name
                ));
            };
            let dir = self.kubelet.volume_dir(self.pod, v)?;
            let setup_failed =
                |e: String| format!("MountVolume.SetUp failed for volume {:?} : {e}", v.name);
            let payload = self.facts().payload(v).map_err(setup_failed)?;
            if !self.agent.config.simulated {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
                if let Some(payload) = &payload {
                    super::volumes::write_atomically(&dir, payload)
                        .map_err(|e| setup_failed(format!("writing {}: {e}", dir.display())))?;
                }
            }
            out.push(Mount {
                volume: vm.name.clone(),
                mount_path: vm.mount_path.clone(),
                host_path: dir,
                sub_path: vm.sub_path.clone().filter(|s| !s.is_empty()),
                read_only: vm.read_only == Some(true),
            });
        }
        Ok(out)
    }

    /// The container's environment (see [`super::env`]): steady's own variables, then the
    /// Service variables, then `envFrom`, then `env`. An error names the missing ConfigMap, Secret or key.
    fn env(&self, c: &Container, mounts: &[Mount]) -> Result<Vec<(String, String)>, String> {
        let m = &self.pod.metadata;
        let mut env = vec![
            ("POD_NAME".to_string(), m.name.clone()),
            ("POD_NAMESPACE".to_string(), m.namespace_str().to_string()),
            ("POD_UID".to_string(), m.uid.clone().unwrap_or_default()),
            ("NODE_NAME".to_string(), self.agent.config.name.clone()),
            ("POD_IP".to_string(), self.ip.clone()),
            (
                "HOSTNAME".to_string(),
                self.pod
                    .spec
                    .hostname
                    .clone()
                    .unwrap_or_else(|| m.name.clone()),
            ),
        ];
        for mt in mounts {
            let var: String = mt
                .volume
                .chars()
                .map(|ch| {
                    if ch.is_ascii_alphanumeric() {
                        ch.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            env.push((
                format!("STEADY_VOLUME_{var}"),
                mt.host_path.display().to_string(),
            ));
        }
        // Before envFrom and env, so those override them and `$(VAR)` can name them.
        env.extend(super::env::service_env(&self.kubelet.inner.store, self.pod));
        let resolved = self.facts().container_env(c, env)?;
        for msg in &resolved.skipped {
            let _ = self.kubelet.inner.events.record(
                self.pod,
                EventKind::Warning,
                "InvalidEnvironmentVariableNames",
                msg,
            );
        }
        Ok(resolved.vars)
    }

    /// What the downward API and ConfigMap/Secret references of this pod resolve against.
    fn facts(&self) -> super::env::PodFacts<'_> {
        let config = &self.kubelet.inner.config;
        super::env::PodFacts {
            store: &self.kubelet.inner.store,
            pod: self.pod,
            node: &self.agent.config,
            pod_ip: &self.ip,
            ephemeral_bytes: Box::new(|| super::env::filesystem_bytes(&config.data_dir())),
        }
    }

    /// Runs due probes of the current instance and acts on their results.
    fn probe(&mut self, c: &mut ContRt) {
        let Some(inst) = &mut c.current else { return };
        if inst.exit.lock().is_some() || inst.stopping_for.is_some() {
            if let Some(at) = inst.kill_at {
                if self.now >= at {
                    inst.handle.kill();
                    inst.kill_at = None;
                } else {
                    self.wake_at(at);
                    self.poll_pre_stop(c);
                }
            }
            return;
        }
        // As the kubelet: probes start once the postStart hook returned; a failed hook
        // kills the container (restarted by the pod's policy).
        if let Some(hook) = &inst.post_start {
            match hook.poll(self.now) {
                None => {
                    if let Hook::Sleeping(until) = hook {
                        let until = *until;
                        self.wake_at(until);
                    }
                    return;
                }
                Some(Ok(())) => inst.post_start = None,
                Some(Err(msg)) => {
                    inst.post_start = None;
                    log::info!("pod {}: {msg}", self.key);
                    let events = &self.kubelet.inner.events;
                    let _ =
                        events.record(self.pod, EventKind::Warning, "FailedPostStartHook", &msg);
                    let why = format!("FailedPostStartHook: {msg}");
                    let _ = events.record(self.pod, EventKind::Normal, "Killing", &why);
                    inst.stopping_for = Some(why);
                    let grace = self.pod.spec.termination_grace_period_seconds.unwrap_or(30);
                    let grace = Duration::from_secs(grace.max(0) as u64);
                    if !grace.is_zero() {
                        inst.kill_at = Some(self.now + grace);
                        self.wake_in(grace);
                    }
                    self.stop_container(c, grace);
                    return;
                }
            }
        }
        let health = inst.handle.health();
        let mut fail: Option<(ProbeKind, String)> = None;
        for i in 0..inst.probes.len() {
            let started = inst.started;
            let p = &mut inst.probes[i];
            // The startup probe gates the others; once it passed it stops.
            if p.kind == ProbeKind::Startup && started {
                continue;
            }
            if p.kind != ProbeKind::Startup && !started {
                continue;
            }
            if let Some(false) = p.result {
                if p.kind != ProbeKind::Readiness {
                    fail = Some((
                        p.kind,
                        p.last_message
                            .clone()
                            .unwrap_or_else(|| "probe failed".into()),
                    ));
                }
            }
            if p.kind == ProbeKind::Startup && p.result == Some(true) {
                inst.started = true;
                continue;
            }
            if p.in_flight.is_some() {
                continue;
            }
            if self.now < p.next_due {
                let at = p.next_due;
                self.wake_at(at);
                continue;
            }
            if is_heartbeat(&p.probe) {
                // Heartbeat: the worker must have reported within the last period.
                // The start counts as a beat: a worker gets one period to send its first.
                let last = health
                    .and_then(|h| h.last_heartbeat)
                    .map_or(inst.started_mono, |t| t.max(inst.started_mono));
                let ok = self.now.saturating_sub(last) <= p.period;
                p.record(if ok {
                    Ok(())
                } else {
                    Err(format!("no heartbeat within {}s", p.period.as_secs()))
                });
                p.next_due = self.now + p.period;
                let d = p.period;
                self.wake_in(d);
                if p.kind == ProbeKind::Startup && p.result == Some(true) {
                    inst.started = true;
                }
                if p.result == Some(false) && p.kind != ProbeKind::Readiness {
                    fail = Some((p.kind, p.last_message.clone().unwrap_or_default()));
                }
                continue;
            }
            let Some(prober) = self.kubelet.inner.prober.clone() else {
                p.record(Err("no probe executor is configured".into()));
                continue;
            };
            let slot = Arc::new(Mutex::new(None));
            p.in_flight = Some(slot.clone());
            let target = probe_target(
                &c.spec,
                &c.env,
                &c.working_dir,
                &self.ip,
                inst.private_mounts.then(|| inst.handle.pid()).flatten(),
            );
            let probe = p.probe.clone();
            let timeout = p.timeout;
            let kind = p.kind;
            let panicked = format!("{} probe panicked", kind.as_str());
            let spawned = self.off_thread("steady-probe", &slot, &panicked, move || {
                match prober.run(kind, &probe, &target, timeout) {
                    ProbeResult::Success => Ok(()),
                    ProbeResult::Failure(msg) => Err(msg),
                }
            });
            if spawned.is_err() {
                p.in_flight = None;
                p.next_due = self.now + p.period;
            }
        }
        // Readiness: probe result if there is a readiness probe; else running and started,
        // and for workers, what they reported.
        let readiness = inst.probes.iter().find(|p| p.kind == ProbeKind::Readiness);
        inst.ready = inst.started
            && match readiness {
                Some(p) => p.result == Some(true),
                None => health.is_none_or(|h| h.ready),
            };
        if let Some((kind, msg)) = fail {
            let why = format!(
                "Container {} failed {} probe, will be restarted: {msg}",
                c.spec.name,
                kind.as_str().to_lowercase()
            );
            log::info!("pod {}: {why}", self.key);
            let _ = self
                .kubelet
                .inner
                .events
                .record(self.pod, EventKind::Normal, "Killing", &why);
            inst.stopping_for = Some(why);
            inst.ready = false;
            let grace = inst
                .probes
                .iter()
                .find(|p| p.kind == kind)
                .and_then(|p| p.probe.termination_grace_period_seconds)
                .or(self.pod.spec.termination_grace_period_seconds)
                .unwrap_or(30);
            let grace = Duration::from_secs(grace.max(0) as u64);
            if !grace.is_zero() {
                inst.kill_at = Some(self.now + grace);
                self.wake_in(grace);
            }
            self.stop_container(c, grace);
        }
    }

    /// `Some(phase)` when every container is done for good.
    fn terminal(&self, st: &PodRt) -> Option<&'static str> {
        if st.failed.is_some() {
            return Some("Failed");
        }
        if st.containers.is_empty() || !st.containers.iter().all(|c| c.final_state.is_some()) {
            return None;
        }
        let ok = st
            .containers
            .iter()
            .all(|c| c.final_state.as_ref().is_some_and(|t| t.exit_code == 0));
        Some(if ok { "Succeeded" } else { "Failed" })
    }

    fn status(&self, st: &PodRt) -> PodStatus {
        let now = self.wall;
        let statuses =
            |cs: &[ContRt]| -> Vec<ContainerStatus> { cs.iter().map(container_status).collect() };
        let container_statuses = statuses(&st.containers);
        let init_statuses = statuses(&st.init);
        let terminal = self.terminal(st);
        let init_done = st.init_done >= st.init.len();
        let any_running = st.containers.iter().any(ContRt::running);
        let phase = match terminal {
            Some(p) => p,
            None if init_done && any_running => "Running",
            None if init_done
                && !st.containers.is_empty()
                && st.containers.iter().all(|c| {
                    c.current.is_some() || c.final_state.is_some() || c.last_terminated.is_some()
                }) =>
            {
                "Running"
            }
            None => "Pending",
        };
        // The sidecars' readiness counts with the main containers', as in Kubernetes.
        let serving = || {
            st.init
                .iter()
                .filter(|c| c.spec.is_sidecar())
                .chain(&st.containers)
        };
        let containers_ready = terminal.is_none()
            && !st.containers.is_empty()
            && serving().all(|c| {
                c.current
                    .as_ref()
                    .is_some_and(|i| i.ready && i.exit.lock().is_none())
            });
        let not_ready: Vec<&str> = serving()
            .filter(|c| !c.current.as_ref().is_some_and(|i| i.ready))
            .map(|c| c.spec.name.as_str())
            .collect();
        let mut conditions: Vec<Condition> = Vec::new();
        let init_cond = if init_done {
            condition("Initialized", "True", "", "", None)
        } else {
            let pending: Vec<&str> = st.init[st.init_done..]
                .iter()
                .map(|c| c.spec.name.as_str())
                .collect();
            condition(
                "Initialized",
                "False",
                "ContainersNotInitialized",
                &format!("containers with incomplete status: [{}]", pending.join(" ")),
                None,
            )
        };
        set_condition(&mut conditions, init_cond, now);
        let ready_cond = |t: &str| {
            if containers_ready {
                condition(t, "True", "", "", None)
            } else if terminal.is_some() {
                condition(t, "False", "PodCompleted", "", None)
            } else {
                condition(
                    t,
                    "False",
                    "ContainersNotReady",
                    &format!("containers with unready status: [{}]", not_ready.join(" ")),
                    None,
                )
            }
        };
        set_condition(&mut conditions, ready_cond("ContainersReady"), now);
        set_condition(&mut conditions, ready_cond("Ready"), now);
        set_condition(
            &mut conditions,
            condition("PodScheduled", status_of(true), "", "", None),
            now,
        );
        let (reason, message) = match &st.failed {
            Some((r, m)) => (Some(r.clone()), Some(m.clone())),
            None => (None, None),
        };
        PodStatus {
            phase: Some(phase.to_string()),
            conditions,
            container_statuses,
            init_container_statuses: init_statuses,
            host_ip: Some("127.0.0.1".into()),
            pod_ip: Some(self.ip.clone()),
            pod_ips: vec![PodIp {
                ip: self.ip.clone(),
                ..Default::default()
            }],
            start_time: st.start_time,
            reason,
            message,
            qos_class: Some(qos_class(self.pod).into()),
            ..Default::default()
        }
    }
}

fn is_heartbeat(p: &Probe) -> bool {
    p.heartbeat.is_some()
}

fn container_status(c: &ContRt) -> ContainerStatus {
    let state = if let Some(i) = &c.current {
        ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(i.started_at),
                ..Default::default()
            }),
            ..Default::default()
        }
    } else if let Some(t) = &c.final_state {
        ContainerState {
            terminated: Some(Box::new(t.clone())),
            ..Default::default()
        }
    } else {
        let (reason, message) = c
            .waiting
            .clone()
            .unwrap_or_else(|| ("ContainerCreating".into(), String::new()));
        ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason),
                message: (!message.is_empty()).then_some(message),
                ..Default::default()
            }),
            ..Default::default()
        }
    };
    let (ready, started, id) = match &c.current {
        Some(i) => (
            i.ready,
            Some(i.started && i.post_start.is_none()),
            Some(i.handle.id().to_string()),
        ),
        None => (
            false,
            Some(false),
            c.final_state.as_ref().and_then(|t| t.container_id.clone()),
        ),
    };
    ContainerStatus {
        name: c.spec.name.clone(),
        state: Some(state),
        last_state: c.last_terminated.as_ref().map(|t| {
            Box::new(ContainerState {
                terminated: Some(Box::new(t.clone())),
                ..Default::default()
            })
        }),
        ready,
        started,
        restart_count: c.restart_count,
        image: c.spec.image.clone().unwrap_or_default(),
        container_id: id,
        ..Default::default()
    }
}

/// Kubernetes' QoS class of a pod.
fn qos_class(pod: &Pod) -> &'static str {
    let cs = pod
        .spec
        .containers
        .iter()
        .chain(pod.spec.init_containers.iter());
    let mut any = false;
    let mut guaranteed = true;
    for c in cs {
        let Some(r) = &c.resources else {
            guaranteed = false;
            continue;
        };
        if !r.requests.is_empty() || !r.limits.is_empty() {
            any = true;
        }
        for res in ["cpu", "memory"] {
            match (r.limits.get(res), r.requests.get(res)) {
                (Some(l), Some(q)) if l.milli_value() == q.milli_value() => {}
                (Some(_), None) => {}
                _ => guaranteed = false,
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// The handle of a container whose start failed: it is already over.
struct NeverStarted;

impl RunningContainer for NeverStarted {
    fn id(&self) -> &str {
        ""
    }
    fn terminate(&self) {}
    fn kill(&self) {}
    fn exit_status(&self) -> Option<ExitStatus> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::pod_ip;

    #[test]
    fn pod_addresses_are_distinct_loopback_addresses_never_the_hosts() {
        assert_eq!(pod_ip(0), "127.1.0.1");
        assert_eq!(pod_ip(253), "127.1.0.254");
        assert_eq!(pod_ip(254), "127.1.1.1");
        let mut seen = std::collections::HashSet::new();
        for n in 0..100_000 {
            let ip = pod_ip(n);
            let parts: Vec<u8> = ip.split('.').map(|p| p.parse().unwrap()).collect();
            assert_eq!(parts[0], 127);
            assert!(parts[1] >= 1 && parts[3] >= 1 && parts[3] <= 254, "{ip}");
            assert!(seen.insert(ip));
        }
    }
}
