//! Helpers shared by the integration tests.
#![allow(dead_code)]

#[cfg(feature = "etcd")]
pub mod etcd;
pub mod kubelet;
pub mod processes;
pub mod workloads;

use serde_json::{json, Value};
use steady::api::{DynamicObject, KindInfo, Object};
use steady::client::DynamicApi;
use steady::Engine;

/// The node of [`on_local_node`].
pub const LOCAL_NODE: &str = "local-1";

/// A builder on `clock` with one local node named `name`, running real processes and
/// in-process workers (instead of the default node named after the host).
pub fn on_node(
    clock: &std::sync::Arc<steady::clock::ManualClock>,
    name: &str,
) -> steady::EngineBuilder {
    Engine::builder()
        .clock(clock.clone())
        .local_node(false)
        .node(steady::node::NodeConfig::local_named(name))
}

/// A builder on `clock` with one local node, [`LOCAL_NODE`] (see [`on_node`]).
pub fn on_local_node(clock: &std::sync::Arc<steady::clock::ManualClock>) -> steady::EngineBuilder {
    on_node(clock, LOCAL_NODE)
}

/// An engine of [`on_local_node`], as it is.
pub fn local_engine(clock: &std::sync::Arc<steady::clock::ManualClock>) -> Engine {
    on_local_node(clock).build().unwrap()
}

/// An engine on `clock` with `n` simulated nodes, `sim-0`, `sim-1`, … (4 CPUs, 8 GiB each),
/// and no local node.
pub fn simulated_nodes(clock: &std::sync::Arc<steady::clock::ManualClock>, n: usize) -> Engine {
    Engine::builder()
        .clock(clock.clone())
        .local_node(false)
        .simulated_nodes(n, 4000, 8 << 30)
        .build()
        .expect("engine starts")
}

/// An engine on `clock` with one simulated node, `sim-0` (4 CPUs, 8 GiB), and no local
/// node: pods that name `sim-0` run as simulated containers.
pub fn one_simulated_node(clock: &std::sync::Arc<steady::clock::ManualClock>) -> Engine {
    simulated_nodes(clock, 1)
}

/// An engine with no node and nothing but the built-in kinds, on the real clock.
pub fn bare_engine() -> Engine {
    Engine::builder()
        .local_node(false)
        .build()
        .expect("engine starts")
}

/// The custom kinds the tests use (example.com/v1, namespaced).
pub const TEST_KINDS: [&str; 4] = ["Counter", "Widget", "Gadget", "Gizmo"];

/// A builder that serves the test kinds ([`TEST_KINDS`]): steady serves no kind it was not
/// told about.
pub fn builder() -> steady::EngineBuilder {
    TEST_KINDS.iter().fold(Engine::builder(), |b, k| {
        b.kind(KindInfo::dynamic("example.com/v1", k, true))
    })
}

/// An engine without nodes: the store and the controllers only, so nothing but the test
/// writes to the store (store tests count revisions). It serves the test kinds.
pub fn engine() -> Engine {
    builder().local_node(false).build().expect("engine starts")
}

/// Creates the Namespaces `names`: objects may only be created in a Namespace that exists.
pub fn namespaces(e: &Engine, names: &[&str]) {
    for n in names {
        e.apply(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {n}}}\n"
        ))
        .expect("namespace applies");
    }
}

/// Access to the custom kind `Counter` (example.com/v1).
pub fn counters(e: &Engine) -> DynamicApi {
    e.dynamic("example.com/v1", "Counter").unwrap()
}

/// A Counter named `name` with `spec.value`.
pub fn counter(name: &str, value: i64) -> Value {
    json!({
        "apiVersion": "example.com/v1",
        "kind": "Counter",
        "metadata": {"name": name},
        "spec": {"value": value}
    })
}

/// `spec.value` of a Counter.
pub fn value_of(o: &dyn Object) -> i64 {
    let d = o
        .as_any()
        .downcast_ref::<DynamicObject>()
        .expect("a dynamic object");
    d.data["spec"]["value"].as_i64().expect("spec.value")
}

/// Polls `cond` until it holds or `secs` seconds pass, advancing `clock` by a second after
/// every 100 polls (about 0.2 s) in which it did not: for convergence that may have to wait
/// out a backoff when real threads race (a pod that reached the scheduler before its node),
/// which a manual clock otherwise never ends.
pub fn eventually_advancing(
    clock: &steady::clock::ManualClock,
    secs: u64,
    what: &str,
    mut cond: impl FnMut() -> bool,
) {
    let mut polls = 0u32;
    eventually(secs, what, || {
        polls += 1;
        if polls % 100 == 0 {
            clock.advance(std::time::Duration::from_secs(1));
        }
        cond()
    });
}

/// A fresh, empty directory `steady-<test crate>-<pid>-<name>` under the system temp dir
/// (one left over from an earlier run with the same pid is removed first).
pub fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "steady-{}-{}-{name}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The pods of every namespace in phase Running, as `e` sees them.
pub fn running_pods(e: &Engine) -> Vec<std::sync::Arc<steady::api::Pod>> {
    e.api::<steady::api::Pod>()
        .list(&Default::default())
        .expect("pods list")
        .items
        .into_iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .collect()
}

/// Polls `cond` until it holds or `secs` seconds pass (convergence of real threads; never
/// used to wait out a backoff or a window, which tests drive with a manual clock).
pub fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}
