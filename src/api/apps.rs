//! apps/v1 kinds: [`Deployment`], [`ReplicaSet`], [`StatefulSet`], [`DaemonSet`] and
//! [`ControllerRevision`].

use super::core::{
    IntOrString, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimStatus,
    PodTemplateSpec,
};
use super::validation::{
    check_enum, check_int_or_percent, check_min, is_zero_int_or_percent, required,
};
use super::{ApiVersion, Condition, Extra, FieldError, Kind, LabelSelector, ObjectMeta};
use serde::{Deserialize, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Shared checks of the workload kinds
// ---------------------------------------------------------------------------------------------

/// Checks a label selector found at `path`: its expressions are well-formed.
pub(crate) fn validate_selector(
    selector: &LabelSelector,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    for (i, r) in selector.match_expressions.iter().enumerate() {
        let p = format!("{path}.matchExpressions[{i}]");
        if r.key.is_empty() {
            errors.push(required(format!("{p}.key"), ""));
        }
        match r.operator.as_str() {
            "In" | "NotIn" if r.values.is_empty() => errors.push(FieldError::new(
                format!("{p}.values"),
                "Required value: must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !r.values.is_empty() => errors.push(FieldError::new(
                format!("{p}.values"),
                "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            op => check_enum(
                errors,
                format!("{p}.operator"),
                op,
                &["In", "NotIn", "Exists", "DoesNotExist"],
            ),
        }
    }
}

/// The checks every workload kind makes of `spec.selector` and `spec.template`: the selector is
/// set, non-empty and well-formed, it matches the template's labels, and the template's pod
/// spec is valid with restart policy `Always`.
fn validate_workload(
    selector: &LabelSelector,
    template: &PodTemplateSpec,
    more_volumes: &[&str],
    errors: &mut Vec<FieldError>,
) {
    if selector.match_labels.is_empty() && selector.match_expressions.is_empty() {
        errors.push(FieldError::new(
            "spec.selector",
            "Required value: empty selector is invalid",
        ));
    } else {
        validate_selector(selector, "spec.selector", errors);
        if selector
            .to_selector()
            .is_ok_and(|x| !x.matches(&template.metadata.labels))
        {
            errors.push(FieldError::new(
                "spec.template.metadata.labels",
                "Invalid value: `selector` does not match template `labels`",
            ));
        }
    }
    if let Some(rp) = &template.spec.restart_policy {
        check_enum(errors, "spec.template.spec.restartPolicy", rp, &["Always"]);
    }
    template
        .spec
        .validate_with_volumes("spec.template.spec", more_volumes, errors);
}

fn check_common(
    errors: &mut Vec<FieldError>,
    replicas: Option<i32>,
    min_ready_seconds: Option<i32>,
    revision_history_limit: Option<i32>,
) {
    if let Some(r) = replicas {
        check_min(errors, "spec.replicas", r.into(), 0);
    }
    if let Some(s) = min_ready_seconds {
        check_min(errors, "spec.minReadySeconds", s.into(), 0);
    }
    if let Some(l) = revision_history_limit {
        check_min(errors, "spec.revisionHistoryLimit", l.into(), 0);
    }
}

// ---------------------------------------------------------------------------------------------
// ReplicaSet
// ---------------------------------------------------------------------------------------------

/// A ReplicaSet (apps/v1): keeps a number of identical pods running.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct ReplicaSet {
    /// `apiVersion`: always `apps/v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `ReplicaSet`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default)]
    pub spec: ReplicaSetSpec,
    /// Observed state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ReplicaSetStatus>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    ReplicaSet,
    api_version = "apps/v1",
    kind = "ReplicaSet",
    plural = "replicasets",
    namespaced = true,
    spec = [spec, extra],
    status = [status],
    validate = validate_replica_set,
    validate_update = super::immutable::replica_set
);

/// Admission checks of a [`ReplicaSet`]: replicas and minReadySeconds >= 0, and the
/// workload checks (selector set and matching the template labels, valid pod template with
/// restart policy `Always`).
pub fn validate_replica_set(rs: &ReplicaSet, errors: &mut Vec<FieldError>) {
    let s = &rs.spec;
    check_common(errors, s.replicas, s.min_ready_seconds, None);
    validate_workload(&s.selector, &s.template, &[], errors);
}

/// A ReplicaSet's desired state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSetSpec {
    /// Desired number of pods (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Which pods belong to the set; must match the template's labels.
    #[serde(default)]
    pub selector: LabelSelector,
    /// Template of the pods.
    #[serde(default)]
    pub template: PodTemplateSpec,
    /// Seconds a ready pod must stay ready to count as available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A ReplicaSet's observed state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSetStatus {
    /// Pods the set owns.
    #[serde(default)]
    pub replicas: i32,
    /// Pods whose labels match the template's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fully_labeled_replicas: Option<i32>,
    /// Ready pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Pods ready for at least minReadySeconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
    /// The generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions (`ReplicaFailure`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

// ---------------------------------------------------------------------------------------------
// Deployment
// ---------------------------------------------------------------------------------------------

/// A Deployment (apps/v1): declarative updates of pods through ReplicaSets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct Deployment {
    /// `apiVersion`: always `apps/v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `Deployment`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default)]
    pub spec: DeploymentSpec,
    /// Observed state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DeploymentStatus>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    Deployment,
    api_version = "apps/v1",
    kind = "Deployment",
    plural = "deployments",
    namespaced = true,
    spec = [spec, extra],
    status = [status],
    validate = validate_deployment,
    validate_update = super::immutable::deployment,
    defaults = set_deployment_defaults
);

