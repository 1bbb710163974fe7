//! Where a container's environment comes from besides literal values: `env[].valueFrom`
//! ([`EnvVarSource`]: a key of a ConfigMap or a Secret, a field of the pod, a resource of a
//! container) and `envFrom` ([`EnvFromSource`]: every key of a ConfigMap or a Secret), with
//! their admission checks. The downward API's field paths ([`PodField`]) and resource names
//! ([`ContainerResource`]) are shared with downwardAPI volumes.
//!
//! The node agent resolves them when it starts a container (`node::env`), with the
//! kubelet's rules.

use super::{is_config_key, CONFIG_KEY_MESSAGE};
use crate::api::validation::{check_enum, required};
use crate::api::{Extra, FieldError, Quantity};
use serde::{Deserialize, Serialize};

/// `valueFrom` of an environment variable: exactly one source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EnvVarSource {
    /// A field of the pod (the downward API): `metadata.name`, `status.podIP`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<ObjectFieldSelector>,
    /// A request or limit of a container (`limits.memory`...), in units of `divisor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_field_ref: Option<ResourceFieldSelector>,
    /// A key of a ConfigMap in the pod's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<ConfigMapKeySelector>,
    /// A key of a Secret in the pod's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeySelector>,
    /// Unmodelled sources (`fileKeyRef`...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A field of the pod, by path (`fieldRef`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ObjectFieldSelector {
    /// Version of the schema the path is written in: `v1` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The path: see [`PodField`].
    #[serde(default)]
    pub field_path: String,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A resource of a container (`resourceFieldRef`): its value is divided by `divisor` and
/// rounded up, as the kubelet does.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceFieldSelector {
    /// The container (default, for env: the container itself; required in volumes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// `requests.cpu`, `limits.memory`...: see [`ContainerResource`].
    #[serde(default)]
    pub resource: String,
    /// The unit of the value (default `1`): `1m` or `1` for cpu; `1`, `1k`, `1Mi`... for
    /// memory and ephemeral-storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divisor: Option<Quantity>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A key of a ConfigMap or a Secret (`configMapKeyRef`, `secretKeyRef`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct KeySelector {
    /// Name of the object, in the pod's namespace.
    #[serde(default)]
    pub name: String,
    /// The key.
    #[serde(default)]
    pub key: String,
    /// When true, a missing object or key leaves the variable unset instead of holding
    /// the container back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `configMapKeyRef`.
pub type ConfigMapKeySelector = KeySelector;
/// `secretKeyRef`.
pub type SecretKeySelector = KeySelector;

/// One `envFrom` entry: every key of a ConfigMap or a Secret becomes a variable (named
/// `prefix` + key). Keys that are not valid variable names are skipped, as the kubelet does.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EnvFromSource {
    /// Put in front of every key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// A ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapEnvSource>,
    /// A Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretEnvSource>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The object of an `envFrom` entry (`configMapRef`, `secretRef`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EnvSourceRef {
    /// Name of the object, in the pod's namespace.
    #[serde(default)]
    pub name: String,
    /// When true, a missing object is skipped instead of holding the container back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `configMapRef` of `envFrom`.
pub type ConfigMapEnvSource = EnvSourceRef;
/// `secretRef` of `envFrom`.
pub type SecretEnvSource = EnvSourceRef;

/// A field of a pod the downward API offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PodField {
    /// `metadata.name`.
    Name,
    /// `metadata.namespace`.
    Namespace,
    /// `metadata.uid`.
    Uid,
    /// `metadata.labels['key']`: the label's value, empty when absent.
    Label(String),
    /// `metadata.annotations['key']`: the annotation's value, empty when absent.
    Annotation(String),
    /// `metadata.labels` (volumes only): every label, one `key="value"` line each, sorted.
    Labels,
    /// `metadata.annotations` (volumes only): every annotation, as [`PodField::Labels`].
    Annotations,
    /// `spec.nodeName`.
    NodeName,
    /// `spec.serviceAccountName`.
    ServiceAccountName,
    /// `status.hostIP`.
    HostIp,
    /// `status.hostIPs`: every host address, comma-separated.
    HostIps,
    /// `status.podIP`.
    PodIp,
    /// `status.podIPs`: every pod address, comma-separated.
    PodIps,
}

