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

use super::claim::{adopters, ControllerRefManager};
use super::hash::{
    equal_ignoring_hash, template_hash, with_hash_label, without_hash_label,
    POD_TEMPLATE_HASH_LABEL,
};
use super::pods;
use super::replicaset::{
    available_replicas, desired_replicas, is_observed, ready_replicas, status_replicas,
    REPLICA_FAILURE,
};
use crate::api::{
    Condition, Deployment, DeploymentStatus, IntOrString, ObjectMeta, Pod, ReplicaSet,
    ReplicaSetSpec, Resource, Time,
};
use crate::client::{Api, LAST_APPLIED_ANNOTATION};
use crate::error::{Error, ObjectRef};
use crate::runtime::conditions::{
    condition, find_condition, remove_condition, FALSE, TRUE, UNKNOWN,
};
use crate::runtime::events::EventKind;
use crate::runtime::owner::{is_controlled_by, owner_reference};
use crate::runtime::{Action, Context, Controller, ObjectKey, ReconcileError, ReconcileResult};
use crate::store::{DeleteParams, ListParams, Store};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

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

/// Longest `revision-history` annotation, in characters (Kubernetes' limit).
const REVISION_HISTORY_LIMIT_CHARS: usize = 2000;

/// Deployment annotations that are not copied to its ReplicaSets.
const NOT_COPIED: &[&str] = &[
    LAST_APPLIED_ANNOTATION,
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    "deprecated.deployment.rollback.to",
];

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

fn progress_deadline(d: &Deployment) -> Option<Duration> {
    let s = d
        .spec
        .progress_deadline_seconds
        .unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS);
    // Kubernetes treats MaxInt32 as "no deadline".
    (s != i32::MAX).then(|| Duration::from_secs(s.max(0) as u64))
}

fn paused(d: &Deployment) -> bool {
    d.spec.paused.unwrap_or(false)
}

