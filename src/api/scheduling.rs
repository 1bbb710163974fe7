//! scheduling.k8s.io/v1 kinds: [`PriorityClass`], and the Priority admission rules that
//! resolve a pod's `priorityClassName` into `spec.priority` and `spec.preemptionPolicy`.
//!
//! As in Kubernetes: a class's `value` is at most 1,000,000,000 unless it is one of the two
//! built-in classes ([`SYSTEM_CLUSTER_CRITICAL`], [`SYSTEM_NODE_CRITICAL`], which the engine
//! creates and which cannot be deleted); names starting `system-` are reserved for them;
//! `value` and `preemptionPolicy` never change; at most one class is the `globalDefault`.
//! A pod created without a class gets the global default's (else priority 0 and
//! `PreemptLowerPriority`); one naming a missing class, or setting `spec.priority` or
//! `spec.preemptionPolicy` other than its class says, is refused.

use super::validation::check_enum;
use super::{ApiVersion, Extra, FieldError, Kind, ObjectMeta, Pod};
use serde::{Deserialize, Serialize};

/// The highest `value` a user's PriorityClass may have.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i32 = 1_000_000_000;
/// The built-in class for pods a cluster cannot run without.
pub const SYSTEM_CLUSTER_CRITICAL: &str = "system-cluster-critical";
/// The built-in class for pods a node cannot run without (the highest).
pub const SYSTEM_NODE_CRITICAL: &str = "system-node-critical";
/// Prefix reserved for the built-in classes.
pub const SYSTEM_PRIORITY_CLASS_PREFIX: &str = "system-";
/// `preemptionPolicy` default: the pod may preempt pods of lower priority.
pub const PREEMPT_LOWER_PRIORITY: &str = "PreemptLowerPriority";
/// `preemptionPolicy`: the pod never preempts.
pub const PREEMPT_NEVER: &str = "Never";

/// A PriorityClass (scheduling.k8s.io/v1, cluster-scoped): a name for a pod priority.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PriorityClass {
    /// `apiVersion`: always `scheduling.k8s.io/v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `PriorityClass`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The priority pods of this class get; higher is more important.
    #[serde(default)]
    pub value: i32,
    /// Pods without a `priorityClassName` get this class (at most one class may say so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_default: Option<bool>,
    /// What the class is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `PreemptLowerPriority` (the default) or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preemption_policy: Option<String>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    PriorityClass,
    api_version = "scheduling.k8s.io/v1",
    kind = "PriorityClass",
    plural = "priorityclasses",
    namespaced = false,
    spec = [value, global_default, description, preemption_policy, extra],
    status = [],
    validate = validate_priority_class,
    validate_update = validate_priority_class_update,
    defaults = set_priority_class_defaults
);

/// `preemptionPolicy` defaults to `PreemptLowerPriority`, as kube-apiserver defaults it.
pub fn set_priority_class_defaults(pc: &mut PriorityClass, _creating: bool) {
    pc.preemption_policy
        .get_or_insert_with(|| PREEMPT_LOWER_PRIORITY.to_string());
}

/// The built-in classes: `system-cluster-critical` (2,000,000,000) and
/// `system-node-critical` (2,000,001,000).
pub fn system_priority_classes() -> Vec<PriorityClass> {
    [
        (
            SYSTEM_CLUSTER_CRITICAL,
            2_000_000_000,
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        ),
        (
            SYSTEM_NODE_CRITICAL,
            2_000_001_000,
            "Used for system critical pods that must not be moved from their current node.",
        ),
    ]
    .into_iter()
    .map(|(name, value, description)| PriorityClass {
        metadata: ObjectMeta {
            name: name.to_string(),
            ..Default::default()
        },
        value,
        description: Some(description.to_string()),
        preemption_policy: Some(PREEMPT_LOWER_PRIORITY.to_string()),
        ..Default::default()
    })
    .collect()
}

