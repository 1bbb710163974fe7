//! A DaemonSet runs one pod on every eligible node: it follows nodes added and removed,
//! skips tainted nodes unless tolerated and nodes its nodeSelector or node affinity
//! excludes, places its pods through the scheduler (a node without room leaves its pod
//! Pending), and rolls a new template out one node at a time, or with maxSurge a new pod
//! beside the old one. Simulated nodes, manual clock.

mod common;

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use steady::api::{DaemonSet, Node, Pod};
use steady::client::events::events_for;
use steady::client::TypedEvent;
use steady::clock::ManualClock;
use steady::controllers::daemonset;
use steady::node::NodeConfig;
use steady::store::WatchParams;
use steady::Engine;

thread_local! {
    /// Each test's engine clock (a test runs on one thread).
    static CLOCK: Arc<ManualClock> = Arc::new(ManualClock::default());
}

/// Polls `cond` until it holds. Daemon pods go through the scheduler, and one that reached
/// it before its node did (a race of real threads) waits out the scheduler's backoff on the
/// engine clock: when `cond` has not held for a while, the manual clock moves on a second.
fn eventually(secs: u64, what: &str, cond: impl FnMut() -> bool) {
    let clock = CLOCK.with(Arc::clone);
    common::eventually_advancing(&clock, secs, what, cond);
}

const CPU: i64 = 4000;
const MEM: i64 = 8 << 30;

fn engine() -> Engine {
    Engine::builder()
        .clock(CLOCK.with(Arc::clone))
        .local_node(false)
        .node(NodeConfig::simulated("sim-0", CPU, MEM).label("disk", "ssd"))
        .node(NodeConfig::simulated("gpu-0", CPU, MEM).taint(
            "dedicated",
            Some("gpu"),
            "NoSchedule",
        ))
        .build()
        .unwrap()
}

fn agent(image: &str, pod_spec: Value) -> String {
    let mut spec = json!({"containers": [{"name": "agent", "image": image}]});
    for (k, v) in pod_spec.as_object().unwrap() {
        spec[k] = v.clone();
    }
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}}, "spec": spec}}})
    .to_string()
}

/// Node name -> pods (not being deleted) of the DaemonSet there.
fn placement(e: &Engine) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for p in e
        .api::<Pod>()
        .namespace("default")
        .list(&Default::default())
        .unwrap()
        .items
    {
        if p.metadata.deletion_timestamp.is_none() {
            *m.entry(p.spec.node_name.clone().unwrap_or_default())
                .or_default() += 1;
        }
    }
    m
}

/// The images of the DaemonSet's pods.
fn images(e: &Engine) -> BTreeSet<String> {
    e.api::<Pod>()
        .namespace("default")
        .list(&Default::default())
        .unwrap()
        .items
        .iter()
        .map(|p| p.spec.containers[0].image.clone().unwrap())
        .collect()
}

fn on(nodes: &[&str]) -> BTreeMap<String, usize> {
    nodes.iter().map(|n| (n.to_string(), 1)).collect()
}

fn status(e: &Engine) -> steady::api::DaemonSetStatus {
    let d = e
        .api::<DaemonSet>()
        .namespace("default")
        .get("agent")
        .unwrap();
    d.status.clone().unwrap_or_default()
}

