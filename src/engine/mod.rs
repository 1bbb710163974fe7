//! The engine (layer 9): configuration, start-up of the layers, shutdown.
//!
//! `Engine::builder().build()` gives a running engine on the embedded default: the store,
//! the controller runtime, the scheduler, the local node and the built-in controllers
//! ([`crate::controllers`], the garbage collector among them). Dropping
//! the engine shuts it down.
//!
//! [`maintenance`]: node maintenance, [`Engine::cordon`], [`Engine::uncordon`] and
//! [`Engine::drain`] (evictions that honour PodDisruptionBudgets).

pub mod maintenance;
mod priority;

pub use maintenance::{DrainOptions, DrainReport, DrainSkip};

use crate::api::Quantity;
use crate::api::{KindInfo, Pod, Registry, Resource};
use crate::client::leader::{LeaderElectionConfig, LeaderElector, Leadership};
use crate::client::{Api, DynamicApi};
use crate::clock::SharedClock;
use crate::controllers::gc::GarbageCollector;
use crate::controllers::node_lifecycle::{self, NodeLifecycleConfig};
use crate::controllers::pod_metrics::PodMetrics;
use crate::error::Result;
use crate::manifest::{self, ApplyReport};
use crate::node::{
    Kubelet, KubeletBuilder, KubeletConfig, NodeConfig, SimulatedRuntime, Worker, WorkerRegistry,
};
use crate::runtime::{
    Controller, ControllerManager, ManagerConfig, MetricsRegistry, MetricsSnapshot,
};
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::store::{Durability, Persist, RecoveryReport, Store, StoreConfig};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Builds an [`Engine`].
pub struct EngineBuilder {
    store: StoreConfig,
    persist: Option<Persist>,
    /// The etcd cluster that holds the state, when it is shared (endpoints, settings).
    #[cfg(feature = "etcd")]
    etcd: Option<(Vec<String>, crate::store::etcd::EtcdConfig)>,
    /// Leader election among the engines sharing the store (on by default with etcd).
    leader_election: Option<LeaderElectionConfig>,
    kinds: Vec<KindInfo>,
    runtime: ManagerConfig,
    controllers: Vec<Controller>,
    without_builtins: bool,
    local_node: bool,
    nodes: Vec<NodeConfig>,
    kubelet: KubeletConfig,
    worker_registry: Arc<WorkerRegistry>,
    simulated: SimulatedRuntime,
    node_lifecycle: NodeLifecycleConfig,
    scheduler: Option<SchedulerConfig>,
    service_proxy: bool,
    /// Services started on the built engine (the API server is one), in order, by name.
    front_doors: Vec<(&'static str, StartFrontDoor)>,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder {
            store: StoreConfig::default(),
            persist: None,
            #[cfg(feature = "etcd")]
            etcd: None,
            leader_election: None,
            kinds: Vec::new(),
            runtime: ManagerConfig::default(),
            controllers: Vec::new(),
            without_builtins: false,
            local_node: true,
            nodes: Vec::new(),
            kubelet: KubeletConfig::default(),
            worker_registry: Arc::new(WorkerRegistry::default()),
            simulated: SimulatedRuntime::new(),
            node_lifecycle: NodeLifecycleConfig::default(),
            scheduler: Some(SchedulerConfig::default()),
            service_proxy: true,
            front_doors: Vec::new(),
        }
    }
}

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("store", &self.store)
            .field("persist", &self.persist)
            .field("runtime", &self.runtime)
            .field("local_node", &self.local_node)
            .field("nodes", &self.nodes)
            .field("kubelet", &self.kubelet)
            .finish()
    }
}

