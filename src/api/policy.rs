//! policy/v1 kinds: [`PodDisruptionBudget`], and the constants the eviction path and the
//! disruption controller share (condition, reasons, Kubernetes' messages).
//!
//! As in Kubernetes: at most one of `minAvailable` and `maxUnavailable` is set (with neither,
//! no pod may be disrupted); each is a count >= 0 or a percentage `"<n>%"` of at most 100%;
//! a missing `selector` selects no pod and an empty one every pod of the namespace;
//! `unhealthyPodEvictionPolicy` is `IfHealthyBudget` (the meaning when unset) or
//! `AlwaysAllow`. The status is written by the disruption controller
//! ([`crate::controllers::disruption`]) and, for each eviction it allows, by the eviction
//! path ([`crate::client::Api::evict`]).

use super::core::IntOrString;
use super::validation::{check_enum, check_int_or_percent, check_min};
use super::{ApiVersion, Condition, Extra, FieldError, Kind, LabelSelector, Map, ObjectMeta, Time};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The condition the disruption controller keeps on every budget: `True` while an eviction
/// is allowed.
pub const DISRUPTION_ALLOWED: &str = "DisruptionAllowed";
/// Reason of [`DISRUPTION_ALLOWED`] `True`: enough pods are healthy.
pub const SUFFICIENT_PODS: &str = "SufficientPods";
/// Reason of [`DISRUPTION_ALLOWED`] `False`: too few pods are healthy.
pub const INSUFFICIENT_PODS: &str = "InsufficientPods";
/// Reason of [`DISRUPTION_ALLOWED`] `False` when the controller could not compute the
/// status (a selected pod's controller is missing...); its message says why.
pub const SYNC_FAILED: &str = "SyncFailed";
/// `unhealthyPodEvictionPolicy` (the meaning when unset): a pod that is not ready may be
/// evicted only while the budget has its desired healthy pods.
pub const IF_HEALTHY_BUDGET: &str = "IfHealthyBudget";
/// `unhealthyPodEvictionPolicy`: a pod that is not ready may always be evicted.
pub const ALWAYS_ALLOW: &str = "AlwaysAllow";
/// The `reason` of the cause a refused eviction carries (Kubernetes' `DisruptionBudget`).
pub const DISRUPTION_BUDGET_CAUSE: &str = "DisruptionBudget";
/// kube-apiserver's message for an eviction a budget refuses (HTTP 429).
pub const EVICTION_REFUSED: &str =
    "Cannot evict pod as it would violate the pod's disruption budget.";
/// kube-apiserver's message for an eviction of a pod that more than one budget selects
/// (HTTP 500).
pub const MULTIPLE_BUDGETS: &str =
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.";
/// At most this many pods may wait in `status.disruptedPods`; further evictions are refused
/// until the disruption controller has caught up (Kubernetes' `MaxDisruptedPodSize`).
pub const MAX_DISRUPTED_PODS: usize = 2000;
/// How long a pod stays in `status.disruptedPods` (not counted as healthy) after its eviction
/// was allowed, when it is not seen being deleted (Kubernetes' `DeletionTimeout`).
pub const DELETION_TIMEOUT: Duration = Duration::from_secs(120);

/// A PodDisruptionBudget (policy/v1): how many of the pods it selects must stay healthy
/// while pods are evicted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct PodDisruptionBudget {
    /// `apiVersion`: always `policy/v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `PodDisruptionBudget`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default)]
    pub spec: PodDisruptionBudgetSpec,
    /// Observed state, written by the disruption controller and the eviction path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PodDisruptionBudgetStatus>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    PodDisruptionBudget,
    api_version = "policy/v1",
    kind = "PodDisruptionBudget",
    plural = "poddisruptionbudgets",
    namespaced = true,
    spec = [spec, extra],
    status = [status],
    validate = validate_pod_disruption_budget
);

