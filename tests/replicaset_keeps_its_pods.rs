//! The ReplicaSet controller keeps `replicas` pods: it replaces lost pods, adopts matching
//! orphans, releases pods whose labels stop matching, and scales down in Kubernetes' order.

mod common;

use common::eventually;
use common::kubelet::{engine_with, FakeKubelet, MODE_ANNOTATION};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use steady::api::{Pod, ReplicaSet};
use steady::controllers::pod_util::{is_ready, POD_DELETION_COST};
use steady::runtime::owner::is_controlled_by;
use steady::store::ListParams;
use steady::Engine;

fn replica_set(name: &str, replicas: i32) -> String {
    format!(
        "apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: main, image: 'busybox:1.36'}}]
"
    )
}

/// Pods controlled by the ReplicaSet `name`.
fn owned(e: &Engine, name: &str) -> Vec<Arc<Pod>> {
    let Some(rs) = e.api::<ReplicaSet>().get_opt(name).unwrap() else {
        return Vec::new();
    };
    let uid = rs.metadata.uid.clone().unwrap();
    e.api::<Pod>()
        .list(&ListParams::default())
        .unwrap()
        .items
        .into_iter()
        .filter(|p| is_controlled_by(&p.metadata, &uid))
        .collect()
}

fn names(pods: &[Arc<Pod>]) -> Vec<String> {
    let mut n: Vec<String> = pods.iter().map(|p| p.metadata.name.clone()).collect();
    n.sort();
    n
}

fn ready_count(e: &Engine, name: &str) -> i32 {
    e.api::<ReplicaSet>()
        .get(name)
        .unwrap()
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

fn orphan(name: &str, app: &str, annotations: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": app}, "annotations": annotations},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}
    }))
    .unwrap()
}

#[test]
fn a_replicaset_keeps_replicas_pods_and_replaces_a_deleted_one() {
    let kubelet = FakeKubelet::new();
    let (e, _clock) = engine_with(&kubelet);
    e.apply(&replica_set("web", 3)).unwrap();
    eventually(10, "3 ready pods", || {
        owned(&e, "web").len() == 3 && ready_count(&e, "web") == 3
    });
    let pods = owned(&e, "web");
    for p in &pods {
        assert!(p.metadata.name.starts_with("web-") && p.metadata.name.len() == 9);
        assert_eq!(
            p.metadata.labels.get("app").map(String::as_str),
            Some("web")
        );
        assert!(is_ready(p));
    }
    let rs = e.api::<ReplicaSet>().get("web").unwrap();
    let st = rs.status.as_ref().unwrap();
    assert_eq!(st.replicas, 3);
    assert_eq!(st.fully_labeled_replicas, Some(3));
    assert_eq!(st.available_replicas, Some(3));
    assert_eq!(st.observed_generation, rs.metadata.generation);

    let victim = pods[0].metadata.name.clone();
    e.api::<Pod>().delete(&victim, &Default::default()).unwrap();
    eventually(10, "a replacement pod", || {
        let now = owned(&e, "web");
        now.len() == 3 && !names(&now).contains(&victim) && ready_count(&e, "web") == 3
    });

    e.api::<ReplicaSet>()
        .patch("web", &json!({"spec": {"replicas": 5}}))
        .unwrap();
    eventually(10, "scaled up to 5", || ready_count(&e, "web") == 5);
    e.api::<ReplicaSet>()
        .patch("web", &json!({"spec": {"replicas": 1}}))
        .unwrap();
    eventually(10, "scaled down to 1", || {
        owned(&e, "web").len() == 1 && ready_count(&e, "web") == 1
    });
    assert_eq!(
        e.api::<Pod>()
            .list(&ListParams::default())
            .unwrap()
            .items
            .len(),
        1,
        "scaled-down pods are deleted, not left behind"
    );
}

#[test]
fn a_replicaset_adopts_a_matching_orphan_instead_of_creating_a_pod() {
    let kubelet = FakeKubelet::new();
    let (e, _clock) = engine_with(&kubelet);
    e.api::<Pod>()
        .create(orphan("stray", "web", json!({})))
        .unwrap();
    e.api::<Pod>()
        .create(orphan("other-app", "db", json!({})))
        .unwrap();
    e.apply(&replica_set("web", 2)).unwrap();
    eventually(10, "two ready pods, one of them adopted", || {
        ready_count(&e, "web") == 2
    });
    let pods = owned(&e, "web");
    assert_eq!(pods.len(), 2);
    assert!(
        names(&pods).contains(&"stray".to_string()),
        "{:?}",
        names(&pods)
    );
    let all = e.api::<Pod>().list(&ListParams::default()).unwrap().items;
    assert_eq!(
        all.len(),
        3,
        "one pod created, the orphan adopted, the db pod untouched"
    );
    let db = e.api::<Pod>().get("other-app").unwrap();
    assert!(db.metadata.owner_references.is_empty());
}

