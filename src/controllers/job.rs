//! The Job controller: runs pods until `completions` of them succeed, as Kubernetes' job
//! controller does, in the NonIndexed and Indexed completion modes.
//!
//! One reconcile, level-triggered from the store:
//! 1. a finished Job (condition `Complete` or `Failed` true) is left alone (the
//!    [TTL-after-finished controller](super::ttl_after_finished) deletes it later if asked);
//! 2. the pods are claimed with the Job's selector: `spec.selector` when set, otherwise `batch.kubernetes.io/controller-uid=<job uid>` (Kubernetes
//!    writes that selector into the spec at admission; steady derives it and leaves the spec
//!    as the user wrote it). Pods are created from the template with the labels `job-name`,
//!    `controller-uid` and their `batch.kubernetes.io/` forms, named `<job>-<5 characters>`;
//! 3. counts: active (neither terminal nor being deleted), succeeded and failed (terminal
//!    pods not being deleted), ready. Each failed pod goes through the `podFailurePolicy`
//!    (restart policy `Never`): the first rule whose `onExitCodes` (`In`/`NotIn`, optionally
//!    of one `containerName`; the first container, then init container, terminated with a
//!    non-zero code) or `onPodConditions` (type and status, e.g. `DisruptionTarget`) match
//!    decides: `FailJob` fails the Job at once (conditions `FailureTarget` and `Failed`,
//!    reason `PodFailurePolicy`, Kubernetes' message naming container, pod, exit code and
//!    rule), `Ignore` does not count the pod (nor in `status.failed`) and replaces it,
//!    `FailIndex` fails the pod's index, `Count` (or no match) counts it;
//! 4. the Job **fails** with condition `Failed`, reason `BackoffLimitExceeded`, when more
//!    than `backoffLimit` (default 6; unlimited with `backoffLimitPerIndex` unless set)
//!    pods failed, or, with restart policy `OnFailure`, when the containers of its active
//!    pods restarted `backoffLimit` times in all (the node agent restarts them in place; a
//!    limit of 0 fails on the first restart); with reason `MaxFailedIndexesExceeded` when
//!    more indexes failed than `maxFailedIndexes`; with reason `FailedIndexes` once every
//!    index succeeded or failed and some failed; and with reason `DeadlineExceeded` once
//!    `activeDeadlineSeconds` have passed since `status.startTime` on the engine clock (the
//!    controller reconciles again at the deadline). A failing Job deletes its active pods
//!    and counts them as failed;
//! 5. the Job **completes** (condition `Complete`, `completionTime`) when `completions`
//!    (default 1 unless only `parallelism` is set) pods succeeded (Indexed: every index
//!    0..completions has a succeeded pod); without `completions` (a work queue) once one
//!    pod succeeded and none is active. Remaining active pods are deleted;
//! 6. otherwise it keeps `min(parallelism, completions - succeeded)` pods active (default
//!    parallelism 1; none when `suspend`), creating in slow-start batches or deleting in
//!    [`DeletionOrder`]. With restart policy `Never` a failed pod stays (it is counted) and a
//!    new pod replaces it.
//!
//! **Indexed mode**: each pod has a completion index, in the annotation and label
//! [`COMPLETION_INDEX_ANNOTATION`] and the variable `JOB_COMPLETION_INDEX` of every
//! container (through the downward API), the hostname `<job>-<index>` and the name
//! `<job>-<index>-<5 characters>`. The lowest indexes without a succeeded, failed or active
//! pod get pods first, at most `parallelism` active; a second active pod of an index, and
//! active pods of a finished index, are deleted. `status.completedIndexes` lists the
//! succeeded indexes as Kubernetes compresses them (`1,3-5`). With `backoffLimitPerIndex`,
//! an index fails once more of its pods failed than the limit (or a `FailIndex` rule
//! matched); it gets no more pods and is listed in `status.failedIndexes`.
//!
//! Differences from Kubernetes, on purpose: counts come from the pods that exist (Kubernetes'
//! tracking before finalizers), so deleting a finished pod by hand while the Job runs drops
//! it from the counts (and a per-index failure count with it); a failed pod is replaced at
//! once (no 10 s doubling pod-failure backoff); pods that are being deleted are not
//! evaluated by the pod failure policy until they are terminal; `successPolicy` and
//! `podReplacementPolicy` are not implemented; with restart policy `OnFailure`, restarts
//! count against `backoffLimit` only (not per index).

