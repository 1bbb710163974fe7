//! Where a pod may run: its [`Toleration`]s of node taints, node [`Affinity`] (hard and soft
//! node selector terms) and [`TopologySpreadConstraint`]s, with their admission checks.
//! Inter-pod affinity is in `pod_affinity`; matching a node against these terms is
//! [`crate::api::node_affinity`]'s.

use super::{PodAffinity, PodAntiAffinity, Taint, TAINT_EFFECTS};
use crate::api::validation::{check_enum, required};
use crate::api::{Extra, FieldError, LabelSelector};
use serde::{Deserialize, Serialize};

/// A taint the pod tolerates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Toleration {
    /// Taint key; empty with operator `Exists` tolerates everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `Equal` (the default) or `Exists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Taint value, for operator `Equal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`; empty matches all effects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    /// For `NoExecute`: seconds the pod stays bound after the taint appears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Scheduling affinity of a pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Affinity {
    /// Constraints on the node's labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<NodeAffinity>,
    /// Co-location with other pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_affinity: Option<PodAffinity>,
    /// Separation from other pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_anti_affinity: Option<PodAntiAffinity>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Node affinity: hard and soft constraints on the node a pod runs on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeAffinity {
    /// Hard constraint: the node must match one of the terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_during_scheduling_ignored_during_execution: Option<NodeSelector>,
    /// Soft constraints: nodes matching heavier terms are preferred.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred_during_scheduling_ignored_during_execution: Vec<PreferredSchedulingTerm>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A node selector: the terms are ORed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeSelector {
    /// The terms; at least one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_selector_terms: Vec<NodeSelectorTerm>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A node selector term: every requirement must hold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorTerm {
    /// Requirements on node labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<NodeSelectorRequirement>,
    /// Requirements on node fields (`metadata.name`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_fields: Vec<NodeSelectorRequirement>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One requirement of a node selector term: `key operator values`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorRequirement {
    /// Label key (or field name).
    #[serde(default)]
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt` or `Lt`.
    #[serde(default)]
    pub operator: String,
    /// Values: several for `In`/`NotIn`, none for `Exists`/`DoesNotExist`, one integer for
    /// `Gt`/`Lt`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A weighted soft node affinity term.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PreferredSchedulingTerm {
    /// Weight, 1 to 100.
    #[serde(default)]
    pub weight: i32,
    /// The term.
    #[serde(default)]
    pub preference: NodeSelectorTerm,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// How matching pods spread across a topology (zones, nodes).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TopologySpreadConstraint {
    /// Largest allowed difference of matching pods between two domains (>= 1).
    #[serde(default)]
    pub max_skew: i32,
    /// Node label whose values are the domains.
    #[serde(default)]
    pub topology_key: String,
    /// `DoNotSchedule` or `ScheduleAnyway`.
    #[serde(default)]
    pub when_unsatisfiable: String,
    /// Which pods are counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Unmodelled fields (minDomains, matchLabelKeys...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl Toleration {
    /// Whether this toleration tolerates `taint` (Kubernetes' rules: an empty effect matches
    /// every effect; an empty key with `Exists` matches every taint; `Equal` (the default)
    /// compares values, `Exists` ignores them).
    pub fn tolerates(&self, taint: &Taint) -> bool {
        let effect = self.effect.as_deref().unwrap_or("");
        if !effect.is_empty() && effect != taint.effect {
            return false;
        }
        let key = self.key.as_deref().unwrap_or("");
        if !key.is_empty() && key != taint.key {
            return false;
        }
        match self.operator.as_deref().unwrap_or("Equal") {
            "Exists" => true,
            "Equal" | "" => {
                self.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
            }
            _ => false,
        }
    }

    pub(super) fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        let key_empty = self.key.as_deref().unwrap_or("").is_empty();
        match self.operator.as_deref() {
            None | Some("Equal") => {
                if key_empty {
                    errors.push(FieldError::new(
                        format!("{path}.operator"),
                        "Invalid value: operator must be Exists when `key` is empty",
                    ));
                }
            }
            Some("Exists") => {
                if !self.value.as_deref().unwrap_or("").is_empty() {
                    errors.push(FieldError::new(
                        format!("{path}.value"),
                        "Invalid value: value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            Some(op) => check_enum(errors, format!("{path}.operator"), op, &["Equal", "Exists"]),
        }
        let effect = self.effect.as_deref().unwrap_or("");
        if !effect.is_empty() {
            check_enum(errors, format!("{path}.effect"), effect, TAINT_EFFECTS);
        }
        if self.toleration_seconds.is_some() && effect != "NoExecute" {
            errors.push(FieldError::new(
                format!("{path}.effect"),
                "Invalid value: effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
    }
}

impl NodeAffinity {
    pub(super) fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        if let Some(req) = &self.required_during_scheduling_ignored_during_execution {
            let p =
                format!("{path}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
            if req.node_selector_terms.is_empty() {
                errors.push(FieldError::new(
                    &p,
                    "Required value: must have at least one node selector term",
                ));
            }
            for (i, t) in req.node_selector_terms.iter().enumerate() {
                t.validate(&format!("{p}[{i}]"), errors);
            }
        }
        for (i, t) in self
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .enumerate()
        {
            let p = format!("{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
            if !(1..=100).contains(&t.weight) {
                errors.push(FieldError::new(
                    format!("{p}.weight"),
                    format!("Invalid value: {}: must be in the range 1-100", t.weight),
                ));
            }
            t.preference.validate(&format!("{p}.preference"), errors);
        }
    }
}

impl NodeSelectorTerm {
    pub(super) fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        let reqs = self
            .match_expressions
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("{path}.matchExpressions[{i}]"), r))
            .chain(
                self.match_fields
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (format!("{path}.matchFields[{i}]"), r)),
            );
        for (p, r) in reqs {
            if r.key.is_empty() {
                errors.push(required(format!("{p}.key"), ""));
            }
            let values_ok = match r.operator.as_str() {
                "In" | "NotIn" => !r.values.is_empty(),
                "Exists" | "DoesNotExist" => r.values.is_empty(),
                "Gt" | "Lt" => r.values.len() == 1 && r.values[0].parse::<i64>().is_ok(),
                op => {
                    check_enum(
                        errors,
                        format!("{p}.operator"),
                        op,
                        &["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"],
                    );
                    true
                }
            };
            if !values_ok {
                errors.push(FieldError::new(
                    format!("{p}.values"),
                    format!(
                        "Invalid value: wrong number or form of values for operator {:?}",
                        r.operator
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::core::*;

    #[test]
    fn tolerations_match_taints_by_key_value_and_effect() {
        let taint = |k: &str, v: Option<&str>, e: &str| Taint {
            key: k.into(),
            value: v.map(Into::into),
            effect: e.into(),
            ..Default::default()
        };
        let tol =
            |k: Option<&str>, op: Option<&str>, v: Option<&str>, e: Option<&str>| Toleration {
                key: k.map(Into::into),
                operator: op.map(Into::into),
                value: v.map(Into::into),
                effect: e.map(Into::into),
                ..Default::default()
            };
        let gpu = taint("gpu", Some("yes"), "NoSchedule");
        assert!(tol(Some("gpu"), None, Some("yes"), Some("NoSchedule")).tolerates(&gpu));
        assert!(!tol(Some("gpu"), None, Some("no"), Some("NoSchedule")).tolerates(&gpu));
        assert!(tol(Some("gpu"), Some("Exists"), None, None).tolerates(&gpu));
        assert!(!tol(Some("gpu"), Some("Exists"), None, Some("NoExecute")).tolerates(&gpu));
        assert!(
            tol(None, Some("Exists"), None, None).tolerates(&gpu),
            "tolerates everything"
        );
        assert!(!tol(Some("other"), Some("Exists"), None, None).tolerates(&gpu));
        let unreachable = taint("node.kubernetes.io/unreachable", None, "NoExecute");
        assert!(tol(
            Some("node.kubernetes.io/unreachable"),
            Some("Exists"),
            None,
            Some("NoExecute")
        )
        .tolerates(&unreachable));
    }
}
