//! The HorizontalPodAutoscaler controller (autoscaling/v2): keeps a workload's replicas where
//! its metrics meet their targets.
//!
//! Every [`SYNC_PERIOD`] (15 s on the engine clock, and whenever the autoscaler's spec
//! changes) one reconcile:
//! 1. reads the target's scale: `spec.replicas` (default 1) and `spec.selector` of the
//!    Deployment, ReplicaSet or StatefulSet named by `spec.scaleTargetRef` (condition
//!    `AbleToScale`, reason `SucceededGetScale` or `FailedGetScale`);
//! 2. when the target has 0 replicas (and `minReplicas` is not 0) does nothing
//!    (`ScalingActive=False`, `ScalingDisabled`); when the replicas are outside
//!    `[minReplicas, maxReplicas]` brings them inside;
//! 3. otherwise computes one proposal per metric (`spec.metrics`, default 80% average CPU
//!    utilization) over the target's pods, as Kubernetes' replica calculator does:
//!    `ceil(readyPods * currentMetric / target)`, no change while the ratio is within
//!    [`TOLERANCE`] of 1; a pod without a metric counts as 100% of the target when scaling
//!    down and 0% when scaling up; a pod that is not ready (or still Pending) counts as 0%
//!    when scaling up and is left out otherwise; a terminal or deleting pod is left out. The
//!    largest proposal wins (`ScalingActive=True`, `ValidMetricFound`); when every metric
//!    failed, or some failed and the others would scale down, nothing is scaled
//!    (`ScalingActive=False` with the failing metric's reason, e.g. `FailedGetResourceMetric`);
//! 4. normalizes the proposal with `spec.behavior` (Kubernetes' defaults for what is left
//!    out, see [`ScalingRules`]): the stabilization windows (scale-down: the highest
//!    recommendation of the last 300 s, reason `ScaleDownStabilized`; as in Kubernetes, the
//!    target's replicas at the first sync count as a recommendation, so a new autoscaler
//!    scales down only once its window has passed), then the rate
//!    policies over the replicas changed in their periods (reason `ScaleUpLimit` /
//!    `ScaleDownLimit`), then `minReplicas` / `maxReplicas` (reason `TooFewReplicas` /
//!    `TooManyReplicas`): condition `ScalingLimited`;
//! 5. writes the target's `spec.replicas` when the result differs (event
//!    `SuccessfulRescale`, `AbleToScale=True` reason `SucceededRescale`, `lastScaleTime`),
//!    then `status`: currentReplicas, desiredReplicas, currentMetrics, observedGeneration,
//!    conditions.
//!
//! Metrics come from [`PodMetrics`]: CPU measured from the OS for process pods, usage and
//! custom per-pod metrics reported by the host (`Engine::report_pod_usage`,
//! `Engine::report_pod_metric`). `Resource` (Utilization, AverageValue) and `Pods`
//! (AverageValue) metrics are supported; `Pods` metrics ignore `metric.selector` (reported
//! metrics carry no labels). `ContainerResource`, `Object` and `External` metrics are not:
//! they fail with `ScalingActive=False` and a reason naming the type.
//!
//! The recommendations and scale events that the windows and policies look back on are kept
//! in memory, per autoscaler (reset when one of the same name but another uid appears); a
//! restarted engine starts with empty windows, as a restarted kube-controller-manager does.
//!
//! # Manifests and the autoscaler: leave `replicas` out
//!
//! The autoscaler owns the target's `spec.replicas`. The rule, as Kubernetes documents it:
//! **once an autoscaler manages a workload, its manifest leaves `spec.replicas` out.** Such a
//! manifest can be re-applied at will: `apply` (a three-way merge against the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation) writes only the fields the
//! manifest sets, so the autoscaler's replicas stay.
//!
//! A manifest that does set `replicas` behaves as with `kubectl apply`: every apply writes the
//! fields the manifest sets that differ from the live object, so `replicas` is set back to the
//! manifest's value, and the autoscaler corrects it at its next sync (within
//! [`SYNC_PERIOD`]); the pods may briefly scale down or up in between. Removing `replicas`
//! from a manifest that set it deletes the field at the next apply (the three-way merge
//! removes what was applied before), so it defaults to 1 until the next sync; Kubernetes
//! documents the same effect (its advice: remove the field from the last-applied annotation
//! first, `kubectl apply edit-last-applied`).

