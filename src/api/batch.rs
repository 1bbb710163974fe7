//! batch/v1 kinds: [`Job`].

use super::apps::validate_selector;
use super::core::{check_enum, check_min, PodTemplateSpec};
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

/// Admission checks of a [`Job`]: parallelism, completions, backoffLimit and
/// ttlSecondsAfterFinished >= 0, activeDeadlineSeconds >= 1; completionMode `NonIndexed` or
/// `Indexed` (which needs completions); a selector, when given, is well-formed and matches the
/// template labels; the pod template is valid with restart policy `OnFailure` or `Never`.
pub fn validate_job(job: &Job, errors: &mut Vec<FieldError>) {
    let s = &job.spec;
    let non_negative = [
        ("parallelism", s.parallelism),
        ("completions", s.completions),
        ("backoffLimit", s.backoff_limit),
        ("ttlSecondsAfterFinished", s.ttl_seconds_after_finished),
    ];
    for (field, v) in non_negative {
        if let Some(v) = v {
            check_min(errors, format!("spec.{field}"), v.into(), 0);
        }
    }
    if let Some(v) = s.active_deadline_seconds {
        check_min(errors, "spec.activeDeadlineSeconds", v, 1);
    }
    if let Some(m) = &s.completion_mode {
        check_enum(errors, "spec.completionMode", m, &["NonIndexed", "Indexed"]);
        if m == "Indexed" && s.completions.is_none() {
            errors.push(FieldError::new(
                "spec.completions",
                "Required value: when completion mode is Indexed",
            ));
        }
    }
    if let Some(sel) = &s.selector {
        validate_selector(sel, "spec.selector", errors);
        if sel
            .to_selector()
            .is_ok_and(|x| !x.matches(&s.template.metadata.labels))
        {
            errors.push(FieldError::new(
                "spec.template.metadata.labels",
                "Invalid value: `selector` does not match template `labels`",
            ));
        }
    }
    match &s.template.spec.restart_policy {
        Some(rp) => check_enum(
            errors,
            "spec.template.spec.restartPolicy",
            rp,
            &["OnFailure", "Never"],
        ),
        None => errors.push(FieldError::new(
            "spec.template.spec.restartPolicy",
            "Required value: supported values: \"OnFailure\", \"Never\"",
        )),
    }
    s.template.spec.validate("spec.template.spec", errors);
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
    /// Unmodelled fields (podFailurePolicy, successPolicy, podReplacementPolicy...).
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
    /// Unmodelled fields (completedIndexes, uncountedTerminatedPods...).
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