#[test]
fn an_orphan_that_appears_later_is_adopted_and_the_surplus_removed() {
    let kubelet = FakeKubelet::new();
    let (e, _clock) = engine_with(&kubelet);
    e.apply(&replica_set("web", 2)).unwrap();
    eventually(10, "2 ready pods", || ready_count(&e, "web") == 2);
    e.api::<Pod>()
        .create(orphan("late", "web", json!({})))
        .unwrap();
    eventually(10, "the orphan adopted, one pod too many removed", || {
        let all = e.api::<Pod>().list(&ListParams::default()).unwrap().items;
        let uid = e
            .api::<ReplicaSet>()
            .get("web")
            .unwrap()
            .metadata
            .uid
            .clone()
            .unwrap();
        all.len() == 2
            && all.iter().all(|p| is_controlled_by(&p.metadata, &uid))
            && ready_count(&e, "web") == 2
    });
}

#[test]
fn a_pod_whose_labels_stop_matching_is_released_and_replaced() {
    let kubelet = FakeKubelet::new();
    let (e, _clock) = engine_with(&kubelet);
    e.apply(&replica_set("web", 2)).unwrap();
    eventually(10, "2 ready pods", || ready_count(&e, "web") == 2);
    let moved = owned(&e, "web")[0].metadata.name.clone();
    e.api::<Pod>()
        .patch(&moved, &json!({"metadata": {"labels": {"app": "debug"}}}))
        .unwrap();
    eventually(10, "the moved pod released and replaced", || {
        let now = owned(&e, "web");
        now.len() == 2 && !names(&now).contains(&moved) && ready_count(&e, "web") == 2
    });
    let released = e.api::<Pod>().get(&moved).unwrap();
    assert!(
        released.metadata.owner_references.is_empty(),
        "the released pod keeps running without an owner"
    );
}

#[test]
fn scale_down_deletes_unscheduled_then_not_ready_then_cheapest_then_youngest_pods() {
    let kubelet = FakeKubelet::new();
    let (e, clock) = engine_with(&kubelet);
    let pods = e.api::<Pod>();
    pods.create(orphan("old-ready", "web", json!({}))).unwrap();
    pods.create(orphan("cheap", "web", json!({POD_DELETION_COST: "-10"})))
        .unwrap();
    pods.create(orphan("pricey", "web", json!({POD_DELETION_COST: "100"})))
        .unwrap();
    pods.create(orphan(
        "not-ready",
        "web",
        json!({MODE_ANNOTATION: "not-ready"}),
    ))
    .unwrap();
    pods.create(orphan(
        "unscheduled",
        "web",
        json!({MODE_ANNOTATION: "unscheduled"}),
    ))
    .unwrap();
    // `young-ready` becomes ready ten seconds after the others.
    eventually(10, "the first pods ready", || {
        ["old-ready", "cheap", "pricey"]
            .iter()
            .all(|n| pods.get(n).is_ok_and(|p| is_ready(&p)))
    });
    clock.advance(Duration::from_secs(10));
    pods.create(orphan("young-ready", "web", json!({})))
        .unwrap();
    eventually(10, "young-ready ready and not-ready bound", || {
        pods.get("young-ready").is_ok_and(|p| is_ready(&p))
            && pods
                .get("not-ready")
                .is_ok_and(|p| p.spec.node_name.is_some())
    });

    e.apply(&replica_set("web", 6)).unwrap();
    eventually(10, "all six adopted", || owned(&e, "web").len() == 6);
    let survivors = |n: i32| {
        e.api::<ReplicaSet>()
            .patch("web", &json!({"spec": {"replicas": n}}))
            .unwrap();
        eventually(10, "scaled down", || owned(&e, "web").len() == n as usize);
        names(&owned(&e, "web"))
    };
    assert!(
        !survivors(5).contains(&"unscheduled".to_string()),
        "an unscheduled pod goes first"
    );
    assert!(
        !survivors(4).contains(&"not-ready".to_string()),
        "then a pod that is not ready"
    );
    assert!(
        !survivors(3).contains(&"cheap".to_string()),
        "then the lowest deletion cost"
    );
    assert_eq!(
        survivors(2),
        ["old-ready", "pricey"],
        "then the pod ready for the shortest time"
    );
    assert_eq!(
        survivors(1),
        ["pricey"],
        "a higher deletion cost stays longer"
    );
}
