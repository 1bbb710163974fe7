//! The Deployment controller: rolls a pod template out through ReplicaSets, as Kubernetes'
//! deployment controller does.
//!
//! - The **new ReplicaSet** of a Deployment is the one whose template equals the Deployment's
//!   (ignoring `pod-template-hash`); it is created as `<deployment>-<pod-template-hash>` with
//!   the hash added to its labels, selector and template. Every other ReplicaSet the
//!   Deployment controls is **old**. ReplicaSets are claimed with the Deployment's selector
//!   (adopted and released like pods).
//! - **Revisions**: the new ReplicaSet's `deployment.kubernetes.io/revision` is one more than
//!   the highest old revision; an old ReplicaSet that becomes new again (a rollback) gets a
//!   new revision and keeps its earlier ones in `deployment.kubernetes.io/revision-history`.
//!   The Deployment carries its new ReplicaSet's revision too.
//! - **RollingUpdate**: the new ReplicaSet grows to at most `replicas + maxSurge` pods in
//!   all; old ReplicaSets shrink (unhealthy pods first) while at least
//!   `replicas - maxUnavailable` pods stay available. `maxSurge` rounds up, `maxUnavailable`
//!   down; both 0 makes `maxUnavailable` 1; defaults 25% each.
//! - **Recreate**: every old ReplicaSet is scaled to 0 and the new one is created or scaled up
//!   only once no old pod is left running.
//! - **Scaling** (a changed `spec.replicas`, seen through the ReplicaSets'
//!   `deployment.kubernetes.io/desired-replicas` annotation) and **paused** Deployments
//!   scale the ReplicaSets proportionally (`max-replicas` annotation) without rolling out.
//! - `revisionHistoryLimit` (default 10) old ReplicaSets with no pods are kept for rollback
//!   ([`rollback`]); older ones are deleted once a rollout completes.
//! - **Status**: replicas, updatedReplicas, readyReplicas, availableReplicas,
//!   unavailableReplicas, observedGeneration; conditions `Available`
//!   (`MinimumReplicasAvailable`), `Progressing` (`NewReplicaSetCreated`,
//!   `FoundNewReplicaSet`, `ReplicaSetUpdated`, `NewReplicaSetAvailable`,
//!   `ProgressDeadlineExceeded`, `DeploymentPaused`, `DeploymentResumed`) and
//!   `ReplicaFailure` (copied from a ReplicaSet). Without progress for
//!   `progressDeadlineSeconds` (default 600) `Progressing` turns `False`; the controller
//!   reconciles again at the deadline on the engine clock, so a manual clock drives it.
//!
//! # The rolling-update bounds hold on the pods, not only on the ReplicaSets' specs
//!
//! Kubernetes sizes ReplicaSets from their `spec.replicas` and `status.availableReplicas`,
//! which lag behind the pods while a ReplicaSet controller is still acting. steady only scales
//! while every ReplicaSet of the Deployment has observed its current spec
//! (`status.observedGeneration`), and then counts for each ReplicaSet at most
//! `max(spec.replicas, status.replicas)` pods and at least `min(spec.replicas,
//! status.availableReplicas)` available ones. An observed ReplicaSet only moves its pods
//! towards its spec, so these bounds hold until the next scaling step, and the pods
//! themselves never exceed `replicas + maxSurge` nor drop below `replicas - maxUnavailable`
//! available (as long as pods do not fail on their own). The cost is one extra reconcile per
//! step while a ReplicaSet catches up.
//!
//! Differences from Kubernetes, on purpose: the progress deadline and availability use
//! "at least" (a manual clock advanced by exactly the deadline times out); rollback is the
//! function [`rollback`] (what `kubectl rollout undo` does), not a field.
//!
//! The files follow Kubernetes' deployment controller: this one holds the controller, the
//! reconcile and the spec and condition helpers; `sync` (new and old ReplicaSets, scaling,
//! status), `rolling` and `recreate` (the two strategies), `progress` (the progress deadline)
//! and `rollback` (cleanup of old revisions, [`rollback`] and [`history`]).

