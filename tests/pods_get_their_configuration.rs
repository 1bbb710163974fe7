//! Configuration reaches the pods: ConfigMaps, Secrets and the downward API as environment
//! variables of real processes and in-process workers; a container held back while what it
//! needs is missing, and started once it appears. A manual clock that never moves proves
//! that what wakes a held-back pod is the ConfigMap's (or Secret's, or claim's) arrival, not
//! a retry.
#![cfg(unix)]

mod common;

use common::eventually;
use parking_lot::Mutex;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use steady::api::{Event, Pod};
use steady::clock::ManualClock;
use steady::node::{NodeConfig, WorkerContext};
use steady::Engine;

const NODE: &str = common::LOCAL_NODE;

fn get(e: &Engine, name: &str) -> Option<Arc<Pod>> {
    e.api::<Pod>().namespace("default").get_opt(name).unwrap()
}

/// (reason, message) of the first container's waiting state.
fn waiting(e: &Engine, name: &str) -> Option<(String, String)> {
    let p = get(e, name)?;
    let c = p.status.as_ref()?.container_statuses.first()?.clone();
    let w = c.state?.waiting?;
    Some((w.reason.unwrap_or_default(), w.message.unwrap_or_default()))
}

fn running(e: &Engine, name: &str) -> bool {
    get(e, name).is_some_and(|p| {
        p.status.as_ref().is_some_and(|s| {
            s.container_statuses
                .first()
                .is_some_and(|c| c.state.as_ref().is_some_and(|st| st.running.is_some()))
        })
    })
}

const CONFIG: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data:
  db-url: postgres://db:5432/app
  LOG_LEVEL: debug
  1starts-with-digit: skipped
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData:
  password: s3cret
  API_TOKEN: tok-123
"#;

/// The env of a container using every kind of source.
fn env_spec() -> serde_json::Value {
    json!({
        "envFrom": [
            {"configMapRef": {"name": "app-config"}},
            {"prefix": "CREDS_", "secretRef": {"name": "creds"}},
            {"configMapRef": {"name": "absent", "optional": true}}
        ],
        "env": [
            {"name": "DB_URL", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "db-url"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "GREETING", "value": "hello $(POD_NAME) using $(DB_URL), $$(DB_URL) $(UNDEFINED)"},
            {"name": "MY_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "MY_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "MY_APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "MY_NOTE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['note']"}}},
            {"name": "MY_SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
            {"name": "MY_HOST_IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIPs"}}},
            {"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "MEM_LIMIT_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "CPU_REQUEST_M", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
            {"name": "CPU_REQUEST", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}},
            {"name": "CPU_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {"name": "OPTIONAL", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "nope", "optional": true}}}
        ],
        "resources": {"requests": {"cpu": "250m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}}
    })
}

fn pod_with(name: &str, mut container: serde_json::Value) -> String {
    for (k, v) in env_spec().as_object().unwrap() {
        container[k] = v.clone();
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "shop"}, "annotations": {"note": "hi there"}},
        "spec": {"nodeName": NODE, "restartPolicy": "Never", "containers": [container]}
    })
    .to_string()
}

/// What every container of `pod_with` must see.
fn expected(e: &Engine, pod: &str) -> Vec<(&'static str, String)> {
    let ip = get(e, pod)
        .unwrap()
        .status
        .as_ref()
        .unwrap()
        .pod_ip
        .clone()
        .unwrap();
    let cores = (NodeConfig::local_named(NODE).cpu_millis + 999) / 1000;
    vec![
        ("DB_URL", "postgres://db:5432/app".into()),
        ("db-url", "postgres://db:5432/app".into()),
        ("PASSWORD", "s3cret".into()),
        ("CREDS_password", "s3cret".into()),
        ("CREDS_API_TOKEN", "tok-123".into()),
        // env after envFrom wins.
        ("LOG_LEVEL", "info".into()),
        (
            "GREETING",
            format!("hello {pod} using postgres://db:5432/app, $(DB_URL) $(UNDEFINED)"),
        ),
        ("MY_NODE", NODE.into()),
        ("MY_NAMESPACE", "default".into()),
        ("MY_APP", "shop".into()),
        ("MY_NOTE", "hi there".into()),
        ("MY_SA", "default".into()),
        ("MY_HOST_IPS", "127.0.0.1".into()),
        ("MY_POD_IP", ip),
        ("MEM_LIMIT_MI", "64".into()),
        ("CPU_REQUEST_M", "250".into()),
        ("CPU_REQUEST", "1".into()),
        ("CPU_LIMIT", cores.to_string()),
    ]
}

const NEVER_SET: &[&str] = &["OPTIONAL", "1starts-with-digit"];

