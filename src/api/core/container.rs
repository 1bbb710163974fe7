//! A pod's [`Container`]s: image, command, ports, environment, compute resources and volume
//! mounts, with their admission checks. Probes and lifecycle hooks are in `probe`.

use super::ResourceList;
use super::{validate_env, EnvFromSource, EnvVarSource, Lifecycle, Probe, PROTOCOLS};
use crate::api::validation::{
    check_enum, check_port_number, is_port_name, port_name_message, required,
};
use crate::api::{Extra, FieldError, Map};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A container of a pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Name, a DNS-1123 label unique within the pod.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Image reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Entrypoint (replaces the image's ENTRYPOINT).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Arguments (replace the image's CMD).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Ports the container exposes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    /// Environment variables; a later one wins over an earlier one and over `envFrom`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Variables from every key of ConfigMaps and Secrets, set before `env`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFromSource>,
    /// Compute resource requests and limits. An empty value (`resources: {}`) reads as
    /// none: in Kubernetes this is a plain struct, for which `{}` and no field are one
    /// value, so a template written either way is one template (kubectl sends `{}` back on
    /// `rollout undo`, and it must find the old ReplicaSet rather than roll out anew).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    pub resources: Option<ResourceRequirements>,
    /// Volumes mounted into the container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    /// Restarts the container when it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Box<Probe>>,
    /// Removes the pod from service endpoints while it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Box<Probe>>,
    /// Holds the other probes until it succeeds once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Box<Probe>>,
    /// Hooks run right after the container starts and before it is stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Box<Lifecycle>>,
    /// Unmodelled fields (imagePullPolicy, securityContext...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl Container {
    /// True for a native sidecar: an init container with `restartPolicy: Always`, started
    /// in order with the other init containers, kept running (and restarted) beside the
    /// main containers, and stopped after them.
    pub fn is_sidecar(&self) -> bool {
        self.extra
            .get("restartPolicy")
            .and_then(|v| v.as_str())
            .is_some_and(|p| p == "Always")
    }
}

/// A port a container exposes (`containers[].ports[]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// Port name (an IANA service name, at most 15 characters), referable from Services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Port number, 1 to 65535.
    #[serde(default)]
    pub container_port: i32,
    /// Port on the node forwarded to the container port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<i32>,
    /// `TCP` (the default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Host IP the host port binds to.
    #[serde(rename = "hostIP", default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An environment variable of a container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    /// Variable name.
    #[serde(default)]
    pub name: String,
    /// Literal value; `$(VAR)` references to variables defined before it are expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Source of the value (fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<Box<EnvVarSource>>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Reads an optional value, an empty one (its `Default`) as absent.
fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default + PartialEq,
{
    Ok(Option::<T>::deserialize(d)?.filter(|v| *v != T::default()))
}

/// Compute resources of a container, or storage of a claim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirements {
    /// Amounts the container is guaranteed (and scheduled by).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub requests: ResourceList,
    /// Amounts the container may not exceed.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub limits: ResourceList,
    /// Unmodelled fields (claims).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A volume mounted into a container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    /// Name of a volume of the pod.
    #[serde(default)]
    pub name: String,
    /// Path in the container.
    #[serde(default)]
    pub mount_path: String,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Path within the volume to mount instead of its root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ResourceRequirements {
    /// Admission checks of a container's resources
    /// ([`validate_requirements`](crate::api::resources::validate_requirements)).
    pub fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        crate::api::resources::validate_requirements(self, path, errors);
    }
}

impl Container {
    pub(super) fn validate(
        &self,
        path: &str,
        volumes: &BTreeSet<&str>,
        errors: &mut Vec<FieldError>,
    ) {
        let mut port_names = BTreeSet::new();
        for (i, p) in self.ports.iter().enumerate() {
            let pp = format!("{path}.ports[{i}]");
            check_port_number(errors, format!("{pp}.containerPort"), p.container_port);
            if let Some(hp) = p.host_port {
                check_port_number(errors, format!("{pp}.hostPort"), hp);
            }
            if let Some(proto) = &p.protocol {
                check_enum(errors, format!("{pp}.protocol"), proto, PROTOCOLS);
            }
            if let Some(n) = &p.name {
                if !is_port_name(n) {
                    errors.push(FieldError::new(format!("{pp}.name"), port_name_message(n)));
                } else if !port_names.insert(n.as_str()) {
                    errors.push(FieldError::new(
                        format!("{pp}.name"),
                        format!("Duplicate value: {n:?}"),
                    ));
                }
            }
        }
        for (i, e) in self.env.iter().enumerate() {
            if e.name.is_empty() {
                errors.push(required(format!("{path}.env[{i}].name"), ""));
            }
        }
        validate_env(&self.env, &self.env_from, path, errors);
        if let Some(r) = &self.resources {
            r.validate(&format!("{path}.resources"), errors);
        }
        let mut mount_paths = BTreeSet::new();
        for (i, m) in self.volume_mounts.iter().enumerate() {
            let mp = format!("{path}.volumeMounts[{i}]");
            if m.name.is_empty() {
                errors.push(required(format!("{mp}.name"), ""));
            } else if !volumes.contains(m.name.as_str()) {
                errors.push(FieldError::new(
                    format!("{mp}.name"),
                    format!("Not found: {:?}", m.name),
                ));
            }
            if let Some(sub) = m.sub_path.as_deref() {
                if sub.starts_with('/') || sub.split('/').any(|e| e == "..") {
                    errors.push(FieldError::new(
                        format!("{mp}.subPath"),
                        format!("Invalid value: {sub:?}: must be a relative path without '..'"),
                    ));
                }
            }
            if m.mount_path.is_empty() {
                errors.push(required(format!("{mp}.mountPath"), ""));
            } else if !mount_paths.insert(m.mount_path.as_str()) {
                errors.push(FieldError::new(
                    format!("{mp}.mountPath"),
                    format!("Invalid value: {:?}: must be unique", m.mount_path),
                ));
            }
        }
        let probes = [
            ("livenessProbe", &self.liveness_probe, true),
            ("readinessProbe", &self.readiness_probe, false),
            ("startupProbe", &self.startup_probe, true),
        ];
        for (field, probe, success_once) in probes {
            if let Some(p) = probe {
                p.validate(&format!("{path}.{field}"), success_once, errors);
            }
        }
        if let Some(l) = &self.lifecycle {
            if let Some(h) = &l.post_start {
                h.validate(&format!("{path}.lifecycle.postStart"), errors);
            }
            if let Some(h) = &l.pre_stop {
                h.validate(&format!("{path}.lifecycle.preStop"), errors);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::fields;
    use crate::api::{Object, Pod};
    use serde_json::json;

    #[test]
    fn resources_reject_negative_amounts_and_requests_above_limits() {
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": {
                "requests": {"cpu": "2", "memory": "-1Mi"},
                "limits": {"cpu": "500m"}}}]}
        }))
        .unwrap();
        let mut errors = Vec::new();
        pod.validate(&mut errors);
        assert_eq!(
            fields(&errors),
            vec![
                "spec.containers[0].resources.requests[memory]",
                "spec.containers[0].resources.requests[cpu]"
            ]
        );
        assert!(errors[1]
            .message
            .contains("must be less than or equal to cpu limit of 500m"));
    }
}
