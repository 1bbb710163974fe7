//! Volume sources that project configuration into files: `configMap`, `secret`,
//! `downwardAPI` and `projected`, with their admission checks.
//!
//! Each becomes a directory of files (one per key, or per `items` entry) that the node agent
//! writes atomically and rewrites in place when the source changes (`node::volumes`).

use super::env::{ObjectFieldSelector, ResourceFieldSelector, VOLUME_FIELD_PATHS};
use super::{is_config_key, CONFIG_KEY_MESSAGE};
use crate::api::validation::required;
use crate::api::{Extra, FieldError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A key of a ConfigMap or a Secret written to a file at `path` (`items[]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct KeyToPath {
    /// The key.
    #[serde(default)]
    pub key: String,
    /// Relative path of the file in the volume (no `..` element).
    #[serde(default)]
    pub path: String,
    /// Permission bits of the file (default: the volume's `defaultMode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<i32>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `configMap` volume source: the keys of a ConfigMap as files.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapVolumeSource {
    /// Name of the ConfigMap, in the pod's namespace.
    #[serde(default)]
    pub name: String,
    /// Which keys, under which paths; every key (named after it) when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<KeyToPath>,
    /// Permission bits of the files (default `0644`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<i32>,
    /// When true, a missing ConfigMap (or key) gives an empty volume (or no file) instead
    /// of holding the pod back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `secret` volume source: the keys of a Secret as files (decoded).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SecretVolumeSource {
    /// Name of the Secret, in the pod's namespace.
    #[serde(default)]
    pub secret_name: String,
    /// Which keys, under which paths; every key when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<KeyToPath>,
    /// Permission bits of the files (default `0644`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<i32>,
    /// When true, a missing Secret (or key) gives an empty volume (or no file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One file of a downwardAPI volume: a field of the pod or a resource of a container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DownwardApiVolumeFile {
    /// Relative path of the file.
    #[serde(default)]
    pub path: String,
    /// A field: `metadata.name`, `metadata.labels`, `metadata.annotations['x']`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<ObjectFieldSelector>,
    /// A resource of a named container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_field_ref: Option<ResourceFieldSelector>,
    /// Permission bits of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<i32>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `downwardAPI` volume source: fields of the pod as files, updated when they change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DownwardApiVolumeSource {
    /// The files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<DownwardApiVolumeFile>,
    /// Permission bits of the files (default `0644`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<i32>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A ConfigMap or a Secret projected into a `projected` volume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct KeyProjection {
    /// Name of the object, in the pod's namespace.
    #[serde(default)]
    pub name: String,
    /// Which keys, under which paths; every key when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<KeyToPath>,
    /// When true, a missing object (or key) contributes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `configMap` of a projected volume.
pub type ConfigMapProjection = KeyProjection;
/// `secret` of a projected volume.
pub type SecretProjection = KeyProjection;

/// `downwardAPI` of a projected volume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DownwardApiProjection {
    /// The files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<DownwardApiVolumeFile>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One source of a projected volume: exactly one of its fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct VolumeProjection {
    /// A ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapProjection>,
    /// A Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretProjection>,
    /// Fields of the pod.
    #[serde(
        rename = "downwardAPI",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub downward_api: Option<DownwardApiProjection>,
    /// Unmodelled sources (`serviceAccountToken`, `clusterTrustBundle`...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `projected` volume source: several ConfigMaps, Secrets and downward API files in one
/// directory.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProjectedVolumeSource {
    /// The sources, in order (a later one's file wins over an earlier one's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<VolumeProjection>,
    /// Permission bits of the files (default `0644`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<i32>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Checks a relative file path of a volume: not empty, not absolute, no `..` element.
fn check_path(path: &str, field: String, errors: &mut Vec<FieldError>) {
    if path.is_empty() {
        errors.push(required(field, ""));
    } else if path.starts_with('/') {
        errors.push(FieldError::new(
            field,
            format!("Invalid value: {path:?}: must be a relative path"),
        ));
    } else if path.split('/').any(|e| e == "..") {
        errors.push(FieldError::new(
            field,
            format!("Invalid value: {path:?}: must not contain '..'"),
        ));
    } else if path.starts_with("..") {
        errors.push(FieldError::new(
            field,
            format!("Invalid value: {path:?}: must not start with '..'"),
        ));
    }
}

fn check_mode(mode: Option<i32>, field: String, errors: &mut Vec<FieldError>) {
    if let Some(m) = mode {
        if !(0..=0o777).contains(&m) {
            errors.push(FieldError::new(
                field,
                format!(
                    "Invalid value: {m}: must be a number between 0 and 0777 (octal), both inclusive"
                ),
            ));
        }
    }
}

fn check_items(items: &[KeyToPath], path: &str, errors: &mut Vec<FieldError>) {
    for (i, it) in items.iter().enumerate() {
        let p = format!("{path}.items[{i}]");
        if it.key.is_empty() {
            errors.push(required(format!("{p}.key"), ""));
        } else if !is_config_key(&it.key) {
            errors.push(FieldError::new(
                format!("{p}.key"),
                format!("Invalid value: {:?}: {CONFIG_KEY_MESSAGE}", it.key),
            ));
        }
        check_path(&it.path, format!("{p}.path"), errors);
        check_mode(it.mode, format!("{p}.mode"), errors);
    }
}

fn check_downward_items(items: &[DownwardApiVolumeFile], path: &str, errors: &mut Vec<FieldError>) {
    for (i, it) in items.iter().enumerate() {
        let p = format!("{path}.items[{i}]");
        check_path(&it.path, format!("{p}.path"), errors);
        check_mode(it.mode, format!("{p}.mode"), errors);
        match (&it.field_ref, &it.resource_field_ref) {
            (Some(f), None) => f.validate(&format!("{p}.fieldRef"), VOLUME_FIELD_PATHS, errors),
            (None, Some(r)) => r.validate(&format!("{p}.resourceFieldRef"), true, errors),
            (Some(_), Some(_)) => errors.push(FieldError::new(
                p,
                "Invalid value: \"\": fieldRef and resourceFieldRef can not be specified simultaneously",
            )),
            (None, None) => errors.push(FieldError::new(
                p,
                "Required value: one of fieldRef and resourceFieldRef is required",
            )),
        }
    }
}

/// Admission checks of the volume sources of `volume` at `path` (`spec.volumes[i]`): at
/// most one source, and the one given well-formed.
pub(crate) fn validate_volume_sources(
    volume: &crate::api::Volume,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let given: Vec<&str> = [
        (
            "persistentVolumeClaim",
            volume.persistent_volume_claim.is_some(),
        ),
        ("emptyDir", volume.empty_dir.is_some()),
        ("hostPath", volume.host_path.is_some()),
        ("configMap", volume.config_map.is_some()),
        ("secret", volume.secret.is_some()),
        ("downwardAPI", volume.downward_api.is_some()),
        ("projected", volume.projected.is_some()),
    ]
    .into_iter()
    .filter_map(|(n, set)| set.then_some(n))
    .collect();
    if given.len() > 1 {
        errors.push(FieldError::new(
            format!("{path}.{}", given[1]),
            "Forbidden: may not specify more than 1 volume type",
        ));
    }
    if let Some(t) = volume.host_path.as_ref().and_then(|h| h.type_.as_deref()) {
        crate::api::validation::check_enum(
            errors,
            format!("{path}.hostPath.type"),
            t,
            super::HOST_PATH_TYPES,
        );
    }
    if let Some(c) = &volume.config_map {
        let p = format!("{path}.configMap");
        if c.name.is_empty() {
            errors.push(required(format!("{p}.name"), ""));
        }
        check_items(&c.items, &p, errors);
        check_mode(c.default_mode, format!("{p}.defaultMode"), errors);
    }
    if let Some(s) = &volume.secret {
        let p = format!("{path}.secret");
        if s.secret_name.is_empty() {
            errors.push(required(format!("{p}.secretName"), ""));
        }
        check_items(&s.items, &p, errors);
        check_mode(s.default_mode, format!("{p}.defaultMode"), errors);
    }
    if let Some(d) = &volume.downward_api {
        let p = format!("{path}.downwardAPI");
        check_downward_items(&d.items, &p, errors);
        check_mode(d.default_mode, format!("{p}.defaultMode"), errors);
    }
    if let Some(pr) = &volume.projected {
        let p = format!("{path}.projected");
        check_mode(pr.default_mode, format!("{p}.defaultMode"), errors);
        let mut paths = BTreeSet::new();
        for (i, s) in pr.sources.iter().enumerate() {
            let sp = format!("{p}.sources[{i}]");
            let n = [
                s.config_map.is_some(),
                s.secret.is_some(),
                s.downward_api.is_some(),
            ]
            .into_iter()
            .filter(|x| *x)
            .count();
            if n > 1 {
                errors.push(FieldError::new(
                    sp.clone(),
                    "Forbidden: may not specify more than 1 volume type per source",
                ));
            }
            for (field, k) in [("configMap", &s.config_map), ("secret", &s.secret)] {
                if let Some(k) = k {
                    let kp = format!("{sp}.{field}");
                    if k.name.is_empty() {
                        errors.push(required(format!("{kp}.name"), ""));
                    }
                    check_items(&k.items, &kp, errors);
                    for (j, it) in k.items.iter().enumerate() {
                        if !paths.insert(it.path.clone()) {
                            errors.push(FieldError::new(
                                format!("{kp}.items[{j}].path"),
                                format!(
                                    "Invalid value: {:?}: conflicting duplicate paths",
                                    it.path
                                ),
                            ));
                        }
                    }
                }
            }
            if let Some(d) = &s.downward_api {
                let dp = format!("{sp}.downwardAPI");
                check_downward_items(&d.items, &dp, errors);
                for (j, it) in d.items.iter().enumerate() {
                    if !paths.insert(it.path.clone()) {
                        errors.push(FieldError::new(
                            format!("{dp}.items[{j}].path"),
                            format!("Invalid value: {:?}: conflicting duplicate paths", it.path),
                        ));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::api::{Object, Pod};

    #[test]
    fn volume_sources_round_trip_and_name_the_field_at_fault() {
        let v = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "command": ["true"], "volumeMounts": [
                {"name": "a", "mountPath": "/a", "subPath": "../etc"}]}], "volumes": [
                {"name": "a", "configMap": {"name": "cm", "items": [{"key": "k", "path": "../x"}],
                                            "defaultMode": 511}},
                {"name": "b", "secret": {"secretName": "", "optional": true}},
                {"name": "c", "downwardAPI": {"items": [
                    {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                    {"path": "node", "fieldRef": {"fieldPath": "spec.nodeName"}},
                    {"path": "mem", "resourceFieldRef": {"resource": "limits.memory"}}]}},
                {"name": "d", "projected": {"sources": [
                    {"configMap": {"name": "cm", "items": [{"key": "k", "path": "same"}]}},
                    {"secret": {"name": "s", "items": [{"key": "k", "path": "same", "mode": 4096}]}},
                    {"serviceAccountToken": {"path": "token"}}]}},
                {"name": "e", "emptyDir": {}, "configMap": {"name": "cm"}}
            ]}
        });
        let pod: Pod = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&pod).unwrap(), v);
        assert!(pod.spec.volumes[3].projected.as_ref().unwrap().sources[2]
            .extra
            .contains_key("serviceAccountToken"));
        let mut errors = Vec::new();
        pod.validate(&mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "spec.volumes[0].configMap.items[0].path",
                "spec.volumes[1].secret.secretName",
                "spec.volumes[2].downwardAPI.items[1].fieldRef.fieldPath",
                "spec.volumes[2].downwardAPI.items[2].resourceFieldRef.containerName",
                "spec.volumes[3].projected.sources[1].secret.items[0].mode",
                "spec.volumes[3].projected.sources[1].secret.items[0].path",
                "spec.volumes[4].configMap",
                "spec.containers[0].volumeMounts[0].subPath",
            ],
            "{errors:?}"
        );
    }
}
