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

use super::cache::NodeInfo;
use super::framework::{NodeScore, Status, MAX_NODE_SCORE};

/// The batch filter of a plugin whose nodes mostly pass a cheap test: `decide` (the plugin's
/// own filter) runs only for the alive candidates `suspect` flags; the others pass.
#[inline]
pub(crate) fn filter_suspects(
    nodes: &[NodeInfo],
    candidates: &[usize],
    alive: &mut u64,
    rejected: &mut Vec<(usize, Status)>,
    suspect: impl Fn(&NodeInfo) -> bool,
    decide: impl Fn(&NodeInfo) -> Status,
) {
    let mut bits = *alive;
    while bits != 0 {
        let i = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        let n = candidates[i];
        let node = &nodes[n];
        if suspect(node) {
            let st = decide(node);
            if !st.is_success() {
                *alive &= !(1u64 << i);
                rejected.push((n, st));
            }
        }
    }
}

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
