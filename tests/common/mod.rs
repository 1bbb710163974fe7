//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod kubelet;

use serde_json::{json, Value};
use steady::api::{DynamicObject, Object};
use steady::client::DynamicApi;
use steady::Engine;

/// An engine without nodes: the store and the controllers only, so nothing but the test
/// writes to the store (store tests count revisions).
pub fn engine() -> Engine {
    Engine::builder()
        .local_node(false)
        .build()
        .expect("engine starts")
}

/// Access to the custom kind `Counter` (example.com/v1).
pub fn counters(e: &Engine) -> DynamicApi {
    e.dynamic("example.com/v1", "Counter")
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
