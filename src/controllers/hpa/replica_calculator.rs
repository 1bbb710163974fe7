//! The replica calculator (Kubernetes' replica_calculator.go): one proposal per metric over
//! the target's pods, `ceil(readyPods * currentMetric / target)` within [`TOLERANCE`], with
//! the rules for pods without a metric and pods not ready; the largest proposal wins.

use super::{Autoscaler, DEFAULT_CPU_UTILIZATION, TOLERANCE};
use crate::api::{HorizontalPodAutoscaler, MetricSpec, Pod, Quantity};
use crate::controllers::pod_util;
use serde_json::{json, Value};
use std::sync::Arc;

/// What a metric is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Goal {
    /// Percent of the pods' requests (the sample weight is the request, milli-units).
    Utilization(i64),
    /// A per-pod average in milli-units.
    AverageValue(i64),
}

/// One pod's view for a metric.
#[derive(Clone, Copy, Debug)]
struct PodSample {
    /// Milli-units; `None` when the pod has no metric.
    pub(super) value: Option<i64>,
    /// The pod's request in milli-units (utilization); 1 otherwise.
    weight: i64,
    /// Running and Ready.
    ready: bool,
}

/// `(ratio to the goal, current metric)`: utilization percent (truncated, as Kubernetes) or
/// the average in milli-units.
fn usage_ratio(goal: Goal, samples: &[(i64, i64)]) -> Result<(f64, i64), String> {
    let total: i64 = samples.iter().map(|s| s.0).sum();
    match goal {
        Goal::Utilization(target) => {
            let requests: i64 = samples.iter().map(|s| s.1).sum();
            if requests <= 0 {
                return Err("the pods' requests add up to zero".into());
            }
            let utilization = total * 100 / requests;
            Ok((utilization as f64 / target as f64, utilization))
        }
        Goal::AverageValue(target) => {
            if samples.is_empty() || target <= 0 {
                return Err("no samples or a target of zero".into());
            }
            let average = total / samples.len() as i64;
            Ok((average as f64 / target as f64, average))
        }
    }
}

/// The replicas one metric proposes for `current` replicas (Kubernetes' replica
/// calculator), and the current metric (of the ready pods with a metric).
fn replicas_for(
    current: i32,
    goal: Goal,
    samples: &[PodSample],
    tolerance: f64,
) -> Result<(i32, i64), String> {
    if samples.is_empty() {
        return Err("no pods returned by selector while calculating replica count".into());
    }
    let ready: Vec<(i64, i64)> = samples
        .iter()
        .filter(|s| s.ready)
        .filter_map(|s| s.value.map(|v| (v, s.weight)))
        .collect();
    let missing: Vec<i64> = samples
        .iter()
        .filter(|s| s.ready && s.value.is_none())
        .map(|s| s.weight)
        .collect();
    let unready: Vec<i64> = samples
        .iter()
        .filter(|s| !s.ready)
        .map(|s| s.weight)
        .collect();
    if ready.is_empty() {
        return Err("did not receive metrics for targeted pods (pods might be unready)".into());
    }
    let (ratio, metric) = usage_ratio(goal, &ready)?;
    let scale_up_with_unready = !unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && missing.is_empty() {
        if (ratio - 1.0).abs() <= tolerance {
            return Ok((current, metric));
        }
        return Ok(((ratio * ready.len() as f64).ceil() as i32, metric));
    }
    let mut all = ready;
    if ratio < 1.0 {
        // Scaling down: a pod without a metric is taken to be at 100% of the target.
        all.extend(missing.iter().map(|&w| match goal {
            Goal::Utilization(t) => (w * t / 100, w),
            Goal::AverageValue(t) => (t, w),
        }));
    } else if ratio > 1.0 {
        // Scaling up: a pod without a metric is taken to be idle.
        all.extend(missing.iter().map(|&w| (0, w)));
    }
    if scale_up_with_unready {
        all.extend(unready.iter().map(|&w| (0, w)));
    }
    let (new_ratio, _) = usage_ratio(goal, &all)?;
    // The assumptions may not reverse the direction, nor land within the tolerance.
    if (new_ratio - 1.0).abs() <= tolerance
        || (ratio < 1.0 && new_ratio > 1.0)
        || (ratio > 1.0 && new_ratio < 1.0)
    {
        return Ok((current, metric));
    }
    let proposed = (new_ratio * all.len() as f64).ceil() as i32;
    if (new_ratio < 1.0 && proposed > current) || (new_ratio > 1.0 && proposed < current) {
        return Ok((current, metric));
    }
    Ok((proposed, metric))
}