#[test]
fn a_daemon_set_follows_nodes_and_skips_untolerated_taints() {
    let e = engine();
    e.apply(&agent("agent:1", json!({}))).unwrap();
    eventually(10, "one pod on sim-0 only", || {
        let s = status(&e);
        placement(&e) == on(&["sim-0"]) && s.number_ready == 1
    });
    let s = status(&e);
    assert_eq!(
        (s.desired_number_scheduled, s.current_number_scheduled),
        (1, 1)
    );
    assert_eq!(
        (s.number_available, s.updated_number_scheduled),
        (Some(1), Some(1))
    );

    e.kubelet()
        .add_node(NodeConfig::simulated("sim-1", CPU, MEM))
        .unwrap();
    eventually(10, "a pod on the new node", || {
        placement(&e) == on(&["sim-0", "sim-1"]) && status(&e).number_ready == 2
    });
    assert_eq!(status(&e).desired_number_scheduled, 2);

    // Removing a node: its agent stops (or it would register the node again), and its Node
    // object is deleted.
    assert!(e.kubelet().stop_node("sim-1"));
    e.api::<Node>()
        .delete("sim-1", &Default::default())
        .unwrap();
    eventually(10, "the pod of the removed node is gone", || {
        placement(&e) == on(&["sim-0"]) && status(&e).desired_number_scheduled == 1
    });
}

#[test]
fn tolerations_and_node_selectors_choose_the_nodes() {
    let e = engine();
    let tolerate = json!({"tolerations": [{"key": "dedicated", "operator": "Equal",
                                           "value": "gpu", "effect": "NoSchedule"}]});
    e.apply(&agent("agent:1", tolerate)).unwrap();
    eventually(10, "on both nodes", || {
        placement(&e) == on(&["gpu-0", "sim-0"])
    });

    e.apply(&agent("agent:1", json!({"nodeSelector": {"disk": "ssd"}})))
        .unwrap();
    eventually(10, "only on the ssd node", || {
        placement(&e) == on(&["sim-0"]) && status(&e).number_misscheduled == 0
    });
}

#[test]
fn a_rolling_update_replaces_one_node_at_a_time() {
    let e = Engine::builder()
        .clock(CLOCK.with(Arc::clone))
        .local_node(false)
        .simulated_nodes(3, CPU, MEM)
        .build()
        .unwrap();
    e.apply(&agent("agent:1", json!({}))).unwrap();
    eventually(10, "3 ready", || status(&e).number_ready == 3);
    let pods = e.api::<Pod>().namespace("default");
    let mut w = pods.watch(&WatchParams::default()).unwrap();
    e.apply(&agent("agent:2", json!({}))).unwrap();
    eventually(10, "all updated and ready", || {
        let s = status(&e);
        s.updated_number_scheduled == Some(3)
            && s.number_ready == 3
            && s.number_available == Some(3)
    });
    // Replay the watch: at no point did more than one node lack a ready, live pod.
    let (worst, _) = replay(&mut w, 3);
    assert_eq!(worst, 1, "maxUnavailable 1");
    assert_eq!(images(&e), BTreeSet::from(["agent:2".to_string()]));
}

#[test]
fn required_node_affinity_chooses_the_nodes_and_the_scheduler_places_the_pods() {
    let e = engine();
    let affinity = json!({
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "disk", "operator": "DoesNotExist"}]}]}}}});
    e.apply(&agent("agent:1", affinity)).unwrap();
    eventually(10, "only on the node without a disk label", || {
        placement(&e) == on(&["gpu-0"]) && status(&e).number_ready == 1
    });
    // The pod was bound by the scheduler: before that, it named its node through node
    // affinity, one term in place of the template's.
    let pods = e.api::<Pod>().namespace("default");
    let mut pod = (*pods.list(&Default::default()).unwrap().items[0]).clone();
    pod.spec.node_name = None;
    assert_eq!(daemonset::target_node(&pod), Some("gpu-0"));
    let required = pod.spec.affinity.unwrap().node_affinity.unwrap();
    let terms = required
        .required_during_scheduling_ignored_during_execution
        .unwrap()
        .node_selector_terms;
    assert_eq!(terms.len(), 1);
    assert!(terms[0].match_expressions.is_empty());
}

