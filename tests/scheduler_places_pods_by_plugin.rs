//! Each default plugin, seen through the engine: pods land where its rule says.

mod scheduler_support;

use scheduler_support::*;
use serde_json::json;
use std::collections::HashMap;
use steady::scheduler::{SchedulerConfig, ScoringStrategy};

fn config() -> SchedulerConfig {
    SchedulerConfig::default().seed(42)
}

#[test]
fn a_pod_goes_to_the_only_node_with_room_for_its_requests() {
    let (e, _) = engine(config());
    add_node(&e, node("small", "500m", "1Gi", json!({})));
    add_node(&e, node("big", "4", "8Gi", json!({})));
    create_pod(&e, pod("web", "2", json!({})));
    assert_eq!(wait_bound(&e, "web"), "big");
}

#[test]
fn a_pod_goes_to_the_node_whose_taints_it_tolerates() {
    let (e, _) = engine(config());
    add_node(
        &e,
        node(
            "tainted",
            "4",
            "8Gi",
            json!({"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}}),
        ),
    );
    add_node(&e, node("plain", "1", "1Gi", json!({})));
    create_pod(&e, pod("web", "500m", json!({})));
    assert_eq!(wait_bound(&e, "web"), "plain");
    // A tolerating pod may use the tainted node, and it has the most room.
    create_pod(
        &e,
        pod(
            "db",
            "500m",
            json!({"spec": {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]}}),
        ),
    );
    assert_eq!(wait_bound(&e, "db"), "tainted");
}

#[test]
fn node_selector_and_required_affinity_pick_matching_nodes() {
    let (e, _) = engine(config());
    add_node(
        &e,
        node(
            "hdd",
            "8",
            "8Gi",
            json!({"metadata": {"labels": {"disk": "hdd", "zone": "a"}}}),
        ),
    );
    add_node(
        &e,
        node(
            "ssd-a",
            "1",
            "1Gi",
            json!({"metadata": {"labels": {"disk": "ssd", "zone": "a"}}}),
        ),
    );
    add_node(
        &e,
        node(
            "ssd-b",
            "1",
            "1Gi",
            json!({"metadata": {"labels": {"disk": "ssd", "zone": "b"}}}),
        ),
    );
    create_pod(
        &e,
        pod(
            "sel",
            "100m",
            json!({"spec": {"nodeSelector": {"disk": "ssd", "zone": "b"}}}),
        ),
    );
    assert_eq!(wait_bound(&e, "sel"), "ssd-b");
    create_pod(
        &e,
        pod(
            "aff",
            "100m",
            json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "disk", "operator": "In", "values": ["ssd"]},
                {"key": "zone", "operator": "NotIn", "values": ["b"]}
            ]}]}}}}}),
        ),
    );
    assert_eq!(wait_bound(&e, "aff"), "ssd-a");
}

#[test]
fn preferred_affinity_outweighs_free_resources() {
    let (e, _) = engine(config());
    add_node(&e, node("roomy", "16", "32Gi", json!({})));
    add_node(
        &e,
        node(
            "preferred",
            "2",
            "2Gi",
            json!({"metadata": {"labels": {"tier": "gold"}}}),
        ),
    );
    create_pod(
        &e,
        pod(
            "p",
            "100m",
            json!({"spec": {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "preference": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}]}}
            ]}}}}),
        ),
    );
    assert_eq!(wait_bound(&e, "p"), "preferred");
}

#[test]
fn a_host_port_in_use_sends_the_next_pod_elsewhere() {
    let (e, _) = engine(config());
    add_node(&e, node("a", "4", "4Gi", json!({})));
    add_node(&e, node("b", "4", "4Gi", json!({})));
    let with_port = json!({"spec": {"containers": [{"name": "c", "image": "nginx",
        "ports": [{"containerPort": 80, "hostPort": 8080}],
        "resources": {"requests": {"cpu": "100m"}}}]}});
    create_pod(&e, pod("first", "100m", with_port.clone()));
    let first = wait_bound(&e, "first");
    create_pod(&e, pod("second", "100m", with_port));
    let second = wait_bound(&e, "second");
    assert_ne!(first, second);
}

