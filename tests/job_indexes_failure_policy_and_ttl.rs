//! Jobs on a simulated node under a manual clock: the Indexed completion mode with
//! per-index retries (backoffLimitPerIndex, maxFailedIndexes), each podFailurePolicy
//! action (FailJob, Ignore, Count, FailIndex) on exit codes and pod conditions, and
//! deletion ttlSecondsAfterFinished after a Job finished.

mod common;

use common::eventually;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use steady::api::{Condition, Job, JobStatus, Pod};
use steady::clock::ManualClock;
use steady::Engine;

const INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// A Job `name` whose pods run image `image` (container `main`) on sim-0 with restart
/// policy Never, plus `spec`.
fn job(name: &str, image: &str, spec: Value) -> String {
    let mut s = json!({"template": {"spec": {"nodeName": "sim-0", "restartPolicy": "Never",
        "containers": [{"name": "main", "image": image}]}}});
    for (k, v) in spec.as_object().unwrap() {
        s[k] = v.clone();
    }
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": s})
        .to_string()
}

fn get(e: &Engine, name: &str) -> Option<Arc<Job>> {
    e.api::<Job>().namespace("default").get(name).ok()
}

fn status(e: &Engine, name: &str) -> JobStatus {
    get(e, name)
        .and_then(|j| j.status.clone())
        .unwrap_or_default()
}

fn condition(e: &Engine, name: &str, type_: &str) -> Option<Condition> {
    status(e, name)
        .conditions
        .into_iter()
        .find(|c| c.type_ == type_ && c.status == "True")
}

fn pods(e: &Engine, job: &str) -> Vec<Arc<Pod>> {
    e.api::<Pod>()
        .namespace("default")
        .list(&Default::default())
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.labels.get("job-name").map(String::as_str) == Some(job))
        .collect()
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// The running pod of `job` (with completion index `index`, if given), once its container
/// runs on the simulated node.
fn running_pod(e: &Engine, job: &str, index: Option<usize>) -> Arc<Pod> {
    let mut found = None;
    eventually(20, "the pod runs", || {
        let running = e.kubelet().simulated().running_containers();
        found = pods(e, job).into_iter().find(|p| {
            index.is_none_or(|i| p.metadata.labels.get(INDEX) == Some(&i.to_string()))
                && phase(p) == "Running"
                && running.iter().any(|(_, n, _)| *n == p.metadata.name)
        });
        found.is_some()
    });
    found.unwrap()
}

/// Makes the container of `pod` exit with `code`.
fn exit(e: &Engine, pod: &Pod, code: i32) {
    assert!(e
        .kubelet()
        .simulated()
        .crash("default", &pod.metadata.name, "main", code));
}

#[test]
fn an_indexed_job_gives_each_pod_its_index_and_retries_an_index_on_its_own() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    e.apply(&job(
        "idx",
        "long",
        json!({"completionMode": "Indexed", "completions": 5, "parallelism": 2,
            "backoffLimitPerIndex": 1}),
    ))
    .unwrap();
    // The lowest indexes first, at most `parallelism` at once.
    let p0 = running_pod(&e, "idx", Some(0));
    let p1 = running_pod(&e, "idx", Some(1));
    assert_eq!(p0.metadata.annotations[INDEX], "0");
    assert!(
        p1.metadata.name.starts_with("idx-1-"),
        "{}",
        p1.metadata.name
    );
    assert_eq!(p1.spec.hostname.as_deref(), Some("idx-1"));
    let env = &p1.spec.containers[0].env;
    let var = env
        .iter()
        .find(|v| v.name == "JOB_COMPLETION_INDEX")
        .unwrap();
    assert_eq!(
        var.value_from
            .as_ref()
            .unwrap()
            .field_ref
            .as_ref()
            .unwrap()
            .field_path,
        format!("metadata.annotations['{INDEX}']")
    );

    // Index 0 fails once: it gets a new pod with the same index (backoffLimitPerIndex 1).
    exit(&e, &p0, 1);
    let retry = running_pod(&e, "idx", Some(0));
    assert_ne!(retry.metadata.name, p0.metadata.name);
    // Indexes succeed out of order; completedIndexes is compressed as Kubernetes writes it.
    exit(&e, &p1, 0);
    eventually(20, "index 1 completed", || {
        status(&e, "idx").completed_indexes.as_deref() == Some("1")
    });
    exit(&e, &running_pod(&e, "idx", Some(2)), 0);
    exit(&e, &running_pod(&e, "idx", Some(3)), 0);
    eventually(20, "1-3 completed", || {
        status(&e, "idx").completed_indexes.as_deref() == Some("1-3")
    });
    exit(&e, &running_pod(&e, "idx", Some(4)), 0);
    exit(&e, &retry, 0);
    eventually(20, "Complete", || {
        condition(&e, "idx", "Complete").is_some()
    });
    let s = status(&e, "idx");
    assert_eq!(s.completed_indexes.as_deref(), Some("0-4"));
    assert_eq!(s.failed_indexes.as_deref(), Some(""));
    assert_eq!(
        (s.succeeded, s.failed, s.active),
        (Some(5), Some(1), Some(0))
    );
}

