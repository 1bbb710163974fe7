//! `PodTopologySpread`: keep matching pods evenly spread over topology domains (nodes by
//! `kubernetes.io/hostname`, zones by `topology.kubernetes.io/zone`, or any node label).
//!
//! A domain is one value of the constraint's `topologyKey` among the nodes that count: nodes
//! carrying every topology key of the pod's constraints and, under the default
//! `nodeAffinityPolicy: Honor`, matching the pod's node selector and required affinity (with
//! `nodeTaintsPolicy: Honor`, also having no taint the pod does not tolerate). A domain's
//! count is the number of pods on its nodes in the pod's namespace, not being deleted, that
//! match the constraint's `labelSelector` (plus, with `matchLabelKeys`, the pod's own values
//! of those labels).
//!
//! `DoNotSchedule` constraints filter: placing the pod on a node must keep
//! `count(node's domain) + 1 (if the pod matches itself) - min(count over domains)` at most
//! `maxSkew` (the minimum is 0 while fewer than `minDomains` domains exist).
//! `ScheduleAnyway` constraints score (weight 2): fewer matching pods in the node's domain is
//! better, weighted by `ln(domains + 2)` per constraint, normalized so that the best node
//! gets 100.
//!
//! Differences from kube-scheduler: no cluster-level default constraints for pods without
//! their own.

use super::taint_toleration::untolerated;
use crate::api::node_affinity::RequiredNodeAffinity;
use crate::api::{Labels, Pod, Selector, TopologySpreadConstraint};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    CycleState, FilterPlugin, NodeScore, Plugin, PodInfo, PreFilterPlugin, PreScorePlugin,
    ScorePlugin, Status, MAX_NODE_SCORE,
};
use std::collections::HashMap;

/// The node label holding a node's name.
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

/// The reason a node without the topology label is rejected.
pub const REASON_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";
/// The reason a node that would skew the spread too far is rejected.
pub const REASON_SKEW: &str = "node(s) didn't match pod topology spread constraints";

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct PodTopologySpread;

#[derive(Debug)]
struct Constraint {
    max_skew: i64,
    key: String,
    /// `None`: no selector, which matches no pod.
    selector: Option<Selector>,
    min_domains: i64,
    honor_affinity: bool,
    honor_taints: bool,
}

impl Constraint {
    fn compile(c: &TopologySpreadConstraint, pod: &Pod) -> Result<Constraint, Status> {
        let extra_str = |k: &str| c.extra.get(k).and_then(|v| v.as_str());
        let mut selector = match &c.label_selector {
            None => None,
            Some(ls) => Some(ls.to_selector().map_err(|e| {
                Status::error(format!(
                    "topologySpreadConstraints ({}): labelSelector.{}: {}",
                    c.topology_key, e.field, e.message
                ))
            })?),
        };
        if let (Some(sel), Some(keys)) = (&mut selector, c.extra.get("matchLabelKeys")) {
            let mut reqs = sel.requirements().to_vec();
            for k in keys
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| k.as_str())
            {
                if let Some(v) = pod.metadata.labels.get(k) {
                    if let Ok(r) =
                        crate::api::Requirement::new(k, crate::api::Operator::In, vec![v.clone()])
                    {
                        reqs.push(r);
                    }
                }
            }
            *sel = Selector::new(reqs);
        }
        Ok(Constraint {
            max_skew: i64::from(c.max_skew.max(1)),
            key: c.topology_key.clone(),
            selector,
            min_domains: c
                .extra
                .get("minDomains")
                .and_then(|v| v.as_i64())
                .unwrap_or(1)
                .max(1),
            honor_affinity: extra_str("nodeAffinityPolicy") != Some("Ignore"),
            honor_taints: extra_str("nodeTaintsPolicy") == Some("Honor"),
        })
    }

    fn counts(&self, pod: &Pod, node: &NodeInfo) -> i64 {
        let Some(sel) = &self.selector else { return 0 };
        let ns = pod.metadata.namespace_str();
        node.pods()
            .iter()
            .filter(|p| {
                let m = &p.pod().metadata;
                m.deletion_timestamp.is_none() && m.namespace_str() == ns && sel.matches(&m.labels)
            })
            .count() as i64
    }

    fn matches_self(&self, pod: &Pod) -> bool {
        self.selector
            .as_ref()
            .is_some_and(|s| s.matches(&pod.metadata.labels))
    }
}

