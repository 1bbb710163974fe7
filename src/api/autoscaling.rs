//! autoscaling/v2 kinds: [`HorizontalPodAutoscaler`].

use super::validation::{check_enum, check_min, required};
use super::{
    ApiVersion, Condition, Extra, FieldError, Kind, LabelSelector, ObjectMeta, Quantity, Time,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A HorizontalPodAutoscaler (autoscaling/v2): scales a workload's replicas to keep metrics at
/// their targets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct HorizontalPodAutoscaler {
    /// `apiVersion`: always `autoscaling/v2`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `HorizontalPodAutoscaler`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default)]
    pub spec: HorizontalPodAutoscalerSpec,
    /// Observed state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<HorizontalPodAutoscalerStatus>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    HorizontalPodAutoscaler,
    api_version = "autoscaling/v2",
    kind = "HorizontalPodAutoscaler",
    plural = "horizontalpodautoscalers",
    namespaced = true,
    spec = [spec, extra],
    status = [status],
    validate = validate_horizontal_pod_autoscaler
);

const METRIC_TYPES: &[&str] = &[
    "Object",
    "Pods",
    "Resource",
    "ContainerResource",
    "External",
];

/// Admission checks of a [`HorizontalPodAutoscaler`]: scaleTargetRef kind and name set;
/// minReplicas >= 1; maxReplicas >= 1 and >= minReplicas; every metric has a known type, the
/// matching source and a well-formed target; behavior rules within Kubernetes' bounds.
pub fn validate_horizontal_pod_autoscaler(
    hpa: &HorizontalPodAutoscaler,
    errors: &mut Vec<FieldError>,
) {
    let s = &hpa.spec;
    s.scale_target_ref.validate("spec.scaleTargetRef", errors);
    if let Some(min) = s.min_replicas {
        check_min(errors, "spec.minReplicas", min.into(), 1);
    }
    let min = s.min_replicas.unwrap_or(1);
    if s.max_replicas < 1 {
        check_min(errors, "spec.maxReplicas", s.max_replicas.into(), 1);
    } else if s.max_replicas < min {
        errors.push(FieldError::new(
            "spec.maxReplicas",
            format!(
                "Invalid value: {}: must be greater than or equal to `minReplicas`",
                s.max_replicas
            ),
        ));
    }
    for (i, m) in s.metrics.iter().enumerate() {
        m.validate(&format!("spec.metrics[{i}]"), errors);
    }
    if let Some(b) = &s.behavior {
        for (field, rules) in [("scaleUp", &b.scale_up), ("scaleDown", &b.scale_down)] {
            if let Some(r) = rules {
                r.validate(&format!("spec.behavior.{field}"), errors);
            }
        }
    }
}

/// An autoscaler's desired state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HorizontalPodAutoscalerSpec {
    /// The scaled workload.
    #[serde(default)]
    pub scale_target_ref: CrossVersionObjectReference,
    /// Lower bound of the replicas (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// Upper bound of the replicas.
    #[serde(default)]
    pub max_replicas: i32,
    /// Metrics and their targets (default: 80% average CPU utilization).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricSpec>,
    /// Scaling speed limits and stabilization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<HorizontalPodAutoscalerBehavior>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A reference to an object of any apiVersion (`scaleTargetRef`, `describedObject`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CrossVersionObjectReference {
    /// apiVersion of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    #[serde(default)]
    pub kind: String,
    /// Name of the referent.
    #[serde(default)]
    pub name: String,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl CrossVersionObjectReference {
    fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        if self.kind.is_empty() {
            errors.push(required(format!("{path}.kind"), ""));
        }
        if self.name.is_empty() {
            errors.push(required(format!("{path}.name"), ""));
        }
    }
}

