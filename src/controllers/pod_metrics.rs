//! The pod metrics the HorizontalPodAutoscaler reads (steady's metrics-server and custom
//! metrics API in one): resource usage per pod and custom per-pod metrics.
//!
//! - **Resource usage** (`cpu`, `memory`, in milli-units: millicores, millibytes):
//!   1. a value the host reported with [`PodMetrics::report_pod_usage`] wins (the host knows
//!      best, and simulated pods have no OS to measure);
//!   2. otherwise, for `cpu`, the node agent's measurement: the CPU time of the pod's running
//!      containers read from the OS ([`Kubelet::pod_cpu_time`]), turned into a rate over a
//!      sampling window on the engine clock: `(cpu(now) - cpu(then)) / (now - then)`. The
//!      window runs from the previous sample (at least [`MIN_WINDOW`] old; a sample taken
//!      sooner returns the previous rate) or, for a pod's first sample, from its
//!      `status.startTime` with zero CPU used. A pod whose CPU time went down (a container
//!      restarted) starts a new window from zero; for `memory`, what the node agent
//!      measures now ([`Kubelet::pod_memory_bytes`]: the working set of a process container,
//!      children included where it has a control group).
//! - **Custom metrics** (the `Pods` metric type): plain numbers the host reports per pod with
//!   [`PodMetrics::report_pod_metric`], kept until replaced or the pod is gone.
//!
//! Entries of pods that no longer exist are dropped at most once per [`PRUNE_PERIOD`] of the
//! engine clock, when the autoscaler reads (no leak as pods come and go).

use crate::api::{Pod, Quantity, Resource, Time};
use crate::clock::SharedClock;
use crate::node::Kubelet;
use crate::store::Store;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The shortest CPU sampling window: a sample sooner after the previous one reuses its rate,
/// so reconciles that come close together do not compute a rate from a sliver of time.
pub const MIN_WINDOW: Duration = Duration::from_secs(1);

/// How often entries of deleted pods are dropped (engine clock).
pub const PRUNE_PERIOD: Duration = Duration::from_secs(60);

/// `namespace/name` of a pod.
type PodKey = (String, String);

/// One CPU sample of a pod: when, the cumulative CPU time, and the rate it gave.
#[derive(Clone, Copy, Debug)]
struct CpuSample {
    at: Time,
    cpu: Duration,
    /// Millicores over the window that ended at `at`; `None` for a window of zero length.
    rate: Option<i64>,
}

#[derive(Default)]
struct Tables {
    /// Reported usage: pod -> resource -> milli-value.
    usage: HashMap<PodKey, HashMap<String, i64>>,
    /// Reported custom metrics: pod -> metric -> value.
    custom: HashMap<PodKey, HashMap<String, f64>>,
    /// The last CPU sample of each measured pod.
    cpu: HashMap<PodKey, CpuSample>,
    last_prune: Option<Time>,
}

/// Per-pod metrics for the autoscaler. Cheap to clone; clones share the tables.
#[derive(Clone)]
pub struct PodMetrics {
    store: Store,
    clock: SharedClock,
    kubelet: Option<Kubelet>,
    tables: Arc<Mutex<Tables>>,
}

impl std::fmt::Debug for PodMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.tables.lock();
        f.debug_struct("PodMetrics")
            .field("reported_usage", &t.usage.len())
            .field("custom", &t.custom.len())
            .field("cpu_samples", &t.cpu.len())
            .finish()
    }
}

fn key(namespace: &str, pod: &str) -> PodKey {
    (namespace.to_string(), pod.to_string())
}

fn pod_key(pod: &Pod) -> PodKey {
    key(
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        &pod.metadata.name,
    )
}

impl PodMetrics {
    /// Metrics of the pods in `store`, sampled on `clock`; CPU is measured through `kubelet`
    /// when given (else only reported values exist).
    pub fn new(store: Store, clock: SharedClock, kubelet: Option<Kubelet>) -> Self {
        PodMetrics {
            store,
            clock,
            kubelet,
            tables: Arc::default(),
        }
    }

    /// Reports the custom metric `name` of pod `namespace/pod` (read by `Pods` metrics of
    /// autoscalers, compared with their `averageValue`). Replaces the previous value.
    pub fn report_pod_metric(&self, namespace: &str, pod: &str, name: &str, value: f64) {
        self.tables
            .lock()
            .custom
            .entry(key(namespace, pod))
            .or_default()
            .insert(name.to_string(), value);
    }

