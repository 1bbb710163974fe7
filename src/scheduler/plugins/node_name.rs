//! `NodeName`: a pod that names its node fits only that node.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    ClusterEvents, CycleState, FilterPlugin, Plugin, PodInfo, PreFilterPlugin, Status,
};

/// Rejects every node but the one in `spec.nodeName`. (The scheduler only takes pods without
/// a node name, so this matters to user frameworks that run the filters themselves.)
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeName;

/// The reason of a rejection.
pub const REASON: &str = "node(s) didn't match the requested node name";

impl Plugin for NodeName {
    fn name(&self) -> &str {
        "NodeName"
    }

    fn events(&self) -> ClusterEvents {
        ClusterEvents::NODE_ADDED | ClusterEvents::NODE_CHANGED
    }
}

impl PreFilterPlugin for NodeName {
    fn pre_filter(&self, _: &mut CycleState, pod: &PodInfo, _: &[NodeInfo]) -> Status {
        match pod.pod().spec.node_name.as_deref() {
            Some(n) if !n.is_empty() => Status::success(),
            _ => Status::skip(),
        }
    }
}

impl FilterPlugin for NodeName {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match pod.pod().spec.node_name.as_deref() {
            Some(n) if !n.is_empty() && n != node.name() => Status::unresolvable(REASON),
            _ => Status::success(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn only_the_named_node_fits() {
        let p = pod(json!({"nodeName": "b"}));
        let cs = CycleState::new();
        assert!(NodeName
            .pre_filter(&mut CycleState::new(), &p, &[])
            .is_success());
        assert!(NodeName
            .filter(&cs, &p, &node(json!({"metadata": {"name": "b"}})))
            .is_success());
        assert_eq!(
            NodeName.filter(&cs, &p, &node(json!({"metadata": {"name": "a"}}))),
            Status::unresolvable(REASON)
        );
        assert!(NodeName
            .pre_filter(&mut CycleState::new(), &pod(json!({})), &[])
            .is_skip());
    }
}