/// What a [`PodDisruptionBudget`] asks for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetSpec {
    /// At least this many (or this percentage) of the selected pods stay healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrString>,
    /// The pods it covers. Missing: no pod; empty (`{}`): every pod of the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// At most this many (or this percentage) of the pods may be unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// [`IF_HEALTHY_BUDGET`] (the meaning when unset) or [`ALWAYS_ALLOW`]: when a pod that
    /// is not ready may be evicted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_pod_eviction_policy: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// What the disruption controller observed of a [`PodDisruptionBudget`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetStatus {
    /// The `metadata.generation` this status was computed from; evictions are refused while
    /// it is behind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pods whose eviction was allowed but which were not yet seen being deleted, with the
    /// time of the eviction; they do not count as healthy for [`DELETION_TIMEOUT`].
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub disrupted_pods: Map<String, Time>,
    /// How many more pods may be evicted now.
    #[serde(default)]
    pub disruptions_allowed: i32,
    /// Selected pods that are ready (and not being deleted or disrupted).
    #[serde(default)]
    pub current_healthy: i32,
    /// The healthy pods the budget asks for.
    #[serde(default)]
    pub desired_healthy: i32,
    /// The pods the budget expects: the selected pods, or the sum of their controllers'
    /// scale (for a percentage or `maxUnavailable`).
    #[serde(default)]
    pub expected_pods: i32,
    /// [`DISRUPTION_ALLOWED`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl PodDisruptionBudget {
    /// Whether the budget covers a pod in `namespace` with `labels`: same namespace, and the
    /// selector matches (a missing selector matches nothing, an empty one everything, an
    /// invalid one nothing), as kube-apiserver's eviction decides it.
    pub fn covers(&self, namespace: &str, labels: &Map<String, String>) -> bool {
        if self.metadata.namespace_str() != namespace {
            return false;
        }
        let Some(selector) = &self.spec.selector else {
            return false;
        };
        selector.to_selector().is_ok_and(|s| s.matches(labels))
    }

    /// The status, or an empty one.
    pub fn status_or_default(&self) -> PodDisruptionBudgetStatus {
        self.status.clone().unwrap_or_default()
    }

    /// True when the status was computed from the current spec.
    pub fn is_observed(&self) -> bool {
        let generation = self.metadata.generation.unwrap_or(0);
        self.status
            .as_ref()
            .and_then(|s| s.observed_generation)
            .unwrap_or(0)
            >= generation
    }

    /// Whether `unhealthyPodEvictionPolicy` is `AlwaysAllow`.
    pub fn always_allows_unhealthy(&self) -> bool {
        self.spec.unhealthy_pod_eviction_policy.as_deref() == Some(ALWAYS_ALLOW)
    }
}

impl PodDisruptionBudgetStatus {
    /// Sets the [`DISRUPTION_ALLOWED`] condition from `disruptions_allowed` (`True`,
    /// [`SUFFICIENT_PODS`] when above 0; else `False`, [`INSUFFICIENT_PODS`]), stamped with
    /// `observed_generation`; `lastTransitionTime` becomes `now` only when the status flips
    /// (Kubernetes' `UpdateDisruptionAllowedCondition`). Written once here for the
    /// disruption controller and the eviction path.
    pub fn update_disruption_allowed_condition(&mut self, now: Time) {
        let (status, reason) = if self.disruptions_allowed > 0 {
            ("True", SUFFICIENT_PODS)
        } else {
            ("False", INSUFFICIENT_PODS)
        };
        self.set_condition(status, reason, None, now);
    }

    /// Sets [`DISRUPTION_ALLOWED`] to `status` with `reason` and `message`, as apimachinery's
    /// `SetStatusCondition`.
    pub fn set_condition(
        &mut self,
        status: &str,
        reason: &str,
        message: Option<String>,
        now: Time,
    ) {
        let generation = self.observed_generation;
        let existing = self
            .conditions
            .iter_mut()
            .find(|c| c.type_ == DISRUPTION_ALLOWED);
        let c = match existing {
            Some(c) => c,
            None => {
                self.conditions.push(Condition {
                    type_: DISRUPTION_ALLOWED.to_string(),
                    ..Default::default()
                });
                self.conditions.last_mut().expect("just pushed")
            }
        };
        if c.status != status || c.last_transition_time.is_none() {
            c.last_transition_time = Some(now);
        }
        c.status = status.to_string();
        c.reason = Some(reason.to_string());
        c.message = message;
        c.observed_generation = generation;
    }

    /// Whether [`DISRUPTION_ALLOWED`] says what `disruptions_allowed` says, for the current
    /// `observed_generation` (Kubernetes' `ConditionsAreUpToDate`).
    pub fn condition_is_up_to_date(&self) -> bool {
        let Some(c) = self
            .conditions
            .iter()
            .find(|c| c.type_ == DISRUPTION_ALLOWED)
        else {
            return false;
        };
        let (status, reason) = if self.disruptions_allowed > 0 {
            ("True", SUFFICIENT_PODS)
        } else {
            ("False", INSUFFICIENT_PODS)
        };
        c.observed_generation == self.observed_generation
            && c.status == status
            && c.reason.as_deref() == Some(reason)
    }
}

