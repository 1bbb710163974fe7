//! The [`Pod`] kind and its desired state: [`PodSpec`] with its admission checks, and the
//! [`PodTemplateSpec`] the workload kinds stamp their pods from. A pod's containers, probes,
//! volumes, placement constraints and status have files of their own beside this one.

use super::{
    validate_volume_sources, Affinity, Container, PodStatus, Toleration, TopologySpreadConstraint,
    Volume,
};
use crate::api::validation::{
    check_enum, check_min, dns_label_message, is_dns1123_label, required,
};
use crate::api::{ApiVersion, Extra, FieldError, Kind, Map, ObjectMeta};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// A Pod (core/v1): one or more containers scheduled together on a node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct Pod {
    /// `apiVersion`: always `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `Pod`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default)]
    pub spec: PodSpec,
    /// Observed state, written by the kubelet (or whatever runs the pod). Boxed: pods are the
    /// most numerous objects and many have no status yet, so an absent one costs one word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Box<PodStatus>>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    Pod,
    api_version = "v1",
    kind = "Pod",
    plural = "pods",
    namespaced = true,
    spec = [spec, extra],
    status = [status],
    validate = validate_pod,
    validate_update = crate::api::immutable::pod,
    defaults = set_pod_defaults
);

/// A new pod is `Pending` until whatever runs it says otherwise, as kube-apiserver's pod
/// strategy makes it (so a pod no node has taken yet shows a phase).
pub fn set_pod_defaults(pod: &mut Pod, creating: bool) {
    if creating {
        pod.status
            .get_or_insert_with(Default::default)
            .phase
            .get_or_insert_with(|| "Pending".to_string());
    }
}

/// Admission checks of a [`Pod`]: those of its [`PodSpec`].
pub fn validate_pod(pod: &Pod, errors: &mut Vec<FieldError>) {
    pod.spec.validate("spec", errors);
}

/// A pod's desired state (`spec` of a Pod, `spec.template.spec` of the workload kinds).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// The containers; at least one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Container>,
    /// Containers run to completion, in order, before `containers` start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Container>,
    /// `Always` (the default), `OnFailure` or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
    /// The node the pod is bound to; set by the scheduler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// Labels a node must have for the pod to be scheduled on it.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub node_selector: Map<String, String>,
    /// Scheduling constraints: node affinity, pod affinity and anti-affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Box<Affinity>>,
    /// Taints the pod tolerates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Seconds between the stop signal and the kill on deletion (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<i64>,
    /// Seconds the pod may run before it is failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
    /// Scheduling priority, resolved from `priority_class_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// Name of the PriorityClass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// `PreemptLowerPriority` or `Never`, resolved from the PriorityClass at admission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preemption_policy: Option<String>,
    /// The scheduler that places the pod (default `default-scheduler`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    /// Hostname of the pod (default: the pod name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Subdomain: with a headless Service of that name, `hostname.subdomain.ns.svc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdomain: Option<String>,
    /// Volumes the containers can mount.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// How pods spread across topology domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// The ServiceAccount the pod runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Whether containers get the environment variables of the Services of the pod's
    /// namespace (`WEB_SERVICE_HOST`...; default true). With `false` only the `kubernetes`
    /// Service of the `default` namespace, if there is one, still gives its variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_service_links: Option<bool>,
    /// Unmodelled fields (securityContext, dnsPolicy, hostNetwork...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// The pod template of a workload (`spec.template`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateSpec {
    /// Metadata given to the pods (labels the workload's selector matches).
    #[serde(default, skip_serializing_if = "is_default")]
    pub metadata: ObjectMeta,
    /// Spec of the pods.
    #[serde(default)]
    pub spec: PodSpec,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];

