//! The node-info cache: per node, what is allocated on it (requests of its pods, pod count,
//! host ports) and its pods, kept up to date incrementally from the store's Pod and Node
//! watches plus the pods the scheduler assumed (chose a node for, not yet bound).
//!
//! # Invariants
//! - Every pod the cache knows is filed under exactly one node name: in that node's
//!   [`NodeInfo`] when the Node exists, else among the orphans (pods bound to a node that is
//!   not, or not yet, in the store) until it does.
//! - A node's `requested` is the sum of the requests of the pods filed under it, assumed ones
//!   included; terminal pods (Succeeded, Failed) are not filed at all.
//! - The cache is owned by the scheduling thread: no lock, and a cycle sees it unchanged.
//! - Node indices are stable during a cycle; they change only in [`Cache::arrange`], which
//!   the cycle calls before it starts.

use super::framework::{HostPort, PodInfo};
use crate::api::resources::{node_allocatable, Resources};
use crate::api::{Map, Node, Taint};
use std::collections::HashMap;
use std::sync::Arc;

/// Label of a node's zone, used to interleave zones when nodes are examined.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Label of a node's region.
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";

/// A node as the plugins see it: the Node object and what is allocated on it.
///
/// The figures the default filters and scores read for every node examined (CPU, memory and
/// pod counts, cordon and taint flags) are kept inline, so that scanning hundreds of nodes per
/// pod reads one dense array; the rest lives behind one pointer.
#[derive(Debug)]
pub struct NodeInfo {
    pub(crate) alloc_cpu: i64,
    pub(crate) alloc_mem: i64,
    pub(crate) req_cpu: i64,
    pub(crate) req_mem: i64,
    pub(crate) nz_cpu: i64,
    pub(crate) nz_mem: i64,
    pub(crate) alloc_pods: i32,
    pub(crate) req_pods: i32,
    pub(crate) flags: u8,
    /// How many of its pods have inter-pod (anti-)affinity terms, and required
    /// anti-affinity terms: InterPodAffinity visits only the pods of such nodes for the terms
    /// of placed pods.
    pub(crate) with_affinity: u32,
    pub(crate) with_required_anti_affinity: u32,
    cold: Box<Cold>,
}

#[derive(Debug)]
struct Cold {
    node: Arc<Node>,
    allocatable: Resources,
    requested: Resources,
    non_zero_requested: Resources,
    pods: Vec<Arc<PodInfo>>,
    used_ports: Vec<HostPort>,
    /// How many of `pods` have each priority, lowest first (few distinct values in
    /// practice): preemption skips a node without pods below the preemptor at a glance,
    /// where a full cluster would otherwise walk every pod of every node for each pending pod.
    priorities: Vec<(i32, u32)>,
}

pub(crate) const UNSCHEDULABLE: u8 = 1;
pub(crate) const HARD_TAINTS: u8 = 2;
pub(crate) const SOFT_TAINTS: u8 = 4;

fn clamp_i32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