impl EngineBuilder {
    /// Replaces the clock (tests use [`ManualClock`](crate::clock::ManualClock)).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.store.clock = clock;
        self
    }

    /// Events kept per kind for watches resuming from a revision (default 10,000).
    pub fn history_limit(mut self, events: usize) -> Self {
        self.store.history_limit = events;
        self
    }

    /// Events a watch may have queued before it is ended with Expired (default 100,000).
    pub fn watch_capacity(mut self, events: usize) -> Self {
        self.store.watch_capacity = events;
        self
    }

    /// Largest accepted object in bytes of JSON (default 1.5 MiB, as Kubernetes).
    pub fn max_object_bytes(mut self, bytes: usize) -> Self {
        self.store.max_object_bytes = bytes;
        self
    }

    /// Keeps the store's state across restarts in `dir` (created if missing): a write-ahead
    /// log of every committed revision plus periodic snapshots. On start the engine recovers
    /// what `dir` holds ([`Engine::recovery_report`] says what it found); objects, revision,
    /// uids, generations and resourceVersions continue where they were. `durability` says
    /// when a write returns: [`Durability::Sync`] after its log record is fsynced,
    /// [`Durability::Interval`] at once, with the log fsynced at least that often. Reads and
    /// watches are served from memory as without persistence. [`EngineBuilder::build`]
    /// fails with [`Error::Storage`](crate::Error::Storage) when another engine holds
    /// `dir` or a newer steady wrote it. See [`crate::store::persist`] for the format and
    /// the recovery rules. Unless [`data_dir`](Self::data_dir) says otherwise, claim and
    /// emptyDir directories live in `dir/volumes`, so claims keep their data across
    /// restarts too.
    pub fn persist(self, dir: impl Into<std::path::PathBuf>, durability: Durability) -> Self {
        self.persist_with(Persist::new(dir, durability))
    }

    /// [`EngineBuilder::persist`] with every setting (snapshot period).
    pub fn persist_with(mut self, persist: Persist) -> Self {
        self.persist = Some(persist);
        self
    }

    /// Keeps the state in the etcd cluster at `endpoints` (client URLs such as
    /// `http://127.0.0.1:2379`), shared with every engine that uses the same cluster and
    /// prefix (feature `etcd`). etcd is the source of truth: every write is an etcd
    /// transaction comparing the objects' revisions, and the engine's store becomes a cache
    /// fed by etcd's watch, so reads and watches are served from memory as without etcd and
    /// an engine reads its own writes. resourceVersions are etcd's revisions. The state
    /// outlives every engine: an engine started later finds it all. See
    /// [`crate::store::etcd`] for the layout, and what is not shared yet. Exclusive with
    /// [`EngineBuilder::persist`]: etcd keeps the state. [`EngineBuilder::build`] fails with
    /// [`Error::Backend`](crate::Error::Backend) when no member answers in time.
    #[cfg(feature = "etcd")]
    pub fn etcd<S: Into<String>>(
        mut self,
        endpoints: impl IntoIterator<Item = S>,
        config: crate::store::etcd::EtcdConfig,
    ) -> Self {
        self.etcd = Some((endpoints.into_iter().map(Into::into).collect(), config));
        self
    }

    /// Elects one engine among those sharing the store to run the controllers and the
    /// scheduler (see [`crate::client::leader`]): the others stand by with warm caches and
    /// take over within the lease duration when the leader stops renewing (it died, or lost
    /// etcd). Every engine always runs its own node agents, and the controllers registered
    /// [on every engine](Controller::on_every_engine). On by default, with client-go's
    /// timings, for an engine on etcd (`EngineBuilder::etcd`, feature `etcd`); an engine
    /// alone on its store needs none and always leads. [`Engine::is_leader`] says which this
    /// one is.
    pub fn leader_election(mut self, config: LeaderElectionConfig) -> Self {
        self.leader_election = Some(config);
        self
    }

    /// Registers a kind ahead of use: a typed kind with [`KindInfo::of`], or a custom kind
    /// with [`KindInfo::dynamic`] (for example to make it cluster-scoped).
    pub fn kind(mut self, info: KindInfo) -> Self {
        self.kinds.push(info);
        self
    }

    /// Worker threads shared by all controllers (default: the available parallelism).
    pub fn workers(mut self, n: usize) -> Self {
        self.runtime.workers = n.max(1);
        self
    }

    /// How long shutdown waits for running reconciles to finish (default 30 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.runtime.shutdown_grace = grace;
        self
    }

    /// Whether the built-in controllers run (default true): ReplicaSet, Deployment,
    /// StatefulSet, Job, DaemonSet, the claim binder, the garbage collector (one controller
    /// per kind, kinds registered later included), Services' endpoints and the
    /// HorizontalPodAutoscaler. Tests of other parts can leave them out; the node agents are set with [`EngineBuilder::local_node`] and
    /// [`EngineBuilder::node`].
    pub fn builtin_controllers(mut self, on: bool) -> Self {
        self.without_builtins = !on;
        self
    }

    /// Registers a controller; it starts with the engine.
    pub fn controller(mut self, controller: Controller) -> Self {
        self.controllers.push(controller);
        self
    }

    /// Whether the engine runs the embedded default node: a local node named after the host,
    /// with the host's CPUs and memory, running workers and real processes (default true).
    /// An engine without nodes is a store with controllers: pods stay unscheduled, and the
    /// node agent's controllers (which watch Pods, Nodes, ConfigMaps and Secrets) start only
    /// when a node is added ([`Kubelet::add_node`](crate::node::Kubelet::add_node)).
    pub fn local_node(mut self, run: bool) -> Self {
        self.local_node = run;
        self
    }

    /// Adds a node this engine runs: further local nodes, or simulated ones
    /// ([`NodeConfig::simulated`]).
    pub fn node(mut self, node: NodeConfig) -> Self {
        self.nodes.push(node);
        self
    }

    /// Adds `n` simulated nodes `sim-0`, `sim-1`, ... with `cpu_millis` and `memory_bytes`
    /// each.
    pub fn simulated_nodes(mut self, n: usize, cpu_millis: i64, memory_bytes: i64) -> Self {
        for i in 0..n {
            self.nodes.push(NodeConfig::simulated(
                &format!("sim-{i}"),
                cpu_millis,
                memory_bytes,
            ));
        }
        self
    }

    /// Node agent settings (crash-loop backoff, heartbeats, logs, data directory).
    pub fn kubelet(mut self, config: KubeletConfig) -> Self {
        self.kubelet = config;
        self
    }

    /// Where claim and emptyDir directories live (see [`KubeletConfig::data_dir`]).
    pub fn data_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.kubelet.data_dir = Some(dir.into());
        self
    }

    /// What image references run as processes (see [`crate::node::images`]): `redis:7` as
    /// `redis-server --port 6379`, say. A registered worker keeps precedence.
    ///
    /// ```no_run
    /// use steady::node::{Image, ImageTable};
    /// let images = ImageTable::new()
    ///     .with("redis:7", Image::command(["redis-server", "--port", "6379"]))
    ///     .unwrap();
    /// let engine = steady::Engine::builder().images(images).build().unwrap();
    /// ```
    pub fn images(mut self, images: crate::node::ImageTable) -> Self {
        self.kubelet.images = images;
        self
    }

    /// Timings of node failure handling (see [`NodeLifecycleConfig`]; Kubernetes' values are
    /// [`NodeLifecycleConfig::kubernetes`]).
    pub fn node_lifecycle(mut self, config: NodeLifecycleConfig) -> Self {
        self.node_lifecycle = config;
        self
    }

    /// Runs the scheduler with this configuration (plugins, weights, timings) instead of
    /// the default profile.
    pub fn scheduler(mut self, config: SchedulerConfig) -> Self {
        self.scheduler = Some(config);
        self
    }

    /// Runs no scheduler: pods stay pending unless something else binds them (or they name
    /// their node in `spec.nodeName`). DaemonSet pods too: they go through the scheduler,
    /// as in Kubernetes since 1.12.
    pub fn without_scheduler(mut self) -> Self {
        self.scheduler = None;
        self
    }

    /// Whether the engine serves Services at their virtual addresses (default true): the
    /// Service proxy (see [`crate::node::proxy`]) listens on each Service's `clusterIP` and
    /// forwards connections to ready endpoints. It runs only when the engine has a local
    /// (non-simulated) node; addresses are allocated either way.
    pub fn service_proxy(mut self, on: bool) -> Self {
        self.service_proxy = on;
        self
    }

    /// Registers an in-process worker under `image`: containers with that image run it.
    pub fn worker(self, image: &str, worker: impl Worker) -> Self {
        self.worker_registry.register(image, Arc::new(worker));
        self
    }

    /// Starts the front door `name` on the built engine with `start`, after every controller;
    /// asking again for the same name replaces the earlier request (one API server, the
    /// configuration last given).
    #[cfg_attr(not(feature = "apiserver"), allow(dead_code))] // the one front door today
    pub(crate) fn front_door(mut self, name: &'static str, start: StartFrontDoor) -> Self {
        self.front_doors.retain(|(n, _)| *n != name);
        self.front_doors.push((name, start));
        self
    }

    /// Starts the engine.
    pub fn build(mut self) -> Result<Engine> {
        #[cfg(feature = "etcd")]
        if let (Some(p), Some((endpoints, _))) = (&self.persist, &self.etcd) {
            return Err(crate::Error::Backend {
                backend: format!("etcd at {}", endpoints.join(",")),
                message: format!(
                    "a data dir ({}) and etcd were both given: with etcd, etcd keeps the \
                     state; drop one",
                    p.dir.display()
                ),
            });
        }
        // A node the kubelet could never register is refused here, by name and field, as
        // `Kubelet::add_node` refuses it at run time.
        for n in &self.nodes {
            n.check_name()?;
        }
        let registry = Arc::new(Registry::new());
        crate::api::register_builtins(&registry);
        for k in self.kinds {
            registry.register(k);
        }
        #[cfg(feature = "etcd")]
        let etcd = self.etcd.take();
        #[cfg(feature = "etcd")]
        let shared = etcd.is_some();
        // Engines sharing a store publish the usage of their pods for the leader's
        // autoscaler (see `pod_metrics`).
        #[cfg(feature = "etcd")]
        if shared {
            registry.register(crate::controllers::pod_metrics::usage_report_kind());
        }
        #[cfg(feature = "etcd")]
        if etcd.is_some() && self.leader_election.is_none() {
            self.leader_election = Some(LeaderElectionConfig::default());
        }
        #[cfg(not(feature = "etcd"))]
        let etcd = None::<std::convert::Infallible>;
        let store = match (&self.persist, etcd) {
            (Some(p), _) => Store::open(registry, self.store, p)?,
            (None, None) => Store::new(registry, self.store),
            #[cfg(feature = "etcd")]
            (None, Some((endpoints, config))) => {
                Store::open_etcd(registry, self.store, &endpoints, &config)?
            }
        };
        if let (Some(p), None) = (&self.persist, &self.kubelet.data_dir) {
            // Claims are state too: kept beside the store, not in a per-process directory.
            self.kubelet.data_dir = Some(p.dir.join("volumes"));
        }
        // Events by the uid of the object they are about (EventRecorder aggregation, events_for).
        crate::client::events::register_involved_object_index(&store);
        // Pods by node: what node agents and the scheduler look up.
        store.add_field_index(
            "Pod",
            "spec.nodeName",
            Arc::new(|o| {
                o.downcast_ref::<Pod>()
                    .and_then(|p| p.spec.node_name.as_deref())
            }),
        );
        // Pods on a node are deleted gracefully: their agent stops them first.
        store.set_graceful_deletion(
            "Pod",
            Arc::new(|o| {
                let p = o.downcast_ref::<Pod>()?;
                p.spec.node_name.as_ref()?;
                let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
                if matches!(phase, Some("Succeeded") | Some("Failed")) {
                    return None;
                }
                Some(p.spec.termination_grace_period_seconds.unwrap_or(30))
            }),
        );
        register_service_addresses(&store);
        priority::register(&store)?;
        node_lifecycle::register_default_tolerations(
            &store,
            self.node_lifecycle.default_toleration_seconds,
        );
        let clock = store.config().clock.clone();
        // Started first: if it cannot start, nothing else is running yet.
        if let Some(le) = &self.leader_election {
            le.check()?;
        }
        let leadership = match &self.leader_election {
            Some(le) => Leadership::for_election(store.config().clock.clone(), le),
            None => Leadership::always(),
        };
        let scheduler = match self.scheduler {
            Some(config) => Some(Scheduler::start_gated(
                store.clone(),
                clock.clone(),
                config,
                leadership.clone(),
            )?),
            None => None,
        };
        let metrics = MetricsRegistry::new();
        let runtime = ControllerManager::start(
            store.clone(),
            clock.clone(),
            self.runtime,
            metrics.clone(),
            leadership.clone(),
        );
        let mut nodes = Vec::new();
        if self.local_node {
            nodes.push(NodeConfig::local());
        }
        nodes.extend(self.nodes);
        // On a store shared with other engines, each node is claimed first: two engines
        // never run one node (see `node_claim`).
        #[cfg(feature = "etcd")]
        if let (true, Some(le)) = (shared, &self.leader_election) {
            let poll = (self.kubelet.heartbeat_period / 2).max(Duration::from_millis(50));
            for n in &nodes {
                crate::node::agent::node_claim::claim_node(
                    &store,
                    &clock,
                    &n.name,
                    &le.identity,
                    self.kubelet.lease_duration,
                    poll,
                )?;
            }
        }
        #[cfg(unix)]
        let proxy = if self.service_proxy && nodes.iter().any(|n| !n.simulated) {
            let (p, c) = crate::node::proxy::ServiceProxy::start(store.clone(), clock.clone())
                .map_err(|e| crate::Error::Unavailable {
                    object: crate::ObjectRef::new("Service", None, ""),
                    message: format!("the service proxy cannot start: {e}"),
                })?;
            Some((p, c))
        } else {
            None
        };
        #[cfg(unix)]
        let (mount_namespaces, images, cgroups) = (
            self.kubelet.mount_namespaces,
            self.kubelet.images.clone(),
            self.kubelet.cgroups,
        );
        let mut kb = KubeletBuilder::new(self.kubelet, nodes)
            .worker_registry(self.worker_registry)
            .simulated(self.simulated);
        #[cfg(unix)]
        let processes = {
            let p = Arc::new(
                crate::node::ProcessRuntime::new()
                    .with_mount_namespaces(mount_namespaces)
                    .with_images(images)
                    .with_cgroups(cgroups),
            );
            kb = kb.process_runtime(p.clone());
            p
        };
        let (kubelet, kubelet_controllers) = kb.build(store.clone(), clock.clone());
        #[allow(unused_mut)] // without etcd, nothing else to set
        let mut pod_metrics = PodMetrics::new(store.clone(), clock, Some(kubelet.clone()));
        // A report is fresh for three of its periods (one missed write is not a gap).
        #[cfg(feature = "etcd")]
        if shared {
            pod_metrics = pod_metrics.with_reports(kubelet.config().heartbeat_period * 3);
        }
        #[allow(unused_mut)] // without etcd, nothing else to set
        let mut resolver = crate::controllers::endpoints::Resolver::new(store.clone());
        // On a shared store, pod addresses of other hosts are their loopback addresses: the
        // proxy and `resolve` use the endpoints on this engine's nodes only.
        #[cfg(feature = "etcd")]
        let local_nodes: Option<crate::node::LocalNodes> = shared.then(|| {
            let k = kubelet.clone();
            Arc::new(move |n: &str| k.runs_node(n)) as crate::node::LocalNodes
        });
        #[cfg(feature = "etcd")]
        if let Some(local) = &local_nodes {
            resolver = resolver.only_local(local.clone());
            #[cfg(unix)]
            if let Some((p, _)) = &proxy {
                p.only_local(local.clone());
            }
        }
        let engine = Engine {
            pod_metrics,
            store: store.clone(),
            scheduler,
            runtime,
            metrics,
            kubelet,
            resolver,
            #[cfg(unix)]
            processes,
            #[cfg(unix)]
            proxy: proxy.as_ref().map(|(p, _)| p.clone()),
            shut_down: AtomicBool::new(false),
            gc: Arc::new(GcRegistrar::default()),
            front_doors: std::sync::OnceLock::new(),
            leadership,
            elector: std::sync::OnceLock::new(),
            #[cfg(feature = "etcd")]
            node_claims: std::sync::OnceLock::new(),
        };
        #[cfg(feature = "etcd")]
        if let (true, Some(le)) = (shared, &self.leader_election) {
            let _ = engine.node_claims.set(le.identity.clone());
            engine.kubelet.claim_nodes_as(&le.identity);
        }
        engine
            .kubelet
            .register_controllers(kubelet_controllers, engine.controllers())?;
        #[cfg(unix)]
        if let Some((_, c)) = proxy {
            // This engine's Service proxy follows the Endpoints, leader or not.
            engine.add_controller(c.on_every_engine())?;
        }
        engine.kubelet.start();
        if let Some(config) = self.leader_election {
            // Campaigning starts before the controllers below register: until elected they
            // follow (their keys are dropped), and election queues all of them again.
            let elector = LeaderElector::start(
                store.clone(),
                store.config().clock.clone(),
                config,
                engine.leadership.clone(),
            )
            .map_err(|e| crate::Error::Unavailable {
                object: crate::ObjectRef::new("Lease", None, "leader election"),
                message: format!("cannot start the leader election thread: {e}"),
            })?;
            let _ = engine.elector.set(elector);
        }
        if !self.without_builtins {
            #[cfg(feature = "etcd")]
            let identity = engine.node_claims.get().cloned();
            #[cfg(not(feature = "etcd"))]
            let identity = None;
            engine.add_controller(node_lifecycle::controller_of_engine(
                self.node_lifecycle,
                identity,
            ))?;
            engine.add_controller(crate::controllers::endpoints::controller())?;
            engine.add_controller(crate::controllers::hpa::controller(
                engine.pod_metrics.clone(),
            ))?;
            for c in crate::controllers::builtin() {
                engine.add_controller(c)?;
            }
            engine.start_garbage_collector();
        }
        #[cfg(feature = "etcd")]
        if let Some(local) = local_nodes {
            engine.add_controller(crate::controllers::pod_metrics::publisher(
                engine.pod_metrics.clone(),
                local,
                engine.kubelet.config().heartbeat_period,
            ))?;
        }
        for c in self.controllers {
            engine.add_controller(c)?;
        }
        // As kube-scheduler waits for its caches and a kubelet registers at start: a pod
        // created once `build` returned finds the engine's nodes, even on a manual clock
        // (where a pod tried before them would wait out a backoff that never ends).
        engine.await_nodes_registered(NODES_REGISTERED_WITHIN);
        // Front doors last: a client that gets in finds every controller running. One that
        // fails to start stops those started before it (and the engine, when dropped).
        let mut doors: Vec<Box<dyn FrontDoor>> = Vec::new();
        for (_, start) in self.front_doors {
            match start(&engine) {
                Ok(door) => doors.push(door),
                Err(e) => {
                    doors.iter().for_each(|d| d.stop());
                    return Err(e);
                }
            }
        }
        let _ = engine.front_doors.set(doors);
        Ok(engine)
    }
}

