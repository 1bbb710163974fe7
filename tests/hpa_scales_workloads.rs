//! The HorizontalPodAutoscaler reproduces the replica counts of the Kubernetes documentation
//! ("Horizontal Pod Autoscaling" and its walkthrough): scale-up, the tolerance band, the
//! scale-down stabilization window, min/max clamps, the scale-up rate limit, the missing and
//! not-ready pod rules, custom `Pods` metrics, and an apply that does not fight it.
//!
//! Time is a manual clock: each sync is the HPA's 15 s requeue, fired by advancing the clock
//! and observed through the controller's reconcile counter. Metrics are set by hand through
//! `Engine::report_pod_usage` / `Engine::report_pod_metric`. Pods are bound and made ready by
//! the fake kubelet (tests/common/kubelet.rs) on an engine without a scheduler.

mod common;

use common::eventually;
use common::kubelet::{engine_with, FakeKubelet, MODE_ANNOTATION};
use std::sync::Arc;
use std::time::Duration;
use steady::api::conditions::find_condition;
use steady::api::{Deployment, HorizontalPodAutoscaler, Pod, Quantity};
use steady::clock::ManualClock;
use steady::controllers::hpa::{ABLE_TO_SCALE, NAME, SCALING_ACTIVE, SCALING_LIMITED};
use steady::controllers::pod_util::is_ready;
use steady::store::ListParams;
use steady::Engine;

fn engine() -> (Engine, Arc<ManualClock>) {
    // The fake kubelet binds pods itself: the engine runs no scheduler to race it.
    engine_with(&FakeKubelet::new())
}

/// A Deployment `app` of `replicas` pods requesting 100m CPU each; `replicas` `None` leaves
/// the field out.
fn deployment(app: &str, replicas: Option<i32>) -> String {
    let pod =
        "{containers: [{name: main, image: 'php-apache:1', resources: {requests: {cpu: 100m}}}]}";
    common::workloads::deployment(app, replicas, "", pod)
}

/// An autoscaler of Deployment `app` with `metrics` and `behavior` (YAML flow values).
fn hpa(app: &str, min: i32, max: i32, metrics: &str, behavior: &str) -> String {
    format!(
        "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: {app}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {app}}}
  minReplicas: {min}
  maxReplicas: {max}
  metrics: {metrics}
  behavior: {behavior}
"
    )
}

fn cpu_target(percent: i32) -> String {
    format!(
        "[{{type: Resource, resource: {{name: cpu, target: {{type: Utilization, averageUtilization: {percent}}}}}}}]"
    )
}

/// No scale-down stabilization: scale-down cases that are not about the window.
const NO_DOWN_WINDOW: &str = "{scaleDown: {stabilizationWindowSeconds: 0}}";

fn pods(e: &Engine, app: &str) -> Vec<Arc<Pod>> {
    e.api::<Pod>()
        .list(&ListParams::default())
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.labels.get("app").map(String::as_str) == Some(app))
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect()
}

fn spec_replicas(e: &Engine, app: &str) -> i32 {
    e.api::<Deployment>()
        .namespace("default")
        .get(app)
        .unwrap()
        .spec
        .replicas
        .unwrap_or(1)
}

/// Waits until the Deployment has `n` ready pods (and no others).
fn settle(e: &Engine, app: &str, n: usize) {
    eventually(20, &format!("{app}: {n} ready pods"), || {
        let p = pods(e, app);
        p.len() == n && p.iter().all(|p| is_ready(p))
    });
}

/// Reports `milli` millicores of CPU for every pod of `app`.
fn set_cpu(e: &Engine, app: &str, milli: i64) {
    for p in pods(e, app) {
        e.report_pod_usage(
            "default",
            &p.metadata.name,
            "cpu",
            &Quantity::from_milli(milli),
        );
    }
}

fn syncs(e: &Engine) -> u64 {
    let snap = e.metrics();
    let Some(f) = snap.family("controller_runtime_reconcile_total") else {
        return 0;
    };
    f.series
        .iter()
        .filter(|s| s.labels.get("controller").map(String::as_str) == Some(NAME))
        .map(|s| s.value.as_f64() as u64)
        .sum()
}

/// Applies `manifest` (an autoscaler) and waits for its first sync.
fn create_hpa(e: &Engine, manifest: &str) {
    let before = syncs(e);
    e.apply(manifest).unwrap();
    eventually(20, "the first HPA sync", || syncs(e) > before);
}

/// Advances the clock by one sync period and waits for the sync it fires.
fn sync(e: &Engine, clock: &ManualClock) {
    let before = syncs(e);
    clock.advance(Duration::from_secs(15));
    eventually(20, "an HPA sync", || syncs(e) > before);
}

