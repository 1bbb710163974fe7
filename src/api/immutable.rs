//! Update validation: the fields Kubernetes refuses to change once an object exists, with
//! its messages (`field is immutable`). Each function is a kind's `validate_update` (see
//! [`impl_resource!`](crate::impl_resource)); the store runs it on every update that changes
//! the object.
//!
//! - Deployment, ReplicaSet, DaemonSet: `spec.selector`.
//! - StatefulSet: `spec.selector`, `spec.serviceName`, `spec.volumeClaimTemplates`,
//!   `spec.podManagementPolicy`.
//! - Job: `spec.selector`, `spec.template`, `spec.completionMode`, `spec.podFailurePolicy`,
//!   `spec.backoffLimitPerIndex`, and `spec.completions` unless Indexed.
//! - Service: `spec.clusterIP` once set.
//! - PersistentVolumeClaim: the spec but `resources.requests`.
//! - Pod: the whole spec but container and init-container images, `activeDeadlineSeconds`
//!   (set, or lowered), added tolerations and `nodeName` while it is unset (binding).
//! - ConfigMap and Secret with `immutable: true`: `data`, `binaryData` and `immutable`; a
//!   Secret's `type` always.

use super::apps::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use super::batch::Job;
use super::core::{ConfigMap, PersistentVolumeClaim, Pod, PodSpec, Secret, Service};
use crate::error::FieldError;

const IMMUTABLE: &str = "field is immutable";

fn immutable<T: PartialEq>(field: &str, new: &T, old: &T, errors: &mut Vec<FieldError>) {
    if new != old {
        errors.push(FieldError::new(field, IMMUTABLE));
    }
}

pub(crate) fn deployment(new: &Deployment, old: &Deployment, errors: &mut Vec<FieldError>) {
    immutable(
        "spec.selector",
        &new.spec.selector,
        &old.spec.selector,
        errors,
    );
}

pub(crate) fn replica_set(new: &ReplicaSet, old: &ReplicaSet, errors: &mut Vec<FieldError>) {
    immutable(
        "spec.selector",
        &new.spec.selector,
        &old.spec.selector,
        errors,
    );
}

pub(crate) fn daemon_set(new: &DaemonSet, old: &DaemonSet, errors: &mut Vec<FieldError>) {
    immutable(
        "spec.selector",
        &new.spec.selector,
        &old.spec.selector,
        errors,
    );
}

pub(crate) fn stateful_set(new: &StatefulSet, old: &StatefulSet, errors: &mut Vec<FieldError>) {
    let (n, o) = (&new.spec, &old.spec);
    immutable("spec.selector", &n.selector, &o.selector, errors);
    immutable("spec.serviceName", &n.service_name, &o.service_name, errors);
    immutable(
        "spec.volumeClaimTemplates",
        &n.volume_claim_templates,
        &o.volume_claim_templates,
        errors,
    );
    immutable(
        "spec.podManagementPolicy",
        &n.pod_management_policy,
        &o.pod_management_policy,
        errors,
    );
}

pub(crate) fn job(new: &Job, old: &Job, errors: &mut Vec<FieldError>) {
    immutable(
        "spec.selector",
        &new.spec.selector,
        &old.spec.selector,
        errors,
    );
    immutable(
        "spec.template",
        &new.spec.template,
        &old.spec.template,
        errors,
    );
    immutable(
        "spec.completionMode",
        &new.spec.completion_mode,
        &old.spec.completion_mode,
        errors,
    );
    immutable(
        "spec.podFailurePolicy",
        &new.spec.pod_failure_policy,
        &old.spec.pod_failure_policy,
        errors,
    );
    immutable(
        "spec.backoffLimitPerIndex",
        &new.spec.backoff_limit_per_index,
        &old.spec.backoff_limit_per_index,
        errors,
    );
    // Only an Indexed Job may change its completions (with its parallelism).
    if old.spec.completion_mode.as_deref() != Some("Indexed") {
        immutable(
            "spec.completions",
            &new.spec.completions,
            &old.spec.completions,
            errors,
        );
    }
}

