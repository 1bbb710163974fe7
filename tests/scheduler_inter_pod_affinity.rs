//! Inter-pod affinity and anti-affinity through the engine: replicas spread one per node and
//! the extra one refused with kube-scheduler's message, pods following the pods they need,
//! and namespaces chosen by their labels. The clock never moves.

mod scheduler_support;

use scheduler_support::*;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use steady::api::{Deployment, Namespace, Pod};
use steady::client::events::events_for;
use steady::clock::ManualClock;
use steady::scheduler::SchedulerConfig;
use steady::Engine;

/// The scheduler and the workload controllers (a Deployment needs them), no local node.
fn engine_with_controllers() -> (Engine, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::default());
    let e = Engine::builder()
        .clock(clock.clone())
        .local_node(false)
        .scheduler(SchedulerConfig::default().seed(3))
        .build()
        .expect("engine starts");
    (e, clock)
}

fn web_deployment(replicas: i64) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                        "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
                        "topologyKey": "kubernetes.io/hostname"
                    }]}},
                    "containers": [{"name": "web", "image": "nginx",
                        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]
                }
            }
        }
    })
}

fn web_pods(e: &Engine) -> Vec<Arc<Pod>> {
    e.api::<Pod>()
        .list(&Default::default())
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.labels.get("app").map(String::as_str) == Some("web"))
        .collect()
}

#[test]
fn anti_affinity_spreads_replicas_one_per_node_and_refuses_the_extra_one() {
    let (e, clock) = engine_with_controllers();
    for n in ["n1", "n2", "n3"] {
        add_node(&e, node(n, "4", "8Gi", json!({})));
    }
    e.apply(&web_deployment(3).to_string()).expect("applied");
    eventually("three replicas bound", || {
        web_pods(&e)
            .iter()
            .filter(|p| p.spec.node_name.is_some())
            .count()
            == 3
    });
    let nodes: HashSet<String> = web_pods(&e)
        .iter()
        .filter_map(|p| p.spec.node_name.clone())
        .collect();
    assert_eq!(nodes.len(), 3, "one replica per node: {nodes:?}");

    // A fourth replica has nowhere to go.
    let mut d = (*e.api::<Deployment>().get("web").unwrap()).clone();
    d.spec.replicas = Some(4);
    e.api::<Deployment>().update(d).unwrap();
    eventually("a fourth replica", || web_pods(&e).len() == 4);
    let extra = web_pods(&e)
        .into_iter()
        .find(|p| p.spec.node_name.is_none())
        .expect("one pending replica");
    let name = extra.metadata.name.clone();
    let message = "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. \
                   preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.";
    wait_unschedulable(&e, &name, message);
    eventually("a FailedScheduling event", || {
        events_for(e.store(), &*extra).unwrap().iter().any(|ev| {
            ev.reason.as_deref() == Some("FailedScheduling")
                && ev.message.as_deref() == Some(message)
        })
    });

    // A fourth node takes it, once the pod's backoff (at most 10 s) has passed.
    add_node(&e, node("n4", "4", "8Gi", json!({})));
    clock.advance(Duration::from_secs(10));
    assert_eq!(wait_bound(&e, &name), "n4");
}

#[test]
fn a_placed_pods_anti_affinity_keeps_the_incoming_pod_away() {
    let (e, _) = engine(SchedulerConfig::default().seed(1));
    add_node(&e, node("a", "4", "8Gi", json!({})));
    add_node(&e, node("b", "4", "8Gi", json!({})));
    create_pod(
        &e,
        pod(
            "loner",
            "100m",
            json!({"spec": {"nodeName": "a", "affinity": {"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{
                    "labelSelector": {"matchLabels": {"noisy": "true"}},
                    "topologyKey": "kubernetes.io/hostname"}]}}}}),
        ),
    );
    for i in 0..4 {
        let name = format!("noisy-{i}");
        create_pod(
            &e,
            pod(
                &name,
                "100m",
                json!({"metadata": {"labels": {"noisy": "true"}}}),
            ),
        );
        assert_eq!(wait_bound(&e, &name), "b");
    }
    // With b cordoned, none fits.
    let mut b = (*e.api::<steady::api::Node>().get("b").unwrap()).clone();
    b.spec.unschedulable = Some(true);
    let b = e.api::<steady::api::Node>().update(b).unwrap();
    wait_node_synced(&e, b.metadata.revision().unwrap());
    create_pod(
        &e,
        pod(
            "noisy-x",
            "100m",
            json!({"metadata": {"labels": {"noisy": "true"}}}),
        ),
    );
    wait_unschedulable(
        &e,
        "noisy-x",
        "0/2 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules, \
         1 node(s) were unschedulable. preemption: 0/2 nodes are available: \
         1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.",
    );
}

#[test]
fn required_affinity_puts_pods_beside_the_pod_they_need() {
    let (e, clock) = engine(SchedulerConfig::default().seed(5));
    for n in ["a", "b", "c"] {
        add_node(&e, node(n, "4", "8Gi", json!({})));
    }
    let follows_cache = json!({"spec": {"affinity": {"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"app": "cache"}},
            "topologyKey": "kubernetes.io/hostname"}]}}}});
    // Before any cache pod exists, a pod that needs one waits (it does not match itself).
    create_pod(&e, pod("early", "100m", follows_cache.clone()));
    wait_unschedulable(
        &e,
        "early",
        "0/3 nodes are available: 3 node(s) didn't match pod affinity rules. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    );
    create_pod(
        &e,
        pod(
            "cache",
            "100m",
            json!({"metadata": {"labels": {"app": "cache"}}, "spec": {"nodeSelector": {"kubernetes.io/hostname": "b"}}}),
        ),
    );
    assert_eq!(wait_bound(&e, "cache"), "b");
    clock.advance(Duration::from_secs(10));
    assert_eq!(wait_bound(&e, "early"), "b");
    for i in 0..3 {
        let name = format!("web-{i}");
        create_pod(&e, pod(&name, "100m", follows_cache.clone()));
        assert_eq!(wait_bound(&e, &name), "b");
    }
}

