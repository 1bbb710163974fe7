//! The CronJob controller: creates Jobs on a cron schedule, as Kubernetes' cronjob
//! controller (v2) does, on the engine clock.
//!
//! One reconcile, level-triggered from the store (the CronJob and the Jobs it controls):
//! 1. **history**: finished Jobs beyond `successfulJobsHistoryLimit` (default 3) and
//!    `failedJobsHistoryLimit` (default 1) are deleted, oldest start first;
//! 2. **status**: finished Jobs leave `status.active` (event `SawCompletedJob`), Jobs that
//!    are gone leave it too (`MissingJob`), `lastSuccessfulTime` is the latest completion
//!    of a successful Job; an unfinished Job that is not in `active` is reported
//!    (`UnexpectedJob`);
//! 3. nothing more while the CronJob is being deleted or is `suspend`ed;
//! 4. **the time to run**: the most recent scheduled time not after now and after
//!    `lastScheduleTime` (else `creationTimestamp`) and after now minus
//!    `startingDeadlineSeconds`, computed as Kubernetes' `mostRecentScheduleTime` does.
//!    More than 100 missed times since then: a Warning event `TooManyMissedTimes`, and the
//!    most recent one still runs. A time older than `startingDeadlineSeconds` is missed
//!    (`MissSchedule`); one already run (its Job in `active`, or `lastScheduleTime`) is not
//!    run again;
//! 5. **concurrency**: `Forbid` skips the time while a Job is active (`JobAlreadyActive`;
//!    as in Kubernetes, a skipped time that is still the most recent one starts once the
//!    active Job finishes, unless `startingDeadlineSeconds` has passed); `Replace` deletes
//!    the active Jobs first
//!    (background propagation); `Allow` (default) runs them side by side;
//! 6. **the Job**: named `<cronjob>-<scheduled time in minutes since the epoch>` (the name
//!    is the lock against creating one time twice), with the template's labels and
//!    annotations, the annotation `batch.kubernetes.io/cronjob-scheduled-timestamp` (RFC
//!    3339 in the schedule's zone) and a controller reference, so the garbage collector
//!    deletes it with its CronJob. It joins `active`; `lastScheduleTime` is its time;
//! 7. the controller reconciles again 100 ms after the next scheduled time.
//!
//! The schedule is read in `spec.timeZone`, else in the host's zone (as kube-controller-manager
//! reads it in its own). Admission refuses a `CRON_TZ=` prefix, as Kubernetes does since 1.27;
//! the controller still honours one, for an object written before that check.

use super::pod_util::controlled;
use crate::api::conditions::is_condition_true;
use crate::api::cron::{self, Schedule};
use crate::api::{CronJob, CronJobStatus, Job, ObjectReference, Time};
use crate::client::events::EventKind;
use crate::runtime::owner::{is_controlled_by, set_controller_reference};
use crate::runtime::{Action, Context, Controller, ReconcileError, ReconcileResult};
use crate::store::{DeleteParams, Propagation};
use jiff::tz::TimeZone;
use std::sync::Arc;
use std::time::Duration;

/// The controller's name (metrics, events).
pub const NAME: &str = "cronjob-controller";

/// CronJobs reconciled at once.
const CONCURRENCY: usize = 2;

/// Annotation on each Job: its scheduled time, RFC 3339 in the schedule's zone.
pub const SCHEDULED_TIMESTAMP_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// Missed times beyond which the controller warns (Kubernetes' figure).
pub const TOO_MANY_MISSED: i64 = 100;

/// Padding after a scheduled time before the controller wakes (Kubernetes'
/// `nextScheduleDelta`, against clock skew).
const NEXT_SCHEDULE_DELTA: Duration = Duration::from_millis(100);

/// Default `successfulJobsHistoryLimit`.
pub const DEFAULT_SUCCESSFUL_HISTORY: i32 = 3;
/// Default `failedJobsHistoryLimit`.
pub const DEFAULT_FAILED_HISTORY: i32 = 1;

/// The CronJob controller, ready to register on an engine.
pub fn controller() -> Controller {
    Controller::for_kind::<CronJob>(NAME)
        .owns_kind::<Job>()
        .concurrency(CONCURRENCY)
        .build(reconcile)
}

/// The name of the Job for the scheduled time `t`: `<cronjob>-<minutes since the epoch>`.
pub fn job_name(cron_job: &str, t: Time) -> String {
    format!("{cron_job}-{}", t.unix_micros().div_euclid(60 * 1_000_000))
}