/// One metric's proposal.
struct Proposal {
    pub(super) replicas: i32,
    /// How the metric is named in conditions and events ("cpu resource utilization
    /// (percentage of request)", "pods metric qps").
    pub(super) name: String,
    /// Its `status.currentMetrics` entry.
    pub(super) status: Value,
}

/// Why a metric gave no proposal: the `ScalingActive=False` reason and message.
pub(super) struct MetricError {
    pub(super) reason: &'static str,
    pub(super) message: String,
}

fn metric_error(reason: &'static str, message: impl Into<String>) -> MetricError {
    MetricError {
        reason,
        message: message.into(),
    }
}

/// Sum of the requests for `resource` of the pod's containers, in milli-units; an error
/// names the first container without one.
fn pod_request(pod: &Pod, resource: &str) -> Result<i64, String> {
    let mut total = 0;
    for c in &pod.spec.containers {
        match c.resources.as_ref().and_then(|r| r.requests.get(resource)) {
            Some(q) => total += q.milli_value(),
            None => {
                return Err(format!(
                    "missing request for {resource} in container {} of Pod {}",
                    c.name, pod.metadata.name
                ))
            }
        }
    }
    Ok(total)
}

/// Running and Ready: a pod whose metric counts as it is.
fn counts_as_ready(pod: &Pod) -> bool {
    pod_util::phase(pod) == pod_util::RUNNING && pod_util::is_ready(pod)
}

fn quantity(milli: i64) -> String {
    Quantity::from_milli(milli).0
}

impl Autoscaler {
    /// The proposal of one metric over `pods` (the active pods of the target).
    fn evaluate(
        &self,
        spec: &MetricSpec,
        pods: &[Arc<Pod>],
        current: i32,
    ) -> Result<Proposal, MetricError> {
        match spec.type_.as_str() {
            "Resource" => {
                const REASON: &str = "FailedGetResourceMetric";
                let r = spec.resource.as_ref().ok_or_else(|| {
                    metric_error(REASON, "a Resource metric needs spec.metrics[].resource")
                })?;
                self.resource(&r.name, &r.target, pods, current)
                    .map_err(|m| metric_error(REASON, m))
            }
            "Pods" => {
                const REASON: &str = "FailedGetPodsMetric";
                let p = spec.pods.as_ref().ok_or_else(|| {
                    metric_error(REASON, "a Pods metric needs spec.metrics[].pods")
                })?;
                let name = &p.metric.name;
                let target = p.target.average_value.as_ref().ok_or_else(|| {
                    metric_error(REASON, "a Pods metric needs target.averageValue")
                })?;
                let samples: Vec<PodSample> = pods
                    .iter()
                    .map(|pod| PodSample {
                        value: self
                            .metrics
                            .pod_metric(pod, name)
                            .map(|v| (v * 1000.0).round() as i64),
                        weight: 1,
                        ready: counts_as_ready(pod),
                    })
                    .collect();
                let (replicas, avg) = replicas_for(
                    current,
                    Goal::AverageValue(target.milli_value()),
                    &samples,
                    TOLERANCE,
                )
                .map_err(|m| {
                    metric_error(
                        REASON,
                        format!("unable to get metric {name}: {m}"),
                    )
                })?;
                Ok(Proposal {
                    replicas,
                    name: format!("pods metric {name}"),
                    status: json!({"type": "Pods", "pods": {
                        "metric": {"name": name},
                        "current": {"averageValue": quantity(avg)}
                    }}),
                })
            }
            "ContainerResource" => Err(metric_error(
                "FailedGetContainerResourceMetric",
                "ContainerResource metrics are not supported: steady measures usage per pod (use a Resource metric)",
            )),
            "Object" => Err(metric_error(
                "FailedGetObjectMetric",
                "Object metrics are not supported by steady (use a Pods metric the host reports)",
            )),
            "External" => Err(metric_error(
                "FailedGetExternalMetric",
                "External metrics are not supported by steady (use a Pods metric the host reports)",
            )),
            t => Err(metric_error(
                "InvalidMetricSourceType",
                format!("the HPA was unable to compute the replica count: unrecognized metric source type {t:?}"),
            )),
        }
    }

