//! The default plugins, one file each, and helpers plugins share.
//!
//! | plugin | extension points | score weight |
//! |---|---|---|
//! | [`PrioritySort`] | queue sort | - |
//! | [`NodeUnschedulable`] | filter | - |
//! | [`NodeName`] | pre-filter, filter | - |
//! | [`TaintToleration`] | filter, pre-score, score | 3 |
//! | [`NodeAffinity`] | pre-filter, filter, pre-score, score | 2 |
//! | [`NodePorts`] | pre-filter, filter | - |
//! | [`NodeResourcesFit`] | filter, score | 1 |
//! | [`PodTopologySpread`] | pre-filter, filter, pre-score, score | 2 |
//! | [`InterPodAffinity`] | pre-filter, filter, pre-score, score | 2 |
//! | [`BalancedAllocation`] (`NodeResourcesBalancedAllocation`) | pre-score, score | 1 |
//! | [`DefaultPreemption`] | post-filter | - |
//! | [`DefaultBinder`] | bind | - |

mod balanced_allocation;
mod default_binder;
pub mod default_preemption;
pub(crate) mod inter_pod_affinity;
mod node_affinity;
mod node_name;
mod node_ports;
mod node_resources_fit;
mod node_unschedulable;
mod pod_topology_spread;
mod queue_sort;
pub mod taint_toleration;
#[cfg(test)]
pub(crate) mod testing;

pub use balanced_allocation::BalancedAllocation;
pub use default_binder::DefaultBinder;
pub use default_preemption::DefaultPreemption;
pub use inter_pod_affinity::InterPodAffinity;
pub use node_affinity::NodeAffinity;
pub use node_name::NodeName;
pub use node_ports::NodePorts;
pub use node_resources_fit::{insufficient, NodeResourcesFit, ScoringStrategy};
pub use node_unschedulable::{NodeUnschedulable, UNSCHEDULABLE_TAINT};
pub use pod_topology_spread::{PodTopologySpread, HOSTNAME_LABEL};
pub use queue_sort::PrioritySort;
pub use taint_toleration::{tolerates, TaintToleration};

use super::framework::{NodeScore, MAX_NODE_SCORE};

/// kube-scheduler's `DefaultNormalizeScore`: scales the scores so the highest becomes 100
/// (all 0 stay 0); with `reverse`, a lower raw score is better (`100 - scaled`).
pub fn default_normalize(scores: &mut [NodeScore], reverse: bool) {
    let max = scores.iter().map(|s| s.score).max().unwrap_or(0);
    if max == 0 {
        if reverse {
            for s in scores.iter_mut() {
                s.score = MAX_NODE_SCORE;
            }
        }
        return;
    }
    for s in scores.iter_mut() {
        let scaled = MAX_NODE_SCORE * s.score / max;
        s.score = if reverse {
            MAX_NODE_SCORE - scaled
        } else {
            scaled
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Node, Pod};
    use crate::scheduler::cache::NodeInfo;
    use crate::scheduler::framework::{CycleState, FilterPlugin, PodInfo, FILTER_BATCH};
    use serde_json::json;
    use std::sync::Arc;

    /// The batch filter of each plugin that narrows it with `may_reject` decides every node
    /// exactly as its `filter` does: tainted, cordoned, full and roomy nodes alike.
    #[test]
    fn batch_filters_decide_as_filter_does() {
        let node = |name: &str, spec: serde_json::Value, pods: &str| {
            let n: Node = serde_json::from_value(json!({
                "metadata": {"name": name},
                "spec": spec,
                "status": {"allocatable": {"cpu": "1", "memory": "1Gi", "pods": pods}}
            }))
            .unwrap();
            NodeInfo::new(Arc::new(n))
        };
        let taint = json!({"taints": [{"key": "k", "effect": "NoSchedule"}]});
        let mut nodes = vec![
            node("plain", json!({}), "10"),
            node("tainted", taint.clone(), "10"),
            node("cordoned", json!({"unschedulable": true}), "10"),
            node("no-pods", json!({}), "0"),
        ];
        let mut busy = node("busy", json!({}), "10");
        let hog: Pod = serde_json::from_value(json!({
            "metadata": {"name": "hog", "namespace": "default", "uid": "u-hog"},
            "spec": {"containers": [{"name": "c",
                "resources": {"requests": {"cpu": "900m", "memory": "900Mi"}}}]}
        }))
        .unwrap();
        busy.add_pod(Arc::new(PodInfo::new(Arc::new(hog))));
        nodes.push(busy);
        let pods: Vec<PodInfo> = [
            json!({"containers": [{"name": "c"}]}),
            json!({"containers": [{"name": "c",
                "resources": {"requests": {"cpu": "500m", "memory": "64Mi"}}}]}),
            json!({"containers": [{"name": "c",
                "resources": {"requests": {"ephemeral-storage": "1Gi"}}}],
                "tolerations": [{"key": "k", "operator": "Exists"}]}),
        ]
        .into_iter()
        .map(|spec| {
            let p: Pod = serde_json::from_value(json!({
                "metadata": {"name": "p", "namespace": "default"}, "spec": spec
            }))
            .unwrap();
            PodInfo::new(Arc::new(p))
        })
        .collect();
        let plugins: Vec<Arc<dyn FilterPlugin>> = vec![
            Arc::new(TaintToleration),
            Arc::new(NodeUnschedulable),
            Arc::new(NodeResourcesFit::default()),
        ];
        let state = CycleState::default();
        let candidates: Vec<usize> = (0..nodes.len()).collect();
        assert!(candidates.len() <= FILTER_BATCH);
        for plugin in &plugins {
            for pod in &pods {
                let mut alive = (1u64 << nodes.len()) - 1;
                let mut rejected = Vec::new();
                plugin.filter_nodes(&state, pod, &nodes, &candidates, &mut alive, &mut rejected);
                for (i, n) in nodes.iter().enumerate() {
                    let st = plugin.filter(&state, pod, n);
                    let batch = rejected.iter().find(|(j, _)| *j == i);
                    assert_eq!(
                        alive & (1 << i) != 0,
                        st.is_success(),
                        "{} on node {}",
                        plugin.name(),
                        n.name()
                    );
                    assert_eq!(
                        batch.map(|(_, s)| s.reasons()),
                        (!st.is_success()).then(|| st.reasons())
                    );
                }
            }
        }
        assert!(
            plugins.iter().any(|p| pods
                .iter()
                .any(|pod| nodes.iter().any(|n| !p.filter(&state, pod, n).is_success()))),
            "some node is rejected, or the test shows nothing"
        );
    }

    fn scores(v: &[i64]) -> Vec<NodeScore> {
        v.iter()
            .enumerate()
            .map(|(node, &score)| NodeScore { node, score })
            .collect()
    }

    #[test]
    fn default_normalize_scales_to_100_and_reverses() {
        let mut s = scores(&[2, 4, 0]);
        default_normalize(&mut s, false);
        assert_eq!(s.iter().map(|x| x.score).collect::<Vec<_>>(), [50, 100, 0]);
        let mut s = scores(&[2, 4, 0]);
        default_normalize(&mut s, true);
        assert_eq!(s.iter().map(|x| x.score).collect::<Vec<_>>(), [50, 0, 100]);
        let mut s = scores(&[0, 0]);
        default_normalize(&mut s, true);
        assert_eq!(s.iter().map(|x| x.score).collect::<Vec<_>>(), [100, 100]);
    }
}
