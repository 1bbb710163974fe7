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
//!
//! **Across hosts** (engines sharing a store on etcd), the autoscaler runs on the leader,
//! but a pod's usage is known on the host that runs it. So each engine publishes what it
//! knows of the pods on each of its nodes ([`publisher`]): a cluster-scoped
//! [`USAGE_REPORT_KIND`] object named after the node, rewritten every heartbeat period,
//! holding per pod its `cpu` and `memory` (milli-units, as above) and its custom metrics.
//! For a pod it neither measures nor was told about, an engine reads its node's report,
//! unless the report is older than [`PodMetrics::with_reports`]' limit (the pod's metrics
//! are then missing, as for a pod never measured).

use crate::api::{DynamicObject, KindInfo, Object, Pod, Quantity, Resource, Time};
use crate::clock::SharedClock;
use crate::node::Kubelet;
use crate::runtime::{Action, Context, Controller, ReconcileResult};
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

/// The apiVersion of [`USAGE_REPORT_KIND`].
pub const USAGE_REPORT_API_VERSION: &str = "steady.dev/v1";

/// The kind of the objects in which each engine publishes the usage of the pods on one of
/// its nodes (see the module docs): cluster-scoped, named after the node, with the fields
/// `timestamp` (RFC 3339) and `pods`, a map from `namespace/name` to `{"cpu": milli,
/// "memory": milli, "custom": {metric: value}}` (each field present when known).
pub const USAGE_REPORT_KIND: &str = "PodUsageReport";

/// The [`KindInfo`] of [`USAGE_REPORT_KIND`], which engines sharing a store register.
pub fn usage_report_kind() -> KindInfo {
    KindInfo::dynamic(USAGE_REPORT_API_VERSION, USAGE_REPORT_KIND, false)
}

