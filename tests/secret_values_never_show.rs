//! A Secret's values never show outside the containers that use them: not in the engine's
//! log, nor in Events, pod statuses, errors, `Debug` output, or what the `steady` command
//! prints. The Secret is used in every way (env, envFrom, volume, projected), including
//! failing ways (a missing key, bad base64), and each is checked for both the plain value
//! and its base64 form.
#![cfg(unix)]

mod common;

use common::eventually;
use parking_lot::Mutex;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use steady::api::{Event, Object, Pod, Secret};
use steady::clock::ManualClock;
use steady::node::{KubeletConfig, WorkerContext};

const NODE: &str = common::LOCAL_NODE;
const VALUE: &str = "pa55-w0rd-never-shown";
const BAD_VALUE: &str = "bm90LWEtdmFsaWQtYmFzZTY0!!";

/// Every log record of this test binary, formatted.
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        LOG.lock().push(format!(
            "{} {}: {}",
            record.level(),
            record.target(),
            record.args()
        ));
    }
    fn flush(&self) {}
}

/// The forms in which the secret could leak.
fn forms() -> Vec<String> {
    vec![
        VALUE.to_string(),
        steady::api::base64::encode(VALUE.as_bytes()),
        BAD_VALUE.to_string(),
    ]
}

fn assert_hidden(what: &str, text: &str) {
    for f in forms() {
        assert!(
            !text.contains(&f),
            "{what} shows a secret value {f:?}:\n{text}"
        );
    }
}