/// The `deployment.kubernetes.io/revision` of an object (0 when absent or not a number).
pub fn revision_of(meta: &ObjectMeta) -> i64 {
    meta.annotations
        .get(REVISION_ANNOTATION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn annotation_i32(rs: &ReplicaSet, key: &str) -> Option<i32> {
    rs.metadata
        .annotations
        .get(key)
        .and_then(|v| v.parse().ok())
}

fn is_active(rs: &ReplicaSet) -> bool {
    desired_replicas(rs) > 0
}

/// Oldest first, then by name (Kubernetes' `ReplicaSetsByCreationTimestamp`).
fn by_creation(a: &Arc<ReplicaSet>, b: &Arc<ReplicaSet>) -> std::cmp::Ordering {
    a.metadata
        .creation_timestamp
        .cmp(&b.metadata.creation_timestamp)
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

fn sum(rss: &[Arc<ReplicaSet>], f: impl Fn(&ReplicaSet) -> i32) -> i32 {
    rss.iter().map(|r| f(r)).sum()
}

/// True when the rollout is complete: every replica updated and available, nothing old left,
/// and the status is of the current generation.
fn deployment_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let n = replicas(d);
    s.updated_replicas.unwrap_or(0) == n
        && s.replicas.unwrap_or(0) == n
        && s.available_replicas.unwrap_or(0) == n
        && s.observed_generation >= d.metadata.generation
}

/// True when `new` shows progress over the Deployment's current status.
fn deployment_progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let g = |x: Option<i32>| x.unwrap_or(0);
    let old_old = g(old.replicas) - g(old.updated_replicas);
    let new_old = g(new.replicas) - g(new.updated_replicas);
    g(new.updated_replicas) > g(old.updated_replicas)
        || new_old < old_old
        || g(new.ready_replicas) > g(old.ready_replicas)
        || g(new.available_replicas) > g(old.available_replicas)
}

/// When the rollout described by `s` times out, unless it progresses first; `None` when it
/// cannot (no deadline, complete, or no progress tracked yet).
fn deadline_of(d: &Deployment, s: &DeploymentStatus) -> Option<Time> {
    let deadline = progress_deadline(d)?;
    let c = find_condition(&s.conditions, PROGRESSING)?;
    if c.reason.as_deref() == Some(NEW_RS_AVAILABLE) {
        return None;
    }
    let from = c.last_update_time.or(c.last_transition_time)?;
    Some(from.plus(deadline))
}

fn timed_out(d: &Deployment, s: &DeploymentStatus, now: Time) -> bool {
    if progress_deadline(d).is_none() {
        return false;
    }
    match find_condition(&s.conditions, PROGRESSING) {
        Some(c) if c.reason.as_deref() == Some(TIMED_OUT) => true,
        Some(_) => deadline_of(d, s).is_some_and(|at| now >= at),
        None => false,
    }
}

/// Sets a Deployment condition as Kubernetes' `SetDeploymentCondition` does: nothing changes
/// when status and reason are the same (unless `refresh`, which renews `lastUpdateTime`, for
/// progress); `lastTransitionTime` moves only when the status changes.
fn set_deployment_condition(
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
    let selector = pods::workload_selector("Deployment", ctx.key(), &d.spec.selector)?;
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

fn all_of(old: &[Arc<ReplicaSet>], new: &Option<Arc<ReplicaSet>>) -> Vec<Arc<ReplicaSet>> {
    let mut all = old.to_vec();
    all.extend(new.iter().cloned());
    all
}

/// The new ReplicaSet (if it exists) and the old ones.
type NewAndOld = (Option<Arc<ReplicaSet>>, Vec<Arc<ReplicaSet>>);

/// One reconcile's state: the Deployment as last written and the APIs.
struct Sync<'a> {
    ctx: &'a Context,
    d: Arc<Deployment>,
    api: Api<Deployment>,
    rs_api: Api<ReplicaSet>,
    now: Time,
}

impl Sync<'_> {
    fn event(&self, kind: EventKind, reason: &str, message: &str) {
        self.ctx.event(self.d.as_ref(), kind, reason, message);
    }

    fn status(&self) -> DeploymentStatus {
        self.d.status.clone().unwrap_or_default()
    }

    /// Writes the status when it changed (no compare-and-swap: only this controller writes
    /// it, one reconcile per Deployment at a time).
    fn write_status(&mut self, status: DeploymentStatus) -> crate::Result<()> {
        if self.d.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut d = (*self.d).clone();
        d.status = Some(status);
        d.metadata.resource_version = None;
        self.d = self.api.update_status(&d)?;
        Ok(())
    }

    /// Splits the claimed ReplicaSets into the new one (if it exists) and the old ones, and
    /// brings the new one's annotations (revision, copied annotations) and minReadySeconds,
    /// and the Deployment's revision, up to date.
    fn new_and_old(&mut self, mut rs_list: Vec<Arc<ReplicaSet>>) -> crate::Result<NewAndOld> {
        rs_list.sort_by(by_creation);
        let idx = rs_list
            .iter()
            .position(|rs| equal_ignoring_hash(&rs.spec.template, &self.d.spec.template));
        let Some(idx) = idx else {
            return Ok((None, rs_list));
        };
        let existing = rs_list.remove(idx);
        let old = rs_list;
        let new_revision = old
            .iter()
            .map(|r| revision_of(&r.metadata))
            .max()
            .unwrap_or(0)
            + 1;
        let mut copy = (*existing).clone();
        let annotations_changed = self.set_new_rs_annotations(&mut copy, new_revision, true);
        let min_ready_changed = copy.spec.min_ready_seconds != self.d.spec.min_ready_seconds;
        let rs = if annotations_changed || min_ready_changed {
            self.rs_api.patch(
                &existing.metadata.name,
                &json!({
                    "metadata": {"annotations": copy.metadata.annotations},
                    "spec": {"minReadySeconds": self.d.spec.min_ready_seconds},
                }),
            )?
        } else {
            existing
        };
        self.set_deployment_revision(&rs)?;
        if progress_deadline(&self.d).is_some()
            && find_condition(&self.status().conditions, PROGRESSING).is_none()
        {
            let mut st = self.status();
            let msg = format!("Found new replica set {:?}", rs.metadata.name);
            set_deployment_condition(
                &mut st.conditions,
                PROGRESSING,
                TRUE,
                FOUND_NEW_RS,
                &msg,
                self.now,
                false,
            );
            self.write_status(st)?;
        }
        Ok((Some(rs), old))
    }

    /// Copies the Deployment's annotations onto `rs` and raises its revision to
    /// `new_revision` (keeping the previous one in the revision history); for a ReplicaSet
    /// about to be created, adds the replica annotations. Returns whether anything changed.
    fn set_new_rs_annotations(&self, rs: &mut ReplicaSet, new_revision: i64, exists: bool) -> bool {
        let mut changed = false;
        let a = &mut rs.metadata.annotations;
        for (k, v) in &self.d.metadata.annotations {
            if NOT_COPIED.contains(&k.as_str()) || a.get(k) == Some(v) {
                continue;
            }
            a.insert(k.clone(), v.clone());
            changed = true;
        }
        let old = a.get(REVISION_ANNOTATION).cloned();
        let old_rev = match old.as_deref() {
            None => 0,
            Some(s) => match s.parse::<i64>() {
                Ok(r) => r,
                // Not a number: leave it alone, as Kubernetes does.
                Err(_) => return changed,
            },
        };
        if old_rev < new_revision {
            a.insert(REVISION_ANNOTATION.to_string(), new_revision.to_string());
            changed = true;
            if let Some(prev) = old {
                let history = a
                    .get(REVISION_HISTORY_ANNOTATION)
                    .cloned()
                    .unwrap_or_default();
                let mut revs: Vec<&str> = history.split(',').filter(|s| !s.is_empty()).collect();
                revs.push(&prev);
                while revs.iter().map(|r| r.len() + 1).sum::<usize>() > REVISION_HISTORY_LIMIT_CHARS
                    && revs.len() > 1
                {
                    revs.remove(0);
                }
                let joined = revs.join(",");
                a.insert(REVISION_HISTORY_ANNOTATION.to_string(), joined);
            }
        }
        if !exists {
            changed |= self.set_replicas_annotations(rs);
        }
        changed
    }

    /// Records the Deployment's replicas and replicas + maxSurge on `rs`; returns whether
    /// they changed.
    fn set_replicas_annotations(&self, rs: &mut ReplicaSet) -> bool {
        let desired = replicas(&self.d).to_string();
        let max = (replicas(&self.d) + max_surge(&self.d)).to_string();
        let a = &mut rs.metadata.annotations;
        let changed = a.get(DESIRED_REPLICAS_ANNOTATION) != Some(&desired)
            || a.get(MAX_REPLICAS_ANNOTATION) != Some(&max);
        a.insert(DESIRED_REPLICAS_ANNOTATION.to_string(), desired);
        a.insert(MAX_REPLICAS_ANNOTATION.to_string(), max);
        changed
    }

    /// Gives the Deployment the revision of its new ReplicaSet.
    fn set_deployment_revision(&mut self, rs: &ReplicaSet) -> crate::Result<()> {
        let Some(rev) = rs.metadata.annotations.get(REVISION_ANNOTATION) else {
            return Ok(());
        };
        if self.d.metadata.annotations.get(REVISION_ANNOTATION) == Some(rev) {
            return Ok(());
        }
        let patched = self.api.patch(
            &self.d.metadata.name,
            &json!({"metadata": {"annotations": {REVISION_ANNOTATION: rev}}}),
        )?;
        self.d = patched;
        Ok(())
    }

    /// How many pods the new ReplicaSet should have now (Kubernetes' `NewRSNewReplicas`),
    /// counting each ReplicaSet's pods by an upper bound that holds while it catches up; the
    /// current size when a ReplicaSet has not observed its spec yet.
    fn new_rs_new_replicas(&self, all: &[Arc<ReplicaSet>], new: Option<&ReplicaSet>) -> i32 {
        let cur = new.map_or(0, desired_replicas);
        if !is_rolling_update(&self.d) {
            return replicas(&self.d);
        }
        if !all.iter().all(|r| is_observed(r)) {
            return cur;
        }
        let pods: i32 = all
            .iter()
            .map(|r| desired_replicas(r).max(status_replicas(r)))
            .sum();
        let max_total = replicas(&self.d) + max_surge(&self.d);
        if pods >= max_total {
            return cur;
        }
        let up = (max_total - pods).min(replicas(&self.d) - cur);
        cur + up.max(0)
    }

    /// Creates the new ReplicaSet `<deployment>-<hash>` for the current template.
    fn create_new_rs(&mut self, old: &[Arc<ReplicaSet>]) -> crate::Result<Arc<ReplicaSet>> {
        let d = self.d.clone();
        let collision_count = d.status.as_ref().and_then(|s| s.collision_count);
        let hash = template_hash(&d.spec.template, collision_count);
        let template = with_hash_label(&d.spec.template, &hash);
        let mut selector = d.spec.selector.clone();
        selector
            .match_labels
            .insert(POD_TEMPLATE_HASH_LABEL.to_string(), hash.clone());
        let name = format!("{}-{}", d.metadata.name, hash);
        let new_replicas = self.new_rs_new_replicas(old, None);
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: name.clone(),
                namespace: d.metadata.namespace.clone(),
                labels: template.metadata.labels.clone(),
                owner_references: vec![owner_reference(d.as_ref(), true)],
                ..Default::default()
            },
            spec: ReplicaSetSpec {
                replicas: Some(new_replicas),
                selector,
                template,
                min_ready_seconds: d.spec.min_ready_seconds,
                ..Default::default()
            },
            ..Default::default()
        };
        let new_revision = old
            .iter()
            .map(|r| revision_of(&r.metadata))
            .max()
            .unwrap_or(0)
            + 1;
        self.set_new_rs_annotations(&mut rs, new_revision, false);
        let created = match self.rs_api.create(rs) {
            Ok(rs) => rs,
            Err(Error::AlreadyExists { .. }) => {
                let existing = self.rs_api.get(&name)?;
                let uid = d.metadata.uid.as_deref().unwrap_or("");
                if is_controlled_by(&existing.metadata, uid)
                    && equal_ignoring_hash(&existing.spec.template, &d.spec.template)
                {
                    // Ours already (created by an earlier reconcile that failed afterwards).
                    existing
                } else {
                    // A hash collision: another template owns the name. Bump the count so the
                    // next reconcile tries another name.
                    let mut st = self.status();
                    st.collision_count = Some(collision_count.unwrap_or(0) + 1);
                    self.write_status(st)?;
                    return Err(Error::AlreadyExists {
                        object: ObjectRef::new(
                            ReplicaSet::KIND,
                            d.metadata.namespace.as_deref(),
                            &name,
                        ),
                    });
                }
            }
            Err(e) => {
                let msg = format!("Failed to create new replica set {name:?}: {e}");
                if progress_deadline(&d).is_some() {
                    let mut st = self.status();
                    set_deployment_condition(
                        &mut st.conditions,
                        PROGRESSING,
                        FALSE,
                        FAILED_RS_CREATE,
                        &msg,
                        self.now,
                        false,
                    );
                    self.write_status(st)?;
                }
                self.event(EventKind::Warning, "FailedCreate", &msg);
                return Err(e);
            }
        };
        if new_replicas > 0 {
            self.event(
                EventKind::Normal,
                "ScalingReplicaSet",
                &format!("Scaled up replica set {name} from 0 to {new_replicas}"),
            );
        }
        self.set_deployment_revision(&created)?;
        if progress_deadline(&self.d).is_some() {
            let mut st = self.status();
            let msg = format!("Created new replica set {name:?}");
            set_deployment_condition(
                &mut st.conditions,
                PROGRESSING,
                TRUE,
                NEW_RS_CREATED,
                &msg,
                self.now,
                false,
            );
            self.write_status(st)?;
        }
        Ok(created)
    }

    /// Sets `rs` to `size` pods (and the replica annotations); returns the ReplicaSet as
    /// written and whether its size changed.
    fn scale_rs(&self, rs: &Arc<ReplicaSet>, size: i32) -> crate::Result<(Arc<ReplicaSet>, bool)> {
        let mut copy = (**rs).clone();
        let size_changed = desired_replicas(rs) != size;
        let annotations_changed = self.set_replicas_annotations(&mut copy);
        if !size_changed && !annotations_changed {
            return Ok((rs.clone(), false));
        }
        // A merge patch retries on conflicts with the ReplicaSet controller's status writes.
        let written = self.rs_api.patch(
            &rs.metadata.name,
            &json!({
                "metadata": {"annotations": {
                    DESIRED_REPLICAS_ANNOTATION: copy.metadata.annotations.get(DESIRED_REPLICAS_ANNOTATION),
                    MAX_REPLICAS_ANNOTATION: copy.metadata.annotations.get(MAX_REPLICAS_ANNOTATION),
                }},
                "spec": {"replicas": size},
            }),
        )?;
        if size_changed {
            let from = desired_replicas(rs);
            let dir = if size > from { "up" } else { "down" };
            self.event(
                EventKind::Normal,
                "ScalingReplicaSet",
                &format!(
                    "Scaled {dir} replica set {} from {from} to {size}",
                    rs.metadata.name
                ),
            );
        }
        Ok((written, size_changed))
    }

    // ----- rolling update ---------------------------------------------------------------------

    fn rollout_rolling(
        &mut self,
        new: Option<Arc<ReplicaSet>>,
        old: Vec<Arc<ReplicaSet>>,
    ) -> ReconcileResult {
        let new = match new {
            Some(n) => n,
            None => self.create_new_rs(&old)?,
        };
        let mut all = all_of(&old, &Some(new.clone()));
        let (new, scaled_up) = self.reconcile_new_rs(&all, new)?;
        *all.last_mut().expect("the new ReplicaSet is last") = new.clone();
        if scaled_up {
            return self.sync_rollout_status(&all, Some(&new));
        }
        let (old, scaled_down) = self.reconcile_old_rss(&all, old, &new)?;
        let all = all_of(&old, &Some(new.clone()));
        if scaled_down {
            return self.sync_rollout_status(&all, Some(&new));
        }
        let action = self.sync_rollout_status(&all, Some(&new))?;
        // Judged on the status just written: a status write does not wake this controller,
        // so a rollout that completes in this pass is cleaned up now or never.
        if deployment_complete(&self.d, &self.status()) {
            self.cleanup(&old)?;
        }
        Ok(action)
    }

    /// Grows (or, above `spec.replicas`, shrinks) the new ReplicaSet.
    fn reconcile_new_rs(
        &mut self,
        all: &[Arc<ReplicaSet>],
        new: Arc<ReplicaSet>,
    ) -> crate::Result<(Arc<ReplicaSet>, bool)> {
        let want = replicas(&self.d);
        let cur = desired_replicas(&new);
        if cur == want {
            return Ok((new, false));
        }
        if cur > want {
            return self.scale_rs(&new, want);
        }
        let size = self.new_rs_new_replicas(all, Some(&new));
        self.scale_rs(&new, size)
    }

    /// Shrinks old ReplicaSets: first their unhealthy pods, then healthy ones while enough
    /// stay available.
    fn reconcile_old_rss(
        &mut self,
        all: &[Arc<ReplicaSet>],
        mut old: Vec<Arc<ReplicaSet>>,
        new: &Arc<ReplicaSet>,
    ) -> crate::Result<(Vec<Arc<ReplicaSet>>, bool)> {
        if sum(&old, desired_replicas) == 0 {
            return Ok((old, false));
        }
        // Only on ReplicaSets that have acted on their specs (see the module documentation).
        if !all.iter().all(|r| is_observed(r)) {
            return Ok((old, false));
        }
        let all_pods = sum(all, desired_replicas);
        let min_available = replicas(&self.d) - max_unavailable(&self.d);
        let new_unavailable =
            desired_replicas(new) - available_replicas(new).min(desired_replicas(new));
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok((old, false));
        }
        old.sort_by(by_creation);
        // Unhealthy pods of old ReplicaSets go first: they do not count as available anyway.
        let mut cleaned = 0;
        for rs in old.iter_mut() {
            if cleaned >= max_scaled_down {
                break;
            }
            let spec = desired_replicas(rs);
            let avail = available_replicas(rs).min(spec);
            if spec == 0 || spec == avail {
                continue;
            }
            let n = (max_scaled_down - cleaned).min(spec - avail);
            let (written, _) = self.scale_rs(rs, spec - n)?;
            *rs = written;
            cleaned += n;
        }
        // Then healthy pods, while more than the minimum stay available.
        let mut everything = old.clone();
        everything.push(new.clone());
        let available: i32 = everything
            .iter()
            .map(|r| available_replicas(r).min(desired_replicas(r)))
            .sum();
        let mut scaled = 0;
        if available > min_available {
            let total = available - min_available;
            for rs in old.iter_mut() {
                if scaled >= total {
                    break;
                }
                let spec = desired_replicas(rs);
                if spec == 0 {
                    continue;
                }
                let n = spec.min(total - scaled);
                let (written, _) = self.scale_rs(rs, spec - n)?;
                *rs = written;
                scaled += n;
            }
        }
        Ok((old, cleaned + scaled > 0))
    }

    // ----- recreate ---------------------------------------------------------------------------

    fn rollout_recreate(
        &mut self,
        new: Option<Arc<ReplicaSet>>,
        old: Vec<Arc<ReplicaSet>>,
    ) -> ReconcileResult {
        let mut old = old;
        let mut scaled_down = false;
        for rs in old.iter_mut() {
            if is_active(rs) {
                let (written, scaled) = self.scale_rs(rs, 0)?;
                *rs = written;
                scaled_down |= scaled;
            }
        }
        if scaled_down || self.old_pods_running(&old)? {
            return self.sync_rollout_status(&all_of(&old, &new), new.as_ref());
        }
        let new = match new {
            Some(n) => n,
            None => self.create_new_rs(&old)?,
        };
        let (new, _) = if desired_replicas(&new) != replicas(&self.d) {
            self.scale_rs(&new, replicas(&self.d))?
        } else {
            (new, false)
        };
        let action = self.sync_rollout_status(&all_of(&old, &Some(new.clone())), Some(&new))?;
        if deployment_complete(&self.d, &self.status()) {
            self.cleanup(&old)?;
        }
        Ok(action)
    }

    /// True while any pod of an old ReplicaSet is still there and not terminal (terminating
    /// pods count: they may still be running).
    fn old_pods_running(&self, old: &[Arc<ReplicaSet>]) -> crate::Result<bool> {
        if sum(old, status_replicas) > 0 {
            return Ok(true);
        }
        let ns = self.d.metadata.namespace.as_deref();
        for rs in old {
            let uid = rs.metadata.uid.as_deref().unwrap_or_default();
            let owned = pods::controlled_pods(self.ctx.store(), ns, uid)?;
            if owned.iter().any(|p| !pods::is_terminal(p)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    // ----- scaling and pausing ----------------------------------------------------------------

    /// True when an active ReplicaSet was sized for another `spec.replicas` than the current.
    fn is_scaling_event(&self, new: &Option<Arc<ReplicaSet>>, old: &[Arc<ReplicaSet>]) -> bool {
        all_of(old, new).iter().filter(|r| is_active(r)).any(|rs| {
            annotation_i32(rs, DESIRED_REPLICAS_ANNOTATION).is_some_and(|d| d != replicas(&self.d))
        })
    }

    /// Scales without rolling out (paused, or `spec.replicas` changed), then cleans up and
    /// writes the status.
    fn sync(&mut self, new: Option<Arc<ReplicaSet>>, old: Vec<Arc<ReplicaSet>>) -> ReconcileResult {
        let (new, old) = self.scale(new, old)?;
        if paused(&self.d) {
            self.cleanup(&old)?;
        }
        self.sync_deployment_status(&all_of(&old, &new), new.as_ref())?;
        Ok(Action::done())
    }

    /// Kubernetes' proportional scaling: one active ReplicaSet takes the whole count; a
    /// saturated new ReplicaSet empties the old ones; otherwise the difference is spread over
    /// the active ReplicaSets in proportion to their size.
    fn scale(
        &mut self,
        new: Option<Arc<ReplicaSet>>,
        mut old: Vec<Arc<ReplicaSet>>,
    ) -> crate::Result<NewAndOld> {
        let want = replicas(&self.d);
        let replace = |list: &mut Vec<Arc<ReplicaSet>>,
                       new: &mut Option<Arc<ReplicaSet>>,
                       rs: Arc<ReplicaSet>| {
            if new
                .as_ref()
                .is_some_and(|n| n.metadata.name == rs.metadata.name)
            {
                *new = Some(rs);
            } else if let Some(slot) = list
                .iter_mut()
                .find(|r| r.metadata.name == rs.metadata.name)
            {
                *slot = rs;
            }
        };
        let mut new = new;
        if let Some(target) = self.active_or_latest(&new, &old) {
            if desired_replicas(&target) != want {
                let (rs, _) = self.scale_rs(&target, want)?;
                replace(&mut old, &mut new, rs);
            }
            return Ok((new, old));
        }
        if new.as_ref().is_some_and(|n| self.is_saturated(n)) {
            for rs in old.iter_mut() {
                if is_active(rs) {
                    *rs = self.scale_rs(rs, 0)?.0;
                }
            }
            return Ok((new, old));
        }
        if !is_rolling_update(&self.d) {
            return Ok((new, old));
        }
        let mut active: Vec<Arc<ReplicaSet>> = all_of(&old, &new)
            .into_iter()
            .filter(|r| is_active(r))
            .collect();
        let current = sum(&active, desired_replicas);
        let allowed = if want > 0 {
            want + max_surge(&self.d)
        } else {
            0
        };
        let to_add = allowed - current;
        match to_add.cmp(&0) {
            // Larger first; among equals the newer first when growing, the older when shrinking.
            std::cmp::Ordering::Greater => active.sort_by(|a, b| {
                desired_replicas(b)
                    .cmp(&desired_replicas(a))
                    .then_with(|| by_creation(b, a))
            }),
            std::cmp::Ordering::Less => active.sort_by(|a, b| {
                desired_replicas(b)
                    .cmp(&desired_replicas(a))
                    .then_with(|| by_creation(a, b))
            }),
            std::cmp::Ordering::Equal => {}
        }
        let mut added = 0;
        let mut sizes = Vec::with_capacity(active.len());
        for rs in &active {
            if to_add != 0 {
                let p = self.proportion(rs, to_add, added);
                sizes.push(desired_replicas(rs) + p);
                added += p;
            } else {
                sizes.push(desired_replicas(rs));
            }
        }
        for (i, rs) in active.iter().enumerate() {
            let mut size = sizes[i];
            if i == 0 && to_add != 0 {
                size = (size + to_add - added).max(0);
            }
            let (written, _) = self.scale_rs(rs, size)?;
            replace(&mut old, &mut new, written);
        }
        Ok((new, old))
    }

    /// The only active ReplicaSet, or the newest when none is active; `None` when several are.
    fn active_or_latest(
        &self,
        new: &Option<Arc<ReplicaSet>>,
        old: &[Arc<ReplicaSet>],
    ) -> Option<Arc<ReplicaSet>> {
        if new.is_none() && old.is_empty() {
            return None;
        }
        let mut sorted = old.to_vec();
        sorted.sort_by(|a, b| by_creation(b, a));
        let active: Vec<Arc<ReplicaSet>> = all_of(&sorted, new)
            .into_iter()
            .filter(|r| is_active(r))
            .collect();
        match active.len() {
            0 => new.clone().or_else(|| sorted.first().cloned()),
            1 => active.into_iter().next(),
            _ => None,
        }
    }

    fn is_saturated(&self, rs: &ReplicaSet) -> bool {
        let n = replicas(&self.d);
        annotation_i32(rs, DESIRED_REPLICAS_ANNOTATION) == Some(n)
            && desired_replicas(rs) == n
            && available_replicas(rs) == n
    }

    /// The share of `to_add` for `rs` (Kubernetes' `GetProportion`).
    fn proportion(&self, rs: &ReplicaSet, to_add: i32, added: i32) -> i32 {
        if desired_replicas(rs) == 0 || to_add == 0 || to_add == added {
            return 0;
        }
        let fraction = self.fraction(rs);
        let allowed = to_add - added;
        if to_add > 0 {
            fraction.min(allowed)
        } else {
            fraction.max(allowed)
        }
    }

    /// How much `rs` should grow or shrink to keep its share of the Deployment (Kubernetes'
    /// `getReplicaSetFraction`).
    fn fraction(&self, rs: &ReplicaSet) -> i32 {
        let want = replicas(&self.d);
        if want == 0 {
            return -desired_replicas(rs);
        }
        let total = want + max_surge(&self.d);
        let annotated = annotation_i32(rs, MAX_REPLICAS_ANNOTATION)
            .unwrap_or_else(|| self.status().replicas.unwrap_or(0));
        if annotated == 0 {
            return 0;
        }
        let size = f64::from(desired_replicas(rs)) * f64::from(total) / f64::from(annotated);
        size.round() as i32 - desired_replicas(rs)
    }

    /// Records `Progressing=Unknown` with `DeploymentPaused` or `DeploymentResumed` when the
    /// Deployment was paused or resumed (unless it already timed out).
    fn check_paused_conditions(&mut self) -> crate::Result<()> {
        if progress_deadline(&self.d).is_none() {
            return Ok(());
        }
        let mut st = self.status();
        let cur = find_condition(&st.conditions, PROGRESSING);
        if cur.is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT)) {
            return Ok(());
        }
        let paused_cond = cur.is_some_and(|c| c.reason.as_deref() == Some(PAUSED));
        if paused(&self.d) && !paused_cond {
            set_deployment_condition(
                &mut st.conditions,
                PROGRESSING,
                UNKNOWN,
                PAUSED,
                "Deployment is paused",
                self.now,
                false,
            );
        } else if !paused(&self.d) && paused_cond {
            set_deployment_condition(
                &mut st.conditions,
                PROGRESSING,
                UNKNOWN,
                RESUMED,
                "Deployment is resumed",
                self.now,
                false,
            );
        } else {
            return Ok(());
        }
        self.write_status(st)
    }

    // ----- history ----------------------------------------------------------------------------

    /// Deletes the oldest old ReplicaSets beyond `revisionHistoryLimit`, only those with no
    /// pods that have observed their spec.
    fn cleanup(&mut self, old: &[Arc<ReplicaSet>]) -> crate::Result<()> {
        let limit = self
            .d
            .spec
            .revision_history_limit
            .unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT)
            .max(0) as usize;
        let mut cleanable: Vec<&Arc<ReplicaSet>> = old
            .iter()
            .filter(|r| r.metadata.deletion_timestamp.is_none())
            .collect();
        if cleanable.len() <= limit {
            return Ok(());
        }
        let diff = cleanable.len() - limit;
        cleanable.sort_by(|a, b| {
            revision_of(&a.metadata)
                .cmp(&revision_of(&b.metadata))
                .then_with(|| by_creation(a, b))
        });
        for rs in cleanable.into_iter().take(diff) {
            if status_replicas(rs) != 0 || desired_replicas(rs) != 0 || !is_observed(rs) {
                continue;
            }
            let params = DeleteParams {
                uid: rs.metadata.uid.clone(),
                ..Default::default()
            };
            match self.rs_api.delete(&rs.metadata.name, &params) {
                Ok(_) => {}
                Err(e) if e.is_not_found() || e.is_conflict() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    // ----- status -----------------------------------------------------------------------------

    fn calculate_status(
        &self,
        all: &[Arc<ReplicaSet>],
        new: Option<&Arc<ReplicaSet>>,
    ) -> DeploymentStatus {
        let available = sum(all, available_replicas);
        let total = sum(all, desired_replicas);
        let prev = self.status();
        let mut st = DeploymentStatus {
            observed_generation: self.d.metadata.generation,
            replicas: Some(sum(all, status_replicas)),
            updated_replicas: Some(new.map_or(0, |n| status_replicas(n))),
            ready_replicas: Some(sum(all, ready_replicas)),
            available_replicas: Some(available),
            unavailable_replicas: Some((total - available).max(0)),
            conditions: prev.conditions.clone(),
            collision_count: prev.collision_count,
            extra: prev.extra.clone(),
        };
        if available >= replicas(&self.d) - max_unavailable(&self.d) {
            set_deployment_condition(
                &mut st.conditions,
                AVAILABLE,
                TRUE,
                MIN_AVAILABLE,
                "Deployment has minimum availability.",
                self.now,
                false,
            );
        } else {
            set_deployment_condition(
                &mut st.conditions,
                AVAILABLE,
                FALSE,
                MIN_UNAVAILABLE,
                "Deployment does not have minimum availability.",
                self.now,
                false,
            );
        }
        st
    }

    fn sync_deployment_status(
        &mut self,
        all: &[Arc<ReplicaSet>],
        new: Option<&Arc<ReplicaSet>>,
    ) -> crate::Result<()> {
        let st = self.calculate_status(all, new);
        self.write_status(st)
    }

    /// Writes the status with the `Progressing` and `ReplicaFailure` conditions, and asks to
    /// be reconciled again when the progress deadline would pass.
    fn sync_rollout_status(
        &mut self,
        all: &[Arc<ReplicaSet>],
        new: Option<&Arc<ReplicaSet>>,
    ) -> ReconcileResult {
        let mut st = self.calculate_status(all, new);
        let d = self.d.clone();
        if progress_deadline(&d).is_none() {
            remove_condition(&mut st.conditions, PROGRESSING);
        }
        let cur = find_condition(&st.conditions, PROGRESSING).cloned();
        let complete_before = st.replicas == st.updated_replicas
            && cur
                .as_ref()
                .is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE));
        if progress_deadline(&d).is_some() && !complete_before {
            let what = match new {
                Some(rs) => format!("ReplicaSet {:?}", rs.metadata.name),
                None => format!("Deployment {:?}", d.metadata.name),
            };
            if deployment_complete(&d, &st) {
                set_deployment_condition(
                    &mut st.conditions,
                    PROGRESSING,
                    TRUE,
                    NEW_RS_AVAILABLE,
                    &format!("{what} has successfully progressed."),
                    self.now,
                    false,
                );
            } else if deployment_progressing(&d, &st) {
                // Progress renews lastUpdateTime (the deadline counts from it); a True
                // condition keeps its lastTransitionTime.
                set_deployment_condition(
                    &mut st.conditions,
                    PROGRESSING,
                    TRUE,
                    RS_UPDATED,
                    &format!("{what} is progressing."),
                    self.now,
                    true,
                );
            } else if timed_out(&d, &st, self.now) {
                set_deployment_condition(
                    &mut st.conditions,
                    PROGRESSING,
                    FALSE,
                    TIMED_OUT,
                    &format!("{what} has timed out progressing."),
                    self.now,
                    false,
                );
            }
        }
        let failure = all.iter().find_map(|rs| {
            rs.status.as_ref().and_then(|s| {
                find_condition(&s.conditions, REPLICA_FAILURE)
                    .filter(|c| c.status == TRUE)
                    .cloned()
            })
        });
        match failure {
            Some(f) => set_deployment_condition(
                &mut st.conditions,
                REPLICA_FAILURE,
                &f.status,
                f.reason.as_deref().unwrap_or(""),
                f.message.as_deref().unwrap_or(""),
                self.now,
                false,
            ),
            None => {
                remove_condition(&mut st.conditions, REPLICA_FAILURE);
            }
        }
        let requeue = self.requeue_for_deadline(&st);
        self.write_status(st)?;
        Ok(requeue)
    }

    /// Reconcile again when the progress deadline passes, unless the rollout is complete or
    /// already timed out.
    fn requeue_for_deadline(&self, st: &DeploymentStatus) -> Action {
        let d = &self.d;
        let Some(c) = find_condition(&st.conditions, PROGRESSING) else {
            return Action::done();
        };
        if deployment_complete(d, st) || c.reason.as_deref() == Some(TIMED_OUT) || c.status != TRUE
        {
            return Action::done();
        }
        match deadline_of(d, st) {
            Some(at) if at > self.now => Action::requeue(at.saturating_duration_since(self.now)),
            // Due now: the next pass marks it (rate limited, as in Kubernetes).
            Some(_) => Action::requeue(Duration::from_millis(1)),
            None => Action::done(),
        }
    }
}

