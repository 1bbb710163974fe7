//! Builders for the plugin unit tests.

use crate::api::{Node, Pod};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::PodInfo;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A pod in `default` with this spec (a unique name and uid).
pub(crate) fn pod(spec: Value) -> PodInfo {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    pod_obj(json!({
        "metadata": {"name": format!("p{n}"), "namespace": "default", "uid": format!("u{n}")},
        "spec": spec
    }))
}

/// A pod from a whole object (name, namespace, labels...).
pub(crate) fn pod_obj(mut obj: Value) -> PodInfo {
    if obj["metadata"]["uid"].is_null() {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        obj["metadata"]["uid"] = format!("u{n}").into();
    }
    let p: Pod = serde_json::from_value(obj).expect("a pod");
    PodInfo::new(Arc::new(p))
}

/// A node from a whole object.
pub(crate) fn node(obj: Value) -> NodeInfo {
    let n: Node = serde_json::from_value(obj).expect("a node");
    NodeInfo::new(Arc::new(n))
}

/// A node running pods with these specs.
pub(crate) fn node_with_pods(obj: Value, specs: &[Value]) -> NodeInfo {
    node_with(
        obj,
        specs.iter().map(|s| Arc::new(pod(s.clone()))).collect(),
    )
}

/// A node running these pods.
pub(crate) fn node_with(obj: Value, pods: Vec<Arc<PodInfo>>) -> NodeInfo {
    let mut n = node(obj);
    for p in pods {
        n.add_pod(p);
    }
    n
}
