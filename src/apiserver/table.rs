//! Server-side printing: the `Table` (meta.k8s.io/v1) kubectl asks for with
//! `Accept: application/json;as=Table;g=meta.k8s.io;v=v1`, with the columns kube-apiserver
//! prints for each built-in kind (priority 1 columns show with `-o wide`), a custom kind's
//! `additionalPrinterColumns`, and `NAME AGE` for anything else.

use super::resources::Resource;
use crate::api::{Object, Time};
use serde_json::{json, Value};

/// `(name, type, priority)` of one column.
type Column = (&'static str, &'static str, u8);

fn columns(kind: &str) -> &'static [Column] {
    match kind {
        "Pod" => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        "Deployment" => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "string", 0),
            ("Available", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        "ReplicaSet" => &[
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        "StatefulSet" => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
        ],
        "DaemonSet" => &[
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Node Selector", "string", 0),
            ("Age", "string", 0),
        ],
        "Job" => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Completions", "string", 0),
            ("Duration", "string", 0),
            ("Age", "string", 0),
        ],
        "CronJob" => &[
            ("Name", "string", 0),
            ("Schedule", "string", 0),
            ("Timezone", "string", 0),
            ("Suspend", "boolean", 0),
            ("Active", "integer", 0),
            ("Last Schedule", "string", 0),
            ("Age", "string", 0),
        ],
        "Service" => &[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ],
        "Node" => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
        ],
        "Namespace" => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Age", "string", 0),
        ],
        "ConfigMap" => &[
            ("Name", "string", 0),
            ("Data", "integer", 0),
            ("Age", "string", 0),
        ],
        "Secret" => &[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Data", "integer", 0),
            ("Age", "string", 0),
        ],
        "PodDisruptionBudget" => &[
            ("Name", "string", 0),
            ("Min Available", "string", 0),
            ("Max Unavailable", "string", 0),
            ("Allowed Disruptions", "integer", 0),
            ("Age", "string", 0),
        ],
        "HorizontalPodAutoscaler" => &[
            ("Name", "string", 0),
            ("Reference", "string", 0),
            ("Targets", "string", 0),
            ("MinPods", "string", 0),
            ("MaxPods", "string", 0),
            ("Replicas", "string", 0),
            ("Age", "string", 0),
        ],
        "Endpoints" => &[
            ("Name", "string", 0),
            ("Endpoints", "string", 0),
            ("Age", "string", 0),
        ],
        "PersistentVolumeClaim" => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Volume", "string", 0),
            ("Capacity", "string", 0),
            ("Access Modes", "string", 0),
            ("StorageClass", "string", 0),
            ("VolumeAttributesClass", "string", 0),
            ("Age", "string", 0),
            ("VolumeMode", "string", 1),
        ],
        "Event" => &[
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Subobject", "string", 1),
            ("Source", "string", 1),
            ("Message", "string", 0),
            ("First Seen", "string", 1),
            ("Count", "string", 1),
            ("Name", "string", 1),
        ],
        "PriorityClass" => &[
            ("Name", "string", 0),
            ("Value", "integer", 0),
            ("Global-Default", "boolean", 0),
            ("Age", "string", 0),
            ("PreemptionPolicy", "string", 0),
        ],
        "CustomResourceDefinition" => &[("Name", "string", 0), ("Created At", "date", 0)],
        _ => &[("Name", "string", 0), ("Age", "string", 0)],
    }
}

/// Kubernetes' short human durations: `45s`, `3m20s`, `5h`, `2d3h`, `400d`, `3y20d`.
pub fn human_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let (m, h, days) = (s / 60, s / 3600, s / 86400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{}h", h % 24)
        }
    } else if days < 365 * 2 {
        format!("{days}d")
    } else if days < 365 * 8 {
        format!("{}y{}d", days / 365, days % 365)
    } else {
        format!("{}y", days / 365)
    }
}

fn s(v: &Value, path: &str) -> String {
    v.pointer(path).map(text).unwrap_or_default()
}

/// A value as a cell shows it: a string as it is, null as nothing, anything else as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The time at `path`, when there is one that parses.
fn time_at(v: &Value, path: &str) -> Option<Time> {
    v.pointer(path)?.as_str()?.parse().ok()
}

