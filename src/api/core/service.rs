//! The [`Service`] kind: a stable virtual address and ports in front of the pods a selector
//! picks, with session affinity.

use super::IntOrString;
use crate::api::validation::{
    check_enum, check_port, check_port_number, dns_label_message, forbidden, is_dns1123_label,
    required,
};
use crate::api::{ApiVersion, Extra, FieldError, Kind, Map, ObjectMeta};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

/// A Service (core/v1): a stable address for a set of pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct Service {
    /// `apiVersion`: always `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `Service`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default)]
    pub spec: ServiceSpec,
    /// Observed state (load balancer ingress...), as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    Service,
    api_version = "v1",
    kind = "Service",
    plural = "services",
    namespaced = true,
    spec = [spec, extra],
    status = [status],
    validate = validate_service,
    validate_update = crate::api::immutable::service,
    defaults = set_service_defaults
);

/// The defaults kube-apiserver gives a Service, so that `kubectl describe` and `-o yaml`
/// show them: `type: ClusterIP`, `sessionAffinity: None`, and on each port `protocol: TCP`
/// and a `targetPort` equal to its `port`.
pub fn set_service_defaults(svc: &mut Service, _creating: bool) {
    let spec = &mut svc.spec;
    spec.type_.get_or_insert_with(|| "ClusterIP".into());
    spec.session_affinity.get_or_insert_with(|| "None".into());
    for p in &mut spec.ports {
        p.protocol.get_or_insert_with(|| "TCP".into());
        if p.target_port.is_none() {
            p.target_port = Some(IntOrString::Int(p.port));
        }
    }
}

/// Admission checks of a [`Service`]: type, session affinity, `clusterIP` (see
/// [`service_ip`](crate::api::service_ip)), and ports (at least one unless
/// headless or `ExternalName`; numbers in range; names unique and required when several).
pub fn validate_service(svc: &Service, errors: &mut Vec<FieldError>) {
    let spec = &svc.spec;
    let type_ = spec.type_.as_deref().unwrap_or("ClusterIP");
    if let Some(t) = &spec.type_ {
        check_enum(
            errors,
            "spec.type",
            t,
            &["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"],
        );
    }
    if let Some(a) = &spec.session_affinity {
        check_enum(errors, "spec.sessionAffinity", a, &["None", "ClientIP"]);
    }
    let timeout = spec
        .session_affinity_config
        .as_ref()
        .and_then(|c| c.client_ip.as_ref())
        .and_then(|c| c.timeout_seconds);
    if let Some(t) = timeout.filter(|t| !(1..=MAX_AFFINITY_TIMEOUT_SECONDS).contains(t)) {
        errors.push(FieldError::new(
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
            format!("Invalid value: {t}: must be greater than 0 and less than 86400"),
        ));
    }
    crate::api::service_ip::validate_cluster_ip(svc, errors);
    let headless = spec.cluster_ip.as_deref() == Some("None");
    if spec.ports.is_empty() && !headless && type_ != "ExternalName" {
        errors.push(required("spec.ports", ""));
    }
    let mut names = BTreeSet::new();
    for (i, p) in spec.ports.iter().enumerate() {
        let path = format!("spec.ports[{i}]");
        match &p.name {
            Some(n) => {
                if !is_dns1123_label(n) {
                    errors.push(FieldError::new(
                        format!("{path}.name"),
                        dns_label_message(n),
                    ));
                }
                if !names.insert(n.as_str()) {
                    errors.push(FieldError::new(
                        format!("{path}.name"),
                        format!("Duplicate value: {n:?}"),
                    ));
                }
            }
            None if spec.ports.len() > 1 => errors.push(required(format!("{path}.name"), "")),
            None => {}
        }
        check_port_number(errors, format!("{path}.port"), p.port);
        if let Some(proto) = &p.protocol {
            check_enum(errors, format!("{path}.protocol"), proto, PROTOCOLS);
        }
        if let Some(tp) = &p.target_port {
            check_port(errors, format!("{path}.targetPort"), tp);
        }
        // `nodePort: 0` is no node port (kube-apiserver checks only a non-zero one).
        if let Some(np) = p.node_port.filter(|&n| n != 0) {
            // As kube-apiserver: only NodePort and LoadBalancer Services have node ports.
            if type_ == "ClusterIP" || type_ == "ExternalName" {
                errors.push(forbidden(
                    format!("{path}.nodePort"),
                    &format!("may not be used when `type` is '{type_}'"),
                ));
            } else {
                check_port_number(errors, format!("{path}.nodePort"), np);
            }
        }
    }
}

pub(super) const PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP"];

/// A service's desired state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Labels of the pods traffic goes to.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub selector: Map<String, String>,
    /// Ports the service exposes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
    /// `ClusterIP` (the default), `NodePort`, `LoadBalancer` or `ExternalName`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Virtual IP; `None` for a headless service.
    #[serde(rename = "clusterIP", default, skip_serializing_if = "Option::is_none")]
    pub cluster_ip: Option<String>,
    /// `None` (the default) or `ClientIP`: connections from one client address go to one
    /// endpoint while it stays ready (see [`ServiceSpec::affinity_timeout`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity: Option<String>,
    /// Settings of the session affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity_config: Option<SessionAffinityConfig>,
    /// Unmodelled fields (clusterIPs, externalName, ipFamilies...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Settings of a Service's session affinity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionAffinityConfig {
    /// Settings of `ClientIP` affinity.
    #[serde(rename = "clientIP", default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<ClientIpConfig>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Settings of `ClientIP` session affinity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClientIpConfig {
    /// How long a client sticks to its endpoint after its last connection: 1 to 86400
    /// seconds (default 10800, three hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Kubernetes' default `sessionAffinityConfig.clientIP.timeoutSeconds`: three hours.