/// `Complete` or `Failed`, once the Job has finished.
fn finished(job: &Job) -> Option<&'static str> {
    let conditions = &job.status.as_ref()?.conditions;
    [super::job::COMPLETE, super::job::FAILED]
        .into_iter()
        .find(|c| is_condition_true(conditions, c))
}

/// How many times were missed (Kubernetes' `missedSchedulesType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Missed {
    None,
    Few,
    Many,
}

/// The most recent scheduled time (Kubernetes' `mostRecentScheduleTime`): the earliest time
/// considered (`lastScheduleTime`, else `creationTimestamp`, moved up to now minus
/// `startingDeadlineSeconds` when `with_deadline`), the most recent scheduled time after it
/// and not after `now` (if any), and how many were missed.
fn most_recent(
    cj: &CronJob,
    now: Time,
    sched: &Schedule,
    zone: &TimeZone,
    with_deadline: bool,
) -> Result<(Time, Option<Time>, Missed), String> {
    let status = cj.status.as_ref();
    let mut earliest = status
        .and_then(|s| s.last_schedule_time)
        .or(cj.metadata.creation_timestamp)
        .unwrap_or(now);
    if let (true, Some(d)) = (with_deadline, cj.spec.starting_deadline_seconds) {
        let deadline = Time::from_unix_micros(
            now.unix_micros()
                .saturating_sub(d.saturating_mul(1_000_000)),
        );
        earliest = earliest.max(deadline);
    }
    let never = || "time difference between two schedules is less than 1 second".to_string();
    let t1 = sched.next_after(earliest, zone).ok_or_else(never)?;
    if now < t1 {
        return Ok((earliest, None, Missed::None));
    }
    let t2 = sched.next_after(t1, zone).ok_or_else(never)?;
    if now < t2 {
        return Ok((earliest, Some(t1), Missed::None));
    }
    let secs = |a: Time, b: Time| (a.unix_micros() - b.unix_micros()) / 1_000_000;
    let between = (t2.unix_micros() - t1.unix_micros() + 500_000) / 1_000_000;
    if between < 1 {
        return Err(never());
    }
    // A rough count (as Kubernetes counts): the intervals between the first two times
    // that fit between the first and now.
    let missed = secs(now, t1) / between + 1;
    // Start one interval before the estimate, so that irregular schedules (30 6-16/4 * * 1-5)
    // still find their most recent time.
    let start = t1.unix_micros() + (missed - 2) * between * 1_000_000;
    let mut recent = None;
    let mut t = sched.next_after(Time::from_unix_micros(start), zone);
    while let Some(x) = t.filter(|x| *x <= now) {
        recent = Some(x);
        t = sched.next_after(x, zone);
    }
    let kind = if missed > TOO_MANY_MISSED {
        Missed::Many
    } else {
        Missed::Few
    };
    Ok((earliest, recent, kind))
}

/// How long until 100 ms after the next scheduled time (Kubernetes'
/// `nextScheduleTimeDuration`).
fn next_wake(cj: &CronJob, now: Time, sched: &Schedule, zone: &TimeZone) -> Option<Duration> {
    let from = match most_recent(cj, now, sched, zone, false) {
        Err(_) => now,
        Ok((_, Some(recent), _)) => recent,
        Ok((earliest, None, _)) => earliest,
    };
    let next = sched.next_after(from, zone)?;
    Some(
        next.plus(NEXT_SCHEDULE_DELTA)
            .saturating_duration_since(now),
    )
}

fn reference(job: &Job) -> ObjectReference {
    ObjectReference {
        kind: Some("Job".into()),
        api_version: Some("batch/v1".into()),
        namespace: job.metadata.namespace.clone(),
        name: Some(job.metadata.name.clone()),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..Default::default()
    }
}

fn is_active(status: &CronJobStatus, uid: Option<&str>) -> bool {
    status.active.iter().any(|r| r.uid.as_deref() == uid)
}

/// One reconcile of the CronJob `ctx.key()` (see the module documentation).
pub fn reconcile(ctx: &Context) -> ReconcileResult {
    let Some(cj) = ctx.get::<CronJob>() else {
        return Ok(Action::done());
    };
    let now = ctx.now();
    let uid = cj.metadata.uid.clone().unwrap_or_default();
    let namespace = cj.metadata.namespace.as_deref();
    let jobs = controlled::<Job>(ctx.store(), namespace, &uid)?;
    let mut status = cj.status.clone().unwrap_or_default();

    let result = sync(ctx, &cj, &jobs, &mut status, now);
    super::write_own_status(&ctx.api::<CronJob>(), &cj, |c| c.status = Some(status))?;
    match result? {
        Some(d) => Ok(Action::requeue(d)),
        None => Ok(Action::done()),
    }
}

