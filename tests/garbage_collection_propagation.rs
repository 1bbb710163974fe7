//! The garbage collector: each propagation policy deletes what it should and nothing else,
//! for typed and custom kinds alike.

mod common;

use common::eventually;
use common::workloads;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use steady::api::{ConfigMap, Deployment, OwnerReference, Pod, ReplicaSet};
use steady::client::DynamicApi;
use steady::runtime::owner_reference;
use steady::store::{DeleteParams, ListParams, Propagation, WatchEvent, WatchParams};
use steady::Engine;

/// An engine without nodes: pods stay unscheduled and go at once when deleted (these tests
/// are about owners; graceful stops on a manual clock would only hold them up).
fn engine() -> Engine {
    common::builder()
        .clock(Arc::new(steady::clock::ManualClock::default()))
        .local_node(false)
        .build()
        .unwrap()
}

fn config_map(name: &str, owners: Vec<OwnerReference>, finalizers: &[&str]) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = name.into();
    c.metadata.owner_references = owners;
    c.metadata.finalizers = finalizers.iter().map(|f| f.to_string()).collect();
    c
}

fn widgets(e: &Engine) -> DynamicApi {
    e.dynamic("example.com/v1", "Widget").unwrap()
}

fn widget(name: &str, owners: &[OwnerReference]) -> Value {
    json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": name, "ownerReferences": owners},
        "spec": {"size": 1}
    })
}

fn exists(e: &Engine, kind: &str, name: &str) -> bool {
    e.store().get(kind, Some("default"), name).is_ok()
}

fn owners_of(e: &Engine, kind: &str, name: &str) -> Vec<String> {
    e.store()
        .get(kind, Some("default"), name)
        .unwrap()
        .meta()
        .owner_references
        .iter()
        .map(|r| r.name.clone())
        .collect()
}

fn delete(e: &Engine, kind: &str, name: &str, propagation: Propagation) {
    e.store()
        .delete(
            kind,
            Some("default"),
            name,
            &DeleteParams {
                propagation,
                ..Default::default()
            },
        )
        .unwrap();
}

/// Lets the collector run for a while: for asserting that something is *not* deleted after
/// what was deleted is gone (the collector handles one owner's dependents in one pass).
fn settle() {
    std::thread::sleep(Duration::from_millis(100));
}

#[test]
fn background_deletion_collects_dependents_of_every_kind_and_nothing_else() {
    let e = engine();
    let cms = e.api::<ConfigMap>();
    let owner = cms.create(config_map("owner", vec![], &[])).unwrap();
    let other = cms.create(config_map("other", vec![], &[])).unwrap();
    let by_owner = vec![owner_reference(owner.as_ref(), true)];
    cms.create(config_map("dependent", by_owner.clone(), &[]))
        .unwrap();
    widgets(&e).create(widget("gadget", &by_owner)).unwrap();
    cms.create(config_map(
        "shared",
        vec![
            owner_reference(owner.as_ref(), false),
            owner_reference(other.as_ref(), false),
        ],
        &[],
    ))
    .unwrap();
    cms.create(config_map("bystander", vec![], &[])).unwrap();
    // A dependent of the dependent: collected in turn.
    let dependent = cms.get("dependent").unwrap();
    cms.create(config_map(
        "grandchild",
        vec![owner_reference(dependent.as_ref(), true)],
        &[],
    ))
    .unwrap();
    settle();
    assert!(
        exists(&e, "ConfigMap", "dependent"),
        "owners alive: nothing collected"
    );

    delete(&e, "ConfigMap", "owner", Propagation::Background);
    eventually(10, "dependents collected", || {
        !exists(&e, "ConfigMap", "dependent")
            && !exists(&e, "Widget", "gadget")
            && !exists(&e, "ConfigMap", "grandchild")
            && owners_of(&e, "ConfigMap", "shared") == ["other"]
    });
    settle();
    assert!(exists(&e, "ConfigMap", "other"));
    assert!(exists(&e, "ConfigMap", "bystander"));
    assert_eq!(
        owners_of(&e, "ConfigMap", "shared"),
        ["other"],
        "a dependent with a live owner stays, without the reference to the gone one"
    );
}

#[test]
fn a_dependent_whose_owner_is_already_gone_is_collected() {
    let e = engine();
    let cms = e.api::<ConfigMap>();
    let owner = cms.create(config_map("owner", vec![], &[])).unwrap();
    let stale = owner_reference(owner.as_ref(), true);
    cms.delete("owner", &Default::default()).unwrap();
    // Re-created under the same name: another uid, another owner.
    cms.create(config_map("owner", vec![], &[])).unwrap();
    cms.create(config_map("late", vec![stale], &[])).unwrap();
    eventually(10, "the late dependent collected", || {
        !exists(&e, "ConfigMap", "late")
    });
    settle();
    assert!(
        exists(&e, "ConfigMap", "owner"),
        "the new owner is not touched"
    );
}

