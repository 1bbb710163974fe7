//! The plugin framework: the extension points of a scheduling cycle, as traits, and what
//! they are given.
//!
//! A plugin is a type implementing [`Plugin`] (a name) and one or more extension point
//! traits; it is registered on a [`SchedulerConfig`](super::SchedulerConfig) once per point
//! it implements, as kube-scheduler's configuration enables a plugin per extension point.
//!
//! Per pod, one scheduling cycle runs, on the scheduler's one scheduling thread:
//! [`PreFilterPlugin`]s once, [`FilterPlugin`]s per node until enough feasible nodes are
//! found, [`PostFilterPlugin`]s when none is, [`PreScorePlugin`]s once,
//! [`ScorePlugin`]s per feasible node (then their normalization), and [`ReservePlugin`]s on
//! the chosen node. Binding ([`BindPlugin`]) runs afterwards on a binder thread, so the next
//! cycle does not wait for the store write.
//!
//! Every plugin of a cycle sees the same [`PodInfo`] (the pod with its requests and host ports
//! computed once) and [`NodeInfo`]s (nodes with what is allocated on them, assumed pods
//! included). Per-pod data a plugin computes once goes into the [`CycleState`].
//!
//! Plugins run while the scheduler's state is borrowed: they must return promptly and must not
//! wait for the scheduler (for example for another pod to be scheduled).

use super::cache::NodeInfo;
use super::plugins::inter_pod_affinity::AffinityTerms;
use crate::api::resources::{pod_requests, pod_requests_non_zero, Resources};
use crate::api::Pod;
use crate::clock::SharedClock;
use crate::error::Result;
use crate::store::Store;
use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

/// The outcome class of a plugin's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// The pod may go on (fits the node, or the step succeeded).
    Success,
    /// The pod does not fit now; something that changes on the node (pods leaving, a
    /// preemption) could make it fit.
    Unschedulable,
    /// The pod does not fit and preempting pods would not change that (labels, taints,
    /// node name).
    UnschedulableAndUnresolvable,
    /// Returned by a pre-filter or pre-score: this plugin has nothing to say about this
    /// pod, so its filter or score is not called for it.
    Skip,
    /// Something went wrong; the pod is retried after its backoff.
    Error,
}

/// A plugin's decision: a [`Code`] and the reasons a human reads (`Insufficient cpu`).
///
/// Reasons are counted across nodes into the pod's `PodScheduled` message: write them as
/// kube-scheduler does, about "node(s)" in general, without the node's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    code: Code,
    // Boxed so that a Status is two words, returned in registers by the filters that run for
    // every node; only rejections allocate.
    reasons: Option<Box<Reasons>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Reasons(Vec<Cow<'static, str>>);

impl Status {
    /// Success (allocates nothing).
    pub fn success() -> Status {
        Status {
            code: Code::Success,
            reasons: None,
        }
    }

    /// Skip: see [`Code::Skip`].
    pub fn skip() -> Status {
        Status {
            code: Code::Skip,
            reasons: None,
        }
    }

    /// Does not fit now: see [`Code::Unschedulable`].
    pub fn unschedulable(reason: impl Into<Cow<'static, str>>) -> Status {
        Status::new(Code::Unschedulable, reason)
    }

    /// Does not fit, and preemption would not help: see
    /// [`Code::UnschedulableAndUnresolvable`].
    pub fn unresolvable(reason: impl Into<Cow<'static, str>>) -> Status {
        Status::new(Code::UnschedulableAndUnresolvable, reason)
    }

    /// An error.
    pub fn error(message: impl Into<Cow<'static, str>>) -> Status {
        Status::new(Code::Error, message)
    }

    /// A status of `code` with one reason.
    pub fn new(code: Code, reason: impl Into<Cow<'static, str>>) -> Status {
        Status {
            code,
            reasons: Some(Box::new(Reasons(vec![reason.into()]))),
        }
    }

    /// Adds a reason (a node may fail for several: `Insufficient cpu`, `Insufficient memory`).
    pub fn with_reason(mut self, reason: impl Into<Cow<'static, str>>) -> Status {
        self.reasons
            .get_or_insert_with(Default::default)
            .0
            .push(reason.into());
        self
    }

    /// The outcome class.
    pub fn code(&self) -> Code {
        self.code
    }

    /// True for [`Code::Success`].
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    /// True for [`Code::Skip`].
    pub fn is_skip(&self) -> bool {
        self.code == Code::Skip
    }

    /// True for the two unschedulable codes.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self.code,
            Code::Unschedulable | Code::UnschedulableAndUnresolvable
        )
    }

    /// The reasons, in the order given.
    pub fn reasons(&self) -> &[Cow<'static, str>] {
        self.reasons.as_deref().map_or(&[], |r| r.0.as_slice())
    }

    /// The reasons joined with `, `.
    pub fn message(&self) -> String {
        self.reasons().join(", ")
    }
}