use super::claim::ControllerRefManager;
use super::pod_util::{self, pod_from_template, DeletionOrder};
use super::slow_start::{slow_start_batch, BURST_REPLICAS, SLOW_START_INITIAL_BATCH};
use crate::api::conditions::{condition, is_condition_true, set_condition, TRUE};
use crate::api::{
    EnvVar, EnvVarSource, Job, JobStatus, ObjectFieldSelector, Pod, PodFailurePolicy, Selector,
    Time,
};
use crate::client::events::EventKind;
use crate::runtime::{Action, Context, Controller, ReconcileError, ReconcileResult};
use crate::store::DeleteParams;
use std::collections::{BTreeMap, BTreeSet};
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
/// `Failed` (and `FailureTarget`) reason: a `FailJob` rule of the pod failure policy
/// matched.
pub const POD_FAILURE_POLICY: &str = "PodFailurePolicy";
/// `Failed` reason: more indexes failed than `maxFailedIndexes`.
pub const MAX_FAILED_INDEXES_EXCEEDED: &str = "MaxFailedIndexesExceeded";
/// `Failed` reason: every index finished and some failed (`backoffLimitPerIndex`).
pub const FAILED_INDEXES: &str = "FailedIndexes";
/// Condition: the Job is going to fail (set with `Failed` when a pod failure policy rule
/// fails it, as Kubernetes does).
pub const FAILURE_TARGET: &str = "FailureTarget";

/// `spec.completionMode` of Jobs whose pods get completion indexes.
pub const INDEXED: &str = "Indexed";
/// Annotation and label with a pod's completion index (Indexed mode).
pub const COMPLETION_INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
/// Environment variable with the completion index in every container (Indexed mode).
pub const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

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

/// What the pod failure policy says of one failed pod.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    /// Counts against `backoffLimit` (rule `Count`, or no rule matched).
    Count,
    /// Does not count (rule `Ignore`).
    Ignore,
    /// Fails the Job at once (rule `FailJob`), with Kubernetes' message.
    FailJob(String),
    /// Fails the pod's index at once (rule `FailIndex`).
    FailIndex,
}

/// The first rule of `policy` that matches the failed `pod` (Kubernetes'
/// `matchPodFailurePolicy`): on exit codes, the first container (then init container)
/// terminated with a non-zero code that the rule's operator and values accept, limited to
/// `containerName` when set; on pod conditions, a condition of the pod with the rule's type
/// and status (default `True`).
fn verdict(policy: &PodFailurePolicy, pod: &Pod) -> Verdict {
    let Some(status) = pod.status.as_ref() else {
        return Verdict::Count;
    };
    let pod_ref = format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name
    );
    for (i, rule) in policy.rules.iter().enumerate() {
        let matched = if let Some(codes) = &rule.on_exit_codes {
            status
                .container_statuses
                .iter()
                .chain(&status.init_container_statuses)
                .filter(|c| codes.container_name.as_ref().is_none_or(|n| *n == c.name))
                .find_map(|c| {
                    let code = c.state.as_ref()?.terminated.as_ref()?.exit_code;
                    let listed = codes.values.contains(&code);
                    let hit = code != 0 && if codes.operator == "In" { listed } else { !listed };
                    hit.then(|| {
                        format!(
                            "Container {} for pod {pod_ref} failed with exit code {code} matching {} rule at index {i}",
                            c.name, rule.action
                        )
                    })
                })
        } else {
            rule.on_pod_conditions.iter().find_map(|want| {
                let st = want.status.as_deref().unwrap_or(TRUE);
                status
                    .conditions
                    .iter()
                    .any(|c| c.type_ == want.type_ && c.status == st)
                    .then(|| {
                        format!(
                            "Pod {pod_ref} has condition {} matching {} rule at index {i}",
                            want.type_, rule.action
                        )
                    })
            })
        };
        if let Some(message) = matched {
            return match rule.action.as_str() {
                "FailJob" => Verdict::FailJob(message),
                "Ignore" => Verdict::Ignore,
                "FailIndex" => Verdict::FailIndex,
                _ => Verdict::Count,
            };
        }
    }
    Verdict::Count
}

