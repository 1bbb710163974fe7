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
//!
//! The files: this one holds the controller and the reconcile; `replica_calculator` the
//! proposals per metric, `behavior` the stabilization windows and rate policies, `scale` the
//! access to the target's replicas.

use super::pod_metrics::PodMetrics;
use super::pod_util;
use crate::api::conditions::{condition, set_condition, status_of};
use crate::api::Selector;
use crate::api::{Condition, HorizontalPodAutoscaler, HorizontalPodAutoscalerStatus, Pod};
use crate::client::events::EventKind;
use crate::runtime::{Action, Context, Controller, ReconcileError, ReconcileResult};
use crate::store::ListParams;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

mod behavior;
mod replica_calculator;
mod scale;

use behavior::{Bounds, History};
pub use behavior::{RatePolicy, ScalingRules, SelectPolicy};
use scale::{get_scale, set_replicas};

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
pub(super) const DEFAULT_CPU_UTILIZATION: i64 = 80;

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
pub(super) struct Autoscaler {
    pub(super) metrics: PodMetrics,
    /// Keyed by `namespace/name`. Invariant: the runtime never runs two reconciles of one
    /// autoscaler at once, so a reconcile that takes its entry out and puts it back is the
    /// only one using it.
    history: Mutex<HashMap<String, History>>,
}

impl Autoscaler {
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
    pub(super) fn pods(
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
            .filter(|p| pod_util::is_active(p))
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