/// How long [`EngineBuilder::build`] waits for the engine's nodes to be registered and seen
/// by the scheduler before it returns anyway (a registration that keeps failing is retried
/// with backoff and logged by the node agent; it does not keep the engine from starting).
const NODES_REGISTERED_WITHIN: Duration = Duration::from_secs(10);

/// Gives every Service that needs one a virtual address of its own (see
/// [`crate::api::service_ip`]): `spec.clusterIP` is a unique field of Services, filled by the
/// allocator as a Service is committed, and an update that leaves it out keeps it.
fn register_service_addresses(store: &Store) {
    use crate::api::service_ip::{self, ClusterIpAllocator};
    use crate::api::Service;
    use crate::store::{Operation, UniqueField};
    // Two engines on one host start at different places of the range (see the allocator).
    let seed =
        std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u8);
    let allocator = Arc::new(ClusterIpAllocator::new(seed as u32));
    store.add_unique_field(
        "Service",
        UniqueField {
            field: service_ip::CLUSTER_IP_FIELD.to_string(),
            extract: Arc::new(|o| o.downcast_ref::<Service>().and_then(service_ip::cluster_ip)),
            message: service_ip::ALREADY_ALLOCATED.to_string(),
            allocate: Some(Arc::new(move |o, taken| allocator.allocate(o, taken))),
        },
    );
    store.add_mutating_hook("ServiceClusterIP", Some("Service"), |op, obj, old| {
        if op == Operation::Update {
            service_ip::keep_allocated(obj, old);
        }
        Ok(())
    });
}

