//! Preemption (kube-scheduler's DefaultPreemption) through the engine: a pod no node fits
//! evicts the fewest, lowest-priority pods of one node, is nominated to it, and is bound
//! there once its victims are gone; `preemptionPolicy: Never` never evicts. The engine has no
//! node agent: the test finishes the victims' graceful termination itself, as a kubelet
//! would. The clock only moves by hand.

mod scheduler_support;

use scheduler_support::*;
use serde_json::json;
use std::time::Duration;
use steady::api::Pod;
use steady::client::events::events_for;
use steady::scheduler::SchedulerConfig;
use steady::store::DeleteParams;

/// A pod of priority `value` requesting `cpu`, bound to `node` by hand.
fn placed(e: &steady::Engine, name: &str, cpu: &str, value: i32, node: &str) {
    let mut extra = with_priority(e, value);
    extra["spec"]["nodeName"] = node.into();
    create_pod(e, pod(name, cpu, extra));
}

fn deleting(e: &steady::Engine, name: &str) -> bool {
    e.api::<Pod>()
        .get(name)
        .is_ok_and(|p| p.metadata.deletion_timestamp.is_some())
}

/// What the node agent does once a pod it was told to stop has stopped.
fn finish_termination(e: &steady::Engine, name: &str) {
    e.api::<Pod>()
        .delete(
            name,
            &DeleteParams {
                grace_period_seconds: Some(0),
                ..Default::default()
            },
        )
        .expect("removed");
}

#[test]
fn a_high_priority_pod_preempts_exactly_the_lowest_victims_and_waits_for_them() {
    let (e, clock) = engine(SchedulerConfig::default().seed(4));
    add_node(&e, node("n1", "4", "8Gi", json!({})));
    add_node(&e, node("n2", "4", "8Gi", json!({})));
    // n1: two low pods, one mid, one high; n2: two mid pods. Each full.
    placed(&e, "low-a", "1", 10, "n1");
    placed(&e, "low-b", "1", 10, "n1");
    placed(&e, "mid-1", "1", 100, "n1");
    placed(&e, "top", "1", 1000, "n1");
    placed(&e, "mid-2", "2", 100, "n2");
    placed(&e, "mid-3", "2", 100, "n2");
    barrier(&e);

    // Two cpus are needed: on n1 the two low pods are enough (mid-1 and top are reprieved);
    // n2 would cost pods of priority 100.
    create_pod(&e, pod("urgent", "2", with_priority(&e, 2000)));
    eventually("the victims marked and deleted", || {
        deleting(&e, "low-a") && deleting(&e, "low-b")
    });
    for name in ["low-a", "low-b"] {
        let p = e.api::<Pod>().get(name).unwrap();
        let c = p
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "DisruptionTarget"))
            .cloned()
            .expect("a DisruptionTarget condition");
        assert_eq!(c.status, "True");
        assert_eq!(c.reason.as_deref(), Some("PreemptionByScheduler"));
        assert_eq!(
            c.message.as_deref(),
            Some("default-scheduler: preempting to accommodate a higher priority pod")
        );
        eventually("a Preempted event", || {
            events_for(e.store(), &*p)
                .unwrap()
                .iter()
                .any(|ev| ev.reason.as_deref() == Some("Preempted"))
        });
    }
    for name in ["mid-1", "top", "mid-2", "mid-3"] {
        assert!(!deleting(&e, name), "{name} is not a victim");
    }
    eventually("urgent nominated to n1", || {
        e.api::<Pod>()
            .get("urgent")
            .unwrap()
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.clone())
            == Some("n1".to_string())
    });
    wait_unschedulable(&e, "urgent", "0/2 nodes are available: 2 Insufficient cpu.");

    // The victims still terminate: the pod waits, and does not preempt again.
    clock.advance(Duration::from_secs(10));
    barrier(&e);
    assert_eq!(node_of(&e, "urgent"), None);
    assert!(!deleting(&e, "mid-1") && !deleting(&e, "mid-2"));

    // Once they are gone, it goes to its nominated node.
    finish_termination(&e, "low-a");
    finish_termination(&e, "low-b");
    // The scheduler has seen them go (and started the pod's backoff) before the clock
    // moves past that backoff: else it waits for a clock nobody advances any more.
    barrier(&e);
    clock.advance(Duration::from_secs(10));
    assert_eq!(wait_bound(&e, "urgent"), "n1");
    for name in ["mid-1", "top", "mid-2", "mid-3"] {
        assert!(!deleting(&e, name), "{name} survives");
    }
}

#[test]
fn a_pod_with_preemption_policy_never_waits_instead_of_preempting() {
    let (e, _) = engine(SchedulerConfig::default());
    add_node(&e, node("only", "2", "4Gi", json!({})));
    placed(&e, "low", "2", 1, "only");
    priority_class(&e, "polite", 5000, json!({"preemptionPolicy": "Never"}));
    create_pod(
        &e,
        pod(
            "polite",
            "1",
            json!({"spec": {"priorityClassName": "polite"}}),
        ),
    );
    wait_unschedulable(
        &e,
        "polite",
        "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: not eligible due to preemptionPolicy=Never.",
    );
    barrier(&e);
    assert!(!deleting(&e, "low"));
    assert_eq!(node_of(&e, "polite"), None);
}

#[test]
fn pods_of_equal_priority_are_not_preempted() {
    let (e, _) = engine(SchedulerConfig::default());
    add_node(&e, node("only", "2", "4Gi", json!({})));
    placed(&e, "peer", "2", 50, "only");
    create_pod(&e, pod("same", "1", with_priority(&e, 50)));
    wait_unschedulable(
        &e,
        "same",
        "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
    );
    assert!(!deleting(&e, "peer"));
}

#[test]
fn a_disruption_budget_steers_preemption_to_the_pod_it_does_not_protect() {
    let (e, _) = engine(SchedulerConfig::default());
    add_node(&e, node("only", "2", "4Gi", json!({})));
    // Without a budget the lowest-priority pod, "guarded", would be the victim.
    let mut guarded = with_priority(&e, 5);
    guarded["spec"]["nodeName"] = "only".into();
    guarded["metadata"] = json!({"labels": {"app": "guarded"}});
    create_pod(&e, pod("guarded", "1", guarded));
    placed(&e, "free", "1", 10, "only");
    e.apply(
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: guarded}\n\
         spec: {minAvailable: 1, selector: {matchLabels: {app: guarded}}}\n",
    )
    .unwrap();
    // The status the disruption controller would write (this engine runs no controllers).
    let api = e.api::<steady::api::PodDisruptionBudget>();
    let mut b = (*api.get("guarded").unwrap()).clone();
    b.status = Some(steady::api::policy::PodDisruptionBudgetStatus {
        observed_generation: b.metadata.generation,
        current_healthy: 1,
        desired_healthy: 1,
        expected_pods: 1,
        disruptions_allowed: 0,
        ..Default::default()
    });
    api.update_status(&b).unwrap();
    barrier(&e);

    create_pod(&e, pod("urgent", "1", with_priority(&e, 2000)));
    eventually("the unprotected pod is the victim", || deleting(&e, "free"));
    barrier(&e);
    assert!(!deleting(&e, "guarded"), "the budget protects it");
}