/// Steps 1 to 6 of the module documentation on `status`; when to reconcile again.
fn sync(
    ctx: &Context,
    cj: &Arc<CronJob>,
    jobs: &[Arc<Job>],
    status: &mut CronJobStatus,
    now: Time,
) -> Result<Option<Duration>, ReconcileError> {
    clean_up_history(ctx, cj, jobs, status);

    for job in jobs {
        let job_uid = job.metadata.uid.as_deref();
        let done = finished(job);
        let listed = is_active(status, job_uid);
        if !listed && done.is_none() && job.metadata.deletion_timestamp.is_none() {
            ctx.event(
                cj.as_ref(),
                EventKind::Warning,
                "UnexpectedJob",
                &format!(
                    "Saw a job that the controller did not create or forgot: {}",
                    job.metadata.name
                ),
            );
        } else if let (true, Some(condition)) = (listed, done) {
            status.active.retain(|r| r.uid.as_deref() != job_uid);
            ctx.event(
                cj.as_ref(),
                EventKind::Normal,
                "SawCompletedJob",
                &format!(
                    "Saw completed job: {}, condition: {condition}",
                    job.metadata.name
                ),
            );
        }
        if done == Some(super::job::COMPLETE) {
            let completed = job.status.as_ref().and_then(|s| s.completion_time);
            if completed > status.last_successful_time {
                status.last_successful_time = completed;
            }
        }
    }
    let jobs_api = ctx
        .api::<Job>()
        .namespace(cj.metadata.namespace.as_deref().unwrap_or("default"));
    let mut gone = Vec::new();
    for r in &status.active {
        if jobs.iter().any(|j| j.metadata.uid == r.uid) {
            continue;
        }
        let name = r.name.clone().unwrap_or_default();
        match jobs_api.get(&name) {
            Ok(j) if j.metadata.uid == r.uid => {}
            Ok(_) => gone.push(r.uid.clone()),
            Err(e) if e.is_not_found() => gone.push(r.uid.clone()),
            Err(e) => return Err(ReconcileError::retry(e)),
        }
        if gone.last() == Some(&r.uid) {
            ctx.event(
                cj.as_ref(),
                EventKind::Normal,
                "MissingJob",
                &format!("Active job went missing: {name}"),
            );
        }
    }
    status.active.retain(|r| !gone.contains(&r.uid));

    if cj.metadata.deletion_timestamp.is_some() || cj.spec.suspend == Some(true) {
        return Ok(None);
    }
    let spec = &cj.spec;
    let zone = match spec.time_zone.as_deref() {
        Some(name) => match cron::time_zone(name) {
            Ok(z) => z,
            Err(e) => {
                ctx.event(
                    cj.as_ref(),
                    EventKind::Warning,
                    "UnknownTimeZone",
                    &format!("invalid timeZone: {name:?}: {e}"),
                );
                return Ok(None);
            }
        },
        None => TimeZone::system(),
    };
    let sched = match Schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(e) => {
            ctx.event(
                cj.as_ref(),
                EventKind::Warning,
                "UnparseableSchedule",
                &format!("unparseable schedule: {:?} : {e}", spec.schedule),
            );
            return Ok(None);
        }
    };
    // A `CRON_TZ=` prefix names the zone in the schedule itself.
    let zone = match sched.zone_name() {
        Some(name) => cron::time_zone(name).unwrap_or(zone),
        None => zone,
    };
    let scheduled = match most_recent(cj, now, &sched, &zone, true) {
        Err(e) => {
            ctx.event(
                cj.as_ref(),
                EventKind::Warning,
                "InvalidSchedule",
                &format!("invalid schedule: {} : {e}", spec.schedule),
            );
            return Ok(None);
        }
        Ok((_, recent, missed)) => {
            if recent.is_some() && missed == Missed::Many {
                ctx.event(
                    cj.as_ref(),
                    EventKind::Warning,
                    "TooManyMissedTimes",
                    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
                );
            }
            recent
        }
    };
    // What to return from here on: wake for the next scheduled time, computed on the
    // status as it will be written.
    let wake = |status: &CronJobStatus| {
        let mut c = (**cj).clone();
        c.status = Some(status.clone());
        next_wake(&c, now, &sched, &zone)
    };
    let Some(scheduled) = scheduled else {
        return Ok(wake(status));
    };
    if let Some(d) = spec.starting_deadline_seconds {
        let deadline = Time::from_unix_micros(
            scheduled
                .unix_micros()
                .saturating_add(d.saturating_mul(1_000_000)),
        );
        if deadline < now {
            ctx.event(
                cj.as_ref(),
                EventKind::Warning,
                "MissSchedule",
                &format!(
                    "Missed scheduled time to start a job: {}",
                    cron::rfc1123z_utc(scheduled)
                ),
            );
            return Ok(wake(status));
        }
    }
    let name = job_name(&cj.metadata.name, scheduled);
    let already = status
        .active
        .iter()
        .any(|r| r.name.as_deref() == Some(name.as_str()))
        || status.last_schedule_time == Some(scheduled);
    if already {
        return Ok(wake(status));
    }
    let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
    if policy == "Forbid" && !status.active.is_empty() {
        ctx.event(
            cj.as_ref(),
            EventKind::Normal,
            "JobAlreadyActive",
            "Not starting job because prior execution is running and concurrency policy is Forbid",
        );
        return Ok(wake(status));
    }
    if policy == "Replace" {
        for r in status.active.clone() {
            let job_name = r.name.clone().unwrap_or_default();
            let job = match jobs_api.get(&job_name) {
                Ok(j) => j,
                Err(e) if e.is_not_found() => {
                    status.active.retain(|a| a.uid != r.uid);
                    continue;
                }
                Err(e) => {
                    ctx.event(
                        cj.as_ref(),
                        EventKind::Warning,
                        "FailedGet",
                        &format!("Get job: {e}"),
                    );
                    return Err(ReconcileError::retry(e));
                }
            };
            if !delete_job(ctx, cj, &job, status) {
                return Err(ReconcileError::retry(format!(
                    "could not replace job {}",
                    job.metadata.name
                )));
            }
        }
    }

    let job = new_job(cj, &name, scheduled, &zone).map_err(ReconcileError::terminal)?;
    let created = match jobs_api.create(job) {
        Ok(j) => {
            ctx.event(
                cj.as_ref(),
                EventKind::Normal,
                "SuccessfulCreate",
                &format!("Created job {name}"),
            );
            j
        }
        Err(e) if matches!(e.root(), crate::Error::AlreadyExists { .. }) => {
            let j = jobs_api.get(&name).map_err(ReconcileError::retry)?;
            if !is_controlled_by(&j.metadata, cj.metadata.uid.as_deref().unwrap_or_default())
                || is_active(status, j.metadata.uid.as_deref())
            {
                return Ok(None);
            }
            j
        }
        Err(e) => {
            ctx.event(
                cj.as_ref(),
                EventKind::Warning,
                "FailedCreate",
                &format!("Error creating job: {e}"),
            );
            return Err(ReconcileError::retry(e));
        }
    };
    status.active.push(reference(&created));
    status.last_schedule_time = Some(scheduled);
    Ok(wake(status))
}

