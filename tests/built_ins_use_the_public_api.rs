//! What the built-in controllers use is public API: a user's controller can do what they do
//! (issue 18, "doors"). Each test uses one of those entry points as a user would.

mod common;

use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use steady::api::{ConfigMap, Extra, KindInfo, Object, Pod};
use steady::client::{check_kind, prepare_apply, ApplyAction};
use steady::runtime::{Action, Context, Controller};

#[test]
fn pods_on_lists_the_pods_bound_to_a_node() {
    let e = common::engine();
    let pods = e.api::<Pod>();
    for (name, node) in [
        ("a", Some("n1")),
        ("b", Some("n2")),
        ("c", Some("n1")),
        ("d", None),
    ] {
        let mut p: Pod = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "i"}]}
        }))
        .unwrap();
        p.spec.node_name = node.map(str::to_string);
        pods.create(p).unwrap();
    }
    let on = |n: &str| -> Vec<String> {
        steady::node::pods_on(e.store(), n)
            .unwrap()
            .iter()
            .map(|p| p.metadata.name.clone())
            .collect()
    };
    assert_eq!(on("n1"), ["a", "c"]);
    assert_eq!(on("n2"), ["b"]);
    assert!(on("n3").is_empty());
}

#[test]
fn write_own_status_writes_only_a_changed_status() {
    // No built-in controllers: the Deployment controller would write this status too.
    let e = steady::Engine::builder()
        .builtin_controllers(false)
        .local_node(false)
        .build()
        .unwrap();
    let deployments = e.api::<steady::api::Deployment>();
    let d: steady::api::Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}}}
    }))
    .unwrap();
    let d = deployments.create(d).unwrap();
    steady::controllers::write_own_status(&deployments, &d, |d| {
        d.status
            .get_or_insert_with(Default::default)
            .observed_generation = Some(1);
    })
    .unwrap();
    let written = deployments.get("web").unwrap();
    assert_eq!(
        written.status.as_ref().and_then(|s| s.observed_generation),
        Some(1)
    );
    // The same status again: nothing written, the resourceVersion stays.
    steady::controllers::write_own_status(&deployments, &written, |d| {
        d.status
            .get_or_insert_with(Default::default)
            .observed_generation = Some(1);
    })
    .unwrap();
    assert_eq!(
        deployments.get("web").unwrap().metadata.resource_version,
        written.metadata.resource_version
    );
}

#[test]
fn a_registry_hook_gives_every_kind_registered_later_a_controller() {
    let e = common::engine();
    let reconciled = Arc::new(AtomicUsize::new(0));
    let registrar = e.controllers();
    let seen = reconciled.clone();
    e.store()
        .registry()
        .on_register(Arc::new(move |info: &Arc<KindInfo>| {
            let seen = seen.clone();
            let c = Controller::new(
                &format!("count-{}", info.kind),
                &info.api_version,
                &info.kind,
            )
            .build(move |_: &Context| {
                seen.fetch_add(1, Ordering::SeqCst);
                Ok(Action::done())
            });
            registrar.add(c).unwrap();
        }));
    e.store()
        .registry()
        .register(KindInfo::dynamic("example.com/v1", "Later", true));
    let later = e.dynamic("example.com/v1", "Later").unwrap();
    later
        .create(json!({"apiVersion": "example.com/v1", "kind": "Later",
                       "metadata": {"name": "x"}}))
        .unwrap();
    common::eventually(10, "the kind registered later reconciled", || {
        reconciled.load(Ordering::SeqCst) >= 1
    });
    // After shutdown a registrar starts nothing and says so.
    let registrar = e.controllers();
    e.shutdown();
    let late =
        Controller::new("too-late", "v1", "ConfigMap").build(|_: &Context| Ok(Action::done()));
    assert!(matches!(registrar.add(late), Err(steady::Error::Closed)));
}

#[test]
fn prepare_apply_computes_an_apply_without_writing_it() {
    let e = common::engine();
    let info = e.store().registry().get("ConfigMap").unwrap();
    let cms = e.api::<ConfigMap>();
    let desired = json!({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "settings", "namespace": "default"},
                         "data": {"color": "blue"}});
    let (obj, action) = prepare_apply(&info, desired.clone(), None).unwrap();
    assert_eq!(action, ApplyAction::Created);
    assert!(cms.get("settings").is_err(), "nothing written");
    let live = e.store().create(obj).unwrap();
    // Someone else adds a key; the next apply keeps it (three-way merge).
    let mut other = (*cms.get("settings").unwrap()).clone();
    other.data.insert("size".into(), "7".into());
    let live2 = cms.update(other).unwrap();
    let mut desired2 = desired.clone();
    desired2["data"]["color"] = json!("green");
    let (obj, action) =
        prepare_apply(&info, desired2, Some(&(live2.clone() as Arc<dyn Object>))).unwrap();
    assert_eq!(action, ApplyAction::Configured);
    let merged = obj.downcast_ref::<ConfigMap>().unwrap();
    assert_eq!(merged.data.get("color").map(String::as_str), Some("green"));
    assert_eq!(merged.data.get("size").map(String::as_str), Some("7"));
    assert_ne!(
        live.meta().resource_version,
        live2.metadata.resource_version
    );
    assert_eq!(
        merged.metadata.resource_version, live2.metadata.resource_version,
        "the write is a compare-and-swap on the version merged"
    );
    // check_kind names the field that is wrong.
    let wrong = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}});
    let err = check_kind(&info, &wrong).unwrap_err().to_string();
    assert!(err.contains("kind"), "{err}");
    assert!(check_kind(&info, &desired).is_ok());
}

#[test]
fn extra_without_shows_the_modelled_fields_only() {
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "c"}, "data": {"a": "1"}, "colour": "blue"
    }))
    .unwrap();
    assert_eq!(cm.to_value()["colour"], "blue", "kept and written back");
    let known = Extra::without(|| cm.to_value());
    assert!(known.get("colour").is_none());
    assert_eq!(known["data"]["a"], "1");
    // Only inside: afterwards the extra fields serialize again.
    assert_eq!(cm.to_value()["colour"], "blue");
}
