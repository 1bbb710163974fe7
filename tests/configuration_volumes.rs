//! configMap, secret, downwardAPI and projected volumes become files, updated in place and
//! atomically when their source changes (a reader never sees half a file); an emptyDir goes
//! with its pod. The clock never moves: what rewrites a file is the source's change.
#![cfg(unix)]

mod common;

use common::eventually;
use parking_lot::Mutex;
use serde_json::json;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use steady::api::Pod;
use steady::clock::ManualClock;
use steady::node::{KubeletConfig, WorkerContext};
use steady::store::DeleteParams;
use steady::Engine;

const NODE: &str = common::LOCAL_NODE;

fn engine(clock: &Arc<ManualClock>, data_dir: &Path) -> Engine {
    common::on_local_node(clock)
        .kubelet(KubeletConfig {
            data_dir: Some(data_dir.to_path_buf()),
            ..Default::default()
        })
        .build()
        .unwrap()
}

fn get(e: &Engine, name: &str) -> Option<Arc<Pod>> {
    e.api::<Pod>().namespace("default").get_opt(name).unwrap()
}

/// A ConfigMap whose `app.conf` is 100 KiB of `letter`: a torn read shows two letters or
/// a short file.
fn config(letter: char) -> String {
    let body: String = std::iter::repeat_n(letter, 100 * 1024).collect();
    json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config"},
        "data": {"app.conf": body, "other": "x"}
    })
    .to_string()
}

/// The environment a worker saw, by name.
type Env = Arc<Mutex<Vec<(String, String)>>>;

