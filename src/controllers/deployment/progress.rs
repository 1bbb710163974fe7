//! Rollout progress (Kubernetes' progress.go): whether a rollout is complete, progressing or
//! past its `progressDeadlineSeconds`, the `Progressing` condition that says so, and the
//! requeue that notices a deadline passing.

use super::{
    progress_deadline, replicas, set_deployment_condition, Sync, NEW_RS_AVAILABLE, PROGRESSING,
    RS_UPDATED, TIMED_OUT,
};
use crate::api::conditions::{find_condition, remove_condition, FALSE, TRUE};
use crate::api::{Deployment, DeploymentStatus, ReplicaSet, Time};
use crate::controllers::replicaset::REPLICA_FAILURE;
use crate::runtime::{Action, ReconcileResult};
use std::sync::Arc;
use std::time::Duration;

/// True when the rollout is complete: every replica updated and available, nothing old left,
/// and the status is of the current generation.
pub(super) fn deployment_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
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

impl Sync<'_> {
    /// Writes the status with the `Progressing` and `ReplicaFailure` conditions, and asks to
    /// be reconciled again when the progress deadline would pass.
    pub(super) fn sync_rollout_status(
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