use super::metrics::PodMetrics;
use super::pods;
use crate::api::Selector;
use crate::api::{
    Condition, CrossVersionObjectReference, Deployment, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerStatus, HpaScalingRules, LabelSelector, MetricSpec, Pod, Quantity,
    ReplicaSet, Resource, StatefulSet, Time,
};
use crate::runtime::conditions::{condition, set_condition, status_of};
use crate::runtime::events::EventKind;
use crate::runtime::{Action, Context, Controller, ReconcileError, ReconcileResult};
use crate::store::ListParams;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The controller's name (metrics, events).
pub const NAME: &str = "horizontal-pod-autoscaler";

/// How often each autoscaler is synced (Kubernetes'
/// `--horizontal-pod-autoscaler-sync-period`), on the engine clock.
pub const SYNC_PERIOD: Duration = Duration::from_secs(15);

/// No scaling while `|currentMetric / target - 1|` is at most this.
pub const TOLERANCE: f64 = 0.1;

/// Condition: whether the autoscaler can read and write the target's scale.
pub const ABLE_TO_SCALE: &str = "AbleToScale";
/// Condition: whether the autoscaler can compute replicas from its metrics.
pub const SCALING_ACTIVE: &str = "ScalingActive";
/// Condition: whether the desired replicas were capped (min/max or rate policies).
pub const SCALING_LIMITED: &str = "ScalingLimited";

/// The default metric: 80% average CPU utilization.
const DEFAULT_CPU_UTILIZATION: i64 = 80;

/// The HorizontalPodAutoscaler controller, reading pod metrics from `metrics`.
pub fn controller(metrics: PodMetrics) -> Controller {
    let hpa = Arc::new(Autoscaler {
        metrics,
        history: Mutex::default(),
    });
    Controller::for_kind::<HorizontalPodAutoscaler>(NAME)
        .concurrency(2)
        .build(move |ctx: &Context| hpa.reconcile(ctx))
}

/// The controller's state besides the store: per autoscaler, what the windows look back on.
struct Autoscaler {
    metrics: PodMetrics,
    /// Keyed by `namespace/name`. Invariant: the runtime never runs two reconciles of one
    /// autoscaler at once, so a reconcile that takes its entry out and puts it back is the
    /// only one using it.
    history: Mutex<HashMap<String, History>>,
}

/// The past an autoscaler's behavior rules look at.
#[derive(Default, Debug)]
struct History {
    uid: Option<String>,
    /// Unstabilized recommendations (time, replicas).
    recommendations: Vec<(Time, i32)>,
    /// Replicas added by scale-ups (time, count).
    scale_ups: Vec<(Time, i32)>,
    /// Replicas removed by scale-downs (time, count).
    scale_downs: Vec<(Time, i32)>,
    /// Whether the target's replicas at the first sync were recorded as a recommendation.
    seeded: bool,
}

/// Which rate policy wins (`selectPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectPolicy {
    /// The policy allowing the largest change (default).
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// One rate policy: at most `value` pods, or `value` percent of the replicas at the start of
/// the period, per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RatePolicy {
    /// `Pods` (true) or `Percent` (false).
    pub pods: bool,
    /// The amount.
    pub value: i32,
    /// The period.
    pub period: Duration,
}

/// The scaling rules of one direction with Kubernetes' defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalingRules {
    /// `stabilizationWindowSeconds` (scale-up default 0, scale-down default 300).
    pub window: Duration,
    /// `selectPolicy` (default Max).
    pub select: SelectPolicy,
    /// `policies` (scale-up default: Percent 100 and Pods 4 per 15 s; scale-down default:
    /// Percent 100 per 15 s).
    pub policies: Vec<RatePolicy>,
}