    /// A `Resource` metric: utilization of the requests, or an average value.
    fn resource(
        &self,
        resource: &str,
        target: &crate::api::MetricTarget,
        pods: &[Arc<Pod>],
        current: i32,
    ) -> Result<Proposal, String> {
        let (goal, needs_request) = match target.type_.as_str() {
            "Utilization" => (
                Goal::Utilization(i64::from(target.average_utilization.ok_or_else(|| {
                    "a Utilization target needs averageUtilization".to_string()
                })?)),
                true,
            ),
            "AverageValue" => (
                Goal::AverageValue(
                    target
                        .average_value
                        .as_ref()
                        .ok_or_else(|| "an AverageValue target needs averageValue".to_string())?
                        .milli_value(),
                ),
                false,
            ),
            t => return Err(format!("invalid resource metric target type {t:?}")),
        };
        let mut samples = Vec::with_capacity(pods.len());
        for pod in pods {
            let weight = if needs_request {
                pod_request(pod, resource)
                    .map_err(|e| format!("failed to get {resource} utilization: {e}"))?
            } else {
                1
            };
            samples.push(PodSample {
                value: self.metrics.pod_usage_milli(pod, resource),
                weight,
                ready: counts_as_ready(pod),
            });
        }
        let (replicas, metric) = replicas_for(current, goal, &samples, TOLERANCE)
            .map_err(|e| format!("failed to get {resource} utilization: {e}"))?;
        Ok(match goal {
            Goal::Utilization(_) => {
                // The average value of the ready pods with a metric, beside the percentage.
                let ready: Vec<i64> = samples
                    .iter()
                    .filter(|s| s.ready)
                    .filter_map(|s| s.value)
                    .collect();
                let average = ready.iter().sum::<i64>() / ready.len().max(1) as i64;
                Proposal {
                    replicas,
                    name: format!("{resource} resource utilization (percentage of request)"),
                    status: json!({"type": "Resource", "resource": {
                        "name": resource,
                        "current": {"averageUtilization": metric, "averageValue": quantity(average)}
                    }}),
                }
            }
            Goal::AverageValue(_) => Proposal {
                replicas,
                name: format!("{resource} resource"),
                status: json!({"type": "Resource", "resource": {
                    "name": resource,
                    "current": {"averageValue": quantity(metric)}
                }}),
            },
        })
    }

