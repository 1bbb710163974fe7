//! The node agent: containers started, restarted with crash-loop backoff, probed, stopped
//! gracefully, and reported in pod status. Workers and simulated nodes; a manual clock
//! drives every delay.

mod common;

use common::eventually;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use steady::api::{Lease, Node, Pod};
use steady::clock::ManualClock;
use steady::node::{NodeConfig, WorkerContext};
use steady::store::DeleteParams;
use steady::Engine;

const NODE: &str = "n1";

/// An engine on a manual clock with one local node `n1` (workers; no processes needed).
fn engine(clock: &Arc<ManualClock>) -> Engine {
    common::on_node(clock, NODE)
        .node(NodeConfig::simulated("sim-0", 4000, 8 << 30))
        .build()
        .unwrap()
}

fn pod(name: &str, node: &str, image: &str, extra: serde_json::Value) -> String {
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": image}]}
    });
    if let (Some(spec), Some(extra)) = (p["spec"].as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    p.to_string()
}

fn get(e: &Engine, name: &str) -> Option<Arc<Pod>> {
    e.api::<Pod>().namespace("default").get_opt(name).unwrap()
}

fn phase(e: &Engine, name: &str) -> String {
    get(e, name)
        .and_then(|p| p.status.as_ref().and_then(|s| s.phase.clone()))
        .unwrap_or_default()
}

fn ready(e: &Engine, name: &str) -> bool {
    get(e, name).is_some_and(|p| {
        p.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
    })
}

fn restarts(e: &Engine, name: &str) -> i32 {
    get(e, name)
        .and_then(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.container_statuses.first().map(|c| c.restart_count))
        })
        .unwrap_or(-1)
}

fn waiting_reason(e: &Engine, name: &str) -> Option<String> {
    let p = get(e, name)?;
    let s = p.status.as_ref()?;
    let c = s.container_statuses.first()?;
    c.state.as_ref()?.waiting.as_ref()?.reason.clone()
}

fn waiting_message(e: &Engine, name: &str) -> String {
    get(e, name)
        .and_then(|p| {
            let c = p.status.as_ref()?.container_statuses.first()?.clone();
            c.state?.waiting?.message
        })
        .unwrap_or_default()
}