/// The completion index of a pod (its [`COMPLETION_INDEX_ANNOTATION`]), if it has a valid
/// one below `completions`.
pub fn completion_index(pod: &Pod, completions: i32) -> Option<i32> {
    pod.metadata
        .annotations
        .get(COMPLETION_INDEX_ANNOTATION)
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|i| (0..completions).contains(i))
}

/// Indexes written as Kubernetes writes `completedIndexes`: ascending, runs of consecutive
/// indexes as `first-last`, separated by commas (`1,3-5`).
pub fn compress_indexes(indexes: &BTreeSet<i32>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Option<(i32, i32)> = None;
    let flush = |r: (i32, i32), out: &mut Vec<String>| {
        out.push(if r.0 == r.1 {
            r.0.to_string()
        } else {
            format!("{}-{}", r.0, r.1)
        })
    };
    for &i in indexes {
        run = match run {
            Some((a, b)) if b + 1 == i => Some((a, i)),
            Some(r) => {
                flush(r, &mut out);
                Some((i, i))
            }
            None => Some((i, i)),
        };
    }
    if let Some(r) = run {
        flush(r, &mut out);
    }
    out.join(",")
}

/// Parses a compressed index list (`1,3-5`); invalid parts are skipped.
pub fn parse_indexes(s: &str) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                    out.extend(a..=b);
                }
            }
            None => {
                if let Ok(i) = part.parse() {
                    out.insert(i);
                }
            }
        }
    }
    out
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
    let mut owned: Vec<Arc<Pod>> = claimed
        .owned
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    // Oldest first, so the pod failure policy reports the first failure.
    owned.sort_by(|a, b| {
        (a.metadata.creation_timestamp, &a.metadata.name)
            .cmp(&(b.metadata.creation_timestamp, &b.metadata.name))
    });
    let spec = &job.spec;
    let indexed = spec.completion_mode.as_deref() == Some(INDEXED);
    let completions = spec
        .completions
        .or_else(|| spec.parallelism.is_none().then_some(1));
    let index_of = |p: &Pod| completion_index(p, completions.unwrap_or(0));
    let mut active: Vec<Arc<Pod>> = owned
        .iter()
        .filter(|p| pod_util::is_active(p))
        .cloned()
        .collect();

    // Failed pods, through the pod failure policy.
    let mut failed = 0;
    let mut fail_job = None;
    let mut failures_per_index: BTreeMap<i32, i32> = BTreeMap::new();
    let mut failed_indexes: BTreeSet<i32> = BTreeSet::new();
    for pod in owned
        .iter()
        .filter(|p| pod_util::phase(p) == pod_util::FAILED)
    {
        let v = spec
            .pod_failure_policy
            .as_ref()
            .map_or(Verdict::Count, |policy| verdict(policy, pod));
        if v == Verdict::Ignore {
            continue;
        }
        failed += 1;
        let index = index_of(pod);
        if let Some(i) = index {
            *failures_per_index.entry(i).or_default() += 1;
        }
        match v {
            Verdict::FailJob(message) => {
                fail_job.get_or_insert(message);
            }
            Verdict::FailIndex => failed_indexes.extend(index),
            _ => {}
        }
    }
    let succeeded_indexes: BTreeSet<i32> = owned
        .iter()
        .filter(|p| pod_util::phase(p) == pod_util::SUCCEEDED)
        .filter_map(|p| index_of(p))
        .collect();
    let succeeded = if indexed {
        succeeded_indexes.len() as i32
    } else {
        owned
            .iter()
            .filter(|p| pod_util::phase(p) == pod_util::SUCCEEDED)
            .count() as i32
    };
    let per_index_limit = spec.backoff_limit_per_index.filter(|_| indexed);
    if let Some(limit) = per_index_limit {
        failed_indexes.extend(
            failures_per_index
                .iter()
                .filter(|(_, n)| **n > limit)
                .map(|(i, _)| *i),
        );
        failed_indexes.retain(|i| !succeeded_indexes.contains(i));
    }

    let now = ctx.now();
    let prev = job.status.clone().unwrap_or_default();
    let start = prev.start_time.unwrap_or(now);
    // With per-index limits the Job-wide limit is off unless set (Kubernetes' default).
    let backoff_limit = spec.backoff_limit.unwrap_or(if per_index_limit.is_some() {
        i32::MAX
    } else {
        DEFAULT_BACKOFF_LIMIT
    });
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
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    let all_indexes = completions.unwrap_or(0).max(0);
    let resolved = succeeded_indexes.len() + failed_indexes.len();

    let mut conditions = prev.conditions.clone();
    let mut completion_time = prev.completion_time;
    let mut next = None;
    let failure = if let Some(message) = fail_job {
        Some((POD_FAILURE_POLICY, message))
    } else if failed > backoff_limit || past_restarts {
        Some((
            BACKOFF_LIMIT_EXCEEDED,
            "Job has reached the specified backoff limit".to_string(),
        ))
    } else if spec
        .max_failed_indexes
        .is_some_and(|m| per_index_limit.is_some() && failed_indexes.len() as i32 > m)
    {
        Some((
            MAX_FAILED_INDEXES_EXCEEDED,
            "Job has exceeded the specified maximal number of failed indexes".to_string(),
        ))
    } else if indexed && !failed_indexes.is_empty() && resolved as i32 >= all_indexes {
        Some((FAILED_INDEXES, "Job has failed indexes".to_string()))
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
        if reason == POD_FAILURE_POLICY {
            set_condition(
                &mut conditions,
                condition(FAILURE_TARGET, TRUE, reason, &message, None),
                now,
            );
        }
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
    } else if indexed {
        manage_error = manage_indexed(
            ctx,
            &job,
            &mut active,
            &succeeded_indexes,
            &failed_indexes,
            parallelism,
            all_indexes,
        );
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
            manage_error = create_pods(ctx, &job, &mut active, &vec![None; n]);
        }
    }
    let status = JobStatus {
        active: Some(active.len() as i32),
        succeeded: Some(succeeded),
        failed: Some(failed),
        ready: Some(active.iter().filter(|p| pod_util::is_ready(p)).count() as i32),
        start_time: Some(start),
        completion_time,
        conditions,
        completed_indexes: Some(compress_indexes(&succeeded_indexes))
            .filter(|c| indexed && !c.is_empty()),
        failed_indexes: per_index_limit.map(|_| compress_indexes(&failed_indexes)),
        extra: prev.extra.clone(),
    };
    super::write_own_status(&ctx.api::<Job>(), &job, |j| j.status = Some(status))?;
    if let Some(e) = manage_error {
        return Err(ReconcileError::retry(e));
    }
    Ok(next.map_or_else(Action::done, Action::requeue))
}

