//! How the node agent checks and hooks into a container: [`Probe`]s (liveness, readiness,
//! startup) and [`Lifecycle`] hooks (postStart, preStop), the actions they share (`exec`,
//! `httpGet`, `tcpSocket`, steady's `heartbeat`, `sleep`), and their admission checks
//! (exactly one handler each).

use super::IntOrString;
use crate::api::validation::{check_enum, check_min, check_port, required};
use crate::api::{Extra, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

#[cfg(test)]
mod tests {
    use super::super::tests::fields;
    use super::*;

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
}