/// Admission checks of a [`PodDisruptionBudget`], as kube-apiserver's
/// `ValidatePodDisruptionBudget`: not both `minAvailable` and `maxUnavailable`; each a
/// count of at least 0 or a percentage of at most 100%; the selector well-formed; a known
/// `unhealthyPodEvictionPolicy`; the status counts at least 0.
pub fn validate_pod_disruption_budget(pdb: &PodDisruptionBudget, errors: &mut Vec<FieldError>) {
    let s = &pdb.spec;
    if s.min_available.is_some() && s.max_unavailable.is_some() {
        errors.push(FieldError::new(
            "spec",
            "Invalid value: minAvailable and maxUnavailable cannot be both set",
        ));
    }
    if let Some(v) = &s.min_available {
        check_int_or_percent(errors, "spec.minAvailable", v, true);
    }
    if let Some(v) = &s.max_unavailable {
        check_int_or_percent(errors, "spec.maxUnavailable", v, true);
    }
    if let Some(selector) = &s.selector {
        let before = errors.len();
        super::apps::validate_selector(selector, "spec.selector", errors);
        if errors.len() > before {
            // Already named; the compile below would report the same expression again.
        } else if let Err(e) = selector.to_selector() {
            errors.push(FieldError::new(
                format!("spec.selector.{}", e.field),
                e.message,
            ));
        }
    }
    if let Some(p) = &s.unhealthy_pod_eviction_policy {
        check_enum(
            errors,
            "spec.unhealthyPodEvictionPolicy",
            p,
            &[ALWAYS_ALLOW, IF_HEALTHY_BUDGET],
        );
    }
    if let Some(st) = &pdb.status {
        for (field, v) in [
            ("status.disruptionsAllowed", st.disruptions_allowed),
            ("status.currentHealthy", st.current_healthy),
            ("status.desiredHealthy", st.desired_healthy),
            ("status.expectedPods", st.expected_pods),
        ] {
            check_min(errors, field, v.into(), 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Object;
    use serde_json::json;

    fn errors_of(v: serde_json::Value) -> Vec<String> {
        let pdb: PodDisruptionBudget = serde_json::from_value(v).unwrap();
        let mut errors = Vec::new();
        pdb.validate(&mut errors);
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_documentation_example_round_trips_and_validates() {
        let v = json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "zk-pdb", "namespace": "default"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "zookeeper"}}}
        });
        let pdb: PodDisruptionBudget = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&pdb).unwrap(), v);
        assert!(errors_of(v).is_empty());
        let pct = json!({"metadata": {"name": "p"},
            "spec": {"maxUnavailable": "30%", "unhealthyPodEvictionPolicy": "AlwaysAllow",
                     "selector": {}}});
        assert!(errors_of(pct).is_empty());
    }

    #[test]
    fn bad_budgets_are_refused_naming_the_field() {
        let errs = errors_of(json!({"metadata": {"name": "p"},
            "spec": {"minAvailable": 1, "maxUnavailable": "1%"}}));
        assert_eq!(
            errs,
            ["spec: Invalid value: minAvailable and maxUnavailable cannot be both set"]
        );
        let errs = errors_of(json!({"metadata": {"name": "p"},
            "spec": {"minAvailable": "half", "unhealthyPodEvictionPolicy": "Never"}}));
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].starts_with("spec.minAvailable: Invalid value: \"half\": a valid percent"));
        assert!(errs[1].starts_with(
            "spec.unhealthyPodEvictionPolicy: Unsupported value: \"Never\": supported values: \"AlwaysAllow\", \"IfHealthyBudget\""
        ));
        let errs = errors_of(json!({"metadata": {"name": "p"},
            "spec": {"maxUnavailable": "101%"}}));
        assert_eq!(
            errs,
            ["spec.maxUnavailable: Invalid value: \"101%\": must not be greater than 100%"]
        );
        let errs = errors_of(json!({"metadata": {"name": "p"}, "spec": {"minAvailable": -1}}));
        assert_eq!(
            errs,
            ["spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"]
        );
        let errs = errors_of(json!({"metadata": {"name": "p"}, "spec": {"selector":
            {"matchExpressions": [{"key": "app", "operator": "Is"}]}}}));
        assert!(
            errs[0].starts_with("spec.selector.matchExpressions[0].operator: Unsupported value"),
            "{errs:?}"
        );
    }

    #[test]
    fn a_missing_selector_covers_nothing_and_an_empty_one_everything() {
        let mut pdb = PodDisruptionBudget::default();
        pdb.metadata.namespace = Some("default".into());
        let labels: Map<String, String> = [("app".to_string(), "web".to_string())].into();
        assert!(!pdb.covers("default", &labels));
        pdb.spec.selector = Some(LabelSelector::default());
        assert!(pdb.covers("default", &labels));
        assert!(!pdb.covers("other", &labels));
        pdb.spec.selector = Some(LabelSelector {
            match_labels: [("app".to_string(), "db".to_string())].into(),
            ..Default::default()
        });
        assert!(!pdb.covers("default", &labels));
    }
}