/// A running steady engine.
pub struct Engine {
    store: Store,
    scheduler: Option<Scheduler>,
    runtime: ControllerManager,
    metrics: MetricsRegistry,
    kubelet: Kubelet,
    resolver: crate::controllers::endpoints::Resolver,
    /// Pod metrics for the HorizontalPodAutoscaler: measured CPU and what the host reports.
    pod_metrics: PodMetrics,
    #[cfg(unix)]
    processes: Arc<crate::node::ProcessRuntime>,
    /// Serves Services at their virtual addresses; `None` without a local node.
    #[cfg(unix)]
    proxy: Option<crate::node::proxy::ServiceProxy>,
    shut_down: AtomicBool,
    gc: Arc<GcRegistrar>,
    /// The front doors started by [`EngineBuilder::build`]; set once, when all are running.
    front_doors: std::sync::OnceLock<Vec<Box<dyn FrontDoor>>>,
    /// Whether this engine leads those sharing its store.
    leadership: Arc<Leadership>,
    /// The leader election's thread, with [`EngineBuilder::leader_election`].
    elector: std::sync::OnceLock<LeaderElector>,
    /// The identity under which this engine claimed its nodes on a shared store.
    #[cfg(feature = "etcd")]
    node_claims: std::sync::OnceLock<String>,
}

