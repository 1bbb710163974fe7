//! Engines on one etcd (feature `etcd`, `EngineBuilder::etcd`): the state outlives the
//! engine that wrote it; an engine started later finds every object as it was (uids,
//! generations, kinds defined by CustomResourceDefinitions) and its controllers recreate
//! nothing; a data dir and etcd together are refused; of several engines exactly one leads
//! (runs the controllers and the scheduler) while each runs its own node's pods, and when
//! the leader stops another takes over; an engine whose node another engine took over
//! stops running it; a reconcile of a leader-only controller still running when its
//! engine's lead is lost cannot write; two engines never give one clusterIP to two
//! Services.
#![cfg(feature = "etcd")]

mod common;

use common::etcd::Etcd;
use common::eventually;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use steady::api::{Deployment, Lease, Pod};
use steady::client::leader::LeaderElectionConfig;
use steady::controllers::node_lifecycle::NodeLifecycleConfig;
use steady::node::{KubeletConfig, NodeConfig};
use steady::store::etcd::EtcdConfig;
use steady::store::Durability;
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
    let mut v: Vec<_> = common::running_pods(e)
        .iter()
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

/// An engine on `etcd` with its own simulated node `node` and fast leader election.
fn candidate(etcd: &Etcd, node: &str) -> Engine {
    candidate_as(etcd, node, node).build().unwrap()
}

/// The builder of [`candidate`], with engine identity `identity`.
fn candidate_as(etcd: &Etcd, node: &str, identity: &str) -> EngineBuilder {
    Engine::builder()
        .local_node(false)
        .node(NodeConfig::simulated(node, 8000, 16 << 30))
        .etcd(
            [etcd.client_url.clone()],
            EtcdConfig::default().timeout(Duration::from_secs(5)),
        )
        // A stopped engine's node is noticed within about 2 s, its pods evicted at once.
        .kubelet(KubeletConfig {
            heartbeat_period: Duration::from_millis(300),
            lease_duration: Duration::from_secs(2),
            ..Default::default()
        })
        .node_lifecycle(NodeLifecycleConfig {
            grace: Duration::from_secs(2),
            monitor_period: Duration::from_millis(300),
            default_toleration_seconds: 0,
        })
        .leader_election(LeaderElectionConfig {
            identity: identity.to_string(),
            lease_duration: Duration::from_millis(1500),
            renew_deadline: Duration::from_millis(1000),
            retry_period: Duration::from_millis(100),
            ..Default::default()
        })
}

#[test]
fn two_engines_never_run_one_node_and_a_restarted_one_takes_its_node_back() {
    let etcd = Etcd::start("claims");
    let first = candidate_as(&etcd, "n-0", "first").build().unwrap();
    eventually(10, "the node to register", || {
        first.store().get("Node", None, "n-0").is_ok()
    });
    // A second engine naming the same node is refused while the first runs it.
    let err = candidate_as(&etcd, "n-0", "second").build().unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    assert!(
        message.contains("node n-0 is run by another engine (first)"),
        "{message}"
    );
    // Once it stopped (its Lease no longer renewed), an engine takes the node over:
    // how a restarted engine gets its own node back.
    first.shutdown();
    drop(first);
    let again = candidate_as(&etcd, "n-0", "second").build().unwrap();
    let lease = again
        .api::<Lease>()
        .namespace("kube-node-lease")
        .get("n-0")
        .unwrap();
    assert_eq!(
        lease
            .metadata
            .annotations
            .get(steady::node::agent::ENGINE_ANNOTATION),
        Some(&"second".to_string())
    );
}