fn n(v: &Value, path: &str) -> i64 {
    v.pointer(path).and_then(Value::as_i64).unwrap_or(0)
}

fn or_none(x: String) -> String {
    or(x, "<none>")
}

fn or_unset(x: String) -> String {
    or(x, "<unset>")
}

/// `x`, or `placeholder` for an empty one.
fn or(x: String, placeholder: &str) -> String {
    if x.is_empty() {
        placeholder.into()
    } else {
        x
    }
}

fn selector_text(sel: &Value) -> String {
    let mut parts: Vec<String> = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    if let Some(m) = sel.as_object().filter(|_| sel.get("matchLabels").is_none()) {
        parts.extend(
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())),
        );
    }
    parts.join(",")
}

fn containers_and_images(spec: &Value) -> (String, String) {
    let cs = spec
        .get("containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    (
        cs.iter()
            .map(|c| s(c, "/name"))
            .collect::<Vec<_>>()
            .join(","),
        cs.iter()
            .map(|c| s(c, "/image"))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// `spec.replicas`, 1 when unset.
fn replicas(v: &Value) -> i64 {
    v.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// The CONTAINERS, IMAGES and SELECTOR cells of a workload with a pod template.
fn template_cells(v: &Value) -> (Value, Value, Value) {
    let (c, i) = containers_and_images(v.pointer("/spec/template/spec").unwrap_or(&Value::Null));
    let sel = selector_text(v.pointer("/spec/selector").unwrap_or(&Value::Null));
    (json!(c), json!(i), json!(sel))
}

/// What `kubectl get pods` prints as STATUS, as kube-apiserver's printer derives it.
fn pod_status(v: &Value) -> String {
    if v.pointer("/metadata/deletionTimestamp").is_some() {
        return "Terminating".into();
    }
    let mut reason = s(v, "/status/reason");
    if reason.is_empty() {
        reason = s(v, "/status/phase");
    }
    // Init containers first, as kubectl's printer: the first one not done says why the pod
    // is not running yet (`Init:0/2`, `Init:CrashLoopBackOff`, `Init:ExitCode:1`); a
    // sidecar (restartPolicy Always) counts as done once started.
    let list = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    };
    let (inits, declared) = (
        list("/status/initContainerStatuses"),
        list("/spec/initContainers"),
    );
    let initialized = v
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Initialized" && c["status"] == "True")
        });
    for (i, c) in inits.iter().enumerate() {
        let sidecar = declared
            .iter()
            .find(|d| d["name"] == c["name"])
            .is_some_and(|d| d["restartPolicy"] == "Always");
        if sidecar && c["started"] == true {
            continue;
        }
        let terminated = c.pointer("/state/terminated");
        if terminated.is_some_and(|t| n(t, "/exitCode") == 0) {
            continue;
        }
        let waiting = c
            .pointer("/state/waiting/reason")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty() && *r != "PodInitializing");
        let why = match (terminated, waiting) {
            (Some(t), _) => match t.get("reason").and_then(Value::as_str) {
                Some(r) if !r.is_empty() => format!("Init:{r}"),
                _ if n(t, "/signal") != 0 => format!("Init:Signal:{}", n(t, "/signal")),
                _ => format!("Init:ExitCode:{}", n(t, "/exitCode")),
            },
            (None, Some(w)) => format!("Init:{w}"),
            (None, None) => format!("Init:{i}/{}", declared.len()),
        };
        if !initialized {
            return why;
        }
        break;
    }
    let statuses = v
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in statuses.iter().rev() {
        if let Some(w) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
            reason = w.to_string();
        } else if let Some(t) = c.pointer("/state/terminated") {
            reason = match t.get("reason").and_then(Value::as_str) {
                Some(r) => r.to_string(),
                None => format!("ExitCode:{}", n(t, "/exitCode")),
            };
        }
    }
    if reason.is_empty() {
        "Pending".into()
    } else {
        reason
    }
}

