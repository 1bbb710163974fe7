//! Inter-pod affinity and anti-affinity (`spec.affinity.podAffinity`,
//! `spec.affinity.podAntiAffinity`): where a pod goes relative to other pods, by their labels
//! and the topology (node label) they share. The scheduler's `InterPodAffinity` plugin acts on
//! them; this module holds their wire shape and admission checks.

use crate::api::validation::{dns_label_message, is_dns1123_label, required};
use crate::api::{Extra, FieldError, LabelSelector};
use serde::{Deserialize, Serialize};

/// Pod affinity or anti-affinity (Kubernetes' `PodAffinity` and `PodAntiAffinity` share
/// this shape): hard terms every node must satisfy, soft weighted terms that rank nodes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PodAffinity {
    /// Hard terms, all of which must hold on the chosen node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_during_scheduling_ignored_during_execution: Vec<PodAffinityTerm>,
    /// Soft terms: nodes satisfying heavier terms are preferred.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred_during_scheduling_ignored_during_execution: Vec<WeightedPodAffinityTerm>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Anti-affinity has the shape of affinity.
pub type PodAntiAffinity = PodAffinity;

/// One term: the pods matching `labelSelector` (plus `matchLabelKeys`/`mismatchLabelKeys`) in
/// the namespaces selected, counted per value of the node label `topologyKey`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PodAffinityTerm {
    /// Which pods the term is about; none set matches no pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Namespaces of those pods. With neither this nor `namespaceSelector`: the pod's own
    /// namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// The node label whose value is the topology domain (`kubernetes.io/hostname`,
    /// `topology.kubernetes.io/zone`...).
    #[serde(default)]
    pub topology_key: String,
    /// Namespaces by their labels, added to `namespaces`; `{}` selects every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Label keys whose values in the pod's own labels are added to `labelSelector` as
    /// `key in (value)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_label_keys: Vec<String>,
    /// Label keys whose values in the pod's own labels are added to `labelSelector` as
    /// `key notin (value)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mismatch_label_keys: Vec<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A soft term with its weight (1 to 100).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct WeightedPodAffinityTerm {
    /// Weight, 1 to 100.
    #[serde(default)]
    pub weight: i32,
    /// The term.
    #[serde(default)]
    pub pod_affinity_term: PodAffinityTerm,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl PodAffinity {
    /// Admission checks, as kube-apiserver's `validatePodAffinity`: every term well-formed,
    /// weights in 1-100.
    pub(crate) fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        for (i, t) in self
            .required_during_scheduling_ignored_during_execution
            .iter()
            .enumerate()
        {
            t.validate(
                &format!("{path}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"),
                errors,
            );
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
            t.pod_affinity_term
                .validate(&format!("{p}.podAffinityTerm"), errors);
        }
    }
}

impl PodAffinityTerm {
    fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        if self.topology_key.is_empty() {
            errors.push(FieldError::new(
                format!("{path}.topologyKey"),
                "Required value: can not be empty",
            ));
        } else if let Err(m) = crate::api::validation::qualified_name(&self.topology_key) {
            errors.push(FieldError::new(
                format!("{path}.topologyKey"),
                format!("Invalid value: {:?}: {m}", self.topology_key),
            ));
        }
        for (field, sel) in [
            ("labelSelector", &self.label_selector),
            ("namespaceSelector", &self.namespace_selector),
        ] {
            if let Some(Err(e)) = sel.as_ref().map(LabelSelector::to_selector) {
                errors.push(FieldError::new(
                    format!("{path}.{field}.{}", e.field),
                    e.message,
                ));
            }
        }
        for (i, ns) in self.namespaces.iter().enumerate() {
            if !is_dns1123_label(ns) {
                errors.push(FieldError::new(
                    format!("{path}.namespaces[{i}]"),
                    dns_label_message(ns),
                ));
            }
        }
        // As kube-apiserver's `validateMatchLabelKeysAndMismatchLabelKeys`.
        let in_selector = |key: &str| {
            self.label_selector.as_ref().is_some_and(|s| {
                s.match_labels.contains_key(key) || s.match_expressions.iter().any(|e| e.key == key)
            })
        };
        for (field, keys) in [
            ("matchLabelKeys", &self.match_label_keys),
            ("mismatchLabelKeys", &self.mismatch_label_keys),
        ] {
            for (i, key) in keys.iter().enumerate() {
                let p = format!("{path}.{field}[{i}]");
                if self.label_selector.is_none() {
                    errors.push(FieldError::new(
                        p,
                        "Forbidden: must not be specified when labelSelector is not set",
                    ));
                    continue;
                }
                if key.is_empty() {
                    errors.push(required(p, ""));
                    continue;
                }
                if let Err(m) = crate::api::validation::qualified_name(key) {
                    errors.push(FieldError::new(p, format!("Invalid value: {key:?}: {m}")));
                } else if in_selector(key) {
                    errors.push(FieldError::new(
                        p,
                        format!("Invalid value: {key:?}: exists in both {field} and labelSelector"),
                    ));
                } else if field == "mismatchLabelKeys" && self.match_label_keys.contains(key) {
                    errors.push(FieldError::new(
                        p,
                        format!(
                            "Invalid value: {key:?}: exists in both matchLabelKeys and mismatchLabelKeys"
                        ),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(v: serde_json::Value) -> Vec<String> {
        let a: PodAffinity = serde_json::from_value(v).unwrap();
        let mut e = Vec::new();
        a.validate("spec.affinity.podAntiAffinity", &mut e);
        e.iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    }

    #[test]
    fn a_well_formed_affinity_passes() {
        assert!(errors(json!({
            "requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"app": "web"}},
                "topologyKey": "kubernetes.io/hostname",
                "namespaceSelector": {},
                "matchLabelKeys": ["pod-template-hash"]
            }],
            "preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "podAffinityTerm": {"topologyKey": "topology.kubernetes.io/zone",
                                    "namespaces": ["a", "b"]}
            }]
        }))
        .is_empty());
    }

    #[test]
    fn bad_terms_are_refused_naming_the_field() {
        let got = errors(json!({
            "requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchExpressions": [{"key": "app", "operator": "Is"}]},
                "matchLabelKeys": ["app"]
            }],
            "preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 0,
                "podAffinityTerm": {"topologyKey": "zone", "namespaces": ["Bad_NS"],
                                    "mismatchLabelKeys": ["x"]}
            }]
        }));
        let p = "spec.affinity.podAntiAffinity";
        assert_eq!(
            got,
            [
                format!("{p}.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty"),
                format!("{p}.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].operator: Unsupported value: \"Is\": supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\""),
                format!("{p}.requiredDuringSchedulingIgnoredDuringExecution[0].matchLabelKeys[0]: Invalid value: \"app\": exists in both matchLabelKeys and labelSelector"),
                format!("{p}.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100"),
                format!("{p}.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.namespaces[0]: {}", dns_label_message("Bad_NS")),
                format!("{p}.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.mismatchLabelKeys[0]: Forbidden: must not be specified when labelSelector is not set"),
            ]
        );
    }
}