/// When a [`USAGE_REPORT_KIND`] object was written (its `timestamp`).
fn report_time(report: &DynamicObject) -> Option<Time> {
    serde_json::from_value(report.data.get("timestamp")?.clone()).ok()
}

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
    /// Whether other engines' reports are read, and how old one may be.
    reports: Option<Duration>,
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
            reports: None,
        }
    }

    /// Also reads the usage of pods that other engines run from their nodes' reports (see
    /// the module docs), when a report is at most `max_age` old on this engine's clock.
    pub fn with_reports(mut self, max_age: Duration) -> Self {
        self.reports = Some(max_age);
        self
    }

    /// What the report of `pod`'s node says of it under `field` (`cpu`, `memory`, or a
    /// custom metric under `custom`), when reports are read and that one is fresh.
    fn reported_elsewhere(&self, pod: &Pod, field: &str, custom: bool) -> Option<f64> {
        let max_age = self.reports?;
        let node = pod.spec.node_name.as_deref()?;
        let report = self.store.get(USAGE_REPORT_KIND, None, node).ok()?;
        let report = report.downcast_ref::<DynamicObject>()?;
        let at = report_time(report)?;
        if self.clock.now().saturating_duration_since(at) > max_age {
            return None;
        }
        let (ns, name) = pod_key(pod);
        let entry = report.data.get("pods")?.get(format!("{ns}/{name}"))?;
        let entry = if custom { entry.get("custom")? } else { entry };
        entry.get(field)?.as_f64()
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

    /// The custom metric `name` of `pod`, as reported (to this engine, or to the engine
    /// that runs the pod: see the module docs).
    pub fn pod_metric(&self, pod: &Pod, name: &str) -> Option<f64> {
        self.local_metric(pod, name)
            .or_else(|| self.reported_elsewhere(pod, name, true))
    }

    /// The custom metric `name` of `pod`, as reported to this engine.
    fn local_metric(&self, pod: &Pod, name: &str) -> Option<f64> {
        self.prune_if_due();
        let t = self.tables.lock();
        t.custom.get(&pod_key(pod))?.get(name).copied()
    }

    /// The usage of `resource` by `pod` in milli-units (see the module documentation):
    /// reported, else for `cpu` measured from the OS over a sampling window, for `memory`
    /// measured now. `None` when
    /// neither is known yet.
    pub fn pod_usage_milli(&self, pod: &Pod, resource: &str) -> Option<i64> {
        self.local_usage_milli(pod, resource).or_else(|| {
            self.reported_elsewhere(pod, resource, false)
                .map(|v| v.round() as i64)
        })
    }

    /// [`PodMetrics::pod_usage_milli`] from what this engine measures or was told only.
    fn local_usage_milli(&self, pod: &Pod, resource: &str) -> Option<i64> {
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

/// The controller (`pod-usage-report`, on every engine) that publishes the usage of the pods
/// on the nodes `local` accepts (this engine's running nodes) every `period`: one
/// [`USAGE_REPORT_KIND`] object per node, owned by the Node (it goes with it). See the
/// module docs.
pub fn publisher(
    metrics: PodMetrics,
    local: crate::node::LocalNodes,
    period: Duration,
) -> Controller {
    let ours = local.clone();
    Controller::for_kind::<crate::api::Node>("pod-usage-report")
        .filter(move |o| ours(&o.meta().name))
        .on_every_engine()
        .build(move |ctx: &Context| publish(ctx, &metrics, &local, period))
}

fn publish(
    ctx: &Context,
    metrics: &PodMetrics,
    local: &crate::node::LocalNodes,
    period: Duration,
) -> ReconcileResult {
    let node = ctx.name();
    // A node this engine stopped or gave up (another engine took it over) is not reported
    // on: its pods are not this engine's any more.
    let Some(node_obj) = ctx.get::<crate::api::Node>().filter(|_| local(node)) else {
        return Ok(Action::done());
    };
    let store = ctx.store();
    let current = match store.get(USAGE_REPORT_KIND, None, node) {
        Ok(cur) => Some(cur),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    // The node's heartbeats wake this too: one report per period is enough, and nothing is
    // sampled before that is known.
    let age = current
        .as_ref()
        .and_then(|c| c.downcast_ref::<DynamicObject>())
        .and_then(report_time)
        .map(|t| ctx.now().saturating_duration_since(t));
    if let Some(age) = age.filter(|a| *a < period / 2) {
        return Ok(Action::requeue(period - age));
    }
    let mut pods = serde_json::Map::new();
    for pod in crate::node::pods_on(ctx.store(), node)? {
        let mut entry = serde_json::Map::new();
        for resource in ["cpu", "memory"] {
            if let Some(v) = metrics.local_usage_milli(&pod, resource) {
                entry.insert(resource.into(), v.into());
            }
        }
        let custom = metrics
            .tables
            .lock()
            .custom
            .get(&pod_key(&pod))
            .cloned()
            .unwrap_or_default();
        if !custom.is_empty() {
            entry.insert(
                "custom".into(),
                serde_json::to_value(custom).unwrap_or_default(),
            );
        }
        if !entry.is_empty() {
            let (ns, name) = pod_key(&pod);
            pods.insert(format!("{ns}/{name}"), entry.into());
        }
    }
    let mut report = DynamicObject::new(USAGE_REPORT_API_VERSION, USAGE_REPORT_KIND, node);
    report.metadata.owner_references = vec![crate::api::OwnerReference {
        api_version: "v1".into(),
        kind: "Node".into(),
        name: node.to_string(),
        uid: node_obj.metadata.uid.clone().unwrap_or_default(),
        ..Default::default()
    }];
    report.data.insert(
        "timestamp".into(),
        serde_json::to_value(ctx.now()).unwrap_or_default(),
    );
    report.data.insert("pods".into(), pods.into());
    let report = Arc::new(report) as Arc<dyn Object>;
    if current.is_some() {
        store.update(report)?;
    } else {
        store.create(report)?;
    }
    Ok(Action::requeue(period))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Registry;
    use crate::clock::{Clock, ManualClock};
    use crate::store::StoreConfig;
    use serde_json::json;

    #[test]
    fn another_engine_s_report_is_read_while_it_is_fresh() {
        let registry = Arc::new(Registry::new());
        crate::api::register_builtins(&registry);
        registry.register(usage_report_kind());
        let clock = Arc::new(ManualClock::new(Time::from_unix_micros(1_000_000_000_000)));
        let store = Store::new(
            registry,
            StoreConfig {
                clock: clock.clone(),
                ..Default::default()
            },
        );
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"nodeName": "far", "containers": [{"name": "c"}]}
        }))
        .unwrap();
        let mut report = DynamicObject::new(USAGE_REPORT_API_VERSION, USAGE_REPORT_KIND, "far");
        report.data.insert(
            "timestamp".into(),
            serde_json::to_value(clock.now()).unwrap(),
        );
        report.data.insert(
            "pods".into(),
            json!({"default/p": {"cpu": 250, "custom": {"sessions": 7.5}}}),
        );
        store.create(Arc::new(report)).unwrap();
        let clock_dyn: SharedClock = clock.clone();
        let without = PodMetrics::new(store.clone(), clock_dyn.clone(), None);
        assert_eq!(without.pod_usage_milli(&pod, "cpu"), None);
        let metrics = without.with_reports(Duration::from_secs(30));
        assert_eq!(metrics.pod_usage_milli(&pod, "cpu"), Some(250));
        assert_eq!(metrics.pod_usage_milli(&pod, "memory"), None);
        assert_eq!(metrics.pod_metric(&pod, "sessions"), Some(7.5));
        // What this engine was told wins over a report.
        metrics.report_pod_usage("default", "p", "cpu", &Quantity::from_milli(400));
        assert_eq!(metrics.pod_usage_milli(&pod, "cpu"), Some(400));
        metrics.forget("default", "p", None);
        // A report older than the limit is no report: its engine stopped publishing.
        clock.advance(Duration::from_secs(31));
        assert_eq!(metrics.pod_usage_milli(&pod, "cpu"), None);
        assert_eq!(metrics.pod_metric(&pod, "sessions"), None);
    }
}
