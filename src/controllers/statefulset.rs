//! The StatefulSet controller: pods with stable names `<set>-<ordinal>` and per-pod claims,
//! as Kubernetes' statefulset controller manages them.
//!
//! One reconcile, level-triggered from the store:
//! 1. claim the pods named `<set>-<ordinal>` that match the selector
//!    ([`ControllerRefManager::claim_all`]) and sync the template history
//!    ([`revisions::sync`]): the **update revision** holds the current template, the
//!    **current revision** is `status.currentRevision` (the update revision at first);
//! 2. unless the set is being deleted, act, stopping at the first step that must wait:
//!    - ordinals `start .. start+replicas` in ascending order: a missing pod is created (its
//!      claims first), a `Failed` or `Succeeded` pod is deleted to be re-created; with
//!      `OrderedReady` (the default) each waits until its predecessor is Running and
//!      available (ready for `minReadySeconds`), and nothing moves while a pod terminates;
//!      `Parallel` creates and deletes without waiting;
//!    - pods beyond the range in descending ordinal order are deleted, one at a time with
//!      `OrderedReady` (each after the previous one is gone);
//!    - `RollingUpdate` (the default): from the highest ordinal down to `partition`, the first
//!      pod not at the update revision is deleted (it comes back at the update revision) and
//!      the update waits until every pod above it is healthy again: one pod at a time. With
//!      `maxUnavailable` set (an int, or a percentage of the replicas rounded down; at least
//!      1), as Kubernetes' MaxUnavailableStatefulSet: the pods of the range that are not
//!      healthy are counted, and old-revision pods are deleted from the highest ordinal down
//!      to the partition until that many are unavailable (with `OrderedReady` they still
//!      come back one by one in ordinal order). `OnDelete`: pods are only replaced when
//!      deleted.
//!
//!    A re-created pod below the partition (unset: 0; for `type: RollingUpdate` given
//!    without `rollingUpdate`, below `status.currentReplicas`, as Kubernetes) gets the
//!    current revision's template, otherwise the update revision's.
//! 3. write `status` (replicas, readyReplicas, availableReplicas, currentReplicas,
//!    updatedReplicas, currentRevision, updateRevision, collisionCount, observedGeneration);
//!    once every pod is updated and ready the current revision becomes the update revision;
//!    revisions beyond `revisionHistoryLimit` (default 10) that no pod uses are deleted.
//!
//! Pods carry `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` and
//! `controller-revision-hash` (the revision's name), `hostname` = their name and `subdomain`
//! = `serviceName`.
//!
//! **Claims**: each `volumeClaimTemplates` entry becomes the PersistentVolumeClaim
//! `<template>-<set>-<ordinal>` (see [`super::volumes`]: a host directory), created
//! before the pod and mounted as the pod volume named after the template (replacing a template
//! volume of that name). A replaced pod mounts the same claim, so it finds its data. Claims
//! are kept by default (`persistentVolumeClaimRetentionPolicy` Retain/Retain: no owner
//! reference); `whenDeleted: Delete` gives each claim an owner reference to the set, and
//! `whenScaled: Delete` gives the claim of a pod removed by a scale-down an owner reference to
//! that pod just before it is deleted, so the garbage collector deletes the claim after its
//! owner, as in Kubernetes. A claim whose pod comes back (scaled up again) loses the pod
//! reference.
//!
//! Differences from Kubernetes: the pod is re-created at the revision chosen from the pods of
//! this reconcile rather than from the previous status.

use super::claim::{adopters, ControllerRefManager};
use super::pod_util::{self, pod_from_template};
use super::revisions::{self, History, CONTROLLER_REVISION_HASH_LABEL};
use super::volumes;
use crate::api::{
    IntOrString, ObjectMeta, PersistentVolumeClaim, Pod, PodTemplateSpec, Resource, StatefulSet,
    StatefulSetStatus, Time,
};
use crate::client::events::EventKind;
use crate::error::Result;
use crate::runtime::owner::{owner_reference, set_owner_reference};
use crate::runtime::{Action, Context, Controller, ReconcileError, ReconcileResult};
use crate::store::DeleteParams;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// The controller's name (metrics, events).
pub const NAME: &str = "statefulset-controller";