impl ScalingRules {
    /// The scale-up rules of `rules` (`spec.behavior.scaleUp`), defaults filled in.
    pub fn scale_up(rules: Option<&HpaScalingRules>) -> Self {
        Self::with_defaults(
            rules,
            0,
            vec![
                RatePolicy {
                    pods: false,
                    value: 100,
                    period: Duration::from_secs(15),
                },
                RatePolicy {
                    pods: true,
                    value: 4,
                    period: Duration::from_secs(15),
                },
            ],
        )
    }

    /// The scale-down rules of `rules` (`spec.behavior.scaleDown`), defaults filled in.
    pub fn scale_down(rules: Option<&HpaScalingRules>) -> Self {
        Self::with_defaults(
            rules,
            300,
            vec![RatePolicy {
                pods: false,
                value: 100,
                period: Duration::from_secs(15),
            }],
        )
    }

    fn with_defaults(
        rules: Option<&HpaScalingRules>,
        window: i32,
        policies: Vec<RatePolicy>,
    ) -> Self {
        let window = rules
            .and_then(|r| r.stabilization_window_seconds)
            .unwrap_or(window)
            .max(0);
        let select = match rules.and_then(|r| r.select_policy.as_deref()) {
            Some("Min") => SelectPolicy::Min,
            Some("Disabled") => SelectPolicy::Disabled,
            _ => SelectPolicy::Max,
        };
        let given: Vec<RatePolicy> = rules
            .map(|r| {
                r.policies
                    .iter()
                    .map(|p| RatePolicy {
                        pods: p.type_ == "Pods",
                        value: p.value,
                        period: Duration::from_secs(p.period_seconds.max(1) as u64),
                    })
                    .collect()
            })
            .unwrap_or_default();
        ScalingRules {
            window: Duration::from_secs(window as u64),
            select,
            policies: if given.is_empty() { policies } else { given },
        }
    }

    fn longest_period(&self) -> Duration {
        self.policies
            .iter()
            .map(|p| p.period)
            .max()
            .unwrap_or_default()
    }
}

/// True when `t` lies within `window` before `now` (strictly after `now - window`).
fn within(now: Time, t: Time, window: Duration) -> bool {
    now.saturating_duration_since(t) < window
}

/// Replicas changed by the events within `period` before `now`.
fn changed_in(events: &[(Time, i32)], now: Time, period: Duration) -> i32 {
    events
        .iter()
        .filter(|(t, _)| within(now, *t, period))
        .map(|(_, n)| n)
        .sum()
}

/// The most replicas the scale-up policies allow now, from `current` and the recent
/// scale-ups.
fn scale_up_limit(current: i32, ups: &[(Time, i32)], rules: &ScalingRules, now: Time) -> i32 {
    let (mut result, pick): (i32, fn(i32, i32) -> i32) = match rules.select {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => (i32::MAX, std::cmp::min),
        SelectPolicy::Max => (i32::MIN, std::cmp::max),
    };
    for p in &rules.policies {
        let start = current - changed_in(ups, now, p.period);
        let proposed = if p.pods {
            start.saturating_add(p.value)
        } else {
            (f64::from(start) * (1.0 + f64::from(p.value) / 100.0)).ceil() as i32
        };
        result = pick(result, proposed);
    }
    result
}

/// The fewest replicas the scale-down policies allow now, from `current` and the recent
/// scale-downs.
fn scale_down_limit(current: i32, downs: &[(Time, i32)], rules: &ScalingRules, now: Time) -> i32 {
    let (mut result, pick): (i32, fn(i32, i32) -> i32) = match rules.select {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => (i32::MIN, std::cmp::max),
        SelectPolicy::Max => (i32::MAX, std::cmp::min),
    };
    for p in &rules.policies {
        let start = current + changed_in(downs, now, p.period);
        let proposed = if p.pods {
            start - p.value
        } else {
            (f64::from(start) * (1.0 - f64::from(p.value) / 100.0)) as i32
        };
        result = pick(result, proposed);
    }
    result
}