fn status(e: &Engine, app: &str) -> steady::api::HorizontalPodAutoscalerStatus {
    e.api::<HorizontalPodAutoscaler>()
        .namespace("default")
        .get(app)
        .unwrap()
        .status
        .clone()
        .unwrap_or_default()
}

/// `(status, reason)` of an autoscaler condition.
fn cond(e: &Engine, app: &str, type_: &str) -> (String, String) {
    let s = status(e, app);
    let c = find_condition(&s.conditions, type_).unwrap_or_else(|| panic!("{type_} is set"));
    (c.status.clone(), c.reason.clone().unwrap_or_default())
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

fn utilization(e: &Engine, app: &str) -> i64 {
    status(e, app).current_metrics[0]["resource"]["current"]["averageUtilization"]
        .as_i64()
        .unwrap()
}

/// A Deployment of `replicas` ready pods reporting `milli` CPU each.
fn workload(e: &Engine, app: &str, replicas: i32, milli: i64) {
    e.apply(&deployment(app, Some(replicas))).unwrap();
    settle(e, app, replicas as usize);
    set_cpu(e, app, milli);
}

#[test]
fn one_replica_at_twice_the_target_scales_to_two() {
    let (e, _clock) = engine();
    // 100m used of 100m requested: 100% utilization, twice the 50% target.
    workload(&e, "php-apache", 1, 100);
    create_hpa(&e, &hpa("php-apache", 1, 10, &cpu_target(50), "{}"));
    assert_eq!(spec_replicas(&e, "php-apache"), 2);
    let s = status(&e, "php-apache");
    assert_eq!((s.current_replicas, s.desired_replicas), (Some(1), 2));
    assert!(s.last_scale_time.is_some());
    assert_eq!(utilization(&e, "php-apache"), 100);
    assert_eq!(
        cond(&e, "php-apache", ABLE_TO_SCALE),
        pair("True", "SucceededRescale")
    );
    assert_eq!(
        cond(&e, "php-apache", SCALING_ACTIVE),
        pair("True", "ValidMetricFound")
    );
    settle(&e, "php-apache", 2);
}

#[test]
fn three_replicas_at_ninety_percent_of_a_fifty_percent_target_scale_to_six() {
    let (e, _clock) = engine();
    workload(&e, "web", 3, 90);
    create_hpa(&e, &hpa("web", 1, 10, &cpu_target(50), "{}"));
    assert_eq!(spec_replicas(&e, "web"), 6);
    assert_eq!(status(&e, "web").desired_replicas, 6);
}

#[test]
fn a_ratio_within_the_tolerance_changes_nothing() {
    let (e, clock) = engine();
    // 42% against 40%: ratio 1.05.
    workload(&e, "web", 4, 42);
    create_hpa(&e, &hpa("web", 1, 10, &cpu_target(40), "{}"));
    assert_eq!(spec_replicas(&e, "web"), 4);
    assert_eq!(utilization(&e, "web"), 42);
    assert_eq!(status(&e, "web").last_scale_time, None);
    // 36% (ratio 0.9) is still inside the band, even after the scale-down window.
    set_cpu(&e, "web", 36);
    for _ in 0..21 {
        sync(&e, &clock);
    }
    assert_eq!(utilization(&e, "web"), 36);
    assert_eq!(spec_replicas(&e, "web"), 4);
    // 50% (ratio 1.25) is outside: ceil(4 * 1.25) = 5.
    set_cpu(&e, "web", 50);
    sync(&e, &clock);
    assert_eq!(spec_replicas(&e, "web"), 5);
}

#[test]
fn scale_down_is_held_by_the_stabilization_window_then_released() {
    let (e, clock) = engine();
    workload(&e, "web", 4, 50);
    // t=0: at the target, the recommendation is 4.
    create_hpa(&e, &hpa("web", 1, 10, &cpu_target(50), "{}"));
    assert_eq!(spec_replicas(&e, "web"), 4);
    // From t=15 the load is gone: the recommendation is 1, but 4 stays in the window.
    set_cpu(&e, "web", 10);
    sync(&e, &clock);
    assert_eq!(utilization(&e, "web"), 10);
    assert_eq!(spec_replicas(&e, "web"), 4);
    assert_eq!(status(&e, "web").desired_replicas, 4);
    assert_eq!(
        cond(&e, "web", ABLE_TO_SCALE),
        pair("True", "ScaleDownStabilized")
    );
    // Held through t=285 ...
    for _ in 2..20 {
        sync(&e, &clock);
        assert_eq!(spec_replicas(&e, "web"), 4);
    }
    // ... released at t=300, when the recommendation of t=0 leaves the window.
    sync(&e, &clock);
    assert_eq!(spec_replicas(&e, "web"), 1);
    assert_eq!(
        cond(&e, "web", ABLE_TO_SCALE),
        pair("True", "SucceededRescale")
    );
    settle(&e, "web", 1);
}

#[test]
fn max_replicas_caps_a_scale_up_with_scaling_limited() {
    let (e, _clock) = engine();
    // 200%: ceil(3 * 4) = 12, the rate allows 7, maxReplicas 5.
    workload(&e, "web", 3, 100);
    create_hpa(&e, &hpa("web", 1, 5, &cpu_target(25), "{}"));
    assert_eq!(spec_replicas(&e, "web"), 5);
    assert_eq!(
        cond(&e, "web", SCALING_LIMITED),
        pair("True", "TooManyReplicas")
    );
}

#[test]
fn min_replicas_floors_a_scale_down_with_scaling_limited() {
    let (e, _clock) = engine();
    workload(&e, "web", 3, 0);
    create_hpa(&e, &hpa("web", 2, 10, &cpu_target(50), NO_DOWN_WINDOW));
    assert_eq!(spec_replicas(&e, "web"), 2);
    assert_eq!(
        cond(&e, "web", SCALING_LIMITED),
        pair("True", "TooFewReplicas")
    );
}

#[test]
fn replicas_outside_min_and_max_are_brought_inside() {
    let (e, _clock) = engine();
    workload(&e, "web", 7, 50);
    create_hpa(&e, &hpa("web", 1, 4, &cpu_target(50), "{}"));
    assert_eq!(spec_replicas(&e, "web"), 4);
}

#[test]
fn scale_up_is_limited_to_double_or_four_pods_per_fifteen_seconds() {
    let (e, clock) = engine();
    // 1000% of a 10% target: the metric asks for 100 replicas at once.
    workload(&e, "web", 1, 100);
    create_hpa(&e, &hpa("web", 1, 12, &cpu_target(10), "{}"));
    // max(1 * 2, 1 + 4) = 5.
    assert_eq!(spec_replicas(&e, "web"), 5);
    assert_eq!(
        cond(&e, "web", SCALING_LIMITED),
        pair("True", "ScaleUpLimit")
    );
    settle(&e, "web", 5);
    set_cpu(&e, "web", 100);
    // 15 s later: max(5 * 2, 5 + 4) = 10.
    sync(&e, &clock);
    assert_eq!(spec_replicas(&e, "web"), 10);
    settle(&e, "web", 10);
    set_cpu(&e, "web", 100);
    // Then maxReplicas.
    sync(&e, &clock);
    assert_eq!(spec_replicas(&e, "web"), 12);
    assert_eq!(
        cond(&e, "web", SCALING_LIMITED),
        pair("True", "TooManyReplicas")
    );
}

#[test]
fn pods_without_metrics_count_as_idle_on_scale_up_and_as_the_target_on_scale_down() {
    let (e, clock) = engine();
    e.apply(&deployment("web", Some(3))).unwrap();
    settle(&e, "web", 3);
    let names: Vec<String> = pods(&e, "web")
        .iter()
        .map(|p| p.metadata.name.clone())
        .collect();
    // One pod at 60% of a 50% target (ratio 1.2), two unmeasured. Alone it would propose
    // ceil(1 * 1.2) = 2, a scale-down; counted as 0%, the others make it (60+0+0)/3 = 20%,
    // which reverses the direction: no change.
    e.report_pod_usage("default", &names[0], "cpu", &Quantity::from_milli(60));
    create_hpa(&e, &hpa("web", 1, 10, &cpu_target(50), NO_DOWN_WINDOW));
    assert_eq!(utilization(&e, "web"), 60);
    assert_eq!(spec_replicas(&e, "web"), 3);
    // Two pods at 20%, one unmeasured counted at 50%: (20+20+50)/3 = 30%,
    // ceil(3 * 0.6) = 2, where the two measured alone would give 1.
    for n in &names[..2] {
        e.report_pod_usage("default", n, "cpu", &Quantity::from_milli(20));
    }
    sync(&e, &clock);
    assert_eq!(utilization(&e, "web"), 20);
    assert_eq!(spec_replicas(&e, "web"), 2);
}

#[test]
fn not_ready_pods_count_as_idle_on_scale_up_and_are_ignored_on_scale_down() {
    let (e, clock) = engine();
    workload(&e, "web", 3, 80);
    // One pod becomes not ready, reporting a high load that must not count.
    let odd = pods(&e, "web")[0].metadata.name.clone();
    e.api::<Pod>()
        .namespace("default")
        .patch(
            &odd,
            &serde_json::json!({"metadata": {"annotations": {MODE_ANNOTATION: "not-ready"}}}),
        )
        .unwrap();
    eventually(20, "one pod not ready", || {
        pods(&e, "web").iter().filter(|p| !is_ready(p)).count() == 1
    });
    e.report_pod_usage("default", &odd, "cpu", &Quantity::from_milli(900));
    // Ready pods at 80% of 50% (1.6); the not-ready pod counts as 0%:
    // (80+80+0)/3 = 53% -> ratio 1.06, inside the tolerance: no change.
    create_hpa(&e, &hpa("web", 1, 10, &cpu_target(50), NO_DOWN_WINDOW));
    assert_eq!(utilization(&e, "web"), 80);
    assert_eq!(spec_replicas(&e, "web"), 3);
    // Scale-down: the not-ready pod (at 900m) is left out: 10% -> ceil(2 * 0.2) = 1.
    for p in pods(&e, "web").iter().filter(|p| p.metadata.name != odd) {
        e.report_pod_usage(
            "default",
            &p.metadata.name,
            "cpu",
            &Quantity::from_milli(10),
        );
    }
    sync(&e, &clock);
    assert_eq!(spec_replicas(&e, "web"), 1);
}

#[test]
fn a_custom_pods_metric_scales_on_its_average() {
    let (e, _clock) = engine();
    e.apply(&deployment("web", Some(2))).unwrap();
    settle(&e, "web", 2);
    for p in pods(&e, "web") {
        e.report_pod_metric("default", &p.metadata.name, "packets-per-second", 2000.0);
    }
    let metrics = "[{type: Pods, pods: {metric: {name: packets-per-second}, target: {type: AverageValue, averageValue: 1k}}}]";
    create_hpa(&e, &hpa("web", 1, 10, metrics, "{}"));
    assert_eq!(spec_replicas(&e, "web"), 4);
    let s = status(&e, "web");
    assert_eq!(
        s.current_metrics[0]["pods"]["current"]["averageValue"],
        "2k"
    );
    assert_eq!(
        cond(&e, "web", SCALING_ACTIVE),
        pair("True", "ValidMetricFound")
    );
}

#[test]
fn unsupported_metrics_and_missing_targets_are_reported_in_conditions() {
    let (e, _clock) = engine();
    workload(&e, "web", 2, 50);
    let object = "[{type: Object, object: {metric: {name: rps}, describedObject: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: main}, target: {type: Value, value: 10k}}}]";
    create_hpa(&e, &hpa("web", 1, 10, object, "{}"));
    assert_eq!(
        cond(&e, "web", SCALING_ACTIVE),
        pair("False", "FailedGetObjectMetric")
    );
    assert_eq!(spec_replicas(&e, "web"), 2);
    create_hpa(&e, &hpa("nothing", 1, 10, &cpu_target(50), "{}"));
    assert_eq!(
        cond(&e, "nothing", ABLE_TO_SCALE),
        pair("False", "FailedGetScale")
    );
}

#[test]
fn reapplying_a_manifest_that_sets_replicas_resets_them_until_the_next_sync() {
    let (e, clock) = engine();
    let manifest = deployment("web", Some(1));
    e.apply(&manifest).unwrap();
    settle(&e, "web", 1);
    set_cpu(&e, "web", 100);
    create_hpa(&e, &hpa("web", 1, 10, &cpu_target(50), "{}"));
    assert_eq!(spec_replicas(&e, "web"), 2);
    settle(&e, "web", 2);
    // As with kubectl, apply sets every field the manifest sets that differs from the live
    // object: `replicas: 1` is written back ...
    e.apply(&manifest).unwrap();
    assert_eq!(spec_replicas(&e, "web"), 1);
    settle(&e, "web", 1);
    // ... and the autoscaler takes over again at its next sync.
    set_cpu(&e, "web", 100);
    sync(&e, &clock);
    assert_eq!(spec_replicas(&e, "web"), 2);
}

#[test]
fn reapplying_a_manifest_without_replicas_leaves_them_to_the_autoscaler() {
    let (e, _clock) = engine();
    let manifest = deployment("api", None);
    e.apply(&manifest).unwrap();
    settle(&e, "api", 1);
    set_cpu(&e, "api", 100);
    create_hpa(&e, &hpa("api", 1, 10, &cpu_target(50), "{}"));
    assert_eq!(spec_replicas(&e, "api"), 2);
    e.apply(&manifest).unwrap();
    assert_eq!(spec_replicas(&e, "api"), 2);
}
