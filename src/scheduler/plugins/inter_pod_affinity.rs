//! `InterPodAffinity`: place a pod relative to other pods (`spec.affinity.podAffinity` and
//! `podAntiAffinity`), as kube-scheduler's plugin of that name does.
//!
//! A term selects pods (its `labelSelector`, plus the pod's own values of `matchLabelKeys`
//! as `key in (v)` and of `mismatchLabelKeys` as `key notin (v)`) in some namespaces
//! (`namespaces` and those `namespaceSelector` selects; `{}` selects all; neither means the
//! pod's own), and groups nodes by the value of the node label `topologyKey`.
//!
//! **Filter** (pre-filter counts, per topology value, the matching pods on every node once
//! per cycle; the filter then only looks values up):
//! - each required affinity term needs a matching pod in the node's domain (a pod counts
//!   when it matches *every* required affinity term); a node lacking a topology key fails.
//!   If no pod anywhere matches and the pod matches its own terms, it may go anywhere that
//!   has the keys: the first of its group. Reason `node(s) didn't match pod affinity rules`
//!   (unresolvable by preemption);
//! - no required anti-affinity term may have a matching pod in the node's domain:
//!   `node(s) didn't match pod anti-affinity rules`;
//! - no pod already placed may have a required anti-affinity term matching this pod in the
//!   node's domain (for the existing pod's term, namespaces are chosen by the labels of the
//!   incoming pod's namespace): `node(s) didn't satisfy existing pods anti-affinity rules`.
//!
//! **Score** (weight 2): per topology value, the sum of the weights of the pod's preferred
//! affinity terms matched by pods there, minus those of its preferred anti-affinity terms;
//! plus, for every pod placed there, the weights of *its* preferred affinity terms the
//! incoming pod matches, minus those of its preferred anti-affinity terms, plus
//! `hardPodAffinityWeight` (default 1) for each of its required affinity terms the incoming
//! pod matches. A node's score is the sum over its topology values, normalized min-max to
//! 0..100.
//!
//! Pods being deleted count until they are gone, as in kube-scheduler.

use crate::api::{Labels, Map, Namespace, Operator, Pod, PodAffinityTerm, Requirement, Selector};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    CycleState, FilterPlugin, NodeScore, Plugin, PodInfo, PreFilterPlugin, PreScorePlugin,
    ScorePlugin, Status, MAX_NODE_SCORE,
};
use crate::store::{ListParams, Store};
use std::collections::HashMap;
use std::sync::Arc;

/// Why a node fails the pod's required affinity terms.
pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// Why a node fails the pod's required anti-affinity terms.
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
/// Why a node fails the required anti-affinity terms of pods already on it (or in its
/// domain).
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// kube-scheduler's default `hardPodAffinityWeight`.
pub const DEFAULT_HARD_POD_AFFINITY_WEIGHT: i64 = 1;

/// One compiled term.
#[derive(Clone, Debug)]
pub(crate) struct AffinityTerm {
    /// `None`: no `labelSelector`, which matches no pod.
    selector: Option<Selector>,
    /// Namespaces named (or the pod's own when neither list nor selector is given).
    namespaces: Vec<String>,
    /// `namespaceSelector: {}`: every namespace.
    all_namespaces: bool,
    /// A non-empty `namespaceSelector`.
    namespace_selector: Option<Selector>,
    topology_key: String,
    /// The weight of a preferred term (0 for required ones).
    weight: i64,
}

static NO_LABELS: std::sync::LazyLock<Map<String, String>> = std::sync::LazyLock::new(Map::new);

fn namespace_of(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}

