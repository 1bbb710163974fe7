//! ReplicaSet status: counts, availability after `minReadySeconds` on a manual clock (no other
//! event needed), and the ReplicaFailure condition while pods cannot be created.

mod common;

use common::eventually;
use common::kubelet::{engine_with, FakeKubelet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use steady::api::conditions::find_condition;
use steady::api::{ReplicaSet, ReplicaSetStatus};
use steady::Engine;

fn status(e: &Engine, name: &str) -> ReplicaSetStatus {
    e.api::<ReplicaSet>()
        .get(name)
        .unwrap()
        .status
        .clone()
        .unwrap_or_default()
}

#[test]
fn pods_count_as_available_once_ready_for_min_ready_seconds() {
    let kubelet = FakeKubelet::new();
    let (e, clock) = engine_with(&kubelet);
    e.apply(
        "apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: slow}
spec:
  replicas: 3
  minReadySeconds: 30
  selector: {matchLabels: {app: slow}}
  template:
    metadata: {labels: {app: slow, tier: back}}
    spec: {containers: [{name: main, image: 'busybox:1.36'}]}
",
    )
    .unwrap();
    eventually(10, "three ready replicas", || {
        status(&e, "slow").ready_replicas == Some(3)
    });
    let st = status(&e, "slow");
    assert_eq!(st.replicas, 3);
    assert_eq!(st.fully_labeled_replicas, Some(3));
    assert_eq!(st.available_replicas, Some(0), "ready for 0 s of 30");
    assert_eq!(st.observed_generation, Some(1));

    clock.advance(Duration::from_secs(29));
    // Give a (wrong) early flip the chance to show.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        status(&e, "slow").available_replicas,
        Some(0),
        "29 s < 30 s"
    );

    clock.advance(Duration::from_secs(1));
    eventually(10, "available after 30 s, woken by the clock alone", || {
        status(&e, "slow").available_replicas == Some(3)
    });
}

#[test]
fn create_failures_set_replica_failure_until_creates_succeed() {
    let kubelet = FakeKubelet::new();
    let (e, clock) = engine_with(&kubelet);
    let deny = Arc::new(AtomicBool::new(true));
    let d = deny.clone();
    e.store()
        .add_validating_hook("quota", Some("Pod"), move |req| {
            if req.operation == steady::store::Operation::Create && d.load(Ordering::SeqCst) {
                Err("exceeded quota: pods".into())
            } else {
                Ok(())
            }
        });
    e.apply(
        "apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: main, image: 'busybox:1.36'}]}
",
    )
    .unwrap();
    eventually(10, "ReplicaFailure=True", || {
        find_condition(&status(&e, "web").conditions, "ReplicaFailure")
            .is_some_and(|c| c.status == "True")
    });
    let st = status(&e, "web");
    let c = find_condition(&st.conditions, "ReplicaFailure").unwrap();
    assert_eq!(c.reason.as_deref(), Some("FailedCreate"));
    assert!(
        c.message
            .as_deref()
            .unwrap_or("")
            .contains("exceeded quota"),
        "{c:?}"
    );
    assert_eq!(st.replicas, 0);

    deny.store(false, Ordering::SeqCst);
    // The failed reconcile is retried with backoff on the engine clock.
    eventually(10, "pods created and the condition gone", || {
        clock.advance(Duration::from_millis(200));
        let st = status(&e, "web");
        st.ready_replicas == Some(2) && find_condition(&st.conditions, "ReplicaFailure").is_none()
    });
}
