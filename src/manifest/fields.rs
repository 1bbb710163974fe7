//! The one table of fields steady stores but does not act on, and of the fields it acts on
//! although it holds them as raw JSON. Apply and `steady validate` warn about every field
//! present in a manifest that it keeps but does not implement (naming document, line and
//! path); the README's "Fields not implemented" list is generated from [`NOT_IMPLEMENTED`]
//! (a test fails when the two disagree).
//!
//! Two sources of warnings, one rule: a field steady does not model at all is kept in an
//! object's `extra` map and reported as unknown (see [`crate::client::merge::unknown_fields`]),
//! unless [`IMPLEMENTED_RAW`] lists it; a field steady models but ignores is listed in
//! [`NOT_IMPLEMENTED`] and reported when present.

use crate::api::{Extra, KindInfo, Object};
use crate::client::merge::unknown_fields;
use serde_json::Value;

/// Where a rule's path starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// In the pod spec of a Pod (`spec`) and of every pod template (`spec.template.spec`,
    /// a CronJob's `spec.jobTemplate.spec.template.spec`).
    PodSpec,
    /// In every container of such a pod spec: `containers[*]` and `initContainers[*]`.
    Container,
    /// At the top of objects of this kind.
    Kind(&'static str),
}

/// A field steady keeps but does not act on.
#[derive(Clone, Copy, Debug)]
pub struct NotImplemented {
    /// Where the path starts.
    pub scope: Scope,
    /// Path from there; `[*]` stands for every element of a list.
    pub path: &'static str,
    /// Values that steady does honour (`ClusterIP` for a Service's `type`): no warning.
    pub except: &'static [&'static str],
    /// What happens instead.
    pub note: &'static str,
}

const fn rule(
    scope: Scope,
    path: &'static str,
    except: &'static [&'static str],
    note: &'static str,
) -> NotImplemented {
    NotImplemented {
        scope,
        path,
        except,
        note,
    }
}

const fn pod(path: &'static str, note: &'static str) -> NotImplemented {
    rule(Scope::PodSpec, path, &[], note)
}

const fn container(path: &'static str, note: &'static str) -> NotImplemented {
    rule(Scope::Container, path, &[], note)
}

const fn of(kind: &'static str, path: &'static str, note: &'static str) -> NotImplemented {
    rule(Scope::Kind(kind), path, &[], note)
}

const LIMITS: &str = "ephemeral-storage limits are not enforced (requests are scheduled by)";
const SECURITY: &str =
    "processes run as the engine's user (runAsNonRoot refuses to start them when that is root)";
const GRPC: &str = "gRPC probes are not supported: the probe fails";
const HTTPS: &str = "HTTPS probes are not supported: the probe fails";
const HTTPS_HOOK: &str = "HTTPS hooks are not supported: the hook fails";
const STORAGE: &str = "claims are host directories: their size is not enforced";
const NO_STORAGE: &str =
    "steady mounts no network or cloud storage: the volume is an empty directory on this host";
const NO_DRIVERS: &str =
    "steady has no storage drivers: the volume is an empty directory on this host";
const CLASS: &str = "claims are host directories: there are no storage classes";

