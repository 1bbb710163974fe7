//! Node maintenance on an [`Engine`]: cordon, uncordon and drain, as `kubectl cordon`,
//! `uncordon` and `drain` do.
//!
//! Draining cordons the node, then evicts every pod bound to it through the same eviction
//! path as [`Api::evict`](crate::client::Api::evict) and the HTTP API, so
//! PodDisruptionBudgets are honoured: an eviction a budget refuses is tried again (after each
//! change to the store, and every [`DrainOptions::retry_interval`]) until
//! [`DrainOptions::timeout`]; then the drain waits for the evicted pods to be gone. Pods a
//! DaemonSet controls are skipped (their controller would put them back, and tolerates
//! the cordon), as are pods already being deleted by someone else (waited for all the
//! same). steady has no mirror (static) pods, so there are none to skip. Deadlines and
//! retry intervals are measured on the engine clock: with a manual clock, only moving it
//! makes them pass.

use super::Engine;
use crate::api::{Node, Pod, Resource};
use crate::client::eviction;
use crate::error::{Error, ObjectRef, Result};
use crate::store::{DeleteParams, Store};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// How a drain proceeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrainOptions {
    /// How long the drain may take, evictions and waiting for the pods to be gone
    /// (default 300 s, on the engine clock). What is left then is reported as failed.
    pub timeout: Duration,
    /// How long after an eviction refused by a budget it is tried again when nothing in the
    /// store changed meanwhile (default 5 s, as kubectl).
    pub retry_interval: Duration,
    /// Grace period for the evicted pods; `None` keeps each pod's own.
    pub grace_period_seconds: Option<i64>,
}

impl Default for DrainOptions {
    fn default() -> Self {
        DrainOptions {
            timeout: Duration::from_secs(300),
            retry_interval: Duration::from_secs(5),
            grace_period_seconds: None,
        }
    }
}

/// A pod a drain did not evict, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrainSkip {
    /// The pod.
    pub pod: ObjectRef,
    /// Why it was skipped or why its eviction failed.
    pub reason: String,
}

/// What a drain did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Pods evicted and gone from the node.
    pub evicted: Vec<ObjectRef>,
    /// Pods left alone: DaemonSet pods.
    pub skipped: Vec<DrainSkip>,
    /// Pods that could not be evicted (a budget refused until the timeout, several budgets
    /// select them...) or were evicted but not gone by the timeout, each with the last error.
    pub failed: Vec<DrainSkip>,
}

impl DrainReport {
    /// True when every pod that was to go has gone (nothing failed).
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }

    /// The report as JSON, as the C and Python APIs and the CLI give it:
    /// `{"evicted": [{"namespace", "name"}], "skipped": [{"namespace", "name", "reason"}],
    /// "failed": [{"namespace", "name", "reason"}]}`.
    pub fn to_value(&self) -> serde_json::Value {
        let pod = |r: &ObjectRef| json!({"namespace": r.namespace, "name": r.name});
        let with_reason = |s: &DrainSkip| {
            let mut v = pod(&s.pod);
            v["reason"] = json!(s.reason);
            v
        };
        json!({
            "evicted": self.evicted.iter().map(pod).collect::<Vec<_>>(),
            "skipped": self.skipped.iter().map(with_reason).collect::<Vec<_>>(),
            "failed": self.failed.iter().map(with_reason).collect::<Vec<_>>(),
        })
    }
}

/// How often a drain looks at the store again while it waits (real time; the deadlines
/// themselves are on the engine clock).
const POLL: Duration = Duration::from_millis(10);

/// The least real time between two rounds of refused evictions retried because the store
/// changed: a busy engine changes every millisecond, and each round reads the budgets.
const MIN_RETRY_GAP: Duration = Duration::from_millis(50);

fn pod_ref(pod: &Pod) -> ObjectRef {
    ObjectRef::new(
        Pod::KIND,
        pod.metadata.namespace.as_deref(),
        &pod.metadata.name,
    )
}

fn is_daemon_set_pod(pod: &Pod) -> bool {
    pod.metadata
        .controller_ref()
        .is_some_and(|r| r.kind == "DaemonSet")
}

/// The pod `r` with `uid`, if it still exists.
fn still_there(store: &Store, r: &ObjectRef, uid: &Option<String>) -> bool {
    store
        .get(Pod::KIND, r.namespace.as_deref(), &r.name)
        .is_ok_and(|o| &o.meta().uid == uid)
}

impl Engine {
    /// Marks the node unschedulable (`spec.unschedulable: true`): the scheduler places no
    /// new pod there; pods already on it keep running. [`Error::NotFound`] for an unknown
    /// node.
    pub fn cordon(&self, node: &str) -> Result<()> {
        self.set_unschedulable(node, true)
    }

    /// Makes a cordoned node schedulable again.
    pub fn uncordon(&self, node: &str) -> Result<()> {
        self.set_unschedulable(node, false)
    }

