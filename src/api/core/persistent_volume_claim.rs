//! The [`PersistentVolumeClaim`] kind: a request for storage, with its admission checks.

use super::{ResourceList, ResourceRequirements};
use crate::api::validation::{check_enum, required};
use crate::api::{ApiVersion, Condition, Extra, FieldError, Kind, Map, ObjectMeta};
use serde::{Deserialize, Serialize};

/// A PersistentVolumeClaim (core/v1): a request for storage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct PersistentVolumeClaim {
    /// `apiVersion`: always `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `PersistentVolumeClaim`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default)]
    pub spec: PersistentVolumeClaimSpec,
    /// Observed state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PersistentVolumeClaimStatus>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    PersistentVolumeClaim,
    api_version = "v1",
    kind = "PersistentVolumeClaim",
    plural = "persistentvolumeclaims",
    namespaced = true,
    spec = [spec, extra],
    status = [status],
    validate = validate_persistent_volume_claim,
    validate_update = crate::api::immutable::persistent_volume_claim
);

/// Admission checks of a [`PersistentVolumeClaim`]: those of its spec.
pub fn validate_persistent_volume_claim(pvc: &PersistentVolumeClaim, errors: &mut Vec<FieldError>) {
    pvc.spec.validate("spec", errors);
}

const ACCESS_MODES: &[&str] = &[
    "ReadWriteOnce",
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOncePod",
];

/// A claim's desired state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimSpec {
    /// `ReadWriteOnce`, `ReadOnlyMany`, `ReadWriteMany` or `ReadWriteOncePod`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_modes: Vec<String>,
    /// Storage requested (`requests.storage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// StorageClass to provision from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// The bound PersistentVolume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_name: Option<String>,
    /// Unmodelled fields (volumeMode, selector, dataSource...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl PersistentVolumeClaimSpec {
    /// Admission checks of a claim spec found at `path` (`spec`, or
    /// `spec.volumeClaimTemplates[0].spec`): at least one known access mode, and a storage
    /// request.
    pub fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        if self.access_modes.is_empty() {
            errors.push(FieldError::new(
                format!("{path}.accessModes"),
                "Required value: at least 1 access mode is required",
            ));
        }
        for (i, m) in self.access_modes.iter().enumerate() {
            check_enum(errors, format!("{path}.accessModes[{i}]"), m, ACCESS_MODES);
        }
        let has_storage = self
            .resources
            .as_ref()
            .is_some_and(|r| r.requests.contains_key("storage"));
        if !has_storage {
            errors.push(required(format!("{path}.resources.requests.storage"), ""));
        }
    }
}

/// A claim's observed state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimStatus {
    /// `Pending`, `Bound` or `Lost`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Capacity of the bound volume.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub capacity: ResourceList,
    /// Access modes of the bound volume.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_modes: Vec<String>,
    /// Conditions (`Resizing`...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::super::tests::fields;
    use super::*;
    use crate::api::Object;
    use serde_json::json;

    #[test]
    fn pvc_validation_requires_access_modes_and_storage() {
        let pvc: PersistentVolumeClaim = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "d"},
            "spec": {"accessModes": ["ReadWriteSometimes"]}
        }))
        .unwrap();
        let mut errors = Vec::new();
        pvc.validate(&mut errors);
        assert_eq!(
            fields(&errors),
            vec!["spec.accessModes[0]", "spec.resources.requests.storage"]
        );
    }
}