impl AffinityTerm {
    fn compile(t: &PodAffinityTerm, owner: &Pod, weight: i64) -> Result<AffinityTerm, String> {
        let selector = match &t.label_selector {
            None => None,
            Some(ls) => {
                let sel = ls
                    .to_selector()
                    .map_err(|e| format!("labelSelector.{}: {}", e.field, e.message))?;
                let mut reqs = sel.requirements().to_vec();
                for (keys, op) in [
                    (&t.match_label_keys, Operator::In),
                    (&t.mismatch_label_keys, Operator::NotIn),
                ] {
                    for k in keys {
                        if let Some(v) = owner.metadata.labels.get(k) {
                            let r = Requirement::new(k.clone(), op, vec![v.clone()])
                                .map_err(|e| format!("matchLabelKeys {k}: {}", e.message))?;
                            reqs.push(r);
                        }
                    }
                }
                Some(Selector::new(reqs))
            }
        };
        let (mut all_namespaces, mut namespace_selector) = (false, None);
        if let Some(ns) = &t.namespace_selector {
            let sel = ns
                .to_selector()
                .map_err(|e| format!("namespaceSelector.{}: {}", e.field, e.message))?;
            if sel.is_everything() {
                all_namespaces = true;
            } else {
                namespace_selector = Some(sel);
            }
        }
        let mut namespaces = t.namespaces.clone();
        if namespaces.is_empty() && t.namespace_selector.is_none() {
            namespaces.push(namespace_of(owner).to_string());
        }
        Ok(AffinityTerm {
            selector,
            namespaces,
            all_namespaces,
            namespace_selector,
            topology_key: t.topology_key.clone(),
            weight,
        })
    }

    /// kube-scheduler's `AffinityTerm.Matches`: `pod` is in one of the term's namespaces
    /// (`ns_labels` are the labels of the pod's namespace, for the namespace selector) and
    /// matches its selector.
    fn matches(&self, pod: &Pod, ns_labels: &Map<String, String>) -> bool {
        let Some(sel) = &self.selector else {
            return false;
        };
        let ns = namespace_of(pod);
        let in_ns = self.all_namespaces
            || self.namespaces.iter().any(|n| n == ns)
            || self
                .namespace_selector
                .as_ref()
                .is_some_and(|s| s.matches(ns_labels));
        in_ns && sel.matches(&pod.metadata.labels)
    }

    /// The term with its namespace selector replaced by the namespaces it selects now (as
    /// kube-scheduler merges the incoming pod's selectors in pre-filter and pre-score).
    fn resolved(&self, namespaces: &Namespaces<'_>) -> AffinityTerm {
        let mut t = self.clone();
        if let Some(sel) = t.namespace_selector.take() {
            for ns in namespaces.all() {
                if sel.matches(&ns.metadata.labels) && !t.namespaces.contains(&ns.metadata.name) {
                    t.namespaces.push(ns.metadata.name.clone());
                }
            }
        }
        t
    }
}

/// A pod's inter-pod affinity terms, compiled once when the scheduler first sees the pod.
#[derive(Debug, Default)]
pub(crate) struct AffinityTerms {
    pub(crate) required_affinity: Vec<AffinityTerm>,
    pub(crate) required_anti_affinity: Vec<AffinityTerm>,
    pub(crate) preferred_affinity: Vec<AffinityTerm>,
    pub(crate) preferred_anti_affinity: Vec<AffinityTerm>,
    /// A term that does not compile (admission refuses those; kept for pods stored
    /// otherwise).
    pub(crate) error: Option<String>,
}