/// Indexed mode: deletes the active pods of indexes that succeeded or failed and the
/// duplicates of an index, then creates pods for the lowest indexes that have none, up to
/// `parallelism` active pods (none when suspended).
fn manage_indexed(
    ctx: &Context,
    job: &Arc<Job>,
    active: &mut Vec<Arc<Pod>>,
    succeeded: &BTreeSet<i32>,
    failed: &BTreeSet<i32>,
    parallelism: i32,
    completions: i32,
) -> Option<String> {
    let mut seen = BTreeSet::new();
    let mut surplus: Vec<Arc<Pod>> = Vec::new();
    for p in active.iter() {
        match completion_index(p, completions) {
            Some(i) if !succeeded.contains(&i) && !failed.contains(&i) && seen.insert(i) => {}
            _ => surplus.push(p.clone()),
        }
    }
    let mut error = None;
    if !surplus.is_empty() {
        let names: Vec<String> = surplus.iter().map(|p| p.metadata.name.clone()).collect();
        let mut doomed: Vec<Arc<Pod>> = surplus;
        let (_, err) = delete_pods(ctx, job, &mut doomed, usize::MAX);
        error = err;
        let kept: Vec<String> = doomed.iter().map(|p| p.metadata.name.clone()).collect();
        active.retain(|p| !names.contains(&p.metadata.name) || kept.contains(&p.metadata.name));
    }
    let want = if job.spec.suspend == Some(true) {
        0
    } else {
        parallelism as usize
    };
    if active.len() > want {
        let n = active.len() - want;
        return delete_pods(ctx, job, active, n).1.or(error);
    }
    let pending: Vec<Option<i32>> = (0..completions)
        .filter(|i| !succeeded.contains(i) && !failed.contains(i) && !seen.contains(i))
        .take(want - active.len())
        .map(Some)
        .collect();
    if !pending.is_empty() {
        error = create_pods(ctx, job, active, &pending).or(error);
    }
    error
}

