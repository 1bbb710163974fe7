//! Jobs on simulated nodes under a manual clock: completion with parallelism, retries up to
//! backoffLimit (restart policies Never and OnFailure), and activeDeadlineSeconds.

mod common;

use common::eventually;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use steady::api::{Job, Pod};
use steady::client::TypedEvent;
use steady::clock::ManualClock;
use steady::store::WatchParams;
use steady::Engine;

/// A Job `work` whose pods run image `task` on sim-0 (no scheduler: the template names the
/// node).
fn job(restart: &str, spec: Value) -> String {
    let mut s = json!({"template": {"spec": {"nodeName": "sim-0", "restartPolicy": restart,
        "containers": [{"name": "main", "image": "task"}]}}});
    for (k, v) in spec.as_object().unwrap() {
        s[k] = v.clone();
    }
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "work"}, "spec": s})
        .to_string()
}

fn status(e: &Engine) -> steady::api::JobStatus {
    let j = e.api::<Job>().namespace("default").get("work").unwrap();
    j.status.clone().unwrap_or_default()
}

fn condition(e: &Engine, type_: &str) -> Option<(String, Option<String>)> {
    status(e)
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

fn pods(e: &Engine) -> Vec<Arc<Pod>> {
    e.api::<Pod>()
        .namespace("default")
        .list(&Default::default())
        .unwrap()
        .items
}

#[test]
fn a_job_completes_with_at_most_parallelism_pods_at_once() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    // Every container of image `task` exits 0 right after it starts.
    e.kubelet()
        .simulated()
        .crash_on_start(Some("task"), 0, 1000);
    let mut w = e
        .api::<Pod>()
        .namespace("default")
        .watch(&WatchParams::default())
        .unwrap();
    e.apply(&job("Never", json!({"completions": 5, "parallelism": 2})))
        .unwrap();
    eventually(20, "Complete", || condition(&e, "Complete").is_some());
    let s = status(&e);
    assert_eq!(
        condition(&e, "Complete").unwrap(),
        ("True".into(), Some("CompletionsReached".into()))
    );
    assert_eq!(
        (s.succeeded, s.failed, s.active),
        (Some(5), Some(0), Some(0))
    );
    assert!(s.start_time.is_some() && s.completion_time.is_some());
    assert_eq!(pods(&e).len(), 5, "no pod beyond completions");
    let p = &pods(&e)[0];
    assert_eq!(p.metadata.labels["job-name"], "work");
    let uid = e
        .api::<Job>()
        .namespace("default")
        .get("work")
        .unwrap()
        .metadata
        .uid
        .clone();
    assert_eq!(Some(&p.metadata.labels["controller-uid"]), uid.as_ref());

    // Never more than `parallelism` pods running at once.
    let mut running: HashSet<String> = HashSet::new();
    let mut most = 0;
    while let Some(ev) = w.recv_timeout(Duration::from_millis(100)).unwrap() {
        let (TypedEvent::Added(p) | TypedEvent::Modified(p)) = ev else {
            continue;
        };
        let phase = p
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        if phase == "Succeeded" || phase == "Failed" {
            running.remove(&p.metadata.name);
        } else {
            running.insert(p.metadata.name.clone());
        }
        most = most.max(running.len());
    }
    assert_eq!(most, 2);
}

#[test]
fn a_job_retries_up_to_backoff_limit_then_fails() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    e.kubelet()
        .simulated()
        .crash_on_start(Some("task"), 1, 1000);
    e.apply(&job("Never", json!({"backoffLimit": 2}))).unwrap();
    eventually(20, "Failed", || condition(&e, "Failed").is_some());
    assert_eq!(
        condition(&e, "Failed").unwrap(),
        ("True".into(), Some("BackoffLimitExceeded".into()))
    );
    let s = status(&e);
    assert_eq!(
        (s.failed, s.succeeded, s.active),
        (Some(3), Some(0), Some(0))
    );
    // The first try and backoffLimit retries, each a new failed pod, and no more.
    let all = pods(&e);
    assert_eq!(all.len(), 3);
    assert!(all
        .iter()
        .all(|p| p.status.as_ref().unwrap().phase.as_deref() == Some("Failed")));
    assert!(condition(&e, "Complete").is_none());
}

#[test]
fn on_failure_restarts_in_place_count_toward_the_backoff_limit() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    e.kubelet()
        .simulated()
        .crash_on_start(Some("task"), 1, 1000);
    e.apply(&job("OnFailure", json!({"backoffLimit": 2})))
        .unwrap();
    // The node agent restarts the container: at once, then after 10 s (crash-loop backoff on
    // the manual clock).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while condition(&e, "Failed").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "status: {:?}",
            status(&e)
        );
        clock.advance(Duration::from_secs(1));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        condition(&e, "Failed").unwrap(),
        ("True".into(), Some("BackoffLimitExceeded".into()))
    );
    // One pod, restarted in place, deleted when the Job failed and counted as failed.
    let s = status(&e);
    assert_eq!((s.failed, s.active), (Some(1), Some(0)));
    eventually(10, "the pod is gone", || pods(&e).is_empty());
}

#[test]
fn the_active_deadline_fails_a_job_on_the_engine_clock() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    e.apply(&job("Never", json!({"activeDeadlineSeconds": 30})))
        .unwrap();
    eventually(10, "a pod is running", || status(&e).active == Some(1));
    clock.advance(Duration::from_secs(29));
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        condition(&e, "Failed").is_none(),
        "failed before its deadline"
    );
    clock.advance(Duration::from_secs(1));
    eventually(10, "Failed at the deadline", || {
        condition(&e, "Failed").is_some()
    });
    assert_eq!(
        condition(&e, "Failed").unwrap(),
        ("True".into(), Some("DeadlineExceeded".into()))
    );
    eventually(10, "its pod is gone", || pods(&e).is_empty());
    assert_eq!(status(&e).active, Some(0));
}