impl AffinityTerms {
    /// The pod's terms; `None` for a pod without inter-pod affinity (most pods).
    pub(crate) fn of(pod: &Pod) -> Option<Box<AffinityTerms>> {
        let a = pod.spec.affinity.as_ref()?;
        if a.pod_affinity.is_none() && a.pod_anti_affinity.is_none() {
            return None;
        }
        let mut out = AffinityTerms::default();
        let fail = |e: String, out: &mut AffinityTerms| {
            out.error.get_or_insert(e);
        };
        for (which, spec, req, pref) in [
            ("podAffinity", &a.pod_affinity, 0, 2),
            ("podAntiAffinity", &a.pod_anti_affinity, 1, 3),
        ] {
            let Some(spec) = spec else { continue };
            for (i, t) in spec
                .required_during_scheduling_ignored_during_execution
                .iter()
                .enumerate()
            {
                match AffinityTerm::compile(t, pod, 0) {
                    Ok(t) => out.list(req).push(t),
                    Err(e) => fail(
                        format!(
                            "spec.affinity.{which}.requiredDuringSchedulingIgnoredDuringExecution[{i}].{e}"
                        ),
                        &mut out,
                    ),
                }
            }
            for (i, w) in spec
                .preferred_during_scheduling_ignored_during_execution
                .iter()
                .enumerate()
            {
                match AffinityTerm::compile(&w.pod_affinity_term, pod, i64::from(w.weight)) {
                    Ok(t) => out.list(pref).push(t),
                    Err(e) => fail(
                        format!(
                            "spec.affinity.{which}.preferredDuringSchedulingIgnoredDuringExecution[{i}].podAffinityTerm.{e}"
                        ),
                        &mut out,
                    ),
                }
            }
        }
        if out.is_empty() && out.error.is_none() {
            return None;
        }
        Some(Box::new(out))
    }

    fn list(&mut self, i: usize) -> &mut Vec<AffinityTerm> {
        match i {
            0 => &mut self.required_affinity,
            1 => &mut self.required_anti_affinity,
            2 => &mut self.preferred_affinity,
            _ => &mut self.preferred_anti_affinity,
        }
    }

    fn is_empty(&self) -> bool {
        self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty()
    }

    /// True when the pod has a required anti-affinity term (the cache counts such pods per
    /// node, so that pre-filter visits only their nodes).
    pub(crate) fn has_required_anti_affinity(&self) -> bool {
        !self.required_anti_affinity.is_empty()
    }
}

/// The Namespaces of the store, read at most once per cycle.
struct Namespaces<'a> {
    store: Option<&'a Store>,
    listed: std::cell::OnceCell<Vec<Arc<Namespace>>>,
}

impl<'a> Namespaces<'a> {
    fn new(store: Option<&'a Store>) -> Self {
        Namespaces {
            store,
            listed: std::cell::OnceCell::new(),
        }
    }

    fn all(&self) -> &[Arc<Namespace>] {
        self.listed.get_or_init(|| {
            let Some(store) = self.store else {
                return Vec::new();
            };
            match store.list("Namespace", &ListParams::default()) {
                Ok(l) => l
                    .items
                    .into_iter()
                    .filter_map(|o| o.downcast_arc::<Namespace>().ok())
                    .collect(),
                Err(_) => Vec::new(),
            }
        })
    }

    /// The labels of namespace `name` (none when it does not exist or is not served).
    fn labels(&self, name: &str) -> Map<String, String> {
        let Some(store) = self.store else {
            return Map::new();
        };
        store
            .get("Namespace", None, name)
            .ok()
            .and_then(|o| o.downcast_arc::<Namespace>().ok())
            .map(|n| n.metadata.labels.clone())
            .unwrap_or_default()
    }
}

/// Matching pods (or summed weights) per topology key and value. Zero entries are removed,
/// so `is_empty` means no pod counts anywhere (as kube-scheduler's maps).
#[derive(Debug, Default)]
struct TopologyCounts(HashMap<String, HashMap<String, i64>>);

impl TopologyCounts {
    fn add(&mut self, node: &NodeInfo, key: &str, n: i64) {
        let Some(value) = node.labels().label(key) else {
            return;
        };
        self.add_value(key, value, n);
    }

    fn add_value(&mut self, key: &str, value: &str, n: i64) {
        let values = match self.0.get_mut(key) {
            Some(v) => v,
            None => self.0.entry(key.to_string()).or_default(),
        };
        let slot = match values.get_mut(value) {
            Some(s) => s,
            None => values.entry(value.to_string()).or_insert(0),
        };
        *slot += n;
        if *slot == 0 {
            values.remove(value);
            if values.is_empty() {
                self.0.remove(key);
            }
        }
    }

