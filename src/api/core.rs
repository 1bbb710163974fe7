//! core/v1 kinds: [`Pod`], [`Node`], [`Service`], [`Endpoints`], [`Event`],
//! [`PersistentVolumeClaim`], [`Namespace`], [`ConfigMap`] and [`Secret`], and the types the
//! workload kinds share with them (containers, probes, volumes, [`IntOrString`]...).
//!
//! Field names and shapes follow the Kubernetes wire format. Fields that are enums in
//! Kubernetes stay strings (so unknown values survive a round trip) and are checked by the
//! kind's validation; every struct keeps the fields it does not model in its `extra`.

use super::validation::{
    check_enum, check_min, check_port, check_port_number, dns_label_message, is_dns1123_label,
    is_port_name, port_name_message, required,
};
use super::{
    ApiVersion, Condition, Extra, FieldError, Kind, LabelSelector, Map, ObjectMeta, Quantity, Time,
};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;

mod env;
mod pod_affinity;
mod secret;
mod volume_sources;
pub use env::*;
pub use pod_affinity::*;
pub use secret::*;
pub use volume_sources::*;

/// Resource amounts by resource name (`cpu`, `memory`, `storage`...): Kubernetes' ResourceList.
pub type ResourceList = Map<String, Quantity>;

// ---------------------------------------------------------------------------------------------
// IntOrString
// ---------------------------------------------------------------------------------------------

/// A field that holds either an integer or a string: `maxSurge: 1` or `maxSurge: "25%"`,
/// `targetPort: 8080` or `targetPort: http`. Written back in the form it was read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IntOrString {
    /// An integer: a count or a port number.
    Int(i32),
    /// A string: a percentage (`"25%"`) or a port name (`"http"`).
    String(String),
}

impl Default for IntOrString {
    fn default() -> Self {
        IntOrString::Int(0)
    }
}

impl From<i32> for IntOrString {
    fn from(v: i32) -> Self {
        IntOrString::Int(v)
    }
}

impl From<&str> for IntOrString {
    fn from(v: &str) -> Self {
        IntOrString::String(v.to_string())
    }
}