/// Admission checks of a [`Deployment`]: the workload checks (selector set and matching the
/// template labels, valid pod template with restart policy `Always`); replicas,
/// minReadySeconds and revisionHistoryLimit >= 0; progressDeadlineSeconds > minReadySeconds;
/// strategy `RollingUpdate` or `Recreate` with valid maxSurge/maxUnavailable, not both 0.
pub fn validate_deployment(d: &Deployment, errors: &mut Vec<FieldError>) {
    let s = &d.spec;
    check_common(
        errors,
        s.replicas,
        s.min_ready_seconds,
        s.revision_history_limit,
    );
    validate_workload(&s.selector, &s.template, &[], errors);
    if let Some(p) = s.progress_deadline_seconds {
        let min_ready = s.min_ready_seconds.unwrap_or(0);
        if p <= min_ready {
            errors.push(FieldError::new(
                "spec.progressDeadlineSeconds",
                format!("Invalid value: {p}: must be greater than minReadySeconds ({min_ready})"),
            ));
        }
    }
    let Some(strategy) = &s.strategy else { return };
    let type_ = strategy.type_.as_deref().unwrap_or("RollingUpdate");
    if let Some(t) = &strategy.type_ {
        check_enum(
            errors,
            "spec.strategy.type",
            t,
            &["RollingUpdate", "Recreate"],
        );
    }
    let Some(ru) = &strategy.rolling_update else {
        return;
    };
    if type_ == "Recreate" {
        errors.push(FieldError::new(
            "spec.strategy.rollingUpdate",
            "Forbidden: may not be specified when strategy `type` is 'Recreate'",
        ));
        return;
    }
    validate_surge_unavailable(
        ru.max_surge.as_ref(),
        ru.max_unavailable.as_ref(),
        "spec.strategy.rollingUpdate",
        &IntOrString::from("25%"),
        &IntOrString::from("25%"),
        errors,
    );
}

/// maxSurge and maxUnavailable are valid ints or percentages (maxUnavailable at most 100%),
/// and not both 0 (once unset values take their defaults).
fn validate_surge_unavailable(
    surge: Option<&IntOrString>,
    unavailable: Option<&IntOrString>,
    path: &str,
    default_surge: &IntOrString,
    default_unavailable: &IntOrString,
    errors: &mut Vec<FieldError>,
) {
    if let Some(v) = surge {
        check_int_or_percent(errors, format!("{path}.maxSurge"), v, false);
    }
    if let Some(v) = unavailable {
        check_int_or_percent(errors, format!("{path}.maxUnavailable"), v, true);
    }
    if is_zero_int_or_percent(surge.unwrap_or(default_surge))
        && is_zero_int_or_percent(unavailable.unwrap_or(default_unavailable))
    {
        errors.push(FieldError::new(
            format!("{path}.maxUnavailable"),
            "Invalid value: may not be 0 when `maxSurge` is 0",
        ));
    }
}

/// A Deployment's desired state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    /// Desired number of pods (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Which pods belong to the deployment; must match the template's labels.
    #[serde(default)]
    pub selector: LabelSelector,
    /// Template of the pods.
    #[serde(default)]
    pub template: PodTemplateSpec,
    /// How pods are replaced on an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<DeploymentStrategy>,
    /// Seconds a ready pod must stay ready to count as available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    /// Old ReplicaSets kept for rollback (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    /// When true, changes to the template are not rolled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    /// Seconds without progress before the rollout is reported as failed (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// How a Deployment replaces pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStrategy {
    /// `RollingUpdate` (the default) or `Recreate`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Parameters of `RollingUpdate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdateDeployment>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Parameters of a Deployment's rolling update.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdateDeployment {
    /// Pods above the desired count during the update: a number or a percentage, rounded
    /// up (default `25%`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
    /// Pods that may be unavailable during the update: a number or a percentage, rounded
    /// down (default `25%`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A Deployment's observed state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStatus {
    /// The generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pods of all the deployment's ReplicaSets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Pods of the current template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_replicas: Option<i32>,
    /// Ready pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Pods ready for at least minReadySeconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
    /// Desired pods not yet available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable_replicas: Option<i32>,
    /// `Available`, `Progressing`, `ReplicaFailure`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Bumped when a ReplicaSet name collides, to make the next name unique.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
    /// Unmodelled fields (terminatingReplicas).
    #[serde(flatten)]
    pub extra: Extra,
}