    fn get(&self, key: &str, value: &str) -> i64 {
        self.0
            .get(key)
            .and_then(|v| v.get(value))
            .copied()
            .unwrap_or(0)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// See the module docs.
#[derive(Clone, Debug)]
pub struct InterPodAffinity {
    store: Option<Store>,
    hard_pod_affinity_weight: i64,
}

impl Default for InterPodAffinity {
    fn default() -> Self {
        InterPodAffinity::new(None)
    }
}

impl InterPodAffinity {
    /// The plugin, reading Namespaces (for `namespaceSelector`) from `store`. Without a
    /// store, namespace selectors other than `{}` select no namespace.
    pub fn new(store: Option<Store>) -> InterPodAffinity {
        InterPodAffinity {
            store,
            hard_pod_affinity_weight: DEFAULT_HARD_POD_AFFINITY_WEIGHT,
        }
    }

    /// Sets `hardPodAffinityWeight` (0 to 100): the score a node gains per required
    /// affinity term of a pod there that the incoming pod matches. 0 turns it off.
    pub fn hard_pod_affinity_weight(mut self, weight: i64) -> InterPodAffinity {
        self.hard_pod_affinity_weight = weight.clamp(0, 100);
        self
    }
}

struct FilterState {
    required_affinity: Vec<AffinityTerm>,
    required_anti_affinity: Vec<AffinityTerm>,
    affinity_counts: TopologyCounts,
    anti_affinity_counts: TopologyCounts,
    existing_anti_affinity_counts: TopologyCounts,
    /// The pod matches all of its own required affinity terms (it may be the first of its
    /// group).
    matches_own_affinity: bool,
}

struct ScoreState {
    topology_score: TopologyCounts,
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &str {
        "InterPodAffinity"
    }
}

impl PreFilterPlugin for InterPodAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[NodeInfo]) -> Status {
        let terms = pod.affinity_terms();
        if let Some(e) = terms.and_then(|t| t.error.as_ref()) {
            return Status::error(format!("pod {}: {e}", pod.key()));
        }
        let namespaces = Namespaces::new(self.store.as_ref());
        let required_affinity: Vec<AffinityTerm> = terms
            .map(|t| {
                t.required_affinity
                    .iter()
                    .map(|t| t.resolved(&namespaces))
                    .collect()
            })
            .unwrap_or_default();
        let required_anti_affinity: Vec<AffinityTerm> = terms
            .map(|t| {
                t.required_anti_affinity
                    .iter()
                    .map(|t| t.resolved(&namespaces))
                    .collect()
            })
            .unwrap_or_default();
        let own = terms.is_some_and(|t| !t.required_affinity.is_empty());
        let incoming = !required_affinity.is_empty() || !required_anti_affinity.is_empty();
        let any_existing = nodes.iter().any(|n| n.with_required_anti_affinity > 0);
        if !incoming && !any_existing {
            return Status::skip();
        }
        let p = pod.pod();
        let ns_labels = if any_existing {
            namespaces.labels(pod.namespace())
        } else {
            Map::new()
        };
        let mut affinity_counts = TopologyCounts::default();
        let mut anti_affinity_counts = TopologyCounts::default();
        let mut existing_anti_affinity_counts = TopologyCounts::default();
        for node in nodes {
            if node.with_required_anti_affinity > 0 {
                for e in node.pods() {
                    let Some(et) = e.affinity_terms() else {
                        continue;
                    };
                    for t in &et.required_anti_affinity {
                        if t.matches(p, &ns_labels) {
                            existing_anti_affinity_counts.add(node, &t.topology_key, 1);
                        }
                    }
                }
            }
            if !incoming {
                continue;
            }
            for e in node.pods() {
                let ep = e.pod();
                // The incoming pod's selectors are resolved to namespace names above: no
                // namespace labels are needed for its terms.
                if !required_affinity.is_empty()
                    && required_affinity.iter().all(|t| t.matches(ep, &NO_LABELS))
                {
                    for t in &required_affinity {
                        affinity_counts.add(node, &t.topology_key, 1);
                    }
                }
                for t in &required_anti_affinity {
                    if t.matches(ep, &NO_LABELS) {
                        anti_affinity_counts.add(node, &t.topology_key, 1);
                    }
                }
            }
        }
        if !incoming && existing_anti_affinity_counts.is_empty() {
            return Status::skip();
        }
        let matches_own_affinity =
            own && required_affinity.iter().all(|t| t.matches(p, &NO_LABELS));
        state.insert(FilterState {
            required_affinity,
            required_anti_affinity,
            affinity_counts,
            anti_affinity_counts,
            existing_anti_affinity_counts,
            matches_own_affinity,
        });
        Status::success()
    }
}