use super::claim::{adopters, ControllerRefManager};
use super::hash::POD_TEMPLATE_HASH_LABEL;
use super::pod_util;
use super::replicaset::desired_replicas;
use crate::api::conditions::{condition, find_condition};
use crate::api::{
    Condition, Deployment, DeploymentStatus, IntOrString, ObjectMeta, Pod, ReplicaSet, Resource,
    Time,
};
use crate::client::events::EventKind;
use crate::client::Api;
use crate::runtime::{Action, Context, Controller, ObjectKey, ReconcileError, ReconcileResult};
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

mod progress;
mod recreate;
mod rollback;
mod rolling;
mod sync;

pub use rollback::{history, rollback};

/// The controller's name (metrics, events).
pub const NAME: &str = "deployment-controller";

/// Deployments reconciled at once (Kubernetes runs 5 workers).
const CONCURRENCY: usize = 4;

/// The revision of a ReplicaSet (and of its Deployment: that of its new ReplicaSet).
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions of a ReplicaSet that was rolled back to, comma-separated.
pub const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's `spec.replicas` when it last sized this ReplicaSet.
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
/// The Deployment's `spec.replicas + maxSurge` when it last sized this ReplicaSet.
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";

/// Condition: enough pods are available (`replicas - maxUnavailable`).
pub const AVAILABLE: &str = "Available";
/// Condition: the rollout is progressing, complete, paused or stuck.
pub const PROGRESSING: &str = "Progressing";

/// `Progressing` reason: a new ReplicaSet was created.
pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
/// `Progressing` reason: the new ReplicaSet already existed when progress tracking began.
pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
/// `Progressing` reason: the rollout made progress.
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
/// `Progressing` reason: the rollout is complete.
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
/// `Progressing` reason (status `False`): no progress within the deadline.
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
/// `Progressing` reason (status `False`): the new ReplicaSet could not be created.
pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
/// `Progressing` reason (status `Unknown`): the Deployment is paused.
pub const PAUSED: &str = "DeploymentPaused";
/// `Progressing` reason (status `Unknown`): the Deployment was resumed.
pub const RESUMED: &str = "DeploymentResumed";
/// `Available` reason.
pub const MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
/// `Available` reason (status `False`).
pub const MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

/// Default `spec.progressDeadlineSeconds`.
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;
/// Default `spec.revisionHistoryLimit`.
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;

/// The Recreate Deployment of a pod: its controller ReplicaSet is
/// `<deployment>-<pod-template-hash>`. Only Recreate waits on pods (its new pods start once
/// every old pod is gone), so, as in Kubernetes, pods of a RollingUpdate Deployment map to
/// nothing: their ReplicaSet's status already reports them, and waking the Deployment for
/// each of thousands of pod changes would only repeat its reconcile.
fn pod_to_deployment(store: &Store, o: &dyn crate::api::Object) -> Vec<ObjectKey> {
    let m = o.meta();
    let Some(rs) = m.controller_ref().filter(|r| r.kind == ReplicaSet::KIND) else {
        return Vec::new();
    };
    let Some(hash) = m.labels.get(POD_TEMPLATE_HASH_LABEL) else {
        return Vec::new();
    };
    let Some(name) = rs
        .name
        .strip_suffix(hash.as_str())
        .and_then(|n| n.strip_suffix('-'))
        .filter(|d| !d.is_empty())
    else {
        return Vec::new();
    };
    let recreate = store
        .get(Deployment::KIND, m.namespace.as_deref(), name)
        .ok()
        .and_then(|d| d.downcast_arc::<Deployment>().ok())
        .is_some_and(|d| !is_rolling_update(&d));
    if recreate {
        vec![ObjectKey::new(m.namespace.as_deref(), name)]
    } else {
        Vec::new()
    }
}

