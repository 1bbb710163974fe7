//! Init containers and native sidecars on real processes, as the kubelet runs them: init
//! containers one after the other, each to success (a failing one restarted by the pod's
//! policy, the pod Initialized only after the last); a sidecar (an init container with
//! `restartPolicy: Always`) started in order, kept running beside the main containers and
//! restarted on its own, counted in readiness, and stopped after the main containers; and
//! several main containers restarted each on its own.
#![cfg(unix)]

mod common;

use common::eventually;
use common::processes::{kill, running_pid};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use steady::api::{ContainerStatus, Pod};
use steady::clock::ManualClock;
use steady::store::DeleteParams;
use steady::Engine;

fn apply(e: &Engine, name: &str, spec: Value) {
    let mut s = json!({"nodeName": common::LOCAL_NODE, "terminationGracePeriodSeconds": 30});
    for (k, v) in spec.as_object().unwrap() {
        s[k] = v.clone();
    }
    let p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": s});
    e.apply(&p.to_string()).unwrap();
}

fn pod(e: &Engine, name: &str) -> Option<Arc<Pod>> {
    e.api::<Pod>().namespace("default").get_opt(name).unwrap()
}

fn status(e: &Engine, pod_name: &str, container: &str) -> Option<ContainerStatus> {
    let p = pod(e, pod_name)?;
    let s = p.status.as_ref()?;
    s.init_container_statuses
        .iter()
        .chain(&s.container_statuses)
        .find(|c| c.name == container)
        .cloned()
}

fn pid(e: &Engine, pod_name: &str, container: &str) -> Option<i32> {
    running_pid(&status(e, pod_name, container)?)
}

fn condition(e: &Engine, name: &str, type_: &str) -> Option<String> {
    let p = pod(e, name)?;
    let s = p.status.as_ref()?;
    s.conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.clone())
}

fn phase(e: &Engine, name: &str) -> Option<String> {
    pod(e, name)?.status.as_ref()?.phase.clone()
}