impl FilterState {
    fn satisfies_affinity(&self, node: &NodeInfo) -> bool {
        let mut pods_exist = true;
        for t in &self.required_affinity {
            let Some(value) = node.labels().label(&t.topology_key) else {
                return false;
            };
            if self.affinity_counts.get(&t.topology_key, value) <= 0 {
                pods_exist = false;
            }
        }
        // The first pod of a group whose terms match itself may go anywhere.
        pods_exist || (self.affinity_counts.is_empty() && self.matches_own_affinity)
    }

    fn satisfies_anti_affinity(&self, node: &NodeInfo) -> bool {
        if self.anti_affinity_counts.is_empty() {
            return true;
        }
        self.required_anti_affinity.iter().all(|t| {
            node.labels()
                .label(&t.topology_key)
                .is_none_or(|v| self.anti_affinity_counts.get(&t.topology_key, v) <= 0)
        })
    }

    fn satisfies_existing_anti_affinity(&self, node: &NodeInfo) -> bool {
        let c = &self.existing_anti_affinity_counts;
        if c.is_empty() {
            return true;
        }
        // Look up whichever is smaller: the node's labels or the keys counted.
        if c.0.len() <= node.labels().len() {
            c.0.iter().all(|(k, values)| {
                node.labels()
                    .label(k)
                    .is_none_or(|v| values.get(v).copied().unwrap_or(0) <= 0)
            })
        } else {
            node.labels().iter().all(|(k, v)| c.get(k, v) <= 0)
        }
    }
}

impl FilterPlugin for InterPodAffinity {
    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.get::<FilterState>() else {
            return Status::success();
        };
        if !s.satisfies_affinity(node) {
            return Status::unresolvable(REASON_AFFINITY);
        }
        if !s.satisfies_anti_affinity(node) {
            return Status::unschedulable(REASON_ANTI_AFFINITY);
        }
        if !s.satisfies_existing_anti_affinity(node) {
            return Status::unschedulable(REASON_EXISTING_ANTI_AFFINITY);
        }
        Status::success()
    }
}

impl PreScorePlugin for InterPodAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[NodeInfo],
        _feasible: &[usize],
    ) -> Status {
        let terms = pod.affinity_terms();
        let namespaces = Namespaces::new(self.store.as_ref());
        let resolve = |v: &[AffinityTerm]| -> Vec<AffinityTerm> {
            v.iter().map(|t| t.resolved(&namespaces)).collect()
        };
        let preferred_affinity = terms
            .map(|t| resolve(&t.preferred_affinity))
            .unwrap_or_default();
        let preferred_anti_affinity = terms
            .map(|t| resolve(&t.preferred_anti_affinity))
            .unwrap_or_default();
        let has_constraints = !preferred_affinity.is_empty() || !preferred_anti_affinity.is_empty();
        if !has_constraints && nodes.iter().all(|n| n.with_affinity == 0) {
            return Status::skip();
        }
        let p = pod.pod();
        let ns_labels = namespaces.labels(pod.namespace());
        let hard = self.hard_pod_affinity_weight;
        let mut score = TopologyCounts::default();
        for node in nodes {
            if node.labels().is_empty() || (!has_constraints && node.with_affinity == 0) {
                continue;
            }
            for e in node.pods() {
                let et = e.affinity_terms();
                if !has_constraints && et.is_none() {
                    continue;
                }
                let ep = e.pod();
                for t in &preferred_affinity {
                    if t.matches(ep, &NO_LABELS) {
                        score.add(node, &t.topology_key, t.weight);
                    }
                }
                for t in &preferred_anti_affinity {
                    if t.matches(ep, &NO_LABELS) {
                        score.add(node, &t.topology_key, -t.weight);
                    }
                }
                let Some(et) = et else { continue };
                if hard > 0 {
                    for t in &et.required_affinity {
                        if t.matches(p, &ns_labels) {
                            score.add(node, &t.topology_key, hard);
                        }
                    }
                }
                for t in &et.preferred_affinity {
                    if t.matches(p, &ns_labels) {
                        score.add(node, &t.topology_key, t.weight);
                    }
                }
                for t in &et.preferred_anti_affinity {
                    if t.matches(p, &ns_labels) {
                        score.add(node, &t.topology_key, -t.weight);
                    }
                }
            }
        }
        if score.is_empty() {
            return Status::skip();
        }
        state.insert(ScoreState {
            topology_score: score,
        });
        Status::success()
    }
}