/// The Job for the scheduled time `t` (step 6 of the module documentation).
fn new_job(cj: &CronJob, name: &str, t: Time, zone: &TimeZone) -> Result<Job, String> {
    let template = &cj.spec.job_template;
    let mut job = Job::default();
    job.metadata.name = name.to_string();
    job.metadata.namespace = cj.metadata.namespace.clone();
    job.metadata.labels = template.metadata.labels.clone();
    job.metadata.annotations = template.metadata.annotations.clone();
    job.metadata.annotations.insert(
        SCHEDULED_TIMESTAMP_ANNOTATION.to_string(),
        cron::rfc3339_in(t, zone),
    );
    set_controller_reference(&mut job.metadata, cj)?;
    job.spec = template.spec.clone();
    Ok(job)
}

/// Deletes `job` (background propagation: its pods go after it) and drops it from
/// `active`; false when the deletion failed.
fn delete_job(ctx: &Context, cj: &CronJob, job: &Job, status: &mut CronJobStatus) -> bool {
    let params = DeleteParams {
        uid: job.metadata.uid.clone(),
        propagation: Propagation::Background,
        ..Default::default()
    };
    let api = ctx
        .api::<Job>()
        .namespace(job.metadata.namespace.as_deref().unwrap_or("default"));
    match api.delete(&job.metadata.name, &params) {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => {
            ctx.event(
                cj,
                EventKind::Warning,
                "FailedDelete",
                &format!("Deleted job: {e}"),
            );
            return false;
        }
    }
    status.active.retain(|r| r.uid != job.metadata.uid);
    ctx.event(
        cj,
        EventKind::Normal,
        "SuccessfulDelete",
        &format!("Deleted job {}", job.metadata.name),
    );
    true
}

