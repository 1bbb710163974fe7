//! Node failure: a node that stops renewing its Lease is marked unreachable and tainted, and
//! its pods are evicted when their toleration runs out. A manual clock drives every timing.

mod common;

use common::{eventually, eventually_advancing};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use steady::api::{Node, Pod};
use steady::clock::{Clock, ManualClock};
use steady::controllers::node_lifecycle::UNREACHABLE_TAINT;
use steady::store::{DeleteParams, Operation};
use steady::Engine;

fn apply_pod(e: &Engine, name: &str, node: &str, tolerations: serde_json::Value) {
    let p = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"nodeName": node, "tolerations": tolerations,
                 "containers": [{"name": "main", "image": "app"}]}
    });
    e.apply(&p.to_string()).unwrap();
}

fn exists(e: &Engine, name: &str) -> bool {
    e.api::<Pod>()
        .namespace("default")
        .get_opt(name)
        .unwrap()
        .is_some()
}

fn ready_condition(e: &Engine, node: &str) -> String {
    e.api::<Node>()
        .get(node)
        .ok()
        .and_then(|n| {
            n.status
                .as_ref()?
                .conditions
                .iter()
                .find(|c| c.type_ == "Ready")
                .map(|c| c.status.clone())
        })
        .unwrap_or_default()
}

#[test]
fn every_pod_gets_the_default_not_ready_and_unreachable_tolerations() {
    let clock = Arc::new(ManualClock::default());
    let e = common::simulated_nodes(&clock, 2);
    apply_pod(&e, "p", "sim-0", json!([]));
    let p = e.api::<Pod>().namespace("default").get("p").unwrap();
    let keys: Vec<(&str, Option<i64>)> = p
        .spec
        .tolerations
        .iter()
        .map(|t| (t.key.as_deref().unwrap_or(""), t.toleration_seconds))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("node.kubernetes.io/not-ready", Some(30)),
            ("node.kubernetes.io/unreachable", Some(30))
        ]
    );
}