/// The cluster changes that may make a pod schedulable again. A pod a plugin rejected waits
/// in the unschedulable pool until a change the plugin declared in [`Plugin::events`]
/// happens (or 5 minutes pass).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClusterEvents(u8);

impl ClusterEvents {
    /// No change.
    pub const NONE: ClusterEvents = ClusterEvents(0);
    /// A node was added.
    pub const NODE_ADDED: ClusterEvents = ClusterEvents(1);
    /// A node's labels, taints, unschedulable flag or allocatable resources changed.
    pub const NODE_CHANGED: ClusterEvents = ClusterEvents(2);
    /// A pod was bound to a node, or a bound pod's labels changed.
    pub const ASSIGNED_POD_ADDED: ClusterEvents = ClusterEvents(4);
    /// A bound pod was deleted or finished (Succeeded or Failed), freeing what it held.
    pub const ASSIGNED_POD_DELETED: ClusterEvents = ClusterEvents(8);
    /// Every change.
    pub const ALL: ClusterEvents = ClusterEvents(15);

    /// True when every change of `other` is in `self`.
    pub fn contains(self, other: ClusterEvents) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when `self` and `other` share a change.
    pub fn intersects(self, other: ClusterEvents) -> bool {
        self.0 & other.0 != 0
    }
}

impl std::ops::BitOr for ClusterEvents {
    type Output = ClusterEvents;
    fn bitor(self, rhs: ClusterEvents) -> ClusterEvents {
        ClusterEvents(self.0 | rhs.0)
    }
}

/// What every plugin is: a name, unique among the plugins of one extension point.
pub trait Plugin: Send + Sync + 'static {
    /// The plugin's name (`NodeResourcesFit`); [`SchedulerConfig::disable`] removes plugins
    /// by it.
    ///
    /// [`SchedulerConfig::disable`]: super::SchedulerConfig::disable
    fn name(&self) -> &str;

    /// The cluster changes after which a pod this plugin rejected is worth retrying.
    /// Default: every change.
    fn events(&self) -> ClusterEvents {
        ClusterEvents::ALL
    }
}

/// Orders the active queue: the pod for which `less(a, b)` holds against every other is
/// scheduled first. Exactly one is in use (default: `PrioritySort`).
pub trait QueueSortPlugin: Plugin {
    /// True when `a` goes before `b`.
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool;
}

/// Runs once per cycle, before any filter: checks the pod as a whole and precomputes what
/// its filter will need into the [`CycleState`]. A rejection fails the pod on every node;
/// [`Code::Skip`] skips the filter of the plugin with the same name for this pod.
pub trait PreFilterPlugin: Plugin {
    /// The pre-filter step; `nodes` are every node.
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[NodeInfo]) -> Status;
}

/// How many nodes [`FilterPlugin::filter_nodes`] is given at once: one bit each of a `u64`.
pub const FILTER_BATCH: usize = 64;

/// Decides whether the pod fits one node. Called for each node examined, so keep it cheap:
/// no allocation on success.
pub trait FilterPlugin: Plugin {
    /// [`Status::success`] when the pod may run on `node`; otherwise why not.
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;

