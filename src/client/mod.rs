//! The client (layer 3): typed [`Api<K>`] and the by-name [`DynamicApi`], with the verbs of
//! kube-apiserver: get, list, create, update, update_status, merge patch, delete, apply, watch,
//! and [`Api::evict`] for pods (the [`eviction`] path that honours PodDisruptionBudgets).
//!
//! In-process, the store is the cache: reads return the store's own `Arc` snapshots, and a
//! write is visible to every later read as soon as it returns (read-your-writes).

mod api;
mod dynamic;
pub mod events;
pub mod eviction;
pub mod leader;
pub mod merge;
pub mod patch;

/// The former name of [`TypedEvent`] (renamed: `api::Event` is the Kubernetes Event kind).
#[doc(hidden)]
pub use api::TypedEvent as Event;
pub use api::{Api, List, TypedEvent, TypedWatch};
pub use dynamic::check_kind;
pub use dynamic::DynamicApi;

pub use crate::store::{DeleteParams, Deleted, ListParams, Propagation, WatchParams};

/// The annotation in which apply keeps the configuration it last applied, as `kubectl apply`
/// does; the next apply removes what that configuration had and the new one lacks.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

use crate::api::{KindInfo, Object};
use crate::error::{Error, ObjectRef, Result};
use crate::store::Store;
use serde_json::Value;
use std::sync::Arc;

/// The form of a patch, as the `Content-Type` of a Kubernetes PATCH request names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// RFC 7386 JSON merge patch (`application/merge-patch+json`).
    Merge,
    /// RFC 6902 JSON patch (`application/json-patch+json`).
    Json,
    /// Strategic merge patch (`application/strategic-merge-patch+json`); see [`patch`].
    Strategic,
}

impl PatchType {
    /// Applies `patch` in this form to `target`.
    pub fn apply(self, target: &mut Value, patch: &Value) -> std::result::Result<(), String> {
        match self {
            PatchType::Merge => {
                merge::merge_patch(target, patch);
                Ok(())
            }
            PatchType::Json => patch::json_patch(target, patch),
            PatchType::Strategic => patch::strategic_merge_patch(target, patch),
        }
    }
}

/// What an apply did to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyAction {
    /// It did not exist and was created.
    Created,
    /// It existed and changed.
    Configured,
    /// It already matched: nothing was committed.
    Unchanged,
}

/// Prepares the object an apply of `desired` (an object of the kind `info` describes, as a
/// manifest gives it) writes, given the live object (if any): the three-way merge of
/// `kubectl apply` over the last-applied annotation (a strategic merge for built-in kinds,
/// a JSON merge for custom ones), recording the new last-applied configuration. Returns the
/// object to write (an update carries the live resourceVersion: a compare-and-swap) and
/// what writing it will be; nothing is written. [`Api::apply`] and [`crate::manifest`] are
/// built on it.
///
/// # Errors
///
/// The object does not decode as the kind, naming the field.
pub fn prepare_apply(
    info: &KindInfo,
    mut desired: Value,
    live: Option<&Arc<dyn Object>>,
) -> Result<(Arc<dyn Object>, ApplyAction)> {
    strip_server_fields(&mut desired);
    let config = serde_json::to_string(&recorded_config(info, &desired))
        .expect("JSON values always serialize");
    let object_ref = || ObjectRef::from_value(&info.kind, &desired);
    let (value, action) = match live {
        None => (desired.clone(), ApplyAction::Created),
        Some(live) => {
            let live_value = live.to_value();
            let last: Option<Value> = live
                .meta()
                .annotations
                .get(LAST_APPLIED_ANNOTATION)
                .and_then(|s| serde_json::from_str(s).ok());
            // As kubectl: a strategic merge for built-in kinds (lists merged by their merge
            // keys), a JSON merge for custom ones.
            let mut merged = if info.is_dynamic() {
                merge::three_way_merge(last.as_ref(), &desired, &live_value)
            } else {
                patch::strategic_three_way_merge(last.as_ref(), &desired, &live_value)
            };
            // The update is a compare-and-swap against the object the merge was computed from.
            if let Some(m) = merged.get_mut("metadata").and_then(Value::as_object_mut) {
                m.insert(
                    "resourceVersion".into(),
                    live.meta().resource_version.clone().into(),
                );
            }
            (merged, ApplyAction::Configured)
        }
    };
    let mut obj = info.decode(value).map_err(|e| Error::Invalid {
        object: object_ref(),
        errors: vec![e],
    })?;
    crate::api::make_mut(&mut obj)
        .meta_mut()
        .annotations
        .insert(LAST_APPLIED_ANNOTATION.to_string(), config);
    Ok((obj, action))
}