pub const DEFAULT_AFFINITY_TIMEOUT_SECONDS: i32 = 10800;

/// The largest `sessionAffinityConfig.clientIP.timeoutSeconds`: one day.
pub const MAX_AFFINITY_TIMEOUT_SECONDS: i32 = 86400;

impl ServiceSpec {
    /// How long `ClientIP` affinity keeps a client on its endpoint; `None` without
    /// `sessionAffinity: ClientIP`.
    pub fn affinity_timeout(&self) -> Option<std::time::Duration> {
        if self.session_affinity.as_deref() != Some("ClientIP") {
            return None;
        }
        let secs = self
            .session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .unwrap_or(DEFAULT_AFFINITY_TIMEOUT_SECONDS)
            .clamp(1, MAX_AFFINITY_TIMEOUT_SECONDS);
        Some(std::time::Duration::from_secs(secs as u64))
    }
}

/// A port of a service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Name; required when the service has several ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `TCP` (the default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Port the service listens on.
    #[serde(default)]
    pub port: i32,
    /// Port number or container port name on the pods (default: `port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<IntOrString>,
    /// Port on every node, for `NodePort` and `LoadBalancer` services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<i32>,
    /// Unmodelled fields (appProtocol).
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::super::tests::{fields, round_trip};
    use super::*;
    use crate::api::core::*;
    use crate::api::Object;
    use serde_json::json;

    #[test]
    fn service_round_trips_with_int_and_named_target_ports() {
        let v = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "my-service"},
            "spec": {
                "type": "NodePort",
                "selector": {"app.kubernetes.io/name": "MyApp"},
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 9376, "nodePort": 30007},
                    {"name": "metrics", "port": 9090, "targetPort": "metrics", "appProtocol": "http"}
                ],
                "ipFamilyPolicy": "SingleStack"
            },
            "status": {"loadBalancer": {}}
        });
        let svc: Service = round_trip(v);
        assert_eq!(svc.spec.type_.as_deref(), Some("NodePort"));
        assert_eq!(svc.spec.ports[0].target_port, Some(IntOrString::Int(9376)));
        assert_eq!(
            svc.spec.ports[1].target_port,
            Some(IntOrString::from("metrics"))
        );
        assert_eq!(svc.spec.ports[1].extra["appProtocol"], json!("http"));
        let mut errors = Vec::new();
        svc.validate(&mut errors);
        assert_eq!(errors, vec![]);
    }

    #[test]
    fn service_validation_names_port_fields() {
        let mut svc: Service = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"type": "Magic", "ports": [{"port": 0}, {"name": "a", "port": 80, "targetPort": "Not_A_Name"}]}
        }))
        .unwrap();
        let mut errors = Vec::new();
        svc.validate(&mut errors);
        assert_eq!(
            fields(&errors),
            vec![
                "spec.type",
                "spec.ports[0].name",
                "spec.ports[0].port",
                "spec.ports[1].targetPort"
            ]
        );
        svc.spec.ports.clear();
        errors.clear();
        svc.spec.type_ = None;
        svc.validate(&mut errors);
        assert_eq!(fields(&errors), vec!["spec.ports"]);
    }

    #[test]
    fn a_node_port_is_refused_where_the_type_has_none() {
        let svc = |type_: &str| -> Service {
            serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                "spec": {"type": type_, "selector": {"app": "web"},
                         "ports": [{"port": 8082, "nodePort": 30081}]}
            }))
            .unwrap()
        };
        let mut errors = Vec::new();
        svc("ClusterIP").validate(&mut errors);
        assert_eq!(
            errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
        );
        errors.clear();
        svc("NodePort").validate(&mut errors);
        assert_eq!(errors, vec![]);
        // `nodePort: 0` is no node port.
        let mut zero = svc("ClusterIP");
        zero.spec.ports[0].node_port = Some(0);
        zero.validate(&mut errors);
        assert_eq!(errors, vec![]);
    }

    #[test]
    fn a_service_gets_kube_apiservers_defaults() {
        let mut svc: Service = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"selector": {"app": "web"},
                     "ports": [{"port": 80}, {"port": 81, "targetPort": "http", "protocol": "UDP"}]}
        }))
        .unwrap();
        svc.set_defaults(true);
        assert_eq!(svc.spec.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(svc.spec.session_affinity.as_deref(), Some("None"));
        let p = &svc.spec.ports;
        assert_eq!(
            (p[0].protocol.as_deref(), &p[0].target_port),
            (Some("TCP"), &Some(IntOrString::Int(80)))
        );
        assert_eq!(
            (p[1].protocol.as_deref(), &p[1].target_port),
            (Some("UDP"), &Some(IntOrString::from("http")))
        );
    }
}
