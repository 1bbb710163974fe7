//! PodDisruptionBudgets (policy/v1) through the engine: the disruption controller's status
//! (expected, desired and current healthy pods, disruptions allowed, the DisruptionAllowed
//! condition, disrupted pods timing out on the manual clock), the eviction path that honours
//! it (refusals in Kubernetes' words, unhealthy pods, terminal and pending pods, several
//! budgets, many threads racing for one disruption), admission errors naming the field, and
//! draining a node blocked by a budget until a replacement is ready.

mod common;

use common::eventually;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use steady::api::{Pod, PodDisruptionBudget};
use steady::clock::{Clock, ManualClock};
use steady::engine::DrainOptions;
use steady::store::DeleteParams;
use steady::{Engine, Error};

fn engine(nodes: usize) -> (Engine, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::default());
    let e = common::simulated_nodes(&clock, nodes);
    (e, clock)
}

fn deployment(e: &Engine, name: &str, replicas: i32) {
    e.apply(
        &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "main", "image": "sim"}]}}}})
        .to_string(),
    )
    .expect("deployment applies");
}

fn budget(e: &Engine, name: &str, app: &str, spec: serde_json::Value) {
    let mut s = spec;
    s["selector"] = json!({"matchLabels": {"app": app}});
    e.apply(
        &json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name}, "spec": s})
        .to_string(),
    )
    .expect("budget applies");
}

fn pdb(e: &Engine, name: &str) -> Arc<PodDisruptionBudget> {
    e.api::<PodDisruptionBudget>().get(name).unwrap()
}

fn allowed(e: &Engine, name: &str) -> i32 {
    pdb(e, name)
        .status
        .as_ref()
        .map_or(-1, |s| s.disruptions_allowed)
}

fn ready(p: &Pod) -> bool {
    p.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// The live (not deleting) pods of `app`, by name.
fn pods_of(e: &Engine, app: &str) -> Vec<Arc<Pod>> {
    let mut v: Vec<_> = e
        .api::<Pod>()
        .list(&Default::default())
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.labels.get("app").map(String::as_str) == Some(app))
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    v.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    v
}

fn ready_pods(e: &Engine, app: &str, n: usize) {
    eventually(20, &format!("{n} ready pods of {app}"), || {
        let p = pods_of(e, app);
        p.len() == n && p.iter().all(|p| ready(p))
    });
}

#[test]
fn the_status_follows_the_pods_as_kubernetes_computes_it() {
    let (e, _clock) = engine(1);
    deployment(&e, "web", 3);
    ready_pods(&e, "web", 3);
    budget(&e, "web", "web", json!({"minAvailable": 2}));
    eventually(20, "status computed", || allowed(&e, "web") == 1);
    let s = pdb(&e, "web").status.clone().unwrap();
    assert_eq!(
        (s.expected_pods, s.desired_healthy, s.current_healthy),
        (3, 2, 3)
    );
    assert_eq!(s.observed_generation, pdb(&e, "web").metadata.generation);
    let c = &s.conditions[0];
    assert_eq!(
        (c.type_.as_str(), c.status.as_str(), c.reason.as_deref()),
        ("DisruptionAllowed", "True", Some("SufficientPods"))
    );

    // A percentage of maxUnavailable applies to the Deployment's scale, rounded up.
    budget(&e, "web", "web", json!({"maxUnavailable": "50%"}));
    eventually(20, "maxUnavailable applied", || {
        let s = pdb(&e, "web").status.clone().unwrap();
        s.desired_healthy == 1 && s.disruptions_allowed == 2 && s.expected_pods == 3
    });

    // minAvailable 100%: nothing may go; the condition says why.
    budget(&e, "web", "web", json!({"minAvailable": "100%"}));
    eventually(20, "no disruption allowed", || {
        let s = pdb(&e, "web").status.clone().unwrap();
        s.disruptions_allowed == 0
            && s.conditions[0].status == "False"
            && s.conditions[0].reason.as_deref() == Some("InsufficientPods")
    });

    // No pods: nothing expected, nothing allowed.
    budget(&e, "none", "nothing", json!({"maxUnavailable": 1}));
    eventually(20, "an empty budget", || {
        pdb(&e, "none")
            .status
            .as_ref()
            .is_some_and(|s| s.expected_pods == 0 && s.disruptions_allowed == 0)
    });
}