/// Every field steady keeps but does not act on.
pub const NOT_IMPLEMENTED: &[NotImplemented] = &[
    container("resources.limits.ephemeral-storage", LIMITS),
    pod(
        "serviceAccountName",
        "there are no service accounts or API credentials in pods",
    ),
    pod("subdomain", "there is no cluster DNS"),
    container("livenessProbe.grpc", GRPC),
    container("readinessProbe.grpc", GRPC),
    container("startupProbe.grpc", GRPC),
    rule(
        Scope::Container,
        "livenessProbe.httpGet.scheme",
        &["HTTP"],
        HTTPS,
    ),
    rule(
        Scope::Container,
        "readinessProbe.httpGet.scheme",
        &["HTTP"],
        HTTPS,
    ),
    rule(
        Scope::Container,
        "startupProbe.httpGet.scheme",
        &["HTTP"],
        HTTPS,
    ),
    rule(
        Scope::Container,
        "lifecycle.postStart.httpGet.scheme",
        &["HTTP"],
        HTTPS_HOOK,
    ),
    rule(
        Scope::Container,
        "lifecycle.preStop.httpGet.scheme",
        &["HTTP"],
        HTTPS_HOOK,
    ),
    container(
        "ports[*].hostPort",
        "the node's port is not forwarded to the pod (pods are only placed so that their \
         host ports do not clash): reach the pod at its own address",
    ),
    pod("volumes[*].nfs", NO_STORAGE),
    pod("volumes[*].iscsi", NO_STORAGE),
    pod("volumes[*].rbd", NO_STORAGE),
    pod("volumes[*].cephfs", NO_STORAGE),
    pod("volumes[*].glusterfs", NO_STORAGE),
    pod("volumes[*].fc", NO_STORAGE),
    pod("volumes[*].awsElasticBlockStore", NO_STORAGE),
    pod("volumes[*].gcePersistentDisk", NO_STORAGE),
    pod("volumes[*].azureDisk", NO_STORAGE),
    pod("volumes[*].azureFile", NO_STORAGE),
    pod("volumes[*].cinder", NO_STORAGE),
    pod("volumes[*].vsphereVolume", NO_STORAGE),
    pod("volumes[*].portworxVolume", NO_STORAGE),
    pod("volumes[*].flexVolume", NO_DRIVERS),
    pod("volumes[*].csi", NO_DRIVERS),
    pod("volumes[*].ephemeral", NO_DRIVERS),
    pod(
        "volumes[*].gitRepo",
        "nothing is cloned: the volume is an empty directory",
    ),
    pod(
        "volumes[*].image",
        "no image is pulled: the volume is an empty directory",
    ),
    pod(
        "volumes[*].projected.sources[*].serviceAccountToken",
        "there are no service accounts: no token file is written",
    ),
    pod(
        "volumes[*].projected.sources[*].clusterTrustBundle",
        "there are no trust bundles: no file is written",
    ),
    pod("volumes[*].emptyDir.medium", "emptyDir is always on disk"),
    pod(
        "volumes[*].emptyDir.sizeLimit",
        "emptyDir size is not limited",
    ),
    container("securityContext", SECURITY),
    pod("securityContext", SECURITY),
    rule(
        Scope::Kind("Service"),
        "spec.type",
        &["ClusterIP"],
        "only ClusterIP Services are served (no NodePort, LoadBalancer or ExternalName)",
    ),
    rule(
        Scope::Kind("Service"),
        "spec.ports[*].protocol",
        &["TCP"],
        "only TCP ports are proxied: UDP and SCTP ports get no listener",
    ),
    rule(
        Scope::Kind("HorizontalPodAutoscaler"),
        "spec.metrics[*].type",
        &["Resource", "Pods"],
        "only Resource and Pods metrics are measured",
    ),
    of("PersistentVolumeClaim", "spec.storageClassName", CLASS),
    of(
        "PersistentVolumeClaim",
        "spec.resources.requests.storage",
        STORAGE,
    ),
    of(
        "StatefulSet",
        "spec.volumeClaimTemplates[*].spec.storageClassName",
        CLASS,
    ),
    of(
        "StatefulSet",
        "spec.volumeClaimTemplates[*].spec.resources.requests.storage",
        STORAGE,
    ),
    of(
        "CustomResourceDefinition",
        "spec.versions[*].schema",
        "objects are not checked against the schema",
    ),
];

/// Fields steady implements although the decoded object does not hold them as such (raw
/// JSON in `extra`, or folded into another field): never reported as unknown. Paths as in
/// [`NotImplemented::path`]; a listed field covers everything under it.
pub const IMPLEMENTED_RAW: &[(Scope, &str)] = &[
    (Scope::PodSpec, "overhead"),
    (Scope::PodSpec, "topologySpreadConstraints[*].minDomains"),
    (
        Scope::PodSpec,
        "topologySpreadConstraints[*].matchLabelKeys",
    ),
    (
        Scope::PodSpec,
        "topologySpreadConstraints[*].nodeAffinityPolicy",
    ),
    (
        Scope::PodSpec,
        "topologySpreadConstraints[*].nodeTaintsPolicy",
    ),
    (Scope::PodSpec, "initContainers[*].restartPolicy"),
    // Folded into `data` when a Secret is decoded.
    (Scope::Kind("Secret"), "stringData"),
];

/// Kinds whose objects carry a pod template at `spec.template.spec`.
const TEMPLATE_KINDS: &[&str] = &[
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
];

/// Where the pod spec of an object of `kind` starts (`spec`, `spec.template.spec`,
/// `spec.jobTemplate.spec.template.spec`), if it has one.
pub fn pod_spec_prefix(kind: &str) -> Option<&'static str> {
    if kind == "Pod" {
        Some("spec")
    } else if kind == "CronJob" {
        Some("spec.jobTemplate.spec.template.spec")
    } else if TEMPLATE_KINDS.contains(&kind) {
        Some("spec.template.spec")
    } else {
        None
    }
}