/// What normalization decided, with the reasons of the conditions it sets.
#[derive(Debug, PartialEq)]
struct Normalized {
    replicas: i32,
    /// `AbleToScale` reason and message: stabilized or `ReadyForNewScale`.
    stabilization: (&'static str, &'static str),
    /// `ScalingLimited` status, reason and message.
    limited: (bool, &'static str, &'static str),
}

/// The bounds of one normalization: replicas now, the metrics' proposal, min and max.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    current: i32,
    proposed: i32,
    min: i32,
    max: i32,
}

impl History {
    /// Records the target's replicas at the autoscaler's first sync as a recommendation, as
    /// Kubernetes does: a new autoscaler holds a scale-down for its stabilization window
    /// instead of cutting replicas the moment it is created.
    fn seed(&mut self, now: Time, current: i32) {
        if !self.seeded {
            self.seeded = true;
            self.recommendations.push((now, current));
        }
    }

    /// Stabilizes `b.proposed` over the recorded recommendations, records it, then applies
    /// the rate policies and min/max (Kubernetes' behavior normalization).
    fn normalize(
        &mut self,
        now: Time,
        b: Bounds,
        up: &ScalingRules,
        down: &ScalingRules,
    ) -> Normalized {
        let (mut up_rec, mut down_rec) = (b.proposed, b.proposed);
        for &(t, r) in &self.recommendations {
            if within(now, t, up.window) {
                up_rec = up_rec.min(r);
            }
            if within(now, t, down.window) {
                down_rec = down_rec.max(r);
            }
        }
        let stabilized = b.current.max(up_rec).min(down_rec);
        let keep = up.window.max(down.window);
        self.recommendations.retain(|&(t, _)| within(now, t, keep));
        self.recommendations.push((now, b.proposed));
        let stabilization = if stabilized == b.proposed {
            ("ReadyForNewScale", "recommended size matches current size")
        } else if b.proposed >= b.current {
            (
                "ScaleUpStabilized",
                "recent recommendations were lower than current one, applying the lowest recent recommendation",
            )
        } else {
            (
                "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest recent recommendation",
            )
        };
        let (replicas, reason, message) = self.limit_rate(now, stabilized, b, up, down);
        Normalized {
            replicas,
            stabilization,
            limited: (replicas != stabilized, reason, message),
        }
    }

    fn limit_rate(
        &self,
        now: Time,
        desired: i32,
        b: Bounds,
        up: &ScalingRules,
        down: &ScalingRules,
    ) -> (i32, &'static str, &'static str) {
        if desired > b.current {
            // Until the recent scale-ups leave their periods, no further scale-up.
            let limit = scale_up_limit(b.current, &self.scale_ups, up, now).max(b.current);
            let (allowed, reason, message) = if b.max > limit {
                (
                    limit,
                    "ScaleUpLimit",
                    "the desired replica count is increasing faster than the maximum scale rate",
                )
            } else {
                (
                    b.max,
                    "TooManyReplicas",
                    "the desired replica count is more than the maximum replica count",
                )
            };
            if desired > allowed {
                return (allowed, reason, message);
            }
        } else if desired < b.current {
            let limit = scale_down_limit(b.current, &self.scale_downs, down, now).min(b.current);
            let (allowed, reason, message) = if b.min < limit {
                (
                    limit,
                    "ScaleDownLimit",
                    "the desired replica count is decreasing faster than the maximum scale rate",
                )
            } else {
                (
                    b.min,
                    "TooFewReplicas",
                    "the desired replica count is less than the minimum replica count",
                )
            };
            if desired < allowed {
                return (allowed, reason, message);
            }
        }
        (
            desired,
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
        )
    }