// ---------------------------------------------------------------------------------------------
// StatefulSet
// ---------------------------------------------------------------------------------------------

/// A StatefulSet (apps/v1): pods with stable names and per-pod storage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct StatefulSet {
    /// `apiVersion`: always `apps/v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `StatefulSet`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default)]
    pub spec: StatefulSetSpec,
    /// Observed state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatefulSetStatus>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    StatefulSet,
    api_version = "apps/v1",
    kind = "StatefulSet",
    plural = "statefulsets",
    namespaced = true,
    spec = [spec, extra],
    status = [status],
    validate = validate_stateful_set,
    validate_update = super::immutable::stateful_set
);

/// Admission checks of a [`StatefulSet`]: the workload checks (selector set and matching the
/// template labels, valid pod template with restart policy `Always`; containers may mount the
/// claim templates); replicas, minReadySeconds, revisionHistoryLimit and ordinals.start >= 0;
/// known podManagementPolicy, update strategy and retention policy; valid claim templates.
pub fn validate_stateful_set(ss: &StatefulSet, errors: &mut Vec<FieldError>) {
    let s = &ss.spec;
    check_common(
        errors,
        s.replicas,
        s.min_ready_seconds,
        s.revision_history_limit,
    );
    let claims: Vec<&str> = s
        .volume_claim_templates
        .iter()
        .map(|c| c.metadata.name.as_str())
        .collect();
    validate_workload(&s.selector, &s.template, &claims, errors);
    if let Some(p) = &s.pod_management_policy {
        check_enum(
            errors,
            "spec.podManagementPolicy",
            p,
            &["OrderedReady", "Parallel"],
        );
    }
    if let Some(u) = &s.update_strategy {
        let type_ = u.type_.as_deref().unwrap_or("RollingUpdate");
        if let Some(t) = &u.type_ {
            check_enum(
                errors,
                "spec.updateStrategy.type",
                t,
                &["RollingUpdate", "OnDelete"],
            );
        }
        if let Some(ru) = &u.rolling_update {
            if type_ == "OnDelete" {
                errors.push(FieldError::new(
                    "spec.updateStrategy.rollingUpdate",
                    "Forbidden: only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
            if let Some(p) = ru.partition {
                check_min(
                    errors,
                    "spec.updateStrategy.rollingUpdate.partition",
                    p.into(),
                    0,
                );
            }
            if let Some(m) = &ru.max_unavailable {
                let path = "spec.updateStrategy.rollingUpdate.maxUnavailable";
                check_int_or_percent(errors, path, m, true);
                if is_zero_int_or_percent(m) {
                    errors.push(FieldError::new(
                        path,
                        "Invalid value: 0: must be greater than 0",
                    ));
                }
            }
        }
    }
    if let Some(r) = &s.persistent_volume_claim_retention_policy {
        let path = "spec.persistentVolumeClaimRetentionPolicy";
        for (field, v) in [
            ("whenDeleted", &r.when_deleted),
            ("whenScaled", &r.when_scaled),
        ] {
            if let Some(v) = v {
                check_enum(errors, format!("{path}.{field}"), v, &["Retain", "Delete"]);
            }
        }
    }
    if let Some(start) = s.ordinals.as_ref().and_then(|o| o.start) {
        check_min(errors, "spec.ordinals.start", start.into(), 0);
    }
    for (i, c) in s.volume_claim_templates.iter().enumerate() {
        let path = format!("spec.volumeClaimTemplates[{i}]");
        if c.metadata.name.is_empty() {
            errors.push(required(format!("{path}.metadata.name"), ""));
        }
        c.spec.validate(&format!("{path}.spec"), errors);
    }
}

/// A StatefulSet's desired state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetSpec {
    /// Desired number of pods (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Which pods belong to the set; must match the template's labels.
    #[serde(default)]
    pub selector: LabelSelector,
    /// Template of the pods.
    #[serde(default)]
    pub template: PodTemplateSpec,
    /// Headless Service giving the pods their network identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// `OrderedReady` (the default) or `Parallel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_management_policy: Option<String>,
    /// How pods are replaced on an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_strategy: Option<StatefulSetUpdateStrategy>,
    /// Claims created for every pod, mountable by the pod's containers under the claim
    /// template's name. Written without `apiVersion` and `kind`, as manifests do.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "claim_templates"
    )]
    #[cfg_attr(feature = "apiserver", schemars(with = "Vec<PersistentVolumeClaim>"))]
    pub volume_claim_templates: Vec<PersistentVolumeClaim>,
    /// What happens to the claims when the set is deleted or scaled down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim_retention_policy:
        Option<StatefulSetPersistentVolumeClaimRetentionPolicy>,
    /// Seconds a ready pod must stay ready to count as available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    /// ControllerRevisions kept (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    /// Numbering of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordinals: Option<StatefulSetOrdinals>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `volumeClaimTemplates` are PersistentVolumeClaims written without `apiVersion` and `kind`
/// (the docs' manifests omit them; both are implied).
mod claim_templates {
    use super::{
        Extra, ObjectMeta, PersistentVolumeClaim, PersistentVolumeClaimSpec,
        PersistentVolumeClaimStatus,
    };
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    struct Template<'a> {
        metadata: &'a ObjectMeta,
        spec: &'a PersistentVolumeClaimSpec,
        #[serde(skip_serializing_if = "no_status")]
        status: &'a Option<PersistentVolumeClaimStatus>,
        #[serde(flatten)]
        extra: &'a Extra,
    }

    fn no_status(s: &&Option<PersistentVolumeClaimStatus>) -> bool {
        s.is_none()
    }

    pub(super) fn serialize<S: Serializer>(
        claims: &[PersistentVolumeClaim],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(claims.len()))?;
        for c in claims {
            seq.serialize_element(&Template {
                metadata: &c.metadata,
                spec: &c.spec,
                status: &c.status,
                extra: &c.extra,
            })?;
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<PersistentVolumeClaim>, D::Error> {
        Vec::deserialize(d)
    }
}

/// How a StatefulSet replaces pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetUpdateStrategy {
    /// `RollingUpdate` (the default) or `OnDelete`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Parameters of `RollingUpdate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdateStatefulSetStrategy>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Parameters of a StatefulSet's rolling update.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdateStatefulSetStrategy {
    /// Only pods with an ordinal >= partition are updated (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// Pods that may be unavailable during the update (default 1; > 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// What happens to a StatefulSet's claims.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetPersistentVolumeClaimRetentionPolicy {
    /// On deletion of the set: `Retain` (the default) or `Delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_deleted: Option<String>,
    /// On scale-down: `Retain` (the default) or `Delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_scaled: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Numbering of a StatefulSet's pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetOrdinals {
    /// Ordinal of the first pod (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<i32>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A StatefulSet's observed state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetStatus {
    /// The generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pods the set owns.
    #[serde(default)]
    pub replicas: i32,
    /// Ready pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Pods of `current_revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_replicas: Option<i32>,
    /// Pods of `update_revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_replicas: Option<i32>,
    /// Pods ready for at least minReadySeconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
    /// Revision of the pods below the partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<String>,
    /// Revision the pods are updated to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_revision: Option<String>,
    /// Bumped when a ControllerRevision name collides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

// ---------------------------------------------------------------------------------------------
// DaemonSet
// ---------------------------------------------------------------------------------------------

/// A DaemonSet (apps/v1): one pod on every (matching) node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct DaemonSet {
    /// `apiVersion`: always `apps/v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `DaemonSet`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default)]
    pub spec: DaemonSetSpec,
    /// Observed state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DaemonSetStatus>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    DaemonSet,
    api_version = "apps/v1",
    kind = "DaemonSet",
    plural = "daemonsets",
    namespaced = true,
    spec = [spec, extra],
    status = [status],
    validate = validate_daemon_set,
    validate_update = super::immutable::daemon_set
);

