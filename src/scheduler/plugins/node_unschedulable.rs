//! `NodeUnschedulable`: cordoned nodes take no new pods.

use super::taint_toleration::tolerates;
use crate::api::Taint;
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    ClusterEvents, CycleState, FilterPlugin, Plugin, PodInfo, Status,
};

/// The taint key a pod tolerates to be placed on a cordoned node anyway.
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// Rejects nodes with `spec.unschedulable: true`, unless the pod tolerates the
/// `node.kubernetes.io/unschedulable:NoSchedule` taint.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeUnschedulable;

/// The reason of a rejection.
pub const REASON: &str = "node(s) were unschedulable";

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &str {
        "NodeUnschedulable"
    }

    fn events(&self) -> ClusterEvents {
        ClusterEvents::NODE_ADDED | ClusterEvents::NODE_CHANGED
    }
}

impl FilterPlugin for NodeUnschedulable {
    fn may_reject(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> bool {
        node.unschedulable()
    }

    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if !node.unschedulable() {
            return Status::success();
        }
        let taint = Taint {
            key: UNSCHEDULABLE_TAINT.into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        if pod
            .pod()
            .spec
            .tolerations
            .iter()
            .any(|t| tolerates(t, &taint))
        {
            Status::success()
        } else {
            Status::unresolvable(REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn cordoned_nodes_reject_pods_without_the_toleration() {
        let cordoned = node(json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}}));
        let plain = pod(json!({}));
        let s = NodeUnschedulable.filter(&CycleState::new(), &plain, &cordoned);
        assert_eq!(s, Status::unresolvable("node(s) were unschedulable"));
        let tolerant = pod(json!({"tolerations": [
            {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}
        ]}));
        assert!(NodeUnschedulable
            .filter(&CycleState::new(), &tolerant, &cordoned)
            .is_success());
        let open = node(json!({"metadata": {"name": "n"}}));
        assert!(NodeUnschedulable
            .filter(&CycleState::new(), &plain, &open)
            .is_success());
    }
}
