//! `steady cordon`, `steady uncordon` and `steady drain`: node maintenance on an engine
//! that `steady run --api` serves, through its API server and the kubeconfig it wrote (as
//! `kubectl cordon/uncordon/drain` would, with no kubectl needed).
//!
//! The drain goes through the eviction subresource, so the engine's PodDisruptionBudgets
//! are honoured: an eviction answered 429 is retried every 5 s (as kubectl) until
//! `--timeout`; DaemonSet pods are skipped; then the command waits for the evicted pods to
//! be gone. Output follows kubectl's lines (`node/N cordoned`, `evicting pod ns/p`,
//! `pod/p evicted`, `node/N drained`); exit 1 when something failed.

use super::args::{NodeAction, NodeArgs};
use super::remote::Remote;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How often an eviction refused by a budget is tried again (kubectl's interval).
const RETRY: Duration = Duration::from_secs(5);

/// Runs the command; returns the exit code.
pub fn run(a: &NodeArgs) -> i32 {
    match run_inner(a) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("steady: error: {e}");
            1
        }
    }
}

fn run_inner(a: &NodeArgs) -> Result<i32, String> {
    let path = a
        .kubeconfig
        .clone()
        .or_else(|| std::env::var_os("KUBECONFIG").map(Into::into))
        .ok_or(
            "no kubeconfig: give --kubeconfig FILE or set KUBECONFIG (steady run --api prints its path)",
        )?;
    let remote = Remote::from_kubeconfig(&path)?;
    let node = &a.node;
    match a.action {
        NodeAction::Cordon => {
            let changed = set_unschedulable(&remote, node, true)?;
            super::say(format_args!(
                "node/{node} {}",
                if changed {
                    "cordoned"
                } else {
                    "already cordoned"
                }
            ));
            Ok(0)
        }
        NodeAction::Uncordon => {
            let changed = set_unschedulable(&remote, node, false)?;
            super::say(format_args!(
                "node/{node} {}",
                if changed {
                    "uncordoned"
                } else {
                    "already uncordoned"
                }
            ));
            Ok(0)
        }
        NodeAction::Drain => drain(&remote, a),
    }
}

/// Sets or clears `spec.unschedulable`; whether it changed.
fn set_unschedulable(remote: &Remote, node: &str, on: bool) -> Result<bool, String> {
    let path = format!("/api/v1/nodes/{node}");
    let got = remote.request("GET", &path, None)?;
    if got.status != 200 {
        return Err(got.message());
    }
    if got.body["spec"]["unschedulable"].as_bool().unwrap_or(false) == on {
        return Ok(false);
    }
    let value = if on { json!(true) } else { Value::Null };
    let patch = json!({"spec": {"unschedulable": value}});
    let r = remote.request(
        "PATCH",
        &path,
        Some(("application/merge-patch+json", &patch)),
    )?;
    if r.status != 200 {
        return Err(r.message());
    }
    Ok(true)
}

fn drain(remote: &Remote, a: &NodeArgs) -> Result<i32, String> {
    let node = &a.node;
    if set_unschedulable(remote, node, true)? {
        super::say(format_args!("node/{node} cordoned"));
    }
    let list = remote.request(
        "GET",
        &format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{node}"),
        None,
    )?;
    if list.status != 200 {
        return Err(list.message());
    }
    let mut pending = Vec::new();
    for p in list.body["items"].as_array().cloned().unwrap_or_default() {
        let ns = p["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let name = p["metadata"]["name"].as_str().unwrap_or("").to_string();
        let uid = p["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let daemon = p["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|o| {
                o.iter()
                    .any(|r| r["controller"] == true && r["kind"] == "DaemonSet")
            });
        if daemon {
            super::say(format_args!(
                "Warning: ignoring DaemonSet-managed Pods: {ns}/{name}"
            ));
        } else {
            pending.push((ns, name, uid));
        }
    }
    let deadline = Instant::now() + a.timeout;
    let mut leaving = Vec::new();
    let mut failed = 0;
    while !pending.is_empty() {
        let mut refused = Vec::new();
        for (ns, name, uid) in pending.drain(..) {
            super::say(format_args!("evicting pod {ns}/{name}"));
            let mut body = json!({"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": name, "namespace": ns},
                "deleteOptions": {"preconditions": {"uid": uid}}});
            if let Some(g) = a.grace_period {
                body["deleteOptions"]["gracePeriodSeconds"] = json!(g);
            }
            let r = remote.request(
                "POST",
                &format!("/api/v1/namespaces/{ns}/pods/{name}/eviction"),
                Some(("application/json", &body)),
            )?;
            match r.status {
                200 | 201 => leaving.push((ns, name, uid)),
                404 | 409 => leaving.push((ns, name, uid)),
                429 => {
                    super::say(format_args!(
                        "error when evicting pods/{name:?} -n {ns:?} (will retry after {}s): {}",
                        RETRY.as_secs(),
                        r.message()
                    ));
                    refused.push((ns, name, uid));
                }
                _ => {
                    eprintln!(
                        "error when evicting pods/{name:?} -n {ns:?}: {}",
                        r.message()
                    );
                    failed += 1;
                }
            }
        }
        pending = refused;
        if pending.is_empty() {
            break;
        }
        if Instant::now() + RETRY > deadline {
            for (ns, name, _) in &pending {
                eprintln!("error: pod {ns}/{name}: a disruption budget refused its eviction until the timeout");
            }
            failed += pending.len();
            pending.clear();
            break;
        }
        std::thread::sleep(RETRY);
    }
    for (ns, name, uid) in leaving {
        loop {
            let r = remote.request("GET", &format!("/api/v1/namespaces/{ns}/pods/{name}"), None)?;
            if r.status == 404 || r.body["metadata"]["uid"].as_str() != Some(uid.as_str()) {
                super::say(format_args!("pod/{name} evicted"));
                break;
            }
            if Instant::now() > deadline {
                eprintln!("error: pod {ns}/{name}: evicted, but not deleted before the timeout");
                failed += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    if failed > 0 {
        eprintln!("error: unable to drain node {node:?}: {failed} pod(s) left");
        return Ok(1);
    }
    super::say(format_args!("node/{node} drained"));
    Ok(0)
}
