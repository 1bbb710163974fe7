//! `NodeResourcesFit`: the pod's requests must fit what the node has left; scoring spreads
//! load (LeastAllocated, the default) or packs it (MostAllocated).

use crate::api::resources::{Resources, CPU, EPHEMERAL_STORAGE, MEMORY};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    ClusterEvents, CycleState, FilterPlugin, Plugin, PodInfo, ScorePlugin, Status, MAX_NODE_SCORE,
};
use std::borrow::Cow;

/// How [`NodeResourcesFit`] scores a node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScoringStrategy {
    /// Prefer the node with the most left after placing the pod: per resource
    /// `(allocatable - requested) * 100 / allocatable`, weighted mean. Spreads pods.
    #[default]
    LeastAllocated,
    /// Prefer the node with the least left: per resource `requested * 100 / allocatable`,
    /// weighted mean. Packs pods onto few nodes (bin packing, Agones' `Packed`).
    MostAllocated,
}

/// A resource the score looks at, resolved once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ResourceName {
    Cpu,
    Memory,
    EphemeralStorage,
    Other(String),
}

impl ResourceName {
    pub(crate) fn of(name: &str) -> ResourceName {
        match name {
            CPU => ResourceName::Cpu,
            MEMORY => ResourceName::Memory,
            EPHEMERAL_STORAGE => ResourceName::EphemeralStorage,
            other => ResourceName::Other(other.to_string()),
        }
    }

    pub(crate) fn get(&self, r: &Resources) -> i64 {
        match self {
            ResourceName::Cpu => r.cpu_millis,
            ResourceName::Memory => r.memory_bytes,
            ResourceName::EphemeralStorage => r.ephemeral_storage_bytes,
            ResourceName::Other(n) => r.extended.get(n.as_str()).copied().unwrap_or(0),
        }
    }

    /// CPU and memory are counted with kube-scheduler's defaults for containers that
    /// request none when spreading; other resources as requested.
    fn spread_counted(&self) -> bool {
        matches!(self, ResourceName::Cpu | ResourceName::Memory)
    }
}

/// Filter: rejects nodes where a requested resource exceeds what is left
/// (`Insufficient cpu`, `Insufficient memory`, `Insufficient <resource>`) or that already run
/// their maximum of pods (`Too many pods`). Score (weight 1): see [`ScoringStrategy`]; CPU and
/// memory weigh 1 each by default.
#[derive(Clone, Debug)]
pub struct NodeResourcesFit {
    strategy: ScoringStrategy,
    resources: Vec<(ResourceName, i64)>,
}

impl NodeResourcesFit {
    /// Scores CPU and memory, weight 1 each, with `strategy`.
    pub fn new(strategy: ScoringStrategy) -> Self {
        Self::with_resources(strategy, &[(CPU, 1), (MEMORY, 1)])
    }

    /// Scores the given resources with their weights.
    pub fn with_resources(strategy: ScoringStrategy, resources: &[(&str, i64)]) -> Self {
        NodeResourcesFit {
            strategy,
            resources: resources
                .iter()
                .map(|(n, w)| (ResourceName::of(n), *w))
                .collect(),
        }
    }

    /// The scoring strategy.
    pub fn strategy(&self) -> ScoringStrategy {
        self.strategy
    }
}

impl Default for NodeResourcesFit {
    fn default() -> Self {
        Self::new(ScoringStrategy::LeastAllocated)
    }
}

fn reject(status: &mut Status, reason: Cow<'static, str>) {
    if status.is_success() {
        *status = Status::unschedulable(reason);
    } else {
        *status = std::mem::replace(status, Status::success()).with_reason(reason);
    }
}

/// The reasons NodeResourcesFit gives, in the order it checks.
pub fn insufficient(pod: &Resources, node: &NodeInfo) -> Status {
    let (alloc, used) = (node.allocatable(), node.requested());
    let mut st = Status::success();
    if used.pods + 1 > alloc.pods {
        reject(&mut st, "Too many pods".into());
    }
    if pod.cpu_millis > 0 && pod.cpu_millis > alloc.cpu_millis - used.cpu_millis {
        reject(&mut st, "Insufficient cpu".into());
    }
    if pod.memory_bytes > 0 && pod.memory_bytes > alloc.memory_bytes - used.memory_bytes {
        reject(&mut st, "Insufficient memory".into());
    }
    if pod.ephemeral_storage_bytes > 0
        && pod.ephemeral_storage_bytes
            > alloc.ephemeral_storage_bytes - used.ephemeral_storage_bytes
    {
        reject(&mut st, "Insufficient ephemeral-storage".into());
    }
    for (name, want) in &pod.extended {
        if *want > 0 && *want > alloc.get(name) - used.get(name) {
            reject(&mut st, format!("Insufficient {name}").into());
        }
    }
    st
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &str {
        "NodeResourcesFit"
    }

    fn events(&self) -> ClusterEvents {
        ClusterEvents::ASSIGNED_POD_DELETED
            | ClusterEvents::NODE_ADDED
            | ClusterEvents::NODE_CHANGED
    }
}