/// The lists of containers of a pod spec that [`Scope::Container`] covers.
const CONTAINER_LISTS: [&str; 2] = ["containers", "initContainers"];

/// The paths, from the top of an object of `kind`, where a rule of `scope` with `path`
/// applies: none when `kind` has no such place.
fn rooted(scope: Scope, kind: &str, path: &str) -> Vec<String> {
    let join = |prefix: &str, path: &str| {
        if prefix.is_empty() {
            path.to_string()
        } else {
            format!("{prefix}.{path}")
        }
    };
    match scope {
        Scope::PodSpec => pod_spec_prefix(kind)
            .map(|p| vec![join(p, path)])
            .unwrap_or_default(),
        Scope::Container => pod_spec_prefix(kind)
            .map(|p| {
                CONTAINER_LISTS
                    .iter()
                    .map(|list| join(p, &format!("{list}[*].{path}")))
                    .collect()
            })
            .unwrap_or_default(),
        Scope::Kind(k) if k == kind => vec![path.to_string()],
        Scope::Kind(_) => Vec::new(),
    }
}

/// Concrete paths (`spec.containers[0].resources.limits`) under `value` matching `pattern`,
/// where the field is present and not null.
fn matches(value: &Value, prefix: &str, pattern: &str, out: &mut Vec<(String, Value)>) {
    let Some((head, rest)) = split_first(pattern) else {
        if !value.is_null() {
            out.push((prefix.to_string(), value.clone()));
        }
        return;
    };
    let (key, each) = match head.strip_suffix("[*]") {
        Some(k) => (k, true),
        None => (head, false),
    };
    let Some(v) = value.get(key) else { return };
    let here = if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    };
    if each {
        for (i, item) in v.as_array().into_iter().flatten().enumerate() {
            matches(item, &format!("{here}[{i}]"), rest, out);
        }
    } else {
        matches(v, &here, rest, out);
    }
}

fn split_first(pattern: &str) -> Option<(&str, &str)> {
    if pattern.is_empty() {
        return None;
    }
    Some(pattern.split_once('.').unwrap_or((pattern, "")))
}

/// One field a manifest sets that steady keeps but does not implement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldWarning {
    /// Path of the field (`spec.containers[0].resources.limits`).
    pub path: String,
    /// Why it is reported.
    pub message: String,
}

/// Message of a field steady does not model at all.
pub const UNKNOWN_FIELD: &str = "unknown field, kept but not implemented by steady";

/// Every field of `input` (an object as a client gave it, of the kind `info`) that steady
/// keeps but does not act on: those [`NOT_IMPLEMENTED`] lists, and those the decoded `object`
/// does not model ([`UNKNOWN_FIELD`]; never for custom kinds, which model everything).
pub fn warnings(info: &KindInfo, input: &Value, object: &dyn Object) -> Vec<FieldWarning> {
    let kind = info.kind.as_str();
    let mut warnings = not_implemented(kind, input);
    if !info.is_dynamic() {
        let known = Extra::without(|| object.to_value());
        for path in unknown_fields(input, &known) {
            let covered = warnings.iter().any(|w| path.starts_with(&w.path));
            if !covered && !implemented_raw(kind, &path) {
                warnings.push(FieldWarning {
                    path,
                    message: UNKNOWN_FIELD.into(),
                });
            }
        }
    }
    warnings
}

/// The fields of `value`, an object of `kind` as a manifest gives it, that [`NOT_IMPLEMENTED`]
/// lists.
pub fn not_implemented(kind: &str, value: &Value) -> Vec<FieldWarning> {
    let mut out = Vec::new();
    for rule in NOT_IMPLEMENTED {
        for pattern in rooted(rule.scope, kind, rule.path) {
            let mut found = Vec::new();
            matches(value, "", &pattern, &mut found);
            for (path, v) in found {
                if v.as_str().is_some_and(|s| rule.except.contains(&s)) {
                    continue;
                }
                out.push(FieldWarning {
                    path,
                    message: format!("kept but not implemented by steady: {}", rule.note),
                });
            }
        }
    }
    out
}