/// The pod the Job creates: its template with the Job's labels and a controller reference;
/// in Indexed mode, for completion index `index`: the index as annotation and label, the
/// hostname `<job>-<index>`, the name `<job>-<index>-<5 characters>`, and the environment
/// variable `JOB_COMPLETION_INDEX` (from the annotation, through the downward API) in
/// every container.
fn new_pod(job: &Job, index: Option<i32>) -> Pod {
    let mut pod = pod_from_template(&job.spec.template, job);
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let name = job.metadata.name.clone();
    let l = &mut pod.metadata.labels;
    l.insert(JOB_NAME_LABEL.to_string(), name.clone());
    l.insert(BATCH_JOB_NAME_LABEL.to_string(), name.clone());
    l.insert(CONTROLLER_UID_LABEL.to_string(), uid.clone());
    l.insert(BATCH_CONTROLLER_UID_LABEL.to_string(), uid);
    if let Some(i) = index {
        let i = i.to_string();
        pod.metadata
            .labels
            .insert(COMPLETION_INDEX_ANNOTATION.to_string(), i.clone());
        pod.metadata
            .annotations
            .insert(COMPLETION_INDEX_ANNOTATION.to_string(), i.clone());
        pod.metadata.generate_name = Some(pod_util::generate_name_prefix(&format!("{name}-{i}")));
        pod.spec.hostname = Some(format!("{name}-{i}"));
        let env = EnvVar {
            name: COMPLETION_INDEX_ENV.to_string(),
            value_from: Some(Box::new(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: format!("metadata.annotations['{COMPLETION_INDEX_ANNOTATION}']"),
                    ..Default::default()
                }),
                ..Default::default()
            })),
            ..Default::default()
        };
        for c in pod
            .spec
            .containers
            .iter_mut()
            .chain(pod.spec.init_containers.iter_mut())
        {
            c.env.retain(|e| e.name != COMPLETION_INDEX_ENV);
            c.env.push(env.clone());
        }
    }
    pod
}