/// A service that lets clients into a built engine from outside (the Kubernetes-compatible API
/// server is one). It sits above the engine: the engine starts it last, through the closure
/// its module gave [`EngineBuilder`], and stops it first, so no client changes anything once
/// shutdown has begun. The engine never names the service's type.
pub(crate) trait FrontDoor: std::any::Any + Send + Sync {
    /// Stops serving; idempotent.
    fn stop(&self);
    /// The service as `Any`, for [`Engine::front_door`].
    #[cfg_attr(not(feature = "apiserver"), allow(dead_code))] // the one front door today
    fn as_any(&self) -> &dyn std::any::Any;
}

/// Starts a front door on the built engine.
pub(crate) type StartFrontDoor = Box<dyn FnOnce(&Engine) -> Result<Box<dyn FrontDoor>> + Send>;

/// Registers the garbage collector's controller of each kind exactly once: for the kinds known
/// at start and, through a registry hook, for every kind registered later.
#[derive(Default)]
struct GcRegistrar {
    /// The runtime to register on; emptied at shutdown, so a kind registered afterwards
    /// starts nothing. (The registry's hook holds this registrar weakly: no cycle.)
    runtime: Mutex<Option<crate::runtime::ControllerRegistrar>>,
    gc: GarbageCollector,
    /// Kinds with a collector controller; held while registering, so a kind announced by the
    /// hook and found by the start-up loop at once gets one controller.
    kinds: Mutex<HashSet<String>>,
}

