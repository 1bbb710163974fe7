//! batch/v1 kinds: [`Job`] and [`CronJob`].

use super::apps::validate_selector;
use super::core::{ObjectReference, PodTemplateSpec};
use super::cron::{time_zone, Schedule};
use super::validation::{check_enum, check_min};
use super::{ApiVersion, Condition, Extra, FieldError, Kind, LabelSelector, ObjectMeta, Time};
use serde::{Deserialize, Serialize};

/// A Job (batch/v1): pods run until a number of them complete successfully.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct Job {
    /// `apiVersion`: always `batch/v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `Job`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default)]
    pub spec: JobSpec,
    /// Observed state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    Job,
    api_version = "batch/v1",
    kind = "Job",
    plural = "jobs",
    namespaced = true,
    spec = [spec, extra],
    status = [status],
    validate = validate_job,
    validate_update = super::immutable::job
);

/// Admission checks of a [`Job`], with Kubernetes' messages: parallelism, completions,
/// backoffLimit and ttlSecondsAfterFinished at least 0, activeDeadlineSeconds at least 1;
/// completionMode `NonIndexed` or `Indexed` (which needs completions); a selector, when
/// given, is well-formed and matches the template labels; the pod template is valid with
/// restart policy `OnFailure` or `Never`. A `podFailurePolicy` needs restart policy
/// `Never`, at most 20 rules, each with an action (`FailJob`, `FailIndex` (which needs
/// `backoffLimitPerIndex`), `Ignore`, `Count`) and exactly one of `onExitCodes` (operator
/// `In` or `NotIn`, 1 to 255 ascending distinct values, no 0 with `In`, a `containerName`
/// of the template) and `onPodConditions`. `backoffLimitPerIndex` needs the Indexed mode
/// (and at most 100,000 completions); `maxFailedIndexes` needs `backoffLimitPerIndex` and
/// is at most `completions`.
pub fn validate_job(job: &Job, errors: &mut Vec<FieldError>) {
    validate_job_spec(&job.spec, "spec", errors);
}

/// [`validate_job`] of a Job spec at `path` (`spec`, or a CronJob's `spec.jobTemplate.spec`).
fn validate_job_spec(s: &JobSpec, path: &str, errors: &mut Vec<FieldError>) {
    let non_negative = [
        ("parallelism", s.parallelism),
        ("completions", s.completions),
        ("backoffLimit", s.backoff_limit),
        ("ttlSecondsAfterFinished", s.ttl_seconds_after_finished),
    ];
    for (field, v) in non_negative {
        if let Some(v) = v {
            check_min(errors, format!("{path}.{field}"), v.into(), 0);
        }
    }
    if let Some(v) = s.active_deadline_seconds {
        check_min(errors, format!("{path}.activeDeadlineSeconds"), v, 1);
    }
    if let Some(m) = &s.completion_mode {
        check_enum(
            errors,
            format!("{path}.completionMode"),
            m,
            &["NonIndexed", "Indexed"],
        );
        if m == "Indexed" && s.completions.is_none() {
            errors.push(FieldError::new(
                format!("{path}.completions"),
                "Required value: when completion mode is Indexed",
            ));
        }
    }
    if let Some(sel) = &s.selector {
        validate_selector(sel, &format!("{path}.selector"), errors);
        if sel
            .to_selector()
            .is_ok_and(|x| !x.matches(&s.template.metadata.labels))
        {
            errors.push(FieldError::new(
                format!("{path}.template.metadata.labels"),
                "Invalid value: `selector` does not match template `labels`",
            ));
        }
    }
    match &s.template.spec.restart_policy {
        Some(rp) => check_enum(
            errors,
            format!("{path}.template.spec.restartPolicy"),
            rp,
            &["OnFailure", "Never"],
        ),
        None => errors.push(FieldError::new(
            format!("{path}.template.spec.restartPolicy"),
            "Required value: supported values: \"OnFailure\", \"Never\"",
        )),
    }
    s.template
        .spec
        .validate(&format!("{path}.template.spec"), errors);
    validate_pod_failure_policy(s, path, errors);
    validate_per_index(s, path, errors);
}