#[test]
fn failed_indexes_fail_the_job_once_every_index_is_done() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    e.apply(&job(
        "perindex",
        "long",
        json!({"completionMode": "Indexed", "completions": 3, "parallelism": 3,
        "backoffLimitPerIndex": 1,
        "podFailurePolicy": {"rules": [
            {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [42]}}
        ]}}),
    ))
    .unwrap();
    // Index 0 fails twice: past its limit of one retry.
    exit(&e, &running_pod(&e, "perindex", Some(0)), 1);
    exit(&e, &running_pod(&e, "perindex", Some(0)), 1);
    // Index 1 exits 42: FailIndex, no retry.
    exit(&e, &running_pod(&e, "perindex", Some(1)), 42);
    eventually(20, "indexes 0 and 1 failed", || {
        status(&e, "perindex").failed_indexes.as_deref() == Some("0-1")
    });
    assert!(
        condition(&e, "perindex", "Failed").is_none(),
        "index 2 runs"
    );
    assert_eq!(
        pods(&e, "perindex")
            .iter()
            .filter(|p| p.metadata.labels[INDEX] == "1")
            .count(),
        1,
        "a failed index gets no new pod"
    );
    exit(&e, &running_pod(&e, "perindex", Some(2)), 0);
    eventually(20, "Failed", || {
        condition(&e, "perindex", "Failed").is_some()
    });
    let c = condition(&e, "perindex", "Failed").unwrap();
    assert_eq!(c.reason.as_deref(), Some("FailedIndexes"));
    assert_eq!(c.message.as_deref(), Some("Job has failed indexes"));
    let s = status(&e, "perindex");
    assert_eq!(s.completed_indexes.as_deref(), Some("2"));
    assert_eq!(s.failed, Some(3));
}

#[test]
fn more_failed_indexes_than_max_failed_indexes_fail_the_job_early() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    e.kubelet()
        .simulated()
        .crash_on_start(Some("task"), 1, 1000);
    e.apply(&job(
        "maxfail",
        "task",
        json!({"completionMode": "Indexed", "completions": 4, "parallelism": 1,
            "backoffLimitPerIndex": 0, "maxFailedIndexes": 1}),
    ))
    .unwrap();
    eventually(20, "Failed", || {
        condition(&e, "maxfail", "Failed").is_some()
    });
    let c = condition(&e, "maxfail", "Failed").unwrap();
    assert_eq!(c.reason.as_deref(), Some("MaxFailedIndexesExceeded"));
    assert_eq!(status(&e, "maxfail").failed_indexes.as_deref(), Some("0-1"));
    assert_eq!(pods(&e, "maxfail").len(), 2, "indexes 2 and 3 never ran");
}

#[test]
fn a_fail_job_rule_fails_the_job_on_a_matching_exit_code() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    e.apply(&job(
        "failfast",
        "long",
        json!({"backoffLimit": 6, "podFailurePolicy": {"rules": [
            {"action": "FailJob", "onExitCodes": {"containerName": "main",
                "operator": "In", "values": [42]}}
        ]}}),
    ))
    .unwrap();
    // Exit 1 matches no rule: counted, replaced.
    exit(&e, &running_pod(&e, "failfast", None), 1);
    eventually(20, "a replacement", || {
        status(&e, "failfast").failed == Some(1) && status(&e, "failfast").active == Some(1)
    });
    let p = running_pod(&e, "failfast", None);
    exit(&e, &p, 42);
    eventually(20, "Failed", || {
        condition(&e, "failfast", "Failed").is_some()
    });
    let c = condition(&e, "failfast", "Failed").unwrap();
    assert_eq!(c.reason.as_deref(), Some("PodFailurePolicy"));
    assert_eq!(
        c.message.unwrap(),
        format!(
            "Container main for pod default/{} failed with exit code 42 matching FailJob rule at index 0",
            p.metadata.name
        )
    );
    assert!(condition(&e, "failfast", "FailureTarget").is_some());
    assert_eq!(pods(&e, "failfast").len(), 2, "no pod after the FailJob");
}

