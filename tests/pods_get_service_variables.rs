//! Containers get Kubernetes' Service environment variables (`WEB_SERVICE_HOST`,
//! `WEB_SERVICE_PORT`, `WEB_PORT_80_TCP...`) for the Services of their namespace that exist
//! when they start, before their own `env` (which overrides them and can name them in
//! `$(VAR)`); none with `enableServiceLinks: false`, none for headless Services, none from
//! other namespaces. A manual clock that never moves: nothing here waits on time.
#![cfg(unix)]

mod common;

use common::eventually;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use steady::api::Service;
use steady::clock::ManualClock;
use steady::node::WorkerContext;
use steady::Engine;

type Seen = Arc<Mutex<HashMap<String, HashMap<String, String>>>>;

/// An engine with a worker `env-reader` that records each pod's environment.
fn engine() -> (Engine, Seen) {
    let clock = Arc::new(ManualClock::default());
    let e = common::local_engine(&clock);
    let seen: Seen = Arc::default();
    let s = seen.clone();
    e.register_worker("env-reader", move |ctx: &WorkerContext| {
        let env: HashMap<String, String> = ctx.env().iter().cloned().collect();
        s.lock().insert(ctx.pod_name().to_string(), env);
        ctx.ready();
        ctx.wait_stop(Duration::from_secs(600));
        Ok(())
    });
    (e, seen)
}

const SERVICES: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web-front}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: admin, port: 9000}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: v1
kind: Service
metadata: {name: elsewhere, namespace: other}
spec:
  selector: {app: x}
  ports: [{port: 81}]
"#;

fn pod(name: &str, links: Option<bool>) -> String {
    let links = links.map_or(String::new(), |l| format!("enableServiceLinks: {l}"));
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  {links}
  containers:
  - name: main
    image: env-reader
    env:
    - {{name: FRONT, value: "$(WEB_FRONT_SERVICE_HOST):$(WEB_FRONT_SERVICE_PORT)"}}
    - {{name: WEB_FRONT_SERVICE_PORT_ADMIN, value: overridden}}
"#
    )
}

fn env_of(seen: &Seen, pod: &str) -> HashMap<String, String> {
    eventually(20, &format!("{pod} read its environment"), || {
        seen.lock().contains_key(pod)
    });
    seen.lock()[pod].clone()
}

#[test]
fn a_container_gets_the_variables_of_the_services_of_its_namespace() {
    let (e, seen) = engine();
    e.apply(SERVICES).unwrap();
    let ip = e
        .api::<Service>()
        .namespace("default")
        .get("web-front")
        .unwrap()
        .spec
        .cluster_ip
        .clone()
        .unwrap();
    e.apply(&pod("linked", None)).unwrap();
    let env = env_of(&seen, "linked");
    let want = [
        ("WEB_FRONT_SERVICE_HOST", ip.clone()),
        ("WEB_FRONT_SERVICE_PORT", "80".into()),
        ("WEB_FRONT_SERVICE_PORT_HTTP", "80".into()),
        ("WEB_FRONT_PORT", format!("tcp://{ip}:80")),
        ("WEB_FRONT_PORT_80_TCP", format!("tcp://{ip}:80")),
        ("WEB_FRONT_PORT_80_TCP_PROTO", "tcp".into()),
        ("WEB_FRONT_PORT_80_TCP_PORT", "80".into()),
        ("WEB_FRONT_PORT_80_TCP_ADDR", ip.clone()),
        ("WEB_FRONT_PORT_9000_TCP", format!("tcp://{ip}:9000")),
        // The container's own env wins, and can name the Service's variables.
        ("WEB_FRONT_SERVICE_PORT_ADMIN", "overridden".into()),
        ("FRONT", format!("{ip}:80")),
    ];
    for (k, v) in want {
        assert_eq!(env.get(k), Some(&v), "{k}");
    }
    // Headless Services and Services of other namespaces give none.
    assert!(
        !env.keys()
            .any(|k| k.starts_with("DB_") || k.starts_with("ELSEWHERE_")),
        "{env:?}"
    );
}

#[test]
fn enable_service_links_false_leaves_them_out() {
    let (e, seen) = engine();
    e.apply(SERVICES).unwrap();
    e.apply(&pod("unlinked", Some(false))).unwrap();
    let env = env_of(&seen, "unlinked");
    assert!(!env.contains_key("WEB_FRONT_SERVICE_HOST"), "{env:?}");
    assert!(!env.contains_key("WEB_FRONT_PORT"), "{env:?}");
    // A reference to a variable that is not there stays as written, as in Kubernetes.
    assert_eq!(
        env["FRONT"],
        "$(WEB_FRONT_SERVICE_HOST):$(WEB_FRONT_SERVICE_PORT)"
    );
}

#[test]
fn the_kubernetes_service_of_the_default_namespace_is_always_there() {
    let (e, seen) = engine();
    e.apply(
        "apiVersion: v1\nkind: Service\nmetadata: {name: kubernetes}\n\
         spec: {ports: [{name: https, port: 443}]}\n---\n\
         apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n",
    )
    .unwrap();
    let ip = e
        .api::<Service>()
        .namespace("default")
        .get("kubernetes")
        .unwrap()
        .spec
        .cluster_ip
        .clone()
        .unwrap();
    e.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: apps}\n\
         spec: {enableServiceLinks: false, containers: [{name: main, image: env-reader}]}\n",
    )
    .unwrap();
    let env = env_of(&seen, "p");
    assert_eq!(env.get("KUBERNETES_SERVICE_HOST"), Some(&ip));
    assert_eq!(
        env.get("KUBERNETES_SERVICE_PORT_HTTPS").map(String::as_str),
        Some("443")
    );
}

#[test]
fn a_process_sees_them_in_its_environment() {
    let (e, _) = engine();
    e.apply(SERVICES).unwrap();
    e.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: proc}
spec:
  containers:
  - name: main
    command: [sh, -c, 'echo "front=$WEB_FRONT_SERVICE_HOST:$WEB_FRONT_SERVICE_PORT"; sleep 600']
"#,
    )
    .unwrap();
    let ip = e
        .api::<Service>()
        .namespace("default")
        .get("web-front")
        .unwrap()
        .spec
        .cluster_ip
        .clone()
        .unwrap();
    let want = format!("front={ip}:80");
    eventually(20, "the process printed the service address", || {
        e.logs("default", "proc", None, false)
            .is_ok_and(|l| l.contains(&want))
    });
}