pub(crate) fn service(new: &Service, old: &Service, errors: &mut Vec<FieldError>) {
    // Once a Service has a cluster IP (or `None`, headless), it keeps it.
    if old
        .spec
        .cluster_ip
        .as_deref()
        .is_some_and(|ip| !ip.is_empty())
    {
        immutable(
            "spec.clusterIP",
            &new.spec.cluster_ip,
            &old.spec.cluster_ip,
            errors,
        );
    }
}

pub(crate) fn persistent_volume_claim(
    new: &PersistentVolumeClaim,
    old: &PersistentVolumeClaim,
    errors: &mut Vec<FieldError>,
) {
    // Everything but the requested resources, as kube-apiserver allows.
    let without_requests = |c: &PersistentVolumeClaim| {
        let mut v = serde_json::to_value(&c.spec).unwrap_or_default();
        if let Some(r) = v.get_mut("resources").and_then(|r| r.as_object_mut()) {
            r.remove("requests");
        }
        v
    };
    if without_requests(new) != without_requests(old) {
        errors.push(FieldError::new(
            "spec",
            "Forbidden: spec is immutable after creation except resources.requests",
        ));
    }
}

/// The fields of a pod's spec that may change, as kube-apiserver lists them.
const POD_MUTABLE: &str = "pod updates may not change fields other than \
    `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, \
    `spec.tolerations` (only additions to existing tolerations) and `spec.nodeName` (only \
    while it is unset)";

pub(crate) fn pod(new: &Pod, old: &Pod, errors: &mut Vec<FieldError>) {
    let (n, o) = (&new.spec, &old.spec);
    // The old spec with every change Kubernetes allows taken from the new one: if the new
    // spec differs from that, it changed something else.
    let mut allowed: PodSpec = o.clone();
    let take_images = |to: &mut Vec<super::core::Container>, from: &[super::core::Container]| {
        if to.len() == from.len() {
            for (t, f) in to.iter_mut().zip(from) {
                t.image.clone_from(&f.image);
            }
        }
    };
    take_images(&mut allowed.containers, &n.containers);
    take_images(&mut allowed.init_containers, &n.init_containers);
    if o.node_name.is_none() {
        allowed.node_name.clone_from(&n.node_name);
    }
    match (o.active_deadline_seconds, n.active_deadline_seconds) {
        (_, None) => {}
        (None, Some(_)) => allowed.active_deadline_seconds = n.active_deadline_seconds,
        (Some(was), Some(now)) if now <= was => allowed.active_deadline_seconds = Some(now),
        (Some(_), Some(_)) => errors.push(FieldError::new(
            "spec.activeDeadlineSeconds",
            "Invalid value: must be less than or equal to the previous value",
        )),
    }
    if o.tolerations.iter().all(|t| n.tolerations.contains(t)) {
        allowed.tolerations.clone_from(&n.tolerations);
    }
    if allowed != *n {
        let field = changed_field(&allowed, n);
        errors.push(FieldError::new(
            "spec",
            format!("Forbidden: {POD_MUTABLE}; {field} changed"),
        ));
    }
}

/// The first top-level field of `spec` in which `a` and `b` differ (`spec.volumes`).
fn changed_field(a: &PodSpec, b: &PodSpec) -> String {
    let (a, b) = (
        serde_json::to_value(a).unwrap_or_default(),
        serde_json::to_value(b).unwrap_or_default(),
    );
    let keys = a
        .as_object()
        .into_iter()
        .chain(b.as_object())
        .flat_map(|m| m.keys());
    for k in keys {
        if a.get(k) != b.get(k) {
            return format!("spec.{k}");
        }
    }
    "spec".to_string()
}

const WHEN_IMMUTABLE: &str = "Forbidden: field is immutable when `immutable` is set";

