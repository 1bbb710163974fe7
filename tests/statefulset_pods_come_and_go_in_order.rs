//! StatefulSet pods appear in ordinal order, each after its predecessor is Running and Ready,
//! and disappear in reverse order one at a time (OrderedReady); Parallel does not wait.
//! Claims are created per pod and kept on scale-down unless the retention policy says Delete.
//! Observed through a watch on simulated nodes under a manual clock.

mod common;

use common::eventually;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use steady::api::{PersistentVolumeClaim, Pod, StatefulSet};
use steady::client::TypedEvent;
use steady::clock::ManualClock;
use steady::store::WatchParams;
use steady::Engine;

/// An engine with one simulated node, on a manual clock that stays put.
fn engine() -> Engine {
    common::one_simulated_node(&Arc::new(ManualClock::default()))
}

/// A StatefulSet `web` of `replicas` pods bound to `node` (there is no scheduler: the
/// template names the node), with a claim template `data`.
fn web(replicas: i32, node: &str, extra: Value) -> String {
    let mut spec = json!({
        "replicas": replicas,
        "serviceName": "web",
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"nodeName": node, "containers": [{"name": "main", "image": "app:1",
                "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}
        },
        "volumeClaimTemplates": [{
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        }]
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"}, "spec": spec})
        .to_string()
}

fn ready(p: &Pod) -> bool {
    p.status.as_ref().is_some_and(|s| {
        s.phase.as_deref() == Some("Running")
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

fn status(e: &Engine) -> steady::api::StatefulSetStatus {
    e.api::<StatefulSet>()
        .namespace("default")
        .get("web")
        .unwrap()
        .status
        .clone()
        .unwrap_or_default()
}

fn claims(e: &Engine) -> Vec<Arc<PersistentVolumeClaim>> {
    e.api::<PersistentVolumeClaim>()
        .namespace("default")
        .list(&Default::default())
        .unwrap()
        .items
}

/// What a watch saw, in order: ("added" | "deleting" | "deleted", pod), and for each
/// creation, whether every lower ordinal was ready at that moment.
struct Seen {
    log: Vec<(String, String)>,
    created_after_ready_predecessors: bool,
    deleting_after_higher_gone: bool,
}

fn observe(
    w: &mut steady::client::TypedWatch<Pod>,
    until: impl Fn(&[(String, String)]) -> bool,
) -> Seen {
    let mut state: HashMap<String, Arc<Pod>> = HashMap::new();
    let mut seen = Seen {
        log: Vec::new(),
        created_after_ready_predecessors: true,
        deleting_after_higher_gone: true,
    };
    let ord = |n: &str| n.rsplit('-').next().unwrap().parse::<i32>().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !until(&seen.log) {
        assert!(
            std::time::Instant::now() < deadline,
            "log so far: {:?}",
            seen.log
        );
        let Some(ev) = w.recv_timeout(Duration::from_millis(50)).unwrap() else {
            continue;
        };
        match ev {
            TypedEvent::Added(p) => {
                let n = p.metadata.name.clone();
                let all_ready = state
                    .values()
                    .filter(|q| ord(&q.metadata.name) < ord(&n))
                    .all(|q| ready(q))
                    && state
                        .values()
                        .filter(|q| ord(&q.metadata.name) < ord(&n))
                        .count()
                        == ord(&n) as usize;
                seen.created_after_ready_predecessors &= all_ready;
                seen.log.push(("added".into(), n.clone()));
                state.insert(n, p);
            }
            TypedEvent::Modified(p) => {
                let n = p.metadata.name.clone();
                let was_deleting = state
                    .get(&n)
                    .is_some_and(|q| q.metadata.deletion_timestamp.is_some());
                if p.metadata.deletion_timestamp.is_some() && !was_deleting {
                    let higher_left = state.keys().any(|q| ord(q) > ord(&n));
                    seen.deleting_after_higher_gone &= !higher_left;
                    seen.log.push(("deleting".into(), n.clone()));
                }
                state.insert(n, p);
            }
            TypedEvent::Deleted(p) => {
                seen.log.push(("deleted".into(), p.metadata.name.clone()));
                state.remove(&p.metadata.name);
            }
            TypedEvent::Bookmark(_) => {}
        }
    }
    seen
}

fn names(log: &[(String, String)], what: &str) -> Vec<String> {
    log.iter()
        .filter(|(k, _)| k == what)
        .map(|(_, n)| n.clone())
        .collect()
}

#[test]
fn ordered_ready_pods_are_created_in_order_and_deleted_in_reverse() {
    let e = engine();
    let pods = e.api::<Pod>().namespace("default");
    let mut w = pods.watch(&WatchParams::default()).unwrap();
    e.apply(&web(3, "sim-0", json!({}))).unwrap();
    let seen = observe(&mut w, |log| names(log, "added").len() == 3);
    assert_eq!(names(&seen.log, "added"), ["web-0", "web-1", "web-2"]);
    assert!(
        seen.created_after_ready_predecessors,
        "a pod was created before its predecessors were all Running and Ready"
    );
    eventually(10, "3 ready replicas", || {
        let s = status(&e);
        s.ready_replicas == Some(3) && s.replicas == 3 && s.available_replicas == Some(3)
    });
    let s = status(&e);
    assert_eq!(s.current_revision, s.update_revision);
    assert_eq!((s.current_replicas, s.updated_replicas), (Some(3), Some(3)));
    assert_eq!(s.observed_generation, Some(1));
    let p0 = pods.get("web-0").unwrap();
    assert_eq!(
        p0.metadata.labels["statefulset.kubernetes.io/pod-name"],
        "web-0"
    );
    assert_eq!(
        p0.metadata.labels["controller-revision-hash"],
        s.update_revision.clone().unwrap()
    );
    assert_eq!(p0.spec.hostname.as_deref(), Some("web-0"));
    let vol = p0.spec.volumes.iter().find(|v| v.name == "data").unwrap();
    assert_eq!(
        vol.persistent_volume_claim.as_ref().unwrap().claim_name,
        "data-web-0"
    );
    eventually(10, "three bound claims", || {
        let c = claims(&e);
        c.len() == 3
            && c.iter().all(|c| {
                c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
                    && c.status.as_ref().unwrap().capacity["storage"].to_string() == "1Gi"
            })
    });

    e.apply(&web(0, "sim-0", json!({}))).unwrap();
    let seen = observe(&mut w, |log| names(log, "deleted").len() == 3);
    assert_eq!(names(&seen.log, "deleted"), ["web-2", "web-1", "web-0"]);
    assert_eq!(names(&seen.log, "deleting"), ["web-2", "web-1", "web-0"]);
    assert!(
        seen.deleting_after_higher_gone,
        "a pod began terminating while a higher ordinal still existed: {:?}",
        seen.log
    );
    // Retain (the default): the claims stay, with no owner.
    let c = claims(&e);
    let mut kept: Vec<_> = c.iter().map(|c| c.metadata.name.clone()).collect();
    kept.sort();
    assert_eq!(kept, ["data-web-0", "data-web-1", "data-web-2"]);
    assert!(c.iter().all(|c| c.metadata.owner_references.is_empty()));
}

#[test]
fn ordered_ready_waits_for_a_pod_that_never_runs_but_parallel_does_not() {
    // No node named "nowhere": the pods stay Pending.
    let e = engine();
    e.apply(&web(3, "nowhere", json!({}))).unwrap();
    let pods = e.api::<Pod>().namespace("default");
    eventually(10, "web-0 created", || {
        pods.get_opt("web-0").unwrap().is_some()
    });
    eventually(10, "status written", || status(&e).replicas == 1);
    assert!(
        pods.get_opt("web-1").unwrap().is_none(),
        "web-1 must wait for web-0"
    );

    let e = engine();
    e.apply(&web(
        3,
        "nowhere",
        json!({"podManagementPolicy": "Parallel"}),
    ))
    .unwrap();
    let pods = e.api::<Pod>().namespace("default");
    eventually(10, "all three created at once", || {
        ["web-0", "web-1", "web-2"]
            .iter()
            .all(|n| pods.get_opt(n).unwrap().is_some())
    });
}

#[test]
fn when_scaled_delete_removes_the_claims_of_removed_pods_only() {
    let e = engine();
    let policy = json!({"persistentVolumeClaimRetentionPolicy": {"whenScaled": "Delete"}});
    e.apply(&web(2, "sim-0", policy.clone())).unwrap();
    eventually(10, "2 ready", || status(&e).ready_replicas == Some(2));
    e.apply(&web(1, "sim-0", policy)).unwrap();
    eventually(10, "the claim of web-1 is collected", || {
        let c = claims(&e);
        c.len() == 1 && c[0].metadata.name == "data-web-0"
    });
    assert!(claims(&e)[0].metadata.owner_references.is_empty());
}

#[test]
fn when_deleted_delete_makes_the_set_own_its_claims() {
    let e = engine();
    let policy = json!({"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"}});
    e.apply(&web(1, "sim-0", policy)).unwrap();
    eventually(10, "1 ready", || status(&e).ready_replicas == Some(1));
    let set = e
        .api::<StatefulSet>()
        .namespace("default")
        .get("web")
        .unwrap();
    let c = claims(&e);
    assert_eq!(c.len(), 1);
    assert_eq!(
        c[0].metadata.owner_references[0].uid,
        set.metadata.uid.clone().unwrap()
    );
    e.api::<StatefulSet>()
        .namespace("default")
        .delete("web", &Default::default())
        .unwrap();
    eventually(10, "the claim is collected with the set", || {
        claims(&e).is_empty()
    });
}
