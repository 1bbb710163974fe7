//! Engines on one etcd (feature `etcd`, `EngineBuilder::etcd`): the state outlives the
//! engine that wrote it; an engine started later finds every object as it was (uids,
//! generations, kinds defined by CustomResourceDefinitions) and its controllers recreate
//! nothing; a data dir and etcd together are refused.
#![cfg(feature = "etcd")]

mod common;

use common::etcd::Etcd;
use common::eventually;
use std::time::Duration;
use steady::api::Pod;
use steady::store::etcd::EtcdConfig;
use steady::store::{Durability, ListParams};
use steady::{Engine, EngineBuilder, Error};

fn builder(etcd: &Etcd) -> EngineBuilder {
    Engine::builder()
        .local_node(false)
        .simulated_nodes(1, 8000, 16 << 30)
        .etcd(
            [etcd.client_url.clone()],
            EtcdConfig::default().timeout(Duration::from_secs(5)),
        )
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

/// `(name, uid)` of the running pods.
fn running(e: &Engine) -> Vec<(String, String)> {
    let mut v: Vec<_> = e
        .api::<Pod>()
        .list(&ListParams::default())
        .unwrap()
        .items
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .map(|p| (p.metadata.name.clone(), p.metadata.uid.clone().unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn the_state_outlives_the_engine_and_a_later_one_recreates_nothing() {
    let etcd = Etcd::start("engine-restart");
    let engine = builder(&etcd).build().unwrap();
    engine.apply(MANIFEST).unwrap();
    engine
        .apply("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n")
        .unwrap();
    eventually(30, "the Deployment's pods run", || {
        running(&engine).len() == 2
    });
    let pods = running(&engine);
    let widget = engine.store().get("Widget", None, "w1").unwrap();
    engine.shutdown();
    drop(engine);
    // The objects are in etcd, one key each.
    let keys = etcd
        .ctl(&["get", "/steady/", "--prefix", "--keys-only"])
        .unwrap();
    assert!(keys.contains("/steady/Deployment/default/web"), "{keys}");
    assert!(keys.contains("/steady/Widget/default/w1"), "{keys}");

    let engine = builder(&etcd).build().unwrap();
    let again = engine.store().get("Widget", None, "w1").unwrap();
    assert_eq!(again.meta().uid, widget.meta().uid);
    assert_eq!(
        again.meta().resource_version,
        widget.meta().resource_version
    );
    // The pods are the same ones (the simulated node runs them again): none recreated.
    eventually(30, "the pods run again", || running(&engine).len() == 2);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(running(&engine), pods);
    engine.shutdown();
}

#[test]
fn a_data_dir_and_etcd_together_are_refused() {
    let dir = common::scratch("etcd-and-dir");
    let err = Engine::builder()
        .local_node(false)
        .persist(&dir, Durability::Sync)
        .etcd(["http://127.0.0.1:1"], EtcdConfig::default())
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Backend { .. }), "{err}");
    assert!(err.to_string().contains("etcd keeps the state"), "{err}");
}