    /// A cheap first look: false when [`filter`](Self::filter) would certainly pass `node`,
    /// so the batch filter skips it (a node without taints, one with room to spare). Must
    /// never be false where `filter` would reject. The default, true, sends every node to
    /// `filter`.
    fn may_reject(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> bool {
        let _ = (state, pod, node);
        true
    }

    /// Filters up to [`FILTER_BATCH`] nodes at once: for each `candidates[i]` (an index into
    /// `nodes`) whose bit `i` is set in `alive`, decide; for each node rejected, clear its bit
    /// and push `(node index, status)` to `rejected`. The default runs
    /// [`filter`](Self::filter) on the nodes [`may_reject`](Self::may_reject) flags, in one
    /// tight loop over the set bits (both calls are static within it); a plugin that
    /// overrides it must decide exactly as `filter` would.
    fn filter_nodes(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[NodeInfo],
        candidates: &[usize],
        alive: &mut u64,
        rejected: &mut Vec<(usize, Status)>,
    ) {
        let mut bits = *alive;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let n = candidates[i];
            let node = &nodes[n];
            if self.may_reject(state, pod, node) {
                let st = self.filter(state, pod, node);
                if !st.is_success() {
                    *alive &= !(1u64 << i);
                    rejected.push((n, st));
                }
            }
        }
    }
}

/// Why no node fit, given to post-filters.
#[derive(Debug, Default)]
pub struct Diagnosis {
    /// Every node examined that rejected the pod, by index into the node list, with the
    /// status of the filter that rejected it.
    pub node_statuses: Vec<(usize, Status)>,
    /// The pre-filter's rejection, when one rejected the pod before any filter ran.
    pub pre_filter: Option<Status>,
}

/// What a post-filter decided.
#[derive(Clone, Debug)]
pub struct PostFilterResult {
    /// [`Code::Success`] when the plugin made room (the pod is retried once the cluster
    /// changes); a rejection when it could not, with reasons added to the pod's message.
    pub status: Status,
    /// The node the pod should go to once room is made; written to
    /// `status.nominatedNodeName`.
    pub nominated_node: Option<String>,
    /// Pods to evict to make that room (preemption's victims): each gets the condition
    /// `DisruptionTarget=True` (reason `PreemptionByScheduler`) and is deleted gracefully.
    pub victims: Vec<Arc<Pod>>,
}

/// Runs when no node fits the pod, in order, until one succeeds: kube-scheduler's place for
/// preemption (the default plugin here is `DefaultPreemption`; user plugins run after it).
pub trait PostFilterPlugin: Plugin {
    /// The post-filter step.
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[NodeInfo],
        diagnosis: &Diagnosis,
    ) -> PostFilterResult;
}

/// Runs once per cycle with the feasible nodes, before scoring: precomputes what the score
/// needs. [`Code::Skip`] skips the score of the plugin with the same name for this pod.
pub trait PreScorePlugin: Plugin {
    /// The pre-score step; `feasible` are indices into `nodes`.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[NodeInfo],
        feasible: &[usize],
    ) -> Status;
}

/// The score of one node for the pod being scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeScore {
    /// Index of the node in the node list.
    pub node: usize,
    /// The score: anything from [`ScorePlugin::score`]; after
    /// [`normalize`](ScorePlugin::normalize) it must lie in `0..=MAX_NODE_SCORE`.
    pub score: i64,
}

/// The highest score a node can get from one plugin (after normalization).
pub const MAX_NODE_SCORE: i64 = 100;

/// Ranks the feasible nodes. The node with the highest sum of `weight x score` over the
/// score plugins wins; ties are broken at random.
pub trait ScorePlugin: Plugin {
    /// The raw score of `node` (any scale, if [`normalize`](Self::normalize) maps it to
    /// `0..=100`).
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status>;

    /// Scores every feasible node at once: `scores[i].node` says which node, `scores[i].score`
    /// is to be set. The default calls [`score`](Self::score) per node; a plugin may override
    /// it to score in one tight loop (the default plugins do: this runs for hundreds of nodes
    /// per pod).
    fn score_nodes(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[NodeInfo],
        scores: &mut [NodeScore],
    ) -> Result<(), Status> {
        for s in scores.iter_mut() {
            s.score = self.score(state, pod, &nodes[s.node])?;
        }
        Ok(())
    }

    /// Maps the raw scores of every feasible node to `0..=100`. Default: leaves them as they
    /// are (the raw score must then already be in range).
    fn normalize(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[NodeInfo],
        scores: &mut [NodeScore],
    ) -> Status {
        let _ = (state, pod, nodes, scores);
        Status::success()
    }
}

/// Told when a node was chosen for the pod (reserve), and when that choice was abandoned
/// (unreserve: a later reserve plugin failed or binding failed), to keep state of its own in
/// step with the scheduler's.
pub trait ReservePlugin: Plugin {
    /// The pod was assumed on `node`. A failure abandons the choice: every reserve plugin is
    /// then unreserved, in reverse order.
    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
    /// Undoes [`reserve`](Self::reserve). Must not fail; may be called for a pod this plugin
    /// did not reserve.
    fn unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str);
}