fn compile(pod: &Pod, when: &str) -> Result<Vec<Constraint>, Status> {
    pod.spec
        .topology_spread_constraints
        .iter()
        .filter(|c| c.when_unsatisfiable == when)
        .map(|c| Constraint::compile(c, pod))
        .collect()
}

fn has_all_keys(node: &NodeInfo, constraints: &[Constraint]) -> bool {
    let labels = node.labels();
    constraints.iter().all(|c| labels.label(&c.key).is_some())
}

/// Whether `node` counts for constraint `c` (its inclusion policies).
fn included(
    c: &Constraint,
    pod: &Pod,
    affinity: Option<&RequiredNodeAffinity>,
    node: &NodeInfo,
) -> bool {
    if c.honor_affinity && affinity.is_some_and(|a| !a.matches(node.labels(), node.name())) {
        return false;
    }
    if c.honor_taints
        && untolerated(
            node.taints(),
            &pod.spec.tolerations,
            &["NoSchedule", "NoExecute"],
        )
        .is_some()
    {
        return false;
    }
    true
}

struct FilterState {
    constraints: Vec<Constraint>,
    /// Per constraint: matching pods per domain (every domain that counts, zeros included).
    counts: Vec<HashMap<String, i64>>,
    /// Per constraint: the smallest count, or 0 when fewer than `minDomains` domains exist.
    min: Vec<i64>,
    self_match: Vec<bool>,
}

struct ScoreState {
    constraints: Vec<Constraint>,
    /// Per constraint: matching pods per domain of the feasible nodes (hostname
    /// constraints are counted per node when scoring).
    counts: Vec<HashMap<String, i64>>,
    weights: Vec<f64>,
    /// By node index: nodes lacking a topology key, scored 0.
    ignored: Vec<bool>,
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &str {
        "PodTopologySpread"
    }
}

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[NodeInfo]) -> Status {
        let p = pod.pod();
        let constraints = match compile(p, "DoNotSchedule") {
            Ok(c) if c.is_empty() => return Status::skip(),
            Ok(c) => c,
            Err(st) => return st,
        };
        let affinity = RequiredNodeAffinity::of(&p.spec);
        let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); constraints.len()];
        for node in nodes {
            if !has_all_keys(node, &constraints) {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if !included(c, p, affinity.as_ref(), node) {
                    continue;
                }
                let value = node.labels().label(&c.key).unwrap_or_default();
                let n = c.counts(p, node);
                *counts[i].entry(value.to_string()).or_insert(0) += n;
            }
        }
        let min = constraints
            .iter()
            .zip(&counts)
            .map(|(c, m)| {
                if (m.len() as i64) < c.min_domains {
                    0
                } else {
                    m.values().copied().min().unwrap_or(i64::MAX)
                }
            })
            .collect();
        let self_match = constraints.iter().map(|c| c.matches_self(p)).collect();
        state.insert(FilterState {
            constraints,
            counts,
            min,
            self_match,
        });
        Status::success()
    }
}

impl FilterPlugin for PodTopologySpread {
    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.get::<FilterState>() else {
            return Status::success();
        };
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = node.labels().label(&c.key) else {
                return Status::unresolvable(REASON_MISSING_LABEL);
            };
            let count = s.counts[i].get(value).copied().unwrap_or(0);
            let skew = count
                .saturating_add(i64::from(s.self_match[i]))
                .saturating_sub(s.min[i]);
            if skew > c.max_skew {
                return Status::unschedulable(REASON_SKEW);
            }
        }
        Status::success()
    }
}