/// Field paths `fieldRef` accepts in `env` (besides the subscripted labels and
/// annotations), as Kubernetes lists them.
pub const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Field paths `fieldRef` accepts in downwardAPI volumes (besides the subscripted labels and
/// annotations).
pub const VOLUME_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.labels",
    "metadata.annotations",
];

impl PodField {
    /// Parses a field path, accepting the paths of `allowed` and the subscripted
    /// `metadata.labels['key']` and `metadata.annotations['key']`. The error is
    /// Kubernetes' message for the path.
    pub fn parse(path: &str, allowed: &[&str]) -> Result<PodField, String> {
        for (prefix, label) in [("metadata.labels", true), ("metadata.annotations", false)] {
            if let Some(rest) = path.strip_prefix(prefix) {
                if let Some(key) = rest.strip_prefix("['").and_then(|r| r.strip_suffix("']")) {
                    if label {
                        crate::api::validation::qualified_name(key)
                            .map_err(|e| format!("Invalid value: {key:?}: {e}"))?;
                        return Ok(PodField::Label(key.to_string()));
                    }
                    if key.is_empty() {
                        return Err(format!("Invalid value: {key:?}: must not be empty"));
                    }
                    return Ok(PodField::Annotation(key.to_string()));
                }
            }
        }
        if !allowed.contains(&path) {
            let list: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
            return Err(format!(
                "Unsupported value: {path:?}: supported values: {}",
                list.join(", ")
            ));
        }
        Ok(match path {
            "metadata.name" => PodField::Name,
            "metadata.namespace" => PodField::Namespace,
            "metadata.uid" => PodField::Uid,
            "metadata.labels" => PodField::Labels,
            "metadata.annotations" => PodField::Annotations,
            "spec.nodeName" => PodField::NodeName,
            "spec.serviceAccountName" => PodField::ServiceAccountName,
            "status.hostIP" => PodField::HostIp,
            "status.hostIPs" => PodField::HostIps,
            "status.podIP" => PodField::PodIp,
            "status.podIPs" => PodField::PodIps,
            other => return Err(format!("Unsupported value: {other:?}")),
        })
    }
}

/// A resource of a container the downward API offers (`resourceFieldRef.resource`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContainerResource {
    /// `limits.*` rather than `requests.*`.
    pub limit: bool,
    /// `cpu`, `memory` or `ephemeral-storage`.
    pub name: &'static str,
}

/// The values `resourceFieldRef.resource` accepts.
pub const RESOURCE_FIELDS: &[&str] = &[
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
];

impl ContainerResource {
    /// Parses `requests.cpu`, `limits.memory`...; `None` for anything else.
    pub fn parse(resource: &str) -> Option<ContainerResource> {
        let (kind, name) = resource.split_once('.')?;
        let limit = match kind {
            "limits" => true,
            "requests" => false,
            _ => return None,
        };
        let name = ["cpu", "memory", "ephemeral-storage"]
            .into_iter()
            .find(|n| *n == name)?;
        Some(ContainerResource { limit, name })
    }
}

/// Divisors Kubernetes accepts for memory and ephemeral-storage.
const BYTE_DIVISORS: &[&str] = &[
    "1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei",
];

impl ResourceFieldSelector {
    /// Admission checks at `path`: a known resource, a divisor fitting it, and a container
    /// name when `container_required` (volumes).
    pub fn validate(&self, path: &str, container_required: bool, errors: &mut Vec<FieldError>) {
        if container_required && self.container_name.as_deref().unwrap_or("").is_empty() {
            errors.push(required(format!("{path}.containerName"), ""));
        }
        if self.resource.is_empty() {
            errors.push(required(format!("{path}.resource"), ""));
            return;
        }
        let Some(res) = ContainerResource::parse(&self.resource) else {
            check_enum(
                errors,
                format!("{path}.resource"),
                &self.resource,
                RESOURCE_FIELDS,
            );
            return;
        };
        let Some(divisor) = &self.divisor else { return };
        if let Err(e) = divisor.validate() {
            errors.push(FieldError::new(format!("{path}.divisor"), e.to_string()));
            return;
        }
        let ok = if res.name == "cpu" {
            divisor.milli_value() == 1 || divisor.milli_value() == 1000
        } else {
            BYTE_DIVISORS
                .iter()
                .any(|d| Quantity(d.to_string()).milli_value() == divisor.milli_value())
        };
        if !ok {
            let allowed = if res.name == "cpu" {
                "1m and 1".to_string()
            } else {
                BYTE_DIVISORS.join(", ")
            };
            errors.push(FieldError::new(
                format!("{path}.divisor"),
                format!(
                    "Invalid value: {:?}: only divisor's values {allowed} are supported with the {} resource",
                    divisor.0, res.name
                ),
            ));
        }
    }
}