/// Admission checks of a [`PriorityClass`], as kube-apiserver's `ValidatePriorityClass`.
pub fn validate_priority_class(pc: &PriorityClass, errors: &mut Vec<FieldError>) {
    let name = &pc.metadata.name;
    if name.starts_with(SYSTEM_PRIORITY_CLASS_PREFIX) {
        let known = system_priority_classes()
            .into_iter()
            .find(|s| s.metadata.name == *name);
        let why = match known {
            None => Some(format!("{name:?} is not a known system priority class")),
            Some(s) if s.value != pc.value => Some(format!(
                "value of {name:?} PriorityClass must be {}",
                s.value
            )),
            Some(_) if pc.global_default == Some(true) => Some(format!(
                "globalDefault of {name:?} PriorityClass must be false"
            )),
            Some(_) => None,
        };
        if let Some(why) = why {
            errors.push(FieldError::new(
                "metadata.name",
                format!(
                    "Forbidden: priority class names with '{SYSTEM_PRIORITY_CLASS_PREFIX}' prefix are reserved for system use only. error: {why}"
                ),
            ));
        }
    } else if pc.value > HIGHEST_USER_DEFINABLE_PRIORITY {
        errors.push(FieldError::new(
            "value",
            format!(
                "Forbidden: maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"
            ),
        ));
    }
    if let Some(p) = &pc.preemption_policy {
        check_enum(
            errors,
            "preemptionPolicy",
            p,
            &[PREEMPT_LOWER_PRIORITY, PREEMPT_NEVER],
        );
    }
}

/// `value` and `preemptionPolicy` never change.
pub fn validate_priority_class_update(
    new: &PriorityClass,
    old: &PriorityClass,
    errors: &mut Vec<FieldError>,
) {
    if new.value != old.value {
        errors.push(FieldError::new(
            "value",
            "Forbidden: may not be changed in an update.",
        ));
    }
    if new.preemption_policy != old.preemption_policy {
        errors.push(FieldError::new("preemptionPolicy", "field is immutable"));
    }
}

/// The refusal of a second `globalDefault` (`existing` is the class already marked), in
/// kube-apiserver's words.
pub fn already_default_message(existing: &str) -> String {
    format!("PriorityClass {existing} is already marked as default. Only one default can exist")
}

/// The refusal of deleting a built-in class.
pub const SYSTEM_CLASS_DELETE_MESSAGE: &str =
    "this is a system priority class and cannot be deleted";

/// Kubernetes' Priority admission for a pod being created: resolves `priorityClassName`
/// (or the global default, `default` here, when it names none) into `spec.priority` and
/// `spec.preemptionPolicy`. `lookup` finds a class by name. The error is kube-apiserver's
/// message.
pub fn resolve_pod_priority(
    pod: &mut Pod,
    lookup: impl Fn(&str) -> Option<std::sync::Arc<PriorityClass>>,
    default: Option<std::sync::Arc<PriorityClass>>,
) -> Result<(), String> {
    let class = match pod
        .spec
        .priority_class_name
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        Some(name) => Some(
            lookup(name).ok_or_else(|| format!("no PriorityClass with name {name} was found"))?,
        ),
        None => {
            if let Some(d) = &default {
                pod.spec.priority_class_name = Some(d.metadata.name.clone());
            }
            default
        }
    };
    let (priority, policy) = match &class {
        Some(c) => (
            c.value,
            c.preemption_policy
                .clone()
                .unwrap_or_else(|| PREEMPT_LOWER_PRIORITY.to_string()),
        ),
        None => (0, PREEMPT_LOWER_PRIORITY.to_string()),
    };
    if let Some(p) = pod.spec.priority.filter(|p| *p != priority) {
        return Err(format!(
            "the integer value of priority ({p}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
        ));
    }
    if let Some(p) = pod
        .spec
        .preemption_policy
        .as_ref()
        .filter(|p| **p != policy)
    {
        return Err(format!(
            "the string value of PreemptionPolicy ({p}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
        ));
    }
    pod.spec.priority = Some(priority);
    pod.spec.preemption_policy = Some(policy);
    Ok(())
}