impl GcRegistrar {
    fn add_kind(&self, info: &KindInfo) {
        let Some(rt) = self.runtime.lock().clone() else {
            return;
        };
        let mut kinds = self.kinds.lock();
        if !kinds.insert(info.kind.clone()) {
            return;
        }
        match rt.add(self.gc.controller_for(&info.api_version, &info.kind)) {
            Ok(()) | Err(crate::Error::Closed) => {}
            Err(e) => log::error!("garbage collector for {}: {e}", info.kind),
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store)
            .finish()
    }
}

impl Engine {
    /// Starts the garbage collector: its controller for every kind known now and, through a
    /// registry hook, for every kind registered later.
    fn start_garbage_collector(&self) {
        *self.gc.runtime.lock() = Some(self.controllers());
        let registrar = Arc::downgrade(&self.gc);
        self.store
            .registry()
            .on_register(Arc::new(move |info: &Arc<KindInfo>| {
                if let Some(r) = registrar.upgrade() {
                    r.add_kind(info);
                }
            }));
        for info in self.store.registry().all() {
            self.gc.add_kind(&info);
        }
    }

    /// A builder with the embedded defaults.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Applies a manifest: YAML or JSON, one or many documents, all-or-nothing.
    pub fn apply(&self, text: &str) -> Result<ApplyReport> {
        manifest::apply(&self.store, text)
    }

