//! `NodeAffinity`: `spec.nodeSelector` and node affinity (required terms filter, preferred
//! terms score).

use crate::api::node_affinity::{NodeSelectorMatcher, RequiredNodeAffinity};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    ClusterEvents, CycleState, FilterPlugin, NodeScore, Plugin, PodInfo, PreFilterPlugin,
    PreScorePlugin, ScorePlugin, Status,
};
use crate::scheduler::plugins::default_normalize;

/// Filter: rejects nodes that do not match the pod's `nodeSelector` (every label equal) and
/// its `requiredDuringSchedulingIgnoredDuringExecution` terms (any term, each term all of its
/// expressions). Score (weight 2): the sum of the weights of the matching
/// `preferredDuringSchedulingIgnoredDuringExecution` terms, normalized to 0..100.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeAffinity;

/// The reason of a rejection.
pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

struct FilterState(RequiredNodeAffinity);

struct ScoreState(Vec<(i64, NodeSelectorMatcher)>);

impl Plugin for NodeAffinity {
    fn name(&self) -> &str {
        "NodeAffinity"
    }

    fn events(&self) -> ClusterEvents {
        ClusterEvents::NODE_ADDED | ClusterEvents::NODE_CHANGED
    }
}

impl PreFilterPlugin for NodeAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, _: &[NodeInfo]) -> Status {
        match RequiredNodeAffinity::of(&pod.pod().spec) {
            None => Status::skip(),
            Some(r) => {
                state.insert(FilterState(r));
                Status::success()
            }
        }
    }
}

impl FilterPlugin for NodeAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let fits = match state.get::<FilterState>() {
            Some(s) => s.0.matches(node.labels(), node.name()),
            // Called without its pre-filter (a user framework): compile on the spot.
            None => RequiredNodeAffinity::of(&pod.pod().spec)
                .is_none_or(|r| r.matches(node.labels(), node.name())),
        };
        if fits {
            Status::success()
        } else {
            Status::unresolvable(REASON)
        }
    }
}

impl PreScorePlugin for NodeAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[NodeInfo],
        _: &[usize],
    ) -> Status {
        let preferred: Vec<(i64, NodeSelectorMatcher)> = pod
            .pod()
            .spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .map(|na| {
                na.preferred_during_scheduling_ignored_during_execution
                    .iter()
                    .filter(|p| p.weight != 0)
                    .map(|p| {
                        (
                            i64::from(p.weight),
                            NodeSelectorMatcher::compile(&p.preference),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if preferred.is_empty() {
            return Status::skip();
        }
        state.insert(ScoreState(preferred));
        Status::success()
    }
}

impl ScorePlugin for NodeAffinity {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(s) = state.get::<ScoreState>() else {
            return Ok(0);
        };
        Ok(s.0
            .iter()
            .filter(|(_, t)| t.matches(node.labels(), node.name()))
            .map(|(w, _)| *w)
            .sum())
    }

    fn normalize(
        &self,
        _: &CycleState,
        _: &PodInfo,
        _: &[NodeInfo],
        scores: &mut [NodeScore],
    ) -> Status {
        default_normalize(scores, false);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};
    use serde_json::json;

    fn labelled(name: &str, labels: serde_json::Value) -> NodeInfo {
        node(json!({"metadata": {"name": name, "labels": labels}}))
    }

    fn fits(p: &PodInfo, n: &NodeInfo) -> bool {
        let mut cs = CycleState::new();
        if NodeAffinity.pre_filter(&mut cs, p, &[]).is_skip() {
            return true;
        }
        NodeAffinity.filter(&cs, p, n).is_success()
    }

    #[test]
    fn node_selector_needs_every_label() {
        let p = pod(json!({"nodeSelector": {"disk": "ssd", "zone": "a"}}));
        assert!(fits(
            &p,
            &labelled("n", json!({"disk": "ssd", "zone": "a", "x": "y"}))
        ));
        assert!(!fits(&p, &labelled("n", json!({"disk": "ssd"}))));
        let mut cs = CycleState::new();
        NodeAffinity.pre_filter(&mut cs, &p, &[]);
        assert_eq!(
            NodeAffinity.filter(&cs, &p, &labelled("n", json!({}))),
            Status::unresolvable("node(s) didn't match Pod's node affinity/selector")
        );
    }

    #[test]
    fn required_terms_are_ored_and_expressions_anded() {
        let p = pod(
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a", "b"]},
                    {"key": "gpu", "operator": "DoesNotExist"}
                ]},
                {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["16"]}]},
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]}
            ]}}}}),
        );
        assert!(fits(&p, &labelled("n", json!({"zone": "b"}))));
        assert!(!fits(&p, &labelled("n", json!({"zone": "b", "gpu": "1"}))));
        assert!(!fits(&p, &labelled("n", json!({"zone": "c"}))));
        assert!(fits(&p, &labelled("n", json!({"cores": "32"}))));
        assert!(!fits(&p, &labelled("n", json!({"cores": "8"}))));
        assert!(!fits(&p, &labelled("n", json!({"cores": "many"}))));
        assert!(fits(&p, &labelled("special", json!({}))));
    }

    #[test]
    fn not_in_and_lt_match_as_in_kubernetes_and_an_empty_term_matches_nothing() {
        let p = pod(
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "tier", "operator": "NotIn", "values": ["db"]},
                {"key": "load", "operator": "Lt", "values": ["5"]}
            ]}, {}]}}}}),
        );
        assert!(fits(&p, &labelled("n", json!({"load": "2"}))));
        assert!(!fits(
            &p,
            &labelled("n", json!({"tier": "db", "load": "2"}))
        ));
        assert!(!fits(&p, &labelled("n", json!({}))));
    }

    #[test]
    fn preferred_terms_score_by_weight_then_normalize() {
        let p = pod(
            json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 80, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
                {"weight": 20, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}}
            ]}}}),
        );
        let nodes = [
            labelled("a", json!({"disk": "ssd", "zone": "a"})),
            labelled("b", json!({"disk": "ssd"})),
            labelled("c", json!({"zone": "a"})),
            labelled("d", json!({})),
        ];
        let mut cs = CycleState::new();
        assert!(NodeAffinity
            .pre_score(&mut cs, &p, &nodes, &[0, 1, 2, 3])
            .is_success());
        let mut scores: Vec<NodeScore> = (0..4)
            .map(|i| NodeScore {
                node: i,
                score: NodeAffinity.score(&cs, &p, &nodes[i]).unwrap(),
            })
            .collect();
        assert_eq!(
            scores.iter().map(|s| s.score).collect::<Vec<_>>(),
            [100, 80, 20, 0]
        );
        NodeAffinity.normalize(&cs, &p, &nodes, &mut scores);
        assert_eq!(
            scores.iter().map(|s| s.score).collect::<Vec<_>>(),
            [100, 80, 20, 0]
        );
        assert!(NodeAffinity
            .pre_score(&mut CycleState::new(), &pod(json!({})), &nodes, &[0])
            .is_skip());
    }
}