/// Admission checks of a [`DaemonSet`]: the workload checks (selector set and matching the
/// template labels, valid pod template with restart policy `Always`); minReadySeconds and
/// revisionHistoryLimit >= 0; update strategy `RollingUpdate` or `OnDelete` with valid
/// maxUnavailable/maxSurge, exactly one of them non-zero (maxUnavailable defaults to 1, so a
/// surging update sets it to 0).
pub fn validate_daemon_set(ds: &DaemonSet, errors: &mut Vec<FieldError>) {
    let s = &ds.spec;
    check_common(errors, None, s.min_ready_seconds, s.revision_history_limit);
    validate_workload(&s.selector, &s.template, &[], errors);
    let Some(u) = &s.update_strategy else { return };
    let type_ = u.type_.as_deref().unwrap_or("RollingUpdate");
    if let Some(t) = &u.type_ {
        check_enum(
            errors,
            "spec.updateStrategy.type",
            t,
            &["RollingUpdate", "OnDelete"],
        );
    }
    let Some(ru) = &u.rolling_update else { return };
    if type_ == "OnDelete" {
        errors.push(FieldError::new(
            "spec.updateStrategy.rollingUpdate",
            "Forbidden: only allowed for updateStrategy 'RollingUpdate'",
        ));
        return;
    }
    validate_surge_unavailable(
        ru.max_surge.as_ref(),
        ru.max_unavailable.as_ref(),
        "spec.updateStrategy.rollingUpdate",
        &IntOrString::Int(0),
        &IntOrString::Int(1),
        errors,
    );
    // Exactly one of the two is non-zero, once defaulted (maxUnavailable 1, maxSurge 0).
    let surge = ru.max_surge.as_ref();
    let unavailable = ru.max_unavailable.as_ref();
    if surge.is_some_and(|v| !is_zero_int_or_percent(v))
        && unavailable.is_none_or(|v| !is_zero_int_or_percent(v))
    {
        errors.push(FieldError::new(
            "spec.updateStrategy.rollingUpdate.maxSurge",
            format!(
                "Invalid value: {}: may not be set when maxUnavailable is non-zero",
                surge.map(|v| v.to_string()).unwrap_or_default()
            ),
        ));
    }
}

