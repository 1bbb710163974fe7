//! `NodeResourcesFit`: the pod's requests must fit what the node has left; scoring spreads
//! load (LeastAllocated, the default) or packs it (MostAllocated).

use crate::api::resources::{Resources, CPU, EPHEMERAL_STORAGE, MEMORY};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    ClusterEvents, CycleState, FilterPlugin, NodeScore, Plugin, PodInfo, ScorePlugin, Status,
    MAX_NODE_SCORE,
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

    #[inline]
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
    /// `resources` is CPU and memory at weight 1 each (the default).
    cpu_and_memory: bool,
}

impl NodeResourcesFit {
    /// Scores CPU and memory, weight 1 each, with `strategy`.
    pub fn new(strategy: ScoringStrategy) -> Self {
        Self::with_resources(strategy, &[(CPU, 1), (MEMORY, 1)])
    }

    /// Scores the given resources with their weights.
    pub fn with_resources(strategy: ScoringStrategy, resources: &[(&str, i64)]) -> Self {
        let resources: Vec<(ResourceName, i64)> = resources
            .iter()
            .map(|(n, w)| (ResourceName::of(n), *w))
            .collect();
        NodeResourcesFit {
            strategy,
            cpu_and_memory: resources == [(ResourceName::Cpu, 1), (ResourceName::Memory, 1)],
            resources,
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

    fn may_reject(&self, _: &CycleState, pod: &PodInfo, n: &NodeInfo) -> bool {
        let want = pod.requests();
        // Only pods, CPU and memory can be checked from the inline figures; anything else
        // takes the full check for every node.
        let simple = want.ephemeral_storage_bytes <= 0 && want.extended.is_empty();
        let (cpu, mem) = (want.cpu_millis, want.memory_bytes);
        !simple
            || n.req_pods >= n.alloc_pods
            || (cpu > 0 && cpu > n.alloc_cpu - n.req_cpu)
            || (mem > 0 && mem > n.alloc_mem - n.req_mem)
    }
}

impl ScorePlugin for NodeResourcesFit {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        Ok(self.node_score(pod, node))
    }

    fn score_nodes(
        &self,
        _: &CycleState,
        pod: &PodInfo,
        nodes: &[NodeInfo],
        scores: &mut [NodeScore],
    ) -> Result<(), Status> {
        for s in scores.iter_mut() {
            s.score = self.node_score(pod, &nodes[s.node]);
        }
        Ok(())
    }
}

impl NodeResourcesFit {
    #[inline(always)]
    fn node_score(&self, pod: &PodInfo, node: &NodeInfo) -> i64 {
        if self.cpu_and_memory {
            // The default profile, without the generic loop: this runs for every node
            // examined.
            let pnz = pod.non_zero_requests();
            let cpu = (node.nz_cpu + pnz.cpu_millis, node.alloc_cpu);
            let mem = (node.nz_mem + pnz.memory_bytes, node.alloc_mem);
            let score = |(requested, capacity): (i64, i64)| {
                (capacity != 0).then(|| self.resource_score(requested, capacity))
            };
            // Constant divisors: no integer division instruction on this path.
            return match (score(cpu), score(mem)) {
                (Some(c), Some(m)) => (c + m) / 2,
                (Some(x), None) | (None, Some(x)) => x,
                (None, None) => 0,
            };
        }
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
            total += self.resource_score(requested, capacity) * weight;
            weights += weight;
        }
        if weights == 0 {
            0
        } else {
            total / weights
        }
    }

    /// One resource's score, `capacity` > 0.
    #[inline]
    fn resource_score(&self, requested: i64, capacity: i64) -> i64 {
        match self.strategy {
            ScoringStrategy::LeastAllocated if requested > capacity => 0,
            ScoringStrategy::LeastAllocated => percent_floor(capacity - requested, capacity),
            ScoringStrategy::MostAllocated => percent_floor(requested.min(capacity), capacity),
        }
    }
}

/// `part * 100 / whole` rounded down, as kube-scheduler's integer arithmetic computes it, for
/// `0 <= part <= whole`, `whole > 0`.
///
/// A float division is several times cheaper than a 64-bit integer one and gives the same
/// result while `whole` is below 2^53 / 100 (about 90 TB of memory in bytes): the quotient
/// is then either exact or at least `1 / whole` away from the next integer, more than the
/// division's rounding error, so truncation lands on the same integer.
#[inline]
pub(crate) fn percent_floor(part: i64, whole: i64) -> i64 {
    const EXACT_BELOW: i64 = (1 << 53) / 100;
    if whole < EXACT_BELOW {
        (part as f64 * MAX_NODE_SCORE as f64 / whole as f64) as i64
    } else {
        (i128::from(part) * i128::from(MAX_NODE_SCORE) / i128::from(whole)) as i64
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
    fn float_percentages_round_down_like_integer_arithmetic() {
        let cases = [
            (3, 4),
            (1, 3),
            (2, 3),
            (99_999, 100_000),
            (32 * (1 << 30) - 1, 32 * (1 << 30)),
            (7 * (1 << 30), 32 * (1 << 30)),
            (0, 5),
            (5, 5),
            (i64::MAX / 200, i64::MAX / 100),
        ];
        for (part, whole) in cases {
            let exact = (i128::from(part) * 100 / i128::from(whole)) as i64;
            assert_eq!(percent_floor(part, whole), exact, "{part}/{whole}");
        }
        for whole in 1..2000 {
            for part in 0..=whole {
                assert_eq!(percent_floor(part, whole), part * 100 / whole);
            }
        }
    }

    #[test]
    fn a_weighted_resource_list_scores_like_the_default_for_cpu_and_memory() {
        let n = node_with_pods(sized("4", "4Gi", "110"), &[requests("1", "3Gi")]);
        let p = pod(requests("500m", "512Mi"));
        let cs = CycleState::new();
        for strategy in [
            ScoringStrategy::LeastAllocated,
            ScoringStrategy::MostAllocated,
        ] {
            let fast = NodeResourcesFit::new(strategy);
            // Same resources, listed the other way round: the generic loop.
            let generic = NodeResourcesFit::with_resources(strategy, &[("memory", 1), ("cpu", 1)]);
            assert_eq!(
                fast.score(&cs, &p, &n).unwrap(),
                generic.score(&cs, &p, &n).unwrap()
            );
        }
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
