//! The TTL-after-finished controller: deletes a finished Job `ttlSecondsAfterFinished`
//! seconds after it finished, as Kubernetes' ttl-after-finished controller does.
//!
//! A Job has finished when its `Complete` or `Failed` condition is true; it finished at
//! that condition's `lastTransitionTime`. Once the TTL has passed on the engine clock the
//! Job is deleted with foreground propagation (its pods go first, then the Job) and the
//! Job's uid as precondition, so a Job re-created under the same name is left alone; before
//! that, the controller reconciles again when it expires. A TTL of 0 deletes the Job as soon
//! as it finishes. Changing the TTL of a finished Job takes effect at once.

use super::job::{COMPLETE, FAILED};
use crate::api::{Job, Object, Time};
use crate::runtime::{Action, Context, Controller, Predicate, ReconcileResult};
use crate::store::{DeleteParams, Propagation};
use std::sync::Arc;
use std::time::Duration;

/// The controller's name (metrics, events).
pub const NAME: &str = "ttl-after-finished-controller";

/// The TTL-after-finished controller, ready to register on an engine. It watches Jobs
/// that have a TTL and have finished: finishing is a status change, which the default
/// predicate would ignore.
pub fn controller() -> Controller {
    Controller::for_kind::<Job>(NAME)
        .predicate(Predicate::Custom(Arc::new(
            |_old: Option<&dyn Object>, new: &dyn Object| {
                new.as_any().downcast_ref::<Job>().is_some_and(|j| {
                    j.spec.ttl_seconds_after_finished.is_some() && finish_time(j).is_some()
                })
            },
        )))
        .build(reconcile)
}

/// When the Job finished: the `lastTransitionTime` of its true `Complete` or `Failed`
/// condition.
pub fn finish_time(job: &Job) -> Option<Time> {
    job.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| (c.type_ == COMPLETE || c.type_ == FAILED) && c.status == "True")
        .and_then(|c| c.last_transition_time)
}

/// When the Job expires, if it has a TTL and has finished.
pub fn expires_at(job: &Job) -> Option<Time> {
    let ttl = job.spec.ttl_seconds_after_finished?;
    let finished = finish_time(job)?;
    Some(finished.plus(Duration::from_secs(ttl.max(0) as u64)))
}

/// One reconcile of the Job `ctx.key()` (see the module documentation).
pub fn reconcile(ctx: &Context) -> ReconcileResult {
    let Some(job) = ctx.get::<Job>() else {
        return Ok(Action::done());
    };
    if job.metadata.deletion_timestamp.is_some() {
        return Ok(Action::done());
    }
    let Some(expiry) = expires_at(&job) else {
        return Ok(Action::done());
    };
    let now = ctx.now();
    if now < expiry {
        return Ok(Action::requeue(expiry.saturating_duration_since(now)));
    }
    let params = DeleteParams {
        uid: job.metadata.uid.clone(),
        propagation: Propagation::Foreground,
        ..Default::default()
    };
    let api = ctx
        .api::<Job>()
        .namespace(job.metadata.namespace.as_deref().unwrap_or("default"));
    match api.delete(&job.metadata.name, &params) {
        Ok(_) => Ok(Action::done()),
        Err(e) if e.is_not_found() || e.is_conflict() => Ok(Action::done()),
        Err(e) => Err(e.into()),
    }
}
