//! A DaemonSet runs one pod on every eligible node: it follows nodes added and removed,
//! skips tainted nodes unless tolerated and nodes its nodeSelector excludes, and rolls a new
//! template out one node at a time. Simulated nodes, manual clock.

mod common;

use common::eventually;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use steady::api::{DaemonSet, Node, Pod};
use steady::client::Event;
use steady::clock::ManualClock;
use steady::node::NodeConfig;
use steady::store::WatchParams;
use steady::Engine;

const CPU: i64 = 4000;
const MEM: i64 = 8 << 30;

fn engine() -> Engine {
    Engine::builder()
        .clock(Arc::new(ManualClock::default()))
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
        .clock(Arc::new(ManualClock::default()))
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
    let mut live: BTreeMap<String, Arc<Pod>> = BTreeMap::new();
    let mut worst = 0;
    let mut settled = false;
    while let Some(ev) = w.recv_timeout(Duration::from_millis(100)).unwrap() {
        match ev {
            Event::Added(p) | Event::Modified(p) => {
                if p.metadata.deletion_timestamp.is_some() {
                    live.remove(&p.metadata.name);
                } else {
                    live.insert(p.metadata.name.clone(), p);
                }
            }
            Event::Deleted(p) => {
                live.remove(&p.metadata.name);
            }
            Event::Bookmark(_) => {}
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
        settled |= ready_nodes.len() == 3;
        if settled {
            worst = worst.max(3 - ready_nodes.len());
        }
    }
    assert_eq!(worst, 1, "maxUnavailable 1");
    let images: BTreeSet<String> = pods
        .list(&Default::default())
        .unwrap()
        .items
        .iter()
        .map(|p| p.spec.containers[0].image.clone().unwrap())
        .collect();
    assert_eq!(images, BTreeSet::from(["agent:2".to_string()]));
}
