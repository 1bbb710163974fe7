//! Helpers shared by the scheduler integration tests: an engine on a manual clock, nodes and
//! pods from JSON, and waits for the scheduler's visible effects.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use steady::api::{Condition, Node, Pod, PriorityClass};
use steady::clock::ManualClock;
use steady::scheduler::SchedulerConfig;
use steady::Engine;

/// Polls `cond` until it holds (real threads converging; never a backoff or a window).
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// An engine on a manual clock running the scheduler with `config` and nothing else: no
/// node of its own and no built-in controller.
pub fn engine(config: SchedulerConfig) -> (Engine, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::default());
    // The tests' nodes are the only ones (a local node registering mid-test would take pods
    // the assertions count on them), and they have no agent renewing a Lease: the node
    // lifecycle controller would taint them unreachable as soon as the clock moves 40 s.
    let e = Engine::builder()
        .clock(clock.clone())
        .local_node(false)
        .builtin_controllers(false)
        .scheduler(config)
        .build()
        .expect("engine starts");
    (e, clock)
}

/// A Node named `name` with allocatable `cpu` and `memory`, plus `extra` merged into the
/// object (labels, taints...).
pub fn node(name: &str, cpu: &str, memory: &str, extra: Value) -> Node {
    let mut v = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"allocatable": {"cpu": cpu, "memory": memory}}
    });
    merge(&mut v, extra);
    serde_json::from_value(v).expect("a node")
}

/// Adds a node (the status is written after the create, which ignores it) and waits until
/// the scheduler counts it.
pub fn add_node(e: &Engine, n: Node) {
    let api = e.api::<Node>();
    let status = n.status.clone();
    let mut created = (*api.create(n).expect("node created")).clone();
    created.status = status;
    let stored = api.update_status(&created).expect("node status");
    wait_node_synced(e, stored.metadata.revision().expect("a revision"));
}

/// Waits until the scheduler has applied every Node change up to `rev`.
pub fn wait_node_synced(e: &Engine, rev: u64) {
    let s = e.scheduler().expect("the engine runs a scheduler");
    eventually("the scheduler sees the node", || {
        s.last_synced_revision("Node") >= rev
    });
}

/// A Pod named `name` in `default` requesting `cpu`, plus `extra` merged into the object.
pub fn pod(name: &str, cpu: &str, extra: Value) -> Pod {
    let mut v = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox",
                  "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]}
    });
    merge(&mut v, extra);
    serde_json::from_value(v).expect("a pod")
}

/// Creates the PriorityClass `name` with `value` (and `extra` merged in: `preemptionPolicy`,
/// `globalDefault`...). Pods name it in `spec.priorityClassName`; the Priority admission
/// gives them `spec.priority`.
pub fn priority_class(e: &Engine, name: &str, value: i32, extra: Value) {
    let mut v = json!({
        "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": name}, "value": value
    });
    merge(&mut v, extra);
    e.api::<PriorityClass>()
        .create(serde_json::from_value(v).expect("a PriorityClass"))
        .expect("PriorityClass created");
}

/// `json!({"spec": {"priorityClassName": "prio-<value>"}})`, creating that class on first
/// use: a pod of priority `value`.
pub fn with_priority(e: &Engine, value: i32) -> Value {
    let name = format!("prio-{value}");
    if e.api::<PriorityClass>().get_opt(&name).unwrap().is_none() {
        priority_class(e, &name, value, json!({}));
    }
    json!({"spec": {"priorityClassName": name}})
}

pub fn create_pod(e: &Engine, p: Pod) {
    e.api::<Pod>().create(p).expect("pod created");
}

fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(x)) => {
            for (k, v) in x {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, x) => *b = x,
    }
}

/// The node the pod is bound to.
pub fn node_of(e: &Engine, name: &str) -> Option<String> {
    e.api::<Pod>()
        .get(name)
        .ok()
        .and_then(|p| p.spec.node_name.clone())
}

/// Waits until the pod is bound; returns its node.
pub fn wait_bound(e: &Engine, name: &str) -> String {
    eventually(&format!("pod {name} bound"), || node_of(e, name).is_some());
    node_of(e, name).unwrap()
}

/// The pod's PodScheduled condition.
pub fn scheduled_condition(e: &Engine, name: &str) -> Option<Condition> {
    let p = e.api::<Pod>().get(name).ok()?;
    p.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "PodScheduled")
        .cloned()
}

/// Waits until the pod is marked unschedulable with `message`.
pub fn wait_unschedulable(e: &Engine, name: &str, message: &str) {
    eventually(
        &format!("pod {name} unschedulable with {message:?}"),
        || {
            scheduled_condition(e, name).is_some_and(|c| {
                c.status == "False"
                    && c.reason.as_deref() == Some("Unschedulable")
                    && c.message.as_deref() == Some(message)
            })
        },
    );
}

/// Waits until the scheduler has handled everything before this call (every change and
/// every clock advance so far) and written the bindings and status that followed, with one
/// binder thread: a probe pod that fits no node is created, and once its PodScheduled=False
/// is written, every earlier message was processed and every earlier write done (the
/// scheduling thread handles messages in order and the binder writes in order).
pub fn barrier(e: &Engine) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!("barrier-{}", N.fetch_add(1, Ordering::Relaxed));
    create_pod(
        e,
        pod(
            &name,
            "1m",
            json!({"spec": {"nodeSelector": {"steady.test/nowhere": "true"}}}),
        ),
    );
    eventually(&format!("{name} seen"), || {
        scheduled_condition(e, &name).is_some_and(|c| c.status == "False")
    });
    e.api::<Pod>()
        .delete(&name, &Default::default())
        .expect("barrier deleted");
}

/// Pods bound to `node`.
pub fn pods_on(e: &Engine, node: &str) -> Vec<Arc<Pod>> {
    e.api::<Pod>()
        .list(&Default::default())
        .expect("list")
        .items
        .into_iter()
        .filter(|p| p.spec.node_name.as_deref() == Some(node))
        .collect()
}