/// One metric of an autoscaler: `type` names which source field is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MetricSpec {
    /// `Resource`, `Pods`, `Object`, `ContainerResource` or `External`.
    #[serde(rename = "type", default)]
    pub type_: String,
    /// A resource (cpu, memory) of the pods, per pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceMetricSource>,
    /// A custom metric of the pods, averaged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<PodsMetricSource>,
    /// A metric of one object (an Ingress's requests per second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectMetricSource>,
    /// A resource of one container of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_resource: Option<ContainerResourceMetricSource>,
    /// A metric from outside the cluster, as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<Value>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl MetricSpec {
    fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        let set = match self.type_.as_str() {
            "Resource" => self.resource.is_some(),
            "Pods" => self.pods.is_some(),
            "Object" => self.object.is_some(),
            "ContainerResource" => self.container_resource.is_some(),
            "External" => self.external.is_some(),
            "" => {
                errors.push(required(format!("{path}.type"), ""));
                true
            }
            t => {
                check_enum(errors, format!("{path}.type"), t, METRIC_TYPES);
                true
            }
        };
        if !set {
            let field = match self.type_.as_str() {
                "ContainerResource" => "containerResource".to_string(),
                t => t.to_ascii_lowercase(),
            };
            errors.push(FieldError::new(
                format!("{path}.{field}"),
                "Required value: must populate information for the given metric source",
            ));
        }
        if let Some(r) = &self.resource {
            if r.name.is_empty() {
                errors.push(required(format!("{path}.resource.name"), ""));
            }
            r.target
                .validate(&format!("{path}.resource.target"), true, errors);
        }
        if let Some(p) = &self.pods {
            p.metric.validate(&format!("{path}.pods.metric"), errors);
            p.target
                .validate(&format!("{path}.pods.target"), false, errors);
            if p.target.type_ != "AverageValue" && !p.target.type_.is_empty() {
                check_enum(
                    errors,
                    format!("{path}.pods.target.type"),
                    &p.target.type_,
                    &["AverageValue"],
                );
            }
        }
        if let Some(o) = &self.object {
            o.described_object
                .validate(&format!("{path}.object.describedObject"), errors);
            o.metric.validate(&format!("{path}.object.metric"), errors);
            o.target
                .validate(&format!("{path}.object.target"), false, errors);
        }
        if let Some(c) = &self.container_resource {
            if c.name.is_empty() {
                errors.push(required(format!("{path}.containerResource.name"), ""));
            }
            if c.container.is_empty() {
                errors.push(required(format!("{path}.containerResource.container"), ""));
            }
            c.target
                .validate(&format!("{path}.containerResource.target"), true, errors);
        }
    }
}