#[test]
fn env_from_configmaps_secrets_and_the_downward_api_reaches_a_process() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    e.apply(CONFIG).unwrap();
    e.apply(&pod_with(
        "proc",
        // `env` itself, not a shell: shells drop variables such as `db-url` whose names
        // they cannot use.
        json!({"name": "main", "command": ["env"]}),
    ))
    .unwrap();
    eventually(10, "the process printed its environment and exited", || {
        get(&e, "proc").is_some_and(|p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.phase.as_deref() == Some("Succeeded"))
        })
    });
    // The instance that ended is the previous one.
    let out = e.logs("default", "proc", None, true).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    for (k, v) in expected(&e, "proc") {
        let line = format!("{k}={v}");
        assert!(
            lines.contains(&line.as_str()),
            "missing {line:?} in:\n{out}"
        );
    }
    for k in NEVER_SET {
        assert!(
            !lines.iter().any(|l| l.starts_with(&format!("{k}="))),
            "{k} set in:\n{out}"
        );
    }
    // The skipped key is reported on the pod, by name.
    let pod = get(&e, "proc").unwrap();
    eventually(10, "an event naming the skipped key", || {
        steady::client::events::events_for(e.store(), pod.as_ref())
            .unwrap()
            .iter()
            .any(|ev: &Arc<Event>| {
                ev.reason.as_deref() == Some("InvalidEnvironmentVariableNames")
                    && ev
                        .message
                        .as_deref()
                        .is_some_and(|m| m.contains("[1starts-with-digit]"))
            })
    });
}

#[test]
fn env_from_configmaps_secrets_and_the_downward_api_reaches_a_worker() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    let seen: Arc<Mutex<HashMap<String, Option<String>>>> = Arc::default();
    let s = seen.clone();
    e.register_worker("env-reader", move |ctx: &WorkerContext| {
        let mut names: Vec<&str> = NEVER_SET.to_vec();
        names.extend([
            "DB_URL",
            "db-url",
            "PASSWORD",
            "CREDS_password",
            "CREDS_API_TOKEN",
            "LOG_LEVEL",
            "GREETING",
            "MY_NODE",
            "MY_NAMESPACE",
            "MY_APP",
            "MY_NOTE",
            "MY_SA",
            "MY_HOST_IPS",
            "MY_POD_IP",
            "MEM_LIMIT_MI",
            "CPU_REQUEST_M",
            "CPU_REQUEST",
            "CPU_LIMIT",
        ]);
        let mut seen = s.lock();
        for n in names {
            seen.insert(n.to_string(), ctx.env_var(n).map(str::to_string));
        }
        drop(seen);
        ctx.ready();
        ctx.wait_stop(Duration::from_secs(600));
        Ok(())
    });
    e.apply(CONFIG).unwrap();
    e.apply(&pod_with(
        "worker",
        json!({"name": "main", "image": "env-reader"}),
    ))
    .unwrap();
    eventually(10, "the worker read its environment", || {
        seen.lock().len() > NEVER_SET.len() && running(&e, "worker")
    });
    let seen = seen.lock().clone();
    for (k, v) in expected(&e, "worker") {
        assert_eq!(seen[k].as_deref(), Some(v.as_str()), "{k}");
    }
    for k in NEVER_SET {
        assert_eq!(seen[*k], None, "{k}");
    }
}

