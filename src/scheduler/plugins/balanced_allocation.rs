//! `NodeResourcesBalancedAllocation`: prefer nodes whose CPU and memory would be used in
//! the same proportion.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    ClusterEvents, CycleState, NodeScore, Plugin, PodInfo, PreScorePlugin, ScorePlugin, Status,
    MAX_NODE_SCORE,
};

/// Score (weight 1): `(1 - standard deviation of the used fractions) * 100`, the fractions
/// being (requested + the pod's requests) / allocatable for CPU and for memory, capped at 1.
/// Skipped for pods that request neither.
#[derive(Clone, Copy, Debug, Default)]
pub struct BalancedAllocation;

impl Plugin for BalancedAllocation {
    fn name(&self) -> &str {
        "NodeResourcesBalancedAllocation"
    }

    fn events(&self) -> ClusterEvents {
        ClusterEvents::ASSIGNED_POD_DELETED
            | ClusterEvents::NODE_ADDED
            | ClusterEvents::NODE_CHANGED
    }
}

impl PreScorePlugin for BalancedAllocation {
    fn pre_score(&self, _: &mut CycleState, pod: &PodInfo, _: &[NodeInfo], _: &[usize]) -> Status {
        let r = pod.requests();
        if r.cpu_millis == 0 && r.memory_bytes == 0 {
            Status::skip()
        } else {
            Status::success()
        }
    }
}

impl ScorePlugin for BalancedAllocation {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        Ok(balance(pod, node))
    }

    fn score_nodes(
        &self,
        _: &CycleState,
        pod: &PodInfo,
        nodes: &[NodeInfo],
        scores: &mut [NodeScore],
    ) -> Result<(), Status> {
        for s in scores.iter_mut() {
            s.score = balance(pod, &nodes[s.node]);
        }
        Ok(())
    }
}

#[inline]
fn balance(pod: &PodInfo, node: &NodeInfo) -> i64 {
    {
        let want = pod.requests();
        let fraction =
            |used: i64, alloc: i64| (alloc != 0).then(|| (used as f64 / alloc as f64).min(1.0));
        let cpu = fraction(node.req_cpu + want.cpu_millis, node.alloc_cpu);
        let mem = fraction(node.req_mem + want.memory_bytes, node.alloc_mem);
        // With two resources the standard deviation is half their difference.
        let std = match (cpu, mem) {
            (Some(c), Some(m)) => ((c - m) / 2.0).abs(),
            _ => 0.0,
        };
        ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn equal_fractions_score_100_and_skew_lowers_it() {
        let n = node(
            json!({"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "4", "memory": "4Gi"}}}),
        );
        let cs = CycleState::new();
        let even = pod(
            json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "2", "memory": "2Gi"}}}]}),
        );
        assert_eq!(BalancedAllocation.score(&cs, &even, &n).unwrap(), 100);
        // cpu 1.0, memory 0.25: std 0.375 -> 62.
        let skewed = pod(
            json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "4", "memory": "1Gi"}}}]}),
        );
        assert_eq!(BalancedAllocation.score(&cs, &skewed, &n).unwrap(), 62);
        let none = pod(json!({"containers": [{"name": "c"}]}));
        assert!(BalancedAllocation
            .pre_score(&mut CycleState::new(), &none, &[], &[])
            .is_skip());
    }
}