impl FilterPlugin for NodeResourcesFit {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        insufficient(pod.requests(), node)
    }
}

impl ScorePlugin for NodeResourcesFit {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let (mut total, mut weights) = (0i64, 0i64);
        for (res, weight) in &self.resources {
            let (requested, capacity) = if res.spread_counted() {
                (
                    res.get(node.non_zero_requested()) + res.get(pod.non_zero_requests()),
                    res.get(node.allocatable()),
                )
            } else {
                let want = res.get(pod.requests());
                if want == 0 {
                    continue; // an extended resource the pod does not use
                }
                (
                    res.get(node.requested()) + want,
                    res.get(node.allocatable()),
                )
            };
            if capacity == 0 {
                continue;
            }
            let score = match self.strategy {
                ScoringStrategy::LeastAllocated if requested > capacity => 0,
                ScoringStrategy::LeastAllocated => {
                    (capacity - requested) * MAX_NODE_SCORE / capacity
                }
                ScoringStrategy::MostAllocated => {
                    requested.min(capacity) * MAX_NODE_SCORE / capacity
                }
            };
            total += score * weight;
            weights += weight;
        }
        Ok(if weights == 0 { 0 } else { total / weights })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, node_with_pods, pod};
    use serde_json::json;

    fn requests(cpu: &str, memory: &str) -> serde_json::Value {
        json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]})
    }

    fn sized(cpu: &str, memory: &str, pods: &str) -> serde_json::Value {
        json!({"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}}})
    }

    #[test]
    fn every_insufficient_resource_is_a_reason() {
        let n = node_with_pods(sized("2", "2Gi", "2"), &[requests("1500m", "1Gi")]);
        let cs = CycleState::new();
        let fit = NodeResourcesFit::default();
        assert!(fit
            .filter(&cs, &pod(requests("500m", "1Gi")), &n)
            .is_success());
        let st = fit.filter(&cs, &pod(requests("600m", "2Gi")), &n);
        assert_eq!(
            st,
            Status::unschedulable("Insufficient cpu").with_reason("Insufficient memory")
        );
        let full = node_with_pods(sized("2", "2Gi", "1"), &[requests("1m", "1")]);
        assert_eq!(
            fit.filter(&cs, &pod(json!({"containers": [{"name": "c"}]})), &full),
            Status::unschedulable("Too many pods")
        );
    }

    #[test]
    fn extended_resources_must_fit_too() {
        let n = node(
            json!({"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "1", "example.com/gpu": "1"}}}),
        );
        let p = pod(
            json!({"containers": [{"name": "c", "resources": {"limits": {"example.com/gpu": "2"}}}]}),
        );
        assert_eq!(
            NodeResourcesFit::default().filter(&CycleState::new(), &p, &n),
            Status::unschedulable("Insufficient example.com/gpu")
        );
    }

    #[test]
    fn least_allocated_prefers_emptier_nodes_and_most_allocated_fuller_ones() {
        let empty = node(sized("4", "4Gi", "110"));
        let busy = node_with_pods(sized("4", "4Gi", "110"), &[requests("2", "2Gi")]);
        let p = pod(requests("1", "1Gi"));
        let cs = CycleState::new();
        let least = NodeResourcesFit::new(ScoringStrategy::LeastAllocated);
        // (4-1)/4 = 75 for cpu and memory; busy: (4-3)/4 = 25.
        assert_eq!(least.score(&cs, &p, &empty).unwrap(), 75);
        assert_eq!(least.score(&cs, &p, &busy).unwrap(), 25);
        let most = NodeResourcesFit::new(ScoringStrategy::MostAllocated);
        assert_eq!(most.score(&cs, &p, &empty).unwrap(), 25);
        assert_eq!(most.score(&cs, &p, &busy).unwrap(), 75);
    }

    #[test]
    fn pods_without_requests_count_default_amounts_when_scoring() {
        let n = node(sized("1", "1000Mi", "110"));
        let p = pod(json!({"containers": [{"name": "c"}]}));
        // 100m of 1000m and 200Mi of 1000Mi left 90 and 80: mean 85.
        assert_eq!(
            NodeResourcesFit::default()
                .score(&CycleState::new(), &p, &n)
                .unwrap(),
            85
        );
    }
}