    /// The largest proposal over the metrics (Kubernetes' computeReplicasForMetrics).
    pub(super) fn compute(
        &self,
        hpa: &HorizontalPodAutoscaler,
        pods: &[Arc<Pod>],
        current: i32,
        statuses: &mut Vec<Value>,
    ) -> Result<(i32, String), MetricError> {
        let default_metric;
        let specs: &[MetricSpec] = if hpa.spec.metrics.is_empty() {
            default_metric = [serde_json::from_value::<MetricSpec>(json!({
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}
            }))
            .expect("the default metric is well-formed")];
            &default_metric
        } else {
            &hpa.spec.metrics
        };
        let mut best: Option<(i32, String)> = None;
        let mut invalid = None;
        let mut invalid_count = 0;
        for (i, spec) in specs.iter().enumerate() {
            match self.evaluate(spec, pods, current) {
                Ok(p) => {
                    statuses.push(p.status);
                    if best.as_ref().is_none_or(|(r, _)| p.replicas > *r) {
                        best = Some((p.replicas, p.name));
                    }
                }
                Err(mut e) => {
                    invalid_count += 1;
                    e.message = format!("spec.metrics[{i}]: {}", e.message);
                    invalid.get_or_insert(e);
                }
            }
        }
        match (best, invalid) {
            (Some(b), None) => Ok(b),
            // A failed metric might have asked for more: never scale down on the others alone.
            (Some(b), Some(_)) if invalid_count < specs.len() && b.0 >= current => Ok(b),
            (_, Some(e)) => Err(e),
            (None, None) => Err(metric_error(
                "InvalidMetricSourceType",
                "the HPA has no metrics",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(milli: i64) -> PodSample {
        PodSample {
            value: Some(milli),
            weight: 100,
            ready: true,
        }
    }

    fn missing() -> PodSample {
        PodSample {
            value: None,
            weight: 100,
            ready: true,
        }
    }

    fn unready() -> PodSample {
        PodSample {
            value: Some(0),
            weight: 100,
            ready: false,
        }
    }

    const HALF: Goal = Goal::Utilization(50);

    #[test]
    fn walkthrough_ratios_give_the_documented_replicas() {
        // 1 replica at 200% of the target: 2 replicas.
        assert_eq!(
            replicas_for(1, HALF, &[ready(100)], TOLERANCE).unwrap(),
            (2, 100)
        );
        // 3 replicas at 90% utilization with a 50% target: ceil(3 * 1.8) = 6.
        let three = [ready(90), ready(90), ready(90)];
        assert_eq!(replicas_for(3, HALF, &three, TOLERANCE).unwrap().0, 6);
        // Ratio 1.05 and 0.95 are within the tolerance; 1.2 is not.
        assert_eq!(
            replicas_for(4, HALF, &[ready(52); 4], TOLERANCE).unwrap().0,
            4
        );
        assert_eq!(
            replicas_for(4, HALF, &[ready(48); 4], TOLERANCE).unwrap().0,
            4
        );
        assert_eq!(
            replicas_for(4, HALF, &[ready(60); 4], TOLERANCE).unwrap().0,
            5
        );
        // A plain average: 4 pods averaging 2500m against 1: 10 pods.
        let avg = Goal::AverageValue(1000);
        let s = [PodSample {
            value: Some(2500),
            weight: 1,
            ready: true,
        }; 4];
        assert_eq!(replicas_for(4, avg, &s, TOLERANCE).unwrap(), (10, 2500));
    }

    #[test]
    fn missing_metrics_count_as_the_target_down_and_zero_up() {
        // Scale-down (ready pods at 20% of 50%): the missing pod counts as 50%, so
        // (20+20+50)/3 = 30% -> ceil(3 * 0.6) = 2 instead of ceil(2 * 0.4) = 1.
        let s = [ready(20), ready(20), missing()];
        assert_eq!(replicas_for(3, HALF, &s, TOLERANCE).unwrap().0, 2);
        // Scale-up (ready pods at 100%): the missing pod counts as 0%, so
        // (100+100+0)/3 = 66% -> ceil(3 * 1.32) = 4. With one ready pod at 60%,
        // (60+0)/2 = 30% would reverse the direction: no change.
        let s = [ready(100), ready(100), missing()];
        assert_eq!(replicas_for(3, HALF, &s, TOLERANCE).unwrap().0, 4);
        let s = [ready(60), missing()];
        assert_eq!(replicas_for(2, HALF, &s, TOLERANCE).unwrap().0, 2);
    }

    #[test]
    fn unready_pods_count_as_zero_on_scale_up_and_are_ignored_on_scale_down() {
        // Scale-up: (100 + 0 + 0)/3 = 33% < 50%: the direction would reverse, no change.
        let s = [ready(100), unready(), unready()];
        assert_eq!(replicas_for(3, HALF, &s, TOLERANCE).unwrap().0, 3);
        // Scale-up: (200 + 0)/2 = 100% -> ceil(2 * 2) = 4.
        let s = [ready(200), unready()];
        assert_eq!(replicas_for(2, HALF, &s, TOLERANCE).unwrap().0, 4);
        // Scale-down: only the ready pod counts: 10% -> ceil(1 * 0.2) = 1.
        let s = [ready(10), unready()];
        assert_eq!(replicas_for(2, HALF, &s, TOLERANCE).unwrap().0, 1);
        // No ready pod with a metric: an error, not a guess.
        assert!(replicas_for(2, HALF, &[unready(), missing()], TOLERANCE).is_err());
        assert!(replicas_for(2, HALF, &[], TOLERANCE).is_err());
    }
}
