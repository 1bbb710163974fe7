//! The resource metrics API (`metrics.k8s.io/v1beta1`, metrics-server's), so that
//! `kubectl top pods` and `kubectl top nodes` work.
//!
//! A container's usage is what its runtime measures (the process runtime reads CPU time and
//! resident memory from `/proc`): memory as it is now, CPU as the rate since an earlier
//! sample of the same container (kept about [`WINDOW`]; the first request that finds no
//! sample takes two, [`FIRST_WINDOW`] apart). A node's usage is the sum of its pods'.
//! Containers whose runtime measures nothing (in-process workers, simulated pods) are left
//! out, as metrics-server leaves out what it has no samples of.

use super::Shared;
use crate::api::{Node, Object, Pod, Selector};
use crate::store::ListParams;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a CPU sample serves as the start of the rate's window.
pub const WINDOW: Duration = Duration::from_secs(15);
/// The window of a container's first rate.
pub const FIRST_WINDOW: Duration = Duration::from_millis(200);

/// CPU samples by container (`pod uid/container`).
#[derive(Default)]
pub(crate) struct Samples(Mutex<HashMap<String, (Instant, Duration)>>);

/// One container's usage: CPU in nanocores, memory in bytes.
struct Use {
    name: String,
    nanocores: u64,
    bytes: u64,
}

/// The usage of each measured container of `pod`; `None` for a pod that does not run here.
fn pod_usage(shared: &Shared, pod: &Pod, samples: &Samples) -> Option<Vec<Use>> {
    let m = &pod.metadata;
    let uid = m.uid.clone().unwrap_or_default();
    let measured = shared.kubelet.container_usage(m.namespace_str(), &m.name)?;
    let now = Instant::now();
    let mut table = samples.0.lock();
    let mut out = Vec::new();
    for u in measured {
        let (Some(cpu), Some(bytes), name) = (u.cpu_time, u.memory_bytes, u.container) else {
            continue;
        };
        let key = format!("{uid}/{name}");
        let nanocores = match table.get(&key).copied() {
            Some((at, before)) if now > at && cpu >= before => {
                let elapsed = now - at;
                if elapsed >= WINDOW {
                    table.insert(key, (now, cpu));
                }
                ((cpu - before).as_nanos() as f64 / elapsed.as_secs_f64()) as u64
            }
            _ => {
                table.insert(key, (now, cpu));
                continue;
            }
        };
        out.push(Use {
            name,
            nanocores,
            bytes,
        });
    }
    Some(out)
}

fn quantities(nanocores: u64, bytes: u64) -> Value {
    json!({"cpu": format!("{nanocores}n"), "memory": format!("{}Ki", bytes / 1024)})
}

fn meta(o: &dyn Object) -> Value {
    json!({"name": o.meta().name, "namespace": o.meta().namespace,
           "creationTimestamp": o.meta().creation_timestamp})
}

/// Samples every pod of `pods` once, waiting [`FIRST_WINDOW`] when one had no sample yet,
/// and returns each pod with its usage.
async fn sample_all(
    shared: &Shared,
    pods: Vec<Arc<Pod>>,
    samples: &Samples,
) -> Vec<(Arc<Pod>, Vec<Use>)> {
    let first: Vec<Option<Vec<Use>>> = pods.iter().map(|p| pod_usage(shared, p, samples)).collect();
    let missing = pods.iter().zip(&first).any(|(p, u)| match u {
        Some(u) => {
            let measured = shared
                .kubelet
                .container_usage(p.metadata.namespace_str(), &p.metadata.name)
                .map_or(0, |m| {
                    m.iter()
                        .filter(|u| u.cpu_time.is_some() && u.memory_bytes.is_some())
                        .count()
                });
            u.len() < measured
        }
        None => false,
    });
    let usage = if missing {
        tokio::time::sleep(FIRST_WINDOW).await;
        pods.iter().map(|p| pod_usage(shared, p, samples)).collect()
    } else {
        first
    };
    pods.into_iter()
        .zip(usage)
        .filter_map(|(p, u)| u.filter(|u| !u.is_empty()).map(|u| (p, u)))
        .collect()
}

fn pods_of(shared: &Shared, params: &ListParams) -> Vec<Arc<Pod>> {
    shared
        .store
        .list("Pod", params)
        .map(|l| {
            l.items
                .into_iter()
                .filter_map(|o| o.downcast_arc::<Pod>().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `GET .../pods[/name]`: PodMetrics of the pods in `namespace` (all with `None`) that
/// `selector` selects.
pub(crate) async fn pods(
    shared: &Shared,
    samples: &Samples,
    namespace: Option<&str>,
    name: Option<&str>,
    selector: Option<&Selector>,
) -> Option<Value> {
    let mut pods = pods_of(
        shared,
        &ListParams {
            namespace: namespace.map(str::to_string),
            selector: selector.cloned(),
            ..ListParams::default()
        },
    );
    if let Some(n) = name {
        pods.retain(|p| p.metadata.name == n);
    }
    let now = shared.store.config().clock.now();
    let items: Vec<Value> = sample_all(shared, pods, samples)
        .await
        .into_iter()
        .map(|(p, u)| {
            json!({"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                   "metadata": meta(p.as_ref()), "timestamp": now, "window": "15s",
                   "containers": u.iter().map(|c| json!({"name": c.name,
                        "usage": quantities(c.nanocores, c.bytes)})).collect::<Vec<_>>()})
        })
        .collect();
    match name {
        Some(_) => items.into_iter().next(),
        None => Some(
            json!({"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
                            "metadata": {}, "items": items}),
        ),
    }
}

/// `GET .../nodes[/name]`: NodeMetrics of the nodes `selector` selects, each the sum of
/// its pods' usage.
pub(crate) async fn nodes(
    shared: &Shared,
    samples: &Samples,
    name: Option<&str>,
    selector: Option<&Selector>,
) -> Option<Value> {
    let nodes: Vec<Arc<Node>> = shared
        .store
        .list(
            "Node",
            &ListParams {
                selector: selector.cloned(),
                ..ListParams::default()
            },
        )
        .map(|l| {
            l.items
                .into_iter()
                .filter_map(|o| o.downcast_arc::<Node>().ok())
                .filter(|n| name.is_none_or(|want| n.metadata.name == want))
                .collect()
        })
        .unwrap_or_default();
    let now = shared.store.config().clock.now();
    let mut items = Vec::new();
    for node in nodes {
        let pods = pods_of(
            shared,
            &ListParams {
                field: Some(("spec.nodeName".into(), node.metadata.name.clone())),
                ..ListParams::default()
            },
        );
        let (mut cpu, mut mem) = (0u64, 0u64);
        for (_, usage) in sample_all(shared, pods, samples).await {
            for c in usage {
                cpu += c.nanocores;
                mem += c.bytes;
            }
        }
        items.push(json!({"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": node.metadata.name, "creationTimestamp": node.metadata.creation_timestamp},
            "timestamp": now, "window": "15s", "usage": quantities(cpu, mem)}));
    }
    match name {
        Some(_) => items.into_iter().next(),
        None => Some(
            json!({"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
                            "metadata": {}, "items": items}),
        ),
    }
}

/// The APIResourceList of `metrics.k8s.io/v1beta1`.
pub(crate) fn resource_list() -> Value {
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "metrics.k8s.io/v1beta1",
    "resources": [
        {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]},
        {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]}
    ]})
}