/// StatefulSets reconciled at once.
const CONCURRENCY: usize = 4;

/// Label with the pod's own name (lets a Service select one pod).
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// Label with the pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// The StatefulSet controller, ready to register on an engine. It watches its pods, and
/// orphan pods that a set may adopt.
pub fn controller() -> Controller {
    Controller::for_kind::<StatefulSet>(NAME)
        .owns_kind::<Pod>()
        .watches_with_store(Pod::KIND, |s, pod| {
            adopters::<StatefulSet>(s, pod, |ss| &ss.spec.selector)
        })
        .concurrency(CONCURRENCY)
        .build(reconcile)
}

/// The ordinal of pod `pod` of set `set` (its name is `<set>-<ordinal>`), if it is one.
pub fn ordinal_of(set: &str, pod: &str) -> Option<i32> {
    let rest = pod.strip_prefix(set)?.strip_prefix('-')?;
    if rest.is_empty() || (rest.len() > 1 && rest.starts_with('0')) {
        return None;
    }
    rest.parse::<i32>().ok().filter(|n| *n >= 0)
}

/// The revision a pod was made from (its `controller-revision-hash` label).
fn revision_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .get(CONTROLLER_REVISION_HASH_LABEL)
        .map(String::as_str)
}

fn terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// The settings of one set, defaults applied.
struct Settings {
    replicas: i32,
    start: i32,
    parallel: bool,
    on_delete: bool,
    partition: Option<i32>,
    /// `type: RollingUpdate` given without `rollingUpdate`: Kubernetes then leaves the
    /// parameters unset (no partition default), and re-creates pods below
    /// `status.currentReplicas` at the current revision.
    rolling_without_parameters: bool,
    /// `rollingUpdate.maxUnavailable` when set (see [`Sync::act`]).
    max_unavailable: Option<IntOrString>,
    min_ready: i32,
    delete_with_set: bool,
    delete_on_scale_down: bool,
}

impl Settings {
    fn of(set: &StatefulSet) -> Self {
        let s = &set.spec;
        let strategy = s.update_strategy.as_ref();
        let retention = s.persistent_volume_claim_retention_policy.as_ref();
        Settings {
            replicas: s.replicas.unwrap_or(1).max(0),
            start: s
                .ordinals
                .as_ref()
                .and_then(|o| o.start)
                .unwrap_or(0)
                .max(0),
            parallel: s.pod_management_policy.as_deref() == Some("Parallel"),
            on_delete: strategy.and_then(|u| u.type_.as_deref()) == Some("OnDelete"),
            partition: strategy
                .and_then(|u| u.rolling_update.as_ref())
                .and_then(|r| r.partition),
            rolling_without_parameters: strategy.is_some_and(|u| {
                u.type_.as_deref() == Some("RollingUpdate") && u.rolling_update.is_none()
            }),
            max_unavailable: strategy
                .and_then(|u| u.rolling_update.as_ref())
                .and_then(|r| r.max_unavailable.clone()),
            min_ready: s.min_ready_seconds.unwrap_or(0),
            delete_with_set: retention.and_then(|r| r.when_deleted.as_deref()) == Some("Delete"),
            delete_on_scale_down: retention.and_then(|r| r.when_scaled.as_deref())
                == Some("Delete"),
        }
    }

    fn end(&self) -> i32 {
        self.start.saturating_add(self.replicas)
    }
}