#[test]
fn an_engine_whose_node_another_engine_took_over_stops_running_it() {
    let etcd = Etcd::start("takeover");
    let first = candidate_as(&etcd, "n-0", "first").build().unwrap();
    first
        .apply(
            "apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  nodeName: n-0
  containers: [{name: main, image: sim}]
",
        )
        .unwrap();
    eventually(10, "the pod to run", || {
        first.kubelet().simulated().running() == 1
    });
    // What another engine does once the node's Lease went unrenewed for its duration (this
    // one cut off from etcd meanwhile): it claims the node. Done here by hand, through etcd.
    let leases = first.api::<Lease>().namespace("kube-node-lease");
    loop {
        let mut l = (*leases.get("n-0").unwrap()).clone();
        l.metadata.annotations.insert(
            steady::node::agent::ENGINE_ANNOTATION.into(),
            "second".into(),
        );
        match leases.update(l) {
            Ok(_) => break,
            Err(Error::Conflict { .. }) => continue,
            Err(e) => panic!("{e}"),
        }
    }
    // At its next heartbeat the first engine finds the claim gone: it kills the node's
    // containers and writes nothing more for the node (the claim stays the other's).
    eventually(10, "the first engine to stop the node's pods", || {
        first.kubelet().simulated().running() == 0
    });
    let renewed = leases.get("n-0").unwrap().metadata.resource_version.clone();
    let report = || {
        first
            .store()
            .get("PodUsageReport", None, "n-0")
            .map(|r| r.meta().resource_version.clone())
            .ok()
    };
    let reported = report();
    std::thread::sleep(Duration::from_millis(1000)); // three heartbeat periods
    let lease = leases.get("n-0").unwrap();
    assert_eq!(
        lease.metadata.resource_version, renewed,
        "the Lease was renewed"
    );
    assert_eq!(report(), reported, "the node's usage was still reported");
    assert_eq!(
        lease
            .metadata
            .annotations
            .get(steady::node::agent::ENGINE_ANNOTATION),
        Some(&"second".to_string())
    );
    assert_eq!(first.kubelet().simulated().running(), 0);
}

#[test]
fn a_reconcile_still_running_when_the_lead_is_lost_cannot_write() {
    use std::sync::mpsc;
    use std::sync::Mutex;
    use steady::api::ConfigMap;
    use steady::runtime::{Action, Context, Controller};
    let etcd = Etcd::start("fence");
    // A leader-only controller whose reconcile of `trigger` says it started, waits for the
    // test, then creates the ConfigMap `late` and reports how that went.
    let (started_tx, started) = mpsc::channel::<()>();
    let (go, go_rx) = mpsc::channel::<()>();
    let (result_tx, result) = mpsc::channel::<Result<(), String>>();
    let waits = Mutex::new((started_tx, go_rx, result_tx));
    let controller =
        Controller::for_kind::<ConfigMap>("slow-writer").build(move |ctx: &Context| {
            if ctx.name() == "trigger" {
                let w = waits.lock().unwrap();
                let _ = w.0.send(());
                let _ = w.1.recv();
                let mut late = ConfigMap::default();
                late.metadata.name = "late".into();
                let r = ctx.api::<ConfigMap>().create(late);
                let _ = w.2.send(r.as_ref().map(|_| ()).map_err(|e| e.to_string()));
            }
            Ok(Action::done())
        });
    let first = candidate_as(&etcd, "n-0", "first")
        .controller(controller)
        .build()
        .unwrap();
    eventually(10, "the engine to lead", || first.is_leader());
    let configs = first.api::<ConfigMap>();
    let mut trigger = ConfigMap::default();
    trigger.metadata.name = "trigger".into();
    configs.create(trigger).unwrap();
    started.recv_timeout(Duration::from_secs(10)).unwrap();
    // While that reconcile runs, another engine takes the Lease (as one would once this one
    // stopped renewing it; done here by hand, through etcd).
    let leases = first.api::<Lease>().namespace("kube-system");
    loop {
        let mut l = (*leases.get("steady-controllers").unwrap()).clone();
        l.spec.holder_identity = Some("second".into());
        match leases.update(l) {
            Ok(_) => break,
            Err(Error::Conflict { .. }) => continue,
            Err(e) => panic!("{e}"),
        }
    }
    go.send(()).unwrap();
    let r = result.recv_timeout(Duration::from_secs(10)).unwrap();
    let e = r.expect_err("a deposed leader's reconcile wrote");
    assert!(e.contains("no longer leads"), "{e}");
    assert!(configs.get_opt("late").unwrap().is_none());
}