impl NodeInfo {
    /// A node with nothing on it.
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let mut n = NodeInfo {
            alloc_cpu: 0,
            alloc_mem: 0,
            req_cpu: 0,
            req_mem: 0,
            nz_cpu: 0,
            nz_mem: 0,
            alloc_pods: 0,
            req_pods: 0,
            flags: 0,
            with_affinity: 0,
            with_required_anti_affinity: 0,
            cold: Box::new(Cold {
                node: node.clone(),
                allocatable: Resources::new(),
                requested: Resources::new(),
                non_zero_requested: Resources::new(),
                pods: Vec::new(),
                used_ports: Vec::new(),
                priorities: Vec::new(),
            }),
        };
        n.set_node(node);
        n
    }

    fn set_node(&mut self, node: Arc<Node>) {
        let alloc = node_allocatable(&node);
        self.alloc_cpu = alloc.cpu_millis;
        self.alloc_mem = alloc.memory_bytes;
        self.alloc_pods = clamp_i32(alloc.pods);
        self.cold.allocatable = alloc;
        let taints = &node.spec.taints;
        self.flags = 0;
        if node.spec.unschedulable.unwrap_or(false) {
            self.flags |= UNSCHEDULABLE;
        }
        if taints
            .iter()
            .any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        {
            self.flags |= HARD_TAINTS;
        }
        if taints.iter().any(|t| t.effect == "PreferNoSchedule") {
            self.flags |= SOFT_TAINTS;
        }
        self.cold.node = node;
    }

    /// Copies the totals the hot path reads out of the full ones.
    fn sync_requested(&mut self) {
        let c = &self.cold;
        self.req_cpu = c.requested.cpu_millis;
        self.req_mem = c.requested.memory_bytes;
        self.req_pods = clamp_i32(c.requested.pods);
        self.nz_cpu = c.non_zero_requested.cpu_millis;
        self.nz_mem = c.non_zero_requested.memory_bytes;
    }

    /// The Node object.
    pub fn node(&self) -> &Arc<Node> {
        &self.cold.node
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.cold.node.metadata.name
    }

    /// The node's labels.
    pub fn labels(&self) -> &Map<String, String> {
        &self.cold.node.metadata.labels
    }

    /// The node's taints.
    pub fn taints(&self) -> &[Taint] {
        &self.cold.node.spec.taints
    }

    /// True when the node has a `NoSchedule` or `NoExecute` taint.
    pub fn has_hard_taints(&self) -> bool {
        self.flags & HARD_TAINTS != 0
    }

    /// True when the node has a `PreferNoSchedule` taint.
    pub fn has_soft_taints(&self) -> bool {
        self.flags & SOFT_TAINTS != 0
    }

    /// `spec.unschedulable` (cordoned).
    pub fn unschedulable(&self) -> bool {
        self.flags & UNSCHEDULABLE != 0
    }

    /// What the node offers ([`node_allocatable`]).
    pub fn allocatable(&self) -> &Resources {
        &self.cold.allocatable
    }

    /// The sum of the requests of its pods (assumed ones included); `pods` is their number.
    pub fn requested(&self) -> &Resources {
        &self.cold.requested
    }

    /// The same sum counting CPU and memory as load spreading does
    /// ([`PodInfo::non_zero_requests`]).
    pub fn non_zero_requested(&self) -> &Resources {
        &self.cold.non_zero_requested
    }

    /// Its pods (bound and assumed, not terminal), in no particular order.
    pub fn pods(&self) -> &[Arc<PodInfo>] {
        &self.cold.pods
    }

    /// The host ports its pods bind.
    pub fn used_ports(&self) -> &[HostPort] {
        &self.cold.used_ports
    }

    /// The lowest priority ([`PodInfo::priority`]) among its pods; `None` without pods.
    pub fn lowest_priority(&self) -> Option<i32> {
        self.cold.priorities.first().map(|&(p, _)| p)
    }

    pub(crate) fn add_pod(&mut self, pod: Arc<PodInfo>) {
        if let Some(t) = pod.affinity_terms() {
            self.with_affinity += 1;
            self.with_required_anti_affinity += u32::from(t.has_required_anti_affinity());
        }
        let c = &mut self.cold;
        c.requested.add(pod.requests());
        c.non_zero_requested.add(pod.non_zero_requests());
        c.used_ports.extend(pod.host_ports().iter().cloned());
        let priority = pod.priority();
        match c.priorities.binary_search_by_key(&priority, |&(p, _)| p) {
            Ok(i) => c.priorities[i].1 += 1,
            Err(i) => c.priorities.insert(i, (priority, 1)),
        }
        c.pods.push(pod);
        self.sync_requested();
    }

    pub(crate) fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let c = &mut self.cold;
        let i = c.pods.iter().position(|p| p.key() == key)?;
        let pod = c.pods.swap_remove(i);
        if let Some(t) = pod.affinity_terms() {
            self.with_affinity -= 1;
            self.with_required_anti_affinity -= u32::from(t.has_required_anti_affinity());
        }
        let c = &mut self.cold;
        c.requested.sub(pod.requests());
        c.non_zero_requested.sub(pod.non_zero_requests());
        for hp in pod.host_ports() {
            if let Some(j) = c.used_ports.iter().position(|u| u == hp) {
                c.used_ports.swap_remove(j);
            }
        }
        if let Ok(j) = c
            .priorities
            .binary_search_by_key(&pod.priority(), |&(p, _)| p)
        {
            c.priorities[j].1 -= 1;
            if c.priorities[j].1 == 0 {
                c.priorities.remove(j);
            }
        }
        self.sync_requested();
        Some(pod)
    }
}