/// True when `path` (an unknown field of an object of `kind`) is one [`IMPLEMENTED_RAW`]
/// lists.
pub fn implemented_raw(kind: &str, path: &str) -> bool {
    let generic = generic_path(path);
    IMPLEMENTED_RAW.iter().any(|(scope, listed)| {
        rooted(*scope, kind, listed).iter().any(|full| {
            generic == *full
                || generic
                    .strip_prefix(full.as_str())
                    .is_some_and(|rest| rest.starts_with(['.', '[']))
        })
    })
}

/// `path` with every list index written `[*]`, to compare with the table.
fn generic_path(path: &str) -> String {
    let mut generic = String::with_capacity(path.len());
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '[' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.next().is_some_and(|d| d != ']') {}
            generic.push_str("[*]");
        } else {
            generic.push(c);
        }
    }
    generic
}

/// The README's list of fields not implemented, generated from [`NOT_IMPLEMENTED`].
pub fn not_implemented_markdown() -> String {
    let mut s = String::new();
    for rule in NOT_IMPLEMENTED {
        let (kinds, path) = match rule.scope {
            Scope::PodSpec => ("pod specs (Pod and templates)".to_string(), rule.path),
            Scope::Container => (
                "containers and init containers of pod specs".to_string(),
                rule.path,
            ),
            Scope::Kind(k) => (k.to_string(), rule.path),
        };
        let except = match rule.except {
            [] => String::new(),
            values => format!(
                " (other than {})",
                values
                    .iter()
                    .filter(|v| !v.is_empty())
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        s.push_str(&format!("- {kinds}: `{path}`{except}: {}\n", rule.note));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_in_pods_and_templates_are_found_with_their_indices() {
        let pod = json!({"spec": {"containers": [
            {"name": "a"}, {"name": "b", "resources": {"limits": {"memory": "1Gi", "ephemeral-storage": "1Gi"}}}],
            "securityContext": {"runAsUser": 1000}}});
        let paths: Vec<String> = not_implemented("Pod", &pod)
            .into_iter()
            .map(|w| w.path)
            .collect();
        assert_eq!(
            paths,
            [
                "spec.containers[1].resources.limits.ephemeral-storage",
                "spec.securityContext"
            ]
        );
        let deployment = json!({"spec": {"template": {"spec": {"subdomain": "web"}}}});
        assert_eq!(
            not_implemented("Deployment", &deployment)[0].path,
            "spec.template.spec.subdomain"
        );
        assert!(not_implemented("ConfigMap", &pod).is_empty());
    }

    #[test]
    fn container_rules_cover_init_containers_and_cron_job_templates() {
        let spec = json!({
            "initContainers": [{"name": "side", "startupProbe": {"grpc": {"port": 9000}},
                                "securityContext": {"runAsUser": 1000}}],
            "containers": [{"name": "m", "ports": [{"containerPort": 80, "hostPort": 8080}]}],
            "serviceAccountName": "robot"});
        let cron = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}});
        let paths: Vec<String> = not_implemented("CronJob", &cron)
            .into_iter()
            .map(|w| w.path)
            .collect();
        let t = "spec.jobTemplate.spec.template.spec";
        assert_eq!(
            paths,
            [
                format!("{t}.serviceAccountName"),
                format!("{t}.initContainers[0].startupProbe.grpc"),
                format!("{t}.containers[0].ports[0].hostPort"),
                format!("{t}.initContainers[0].securityContext"),
            ]
        );
        assert!(implemented_raw(
            "CronJob",
            &format!("{t}.initContainers[0].restartPolicy")
        ));
    }

    #[test]
    fn an_honoured_value_is_not_reported() {
        let svc = |t: &str| json!({"spec": {"type": t}});
        assert!(not_implemented("Service", &svc("ClusterIP")).is_empty());
        assert_eq!(not_implemented("Service", &svc("NodePort")).len(), 1);
    }

    #[test]
    fn raw_fields_steady_implements_are_recognised_at_any_index() {
        assert!(implemented_raw(
            "Pod",
            "spec.topologySpreadConstraints[3].minDomains"
        ));
        assert!(implemented_raw(
            "StatefulSet",
            "spec.template.spec.initContainers[0].restartPolicy"
        ));
        assert!(!implemented_raw("Pod", "spec.containers[0].restartPolicy"));
        assert!(!implemented_raw("ConfigMap", "overhead"));
        assert!(implemented_raw("Secret", "stringData[\"password\"]"));
        assert!(implemented_raw("Secret", "stringData"));
        assert!(!implemented_raw("ConfigMap", "stringData"));
    }
}