#[test]
fn ignore_rules_do_not_count_and_count_rules_do() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    e.apply(&job(
        "policy",
        "long",
        json!({"backoffLimit": 1, "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [0]}}
        ]}}),
    ))
    .unwrap();
    // A disrupted pod (as an eviction marks it) that fails is not counted.
    let p = running_pod(&e, "policy", None);
    let api = e.api::<Pod>().namespace("default");
    let mut disrupted = (*api.get(&p.metadata.name).unwrap()).clone();
    let s = disrupted.status.get_or_insert_with(Default::default);
    s.conditions.push(Condition {
        type_: "DisruptionTarget".into(),
        status: "True".into(),
        reason: Some("EvictionByEvictionAPI".into()),
        ..Default::default()
    });
    api.update_status(&disrupted).unwrap();
    exit(&e, &p, 137);
    eventually(20, "replaced without counting", || {
        let s = status(&e, "policy");
        s.failed == Some(0) && s.active == Some(1) && pods(&e, "policy").len() == 2
    });
    // Counted failures: one is within backoffLimit 1, the second exceeds it.
    exit(&e, &running_pod(&e, "policy", None), 3);
    eventually(20, "one counted failure", || {
        status(&e, "policy").failed == Some(1) && status(&e, "policy").active == Some(1)
    });
    exit(&e, &running_pod(&e, "policy", None), 3);
    eventually(20, "Failed", || condition(&e, "policy", "Failed").is_some());
    assert_eq!(
        condition(&e, "policy", "Failed").unwrap().reason.as_deref(),
        Some("BackoffLimitExceeded")
    );
    assert_eq!(status(&e, "policy").failed, Some(2));
}

#[test]
fn a_finished_job_is_deleted_after_its_ttl_on_the_engine_clock() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    e.kubelet()
        .simulated()
        .crash_on_start(Some("task"), 0, 1000);
    e.apply(&job(
        "short",
        "task",
        json!({"ttlSecondsAfterFinished": 60}),
    ))
    .unwrap();
    eventually(20, "Complete", || {
        condition(&e, "short", "Complete").is_some()
    });
    clock.advance(Duration::from_secs(59));
    std::thread::sleep(Duration::from_millis(150));
    assert!(get(&e, "short").is_some(), "deleted before its TTL");
    clock.advance(Duration::from_secs(1));
    eventually(20, "the Job and its pods are deleted", || {
        get(&e, "short").is_none() && pods(&e, "short").is_empty()
    });

    // A failed Job expires too; ttl 0 deletes it as soon as it finishes.
    e.kubelet().simulated().crash_on_start(Some("bad"), 1, 1000);
    e.apply(&job(
        "gone",
        "bad",
        json!({"backoffLimit": 0, "ttlSecondsAfterFinished": 0}),
    ))
    .unwrap();
    eventually(20, "deleted once failed", || {
        get(&e, "gone").is_none() && pods(&e, "gone").is_empty()
    });
}

#[test]
fn job_policies_are_validated_as_kubernetes_validates_them() {
    let clock = Arc::new(ManualClock::default());
    let e = common::one_simulated_node(&clock);
    let err = |spec: Value| e.apply(&job("bad", "task", spec)).unwrap_err().to_string();
    let m = err(json!({"podFailurePolicy": {"rules": [
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [3, 1, 0]}}]}}));
    assert!(m.contains("Job") && m.contains("bad"), "{m}");
    assert!(
        m.contains("spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 1: must be ordered"),
        "{m}"
    );
    assert!(
        m.contains("spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Invalid value: 0: must not be 0 for the In operator"),
        "{m}"
    );
    let m = err(json!({"podFailurePolicy": {"rules": [
        {"action": "FailIndex", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}));
    assert!(
        m.contains("requires the backoffLimitPerIndex to be set"),
        "{m}"
    );
    let m = err(json!({"podFailurePolicy": {"rules": [{"action": "Explode",
        "onExitCodes": {"operator": "In", "values": [1]}, "onPodConditions": [{"type": "X"}]}]}}));
    assert!(
        m.contains("spec.podFailurePolicy.rules[0].action: Unsupported value"),
        "{m}"
    );
    assert!(
        m.contains("specifying both OnExitCodes and OnPodConditions is not supported"),
        "{m}"
    );
    let mut on_failure: Value = serde_json::from_str(&job(
        "bad",
        "task",
        json!({"podFailurePolicy": {"rules": [
            {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [1]}}]}}),
    ))
    .unwrap();
    on_failure["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
    let m = e.apply(&on_failure.to_string()).unwrap_err().to_string();
    assert!(
        m.contains("spec.template.spec.restartPolicy: Invalid value: \"OnFailure\": only \"Never\" is supported when podFailurePolicy is specified"),
        "{m}"
    );
    let m = err(json!({"backoffLimitPerIndex": 1}));
    assert!(
        m.contains("spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"),
        "{m}"
    );
    let m = err(json!({"completionMode": "Indexed", "completions": 2,
        "backoffLimitPerIndex": 1, "maxFailedIndexes": 3}));
    assert!(
        m.contains("spec.maxFailedIndexes: Invalid value: 3: must be less than or equal to completions (2)"),
        "{m}"
    );
    assert!(get(&e, "bad").is_none());
}