/// What a bind plugin may use.
pub struct BindContext<'a> {
    /// The store.
    pub store: &'a Store,
    /// The engine clock.
    pub clock: &'a SharedClock,
    /// The scheduler's name (`default-scheduler`).
    pub scheduler_name: &'a str,
}

/// What a bind plugin did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindOutcome {
    /// The pod is bound.
    Bound,
    /// Not this plugin's pod: the next bind plugin is asked.
    Skip,
}

/// Writes the decision. Runs on a binder thread after the cycle; plugins are asked in order
/// until one binds. The default (`DefaultBinder`) sets `spec.nodeName` by compare-and-swap on
/// the pod's resourceVersion, then the `PodScheduled=True` condition.
///
/// A [`Conflict`](crate::Error::Conflict) error means the pod changed since it was read: the
/// scheduler forgets its choice and schedules the pod again from its newest version.
pub trait BindPlugin: Plugin {
    /// Binds `pod` (the version the cycle scheduled) to `node`.
    fn bind(&self, cx: &BindContext<'_>, pod: &Pod, node: &str) -> Result<BindOutcome>;
}

/// A host port a pod asks for: `(ip, protocol, port)`, conflicting with the same port and
/// protocol on the same IP or on the wildcard `0.0.0.0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// The host IP (`0.0.0.0` when the pod does not say).
    pub ip: String,
    /// `TCP` (the default), `UDP` or `SCTP`.
    pub protocol: String,
    /// The port number.
    pub port: i32,
}

impl HostPort {
    /// True when the two cannot be bound on one node at once.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == WILDCARD_IP || other.ip == WILDCARD_IP)
    }
}

const WILDCARD_IP: &str = "0.0.0.0";

/// A pod with what the plugins need of it computed once: its requests and its host ports.
#[derive(Debug)]
pub struct PodInfo {
    pod: Arc<Pod>,
    key: Arc<str>,
    requests: Resources,
    non_zero: Resources,
    host_ports: Vec<HostPort>,
    affinity: Option<Box<AffinityTerms>>,
}

impl PodInfo {
    /// Computes the pod's requests and host ports.
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        let key: Arc<str> = format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or("default"),
            pod.metadata.name
        )
        .into();
        let requests = pod_requests(&pod.spec);
        let non_zero = pod_requests_non_zero(&pod.spec);
        let mut host_ports = Vec::new();
        for c in pod.spec.init_containers.iter().chain(&pod.spec.containers) {
            for p in &c.ports {
                if let Some(hp) = p.host_port.filter(|p| *p > 0) {
                    host_ports.push(HostPort {
                        ip: p
                            .host_ip
                            .clone()
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| WILDCARD_IP.to_string()),
                        protocol: p
                            .protocol
                            .clone()
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| "TCP".to_string()),
                        port: hp,
                    });
                }
            }
        }
        let affinity = AffinityTerms::of(&pod);
        PodInfo {
            pod,
            key,
            requests,
            non_zero,
            host_ports,
            affinity,
        }
    }

    /// The pod.
    pub fn pod(&self) -> &Arc<Pod> {
        &self.pod
    }

    /// `namespace/name`.
    pub fn key(&self) -> &str {
        &self.key
    }

    pub(crate) fn key_arc(&self) -> &Arc<str> {
        &self.key
    }

    /// The pod's uid (empty for a pod never stored).
    pub fn uid(&self) -> &str {
        self.pod.metadata.uid.as_deref().unwrap_or("")
    }

    /// The pod's namespace.
    pub fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or("default")
    }

    /// `spec.priority` (0 when unset).
    pub fn priority(&self) -> i32 {
        self.pod.spec.priority.unwrap_or(0)
    }

    /// What the pod requests ([`pod_requests`]).
    pub fn requests(&self) -> &Resources {
        &self.requests
    }

    /// What the pod counts as for load spreading ([`pod_requests_non_zero`]).
    pub fn non_zero_requests(&self) -> &Resources {
        &self.non_zero
    }

    /// The host ports its containers bind.
    pub fn host_ports(&self) -> &[HostPort] {
        &self.host_ports
    }

    /// True when the pod has inter-pod affinity or anti-affinity terms.
    pub fn has_pod_affinity(&self) -> bool {
        self.affinity.is_some()
    }

    /// Its inter-pod (anti-)affinity terms, compiled; `None` without any.
    pub(crate) fn affinity_terms(&self) -> Option<&AffinityTerms> {
        self.affinity.as_deref()
    }
}

