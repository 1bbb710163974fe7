//! `DynamicApi`: any kind by name, objects as [`DynamicObject`]s.

use super::{apply_value, modify_object, patch_object, ApplyAction, PatchType};
use crate::api::{DynamicObject, KindInfo, Object};
use crate::error::{Error, ObjectRef, Result};
use crate::store::{DeleteParams, Deleted, ListParams, Store, Watch, WatchParams};
use serde_json::Value;
use std::sync::Arc;

/// Access to one kind by name. Objects go in and come out as [`DynamicObject`]s (JSON with
/// typed metadata); for built-in kinds they are decoded into, and converted from, the typed
/// form the store holds, so validation is the same as through [`Api`](super::Api).
#[derive(Clone, Debug)]
pub struct DynamicApi {
    store: Store,
    info: Arc<KindInfo>,
    namespace: Option<String>,
}

fn to_dynamic(o: Arc<dyn Object>) -> Arc<DynamicObject> {
    match o.clone().downcast_arc::<DynamicObject>() {
        Ok(d) => d,
        Err(o) => Arc::new(DynamicObject::from_object(o.as_ref())),
    }
}

impl DynamicApi {
    /// Access to `kind` as `api_version`. A kind the engine does not serve (not built in,
    /// not registered by configuration or by a CustomResourceDefinition) is
    /// [`Error::NoMatch`].
    pub fn new(store: Store, api_version: &str, kind: &str) -> Result<Self> {
        let info = store
            .registry()
            .served(api_version, kind)
            .ok_or_else(|| Error::no_match(api_version, kind))?;
        Ok(DynamicApi {
            store,
            info,
            namespace: None,
        })
    }

    /// The same API scoped to `namespace`.
    pub fn namespace(&self, namespace: &str) -> Self {
        DynamicApi {
            namespace: Some(namespace.to_string()),
            ..self.clone()
        }
    }

    /// The kind's registration.
    pub fn info(&self) -> &Arc<KindInfo> {
        &self.info
    }

    pub(crate) fn ns(&self) -> Option<&str> {
        self.info
            .namespaced
            .then(|| self.namespace.as_deref().unwrap_or("default"))
    }

    /// Decodes a JSON object of this kind into what the store holds.
    pub fn decode(&self, mut value: Value) -> Result<Arc<dyn Object>> {
        self.complete(&mut value)?;
        let r = ObjectRef::from_value(&self.info.kind, &value);
        self.info.decode(value).map_err(|e| Error::Invalid {
            object: r,
            errors: vec![e],
        })
    }

    /// [`DynamicApi::decode`], leaving `value` (completed with the defaults `decode` fills
    /// in) to the caller.
    #[cfg(feature = "apiserver")]
    pub(crate) fn decode_ref(&self, value: &mut Value) -> Result<Arc<dyn Object>> {
        self.complete(value)?;
        self.info.decode_ref(value).map_err(|e| Error::Invalid {
            object: ObjectRef::from_value(&self.info.kind, value),
            errors: vec![e],
        })
    }

    /// Fills in this API's apiVersion, kind and namespace where `value` leaves them out, and
    /// checks the kind.
    fn complete(&self, value: &mut Value) -> Result<()> {
        if let Some(o) = value.as_object_mut() {
            o.entry("apiVersion")
                .or_insert_with(|| self.info.api_version.clone().into());
            o.entry("kind")
                .or_insert_with(|| self.info.kind.clone().into());
            if self.info.namespaced {
                if let Some(ns) = &self.namespace {
                    let m = o
                        .entry("metadata")
                        .or_insert_with(|| Value::Object(Default::default()));
                    if let Some(m) = m.as_object_mut() {
                        m.entry("namespace").or_insert_with(|| ns.clone().into());
                    }
                }
            }
        }
        check_kind(&self.info, value)
    }

    /// The object named `name`.
    pub fn get(&self, name: &str) -> Result<Arc<DynamicObject>> {
        self.store
            .get(&self.info.kind, self.ns(), name)
            .map(to_dynamic)
    }

    /// A consistent list.
    pub fn list(&self, params: &ListParams) -> Result<(Vec<Arc<DynamicObject>>, u64)> {
        let mut p = params.clone();
        if p.namespace.is_none() {
            p.namespace = self.namespace.clone();
        }
        let l = self.store.list(&self.info.kind, &p)?;
        Ok((l.items.into_iter().map(to_dynamic).collect(), l.revision))
    }

    /// Creates the object given as JSON.
    pub fn create(&self, value: Value) -> Result<Arc<DynamicObject>> {
        self.store.create(self.decode(value)?).map(to_dynamic)
    }

    /// Updates the object given as JSON (compare-and-swap when it carries a resourceVersion).
    pub fn update(&self, value: Value) -> Result<Arc<DynamicObject>> {
        self.store.update(self.decode(value)?).map(to_dynamic)
    }