#[test]
fn a_silent_node_is_tainted_and_its_pods_evicted_by_their_tolerations() {
    let clock = Arc::new(ManualClock::default());
    let e = common::simulated_nodes(&clock, 2);
    // Default toleration (30 s), none at all is impossible (the hook adds it), so: one pod
    // with the default, one tolerating for 100 s, one tolerating forever, and one on the
    // healthy node.
    apply_pod(&e, "default-tol", "sim-0", json!([]));
    apply_pod(
        &e,
        "long-tol",
        "sim-0",
        json!([{"key": UNREACHABLE_TAINT, "operator": "Exists",
        "effect": "NoExecute", "tolerationSeconds": 100}]),
    );
    apply_pod(
        &e,
        "forever",
        "sim-0",
        json!([{"key": UNREACHABLE_TAINT, "operator": "Exists",
        "effect": "NoExecute"}]),
    );
    apply_pod(&e, "elsewhere", "sim-1", json!([]));
    eventually(10, "four running containers", || {
        e.kubelet().simulated().running() == 4
    });
    eventually(10, "nodes ready", || {
        ready_condition(&e, "sim-0") == "True" && ready_condition(&e, "sim-1") == "True"
    });
    e.kubelet().stop_node("sim-0");
    // Before the 40 s grace nothing happens (sim-1 keeps renewing every 10 s).
    for _ in 0..3 {
        clock.advance(Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(ready_condition(&e, "sim-0"), "True");
    clock.advance(Duration::from_secs(11));
    eventually(10, "sim-0 unreachable and tainted", || {
        let n = e.api::<Node>().get("sim-0").unwrap();
        ready_condition(&e, "sim-0") == "Unknown"
            && n.spec
                .taints
                .iter()
                .filter(|t| t.key == UNREACHABLE_TAINT)
                .count()
                == 2
    });
    assert_eq!(
        ready_condition(&e, "sim-1"),
        "True",
        "the healthy node is untouched"
    );
    assert!(exists(&e, "default-tol"));
    clock.advance(Duration::from_secs(30));
    eventually(10, "the default toleration ran out", || {
        !exists(&e, "default-tol")
    });
    assert!(exists(&e, "long-tol") && exists(&e, "forever") && exists(&e, "elsewhere"));
    clock.advance(Duration::from_secs(70));
    eventually(10, "the 100 s toleration ran out", || {
        !exists(&e, "long-tol")
    });
    assert!(exists(&e, "forever") && exists(&e, "elsewhere"));

    // Back again: the taints go.
    e.kubelet().restart_node("sim-0");
    clock.advance(Duration::from_secs(1));
    eventually(10, "taints removed once the lease is renewed", || {
        let n = e.api::<Node>().get("sim-0").unwrap();
        !n.spec.taints.iter().any(|t| t.key == UNREACHABLE_TAINT)
            && ready_condition(&e, "sim-0") == "True"
    });
}

#[test]
fn pods_of_a_deleted_node_are_removed() {
    let clock = Arc::new(ManualClock::default());
    let e = common::simulated_nodes(&clock, 2);
    apply_pod(&e, "orphan", "sim-0", json!([]));
    eventually(10, "node registered", || {
        ready_condition(&e, "sim-0") == "True"
    });
    e.kubelet().stop_node("sim-0");
    e.api::<Node>()
        .delete("sim-0", &DeleteParams::default())
        .unwrap();
    eventually(10, "pod GC", || !exists(&e, "orphan"));
}

/// `stop_node` waits for a reconcile that is acting for the node (here: paused in the middle
/// of its heartbeat, between the Node status and the Lease) and nothing is written for the node
/// once it returns: a Node deleted after the stop stays deleted, so its pods are collected.
#[test]
fn nothing_acts_for_a_stopped_node_once_stop_node_returns() {
    let clock = Arc::new(ManualClock::default());
    let e = common::simulated_nodes(&clock, 2);
    eventually(10, "node registered", || {
        ready_condition(&e, "sim-0") == "True"
    });
    let (paused_tx, paused_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (paused_tx, go_rx) = (Mutex::new(paused_tx), Mutex::new(go_rx));
    let armed = AtomicBool::new(true);
    e.store()
        .add_mutating_hook("pause-heartbeat", Some("Node"), move |op, obj, _| {
            if op == Operation::UpdateStatus
                && obj.meta().name == "sim-0"
                && armed.swap(false, Ordering::SeqCst)
            {
                paused_tx.lock().unwrap().send(()).unwrap();
                go_rx.lock().unwrap().recv().unwrap();
            }
            Ok(())
        });
    clock.advance(Duration::from_secs(10));
    paused_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the heartbeat writes the Node status");
    let kubelet = e.kubelet().clone();
    let stopper = std::thread::spawn(move || kubelet.stop_node("sim-0"));
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        !stopper.is_finished(),
        "stop_node waits for the heartbeat in flight"
    );
    go_tx.send(()).unwrap();
    assert!(stopper.join().unwrap());
    assert_eq!(
        lease_age(&e, "sim-0", clock.now()),
        Duration::ZERO,
        "the heartbeat in flight finished, Lease included, before stop_node returned"
    );
    apply_pod(&e, "orphan", "sim-0", json!([]));
    e.api::<Node>()
        .delete("sim-0", &DeleteParams::default())
        .unwrap();
    eventually(10, "pod GC", || !exists(&e, "orphan"));
    advance(&e, &clock, 20);
    assert!(
        e.api::<Node>().get_opt("sim-0").unwrap().is_none(),
        "a stopped node is never registered again"
    );
}

/// Advances the clock by `secs` seconds in steps of 5 s, letting the healthy nodes renew
/// their Leases (every 10 s) between steps.
fn advance(e: &Engine, clock: &ManualClock, secs: u64) {
    for _ in 0..secs / 5 {
        clock.advance(Duration::from_secs(5));
        let now = clock.now();
        eventually(10, "the healthy node renewed its lease", || {
            lease_age(e, "sim-1", now) < Duration::from_secs(11)
        });
    }
}

/// How long ago, at `now`, node `node` last renewed its Lease.
fn lease_age(e: &Engine, node: &str, now: steady::api::Time) -> Duration {
    let lease = e
        .api::<steady::api::Lease>()
        .namespace("kube-node-lease")
        .get(node)
        .unwrap();
    let renewed = lease.spec.renew_time.expect("a renewed lease");
    now.saturating_duration_since(renewed)
}

fn pods_by_node(e: &Engine) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = e
        .api::<Pod>()
        .namespace("default")
        .list(&Default::default())
        .unwrap()
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| {
            (
                p.metadata.name.clone(),
                p.spec.node_name.clone().unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_failed_nodes_deployment_pods_are_evicted_and_rescheduled_on_a_healthy_node() {
    let clock = Arc::new(ManualClock::default());
    let e = common::simulated_nodes(&clock, 2);
    e.apply(
        "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: main, image: app, resources: {requests: {cpu: 500m}}}
",
    )
    .unwrap();
    let available = |e: &Engine| {
        e.api::<steady::api::Deployment>()
            .namespace("default")
            .get("web")
            .unwrap()
            .status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0)
    };
    eventually(20, "four available pods", || available(&e) == 4);
    // LeastAllocated spreads them over both nodes.
    let before = pods_by_node(&e);
    let on_failed: Vec<String> = before
        .iter()
        .filter(|(_, n)| n == "sim-0")
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(on_failed.len(), 2, "{before:?}");

    e.kubelet().stop_node("sim-0");
    // 40 s grace, then the default 30 s toleration of the unreachable taint.
    advance(&e, &clock, 45);
    eventually(10, "sim-0 unreachable", || {
        ready_condition(&e, "sim-0") == "Unknown"
    });
    advance(&e, &clock, 35);
    // The Deployment's status may still say 4 from before the failure: look at the pods.
    // (Advancing: a write that raced another (a conflict) is retried after a backoff on
    // this clock.)
    eventually_advancing(
        &clock,
        20,
        "the evicted pods replaced on the healthy node",
        || {
            let now = pods_by_node(&e);
            now.len() == 4
                && now.iter().all(|(_, n)| n == "sim-1")
                && on_failed.iter().all(|p| !exists(&e, p))
                && e.api::<Pod>()
                    .namespace("default")
                    .list(&Default::default())
                    .unwrap()
                    .items
                    .iter()
                    .all(|p| steady::controllers::pod_util::is_ready(p))
                && e.kubelet().simulated().running() == 4
        },
    );
    eventually(20, "the Deployment counts them available", || {
        available(&e) == 4
    });
}