#[test]
fn a_self_affine_group_starts_anywhere_then_gathers() {
    let (e, _) = engine(SchedulerConfig::default().seed(9));
    for n in ["a", "b", "c"] {
        add_node(&e, node(n, "4", "8Gi", json!({})));
    }
    let member = |name: &str| {
        pod(
            name,
            "100m",
            json!({"metadata": {"labels": {"group": "g"}}, "spec": {"affinity": {"podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{
                    "labelSelector": {"matchLabels": {"group": "g"}},
                    "topologyKey": "kubernetes.io/hostname"}]}}}}),
        )
    };
    create_pod(&e, member("first"));
    let home = wait_bound(&e, "first");
    for i in 0..3 {
        let name = format!("m{i}");
        create_pod(&e, member(&name));
        assert_eq!(wait_bound(&e, &name), home);
    }
}

#[test]
fn namespace_selector_picks_the_namespaces_whose_pods_count() {
    let (e, _) = engine(SchedulerConfig::default().seed(2));
    add_node(&e, node("a", "4", "8Gi", json!({})));
    add_node(&e, node("b", "4", "8Gi", json!({})));
    for (ns, team) in [("team-a", "a"), ("team-b", "b")] {
        let n: Namespace = serde_json::from_value(json!({
            "metadata": {"name": ns, "labels": {"team": team}}
        }))
        .unwrap();
        e.api::<Namespace>().create(n).unwrap();
    }
    // A database in team-a on node a, and one in team-b on node b.
    for (ns, node_name) in [("team-a", "a"), ("team-b", "b")] {
        let mut p = pod(
            "db",
            "100m",
            json!({"metadata": {"labels": {"app": "db"}}, "spec": {"nodeName": node_name}}),
        );
        p.metadata.namespace = Some(ns.into());
        e.api::<Pod>().namespace(ns).create(p).unwrap();
    }
    let near_team = |name: &str, selector: serde_json::Value| {
        pod(
            name,
            "100m",
            json!({"spec": {"affinity": {"podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{
                    "labelSelector": {"matchLabels": {"app": "db"}},
                    "namespaceSelector": selector,
                    "topologyKey": "kubernetes.io/hostname"}]}}}}),
        )
    };
    // From `default`, with no namespaceSelector, no db pod counts: it waits.
    create_pod(
        &e,
        pod(
            "own-namespace",
            "100m",
            json!({"spec": {"affinity": {"podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{
                    "labelSelector": {"matchLabels": {"app": "db"}},
                    "topologyKey": "kubernetes.io/hostname"}]}}}}),
        ),
    );
    wait_unschedulable(
        &e,
        "own-namespace",
        "0/2 nodes are available: 2 node(s) didn't match pod affinity rules. \
         preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    );
    create_pod(
        &e,
        near_team("near-b", json!({"matchLabels": {"team": "b"}})),
    );
    assert_eq!(wait_bound(&e, "near-b"), "b");
    create_pod(
        &e,
        near_team("near-a", json!({"matchLabels": {"team": "a"}})),
    );
    assert_eq!(wait_bound(&e, "near-a"), "a");
    // An anti-affinity against every namespace's db pods leaves no node.
    create_pod(
        &e,
        pod(
            "away-from-all",
            "100m",
            json!({"spec": {"affinity": {"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{
                    "labelSelector": {"matchLabels": {"app": "db"}},
                    "namespaceSelector": {},
                    "topologyKey": "kubernetes.io/hostname"}]}}}}),
        ),
    );
    wait_unschedulable(
        &e,
        "away-from-all",
        "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. \
         preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
    );
}

#[test]
fn preferred_affinity_draws_pods_towards_matching_pods() {
    let (e, _) = engine(SchedulerConfig::default().seed(11));
    for n in ["a", "b", "c", "d"] {
        add_node(&e, node(n, "4", "8Gi", json!({})));
    }
    create_pod(
        &e,
        pod(
            "cache",
            "100m",
            json!({"metadata": {"labels": {"app": "cache"}}, "spec": {"nodeName": "c"}}),
        ),
    );
    for i in 0..3 {
        let name = format!("client-{i}");
        create_pod(
            &e,
            pod(
                &name,
                "100m",
                json!({"spec": {"affinity": {"podAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
                        "labelSelector": {"matchLabels": {"app": "cache"}},
                        "topologyKey": "kubernetes.io/hostname"}}]}}}}),
            ),
        );
        assert_eq!(wait_bound(&e, &name), "c");
    }
}

#[test]
fn a_malformed_term_is_refused_at_admission_naming_the_field() {
    let (e, _) = engine(SchedulerConfig::default());
    let err = e
        .api::<Pod>()
        .create(pod(
            "bad",
            "100m",
            json!({"spec": {"affinity": {"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{
                    "labelSelector": {"matchLabels": {"app": "web"}}}]}}}}),
        ))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey"
        ) && err.contains("can not be empty"),
        "{err}"
    );
}