    /// Updates the status of the object given as JSON.
    pub fn update_status(&self, value: Value) -> Result<Arc<DynamicObject>> {
        let o = self.decode(value)?;
        self.store.update_status(o.as_ref()).map(to_dynamic)
    }

    /// Applies a JSON merge patch to spec and metadata (or to the status with `status`).
    pub fn patch(&self, name: &str, patch: &Value, status: bool) -> Result<Arc<DynamicObject>> {
        self.patch_as(name, PatchType::Merge, patch, status)
    }

    /// Applies a patch of any of the three forms Kubernetes clients send (JSON merge, JSON
    /// patch, strategic merge) to spec and metadata (or to the status with `status`), as one
    /// compare-and-swap, retried when the object changed meanwhile.
    pub fn patch_as(
        &self,
        name: &str,
        how: PatchType,
        patch: &Value,
        status: bool,
    ) -> Result<Arc<DynamicObject>> {
        patch_object(
            &self.store,
            &self.info.kind,
            self.ns(),
            name,
            how,
            patch,
            status,
            |v| self.decode(v),
        )
        .map(to_dynamic)
    }

    /// Changes the object named `name` as one compare-and-swap: `modify` gets the stored
    /// object as JSON and returns the object to write (spec and metadata, or only the status
    /// with `status`). When another writer changed the object in between, it is read again
    /// and `modify` called again, so `modify` must depend only on what it is given. An error
    /// from `modify` ends the attempt with nothing written.
    ///
    /// ```
    /// # use steady::api::Object;
    /// # let engine = steady::Engine::builder().build().unwrap();
    /// engine.apply("{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"c\"}}").unwrap();
    /// let api = engine.dynamic("v1", "ConfigMap").unwrap().namespace("default");
    /// let c = api
    ///     .modify("c", false, |cur| {
    ///         let mut next = cur.clone();
    ///         next["data"] = serde_json::json!({"count": "1"});
    ///         Ok(next)
    ///     })
    ///     .unwrap();
    /// assert_eq!(c.to_value()["data"]["count"], "1");
    /// ```
    pub fn modify(
        &self,
        name: &str,
        status: bool,
        modify: impl FnMut(&Value) -> Result<Value>,
    ) -> Result<Arc<DynamicObject>> {
        modify_object(
            &self.store,
            &self.info.kind,
            self.ns(),
            name,
            status,
            |v| self.decode(v),
            modify,
        )
        .map(to_dynamic)
    }

    /// Deletes the object named `name`.
    pub fn delete(&self, name: &str, params: &DeleteParams) -> Result<Deleted> {
        self.store.delete(&self.info.kind, self.ns(), name, params)
    }

    /// Creates or updates the object as `kubectl apply` does.
    pub fn apply(&self, mut value: Value) -> Result<(Arc<DynamicObject>, ApplyAction)> {
        // Normalise through decode so defaults (namespace, apiVersion) and errors are the same.
        let normal = self.decode(value.clone())?;
        if let Some(m) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("namespace".into(), normal.meta().namespace.clone().into());
        }
        if let Some(o) = value.as_object_mut() {
            o.insert("apiVersion".into(), normal.api_version().into());
            o.insert("kind".into(), normal.kind().into());
        }
        apply_value(&self.store, &self.info, value).map(|(o, a)| (to_dynamic(o), a))
    }

    /// Watches this kind; events carry the store's objects (typed or dynamic).
    pub fn watch(&self, params: &WatchParams) -> Result<Watch> {
        let mut p = params.clone();
        if p.namespace.is_none() {
            p.namespace = self.namespace.clone();
        }
        self.store.watch(&self.info.kind, &p)
    }
}

/// Checks `kind` and `apiVersion` of a JSON object against the registration `info`: the
/// kind must be `info`'s and the apiVersion one it serves.
///
/// # Errors
///
/// [`Error::Invalid`] naming `kind` (missing or another kind) or `apiVersion` (missing, or
/// a version of a built-in kind it does not serve); [`Error::NoMatch`] for a version of a
/// custom kind it does not serve.
pub fn check_kind(info: &KindInfo, v: &Value) -> Result<()> {
    let r = || ObjectRef::from_value(&info.kind, v);
    match v.get("kind").and_then(Value::as_str) {
        Some(k) if k == info.kind => {}
        Some(k) => {
            return Err(Error::invalid(
                r(),
                "kind",
                format!("expected {:?}, found {k:?}", info.kind),
            ))
        }
        None => return Err(Error::invalid(r(), "kind", "kind is required")),
    }
    match v.get("apiVersion").and_then(Value::as_str) {
        Some(a) if info.serves(a) => Ok(()),
        Some(a) if info.is_dynamic() => Err(Error::NoMatch {
            object: r(),
            api_version: a.to_string(),
        }),
        Some(a) => Err(Error::invalid(
            r(),
            "apiVersion",
            format!(
                "{} is served as {:?}, not {a:?}",
                info.kind, info.api_version
            ),
        )),
        None => Err(Error::invalid(r(), "apiVersion", "apiVersion is required")),
    }
}