/// Creates a pod for each of `indexes` (`None`: NonIndexed; at most [`BURST_REPLICAS`]) in
/// slow-start batches, adding them to `active`; the first error, if any.
fn create_pods(
    ctx: &Context,
    job: &Arc<Job>,
    active: &mut Vec<Arc<Pod>>,
    indexes: &[Option<i32>],
) -> Option<String> {
    let api = ctx.api::<Pod>();
    let n = indexes.len().min(BURST_REPLICAS);
    let (ok, err) = slow_start_batch(n, SLOW_START_INITIAL_BATCH, |i| {
        api.create(new_pod(job, indexes[i])).map(|p| active.push(p))
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
    fn indexes_are_compressed_as_kubernetes_writes_them() {
        let set = |v: &[i32]| v.iter().copied().collect::<BTreeSet<i32>>();
        assert_eq!(compress_indexes(&set(&[])), "");
        assert_eq!(compress_indexes(&set(&[1, 3, 4, 5])), "1,3-5");
        assert_eq!(compress_indexes(&set(&[0, 1, 7, 9, 10])), "0-1,7,9-10");
        assert_eq!(parse_indexes("1,3-5"), set(&[1, 3, 4, 5]));
    }

    #[test]
    fn the_first_matching_rule_decides() {
        use crate::api::{
            ContainerState, ContainerStateTerminated, ContainerStatus, PodFailurePolicyOnExitCodes,
            PodFailurePolicyOnPodCondition, PodFailurePolicyRule, PodStatus,
        };
        let exited = |name: &str, code: i32| ContainerStatus {
            name: name.into(),
            state: Some(ContainerState {
                terminated: Some(Box::new(ContainerStateTerminated {
                    exit_code: code,
                    ..Default::default()
                })),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut pod = Pod::default();
        pod.metadata.name = "p".into();
        pod.status = Some(Box::new(PodStatus {
            container_statuses: vec![exited("side", 0), exited("main", 5)],
            ..Default::default()
        }));
        let codes = |action: &str, container: Option<&str>, op: &str, values: &[i32]| {
            PodFailurePolicyRule {
                action: action.into(),
                on_exit_codes: Some(PodFailurePolicyOnExitCodes {
                    container_name: container.map(Into::into),
                    operator: op.into(),
                    values: values.to_vec(),
                    ..Default::default()
                }),
                ..Default::default()
            }
        };
        let policy = |rules: Vec<PodFailurePolicyRule>| PodFailurePolicy {
            rules,
            ..Default::default()
        };
        assert_eq!(
            verdict(&policy(vec![codes("FailJob", None, "In", &[5])]), &pod),
            Verdict::FailJob(
                "Container main for pod default/p failed with exit code 5 matching FailJob rule at index 0"
                    .into()
            )
        );
        // Exit code 0 never matches, even with NotIn.
        assert_eq!(
            verdict(
                &policy(vec![
                    codes("Ignore", Some("side"), "NotIn", &[1]),
                    codes("FailIndex", None, "NotIn", &[1])
                ]),
                &pod
            ),
            Verdict::FailIndex
        );
        let disrupted = PodFailurePolicyRule {
            action: "Ignore".into(),
            on_pod_conditions: vec![PodFailurePolicyOnPodCondition {
                type_: "DisruptionTarget".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            verdict(&policy(vec![disrupted.clone()]), &pod),
            Verdict::Count
        );
        pod.status
            .as_mut()
            .unwrap()
            .conditions
            .push(crate::api::Condition {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
                ..Default::default()
            });
        assert_eq!(verdict(&policy(vec![disrupted]), &pod), Verdict::Ignore);
    }

    #[test]
    fn the_generated_selector_names_the_jobs_uid() {
        let mut job = Job::default();
        job.metadata.uid = Some("abc".into());
        let sel = selector(&job).unwrap();
        let pod = new_pod(&job, None);
        assert!(sel.matches(&pod.metadata.labels));
        assert_eq!(pod.metadata.labels[JOB_NAME_LABEL], "");
        assert_eq!(pod.metadata.labels[CONTROLLER_UID_LABEL], "abc");
        job.metadata.uid = Some("other".into());
        assert!(!selector(&job).unwrap().matches(&pod.metadata.labels));
    }
}