#[test]
fn a_node_without_room_leaves_its_daemon_pod_pending() {
    let e = engine();
    let big = json!({"containers": [{"name": "agent", "image": "agent:1",
        "resources": {"requests": {"cpu": "3", "memory": "7Gi"}}}]});
    // Something already takes most of sim-0.
    e.apply(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hog"},
            "spec": {"nodeName": "sim-0", "containers": [{"name": "hog", "image": "hog",
                "resources": {"requests": {"cpu": "2"}}}]}})
        .to_string(),
    )
    .unwrap();
    e.apply(&agent("agent:1", big)).unwrap();
    eventually(10, "a daemon pod for sim-0, unscheduled", || {
        let s = status(&e);
        s.desired_number_scheduled == 1 && s.current_number_scheduled == 1
    });
    let pods = e.api::<Pod>().namespace("default");
    let pending = pods
        .list(&Default::default())
        .unwrap()
        .items
        .into_iter()
        .find(|p| p.metadata.name != "hog")
        .unwrap();
    assert_eq!(pending.spec.node_name, None);
    eventually(10, "a FailedScheduling event", || {
        events_for(e.store(), &*pending).unwrap().iter().any(|ev| {
            ev.reason.as_deref() == Some("FailedScheduling")
                && ev
                    .message
                    .as_deref()
                    .is_some_and(|m| m.contains("Insufficient cpu"))
        })
    });
    assert_eq!(status(&e).number_ready, 0);
}

/// Replays `w` until it goes quiet: the most nodes that lacked a ready pod at once (once all
/// `nodes` had one), and the most live pods at once.
fn replay(w: &mut steady::client::TypedWatch<Pod>, nodes: usize) -> (usize, usize) {
    let mut live: BTreeMap<String, Arc<Pod>> = BTreeMap::new();
    let (mut worst, mut most) = (0, 0);
    let mut settled = false;
    while let Some(ev) = w.recv_timeout(Duration::from_millis(100)).unwrap() {
        match ev {
            TypedEvent::Added(p) | TypedEvent::Modified(p) => {
                if p.metadata.deletion_timestamp.is_some() {
                    live.remove(&p.metadata.name);
                } else {
                    live.insert(p.metadata.name.clone(), p);
                }
            }
            TypedEvent::Deleted(p) => {
                live.remove(&p.metadata.name);
            }
            TypedEvent::Bookmark(_) => {}
        }
        let ready_nodes: BTreeSet<String> = live
            .values()
            .filter(|p| {
                p.status.as_ref().is_some_and(|s| {
                    s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                })
            })
            .filter_map(|p| p.spec.node_name.clone())
            .collect();
        settled |= ready_nodes.len() == nodes;
        if settled {
            worst = worst.max(nodes - ready_nodes.len());
            most = most.max(live.len());
        }
    }
    (worst, most)
}

#[test]
fn a_surging_update_starts_the_new_pod_before_the_old_one_goes() {
    let e = Engine::builder()
        .clock(CLOCK.with(Arc::clone))
        .local_node(false)
        .simulated_nodes(4, CPU, MEM)
        .build()
        .unwrap();
    let surging = |image: &str| {
        let mut ds: Value = serde_json::from_str(&agent(image, json!({}))).unwrap();
        ds["spec"]["updateStrategy"] = json!({"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}});
        ds.to_string()
    };
    e.apply(&surging("agent:1")).unwrap();
    eventually(10, "4 ready", || status(&e).number_ready == 4);
    let pods = e.api::<Pod>().namespace("default");
    let mut w = pods.watch(&WatchParams::default()).unwrap();
    e.apply(&surging("agent:2")).unwrap();
    eventually(10, "all updated and ready, the old pods gone", || {
        let s = status(&e);
        s.updated_number_scheduled == Some(4)
            && s.number_available == Some(4)
            && placement(&e) == on(&["sim-0", "sim-1", "sim-2", "sim-3"])
    });
    let (worst, most) = replay(&mut w, 4);
    assert_eq!(worst, 0, "no node ever lacked a ready pod");
    assert_eq!(most, 6, "at most maxSurge (2) pods beside the 4");
    assert_eq!(images(&e), BTreeSet::from(["agent:2".to_string()]));
}
