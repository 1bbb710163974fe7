//! The scheduler's single-threaded core: it applies store changes to the cache and the queue,
//! and runs one scheduling cycle at a time. It performs no I/O: what must be written (bindings,
//! status, events) is handed out as [`Outgoing`] work for the binder threads.
//!
//! # Invariants
//! - One thread owns the core; a cycle sees the cache unchanged from pre-filter to reserve.
//! - A pod chosen for a node is assumed in the cache before the next cycle starts, so no two
//!   cycles ever count the same free capacity (no over-commit), even though bindings are
//!   written later on other threads.
//! - A pod is in at most one place: queued (active, backoff, unschedulable), in flight
//!   (assumed or being tried), or bound in the cache.

use super::cache::{Cache, NodeChange, PodState};
use super::config::{Plugins, SchedulerConfig};
use super::framework::{
    BindPlugin, ClusterEvents, Code, CycleState, Diagnosis, FilterPlugin, NodeScore, PodInfo,
    PostFilterPlugin, PreFilterPlugin, PreScorePlugin, QueuedPodInfo, ReservePlugin, ScorePlugin,
    Status, FILTER_BATCH, MAX_NODE_SCORE,
};
use super::queue::{Location, QueueCounts, SchedulingQueue, Timings};
use crate::api::{Node, Pod};
use crate::clock::SharedClock;
use crate::error::Error;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::Arc;

/// kube-scheduler's floor on nodes examined per cycle.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// kube-scheduler's floor on the adaptive percentage.
const MIN_FEASIBLE_NODES_PERCENTAGE: i64 = 5;

