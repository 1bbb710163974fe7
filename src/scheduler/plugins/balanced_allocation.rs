//! `NodeResourcesBalancedAllocation`: prefer nodes whose CPU and memory would be used in
//! the same proportion.

use super::node_resources_fit::ResourceName;
use crate::api::resources::{CPU, MEMORY};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    ClusterEvents, CycleState, Plugin, PodInfo, PreScorePlugin, ScorePlugin, Status, MAX_NODE_SCORE,
};

/// Score (weight 1): `(1 - standard deviation of the used fractions) * 100`, the fractions
/// being (requested + the pod's requests) / allocatable per resource (CPU and memory),
/// capped at 1. Skipped for pods that request neither.
#[derive(Clone, Debug)]
pub struct BalancedAllocation {
    resources: Vec<ResourceName>,
}

impl Default for BalancedAllocation {
    fn default() -> Self {
        BalancedAllocation {
            resources: vec![ResourceName::of(CPU), ResourceName::of(MEMORY)],
        }
    }
}

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
        if self.resources.iter().all(|r| r.get(pod.requests()) == 0) {
            Status::skip()
        } else {
            Status::success()
        }
    }
}

impl ScorePlugin for BalancedAllocation {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        // At most a handful of resources: fixed storage, no allocation.
        let mut fractions = [0f64; 8];
        let mut n = 0;
        for r in self.resources.iter().take(fractions.len()) {
            let alloc = r.get(node.allocatable());
            if alloc == 0 {
                continue;
            }
            let used = r.get(node.requested()) + r.get(pod.requests());
            fractions[n] = (used as f64 / alloc as f64).min(1.0);
            n += 1;
        }
        let f = &fractions[..n];
        let std = match n {
            0 | 1 => 0.0,
            2 => ((f[0] - f[1]) / 2.0).abs(),
            _ => {
                let mean = f.iter().sum::<f64>() / n as f64;
                (f.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64).sqrt()
            }
        };
        Ok(((1.0 - std) * MAX_NODE_SCORE as f64) as i64)
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
        assert_eq!(
            BalancedAllocation::default().score(&cs, &even, &n).unwrap(),
            100
        );
        // cpu 1.0, memory 0.25: std 0.375 -> 62.
        let skewed = pod(
            json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "4", "memory": "1Gi"}}}]}),
        );
        assert_eq!(
            BalancedAllocation::default()
                .score(&cs, &skewed, &n)
                .unwrap(),
            62
        );
        let none = pod(json!({"containers": [{"name": "c"}]}));
        assert!(BalancedAllocation::default()
            .pre_score(&mut CycleState::new(), &none, &[], &[])
            .is_skip());
    }
}