impl ScorePlugin for InterPodAffinity {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(s) = state.get::<ScoreState>() else {
            return Ok(0);
        };
        let labels = node.labels();
        Ok(s.topology_score
            .0
            .iter()
            .filter_map(|(k, values)| labels.label(k).and_then(|v| values.get(v)))
            .sum())
    }

    fn normalize(
        &self,
        state: &CycleState,
        _: &PodInfo,
        _: &[NodeInfo],
        scores: &mut [NodeScore],
    ) -> Status {
        if state.get::<ScoreState>().is_none() {
            return Status::success();
        }
        let min = scores.iter().map(|s| s.score).min().unwrap_or(0);
        let max = scores.iter().map(|s| s.score).max().unwrap_or(0);
        let diff = max - min;
        for s in scores.iter_mut() {
            s.score = if diff > 0 {
                (MAX_NODE_SCORE as f64 * ((s.score - min) as f64 / diff as f64)) as i64
            } else {
                0
            };
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node_with, pod_obj};
    use serde_json::{json, Value};

    fn labelled(name: &str, ns: &str, labels: Value, affinity: Value) -> Arc<PodInfo> {
        let mut spec = json!({"containers": [{"name": "c"}]});
        if !affinity.is_null() {
            spec["affinity"] = affinity;
        }
        Arc::new(pod_obj(json!({
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": spec
        })))
    }

    fn host(name: &str, zone: &str, pods: Vec<Arc<PodInfo>>) -> NodeInfo {
        node_with(
            json!({"metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone}}}),
            pods,
        )
    }

    fn term(key: &str, labels: Value) -> Value {
        json!({"labelSelector": {"matchLabels": labels}, "topologyKey": key})
    }

    fn filter_all(p: &PodInfo, nodes: &[NodeInfo]) -> Vec<Status> {
        let mut cs = CycleState::new();
        let st = InterPodAffinity::default().pre_filter(&mut cs, p, nodes);
        if st.is_skip() {
            return nodes.iter().map(|_| Status::success()).collect();
        }
        assert!(st.is_success(), "{st:?}");
        nodes
            .iter()
            .map(|n| InterPodAffinity::default().filter(&cs, p, n))
            .collect()
    }

    fn scores(p: &PodInfo, nodes: &[NodeInfo]) -> Vec<i64> {
        let pl = InterPodAffinity::default();
        let mut cs = CycleState::new();
        let all: Vec<usize> = (0..nodes.len()).collect();
        if pl.pre_score(&mut cs, p, nodes, &all).is_skip() {
            return vec![0; nodes.len()];
        }
        let mut s: Vec<NodeScore> = all
            .iter()
            .map(|&i| NodeScore {
                node: i,
                score: pl.score(&cs, p, &nodes[i]).unwrap(),
            })
            .collect();
        pl.normalize(&cs, p, nodes, &mut s);
        s.iter().map(|s| s.score).collect()
    }

    const HOST: &str = "kubernetes.io/hostname";
    const ZONE: &str = "topology.kubernetes.io/zone";

    #[test]
    fn required_anti_affinity_keeps_one_per_host() {
        let anti = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            [term(HOST, json!({"app": "web"}))]}});
        let web = |n: &str| labelled(n, "default", json!({"app": "web"}), anti.clone());
        let nodes = [
            host("a", "z1", vec![web("w1")]),
            host("b", "z1", vec![]),
            host(
                "c",
                "z2",
                vec![labelled("db", "default", json!({"app": "db"}), Value::Null)],
            ),
        ];
        let got = filter_all(&web("new"), &nodes);
        assert_eq!(got[0], Status::unschedulable(REASON_ANTI_AFFINITY));
        assert!(got[1].is_success() && got[2].is_success());
    }

    #[test]
    fn existing_pods_anti_affinity_repels_the_incoming_pod() {
        // The placed pod refuses app=web in its zone; the incoming pod has no terms itself.
        let anti = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            [term(ZONE, json!({"app": "web"}))]}});
        let nodes = [
            host("a", "z1", vec![labelled("x", "default", json!({}), anti)]),
            host("b", "z1", vec![]),
            host("c", "z2", vec![]),
        ];
        let p = labelled("new", "default", json!({"app": "web"}), Value::Null);
        let got = filter_all(&p, &nodes);
        assert_eq!(got[0], Status::unschedulable(REASON_EXISTING_ANTI_AFFINITY));
        assert_eq!(got[1], Status::unschedulable(REASON_EXISTING_ANTI_AFFINITY));
        assert!(got[2].is_success());
        // A pod of another namespace is not repelled: the term holds for its own namespace.
        let other = labelled("new", "other", json!({"app": "web"}), Value::Null);
        assert!(filter_all(&other, &nodes).iter().all(Status::is_success));
    }

    #[test]
    fn required_affinity_needs_a_matching_pod_in_the_domain() {
        let aff = json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            [term(ZONE, json!({"app": "cache"}))]}});
        let nodes = [
            host(
                "a",
                "z1",
                vec![labelled(
                    "c1",
                    "default",
                    json!({"app": "cache"}),
                    Value::Null,
                )],
            ),
            host("b", "z1", vec![]),
            host("c", "z2", vec![]),
            node_with(json!({"metadata": {"name": "bare"}}), vec![]),
        ];
        let p = labelled("web", "default", json!({"app": "web"}), aff);
        let got = filter_all(&p, &nodes);
        assert!(got[0].is_success() && got[1].is_success());
        assert_eq!(got[2], Status::unresolvable(REASON_AFFINITY));
        assert_eq!(got[3], Status::unresolvable(REASON_AFFINITY));
    }

    #[test]
    fn the_first_pod_of_a_self_affine_group_may_go_anywhere() {
        let aff = json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            [term(HOST, json!({"app": "web"}))]}});
        let nodes = [host("a", "z1", vec![]), host("b", "z2", vec![])];
        let own = labelled("w", "default", json!({"app": "web"}), aff.clone());
        assert!(filter_all(&own, &nodes).iter().all(Status::is_success));
        // A pod that does not match its own term must wait for one that does.
        let stranger = labelled("s", "default", json!({"app": "other"}), aff);
        assert!(filter_all(&stranger, &nodes)
            .iter()
            .all(|s| *s == Status::unresolvable(REASON_AFFINITY)));
    }

    #[test]
    fn match_label_keys_narrow_the_selector_to_the_pods_own_values() {
        let anti = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": HOST,
            "matchLabelKeys": ["pod-template-hash"]}]}});
        let nodes = [host(
            "a",
            "z1",
            vec![labelled(
                "old",
                "default",
                json!({"app": "web", "pod-template-hash": "v1"}),
                Value::Null,
            )],
        )];
        let v2 = labelled(
            "new",
            "default",
            json!({"app": "web", "pod-template-hash": "v2"}),
            anti.clone(),
        );
        assert!(filter_all(&v2, &nodes)[0].is_success(), "another revision");
        let v1 = labelled(
            "new",
            "default",
            json!({"app": "web", "pod-template-hash": "v1"}),
            anti,
        );
        assert_eq!(
            filter_all(&v1, &nodes)[0],
            Status::unschedulable(REASON_ANTI_AFFINITY)
        );
    }

    #[test]
    fn empty_namespace_selector_means_every_namespace() {
        let anti = |sel: Value| {
            let mut t = term(HOST, json!({"app": "web"}));
            if !sel.is_null() {
                t["namespaceSelector"] = sel;
            }
            json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [t]}})
        };
        let nodes = [host(
            "a",
            "z1",
            vec![labelled("w", "other", json!({"app": "web"}), Value::Null)],
        )];
        let own_ns = labelled("n", "default", json!({}), anti(Value::Null));
        assert!(filter_all(&own_ns, &nodes)[0].is_success());
        let all_ns = labelled("n", "default", json!({}), anti(json!({})));
        assert_eq!(
            filter_all(&all_ns, &nodes)[0],
            Status::unschedulable(REASON_ANTI_AFFINITY)
        );
        let mut named = term(HOST, json!({"app": "web"}));
        named["namespaces"] = json!(["other"]);
        let named = labelled(
            "n",
            "default",
            json!({}),
            json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [named]}}),
        );
        assert_eq!(
            filter_all(&named, &nodes)[0],
            Status::unschedulable(REASON_ANTI_AFFINITY)
        );
    }

    #[test]
    fn pods_without_terms_skip_the_plugin() {
        let nodes = [host(
            "a",
            "z1",
            vec![labelled("x", "default", json!({"app": "web"}), Value::Null)],
        )];
        let p = labelled("p", "default", json!({"app": "web"}), Value::Null);
        let mut cs = CycleState::new();
        assert!(InterPodAffinity::default()
            .pre_filter(&mut cs, &p, &nodes)
            .is_skip());
        assert!(InterPodAffinity::default()
            .pre_score(&mut cs, &p, &nodes, &[0])
            .is_skip());
    }

    #[test]
    fn preferred_terms_score_by_weight_per_domain() {
        let pref = json!({
            "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 80, "podAffinityTerm": term(ZONE, json!({"app": "cache"}))}]},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 20, "podAffinityTerm": term(HOST, json!({"app": "web"}))}]}
        });
        let nodes = [
            host(
                "a",
                "z1",
                vec![
                    labelled("c", "default", json!({"app": "cache"}), Value::Null),
                    labelled("w", "default", json!({"app": "web"}), Value::Null),
                ],
            ),
            host("b", "z1", vec![]),
            host("c", "z2", vec![]),
        ];
        let p = labelled("p", "default", json!({"app": "web"}), pref);
        // Raw: a = 80 - 20 = 60, b = 80, c = 0; min-max normalized.
        assert_eq!(scores(&p, &nodes), [75, 100, 0]);
    }

    #[test]
    fn existing_pods_terms_score_the_incoming_pod() {
        // The placed pod prefers app=web near it (weight 10) and requires it (hard weight 1);
        // another placed pod dislikes app=web in its zone (weight 5).
        let likes = json!({"podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [term(HOST, json!({"app": "web"}))],
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "podAffinityTerm": term(HOST, json!({"app": "web"}))}]}});
        let dislikes = json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 5, "podAffinityTerm": term(ZONE, json!({"app": "web"}))}]}});
        let nodes = [
            host("a", "z1", vec![labelled("l", "default", json!({}), likes)]),
            host(
                "b",
                "z2",
                vec![labelled("d", "default", json!({}), dislikes)],
            ),
            host("c", "z3", vec![]),
        ];
        let p = labelled("p", "default", json!({"app": "web"}), Value::Null);
        // Raw: a = 11, b = -5, c = 0 -> (x + 5) * 100 / 16.
        assert_eq!(scores(&p, &nodes), [100, 0, 31]);
    }
}