/// The Deployment controller, ready to register on an engine.
///
/// Besides its Deployments and the ReplicaSets they control, it watches orphan ReplicaSets:
/// one that matches a Deployment's selector queues that Deployment, which adopts it. Pods of
/// a Recreate Deployment map to it, so a rollout waiting for old pods to go hears when they
/// do.
pub fn controller() -> Controller {
    Controller::for_kind::<Deployment>(NAME)
        .owns_kind::<ReplicaSet>()
        .watches_with_store(ReplicaSet::KIND, |s, rs| {
            adopters::<Deployment>(s, rs, |d| &d.spec.selector)
        })
        // A pod going away can be what a Recreate rollout waits for (the new pods start only
        // once every old pod is gone), and its ReplicaSet may have no change left to report
        // by then: map a pod to the Recreate Deployment of its ReplicaSet.
        .watches_with_store(Pod::KIND, pod_to_deployment)
        .concurrency(CONCURRENCY)
        .build(reconcile)
}

// ----- spec helpers ---------------------------------------------------------------------------

/// `spec.replicas` with its default (1).
pub fn replicas(d: &Deployment) -> i32 {
    d.spec.replicas.unwrap_or(1)
}

/// True for strategy `RollingUpdate` (the default).
pub fn is_rolling_update(d: &Deployment) -> bool {
    d.spec
        .strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate")
}

/// `(maxSurge, maxUnavailable)` resolved against `spec.replicas`: surge rounds up,
/// unavailable rounds down, and when both come to 0 unavailable becomes 1 (Kubernetes'
/// `ResolveFenceposts`). Defaults 25% each.
pub fn resolve_fenceposts(d: &Deployment) -> Result<(i32, i32), String> {
    let ru = d
        .spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref());
    let quarter = IntOrString::from("25%");
    let surge = ru.and_then(|r| r.max_surge.as_ref()).unwrap_or(&quarter);
    let unavailable = ru
        .and_then(|r| r.max_unavailable.as_ref())
        .unwrap_or(&quarter);
    let n = replicas(d);
    let s = surge
        .resolve(n, true)
        .map_err(|e| format!("spec.strategy.rollingUpdate.maxSurge: {e}"))?;
    let mut u = unavailable
        .resolve(n, false)
        .map_err(|e| format!("spec.strategy.rollingUpdate.maxUnavailable: {e}"))?;
    if s == 0 && u == 0 {
        u = 1;
    }
    Ok((s.max(0), u.max(0)))
}

/// Pods allowed above `spec.replicas` during a rollout (0 for Recreate).
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling_update(d) {
        return 0;
    }
    resolve_fenceposts(d).map_or(0, |(s, _)| s)
}

/// Pods allowed to be unavailable during a rollout (0 for Recreate or 0 replicas; at most
/// `spec.replicas`).
pub fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling_update(d) || replicas(d) == 0 {
        return 0;
    }
    resolve_fenceposts(d).map_or(0, |(_, u)| u.min(replicas(d)))
}

pub(super) fn progress_deadline(d: &Deployment) -> Option<Duration> {
    let s = d
        .spec
        .progress_deadline_seconds
        .unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS);
    // Kubernetes treats MaxInt32 as "no deadline".
    (s != i32::MAX).then(|| Duration::from_secs(s.max(0) as u64))
}

pub(super) fn paused(d: &Deployment) -> bool {
    d.spec.paused.unwrap_or(false)
}