/// An HPA's TARGETS cell, as kubectl's `formatHPAMetrics`: each metric's current value (by
/// index in `status.currentMetrics`, `<unknown>` until measured) over its target, at most
/// two, then `+ N more...`.
fn hpa_targets(v: &Value) -> String {
    let specs = v
        .pointer("/spec/metrics")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if specs.is_empty() {
        return "<none>".into();
    }
    let unknown = || "<unknown>".to_string();
    let cell = |i: usize, spec: &Value| -> String {
        let src = match s(spec, "/type").as_str() {
            "Resource" => "resource",
            "ContainerResource" => "containerResource",
            "Pods" => "pods",
            "Object" => "object",
            "External" => "external",
            _ => return "<unknown type>".into(),
        };
        let target = |f: &str| spec.pointer(&format!("/{src}/target/{f}"));
        let current = |f: &str| {
            v.pointer(&format!("/status/currentMetrics/{i}/{src}/current/{f}"))
                .map(text)
        };
        match (src, target("averageValue")) {
            ("resource" | "containerResource", avg) => {
                let resource = s(spec, &format!("/{src}/name"));
                match avg {
                    Some(t) => format!(
                        "{resource}: {}/{}",
                        current("averageValue").unwrap_or_else(unknown),
                        text(t)
                    ),
                    None => {
                        let now =
                            current("averageUtilization").map_or_else(unknown, |u| format!("{u}%"));
                        let target = target("averageUtilization")
                            .and_then(Value::as_i64)
                            .map_or_else(|| "<auto>".into(), |u| format!("{u}%"));
                        format!("{resource}: {now}/{target}")
                    }
                }
            }
            ("pods", avg) => format!(
                "{}/{}",
                current("averageValue").unwrap_or_else(unknown),
                avg.map_or_else(unknown, text)
            ),
            // An average target reads the average and says so, as kubectl prints it.
            (_, Some(avg)) => format!(
                "{}/{} (avg)",
                current("averageValue").unwrap_or_else(unknown),
                text(avg)
            ),
            (_, None) => format!(
                "{}/{}",
                current("value").unwrap_or_else(unknown),
                target("value").map_or_else(unknown, text)
            ),
        }
    };
    let list: Vec<String> = specs.iter().enumerate().map(|(i, m)| cell(i, m)).collect();
    const MAX: usize = 2;
    if list.len() > MAX {
        format!("{} + {} more...", list[..MAX].join(", "), list.len() - MAX)
    } else {
        list.join(", ")
    }
}