#[test]
fn nodes_register_with_capacity_conditions_and_a_lease() {
    let clock = Arc::new(ManualClock::default());
    let e = engine(&clock);
    // A node is registered in two writes, as kubelets do: the object, then its status.
    eventually(10, "both nodes registered with a status", || {
        let nodes = e.api::<Node>().list(&Default::default()).unwrap().items;
        nodes.len() == 2 && nodes.iter().all(|n| n.status.is_some())
    });
    let sim = e.api::<Node>().get("sim-0").unwrap();
    let st = sim.status.as_ref().unwrap();
    assert_eq!(st.capacity["cpu"].milli_value(), 4000);
    assert_eq!(st.allocatable["memory"].value(), 8 << 30);
    assert_eq!(st.capacity["pods"].value(), 110);
    assert!(st
        .conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True"));
    // What `kubectl describe node` shows: each condition's heartbeat, the host's system.
    assert!(
        st.conditions.iter().all(|c| c
            .extra
            .get("lastHeartbeatTime")
            .is_some_and(|t| t.is_string())),
        "{:?}",
        st.conditions
    );
    let info = st.node_info.as_ref().unwrap();
    if std::path::Path::new("/proc/sys/kernel/osrelease").exists() {
        assert!(
            !info["kernelVersion"].as_str().unwrap().is_empty(),
            "{info}"
        );
    }
    assert_eq!(
        sim.metadata
            .labels
            .get("kubernetes.io/hostname")
            .map(String::as_str),
        Some("sim-0")
    );
    let leases = e.api::<Lease>().namespace("kube-node-lease");
    eventually(10, "a lease per node", || {
        leases.get_opt(NODE).unwrap().is_some()
    });
    let first = leases.get(NODE).unwrap().spec.renew_time.unwrap();
    clock.advance(Duration::from_secs(10));
    eventually(
        10,
        "the lease is renewed after the heartbeat period",
        || leases.get(NODE).unwrap().spec.renew_time.unwrap() > first,
    );
}

#[test]
fn a_worker_runs_reports_ready_and_is_restarted_with_crash_loop_backoff() {
    let clock = Arc::new(ManualClock::default());
    let e = engine(&clock);
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    e.register_worker("crashy", move |ctx: &WorkerContext| {
        let n = r.fetch_add(1, Ordering::SeqCst);
        ctx.log(&format!("run {n}"));
        ctx.ready();
        if n < 3 {
            return Err(format!("crash {n}"));
        }
        ctx.wait_stop(Duration::from_secs(60));
        Ok(())
    });
    e.apply(&pod("w", NODE, "crashy", json!({}))).unwrap();
    // Crash 0 restarts at once; crash 1 waits 10 s; crash 2 waits 20 s.
    eventually(10, "second run after an immediate restart", || {
        runs.load(Ordering::SeqCst) == 2 && restarts(&e, "w") == 2
    });
    eventually(10, "back-off after the second crash", || {
        waiting_reason(&e, "w").as_deref() == Some("CrashLoopBackOff")
    });
    let msg = waiting_message(&e, "w");
    assert!(
        msg.starts_with("back-off 10s restarting failed container=main pod=w_default"),
        "{msg}"
    );
    // And the kubelet's Warning, which `kubectl describe` shows.
    let pod = get(&e, "w").unwrap();
    let events = steady::client::events::events_for(e.store(), pod.as_ref()).unwrap();
    assert!(
        events
            .iter()
            .any(|ev| ev.reason.as_deref() == Some("BackOff")
                && ev.type_.as_deref() == Some("Warning")
                && ev.message.as_deref().is_some_and(|m| {
                    m.starts_with("Back-off restarting failed container main in pod w_default(")
                })),
        "{events:#?}"
    );
    let last = get(&e, "w")
        .unwrap()
        .status
        .as_ref()
        .unwrap()
        .container_statuses[0]
        .last_state
        .clone()
        .unwrap();
    let t = last.terminated.unwrap();
    assert_eq!((t.exit_code, t.message.as_deref()), (1, Some("crash 1")));
    // While it backs off, its logs are those of the instance that exited, as the kubelet
    // serves them; the next instance is another one (a follower starts it from the top).
    let (exited, text) = e
        .kubelet()
        .logs_of_instance("default", "w", None, false)
        .unwrap();
    assert!(text.starts_with("run 1\n"), "{text:?}");
    clock.advance(Duration::from_secs(9));
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(runs.load(Ordering::SeqCst), 2, "not before 10 s");
    clock.advance(Duration::from_secs(1));
    eventually(
        10,
        "third run after 10 s, crashed and backing off 20 s",
        || runs.load(Ordering::SeqCst) == 3 && waiting_message(&e, "w").starts_with("back-off 20s"),
    );
    clock.advance(Duration::from_secs(20));
    eventually(10, "fourth run after 20 s, and it stays up", || {
        runs.load(Ordering::SeqCst) == 4 && ready(&e, "w") && phase(&e, "w") == "Running"
    });
    assert_eq!(restarts(&e, "w"), 3);
    assert_eq!(e.logs("default", "w", None, false).unwrap(), "run 3\n");
    let (running, _) = e
        .kubelet()
        .logs_of_instance("default", "w", None, false)
        .unwrap();
    assert_ne!(running, exited);
    assert!(e
        .logs("default", "w", Some("main"), true)
        .unwrap()
        .starts_with("run 2\n"));
}

#[test]
fn restart_policies_never_and_on_failure_end_in_terminal_phases() {
    let clock = Arc::new(ManualClock::default());
    let e = engine(&clock);
    e.register_worker("exit0", |_: &WorkerContext| Ok(()));
    e.register_worker("exit1", |_: &WorkerContext| Err("no".into()));
    e.apply(&pod(
        "never",
        NODE,
        "exit1",
        json!({"restartPolicy": "Never"}),
    ))
    .unwrap();
    e.apply(&pod(
        "onfail",
        NODE,
        "exit0",
        json!({"restartPolicy": "OnFailure"}),
    ))
    .unwrap();
    eventually(10, "Never + exit 1 = Failed", || {
        phase(&e, "never") == "Failed"
    });
    eventually(10, "OnFailure + exit 0 = Succeeded", || {
        phase(&e, "onfail") == "Succeeded"
    });
    assert_eq!(restarts(&e, "never"), 0);
    let p = get(&e, "never").unwrap();
    let t = p.status.as_ref().unwrap().container_statuses[0]
        .state
        .as_ref()
        .unwrap()
        .terminated
        .clone()
        .unwrap();
    assert_eq!((t.exit_code, t.reason.as_deref()), (1, Some("Error")));
    assert!(!ready(&e, "never"));
}

#[test]
fn an_image_that_is_neither_a_worker_nor_has_a_command_waits_with_a_reason_naming_it() {
    let clock = Arc::new(ManualClock::default());
    let e = engine(&clock);
    e.apply(&pod("bad", NODE, "nginx:1.27", json!({}))).unwrap();
    eventually(10, "a waiting reason", || {
        waiting_reason(&e, "bad").as_deref() == Some("ErrImageNeverPull")
    });
    let p = get(&e, "bad").unwrap();
    let msg = p.status.as_ref().unwrap().container_statuses[0]
        .state
        .as_ref()
        .unwrap()
        .waiting
        .as_ref()
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(msg.contains("\"nginx:1.27\""), "{msg}");
    assert_eq!(phase(&e, "bad"), "Pending");
}

#[test]
fn simulated_containers_are_restarted_after_an_injected_crash() {
    let clock = Arc::new(ManualClock::default());
    let e = engine(&clock);
    e.apply(&pod("s", "sim-0", "anything:1", json!({})))
        .unwrap();
    eventually(10, "running and ready", || ready(&e, "s"));
    assert!(e.kubelet().simulated().crash("default", "s", "main", 137));
    eventually(10, "restarted at once", || {
        restarts(&e, "s") == 1 && ready(&e, "s")
    });
    assert_eq!(e.kubelet().simulated().running(), 1);
}

#[test]
fn deleting_a_pod_stops_it_gracefully_and_kills_it_after_the_grace_period() {
    let clock = Arc::new(ManualClock::default());
    let e = engine(&clock);
    e.kubelet().simulated().ignore_stop("stubborn", true);
    e.apply(&pod(
        "t",
        "sim-0",
        "stubborn",
        json!({"terminationGracePeriodSeconds": 20}),
    ))
    .unwrap();
    eventually(10, "running", || ready(&e, "t"));
    e.api::<Pod>()
        .namespace("default")
        .delete("t", &DeleteParams::default())
        .unwrap();
    let p = get(&e, "t").expect("terminating, not gone");
    assert_eq!(p.metadata.deletion_grace_period_seconds, Some(20));
    // The grace period runs from the stop signal: the clock moves only once it was sent.
    let sim = e.kubelet().simulated();
    eventually(10, "the stop signal", || sim.stop_signals() == 1);
    std::thread::sleep(Duration::from_millis(50));
    assert!(get(&e, "t").is_some(), "the container ignores SIGTERM");
    assert_eq!(e.kubelet().simulated().running(), 1);
    clock.advance(Duration::from_secs(20));
    eventually(10, "killed after the grace period, then removed", || {
        get(&e, "t").is_none()
    });
    assert_eq!(e.kubelet().simulated().running(), 0);
    // A container that honours the stop signal goes at once.
    e.apply(&pod("quick", "sim-0", "polite", json!({})))
        .unwrap();
    eventually(10, "running", || ready(&e, "quick"));
    e.api::<Pod>()
        .namespace("default")
        .delete("quick", &DeleteParams::default())
        .unwrap();
    eventually(10, "gone without waiting for the clock", || {
        get(&e, "quick").is_none()
    });
}

#[test]
fn a_worker_that_stops_heartbeating_fails_liveness_and_is_restarted() {
    let clock = Arc::new(ManualClock::default());
    let e = engine(&clock);
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    // The first instance beats once and then hangs; later ones beat whenever asked.
    e.register_worker("hb", move |ctx: &WorkerContext| {
        let n = r.fetch_add(1, Ordering::SeqCst);
        ctx.ready();
        while !ctx.wait_stop(Duration::from_millis(5)) {
            if n > 0 {
                ctx.heartbeat();
            }
        }
        Ok(())
    });
    let probe = json!({"heartbeat": {}, "periodSeconds": 5, "failureThreshold": 1});
    let p = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "h"},
        "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "main", "image": "hb", "livenessProbe": probe}]}
    });
    e.apply(&p.to_string()).unwrap();
    eventually(10, "ready", || ready(&e, "h"));
    // Probes at 0 s and 5 s pass (the beat at 0 s); the one at 10 s finds 10 s of silence.
    clock.advance(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(restarts(&e, "h"), 0, "a beat within the period is enough");
    clock.advance(Duration::from_secs(5));
    eventually(10, "restarted by the liveness probe", || {
        restarts(&e, "h") == 1 && runs.load(Ordering::SeqCst) == 2
    });
    let p = get(&e, "h").unwrap();
    let t = p.status.as_ref().unwrap().container_statuses[0]
        .last_state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert!(
        t.message
            .as_deref()
            .unwrap_or("")
            .contains("failed liveness probe"),
        "{t:?}"
    );
}