    /// Reports the usage of `resource` (`cpu` in cores, `"250m"`; `memory` in bytes) by pod
    /// `namespace/pod`. A reported value takes precedence over the node agent's measurement.
    pub fn report_pod_usage(&self, namespace: &str, pod: &str, resource: &str, usage: &Quantity) {
        self.tables
            .lock()
            .usage
            .entry(key(namespace, pod))
            .or_default()
            .insert(resource.to_string(), usage.milli_value());
    }

    /// Forgets everything reported about pod `namespace/pod`; `name` `None` forgets all its
    /// custom metrics and usage, `Some(name)` only that custom metric or resource.
    pub fn forget(&self, namespace: &str, pod: &str, name: Option<&str>) {
        let mut t = self.tables.lock();
        let k = key(namespace, pod);
        match name {
            None => {
                t.custom.remove(&k);
                t.usage.remove(&k);
            }
            Some(n) => {
                if let Some(m) = t.custom.get_mut(&k) {
                    m.remove(n);
                }
                if let Some(m) = t.usage.get_mut(&k) {
                    m.remove(n);
                }
            }
        }
    }

    /// The custom metric `name` of `pod`, as reported.
    pub fn pod_metric(&self, pod: &Pod, name: &str) -> Option<f64> {
        self.prune_if_due();
        let t = self.tables.lock();
        t.custom.get(&pod_key(pod))?.get(name).copied()
    }

    /// The usage of `resource` by `pod` in milli-units (see the module documentation):
    /// reported, else for `cpu` measured from the OS over a sampling window, for `memory`
    /// measured now. `None` when
    /// neither is known yet.
    pub fn pod_usage_milli(&self, pod: &Pod, resource: &str) -> Option<i64> {
        self.prune_if_due();
        let k = pod_key(pod);
        if let Some(v) = self
            .tables
            .lock()
            .usage
            .get(&k)
            .and_then(|m| m.get(resource))
        {
            return Some(*v);
        }
        if resource == "memory" {
            let bytes = self.kubelet.as_ref()?.pod_memory_bytes(&k.0, &k.1)?;
            return Some(
                i64::try_from(bytes)
                    .unwrap_or(i64::MAX / 1000)
                    .saturating_mul(1000),
            );
        }
        if resource != "cpu" {
            return None;
        }
        let cpu = self.kubelet.as_ref()?.pod_cpu_time(&k.0, &k.1)?;
        let now = self.clock.now();
        let mut t = self.tables.lock();
        let base = match t.cpu.get(&k) {
            // A restarted container: its CPU time starts again from zero.
            Some(prev) if cpu < prev.cpu => CpuSample {
                at: prev.at,
                cpu: Duration::ZERO,
                rate: None,
            },
            Some(prev) => *prev,
            None => CpuSample {
                at: pod
                    .status
                    .as_ref()
                    .and_then(|s| s.start_time)
                    .unwrap_or(now),
                cpu: Duration::ZERO,
                rate: None,
            },
        };
        let window = now.saturating_duration_since(base.at);
        if window < MIN_WINDOW {
            t.cpu.entry(k).or_insert(CpuSample {
                at: now,
                cpu,
                rate: None,
            });
            return base.rate;
        }
        let used = cpu.saturating_sub(base.cpu);
        let rate = (used.as_secs_f64() * 1000.0 / window.as_secs_f64()).round() as i64;
        t.cpu.insert(
            k,
            CpuSample {
                at: now,
                cpu,
                rate: Some(rate),
            },
        );
        Some(rate)
    }

    /// Drops the entries of pods that no longer exist, at most once per [`PRUNE_PERIOD`].
    fn prune_if_due(&self) {
        let now = self.clock.now();
        let keys: Vec<PodKey> = {
            let mut t = self.tables.lock();
            match t.last_prune {
                Some(last) if now.saturating_duration_since(last) < PRUNE_PERIOD => return,
                _ => t.last_prune = Some(now),
            }
            t.usage
                .keys()
                .chain(t.custom.keys())
                .chain(t.cpu.keys())
                .cloned()
                .collect()
        };
        // Read the store without holding the tables: a report meanwhile is not lost (only
        // keys found gone are removed).
        let gone: Vec<PodKey> = keys
            .into_iter()
            .filter(|(ns, name)| {
                matches!(
                    self.store.get(Pod::KIND, Some(ns), name),
                    Err(e) if e.is_not_found()
                )
            })
            .collect();
        if gone.is_empty() {
            return;
        }
        let mut t = self.tables.lock();
        for k in gone {
            t.usage.remove(&k);
            t.custom.remove(&k);
            t.cpu.remove(&k);
        }
    }
}
