//! During a rolling update, observed through a pod watch at every revision, the number of pods
//! never exceeds `replicas + maxSurge` and available pods never drop below
//! `replicas - maxUnavailable`; Recreate stops every old pod before starting a new one.

mod common;

use common::eventually;
use common::kubelet::{engine_with, FakeKubelet};
use common::workloads::{deployment, one_container, rollout_complete};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use steady::api::conditions::find_condition;
use steady::api::{Deployment, Pod, ReplicaSet};
use steady::client::TypedEvent;
use steady::controllers::deployment::REVISION_ANNOTATION;
use steady::controllers::hash::POD_TEMPLATE_HASH_LABEL;
use steady::controllers::pod_util::{is_active, is_ready};
use steady::store::{ListParams, WatchParams};
use steady::Engine;

fn manifest(name: &str, replicas: i32, strategy: &str, image: &str) -> String {
    let strategy = format!(
        "  strategy: {strategy}
"
    );
    deployment(name, Some(replicas), &strategy, &one_container(image))
}

/// Follows the pods from `since` until the rollout of `name` completes, calling `check` with
/// the pods as they stand after every event; returns how many events were seen.
fn follow_rollout(
    e: &Engine,
    name: &str,
    since: u64,
    mut pods: HashMap<String, Arc<Pod>>,
    mut check: impl FnMut(&HashMap<String, Arc<Pod>>),
) -> usize {
    let mut watch = e
        .api::<Pod>()
        .watch(&WatchParams {
            since: Some(since),
            ..Default::default()
        })
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut events = 0;
    loop {
        assert!(
            Instant::now() < deadline,
            "the rollout did not complete: {:?}",
            pods.values()
                .map(|p| (
                    p.metadata.name.clone(),
                    p.metadata.deletion_timestamp.is_some(),
                    p.spec.node_name.clone(),
                    p.status.as_ref().and_then(|s| s.phase.clone())
                ))
                .collect::<Vec<_>>()
        );
        match watch.recv_timeout(Duration::from_millis(20)).unwrap() {
            Some(TypedEvent::Added(p)) | Some(TypedEvent::Modified(p)) => {
                pods.insert(p.metadata.name.clone(), p);
            }
            Some(TypedEvent::Deleted(p)) => {
                pods.remove(&p.metadata.name);
            }
            Some(TypedEvent::Bookmark(_)) => continue,
            None => {
                if rollout_complete(e, name) {
                    return events;
                }
                continue;
            }
        }
        events += 1;
        check(&pods);
    }
}

fn current_pods(e: &Engine) -> (HashMap<String, Arc<Pod>>, u64) {
    let list = e.api::<Pod>().list(&ListParams::default()).unwrap();
    let pods = list
        .items
        .into_iter()
        .map(|p| (p.metadata.name.clone(), p))
        .collect();
    (pods, list.revision)
}

fn hash_of(p: &Pod) -> String {
    p.metadata
        .labels
        .get(POD_TEMPLATE_HASH_LABEL)
        .cloned()
        .unwrap_or_default()
}

/// Rolls `name` from one image to another and checks the bounds at every event.
fn roll_and_check(replicas: i32, strategy: &str, surge: usize, unavailable: usize) {
    let kubelet = FakeKubelet::with_nodes(3);
    let (e, _clock) = engine_with(&kubelet);
    e.apply(&manifest("web", replicas, strategy, "nginx:1.25"))
        .unwrap();
    eventually(20, "the first rollout", || rollout_complete(&e, "web"));
    let (pods, rev) = current_pods(&e);
    let old_hash = hash_of(pods.values().next().unwrap());
    assert_eq!(pods.len(), replicas as usize);

    e.apply(&manifest("web", replicas, strategy, "nginx:1.26"))
        .unwrap();
    let n = replicas as usize;
    let (mut max_seen, mut min_available) = (0, usize::MAX);
    let events = follow_rollout(&e, "web", rev, pods, |pods| {
        let live: Vec<&Arc<Pod>> = pods.values().filter(|p| is_active(p)).collect();
        let available = live.iter().filter(|p| is_ready(p)).count();
        max_seen = max_seen.max(live.len());
        min_available = min_available.min(available);
        assert!(
            live.len() <= n + surge,
            "{} pods > replicas {n} + maxSurge {surge}",
            live.len()
        );
        assert!(
            available + unavailable >= n,
            "{available} available < replicas {n} - maxUnavailable {unavailable}"
        );
    });
    assert!(
        events > 3 * n,
        "the whole rollout was observed ({events} events)"
    );
    // The bounds were used, not trivially kept by going slowly.
    if surge > 0 {
        assert_eq!(max_seen, n + surge, "the surge was used");
    } else {
        assert_eq!(
            min_available,
            n - unavailable,
            "the unavailability budget was used"
        );
    }

    let (pods, _) = current_pods(&e);
    assert_eq!(pods.len(), n);
    let new_hash = hash_of(pods.values().next().unwrap());
    assert_ne!(new_hash, old_hash);
    assert!(pods.values().all(|p| hash_of(p) == new_hash));
    assert!(pods
        .values()
        .all(|p| p.spec.containers[0].image.as_deref() == Some("nginx:1.26")));
    let d = e.api::<Deployment>().get("web").unwrap();
    assert_eq!(
        d.metadata
            .annotations
            .get(REVISION_ANNOTATION)
            .map(String::as_str),
        Some("2")
    );
    let rss = e
        .api::<ReplicaSet>()
        .list(&ListParams::default())
        .unwrap()
        .items;
    assert_eq!(rss.len(), 2, "the old ReplicaSet is kept for rollback");
    for rs in rss {
        let hash = rs
            .metadata
            .labels
            .get(POD_TEMPLATE_HASH_LABEL)
            .unwrap()
            .clone();
        assert_eq!(rs.metadata.name, format!("web-{hash}"));
        assert_eq!(
            rs.spec.selector.match_labels.get(POD_TEMPLATE_HASH_LABEL),
            Some(&hash)
        );
        let (want_replicas, want_revision) = if hash == new_hash {
            (replicas, "2")
        } else {
            (0, "1")
        };
        assert_eq!(rs.spec.replicas, Some(want_replicas));
        assert_eq!(
            rs.metadata
                .annotations
                .get(REVISION_ANNOTATION)
                .map(String::as_str),
            Some(want_revision)
        );
    }
    let st = d.status.as_ref().unwrap();
    assert_eq!(st.unavailable_replicas, Some(0));
    assert!(find_condition(&st.conditions, "Available").is_some_and(|c| c.status == "True"));
}