/// A Job's desired state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    /// Pods running at once (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i32>,
    /// Successful pods needed (default: 1, or any one success with parallelism when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completions: Option<i32>,
    /// Retries before the Job is failed (default 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<i32>,
    /// Seconds the Job may run before it is failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
    /// Template of the pods; its restart policy is `OnFailure` or `Never`.
    #[serde(default)]
    pub template: PodTemplateSpec,
    /// Seconds after finishing before the Job is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<i32>,
    /// `NonIndexed` (the default) or `Indexed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_mode: Option<String>,
    /// When true, no pods are created (running ones are deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Which pods belong to the Job; generated unless `manual_selector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// When true, `selector` is the user's, not generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_selector: Option<bool>,
    /// How failed pods count: rules on exit codes and pod conditions (restart policy
    /// `Never` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_failure_policy: Option<PodFailurePolicy>,
    /// Indexed Jobs: retries of each index before that index fails (instead of
    /// `backoffLimit` for the whole Job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit_per_index: Option<i32>,
    /// With `backoffLimitPerIndex`: failed indexes beyond which the whole Job fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failed_indexes: Option<i32>,
    /// Unmodelled fields (successPolicy, podReplacementPolicy...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A Job's observed state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// Pods running (not terminating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<i32>,
    /// Pods that succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<i32>,
    /// Pods that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<i32>,
    /// When the Job started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When the Job completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// `Complete`, `Failed`, `Suspended`...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Ready pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<i32>,
    /// Indexed Jobs: the indexes that succeeded, compressed as Kubernetes writes them
    /// (`1,3-5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_indexes: Option<String>,
    /// Indexed Jobs with `backoffLimitPerIndex`: the indexes that failed (`0,2-3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_indexes: Option<String>,
    /// Unmodelled fields (uncountedTerminatedPods...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A Job's `podFailurePolicy`: the first rule that matches a failed pod decides.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PodFailurePolicy {
    /// Rules, in order (at most 20).
    #[serde(default)]
    pub rules: Vec<PodFailurePolicyRule>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One rule of a [`PodFailurePolicy`]: an action, on exit codes or on pod conditions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PodFailurePolicyRule {
    /// `FailJob`, `FailIndex`, `Ignore` or `Count`.
    #[serde(default)]
    pub action: String,
    /// Matches a failed container's exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_exit_codes: Option<PodFailurePolicyOnExitCodes>,
    /// Matches when the pod has any of these conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_pod_conditions: Vec<PodFailurePolicyOnPodCondition>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Exit codes a [`PodFailurePolicyRule`] matches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PodFailurePolicyOnExitCodes {
    /// Only this container's exit code (any container, init containers included, when
    /// unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// `In` or `NotIn`.
    #[serde(default)]
    pub operator: String,
    /// Exit codes, ascending, without duplicates.
    #[serde(default)]
    pub values: Vec<i32>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A pod condition a [`PodFailurePolicyRule`] matches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PodFailurePolicyOnPodCondition {
    /// Condition type (`DisruptionTarget`...).
    #[serde(rename = "type", default)]
    pub type_: String,
    /// `True` (the default), `False` or `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Most rules in a `podFailurePolicy`.
pub const MAX_POD_FAILURE_POLICY_RULES: usize = 20;
/// Most exit codes in one rule.
pub const MAX_EXIT_CODES: usize = 255;
/// Most completions (and `maxFailedIndexes`) with `backoffLimitPerIndex`.
pub const MAX_COMPLETIONS_PER_INDEX_LIMIT: i32 = 100_000;

fn validate_pod_failure_policy(s: &JobSpec, path: &str, errors: &mut Vec<FieldError>) {
    let Some(policy) = &s.pod_failure_policy else {
        return;
    };
    let at = format!("{path}.podFailurePolicy");
    if s.template.spec.restart_policy.as_deref() != Some("Never") {
        errors.push(FieldError::new(
            format!("{path}.template.spec.restartPolicy"),
            format!(
                "Invalid value: {:?}: only \"Never\" is supported when podFailurePolicy is specified",
                s.template.spec.restart_policy.as_deref().unwrap_or("")
            ),
        ));
    }
    if policy.rules.len() > MAX_POD_FAILURE_POLICY_RULES {
        errors.push(FieldError::new(
            format!("{at}.rules"),
            format!(
                "Too many: {}: must have at most {MAX_POD_FAILURE_POLICY_RULES} items",
                policy.rules.len()
            ),
        ));
    }
    let containers: Vec<&str> = s
        .template
        .spec
        .containers
        .iter()
        .chain(&s.template.spec.init_containers)
        .map(|c| c.name.as_str())
        .collect();
    for (i, rule) in policy.rules.iter().enumerate() {
        let rp = format!("{at}.rules[{i}]");
        check_enum(
            errors,
            format!("{rp}.action"),
            &rule.action,
            &["Count", "FailIndex", "FailJob", "Ignore"],
        );
        if rule.action == "FailIndex" && s.backoff_limit_per_index.is_none() {
            errors.push(FieldError::new(
                format!("{rp}.action"),
                "Invalid value: \"FailIndex\": requires the backoffLimitPerIndex to be set",
            ));
        }
        match (&rule.on_exit_codes, rule.on_pod_conditions.is_empty()) {
            (Some(_), false) => errors.push(FieldError::new(
                rp.clone(),
                "Invalid value: specifying both OnExitCodes and OnPodConditions is not supported",
            )),
            (None, true) => errors.push(FieldError::new(
                rp.clone(),
                "Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
            )),
            _ => {}
        }
        if let Some(codes) = &rule.on_exit_codes {
            let cp = format!("{rp}.onExitCodes");
            if let Some(name) = &codes.container_name {
                if !containers.contains(&name.as_str()) {
                    errors.push(FieldError::new(
                        format!("{cp}.containerName"),
                        format!(
                            "Invalid value: {name:?}: must be one of the container or \
                             initContainer names in the pod template"
                        ),
                    ));
                }
            }
            check_enum(
                errors,
                format!("{cp}.operator"),
                &codes.operator,
                &["In", "NotIn"],
            );
            if codes.values.is_empty() {
                errors.push(FieldError::new(
                    format!("{cp}.values"),
                    "Invalid value: []: at least one value is required",
                ));
            }
            if codes.values.len() > MAX_EXIT_CODES {
                errors.push(FieldError::new(
                    format!("{cp}.values"),
                    format!(
                        "Too many: {}: must have at most {MAX_EXIT_CODES} items",
                        codes.values.len()
                    ),
                ));
            }
            for (j, v) in codes.values.iter().enumerate() {
                let vp = format!("{cp}.values[{j}]");
                if codes.operator == "In" && *v == 0 {
                    errors.push(FieldError::new(
                        vp.clone(),
                        "Invalid value: 0: must not be 0 for the In operator",
                    ));
                }
                if j > 0 && codes.values[j - 1] == *v {
                    errors.push(FieldError::new(vp, format!("Duplicate value: {v}")));
                } else if j > 0 && codes.values[j - 1] > *v {
                    errors.push(FieldError::new(
                        vp,
                        format!("Invalid value: {v}: must be ordered"),
                    ));
                }
            }
        }
        for (j, c) in rule.on_pod_conditions.iter().enumerate() {
            let pp = format!("{rp}.onPodConditions[{j}]");
            if c.type_.is_empty() {
                errors.push(FieldError::new(format!("{pp}.type"), "Required value"));
            }
            if let Some(st) = &c.status {
                check_enum(
                    errors,
                    format!("{pp}.status"),
                    st,
                    &["True", "False", "Unknown"],
                );
            }
        }
    }
}

fn validate_per_index(s: &JobSpec, path: &str, errors: &mut Vec<FieldError>) {
    let indexed = s.completion_mode.as_deref() == Some("Indexed");
    if let Some(b) = s.backoff_limit_per_index {
        check_min(errors, format!("{path}.backoffLimitPerIndex"), b.into(), 0);
        if !indexed {
            errors.push(FieldError::new(
                format!("{path}.backoffLimitPerIndex"),
                format!("Invalid value: {b}: requires indexed completion mode"),
            ));
        }
        if let Some(c) = s
            .completions
            .filter(|c| *c > MAX_COMPLETIONS_PER_INDEX_LIMIT)
        {
            errors.push(FieldError::new(
                format!("{path}.completions"),
                format!(
                    "Invalid value: {c}: must be less than or equal to \
                     {MAX_COMPLETIONS_PER_INDEX_LIMIT} when backoffLimitPerIndex is specified"
                ),
            ));
        }
    }
    if let Some(m) = s.max_failed_indexes {
        let mp = format!("{path}.maxFailedIndexes");
        check_min(errors, mp.clone(), m.into(), 0);
        if s.backoff_limit_per_index.is_none() {
            errors.push(FieldError::new(
                mp.clone(),
                format!("Invalid value: {m}: requires the backoffLimitPerIndex to be set"),
            ));
        }
        if let Some(c) = s.completions.filter(|c| m > *c) {
            errors.push(FieldError::new(
                mp.clone(),
                format!("Invalid value: {m}: must be less than or equal to completions ({c})"),
            ));
        }
        if m > MAX_COMPLETIONS_PER_INDEX_LIMIT {
            errors.push(FieldError::new(
                mp,
                format!(
                    "Invalid value: {m}: must be less than or equal to \
                     {MAX_COMPLETIONS_PER_INDEX_LIMIT}"
                ),
            ));
        }
    }
}

/// A CronJob (batch/v1): Jobs created on a cron schedule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct CronJob {
    /// `apiVersion`: always `batch/v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `CronJob`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default)]
    pub spec: CronJobSpec,
    /// Observed state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CronJobStatus>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    CronJob,
    api_version = "batch/v1",
    kind = "CronJob",
    plural = "cronjobs",
    namespaced = true,
    spec = [spec, extra],
    status = [status],
    validate = validate_cron_job,
    defaults = set_cron_job_defaults
);

/// `concurrencyPolicy` values.
pub const CONCURRENCY_POLICIES: &[&str] = &["Allow", "Forbid", "Replace"];

/// Longest CronJob name: its Jobs are named `<name>-<11 digits>` within 63 characters.
pub const CRON_JOB_NAME_MAX: usize = 52;

/// Sets the defaults kube-apiserver gives a CronJob: `concurrencyPolicy: Allow`,
/// `suspend: false`, `successfulJobsHistoryLimit: 3`, `failedJobsHistoryLimit: 1`.
pub fn set_cron_job_defaults(c: &mut CronJob, _creating: bool) {
    let s = &mut c.spec;
    s.concurrency_policy.get_or_insert_with(|| "Allow".into());
    s.suspend.get_or_insert(false);
    s.successful_jobs_history_limit.get_or_insert(3);
    s.failed_jobs_history_limit.get_or_insert(1);
}

/// Admission checks of a [`CronJob`], with Kubernetes' messages: a name of at most 52
/// characters; `spec.schedule` in cron syntax (see [`crate::api::cron`]), without a
/// `TZ=`/`CRON_TZ=` prefix (as Kubernetes refuses it since 1.27), and able to fire at all (steady refuses
/// `0 0 30 2 *`, which Kubernetes accepts and never runs); `spec.timeZone` an explicit IANA
/// zone that the host's zoneinfo knows; `startingDeadlineSeconds` and the history limits
/// at least 0; `concurrencyPolicy` Allow, Forbid or Replace; the Job template valid as a Job's
/// spec, without `manualSelector: true`.
pub fn validate_cron_job(c: &CronJob, errors: &mut Vec<FieldError>) {
    if c.metadata.name.len() > CRON_JOB_NAME_MAX {
        errors.push(FieldError::new(
            "metadata.name",
            format!(
                "Invalid value: {:?}: must be no more than {CRON_JOB_NAME_MAX} characters",
                c.metadata.name
            ),
        ));
    }
    let s = &c.spec;
    if s.schedule.is_empty() {
        errors.push(FieldError::new("spec.schedule", "Required value"));
    } else {
        match Schedule::parse(&s.schedule) {
            Err(e) => errors.push(FieldError::new(
                "spec.schedule",
                format!("Invalid value: {:?}: {e}", s.schedule),
            )),
            Ok(sched) => {
                if let Some(why) = sched.never_fires() {
                    errors.push(FieldError::new(
                        "spec.schedule",
                        format!("Invalid value: {:?}: never runs: {why}", s.schedule),
                    ));
                }
            }
        }
        // Kubernetes 1.27 and later refuse a zone in the schedule of a new CronJob; steady
        // never stored one, so it refuses it on every write.
        if s.schedule.contains("TZ") {
            errors.push(FieldError::new(
                "spec.schedule",
                format!(
                    "Invalid value: {:?}: cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                    s.schedule
                ),
            ));
        }
    }
    if let Some(tz) = &s.time_zone {
        let message = if tz.is_empty() {
            Some("timeZone must be nil or non-empty string".to_string())
        } else if tz.eq_ignore_ascii_case("local") {
            Some(
                "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
                    .to_string(),
            )
        } else {
            time_zone(tz).err()
        };
        if let Some(m) = message {
            errors.push(FieldError::new(
                "spec.timeZone",
                format!("Invalid value: {tz:?}: {m}"),
            ));
        }
    }
    if let Some(v) = s.starting_deadline_seconds {
        check_min(errors, "spec.startingDeadlineSeconds", v, 0);
    }
    if let Some(p) = &s.concurrency_policy {
        check_enum(errors, "spec.concurrencyPolicy", p, CONCURRENCY_POLICIES);
    }
    for (field, v) in [
        (
            "successfulJobsHistoryLimit",
            s.successful_jobs_history_limit,
        ),
        ("failedJobsHistoryLimit", s.failed_jobs_history_limit),
    ] {
        if let Some(v) = v {
            check_min(errors, format!("spec.{field}"), v.into(), 0);
        }
    }
    let job = &s.job_template.spec;
    if job.manual_selector == Some(true) {
        errors.push(FieldError::new(
            "spec.jobTemplate.spec.manualSelector",
            "Unsupported value: true: supported values: \"nil\", \"false\"",
        ));
    }
    validate_job_spec(job, "spec.jobTemplate.spec", errors);
}

/// A CronJob's desired state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CronJobSpec {
    /// When to create Jobs, in cron syntax (see [`crate::api::cron`]).
    #[serde(default)]
    pub schedule: String,
    /// IANA time zone the schedule is read in (default: the host's zone, as
    /// kube-controller-manager reads it in its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Seconds after a scheduled time within which a missed Job may still start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<i64>,
    /// `Allow` (default), `Forbid` (skip a run while one is active) or `Replace` (delete the
    /// active Jobs and start the new one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_policy: Option<String>,
    /// When true, no new Jobs are created (active ones go on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// The Jobs to create.
    #[serde(default)]
    pub job_template: JobTemplateSpec,
    /// Finished successful Jobs kept (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful_jobs_history_limit: Option<i32>,
    /// Finished failed Jobs kept (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_jobs_history_limit: Option<i32>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The Job a CronJob creates: labels and annotations for it, and its spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobTemplateSpec {
    /// Labels and annotations copied to each Job.
    #[serde(default, skip_serializing_if = "is_default_meta")]
    pub metadata: ObjectMeta,
    /// Spec of each Job.
    #[serde(default)]
    pub spec: JobSpec,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

fn is_default_meta(m: &ObjectMeta) -> bool {
    *m == ObjectMeta::default()
}

/// A CronJob's observed state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CronJobStatus {
    /// The Jobs running now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active: Vec<ObjectReference>,
    /// The scheduled time of the last Job created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    /// When the last successful Job completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_time: Option<Time>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Object;
    use serde_json::{json, Value};

    /// The `pi` Job of the Kubernetes documentation ("Jobs").
    fn pi_job() -> Value {
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "pi"},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{
                            "name": "pi",
                            "image": "perl:5.34.0",
                            "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]
                        }],
                        "restartPolicy": "Never"
                    }
                },
                "backoffLimit": 4
            }
        })
    }

    fn fields(job: &Job) -> Vec<String> {
        let mut errors = Vec::new();
        job.validate(&mut errors);
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn pi_job_round_trips_unchanged() {
        let v = pi_job();
        let job: Job = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&job).unwrap(), v);
        assert_eq!(job.spec.backoff_limit, Some(4));
        assert!(fields(&job).is_empty());
    }

    #[test]
    fn job_status_round_trips_and_does_not_affect_spec_eq() {
        let mut v = pi_job();
        v["status"] = json!({"active": 1, "ready": 0, "uncountedTerminatedPods": {}});
        let job: Job = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&job).unwrap(), v);
        let plain: Job = serde_json::from_value(pi_job()).unwrap();
        assert!(job.spec_eq(&plain));
        let mut parallel = plain.clone();
        parallel.spec.parallelism = Some(2);
        assert!(!parallel.spec_eq(&plain));
    }

    #[test]
    fn job_validation_names_full_field_paths() {
        let mut job: Job = serde_json::from_value(pi_job()).unwrap();
        job.spec.completions = Some(-1);
        job.spec.parallelism = Some(-2);
        job.spec.template.spec.restart_policy = Some("Always".into());
        assert_eq!(
            fields(&job),
            vec![
                "spec.parallelism",
                "spec.completions",
                "spec.template.spec.restartPolicy"
            ]
        );
        job.spec.template.spec.restart_policy = None;
        job.spec.completions = None;
        job.spec.parallelism = None;
        job.spec.completion_mode = Some("Indexed".into());
        assert_eq!(
            fields(&job),
            vec!["spec.completions", "spec.template.spec.restartPolicy"]
        );
    }
}
