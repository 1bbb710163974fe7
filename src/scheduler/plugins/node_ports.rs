//! `NodePorts`: host ports are exclusive per node.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    ClusterEvents, CycleState, FilterPlugin, Plugin, PodInfo, PreFilterPlugin, Status,
};

/// Rejects nodes where a host port the pod asks for is already bound by another pod (same
/// port and protocol, on the same IP or the wildcard `0.0.0.0`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodePorts;

/// The reason of a rejection.
pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

impl Plugin for NodePorts {
    fn name(&self) -> &str {
        "NodePorts"
    }

    fn events(&self) -> ClusterEvents {
        ClusterEvents::ASSIGNED_POD_DELETED
            | ClusterEvents::NODE_ADDED
            | ClusterEvents::NODE_CHANGED
    }
}

impl PreFilterPlugin for NodePorts {
    fn pre_filter(&self, _: &mut CycleState, pod: &PodInfo, _: &[NodeInfo]) -> Status {
        if pod.host_ports().is_empty() {
            Status::skip()
        } else {
            Status::success()
        }
    }
}

impl FilterPlugin for NodePorts {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let used = node.used_ports();
        let clash = pod
            .host_ports()
            .iter()
            .any(|want| used.iter().any(|u| u.conflicts(want)));
        if clash {
            Status::unschedulable(REASON)
        } else {
            Status::success()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node_with_pods, pod};
    use serde_json::json;

    fn port(host: i32, ip: Option<&str>) -> serde_json::Value {
        let mut p = json!({"name": "c", "ports": [{"containerPort": 80, "hostPort": host}]});
        if let Some(ip) = ip {
            p["ports"][0]["hostIP"] = ip.into();
        }
        json!({"containers": [p]})
    }

    #[test]
    fn a_host_port_in_use_rejects_the_node() {
        let n = node_with_pods(
            json!({"metadata": {"name": "n"}}),
            &[port(8080, Some("10.0.0.1"))],
        );
        let cs = CycleState::new();
        assert_eq!(
            NodePorts.filter(&cs, &pod(port(8080, None)), &n),
            Status::unschedulable(REASON),
            "the wildcard overlaps every IP"
        );
        assert!(NodePorts
            .filter(&cs, &pod(port(8080, Some("10.0.0.2"))), &n)
            .is_success());
        assert!(NodePorts
            .filter(&cs, &pod(port(9090, None)), &n)
            .is_success());
        assert!(NodePorts
            .pre_filter(&mut CycleState::new(), &pod(json!({})), &[])
            .is_skip());
    }
}