fn cells(r: &Resource, v: &Value, now: Time, created: Option<Time>) -> Vec<Value> {
    let name = s(v, "/metadata/name");
    let age = created
        .map(|c| human_duration(now.saturating_duration_since(c)))
        .unwrap_or_else(|| "<unknown>".into());
    let kind = r.info.kind.as_str();
    if !r.printer_columns.is_empty() {
        let mut out = vec![json!(name)];
        for c in &r.printer_columns {
            let path = c.get("jsonPath").and_then(Value::as_str).unwrap_or("");
            let pointer = path.replace('.', "/");
            out.push(v.pointer(&pointer).cloned().unwrap_or(json!("<none>")));
        }
        out.push(json!(age));
        return out;
    }
    let row: Vec<Value> = match kind {
        "Pod" => {
            let statuses = v
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let total = v
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses.iter().map(|c| n(c, "/restartCount")).sum();
            vec![
                json!(name),
                json!(format!("{ready}/{total}")),
                json!(pod_status(v)),
                json!(restarts.to_string()),
                json!(age),
                json!(or_none(s(v, "/status/podIP"))),
                json!(or_none(s(v, "/spec/nodeName"))),
                json!("<none>"),
                json!("<none>"),
            ]
        }
        "Deployment" => {
            let (c, i, sel) = template_cells(v);
            vec![
                json!(name),
                json!(format!("{}/{}", n(v, "/status/readyReplicas"), replicas(v))),
                json!(n(v, "/status/updatedReplicas")),
                json!(n(v, "/status/availableReplicas")),
                json!(age),
                c,
                i,
                sel,
            ]
        }
        "ReplicaSet" => {
            let (c, i, sel) = template_cells(v);
            vec![
                json!(name),
                json!(replicas(v)),
                json!(n(v, "/status/replicas")),
                json!(n(v, "/status/readyReplicas")),
                json!(age),
                c,
                i,
                sel,
            ]
        }
        "StatefulSet" => {
            let (c, i, _) = template_cells(v);
            vec![
                json!(name),
                json!(format!("{}/{}", n(v, "/status/readyReplicas"), replicas(v))),
                json!(age),
                c,
                i,
            ]
        }
        "DaemonSet" => vec![
            json!(name),
            json!(n(v, "/status/desiredNumberScheduled")),
            json!(n(v, "/status/currentNumberScheduled")),
            json!(n(v, "/status/numberReady")),
            json!(n(v, "/status/updatedNumberScheduled")),
            json!(n(v, "/status/numberAvailable")),
            json!(or_none(selector_text(
                v.pointer("/spec/template/spec/nodeSelector")
                    .unwrap_or(&Value::Null)
            ))),
            json!(age),
        ],
        "Job" => {
            let completions = v
                .pointer("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let succeeded = n(v, "/status/succeeded");
            let conditions = v
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let has = |t: &str| {
                conditions
                    .iter()
                    .any(|c| c["type"] == t && c["status"] == "True")
            };
            let status = if has("Complete") {
                "Complete"
            } else if has("Failed") {
                "Failed"
            } else {
                "Running"
            };
            // From the start to the completion, or to now while it runs.
            let duration = match (
                time_at(v, "/status/startTime"),
                time_at(v, "/status/completionTime"),
            ) {
                (None, _) => String::new(),
                (Some(start), None) => human_duration(now.saturating_duration_since(start)),
                (Some(start), Some(end)) => human_duration(end.saturating_duration_since(start)),
            };
            vec![
                json!(name),
                json!(status),
                json!(format!("{succeeded}/{completions}")),
                json!(duration),
                json!(age),
            ]
        }
        "CronJob" => {
            let last = time_at(v, "/status/lastScheduleTime").map_or_else(
                || "<none>".to_string(),
                |t| human_duration(now.saturating_duration_since(t)),
            );
            vec![
                json!(name),
                json!(s(v, "/spec/schedule")),
                json!(or_none(s(v, "/spec/timeZone"))),
                json!(v.pointer("/spec/suspend") == Some(&json!(true))),
                json!(v
                    .pointer("/status/active")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)),
                json!(last),
                json!(age),
            ]
        }
        "Service" => {
            let ports: Vec<String> = v
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| {
                    format!(
                        "{}/{}",
                        n(p, "/port"),
                        p.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
                    )
                })
                .collect();
            let t = s(v, "/spec/type");
            vec![
                json!(name),
                json!(if t.is_empty() {
                    "ClusterIP".to_string()
                } else {
                    t
                }),
                json!(or_none(s(v, "/spec/clusterIP"))),
                json!("<none>"),
                json!(or_none(ports.join(","))),
                json!(age),
                json!(or_none(selector_text(
                    v.pointer("/spec/selector").unwrap_or(&Value::Null)
                ))),
            ]
        }
        "Node" => {
            let ready = v
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Ready")
                .map(|c| c["status"] == "True");
            let mut status = match ready {
                Some(true) => "Ready".to_string(),
                _ => "NotReady".to_string(),
            };
            if v.pointer("/spec/unschedulable") == Some(&json!(true)) {
                status.push_str(",SchedulingDisabled");
            }
            let ip = v
                .pointer("/status/addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|a| a["type"] == "InternalIP")
                .map(|a| s(a, "/address"))
                .unwrap_or_default();
            vec![
                json!(name),
                json!(status),
                json!("<none>"),
                json!(age),
                json!(s(v, "/status/nodeInfo/kubeletVersion")),
                json!(or_none(ip)),
            ]
        }
        "Namespace" => vec![
            json!(name),
            json!(or_none(s(v, "/status/phase"))),
            json!(age),
        ],
        "ConfigMap" => {
            let count = |p: &str| {
                v.pointer(p)
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len())
            };
            vec![
                json!(name),
                json!(count("/data") + count("/binaryData")),
                json!(age),
            ]
        }
        "Secret" => vec![
            json!(name),
            json!(s(v, "/type")),
            json!(v
                .pointer("/data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len())),
            json!(age),
        ],
        "PodDisruptionBudget" => {
            let int_or_percent = |p: &str| match v.pointer(p) {
                Some(Value::String(x)) => x.clone(),
                Some(Value::Number(x)) => x.to_string(),
                _ => "N/A".to_string(),
            };
            vec![
                json!(name),
                json!(int_or_percent("/spec/minAvailable")),
                json!(int_or_percent("/spec/maxUnavailable")),
                json!(n(v, "/status/disruptionsAllowed")),
                json!(age),
            ]
        }
        "HorizontalPodAutoscaler" => vec![
            json!(name),
            json!(format!(
                "{}/{}",
                s(v, "/spec/scaleTargetRef/kind"),
                s(v, "/spec/scaleTargetRef/name")
            )),
            json!(hpa_targets(v)),
            json!(v
                .pointer("/spec/minReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(1)
                .to_string()),
            json!(n(v, "/spec/maxReplicas").to_string()),
            json!(n(v, "/status/currentReplicas").to_string()),
            json!(age),
        ],
        "Endpoints" => {
            let mut eps = Vec::new();
            for subset in v
                .pointer("/subsets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for a in subset
                    .get("addresses")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    for p in subset
                        .get("ports")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        eps.push(format!("{}:{}", s(a, "/ip"), n(p, "/port")));
                    }
                }
            }
            vec![json!(name), json!(or_none(eps.join(","))), json!(age)]
        }
        "PersistentVolumeClaim" => vec![
            json!(name),
            json!(s(v, "/status/phase")),
            json!(s(v, "/spec/volumeName")),
            json!(s(v, "/status/capacity/storage")),
            // Short forms, as kubectl's `GetAccessModesAsString`.
            json!(v
                .pointer("/status/accessModes")
                .and_then(Value::as_array)
                .map(|m| m
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|mode| match mode {
                        "ReadWriteOnce" => "RWO",
                        "ReadOnlyMany" => "ROX",
                        "ReadWriteMany" => "RWX",
                        "ReadWriteOncePod" => "RWOP",
                        other => other,
                    })
                    .collect::<Vec<_>>()
                    .join(","))
                .unwrap_or_default()),
            json!(s(v, "/spec/storageClassName")),
            json!(or_unset(s(v, "/spec/volumeAttributesClassName"))),
            json!(age),
            json!(or_unset(s(v, "/spec/volumeMode"))),
        ],
        "Event" => {
            // Ages from the event's own times, as kubectl's printer: the last occurrence, the
            // first, and the creation when they are missing.
            let since = |p: &str| {
                time_at(v, p).map_or_else(
                    || age.clone(),
                    |t| human_duration(now.saturating_duration_since(t)),
                )
            };
            let source = match (s(v, "/source/component"), s(v, "/source/host")) {
                (c, h) if h.is_empty() => c,
                (c, h) => format!("{c}, {h}"),
            };
            vec![
                json!(since("/lastTimestamp")),
                json!(s(v, "/type")),
                json!(s(v, "/reason")),
                json!(format!(
                    "{}/{}",
                    s(v, "/involvedObject/kind").to_ascii_lowercase(),
                    s(v, "/involvedObject/name")
                )),
                json!(s(v, "/involvedObject/fieldPath")),
                json!(source),
                json!(s(v, "/message")),
                json!(since("/firstTimestamp")),
                json!(v
                    .pointer("/count")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)
                    .to_string()),
                json!(name),
            ]
        }
        "PriorityClass" => vec![
            json!(name),
            json!(n(v, "/value")),
            json!(v.pointer("/globalDefault") == Some(&Value::Bool(true))),
            json!(age),
            json!(or_none(s(v, "/preemptionPolicy"))),
        ],
        "CustomResourceDefinition" => vec![json!(name), json!(s(v, "/metadata/creationTimestamp"))],
        _ => vec![json!(name), json!(age)],
    };
    row
}

