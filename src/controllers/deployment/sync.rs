//! The sync of a Deployment (Kubernetes' sync.go): finding the new and old ReplicaSets and
//! the revision, creating the new ReplicaSet, scaling proportionally on a scaling event or
//! while paused, and the status computed from the ReplicaSets.

use super::{
    all_of, annotation_i32, by_creation, is_active, is_rolling_update, max_surge, max_unavailable,
    paused, progress_deadline, replicas, revision_of, set_deployment_condition, sum, NewAndOld,
    Sync, AVAILABLE, DESIRED_REPLICAS_ANNOTATION, FAILED_RS_CREATE, FOUND_NEW_RS,
    MAX_REPLICAS_ANNOTATION, MIN_AVAILABLE, MIN_UNAVAILABLE, NEW_RS_CREATED, PAUSED, PROGRESSING,
    RESUMED, REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION, TIMED_OUT,
};
use crate::api::conditions::{find_condition, FALSE, TRUE, UNKNOWN};
use crate::api::{DeploymentStatus, ObjectMeta, ReplicaSet, ReplicaSetSpec, Resource};
use crate::client::events::EventKind;
use crate::client::LAST_APPLIED_ANNOTATION;
use crate::controllers::hash::{
    equal_ignoring_hash, template_hash, with_hash_label, POD_TEMPLATE_HASH_LABEL,
};
use crate::controllers::replicaset::{
    available_replicas, desired_replicas, is_observed, ready_replicas, status_replicas,
};
use crate::error::{Error, ObjectRef};
use crate::runtime::owner::{is_controlled_by, owner_reference};
use crate::runtime::{Action, ReconcileResult};
use serde_json::json;
use std::sync::Arc;

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

impl Sync<'_> {
    /// Splits the claimed ReplicaSets into the new one (if it exists) and the old ones, and
    /// brings the new one's annotations (revision, copied annotations) and minReadySeconds,
    /// and the Deployment's revision, up to date.
    pub(super) fn new_and_old(
        &mut self,
        mut rs_list: Vec<Arc<ReplicaSet>>,
    ) -> crate::Result<NewAndOld> {
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
    pub(super) fn new_rs_new_replicas(
        &self,
        all: &[Arc<ReplicaSet>],
        new: Option<&ReplicaSet>,
    ) -> i32 {
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
    pub(super) fn create_new_rs(
        &mut self,
        old: &[Arc<ReplicaSet>],
    ) -> crate::Result<Arc<ReplicaSet>> {
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
    pub(super) fn scale_rs(
        &self,
        rs: &Arc<ReplicaSet>,
        size: i32,
    ) -> crate::Result<(Arc<ReplicaSet>, bool)> {
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
}

impl Sync<'_> {
    /// True when an active ReplicaSet was sized for another `spec.replicas` than the current.
    pub(super) fn is_scaling_event(
        &self,
        new: &Option<Arc<ReplicaSet>>,
        old: &[Arc<ReplicaSet>],
    ) -> bool {
        all_of(old, new).iter().filter(|r| is_active(r)).any(|rs| {
            annotation_i32(rs, DESIRED_REPLICAS_ANNOTATION).is_some_and(|d| d != replicas(&self.d))
        })
    }

    /// Scales without rolling out (paused, or `spec.replicas` changed), then cleans up and
    /// writes the status.
    pub(super) fn sync(
        &mut self,
        new: Option<Arc<ReplicaSet>>,
        old: Vec<Arc<ReplicaSet>>,
    ) -> ReconcileResult {
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
    pub(super) fn scale(
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
    pub(super) fn check_paused_conditions(&mut self) -> crate::Result<()> {
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
}

impl Sync<'_> {
    pub(super) fn calculate_status(
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

    pub(super) fn sync_deployment_status(
        &mut self,
        all: &[Arc<ReplicaSet>],
        new: Option<&Arc<ReplicaSet>>,
    ) -> crate::Result<()> {
        let st = self.calculate_status(all, new);
        self.write_status(st)
    }
}
