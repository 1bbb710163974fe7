//! A StatefulSet pod that crashes or is deleted comes back under the same name with the same
//! claim, and (with real processes) finds what it wrote in its claim directory.

mod common;

use common::eventually;
use serde_json::json;
use std::sync::Arc;
use steady::api::{PersistentVolumeClaim, Pod};
use steady::clock::ManualClock;
use steady::Engine;

fn set(node: &str, container: serde_json::Value) -> String {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "db"}},
        "template": {"metadata": {"labels": {"app": "db"}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [container]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Mi"}}}}]
    }})
    .to_string()
}

fn ready(e: &Engine, name: &str) -> Option<Arc<Pod>> {
    let p = e.api::<Pod>().namespace("default").get_opt(name).unwrap()?;
    let ok = p.metadata.deletion_timestamp.is_none()
        && p.status.as_ref().is_some_and(|s| {
            s.phase.as_deref() == Some("Running")
                && s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
        });
    ok.then_some(p)
}

fn claim_of(p: &Pod) -> String {
    p.spec
        .volumes
        .iter()
        .find(|v| v.name == "data")
        .and_then(|v| v.persistent_volume_claim.as_ref())
        .map(|c| c.claim_name.clone())
        .unwrap()
}

#[test]
fn a_crashed_or_deleted_pod_comes_back_with_its_name_and_claim() {
    let e = Engine::builder()
        .clock(Arc::new(ManualClock::default()))
        .local_node(false)
        .simulated_nodes(1, 4000, 8 << 30)
        .build()
        .unwrap();
    e.apply(&set(
        "sim-0",
        json!({"name": "main", "image": "db:1",
               "volumeMounts": [{"name": "data", "mountPath": "/var/lib/db"}]}),
    ))
    .unwrap();
    eventually(10, "db-0 ready", || ready(&e, "db-0").is_some());
    let first = ready(&e, "db-0").unwrap();
    let claims = e.api::<PersistentVolumeClaim>().namespace("default");
    let claim_uid = claims.get("data-db-0").unwrap().metadata.uid.clone();

    // A crash restarts the container in place: same pod, same claim.
    assert!(e.kubelet().simulated().crash("default", "db-0", "main", 1));
    eventually(10, "restarted in place", || {
        ready(&e, "db-0")
            .is_some_and(|p| p.status.as_ref().unwrap().container_statuses[0].restart_count == 1)
    });
    assert_eq!(ready(&e, "db-0").unwrap().metadata.uid, first.metadata.uid);

    // A deleted pod is re-created with the same name and mounts the same claim.
    e.api::<Pod>()
        .namespace("default")
        .delete("db-0", &Default::default())
        .unwrap();
    eventually(10, "a new db-0", || {
        ready(&e, "db-0").is_some_and(|p| p.metadata.uid != first.metadata.uid)
    });
    let second = ready(&e, "db-0").unwrap();
    assert_eq!(claim_of(&second), "data-db-0");
    assert_eq!(claims.get("data-db-0").unwrap().metadata.uid, claim_uid);
}

#[cfg(unix)]
#[test]
fn a_replaced_process_finds_what_its_predecessor_wrote_in_its_claim_directory() {
    let dir = std::env::temp_dir().join(format!("steady-sts-claims-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let e = Engine::builder()
        .clock(Arc::new(ManualClock::default()))
        .local_node(false)
        .node(steady::node::NodeConfig::local_named("local-1"))
        .data_dir(&dir)
        .build()
        .unwrap();
    // Appends a line naming its pod uid to a file in its claim directory (also its working
    // directory), then sleeps.
    e.apply(&set(
        "local-1",
        json!({"name": "main",
               "command": ["sh", "-c",
                   "echo \"$POD_UID\" >> \"$STEADY_VOLUME_DATA/log\"; echo \"$PWD\" > where; exec sleep 1000"],
               "volumeMounts": [{"name": "data", "mountPath": "/var/lib/db"}]}),
    ))
    .unwrap();
    let file = dir.join("claims/default/data-db-0/log");
    let uid = |e: &Engine| ready(e, "db-0").map(|p| p.metadata.uid.clone().unwrap());
    let lines = || -> Vec<String> {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        text.lines().map(str::to_string).collect()
    };
    eventually(20, "db-0 ready and its line written", || {
        uid(&e).is_some() && lines().len() == 1
    });
    let first = uid(&e).unwrap();
    assert_eq!(lines(), std::slice::from_ref(&first));
    let pwd = std::fs::read_to_string(dir.join("claims/default/data-db-0/where")).unwrap();
    assert!(
        pwd.trim_end().ends_with("claims/default/data-db-0"),
        "{pwd}"
    );

    e.api::<Pod>()
        .namespace("default")
        .delete("db-0", &Default::default())
        .unwrap();
    eventually(20, "the replacement ready and its line appended", || {
        uid(&e).is_some_and(|u| u != first) && lines().len() == 2
    });
    let second = uid(&e).unwrap();
    assert_eq!(lines(), [first, second], "the earlier line is kept");
    e.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