/// The column definitions of `r`'s table.
fn definitions(r: &Resource) -> Vec<Value> {
    let def = |name: &str, t: &str, priority: u8| {
        json!({"name": name, "type": t, "format": if name == "Name" { "name" } else { "" },
               "description": "", "priority": priority})
    };
    if !r.printer_columns.is_empty() {
        let mut out = vec![def("Name", "string", 0)];
        for c in &r.printer_columns {
            out.push(json!({
                "name": c.get("name").and_then(Value::as_str).unwrap_or(""),
                "type": c.get("type").and_then(Value::as_str).unwrap_or("string"),
                "format": "", "description": c.get("description").and_then(Value::as_str).unwrap_or(""),
                "priority": c.get("priority").and_then(Value::as_i64).unwrap_or(0)
            }));
        }
        out.push(def("Age", "date", 0));
        return out;
    }
    columns(&r.info.kind)
        .iter()
        .map(|(name, t, p)| def(name, t, *p))
        .collect()
}

/// A Table of `objects` of resource `r`; each row carries the full object with
/// `include_object`, else its metadata (PartialObjectMetadata), as kube-apiserver does.
pub fn table(
    r: &Resource,
    objects: &[std::sync::Arc<dyn Object>],
    now: Time,
    resource_version: &str,
    include_object: bool,
    continue_token: Option<&str>,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let v = super::handler::wire(o.as_ref(), &r.api_version);
            let object = if include_object {
                v.clone()
            } else {
                json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                       "metadata": v["metadata"]})
            };
            json!({"cells": cells(r, &v, now, o.meta().creation_timestamp), "object": object})
        })
        .collect();
    let mut meta = json!({"resourceVersion": resource_version});
    if let Some(c) = continue_token {
        meta["continue"] = json!(c);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
           "columnDefinitions": definitions(r), "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_read_as_kubectl_prints_them() {
        let d = |s| human_duration(Duration::from_secs(s));
        assert_eq!(d(45), "45s");
        assert_eq!(d(119), "119s");
        assert_eq!(d(200), "3m20s");
        assert_eq!(d(600), "10m");
        assert_eq!(d(3600 * 5 + 60 * 7), "5h7m");
        assert_eq!(d(3600 * 30), "30h");
        assert_eq!(d(86400 * 3 + 3600), "3d1h");
        assert_eq!(d(86400 * 400), "400d");
        assert_eq!(d(86400 * (365 * 3 + 20)), "3y20d");
    }

    #[test]
    fn a_pod_s_status_column_follows_its_containers() {
        let v = json!({"status": {"phase": "Pending", "containerStatuses": [
            {"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(pod_status(&v), "CrashLoopBackOff");
        assert_eq!(pod_status(&json!({})), "Pending");
        assert_eq!(
            pod_status(&json!({"metadata": {"deletionTimestamp": "x"}})),
            "Terminating"
        );
    }

    #[test]
    fn a_pod_still_initializing_says_which_init_container_it_waits_for() {
        let spec = json!({"initContainers": [{"name": "a"}, {"name": "side", "restartPolicy": "Always"}, {"name": "b"}]});
        let pod = |inits: Value| {
            json!({"spec": spec, "status": {"phase": "Pending",
            "initContainerStatuses": inits,
            "containerStatuses": [{"state": {"waiting": {"reason": "PodInitializing"}}}]}})
        };
        let done = json!({"name": "a", "state": {"terminated": {"exitCode": 0}}});
        let side = json!({"name": "side", "started": true, "state": {"running": {}}});
        let running = json!({"name": "b", "state": {"running": {}}});
        assert_eq!(pod_status(&pod(json!([done, side, running]))), "Init:2/3");
        let crashing = json!({"name": "b", "state": {"waiting": {"reason": "CrashLoopBackOff"}}});
        assert_eq!(
            pod_status(&pod(json!([done, side, crashing]))),
            "Init:CrashLoopBackOff"
        );
        let failed = json!({"name": "a", "state": {"terminated": {"exitCode": 3}}});
        assert_eq!(pod_status(&pod(json!([failed]))), "Init:ExitCode:3");
    }

    #[test]
    fn an_autoscaler_s_targets_show_current_over_target() {
        let hpa = json!({"spec": {"metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}]},
            "status": {"currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 1, "averageValue": "1m"}}}]}});
        assert_eq!(
            hpa_targets(&hpa),
            "cpu: 1%/50%, memory: <unknown>/100Mi + 1 more..."
        );
        assert_eq!(hpa_targets(&json!({"spec": {}})), "<none>");
    }
}