/// `resource` metric source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceMetricSource {
    /// Resource name (`cpu`, `memory`).
    #[serde(default)]
    pub name: String,
    /// Target value.
    #[serde(default)]
    pub target: MetricTarget,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `containerResource` metric source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContainerResourceMetricSource {
    /// Resource name (`cpu`, `memory`).
    #[serde(default)]
    pub name: String,
    /// Container whose usage counts.
    #[serde(default)]
    pub container: String,
    /// Target value.
    #[serde(default)]
    pub target: MetricTarget,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `pods` metric source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PodsMetricSource {
    /// The metric.
    #[serde(default)]
    pub metric: MetricIdentifier,
    /// Target value (`AverageValue`).
    #[serde(default)]
    pub target: MetricTarget,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `object` metric source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ObjectMetricSource {
    /// The object the metric describes.
    #[serde(default)]
    pub described_object: CrossVersionObjectReference,
    /// The metric.
    #[serde(default)]
    pub metric: MetricIdentifier,
    /// Target value (`Value` or `AverageValue`).
    #[serde(default)]
    pub target: MetricTarget,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A metric by name, optionally narrowed by labels.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MetricIdentifier {
    /// Metric name.
    #[serde(default)]
    pub name: String,
    /// Labels of the metric series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl MetricIdentifier {
    fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        if self.name.is_empty() {
            errors.push(required(format!("{path}.name"), ""));
        }
    }
}

/// The target of a metric: `type` names which value field is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MetricTarget {
    /// `Utilization`, `Value` or `AverageValue`.
    #[serde(rename = "type", default)]
    pub type_: String,
    /// Target value, for `Value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Quantity>,
    /// Target per-pod average, for `AverageValue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_value: Option<Quantity>,
    /// Target average percentage of the pods' requests, for `Utilization` (resource metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_utilization: Option<i32>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl MetricTarget {
    fn validate(&self, path: &str, utilization_allowed: bool, errors: &mut Vec<FieldError>) {
        let field = match self.type_.as_str() {
            "Utilization" if utilization_allowed => self
                .average_utilization
                .is_none()
                .then_some("averageUtilization"),
            "Value" => self.value.is_none().then_some("value"),
            "AverageValue" => self.average_value.is_none().then_some("averageValue"),
            "" => {
                errors.push(required(format!("{path}.type"), ""));
                None
            }
            t => {
                let allowed: &[&str] = if utilization_allowed {
                    &["Utilization", "Value", "AverageValue"]
                } else {
                    &["Value", "AverageValue"]
                };
                check_enum(errors, format!("{path}.type"), t, allowed);
                None
            }
        };
        if let Some(field) = field {
            errors.push(FieldError::new(
                format!("{path}.{field}"),
                format!(
                    "Required value: must be set for a target of type {:?}",
                    self.type_
                ),
            ));
        }
        if let Some(u) = self.average_utilization {
            check_min(errors, format!("{path}.averageUtilization"), u.into(), 1);
        }
    }
}

/// Scaling behavior: separate rules for scaling up and down.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HorizontalPodAutoscalerBehavior {
    /// Rules for scaling up (default: no stabilization, double or +4 pods per 15s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up: Option<HpaScalingRules>,
    /// Rules for scaling down (default: 300s stabilization, any amount per 15s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<HpaScalingRules>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Scaling rules for one direction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HpaScalingRules {
    /// Seconds of past recommendations considered (0 to 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilization_window_seconds: Option<i32>,
    /// `Max` (the default), `Min` or `Disabled`: which policy wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select_policy: Option<String>,
    /// Limits on the change per period.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<HpaScalingPolicy>,
    /// Unmodelled fields (tolerance).
    #[serde(flatten)]
    pub extra: Extra,
}

impl HpaScalingRules {
    fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        if let Some(w) = self.stabilization_window_seconds {
            let p = format!("{path}.stabilizationWindowSeconds");
            check_min(errors, &p, w.into(), 0);
            if w > 3600 {
                errors.push(FieldError::new(
                    p,
                    format!("Invalid value: {w}: must be less than or equal to 3600"),
                ));
            }
        }
        if let Some(s) = &self.select_policy {
            check_enum(
                errors,
                format!("{path}.selectPolicy"),
                s,
                &["Max", "Min", "Disabled"],
            );
        }
        for (i, p) in self.policies.iter().enumerate() {
            let pp = format!("{path}.policies[{i}]");
            check_enum(errors, format!("{pp}.type"), &p.type_, &["Pods", "Percent"]);
            check_min(errors, format!("{pp}.value"), p.value.into(), 1);
            if !(1..=1800).contains(&p.period_seconds) {
                errors.push(FieldError::new(
                    format!("{pp}.periodSeconds"),
                    format!(
                        "Invalid value: {}: must be between 1 and 1800",
                        p.period_seconds
                    ),
                ));
            }
        }
    }
}