#[test]
fn foreground_deletion_keeps_the_owner_until_blocking_dependents_are_gone() {
    let e = engine();
    let cms = e.api::<ConfigMap>();
    let owner = cms.create(config_map("owner", vec![], &[])).unwrap();
    let blocking = owner_reference(owner.as_ref(), true); // blockOwnerDeletion: true
    let plain = owner_reference(owner.as_ref(), false);
    // `slow` cannot go before its own finalizer is removed.
    cms.create(config_map(
        "slow",
        vec![blocking],
        &["test.steady.dev/hold"],
    ))
    .unwrap();
    cms.create(config_map("quick", vec![plain], &[])).unwrap();
    cms.create(config_map("bystander", vec![], &[])).unwrap();

    delete(&e, "ConfigMap", "owner", Propagation::Foreground);
    eventually(10, "dependents deleted", || {
        !exists(&e, "ConfigMap", "quick")
            && cms
                .get("slow")
                .is_ok_and(|s| s.metadata.deletion_timestamp.is_some())
    });
    settle();
    let o = cms.get("owner").unwrap();
    assert!(o.metadata.deletion_timestamp.is_some());
    assert_eq!(o.metadata.finalizers, ["foregroundDeletion"]);

    cms.patch("slow", &json!({"metadata": {"finalizers": null}}))
        .unwrap();
    eventually(10, "the owner goes after its blocking dependent", || {
        !exists(&e, "ConfigMap", "owner")
    });
    assert!(exists(&e, "ConfigMap", "bystander"));
}

#[test]
fn foreground_deletion_of_a_deployment_removes_pods_then_replica_sets_then_the_deployment() {
    let e = engine();
    e.apply(&workloads::deployment(
        "web",
        Some(3),
        "",
        &workloads::one_container("nginx:1.25"),
    ))
    .unwrap();
    eventually(10, "3 pods", || {
        e.api::<Pod>()
            .list(&ListParams::default())
            .unwrap()
            .items
            .len()
            == 3
    });
    let since = e.store().revision();
    let mut watches: HashMap<&str, steady::store::Watch> = ["Pod", "ReplicaSet", "Deployment"]
        .into_iter()
        .map(|k| {
            let w = e
                .store()
                .watch(
                    k,
                    &WatchParams {
                        since: Some(since),
                        ..Default::default()
                    },
                )
                .unwrap();
            (k, w)
        })
        .collect();
    delete(&e, "Deployment", "web", Propagation::Foreground);
    eventually(10, "everything gone", || {
        !exists(&e, "Deployment", "web")
            && e.api::<ReplicaSet>()
                .list(&ListParams::default())
                .unwrap()
                .items
                .is_empty()
            && e.api::<Pod>()
                .list(&ListParams::default())
                .unwrap()
                .items
                .is_empty()
    });
    // The revision at which the last object of each kind went.
    let mut gone = HashMap::new();
    for (kind, w) in watches.iter_mut() {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match w.recv_timeout(Duration::from_millis(20)).unwrap() {
                Some(WatchEvent::Deleted(o)) => {
                    let r = o.meta().revision().unwrap();
                    let last = gone.entry(*kind).or_insert(0);
                    *last = r.max(*last);
                }
                Some(_) => {}
                None => break,
            }
        }
    }
    assert!(gone["Pod"] < gone["ReplicaSet"], "{gone:?}");
    assert!(gone["ReplicaSet"] < gone["Deployment"], "{gone:?}");
}

#[test]
fn background_deletion_of_a_deployment_collects_its_replica_sets_and_pods() {
    let e = engine();
    e.apply(&workloads::deployment(
        "web",
        Some(2),
        "",
        &workloads::one_container("nginx:1.25"),
    ))
    .unwrap();
    let stray = e
        .api::<Pod>()
        .create(
            serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "stray", "labels": {"app": "other"}},
                "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}
            }))
            .unwrap(),
        )
        .unwrap();
    eventually(10, "2 pods", || {
        e.api::<Pod>()
            .list(&ListParams::default())
            .unwrap()
            .items
            .len()
            == 3
    });
    e.api::<Deployment>()
        .delete("web", &Default::default())
        .unwrap();
    eventually(10, "replica sets and pods collected", || {
        e.api::<ReplicaSet>()
            .list(&ListParams::default())
            .unwrap()
            .items
            .is_empty()
            && e.api::<Pod>()
                .list(&ListParams::default())
                .unwrap()
                .items
                .len()
                == 1
    });
    assert_eq!(
        e.api::<Pod>().get("stray").unwrap().metadata.uid,
        stray.metadata.uid
    );
}

