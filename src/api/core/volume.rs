//! A pod's [`Volume`]s and the sources that are not projections of configuration:
//! `persistentVolumeClaim` and `hostPath` (an absent source is an emptyDir). The
//! configMap, secret, downwardAPI and projected sources are in `volume_sources`.

use super::{
    ConfigMapVolumeSource, DownwardApiVolumeSource, ProjectedVolumeSource, SecretVolumeSource,
};
use crate::api::Extra;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A volume of a pod. The volume sources steady does not model (csi, nfs...) stay in
/// `extra`; a volume with no source is an emptyDir.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Name, a DNS-1123 label unique within the pod.
    #[serde(default)]
    pub name: String,
    /// A PersistentVolumeClaim in the pod's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<PersistentVolumeClaimVolumeSource>,
    /// A scratch directory that lives as long as the pod (`medium`, `sizeLimit`), as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<Value>,
    /// A directory of the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<HostPathVolumeSource>,
    /// The keys of a ConfigMap as files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapVolumeSource>,
    /// The keys of a Secret as files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretVolumeSource>,
    /// Fields of the pod as files.
    #[serde(
        rename = "downwardAPI",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub downward_api: Option<DownwardApiVolumeSource>,
    /// ConfigMaps, Secrets and downward API files in one directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projected: Option<ProjectedVolumeSource>,
    /// Unmodelled fields (the other volume sources).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `persistentVolumeClaim` volume source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimVolumeSource {
    /// Name of the claim.
    #[serde(default)]
    pub claim_name: String,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `hostPath` volume source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HostPathVolumeSource {
    /// Path on the node.
    #[serde(default)]
    pub path: String,
    /// What must be at `path` before the pod starts, as Kubernetes checks it: `""` or
    /// absent (nothing checked; a missing path is created as a directory),
    /// `DirectoryOrCreate`, `Directory`, `FileOrCreate` (an empty file, mode 0644; its
    /// directory must exist), `File`, `Socket`, `CharDevice` or `BlockDevice`. A check that
    /// fails holds the pod's containers back (`CreateContainerConfigError`).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The values of `hostPath.type`.
pub const HOST_PATH_TYPES: &[&str] = &[
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
];