/// A DaemonSet's desired state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DaemonSetSpec {
    /// Which pods belong to the set; must match the template's labels.
    #[serde(default)]
    pub selector: LabelSelector,
    /// Template of the pods.
    #[serde(default)]
    pub template: PodTemplateSpec,
    /// How pods are replaced on an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_strategy: Option<DaemonSetUpdateStrategy>,
    /// Seconds a ready pod must stay ready to count as available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    /// ControllerRevisions kept (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// How a DaemonSet replaces pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DaemonSetUpdateStrategy {
    /// `RollingUpdate` (the default) or `OnDelete`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Parameters of `RollingUpdate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdateDaemonSet>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Parameters of a DaemonSet's rolling update.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdateDaemonSet {
    /// Nodes whose pod may be unavailable during the update (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// Nodes that may run an old and a new pod at once (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A DaemonSet's observed state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DaemonSetStatus {
    /// Nodes running a daemon pod that should.
    #[serde(default)]
    pub current_number_scheduled: i32,
    /// Nodes running a daemon pod that should not.
    #[serde(default)]
    pub number_misscheduled: i32,
    /// Nodes that should run a daemon pod.
    #[serde(default)]
    pub desired_number_scheduled: i32,
    /// Nodes whose daemon pod is ready.
    #[serde(default)]
    pub number_ready: i32,
    /// The generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Nodes running the current template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_number_scheduled: Option<i32>,
    /// Nodes whose daemon pod is available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_available: Option<i32>,
    /// Nodes that should run an available daemon pod and do not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_unavailable: Option<i32>,
    /// Bumped when a ControllerRevision name collides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

// ---------------------------------------------------------------------------------------------
// ControllerRevision
// ---------------------------------------------------------------------------------------------

/// A ControllerRevision (apps/v1): an immutable snapshot of a StatefulSet's or DaemonSet's
/// template, for rollouts and rollbacks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct ControllerRevision {
    /// `apiVersion`: always `apps/v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `ControllerRevision`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The snapshot (a patch of the owner's spec), as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// Revision number, increasing per owner.
    #[serde(default)]
    pub revision: i64,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    ControllerRevision,
    api_version = "apps/v1",
    kind = "ControllerRevision",
    plural = "controllerrevisions",
    namespaced = true,
    spec = [data, revision, extra],
    status = [],
    validate = validate_controller_revision
);