/// The leader election's Lease, as `e` reads it.
fn controllers_lease(e: &Engine) -> std::sync::Arc<Lease> {
    e.api::<Lease>()
        .namespace("kube-system")
        .get("steady-controllers")
        .unwrap()
}

/// The nodes the running pods of `e`'s view run on, sorted.
fn nodes_of_running(e: &Engine) -> Vec<String> {
    let mut v: Vec<String> = common::running_pods(e)
        .iter()
        .filter_map(|p| p.spec.node_name.clone())
        .collect();
    v.sort();
    v
}

#[test]
fn one_engine_leads_each_runs_its_own_pods_and_another_takes_over() {
    let etcd = Etcd::start("leaders");
    let engines = vec![candidate(&etcd, "a-0"), candidate(&etcd, "b-0")];
    // Never two leaders at once, sampled throughout.
    let both = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (engines, both, done) = (&engines, &both, &done);
        // Ends the sampler however this scope ends (a failed assertion included).
        struct Done<'a>(&'a AtomicBool);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Release);
            }
        }
        let _done = Done(done);
        scope.spawn(move || {
            while !done.load(Ordering::Acquire) {
                if engines.iter().filter(|e| e.is_leader()).count() > 1 {
                    both.store(true, Ordering::Release);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        eventually(20, "one engine to lead", || {
            engines.iter().filter(|e| e.is_leader()).count() == 1
        });
        let leader = engines.iter().position(|e| e.is_leader()).unwrap();
        let follower = 1 - leader;
        let lease = controllers_lease(&engines[follower]);
        assert_eq!(
            lease.spec.holder_identity.as_deref(),
            Some(["a-0", "b-0"][leader])
        );
        // Applied through the follower; scheduled and reconciled by the leader, run by
        // the node agent of whichever engine owns the node each pod landed on.
        // One apply, one transaction: a CustomResourceDefinition and an object of its
        // kind reach the other engine's cache together.
        engines[follower]
            .apply(&format!(
                "{}---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w1}}\n",
                MANIFEST.replace("replicas: 2", "replicas: 4")
            ))
            .unwrap();
        eventually(10, "the leader to see the Widget", || {
            engines[leader].store().get("Widget", None, "w1").is_ok()
        });
        eventually(30, "4 pods run", || {
            nodes_of_running(&engines[follower]).len() == 4
        });

        // The leader stops (gracefully: it releases the Lease); the other takes over, its
        // scheduler places the replacements of the stopped engine's pods on its own node,
        // and its controllers reconcile a change made after the handover.
        let transitions = lease.spec.lease_transitions.unwrap_or(0);
        engines[leader].shutdown();
        eventually(10, "the other engine to lead", || {
            engines[follower].is_leader()
        });
        let lease = controllers_lease(&engines[follower]);
        assert_eq!(
            lease.spec.holder_identity.as_deref(),
            Some(["a-0", "b-0"][follower])
        );
        assert!(lease.spec.lease_transitions.unwrap_or(0) > transitions);
        let deployments = engines[follower].api::<Deployment>();
        loop {
            // The controllers write the Deployment's status meanwhile: read again on conflict.
            let mut d = (*deployments.get("web").unwrap()).clone();
            d.spec.replicas = Some(5);
            match deployments.update(d) {
                Ok(_) => break,
                Err(Error::Conflict { .. }) => continue,
                Err(e) => panic!("scaling web: {e}"),
            }
        }
    });
    assert!(!both.load(Ordering::Acquire), "two engines led at once");
    let survivor = engines.iter().find(|e| e.is_leader()).unwrap();
    let own = ["a-0", "b-0"]
        .into_iter()
        .find(|n| survivor.kubelet().node_names().iter().any(|m| m == n))
        .unwrap();
    // The Deployment's 5 replicas: the survivor's node lifecycle controller found the
    // stopped engine's node unreachable and evicted its pods; its ReplicaSet controller
    // replaced them and created the fifth; its scheduler placed them on its own node.
    eventually(60, "5 pods run on the survivor's node", || {
        nodes_of_running(survivor) == vec![own.to_string(); 5]
    });
}

#[test]
fn two_engines_never_give_one_cluster_ip_to_two_services() {
    use std::sync::{Arc, Barrier};
    use steady::api::Service;
    let etcd = Etcd::start("unique");
    let engine = || {
        Engine::builder()
            .local_node(false)
            .builtin_controllers(false)
            .without_scheduler()
            .etcd(
                [etcd.client_url.clone()],
                EtcdConfig::default().timeout(Duration::from_secs(5)),
            )
            .build()
            .unwrap()
    };
    let engines = [engine(), engine()];
    let service = |name: &str, ip: &str| -> Service {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "spec": {"clusterIP": ip, "ports": [{"port": 80}]}
        }))
        .unwrap()
    };
    // Each round both engines ask for one address at once, each for a Service of its own:
    // exactly one gets it, whichever engine's cache saw the other's claim first or not.
    const ROUNDS: usize = 20;
    let barrier = Arc::new(Barrier::new(2));
    let won: Vec<Vec<bool>> = std::thread::scope(|scope| {
        let handles: Vec<_> = engines
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let barrier = barrier.clone();
                scope.spawn(move || {
                    (0..ROUNDS)
                        .map(|r| {
                            barrier.wait();
                            let ip = format!("127.255.7.{}", r + 10);
                            match e
                                .api::<Service>()
                                .create(service(&format!("s{r}-{i}"), &ip))
                            {
                                Ok(_) => true,
                                Err(err) => {
                                    let m = err.to_string();
                                    assert!(m.contains("already allocated"), "{m}");
                                    false
                                }
                            }
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (r, (a, b)) in won[0].iter().zip(&won[1]).enumerate() {
        assert!(
            a ^ b,
            "round {r}: the address went to {} Services",
            *a as u8 + *b as u8
        );
    }
    // Addresses the engines allocate themselves are distinct too.
    let allocated: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = engines
            .iter()
            .enumerate()
            .map(|(i, e)| {
                scope.spawn(move || {
                    (0..15)
                        .map(|n| {
                            let s: Service = serde_json::from_value(serde_json::json!({
                                "metadata": {"name": format!("auto-{i}-{n}")},
                                "spec": {"ports": [{"port": 80}]}
                            }))
                            .unwrap();
                            let s = e.api::<Service>().create(s).unwrap();
                            s.spec.cluster_ip.clone().unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let distinct: std::collections::HashSet<&String> = allocated.iter().collect();
    assert_eq!(distinct.len(), allocated.len(), "{allocated:?}");
}

#[test]
fn the_leader_s_autoscaler_reads_the_usage_of_pods_on_another_host() {
    use steady::api::Quantity;
    let etcd = Etcd::start("usage");
    let engines = [candidate(&etcd, "a-0"), candidate(&etcd, "b-0")];
    eventually(10, "one engine to lead", || {
        engines.iter().filter(|e| e.is_leader()).count() == 1
    });
    let l = engines.iter().position(|e| e.is_leader()).unwrap();
    let (leader, follower) = (&engines[l], &engines[1 - l]);
    let there = ["a-0", "b-0"][1 - l];
    // Every pod of the Deployment runs on the follower's host.
    follower
        .apply(&format!(
            "apiVersion: apps/v1
kind: Deployment
metadata: {{name: busy}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: busy}}}}
  template:
    metadata: {{labels: {{app: busy}}}}
    spec:
      nodeSelector: {{kubernetes.io/hostname: {there}}}
      containers: [{{name: main, image: sim, resources: {{requests: {{cpu: 100m}}}}}}]
"
        ))
        .unwrap();
    let pod = {
        let mut found = None;
        eventually(20, "the pod running", || {
            found = common::running_pods(follower).into_iter().next();
            found.is_some()
        });
        found.unwrap()
    };
    // That host knows the pod's usage (here reported, as a host reports what it measures):
    // 300m, three times its request. The leader learns it from the host's report.
    follower.report_pod_usage(
        "default",
        &pod.metadata.name,
        "cpu",
        &Quantity::parse("300m").unwrap(),
    );
    eventually(10, "the leader to know the pod's usage", || {
        leader.pod_metrics().pod_usage_milli(&pod, "cpu") == Some(300)
    });
    // The report belongs to its Node: it goes when the Node goes.
    let report = leader.store().get("PodUsageReport", None, there).unwrap();
    let owner = &report.meta().owner_references[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Node", there));
    // The leader's autoscaler, aiming at 50%, scales the Deployment up.
    leader
        .apply(
            "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: busy}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: busy}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
",
        )
        .unwrap();
    eventually(20, "the autoscaler to scale up", || {
        leader
            .api::<Deployment>()
            .get("busy")
            .is_ok_and(|d| d.spec.replicas == Some(3))
    });
}

#[test]
fn resolve_picks_the_endpoints_of_its_own_host_only() {
    let etcd = Etcd::start("resolve");
    let a = candidate(&etcd, "a-0");
    let b = candidate(&etcd, "b-0");
    let pod = |name: &str, node: &str, app: &str| {
        format!(
            "apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: {app}}}}}
spec:
  nodeName: {node}
  containers: [{{name: main, image: sim, ports: [{{containerPort: 80}}]}}]
"
        )
    };
    let ip_of = |e: &Engine, name: &str| -> Option<String> {
        let p = e.api::<Pod>().get(name).ok()?;
        let st = p.status.as_ref()?;
        (st.phase.as_deref() == Some("Running")).then(|| st.pod_ip.clone())?
    };
    // Each host numbers its pods' loopback addresses on its own: a pod first on `a` makes
    // the two web pods' addresses differ, so the test can tell them apart.
    a.apply(&pod("first", "a-0", "other")).unwrap();
    eventually(20, "the first pod running", || ip_of(&a, "first").is_some());
    a.apply(&pod("web-a", "a-0", "web")).unwrap();
    b.apply(&pod("web-b", "b-0", "web")).unwrap();
    a.apply(
        "apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
",
    )
    .unwrap();
    eventually(20, "both web pods running", || {
        ip_of(&a, "web-a").is_some() && ip_of(&a, "web-b").is_some()
    });
    let (ip_a, ip_b) = (ip_of(&a, "web-a").unwrap(), ip_of(&a, "web-b").unwrap());
    assert_ne!(ip_a, ip_b);
    // (Each engine's cache follows etcd on its own: both must have the Endpoints.)
    eventually(
        20,
        "both engines to see endpoints listing both pods",
        || {
            [&a, &b].iter().all(|e| {
                e.api::<steady::api::Endpoints>()
                    .get("web")
                    .is_ok_and(|ep| {
                        ep.subsets.iter().map(|s| s.addresses.len()).sum::<usize>() == 2
                    })
            })
        },
    );
    // Each engine resolves the Service to the pod of its own host, every time.
    for _ in 0..4 {
        assert_eq!(
            a.resolve("default", "web", None).unwrap().ip().to_string(),
            ip_a
        );
        assert_eq!(
            b.resolve("default", "web", None).unwrap().ip().to_string(),
            ip_b
        );
    }
    // Without a pod on its host, an engine says where the others are.
    a.api::<Pod>().delete("web-a", &Default::default()).unwrap();
    eventually(20, "a to have no endpoint of its own", || {
        a.resolve("default", "web", None)
            .is_err_and(|e| e.to_string().contains("1 on other hosts"))
    });
}