/// A bare pod `name` of `app` on sim-0 (no controller replaces it).
fn bare_pod(e: &Engine, name: &str, app: &str) {
    e.apply(
        &json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"nodeName": "sim-0", "containers": [{"name": "main", "image": "sim"}]}})
        .to_string(),
    )
    .expect("pod applies");
}

#[test]
fn evictions_charge_the_budget_and_are_refused_in_kubernetes_words() {
    let (e, _clock) = engine(1);
    for n in ["a", "b", "c"] {
        bare_pod(&e, n, "solo");
    }
    ready_pods(&e, "solo", 3);
    budget(&e, "solo", "solo", json!({"minAvailable": 2}));
    eventually(20, "one disruption allowed", || allowed(&e, "solo") == 1);

    e.api::<Pod>()
        .evict("a", &DeleteParams::default())
        .expect("the first eviction is allowed");
    let s = pdb(&e, "solo").status.clone().unwrap();
    assert_eq!(s.disruptions_allowed, 0, "charged in the same write");
    assert!(s.disrupted_pods.contains_key("a") || s.current_healthy == 2);
    assert_eq!(s.conditions[0].reason.as_deref(), Some("InsufficientPods"));
    eventually(20, "the evicted pod gone and counted", || {
        e.api::<Pod>().get_opt("a").unwrap().is_none()
            && pdb(&e, "solo").status.as_ref().unwrap().current_healthy == 2
    });

    let err = e
        .api::<Pod>()
        .evict("b", &DeleteParams::default())
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Pod \"default/b\": unavailable: Cannot evict pod as it would violate the \
         pod's disruption budget. The disruption budget solo needs 2 healthy pods and has 2 \
         currently"
    );
    assert!(e
        .api::<Pod>()
        .get("b")
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_none());

    // A replacement comes up: the budget allows one again.
    bare_pod(&e, "d", "solo");
    eventually(20, "allowed again", || allowed(&e, "solo") == 1);
    e.api::<Pod>()
        .evict("b", &DeleteParams::default())
        .expect("allowed once the replacement is ready");
}

#[test]
fn many_threads_racing_for_one_disruption_get_exactly_one() {
    let (e, _clock) = engine(1);
    // Bare pods: no replacement can make the budget allow more while the threads race.
    for i in 0..8 {
        bare_pod(&e, &format!("p{i}"), "web");
    }
    ready_pods(&e, "web", 8);
    budget(&e, "web", "web", json!({"minAvailable": 6}));
    eventually(20, "two disruptions allowed", || allowed(&e, "web") == 2);
    let e = Arc::new(e);
    let names: Vec<String> = pods_of(&e, "web")
        .iter()
        .map(|p| p.metadata.name.clone())
        .collect();
    let barrier = Arc::new(std::sync::Barrier::new(names.len()));
    let handles: Vec<_> = names
        .into_iter()
        .map(|n| {
            let (e, barrier) = (e.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                e.api::<Pod>().evict(&n, &DeleteParams::default())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(Error::Unavailable { .. })))
        .count();
    assert_eq!((ok, refused), (2, 6), "{results:?}");
    assert_eq!(pods_of(&e, "web").len(), 6, "exactly the two allowed went");
}

#[test]
fn unhealthy_terminal_and_pending_pods_and_several_budgets() {
    let (e, _clock) = engine(1);
    // Bare pods on no node stay Pending: evicted without asking the budget.
    e.apply(
        &json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "pending", "labels": {"app": "solo"}},
            "spec": {"nodeSelector": {"nowhere": "true"},
                     "containers": [{"name": "main", "image": "sim"}]}})
        .to_string(),
    )
    .unwrap();
    budget(&e, "solo", "solo", json!({"minAvailable": 5}));
    e.api::<Pod>()
        .evict("pending", &DeleteParams::default())
        .expect("a pending pod is evicted regardless of its budget");

    // A running pod that is not ready: refused by default (the budget is short of healthy
    // pods), allowed with AlwaysAllow.
    deployment(&e, "web", 2);
    ready_pods(&e, "web", 2);
    budget(&e, "web", "web", json!({"minAvailable": 2}));
    eventually(20, "status", || allowed(&e, "web") == 0);
    let victim = pods_of(&e, "web")[0].metadata.name.clone();
    let mut p = (*e.api::<Pod>().get(&victim).unwrap()).clone();
    for c in &mut p.status.as_mut().unwrap().conditions {
        if c.type_ == "Ready" {
            c.status = "False".into();
        }
    }
    p.metadata.resource_version = None;
    e.api::<Pod>().update_status(&p).unwrap();
    eventually(20, "one healthy", || {
        pdb(&e, "web").status.as_ref().unwrap().current_healthy == 1
    });
    let err = e
        .api::<Pod>()
        .evict(&victim, &DeleteParams::default())
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err}");
    budget(
        &e,
        "web",
        "web",
        json!({"minAvailable": 2, "unhealthyPodEvictionPolicy": "AlwaysAllow"}),
    );
    e.api::<Pod>()
        .evict(&victim, &DeleteParams::default())
        .expect("AlwaysAllow lets an unready pod go");
    assert_eq!(
        pdb(&e, "web").status.as_ref().unwrap().disruptions_allowed,
        0,
        "an unready pod uses up nothing"
    );

    // Two budgets select the pod: Kubernetes refuses.
    ready_pods(&e, "web", 2);
    budget(&e, "web-too", "web", json!({"maxUnavailable": 1}));
    let name = pods_of(&e, "web")[0].metadata.name.clone();
    let err = e
        .api::<Pod>()
        .evict(&name, &DeleteParams::default())
        .unwrap_err();
    assert!(matches!(err, Error::Denied { .. }), "{err}");
    assert!(err.to_string().ends_with(
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    ));
}