// ----- rollback -------------------------------------------------------------------------------

/// Rolls the Deployment `namespace/name` back to the template of an earlier revision, as
/// `kubectl rollout undo` does: `revision` `Some(n)` picks the ReplicaSet with revision `n`,
/// `None` the previous revision (the highest below the current one). The Deployment's
/// `spec.template` becomes that ReplicaSet's template without its `pod-template-hash`; the
/// controller then finds that ReplicaSet as its new one (same hash, same name), gives it a
/// new revision and rolls it out.
///
/// Returns the updated Deployment, or the Deployment unchanged when its template already is
/// that revision's. Fails when the Deployment is paused or being deleted, or when the
/// revision is not in its history (kept: `revisionHistoryLimit`).
///
/// ```
/// # let engine = steady::Engine::builder().build().unwrap();
/// # let store = engine.store();
/// use steady::controllers::deployment::rollback;
/// // After a rollout from revision 1 to revision 2:
/// // rollback(store, "default", "web", None)?;      // back to revision 1
/// // rollback(store, "default", "web", Some(2))?;   // forward to revision 2 again
/// # let _ = (store, rollback);
/// ```
pub fn rollback(
    store: &Store,
    namespace: &str,
    name: &str,
    revision: Option<i64>,
) -> crate::Result<Arc<Deployment>> {
    let deployments = Api::<Deployment>::all(store.clone()).namespace(namespace);
    let replica_sets = Api::<ReplicaSet>::all(store.clone()).namespace(namespace);
    let object = || ObjectRef::new(Deployment::KIND, Some(namespace), name);
    loop {
        let d = deployments.get(name)?;
        if d.metadata.deletion_timestamp.is_some() {
            return Err(Error::invalid(
                object(),
                "metadata.deletionTimestamp",
                "cannot roll back a Deployment that is being deleted",
            ));
        }
        if paused(&d) {
            return Err(Error::invalid(
                object(),
                "spec.paused",
                "cannot roll back a paused Deployment: resume it first",
            ));
        }
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let mut history: Vec<Arc<ReplicaSet>> = replica_sets
            .list(&ListParams {
                owner_uid: Some(uid.clone()),
                ..Default::default()
            })?
            .items
            .into_iter()
            .filter(|rs| is_controlled_by(&rs.metadata, &uid) && revision_of(&rs.metadata) > 0)
            .collect();
        history.sort_by_key(|rs| revision_of(&rs.metadata));
        let revisions: Vec<i64> = history.iter().map(|rs| revision_of(&rs.metadata)).collect();
        let target =
            match revision {
                Some(r) => r,
                None => match revisions.len() {
                    0 | 1 => return Err(Error::invalid(
                        object(),
                        "revision",
                        "no rollout history found: there is no previous revision to roll back to",
                    )),
                    n => revisions[n - 2],
                },
            };
        let Some(rs) = history
            .iter()
            .find(|rs| revision_of(&rs.metadata) == target)
        else {
            return Err(Error::invalid(
                object(),
                "revision",
                format!("unable to find revision {target} in the history (revisions kept: {revisions:?})"),
            ));
        };
        if equal_ignoring_hash(&rs.spec.template, &d.spec.template) {
            return Ok(d);
        }
        let mut updated = (*d).clone();
        updated.spec.template = without_hash_label(&rs.spec.template);
        // Compare-and-swap against the Deployment read above.
        match deployments.update(updated) {
            Ok(d) => return Ok(d),
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The ReplicaSets the Deployment `namespace/name` controls, with their revisions, oldest
/// revision first: the rollout history.
pub fn history(
    store: &Store,
    namespace: &str,
    name: &str,
) -> crate::Result<Vec<(i64, Arc<ReplicaSet>)>> {
    let d = Api::<Deployment>::all(store.clone())
        .namespace(namespace)
        .get(name)?;
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let mut out: Vec<(i64, Arc<ReplicaSet>)> = Api::<ReplicaSet>::all(store.clone())
        .namespace(namespace)
        .list(&ListParams {
            owner_uid: Some(uid.clone()),
            ..Default::default()
        })?
        .items
        .into_iter()
        .filter(|rs| is_controlled_by(&rs.metadata, &uid))
        .map(|rs| (revision_of(&rs.metadata), rs))
        .collect();
    out.sort_by_key(|(r, _)| *r);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
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