/// Kubernetes' Priority admission for a pod being updated: what the create resolved is kept
/// when the update leaves it out.
pub fn keep_pod_priority(pod: &mut Pod, old: &Pod) {
    let (new, old) = (&mut pod.spec, &old.spec);
    if new.priority.is_none() {
        new.priority = old.priority;
    }
    if new.preemption_policy.is_none() {
        new.preemption_policy.clone_from(&old.preemption_policy);
    }
    if new.priority_class_name.is_none() {
        new.priority_class_name.clone_from(&old.priority_class_name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn class(v: serde_json::Value) -> PriorityClass {
        let mut pc: PriorityClass = serde_json::from_value(v).unwrap();
        set_priority_class_defaults(&mut pc, true);
        pc
    }

    fn errors(pc: &PriorityClass) -> Vec<String> {
        let mut e = Vec::new();
        validate_priority_class(pc, &mut e);
        e.iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    }

    #[test]
    fn user_classes_stay_below_a_billion_and_system_names_are_reserved() {
        let ok = class(json!({"metadata": {"name": "high"}, "value": 1_000_000_000}));
        assert!(errors(&ok).is_empty());
        assert_eq!(
            ok.preemption_policy.as_deref(),
            Some(PREEMPT_LOWER_PRIORITY)
        );
        let big = class(json!({"metadata": {"name": "high"}, "value": 1_000_000_001}));
        assert_eq!(
            errors(&big),
            ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
        );
        let fake = class(json!({"metadata": {"name": "system-mine"}, "value": 1}));
        assert_eq!(
            errors(&fake),
            ["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: \"system-mine\" is not a known system priority class"]
        );
        for builtin in system_priority_classes() {
            assert!(errors(&builtin).is_empty(), "{}", builtin.metadata.name);
        }
        let never =
            class(json!({"metadata": {"name": "x"}, "value": 1, "preemptionPolicy": "Sometimes"}));
        assert_eq!(
            errors(&never),
            ["preemptionPolicy: Unsupported value: \"Sometimes\": supported values: \"PreemptLowerPriority\", \"Never\""]
        );
    }

    #[test]
    fn value_and_policy_never_change() {
        let old = class(json!({"metadata": {"name": "x"}, "value": 1}));
        let mut new = old.clone();
        new.value = 2;
        new.preemption_policy = Some(PREEMPT_NEVER.into());
        new.description = Some("may change".into());
        let mut e = Vec::new();
        validate_priority_class_update(&new, &old, &mut e);
        assert_eq!(
            e.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
            ["value", "preemptionPolicy"]
        );
    }

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    #[test]
    fn pods_get_their_class_priority_or_the_default() {
        let high = Arc::new(class(
            json!({"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"}),
        ));
        let lookup = |n: &str| (n == "high").then(|| high.clone());
        let mut p = pod(json!({"priorityClassName": "high"}));
        resolve_pod_priority(&mut p, lookup, None).unwrap();
        assert_eq!(p.spec.priority, Some(1000));
        assert_eq!(p.spec.preemption_policy.as_deref(), Some("Never"));

        let mut p = pod(json!({}));
        resolve_pod_priority(&mut p, lookup, None).unwrap();
        assert_eq!(p.spec.priority, Some(0));
        assert_eq!(
            p.spec.preemption_policy.as_deref(),
            Some(PREEMPT_LOWER_PRIORITY)
        );
        assert_eq!(p.spec.priority_class_name, None);

        let mut p = pod(json!({}));
        resolve_pod_priority(&mut p, lookup, Some(high.clone())).unwrap();
        assert_eq!(p.spec.priority, Some(1000));
        assert_eq!(p.spec.priority_class_name.as_deref(), Some("high"));
    }

    #[test]
    fn a_missing_class_or_a_disagreeing_priority_is_refused() {
        let high = Arc::new(class(json!({"metadata": {"name": "high"}, "value": 1000})));
        let lookup = |n: &str| (n == "high").then(|| high.clone());
        let mut p = pod(json!({"priorityClassName": "nope"}));
        assert_eq!(
            resolve_pod_priority(&mut p, lookup, None).unwrap_err(),
            "no PriorityClass with name nope was found"
        );
        let mut p = pod(json!({"priorityClassName": "high", "priority": 5}));
        assert_eq!(
            resolve_pod_priority(&mut p, lookup, None).unwrap_err(),
            "the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name"
        );
        let mut p = pod(
            json!({"priorityClassName": "high", "priority": 1000, "preemptionPolicy": "Never"}),
        );
        assert_eq!(
            resolve_pod_priority(&mut p, lookup, None).unwrap_err(),
            "the string value of PreemptionPolicy (Never) must not be provided in pod spec; priority admission controller computed PreemptLowerPriority from the given PriorityClass name"
        );
    }
}
