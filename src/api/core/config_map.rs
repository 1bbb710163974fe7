//! The [`ConfigMap`] kind: configuration as key-value pairs, and the rule for keys that
//! ConfigMaps and Secrets share ([`is_config_key`]).

use crate::api::{ApiVersion, Extra, FieldError, Kind, Map, ObjectMeta};
use serde::{Deserialize, Serialize};

/// A ConfigMap (core/v1): configuration data as key-value pairs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    /// `apiVersion`: always `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `ConfigMap`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// UTF-8 values.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, String>,
    /// Binary values, base64-encoded.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub binary_data: Map<String, String>,
    /// When true, the data can no longer change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    ConfigMap,
    api_version = "v1",
    kind = "ConfigMap",
    plural = "configmaps",
    namespaced = true,
    spec = [data, binary_data, immutable, extra],
    status = [],
    validate = validate_config_map,
    validate_update = crate::api::immutable::config_map
);

/// Admission checks of a [`ConfigMap`]: keys are alphanumerics, `-`, `_` and `.`, and no key
/// is in both `data` and `binaryData`.
pub fn validate_config_map(cm: &ConfigMap, errors: &mut Vec<FieldError>) {
    let valid = is_config_key;
    for k in cm.data.keys() {
        if !valid(k) {
            errors.push(FieldError::new(format!("data[{k}]"), CONFIG_KEY_MESSAGE));
        }
    }
    for k in cm.binary_data.keys() {
        if !valid(k) {
            errors.push(FieldError::new(
                format!("binaryData[{k}]"),
                CONFIG_KEY_MESSAGE,
            ));
        }
        if cm.data.contains_key(k) {
            errors.push(FieldError::new(
                format!("binaryData[{k}]"),
                "Duplicate value: the key is also in data",
            ));
        }
    }
}

pub(super) const CONFIG_KEY_MESSAGE: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";

/// True for a key of a ConfigMap or a Secret, as Kubernetes checks them: 1 to 253
/// alphanumerics, `-`, `_` and `.`, and neither `.` nor `..`.
pub fn is_config_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k != "."
        && k != ".."
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}