#[test]
fn stopping_a_node_kills_its_containers_and_its_lease_goes_stale() {
    let clock = Arc::new(ManualClock::default());
    let e = engine(&clock);
    e.apply(&pod("a", "sim-0", "x", json!({}))).unwrap();
    eventually(10, "running", || ready(&e, "a"));
    let leases = e.api::<Lease>().namespace("kube-node-lease");
    eventually(10, "lease", || leases.get_opt("sim-0").unwrap().is_some());
    assert!(e.kubelet().stop_node("sim-0"));
    assert_eq!(e.kubelet().simulated().running(), 0);
    let renewed = leases.get("sim-0").unwrap().spec.renew_time;
    clock.advance(Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(leases.get("sim-0").unwrap().spec.renew_time, renewed);
    assert!(e.kubelet().restart_node("sim-0"));
    eventually(10, "the pod runs again", || {
        e.kubelet().simulated().running() == 1
    });
}

#[test]
fn engine_shutdown_stops_every_worker() {
    let clock = Arc::new(ManualClock::default());
    let e = engine(&clock);
    let stopped = Arc::new(AtomicUsize::new(0));
    let s = stopped.clone();
    e.register_worker("svc", move |ctx: &WorkerContext| {
        ctx.ready();
        while !ctx.wait_stop(Duration::from_secs(60)) {}
        s.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    for i in 0..3 {
        e.apply(&pod(&format!("p{i}"), NODE, "svc", json!({})))
            .unwrap();
    }
    eventually(10, "all ready", || {
        (0..3).all(|i| ready(&e, &format!("p{i}")))
    });
    e.shutdown();
    assert_eq!(stopped.load(Ordering::SeqCst), 3);
}

/// A kubelet registers its node at start and kube-scheduler waits for its caches: when
/// `build` returns, every node of the engine exists with a status and the scheduler counts
/// it. Otherwise a pod applied at once could be tried against no node and, on a manual clock,
/// wait out a backoff that never ends (it did, in about one run in twenty).
#[test]
fn nodes_are_registered_and_known_to_the_scheduler_when_build_returns() {
    for _ in 0..20 {
        let clock = Arc::new(ManualClock::default());
        let e = common::simulated_nodes(&clock, 3);
        let nodes = e.api::<Node>();
        for name in ["sim-0", "sim-1", "sim-2"] {
            let n = nodes.get(name).expect("registered before build returned");
            assert!(n.status.is_some(), "{name} has its status");
            let rev = e
                .kubelet()
                .node_status_revision(name)
                .expect("the kubelet wrote the status");
            let synced = e.scheduler().unwrap().last_synced_revision("Node");
            assert!(
                synced >= rev,
                "the scheduler saw {name} (at {rev}; synced {synced})"
            );
        }
        e.shutdown();
    }
}

/// A node the kubelet could never register (its name is not a DNS subdomain) is refused by
/// `build`, naming the node and the field, rather than started and waited for.
#[test]
fn a_node_with_an_invalid_name_is_refused_at_build() {
    let err = Engine::builder()
        .local_node(false)
        .node(NodeConfig::local_named("Node_1"))
        .build()
        .expect_err("an invalid node name is refused");
    let msg = err.to_string();
    assert!(
        msg.contains("Node_1") && msg.contains("metadata.name"),
        "{msg}"
    );
}

/// An engine without nodes (an API server and controllers only) runs no kubelet: nothing
/// watches ConfigMaps or Secrets for it, so their writes wake no informer. The first node
/// added starts it, and a pod bound to that node runs.
#[test]
fn an_engine_without_nodes_runs_no_kubelet_until_one_is_added() {
    let e = Engine::builder()
        .local_node(false)
        .builtin_controllers(false)
        .without_scheduler()
        .build()
        .unwrap();
    for kind in ["ConfigMap", "Secret", "Pod", "Node"] {
        assert_eq!(e.store().watch_count(kind), 0, "{kind} is watched");
    }
    e.apply(&pod("early", "sim-9", "sleeper", json!({})))
        .unwrap();
    e.kubelet()
        .add_node(NodeConfig::simulated("sim-9", 4000, 8 << 30))
        .unwrap();
    for kind in ["ConfigMap", "Secret", "Pod", "Node"] {
        assert!(e.store().watch_count(kind) > 0, "{kind} is not watched");
    }
    eventually(10, "the pod bound before the node existed runs", || {
        phase(&e, "early") == "Running"
    });
    e.apply(&pod("late", "sim-9", "sleeper", json!({})))
        .unwrap();
    eventually(10, "a pod bound after it runs", || {
        phase(&e, "late") == "Running"
    });
    // A second node is added to the running kubelet.
    e.kubelet()
        .add_node(NodeConfig::simulated("sim-10", 4000, 8 << 30))
        .unwrap();
    e.apply(&pod("third", "sim-10", "sleeper", json!({})))
        .unwrap();
    eventually(10, "a pod on the second node runs", || {
        phase(&e, "third") == "Running"
    });
    e.shutdown();
}

#[test]
fn two_engines_on_one_host_never_give_two_pods_the_same_address() {
    let ip_of = |e: &Engine| {
        let mut ip = None;
        eventually(10, "the pod has an address", || {
            ip = get(e, "p")
                .and_then(|p| p.status.as_ref()?.pod_ip.clone())
                .filter(|ip| !ip.is_empty());
            ip.is_some()
        });
        ip.unwrap()
    };
    let clocks = [
        Arc::new(ManualClock::default()),
        Arc::new(ManualClock::default()),
    ];
    let engines: Vec<Engine> = clocks.iter().map(engine).collect();
    for e in &engines {
        e.register_worker("svc", |ctx: &WorkerContext| {
            ctx.ready();
            while !ctx.wait_stop(Duration::from_secs(60)) {}
            Ok(())
        });
        e.apply(&pod("p", NODE, "svc", json!({}))).unwrap();
    }
    // Each engine's first pod, each from its engine's own block of 127.0.0.0/8.
    let (a, b) = (ip_of(&engines[0]), ip_of(&engines[1]));
    assert_ne!(a, b);
    let block = |ip: &str| ip.split('.').nth(1).unwrap().to_string();
    assert_ne!(block(&a), block(&b), "{a} {b}");
    assert!(a.ends_with(".0.1") && b.ends_with(".0.1"), "{a} {b}");
}