#[test]
fn a_config_file_is_replaced_atomically_and_a_reader_sees_each_version_whole() {
    let clock = Arc::new(ManualClock::default());
    let dir = common::scratch("atomic");
    let e = engine(&clock, &dir);
    let seen: Arc<Mutex<BTreeSet<char>>> = Arc::default();
    let torn = Arc::new(AtomicUsize::new(0));
    let reads = Arc::new(AtomicUsize::new(0));
    let (s, t, r) = (seen.clone(), torn.clone(), reads.clone());
    e.register_worker("config-reader", move |ctx: &WorkerContext| {
        let path = PathBuf::from(ctx.env_var("STEADY_VOLUME_CONFIG").unwrap()).join("app.conf");
        ctx.ready();
        while !ctx.stopping() {
            let Ok(bytes) = std::fs::read(&path) else {
                t.fetch_add(1, Ordering::SeqCst);
                continue;
            };
            r.fetch_add(1, Ordering::SeqCst);
            let first = bytes.first().copied().unwrap_or(b'?');
            if bytes.len() != 100 * 1024 || bytes.iter().any(|b| *b != first) {
                t.fetch_add(1, Ordering::SeqCst);
            } else {
                s.lock().insert(first as char);
            }
        }
        Ok(())
    });
    e.apply(&config('a')).unwrap();
    e.apply(
        &json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader"},
            "spec": {"nodeName": NODE, "containers": [{"name": "main", "image": "config-reader",
                "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}]}],
                "volumes": [{"name": "config", "configMap": {"name": "app-config"}}]}
        })
        .to_string(),
    )
    .unwrap();
    eventually(10, "the first version read", || seen.lock().contains(&'a'));
    for letter in ['b', 'c', 'd', 'e', 'f'] {
        e.apply(&config(letter)).unwrap();
        eventually(10, "the new version read", || seen.lock().contains(&letter));
        // Keep reading across the swap's aftermath (old version removed).
        let n = reads.load(Ordering::SeqCst);
        eventually(10, "more reads", || reads.load(Ordering::SeqCst) > n + 20);
    }
    assert_eq!(
        torn.load(Ordering::SeqCst),
        0,
        "a reader saw a partial file"
    );

    // The layout: app.conf -> ..data/app.conf, ..data -> one timestamped version.
    let uid = get(&e, "reader").unwrap().metadata.uid.clone().unwrap();
    let vol = dir.join("pods").join(&uid).join("volumes").join("config");
    assert_eq!(
        std::fs::read_link(vol.join("app.conf")).unwrap(),
        Path::new("..data/app.conf")
    );
    let version = std::fs::read_link(vol.join("..data")).unwrap();
    assert!(version.to_string_lossy().starts_with("..20"), "{version:?}");
    let versions = std::fs::read_dir(&vol)
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name();
            n.to_string_lossy().starts_with("..20")
        })
        .count();
    assert_eq!(versions, 1, "old versions are removed");
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_process_reading_its_config_file_in_a_loop_sees_the_update() {
    let clock = Arc::new(ManualClock::default());
    let dir = common::scratch("process-reader");
    let e = engine(&clock, &dir);
    e.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags}\ndata: {mode: slow}\n")
        .unwrap();
    e.apply(
        &json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "loop"},
            "spec": {"nodeName": NODE, "containers": [{"name": "main",
                "command": ["sh", "-c", "last=; while :; do m=$(cat \"$STEADY_VOLUME_FLAGS/mode\"); \
                    if [ \"$m\" != \"$last\" ]; then echo \"mode=$m\"; last=$m; fi; sleep 0.01; done"],
                "volumeMounts": [{"name": "flags", "mountPath": "/etc/flags"}]}],
                "volumes": [{"name": "flags", "configMap": {"name": "flags"}}]}
        })
        .to_string(),
    )
    .unwrap();
    let logs = || e.logs("default", "loop", None, false).unwrap_or_default();
    eventually(10, "the first version", || logs().contains("mode=slow\n"));
    e.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags}\ndata: {mode: fast}\n")
        .unwrap();
    eventually(10, "the process sees the new version", || {
        logs().contains("mode=fast\n")
    });
    assert_eq!(logs(), "mode=slow\nmode=fast\n", "only whole versions");
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn secret_downward_api_and_projected_volumes_hold_their_files() {
    let clock = Arc::new(ManualClock::default());
    let dir = common::scratch("sources");
    let e = engine(&clock, &dir);
    let env: Env = Arc::default();
    let en = env.clone();
    e.register_worker("files", move |ctx: &WorkerContext| {
        *en.lock() = ctx.env().to_vec();
        ctx.ready();
        ctx.wait_stop(Duration::from_secs(600));
        Ok(())
    });
    e.apply(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: tls}\n\
         stringData: {tls.crt: CERT, tls.key: KEY}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {a: '1', b: '2'}\n\
         binaryData: {blob: AAEC}\n",
    )
    .unwrap();
    e.apply(
        &json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "files", "labels": {"tier": "web", "app": "shop"}},
            "spec": {"nodeName": NODE, "containers": [{"name": "main", "image": "files",
                "resources": {"limits": {"memory": "64Mi"}},
                "volumeMounts": [
                    {"name": "tls", "mountPath": "/tls"},
                    {"name": "info", "mountPath": "/info"},
                    {"name": "all", "mountPath": "/all"}]}],
                "volumes": [
                    {"name": "tls", "secret": {"secretName": "tls", "defaultMode": 0o400,
                        "items": [{"key": "tls.key", "path": "private/key.pem", "mode": 0o600},
                                  {"key": "tls.crt", "path": "cert.pem"}]}},
                    {"name": "info", "downwardAPI": {"items": [
                        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                        {"path": "mem", "resourceFieldRef": {"containerName": "main",
                            "resource": "limits.memory", "divisor": "1Mi"}}]}},
                    {"name": "all", "projected": {"sources": [
                        {"configMap": {"name": "app"}},
                        {"secret": {"name": "tls", "items": [{"key": "tls.crt", "path": "crt"}]}},
                        {"configMap": {"name": "gone", "optional": true}},
                        {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}
                ]}
        })
        .to_string(),
    )
    .unwrap();
    eventually(10, "the worker started", || !env.lock().is_empty());
    let var = |n: &str| {
        let env = env.lock();
        PathBuf::from(&env.iter().find(|(k, _)| k == n).unwrap().1)
    };
    let read = |p: PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
    let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let tls = var("STEADY_VOLUME_TLS");
    assert_eq!(read(tls.join("cert.pem")), b"CERT");
    assert_eq!(read(tls.join("private/key.pem")), b"KEY");
    assert_eq!(mode(tls.join("cert.pem")), 0o400);
    assert_eq!(mode(tls.join("private/key.pem")), 0o600);
    assert!(!tls.join("tls.crt").exists());
    let info = var("STEADY_VOLUME_INFO");
    assert_eq!(read(info.join("labels")), b"app=\"shop\"\ntier=\"web\"");
    assert_eq!(read(info.join("name")), b"files");
    assert_eq!(read(info.join("mem")), b"64");
    let all = var("STEADY_VOLUME_ALL");
    assert_eq!(read(all.join("a")), b"1");
    assert_eq!(read(all.join("blob")), [0u8, 1, 2]);
    assert_eq!(read(all.join("crt")), b"CERT");
    assert_eq!(read(all.join("ns")), b"default");

    // A label change reaches the downwardAPI file; a Secret change the secret files.
    e.api::<Pod>()
        .namespace("default")
        .patch("files", &json!({"metadata": {"labels": {"tier": "api"}}}))
        .unwrap();
    eventually(10, "labels rewritten", || {
        std::fs::read(info.join("labels")).is_ok_and(|b| b == b"app=\"shop\"\ntier=\"api\"")
    });
    e.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: tls}\nstringData: {tls.crt: NEW, tls.key: KEY}\n")
        .unwrap();
    eventually(10, "secret rewritten in both volumes", || {
        std::fs::read(tls.join("cert.pem")).is_ok_and(|b| b == b"NEW")
            && std::fs::read(all.join("crt")).is_ok_and(|b| b == b"NEW")
    });
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_configmap_volume_holds_the_container_back_until_it_appears() {
    let clock = Arc::new(ManualClock::default());
    let dir = common::scratch("missing-volume");
    let e = engine(&clock, &dir);
    let started = Arc::new(AtomicBool::new(false));
    let st = started.clone();
    e.register_worker("mounted", move |ctx: &WorkerContext| {
        st.store(true, Ordering::SeqCst);
        ctx.ready();
        ctx.wait_stop(Duration::from_secs(600));
        Ok(())
    });
    e.apply(
        &json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "m"},
            "spec": {"nodeName": NODE, "containers": [{"name": "main", "image": "mounted",
                "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}]}],
                "volumes": [{"name": "config", "configMap": {"name": "later",
                    "items": [{"key": "k", "path": "k.txt"}]}}]}
        })
        .to_string(),
    )
    .unwrap();
    let waiting = || {
        get(&e, "m")
            .and_then(|p| {
                let c = p.status.as_ref()?.container_statuses.first()?.clone();
                let w = c.state?.waiting?;
                Some((w.reason?, w.message.unwrap_or_default()))
            })
            .unwrap_or_default()
    };
    eventually(10, "held back", || {
        waiting()
            == (
                "CreateContainerConfigError".to_string(),
                "MountVolume.SetUp failed for volume \"config\" : configmap \"later\" not found"
                    .to_string(),
            )
    });
    e.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: later}\ndata: {j: x}\n")
        .unwrap();
    eventually(10, "missing key named", || {
        waiting()
            .1
            .ends_with("configmap references non-existent config key: k")
    });
    assert!(!started.load(Ordering::SeqCst));
    e.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: later}\ndata: {k: x}\n")
        .unwrap();
    eventually(10, "started", || started.load(Ordering::SeqCst));
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_empty_dir_is_removed_when_its_pod_goes() {
    let clock = Arc::new(ManualClock::default());
    let dir = common::scratch("empty-dir");
    let e = engine(&clock, &dir);
    let path: Arc<Mutex<Option<PathBuf>>> = Arc::default();
    let p = path.clone();
    e.register_worker("scratcher", move |ctx: &WorkerContext| {
        let d = PathBuf::from(ctx.env_var("STEADY_VOLUME_SCRATCH").unwrap());
        std::fs::write(d.join("work.tmp"), b"data").unwrap();
        *p.lock() = Some(d);
        ctx.ready();
        ctx.wait_stop(Duration::from_secs(600));
        Ok(())
    });
    e.apply(
        &json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "s"},
            "spec": {"nodeName": NODE, "containers": [{"name": "main", "image": "scratcher",
                "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}],
                "volumes": [{"name": "scratch", "emptyDir": {}}]}
        })
        .to_string(),
    )
    .unwrap();
    eventually(10, "the worker wrote into its emptyDir", || {
        path.lock().is_some()
    });
    let scratch = path.lock().clone().unwrap();
    assert!(scratch.join("work.tmp").exists());
    assert!(scratch.starts_with(&dir));
    e.api::<Pod>()
        .namespace("default")
        .delete("s", &DeleteParams::default())
        .unwrap();
    eventually(10, "the pod is gone", || get(&e, "s").is_none());
    eventually(10, "its directory is gone", || !scratch.exists());
    let pod_dir = scratch.parent().unwrap().parent().unwrap();
    assert!(!pod_dir.exists(), "{pod_dir:?}");
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
}
