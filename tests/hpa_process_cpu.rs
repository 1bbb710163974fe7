//! A busy process pod drives a scale-up through the CPU time the OS measures: the
//! autoscaler's CPU utilization of a process pod comes from the node agent, not from a
//! reported value. The engine clock is manual; the CPU time is real.
#![cfg(target_os = "linux")]

mod common;

use common::eventually;
use std::sync::Arc;
use std::time::Duration;
use steady::api::{Deployment, HorizontalPodAutoscaler, Pod};
use steady::clock::ManualClock;
use steady::controllers::hpa::NAME;
use steady::controllers::pods::is_ready;
use steady::node::NodeConfig;
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

#[test]
fn a_busy_process_pod_scales_its_deployment_up_on_measured_cpu() {
    let clock = Arc::new(ManualClock::default());
    let e = Engine::builder()
        .clock(clock.clone())
        .local_node(false)
        .node(NodeConfig::local_named(NODE))
        .build()
        .unwrap();
    // The scheduler is not in main yet: the template binds the pods to the local node.
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
      - name: spin
        command: [sh, -c, 'while :; do :; done']
        resources: {{requests: {{cpu: 100m}}}}
"
    ))
    .unwrap();
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