#[test]
fn rolling_update_with_counts_stays_within_max_surge_and_max_unavailable() {
    roll_and_check(
        10,
        "{type: RollingUpdate, rollingUpdate: {maxSurge: 3, maxUnavailable: 2}}",
        3,
        2,
    );
}

#[test]
fn rolling_update_with_default_percentages_rounds_surge_up_and_unavailable_down() {
    // 25% of 6: surge ceil(1.5) = 2, unavailable floor(1.5) = 1.
    roll_and_check(6, "{type: RollingUpdate}", 2, 1);
}

#[test]
fn rolling_update_without_surge_replaces_pods_one_unavailable_at_a_time() {
    roll_and_check(
        4,
        "{type: RollingUpdate, rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}",
        0,
        1,
    );
}

#[test]
fn recreate_stops_every_old_pod_before_starting_a_new_one() {
    let kubelet = FakeKubelet::new();
    let (e, _clock) = engine_with(&kubelet);
    e.apply(&manifest("batch", 3, "{type: Recreate}", "worker:1"))
        .unwrap();
    eventually(20, "the first rollout", || rollout_complete(&e, "batch"));
    let (pods, rev) = current_pods(&e);
    let old_hash = hash_of(pods.values().next().unwrap());
    e.apply(&manifest("batch", 3, "{type: Recreate}", "worker:2"))
        .unwrap();
    let mut emptied = false;
    follow_rollout(&e, "batch", rev, pods, |pods| {
        let old = pods.values().filter(|p| hash_of(p) == old_hash).count();
        let new = pods.len() - old;
        assert!(
            old == 0 || new == 0,
            "{old} old and {new} new pods at the same time"
        );
        emptied |= pods.is_empty();
    });
    assert!(emptied, "every old pod was gone before the first new one");
    let (pods, _) = current_pods(&e);
    assert_eq!(pods.len(), 3);
    assert!(pods.values().all(|p| hash_of(p) != old_hash));
}

#[test]
fn scaling_a_deployment_scales_its_replica_set() {
    let kubelet = FakeKubelet::new();
    let (e, _clock) = engine_with(&kubelet);
    e.apply(&manifest("web", 2, "{type: RollingUpdate}", "nginx:1.25"))
        .unwrap();
    eventually(20, "2 replicas", || rollout_complete(&e, "web"));
    e.api::<Deployment>()
        .patch("web", &json!({"spec": {"replicas": 5}}))
        .unwrap();
    eventually(20, "5 replicas", || rollout_complete(&e, "web"));
    let rss = e
        .api::<ReplicaSet>()
        .list(&ListParams::default())
        .unwrap()
        .items;
    assert_eq!(rss.len(), 1, "scaling is not a rollout");
    assert_eq!(
        rss[0]
            .metadata
            .annotations
            .get("deployment.kubernetes.io/desired-replicas")
            .map(String::as_str),
        Some("5")
    );
    assert_eq!(
        rss[0]
            .metadata
            .annotations
            .get("deployment.kubernetes.io/max-replicas")
            .map(String::as_str),
        Some("7"),
        "5 + 25% surge rounded up"
    );
    e.api::<Deployment>()
        .patch("web", &json!({"spec": {"replicas": 1}}))
        .unwrap();
    eventually(20, "1 replica", || {
        rollout_complete(&e, "web")
            && e.api::<Pod>()
                .list(&ListParams::default())
                .unwrap()
                .items
                .len()
                == 1
    });
}
