//! Scale access: the replicas and selector of the Deployment, ReplicaSet or StatefulSet named
//! by `spec.scaleTargetRef`, and writing its replicas, as the scale subresource does.

use crate::api::Selector;
use crate::api::{
    CrossVersionObjectReference, Deployment, LabelSelector, ReplicaSet, Resource, StatefulSet,
};
use crate::runtime::Context;
use serde_json::json;

/// The target's scale: `spec.replicas` and the pods' selector.
pub(super) struct Scale {
    pub(super) replicas: i32,
    pub(super) selector: Selector,
}

/// Reads one workload's scale with typed access.
fn read_scale<K: Resource>(
    ctx: &Context,
    namespace: &str,
    name: &str,
    spec: impl Fn(&K) -> (Option<i32>, &LabelSelector),
) -> Result<Scale, String> {
    let obj = ctx
        .api::<K>()
        .namespace(namespace)
        .get(name)
        .map_err(|e| e.to_string())?;
    let (replicas, selector) = spec(&obj);
    let selector = selector.to_selector().map_err(|e| {
        format!(
            "{} {namespace}/{name}: spec.selector.{}: {}",
            K::KIND,
            e.field,
            e.message
        )
    })?;
    Ok(Scale {
        replicas: replicas.unwrap_or(1),
        selector,
    })
}

/// The scale of `target` in `namespace`: Deployments, ReplicaSets and StatefulSets (apps/v1).
pub(super) fn get_scale(
    ctx: &Context,
    namespace: &str,
    target: &CrossVersionObjectReference,
) -> Result<Scale, String> {
    if let Some(v) = target.api_version.as_deref() {
        if v != "apps/v1" {
            return Err(format!(
                "spec.scaleTargetRef.apiVersion: {v:?} is not served; steady scales apps/v1 Deployment, ReplicaSet and StatefulSet"
            ));
        }
    }
    let name = target.name.as_str();
    match target.kind.as_str() {
        "Deployment" => read_scale::<Deployment>(ctx, namespace, name, |d| {
            (d.spec.replicas, &d.spec.selector)
        }),
        "ReplicaSet" => read_scale::<ReplicaSet>(ctx, namespace, name, |r| {
            (r.spec.replicas, &r.spec.selector)
        }),
        "StatefulSet" => read_scale::<StatefulSet>(ctx, namespace, name, |s| {
            (s.spec.replicas, &s.spec.selector)
        }),
        k => Err(format!(
            "spec.scaleTargetRef.kind: {k:?} has no scale; steady scales Deployment, ReplicaSet and StatefulSet"
        )),
    }
}

/// Writes the target's `spec.replicas` (the scale subresource's write).
pub(super) fn set_replicas(
    ctx: &Context,
    namespace: &str,
    target: &CrossVersionObjectReference,
    replicas: i32,
) -> crate::Result<()> {
    let patch = json!({"spec": {"replicas": replicas}});
    let name = target.name.as_str();
    match target.kind.as_str() {
        "Deployment" => ctx
            .api::<Deployment>()
            .namespace(namespace)
            .patch(name, &patch)
            .map(drop),
        "ReplicaSet" => ctx
            .api::<ReplicaSet>()
            .namespace(namespace)
            .patch(name, &patch)
            .map(drop),
        _ => ctx
            .api::<StatefulSet>()
            .namespace(namespace)
            .patch(name, &patch)
            .map(drop),
    }
}