/// Step 1: deletes the oldest finished Jobs beyond the history limits.
fn clean_up_history(ctx: &Context, cj: &CronJob, jobs: &[Arc<Job>], status: &mut CronJobStatus) {
    let spec = &cj.spec;
    let limits = [
        (
            super::job::COMPLETE,
            spec.successful_jobs_history_limit
                .unwrap_or(DEFAULT_SUCCESSFUL_HISTORY),
        ),
        (
            super::job::FAILED,
            spec.failed_jobs_history_limit
                .unwrap_or(DEFAULT_FAILED_HISTORY),
        ),
    ];
    for (outcome, limit) in limits {
        let mut done: Vec<&Arc<Job>> = jobs
            .iter()
            .filter(|j| j.metadata.deletion_timestamp.is_none() && finished(j) == Some(outcome))
            .collect();
        let excess = done.len().saturating_sub(limit.max(0) as usize);
        if excess == 0 {
            continue;
        }
        // Oldest start first; Jobs that never started last; then by name.
        done.sort_by(|a, b| {
            let start = |j: &Job| super::job::start_time(j);
            match (start(a), start(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
        });
        for job in done.into_iter().take(excess) {
            delete_job(ctx, cj, job, status);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Time {
        s.parse().unwrap()
    }

    fn cron_job(
        schedule: &str,
        created: &str,
        last: Option<&str>,
        deadline: Option<i64>,
    ) -> CronJob {
        let mut cj = CronJob::default();
        cj.spec.schedule = schedule.into();
        cj.spec.starting_deadline_seconds = deadline;
        cj.metadata.creation_timestamp = Some(at(created));
        cj.status = Some(CronJobStatus {
            last_schedule_time: last.map(at),
            ..Default::default()
        });
        cj
    }

    fn recent(cj: &CronJob, now: &str) -> (Option<String>, Missed) {
        let sched = Schedule::parse(&cj.spec.schedule).unwrap();
        let (_, t, m) = most_recent(cj, at(now), &sched, &TimeZone::UTC, true).unwrap();
        (t.map(|t| t.to_string()), m)
    }

    #[test]
    fn the_most_recent_time_as_kubernetes_computes_it() {
        let cj = cron_job("0 * * * *", "2024-01-01T00:30:00Z", None, None);
        assert_eq!(recent(&cj, "2024-01-01T00:59:00Z"), (None, Missed::None));
        assert_eq!(
            recent(&cj, "2024-01-01T01:00:00Z"),
            (Some("2024-01-01T01:00:00Z".into()), Missed::None)
        );
        // Three hours late: the most recent of the missed times.
        assert_eq!(
            recent(&cj, "2024-01-01T03:10:00Z"),
            (Some("2024-01-01T03:00:00Z".into()), Missed::Few)
        );
        // Five days of hourly times: more than 100 missed.
        assert_eq!(
            recent(&cj, "2024-01-06T00:10:00Z"),
            (Some("2024-01-06T00:00:00Z".into()), Missed::Many)
        );
        // startingDeadlineSeconds bounds how far back it looks.
        let cj = cron_job("0 * * * *", "2024-01-01T00:30:00Z", None, Some(600));
        assert_eq!(
            recent(&cj, "2024-01-06T00:09:00Z"),
            (Some("2024-01-06T00:00:00Z".into()), Missed::None)
        );
        // ... exclusively: a time exactly that far back is not looked at.
        assert_eq!(recent(&cj, "2024-01-06T00:10:00Z"), (None, Missed::None));
        // An irregular schedule finds its most recent time.
        let cj = cron_job("30 6-16/4 * * 1-5", "2024-01-01T00:00:00Z", None, None);
        assert_eq!(
            recent(&cj, "2024-01-03T12:00:00Z").0.as_deref(),
            Some("2024-01-03T10:30:00Z")
        );
    }

    #[test]
    fn the_next_wake_is_just_after_the_next_time() {
        let cj = cron_job(
            "*/5 * * * *",
            "2024-01-01T00:00:00Z",
            Some("2024-01-01T00:05:00Z"),
            None,
        );
        let sched = Schedule::parse(&cj.spec.schedule).unwrap();
        let d = next_wake(&cj, at("2024-01-01T00:06:00Z"), &sched, &TimeZone::UTC).unwrap();
        assert_eq!(d, Duration::from_millis(4 * 60_000 + 100));
    }

    #[test]
    fn job_names_count_minutes_since_the_epoch() {
        assert_eq!(
            job_name("hello", at("2024-01-01T00:00:00Z")),
            "hello-28401120"
        );
    }
}
