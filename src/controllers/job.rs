//! The Job controller: runs pods until `completions` of them succeed, as Kubernetes' job
//! controller does (NonIndexed completion mode).
//!
//! One reconcile, level-triggered from the store:
//! 1. a finished Job (condition `Complete` or `Failed` true) is left alone;
//! 2. the pods are claimed with the Job's selector: `spec.selector` when set, otherwise `batch.kubernetes.io/controller-uid=<job uid>` (Kubernetes
//!    writes that selector into the spec at admission; steady derives it and leaves the spec
//!    as the user wrote it). Pods are created from the template with the labels `job-name`,
//!    `controller-uid` and their `batch.kubernetes.io/` forms, named `<job>-<5 characters>`;
//! 3. counts: active (neither terminal nor being deleted), succeeded and failed (terminal
//!    pods not being deleted), ready;
//! 4. the Job **fails** with condition `Failed`, reason `BackoffLimitExceeded`, when more
//!    than `backoffLimit` (default 6) pods failed, or, with restart policy `OnFailure`, when
//!    the containers of its active pods restarted `backoffLimit` times in all (the node agent
//!    restarts them in place; a limit of 0 fails on the first restart); and with reason
//!    `DeadlineExceeded` once `activeDeadlineSeconds` have passed since `status.startTime`
//!    on the engine clock (the controller reconciles again at the deadline). A failing Job
//!    deletes its active pods and counts them as failed;
//! 5. the Job **completes** (condition `Complete`, `completionTime`) when `completions`
//!    (default 1 unless only `parallelism` is set) pods succeeded; without `completions`
//!    (a work queue) once one pod succeeded and none is active. Remaining active pods are
//!    deleted;
//! 6. otherwise it keeps `min(parallelism, completions - succeeded)` pods active (default
//!    parallelism 1; none when `suspend`), creating in slow-start batches or deleting in
//!    [`DeletionOrder`]. With restart policy `Never` a failed pod stays (it is counted) and a
//!    new pod replaces it.
//!
//! Differences from Kubernetes, on purpose: counts come from the pods that exist (Kubernetes'
//! tracking before finalizers), so deleting a finished pod by hand while the Job runs drops
//! it from the counts; a failed pod is replaced at once (no 10 s doubling pod-failure
//! backoff); `ttlSecondsAfterFinished`, `podFailurePolicy`, `successPolicy` and the Indexed
//! completion mode are not implemented.

use super::claim::ControllerRefManager;
use super::pods::{self, pod_from_template, DeletionOrder};
use super::slow_start::{slow_start_batch, BURST_REPLICAS, SLOW_START_INITIAL_BATCH};
use crate::api::{Job, JobStatus, Pod, Selector, Time};
use crate::runtime::conditions::{condition, is_condition_true, set_condition, TRUE};
use crate::runtime::events::EventKind;
use crate::runtime::{Action, Context, Controller, ReconcileError, ReconcileResult};
use crate::store::DeleteParams;
use std::sync::Arc;
use std::time::Duration;

/// The controller's name (metrics, events).
pub const NAME: &str = "job-controller";

/// Jobs reconciled at once.
const CONCURRENCY: usize = 4;

/// Pod label with the Job's name.
pub const JOB_NAME_LABEL: &str = "job-name";
/// Pod label with the Job's uid.
pub const CONTROLLER_UID_LABEL: &str = "controller-uid";
/// Pod label with the Job's name (prefixed form).
pub const BATCH_JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// Pod label with the Job's uid (prefixed form); the generated selector uses it.
pub const BATCH_CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";

/// Condition: the Job succeeded.
pub const COMPLETE: &str = "Complete";
/// Condition: the Job failed.
pub const FAILED: &str = "Failed";
/// `Failed` reason: too many failed pods or restarts.
pub const BACKOFF_LIMIT_EXCEEDED: &str = "BackoffLimitExceeded";
/// `Failed` reason: `activeDeadlineSeconds` passed.
pub const DEADLINE_EXCEEDED: &str = "DeadlineExceeded";
/// `Complete` reason.
pub const COMPLETIONS_REACHED: &str = "CompletionsReached";

/// Default `spec.backoffLimit`.
pub const DEFAULT_BACKOFF_LIMIT: i32 = 6;

/// The Job controller, ready to register on an engine.
pub fn controller() -> Controller {
    Controller::for_kind::<Job>(NAME)
        .owns_kind::<Pod>()
        .concurrency(CONCURRENCY)
        .build(reconcile)
}

/// True once the Job has the condition `Complete` or `Failed`.
pub fn is_finished(job: &Job) -> bool {
    job.status.as_ref().is_some_and(|s| {
        is_condition_true(&s.conditions, COMPLETE) || is_condition_true(&s.conditions, FAILED)
    })
}