    /// Typed access to kind `K`.
    pub fn api<K: Resource>(&self) -> Api<K> {
        Api::all(self.store.clone())
    }

    /// Access to any served kind by name: a built-in, a kind registered with
    /// [`EngineBuilder::kind`], or one defined by a CustomResourceDefinition. Any other kind
    /// is [`Error::NoMatch`](crate::Error::NoMatch): kinds are never made up on first use.
    pub fn dynamic(&self, api_version: &str, kind: &str) -> Result<DynamicApi> {
        DynamicApi::new(self.store.clone(), api_version, kind)
    }

    /// Waits, at most `within` of real time, until this engine's kubelet has written every
    /// node's status (registered it, or renewed what a data dir held) and the scheduler (if
    /// any) has applied that write: start-up convergence of real threads, typically well
    /// under a millisecond. Polls, since the scheduler's progress is a counter
    /// ([`Scheduler::last_synced_revision`]).
    fn await_nodes_registered(&self, within: Duration) {
        let names = self.kubelet.node_names();
        if names.is_empty() {
            return;
        }
        let deadline = std::time::Instant::now() + within;
        loop {
            // The newest revision among this kubelet's first status writes, once every node
            // has one (a Node left in a data dir by a previous run does not count).
            let newest = names.iter().try_fold(0u64, |newest, name| {
                Some(newest.max(self.kubelet.node_status_revision(name)?))
            });
            if let Some(rev) = newest {
                if self
                    .scheduler
                    .as_ref()
                    .is_none_or(|s| s.last_synced_revision("Node") >= rev)
                {
                    return;
                }
            }
            if std::time::Instant::now() >= deadline {
                log::warn!(
                    "engine: nodes {names:?} not registered and scheduled against within \
                     {within:?}; starting anyway"
                );
                return;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// The running front door of type `T`, if the builder asked for one.
    #[cfg_attr(not(feature = "apiserver"), allow(dead_code))] // the one front door today
    pub(crate) fn front_door<T: FrontDoor>(&self) -> Option<&T> {
        self.front_doors
            .get()?
            .iter()
            .find_map(|d| d.as_any().downcast_ref::<T>())
    }

    /// What the engine found in its data dir when it started ([`EngineBuilder::persist`]):
    /// the snapshot loaded, the log records replayed, where a torn or corrupt log was cut.
    /// `None` for an engine without persistence.
    pub fn recovery_report(&self) -> Option<&RecoveryReport> {
        self.store.recovery_report()
    }

    /// The store underneath, for what the client APIs do not cover (transactions, hooks,
    /// indexes).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Registers and starts a controller while the engine runs. It first reconciles every
    /// existing object of its primary kind.
    pub fn add_controller(&self, controller: Controller) -> Result<()> {
        self.runtime.add(controller)
    }

    /// Whether this engine runs the controllers and the scheduler now: always for an engine
    /// alone on its store; for one among several (on etcd), while it holds the leader
    /// election's Lease ([`EngineBuilder::leader_election`]).
    pub fn is_leader(&self) -> bool {
        self.leadership.is_leader()
    }

    /// A handle that registers controllers on this engine from anywhere (a registry hook, a
    /// reconcile, a thread of the host), without keeping the engine alive: the built-in
    /// garbage collector gives every kind registered later its controller through one, from
    /// a [`Registry::on_register`](crate::api::Registry::on_register) hook.
    pub fn controllers(&self) -> crate::runtime::ControllerRegistrar {
        self.runtime.registrar()
    }

    /// A snapshot of every metric: the controllers' (controller-runtime's names: reconciles,
    /// errors, panics, durations, work queues) and any the host registered through
    /// [`Engine::metrics_registry`]. [`render_prometheus`](crate::runtime::render_prometheus)
    /// turns it into the Prometheus text format.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }

    /// Registers (or replaces) an in-process worker under `image`: containers with that
    /// image run it from now on.
    pub fn register_worker(&self, image: &str, worker: impl Worker) {
        self.kubelet
            .worker_registry()
            .register(image, Arc::new(worker));
    }

    /// The output of a container of a pod: the current instance, or with `previous` the one
    /// before the last restart (`kubectl logs [-c container] [--previous]`). `container` may
    /// be omitted for a pod with one container.
    pub fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        previous: bool,
    ) -> Result<String> {
        self.kubelet.logs(namespace, pod, container, previous)
    }

    /// One ready endpoint of Service `namespace/name` (its port named `port`, or its first
    /// port), taking turns among the ready pods: how a host routes work to healthy workers.
    /// [`Error::Unavailable`](crate::Error::Unavailable) when no pod is ready.
    ///
    /// Pods reach a Service through its virtual address instead (`spec.clusterIP`, named by
    /// the `<NAME>_SERVICE_HOST` variables and served by [`crate::node::proxy`]); a headless
    /// Service (`clusterIP: None`) has none, and this is how its pods are found: there is no
    /// DNS.
    pub fn resolve(
        &self,
        namespace: &str,
        service: &str,
        port: Option<&str>,
    ) -> Result<std::net::SocketAddr> {
        self.resolver.resolve(namespace, service, port)
    }

    /// The scheduler, unless the engine was built [without
    /// one](EngineBuilder::without_scheduler).
    pub fn scheduler(&self) -> Option<&Scheduler> {
        self.scheduler.as_ref()
    }

    /// The runtime of this engine's process containers: how many run, and whether their
    /// `resources.limits` are enforced ([`cgroups_version`](crate::node::ProcessRuntime::cgroups_version)).
    #[cfg(unix)]
    pub fn process_runtime(&self) -> &crate::node::ProcessRuntime {
        &self.processes
    }

    /// The node agent: nodes (add, stop, restart), the simulated runtime's fault injection.
    pub fn kubelet(&self) -> &Kubelet {
        &self.kubelet
    }

    /// Reports the custom metric `name` of pod `namespace/pod` (a plain number, e.g. requests
    /// per second): what HorizontalPodAutoscalers with a `Pods` metric of that name average
    /// and compare with `target.averageValue`. Replaces the previous value; kept until the
    /// pod is gone.
    pub fn report_pod_metric(&self, namespace: &str, pod: &str, name: &str, value: f64) {
        self.pod_metrics
            .report_pod_metric(namespace, pod, name, value);
    }

    /// Reports the usage of `resource` by pod `namespace/pod` (`cpu` in cores, e.g. `"250m"`;
    /// `memory` in bytes), read by `Resource` metrics of HorizontalPodAutoscalers. A reported
    /// value takes precedence over the CPU the node agent measures for process pods.
    pub fn report_pod_usage(&self, namespace: &str, pod: &str, resource: &str, usage: &Quantity) {
        self.pod_metrics
            .report_pod_usage(namespace, pod, resource, usage);
    }

    /// The pod metrics the HorizontalPodAutoscaler reads (measured and reported).
    pub fn pod_metrics(&self) -> &PodMetrics {
        &self.pod_metrics
    }

    /// The engine's metrics registry, for the host's own metrics.
    pub fn metrics_registry(&self) -> &MetricsRegistry {
        &self.metrics
    }

    /// Stops everything: controllers stop taking work and running reconciles get the
    /// shutdown grace period to finish; every thread is joined; watches end with
    /// [`Error::Closed`](crate::Error::Closed). Idempotent; dropping the engine does it too.
    pub fn shutdown(&self) {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        // No client changes anything once shutdown has begun.
        for door in self.front_doors.get().into_iter().flatten() {
            door.stop();
        }
        *self.gc.runtime.lock() = None;
        if let Some(s) = &self.scheduler {
            s.stop();
        }
        self.runtime.stop();
        // The controllers stopped: a leader hands over (releases its Lease) now, so a
        // stand-by takes over at its next try.
        if let Some(e) = self.elector.get() {
            e.stop();
        }
        // No Service is served once its controller stopped following the Endpoints.
        #[cfg(unix)]
        if let Some(p) = &self.proxy {
            p.stop();
        }
        // With the controllers stopped, stop every container (graceful, then forced).
        self.kubelet.shutdown();
        // Its pods stopped, each node is released for the next engine that names it.
        #[cfg(feature = "etcd")]
        if let Some(id) = self.node_claims.get() {
            for name in self.kubelet.node_names() {
                crate::node::agent::node_claim::release_node(&self.store, &name, id);
            }
        }
        // The last resort: no process group outlives the engine.
        #[cfg(unix)]
        self.processes.shutdown(Duration::from_secs(2));
        self.store.close_watches();
        self.runtime.join_background();
        // Last: everything written during shutdown is made durable, then the data dir is
        // released for the next engine.
        self.store.close_persistence();
    }
}

impl Engine {
    /// True once [`Engine::shutdown`] has begun.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}