/// A limit on the change of replicas per period.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HpaScalingPolicy {
    /// `Pods` (absolute) or `Percent` (of the current replicas).
    #[serde(rename = "type", default)]
    pub type_: String,
    /// The amount (> 0).
    #[serde(default)]
    pub value: i32,
    /// Length of the period in seconds (1 to 1800).
    #[serde(default)]
    pub period_seconds: i32,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An autoscaler's observed state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HorizontalPodAutoscalerStatus {
    /// The generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the autoscaler last changed the replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_time: Option<Time>,
    /// Replicas last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_replicas: Option<i32>,
    /// Replicas last computed.
    #[serde(default)]
    pub desired_replicas: i32,
    /// Last observed values of the metrics, as JSON (kept exactly as written).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub current_metrics: Vec<Value>,
    /// `AbleToScale`, `ScalingActive`, `ScalingLimited`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Object;
    use serde_json::json;

    /// The php-apache autoscaler of the Kubernetes documentation ("HorizontalPodAutoscaler
    /// Walkthrough"), with the behavior example of "Horizontal Pod Autoscaling".
    fn php_apache() -> Value {
        json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "php-apache"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "php-apache"},
                "minReplicas": 1,
                "maxReplicas": 10,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                    {"type": "Pods", "pods": {"metric": {"name": "packets-per-second"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
                    {"type": "Object", "object": {
                        "metric": {"name": "requests-per-second"},
                        "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main-route"},
                        "target": {"type": "Value", "value": "10k"}
                    }},
                    {"type": "External", "external": {
                        "metric": {"name": "queue_messages_ready", "selector": {"matchLabels": {"queue": "worker_tasks"}}},
                        "target": {"type": "AverageValue", "averageValue": "30"}
                    }}
                ],
                "behavior": {
                    "scaleDown": {"stabilizationWindowSeconds": 300, "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
                    "scaleUp": {
                        "stabilizationWindowSeconds": 0,
                        "policies": [
                            {"type": "Percent", "value": 100, "periodSeconds": 15},
                            {"type": "Pods", "value": 4, "periodSeconds": 15}
                        ],
                        "selectPolicy": "Max"
                    }
                }
            },
            "status": {
                "observedGeneration": 1,
                "currentReplicas": 1,
                "desiredReplicas": 1,
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 0, "averageValue": 0}}}]
            }
        })
    }

    fn fields(hpa: &HorizontalPodAutoscaler) -> Vec<String> {
        let mut errors = Vec::new();
        hpa.validate(&mut errors);
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn hpa_v2_example_round_trips_unchanged() {
        let v = php_apache();
        let hpa: HorizontalPodAutoscaler = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&hpa).unwrap(), v);
        let pods = hpa.spec.metrics[1].pods.as_ref().unwrap();
        assert_eq!(pods.target.average_value, Some(Quantity("1k".into())));
        let up = hpa
            .spec
            .behavior
            .as_ref()
            .unwrap()
            .scale_up
            .as_ref()
            .unwrap();
        assert_eq!(up.policies[1].value, 4);
        assert!(fields(&hpa).is_empty(), "{:?}", fields(&hpa));
    }

    #[test]
    fn hpa_status_change_keeps_spec_equal() {
        let a: HorizontalPodAutoscaler = serde_json::from_value(php_apache()).unwrap();
        let mut b = a.clone();
        b.status.as_mut().unwrap().desired_replicas = 4;
        assert!(a.spec_eq(&b));
        b.spec.max_replicas = 20;
        assert!(!a.spec_eq(&b));
    }

    #[test]
    fn hpa_validation_names_full_field_paths() {
        let mut hpa: HorizontalPodAutoscaler = serde_json::from_value(php_apache()).unwrap();
        hpa.spec.min_replicas = Some(0);
        hpa.spec.scale_target_ref.name.clear();
        hpa.spec.metrics[0]
            .resource
            .as_mut()
            .unwrap()
            .target
            .average_utilization = None;
        hpa.spec.metrics[1].type_ = "Object".into();
        let up = hpa
            .spec
            .behavior
            .as_mut()
            .unwrap()
            .scale_up
            .as_mut()
            .unwrap();
        up.policies[0].period_seconds = 0;
        assert_eq!(
            fields(&hpa),
            vec![
                "spec.scaleTargetRef.name",
                "spec.minReplicas",
                "spec.metrics[0].resource.target.averageUtilization",
                "spec.metrics[1].object",
                "spec.behavior.scaleUp.policies[0].periodSeconds",
            ]
        );

        let mut hpa: HorizontalPodAutoscaler = serde_json::from_value(php_apache()).unwrap();
        hpa.spec.min_replicas = Some(5);
        hpa.spec.max_replicas = 3;
        assert_eq!(fields(&hpa), vec!["spec.maxReplicas"]);
    }
}