/// The Job's selector: `spec.selector` when it is set, otherwise
/// `batch.kubernetes.io/controller-uid=<uid>`.
fn selector(job: &Job) -> Result<Selector, String> {
    match &job.spec.selector {
        Some(sel) if !sel.match_labels.is_empty() || !sel.match_expressions.is_empty() => sel
            .to_selector()
            .map_err(|e| format!("spec.selector.{}: {}", e.field, e.message)),
        _ => {
            let uid = job.metadata.uid.as_deref().unwrap_or_default();
            Selector::parse(&format!("{BATCH_CONTROLLER_UID_LABEL}={uid}"))
                .map_err(|e| format!("generated selector: {e}"))
        }
    }
}

/// Sum of the container restarts of the pods (init containers included).
fn restarts(pods: &[Arc<Pod>]) -> i32 {
    pods.iter()
        .filter_map(|p| p.status.as_ref())
        .flat_map(|s| {
            s.container_statuses
                .iter()
                .chain(&s.init_container_statuses)
        })
        .map(|c| c.restart_count)
        .sum()
}

/// One reconcile of the Job `ctx.key()` (see the module documentation).
pub fn reconcile(ctx: &Context) -> ReconcileResult {
    let Some(job) = ctx.get::<Job>() else {
        return Ok(Action::done());
    };
    if is_finished(&job) || job.metadata.deletion_timestamp.is_some() {
        return Ok(Action::done());
    }
    let selector =
        selector(&job).map_err(|e| ReconcileError::terminal(format!("Job {}: {e}", ctx.key())))?;
    let claimed = ControllerRefManager::new(ctx.store(), job.as_ref(), &selector)
        .claim_all(|_: &Pod| true)?;
    let owned: Vec<Arc<Pod>> = claimed
        .owned
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let mut active: Vec<Arc<Pod>> = owned
        .iter()
        .filter(|p| pods::is_active(p))
        .cloned()
        .collect();
    let count = |phase: &str| owned.iter().filter(|p| pods::phase(p) == phase).count() as i32;
    let succeeded = count(pods::SUCCEEDED);
    let mut failed = count(pods::FAILED);

    let now = ctx.now();
    let prev = job.status.clone().unwrap_or_default();
    let start = prev.start_time.unwrap_or(now);
    let spec = &job.spec;
    let backoff_limit = spec.backoff_limit.unwrap_or(DEFAULT_BACKOFF_LIMIT);
    let on_failure = spec.template.spec.restart_policy.as_deref() == Some("OnFailure");
    let restarted = restarts(&active);
    let past_restarts = on_failure
        && if backoff_limit == 0 {
            restarted > 0
        } else {
            restarted >= backoff_limit
        };
    let deadline = spec
        .active_deadline_seconds
        .map(|s| Duration::from_secs(s.max(0) as u64));
    let elapsed = now.saturating_duration_since(start);
    let completions = spec
        .completions
        .or_else(|| spec.parallelism.is_none().then_some(1));
    let parallelism = spec.parallelism.unwrap_or(1).max(0);

    let mut conditions = prev.conditions.clone();
    let mut completion_time = prev.completion_time;
    let mut next = None;
    let failure = if failed > backoff_limit || past_restarts {
        Some((
            BACKOFF_LIMIT_EXCEEDED,
            "Job has reached the specified backoff limit".to_string(),
        ))
    } else if deadline.is_some_and(|d| elapsed >= d) {
        Some((
            DEADLINE_EXCEEDED,
            "Job was active longer than specified deadline".to_string(),
        ))
    } else {
        next = deadline.map(|d| d - elapsed);
        None
    };
    let complete = match completions {
        Some(c) => succeeded >= c,
        None => succeeded > 0 && active.is_empty(),
    };
    let mut manage_error = None;
    if let Some((reason, message)) = failure {
        // Failed wins over complete, as in Kubernetes.
        let (deleted, err) = delete_pods(ctx, &job, &mut active, usize::MAX);
        failed += deleted as i32;
        manage_error = err;
        set_condition(
            &mut conditions,
            condition(FAILED, TRUE, reason, &message, None),
            now,
        );
        ctx.event(job.as_ref(), EventKind::Warning, reason, &message);
        next = None;
    } else if complete {
        let (_, err) = delete_pods(ctx, &job, &mut active, usize::MAX);
        manage_error = err;
        set_condition(
            &mut conditions,
            condition(
                COMPLETE,
                TRUE,
                COMPLETIONS_REACHED,
                "Reached expected number of succeeded pods",
                None,
            ),
            now,
        );
        completion_time = Some(now);
        ctx.event(
            job.as_ref(),
            EventKind::Normal,
            "Completed",
            "Job completed",
        );
        next = None;
    } else {
        let want = if spec.suspend == Some(true) {
            0
        } else {
            match completions {
                Some(c) => parallelism.min((c - succeeded).max(0)),
                None if succeeded > 0 => 0,
                None => parallelism,
            }
        } as usize;
        if active.len() > want {
            let n = active.len() - want;
            manage_error = delete_pods(ctx, &job, &mut active, n).1;
        } else if active.len() < want {
            let n = want - active.len();
            manage_error = create_pods(ctx, &job, &mut active, n);
        }
    }
    let status = JobStatus {
        active: Some(active.len() as i32),
        succeeded: Some(succeeded),
        failed: Some(failed),
        ready: Some(active.iter().filter(|p| pods::is_ready(p)).count() as i32),
        start_time: Some(start),
        completion_time,
        conditions,
        extra: prev.extra.clone(),
    };
    super::write_own_status(&ctx.api::<Job>(), &job, |j| j.status = Some(status))?;
    if let Some(e) = manage_error {
        return Err(ReconcileError::retry(e));
    }
    Ok(next.map_or_else(Action::done, Action::requeue))
}

