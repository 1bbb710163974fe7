//! The built-in controllers (layer 7). Each is an ordinary [`crate::runtime::Controller`]
//! on the public runtime API: a user's controller has exactly the same powers.
//!
//! - [`endpoints`]: Endpoints of Services, and the round-robin [`endpoints::Resolver`].
//! - [`node_lifecycle`]: unreachable nodes are tainted and their pods evicted.
//! - [`replicaset`]: keeps `replicas` pods matching a selector.
//! - [`deployment`]: rolls ReplicaSets out (RollingUpdate, Recreate), revisions, rollback,
//!   pause, progress deadline.
//! - [`hpa`]: the HorizontalPodAutoscaler (autoscaling/v2), reading pod metrics from
//!   [`pod_metrics::PodMetrics`]; the engine registers it with its metrics (see
//!   [`hpa::controller`]).
//! - [`statefulset`]: pods with stable names and per-pod claims, ordered or parallel,
//!   rolling updates with a partition.
//! - [`job`]: pods run to completion (completions, parallelism, backoffLimit,
//!   activeDeadlineSeconds).
//! - [`ttl_after_finished`]: finished Jobs deleted `ttlSecondsAfterFinished` later.
//! - [`cronjob`]: Jobs created on a cron schedule (time zones, missed times, concurrency
//!   policies, history limits).
//! - [`disruption`]: PodDisruptionBudgets' status (healthy, desired and expected pods,
//!   disruptions allowed, disrupted pods timing out on the engine clock).
//! - [`daemonset`]: one pod on every eligible node (nodeSelector, taints), following
//!   nodes as they come and go.
//! - [`volumes`]: PersistentVolumeClaims bound to host directories.
//! - [`namespace`]: Namespaces `Active`, then `Terminating` and emptied when deleted.
//! - [`gc`]: the garbage collector (ownerReferences; Background, Foreground and Orphan
//!   deletion), one controller per kind, custom kinds included.
//!
//! The pieces the workload controllers share, written once:
//! - [`pod_util`]: pod predicates (active, ready, available on the engine clock), pods built from
//!   templates for an owner, and the scale-down order ([`pod_util::DeletionOrder`]);
//! - [`claim`]: the controller-reference manager (adopt matching orphans, release what stopped
//!   matching), for any owner and any dependent kind;
//! - [`hash`]: the stable template hash (`pod-template-hash`, revision names);
//! - [`revisions`]: template history as ControllerRevisions (StatefulSet, DaemonSet);
//! - [`slow_start`]: slow-start batched creates and the per-sync burst limit.
//!
//! [`builtin`] returns the workload controllers an engine runs by default; the engine
//! registers the garbage collector per kind (see [`gc::GarbageCollector`]).

pub mod claim;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod gc;
pub mod hash;
pub mod hpa;
pub mod job;
pub mod pod_metrics;
/// The former name of [`pod_metrics`] (a source of pod metrics for the HPA).
#[doc(hidden)]
pub use self::pod_metrics as metrics;
pub mod namespace;
pub mod node_lifecycle;
pub mod pod_util;
/// The former name of [`pod_util`] (it holds helpers about pods, not a Pod controller).
#[doc(hidden)]
pub use self::pod_util as pods;
pub mod replicaset;
pub mod revisions;
pub mod slow_start;
pub mod statefulset;
pub mod ttl_after_finished;
pub mod volumes;

use crate::api::Resource;
use crate::client::Api;
use crate::runtime::Controller;

/// Writes the status `put` sets on a copy of `obj`, unless it equals `obj`'s (then nothing is
/// written and no watcher wakes). No compare-and-swap: for a controller that alone writes
/// its objects' status, one reconcile per object at a time (the runtime's guarantee), so
/// `observedGeneration` names the spec it acted on even when the spec changed meanwhile.
/// The built-in workload controllers write their status so.
///
/// # Errors
///
/// The store's: the object is gone (NotFound), or the status fails validation.
pub fn write_own_status<K: Resource>(
    api: &Api<K>,
    obj: &K,
    put: impl FnOnce(&mut K),
) -> crate::Result<()> {
    let mut updated = obj.clone();
    put(&mut updated);
    if updated.status_eq(obj) {
        return Ok(());
    }
    updated.meta_mut().resource_version = None;
    api.update_status(&updated)?;
    Ok(())
}

/// The built-in workload controllers, ready to register: ReplicaSet, Deployment,
/// StatefulSet, Job, the TTL-after-finished controller, CronJob, DaemonSet, the disruption
/// controller, the claim binder and the namespace controller.
pub fn builtin() -> Vec<Controller> {
    vec![
        replicaset::controller(),
        deployment::controller(),
        statefulset::controller(),
        job::controller(),
        cronjob::controller(),
        ttl_after_finished::controller(),
        daemonset::controller(),
        disruption::controller(),
        volumes::controller(),
        namespace::controller(),
    ]
}