#[test]
fn a_container_waits_for_a_missing_configmap_and_key_and_starts_when_they_appear() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    let runs = Arc::new(Mutex::new(Vec::new()));
    let r = runs.clone();
    e.register_worker("needs-config", move |ctx: &WorkerContext| {
        r.lock().push((
            ctx.env_var("DB_URL").map(str::to_string),
            ctx.env_var("PASSWORD").map(str::to_string),
        ));
        ctx.ready();
        ctx.wait_stop(Duration::from_secs(600));
        Ok(())
    });
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"},
        "spec": {"nodeName": NODE, "containers": [{"name": "main", "image": "needs-config", "env": [
            {"name": "DB_URL", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "db-url"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}
        ]}]}
    });
    e.apply(&pod.to_string()).unwrap();
    let blocked = |msg: &'static str| {
        let e = &e;
        move || waiting(e, "app") == Some(("CreateContainerConfigError".into(), msg.into()))
    };
    eventually(
        10,
        "held back by the missing ConfigMap",
        blocked(r#"configmap "app-config" not found"#),
    );
    // And a Warning Failed event says so, as the kubelet's does.
    let pod = e.api::<Pod>().get("app").unwrap();
    let events = steady::client::events::events_for(e.store(), pod.as_ref()).unwrap();
    assert!(
        events
            .iter()
            .any(|ev| ev.reason.as_deref() == Some("Failed")
                && ev.message.as_deref() == Some(r#"Error: configmap "app-config" not found"#)),
        "{events:#?}"
    );

    e.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-config}\ndata: {other: x}\n")
        .unwrap();
    eventually(
        10,
        "held back by the missing key",
        blocked("couldn't find key db-url in ConfigMap default/app-config"),
    );

    e.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-config}\ndata: {db-url: 'postgres://db'}\n")
        .unwrap();
    eventually(
        10,
        "held back by the missing Secret",
        blocked(r#"secret "creds" not found"#),
    );

    e.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\ndata: {user: YWRtaW4=}\n")
        .unwrap();
    eventually(
        10,
        "held back by the missing Secret key",
        blocked("couldn't find key password in Secret default/creds"),
    );
    assert!(runs.lock().is_empty(), "started with a missing variable");

    e.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {password: pw}\n")
        .unwrap();
    eventually(10, "started once everything is there", || {
        running(&e, "app") && !runs.lock().is_empty()
    });
    assert_eq!(
        *runs.lock(),
        vec![(Some("postgres://db".to_string()), Some("pw".to_string()))]
    );
}

#[test]
fn a_pod_waits_for_a_missing_claim_instead_of_starting_on_an_empty_directory() {
    // The manual clock never moves: what starts the pod is the claim's creation.
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    let runs = Arc::new(Mutex::new(Vec::new()));
    let r = runs.clone();
    e.register_worker("uses-claim", move |ctx: &WorkerContext| {
        r.lock()
            .push(ctx.env_var("STEADY_VOLUME_DATA").map(str::to_string));
        ctx.ready();
        ctx.wait_stop(Duration::from_secs(600));
        Ok(())
    });
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db"},
        "spec": {"nodeName": NODE,
                 "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "db-data"}}],
                 "containers": [{"name": "main", "image": "uses-claim",
                                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}
    });
    e.apply(&pod.to_string()).unwrap();
    eventually(10, "held back by the missing claim", || {
        waiting(&e, "db")
            == Some((
                "CreateContainerConfigError".into(),
                r#"persistentvolumeclaim "db-data" not found"#.into(),
            ))
    });
    assert!(runs.lock().is_empty(), "started without its claim");

    e.apply(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: db-data}\n\
         spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n",
    )
    .unwrap();
    eventually(10, "started once the claim exists", || {
        running(&e, "db") && !runs.lock().is_empty()
    });
    let dir = runs.lock()[0].clone().expect("the claim's directory");
    assert!(dir.ends_with("claims/default/db-data"), "{dir}");
}

#[test]
fn run_as_non_root_is_refused_when_the_engine_runs_as_root() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    e.register_worker("anyone", |ctx: &WorkerContext| {
        ctx.ready();
        ctx.wait_stop(Duration::from_secs(600));
        Ok(())
    });
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "guarded"},
        "spec": {"nodeName": NODE, "securityContext": {"runAsNonRoot": true},
                 "containers": [{"name": "main", "image": "anyone"}]}
    });
    e.apply(&pod.to_string()).unwrap();
    // Every container runs as the engine's user: root breaks the promise, anyone else keeps it.
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        .unwrap();
    if root {
        eventually(10, "refused, as the kubelet refuses it", || {
            waiting(&e, "guarded").is_some_and(|(reason, message)| {
                reason == "CreateContainerConfigError"
                    && message.starts_with("container has runAsNonRoot and image will run as root")
            })
        });
    } else {
        eventually(10, "running as the engine's (non-root) user", || {
            running(&e, "guarded")
        });
    }
}

#[test]
fn the_configuration_example_runs_and_follows_its_configmap() {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    let manifest = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/configuration/app.yaml"
    ))
    .unwrap();
    let report = e.apply(&manifest).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let logs = || {
        e.logs("default", "configured", None, false)
            .unwrap_or_default()
    };
    eventually(20, "the example's greeting and config", || {
        logs().contains("app.conf: mode=fast workers=4\n")
    });
    let out = logs();
    assert!(
        out.starts_with(
            "hello from configured as app, password of 9 characters\n\
             secret files: password\nusername\napp.conf: mode=fast workers=4\n"
        ),
        "{out}"
    );
    let mut p = get(&e, "configured").unwrap();
    assert_eq!(p.spec.node_name.as_deref(), Some(NODE), "scheduled");
    // A new version of app.conf reaches the running process.
    e.apply(&manifest.replace("mode=fast", "mode=safe"))
        .unwrap();
    eventually(20, "the new app.conf", || {
        logs().ends_with("app.conf: mode=fast workers=4\napp.conf: mode=safe workers=4\n")
    });
    p = get(&e, "configured").unwrap();
    let restarts = p.status.as_ref().unwrap().container_statuses[0].restart_count;
    assert_eq!(restarts, 0, "updated in place, not restarted");
}