impl From<String> for IntOrString {
    fn from(v: String) -> Self {
        IntOrString::String(v)
    }
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(i) => write!(f, "{i}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

impl IntOrString {
    /// The percentage when the value is a string `"<integer>%"`.
    pub fn percent(&self) -> Option<i64> {
        match self {
            IntOrString::String(s) => s.strip_suffix('%')?.parse().ok(),
            IntOrString::Int(_) => None,
        }
    }

    /// The value as a count out of `total`: an integer as is, a percentage of `total`, rounded
    /// up or down (Kubernetes' `GetScaledValueFromIntOrPercent`). A string that is not a
    /// percentage is an error.
    pub fn resolve(&self, total: i32, round_up: bool) -> Result<i32, String> {
        match self {
            IntOrString::Int(i) => Ok(*i),
            IntOrString::String(s) => {
                let Some(number) = s.strip_suffix('%') else {
                    return Err(format!(
                        "invalid value {s:?}: not an integer or a percentage"
                    ));
                };
                let pct: i64 = number.parse().map_err(|_| {
                    format!("invalid value {s:?}: a percentage is an integer followed by '%'")
                })?;
                let product = i64::from(total) * pct;
                let scaled = if round_up {
                    -(-product).div_euclid(100)
                } else {
                    product.div_euclid(100)
                };
                i32::try_from(scaled).map_err(|_| format!("{s} of {total} is out of range"))
            }
        }
    }
}

impl Serialize for IntOrString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrString::Int(i) => s.serialize_i32(*i),
            IntOrString::String(v) => s.serialize_str(v),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 32-bit integer or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrString, E> {
                i32::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i32::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::String(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<IntOrString, E> {
                Ok(IntOrString::String(v))
            }
        }
        d.deserialize_any(V)
    }
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

// ---------------------------------------------------------------------------------------------
// Pod
// ---------------------------------------------------------------------------------------------

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
    validate_update = super::immutable::pod,
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
    /// Compute resource requests and limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// A container's lifecycle hooks, run by the node agent as the kubelet runs them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle {
    /// Runs right after the container starts (beside it, not before it). The container is
    /// not started (no probes, not ready) until it returns; when it fails, the container
    /// is killed and restarted by the pod's restart policy (event `FailedPostStartHook`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_start: Option<LifecycleHandler>,
    /// Runs before the container is sent its stop signal, whatever the reason for the stop
    /// (deletion, a failed liveness probe, a deadline), within the grace period: the signal
    /// follows when it returns, or the container is killed when the grace period ends first
    /// (event `FailedPreStopHook` when it fails).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_stop: Option<LifecycleHandler>,
    /// Unmodelled fields (stopSignal...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// What a lifecycle hook does: exactly one of `exec`, `httpGet` and `sleep`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LifecycleHandler {
    /// Runs a command with the container's environment (and mounts); exit status 0 is
    /// success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecAction>,
    /// An HTTP GET against the pod; a status in 200..400 is success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGetAction>,
    /// Waits, on the engine clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep: Option<SleepAction>,
    /// Kept for compatibility by Kubernetes, which never runs it; refused by steady.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocketAction>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `sleep` hook handler.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SleepAction {
    /// Seconds to wait (>= 0).
    pub seconds: i64,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Kubernetes' check of a probe's or hook's handlers (`(name, set)`): exactly one is set.
fn exactly_one_handler(path: &str, handlers: &[(&str, bool)], errors: &mut Vec<FieldError>) {
    let set: Vec<&str> = handlers
        .iter()
        .filter(|(_, s)| *s)
        .map(|(n, _)| *n)
        .collect();
    match set.len() {
        0 => errors.push(FieldError::new(
            path,
            "Required value: must specify a handler type",
        )),
        1 => {}
        _ => errors.push(FieldError::new(
            format!("{path}.{}", set[1]),
            "Forbidden: may not specify more than 1 handler type",
        )),
    }
}

impl LifecycleHandler {
    /// Admission checks of the hook at `path`: exactly one handler, and that one valid.
    pub fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        exactly_one_handler(
            path,
            &[
                ("exec", self.exec.is_some()),
                ("httpGet", self.http_get.is_some()),
                ("sleep", self.sleep.is_some()),
                ("tcpSocket", self.tcp_socket.is_some()),
            ],
            errors,
        );
        if self.tcp_socket.is_some() {
            errors.push(FieldError::new(
                format!("{path}.tcpSocket"),
                "Forbidden: tcpSocket is not a lifecycle handler Kubernetes runs (it is kept \
                 only for compatibility); use exec, httpGet or sleep",
            ));
        }
        if let Some(exec) = &self.exec {
            if exec.command.is_empty() {
                errors.push(required(format!("{path}.exec.command"), ""));
            }
        }
        if let Some(h) = &self.http_get {
            check_port(errors, format!("{path}.httpGet.port"), &h.port);
            if let Some(s) = &h.scheme {
                check_enum(
                    errors,
                    format!("{path}.httpGet.scheme"),
                    s,
                    &["HTTP", "HTTPS"],
                );
            }
        }
        if let Some(s) = &self.sleep {
            check_min(errors, format!("{path}.sleep.seconds"), s.seconds, 0);
        }
    }
}

/// The `heartbeat` probe handler (steady's extension for in-process workers); it has no
/// fields of its own: the probe's `periodSeconds` is the longest silence tolerated.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct HeartbeatAction {
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
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

/// A health check of a container. Exactly one handler (`exec`, `httpGet`, `tcpSocket`,
/// `grpc`) is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// Runs a command in the container; exit status 0 is success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecAction>,
    /// An HTTP GET; a status in 200..400 is success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGetAction>,
    /// A TCP connect; an open connection is success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocketAction>,
    /// A gRPC health check (`port`, `service`), as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<Value>,
    /// steady's own handler for in-process workers: the probe succeeds when the worker
    /// reported a heartbeat within the last `periodSeconds` (the Agones `Health()` ping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<HeartbeatAction>,
    /// Seconds after the container starts before the first probe (>= 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<i32>,
    /// Seconds between probes (default 10, >= 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<i32>,
    /// Seconds before a probe times out (default 1, >= 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    /// Consecutive successes for success after a failure (default 1; 1 for liveness and
    /// startup probes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<i32>,
    /// Consecutive failures for failure (default 3, >= 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i32>,
    /// Grace period used when a failing probe kills the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<i64>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `exec` probe handler.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExecAction {
    /// Command line, run without a shell.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `httpGet` probe handler.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HttpGetAction {
    /// Request path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Port number or container port name.
    #[serde(default)]
    pub port: IntOrString,
    /// Host to connect to (default: the pod IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `HTTP` (the default) or `HTTPS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_headers: Vec<HttpHeader>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A header of an `httpGet` probe.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HttpHeader {
    /// Header name.
    #[serde(default)]
    pub name: String,
    /// Header value.
    #[serde(default)]
    pub value: String,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `tcpSocket` probe handler.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TcpSocketAction {
    /// Port number or container port name.
    #[serde(default)]
    pub port: IntOrString,
    /// Host to connect to (default: the pod IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Unmodelled fields.
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
    /// Unmodelled fields (type).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A taint the pod tolerates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Toleration {
    /// Taint key; empty with operator `Exists` tolerates everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `Equal` (the default) or `Exists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Taint value, for operator `Equal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`; empty matches all effects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    /// For `NoExecute`: seconds the pod stays bound after the taint appears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Scheduling affinity of a pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Affinity {
    /// Constraints on the node's labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<NodeAffinity>,
    /// Co-location with other pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_affinity: Option<PodAffinity>,
    /// Separation from other pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_anti_affinity: Option<PodAntiAffinity>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Node affinity: hard and soft constraints on the node a pod runs on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeAffinity {
    /// Hard constraint: the node must match one of the terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_during_scheduling_ignored_during_execution: Option<NodeSelector>,
    /// Soft constraints: nodes matching heavier terms are preferred.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred_during_scheduling_ignored_during_execution: Vec<PreferredSchedulingTerm>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A node selector: the terms are ORed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeSelector {
    /// The terms; at least one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_selector_terms: Vec<NodeSelectorTerm>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A node selector term: every requirement must hold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorTerm {
    /// Requirements on node labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<NodeSelectorRequirement>,
    /// Requirements on node fields (`metadata.name`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_fields: Vec<NodeSelectorRequirement>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One requirement of a node selector term: `key operator values`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorRequirement {
    /// Label key (or field name).
    #[serde(default)]
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt` or `Lt`.
    #[serde(default)]
    pub operator: String,
    /// Values: several for `In`/`NotIn`, none for `Exists`/`DoesNotExist`, one integer for
    /// `Gt`/`Lt`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A weighted soft node affinity term.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PreferredSchedulingTerm {
    /// Weight, 1 to 100.
    #[serde(default)]
    pub weight: i32,
    /// The term.
    #[serde(default)]
    pub preference: NodeSelectorTerm,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// How matching pods spread across a topology (zones, nodes).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TopologySpreadConstraint {
    /// Largest allowed difference of matching pods between two domains (>= 1).
    #[serde(default)]
    pub max_skew: i32,
    /// Node label whose values are the domains.
    #[serde(default)]
    pub topology_key: String,
    /// `DoNotSchedule` or `ScheduleAnyway`.
    #[serde(default)]
    pub when_unsatisfiable: String,
    /// Which pods are counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Unmodelled fields (minDomains, matchLabelKeys...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A pod's observed state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// `PodScheduled`, `Initialized`, `ContainersReady`, `Ready`...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Status of each container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_statuses: Vec<ContainerStatus>,
    /// Status of each init container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_container_statuses: Vec<ContainerStatus>,
    /// IP of the node.
    #[serde(rename = "hostIP", default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    /// IP of the pod.
    #[serde(rename = "podIP", default, skip_serializing_if = "Option::is_none")]
    pub pod_ip: Option<String>,
    /// IPs of the pod (one per address family).
    #[serde(rename = "podIPs", default, skip_serializing_if = "Vec::is_empty")]
    pub pod_ips: Vec<PodIp>,
    /// When the kubelet accepted the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// Why the pod is in its phase (`Evicted`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `Guaranteed`, `Burstable` or `BestEffort`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos_class: Option<String>,
    /// Node the scheduler nominated for the pod after preempting others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nominated_node_name: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One IP of a pod (`status.podIPs[]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PodIp {
    /// The address.
    #[serde(default)]
    pub ip: String,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Observed state of one container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    /// Container name.
    #[serde(default)]
    pub name: String,
    /// Current state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ContainerState>,
    /// State of the previous run, for restarted containers (boxed: rarely set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_state: Option<Box<ContainerState>>,
    /// Passes its readiness probe.
    #[serde(default)]
    pub ready: bool,
    /// Passed its startup probe (or has none) and is running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<bool>,
    /// Times the container was restarted.
    #[serde(default)]
    pub restart_count: i32,
    /// Image the container runs.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// Runtime id, `<type>://<id>`.
    #[serde(
        rename = "containerID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub container_id: Option<String>,
    /// Unmodelled fields (imageID, resources...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// State of a container: exactly one of `waiting`, `running`, `terminated`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    /// Not running yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<ContainerStateWaiting>,
    /// Running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<ContainerStateRunning>,
    /// Exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminated: Option<Box<ContainerStateTerminated>>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A container that is not running yet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContainerStateWaiting {
    /// Why (`ContainerCreating`, `CrashLoopBackOff`, `ImagePullBackOff`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A running container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContainerStateRunning {
    /// When the container (last) started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An exited container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContainerStateTerminated {
    /// Exit status.
    #[serde(default)]
    pub exit_code: i32,
    /// Signal that killed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Why (`Completed`, `Error`, `OOMKilled`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// Runtime id, `<type>://<id>`.
    #[serde(
        rename = "containerID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub container_id: Option<String>,
    /// Unmodelled fields.
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

// ---------------------------------------------------------------------------------------------
// Node
// ---------------------------------------------------------------------------------------------

/// A Node (core/v1, cluster-scoped): a machine pods run on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct Node {
    /// `apiVersion`: always `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `Node`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default)]
    pub spec: NodeSpec,
    /// Observed state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<NodeStatus>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    Node,
    api_version = "v1",
    kind = "Node",
    plural = "nodes",
    namespaced = false,
    spec = [spec, extra],
    status = [status],
    validate = validate_node
);

/// Admission checks of a [`Node`]: taints have a key and a known effect, unique per
/// key and effect.
pub fn validate_node(node: &Node, errors: &mut Vec<FieldError>) {
    let mut seen = BTreeSet::new();
    for (i, t) in node.spec.taints.iter().enumerate() {
        let path = format!("spec.taints[{i}]");
        if t.key.is_empty() {
            errors.push(required(format!("{path}.key"), ""));
        }
        if t.effect.is_empty() {
            errors.push(required(format!("{path}.effect"), ""));
        } else {
            check_enum(errors, format!("{path}.effect"), &t.effect, TAINT_EFFECTS);
        }
        if !seen.insert((t.key.as_str(), t.effect.as_str())) {
            errors.push(FieldError::new(
                path,
                format!(
                    "Duplicate value: taints must be unique by key and effect ({}:{})",
                    t.key, t.effect
                ),
            ));
        }
    }
}

const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// A node's desired state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    /// Cordoned: no new pods are scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unschedulable: Option<bool>,
    /// Taints repelling pods that do not tolerate them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
    /// Pod IP range of the node.
    #[serde(rename = "podCIDR", default, skip_serializing_if = "Option::is_none")]
    pub pod_cidr: Option<String>,
    /// Id of the node at its infrastructure provider.
    #[serde(
        rename = "providerID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_id: Option<String>,
    /// Unmodelled fields (podCIDRs...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A taint of a node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    /// Key.
    #[serde(default)]
    pub key: String,
    /// Value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    #[serde(default)]
    pub effect: String,
    /// When a `NoExecute` taint was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added: Option<Time>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A node's observed state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// Total resources of the node.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub capacity: ResourceList,
    /// Resources available to pods.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub allocatable: ResourceList,
    /// `Ready`, `MemoryPressure`, `DiskPressure`...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Addresses of the node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<NodeAddress>,
    /// Versions of the kubelet, runtime, OS..., as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_info: Option<Value>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An address of a node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeAddress {
    /// `Hostname`, `InternalIP`, `ExternalIP`, `InternalDNS` or `ExternalDNS`.
    #[serde(rename = "type", default)]
    pub type_: String,
    /// The address.
    #[serde(default)]
    pub address: String,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

// ---------------------------------------------------------------------------------------------
// Service, Endpoints
// ---------------------------------------------------------------------------------------------

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
    validate_update = super::immutable::service
);

/// Admission checks of a [`Service`]: type, session affinity, `clusterIP` (see
/// [`service_ip`](super::service_ip)), and ports (at least one unless
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
    super::service_ip::validate_cluster_ip(svc, errors);
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
        if let Some(np) = p.node_port {
            check_port_number(errors, format!("{path}.nodePort"), np);
        }
    }
}

const PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP"];

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

/// Endpoints (core/v1): the addresses behind a service, named after it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct Endpoints {
    /// `apiVersion`: always `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `Endpoints`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Sets of addresses sharing the same ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<EndpointSubset>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    Endpoints,
    api_version = "v1",
    kind = "Endpoints",
    plural = "endpoints",
    namespaced = true,
    spec = [subsets, extra],
    status = [],
    validate = validate_endpoints
);

/// Admission checks of [`Endpoints`]: addresses have an IP, ports are in range.
pub fn validate_endpoints(ep: &Endpoints, errors: &mut Vec<FieldError>) {
    for (i, s) in ep.subsets.iter().enumerate() {
        let lists = [
            ("addresses", &s.addresses),
            ("notReadyAddresses", &s.not_ready_addresses),
        ];
        for (field, list) in lists {
            for (j, a) in list.iter().enumerate() {
                if a.ip.is_empty() {
                    errors.push(required(format!("subsets[{i}].{field}[{j}].ip"), ""));
                }
            }
        }
        for (j, p) in s.ports.iter().enumerate() {
            check_port_number(errors, format!("subsets[{i}].ports[{j}].port"), p.port);
            if let Some(proto) = &p.protocol {
                check_enum(
                    errors,
                    format!("subsets[{i}].ports[{j}].protocol"),
                    proto,
                    PROTOCOLS,
                );
            }
        }
    }
}

