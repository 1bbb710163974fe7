//! A process sees its volumes at their `mountPath` (and `subPath`, `readOnly`) when the
//! engine may give it a private mount namespace (Linux, root), and the host does not see
//! those mounts; otherwise (or when turned off) the volumes are only where
//! `STEADY_VOLUME_<NAME>` says. Either way the pod's events say which.
#![cfg(target_os = "linux")]

mod common;

use common::eventually;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use steady::api::{Event, Pod};
use steady::clock::ManualClock;
use steady::node::KubeletConfig;
use steady::Engine;

const NODE: &str = common::LOCAL_NODE;

fn engine(clock: &Arc<ManualClock>, mount_namespaces: bool) -> Engine {
    common::on_local_node(clock)
        .kubelet(KubeletConfig {
            mount_namespaces,
            ..Default::default()
        })
        .build()
        .unwrap()
}

/// A directory of the host under which the test's mountPaths lie (created mount points
/// land there, not in /etc).
fn root(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("steady-mnt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn events(e: &Engine, name: &str) -> Vec<Arc<Event>> {
    let pod = e.api::<Pod>().namespace("default").get(name).unwrap();
    steady::client::events::events_for(e.store(), pod.as_ref()).unwrap()
}

fn has_event(e: &Engine, name: &str, reason: &str) -> bool {
    events(e, name)
        .iter()
        .any(|ev| ev.reason.as_deref() == Some(reason))
}

fn ready(e: &Engine, name: &str) -> bool {
    let pod = e.api::<Pod>().namespace("default").get(name).unwrap();
    pod.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

fn apply_pod(e: &Engine, name: &str, root: &std::path::Path, script: &str) {
    e.apply(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {app.conf: v1, other: x}\n",
    )
    .unwrap();
    e.apply(
        &json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": NODE, "containers": [{"name": "main",
                "command": ["sh", "-c", script],
                "env": [{"name": "ROOT", "value": root.display().to_string()}],
                // Runs where the container's volumes are: ready only if it sees the mount.
                "readinessProbe": {"exec": {"command": ["cat", format!("{}/etc/app/app.conf", root.display())]}},
                "volumeMounts": [
                    {"name": "config", "mountPath": format!("{}/etc/app", root.display()), "readOnly": true},
                    {"name": "config", "mountPath": format!("{}/single.conf", root.display()), "subPath": "app.conf"},
                    {"name": "scratch", "mountPath": format!("{}/scratch", root.display())}]}],
                "volumes": [{"name": "config", "configMap": {"name": "app"}},
                            {"name": "scratch", "emptyDir": {}}]}
        })
        .to_string(),
    )
    .unwrap();
}

const SCRIPT: &str = r#"
echo "dir: $(cat "$ROOT/etc/app/app.conf")"
echo "subpath: $(cat "$ROOT/single.conf")"
echo "env: $(cat "$STEADY_VOLUME_CONFIG/app.conf")"
if touch "$ROOT/etc/app/new" 2>/dev/null; then echo "read-only: no"; else echo "read-only: yes"; fi
echo hi > "$ROOT/scratch/file" && echo "scratch: $(cat "$STEADY_VOLUME_SCRATCH/file")"
last=
while :; do
  c=$(cat "$ROOT/etc/app/app.conf")
  if [ "$c" != "$last" ]; then echo "now: $c"; last=$c; fi
  sleep 0.05
done
"#;

#[test]
fn a_process_sees_its_volumes_at_their_mount_path_and_the_host_does_not() {
    let clock = Arc::new(ManualClock::default());
    let e = engine(&clock, true);
    let root = root("honoured");
    apply_pod(&e, "mounted", &root, SCRIPT);
    if !steady::node::mount_ns::available() {
        // Not privileged here: the fallback, said in the pod's events.
        eventually(10, "the fallback recorded", || {
            has_event(&e, "mounted", "VolumesNotAtMountPath")
        });
        return;
    }
    let logs = || {
        e.logs("default", "mounted", None, false)
            .unwrap_or_default()
    };
    eventually(10, "the process read its volumes", || {
        logs().contains("now: v1")
    });
    assert_eq!(
        logs(),
        "dir: v1\nsubpath: v1\nenv: v1\nread-only: yes\nscratch: hi\nnow: v1\n"
    );
    assert!(has_event(&e, "mounted", "VolumesAtMountPath"));
    eventually(
        10,
        "ready: the exec probe ran in the container's mount namespace",
        || ready(&e, "mounted"),
    );
    // The mounts are the process's own: the host sees empty mount points.
    let on_host = std::fs::read_dir(root.join("etc/app")).unwrap().count();
    assert_eq!(on_host, 0, "the bind mount leaked to the host");
    assert_eq!(std::fs::read(root.join("single.conf")).unwrap(), b"");
    // An update reaches the mountPath too (the ..data swap happens inside the mount).
    e.apply(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {app.conf: v2, other: x}\n",
    )
    .unwrap();
    eventually(10, "the new version at the mountPath", || {
        logs().ends_with("now: v1\nnow: v2\n")
    });
    // The mount points steady created on the host go with the last process using them.
    assert!(root.join("etc/app").is_dir());
    e.api::<Pod>()
        .namespace("default")
        .delete("mounted", &Default::default())
        .unwrap();
    eventually(10, "the mount points removed", || !root.exists());
}

#[test]
fn without_mount_namespaces_volumes_are_at_steady_volume_and_the_events_say_so() {
    let clock = Arc::new(ManualClock::default());
    let e = engine(&clock, false);
    let root = root("fallback");
    apply_pod(
        &e,
        "plain",
        &root,
        r#"echo "env: $(cat "$STEADY_VOLUME_CONFIG/app.conf")"; ls "$ROOT" >/dev/null 2>&1 || echo "no mountPath"; exec sleep 600"#,
    );
    let logs = || e.logs("default", "plain", None, false).unwrap_or_default();
    eventually(10, "the process read its volume", || {
        logs().contains("no mountPath")
    });
    assert_eq!(logs(), "env: v1\nno mountPath\n");
    let ev = events(&e, "plain");
    let ev = ev
        .iter()
        .find(|ev| ev.reason.as_deref() == Some("VolumesNotAtMountPath"))
        .expect("the fallback is in the pod's events");
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    assert!(
        ev.message.as_deref().unwrap().contains("config at "),
        "{:?}",
        ev.message
    );
    assert!(!has_event(&e, "plain", "VolumesAtMountPath"));
}