impl PodSpec {
    /// Admission checks of a pod spec found at `path` (`spec` of a Pod,
    /// `spec.template.spec` of a workload): at least one container; container and volume names
    /// DNS-1123 labels, unique; ports in range; probes well-formed; mounts name a volume;
    /// restart policy, tolerations, affinity and spread constraints use known values.
    pub fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        self.validate_with_volumes(path, &[], errors);
    }

    /// [`validate`](Self::validate), with `more_volumes` (a StatefulSet's claim template
    /// names) also mountable.
    pub(crate) fn validate_with_volumes(
        &self,
        path: &str,
        more_volumes: &[&str],
        errors: &mut Vec<FieldError>,
    ) {
        if let Some(rp) = &self.restart_policy {
            check_enum(
                errors,
                format!("{path}.restartPolicy"),
                rp,
                RESTART_POLICIES,
            );
        }
        if let Some(s) = self.termination_grace_period_seconds {
            check_min(
                errors,
                format!("{path}.terminationGracePeriodSeconds"),
                s,
                0,
            );
        }
        if let Some(s) = self.active_deadline_seconds {
            check_min(errors, format!("{path}.activeDeadlineSeconds"), s, 1);
        }
        for (field, v) in [("hostname", &self.hostname), ("subdomain", &self.subdomain)] {
            if let Some(v) = v {
                if !is_dns1123_label(v) {
                    errors.push(FieldError::new(
                        format!("{path}.{field}"),
                        dns_label_message(v),
                    ));
                }
            }
        }

        let mut volumes = BTreeSet::new();
        for (i, v) in self.volumes.iter().enumerate() {
            let p = format!("{path}.volumes[{i}].name");
            if v.name.is_empty() {
                errors.push(required(p, ""));
            } else if !is_dns1123_label(&v.name) {
                errors.push(FieldError::new(p, dns_label_message(&v.name)));
            } else if !volumes.insert(v.name.as_str()) {
                errors.push(FieldError::new(p, format!("Duplicate value: {:?}", v.name)));
            }
            validate_volume_sources(v, &format!("{path}.volumes[{i}]"), errors);
        }

        volumes.extend(more_volumes.iter().copied());
        if self.containers.is_empty() {
            errors.push(required(format!("{path}.containers"), ""));
        }
        let mut names = BTreeSet::new();
        let all = self
            .init_containers
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("{path}.initContainers[{i}]"), c))
            .chain(
                self.containers
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (format!("{path}.containers[{i}]"), c)),
            );
        for (cpath, c) in all {
            if c.name.is_empty() {
                errors.push(required(format!("{cpath}.name"), ""));
            } else if !is_dns1123_label(&c.name) {
                errors.push(FieldError::new(
                    format!("{cpath}.name"),
                    dns_label_message(&c.name),
                ));
            } else if !names.insert(c.name.as_str()) {
                errors.push(FieldError::new(
                    format!("{cpath}.name"),
                    format!("Duplicate value: {:?}", c.name),
                ));
            }
            c.validate(&cpath, &volumes, errors);
            // As Kubernetes: an init container may be a sidecar (`Always`), a main container
            // has the pod's policy; and probes are for containers that keep running.
            let init = cpath.contains(".initContainers[");
            match (c.extra.get("restartPolicy"), init) {
                (None, _) => {}
                (Some(Value::String(p)), true) if p == "Always" => {}
                (Some(v), true) => errors.push(FieldError::new(
                    format!("{cpath}.restartPolicy"),
                    format!("Unsupported value: {v}: supported values: \"Always\""),
                )),
                (Some(_), false) => errors.push(FieldError::new(
                    format!("{cpath}.restartPolicy"),
                    "Forbidden: may not be set for non-init containers",
                )),
            }
            if init && !c.is_sidecar() {
                let fields = [
                    ("livenessProbe", c.liveness_probe.is_some()),
                    ("readinessProbe", c.readiness_probe.is_some()),
                    ("startupProbe", c.startup_probe.is_some()),
                    ("lifecycle", c.lifecycle.is_some()),
                ];
                for (field, set) in fields {
                    if set {
                        errors.push(FieldError::new(
                            format!("{cpath}.{field}"),
                            "Forbidden: may not be set for init containers without restartPolicy=Always",
                        ));
                    }
                }
            }
        }

        for (i, t) in self.tolerations.iter().enumerate() {
            t.validate(&format!("{path}.tolerations[{i}]"), errors);
        }
        if let Some(na) = self
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
        {
            na.validate(&format!("{path}.affinity.nodeAffinity"), errors);
        }
        if let Some(a) = &self.affinity {
            if let Some(pa) = &a.pod_affinity {
                pa.validate(&format!("{path}.affinity.podAffinity"), errors);
            }
            if let Some(pa) = &a.pod_anti_affinity {
                pa.validate(&format!("{path}.affinity.podAntiAffinity"), errors);
            }
        }
        for (i, c) in self.topology_spread_constraints.iter().enumerate() {
            let p = format!("{path}.topologySpreadConstraints[{i}]");
            if c.max_skew < 1 {
                errors.push(FieldError::new(
                    format!("{p}.maxSkew"),
                    format!("Invalid value: {}: must be greater than zero", c.max_skew),
                ));
            }
            if c.topology_key.is_empty() {
                errors.push(required(format!("{p}.topologyKey"), ""));
            }
            check_enum(
                errors,
                format!("{p}.whenUnsatisfiable"),
                &c.when_unsatisfiable,
                &["DoNotSchedule", "ScheduleAnyway"],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::core::tests::{fields, probe_pod, round_trip};
    use crate::api::core::*;
    use crate::api::Object;
    use serde_json::json;

    #[test]
    fn pod_with_probes_round_trips_and_keeps_unmodelled_fields() {
        let pod: Pod = round_trip(probe_pod());
        let c = &pod.spec.containers[0];
        assert_eq!(c.extra["imagePullPolicy"], json!("IfNotPresent"));
        assert!(c.extra.contains_key("securityContext"));
        assert_eq!(pod.spec.extra["dnsPolicy"], json!("ClusterFirst"));
        let live = c.liveness_probe.as_ref().unwrap();
        assert_eq!(
            live.http_get.as_ref().unwrap().port,
            IntOrString::from("http")
        );
        let ready = c.readiness_probe.as_ref().unwrap();
        assert_eq!(
            ready.tcp_socket.as_ref().unwrap().port,
            IntOrString::Int(8080)
        );
        assert_eq!(
            c.resources.as_ref().unwrap().limits["memory"],
            Quantity("128Mi".into())
        );
        assert!(c.env[1].value_from.is_some());
        let mut errors = Vec::new();
        pod.validate(&mut errors);
        assert_eq!(errors, vec![]);
    }

    #[test]
    fn pod_status_change_keeps_spec_equal_but_spec_change_does_not() {
        let a: Pod = serde_json::from_value(probe_pod()).unwrap();
        let mut b = a.clone();
        b.status = Some(Box::new(PodStatus {
            phase: Some("Running".into()),
            ..Default::default()
        }));
        assert!(a.spec_eq(&b));
        b.spec.containers[0].image = Some("registry.k8s.io/goproxy:0.2".into());
        assert!(!a.spec_eq(&b));

        let mut c = a.clone();
        c.set_status_from(&b);
        assert_eq!(c.status, b.status);
        assert_eq!(c.spec, a.spec);
    }

    #[test]
    fn pod_validation_names_full_field_paths() {
        let mut pod: Pod = serde_json::from_value(probe_pod()).unwrap();
        pod.spec.restart_policy = Some("Sometimes".into());
        let mut second = pod.spec.containers[0].clone();
        second.liveness_probe = None;
        second.readiness_probe = None;
        second.startup_probe = None;
        pod.spec.containers.push(second);
        let mut third = pod.spec.containers[1].clone();
        third.name = "Bad_Name".into();
        third.ports[0].container_port = 70000;
        pod.spec.containers.push(third);
        let c = &mut pod.spec.containers[0];
        let live = c.liveness_probe.as_mut().unwrap();
        live.period_seconds = Some(0);
        live.initial_delay_seconds = Some(-1);
        live.exec = Some(ExecAction {
            command: vec!["true".into()],
            ..Default::default()
        });
        c.readiness_probe.as_mut().unwrap().tcp_socket = None;
        c.volume_mounts[0].name = "missing".into();

        let mut errors = Vec::new();
        pod.validate(&mut errors);
        let mut got = fields(&errors);
        got.sort_unstable();
        assert_eq!(
            got,
            vec![
                "spec.containers[0].livenessProbe.httpGet",
                "spec.containers[0].livenessProbe.initialDelaySeconds",
                "spec.containers[0].livenessProbe.periodSeconds",
                "spec.containers[0].readinessProbe",
                "spec.containers[0].volumeMounts[0].name",
                "spec.containers[1].name",
                "spec.containers[2].name",
                "spec.containers[2].ports[0].containerPort",
                "spec.restartPolicy",
            ],
            "{errors:#?}"
        );
        let dup = errors
            .iter()
            .find(|e| e.field == "spec.containers[1].name")
            .unwrap();
        assert!(dup.message.starts_with("Duplicate value"), "{dup}");
    }

    #[test]
    fn pod_without_containers_is_rejected() {
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}
        }))
        .unwrap();
        let mut errors = Vec::new();
        pod.validate(&mut errors);
        assert_eq!(fields(&errors), vec!["spec.containers"]);
    }

    #[test]
    fn container_keeps_memory_small() {
        // The store holds many pods: rarely-set large parts are boxed.
        assert!(
            std::mem::size_of::<Container>() <= 400,
            "{}",
            std::mem::size_of::<Container>()
        );
        assert!(
            std::mem::size_of::<PodSpec>() <= 500,
            "{}",
            std::mem::size_of::<PodSpec>()
        );
    }
}