/// One reconcile of the StatefulSet `ctx.key()` (see the module documentation).
pub fn reconcile(ctx: &Context) -> ReconcileResult {
    let Some(set) = ctx.get::<StatefulSet>() else {
        return Ok(Action::done());
    };
    let selector = pod_util::workload_selector("StatefulSet", ctx.key(), &set.spec.selector)?;
    // Claim names must be valid before anything is created (admission does not know the
    // set's name length limits of every ordinal).
    let cfg = Settings::of(&set);
    for t in &set.spec.volume_claim_templates {
        let last = cfg.end().saturating_sub(1).max(cfg.start);
        volumes::claim_name(&t.metadata.name, &set.metadata.name, last).map_err(|e| {
            ReconcileError::terminal(format!("StatefulSet {}: spec.{e}", ctx.key()))
        })?;
    }
    let store = ctx.store();
    let set_name = set.metadata.name.clone();
    ControllerRefManager::new(store, set.as_ref(), &selector)
        .claim_all(|p: &Pod| ordinal_of(&set_name, &p.metadata.name).is_some())?;
    let prev = set.status.clone().unwrap_or_default();
    let history = revisions::sync(
        store,
        set.as_ref(),
        &selector,
        &set.spec.template,
        prev.collision_count.unwrap_or(0),
    )?;
    let current = prev
        .current_revision
        .as_deref()
        .and_then(|n| history.by_name(n))
        .unwrap_or(&history.update)
        .clone();
    let mut sync = Sync {
        ctx,
        set: &set,
        cfg,
        current_name: current.metadata.name.clone(),
        current_template: revisions::template_of(&current)?,
        history: &history,
    };
    let pods = sync.owned_pods()?;
    if set.metadata.deletion_timestamp.is_none() {
        sync.act(&pods)?;
    }
    // Read-your-writes: the pods as this reconcile left them.
    let pods = sync.owned_pods()?;
    let (status, next) = sync.status(&prev, &pods, ctx.now());
    let mut live: HashSet<String> = pods
        .iter()
        .filter_map(|p| revision_of(p).map(str::to_string))
        .collect();
    live.extend(status.current_revision.clone());
    live.extend(status.update_revision.clone());
    let limit = set
        .spec
        .revision_history_limit
        .unwrap_or(revisions::DEFAULT_REVISION_HISTORY_LIMIT);
    revisions::truncate(store, &history, &live, limit)?;
    super::write_own_status(&ctx.api::<StatefulSet>(), &set, |t| t.status = Some(status))?;
    Ok(next.map_or_else(Action::done, Action::requeue))
}

/// The state of one reconcile.
struct Sync<'a> {
    ctx: &'a Context,
    set: &'a Arc<StatefulSet>,
    cfg: Settings,
    current_name: String,
    current_template: PodTemplateSpec,
    history: &'a History,
}

