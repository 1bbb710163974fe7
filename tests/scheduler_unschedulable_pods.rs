//! Pods no node fits: the reason they get, the events, the backoff, and scheduling once the
//! cluster changes. Time only moves by the manual clock.

mod scheduler_support;

use scheduler_support::*;
use serde_json::json;
use std::time::Duration;
use steady::api::Pod;
use steady::client::events::events_for;
use steady::scheduler::SchedulerConfig;

/// The NoSchedule half of what the node lifecycle controller puts on an unreachable node
/// (every pod tolerates the NoExecute half for a while: DefaultTolerationSeconds).
fn unreachable_taint() -> serde_json::Value {
    json!({"spec": {"taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}]}})
}

#[test]
fn an_unschedulable_pod_gets_kube_schedulers_message_and_runs_once_a_node_fits() {
    let (e, clock) = engine(SchedulerConfig::default());
    add_node(&e, node("small-1", "1", "1Gi", json!({})));
    add_node(&e, node("small-2", "1", "1Gi", json!({})));
    add_node(&e, node("gone", "8", "8Gi", unreachable_taint()));
    create_pod(&e, pod("web", "2", json!({})));
    let message = "0/3 nodes are available: 1 node(s) had untolerated taint \
                   {node.kubernetes.io/unreachable: }, 2 Insufficient cpu. preemption: 0/3 nodes \
                   are available: 1 Preemption is not helpful for scheduling, \
                   2 No preemption victims found for incoming pod.";
    wait_unschedulable(&e, "web", message);
    let cond = scheduled_condition(&e, "web").unwrap();
    assert!(cond.last_transition_time.is_some());
    let pod = e.api::<Pod>().get("web").unwrap();
    eventually("a FailedScheduling event", || {
        events_for(e.store(), &*pod).unwrap().iter().any(|ev| {
            ev.reason.as_deref() == Some("FailedScheduling")
                && ev.type_.as_deref() == Some("Warning")
                && ev.message.as_deref() == Some(message)
                && ev.source.as_ref().and_then(|s| s.component.as_deref())
                    == Some("default-scheduler")
        })
    });

    // A node that fits arrives; the pod waits out the rest of its first backoff (1 s).
    add_node(&e, node("big", "4", "4Gi", json!({})));
    barrier(&e);
    assert_eq!(node_of(&e, "web"), None, "still backing off");
    clock.advance(Duration::from_secs(1));
    assert_eq!(wait_bound(&e, "web"), "big");
    eventually("PodScheduled=True", || {
        scheduled_condition(&e, "web").is_some_and(|c| c.status == "True")
    });
    eventually("a Scheduled event", || {
        events_for(e.store(), &*pod).unwrap().iter().any(|ev| {
            ev.reason.as_deref() == Some("Scheduled")
                && ev.type_.as_deref() == Some("Normal")
                && ev.message.as_deref() == Some("Successfully assigned default/web to big")
        })
    });
}

#[test]
fn with_no_nodes_at_all_the_pod_says_so() {
    let (e, _) = engine(SchedulerConfig::default());
    create_pod(&e, pod("lonely", "100m", json!({})));
    wait_unschedulable(&e, "lonely", "no nodes available to schedule pods");
}

#[test]
fn a_pod_asking_more_than_any_node_has_stays_pending_naming_each_resource() {
    let (e, _) = engine(SchedulerConfig::default());
    add_node(&e, node("a", "1", "1Gi", json!({})));
    add_node(
        &e,
        node(
            "b",
            "2",
            "1Gi",
            json!({"status": {"allocatable": {"pods": "0"}}}),
        ),
    );
    create_pod(
        &e,
        pod(
            "huge",
            "4",
            json!({"spec": {"containers": [{"name": "c", "image": "x",
            "resources": {"requests": {"cpu": "4", "memory": "2Gi", "example.com/gpu": "1"}}}]}}),
        ),
    );
    wait_unschedulable(
        &e,
        "huge",
        "0/2 nodes are available: 1 Too many pods, 2 Insufficient cpu, \
         2 Insufficient example.com/gpu, 2 Insufficient memory. \
         preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
    );
}

#[test]
fn backoff_doubles_per_attempt_on_the_engine_clock() {
    let (e, clock) = engine(SchedulerConfig::default());
    // Attempt 1 fails: no nodes.
    create_pod(&e, pod("web", "2", json!({})));
    wait_unschedulable(&e, "web", "no nodes available to schedule pods");
    // A node that does not fit is added: the pod waits its first backoff (1 s) first.
    add_node(&e, node("small", "1", "1Gi", json!({})));
    clock.advance(Duration::from_millis(999));
    barrier(&e);
    assert_eq!(
        scheduled_condition(&e, "web").unwrap().message.as_deref(),
        Some("no nodes available to schedule pods"),
        "not retried before 1 s"
    );
    clock.advance(Duration::from_millis(1));
    // Attempt 2 fails on the small node.
    wait_unschedulable(
        &e,
        "web",
        "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
    );
    // A fitting node: now the backoff is 2 s from the second attempt.
    add_node(&e, node("big", "4", "4Gi", json!({})));
    clock.advance(Duration::from_millis(1999));
    barrier(&e);
    assert_eq!(node_of(&e, "web"), None, "not retried before 2 s");
    clock.advance(Duration::from_millis(1));
    assert_eq!(wait_bound(&e, "web"), "big");
}

#[test]
fn an_unschedulable_pod_is_retried_after_five_minutes_without_any_change() {
    let (e, clock) = engine(SchedulerConfig::default());
    add_node(&e, node("a", "1", "1Gi", json!({})));
    create_pod(&e, pod("web", "2", json!({})));
    wait_unschedulable(
        &e,
        "web",
        "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
    );
    let pod = e.api::<Pod>().get("web").unwrap();
    let failures = || {
        events_for(e.store(), &*pod)
            .unwrap()
            .iter()
            .find(|ev| ev.reason.as_deref() == Some("FailedScheduling"))
            .and_then(|ev| ev.count)
            .unwrap_or(0)
    };
    eventually("the first FailedScheduling event", || failures() == 1);
    clock.advance(Duration::from_secs(299));
    barrier(&e);
    assert_eq!(failures(), 1, "no retry before 5 minutes");
    clock.advance(Duration::from_secs(1));
    eventually("a second attempt after 5 minutes", || failures() == 2);
}

#[test]
fn a_pod_deleted_elsewhere_frees_room_for_a_waiting_pod() {
    let (e, clock) = engine(SchedulerConfig::default());
    add_node(&e, node("a", "1", "1Gi", json!({})));
    create_pod(&e, pod("first", "800m", json!({})));
    assert_eq!(wait_bound(&e, "first"), "a");
    create_pod(&e, pod("second", "800m", json!({})));
    wait_unschedulable(
        &e,
        "second",
        "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
    );
    // Node "a" has no agent to finish a graceful deletion: delete at once (grace 0), as
    // `kubectl delete --grace-period=0 --force` does.
    let now = steady::store::DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    e.api::<Pod>().delete("first", &now).unwrap();
    clock.advance(Duration::from_secs(1));
    assert_eq!(wait_bound(&e, "second"), "a");
}

#[test]
fn a_finished_pod_no_longer_holds_its_node() {
    let (e, clock) = engine(SchedulerConfig::default());
    add_node(&e, node("a", "1", "1Gi", json!({})));
    create_pod(&e, pod("job", "800m", json!({})));
    assert_eq!(wait_bound(&e, "job"), "a");
    create_pod(&e, pod("next", "800m", json!({})));
    wait_unschedulable(
        &e,
        "next",
        "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
    );
    e.api::<Pod>()
        .patch_status("job", &json!({"status": {"phase": "Succeeded"}}))
        .unwrap();
    clock.advance(Duration::from_secs(1));
    assert_eq!(wait_bound(&e, "next"), "a");
}

#[test]
fn pods_for_other_schedulers_or_being_deleted_are_left_alone() {
    let (e, clock) = engine(SchedulerConfig::default());
    add_node(&e, node("a", "4", "4Gi", json!({})));
    create_pod(
        &e,
        pod(
            "theirs",
            "100m",
            json!({"spec": {"schedulerName": "other-scheduler"}}),
        ),
    );
    create_pod(
        &e,
        pod(
            "ours",
            "100m",
            json!({"spec": {"schedulerName": "default-scheduler"}}),
        ),
    );
    assert_eq!(wait_bound(&e, "ours"), "a");
    barrier(&e);
    assert_eq!(node_of(&e, "theirs"), None);
    assert!(scheduled_condition(&e, "theirs").is_none());

    // A pending pod held by a finalizer is deleted: it is not placed once room appears.
    create_pod(
        &e,
        pod(
            "leaving",
            "8",
            json!({"metadata": {"finalizers": ["example.com/hold"]}}),
        ),
    );
    wait_unschedulable(
        &e,
        "leaving",
        "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
    );
    e.api::<Pod>()
        .delete("leaving", &Default::default())
        .unwrap();
    add_node(&e, node("b", "16", "16Gi", json!({})));
    clock.advance(Duration::from_secs(10));
    barrier(&e);
    assert_eq!(node_of(&e, "leaving"), None);
    // Nothing is left waiting (a deleting pod still queued would keep failing to bind).
    let s = e.scheduler().unwrap();
    eventually("an empty scheduling queue", || {
        s.queue_counts() == Default::default()
    });
}