impl PreScorePlugin for PodTopologySpread {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[NodeInfo],
        feasible: &[usize],
    ) -> Status {
        let p = pod.pod();
        let constraints = match compile(p, "ScheduleAnyway") {
            Ok(c) if c.is_empty() => return Status::skip(),
            Ok(c) => c,
            Err(st) => return st,
        };
        let mut ignored = vec![false; nodes.len()];
        let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); constraints.len()];
        let mut considered = 0usize;
        for &i in feasible {
            let node = &nodes[i];
            if !has_all_keys(node, &constraints) {
                ignored[i] = true;
                continue;
            }
            considered += 1;
            for (ci, c) in constraints.iter().enumerate() {
                if c.key != HOSTNAME_LABEL {
                    let v = node.labels().label(&c.key).unwrap_or_default();
                    counts[ci].entry(v.to_string()).or_insert(0);
                }
            }
        }
        let weights = constraints
            .iter()
            .zip(&counts)
            .map(|(c, m)| {
                let size = if c.key == HOSTNAME_LABEL {
                    considered
                } else {
                    m.len()
                };
                ((size + 2) as f64).ln()
            })
            .collect();
        // Domain counts come from every node that counts, feasible or not.
        let affinity = RequiredNodeAffinity::of(&p.spec);
        for node in nodes {
            if !has_all_keys(node, &constraints) {
                continue;
            }
            for (ci, c) in constraints.iter().enumerate() {
                if c.key == HOSTNAME_LABEL || !included(c, p, affinity.as_ref(), node) {
                    continue;
                }
                let v = node.labels().label(&c.key).unwrap_or_default();
                if let Some(slot) = counts[ci].get_mut(v) {
                    *slot += c.counts(p, node);
                }
            }
        }
        state.insert(ScoreState {
            constraints,
            counts,
            weights,
            ignored,
        });
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpread {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(s) = state.get::<ScoreState>() else {
            return Ok(0);
        };
        let mut score = 0f64;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = node.labels().label(&c.key) else {
                continue;
            };
            let count = if c.key == HOSTNAME_LABEL {
                c.counts(pod.pod(), node)
            } else {
                s.counts[i].get(value).copied().unwrap_or(0)
            };
            score += count as f64 * s.weights[i] + (c.max_skew - 1) as f64;
        }
        Ok(score.round() as i64)
    }

    fn normalize(
        &self,
        state: &CycleState,
        _: &PodInfo,
        _: &[NodeInfo],
        scores: &mut [NodeScore],
    ) -> Status {
        let Some(s) = state.get::<ScoreState>() else {
            return Status::success();
        };
        let ignored = |n: usize| s.ignored.get(n).copied().unwrap_or(false);
        let (mut min, mut max) = (i64::MAX, 0i64);
        for sc in scores.iter().filter(|sc| !ignored(sc.node)) {
            min = min.min(sc.score);
            max = max.max(sc.score);
        }
        for sc in scores.iter_mut() {
            sc.score = if ignored(sc.node) {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - sc.score) / max
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
    use std::sync::Arc;

    fn app_pod(name: &str, ns: &str) -> Arc<PodInfo> {
        Arc::new(pod_obj(json!({
            "metadata": {"name": name, "namespace": ns, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c"}]}
        })))
    }

    fn zone_node(name: &str, zone: Option<&str>, pods: usize) -> NodeInfo {
        let mut labels = json!({ "kubernetes.io/hostname": name });
        if let Some(z) = zone {
            labels["topology.kubernetes.io/zone"] = z.into();
        }
        node_with(
            json!({"metadata": {"name": name, "labels": labels}}),
            (0..pods)
                .map(|i| app_pod(&format!("{name}-{i}"), "default"))
                .collect(),
        )
    }

    fn incoming(key: &str, when: &str, max_skew: i32, extra: Value) -> PodInfo {
        let mut c = json!({
            "maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web"}}
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        pod_obj(json!({
            "metadata": {"name": "new", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c"}], "topologySpreadConstraints": [c]}
        }))
    }

    fn filter_all(p: &PodInfo, nodes: &[NodeInfo]) -> Vec<Status> {
        let mut cs = CycleState::new();
        assert!(PodTopologySpread.pre_filter(&mut cs, p, nodes).is_success());
        nodes
            .iter()
            .map(|n| PodTopologySpread.filter(&cs, p, n))
            .collect()
    }

    #[test]
    fn do_not_schedule_keeps_zone_skew_within_max_skew() {
        // Zone a has 2 matching pods, zone b 0: a would make skew 3.
        let nodes = [
            zone_node("a1", Some("a"), 1),
            zone_node("a2", Some("a"), 1),
            zone_node("b1", Some("b"), 0),
            zone_node("x", None, 0),
        ];
        let p = incoming("topology.kubernetes.io/zone", "DoNotSchedule", 1, json!({}));
        let got = filter_all(&p, &nodes);
        assert_eq!(got[0], Status::unschedulable(REASON_SKEW));
        assert_eq!(got[1], Status::unschedulable(REASON_SKEW));
        assert!(got[2].is_success());
        assert_eq!(got[3], Status::unresolvable(REASON_MISSING_LABEL));
    }

    #[test]
    fn pods_of_other_namespaces_and_being_deleted_do_not_count() {
        let mut other = (**app_pod("o", "other").pod()).clone();
        other.metadata.namespace = Some("other".into());
        let mut leaving = (**app_pod("l", "default").pod()).clone();
        leaving.metadata.deletion_timestamp = Some(crate::api::Time::from_unix_micros(1));
        let busy = node_with(
            json!({"metadata": {"name": "a", "labels": {"kubernetes.io/hostname": "a"}}}),
            vec![
                Arc::new(PodInfo::new(Arc::new(other))),
                Arc::new(PodInfo::new(Arc::new(leaving))),
            ],
        );
        let nodes = [busy, zone_node("b", None, 0)];
        let p = incoming(HOSTNAME_LABEL, "DoNotSchedule", 1, json!({}));
        assert!(filter_all(&p, &nodes).iter().all(Status::is_success));
    }

    #[test]
    fn min_domains_counts_missing_domains_as_zero() {
        // One zone only, with 1 pod: without minDomains the skew is 1+1-1 = 1.
        let nodes = [zone_node("a1", Some("a"), 1)];
        let p = incoming("topology.kubernetes.io/zone", "DoNotSchedule", 1, json!({}));
        assert!(filter_all(&p, &nodes)[0].is_success());
        let p = incoming(
            "topology.kubernetes.io/zone",
            "DoNotSchedule",
            1,
            json!({"minDomains": 2}),
        );
        assert_eq!(
            filter_all(&p, &nodes)[0],
            Status::unschedulable(REASON_SKEW)
        );
    }

    #[test]
    fn node_selector_limits_the_domains_that_count() {
        // Zone b's node does not match the pod's selector, so zone b is not a domain and the
        // minimum is zone a's own count.
        let mut b =
            json!({"metadata": {"name": "b1", "labels": {"topology.kubernetes.io/zone": "b"}}});
        b["metadata"]["labels"]["pool"] = "other".into();
        let a = json!({"metadata": {"name": "a1", "labels": {"topology.kubernetes.io/zone": "a", "pool": "main"}}});
        let nodes = [
            node_with(a, vec![app_pod("x", "default")]),
            node_with(b, vec![]),
        ];
        let mut p = (**incoming("topology.kubernetes.io/zone", "DoNotSchedule", 1, json!({}))
            .pod())
        .clone();
        p.spec.node_selector.insert("pool".into(), "main".into());
        let p = PodInfo::new(Arc::new(p));
        assert!(filter_all(&p, &nodes)[0].is_success());
    }

    #[test]
    fn schedule_anyway_scores_emptier_domains_higher() {
        let nodes = [
            zone_node("a", None, 3),
            zone_node("b", None, 1),
            zone_node("c", None, 0),
        ];
        let p = incoming(HOSTNAME_LABEL, "ScheduleAnyway", 1, json!({}));
        let mut cs = CycleState::new();
        assert!(PodTopologySpread.pre_filter(&mut cs, &p, &nodes).is_skip());
        assert!(PodTopologySpread
            .pre_score(&mut cs, &p, &nodes, &[0, 1, 2])
            .is_success());
        let mut scores: Vec<NodeScore> = (0..3)
            .map(|i| NodeScore {
                node: i,
                score: PodTopologySpread.score(&cs, &p, &nodes[i]).unwrap(),
            })
            .collect();
        // ln(5) ~ 1.609 per pod: 5, 2, 0.
        assert_eq!(
            scores.iter().map(|s| s.score).collect::<Vec<_>>(),
            [5, 2, 0]
        );
        PodTopologySpread.normalize(&cs, &p, &nodes, &mut scores);
        assert_eq!(
            scores.iter().map(|s| s.score).collect::<Vec<_>>(),
            [0, 60, 100]
        );
    }

    #[test]
    fn schedule_anyway_ignores_nodes_without_the_key() {
        let nodes = [zone_node("a", Some("z1"), 2), zone_node("b", None, 0)];
        let p = incoming(
            "topology.kubernetes.io/zone",
            "ScheduleAnyway",
            1,
            json!({}),
        );
        let mut cs = CycleState::new();
        PodTopologySpread.pre_score(&mut cs, &p, &nodes, &[0, 1]);
        let mut scores: Vec<NodeScore> = (0..2)
            .map(|i| NodeScore {
                node: i,
                score: PodTopologySpread.score(&cs, &p, &nodes[i]).unwrap(),
            })
            .collect();
        PodTopologySpread.normalize(&cs, &p, &nodes, &mut scores);
        assert_eq!(scores.iter().map(|s| s.score).collect::<Vec<_>>(), [100, 0]);
    }
}