#[test]
fn secret_values_are_absent_from_logs_events_statuses_errors_and_debug() {
    let _ = log::set_logger(&Capture);
    log::set_max_level(log::LevelFilter::Trace);
    let clock = Arc::new(ManualClock::default());
    let dir = std::env::temp_dir().join(format!("steady-test-{}-secrets", std::process::id()));
    let e = common::on_local_node(&clock)
        .kubelet(KubeletConfig {
            data_dir: Some(dir.clone()),
            ..Default::default()
        })
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(None::<String>));
    let s = seen.clone();
    e.register_worker("uses-secret", move |ctx: &WorkerContext| {
        *s.lock() = ctx.env_var("PASSWORD").map(str::to_string);
        log::info!("worker context: {ctx:?}");
        ctx.ready();
        ctx.wait_stop(Duration::from_secs(600));
        Ok(())
    });

    // Bad base64: refused, naming the key and not the value; nothing stored.
    let bad = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\n\
         data: {{password: {BAD_VALUE:?}, user: YWRtaW4=}}\n"
    );
    let err = e.apply(&bad).unwrap_err();
    assert!(err.to_string().contains("data[password]"), "{err}");
    assert_hidden("the apply error", &err.to_string());
    assert_hidden("the apply error's Debug", &format!("{err:?}"));
    assert!(e
        .api::<Secret>()
        .namespace("default")
        .get_opt("creds")
        .unwrap()
        .is_none());

    // A value of the wrong type: the decode error does not quote it either.
    let err = e
        .apply("apiVersion: v1\nkind: Secret\nmetadata: {name: num}\ndata: {pin: 4815162342}\n")
        .unwrap_err();
    assert!(!err.to_string().contains("4815162342"), "{err}");

    e.apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\n\
         stringData: {{password: {VALUE:?}, 'bad key!': x}}\n"
    ))
    .unwrap_err();
    e.apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\n\
         stringData: {{password: {VALUE:?}, 9lives: {VALUE:?}}}\n"
    ))
    .unwrap();
    let secret = e.api::<Secret>().namespace("default").get("creds").unwrap();
    assert_hidden("the Secret's Debug", &format!("{secret:?}"));

    // In use every way, and failing in some.
    let pod = |name: &str, env: serde_json::Value, volumes: serde_json::Value| {
        json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": NODE, "containers": [{"name": "main", "image": "uses-secret",
                "env": env, "envFrom": [{"secretRef": {"name": "creds"}}],
                "volumeMounts": [{"name": "s", "mountPath": "/s"}, {"name": "p", "mountPath": "/p"}]}],
                "volumes": volumes}
        })
        .to_string()
    };
    let volumes = |key: &str| {
        json!([
            {"name": "s", "secret": {"secretName": "creds"}},
            {"name": "p", "projected": {"sources": [{"secret": {"name": "creds",
                "items": [{"key": key, "path": "pw"}]}}]}}
        ])
    };
    e.apply(&pod(
        "good",
        json!([{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}]),
        volumes("password"),
    ))
    .unwrap();
    e.apply(&pod(
        "missing-key",
        json!([{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "nope"}}}]),
        volumes("password"),
    ))
    .unwrap();
    e.apply(&pod("missing-item", json!([]), volumes("nope")))
        .unwrap();
    eventually(10, "the good pod's worker read its password", || {
        seen.lock().as_deref() == Some(VALUE)
    });
    let waiting = |name: &str| {
        let p = e.api::<Pod>().namespace("default").get(name).unwrap();
        let c = p.status.as_ref()?.container_statuses.first()?.clone();
        c.state?.waiting?.message
    };
    eventually(10, "the failing pods wait", || {
        waiting("missing-key").is_some_and(|m| m.contains("couldn't find key nope"))
            && waiting("missing-item").is_some_and(|m| m.contains("non-existent secret key: nope"))
    });
    // A change of the Secret rewrites the volumes: more code paths.
    e.apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\n\
         stringData: {{password: {VALUE:?}, extra: {VALUE:?}}}\n"
    ))
    .unwrap();
    let uid = e
        .api::<Pod>()
        .namespace("default")
        .get("good")
        .unwrap()
        .metadata
        .uid
        .clone()
        .unwrap();
    let extra = dir.join("pods").join(uid).join("volumes/s/extra");
    eventually(10, "the volume rewritten", || {
        std::fs::read(&extra).is_ok_and(|b| b == VALUE.as_bytes())
    });

    // Nowhere outside the containers.
    let store = e.store();
    let events = steady::client::Api::<Event>::all(store.clone())
        .list(&Default::default())
        .unwrap();
    assert!(
        events
            .items
            .iter()
            .any(|ev| ev.reason.as_deref() == Some("InvalidEnvironmentVariableNames")),
        "the skipped key 9lives is reported"
    );
    for ev in &events.items {
        assert_hidden("an Event", &serde_json::to_string(&ev.to_value()).unwrap());
    }
    for p in e.api::<Pod>().list(&Default::default()).unwrap().items {
        assert_hidden("a pod", &serde_json::to_string(&p.to_value()).unwrap());
        assert_hidden("a pod's Debug", &format!("{p:?}"));
    }
    assert_hidden("the log", &LOG.lock().join("\n"));
    assert!(
        LOG.lock().iter().any(|l| l.contains("worker context")),
        "the capture works"
    );
    drop(e);
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(all(feature = "cli", target_os = "linux"))]
#[test]
fn the_steady_command_never_prints_a_secret_value() {
    let dir = std::env::temp_dir().join(format!("steady-test-{}-secret-cli", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\ndata:\n  password: {BAD_VALUE:?}\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_steady"))
        .args(["validate", &bad.display().to_string()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success());
    assert!(text.contains("data[password]"), "{text}");
    assert_hidden("steady validate", &text);

    let good = dir.join("good.yaml");
    std::fs::write(
        &good,
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\nstringData: {{password: {VALUE:?}}}\n\
             ---\napiVersion: v1\nkind: Pod\nmetadata: {{name: app}}\nspec:\n  nodeName: {node}\n  \
             containers:\n  - name: main\n    command: [sleep, '30']\n    env:\n    \
             - {{name: PW, valueFrom: {{secretKeyRef: {{name: creds, key: password}}}}}}\n    \
             - {{name: NOPE, valueFrom: {{secretKeyRef: {{name: creds, key: nope}}}}}}\n",
            node = steady::node::host::hostname()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_steady"))
        .args(["run", "--for", "2s", &good.display().to_string()])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("CreateContainerConfigError"), "{text}");
    assert!(
        !text.contains("warning"),
        "stringData is implemented: {text}"
    );
    assert_hidden("steady run", &text);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_last_applied_configuration_of_a_secret_keeps_keys_not_values_and_still_merges() {
    let e = common::engine();
    let secret =
        |data: &str| format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\n{data}\n");
    e.apply(&secret(&format!("stringData: {{a: {VALUE:?}, b: two}}")))
        .unwrap();
    let s = e.api::<Secret>().namespace("default").get("s").unwrap();
    let last = &s.metadata.annotations[steady::client::LAST_APPLIED_ANNOTATION];
    assert_hidden("the last-applied annotation", last);
    assert!(last.contains("\"a\"") && last.contains("\"b\""), "{last}");

    // Applying data without b removes b (it was applied before); a's new value is taken.
    e.apply(&secret("data: {a: bmV3}")).unwrap();
    e.apply(&secret("data: {a: bmV3, c: Yw==}")).unwrap();
    e.apply(&secret("data: {a: bmV3}")).unwrap();
    let s = e.api::<Secret>().namespace("default").get("s").unwrap();
    let keys: Vec<&str> = s.data.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec!["a", "b"],
        "b came from stringData, c was applied then dropped"
    );
    assert_eq!(s.decoded("a").unwrap().unwrap(), b"new");
    let rv = s.metadata.resource_version.clone();
    e.apply(&secret("data: {a: bmV3}")).unwrap();
    let s = e.api::<Secret>().namespace("default").get("s").unwrap();
    assert_eq!(
        s.metadata.resource_version, rv,
        "re-applying changes nothing"
    );
}
