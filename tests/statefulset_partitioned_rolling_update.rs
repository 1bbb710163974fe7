//! A StatefulSet rolling update replaces pods from the highest ordinal down, one at a time
//! (maxUnavailable at a time when set), only at ordinals >= partition; lowering the partition
//! finishes it. OnDelete replaces only deleted pods. Revisions are ControllerRevisions named `<set>-<hash>`.

mod common;

use common::eventually;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use steady::api::{ControllerRevision, Pod, StatefulSet};
use steady::client::TypedEvent;
use steady::clock::ManualClock;
use steady::store::WatchParams;
use steady::Engine;

/// An engine with one simulated node, on a manual clock that stays put.
fn engine() -> Engine {
    common::one_simulated_node(&Arc::new(ManualClock::default()))
}

fn web(image: &str, strategy: serde_json::Value) -> String {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "updateStrategy": strategy,
        "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"nodeName": "sim-0", "containers": [{"name": "main", "image": image}]}}
    }})
    .to_string()
}

fn status(e: &Engine) -> steady::api::StatefulSetStatus {
    let s = e
        .api::<StatefulSet>()
        .namespace("default")
        .get("web")
        .unwrap();
    s.status.clone().unwrap_or_default()
}

fn image(e: &Engine, pod: &str) -> Option<String> {
    let p = e.api::<Pod>().namespace("default").get_opt(pod).unwrap()?;
    p.spec.containers[0].image.clone()
}

/// The pods `w` saw come (`+name`) and go (`-name`: when its deletion began, the first
/// event with a deletionTimestamp, or its removal) until it went quiet, from the first that
/// went (the adds of the watch's start left out). A pod's deletion begins when the
/// controller decides it; its removal waits for the node agent to stop it, in any order.
fn comings_and_goings(w: &mut steady::client::TypedWatch<Pod>) -> Vec<String> {
    let mut log = Vec::new();
    let mut going = std::collections::HashSet::new();
    while let Some(ev) = w.recv_timeout(Duration::from_millis(100)).unwrap() {
        let (p, added) = match ev {
            TypedEvent::Added(p) => (p, true),
            TypedEvent::Modified(p) if p.metadata.deletion_timestamp.is_some() => (p, false),
            TypedEvent::Deleted(p) => (p, false),
            _ => continue,
        };
        if added {
            log.push(format!("+{}", p.metadata.name));
        } else if going.insert(p.metadata.uid.clone()) {
            log.push(format!("-{}", p.metadata.name));
        }
    }
    log.into_iter().skip_while(|s| s.starts_with('+')).collect()
}

fn settled(e: &Engine, updated: i32) -> bool {
    let s = status(e);
    s.ready_replicas == Some(3) && s.updated_replicas == Some(updated) && s.replicas == 3
}

#[test]
fn a_partitioned_update_replaces_only_high_ordinals_from_the_top_down() {
    let e = engine();
    let partition = |p: i32| json!({"type": "RollingUpdate", "rollingUpdate": {"partition": p}});
    e.apply(&web("app:1", partition(1))).unwrap();
    eventually(10, "3 ready at revision 1", || settled(&e, 3));
    let rev1 = status(&e).update_revision.unwrap();
    assert!(rev1.starts_with("web-"));

    let mut w = e
        .api::<Pod>()
        .namespace("default")
        .watch(&WatchParams::default())
        .unwrap();
    e.apply(&web("app:2", partition(1))).unwrap();
    eventually(10, "ordinals 2 and 1 updated", || settled(&e, 2));
    let s = status(&e);
    let rev2 = s.update_revision.clone().unwrap();
    assert_ne!(rev1, rev2);
    assert_eq!(s.current_revision.as_deref(), Some(rev1.as_str()));
    assert_eq!(s.current_replicas, Some(1));
    assert_eq!(image(&e, "web-0").as_deref(), Some("app:1"));
    assert_eq!(image(&e, "web-1").as_deref(), Some("app:2"));
    assert_eq!(image(&e, "web-2").as_deref(), Some("app:2"));

    // The order: web-2 went and came back before web-1 began terminating.
    let log = comings_and_goings(&mut w);
    assert_eq!(log, ["-web-2", "+web-2", "-web-1", "+web-1"]);

    let revs = e
        .api::<ControllerRevision>()
        .namespace("default")
        .list(&Default::default())
        .unwrap();
    let mut names: Vec<_> = revs
        .items
        .iter()
        .map(|r| (r.revision, r.metadata.name.clone()))
        .collect();
    names.sort();
    assert_eq!(names, [(1, rev1.clone()), (2, rev2.clone())]);

    e.apply(&web("app:2", partition(0))).unwrap();
    eventually(10, "all updated, current = update", || {
        let s = status(&e);
        settled(&e, 3) && s.current_revision.as_deref() == Some(rev2.as_str())
    });
    assert_eq!(image(&e, "web-0").as_deref(), Some("app:2"));
    assert_eq!(status(&e).current_replicas, Some(3));
}

#[test]
fn on_delete_replaces_only_the_pods_the_user_deletes() {
    let e = engine();
    let on_delete = json!({"type": "OnDelete"});
    e.apply(&web("app:1", on_delete.clone())).unwrap();
    eventually(10, "3 ready", || settled(&e, 3));
    e.apply(&web("app:2", on_delete)).unwrap();
    eventually(10, "new revision seen", || settled(&e, 0));
    assert_eq!(image(&e, "web-2").as_deref(), Some("app:1"));
    e.api::<Pod>()
        .namespace("default")
        .delete("web-1", &Default::default())
        .unwrap();
    eventually(10, "web-1 replaced at the new revision", || {
        settled(&e, 1) && image(&e, "web-1").as_deref() == Some("app:2")
    });
    assert_eq!(image(&e, "web-0").as_deref(), Some("app:1"));
    assert_eq!(image(&e, "web-2").as_deref(), Some("app:1"));
}

#[test]
fn max_unavailable_replaces_that_many_pods_at_once_and_they_return_in_order() {
    let e = engine();
    let two = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}});
    e.apply(&web("app:1", two.clone())).unwrap();
    eventually(10, "3 ready at revision 1", || settled(&e, 3));
    let mut w = e
        .api::<Pod>()
        .namespace("default")
        .watch(&WatchParams::default())
        .unwrap();
    e.apply(&web("app:2", two)).unwrap();
    eventually(10, "all updated", || settled(&e, 3));
    let log = comings_and_goings(&mut w);
    // web-2 and web-1 went together (two unavailable at once), came back in ordinal order,
    // and only then did web-0 go.
    let mut first_two: Vec<&str> = log[..2].iter().map(String::as_str).collect();
    first_two.sort();
    assert_eq!(first_two, ["-web-1", "-web-2"], "{log:?}");
    assert_eq!(
        log[2..],
        ["+web-1", "+web-2", "-web-0", "+web-0"],
        "{log:?}"
    );
    assert_eq!(image(&e, "web-0").as_deref(), Some("app:2"));
}
