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
#[derive(Debug)]
pub struct NodeInfo {
    node: Arc<Node>,
    allocatable: Resources,
    requested: Resources,
    non_zero_requested: Resources,
    pods: Vec<Arc<PodInfo>>,
    used_ports: Vec<HostPort>,
    // Copied out of the Node so that filters over thousands of nodes read one compact struct.
    unschedulable: bool,
    hard_taints: bool,
    soft_taints: bool,
}

impl NodeInfo {
    /// A node with nothing on it.
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let mut n = NodeInfo {
            node: node.clone(),
            allocatable: Resources::new(),
            requested: Resources::new(),
            non_zero_requested: Resources::new(),
            pods: Vec::new(),
            used_ports: Vec::new(),
            unschedulable: false,
            hard_taints: false,
            soft_taints: false,
        };
        n.set_node(node);
        n
    }

    fn set_node(&mut self, node: Arc<Node>) {
        self.allocatable = node_allocatable(&node);
        self.unschedulable = node.spec.unschedulable.unwrap_or(false);
        self.hard_taints = node
            .spec
            .taints
            .iter()
            .any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute");
        self.soft_taints = node
            .spec
            .taints
            .iter()
            .any(|t| t.effect == "PreferNoSchedule");
        self.node = node;
    }

    /// The Node object.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.node.metadata.name
    }

    /// The node's labels.
    pub fn labels(&self) -> &Map<String, String> {
        &self.node.metadata.labels
    }

    /// The node's taints.
    pub fn taints(&self) -> &[Taint] {
        &self.node.spec.taints
    }

    /// True when the node has a `NoSchedule` or `NoExecute` taint.
    pub fn has_hard_taints(&self) -> bool {
        self.hard_taints
    }

    /// True when the node has a `PreferNoSchedule` taint.
    pub fn has_soft_taints(&self) -> bool {
        self.soft_taints
    }

    /// `spec.unschedulable` (cordoned).
    pub fn unschedulable(&self) -> bool {
        self.unschedulable
    }

    /// What the node offers ([`node_allocatable`]).
    pub fn allocatable(&self) -> &Resources {
        &self.allocatable
    }

    /// The sum of the requests of its pods (assumed ones included); `pods` is their number.
    pub fn requested(&self) -> &Resources {
        &self.requested
    }

    /// The same sum counting CPU and memory as load spreading does
    /// ([`PodInfo::non_zero_requests`]).
    pub fn non_zero_requested(&self) -> &Resources {
        &self.non_zero_requested
    }

    /// Its pods (bound and assumed, not terminal), in no particular order.
    pub fn pods(&self) -> &[Arc<PodInfo>] {
        &self.pods
    }

    /// The host ports its pods bind.
    pub fn used_ports(&self) -> &[HostPort] {
        &self.used_ports
    }

    pub(crate) fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(pod.requests());
        self.non_zero_requested.add(pod.non_zero_requests());
        self.used_ports.extend(pod.host_ports().iter().cloned());
        self.pods.push(pod);
    }

    fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let i = self.pods.iter().position(|p| p.key() == key)?;
        let pod = self.pods.swap_remove(i);
        self.requested.sub(pod.requests());
        self.non_zero_requested.sub(pod.non_zero_requests());
        for hp in pod.host_ports() {
            if let Some(j) = self.used_ports.iter().position(|u| u == hp) {
                self.used_ports.swap_remove(j);
            }
        }
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
    /// Indices into `nodes`, zones interleaved (one node of each zone in turn), so that the
    /// first nodes examined span zones. Rebuilt lazily after nodes come or go.
    order: Vec<usize>,
    order_dirty: bool,
}

impl Cache {
    pub(crate) fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// Node indices in examination order (zones interleaved).
    pub(crate) fn order(&mut self) -> &[usize] {
        if self.order_dirty {
            self.rebuild_order();
        }
        &self.order
    }

    /// The examination order as last built by [`order`](Self::order).
    pub(crate) fn order_cached(&self) -> &[usize] {
        debug_assert!(!self.order_dirty, "order() rebuilds it first");
        &self.order
    }

    fn rebuild_order(&mut self) {
        let mut zones: Vec<(String, Vec<usize>)> = Vec::new();
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
            let zi = *zone_of.entry(zone.clone()).or_insert_with(|| {
                zones.push((zone, Vec::new()));
                zones.len() - 1
            });
            zones[zi].1.push(i);
        }
        self.order.clear();
        let longest = zones.iter().map(|z| z.1.len()).max().unwrap_or(0);
        for k in 0..longest {
            for (_, members) in &zones {
                if let Some(&i) = members.get(k) {
                    self.order.push(i);
                }
            }
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
            let old = info.node.clone();
            info.set_node(node);
            let new = &info.node;
            let relevant = old.metadata.labels != new.metadata.labels
                || old.spec.taints != new.spec.taints
                || old.spec.unschedulable != new.spec.unschedulable
                || node_allocatable(&old) != info.allocatable;
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
        let info = self.nodes.swap_remove(i);
        if i < self.nodes.len() {
            let moved = self.nodes[i].name().to_string();
            self.by_name.insert(moved, i);
        }
        if !info.pods.is_empty() {
            self.orphans.insert(name.to_string(), info.pods);
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
    /// pod, or taking in the new version of one). Returns whether it is new to the cache
    /// (or changed node or labels), which may make waiting pods schedulable.
    pub(crate) fn upsert_bound_pod(&mut self, info: Arc<PodInfo>, node: &str) -> bool {
        let key = info.key_arc().clone();
        let fresh = match self.pods.get(&key) {
            Some(c) => {
                let same = c.info.uid() == info.uid() && c.node == node;
                let relabelled = c.info.pod().metadata.labels != info.pod().metadata.labels;
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
        let order: Vec<String> = c
            .order()
            .to_vec()
            .into_iter()
            .map(|i| c.nodes()[i].name().to_string())
            .collect();
        assert_eq!(order, ["a1", "b1", "c1", "a2", "a3"]);
        c.remove_node("b1");
        assert_eq!(c.order().len(), 4);
    }
}