    /// Records a rescale from `from` to `to` for the rate policies, dropping events older
    /// than the longest period.
    fn record_scale(
        &mut self,
        now: Time,
        from: i32,
        to: i32,
        up: &ScalingRules,
        down: &ScalingRules,
    ) {
        let (up_keep, down_keep) = (up.longest_period(), down.longest_period());
        self.scale_ups.retain(|&(t, _)| within(now, t, up_keep));
        self.scale_downs.retain(|&(t, _)| within(now, t, down_keep));
        if to > from {
            self.scale_ups.push((now, to - from));
        } else if to < from {
            self.scale_downs.push((now, from - to));
        }
    }
}

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
    value: Option<i64>,
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
    replicas: i32,
    /// How the metric is named in conditions and events ("cpu resource utilization
    /// (percentage of request)", "pods metric qps").
    name: String,
    /// Its `status.currentMetrics` entry.
    status: Value,
}

/// Why a metric gave no proposal: the `ScalingActive=False` reason and message.
struct MetricError {
    reason: &'static str,
    message: String,
}

fn metric_error(reason: &'static str, message: impl Into<String>) -> MetricError {
    MetricError {
        reason,
        message: message.into(),
    }
}

/// The target's scale: `spec.replicas` and the pods' selector.
struct Scale {
    replicas: i32,
    selector: Selector,
}

/// Reads one workload's scale with typed access.
fn read_scale<K: Resource>(
    ctx: &Context,
    namespace: &str,
    name: &str,
    spec: impl Fn(&K) -> (Option<i32>, &LabelSelector),
) -> Result<Scale, String> {
    let obj = ctx
        .api::<K>()
        .namespace(namespace)
        .get(name)
        .map_err(|e| e.to_string())?;
    let (replicas, selector) = spec(&obj);
    let selector = selector.to_selector().map_err(|e| {
        format!(
            "{} {namespace}/{name}: spec.selector.{}: {}",
            K::KIND,
            e.field,
            e.message
        )
    })?;
    Ok(Scale {
        replicas: replicas.unwrap_or(1),
        selector,
    })
}

/// The scale of `target` in `namespace`: Deployments, ReplicaSets and StatefulSets (apps/v1).
fn get_scale(
    ctx: &Context,
    namespace: &str,
    target: &CrossVersionObjectReference,
) -> Result<Scale, String> {
    if let Some(v) = target.api_version.as_deref() {
        if v != "apps/v1" {
            return Err(format!(
                "spec.scaleTargetRef.apiVersion: {v:?} is not served; steady scales apps/v1 Deployment, ReplicaSet and StatefulSet"
            ));
        }
    }
    let name = target.name.as_str();
    match target.kind.as_str() {
        "Deployment" => read_scale::<Deployment>(ctx, namespace, name, |d| {
            (d.spec.replicas, &d.spec.selector)
        }),
        "ReplicaSet" => read_scale::<ReplicaSet>(ctx, namespace, name, |r| {
            (r.spec.replicas, &r.spec.selector)
        }),
        "StatefulSet" => read_scale::<StatefulSet>(ctx, namespace, name, |s| {
            (s.spec.replicas, &s.spec.selector)
        }),
        k => Err(format!(
            "spec.scaleTargetRef.kind: {k:?} has no scale; steady scales Deployment, ReplicaSet and StatefulSet"
        )),
    }
}

