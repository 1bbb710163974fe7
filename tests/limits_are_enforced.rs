//! `resources.limits` of process containers, enforced through the host's control groups: a
//! process that allocates past its memory limit ends `OOMKilled` (exit code 137) and is
//! restarted by the pod's policy; usage counts the container's children. On a host without
//! usable control groups these tests say so and check only that the containers run.
#![cfg(target_os = "linux")]

mod common;

use common::eventually;
use serde_json::json;
use std::sync::Arc;
use steady::api::Pod;
use steady::clock::ManualClock;
use steady::Engine;

fn apply(e: &Engine, name: &str, container: serde_json::Value) {
    let p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                   "spec": {"nodeName": common::LOCAL_NODE, "containers": [container]}});
    e.apply(&p.to_string()).unwrap();
}

fn enforced(e: &Engine) -> bool {
    match e.process_runtime().cgroups_version() {
        Some(_) => true,
        None => {
            eprintln!("this host offers no usable control groups: limits are not enforced here");
            false
        }
    }
}

#[test]
fn a_process_over_its_memory_limit_is_oom_killed_and_restarted() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    if !enforced(&e) {
        return;
    }
    // 8 MiB more every round, never freed: past 64 MiB the kernel kills it.
    apply(
        &e,
        "hog",
        json!({"name": "main", "command": ["python3", "-c",
               "import time\nblocks = []\nwhile True:\n    blocks.append(bytearray(8 << 20))\n    time.sleep(0.01)\n"],
               "resources": {"limits": {"memory": "64Mi"}}}),
    );
    eventually(60, "OOMKilled, then restarted", || {
        let Some(p) = e.api::<Pod>().namespace("default").get_opt("hog").unwrap() else {
            return false;
        };
        let Some(s) = p.status.as_ref().and_then(|s| s.container_statuses.first()) else {
            return false;
        };
        s.restart_count >= 1
            && s.last_state
                .as_ref()
                .and_then(|l| l.terminated.as_ref())
                .is_some_and(|t| t.reason.as_deref() == Some("OOMKilled") && t.exit_code == 137)
    });
}

#[test]
fn usage_counts_the_children_of_a_container() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    if !enforced(&e) {
        return;
    }
    // The shell holds almost nothing; its child holds 96 MiB.
    apply(
        &e,
        "parent",
        json!({"name": "main", "command": ["sh", "-c",
               "python3 -c 'import time; b = bytearray(96 << 20); b[::4096] = b\"x\" * len(b[::4096]); time.sleep(600)' & wait"]}),
    );
    eventually(60, "the child's memory is the container's", || {
        e.kubelet()
            .container_usage("default", "parent")
            .and_then(|u| u.first().and_then(|c| c.memory_bytes))
            .is_some_and(|m| m >= 90 << 20)
    });
}