impl ObjectFieldSelector {
    /// Admission checks at `path`: apiVersion `v1` when set, a field path of `allowed` (or a
    /// subscripted label or annotation).
    pub fn validate(&self, path: &str, allowed: &[&str], errors: &mut Vec<FieldError>) {
        if let Some(v) = &self.api_version {
            if !v.is_empty() && v != "v1" {
                check_enum(errors, format!("{path}.apiVersion"), v, &["v1"]);
            }
        }
        if self.field_path.is_empty() {
            errors.push(required(format!("{path}.fieldPath"), ""));
        } else if let Err(msg) = PodField::parse(&self.field_path, allowed) {
            errors.push(FieldError::new(format!("{path}.fieldPath"), msg));
        }
    }
}

impl KeySelector {
    fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        if self.name.is_empty() {
            errors.push(required(format!("{path}.name"), ""));
        }
        if self.key.is_empty() {
            errors.push(required(format!("{path}.key"), ""));
        } else if !is_config_key(&self.key) {
            errors.push(FieldError::new(
                format!("{path}.key"),
                format!("Invalid value: {:?}: {CONFIG_KEY_MESSAGE}", self.key),
            ));
        }
    }
}

/// True for a name the kubelet accepts as an environment variable from `envFrom`: a letter,
/// `-`, `_` or `.`, then letters, digits, `-`, `_` and `.` (Kubernetes' `IsEnvVarName`).
pub fn is_env_var_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b"-_.".contains(&b))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Admission checks of a container's `env` and `envFrom` at `path` (the container's).
pub(crate) fn validate_env(
    env: &[crate::api::EnvVar],
    env_from: &[EnvFromSource],
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    for (i, e) in env.iter().enumerate() {
        let p = format!("{path}.env[{i}]");
        let Some(from) = &e.value_from else { continue };
        let p = format!("{p}.valueFrom");
        if e.value.as_deref().is_some_and(|v| !v.is_empty()) {
            errors.push(FieldError::new(
                p.clone(),
                "Invalid value: \"\": may not be specified when `value` is not empty",
            ));
        }
        let n = [
            from.field_ref.is_some(),
            from.resource_field_ref.is_some(),
            from.config_map_key_ref.is_some(),
            from.secret_key_ref.is_some(),
        ]
        .into_iter()
        .filter(|s| *s)
        .count();
        if n == 0 && from.extra.is_empty() {
            errors.push(FieldError::new(
                p.clone(),
                "Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, \
                 `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if n > 1 {
            errors.push(FieldError::new(
                p.clone(),
                "Invalid value: \"\": may not have more than one field specified at a time",
            ));
        }
        if let Some(f) = &from.field_ref {
            f.validate(&format!("{p}.fieldRef"), ENV_FIELD_PATHS, errors);
        }
        if let Some(r) = &from.resource_field_ref {
            r.validate(&format!("{p}.resourceFieldRef"), false, errors);
        }
        if let Some(k) = &from.config_map_key_ref {
            k.validate(&format!("{p}.configMapKeyRef"), errors);
        }
        if let Some(k) = &from.secret_key_ref {
            k.validate(&format!("{p}.secretKeyRef"), errors);
        }
    }
    for (i, e) in env_from.iter().enumerate() {
        let p = format!("{path}.envFrom[{i}]");
        if let Some(prefix) = e.prefix.as_deref().filter(|s| !s.is_empty()) {
            if !is_env_var_name(prefix) {
                errors.push(FieldError::new(
                    format!("{p}.prefix"),
                    format!(
                        "Invalid value: {prefix:?}: a valid environment variable name must \
                         consist of alphabetic characters, digits, '_', '-', or '.', and must \
                         not start with a digit"
                    ),
                ));
            }
        }
        match (&e.config_map_ref, &e.secret_ref) {
            (Some(_), Some(_)) => errors.push(FieldError::new(
                p.clone(),
                "Invalid value: \"\": may not have more than one field specified at a time",
            )),
            (None, None) if e.extra.is_empty() => errors.push(FieldError::new(
                p.clone(),
                "Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`",
            )),
            _ => {}
        }
        for (field, r) in [
            ("configMapRef", &e.config_map_ref),
            ("secretRef", &e.secret_ref),
        ] {
            if let Some(r) = r {
                if r.name.is_empty() {
                    errors.push(required(format!("{p}.{field}.name"), ""));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_parse_as_kubernetes_lists_them() {
        assert_eq!(
            PodField::parse("status.podIPs", ENV_FIELD_PATHS),
            Ok(PodField::PodIps)
        );
        assert_eq!(
            PodField::parse("metadata.labels['app.kubernetes.io/name']", ENV_FIELD_PATHS),
            Ok(PodField::Label("app.kubernetes.io/name".into()))
        );
        assert_eq!(
            PodField::parse("metadata.annotations['a b']", ENV_FIELD_PATHS),
            Ok(PodField::Annotation("a b".into()))
        );
        assert!(PodField::parse("metadata.labels", ENV_FIELD_PATHS)
            .unwrap_err()
            .starts_with("Unsupported value: \"metadata.labels\""));
        assert_eq!(
            PodField::parse("metadata.labels", VOLUME_FIELD_PATHS),
            Ok(PodField::Labels)
        );
        assert!(PodField::parse("spec.nodeName", VOLUME_FIELD_PATHS).is_err());
        assert!(PodField::parse("metadata.labels['-bad-']", ENV_FIELD_PATHS).is_err());
    }

    #[test]
    fn resources_and_divisors_are_checked_per_resource() {
        let sel = |resource: &str, divisor: Option<&str>| ResourceFieldSelector {
            resource: resource.into(),
            divisor: divisor.map(|d| Quantity(d.into())),
            ..Default::default()
        };
        let errs = |s: ResourceFieldSelector| {
            let mut e = Vec::new();
            s.validate("r", false, &mut e);
            e.into_iter().map(|e| e.field).collect::<Vec<_>>()
        };
        assert!(errs(sel("limits.cpu", Some("1m"))).is_empty());
        assert!(errs(sel("requests.memory", Some("1Mi"))).is_empty());
        assert_eq!(errs(sel("limits.cpu", Some("1Mi"))), vec!["r.divisor"]);
        assert_eq!(errs(sel("limits.memory", Some("3"))), vec!["r.divisor"]);
        assert_eq!(errs(sel("limits.gpu", None)), vec!["r.resource"]);
        let mut e = Vec::new();
        sel("limits.cpu", None).validate("v", true, &mut e);
        assert_eq!(e[0].field, "v.containerName");
    }

    #[test]
    fn env_var_names_follow_is_env_var_name() {
        for ok in ["A", "db_url", "-x", ".config", "a.b-c_9"] {
            assert!(is_env_var_name(ok), "{ok}");
        }
        for bad in ["", "1abc", "a b", "a=b", "é"] {
            assert!(!is_env_var_name(bad), "{bad}");
        }
    }

    #[test]
    fn pod_validation_names_the_env_field_at_fault() {
        use crate::api::{Object, Pod};
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "command": ["true"],
                "env": [
                    {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.nope"}}},
                    {"name": "B", "value": "x", "valueFrom": {"configMapKeyRef": {"name": "m", "key": "k"}}},
                    {"name": "C", "valueFrom": {"secretKeyRef": {"name": "s", "key": "a/b"},
                                                "configMapKeyRef": {"name": "m", "key": "k"}}},
                    {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}}
                ],
                "envFrom": [{"prefix": "1X_", "configMapRef": {"name": ""}}, {}]
            }]}
        }))
        .unwrap();
        let mut errors = Vec::new();
        pod.validate(&mut errors);
        let c = "spec.containers[0]";
        let fields: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
        assert_eq!(
            fields,
            vec![
                format!("{c}.env[0].valueFrom.fieldRef.fieldPath"),
                format!("{c}.env[1].valueFrom"),
                format!("{c}.env[2].valueFrom"),
                format!("{c}.env[2].valueFrom.secretKeyRef.key"),
                format!("{c}.envFrom[0].prefix"),
                format!("{c}.envFrom[0].configMapRef.name"),
                format!("{c}.envFrom[1]"),
            ],
            "{errors:?}"
        );
        assert!(
            errors[0].message.contains("\"spec.nope\""),
            "{}",
            errors[0].message
        );
    }
}