    fn set_unschedulable(&self, node: &str, on: bool) -> Result<()> {
        let nodes = self.api::<Node>();
        let current = nodes.get(node)?;
        if current.spec.unschedulable.unwrap_or(false) == on {
            return Ok(());
        }
        let value = if on { json!(true) } else { json!(null) };
        nodes.patch(node, &json!({"spec": {"unschedulable": value}}))?;
        Ok(())
    }

    /// Drains the node: cordons it, evicts every pod on it but DaemonSet pods through the
    /// eviction path (PodDisruptionBudgets honoured: refused evictions are retried until
    /// `options.timeout`), and waits for the evicted pods to be gone. See the
    /// [module docs](self) and [`DrainReport`]. Errors only when the node does not exist or
    /// the engine shut down; what could not be evicted is in the report.
    ///
    /// ```
    /// let engine = steady::Engine::builder()
    ///     .local_node(false)
    ///     .simulated_nodes(1, 1000, 1 << 30)
    ///     .build()
    ///     .unwrap();
    /// let node = engine.api::<steady::api::core::Node>().list(&Default::default()).unwrap().items[0]
    ///     .metadata.name.clone();
    /// let report = engine.drain(&node, &steady::engine::DrainOptions::default()).unwrap();
    /// assert!(report.is_complete());
    /// ```
    pub fn drain(&self, node: &str, options: &DrainOptions) -> Result<DrainReport> {
        self.cordon(node)?;
        let store = self.store();
        let clock = &store.config().clock;
        let deadline = clock.monotonic() + options.timeout;
        let mut report = DrainReport::default();
        // Pods still to evict, with the last refusal; then pods evicted, to see gone.
        let mut pending: Vec<(Arc<Pod>, Option<Error>)> = Vec::new();
        let mut leaving: Vec<(ObjectRef, Option<String>)> = Vec::new();
        for pod in crate::node::pods_on(store, node)? {
            if is_daemon_set_pod(&pod) {
                report.skipped.push(DrainSkip {
                    pod: pod_ref(&pod),
                    reason: "DaemonSet-managed".into(),
                });
            } else {
                pending.push((pod, None));
            }
        }
        let params = DeleteParams {
            grace_period_seconds: options.grace_period_seconds,
            ..Default::default()
        };
        let mut last_revision = 0;
        let mut last_try = None;
        let mut last_round = std::time::Instant::now();
        loop {
            let revision = store.revision();
            let now = clock.monotonic();
            let retry_due = last_try.is_none_or(|t| now >= t + options.retry_interval);
            let changed = revision != last_revision && last_round.elapsed() >= MIN_RETRY_GAP;
            if changed || retry_due {
                last_revision = revision;
                last_round = std::time::Instant::now();
                last_try = Some(now);
                let mut still = Vec::new();
                for (pod, _) in pending.drain(..) {
                    let r = pod_ref(&pod);
                    let ns = r.namespace.clone().unwrap_or_else(|| "default".into());
                    let mut pinned = params.clone();
                    // The pod that was on the node, not one re-created under its name.
                    pinned.uid = pod.metadata.uid.clone();
                    match eviction::evict(store, &ns, &r.name, &pinned, false) {
                        Ok(_) => leaving.push((r, pod.metadata.uid.clone())),
                        Err(eviction::Refused::Error(e)) if e.is_not_found() || e.is_conflict() => {
                            // Gone already, or replaced by another pod of that name.
                            leaving.push((r, pod.metadata.uid.clone()));
                        }
                        Err(eviction::Refused::Error(Error::Closed)) => return Err(Error::Closed),
                        Err(refused @ eviction::Refused::Budget { .. }) => {
                            still.push((pod, Some(refused.into_error(r))));
                        }
                        Err(refused) => report.failed.push(DrainSkip {
                            reason: refused.into_error(r.clone()).to_string(),
                            pod: r,
                        }),
                    }
                }
                pending = still;
            }
            leaving.retain(|(r, uid)| {
                let there = still_there(store, r, uid);
                if !there {
                    report.evicted.push(r.clone());
                }
                there
            });
            if pending.is_empty() && leaving.is_empty() {
                break;
            }
            if clock.monotonic() >= deadline {
                for (pod, e) in pending {
                    report.failed.push(DrainSkip {
                        pod: pod_ref(&pod),
                        reason: e.map_or_else(|| "timed out".into(), |e| e.to_string()),
                    });
                }
                for (r, _) in leaving {
                    report.failed.push(DrainSkip {
                        pod: r,
                        reason: "evicted, but not deleted before the drain timed out".into(),
                    });
                }
                break;
            }
            if self.is_shut_down() {
                return Err(Error::Closed);
            }
            std::thread::sleep(POLL);
        }
        Ok(report)
    }
}
