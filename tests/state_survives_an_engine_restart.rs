//! An engine with a data dir (`EngineBuilder::persist`) stopped and started again on the
//! same dir: objects, their uids, generations and resourceVersions, the revision, kinds
//! defined by CustomResourceDefinitions and the watch history continue where they were;
//! controllers recreate nothing; a second engine on the dir is refused.

mod common;

use std::path::PathBuf;

use common::eventually;
use steady::api::{Deployment, Object, Pod, ReplicaSet};
use steady::store::{Durability, ListParams, WatchParams};
use steady::{Engine, EngineBuilder, Error};

fn data_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("restart-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn builder(dir: &PathBuf) -> EngineBuilder {
    Engine::builder()
        .local_node(false)
        .simulated_nodes(1, 8000, 16 << 30)
        .persist(dir, Durability::Sync)
}

const MANIFEST: &str = "
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: main, image: sim}]
";

/// `(name, uid, resourceVersion, generation)` of every object of `kind`.
fn identities(e: &Engine, kind: &str) -> Vec<(String, String, String, Option<i64>)> {
    let mut v: Vec<_> = e
        .store()
        .list(kind, &ListParams::default())
        .unwrap()
        .items
        .iter()
        .map(|o| {
            let m = o.meta();
            (
                m.name.clone(),
                m.uid.clone().unwrap(),
                m.resource_version.clone().unwrap(),
                m.generation,
            )
        })
        .collect();
    v.sort();
    v
}

fn running_pods(e: &Engine) -> usize {
    e.api::<Pod>()
        .list(&ListParams::default())
        .unwrap()
        .items
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .count()
}

#[test]
fn objects_versions_and_history_continue_after_a_restart() {
    let dir = data_dir("objects");
    let engine = builder(&dir).build().unwrap();
    assert!(engine.recovery_report().unwrap().fresh);
    engine.apply(MANIFEST).unwrap();
    engine
        .apply("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n")
        .unwrap();
    eventually(30, "the Deployment's pods run", || {
        running_pods(&engine) == 2
    });
    // A second engine on the dir is refused while this one runs.
    let err = builder(&dir).build().unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err}");
    assert!(
        err.to_string().contains("in use by another engine"),
        "{err}"
    );

    let since = engine.store().revision();
    engine
        .apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: safe}\n")
        .unwrap();
    let kinds = [
        "ConfigMap",
        "Widget",
        "Deployment",
        "ReplicaSet",
        "Namespace",
    ];
    let before: Vec<_> = kinds.iter().map(|k| identities(&engine, k)).collect();
    let revision = engine.store().revision();
    engine.shutdown();
    drop(engine);

    let engine = builder(&dir).build().unwrap();
    let report = engine.recovery_report().unwrap().clone();
    assert!(!report.fresh && !report.lost_data(), "{report}");
    assert!(report.revision >= revision, "{report}");
    // What was stored is there as it was: same uids and generations; the same
    // resourceVersions where no controller writes (controllers may update the status of
    // the Deployment and its ReplicaSet once they run again: never to an older version).
    let after: Vec<_> = kinds.iter().map(|k| identities(&engine, k)).collect();
    for ((kind, b), a) in kinds.iter().zip(&before).zip(&after) {
        assert_eq!(b.len(), a.len(), "{kind}");
        for (b, a) in b.iter().zip(a) {
            assert_eq!((&b.0, &b.1, b.3), (&a.0, &a.1, a.3), "{kind}");
            let (rb, ra): (u64, u64) = (b.2.parse().unwrap(), a.2.parse().unwrap());
            if matches!(*kind, "ConfigMap" | "Widget") {
                assert_eq!(rb, ra, "{kind} {}", b.0);
            } else {
                assert!(ra >= rb, "{kind} {}: {ra} < {rb}", b.0);
            }
        }
    }
    // The kind a CustomResourceDefinition defined is served again.
    let widgets = engine.dynamic("example.com/v1", "Widget").unwrap();
    assert_eq!(widgets.get("w1").unwrap().meta().name, "w1");
    // A watch from before the restart replays the change made then.
    let mut w = engine
        .store()
        .watch(
            "ConfigMap",
            &WatchParams {
                since: Some(since),
                ..Default::default()
            },
        )
        .unwrap();
    let ev = w.try_recv().unwrap().expect("the update is replayed");
    assert_eq!(ev.type_name(), "MODIFIED");
    assert_eq!(ev.object().unwrap().meta().name, "settings");
    // The next write continues the revision.
    let cm = engine
        .apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: later}\n")
        .unwrap();
    let rv: u64 = cm.objects[0].resource_version.parse().unwrap();
    assert!(rv > revision);
    // Controllers found their objects: nothing is created twice.
    let replicasets = engine
        .api::<ReplicaSet>()
        .list(&ListParams::default())
        .unwrap();
    assert_eq!(replicasets.items.len(), 1);
    let deployment = engine.api::<Deployment>().get("web").unwrap();
    assert_eq!(deployment.spec.replicas, Some(2));
    engine.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_data_dir_from_a_newer_steady_refuses_to_start() {
    let dir = data_dir("newer");
    let engine = builder(&dir).build().unwrap();
    engine.shutdown();
    drop(engine);
    // Bump the format version of every segment.
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "log") {
            let mut b = std::fs::read(&p).unwrap();
            b[8..12].copy_from_slice(&(steady::store::persist::FORMAT_VERSION + 1).to_le_bytes());
            std::fs::write(&p, b).unwrap();
        }
    }
    let err = builder(&dir).build().unwrap_err().to_string();
    assert!(err.contains("by a newer steady"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn claims_live_beside_the_store_unless_told_otherwise() {
    let dir = data_dir("volumes");
    let e = builder(&dir).build().unwrap();
    assert_eq!(e.kubelet().config().data_dir, Some(dir.join("volumes")));
    drop(e);
    let elsewhere = dir.join("elsewhere");
    let e = builder(&dir).data_dir(&elsewhere).build().unwrap();
    assert_eq!(e.kubelet().config().data_dir, Some(elsewhere));
    drop(e);
    let _ = std::fs::remove_dir_all(dir);
}