#[test]
fn a_disrupted_pod_that_is_not_deleted_counts_again_after_the_timeout() {
    let (e, clock) = engine(1);
    deployment(&e, "web", 2);
    ready_pods(&e, "web", 2);
    budget(&e, "web", "web", json!({"maxUnavailable": 1}));
    eventually(20, "status", || allowed(&e, "web") == 1);
    // As if an eviction was allowed but its pod never went.
    let name = pods_of(&e, "web")[0].metadata.name.clone();
    let mut b = (*pdb(&e, "web")).clone();
    let st = b.status.as_mut().unwrap();
    st.disrupted_pods.insert(name.clone(), clock.now());
    st.disruptions_allowed = 0;
    e.api::<PodDisruptionBudget>().update_status(&b).unwrap();
    // Any change of a selected pod brings the controller back.
    e.api::<Pod>()
        .patch(&name, &json!({"metadata": {"annotations": {"poke": "1"}}}))
        .unwrap();
    eventually(20, "the disrupted pod is not healthy", || {
        let s = pdb(&e, "web").status.clone().unwrap();
        s.current_healthy == 1 && s.disruptions_allowed == 0 && s.disrupted_pods.len() == 1
    });
    clock.advance(Duration::from_secs(121));
    eventually(20, "healthy again after the deletion timeout", || {
        let s = pdb(&e, "web").status.clone().unwrap();
        s.current_healthy == 2 && s.disruptions_allowed == 1 && s.disrupted_pods.is_empty()
    });
}

#[test]
fn bad_budgets_are_refused_naming_the_object_and_field() {
    let (e, _clock) = engine(0);
    let err = e
        .apply(
            "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: both}\n\
             spec: {minAvailable: 1, maxUnavailable: \"10%\", selector: {matchLabels: {a: b}}}\n",
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("PodDisruptionBudget \"default/both\""),
        "{msg}"
    );
    assert!(
        msg.contains("spec: Invalid value: minAvailable and maxUnavailable cannot be both set"),
        "{msg}"
    );
    let err = e
        .apply(
            "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: pct}\n\
             spec: {maxUnavailable: \"ten%\"}\n",
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("spec.maxUnavailable: Invalid value: \"ten%\""),
        "{err}"
    );
}