/// Whether the cache holds a pod as bound (seen so in the store) or only assumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PodState {
    /// Chosen by this scheduler; the binding is not yet seen in the store.
    Assumed,
    /// Seen bound in the store.
    Bound,
}

#[derive(Debug)]
struct CachedPod {
    info: Arc<PodInfo>,
    node: String,
    state: PodState,
}

/// What changed for the pods waiting for a node, after a Node event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeChange {
    /// Nothing that matters for scheduling (a heartbeat, a condition).
    Irrelevant,
    /// Labels, taints, cordon or allocatable changed.
    Relevant,
    /// A node that was not there.
    Added,
}

/// The cache. See the module invariants.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    nodes: Vec<NodeInfo>,
    by_name: HashMap<String, usize>,
    pods: HashMap<Arc<str>, CachedPod>,
    orphans: HashMap<String, Vec<Arc<PodInfo>>>,
    /// `nodes` must be put back in examination order (zones interleaved: one node of each
    /// zone in turn, so that the first nodes examined span zones) before the next cycle.
    order_dirty: bool,
}

impl Cache {
    pub(crate) fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// Puts the nodes in examination order (zones interleaved) if nodes came, went or were
    /// relabelled since the last call. Node indices change only here.
    pub(crate) fn arrange(&mut self) {
        if !self.order_dirty {
            return;
        }
        let mut zones: Vec<Vec<usize>> = Vec::new();
        let mut zone_of: HashMap<String, usize> = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let labels = n.labels();
            let zone = match (labels.get(REGION_LABEL), labels.get(ZONE_LABEL)) {
                (None, None) => String::new(),
                (r, z) => format!(
                    "{}:\0:{}",
                    r.map_or("", String::as_str),
                    z.map_or("", String::as_str)
                ),
            };
            let zi = *zone_of.entry(zone).or_insert_with(|| {
                zones.push(Vec::new());
                zones.len() - 1
            });
            zones[zi].push(i);
        }
        let longest = zones.iter().map(Vec::len).max().unwrap_or(0);
        let mut order = Vec::with_capacity(self.nodes.len());
        for k in 0..longest {
            for members in &zones {
                if let Some(&i) = members.get(k) {
                    order.push(i);
                }
            }
        }
        let mut old: Vec<Option<NodeInfo>> = std::mem::take(&mut self.nodes)
            .into_iter()
            .map(Some)
            .collect();
        self.nodes = order
            .into_iter()
            .map(|i| old[i].take().expect("each index once"))
            .collect();
        self.by_name.clear();
        for (i, n) in self.nodes.iter().enumerate() {
            self.by_name.insert(n.name().to_string(), i);
        }
        self.order_dirty = false;
    }

    pub(crate) fn node_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Adds or updates a node; says what changed for waiting pods.
    pub(crate) fn upsert_node(&mut self, node: Arc<Node>) -> NodeChange {
        let name = node.metadata.name.clone();
        if let Some(&i) = self.by_name.get(&name) {
            let info = &mut self.nodes[i];
            let old = info.node().clone();
            info.set_node(node);
            let new = info.node();
            let relevant = old.metadata.labels != new.metadata.labels
                || old.spec.taints != new.spec.taints
                || old.spec.unschedulable != new.spec.unschedulable
                || node_allocatable(&old) != *info.allocatable();
            if old.metadata.labels != new.metadata.labels {
                self.order_dirty = true;
            }
            return if relevant {
                NodeChange::Relevant
            } else {
                NodeChange::Irrelevant
            };
        }
        let mut info = NodeInfo::new(node);
        for p in self.orphans.remove(&name).unwrap_or_default() {
            info.add_pod(p);
        }
        self.by_name.insert(name, self.nodes.len());
        self.nodes.push(info);
        self.order_dirty = true;
        NodeChange::Added
    }

    /// Removes a node; its pods become orphans until they go or the node comes back.
    pub(crate) fn remove_node(&mut self, name: &str) {
        let Some(i) = self.by_name.remove(name) else {
            return;
        };
        // Shifting (not swapping) keeps the others in examination order.
        let info = self.nodes.remove(i);
        for (j, n) in self.nodes.iter().enumerate().skip(i) {
            if let Some(slot) = self.by_name.get_mut(n.name()) {
                *slot = j;
            }
        }
        if !info.cold.pods.is_empty() {
            self.orphans.insert(name.to_string(), info.cold.pods);
        }
        self.order_dirty = true;
    }

    fn file(&mut self, node: &str, pod: Arc<PodInfo>) {
        match self.by_name.get(node) {
            Some(&i) => self.nodes[i].add_pod(pod),
            None => self.orphans.entry(node.to_string()).or_default().push(pod),
        }
    }

    fn unfile(&mut self, node: &str, key: &str) {
        match self.by_name.get(node) {
            Some(&i) => {
                self.nodes[i].remove_pod(key);
            }
            None => {
                if let Some(v) = self.orphans.get_mut(node) {
                    v.retain(|p| p.key() != key);
                    if v.is_empty() {
                        self.orphans.remove(node);
                    }
                }
            }
        }
    }

    /// Records a pod seen bound to `node` in the store (confirming an assumed pod, moving a
    /// pod, or taking in the new version of one). Returns whether it is new to the cache, newly
    /// confirmed bound, or changed node or labels: what may make waiting pods schedulable.
    pub(crate) fn upsert_bound_pod(&mut self, info: Arc<PodInfo>, node: &str) -> bool {
        let key = info.key_arc().clone();
        let fresh = match self.pods.get_mut(&key) {
            Some(c) => {
                let same = c.info.uid() == info.uid() && c.node == node;
                let relabelled = c.info.pod().metadata.labels != info.pod().metadata.labels;
                if same
                    && c.info.requests() == info.requests()
                    && c.info.non_zero_requests() == info.non_zero_requests()
                    && c.info.host_ports() == info.host_ports()
                    && c.info.has_pod_affinity() == info.has_pod_affinity()
                    && c.info.priority() == info.priority()
                {
                    // The common case, confirming our own binding: the totals stand, only
                    // the pod's version is replaced. The binding itself is news to pods
                    // waiting for a pod to be placed (inter-pod affinity, spreading).
                    let confirmed = c.state == PodState::Assumed;
                    c.state = PodState::Bound;
                    c.info = info.clone();
                    if let Some(&i) = self.by_name.get(node) {
                        let pods = &mut self.nodes[i].cold.pods;
                        if let Some(slot) = pods.iter_mut().find(|p| p.key() == &*key) {
                            *slot = info;
                        }
                    } else if let Some(slot) = self
                        .orphans
                        .get_mut(node)
                        .and_then(|v| v.iter_mut().find(|p| p.key() == &*key))
                    {
                        *slot = info;
                    }
                    return relabelled || confirmed;
                }
                !same || relabelled
            }
            None => true,
        };
        self.remove_pod(&key);
        self.file(node, info.clone());
        self.pods.insert(
            key,
            CachedPod {
                info,
                node: node.to_string(),
                state: PodState::Bound,
            },
        );
        fresh
    }

    /// Files `info` on `node` before its binding is written, so the next cycles count it.
    pub(crate) fn assume(&mut self, info: Arc<PodInfo>, node: &str) {
        let key = info.key_arc().clone();
        self.remove_pod(&key);
        self.file(node, info.clone());
        self.pods.insert(
            key,
            CachedPod {
                info,
                node: node.to_string(),
                state: PodState::Assumed,
            },
        );
    }

    /// Undoes [`assume`](Self::assume) of the pod with this key and uid, unless the store
    /// has shown it bound since. Returns whether it was forgotten.
    pub(crate) fn forget(&mut self, key: &str, uid: &str) -> bool {
        match self.pods.get(key) {
            Some(c) if c.state == PodState::Assumed && c.info.uid() == uid => {
                self.remove_pod(key);
                true
            }
            _ => false,
        }
    }

    /// The state and node of the pod with this key, if the cache holds it.
    pub(crate) fn pod_state(&self, key: &str) -> Option<(PodState, &str, &str)> {
        self.pods
            .get(key)
            .map(|c| (c.state, c.node.as_str(), c.info.uid()))
    }

    /// Removes a pod (deleted, finished, or replaced); returns whether it was held.
    pub(crate) fn remove_pod(&mut self, key: &str) -> bool {
        match self.pods.remove(key) {
            Some(c) => {
                self.unfile(&c.node, key);
                true
            }
            None => false,
        }
    }

    /// Keys of every pod held (for resynchronizing after a relist).
    pub(crate) fn pod_keys(&self) -> Vec<Arc<str>> {
        self.pods.keys().cloned().collect()
    }

    /// Names of every node held.
    pub(crate) fn node_names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ObjectMeta, Pod, Quantity};
    use serde_json::json;

    pub(crate) fn node(name: &str, cpu: &str, labels: &[(&str, &str)]) -> Arc<Node> {
        let mut n: Node = serde_json::from_value(json!({
            "metadata": {"name": name},
            "status": {"allocatable": {"cpu": cpu, "memory": "1Gi"}}
        }))
        .unwrap();
        for (k, v) in labels {
            n.metadata.labels.insert(k.to_string(), v.to_string());
        }
        Arc::new(n)
    }

    pub(crate) fn pod(name: &str, cpu: &str) -> Arc<PodInfo> {
        let mut p: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}
        }))
        .unwrap();
        p.metadata = ObjectMeta {
            uid: Some(format!("uid-{name}")),
            ..p.metadata
        };
        let _ = Quantity::default();
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    #[test]
    fn pods_count_on_their_node_and_move_with_it() {
        let mut c = Cache::default();
        c.upsert_node(node("a", "2", &[]));
        assert!(c.upsert_bound_pod(pod("p1", "500m"), "a"));
        c.assume(pod("p2", "250m"), "a");
        let a = &c.nodes()[c.node_index("a").unwrap()];
        assert_eq!(a.requested().cpu_millis, 750);
        assert_eq!(a.requested().pods, 2);
        assert_eq!(a.pods().len(), 2);
        // Confirming an assumed pod does not count it twice.
        assert!(
            !c.forget("default/p1", "uid-p1"),
            "bound pods are not forgotten"
        );
        c.upsert_bound_pod(pod("p2", "250m"), "a");
        assert_eq!(c.nodes()[0].requested().cpu_millis, 750);
        // The node goes; its pods wait as orphans and come back with it.
        c.remove_node("a");
        assert!(c.nodes().is_empty());
        c.upsert_node(node("a", "2", &[]));
        assert_eq!(c.nodes()[0].requested().cpu_millis, 750);
        assert!(c.remove_pod("default/p1"));
        assert_eq!(c.nodes()[0].requested().cpu_millis, 250);
    }

    fn pod_with_priority(name: &str, priority: i32) -> Arc<PodInfo> {
        let mut p = (**pod(name, "100m").pod()).clone();
        p.spec.priority = Some(priority);
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    #[test]
    fn a_node_knows_the_lowest_priority_of_its_pods() {
        let mut c = Cache::default();
        c.upsert_node(node("a", "8", &[]));
        assert_eq!(c.nodes()[0].lowest_priority(), None);
        for (name, priority) in [("p1", 5), ("p2", 1), ("p3", 1), ("p4", 3)] {
            c.upsert_bound_pod(pod_with_priority(name, priority), "a");
        }
        assert_eq!(c.nodes()[0].lowest_priority(), Some(1));
        c.remove_pod("default/p2");
        assert_eq!(c.nodes()[0].lowest_priority(), Some(1), "p3 is still at 1");
        c.remove_pod("default/p3");
        assert_eq!(c.nodes()[0].lowest_priority(), Some(3));
        // A new version with another priority is recounted, not replaced in place.
        c.upsert_bound_pod(pod_with_priority("p4", 9), "a");
        assert_eq!(c.nodes()[0].lowest_priority(), Some(5));
        // Orphaned with the node and back with it.
        c.remove_node("a");
        c.upsert_node(node("a", "8", &[]));
        assert_eq!(c.nodes()[0].lowest_priority(), Some(5));
        c.remove_pod("default/p1");
        c.remove_pod("default/p4");
        assert_eq!(c.nodes()[0].lowest_priority(), None);
    }

    #[test]
    fn a_bound_pod_whose_requests_change_is_recounted() {
        let mut c = Cache::default();
        c.upsert_node(node("a", "2", &[]));
        c.assume(pod("p", "500m"), "a");
        assert!(c.upsert_bound_pod(pod("p", "500m"), "a"), "confirmation");
        assert!(
            !c.upsert_bound_pod(pod("p", "500m"), "a"),
            "a later version"
        );
        assert_eq!(c.pod_state("default/p").map(|s| s.0), Some(PodState::Bound));
        c.upsert_bound_pod(pod("p", "1500m"), "a");
        assert_eq!(c.nodes()[0].requested().cpu_millis, 1500);
        assert_eq!(c.nodes()[0].req_cpu, 1500, "the inline copy follows");
        assert_eq!(c.nodes()[0].pods().len(), 1);
    }

    #[test]
    fn forgetting_an_assumed_pod_frees_its_resources() {
        let mut c = Cache::default();
        c.upsert_node(node("a", "1", &[]));
        c.assume(pod("p", "600m"), "a");
        assert!(!c.forget("default/p", "another-uid"));
        assert!(c.forget("default/p", "uid-p"));
        assert_eq!(c.nodes()[0].requested(), &Resources::new());
        assert!(c.pod_state("default/p").is_none());
    }

    #[test]
    fn node_updates_are_relevant_only_for_scheduling_fields() {
        let mut c = Cache::default();
        assert_eq!(c.upsert_node(node("a", "1", &[])), NodeChange::Added);
        let mut n = (*node("a", "1", &[])).clone();
        n.status
            .as_mut()
            .unwrap()
            .conditions
            .push(Default::default());
        assert_eq!(c.upsert_node(Arc::new(n)), NodeChange::Irrelevant);
        assert_eq!(c.upsert_node(node("a", "2", &[])), NodeChange::Relevant);
        assert_eq!(
            c.upsert_node(node("a", "2", &[("x", "y")])),
            NodeChange::Relevant
        );
    }

    #[test]
    fn examination_order_interleaves_zones() {
        let mut c = Cache::default();
        for (name, zone) in [
            ("a1", "a"),
            ("a2", "a"),
            ("a3", "a"),
            ("b1", "b"),
            ("c1", "c"),
        ] {
            c.upsert_node(node(name, "1", &[(ZONE_LABEL, zone)]));
        }
        c.arrange();
        let names =
            |c: &Cache| -> Vec<String> { c.nodes().iter().map(|n| n.name().to_string()).collect() };
        assert_eq!(names(&c), ["a1", "b1", "c1", "a2", "a3"]);
        for (i, n) in c.nodes().iter().enumerate() {
            assert_eq!(c.node_index(n.name()), Some(i));
        }
        c.remove_node("b1");
        c.arrange();
        assert_eq!(names(&c), ["a1", "c1", "a2", "a3"]);
    }
}
