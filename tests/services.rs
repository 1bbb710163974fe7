//! Services: Endpoints follow pod readiness, and the resolver takes turns among ready pods.

mod common;

use common::eventually;
use dashmap::DashMap;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use steady::api::{Endpoints, Pod};
use steady::node::{NodeConfig, WorkerContext};
use steady::store::DeleteParams;
use steady::{Engine, Error};

const NODE: &str = "n1";

/// Workers whose readiness the test sets by pod name.
fn engine(ready: Arc<DashMap<String, bool>>) -> Engine {
    let e = Engine::builder()
        .local_node(false)
        .node(NodeConfig::local_named(NODE))
        .build()
        .unwrap();
    e.register_worker("api", move |ctx: &WorkerContext| {
        let mut was = None;
        while !ctx.wait_stop(Duration::from_millis(2)) {
            let now = ready.get(ctx.pod_name()).is_some_and(|r| *r);
            if was != Some(now) {
                if now {
                    ctx.ready()
                } else {
                    ctx.not_ready()
                }
                was = Some(now);
            }
        }
        Ok(())
    });
    e
}

fn apply_pod(e: &Engine, name: &str, app: &str) {
    e.apply(
        &json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"nodeName": NODE, "containers": [{"name": "api", "image": "api",
                "ports": [{"name": "http", "containerPort": 9000}]}]}})
        .to_string(),
    )
    .unwrap();
}

fn endpoints(e: &Engine) -> (Vec<String>, Vec<String>) {
    let Some(ep) = e
        .api::<Endpoints>()
        .namespace("default")
        .get_opt("api")
        .unwrap()
    else {
        return (vec![], vec![]);
    };
    let names = |a: &[steady::api::EndpointAddress]| {
        let mut v: Vec<String> = a
            .iter()
            .map(|a| a.target_ref.as_ref().unwrap().name.clone().unwrap())
            .collect();
        v.sort();
        v
    };
    let ready = ep
        .subsets
        .iter()
        .flat_map(|s| names(&s.addresses))
        .collect();
    let not = ep
        .subsets
        .iter()
        .flat_map(|s| names(&s.not_ready_addresses))
        .collect();
    (ready, not)
}

#[test]
fn endpoints_follow_readiness_and_resolve_takes_turns_among_ready_pods() {
    let ready = Arc::new(DashMap::new());
    let e = engine(ready.clone());
    e.apply(
        "apiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec:\n  selector: {app: api}\n  ports: [{name: web, port: 80, targetPort: http}]\n",
    )
    .unwrap();
    assert!(matches!(
        e.resolve("default", "api", None),
        Err(Error::Unavailable { .. })
    ));
    for p in ["a", "b", "c"] {
        ready.insert(p.to_string(), true);
        apply_pod(&e, p, "api");
    }
    apply_pod(&e, "other", "db");
    eventually(10, "three ready endpoints", || {
        endpoints(&e) == (vec!["a".into(), "b".into(), "c".into()], vec![])
    });
    let picks: Vec<_> = (0..6)
        .map(|_| e.resolve("default", "api", None).unwrap())
        .collect();
    let distinct: HashSet<_> = picks.iter().collect();
    assert_eq!(distinct.len(), 3, "round-robin over three pods: {picks:?}");
    assert!(
        picks.iter().all(|a| a.port() == 9000),
        "the named target port"
    );
    assert_eq!(picks[0], picks[3]);

    // b turns not ready: listed apart, never resolved.
    ready.insert("b".into(), false);
    eventually(10, "b not ready", || {
        endpoints(&e) == (vec!["a".into(), "c".into()], vec!["b".into()])
    });
    let b_ip = e
        .api::<Pod>()
        .namespace("default")
        .get("b")
        .unwrap()
        .status
        .as_ref()
        .unwrap()
        .pod_ip
        .clone()
        .unwrap();
    for _ in 0..10 {
        assert_ne!(
            e.resolve("default", "api", Some("web"))
                .unwrap()
                .ip()
                .to_string(),
            b_ip
        );
    }
    // Relabelled away and deleted pods leave.
    e.api::<Pod>()
        .namespace("default")
        .patch("a", &json!({"metadata": {"labels": {"app": "moved"}}}))
        .unwrap();
    e.api::<Pod>()
        .namespace("default")
        .delete("c", &DeleteParams::default())
        .unwrap();
    eventually(10, "only b left, not ready", || {
        endpoints(&e) == (vec![], vec!["b".into()])
    });
    assert!(matches!(
        e.resolve("default", "api", None),
        Err(Error::Unavailable { .. })
    ));
    assert!(e
        .resolve("default", "nope", None)
        .unwrap_err()
        .is_not_found());
    assert!(matches!(
        e.resolve("default", "api", Some("grpc")),
        Err(Error::Invalid { .. })
    ));
}

/// The Endpoints trail the pods by one reconcile of the endpoints controller: the resolver
/// checks the pod behind the address it picks. Here no endpoints controller runs, and the
/// Endpoints are written by hand to list a pod that is not ready.
#[test]
fn resolve_passes_over_an_address_whose_pod_is_no_longer_ready() {
    let e = Engine::builder()
        .local_node(false)
        .builtin_controllers(false)
        .build()
        .unwrap();
    e.apply(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: 8080}]\n",
    )
    .unwrap();
    let pods = e.api::<Pod>().namespace("default");
    let set_ready = |name: &str, ready: bool| {
        let s = if ready { "True" } else { "False" };
        pods.patch_status(
            name,
            &json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": s}]}}),
        )
        .unwrap();
    };
    for p in ["a", "b"] {
        e.apply(
            &json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": p, "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "main", "image": "app"}]}})
            .to_string(),
        )
        .unwrap();
    }
    set_ready("a", true);
    set_ready("b", false);
    let address = |ip: &str, pod: &str| json!({"ip": ip, "targetRef": {"kind": "Pod", "namespace": "default", "name": pod}});
    e.apply(
        &json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
            "subsets": [{"addresses": [address("127.0.0.2", "a"), address("127.0.0.3", "b")],
                         "ports": [{"name": "http", "port": 8080}]}]})
        .to_string(),
    )
    .unwrap();
    for _ in 0..4 {
        let addr = e.resolve("default", "web", Some("http")).unwrap();
        assert_eq!(
            addr.to_string(),
            "127.0.0.2:8080",
            "b is listed but not ready"
        );
    }
    set_ready("b", true);
    let turns: HashSet<String> = (0..2)
        .map(|_| e.resolve("default", "web", None).unwrap().to_string())
        .collect();
    assert_eq!(turns.len(), 2, "both ready: they take turns");
    set_ready("a", false);
    set_ready("b", false);
    assert!(matches!(
        e.resolve("default", "web", None),
        Err(Error::Unavailable { .. })
    ));
    pods.delete("b", &DeleteParams::default()).unwrap();
    set_ready("a", true);
    for _ in 0..3 {
        assert_eq!(
            e.resolve("default", "web", None).unwrap().to_string(),
            "127.0.0.2:8080",
            "a deleted pod is passed over"
        );
    }
}
