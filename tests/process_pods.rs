//! Pods of real OS processes on the local node: restarts after kill -9, probes, graceful
//! termination, logs, and nothing left behind at shutdown. Delays run on a manual clock.
#![cfg(unix)]

mod common;

use common::eventually;
use common::processes::running_pid;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use steady::api::Pod;
use steady::clock::ManualClock;
use steady::store::DeleteParams;
use steady::Engine;

const NODE: &str = common::LOCAL_NODE;

fn apply(e: &Engine, name: &str, container: serde_json::Value, spec: serde_json::Value) {
    let mut s = json!({"nodeName": NODE, "containers": [container]});
    for (k, v) in spec.as_object().unwrap() {
        s[k] = v.clone();
    }
    let p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": s});
    e.apply(&p.to_string()).unwrap();
}

fn pod(e: &Engine, name: &str) -> Option<Arc<Pod>> {
    e.api::<Pod>().namespace("default").get_opt(name).unwrap()
}

fn status(e: &Engine, name: &str) -> Option<steady::api::ContainerStatus> {
    pod(e, name)?
        .status
        .as_ref()?
        .container_statuses
        .first()
        .cloned()
}

fn pid(e: &Engine, name: &str) -> Option<i32> {
    running_pid(&status(e, name)?)
}

fn alive(pid: i32) -> bool {
    // Signal 0 checks existence; a zombie would still count, so look at /proc too.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.contains(") Z ")
}

fn ready(e: &Engine, name: &str) -> bool {
    pod(e, name).is_some_and(|p| {
        p.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
    })
}

#[test]
fn a_killed_process_is_restarted_and_its_previous_output_kept() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    apply(
        &e,
        "sleeper",
        json!({"name": "main", "command": ["sh", "-c", "echo started $POD_NAME on $NODE_NAME; exec sleep 1000"]}),
        json!({}),
    );
    eventually(10, "running", || {
        pid(&e, "sleeper").is_some() && ready(&e, "sleeper")
    });
    let first = pid(&e, "sleeper").unwrap();
    eventually(10, "output captured", || {
        e.logs("default", "sleeper", None, false).unwrap() == format!("started sleeper on {NODE}\n")
    });
    unsafe_kill(first, 9);
    eventually(10, "a new process after kill -9", || {
        pid(&e, "sleeper").is_some_and(|p| p != first)
            && status(&e, "sleeper").unwrap().restart_count == 1
    });
    let s = status(&e, "sleeper").unwrap();
    let last = s.last_state.unwrap().terminated.unwrap();
    assert_eq!((last.exit_code, last.signal), (137, Some(9)));
    assert_eq!(
        e.logs("default", "sleeper", None, true).unwrap(),
        format!("started sleeper on {NODE}\n")
    );
    assert!(!alive(first));
}

fn unsafe_kill(pid: i32, sig: i32) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

#[test]
fn a_command_that_does_not_exist_fails_with_the_os_error() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    apply(
        &e,
        "missing",
        json!({"name": "main", "command": ["/no/such/binary"]}),
        json!({"restartPolicy": "Never"}),
    );
    eventually(10, "failed", || {
        pod(&e, "missing")
            .and_then(|p| p.status.as_ref().and_then(|s| s.phase.clone()))
            .as_deref()
            == Some("Failed")
    });
    let t = status(&e, "missing")
        .unwrap()
        .state
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(t.reason.as_deref(), Some("StartError"));
    let msg = t.message.unwrap();
    assert!(
        msg.contains("/no/such/binary") && msg.contains("No such file"),
        "{msg}"
    );
}

