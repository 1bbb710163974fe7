//! The [`Node`] kind (cluster-scoped): a machine pods run on, the [`Taint`]s that repel pods,
//! and its observed capacity, conditions and addresses.

use super::ResourceList;
use crate::api::validation::{check_enum, required};
use crate::api::{ApiVersion, Condition, Extra, FieldError, Kind, Map, ObjectMeta, Time};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

/// A Node (core/v1, cluster-scoped): a machine pods run on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct Node {
    /// `apiVersion`: always `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `Node`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default)]
    pub spec: NodeSpec,
    /// Observed state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<NodeStatus>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    Node,
    api_version = "v1",
    kind = "Node",
    plural = "nodes",
    namespaced = false,
    spec = [spec, extra],
    status = [status],
    validate = validate_node
);

/// Admission checks of a [`Node`]: taints have a key and a known effect, unique per
/// key and effect.
pub fn validate_node(node: &Node, errors: &mut Vec<FieldError>) {
    let mut seen = BTreeSet::new();
    for (i, t) in node.spec.taints.iter().enumerate() {
        let path = format!("spec.taints[{i}]");
        if t.key.is_empty() {
            errors.push(required(format!("{path}.key"), ""));
        }
        if t.effect.is_empty() {
            errors.push(required(format!("{path}.effect"), ""));
        } else {
            check_enum(errors, format!("{path}.effect"), &t.effect, TAINT_EFFECTS);
        }
        if !seen.insert((t.key.as_str(), t.effect.as_str())) {
            errors.push(FieldError::new(
                path,
                format!(
                    "Duplicate value: taints must be unique by key and effect ({}:{})",
                    t.key, t.effect
                ),
            ));
        }
    }
}

pub(super) const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// A node's desired state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    /// Cordoned: no new pods are scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unschedulable: Option<bool>,
    /// Taints repelling pods that do not tolerate them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
    /// Pod IP range of the node.
    #[serde(rename = "podCIDR", default, skip_serializing_if = "Option::is_none")]
    pub pod_cidr: Option<String>,
    /// Id of the node at its infrastructure provider.
    #[serde(
        rename = "providerID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_id: Option<String>,
    /// Unmodelled fields (podCIDRs...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A taint of a node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    /// Key.
    #[serde(default)]
    pub key: String,
    /// Value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    #[serde(default)]
    pub effect: String,
    /// When a `NoExecute` taint was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added: Option<Time>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A node's observed state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// Total resources of the node.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub capacity: ResourceList,
    /// Resources available to pods.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub allocatable: ResourceList,
    /// `Ready`, `MemoryPressure`, `DiskPressure`...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Addresses of the node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<NodeAddress>,
    /// Versions of the kubelet, runtime, OS..., as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_info: Option<Value>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An address of a node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeAddress {
    /// `Hostname`, `InternalIP`, `ExternalIP`, `InternalDNS` or `ExternalDNS`.
    #[serde(rename = "type", default)]
    pub type_: String,
    /// The address.
    #[serde(default)]
    pub address: String,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::super::tests::round_trip;
    use super::*;
    use crate::api::core::*;
    use crate::api::Object;
    use serde_json::json;

    #[test]
    fn node_is_cluster_scoped_and_round_trips() {
        use crate::api::Resource;
        let scopes = [Node::NAMESPACED, Namespace::NAMESPACED, Pod::NAMESPACED];
        assert_eq!(scopes, [false, false, true]);
        let v = json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
            "spec": {
                "podCIDR": "10.244.0.0/24",
                "podCIDRs": ["10.244.0.0/24"],
                "providerID": "kind://docker/kind/node-1",
                "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
            },
            "status": {
                "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                "allocatable": {"cpu": "7800m", "memory": "15Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
                "nodeInfo": {"kubeletVersion": "v1.30.0"}
            }
        });
        let node: Node = round_trip(v);
        assert_eq!(node.spec.pod_cidr.as_deref(), Some("10.244.0.0/24"));
        let mut errors = Vec::new();
        node.validate(&mut errors);
        assert_eq!(errors, vec![]);
    }
}