/// The `deployment.kubernetes.io/revision` of an object (0 when absent or not a number).
pub fn revision_of(meta: &ObjectMeta) -> i64 {
    meta.annotations
        .get(REVISION_ANNOTATION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub(super) fn annotation_i32(rs: &ReplicaSet, key: &str) -> Option<i32> {
    rs.metadata
        .annotations
        .get(key)
        .and_then(|v| v.parse().ok())
}

pub(super) fn is_active(rs: &ReplicaSet) -> bool {
    desired_replicas(rs) > 0
}

/// Oldest first, then by name (Kubernetes' `ReplicaSetsByCreationTimestamp`).
pub(super) fn by_creation(a: &Arc<ReplicaSet>, b: &Arc<ReplicaSet>) -> std::cmp::Ordering {
    a.metadata
        .creation_timestamp
        .cmp(&b.metadata.creation_timestamp)
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

pub(super) fn sum(rss: &[Arc<ReplicaSet>], f: impl Fn(&ReplicaSet) -> i32) -> i32 {
    rss.iter().map(|r| f(r)).sum()
}

/// Sets a Deployment condition as Kubernetes' `SetDeploymentCondition` does: nothing changes
/// when status and reason are the same (unless `refresh`, which renews `lastUpdateTime`, for
/// progress); `lastTransitionTime` moves only when the status changes.
pub(super) fn set_deployment_condition(
    conds: &mut Vec<Condition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Time,
    refresh: bool,
) {
    let cur = find_condition(conds, type_).cloned();
    if let Some(c) = &cur {
        if !refresh && c.status == status && c.reason.as_deref() == Some(reason) {
            return;
        }
    }
    let mut new = condition(type_, status, reason, message, None);
    new.last_update_time = Some(now);
    new.last_transition_time = match &cur {
        Some(c) if c.status == status => c.last_transition_time.or(Some(now)),
        _ => Some(now),
    };
    match conds.iter_mut().find(|c| c.type_ == type_) {
        Some(slot) => *slot = new,
        None => conds.push(new),
    }
}

// ----- the reconcile --------------------------------------------------------------------------

/// One reconcile of the Deployment `ctx.key()` (see the module documentation).
pub fn reconcile(ctx: &Context) -> ReconcileResult {
    let Some(d) = ctx.get::<Deployment>() else {
        return Ok(Action::done());
    };
    let selector = pod_util::workload_selector("Deployment", ctx.key(), &d.spec.selector)?;
    resolve_fenceposts(&d)
        .map_err(|e| ReconcileError::terminal(format!("Deployment {}: {e}", ctx.key())))?;
    let rs_list = ControllerRefManager::new(ctx.store(), d.as_ref(), &selector)
        .claim_all(|_: &ReplicaSet| true)?
        .owned;
    let mut s = Sync {
        ctx,
        rs_api: ctx.api::<ReplicaSet>(),
        api: ctx.api::<Deployment>(),
        now: ctx.now(),
        d,
    };
    if s.d.metadata.deletion_timestamp.is_some() {
        let (new, old) = s.new_and_old(rs_list)?;
        s.sync_deployment_status(&all_of(&old, &new), new.as_ref())?;
        return Ok(Action::done());
    }
    s.check_paused_conditions()?;
    let (new, old) = s.new_and_old(rs_list)?;
    if paused(&s.d) || s.is_scaling_event(&new, &old) {
        return s.sync(new, old);
    }
    if is_rolling_update(&s.d) {
        s.rollout_rolling(new, old)
    } else {
        s.rollout_recreate(new, old)
    }
}

pub(super) fn all_of(
    old: &[Arc<ReplicaSet>],
    new: &Option<Arc<ReplicaSet>>,
) -> Vec<Arc<ReplicaSet>> {
    let mut all = old.to_vec();
    all.extend(new.iter().cloned());
    all
}

/// The new ReplicaSet (if it exists) and the old ones.
pub(super) type NewAndOld = (Option<Arc<ReplicaSet>>, Vec<Arc<ReplicaSet>>);

/// One reconcile's state: the Deployment as last written and the APIs.
pub(super) struct Sync<'a> {
    pub(super) ctx: &'a Context,
    pub(super) d: Arc<Deployment>,
    pub(super) api: Api<Deployment>,
    pub(super) rs_api: Api<ReplicaSet>,
    pub(super) now: Time,
}

impl Sync<'_> {
    pub(super) fn event(&self, kind: EventKind, reason: &str, message: &str) {
        self.ctx.event(self.d.as_ref(), kind, reason, message);
    }

    pub(super) fn status(&self) -> DeploymentStatus {
        self.d.status.clone().unwrap_or_default()
    }

    /// Writes the status when it changed (no compare-and-swap: only this controller writes
    /// it, one reconcile per Deployment at a time).
    pub(super) fn write_status(&mut self, status: DeploymentStatus) -> crate::Result<()> {
        if self.d.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut d = (*self.d).clone();
        d.status = Some(status);
        d.metadata.resource_version = None;
        self.d = self.api.update_status(&d)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::conditions::{FALSE, TRUE};
    use crate::api::{DeploymentStrategy, RollingUpdateDeployment};

    fn deployment(
        replicas: i32,
        surge: Option<IntOrString>,
        unavailable: Option<IntOrString>,
    ) -> Deployment {
        let mut d = Deployment::default();
        d.spec.replicas = Some(replicas);
        d.spec.strategy = Some(DeploymentStrategy {
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: surge,
                max_unavailable: unavailable,
                ..Default::default()
            }),
            ..Default::default()
        });
        d
    }

    #[test]
    fn surge_rounds_up_and_unavailable_rounds_down() {
        let d = deployment(10, None, None);
        assert_eq!(resolve_fenceposts(&d).unwrap(), (3, 2));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (3, 2));
        let d = deployment(3, Some("50%".into()), Some("50%".into()));
        assert_eq!(resolve_fenceposts(&d).unwrap(), (2, 1));
        let d = deployment(5, Some(2.into()), Some(1.into()));
        assert_eq!(resolve_fenceposts(&d).unwrap(), (2, 1));
    }

    #[test]
    fn both_zero_makes_one_unavailable() {
        let d = deployment(1, Some("10%".into()), Some("10%".into()));
        // 10% of 1: surge rounds up to 1, unavailable down to 0.
        assert_eq!(resolve_fenceposts(&d).unwrap(), (1, 0));
        let d = deployment(4, Some(0.into()), Some("10%".into()));
        assert_eq!(resolve_fenceposts(&d).unwrap(), (0, 1));
    }

    #[test]
    fn unavailable_is_capped_by_replicas_and_zero_for_recreate() {
        let d = deployment(2, Some(1.into()), Some(5.into()));
        assert_eq!(max_unavailable(&d), 2);
        let mut r = deployment(4, None, None);
        r.spec.strategy = Some(DeploymentStrategy {
            type_: Some("Recreate".into()),
            ..Default::default()
        });
        assert_eq!((max_surge(&r), max_unavailable(&r)), (0, 0));
    }

    #[test]
    fn deployment_conditions_keep_the_transition_time_while_the_status_holds() {
        let t = |s: i64| Time::from_unix_micros(1_700_000_000_000_000 + s * 1_000_000);
        let mut conds = Vec::new();
        set_deployment_condition(
            &mut conds,
            PROGRESSING,
            TRUE,
            NEW_RS_CREATED,
            "a",
            t(0),
            false,
        );
        set_deployment_condition(&mut conds, PROGRESSING, TRUE, RS_UPDATED, "b", t(5), true);
        assert_eq!(conds[0].last_transition_time, Some(t(0)));
        assert_eq!(conds[0].last_update_time, Some(t(5)));
        // Same status and reason without refresh: nothing changes.
        set_deployment_condition(&mut conds, PROGRESSING, TRUE, RS_UPDATED, "c", t(9), false);
        assert_eq!(conds[0].last_update_time, Some(t(5)));
        assert_eq!(conds[0].message.as_deref(), Some("b"));
        set_deployment_condition(&mut conds, PROGRESSING, FALSE, TIMED_OUT, "d", t(20), false);
        assert_eq!(conds[0].last_transition_time, Some(t(20)));
    }
}