/// Admission checks of a [`ControllerRevision`]: revision >= 0.
pub fn validate_controller_revision(cr: &ControllerRevision, errors: &mut Vec<FieldError>) {
    check_min(errors, "revision", cr.revision, 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{LabelSelectorRequirement, Object};
    use serde_json::json;

    fn round_trip<K: serde::de::DeserializeOwned + Serialize>(v: Value) -> K {
        let k: K = serde_json::from_value(v.clone()).expect("decodes");
        assert_eq!(serde_json::to_value(&k).expect("encodes"), v);
        k
    }

    fn errors_of(o: &dyn Object) -> Vec<FieldError> {
        let mut errors = Vec::new();
        o.validate(&mut errors);
        errors
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    /// The nginx Deployment of the Kubernetes documentation ("Creating a Deployment").
    fn nginx_deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "nginx-deployment", "labels": {"app": "nginx"}},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "nginx"}},
                "template": {
                    "metadata": {"labels": {"app": "nginx"}},
                    "spec": {
                        "containers": [{
                            "name": "nginx",
                            "image": "nginx:1.14.2",
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"containerPort": 80}]
                        }]
                    }
                }
            }
        })
    }

    #[test]
    fn nginx_deployment_round_trips_unchanged() {
        let d: Deployment = round_trip(nginx_deployment());
        assert_eq!(d.spec.replicas, Some(3));
        assert_eq!(
            d.spec.template.spec.containers[0].extra["imagePullPolicy"],
            json!("IfNotPresent")
        );
        assert_eq!(errors_of(&d), vec![]);
    }

    #[test]
    fn deployment_with_strategy_and_status_round_trips() {
        let mut v = nginx_deployment();
        v["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}});
        v["spec"]["revisionHistoryLimit"] = json!(5);
        v["spec"]["progressDeadlineSeconds"] = json!(600);
        v["status"] = json!({
            "observedGeneration": 2,
            "replicas": 3,
            "updatedReplicas": 3,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]
        });
        let d: Deployment = round_trip(v);
        let ru = d
            .spec
            .strategy
            .as_ref()
            .unwrap()
            .rolling_update
            .as_ref()
            .unwrap();
        assert_eq!(ru.max_surge.as_ref().unwrap().resolve(3, true), Ok(1));
        assert_eq!(
            ru.max_unavailable.as_ref().unwrap().resolve(3, false),
            Ok(0)
        );
        assert_eq!(errors_of(&d), vec![]);
    }

    #[test]
    fn deployment_status_change_keeps_spec_equal_but_spec_change_does_not() {
        let a: Deployment = serde_json::from_value(nginx_deployment()).unwrap();
        let mut b = a.clone();
        b.status = Some(DeploymentStatus {
            replicas: Some(3),
            ..Default::default()
        });
        assert!(a.spec_eq(&b), "status only");
        b.metadata.labels.insert("tier".into(), "web".into());
        assert!(a.spec_eq(&b), "metadata only");
        b.spec.replicas = Some(4);
        assert!(!a.spec_eq(&b), "replicas changed");
        let mut c = a.clone();
        c.spec.template.spec.containers[0]
            .extra
            .insert("imagePullPolicy".into(), json!("Always"));
        assert!(!a.spec_eq(&c), "unmodelled spec field changed");
        let mut d = a.clone();
        d.set_status_from(&b);
        assert_eq!(d.status, b.status);
        assert_eq!(d.spec, a.spec);
    }

    #[test]
    fn deployment_validation_names_full_field_paths() {
        let mut d: Deployment = serde_json::from_value(nginx_deployment()).unwrap();
        d.spec.replicas = Some(-1);
        d.spec.template.spec.restart_policy = Some("Never".into());
        d.spec.template.spec.containers[0].name = String::new();
        d.spec.strategy = Some(DeploymentStrategy {
            type_: Some("BlueGreen".into()),
            ..Default::default()
        });
        assert_eq!(
            fields(&errors_of(&d)),
            vec![
                "spec.replicas",
                "spec.template.spec.restartPolicy",
                "spec.template.spec.containers[0].name",
                "spec.strategy.type",
            ]
        );

        let mut d: Deployment = serde_json::from_value(nginx_deployment()).unwrap();
        d.spec.strategy = Some(DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(IntOrString::Int(0)),
                max_unavailable: Some(IntOrString::from("0%")),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(
            fields(&errors_of(&d)),
            vec!["spec.strategy.rollingUpdate.maxUnavailable"]
        );
        d.spec
            .strategy
            .as_mut()
            .unwrap()
            .rolling_update
            .as_mut()
            .unwrap()
            .max_unavailable = Some(IntOrString::from("lots"));
        assert_eq!(
            fields(&errors_of(&d)),
            vec!["spec.strategy.rollingUpdate.maxUnavailable"]
        );
        d.spec.strategy.as_mut().unwrap().type_ = Some("Recreate".into());
        assert_eq!(fields(&errors_of(&d)), vec!["spec.strategy.rollingUpdate"]);
    }

    #[test]
    fn deployment_selector_must_be_set_and_match_template_labels() {
        let mut d: Deployment = serde_json::from_value(nginx_deployment()).unwrap();
        d.spec.selector = LabelSelector::default();
        assert_eq!(fields(&errors_of(&d)), vec!["spec.selector"]);

        d.spec
            .selector
            .match_labels
            .insert("app".into(), "apache".into());
        assert_eq!(
            fields(&errors_of(&d)),
            vec!["spec.template.metadata.labels"]
        );

        d.spec.selector.match_labels.clear();
        d.spec.selector.match_expressions = vec![LabelSelectorRequirement {
            key: "app".into(),
            operator: "In".into(),
            values: vec!["nginx".into(), "apache".into()],
        }];
        assert_eq!(errors_of(&d), vec![]);
        d.spec.selector.match_expressions[0].operator = "Exists".into();
        assert_eq!(
            fields(&errors_of(&d)),
            vec!["spec.selector.matchExpressions[0].values"]
        );
        d.spec.selector.match_expressions[0].values.clear();
        assert_eq!(errors_of(&d), vec![]);
        d.spec.selector.match_expressions[0].key = "tier".into();
        assert_eq!(
            fields(&errors_of(&d)),
            vec!["spec.template.metadata.labels"]
        );
    }

    /// The `web` StatefulSet of the Kubernetes documentation ("StatefulSets").
    fn web_stateful_set() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "nginx"}},
                "serviceName": "nginx",
                "replicas": 3,
                "minReadySeconds": 10,
                "template": {
                    "metadata": {"labels": {"app": "nginx"}},
                    "spec": {
                        "terminationGracePeriodSeconds": 10,
                        "containers": [{
                            "name": "nginx",
                            "image": "registry.k8s.io/nginx-slim:0.24",
                            "ports": [{"containerPort": 80, "name": "web"}],
                            "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}]
                        }]
                    }
                },
                "volumeClaimTemplates": [{
                    "metadata": {"name": "www"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": "my-storage-class",
                        "resources": {"requests": {"storage": "1Gi"}}
                    }
                }]
            }
        })
    }

    #[test]
    fn web_stateful_set_with_claim_templates_round_trips_unchanged() {
        let ss: StatefulSet = round_trip(web_stateful_set());
        let claim = &ss.spec.volume_claim_templates[0];
        assert_eq!(claim.metadata.name, "www");
        assert_eq!(claim.spec.access_modes, vec!["ReadWriteOnce"]);
        assert_eq!(
            errors_of(&ss),
            vec![],
            "the template may mount the claim template"
        );
    }

    #[test]
    fn stateful_set_claim_templates_accept_api_version_and_kind() {
        let mut v = web_stateful_set();
        v["spec"]["volumeClaimTemplates"][0]["apiVersion"] = json!("v1");
        v["spec"]["volumeClaimTemplates"][0]["kind"] = json!("PersistentVolumeClaim");
        v["spec"]["updateStrategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 1}});
        let ss: StatefulSet = serde_json::from_value(v).unwrap();
        assert_eq!(
            serde_json::to_value(&ss).unwrap()["spec"]["updateStrategy"]["rollingUpdate"],
            json!({"partition": 1})
        );
        assert_eq!(
            serde_json::to_value(&ss).unwrap()["spec"]["volumeClaimTemplates"],
            web_stateful_set()["spec"]["volumeClaimTemplates"]
        );
    }

    #[test]
    fn stateful_set_validation_names_full_field_paths() {
        let mut ss: StatefulSet = serde_json::from_value(web_stateful_set()).unwrap();
        ss.spec.pod_management_policy = Some("Random".into());
        ss.spec.volume_claim_templates[0].spec.access_modes.clear();
        ss.spec.update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("OnDelete".into()),
            rolling_update: Some(RollingUpdateStatefulSetStrategy {
                partition: Some(-1),
                ..Default::default()
            }),
            ..Default::default()
        });
        ss.spec.template.spec.containers[0].volume_mounts[0].name = "data".into();
        assert_eq!(
            fields(&errors_of(&ss)),
            vec![
                "spec.template.spec.containers[0].volumeMounts[0].name",
                "spec.podManagementPolicy",
                "spec.updateStrategy.rollingUpdate",
                "spec.updateStrategy.rollingUpdate.partition",
                "spec.volumeClaimTemplates[0].spec.accessModes",
            ]
        );
    }

    #[test]
    fn replica_set_and_daemon_set_round_trip_and_validate() {
        let rs: ReplicaSet = round_trip(json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "frontend", "labels": {"app": "guestbook", "tier": "frontend"}},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"tier": "frontend"}},
                "template": {
                    "metadata": {"labels": {"tier": "frontend"}},
                    "spec": {"containers": [{"name": "php-redis", "image": "us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5"}]}
                }
            },
            "status": {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3, "observedGeneration": 1}
        }));
        assert_eq!(errors_of(&rs), vec![]);

        let mut ds: DaemonSet = round_trip(json!({
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "fluentd-elasticsearch", "namespace": "kube-system"},
            "spec": {
                "selector": {"matchLabels": {"name": "fluentd-elasticsearch"}},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                "template": {
                    "metadata": {"labels": {"name": "fluentd-elasticsearch"}},
                    "spec": {
                        "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
                        "containers": [{
                            "name": "fluentd-elasticsearch",
                            "image": "quay.io/fluentd_elasticsearch/fluentd:v2.5.2",
                            "resources": {"limits": {"memory": "200Mi"}, "requests": {"cpu": "100m", "memory": "200Mi"}},
                            "volumeMounts": [{"name": "varlog", "mountPath": "/var/log"}]
                        }],
                        "terminationGracePeriodSeconds": 30,
                        "volumes": [{"name": "varlog", "hostPath": {"path": "/var/log"}}]
                    }
                }
            },
            "status": {"currentNumberScheduled": 2, "numberMisscheduled": 0, "desiredNumberScheduled": 2, "numberReady": 2}
        }));
        assert_eq!(errors_of(&ds), vec![]);
        ds.spec
            .update_strategy
            .as_mut()
            .unwrap()
            .rolling_update
            .as_mut()
            .unwrap()
            .max_unavailable = Some(IntOrString::Int(0));
        assert_eq!(
            fields(&errors_of(&ds)),
            vec!["spec.updateStrategy.rollingUpdate.maxUnavailable"]
        );
        // A surging update: maxUnavailable 0 with maxSurge; both non-zero (maxUnavailable
        // left to its default 1 included) is refused, as kube-apiserver does.
        fn rolling(ds: &mut DaemonSet) -> &mut RollingUpdateDaemonSet {
            let u = ds.spec.update_strategy.as_mut().unwrap();
            u.rolling_update.as_mut().unwrap()
        }
        rolling(&mut ds).max_surge = Some(IntOrString::from("10%"));
        assert_eq!(errors_of(&ds), vec![]);
        for unavailable in [None, Some(IntOrString::Int(2))] {
            rolling(&mut ds).max_unavailable = unavailable;
            let errors = errors_of(&ds);
            assert_eq!(
                fields(&errors),
                vec!["spec.updateStrategy.rollingUpdate.maxSurge"]
            );
            assert!(
                errors[0]
                    .to_string()
                    .contains("10%: may not be set when maxUnavailable is non-zero"),
                "{errors:?}"
            );
        }
    }

    #[test]
    fn controller_revision_round_trips() {
        let cr: ControllerRevision = round_trip(json!({
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {"name": "web-6c5d8f7b9"},
            "data": {"spec": {"template": {"metadata": {"labels": {"app": "nginx"}}}}},
            "revision": 2
        }));
        assert_eq!(cr.revision, 2);
    }
}