#[test]
fn a_drain_blocked_by_a_budget_proceeds_when_a_replacement_is_ready() {
    let (e, clock) = engine(2);
    let e = Arc::new(e);
    deployment(&e, "web", 2);
    ready_pods(&e, "web", 2);
    // Both pods on sim-0, so draining it needs a replacement elsewhere first.
    let on = |node: &str| {
        pods_of(&e, "web")
            .iter()
            .filter(|p| p.spec.node_name.as_deref() == Some(node))
            .count()
    };
    let target = if on("sim-0") >= on("sim-1") {
        "sim-0"
    } else {
        "sim-1"
    };
    let other = if target == "sim-0" { "sim-1" } else { "sim-0" };
    let on_target = on(target);
    budget(&e, "web", "web", json!({"minAvailable": 2}));
    eventually(20, "nothing allowed", || {
        pdb(&e, "web")
            .status
            .as_ref()
            .is_some_and(|s| s.current_healthy == 2)
    });
    let drain = {
        let e = e.clone();
        let target = target.to_string();
        std::thread::spawn(move || {
            e.drain(
                &target,
                &DrainOptions {
                    timeout: Duration::from_secs(600),
                    ..Default::default()
                },
            )
        })
    };
    eventually(20, "cordoned", || {
        e.api::<steady::api::Node>()
            .get(target)
            .unwrap()
            .spec
            .unschedulable
            == Some(true)
    });
    // Blocked: the budget allows nothing, so nothing is evicted, whatever the time.
    clock.advance(Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(on(target) + on(other), 2);
    assert!(!drain.is_finished());

    // A third replica (on the other node, the target is cordoned) becomes ready: one
    // disruption is allowed, then the next once the evicted pod's replacement is ready.
    deployment(&e, "web", 3);
    let report = drain.join().unwrap().expect("drain runs");
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.evicted.len(), on_target);
    assert!(report.skipped.is_empty() && report.failed.is_empty());
    assert_eq!(on(target), 0);
    eventually(20, "all pods on the other node", || on(other) == 3);
    e.uncordon(target).unwrap();
    assert_eq!(
        e.api::<steady::api::Node>()
            .get(target)
            .unwrap()
            .spec
            .unschedulable,
        None
    );
}

#[test]
fn a_pod_relabelled_out_of_a_budget_stops_counting() {
    let (e, _clock) = engine(1);
    for n in ["a", "b"] {
        bare_pod(&e, n, "solo");
    }
    ready_pods(&e, "solo", 2);
    budget(&e, "solo", "solo", json!({"minAvailable": 1}));
    eventually(20, "both counted", || allowed(&e, "solo") == 1);
    e.api::<Pod>()
        .patch("b", &json!({"metadata": {"labels": {"app": "elsewhere"}}}))
        .unwrap();
    eventually(20, "only a counted", || {
        let s = pdb(&e, "solo").status.clone().unwrap();
        s.expected_pods == 1 && s.current_healthy == 1 && s.disruptions_allowed == 0
    });
}

#[test]
fn an_unready_pod_goes_by_default_while_the_budget_has_its_healthy_pods() {
    let (e, _clock) = engine(1);
    for n in ["a", "b", "c"] {
        bare_pod(&e, n, "solo");
    }
    ready_pods(&e, "solo", 3);
    budget(&e, "solo", "solo", json!({"minAvailable": 2}));
    eventually(20, "one allowed", || allowed(&e, "solo") == 1);
    // c stops being ready: 2 healthy, as desired, none allowed.
    let mut p = (*e.api::<Pod>().get("c").unwrap()).clone();
    for c in &mut p.status.as_mut().unwrap().conditions {
        if c.type_ == "Ready" {
            c.status = "False".into();
        }
    }
    p.metadata.resource_version = None;
    e.api::<Pod>().update_status(&p).unwrap();
    eventually(20, "two healthy, none allowed", || {
        let s = pdb(&e, "solo").status.clone().unwrap();
        s.current_healthy == 2 && s.disruptions_allowed == 0
    });
    // IfHealthyBudget (the default): the unready pod goes without using the budget; a
    // ready one does not.
    let err = e
        .api::<Pod>()
        .evict("a", &DeleteParams::default())
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err}");
    e.api::<Pod>()
        .evict("c", &DeleteParams::default())
        .expect("an unready pod goes while the budget is healthy");
    let s = pdb(&e, "solo").status.clone().unwrap();
    assert!(s.disrupted_pods.is_empty(), "nothing charged: {s:?}");
}
