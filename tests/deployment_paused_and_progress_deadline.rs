//! A paused Deployment does not roll out (but still scales and reports); a rollout without
//! progress for progressDeadlineSeconds is reported as ProgressDeadlineExceeded, at the
//! deadline on the engine clock.

mod common;

use common::eventually;
use common::kubelet::{engine_with, FakeKubelet, Mode};
use common::workloads;
use serde_json::json;
use std::time::Duration;
use steady::api::conditions::find_condition;
use steady::api::{Condition, Deployment, Pod, ReplicaSet};
use steady::store::ListParams;
use steady::Engine;

/// Deployment `web`: two replicas of `image`, and `more` spec fields.
fn deployment(image: &str, more: &str) -> String {
    workloads::deployment("web", Some(2), more, &workloads::one_container(image))
}

fn condition(e: &Engine, type_: &str) -> Option<Condition> {
    let d = e.api::<Deployment>().get("web").unwrap();
    d.status
        .as_ref()
        .and_then(|s| find_condition(&s.conditions, type_).cloned())
}

fn reason(e: &Engine, type_: &str) -> Option<String> {
    condition(e, type_).and_then(|c| c.reason)
}

fn images(e: &Engine) -> Vec<String> {
    let mut v: Vec<String> = e
        .api::<Pod>()
        .list(&ListParams::default())
        .unwrap()
        .items
        .iter()
        .map(|p| p.spec.containers[0].image.clone().unwrap_or_default())
        .collect();
    v.sort();
    v
}

fn available(e: &Engine) -> i32 {
    let d = e.api::<Deployment>().get("web").unwrap();
    d.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

#[test]
fn a_paused_deployment_scales_and_reports_but_does_not_roll_out_until_resumed() {
    let kubelet = FakeKubelet::new();
    let (e, _clock) = engine_with(&kubelet);
    e.apply(&deployment("app:v1", "")).unwrap();
    eventually(20, "v1 available", || {
        reason(&e, "Progressing").as_deref() == Some("NewReplicaSetAvailable")
    });
    let deployments = e.api::<Deployment>();
    deployments
        .patch("web", &json!({"spec": {"paused": true}}))
        .unwrap();
    eventually(10, "Progressing=Unknown DeploymentPaused", || {
        condition(&e, "Progressing").is_some_and(|c| {
            c.status == "Unknown" && c.reason.as_deref() == Some("DeploymentPaused")
        })
    });
    deployments
        .patch(
            "web",
            &json!({"spec": {"replicas": 4, "template": {"spec": {"containers": [{"name": "main", "image": "app:v2"}]}}}}),
        )
        .unwrap();
    eventually(10, "scaled while paused, with the old template", || {
        available(&e) == 4
    });
    assert_eq!(images(&e), ["app:v1"; 4]);
    let d = deployments.get("web").unwrap();
    assert_eq!(
        d.status.as_ref().unwrap().observed_generation,
        d.metadata.generation,
        "the status is kept current while paused"
    );
    assert_eq!(
        e.api::<ReplicaSet>()
            .list(&ListParams::default())
            .unwrap()
            .items
            .len(),
        1,
        "no new ReplicaSet while paused"
    );

    deployments
        .patch("web", &json!({"spec": {"paused": false}}))
        .unwrap();
    eventually(20, "v2 rolled out after resuming", || {
        images(&e) == ["app:v2"; 4]
            && reason(&e, "Progressing").as_deref() == Some("NewReplicaSetAvailable")
    });
}

#[test]
fn a_stuck_rollout_reports_progress_deadline_exceeded_at_the_deadline() {
    let kubelet = FakeKubelet::new();
    kubelet.set_default(Mode::NotReady);
    let (e, clock) = engine_with(&kubelet);
    e.apply(&deployment("app:v1", "  progressDeadlineSeconds: 60\n"))
        .unwrap();
    eventually(10, "pods running but never ready", || {
        let d = e.api::<Deployment>().get("web").unwrap();
        d.status
            .as_ref()
            .is_some_and(|s| s.replicas == Some(2) && s.ready_replicas == Some(0))
    });
    let progressing = condition(&e, "Progressing").unwrap();
    assert_eq!(progressing.status, "True");
    assert!(
        matches!(
            progressing.reason.as_deref(),
            Some("NewReplicaSetCreated") | Some("ReplicaSetUpdated")
        ),
        "{progressing:?}"
    );
    let available = condition(&e, "Available").unwrap();
    assert_eq!(
        (available.status.as_str(), available.reason.as_deref()),
        ("False", Some("MinimumReplicasUnavailable"))
    );
    assert_eq!(
        e.api::<Deployment>()
            .get("web")
            .unwrap()
            .status
            .as_ref()
            .unwrap()
            .unavailable_replicas,
        Some(2)
    );

    clock.advance(Duration::from_secs(59));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        condition(&e, "Progressing").unwrap().status,
        "True",
        "59 s < 60 s"
    );

    clock.advance(Duration::from_secs(1));
    eventually(
        10,
        "Progressing=False at the deadline, without any other event",
        || {
            condition(&e, "Progressing").is_some_and(|c| {
                c.status == "False" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
            })
        },
    );
    let msg = condition(&e, "Progressing").unwrap().message.unwrap();
    assert!(msg.contains("has timed out progressing"), "{msg}");
}