/// Sets the defaults kube-apiserver gives a Deployment's rollout settings where the object
/// leaves them out: strategy `RollingUpdate` with `maxSurge` and `maxUnavailable` 25%,
/// `revisionHistoryLimit` 10 and `progressDeadlineSeconds` 600 (the values the controller
/// uses for them anyway).
pub fn set_deployment_defaults(d: &mut Deployment, _creating: bool) {
    let s = &mut d.spec;
    let strategy = s.strategy.get_or_insert_with(Default::default);
    let kind = strategy.type_.get_or_insert_with(|| "RollingUpdate".into());
    if kind == "RollingUpdate" {
        let r = strategy.rolling_update.get_or_insert_with(Default::default);
        r.max_surge
            .get_or_insert_with(|| super::IntOrString::String("25%".into()));
        r.max_unavailable
            .get_or_insert_with(|| super::IntOrString::String("25%".into()));
    }
    s.revision_history_limit.get_or_insert(10);
    s.progress_deadline_seconds.get_or_insert(600);
}

#[cfg(test)]
mod default_tests {
    use super::*;

    #[test]
    fn a_deployment_gets_kube_apiservers_rollout_defaults_and_keeps_its_own() {
        let mut d = Deployment::default();
        set_deployment_defaults(&mut d, true);
        let s = &d.spec;
        let strategy = s.strategy.as_ref().unwrap();
        assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
        let r = strategy.rolling_update.as_ref().unwrap();
        assert_eq!(
            r.max_surge,
            Some(super::super::IntOrString::String("25%".into()))
        );
        assert_eq!(s.revision_history_limit, Some(10));
        assert_eq!(s.progress_deadline_seconds, Some(600));

        let mut own = Deployment::default();
        own.spec.strategy = Some(DeploymentStrategy {
            type_: Some("Recreate".into()),
            ..Default::default()
        });
        own.spec.revision_history_limit = Some(2);
        set_deployment_defaults(&mut own, true);
        assert!(own.spec.strategy.as_ref().unwrap().rolling_update.is_none());
        assert_eq!(own.spec.revision_history_limit, Some(2));
    }
}
