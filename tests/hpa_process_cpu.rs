//! A busy process pod drives a scale-up through the CPU time the OS measures, and a big one
//! through the memory its control group holds: the autoscaler's CPU and memory utilization
//! of a process pod come from the node agent, not from a reported value. The engine clock
//! is manual; the CPU time and memory are real.
#![cfg(target_os = "linux")]

mod common;

use common::eventually;
use std::sync::Arc;
use std::time::Duration;
use steady::api::{Deployment, HorizontalPodAutoscaler, Pod};
use steady::clock::ManualClock;
use steady::controllers::hpa::NAME;
use steady::controllers::pod_util::is_ready;
use steady::store::ListParams;
use steady::Engine;

const NODE: &str = "local-hpa";

fn syncs(e: &Engine) -> u64 {
    let snap = e.metrics();
    snap.family("controller_runtime_reconcile_total")
        .map(|f| {
            f.series
                .iter()
                .filter(|s| s.labels.get("controller").map(String::as_str) == Some(NAME))
                .map(|s| s.value.as_f64() as u64)
                .sum()
        })
        .unwrap_or(0)
}

fn busy_pods(e: &Engine) -> Vec<Arc<Pod>> {
    e.api::<Pod>()
        .list(&ListParams::default())
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.labels.get("app").map(String::as_str) == Some("busy"))
        .collect()
}

/// An engine on a manual clock with the local node `NODE`.
fn engine(clock: &Arc<ManualClock>) -> Engine {
    common::on_node(clock, NODE).build().unwrap()
}

/// Applies the Deployment `busy` (1 replica, bound to `NODE`) whose one container is
/// `container` (YAML of a list item, indented for the template's `containers:`).
fn busy_deployment(e: &Engine, container: &str) {
    e.apply(&format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: busy}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: busy}}}}
  template:
    metadata: {{labels: {{app: busy}}}}
    spec:
      nodeName: {NODE}
      terminationGracePeriodSeconds: 0
      containers:
      {container}
"
    ))
    .unwrap();
}

#[test]
fn a_busy_process_pod_scales_its_deployment_up_on_measured_cpu() {
    let clock = Arc::new(ManualClock::default());
    let e = engine(&clock);
    busy_deployment(
        &e,
        "- name: spin
        command: [sh, -c, 'while :; do :; done']
        resources: {requests: {cpu: 100m}}",
    );
    eventually(30, "the busy pod runs and is ready", || {
        busy_pods(&e).iter().any(|p| is_ready(p))
    });
    let pod = busy_pods(&e)[0].metadata.name.clone();
    let cpu = || {
        e.kubelet()
            .pod_cpu_time("default", &pod)
            .unwrap_or_default()
    };
    // First sync: the sampling window has no length yet on the manual clock, so there is
    // no rate (ScalingActive=False) and nothing scales; it records the first sample.
    let before = syncs(&e);
    e.apply(
        "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: busy}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: busy}
  minReplicas: 1
  maxReplicas: 2
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 20}}}]
",
    )
    .unwrap();
    eventually(30, "the first HPA sync", || syncs(&e) > before);
    let sampled = cpu();
    // Let the process burn at least a second of real CPU, then let 15 s pass on the engine
    // clock: at least 1 s / 15 s = 66m of 100m requested, above 3x the 20% target even on a
    // loaded machine.
    eventually(60, "a second of CPU burnt", || {
        cpu() >= sampled + Duration::from_secs(1)
    });
    let before = syncs(&e);
    clock.advance(Duration::from_secs(15));
    eventually(30, "the second HPA sync", || syncs(&e) > before);
    let replicas = e
        .api::<Deployment>()
        .namespace("default")
        .get("busy")
        .unwrap()
        .spec
        .replicas;
    let hpa = e
        .api::<HorizontalPodAutoscaler>()
        .namespace("default")
        .get("busy")
        .unwrap();
    let status = hpa.status.clone().unwrap();
    assert_eq!(replicas, Some(2), "status: {status:?}");
    let measured = status.current_metrics[0]["resource"]["current"]["averageUtilization"]
        .as_i64()
        .unwrap();
    assert!(measured >= 60, "measured {measured}% of the request");
}

/// Memory utilisation of a process pod comes from the node agent too: the working set of
/// the container's control group, children included, with no value reported by the host.
#[test]
fn a_process_pod_over_its_memory_target_scales_its_deployment_up() {
    let clock = Arc::new(ManualClock::default());
    let e = engine(&clock);
    if e.process_runtime().cgroups_version().is_none() {
        eprintln!("no usable control groups here: memory is measured for the leader only");
    }
    // The leader (sh) holds next to nothing; its child holds 64 MiB, written to.
    busy_deployment(
        &e,
        "- name: hold
        command: [sh, -c, 'python3 -c \"import time; b = bytearray(64 << 20); b[::4096] = bytes(len(b[::4096])); time.sleep(600)\" & wait']
        resources: {requests: {memory: 32Mi}}",
    );
    eventually(30, "the pod runs", || {
        busy_pods(&e).iter().any(|p| is_ready(p))
    });
    let pod = busy_pods(&e)[0].metadata.name.clone();
    let held = || {
        e.kubelet()
            .pod_memory_bytes("default", &pod)
            .unwrap_or_default()
    };
    let wanted = if e.process_runtime().cgroups_version().is_some() {
        60 << 20
    } else {
        1
    };
    eventually(60, "the memory is held", || held() >= wanted);
    let before = syncs(&e);
    e.apply(
        "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: busy}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: busy}
  minReplicas: 1
  maxReplicas: 2
  metrics: [{type: Resource, resource: {name: memory, target: {type: Utilization, averageUtilization: 100}}}]
",
    )
    .unwrap();
    eventually(30, "an HPA sync", || syncs(&e) > before);
    let hpa = e
        .api::<HorizontalPodAutoscaler>()
        .namespace("default")
        .get("busy")
        .unwrap();
    let status = hpa.status.clone().unwrap();
    let measured = status.current_metrics[0]["resource"]["current"]["averageUtilization"]
        .as_i64()
        .unwrap_or(0);
    if e.process_runtime().cgroups_version().is_none() {
        return;
    }
    // 64 MiB of 32 MiB requested: about 200%, over the 100% target.
    assert!(measured >= 180, "measured {measured}%: {status:?}");
    let replicas = e
        .api::<Deployment>()
        .namespace("default")
        .get("busy")
        .unwrap()
        .spec
        .replicas;
    assert_eq!(replicas, Some(2), "status: {status:?}");
}