/// Writes the target's `spec.replicas` (the scale subresource's write).
fn set_replicas(
    ctx: &Context,
    namespace: &str,
    target: &CrossVersionObjectReference,
    replicas: i32,
) -> crate::Result<()> {
    let patch = json!({"spec": {"replicas": replicas}});
    let name = target.name.as_str();
    match target.kind.as_str() {
        "Deployment" => ctx
            .api::<Deployment>()
            .namespace(namespace)
            .patch(name, &patch)
            .map(drop),
        "ReplicaSet" => ctx
            .api::<ReplicaSet>()
            .namespace(namespace)
            .patch(name, &patch)
            .map(drop),
        _ => ctx
            .api::<StatefulSet>()
            .namespace(namespace)
            .patch(name, &patch)
            .map(drop),
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
    pods::phase(pod) == pods::RUNNING && pods::is_ready(pod)
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
    fn compute(
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

    fn reconcile(&self, ctx: &Context) -> ReconcileResult {
        let key = format!("{}/{}", ctx.namespace().unwrap_or("default"), ctx.name());
        let Some(hpa) = ctx.get::<HorizontalPodAutoscaler>() else {
            self.history.lock().remove(&key);
            return Ok(Action::done());
        };
        if hpa.metadata.deletion_timestamp.is_some() {
            return Ok(Action::done());
        }
        let mut history = self.history.lock().remove(&key).unwrap_or_default();
        if history.uid != hpa.metadata.uid {
            history = History {
                uid: hpa.metadata.uid.clone(),
                ..Default::default()
            };
        }
        let result = self.sync(ctx, &hpa, &mut history);
        self.history.lock().insert(key, history);
        result
    }

    /// One sync of `hpa` (see the module documentation).
    fn sync(
        &self,
        ctx: &Context,
        hpa: &Arc<HorizontalPodAutoscaler>,
        history: &mut History,
    ) -> ReconcileResult {
        let now = ctx.now();
        let generation = hpa.metadata.generation;
        let namespace = hpa.metadata.namespace.as_deref().unwrap_or("default");
        let target = &hpa.spec.scale_target_ref;
        let prev = hpa.status.clone().unwrap_or_default();
        let mut conds: Vec<Condition> = prev.conditions.clone();
        let set = |conds: &mut Vec<Condition>, t: &str, holds: bool, reason: &str, msg: &str| {
            set_condition(
                conds,
                condition(t, status_of(holds), reason, msg, generation),
                now,
            );
        };
        let mut status = HorizontalPodAutoscalerStatus {
            observed_generation: generation,
            last_scale_time: prev.last_scale_time,
            current_replicas: prev.current_replicas,
            desired_replicas: prev.desired_replicas,
            current_metrics: Vec::new(),
            conditions: Vec::new(),
            extra: prev.extra.clone(),
        };
        let scale = match get_scale(ctx, namespace, target) {
            Ok(s) => s,
            Err(e) => {
                let msg =
                    format!("the HPA controller was unable to get the target's current scale: {e}");
                ctx.event(hpa.as_ref(), EventKind::Warning, "FailedGetScale", &msg);
                set(&mut conds, ABLE_TO_SCALE, false, "FailedGetScale", &msg);
                status.current_metrics = prev.current_metrics.clone();
                status.conditions = conds;
                self.write_status(ctx, hpa, status)?;
                return Ok(Action::requeue(SYNC_PERIOD));
            }
        };
        set(
            &mut conds,
            ABLE_TO_SCALE,
            true,
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        );
        let current = scale.replicas;
        history.seed(now, current);
        let min = hpa.spec.min_replicas.unwrap_or(1);
        let max = hpa.spec.max_replicas;
        status.current_replicas = Some(current);
        let up =
            ScalingRules::scale_up(hpa.spec.behavior.as_ref().and_then(|b| b.scale_up.as_ref()));
        let down = ScalingRules::scale_down(
            hpa.spec
                .behavior
                .as_ref()
                .and_then(|b| b.scale_down.as_ref()),
        );
        let (desired, reason): (i32, String) = if current == 0 && min != 0 {
            set(
                &mut conds,
                SCALING_ACTIVE,
                false,
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
            );
            (0, String::new())
        } else if current > max {
            set(
                &mut conds,
                SCALING_LIMITED,
                true,
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count",
            );
            (
                max,
                "Current number of replicas above Spec.MaxReplicas".into(),
            )
        } else if current < min {
            set(
                &mut conds,
                SCALING_LIMITED,
                true,
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
            );
            (
                min,
                "Current number of replicas below Spec.MinReplicas".into(),
            )
        } else {
            let pods = self.pods(ctx, namespace, &scale.selector)?;
            match self.compute(hpa, &pods, current, &mut status.current_metrics) {
                Err(e) => {
                    ctx.event(
                        hpa.as_ref(),
                        EventKind::Warning,
                        "FailedComputeMetricsReplicas",
                        &e.message,
                    );
                    set(&mut conds, SCALING_ACTIVE, false, e.reason, &e.message);
                    status.desired_replicas = current;
                    status.conditions = conds;
                    self.write_status(ctx, hpa, status)?;
                    return Ok(Action::requeue(SYNC_PERIOD));
                }
                Ok((proposed, metric)) => {
                    set(
                        &mut conds,
                        SCALING_ACTIVE,
                        true,
                        "ValidMetricFound",
                        &format!("the HPA was able to successfully calculate a replica count from {metric}"),
                    );
                    let n = history.normalize(
                        now,
                        Bounds {
                            current,
                            proposed,
                            min,
                            max,
                        },
                        &up,
                        &down,
                    );
                    set(
                        &mut conds,
                        ABLE_TO_SCALE,
                        true,
                        n.stabilization.0,
                        n.stabilization.1,
                    );
                    set(
                        &mut conds,
                        SCALING_LIMITED,
                        n.limited.0,
                        n.limited.1,
                        n.limited.2,
                    );
                    let reason = if n.replicas > current {
                        format!("{metric} above target")
                    } else {
                        "All metrics below target".to_string()
                    };
                    (n.replicas, reason)
                }
            }
        };
        status.desired_replicas = desired;
        if desired != current && !(current == 0 && min != 0) {
            if let Err(e) = set_replicas(ctx, namespace, target, desired) {
                let msg = format!("failed to rescale {}/{}: {e}", target.kind, target.name);
                ctx.event(hpa.as_ref(), EventKind::Warning, "FailedRescale", &msg);
                set(&mut conds, ABLE_TO_SCALE, false, "FailedUpdateScale", &msg);
                status.conditions = conds;
                self.write_status(ctx, hpa, status)?;
                return Err(ReconcileError::retry(msg));
            }
            set(
                &mut conds,
                ABLE_TO_SCALE,
                true,
                "SucceededRescale",
                &format!("the HPA controller was able to update the target scale to {desired}"),
            );
            ctx.event(
                hpa.as_ref(),
                EventKind::Normal,
                "SuccessfulRescale",
                &format!("New size: {desired}; reason: {reason}"),
            );
            history.record_scale(now, current, desired, &up, &down);
            status.last_scale_time = Some(now);
        }
        status.conditions = conds;
        self.write_status(ctx, hpa, status)?;
        Ok(Action::requeue(SYNC_PERIOD))
    }

    /// The target's active pods (terminal and deleting pods never count).
    fn pods(
        &self,
        ctx: &Context,
        namespace: &str,
        selector: &Selector,
    ) -> Result<Vec<Arc<Pod>>, ReconcileError> {
        let list = ctx.api::<Pod>().list(&ListParams {
            namespace: Some(namespace.to_string()),
            selector: Some(selector.clone()),
            ..Default::default()
        })?;
        Ok(list
            .items
            .into_iter()
            .filter(|p| pods::is_active(p))
            .collect())
    }

    fn write_status(
        &self,
        ctx: &Context,
        hpa: &HorizontalPodAutoscaler,
        status: HorizontalPodAutoscalerStatus,
    ) -> Result<(), ReconcileError> {
        super::write_own_status(&ctx.api::<HorizontalPodAutoscaler>(), hpa, |h| {
            h.status = Some(status)
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> Time {
        Time::from_unix_micros(1_700_000_000_000_000).plus(Duration::from_secs(secs))
    }

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

    #[test]
    fn default_rules_are_kubernetes_defaults() {
        let up = ScalingRules::scale_up(None);
        assert_eq!(up.window, Duration::ZERO);
        assert_eq!(up.select, SelectPolicy::Max);
        assert_eq!(up.policies.len(), 2);
        let down = ScalingRules::scale_down(None);
        assert_eq!(down.window, Duration::from_secs(300));
        assert_eq!(
            down.policies,
            vec![RatePolicy {
                pods: false,
                value: 100,
                period: Duration::from_secs(15)
            }]
        );
        // Partial rules keep the defaults of what they leave out.
        let r = HpaScalingRules {
            stabilization_window_seconds: Some(60),
            ..Default::default()
        };
        let down = ScalingRules::scale_down(Some(&r));
        assert_eq!(down.window, Duration::from_secs(60));
        assert_eq!(down.policies.len(), 1);
    }

    #[test]
    fn scale_up_is_limited_to_double_or_four_pods_per_period() {
        let up = ScalingRules::scale_up(None);
        assert_eq!(scale_up_limit(1, &[], &up, t(0)), 5, "1 + 4 beats 2x");
        assert_eq!(scale_up_limit(10, &[], &up, t(0)), 20, "2x beats +4");
        // 2 -> 6 ten seconds ago: the period started at 2, so at most 6 now.
        let ups = [(t(0), 4)];
        assert_eq!(scale_up_limit(6, &ups, &up, t(10)), 6);
        assert_eq!(
            scale_up_limit(6, &ups, &up, t(15)),
            12,
            "the period has passed"
        );
        let min = ScalingRules {
            select: SelectPolicy::Min,
            ..up.clone()
        };
        assert_eq!(scale_up_limit(10, &[], &min, t(0)), 14);
        let off = ScalingRules {
            select: SelectPolicy::Disabled,
            ..up
        };
        assert_eq!(scale_up_limit(10, &[], &off, t(0)), 10);
    }

    #[test]
    fn scale_down_policies_count_the_period_start() {
        let pods = ScalingRules {
            window: Duration::ZERO,
            select: SelectPolicy::Max,
            policies: vec![RatePolicy {
                pods: true,
                value: 2,
                period: Duration::from_secs(60),
            }],
        };
        assert_eq!(scale_down_limit(10, &[], &pods, t(0)), 8);
        assert_eq!(scale_down_limit(8, &[(t(0), 2)], &pods, t(30)), 8);
        assert_eq!(scale_down_limit(8, &[(t(0), 2)], &pods, t(60)), 6);
        let down = ScalingRules::scale_down(None);
        assert_eq!(scale_down_limit(10, &[], &down, t(0)), 0, "100% per 15 s");
    }

    fn bounds(current: i32, proposed: i32) -> Bounds {
        Bounds {
            current,
            proposed,
            min: 1,
            max: 10,
        }
    }

    #[test]
    fn scale_down_waits_for_the_window_to_forget_higher_recommendations() {
        let (up, down) = (ScalingRules::scale_up(None), ScalingRules::scale_down(None));
        let mut h = History::default();
        assert_eq!(h.normalize(t(0), bounds(5, 5), &up, &down).replicas, 5);
        let n = h.normalize(t(15), bounds(5, 2), &up, &down);
        assert_eq!(n.replicas, 5);
        assert_eq!(n.stabilization.0, "ScaleDownStabilized");
        assert_eq!(h.normalize(t(299), bounds(5, 2), &up, &down).replicas, 5);
        // At 300 s the recommendation of t=0 has left the window.
        let n = h.normalize(t(300), bounds(5, 2), &up, &down);
        assert_eq!(n.replicas, 2);
        assert_eq!(n.stabilization.0, "ReadyForNewScale");
    }

    #[test]
    fn min_and_max_clamp_with_scaling_limited() {
        let (up, down) = (ScalingRules::scale_up(None), ScalingRules::scale_down(None));
        let mut h = History::default();
        let n = h.normalize(
            t(0),
            Bounds {
                current: 8,
                proposed: 20,
                min: 1,
                max: 10,
            },
            &up,
            &down,
        );
        assert_eq!(
            (n.replicas, n.limited.0, n.limited.1),
            (10, true, "TooManyReplicas")
        );
        let n = h.normalize(
            t(0),
            Bounds {
                current: 1,
                proposed: 8,
                min: 1,
                max: 10,
            },
            &up,
            &down,
        );
        assert_eq!((n.replicas, n.limited.1), (5, "ScaleUpLimit"));
        let mut h = History::default();
        let n = h.normalize(
            t(0),
            Bounds {
                current: 3,
                proposed: 0,
                min: 2,
                max: 10,
            },
            &up,
            &ScalingRules {
                window: Duration::ZERO,
                ..down
            },
        );
        assert_eq!(
            (n.replicas, n.limited.0, n.limited.1),
            (2, true, "TooFewReplicas")
        );
    }
}