#[test]
fn init_containers_run_in_order_to_success_and_a_failing_one_is_retried() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    let dir = common::scratch("init");
    let log = dir.join("order").display().to_string();
    let counter = dir.join("tries").display().to_string();
    // The second init container fails on its first try: with restartPolicy Always an init
    // container is retried until it succeeds (as OnFailure), and the main one waits.
    apply(
        &e,
        "ordered",
        json!({"initContainers": [
                  {"name": "first", "command": ["sh", "-c", format!("echo first >> {log}")]},
                  {"name": "second", "command": ["sh", "-c", format!(
                      "echo try >> {counter}; [ $(wc -l < {counter}) -ge 2 ] || exit 1; echo second >> {log}")]}],
               "containers": [{"name": "main", "command": ["sh", "-c", format!("echo main >> {log}; exec sleep 600")]}]}),
    );
    eventually(30, "the main container runs after both", || {
        std::fs::read_to_string(&log).unwrap_or_default() == "first\nsecond\nmain\n"
    });
    assert_eq!(status(&e, "ordered", "second").unwrap().restart_count, 1);
    eventually(10, "Initialized and Ready", || {
        condition(&e, "ordered", "Initialized").as_deref() == Some("True")
            && condition(&e, "ordered", "Ready").as_deref() == Some("True")
    });

    // With restartPolicy Never a failed init container fails the pod, and nothing else runs.
    apply(
        &e,
        "doomed",
        json!({"restartPolicy": "Never",
               "initContainers": [{"name": "bad", "command": ["sh", "-c", "exit 2"]}],
               "containers": [{"name": "main", "command": ["sleep", "600"]}]}),
    );
    eventually(30, "the pod fails", || {
        phase(&e, "doomed").as_deref() == Some("Failed")
    });
    assert!(pid(&e, "doomed", "main").is_none());
    assert_eq!(
        condition(&e, "doomed", "Initialized").as_deref(),
        Some("False")
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_sidecar_runs_beside_the_main_containers_and_outlives_their_restarts() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    let dir = common::scratch("sidecar");
    let log = dir.join("order").display().to_string();
    // The sidecar starts before the next init container and the main ones; it is stopped
    // after them (each records its SIGTERM).
    let traps = |who: &str| {
        format!("trap 'echo {who} stopped >> {log}; exit 0' TERM; echo {who} >> {log}; while :; do sleep 0.05; done")
    };
    apply(
        &e,
        "meshed",
        json!({"initContainers": [
                  // Started means its startup probe passed: it has written its line.
                  {"name": "proxy", "restartPolicy": "Always", "command": ["sh", "-c", traps("proxy")],
                   "startupProbe": {"exec": {"command": ["grep", "-q", "proxy", &log]}, "periodSeconds": 1}},
                  {"name": "setup", "command": ["sh", "-c", format!("echo setup >> {log}")]}],
               "containers": [
                  {"name": "app", "command": ["sh", "-c", traps("app")]},
                  {"name": "worker", "command": ["sh", "-c", "exec sleep 600"]}]}),
    );
    // Running is exec'd: the app's shell may not have written its line yet.
    eventually(30, "all running and Ready, the app's line written", || {
        clock.advance(Duration::from_millis(200));
        pid(&e, "meshed", "app").is_some()
            && pid(&e, "meshed", "worker").is_some()
            && condition(&e, "meshed", "Ready").as_deref() == Some("True")
            && std::fs::read_to_string(&log).is_ok_and(|l| l.contains("app"))
    });
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "proxy\nsetup\napp\n",
        "the sidecar first, then the init container, then the main containers"
    );
    assert_eq!(phase(&e, "meshed").as_deref(), Some("Running"));

    // The sidecar dies: it alone is restarted, whatever the pod's policy.
    let (proxy, app, worker) = (
        pid(&e, "meshed", "proxy").unwrap(),
        pid(&e, "meshed", "app").unwrap(),
        pid(&e, "meshed", "worker").unwrap(),
    );
    kill(proxy);
    eventually(30, "the sidecar runs again", || {
        pid(&e, "meshed", "proxy").is_some_and(|p| p != proxy)
    });
    assert_eq!(status(&e, "meshed", "proxy").unwrap().restart_count, 1);
    assert_eq!(pid(&e, "meshed", "app"), Some(app));
    // A main container dies: it alone is restarted; the sidecar outlives it.
    let proxy = pid(&e, "meshed", "proxy").unwrap();
    kill(worker);
    eventually(30, "the main container runs again", || {
        pid(&e, "meshed", "worker").is_some_and(|p| p != worker)
    });
    assert_eq!(pid(&e, "meshed", "proxy"), Some(proxy));
    assert_eq!(pid(&e, "meshed", "app"), Some(app));
    assert_eq!(status(&e, "meshed", "app").unwrap().restart_count, 0);

    // Deleted: the main containers stop first, then the sidecar.
    std::fs::write(&log, "").unwrap();
    e.api::<Pod>()
        .namespace("default")
        .delete("meshed", &DeleteParams::default())
        .unwrap();
    eventually(30, "the pod is gone", || pod(&e, "meshed").is_none());
    let order = std::fs::read_to_string(&log).unwrap();
    assert!(
        order.starts_with("app stopped\n") && order.ends_with("proxy stopped\n"),
        "{order:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_pod_whose_main_container_completes_stops_its_sidecar_and_succeeds() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    apply(
        &e,
        "batch",
        json!({"restartPolicy": "Never",
               "initContainers": [{"name": "logger", "restartPolicy": "Always",
                                   "command": ["sh", "-c", "exec sleep 600"]}],
               "containers": [{"name": "job", "command": ["sh", "-c", "sleep 0.2; exit 0"]}]}),
    );
    eventually(30, "Succeeded, the sidecar stopped", || {
        phase(&e, "batch").as_deref() == Some("Succeeded")
            && status(&e, "batch", "logger")
                .is_some_and(|s| s.state.as_ref().is_some_and(|st| st.terminated.is_some()))
    });
    assert_eq!(status(&e, "batch", "logger").unwrap().restart_count, 0);
    clock.advance(Duration::from_secs(1));
}

#[test]
fn restart_policies_and_probes_of_containers_are_checked_as_kubernetes_checks_them() {
    let e = common::engine();
    let pod = |init: Value, main: Value| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"initContainers": [init], "containers": [main]}})
        .to_string()
    };
    let main = json!({"name": "main", "command": ["true"]});
    let err = e
        .apply(&pod(
            json!({"name": "i", "command": ["true"], "restartPolicy": "OnFailure"}),
            main.clone(),
        ))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spec.initContainers[0].restartPolicy") && err.contains("\"Always\""),
        "{err}"
    );
    let err = e
        .apply(&pod(
            json!({"name": "i", "command": ["true"]}),
            json!({"name": "main", "command": ["true"], "restartPolicy": "Always"}),
        ))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spec.containers[0].restartPolicy: Forbidden"),
        "{err}"
    );
    let probe = json!({"exec": {"command": ["true"]}});
    let err = e
        .apply(&pod(
            json!({"name": "i", "command": ["true"], "readinessProbe": probe}),
            main.clone(),
        ))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spec.initContainers[0].readinessProbe: Forbidden"),
        "{err}"
    );
    // A sidecar may have probes and hooks.
    e.apply(&pod(
        json!({"name": "i", "command": ["true"], "restartPolicy": "Always", "readinessProbe": probe}),
        main,
    ))
    .unwrap();
}