/// Addresses and the ports they all serve.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EndpointSubset {
    /// Ready addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<EndpointAddress>,
    /// Addresses not ready (yet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    /// Ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<EndpointPort>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One endpoint address.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EndpointAddress {
    /// IP.
    #[serde(default)]
    pub ip: String,
    /// Hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Node hosting the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// The object (pod) behind the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<ObjectReference>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One endpoint port.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EndpointPort {
    /// Name (the service port's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Port number.
    #[serde(default)]
    pub port: i32,
    /// `TCP` (the default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Unmodelled fields (appProtocol).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A reference to an object (Event's `involvedObject`, Endpoints' `targetRef`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// Kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// apiVersion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// resourceVersion the reference was made at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// A part of the object (`spec.containers{nginx}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_path: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

// ---------------------------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------------------------

/// An Event (core/v1): a report of something that happened to an object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `apiVersion`: always `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `Event`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The object the event is about.
    #[serde(default)]
    pub involved_object: ObjectReference,
    /// Machine-readable CamelCase reason (`Scheduled`, `BackOff`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `Normal` or `Warning`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// How many times the event occurred (deduplicated events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
    /// First occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_timestamp: Option<Time>,
    /// Latest occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<Time>,
    /// The component that reported the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<EventSource>,
    /// Controller that emitted the event (`kubernetes.io/kubelet`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_component: Option<String>,
    /// Instance of the controller (`kubelet-node1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_instance: Option<String>,
    /// Unmodelled fields (eventTime, action, related, series).
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    Event,
    api_version = "v1",
    kind = "Event",
    plural = "events",
    namespaced = true,
    spec = [
        involved_object,
        reason,
        message,
        type_,
        count,
        first_timestamp,
        last_timestamp,
        source,
        reporting_component,
        reporting_instance,
        extra
    ],
    status = []
);