/// How many feasible nodes to find before scoring, out of `n` (percentageOfNodesToScore).
pub(crate) fn num_feasible_nodes_to_find(n: usize, percentage: u32) -> usize {
    if n < MIN_FEASIBLE_NODES_TO_FIND || percentage >= 100 {
        return n;
    }
    let pct = if percentage == 0 {
        (50 - n as i64 / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE)
    } else {
        i64::from(percentage)
    };
    ((n as i64 * pct / 100) as usize).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// The message of a pod no node fits, in kube-scheduler's words:
/// `0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu.`
/// (each reason counted over nodes, the counted reasons sorted as strings).
pub(crate) fn fit_error_message(
    nodes: usize,
    diagnosis: &Diagnosis,
    post_filter: Option<&Status>,
) -> String {
    let mut msg = format!("0/{nodes} nodes are available:");
    match &diagnosis.pre_filter {
        Some(st) => {
            msg.push(' ');
            msg.push_str(&st.message());
            msg.push('.');
        }
        None => {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for (_, st) in &diagnosis.node_statuses {
                for r in st.reasons() {
                    *counts.entry(r.as_ref()).or_insert(0) += 1;
                }
            }
            let mut parts: Vec<String> = counts
                .into_iter()
                .map(|(r, c)| format!("{c} {r}"))
                .collect();
            parts.sort();
            if !parts.is_empty() {
                msg.push(' ');
                msg.push_str(&parts.join(", "));
                msg.push('.');
            }
        }
    }
    if let Some(st) = post_filter.filter(|s| !s.reasons().is_empty()) {
        msg.push(' ');
        msg.push_str(&st.message());
        if !msg.ends_with('.') {
            msg.push('.');
        }
    }
    msg
}

/// The message when there is no node at all (kube-scheduler's `ErrNoNodesAvailable`).
pub(crate) const NO_NODES: &str = "no nodes available to schedule pods";

/// A binding to write.
pub(crate) struct BindTask {
    pub(crate) pod: Arc<PodInfo>,
    pub(crate) node: String,
    pub(crate) state: CycleState,
}

/// Why a binding failed.
#[derive(Debug)]
pub(crate) enum BindFailure {
    /// The pod changed since the cycle read it.
    Conflict,
    /// The pod is gone.
    NotFound,
    /// Anything else (a store error, a bind plugin's error or panic, no plugin bound it).
    Other(String),
}

impl From<Error> for BindFailure {
    fn from(e: Error) -> Self {
        if e.is_conflict() {
            BindFailure::Conflict
        } else if e.is_not_found() {
            BindFailure::NotFound
        } else {
            BindFailure::Other(e.to_string())
        }
    }
}

/// What a binding came to.
pub(crate) struct BindDone {
    pub(crate) task: BindTask,
    pub(crate) result: Result<(), BindFailure>,
}

/// Work for the binder threads.
pub(crate) enum Outgoing {
    Bind(BindTask),
    /// Evict a post-filter's victims (DisruptionTarget condition, `Preempted` event,
    /// graceful deletion).
    Preempt(Preemption),
    /// Record that the pod could not be scheduled: condition PodScheduled=False with
    /// `reason` and `message`, `nominatedNodeName`, and a `FailedScheduling` Event.
    Failed {
        pod: Arc<Pod>,
        reason: &'static str,
        message: String,
        nominated: Option<String>,
    },
}

/// Victims a post-filter chose for `pod`, to mark and delete before it can go to `node`.
pub(crate) struct Preemption {
    pub(crate) pod: Arc<Pod>,
    pub(crate) node: String,
    pub(crate) victims: Vec<Arc<Pod>>,
}

/// The plugins, with what the cycle needs precomputed.
pub(crate) struct Framework {
    pre_filter: Vec<Arc<dyn PreFilterPlugin>>,
    /// For each pre-filter, the filter of the same plugin (skipped on `Skip`).
    pre_filter_target: Vec<Option<usize>>,
    pre_filter_events: Vec<ClusterEvents>,
    filter: Vec<Arc<dyn FilterPlugin>>,
    filter_events: Vec<ClusterEvents>,
    post_filter: Vec<Arc<dyn PostFilterPlugin>>,
    pre_score: Vec<Arc<dyn PreScorePlugin>>,
    pre_score_target: Vec<Option<usize>>,
    score: Vec<(Arc<dyn ScorePlugin>, i64)>,
    reserve: Vec<Arc<dyn ReservePlugin>>,
    pub(crate) bind: Arc<[Arc<dyn BindPlugin>]>,
}

impl Framework {
    fn new(p: Plugins) -> Framework {
        let pre_filter_target = p
            .pre_filter
            .iter()
            .map(|pf| p.filter.iter().position(|f| f.name() == pf.name()))
            .collect();
        let pre_score_target = p
            .pre_score
            .iter()
            .map(|ps| p.score.iter().position(|(s, _)| s.name() == ps.name()))
            .collect();
        Framework {
            pre_filter_events: p.pre_filter.iter().map(|x| x.events()).collect(),
            filter_events: p.filter.iter().map(|x| x.events()).collect(),
            pre_filter_target,
            pre_score_target,
            pre_filter: p.pre_filter,
            filter: p.filter,
            post_filter: p.post_filter,
            pre_score: p.pre_score,
            score: p.score,
            reserve: p.reserve,
            bind: p.bind.into(),
        }
    }
}

/// Why a cycle did not bind the pod.
enum Failure {
    /// No node fits; wait for one of these changes.
    Unschedulable {
        message: String,
        wake_on: ClusterEvents,
        nominated: Option<String>,
        victims: Vec<Arc<Pod>>,
    },
    /// A plugin failed; retry after the backoff.
    Error(String),
}

/// Scratch space reused by every cycle: no allocation per node.
#[derive(Default)]
struct Scratch {
    filters_on: Vec<usize>,
    skip_filter: Vec<bool>,
    skip_score: Vec<bool>,
    feasible: Vec<usize>,
    scores: Vec<NodeScore>,
    totals: Vec<i64>,
}

pub(crate) struct Core {
    fw: Framework,
    cache: Cache,
    queue: SchedulingQueue,
    clock: SharedClock,
    scheduler_name: String,
    percentage: u32,
    next_start: usize,
    rng: u64,
    scratch: Scratch,
    out: Vec<Outgoing>,
    /// Pods a post-filter nominated a node for (kube-scheduler's nominator): that node is
    /// tried first on their next attempt.
    nominated: HashMap<Arc<str>, String>,
}

/// xorshift64*: cheap, good enough for breaking ties.
fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// True for pods that ended (their resources are free again).
pub(crate) fn terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

impl Core {
    pub(crate) fn new(config: &SchedulerConfig, clock: SharedClock, store: Option<&Store>) -> Core {
        let plugins = config.framework_for(store);
        let timings = Timings {
            initial_backoff: config.pod_initial_backoff,
            max_backoff: config.pod_max_backoff,
            max_unschedulable: config.max_unschedulable_duration,
        };
        let queue = SchedulingQueue::new(plugins.queue_sort.clone(), timings);
        let seed = config.seed.unwrap_or_else(|| {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(0x5c4e_d01e_u64)
        });
        Core {
            fw: Framework::new(plugins),
            cache: Cache::default(),
            queue,
            clock,
            scheduler_name: config.scheduler_name.clone(),
            percentage: config.percentage_of_nodes_to_score,
            next_start: 0,
            rng: seed | 1,
            scratch: Scratch::default(),
            out: Vec::new(),
            nominated: HashMap::new(),
        }
    }

    pub(crate) fn bind_plugins(&self) -> Arc<[Arc<dyn BindPlugin>]> {
        self.fw.bind.clone()
    }

    pub(crate) fn take_outgoing(&mut self) -> std::vec::Drain<'_, Outgoing> {
        self.out.drain(..)
    }

    pub(crate) fn queue_counts(&self) -> QueueCounts {
        self.queue.counts()
    }

    pub(crate) fn next_deadline(&mut self) -> Option<std::time::Duration> {
        self.queue.next_deadline()
    }

    pub(crate) fn tick(&mut self) {
        let now = self.clock.monotonic();
        self.queue.tick(now);
    }

    fn responsible(&self, pod: &Pod) -> bool {
        let name = pod.spec.scheduler_name.as_deref().unwrap_or("");
        (name.is_empty() || name == self.scheduler_name)
            && pod.metadata.deletion_timestamp.is_none()
            && !terminal(pod)
    }

    // ----- store changes -----

    /// A Node was added or changed.
    pub(crate) fn node_upserted(&mut self, node: Arc<Node>) {
        let now = self.clock.monotonic();
        match self.cache.upsert_node(node) {
            NodeChange::Added => {
                self.queue.on_event(ClusterEvents::NODE_ADDED, now);
            }
            NodeChange::Relevant => {
                self.queue.on_event(ClusterEvents::NODE_CHANGED, now);
            }
            NodeChange::Irrelevant => {}
        }
    }

    /// A Node was deleted.
    pub(crate) fn node_deleted(&mut self, name: &str) {
        self.cache.remove_node(name);
    }

    /// A Pod was added or changed.
    pub(crate) fn pod_upserted(&mut self, info: Arc<PodInfo>) {
        let now = self.clock.monotonic();
        let key = info.key_arc().clone();
        let pod = info.pod().clone();
        if let Some(node) = pod.spec.node_name.as_deref().filter(|n| !n.is_empty()) {
            // Bound (by us, confirmed, or by anyone else): no longer ours to schedule.
            self.queue.delete(&key);
            self.nominated.remove(&key);
            if terminal(&pod) {
                if self.cache.remove_pod(&key) {
                    self.queue
                        .on_event(ClusterEvents::ASSIGNED_POD_DELETED, now);
                }
            } else if self.cache.upsert_bound_pod(info, node) {
                self.queue.on_event(ClusterEvents::ASSIGNED_POD_ADDED, now);
            }
            return;
        }
        if let Some((state, _, uid)) = self.cache.pod_state(&key) {
            if uid == info.uid() {
                // Assumed and being bound: the binder reports back; keep the newest version
                // for a retry. (Bound with the same uid cannot be unbound again.)
                if state == PodState::Assumed && self.queue.contains(&key) {
                    self.queue.add_or_update(info, now);
                }
                return;
            }
            // A new pod of the same name: the old one is gone.
            if self.cache.remove_pod(&key) {
                self.queue
                    .on_event(ClusterEvents::ASSIGNED_POD_DELETED, now);
            }
        }
        if self.responsible(&pod) {
            self.queue.add_or_update(info, now);
        } else {
            self.queue.delete(&key);
        }
    }

    /// A Pod was deleted.
    pub(crate) fn pod_deleted(&mut self, key: &str) {
        let now = self.clock.monotonic();
        self.queue.delete(key);
        self.nominated.remove(key);
        if self.cache.remove_pod(key) {
            self.queue
                .on_event(ClusterEvents::ASSIGNED_POD_DELETED, now);
        }
    }

    /// After a relist of Pods: everything listed is upserted, everything else deleted.
    pub(crate) fn pods_relisted(&mut self, pods: Vec<Arc<PodInfo>>) {
        let listed: std::collections::HashSet<Arc<str>> =
            pods.iter().map(|p| p.key_arc().clone()).collect();
        let mut known = self.cache.pod_keys();
        known.extend(self.queue.keys());
        for k in known {
            if !listed.contains(&k) {
                self.pod_deleted(&k);
            }
        }
        for p in pods {
            self.pod_upserted(p);
        }
    }

    /// After a relist of Nodes.
    pub(crate) fn nodes_relisted(&mut self, nodes: Vec<Arc<Node>>) {
        let listed: std::collections::HashSet<String> =
            nodes.iter().map(|n| n.metadata.name.clone()).collect();
        for name in self.cache.node_names() {
            if !listed.contains(&name) {
                self.cache.remove_node(&name);
            }
        }
        for n in nodes {
            self.node_upserted(n);
        }
    }

    /// A binding finished.
    pub(crate) fn bind_done(&mut self, done: BindDone) {
        let now = self.clock.monotonic();
        let BindDone { mut task, result } = done;
        let key = task.pod.key_arc().clone();
        let uid = task.pod.uid().to_string();
        let err = match result {
            Ok(()) => {
                // The cache keeps the pod assumed until the store's event confirms it.
                self.queue.done(&key, &uid);
                return;
            }
            Err(e) => e,
        };
        if self.cache.forget(&key, &uid) {
            for r in self.fw.reserve.iter().rev() {
                r.unreserve(&mut task.state, &task.pod, &task.node);
            }
            self.queue
                .on_event(ClusterEvents::ASSIGNED_POD_DELETED, now);
        }
        if self.queue.location(&key) != Some(Location::InFlight) {
            return; // deleted, or bound by someone else, meanwhile
        }
        if let BindFailure::NotFound = err {
            self.queue.delete(&key);
        } else if let BindFailure::Conflict = err {
            // Retry at once if a newer version already arrived, else after the backoff.
            let tried = task.pod.pod().metadata.resource_version.clone();
            let newest = self
                .queue
                .pod(&key)
                .and_then(|p| p.pod().metadata.resource_version.clone());
            if newest != tried {
                self.queue.activate(&key);
            } else {
                self.queue.backoff(&key, now);
            }
        } else {
            let BindFailure::Other(err) = err else {
                unreachable!("handled above")
            };
            log::warn!("scheduler: binding {key} to {} failed: {err}", task.node);
            self.queue.backoff(&key, now);
            self.out.push(Outgoing::Failed {
                pod: task.pod.pod().clone(),
                reason: "SchedulerError",
                message: format!("Binding rejected: {err}"),
                nominated: None,
            });
        }
    }

    // ----- the scheduling cycle -----

    /// Schedules the next active pod, if any. Returns whether one was tried.
    pub(crate) fn schedule_one(&mut self) -> bool {
        let Some(qp) = self.queue.pop() else {
            return false;
        };
        let mut state = CycleState::new();
        match self.find_node(&qp, &mut state) {
            Ok(idx) => self.reserve_and_bind(qp, idx, state),
            Err(f) => self.failed(&qp, f),
        }
        true
    }

    fn failed(&mut self, qp: &QueuedPodInfo, f: Failure) {
        let now = self.clock.monotonic();
        let key = qp.pod.key();
        let (reason, message, nominated) = match f {
            Failure::Unschedulable {
                message,
                wake_on,
                nominated,
                victims,
            } => {
                self.queue.unschedulable(key, wake_on, now);
                if let Some(node) = &nominated {
                    self.nominated
                        .insert(qp.pod.key_arc().clone(), node.clone());
                    if !victims.is_empty() {
                        self.out.push(Outgoing::Preempt(Preemption {
                            pod: qp.pod.pod().clone(),
                            node: node.clone(),
                            victims,
                        }));
                    }
                }
                ("Unschedulable", message, nominated)
            }
            Failure::Error(message) => {
                log::warn!("scheduler: scheduling {key} failed: {message}");
                self.queue.backoff(key, now);
                ("SchedulerError", message, None)
            }
        };
        self.out.push(Outgoing::Failed {
            pod: qp.pod.pod().clone(),
            reason,
            message,
            nominated,
        });
    }

    fn reserve_and_bind(&mut self, qp: QueuedPodInfo, idx: usize, mut state: CycleState) {
        let node = self.cache.nodes()[idx].name().to_string();
        self.cache.assume(qp.pod.clone(), &node);
        let nodes = self.cache.nodes();
        let ni = self.cache.node_index(&node).map(|i| &nodes[i]);
        let mut failure = None;
        if let Some(ni) = ni {
            for (k, r) in self.fw.reserve.iter().enumerate() {
                let st = r.reserve(&mut state, &qp.pod, ni);
                if !st.is_success() {
                    for undo in self.fw.reserve[..=k].iter().rev() {
                        undo.unreserve(&mut state, &qp.pod, &node);
                    }
                    failure = Some(if st.is_rejection() {
                        Failure::Unschedulable {
                            message: st.message(),
                            wake_on: r.events(),
                            nominated: None,
                            victims: Vec::new(),
                        }
                    } else {
                        Failure::Error(format!("reserve plugin {}: {}", r.name(), st.message()))
                    });
                    break;
                }
            }
        }
        if let Some(f) = failure {
            self.cache.forget(qp.pod.key(), qp.pod.uid());
            self.failed(&qp, f);
            return;
        }
        self.out.push(Outgoing::Bind(BindTask {
            pod: qp.pod,
            node,
            state,
        }));
    }

    /// Pre-filter, filter (post-filter), pre-score, score: the index of the chosen node.
    fn find_node(&mut self, qp: &QueuedPodInfo, state: &mut CycleState) -> Result<usize, Failure> {
        let pod = &qp.pod;
        let n = self.cache.nodes().len();
        if n == 0 {
            return Err(Failure::Unschedulable {
                message: NO_NODES.to_string(),
                wake_on: ClusterEvents::NODE_ADDED,
                nominated: None,
                victims: Vec::new(),
            });
        }
        self.cache.arrange();
        let (cache, fw, sc) = (&self.cache, &self.fw, &mut self.scratch);
        let nodes = cache.nodes();

        // Pre-filter.
        sc.skip_filter.clear();
        sc.skip_filter.resize(fw.filter.len(), false);
        let mut diagnosis = Diagnosis::default();
        for (i, p) in fw.pre_filter.iter().enumerate() {
            let st = p.pre_filter(state, pod, nodes);
            match st.code() {
                Code::Success => {}
                Code::Skip => {
                    if let Some(f) = fw.pre_filter_target[i] {
                        sc.skip_filter[f] = true;
                    }
                }
                Code::Unschedulable | Code::UnschedulableAndUnresolvable => {
                    diagnosis.pre_filter = Some(st);
                    let message = fit_error_message(n, &diagnosis, None);
                    return Err(Failure::Unschedulable {
                        message,
                        wake_on: fw.pre_filter_events[i],
                        nominated: None,
                        victims: Vec::new(),
                    });
                }
                Code::Error => {
                    return Err(Failure::Error(format!(
                        "pre-filter plugin {}: {}",
                        p.name(),
                        st.message()
                    )))
                }
            }
        }
        sc.filters_on.clear();
        sc.filters_on
            .extend((0..fw.filter.len()).filter(|&f| !sc.skip_filter[f]));

        // A pod nominated to a node by an earlier preemption tries that node first, and takes
        // it if it fits (kube-scheduler's evaluateNominatedNode).
        let nominated = self
            .nominated
            .get(pod.key())
            .map(String::as_str)
            .or_else(|| {
                pod.pod()
                    .status
                    .as_ref()
                    .and_then(|s| s.nominated_node_name.as_deref())
                    .filter(|n| !n.is_empty())
            });
        if let Some(idx) = nominated.and_then(|name| cache.node_index(name)) {
            let fits = sc.filters_on.iter().all(|&f| {
                let st = fw.filter[f].filter(state, pod, &nodes[idx]);
                st.is_success()
            });
            if fits {
                return Ok(idx);
            }
        }

        // Filter, from the rotating start, until enough feasible nodes are found. Nodes go
        // through the filters in batches; within a batch each filter sees only the nodes the
        // previous ones let through, so every node meets its filters in order and stops at
        // the first rejection, as one by one.
        let want = num_feasible_nodes_to_find(n, self.percentage);
        let start = self.next_start % n;
        sc.feasible.clear();
        let mut wake_on = ClusterEvents::NONE;
        let mut examined = 0;
        let mut candidates = [0usize; FILTER_BATCH];
        while examined < n && sc.feasible.len() < want {
            let len = (n - examined).min(FILTER_BATCH);
            for (i, c) in candidates[..len].iter_mut().enumerate() {
                let pos = start + examined + i;
                *c = if pos >= n { pos - n } else { pos };
            }
            let mut alive: u64 = if len == 64 { u64::MAX } else { (1 << len) - 1 };
            for &f in &sc.filters_on {
                if alive == 0 {
                    break;
                }
                let before = diagnosis.node_statuses.len();
                fw.filter[f].filter_nodes(
                    state,
                    pod,
                    nodes,
                    &candidates[..len],
                    &mut alive,
                    &mut diagnosis.node_statuses,
                );
                if diagnosis.node_statuses.len() > before {
                    wake_on = wake_on | fw.filter_events[f];
                    if let Some((idx, st)) = diagnosis.node_statuses[before..]
                        .iter()
                        .find(|(_, st)| st.code() == Code::Error)
                    {
                        return Err(Failure::Error(format!(
                            "filter plugin {} on node {}: {}",
                            fw.filter[f].name(),
                            nodes[*idx].name(),
                            st.message()
                        )));
                    }
                }
            }
            // Take the feasible nodes in order; stop counting at the one that completes `want`.
            let mut used = len;
            let mut bits = alive;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                sc.feasible.push(candidates[i]);
                if sc.feasible.len() >= want {
                    used = i + 1;
                    break;
                }
            }
            examined += used;
        }
        self.next_start = (start + examined) % n;

        if sc.feasible.is_empty() {
            let mut post = None;
            let mut nominated = None;
            let mut victims = Vec::new();
            for p in &fw.post_filter {
                let r = p.post_filter(state, pod, nodes, &diagnosis);
                if r.status.is_success() {
                    nominated = r.nominated_node;
                    victims = r.victims;
                    post = None;
                    wake_on = ClusterEvents::ALL;
                    break;
                }
                post = Some(r.status);
            }
            let message = fit_error_message(n, &diagnosis, post.as_ref());
            return Err(Failure::Unschedulable {
                message,
                wake_on,
                nominated,
                victims,
            });
        }
        if sc.feasible.len() == 1 {
            return Ok(sc.feasible[0]);
        }

        // Pre-score and score.
        sc.skip_score.clear();
        sc.skip_score.resize(fw.score.len(), false);
        for (i, p) in fw.pre_score.iter().enumerate() {
            let st = p.pre_score(state, pod, nodes, &sc.feasible);
            match st.code() {
                Code::Success => {}
                Code::Skip => {
                    if let Some(s) = fw.pre_score_target[i] {
                        sc.skip_score[s] = true;
                    }
                }
                _ => {
                    return Err(Failure::Error(format!(
                        "pre-score plugin {}: {}",
                        p.name(),
                        st.message()
                    )))
                }
            }
        }
        sc.totals.clear();
        sc.totals.resize(sc.feasible.len(), 0);
        for (si, (p, weight)) in fw.score.iter().enumerate() {
            if sc.skip_score[si] {
                continue;
            }
            sc.scores.clear();
            sc.scores
                .extend(sc.feasible.iter().map(|&node| NodeScore { node, score: 0 }));
            p.score_nodes(state, pod, nodes, &mut sc.scores)
                .map_err(|st| {
                    Failure::Error(format!("score plugin {}: {}", p.name(), st.message()))
                })?;
            let st = p.normalize(state, pod, nodes, &mut sc.scores);
            if !st.is_success() {
                return Err(Failure::Error(format!(
                    "score plugin {} (normalize): {}",
                    p.name(),
                    st.message()
                )));
            }
            for (t, s) in sc.totals.iter_mut().zip(&sc.scores) {
                if !(0..=MAX_NODE_SCORE).contains(&s.score) {
                    return Err(Failure::Error(format!(
                        "score plugin {} gave node {} the score {}, outside 0..={MAX_NODE_SCORE}",
                        p.name(),
                        nodes[s.node].name(),
                        s.score
                    )));
                }
                *t += s.score * weight;
            }
        }

        // The highest total; ties broken at random (reservoir sampling).
        let mut best = 0;
        let mut ties = 0u64;
        let mut best_score = i64::MIN;
        for i in 0..sc.totals.len() {
            let t = sc.totals[i];
            if t > best_score {
                best_score = t;
                best = i;
                ties = 1;
            } else if t == best_score {
                ties += 1;
                if xorshift(&mut self.rng) % ties == 0 {
                    best = i;
                }
            }
        }
        Ok(sc.feasible[best])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Time;
    use crate::clock::ManualClock;
    use crate::scheduler::framework::Status;

    #[test]
    fn percentage_of_nodes_to_score_follows_kubernetes() {
        assert_eq!(num_feasible_nodes_to_find(50, 0), 50);
        assert_eq!(num_feasible_nodes_to_find(99, 10), 99);
        // 5000 nodes: 50 - 40 = 10% -> 500.
        assert_eq!(num_feasible_nodes_to_find(5000, 0), 500);
        // 200 nodes: 49% -> 98, raised to the 100 floor.
        assert_eq!(num_feasible_nodes_to_find(200, 0), 100);
        // Large clusters bottom out at 5%.
        assert_eq!(num_feasible_nodes_to_find(10_000, 0), 500);
        assert_eq!(num_feasible_nodes_to_find(1000, 30), 300);
        assert_eq!(num_feasible_nodes_to_find(1000, 100), 1000);
    }

    #[test]
    fn fit_error_counts_reasons_per_node_and_sorts_them() {
        let d = Diagnosis {
            node_statuses: vec![
                (0, Status::unschedulable("Insufficient cpu")),
                (
                    1,
                    Status::unschedulable("Insufficient cpu").with_reason("Insufficient memory"),
                ),
                (
                    2,
                    Status::unresolvable(
                        "node(s) had untolerated taint {node.kubernetes.io/unreachable: }",
                    ),
                ),
            ],
            pre_filter: None,
        };
        assert_eq!(
            fit_error_message(3, &d, None),
            "0/3 nodes are available: 1 Insufficient memory, \
             1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 Insufficient cpu."
        );
        let pre = Diagnosis {
            node_statuses: vec![],
            pre_filter: Some(Status::unresolvable("pod has a bad selector")),
        };
        assert_eq!(
            fit_error_message(
                2,
                &pre,
                Some(&Status::unschedulable("preemption: no victims"))
            ),
            "0/2 nodes are available: pod has a bad selector. preemption: no victims."
        );
    }

    fn node(name: &str, extra: serde_json::Value) -> Arc<Node> {
        let mut v = serde_json::json!({
            "metadata": {"name": name},
            "status": {"allocatable": {"cpu": "1", "memory": "1Gi", "pods": "3"}}
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn pod_info(name: &str, spec: serde_json::Value) -> Arc<PodInfo> {
        let p: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "default", "uid": name},
            "spec": spec
        }))
        .unwrap();
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    #[test]
    fn batched_filters_decide_exactly_as_one_node_at_a_time() {
        use crate::scheduler::plugins::{NodeResourcesFit, NodeUnschedulable, TaintToleration};
        let mut nodes = Vec::new();
        for i in 0..150 {
            let extra = match i % 5 {
                0 => serde_json::json!({"spec": {"unschedulable": true}}),
                1 => {
                    serde_json::json!({"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}})
                }
                2 => {
                    serde_json::json!({"status": {"allocatable": {"cpu": "100m", "memory": "1Gi"}}})
                }
                3 => {
                    serde_json::json!({"status": {"allocatable": {"cpu": "4", "memory": "1Gi", "pods": "0"}}})
                }
                _ => {
                    serde_json::json!({"status": {"allocatable": {"cpu": "4", "memory": "4Gi", "x.io/gpu": "1"}}})
                }
            };
            nodes.push(crate::scheduler::NodeInfo::new(node(
                &format!("n{i}"),
                extra,
            )));
        }
        let pods = [
            pod_info(
                "plain",
                serde_json::json!({"containers": [{"name": "c",
                "resources": {"requests": {"cpu": "500m", "memory": "64Mi"}}}]}),
            ),
            pod_info(
                "gpu",
                serde_json::json!({"containers": [{"name": "c",
                "resources": {"limits": {"x.io/gpu": "1"}}}]}),
            ),
            pod_info(
                "tolerant",
                serde_json::json!({"tolerations": [{"operator": "Exists"}],
                "containers": [{"name": "c", "resources": {"requests": {"ephemeral-storage": "1Gi"}}}]}),
            ),
        ];
        let filters: Vec<Box<dyn FilterPlugin>> = vec![
            Box::new(NodeUnschedulable),
            Box::new(TaintToleration),
            Box::new(NodeResourcesFit::default()),
        ];
        let cs = CycleState::new();
        for p in &pods {
            for f in &filters {
                for chunk in (0..nodes.len()).collect::<Vec<_>>().chunks(FILTER_BATCH) {
                    // Start with a few nodes already out, as after an earlier filter.
                    let mut alive: u64 = if chunk.len() == 64 {
                        u64::MAX
                    } else {
                        (1 << chunk.len()) - 1
                    };
                    alive &= !0b1000_0001;
                    let start = alive;
                    let mut rejected = Vec::new();
                    f.filter_nodes(&cs, p, &nodes, chunk, &mut alive, &mut rejected);
                    let mut want_rejected = Vec::new();
                    for (i, &n) in chunk.iter().enumerate() {
                        if start & (1 << i) == 0 {
                            continue;
                        }
                        let st = f.filter(&cs, p, &nodes[n]);
                        assert_eq!(
                            alive & (1 << i) != 0,
                            st.is_success(),
                            "{} {} node {n}",
                            f.name(),
                            p.key()
                        );
                        if !st.is_success() {
                            want_rejected.push((n, st));
                        }
                    }
                    assert_eq!(rejected, want_rejected, "{} {}", f.name(), p.key());
                }
            }
        }
    }

    #[test]
    fn a_node_reports_only_the_first_filter_that_rejects_it() {
        let clock: SharedClock = Arc::new(ManualClock::new(Time::from_unix_micros(0)));
        let mut core = Core::new(&SchedulerConfig::default(), clock, None);
        core.node_upserted(node(
            "cordoned",
            serde_json::json!({"spec": {"unschedulable": true}}),
        ));
        core.node_upserted(node("small", serde_json::json!({})));
        core.pod_upserted(pod_info(
            "big",
            serde_json::json!({"containers": [{"name": "c",
            "resources": {"requests": {"cpu": "2"}}}]}),
        ));
        assert!(core.schedule_one());
        let Some(Outgoing::Failed {
            message, reason, ..
        }) = core.out.pop()
        else {
            panic!("the pod fits nowhere")
        };
        assert_eq!(reason, "Unschedulable");
        assert_eq!(
            message,
            "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable. \
             preemption: 0/2 nodes are available: 1 No preemption victims found for incoming \
             pod, 1 Preemption is not helpful for scheduling."
        );
    }

    fn bound_pod(name: &str, node: &str, cpu: &str) -> Arc<PodInfo> {
        pod_info(
            name,
            serde_json::json!({"nodeName": node, "containers": [{"name": "c",
                "resources": {"requests": {"cpu": cpu}}}]}),
        )
    }

    #[test]
    fn a_relist_replaces_what_the_watches_said() {
        let clock: SharedClock = Arc::new(ManualClock::new(Time::from_unix_micros(0)));
        let mut core = Core::new(&SchedulerConfig::default(), clock, None);
        core.node_upserted(node("a", serde_json::json!({})));
        core.node_upserted(node("gone", serde_json::json!({})));
        core.pod_upserted(bound_pod("stays", "a", "300m"));
        core.pod_upserted(bound_pod("deleted-meanwhile", "a", "300m"));
        core.pod_upserted(pod_info(
            "pending-deleted",
            serde_json::json!({"containers": [{"name": "c"}]}),
        ));
        // The relists: one pod was deleted, one bound pod and one pending pod appeared, one
        // node went and one came.
        core.nodes_relisted(vec![
            node("a", serde_json::json!({})),
            node("b", serde_json::json!({})),
        ]);
        core.pods_relisted(vec![
            bound_pod("stays", "a", "300m"),
            bound_pod("new", "a", "200m"),
            pod_info(
                "pending-new",
                serde_json::json!({"containers": [{"name": "c"}]}),
            ),
        ]);
        let names: Vec<&str> = core.cache.nodes().iter().map(|n| n.name()).collect();
        assert_eq!(names.len(), 2);
        assert!(names.contains(&"a") && names.contains(&"b"));
        let a = &core.cache.nodes()[core.cache.node_index("a").unwrap()];
        assert_eq!(a.requested().cpu_millis, 500);
        assert_eq!(a.pods().len(), 2);
        assert!(core.queue.contains("default/pending-new"));
        assert!(!core.queue.contains("default/pending-deleted"));
    }

    #[test]
    fn the_start_index_rotates_by_the_nodes_examined() {
        let clock: SharedClock = Arc::new(ManualClock::new(Time::from_unix_micros(0)));
        let mut core = Core::new(&SchedulerConfig::default().seed(7), clock, None);
        for i in 0..300 {
            let n: Node = serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("n{i:03}")},
                "status": {"allocatable": {"cpu": "1", "memory": "1Gi"}}
            }))
            .unwrap();
            core.node_upserted(Arc::new(n));
        }
        let pod = |i: usize| {
            let p: Pod = serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("p{i}"), "namespace": "default", "uid": format!("u{i}")},
                "spec": {"containers": [{"name": "c"}]}
            }))
            .unwrap();
            Arc::new(PodInfo::new(Arc::new(p)))
        };
        // 300 nodes: 50 - 300/125 = 48% -> 144 examined per cycle.
        core.pod_upserted(pod(0));
        assert!(core.schedule_one());
        assert_eq!(core.next_start, 144);
        core.pod_upserted(pod(1));
        assert!(core.schedule_one());
        assert_eq!(core.next_start, 288);
        core.pod_upserted(pod(2));
        assert!(core.schedule_one());
        assert_eq!(core.next_start, (288 + 144) % 300);
    }
}