#[test]
fn orphan_deletion_strips_the_owner_reference_and_keeps_the_dependents() {
    let e = engine();
    let cms = e.api::<ConfigMap>();
    let owner = cms.create(config_map("owner", vec![], &[])).unwrap();
    let keeper = cms.create(config_map("keeper", vec![], &[])).unwrap();
    cms.create(config_map(
        "child",
        vec![
            owner_reference(owner.as_ref(), true),
            owner_reference(keeper.as_ref(), false),
        ],
        &[],
    ))
    .unwrap();
    widgets(&e)
        .create(widget("gadget", &[owner_reference(owner.as_ref(), true)]))
        .unwrap();

    delete(&e, "ConfigMap", "owner", Propagation::Orphan);
    eventually(10, "the owner gone", || !exists(&e, "ConfigMap", "owner"));
    settle();
    assert_eq!(owners_of(&e, "ConfigMap", "child"), ["keeper"]);
    assert!(owners_of(&e, "Widget", "gadget").is_empty());
}

/// Orphaning races the collector's look at each new dependent: an owner deleted with
/// Orphan right after its dependents were created strips its reference from each and goes,
/// while the collector may be examining a dependent that still names it. The dependent
/// must stay (a delete decided on the version that named the owner is refused), in every
/// round.
#[test]
fn orphaned_dependents_survive_the_collector_looking_at_them_meanwhile() {
    const ROUNDS: usize = 30;
    const DEPENDENTS: usize = 20;
    let e = engine();
    let cms = e.api::<ConfigMap>();
    let w = widgets(&e);
    for round in 0..ROUNDS {
        let owner = cms
            .create(config_map(&format!("owner-{round}"), vec![], &[]))
            .unwrap();
        for i in 0..DEPENDENTS {
            w.create(widget(
                &format!("w-{round}-{i}"),
                &[owner_reference(owner.as_ref(), true)],
            ))
            .unwrap();
        }
        delete(
            &e,
            "ConfigMap",
            &format!("owner-{round}"),
            Propagation::Orphan,
        );
    }
    eventually(10, "every owner gone", || {
        (0..ROUNDS).all(|r| !exists(&e, "ConfigMap", &format!("owner-{r}")))
    });
    settle();
    for round in 0..ROUNDS {
        for i in 0..DEPENDENTS {
            let name = format!("w-{round}-{i}");
            assert!(exists(&e, "Widget", &name), "{name} was collected");
            assert!(owners_of(&e, "Widget", &name).is_empty(), "{name}");
        }
    }
}

#[test]
fn custom_kind_owners_are_collected_like_built_in_ones() {
    let e = engine();
    // A kind nobody has used before the engine started: registered on first use.
    let gizmos = e.dynamic("example.com/v1", "Gizmo").unwrap();
    let owner = gizmos
        .create(
            json!({"apiVersion": "example.com/v1", "kind": "Gizmo", "metadata": {"name": "g1"}}),
        )
        .unwrap();
    let cms = e.api::<ConfigMap>();
    cms.create(config_map(
        "config",
        vec![owner_reference(owner.as_ref(), true)],
        &[],
    ))
    .unwrap();
    widgets(&e)
        .create(widget("part", &[owner_reference(owner.as_ref(), true)]))
        .unwrap();
    let fg = gizmos
        .create(
            json!({"apiVersion": "example.com/v1", "kind": "Gizmo", "metadata": {"name": "g2"}}),
        )
        .unwrap();
    cms.create(config_map(
        "held",
        vec![owner_reference(fg.as_ref(), true)],
        &["test.steady.dev/hold"],
    ))
    .unwrap();
    settle();

    delete(&e, "Gizmo", "g1", Propagation::Background);
    eventually(10, "the custom owner's dependents collected", || {
        !exists(&e, "ConfigMap", "config") && !exists(&e, "Widget", "part")
    });

    delete(&e, "Gizmo", "g2", Propagation::Foreground);
    eventually(10, "the blocking dependent marked", || {
        cms.get("held")
            .is_ok_and(|c| c.metadata.deletion_timestamp.is_some())
    });
    settle();
    assert!(
        exists(&e, "Gizmo", "g2"),
        "waits for its blocking dependent"
    );
    cms.patch("held", &json!({"metadata": {"finalizers": null}}))
        .unwrap();
    eventually(10, "the custom owner goes last", || {
        !exists(&e, "Gizmo", "g2")
    });
}