/// The pod the Job creates: its template with the Job's labels and a controller reference.
fn new_pod(job: &Job) -> Pod {
    let mut pod = pod_from_template(&job.spec.template, job);
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let name = job.metadata.name.clone();
    let l = &mut pod.metadata.labels;
    l.insert(JOB_NAME_LABEL.to_string(), name.clone());
    l.insert(BATCH_JOB_NAME_LABEL.to_string(), name);
    l.insert(CONTROLLER_UID_LABEL.to_string(), uid.clone());
    l.insert(BATCH_CONTROLLER_UID_LABEL.to_string(), uid);
    pod
}

/// Creates `n` pods (at most [`BURST_REPLICAS`]) in slow-start batches, adding them to
/// `active`; the first error, if any.
fn create_pods(
    ctx: &Context,
    job: &Arc<Job>,
    active: &mut Vec<Arc<Pod>>,
    n: usize,
) -> Option<String> {
    let api = ctx.api::<Pod>();
    let pod = new_pod(job);
    let (ok, err) = slow_start_batch(n.min(BURST_REPLICAS), SLOW_START_INITIAL_BATCH, |_| {
        api.create(pod.clone()).map(|p| active.push(p))
    });
    if ok > 0 {
        ctx.event(
            job.as_ref(),
            EventKind::Normal,
            "SuccessfulCreate",
            &format!("Created {ok} pods"),
        );
    }
    err.map(|e| {
        let message = format!("Error creating: {e}");
        ctx.event(job.as_ref(), EventKind::Warning, "FailedCreate", &message);
        message
    })
}

/// Deletes the first `n` of `active` in [`DeletionOrder`], removing them from `active`;
/// how many went, and the first error.
fn delete_pods(
    ctx: &Context,
    job: &Arc<Job>,
    active: &mut Vec<Arc<Pod>>,
    n: usize,
) -> (usize, Option<String>) {
    let order = DeletionOrder::new(active.iter().map(|p| p.as_ref()));
    let victims = order.first(active.clone(), n);
    let api = ctx.api::<Pod>();
    let mut gone = Vec::new();
    let mut error = None;
    for v in &victims {
        let params = DeleteParams {
            uid: v.metadata.uid.clone(),
            ..Default::default()
        };
        match api.delete(&v.metadata.name, &params) {
            Ok(_) => gone.push(v.metadata.name.clone()),
            Err(e) if e.is_not_found() || e.is_conflict() => gone.push(v.metadata.name.clone()),
            Err(e) => {
                error.get_or_insert(format!("Error deleting: {e}"));
            }
        }
    }
    active.retain(|p| !gone.contains(&p.metadata.name));
    if !gone.is_empty() {
        ctx.event(
            job.as_ref(),
            EventKind::Normal,
            "SuccessfulDelete",
            &format!("Deleted {} pods", gone.len()),
        );
    }
    (gone.len(), error)
}

/// When a Job started (`status.startTime`), if it did.
pub fn start_time(job: &Job) -> Option<Time> {
    job.status.as_ref().and_then(|s| s.start_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_selector_names_the_jobs_uid() {
        let mut job = Job::default();
        job.metadata.uid = Some("abc".into());
        let sel = selector(&job).unwrap();
        let pod = new_pod(&job);
        assert!(sel.matches(&pod.metadata.labels));
        assert_eq!(pod.metadata.labels[JOB_NAME_LABEL], "");
        assert_eq!(pod.metadata.labels[CONTROLLER_UID_LABEL], "abc");
        job.metadata.uid = Some("other".into());
        assert!(!selector(&job).unwrap().matches(&pod.metadata.labels));
    }
}