/// A pod waiting in the scheduling queue, as the queue-sort plugin compares it.
#[derive(Clone, Debug)]
pub struct QueuedPodInfo {
    /// The pod.
    pub pod: Arc<PodInfo>,
    /// When it entered the queue or last failed to schedule (engine monotonic clock).
    pub timestamp: Duration,
    /// Scheduling attempts so far.
    pub attempts: u32,
    /// Arrival order: the first pod the scheduler saw is 0. Breaks ties of equal timestamps.
    pub arrival: u64,
}

/// Per-cycle data plugins share between their extension points (pre-filter to filter,
/// pre-score to score), filed by type: give each plugin a state type of its own.
#[derive(Default)]
pub struct CycleState {
    entries: Vec<(TypeId, Box<dyn Any + Send + Sync>)>,
}

impl std::fmt::Debug for CycleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CycleState")
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl CycleState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value`, replacing (and returning) the value of the same type.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) -> Option<T> {
        let old = self.remove::<T>();
        self.entries.push((TypeId::of::<T>(), Box::new(value)));
        old
    }

    /// The value of type `T`, if stored.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.entries
            .iter()
            .find(|(t, _)| *t == id)
            .and_then(|(_, v)| v.downcast_ref::<T>())
    }

    /// The value of type `T`, mutable.
    pub fn get_mut<T: Any + Send + Sync>(&mut self) -> Option<&mut T> {
        let id = TypeId::of::<T>();
        self.entries
            .iter_mut()
            .find(|(t, _)| *t == id)
            .and_then(|(_, v)| v.downcast_mut::<T>())
    }

    /// Takes the value of type `T` out.
    pub fn remove<T: Any + Send + Sync>(&mut self) -> Option<T> {
        let id = TypeId::of::<T>();
        let i = self.entries.iter().position(|(t, _)| *t == id)?;
        let (_, v) = self.entries.swap_remove(i);
        v.downcast::<T>().ok().map(|b| *b)
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_state_files_values_by_type() {
        #[derive(Debug, PartialEq)]
        struct A(u32);
        #[derive(Debug, PartialEq)]
        struct B(&'static str);
        let mut s = CycleState::new();
        assert_eq!(s.insert(A(1)), None);
        s.insert(B("x"));
        assert_eq!(s.insert(A(2)), Some(A(1)));
        assert_eq!(s.get::<A>(), Some(&A(2)));
        s.get_mut::<B>().unwrap().0 = "y";
        assert_eq!(s.remove::<B>(), Some(B("y")));
        assert_eq!(s.get::<B>(), None);
        s.clear();
        assert_eq!(s.get::<A>(), None);
    }

    #[test]
    fn host_ports_conflict_on_same_ip_or_wildcard_only() {
        let p = |ip: &str, proto: &str, port| HostPort {
            ip: ip.into(),
            protocol: proto.into(),
            port,
        };
        assert!(p("0.0.0.0", "TCP", 80).conflicts(&p("10.0.0.1", "TCP", 80)));
        assert!(p("10.0.0.1", "TCP", 80).conflicts(&p("10.0.0.1", "TCP", 80)));
        assert!(!p("10.0.0.1", "TCP", 80).conflicts(&p("10.0.0.2", "TCP", 80)));
        assert!(!p("0.0.0.0", "TCP", 80).conflicts(&p("0.0.0.0", "UDP", 80)));
        assert!(!p("0.0.0.0", "TCP", 80).conflicts(&p("0.0.0.0", "TCP", 81)));
    }

    #[test]
    fn pod_info_defaults_host_port_ip_and_protocol() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "ports": [
                {"containerPort": 80, "hostPort": 8080},
                {"containerPort": 53, "protocol": "UDP"}
            ]}]}
        }))
        .unwrap();
        let info = PodInfo::new(Arc::new(pod));
        assert_eq!(info.key(), "ns/p");
        assert_eq!(
            info.host_ports(),
            [HostPort {
                ip: "0.0.0.0".into(),
                protocol: "TCP".into(),
                port: 8080
            }]
        );
    }
}