/// The configuration kept in the last-applied annotation: `desired`, but with the values of
/// a Secret's `data` and `stringData` replaced. The next merge only needs their keys (a key
/// that was applied and no longer is gets removed; values always come from the new
/// configuration), and the annotation must not carry the Secret's values where its
/// metadata shows (status lines, `Debug`, events about the object).
fn recorded_config(info: &KindInfo, desired: &Value) -> Value {
    if info.kind != "Secret" || info.api_version != "v1" {
        return desired.clone();
    }
    let mut v = desired.clone();
    for field in ["data", "stringData"] {
        if let Some(m) = v.get_mut(field).and_then(Value::as_object_mut) {
            for value in m.values_mut() {
                if !value.is_null() {
                    *value = Value::String("(redacted)".into());
                }
            }
        }
    }
    v
}

/// Removes what the store owns from an applied configuration: status and server-set
/// metadata, so they are neither recorded as applied nor fought over.
fn strip_server_fields(v: &mut Value) {
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
        if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in [
                "uid",
                "resourceVersion",
                "generation",
                "creationTimestamp",
                "deletionTimestamp",
                "managedFields",
            ] {
                m.remove(k);
            }
            if let Some(a) = m.get_mut("annotations").and_then(Value::as_object_mut) {
                a.remove(LAST_APPLIED_ANNOTATION);
                if a.is_empty() {
                    m.remove("annotations");
                }
            }
        }
    }
}

/// Applies a patch of form `how` to the stored object as one atomic step: read, patch,
/// decode, compare-and-swap against what was read; retried when another writer got there
/// first.
#[allow(clippy::too_many_arguments)]
pub(crate) fn patch_object(
    store: &Store,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    how: PatchType,
    patch: &Value,
    status: bool,
    decode: impl Fn(Value) -> Result<Arc<dyn Object>>,
) -> Result<Arc<dyn Object>> {
    modify_object(store, kind, namespace, name, status, decode, |cur| {
        let mut v = cur.clone();
        how.apply(&mut v, patch).map_err(|e| {
            Error::invalid(
                ObjectRef::new(kind, namespace, name),
                "",
                format!("the patch cannot be applied: {e}"),
            )
        })?;
        Ok(v)
    })
}

/// Read, modify, write as one atomic step: `modify` gets the stored object as JSON and
/// returns the object to write, which is decoded and written with a compare-and-swap
/// against the resourceVersion that was read. When another writer got there first, the
/// object is read again and `modify` called again, so it must be a function of what it is
/// given (kube-apiserver's "guaranteed update").
pub(crate) fn modify_object(
    store: &Store,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    status: bool,
    decode: impl Fn(Value) -> Result<Arc<dyn Object>>,
    mut modify: impl FnMut(&Value) -> Result<Value>,
) -> Result<Arc<dyn Object>> {
    loop {
        let cur = store.get(kind, namespace, name)?;
        let mut v = modify(&cur.to_value())?;
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert(
                "resourceVersion".into(),
                cur.meta().resource_version.clone().into(),
            );
        }
        let obj = decode(v)?;
        let res = if status {
            store.update_status(obj.as_ref())
        } else {
            store.update(obj)
        };
        match res {
            Err(Error::Conflict { .. }) => continue,
            other => return other,
        }
    }
}

/// Applies `desired` (a JSON object of kind `info`) to the store: create, or three-way merge
/// and update, retrying when the object changes underneath.
pub(crate) fn apply_value(
    store: &Store,
    info: &KindInfo,
    desired: Value,
) -> Result<(Arc<dyn Object>, ApplyAction)> {
    let m = desired.get("metadata");
    let name = m
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let ns = m
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .map(str::to_string);
    loop {
        let live = match store.get(&info.kind, ns.as_deref(), &name) {
            Ok(o) => Some(o),
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let (obj, action) = prepare_apply(info, desired.clone(), live.as_ref())?;
        let res = match action {
            ApplyAction::Created => store.create(obj),
            _ => store.update(obj),
        };
        match res {
            Ok(o) => {
                let unchanged = live.as_ref().is_some_and(|l| Arc::ptr_eq(l, &o));
                return Ok((
                    o,
                    if unchanged {
                        ApplyAction::Unchanged
                    } else {
                        action
                    },
                ));
            }
            Err(Error::Conflict { .. })
            | Err(Error::AlreadyExists { .. })
            | Err(Error::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
}
