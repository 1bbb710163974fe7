//! The active queue hands out the highest priority first.

mod scheduler_support;

use scheduler_support::*;
use serde_json::json;
use std::time::Duration;
use steady::scheduler::SchedulerConfig;

#[test]
fn when_room_appears_the_highest_priority_pod_gets_it() {
    let (e, clock) = engine(SchedulerConfig::default());
    for (name, priority) in [("low", 0), ("high", 1000), ("mid", 500)] {
        create_pod(&e, pod(name, "800m", with_priority(&e, priority)));
        wait_unschedulable(&e, name, "no nodes available to schedule pods");
    }
    // All three wait in backoff until the same instant, then compete for one slot.
    add_node(&e, node("only", "1", "1Gi", json!({})));
    clock.advance(Duration::from_secs(1));
    assert_eq!(wait_bound(&e, "high"), "only");
    for name in ["mid", "low"] {
        wait_unschedulable(
            &e,
            name,
            "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
        );
    }
    assert_eq!(node_of(&e, "mid"), None);
    assert_eq!(node_of(&e, "low"), None);
}

#[test]
fn equal_priorities_go_in_arrival_order() {
    let (e, clock) = engine(SchedulerConfig::default());
    for name in ["first", "second", "third"] {
        create_pod(&e, pod(name, "800m", json!({})));
        wait_unschedulable(&e, name, "no nodes available to schedule pods");
    }
    add_node(&e, node("only", "1", "1Gi", json!({})));
    clock.advance(Duration::from_secs(1));
    assert_eq!(wait_bound(&e, "first"), "only");
    for name in ["second", "third"] {
        wait_unschedulable(
            &e,
            name,
            "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
        );
    }
}