impl Sync<'_> {
    /// The pods the set controls that are named after it.
    fn owned_pods(&self) -> Result<Vec<Arc<Pod>>> {
        let m = &self.set.metadata;
        let uid = m.uid.as_deref().unwrap_or_default();
        let mut pods = pod_util::controlled_pods(self.ctx.store(), m.namespace.as_deref(), uid)?;
        pods.retain(|p| ordinal_of(&m.name, &p.metadata.name).is_some());
        Ok(pods)
    }

    /// Running and available (ready for `minReadySeconds`) at `now`.
    fn healthy(&self, pod: &Pod) -> bool {
        pod_util::phase(pod) == pod_util::RUNNING
            && !terminating(pod)
            && pod_util::is_available(pod, self.cfg.min_ready, self.ctx.now())
    }

    /// Steps 2 of the module documentation. Returns when a step must wait.
    fn act(&mut self, pods: &[Arc<Pod>]) -> Result<()> {
        let cfg = &self.cfg;
        let monotonic = !cfg.parallel;
        let mut slots: BTreeMap<i32, Arc<Pod>> = BTreeMap::new();
        let mut condemned: Vec<(i32, Arc<Pod>)> = Vec::new();
        for p in pods {
            let ord = ordinal_of(&self.set.metadata.name, &p.metadata.name).expect("filtered");
            if ord >= cfg.start && ord < cfg.end() {
                slots.insert(ord, p.clone());
            } else {
                condemned.push((ord, p.clone()));
            }
        }
        condemned.sort_by_key(|c| std::cmp::Reverse(c.0));

        for ord in cfg.start..cfg.end() {
            match slots.get(&ord) {
                None => {
                    self.create(ord)?;
                    if monotonic {
                        return Ok(());
                    }
                }
                Some(pod) if pod_util::is_terminal(pod) && !terminating(pod) => {
                    self.delete(pod, "delete terminated")?;
                    if monotonic {
                        return Ok(());
                    }
                }
                Some(pod) => {
                    if terminating(pod) {
                        if monotonic {
                            return Ok(());
                        }
                        continue;
                    }
                    self.ensure_claims(ord, None)?;
                    if monotonic && !self.healthy(pod) {
                        return Ok(());
                    }
                }
            }
        }

        for (ord, pod) in &condemned {
            if terminating(pod) {
                if monotonic {
                    return Ok(());
                }
                continue;
            }
            self.ensure_claims(*ord, Some(pod))?;
            self.delete(pod, "delete")?;
            if monotonic {
                return Ok(());
            }
        }

        if cfg.on_delete {
            return Ok(());
        }
        let update = self.history.update.metadata.name.as_str();
        let lowest = cfg.start + cfg.partition.unwrap_or(0).max(0);
        if let Some(max) = &cfg.max_unavailable {
            // As Kubernetes with maxUnavailable: count the pods of the range that are not
            // healthy; delete old-revision pods from the highest ordinal down to the partition
            // until that many are unavailable. A percentage is of the replicas, rounded down,
            // and at least 1.
            let max = max.resolve(cfg.replicas, false).unwrap_or(1).max(1);
            let unavailable = (cfg.start..cfg.end())
                .filter(|o| slots.get(o).is_none_or(|p| !self.healthy(p)))
                .count() as i32;
            let mut budget = max - unavailable;
            for ord in (lowest..cfg.end()).rev() {
                if budget <= 0 {
                    break;
                }
                let Some(pod) = slots.get(&ord) else { continue };
                if revision_of(pod) != Some(update) && !terminating(pod) {
                    self.delete(pod, "delete (rolling update)")?;
                    budget -= 1;
                }
            }
            return Ok(());
        }
        for ord in (lowest..cfg.end()).rev() {
            let Some(pod) = slots.get(&ord) else { continue };
            if revision_of(pod) != Some(update) && !terminating(pod) {
                self.delete(pod, "delete (rolling update)")?;
                return Ok(());
            }
            if !self.healthy(pod) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Creates the claims, then the pod of ordinal `ord`.
    fn create(&self, ord: i32) -> Result<()> {
        self.ensure_claims(ord, None)?;
        let cfg = &self.cfg;
        // Kubernetes' newVersionedStatefulSetPod, with apps/v1 defaulting: the partition
        // (0 when unset, so a pod re-created during a rollout comes back updated), or,
        // for `RollingUpdate` without parameters, the status' count of current replicas.
        let below = if cfg.rolling_without_parameters {
            let current = self
                .set
                .status
                .as_ref()
                .and_then(|s| s.current_replicas)
                .unwrap_or(0);
            ord < cfg.start + current
        } else {
            ord < cfg.start + cfg.partition.unwrap_or(0)
        };
        let (template, revision) = if !cfg.on_delete && below {
            (&self.current_template, self.current_name.as_str())
        } else {
            (
                &self.set.spec.template,
                self.history.update.metadata.name.as_str(),
            )
        };
        let pod = self.new_pod(template, revision, ord)?;
        let name = pod.metadata.name.clone();
        match self.ctx.api::<Pod>().create(pod) {
            Ok(_) => {
                self.ctx.event(
                    self.set.as_ref(),
                    EventKind::Normal,
                    "SuccessfulCreate",
                    &format!(
                        "create Pod {name} in StatefulSet {} successful",
                        self.set.metadata.name
                    ),
                );
                Ok(())
            }
            Err(e) => {
                self.ctx.event(
                    self.set.as_ref(),
                    EventKind::Warning,
                    "FailedCreate",
                    &format!(
                        "create Pod {name} in StatefulSet {} failed error: {e}",
                        self.set.metadata.name
                    ),
                );
                Err(e)
            }
        }
    }

    /// The pod of ordinal `ord` from `template` at revision `revision`.
    fn new_pod(&self, template: &PodTemplateSpec, revision: &str, ord: i32) -> Result<Pod> {
        let set = self.set;
        let mut pod = pod_from_template(template, set.as_ref());
        let name = format!("{}-{ord}", set.metadata.name);
        pod.metadata.generate_name = None;
        pod.metadata.name = name.clone();
        let labels = &mut pod.metadata.labels;
        labels.insert(POD_NAME_LABEL.to_string(), name.clone());
        labels.insert(POD_INDEX_LABEL.to_string(), ord.to_string());
        labels.insert(
            CONTROLLER_REVISION_HASH_LABEL.to_string(),
            revision.to_string(),
        );
        pod.spec.hostname = Some(name);
        if let Some(svc) = &set.spec.service_name {
            pod.spec.subdomain = Some(svc.clone());
        }
        for t in &set.spec.volume_claim_templates {
            let claim = self.claim_name(&t.metadata.name, ord)?;
            let v = volumes::claim_volume(&t.metadata.name, &claim);
            pod.spec.volumes.retain(|x| x.name != v.name);
            pod.spec.volumes.push(v);
        }
        Ok(pod)
    }

    fn claim_name(&self, template: &str, ord: i32) -> Result<String> {
        volumes::claim_name(template, &self.set.metadata.name, ord).map_err(|e| {
            crate::Error::invalid(
                crate::error::ObjectRef::new(
                    StatefulSet::KIND,
                    self.set.metadata.namespace.as_deref(),
                    &self.set.metadata.name,
                ),
                "spec.volumeClaimTemplates",
                e,
            )
        })
    }

    /// Makes sure the claims of ordinal `ord` exist with the owner references the retention
    /// policy asks for; `condemned` is the pod when a scale-down is about to delete it.
    fn ensure_claims(&self, ord: i32, condemned: Option<&Arc<Pod>>) -> Result<()> {
        let api = self.ctx.api::<PersistentVolumeClaim>();
        let set = self.set;
        for t in &set.spec.volume_claim_templates {
            let name = self.claim_name(&t.metadata.name, ord)?;
            let Some(claim) = api.get_opt(&name)? else {
                if condemned.is_some() {
                    continue; // nothing to keep or delete
                }
                let mut labels = t.metadata.labels.clone();
                for (k, v) in &set.spec.selector.match_labels {
                    labels.insert(k.clone(), v.clone());
                }
                let mut claim = PersistentVolumeClaim {
                    metadata: ObjectMeta {
                        name: name.clone(),
                        namespace: set.metadata.namespace.clone(),
                        labels,
                        annotations: t.metadata.annotations.clone(),
                        ..Default::default()
                    },
                    spec: t.spec.clone(),
                    ..Default::default()
                };
                self.fix_claim_owners(&mut claim.metadata, None);
                match api.create(claim) {
                    Ok(_) => {}
                    // Created meanwhile by someone else: it is the claim of that name.
                    Err(e) if matches!(e.root(), crate::Error::AlreadyExists { .. }) => {}
                    Err(e) => {
                        self.ctx.event(
                            set.as_ref(),
                            EventKind::Warning,
                            "FailedCreate",
                            &format!("create Claim {name} for StatefulSet failed error: {e}"),
                        );
                        return Err(e);
                    }
                }
                continue;
            };
            let mut next = (*claim).clone();
            if self.fix_claim_owners(&mut next.metadata, condemned) {
                match api.update(next) {
                    Ok(_) => {}
                    Err(e) if e.is_conflict() || e.is_not_found() => {
                        return Err(e); // retried by the runtime on a fresh read
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Sets the claim's owner references to what the retention policy asks for; true when
    /// they changed. References to other owners are kept.
    fn fix_claim_owners(&self, meta: &mut ObjectMeta, condemned: Option<&Arc<Pod>>) -> bool {
        let before = meta.owner_references.clone();
        let set_uid = self.set.metadata.uid.clone().unwrap_or_default();
        let set_name = &self.set.metadata.name;
        // Drop our own references (to the set, or to any pod of the set), then add back
        // what the policy wants.
        meta.owner_references.retain(|r| {
            let ours = r.uid == set_uid
                || (r.kind == Pod::KIND && ordinal_of(set_name, &r.name).is_some());
            !ours
        });
        if self.cfg.delete_with_set {
            meta.owner_references
                .push(owner_reference(self.set.as_ref(), false));
        }
        if let Some(pod) = condemned.filter(|_| self.cfg.delete_on_scale_down) {
            // The pod was read from the store: it has a uid and the claim's namespace.
            let _ = set_owner_reference(meta, pod.as_ref());
        }
        meta.owner_references != before
    }

    fn delete(&self, pod: &Pod, what: &str) -> Result<()> {
        let params = DeleteParams {
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        };
        match self.ctx.api::<Pod>().delete(&pod.metadata.name, &params) {
            Ok(_) => {}
            Err(e) if e.is_not_found() || e.is_conflict() => {}
            Err(e) => return Err(e),
        }
        self.ctx.event(
            self.set.as_ref(),
            EventKind::Normal,
            "SuccessfulDelete",
            &format!(
                "{what} Pod {} in StatefulSet {} successful",
                pod.metadata.name, self.set.metadata.name
            ),
        );
        Ok(())
    }

    /// The status from the pods as this reconcile left them, and when to look again for a
    /// pod that becomes available after `minReadySeconds`.
    fn status(
        &self,
        prev: &StatefulSetStatus,
        pods: &[Arc<Pod>],
        now: Time,
    ) -> (StatefulSetStatus, Option<Duration>) {
        let update = self.history.update.metadata.name.clone();
        let (mut replicas, mut ready, mut available, mut current, mut updated) = (0, 0, 0, 0, 0);
        let mut next: Option<Duration> = None;
        for p in pods.iter().filter(|p| !terminating(p)) {
            replicas += 1;
            if pod_util::phase(p) == pod_util::RUNNING {
                if let Some(wait) = pod_util::available_in(p, self.cfg.min_ready, now) {
                    ready += 1;
                    if wait.is_zero() {
                        available += 1;
                    } else {
                        next = Some(next.map_or(wait, |n| n.min(wait)));
                    }
                }
            }
            if revision_of(p) == Some(self.current_name.as_str()) {
                current += 1;
            }
            if revision_of(p) == Some(update.as_str()) {
                updated += 1;
            }
        }
        let mut current_revision = self.current_name.clone();
        if !self.cfg.on_delete
            && updated == replicas
            && ready == replicas
            && replicas == self.cfg.replicas
        {
            current_revision = update.clone();
            current = updated;
        }
        let status = StatefulSetStatus {
            observed_generation: self.set.metadata.generation,
            replicas,
            ready_replicas: Some(ready),
            current_replicas: Some(current),
            updated_replicas: Some(updated),
            available_replicas: Some(available),
            current_revision: Some(current_revision),
            update_revision: Some(update),
            collision_count: Some(self.history.collision_count),
            conditions: prev.conditions.clone(),
            extra: prev.extra.clone(),
        };
        (status, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_parse_only_from_the_sets_own_names() {
        assert_eq!(ordinal_of("web", "web-0"), Some(0));
        assert_eq!(ordinal_of("web", "web-12"), Some(12));
        assert_eq!(ordinal_of("web", "web-01"), None);
        assert_eq!(ordinal_of("web", "web-"), None);
        assert_eq!(ordinal_of("web", "web-x"), None);
        assert_eq!(ordinal_of("web", "webby-1"), None);
        assert_eq!(ordinal_of("web", "web-db-1"), None);
        assert_eq!(ordinal_of("web", "web--1"), None);
    }
}
