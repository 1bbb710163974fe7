//! Lifecycle hooks with the kubelet's semantics, on real processes: preStop runs before the
//! stop signal and within the grace period (a `sleep` on the engine clock), postStart runs
//! beside the new container and holds it not started and not ready until it returns, a
//! failed hook is a Warning event (and a failed postStart restarts the container), and a
//! hook steady cannot run is refused at admission.
#![cfg(unix)]

mod common;

use common::eventually;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use steady::api::Pod;
use steady::clock::ManualClock;
use steady::store::DeleteParams;
use steady::Engine;

fn apply(e: &Engine, name: &str, container: serde_json::Value) {
    let p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                   "spec": {"nodeName": common::LOCAL_NODE, "terminationGracePeriodSeconds": 30,
                            "containers": [container]}});
    e.apply(&p.to_string()).unwrap();
}

fn logs(e: &Engine, name: &str) -> String {
    e.logs("default", name, None, false).unwrap_or_default()
}

fn pod(e: &Engine, name: &str) -> Option<Arc<Pod>> {
    e.api::<Pod>().namespace("default").get_opt(name).unwrap()
}

fn delete(e: &Engine, name: &str) {
    e.api::<Pod>()
        .namespace("default")
        .delete(name, &DeleteParams::default())
        .unwrap();
}

/// Whether an event about pod `name` (it may be gone already) has `reason` and `text`.
fn said(e: &Engine, name: &str, reason: &str, text: &str) -> bool {
    let events = e
        .api::<steady::api::Event>()
        .namespace("default")
        .list(&Default::default())
        .unwrap();
    events.items.iter().any(|ev| {
        ev.involved_object.name.as_deref() == Some(name)
            && ev.reason.as_deref() == Some(reason)
            && ev.message.as_deref().is_some_and(|m| m.contains(text))
    })
}

/// Writes what the drain file says to `out` when SIGTERM arrives, then exits: `out` shows
/// the order, and outlives the pod.
fn trapping(drain: &str, out: &str) -> serde_json::Value {
    json!(["sh", "-c", format!(
        "trap 'echo \"TERM after: $(cat {drain} 2>/dev/null || echo nothing)\" > {out}; exit 0' TERM; \
         echo up; while :; do sleep 0.05; done"
    )])
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn pre_stop_runs_before_the_stop_signal() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    let dir = common::scratch("exec");
    let drain = dir.join("drain").display().to_string();
    let out = dir.join("out").display().to_string();
    apply(
        &e,
        "drains",
        json!({"name": "main", "command": trapping(&drain, &out),
               "env": [{"name": "DRAIN_FILE", "value": drain}],
               "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "echo drained > $DRAIN_FILE"]}}}}),
    );
    eventually(20, "running", || logs(&e, "drains") == "up\n");
    delete(&e, "drains");
    eventually(20, "the stop signal follows the hook", || {
        read(&out) == "TERM after: drained\n"
    });
    eventually(20, "the pod is gone", || pod(&e, "drains").is_none());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_sleeping_pre_stop_holds_the_signal_on_the_engine_clock_and_a_failing_one_is_an_event() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    let dir = common::scratch("sleep");
    let never = dir.join("never").display().to_string();
    let (slept, failed) = (
        dir.join("slept").display().to_string(),
        dir.join("failed").display().to_string(),
    );
    apply(
        &e,
        "sleeper",
        json!({"name": "main", "command": trapping(&never, &slept),
               "lifecycle": {"preStop": {"sleep": {"seconds": 20}}}}),
    );
    apply(
        &e,
        "failing",
        json!({"name": "main", "command": trapping(&never, &failed),
               "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "echo no way; exit 3"]}}}}),
    );
    eventually(20, "both running", || {
        logs(&e, "sleeper") == "up\n" && logs(&e, "failing") == "up\n"
    });
    delete(&e, "sleeper");
    delete(&e, "failing");
    // The failed hook is reported, and the stop goes on.
    eventually(20, "the failing hook's pod stops anyway", || {
        read(&failed) == "TERM after: nothing\n"
    });
    assert!(
        said(&e, "failing", "FailedPreStopHook", "Exec lifecycle hook")
            || pod(&e, "failing").is_none()
    );
    // The sleeping hook holds the signal until the engine clock has moved 20 s.
    clock.advance(Duration::from_secs(19));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read(&slept), "", "no signal while the hook sleeps");
    assert!(pod(&e, "sleeper").is_some());
    clock.advance(Duration::from_secs(1));
    eventually(20, "the signal after the sleep", || {
        read(&slept) == "TERM after: nothing\n"
    });
    eventually(20, "both pods are gone", || {
        pod(&e, "sleeper").is_none() && pod(&e, "failing").is_none()
    });
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn post_start_runs_beside_the_container_and_a_failure_restarts_it() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    let dir = common::scratch("post");
    let marker = dir.join("started").display().to_string();
    // The container waits for what its postStart hook writes: the hook runs beside it.
    apply(
        &e,
        "hooked",
        json!({"name": "main", "env": [{"name": "MARK", "value": marker}],
               "command": ["sh", "-c", "while [ ! -f $MARK ]; do sleep 0.05; done; echo saw $(cat $MARK); exec sleep 600"],
               "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "echo hooked > $MARK"]}}}}),
    );
    eventually(20, "the container saw the hook's work", || {
        logs(&e, "hooked") == "saw hooked\n"
    });
    let ready = |name: &str| {
        pod(&e, name).is_some_and(|p| {
            p.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        })
    };
    eventually(20, "ready once the hook returned", || ready("hooked"));

    apply(
        &e,
        "broken",
        json!({"name": "main", "command": ["sleep", "600"],
               "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "exit 7"]}}}}),
    );
    eventually(30, "killed and restarted by the policy", || {
        pod(&e, "broken").is_some_and(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.container_statuses.first())
                .is_some_and(|c| c.restart_count >= 1)
        })
    });
    assert!(said(
        &e,
        "broken",
        "FailedPostStartHook",
        "exited with code 7"
    ));
    assert!(!ready("broken"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn hooks_steady_cannot_run_are_refused_naming_the_field() {
    let e = common::engine();
    let pod = |handler: serde_json::Value| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"containers": [{"name": "main", "command": ["true"],
                                        "lifecycle": {"preStop": handler}}]}})
        .to_string()
    };
    let err = e
        .apply(&pod(json!({"tcpSocket": {"port": 80}})))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spec.containers[0].lifecycle.preStop.tcpSocket"),
        "{err}"
    );
    let err = e
        .apply(&pod(
            json!({"exec": {"command": ["x"]}, "sleep": {"seconds": 1}}),
        ))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("may not specify more than 1 handler type"),
        "{err}"
    );
    let err = e.apply(&pod(json!({}))).unwrap_err().to_string();
    assert!(err.contains("must specify a handler type"), "{err}");
    let err = e
        .apply(&pod(json!({"sleep": {"seconds": -1}})))
        .unwrap_err()
        .to_string();
    assert!(err.contains("lifecycle.preStop.sleep.seconds"), "{err}");
}