#[test]
fn readiness_follows_an_exec_probe_and_liveness_restarts() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    let dir = common::scratch("probes");
    let ready_file = dir.join("ready");
    let live_file = dir.join("live");
    std::fs::write(&live_file, "").unwrap();
    apply(
        &e,
        "probed",
        json!({"name": "main", "command": ["sleep", "1000"],
            "readinessProbe": {"exec": {"command": ["test", "-f", ready_file]}, "periodSeconds": 1},
            "livenessProbe": {"exec": {"command": ["test", "-f", live_file]}, "periodSeconds": 1, "failureThreshold": 1}}),
        json!({"terminationGracePeriodSeconds": 1}),
    );
    let tick = || {
        clock.advance(Duration::from_secs(1));
        std::thread::sleep(Duration::from_millis(20));
    };
    eventually(10, "running, not ready", || pid(&e, "probed").is_some());
    assert!(!ready(&e, "probed"));
    std::fs::write(&ready_file, "").unwrap();
    eventually(10, "ready once the probe passes", || {
        tick();
        ready(&e, "probed")
    });
    std::fs::remove_file(&ready_file).unwrap();
    eventually(10, "not ready after failureThreshold failures", || {
        tick();
        !ready(&e, "probed")
    });
    let before = pid(&e, "probed").unwrap();
    std::fs::remove_file(&live_file).unwrap();
    // The restarted container is probed at once and fails again while the file is missing,
    // so the count may pass 1 before it is seen: what matters is that it restarts.
    eventually(10, "restarted by the liveness probe", || {
        tick();
        status(&e, "probed").is_some_and(|s| s.restart_count >= 1)
    });
    std::fs::write(&live_file, "").unwrap();
    eventually(10, "running again", || {
        tick();
        pid(&e, "probed").is_some_and(|p| p != before)
    });
    assert!(!alive(before));
    // As the kubelet says it: Unhealthy for the failed probes, Killing for the restart.
    let pod = e.api::<Pod>().get("probed").unwrap();
    let events = steady::client::events::events_for(e.store(), pod.as_ref()).unwrap();
    let said = |reason: &str, text: &str| {
        events.iter().any(|ev| {
            ev.reason.as_deref() == Some(reason)
                && ev.message.as_deref().is_some_and(|m| m.contains(text))
        })
    };
    assert!(said("Unhealthy", "Readiness probe failed"), "{events:#?}");
    assert!(said("Unhealthy", "Liveness probe failed"), "{events:#?}");
    // Said once, not `Liveness probe failed: Liveness probe failed: ...`.
    assert!(!said("Unhealthy", "probe failed: Liveness"), "{events:#?}");
    assert!(!said("Unhealthy", "probe failed: Readiness"), "{events:#?}");
    assert!(
        said("Killing", "failed liveness probe, will be restarted"),
        "{events:#?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_process_ignoring_sigterm_is_killed_after_the_grace_period() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    apply(
        &e,
        "stubborn",
        json!({"name": "main", "command": ["sh", "-c", "trap 'echo ignoring TERM' TERM; echo trapping; while true; do sleep 1; done"]}),
        json!({"terminationGracePeriodSeconds": 15}),
    );
    eventually(10, "running and trapping", || {
        pid(&e, "stubborn").is_some()
            && e.logs("default", "stubborn", None, false)
                .unwrap_or_default()
                == "trapping\n"
    });
    let p = pid(&e, "stubborn").unwrap();
    e.api::<Pod>()
        .namespace("default")
        .delete("stubborn", &DeleteParams::default())
        .unwrap();
    // The grace period runs from the SIGTERM: the clock moves only once it was received.
    eventually(10, "SIGTERM received", || {
        e.logs("default", "stubborn", None, false)
            .unwrap_or_default()
            .contains("ignoring TERM")
    });
    assert!(alive(p), "SIGTERM is ignored");
    assert!(pod(&e, "stubborn").is_some(), "terminating");
    clock.advance(Duration::from_secs(15));
    eventually(10, "killed and removed", || pod(&e, "stubborn").is_none());
    eventually(5, "the process is gone", || !alive(p));
}

#[test]
fn engine_shutdown_leaves_no_process_behind() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    for i in 0..3 {
        apply(
            &e,
            &format!("p{i}"),
            json!({"name": "main", "command": ["sh", "-c", "sleep 1000 & sleep 1000"]}),
            json!({"terminationGracePeriodSeconds": 2}),
        );
    }
    eventually(10, "three running", || {
        (0..3).all(|i| pid(&e, &format!("p{i}")).is_some())
    });
    let pids: Vec<i32> = (0..3).map(|i| pid(&e, &format!("p{i}")).unwrap()).collect();
    e.shutdown();
    for &p in &pids {
        assert!(!alive(p), "leader {p} is gone");
    }
    // The children of each shell too: each leader's pid is its process group's id.
    for g in pids {
        let members = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|d| d.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/stat"))
                    .ok()
                    .and_then(|s| {
                        // Fields after the command: state, ppid, pgrp. Zombies are dead
                        // already (their reaper is init's business), so they do not count.
                        let after = s.rsplit_once(") ")?.1.to_string();
                        let f: Vec<&str> = after.split_whitespace().collect();
                        (f.first() != Some(&"Z")).then(|| f.get(2)?.parse::<i32>().ok())?
                    })
                    == Some(g)
            })
            .count();
        assert_eq!(members, 0, "process group {g} is empty");
    }
}

#[test]
fn every_pod_has_its_own_loopback_address_so_replicas_share_a_port() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    for name in ["web-a", "web-b"] {
        apply(
            &e,
            name,
            json!({"name": "main",
                "command": ["python3", "-m", "http.server", "18080", "--bind", "$(POD_IP)"],
                "ports": [{"name": "http", "containerPort": 18080}],
                "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1}}),
            json!({"terminationGracePeriodSeconds": 1}),
        );
    }
    eventually(20, "both ready on the same port", || {
        clock.advance(Duration::from_secs(1));
        std::thread::sleep(Duration::from_millis(50));
        ready(&e, "web-a") && ready(&e, "web-b")
    });
    let ip = |n: &str| {
        pod(&e, n)
            .unwrap()
            .status
            .as_ref()
            .unwrap()
            .pod_ip
            .clone()
            .unwrap()
    };
    assert_ne!(ip("web-a"), ip("web-b"));
    assert!(ip("web-a").starts_with("127."));
    let body = std::process::Command::new("python3")
        .args([
            "-c",
            &format!(
                "import urllib.request; print(urllib.request.urlopen('http://{}:18080/').status)",
                ip("web-b")
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&body.stdout).trim(), "200");
}