/// The component that reported an [`Event`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EventSource {
    /// Component (`kubelet`, `default-scheduler`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Node name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

// ---------------------------------------------------------------------------------------------
// PersistentVolumeClaim
// ---------------------------------------------------------------------------------------------

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
    validate_update = super::immutable::persistent_volume_claim
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

// ---------------------------------------------------------------------------------------------
// Namespace, ConfigMap
// ---------------------------------------------------------------------------------------------

/// A Namespace (core/v1, cluster-scoped).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct Namespace {
    /// `apiVersion`: always `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `Namespace`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state; usually omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<NamespaceSpec>,
    /// Observed state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<NamespaceStatus>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    Namespace,
    api_version = "v1",
    kind = "Namespace",
    plural = "namespaces",
    namespaced = false,
    spec = [spec, extra],
    status = [status]
);

/// A namespace's desired state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSpec {
    /// Finalizers that must run before the namespace is removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A namespace's observed state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NamespaceStatus {
    /// `Active` or `Terminating`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

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
    validate_update = super::immutable::config_map
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

const CONFIG_KEY_MESSAGE: &str =
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

impl ResourceRequirements {
    /// Admission checks of a container's resources
    /// ([`validate_requirements`](crate::api::resources::validate_requirements)).
    pub fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        crate::api::resources::validate_requirements(self, path, errors);
    }
}

impl Container {
    fn validate(&self, path: &str, volumes: &BTreeSet<&str>, errors: &mut Vec<FieldError>) {
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

impl Probe {
    /// Admission checks of a probe found at `path`: exactly one handler; ports in range or
    /// valid port names; `httpGet` header names of alphanumerics and `-`; periods, timeouts
    /// and thresholds >= 1 and the initial delay >= 0 when set; with `success_once`
    /// (liveness and startup probes) a success threshold of 1.
    pub fn validate(&self, path: &str, success_once: bool, errors: &mut Vec<FieldError>) {
        exactly_one_handler(
            path,
            &[
                ("exec", self.exec.is_some()),
                ("httpGet", self.http_get.is_some()),
                ("tcpSocket", self.tcp_socket.is_some()),
                ("grpc", self.grpc.is_some()),
                ("heartbeat", self.heartbeat.is_some()),
            ],
            errors,
        );
        if let Some(exec) = &self.exec {
            if exec.command.is_empty() {
                errors.push(required(format!("{path}.exec.command"), ""));
            }
        }
        if let Some(h) = &self.http_get {
            check_port(errors, format!("{path}.httpGet.port"), &h.port);
            for (i, header) in h.http_headers.iter().enumerate() {
                let name = &header.name;
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    errors.push(FieldError::new(
                        format!("{path}.httpGet.httpHeaders[{i}].name"),
                        format!(
                            "Invalid value: {name:?}: a valid HTTP header must consist of \
                             alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used \
                             for validation is '[-A-Za-z0-9]+')"
                        ),
                    ));
                }
            }
            if let Some(s) = &h.scheme {
                check_enum(
                    errors,
                    format!("{path}.httpGet.scheme"),
                    s,
                    &["HTTP", "HTTPS"],
                );
            }
        }
        if let Some(t) = &self.tcp_socket {
            check_port(errors, format!("{path}.tcpSocket.port"), &t.port);
        }
        if let Some(v) = self.initial_delay_seconds {
            check_min(errors, format!("{path}.initialDelaySeconds"), v.into(), 0);
        }
        let at_least_one = [
            ("periodSeconds", self.period_seconds),
            ("timeoutSeconds", self.timeout_seconds),
            ("successThreshold", self.success_threshold),
            ("failureThreshold", self.failure_threshold),
        ];
        for (field, v) in at_least_one {
            if let Some(v) = v {
                check_min(errors, format!("{path}.{field}"), v.into(), 1);
            }
        }
        if success_once {
            if let Some(v) = self.success_threshold.filter(|v| *v > 1) {
                errors.push(FieldError::new(
                    format!("{path}.successThreshold"),
                    format!("Invalid value: {v}: must be 1"),
                ));
            }
        }
        if let Some(v) = self.termination_grace_period_seconds {
            check_min(
                errors,
                format!("{path}.terminationGracePeriodSeconds"),
                v,
                1,
            );
        }
    }
}

impl Toleration {
    /// Whether this toleration tolerates `taint` (Kubernetes' rules: an empty effect matches
    /// every effect; an empty key with `Exists` matches every taint; `Equal` (the default)
    /// compares values, `Exists` ignores them).
    pub fn tolerates(&self, taint: &Taint) -> bool {
        let effect = self.effect.as_deref().unwrap_or("");
        if !effect.is_empty() && effect != taint.effect {
            return false;
        }
        let key = self.key.as_deref().unwrap_or("");
        if !key.is_empty() && key != taint.key {
            return false;
        }
        match self.operator.as_deref().unwrap_or("Equal") {
            "Exists" => true,
            "Equal" | "" => {
                self.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
            }
            _ => false,
        }
    }

    fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        let key_empty = self.key.as_deref().unwrap_or("").is_empty();
        match self.operator.as_deref() {
            None | Some("Equal") => {
                if key_empty {
                    errors.push(FieldError::new(
                        format!("{path}.operator"),
                        "Invalid value: operator must be Exists when `key` is empty",
                    ));
                }
            }
            Some("Exists") => {
                if !self.value.as_deref().unwrap_or("").is_empty() {
                    errors.push(FieldError::new(
                        format!("{path}.value"),
                        "Invalid value: value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            Some(op) => check_enum(errors, format!("{path}.operator"), op, &["Equal", "Exists"]),
        }
        let effect = self.effect.as_deref().unwrap_or("");
        if !effect.is_empty() {
            check_enum(errors, format!("{path}.effect"), effect, TAINT_EFFECTS);
        }
        if self.toleration_seconds.is_some() && effect != "NoExecute" {
            errors.push(FieldError::new(
                format!("{path}.effect"),
                "Invalid value: effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
    }
}

impl NodeAffinity {
    fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        if let Some(req) = &self.required_during_scheduling_ignored_during_execution {
            let p =
                format!("{path}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
            if req.node_selector_terms.is_empty() {
                errors.push(FieldError::new(
                    &p,
                    "Required value: must have at least one node selector term",
                ));
            }
            for (i, t) in req.node_selector_terms.iter().enumerate() {
                t.validate(&format!("{p}[{i}]"), errors);
            }
        }
        for (i, t) in self
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .enumerate()
        {
            let p = format!("{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
            if !(1..=100).contains(&t.weight) {
                errors.push(FieldError::new(
                    format!("{p}.weight"),
                    format!("Invalid value: {}: must be in the range 1-100", t.weight),
                ));
            }
            t.preference.validate(&format!("{p}.preference"), errors);
        }
    }
}

impl NodeSelectorTerm {
    fn validate(&self, path: &str, errors: &mut Vec<FieldError>) {
        let reqs = self
            .match_expressions
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("{path}.matchExpressions[{i}]"), r))
            .chain(
                self.match_fields
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (format!("{path}.matchFields[{i}]"), r)),
            );
        for (p, r) in reqs {
            if r.key.is_empty() {
                errors.push(required(format!("{p}.key"), ""));
            }
            let values_ok = match r.operator.as_str() {
                "In" | "NotIn" => !r.values.is_empty(),
                "Exists" | "DoesNotExist" => r.values.is_empty(),
                "Gt" | "Lt" => r.values.len() == 1 && r.values[0].parse::<i64>().is_ok(),
                op => {
                    check_enum(
                        errors,
                        format!("{p}.operator"),
                        op,
                        &["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"],
                    );
                    true
                }
            };
            if !values_ok {
                errors.push(FieldError::new(
                    format!("{p}.values"),
                    format!(
                        "Invalid value: wrong number or form of values for operator {:?}",
                        r.operator
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Object;
    use serde_json::json;

    fn round_trip<K: serde::de::DeserializeOwned + Serialize>(v: Value) -> K {
        let k: K = serde_json::from_value(v.clone()).expect("decodes");
        assert_eq!(serde_json::to_value(&k).expect("encodes"), v);
        k
    }

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

    #[test]
    fn tolerations_match_taints_by_key_value_and_effect() {
        let taint = |k: &str, v: Option<&str>, e: &str| Taint {
            key: k.into(),
            value: v.map(Into::into),
            effect: e.into(),
            ..Default::default()
        };
        let tol =
            |k: Option<&str>, op: Option<&str>, v: Option<&str>, e: Option<&str>| Toleration {
                key: k.map(Into::into),
                operator: op.map(Into::into),
                value: v.map(Into::into),
                effect: e.map(Into::into),
                ..Default::default()
            };
        let gpu = taint("gpu", Some("yes"), "NoSchedule");
        assert!(tol(Some("gpu"), None, Some("yes"), Some("NoSchedule")).tolerates(&gpu));
        assert!(!tol(Some("gpu"), None, Some("no"), Some("NoSchedule")).tolerates(&gpu));
        assert!(tol(Some("gpu"), Some("Exists"), None, None).tolerates(&gpu));
        assert!(!tol(Some("gpu"), Some("Exists"), None, Some("NoExecute")).tolerates(&gpu));
        assert!(
            tol(None, Some("Exists"), None, None).tolerates(&gpu),
            "tolerates everything"
        );
        assert!(!tol(Some("other"), Some("Exists"), None, None).tolerates(&gpu));
        let unreachable = taint("node.kubernetes.io/unreachable", None, "NoExecute");
        assert!(tol(
            Some("node.kubernetes.io/unreachable"),
            Some("Exists"),
            None,
            Some("NoExecute")
        )
        .tolerates(&unreachable));
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    fn probe_pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "goproxy", "labels": {"app": "goproxy"}},
            "spec": {
                "containers": [{
                    "name": "goproxy",
                    "image": "registry.k8s.io/goproxy:0.1",
                    "imagePullPolicy": "IfNotPresent",
                    "securityContext": {"runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}},
                    "ports": [{"containerPort": 8080, "name": "http"}],
                    "env": [
                        {"name": "MODE", "value": "proxy"},
                        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
                    ],
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "64Mi"},
                        "limits": {"cpu": "500m", "memory": "128Mi"}
                    },
                    "readinessProbe": {
                        "tcpSocket": {"port": 8080},
                        "initialDelaySeconds": 15,
                        "periodSeconds": 10
                    },
                    "livenessProbe": {
                        "httpGet": {
                            "path": "/healthz",
                            "port": "http",
                            "httpHeaders": [{"name": "Custom-Header", "value": "Awesome"}]
                        },
                        "initialDelaySeconds": 15,
                        "periodSeconds": 10,
                        "failureThreshold": 3
                    },
                    "startupProbe": {
                        "exec": {"command": ["cat", "/tmp/healthy"]},
                        "failureThreshold": 30,
                        "periodSeconds": 10
                    },
                    "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]
                }],
                "volumes": [{"name": "cache", "emptyDir": {"sizeLimit": "500Mi"}}],
                "tolerations": [{"key": "example", "operator": "Exists", "effect": "NoSchedule"}],
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [{
                                "matchExpressions": [{
                                    "key": "topology.kubernetes.io/zone",
                                    "operator": "In",
                                    "values": ["antarctica-east1", "antarctica-west1"]
                                }]
                            }]
                        },
                        "preferredDuringSchedulingIgnoredDuringExecution": [{
                            "weight": 1,
                            "preference": {
                                "matchExpressions": [{
                                    "key": "another-node-label-key",
                                    "operator": "In",
                                    "values": ["another-node-label-value"]
                                }]
                            }
                        }]
                    },
                    "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app": "goproxy"}},
                            "topologyKey": "kubernetes.io/hostname"
                        }
                    }]}
                },
                "dnsPolicy": "ClusterFirst"
            }
        })
    }

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
    fn pod_status_round_trips() {
        let v = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], "nodeName": "node-1"},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}],
                "hostIP": "10.0.0.1",
                "podIP": "10.1.0.5",
                "podIPs": [{"ip": "10.1.0.5"}],
                "qosClass": "BestEffort",
                "containerStatuses": [{
                    "name": "c",
                    "ready": true,
                    "started": true,
                    "restartCount": 2,
                    "image": "busybox",
                    "imageID": "docker.io/library/busybox@sha256:abc",
                    "containerID": "containerd://abc",
                    "state": {"running": {}},
                    "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
                }]
            }
        });
        let pod: Pod = round_trip(v);
        let status = pod.status.as_ref().unwrap();
        assert_eq!(status.pod_ip.as_deref(), Some("10.1.0.5"));
        let cs = &status.container_statuses[0];
        assert_eq!(cs.container_id.as_deref(), Some("containerd://abc"));
        let term = cs.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!(term.exit_code, 137);
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
    fn probe_http_header_names_must_be_alphanumerics_or_dashes() {
        let header = |name: &str| HttpHeader {
            name: name.into(),
            value: "v".into(),
            ..Default::default()
        };
        let probe = Probe {
            http_get: Some(HttpGetAction {
                port: 8080.into(),
                http_headers: vec![header("X-Ok-1"), header("Bad Name"), header("")],
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut errors = Vec::new();
        probe.validate("spec.containers[0].livenessProbe", true, &mut errors);
        assert_eq!(
            fields(&errors),
            vec![
                "spec.containers[0].livenessProbe.httpGet.httpHeaders[1].name",
                "spec.containers[0].livenessProbe.httpGet.httpHeaders[2].name",
            ]
        );
        assert!(errors[0]
            .message
            .starts_with("Invalid value: \"Bad Name\": a valid HTTP header"));
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
    fn int_or_string_resolves_percentages() {
        assert_eq!(IntOrString::Int(3).resolve(10, true), Ok(3));
        assert_eq!(IntOrString::from("25%").resolve(10, true), Ok(3));
        assert_eq!(IntOrString::from("25%").resolve(10, false), Ok(2));
        assert_eq!(IntOrString::from("100%").resolve(7, false), Ok(7));
        assert_eq!(IntOrString::from("0%").resolve(7, true), Ok(0));
        assert!(IntOrString::from("http").resolve(10, true).is_err());
        assert!(IntOrString::from("x%").resolve(10, true).is_err());
        assert!(serde_json::from_value::<IntOrString>(json!(1u64 << 40)).is_err());
        assert_eq!(
            serde_json::to_value(IntOrString::from("25%")).unwrap(),
            json!("25%")
        );
    }

    #[test]
    fn node_is_cluster_scoped_and_round_trips() {
        use crate::api::Resource;
        let scopes = [Node::NAMESPACED, Namespace::NAMESPACED, Pod::NAMESPACED];
        assert_eq!(scopes, [false, false, true]);
        let v = json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
            "spec": {
                "podCIDR": "10.244.0.0/24",
                "podCIDRs": ["10.244.0.0/24"],
                "providerID": "kind://docker/kind/node-1",
                "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
            },
            "status": {
                "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                "allocatable": {"cpu": "7800m", "memory": "15Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
                "nodeInfo": {"kubeletVersion": "v1.30.0"}
            }
        });
        let node: Node = round_trip(v);
        assert_eq!(node.spec.pod_cidr.as_deref(), Some("10.244.0.0/24"));
        let mut errors = Vec::new();
        node.validate(&mut errors);
        assert_eq!(errors, vec![]);
    }

    #[test]
    fn endpoints_event_pvc_namespace_and_config_map_round_trip() {
        round_trip::<Endpoints>(json!({
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "my-service"},
            "subsets": [{
                "addresses": [{"ip": "10.1.0.5", "nodeName": "node-1",
                    "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "default", "uid": "u1"}}],
                "notReadyAddresses": [{"ip": "10.1.0.6"}],
                "ports": [{"name": "http", "port": 9376, "protocol": "TCP"}]
            }]
        }));
        let ev: Event = round_trip(json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web-0.17a", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "default",
                "apiVersion": "v1", "fieldPath": "spec.containers{nginx}"},
            "reason": "Pulled",
            "message": "Container image already present on machine",
            "type": "Normal",
            "count": 3,
            "source": {"component": "kubelet", "host": "node-1"},
            "reportingComponent": "kubelet",
            "reportingInstance": "node-1",
            "action": "Pull"
        }));
        let mut other = ev.clone();
        other.count = Some(4);
        assert!(!ev.spec_eq(&other));
        round_trip::<PersistentVolumeClaim>(json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem",
                "resources": {"requests": {"storage": "8Gi"}}, "storageClassName": "slow"},
            "status": {"phase": "Bound", "capacity": {"storage": "8Gi"}, "accessModes": ["ReadWriteOnce"]}
        }));
        round_trip::<Namespace>(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}}),
        );
        let cm: ConfigMap = round_trip(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "game-demo"},
            "data": {"player_initial_lives": "3", "game.properties": "enemy.types=aliens\n"},
            "binaryData": {"bin": "AAE="}
        }));
        let mut errors = Vec::new();
        cm.validate(&mut errors);
        assert_eq!(errors, vec![]);
    }

    #[test]
    fn endpoints_validation_names_address_and_port_fields() {
        let ep: Endpoints = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "s"},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "notReadyAddresses": [{"ip": "10.0.0.2"}, {}],
                "ports": [{"port": 0, "protocol": "ICMP"}]}]
        }))
        .unwrap();
        let mut errors = Vec::new();
        ep.validate(&mut errors);
        assert_eq!(
            fields(&errors),
            vec![
                "subsets[0].notReadyAddresses[1].ip",
                "subsets[0].ports[0].port",
                "subsets[0].ports[0].protocol"
            ]
        );
    }

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
