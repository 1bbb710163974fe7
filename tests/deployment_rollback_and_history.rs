//! Rollback restores an earlier template (and its ReplicaSet, hash and pods) under a new
//! revision; revisionHistoryLimit bounds the old ReplicaSets kept.

mod common;

use common::eventually;
use common::kubelet::{engine_with, FakeKubelet};
use common::workloads;
use std::collections::BTreeSet;
use steady::api::{Deployment, Pod, ReplicaSet};
use steady::controllers::deployment::{
    history, rollback, REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION,
};
use steady::controllers::hash::POD_TEMPLATE_HASH_LABEL;
use steady::store::ListParams;
use steady::{Engine, Error};

fn apply(e: &Engine, image: &str, history_limit: Option<i32>) {
    let limit = history_limit
        .map(|l| {
            format!(
                "  revisionHistoryLimit: {l}
"
            )
        })
        .unwrap_or_default();
    e.apply(&workloads::deployment(
        "web",
        Some(3),
        &limit,
        &workloads::one_container(image),
    ))
    .unwrap();
}

fn complete(e: &Engine) -> bool {
    workloads::rollout_complete(e, "web")
}

fn image(e: &Engine) -> String {
    e.api::<Deployment>()
        .get("web")
        .unwrap()
        .spec
        .template
        .spec
        .containers[0]
        .image
        .clone()
        .unwrap()
}

/// Hashes of the running pods.
fn pod_hashes(e: &Engine) -> BTreeSet<String> {
    e.api::<Pod>()
        .list(&ListParams::default())
        .unwrap()
        .items
        .iter()
        .map(|p| {
            p.metadata
                .labels
                .get(POD_TEMPLATE_HASH_LABEL)
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

fn revision(e: &Engine) -> Option<String> {
    e.api::<Deployment>()
        .get("web")
        .unwrap()
        .metadata
        .annotations
        .get(REVISION_ANNOTATION)
        .cloned()
}

#[test]
fn rollback_restores_the_old_template_and_its_hash() {
    let kubelet = FakeKubelet::new();
    let (e, _clock) = engine_with(&kubelet);
    apply(&e, "app:v1", None);
    eventually(20, "v1 rolled out", || complete(&e));
    let v1_hash = pod_hashes(&e).into_iter().next().unwrap();
    let v1_rs = format!("web-{v1_hash}");
    apply(&e, "app:v2", None);
    eventually(20, "v2 rolled out", || {
        complete(&e) && !pod_hashes(&e).contains(&v1_hash)
    });
    assert_eq!(revision(&e).as_deref(), Some("2"));
    let v2_hash = pod_hashes(&e).into_iter().next().unwrap();

    // Undo: back to the previous revision.
    let d = rollback(e.store(), "default", "web", None).unwrap();
    assert_eq!(
        d.spec.template.spec.containers[0].image.as_deref(),
        Some("app:v1")
    );
    assert!(
        !d.spec
            .template
            .metadata
            .labels
            .contains_key(POD_TEMPLATE_HASH_LABEL),
        "the hash label is not copied into the Deployment"
    );
    eventually(20, "v1 rolled out again", || {
        complete(&e) && pod_hashes(&e) == BTreeSet::from([v1_hash.clone()])
    });
    assert_eq!(image(&e), "app:v1");
    let rss = e
        .api::<ReplicaSet>()
        .list(&ListParams::default())
        .unwrap()
        .items;
    assert_eq!(rss.len(), 2, "the v1 ReplicaSet was reused, not recreated");
    let v1 = e.api::<ReplicaSet>().get(&v1_rs).unwrap();
    assert_eq!(v1.spec.replicas, Some(3));
    let a = &v1.metadata.annotations;
    assert_eq!(a.get(REVISION_ANNOTATION).map(String::as_str), Some("3"));
    assert_eq!(
        a.get(REVISION_HISTORY_ANNOTATION).map(String::as_str),
        Some("1")
    );
    assert_eq!(revision(&e).as_deref(), Some("3"));
    let revisions: Vec<i64> = history(e.store(), "default", "web")
        .unwrap()
        .iter()
        .map(|(r, _)| *r)
        .collect();
    assert_eq!(revisions, [2, 3]);

    // Forward again to a named revision.
    rollback(e.store(), "default", "web", Some(2)).unwrap();
    eventually(20, "v2 again", || {
        complete(&e) && pod_hashes(&e) == BTreeSet::from([v2_hash.clone()])
    });
    assert_eq!(revision(&e).as_deref(), Some("4"));

    // Rolling back to the current template changes nothing.
    let before = e.api::<Deployment>().get("web").unwrap();
    let after = rollback(e.store(), "default", "web", Some(4)).unwrap();
    assert_eq!(
        before.metadata.resource_version,
        after.metadata.resource_version
    );

    let err = rollback(e.store(), "default", "web", Some(9)).unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    assert!(
        err.to_string().contains("unable to find revision 9"),
        "{err}"
    );
}

#[test]
fn revision_history_limit_keeps_only_the_newest_old_replica_sets() {
    let kubelet = FakeKubelet::new();
    let (e, _clock) = engine_with(&kubelet);
    for v in 1..=5 {
        apply(&e, &format!("app:v{v}"), Some(2));
        eventually(20, "rolled out", || {
            complete(&e) && revision(&e) == Some(v.to_string())
        });
    }
    eventually(20, "old ReplicaSets cleaned up", || {
        e.api::<ReplicaSet>()
            .list(&ListParams::default())
            .unwrap()
            .items
            .len()
            == 3
    });
    let revisions: Vec<i64> = history(e.store(), "default", "web")
        .unwrap()
        .iter()
        .map(|(r, _)| *r)
        .collect();
    assert_eq!(
        revisions,
        [3, 4, 5],
        "the two newest old revisions and the current one"
    );
    let err = rollback(e.store(), "default", "web", Some(1)).unwrap_err();
    assert!(
        err.to_string().contains("unable to find revision 1"),
        "{err}"
    );
}

#[test]
fn rollback_without_history_is_refused() {
    let kubelet = FakeKubelet::new();
    let (e, _clock) = engine_with(&kubelet);
    apply(&e, "app:v1", None);
    eventually(20, "v1 rolled out", || complete(&e));
    let err = rollback(e.store(), "default", "web", None).unwrap_err();
    assert!(err.to_string().contains("no rollout history"), "{err}");
}