/// The rule of ConfigMaps and Secrets marked `immutable: true`: neither their data nor the
/// mark may change (deleting and re-creating the object is the way to change it).
/// `changed` lists each data field and whether the update changes it.
pub(crate) fn immutable_data(
    old_immutable: Option<bool>,
    new_immutable: Option<bool>,
    changed: &[(&str, bool)],
    errors: &mut Vec<FieldError>,
) {
    if old_immutable != Some(true) {
        return;
    }
    if new_immutable != Some(true) {
        errors.push(FieldError::new("immutable", WHEN_IMMUTABLE));
    }
    for (field, changed) in changed {
        if *changed {
            errors.push(FieldError::new(*field, WHEN_IMMUTABLE));
        }
    }
}

pub(crate) fn config_map(new: &ConfigMap, old: &ConfigMap, errors: &mut Vec<FieldError>) {
    immutable_data(
        old.immutable,
        new.immutable,
        &[
            ("data", new.data != old.data),
            ("binaryData", new.binary_data != old.binary_data),
        ],
        errors,
    );
}

pub(crate) fn secret(new: &Secret, old: &Secret, errors: &mut Vec<FieldError>) {
    immutable("type", &new.type_, &old.type_, errors);
    immutable_data(
        old.immutable,
        new.immutable,
        &[("data", new.data != old.data)],
        errors,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod_of(v: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p"}, "spec": v}))
        .unwrap()
    }

    fn check(new: &Pod, old: &Pod) -> Vec<FieldError> {
        let mut e = Vec::new();
        pod(new, old, &mut e);
        e
    }

    #[test]
    fn a_pod_may_change_images_deadline_tolerations_and_be_bound() {
        let old = pod_of(json!({"containers": [{"name": "a", "image": "x:1"}],
            "activeDeadlineSeconds": 60, "tolerations": [{"key": "k", "operator": "Exists"}]}));
        let new = pod_of(json!({"containers": [{"name": "a", "image": "x:2"}],
            "activeDeadlineSeconds": 30, "nodeName": "n1",
            "tolerations": [{"key": "k", "operator": "Exists"}, {"key": "j", "operator": "Exists"}]}));
        assert!(check(&new, &old).is_empty(), "{:?}", check(&new, &old));
    }

    #[test]
    fn a_pod_refuses_other_changes_naming_the_field() {
        let old = pod_of(json!({"containers": [{"name": "a", "image": "x:1"}],
            "activeDeadlineSeconds": 60, "nodeName": "n1"}));
        let new = pod_of(
            json!({"containers": [{"name": "a", "image": "x:1", "args": ["-v"]}],
            "activeDeadlineSeconds": 60, "nodeName": "n1"}),
        );
        let e = check(&new, &old);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, "spec");
        assert!(
            e[0].message.contains("spec.containers changed"),
            "{}",
            e[0].message
        );

        let moved = pod_of(json!({"containers": [{"name": "a", "image": "x:1"}],
            "activeDeadlineSeconds": 60, "nodeName": "n2"}));
        assert!(check(&moved, &old)[0].message.contains("spec.nodeName"));

        let longer = pod_of(json!({"containers": [{"name": "a", "image": "x:1"}],
            "activeDeadlineSeconds": 90, "nodeName": "n1"}));
        assert_eq!(check(&longer, &old)[0].field, "spec.activeDeadlineSeconds");

        let untolerated = pod_of(json!({"containers": [{"name": "a", "image": "x:1"}],
            "activeDeadlineSeconds": 60, "nodeName": "n1", "tolerations": []}));
        assert!(
            check(
                &untolerated,
                &pod_of(json!({"containers": [{"name": "a", "image": "x:1"}],
            "activeDeadlineSeconds": 60, "nodeName": "n1",
            "tolerations": [{"key": "k", "operator": "Exists"}]}))
            )
            .len()
                == 1
        );
    }

    #[test]
    fn an_immutable_config_map_keeps_its_data_and_its_mark() {
        let cm = |data: serde_json::Value, immutable: Option<bool>| -> ConfigMap {
            let mut v = json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c"}, "data": data});
            if let Some(i) = immutable {
                v["immutable"] = json!(i);
            }
            serde_json::from_value(v).unwrap()
        };
        let old = cm(json!({"a": "1"}), Some(true));
        let mut e = Vec::new();
        config_map(&cm(json!({"a": "2"}), Some(true)), &old, &mut e);
        config_map(&cm(json!({"a": "1"}), None), &old, &mut e);
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["data", "immutable"]);
        let mut e = Vec::new();
        config_map(
            &cm(json!({"a": "2"}), Some(true)),
            &cm(json!({"a": "1"}), None),
            &mut e,
        );
        assert!(
            e.is_empty(),
            "a mutable ConfigMap may change and become immutable"
        );
    }

    #[test]
    fn an_immutable_secret_keeps_its_data_and_no_secret_changes_its_type() {
        let secret = |data: serde_json::Value, immutable: bool, t: &str| -> Secret {
            serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "s"}, "data": data, "immutable": immutable, "type": t}))
            .unwrap()
        };
        let old = secret(json!({"k": "YQ=="}), true, "Opaque");
        let mut e = Vec::new();
        super::secret(&secret(json!({"k": "Yg=="}), true, "Opaque"), &old, &mut e);
        super::secret(
            &secret(json!({"k": "YQ=="}), true, "kubernetes.io/tls"),
            &old,
            &mut e,
        );
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["data", "type"]);
        let mut e = Vec::new();
        let mutable = secret(json!({"k": "YQ=="}), false, "Opaque");
        super::secret(
            &secret(json!({"k": "Yg=="}), false, "Opaque"),
            &mutable,
            &mut e,
        );
        assert!(e.is_empty());
    }

    #[test]
    fn job_completions_service_cluster_ip_and_claim_specs_are_fixed() {
        let job = |completions: i32, mode: &str| -> Job {
            serde_json::from_value(json!({"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "j"}, "spec": {"completions": completions,
                "completionMode": mode, "template": {"spec": {"containers": []}}}}))
            .unwrap()
        };
        let mut e = Vec::new();
        super::job(&job(3, "NonIndexed"), &job(2, "NonIndexed"), &mut e);
        assert_eq!(e[0].field, "spec.completions");
        let mut e = Vec::new();
        super::job(&job(3, "Indexed"), &job(2, "Indexed"), &mut e);
        assert!(e.is_empty(), "an Indexed Job may change its completions");
        let mut limited = job(3, "Indexed");
        limited.spec.backoff_limit_per_index = Some(1);
        limited.spec.pod_failure_policy = Some(Default::default());
        let mut e = Vec::new();
        super::job(&limited, &job(3, "Indexed"), &mut e);
        let fields: Vec<&str> = e.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            ["spec.podFailurePolicy", "spec.backoffLimitPerIndex"]
        );

        let svc = |ip: Option<&str>| -> Service {
            let mut v = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                "spec": {}});
            if let Some(ip) = ip {
                v["spec"]["clusterIP"] = json!(ip);
            }
            serde_json::from_value(v).unwrap()
        };
        let mut e = Vec::new();
        super::service(&svc(Some("10.0.0.1")), &svc(Some("None")), &mut e);
        assert_eq!(e[0].field, "spec.clusterIP");
        let mut e = Vec::new();
        super::service(&svc(Some("10.0.0.1")), &svc(None), &mut e);
        assert!(e.is_empty(), "an unset cluster IP may be set");

        let pvc = |class: &str, storage: &str| -> PersistentVolumeClaim {
            serde_json::from_value(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "c"}, "spec": {"storageClassName": class,
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}}))
            .unwrap()
        };
        let mut e = Vec::new();
        super::persistent_volume_claim(&pvc("std", "2Gi"), &pvc("std", "1Gi"), &mut e);
        assert!(e.is_empty(), "requests may change");
        super::persistent_volume_claim(&pvc("fast", "1Gi"), &pvc("std", "1Gi"), &mut e);
        assert_eq!(e[0].field, "spec");
    }
}