#[test]
fn cordoned_nodes_take_no_new_pods() {
    let (e, _) = engine(config());
    add_node(
        &e,
        node(
            "cordoned",
            "16",
            "16Gi",
            json!({"spec": {"unschedulable": true}}),
        ),
    );
    add_node(&e, node("open", "1", "1Gi", json!({})));
    for i in 0..3 {
        create_pod(&e, pod(&format!("p{i}"), "100m", json!({})));
    }
    for i in 0..3 {
        assert_eq!(wait_bound(&e, &format!("p{i}")), "open");
    }
}

fn spread_pod(name: &str, key: &str, when: &str) -> steady::api::Pod {
    pod(
        name,
        "100m",
        json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"topologySpreadConstraints": [{
                "maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": when,
                "labelSelector": {"matchLabels": {"app": "web"}}
            }]}
        }),
    )
}

#[test]
fn zone_spread_keeps_zones_within_max_skew() {
    let (e, _) = engine(config());
    // Zone a has far more room: without the constraint LeastAllocated would fill it first.
    for (name, zone, cpu) in [("a1", "a", "16"), ("a2", "a", "16"), ("b1", "b", "2")] {
        add_node(
            &e,
            node(
                name,
                cpu,
                "16Gi",
                json!({"metadata": {"labels": {"topology.kubernetes.io/zone": zone}}}),
            ),
        );
    }
    let mut per_zone: HashMap<&str, usize> = HashMap::new();
    for i in 0..6 {
        let name = format!("w{i}");
        create_pod(
            &e,
            spread_pod(&name, "topology.kubernetes.io/zone", "DoNotSchedule"),
        );
        let n = wait_bound(&e, &name);
        *per_zone
            .entry(if n.starts_with('a') { "a" } else { "b" })
            .or_default() += 1;
        let (a, b) = (
            per_zone.get("a").copied().unwrap_or(0),
            per_zone.get("b").copied().unwrap_or(0),
        );
        assert!(a.abs_diff(b) <= 1, "skew after {name}: a={a} b={b}");
    }
    assert_eq!(per_zone["a"], 3);
    assert_eq!(per_zone["b"], 3);
}

#[test]
fn hostname_spread_refuses_a_pod_that_would_skew_and_says_why() {
    let (e, _) = engine(config());
    add_node(&e, node("n1", "4", "4Gi", json!({})));
    add_node(
        &e,
        node("n2", "4", "4Gi", json!({"spec": {"unschedulable": true}})),
    );
    create_pod(
        &e,
        spread_pod("w0", "kubernetes.io/hostname", "DoNotSchedule"),
    );
    assert_eq!(wait_bound(&e, "w0"), "n1");
    // n2 is a domain with 0 pods (cordoned, but nodeTaintsPolicy is Ignore): n1 would reach
    // skew 2.
    create_pod(
        &e,
        spread_pod("w1", "kubernetes.io/hostname", "DoNotSchedule"),
    );
    wait_unschedulable(
        &e,
        "w1",
        "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, \
         1 node(s) were unschedulable. preemption: 0/2 nodes are available: \
         1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.",
    );
}

#[test]
fn schedule_anyway_spread_prefers_emptier_nodes() {
    let (e, _) = engine(config().scoring_strategy(ScoringStrategy::MostAllocated));
    for n in ["n1", "n2", "n3"] {
        add_node(&e, node(n, "8", "8Gi", json!({})));
    }
    // Bin packing alone would stack them; the soft spread (weight 2) outweighs it.
    let mut nodes = Vec::new();
    for i in 0..3 {
        let name = format!("w{i}");
        create_pod(
            &e,
            spread_pod(&name, "kubernetes.io/hostname", "ScheduleAnyway"),
        );
        nodes.push(wait_bound(&e, &name));
    }
    nodes.sort();
    assert_eq!(nodes, ["n1", "n2", "n3"]);
}

#[test]
fn least_allocated_spreads_and_most_allocated_packs() {
    for (strategy, want_nodes) in [
        (ScoringStrategy::LeastAllocated, 4),
        (ScoringStrategy::MostAllocated, 1),
    ] {
        let (e, _) = engine(config().scoring_strategy(strategy));
        for i in 0..4 {
            add_node(&e, node(&format!("n{i}"), "4", "4Gi", json!({})));
        }
        let mut used = std::collections::HashSet::new();
        for i in 0..4 {
            let name = format!("p{i}");
            create_pod(&e, pod(&name, "500m", json!({})));
            used.insert(wait_bound(&e, &name));
        }
        assert_eq!(used.len(), want_nodes, "{strategy:?}: {used:?}");
    }
}
