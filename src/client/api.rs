//! `Api<K>`: typed access to one kind.

use super::{apply_value, patch_object, ApplyAction, PatchType};
use crate::api::{Object, Resource};
use crate::error::{Error, ObjectRef, Result};
use crate::store::{DeleteParams, Deleted, ListParams, Store, Watch, WatchEvent, WatchParams};
use serde_json::Value;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// Typed access to kind `K`, optionally scoped to one namespace.
///
/// Reads return the store's own `Arc<K>` snapshots: nothing is copied.
///
/// ```
/// use steady::api::core::Pod;
/// let engine = steady::Engine::builder().build().unwrap();
/// let pods = engine.api::<Pod>();
/// assert!(pods.get_opt("nope").unwrap().is_none());
/// ```
pub struct Api<K> {
    store: Store,
    namespace: Option<String>,
    _k: PhantomData<fn() -> K>,
}

impl<K> Clone for Api<K> {
    fn clone(&self) -> Self {
        Api {
            store: self.store.clone(),
            namespace: self.namespace.clone(),
            _k: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for Api<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// A typed list at one revision.
#[derive(Debug)]
pub struct List<K> {
    /// The objects, sorted by namespace and name.
    pub items: Vec<Arc<K>>,
    /// The revision the list was read at.
    pub revision: u64,
}

/// A typed watch event: what a [`TypedWatch`] yields (the typed form of [`WatchEvent`]).
#[derive(Debug)]
pub enum TypedEvent<K> {
    /// Created, or started matching the watch's filter (also the initial state).
    Added(Arc<K>),
    /// Changed.
    Modified(Arc<K>),
    /// Deleted, or stopped matching.
    Deleted(Arc<K>),
    /// Up to date as of this revision.
    Bookmark(u64),
}

impl<K> TypedEvent<K> {
    /// The object, unless this is a bookmark.
    pub fn object(&self) -> Option<&Arc<K>> {
        match self {
            TypedEvent::Added(o) | TypedEvent::Modified(o) | TypedEvent::Deleted(o) => Some(o),
            TypedEvent::Bookmark(_) => None,
        }
    }
}

/// A typed watch over kind `K`.
#[derive(Debug)]
pub struct TypedWatch<K> {
    inner: Watch,
    _k: PhantomData<fn() -> K>,
}

fn typed<K: Resource>(o: Arc<dyn Object>) -> Arc<K> {
    o.downcast_arc::<K>().unwrap_or_else(|o| {
        panic!(
            "the store holds {} objects as another type than {}",
            o.kind(),
            std::any::type_name::<K>()
        )
    })
}

fn typed_event<K: Resource>(e: WatchEvent) -> TypedEvent<K> {
    match e {
        WatchEvent::Added(o) => TypedEvent::Added(typed(o)),
        WatchEvent::Modified(o) => TypedEvent::Modified(typed(o)),
        WatchEvent::Deleted(o) => TypedEvent::Deleted(typed(o)),
        WatchEvent::Bookmark(r) => TypedEvent::Bookmark(r),
    }
}

impl<K: Resource> TypedWatch<K> {
    /// Blocks for the next event.
    pub fn recv(&mut self) -> Result<TypedEvent<K>> {
        self.inner.recv().map(typed_event)
    }

    /// Waits at most `timeout`; see [`Watch::recv_timeout`].
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<TypedEvent<K>>> {
        Ok(self.inner.recv_timeout(timeout)?.map(typed_event))
    }

    /// The next event if one is ready.
    pub fn try_recv(&mut self) -> Result<Option<TypedEvent<K>>> {
        Ok(self.inner.try_recv()?.map(typed_event))
    }

    /// The revision of the last event delivered.
    pub fn revision(&self) -> u64 {
        self.inner.revision()
    }
}

impl<K: Resource> Iterator for TypedWatch<K> {
    type Item = Result<TypedEvent<K>>;
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|r| r.map(typed_event))
    }
}

impl Api<crate::api::Pod> {
    /// Evicts the pod named `name`: deletes it (with `params`' preconditions and grace
    /// period) only if its PodDisruptionBudget allows it, as Kubernetes' `pods/eviction`
    /// subresource does (see [`eviction`](super::eviction) for the rules). An allowed
    /// eviction charges the budget (`status.disruptionsAllowed` minus one, the pod in
    /// `status.disruptedPods`) in the same transaction that deletes the pod.
    ///
    /// Errors: [`Error::Unavailable`] when a budget refuses it now (its message is
    /// Kubernetes' "Cannot evict pod as it would violate the pod's disruption budget."
    /// and what the budget needs; try again later); [`Error::Denied`] when more than one
    /// budget selects the pod or the budget forbids evictions; [`Error::NotFound`] for a
    /// missing pod; [`Error::Conflict`] when a precondition in `params` failed.
    ///
    /// ```
    /// use steady::api::core::Pod;
    /// use steady::client::DeleteParams;
    /// let engine = steady::Engine::builder().build().unwrap();
    /// let err = engine.api::<Pod>().evict("nope", &DeleteParams::default()).unwrap_err();
    /// assert!(err.is_not_found());
    /// ```
    pub fn evict(&self, name: &str, params: &DeleteParams) -> Result<Deleted> {
        let ns = self.ns().unwrap_or("default").to_string();
        super::eviction::evict(&self.store, &ns, name, params, false)
            .map(|d| d.expect("an eviction that is not a dry run deletes"))
            .map_err(|r| r.into_error(ObjectRef::new("Pod", Some(&ns), name)))
    }
}

impl<K: Resource> Api<K> {
    /// An API over every namespace; namespaced operations use `default` unless the object
    /// names its own namespace.
    pub fn all(store: Store) -> Self {
        store.registry().register_type::<K>();
        Api {
            store,
            namespace: None,
            _k: PhantomData,
        }
    }

    /// The same API scoped to `namespace`.
    pub fn namespace(&self, namespace: &str) -> Self {
        Api {
            store: self.store.clone(),
            namespace: Some(namespace.to_string()),
            _k: PhantomData,
        }
    }

    /// The namespace for single-object calls.
    fn ns(&self) -> Option<&str> {
        if K::NAMESPACED {
            Some(self.namespace.as_deref().unwrap_or("default"))
        } else {
            None
        }
    }

    fn scope(&self, obj: &mut K) {
        if K::NAMESPACED && obj.meta().namespace.as_deref().is_none_or(str::is_empty) {
            obj.meta_mut().namespace = self.ns().map(str::to_string);
        }
    }

    /// The object named `name`; [`Error::NotFound`] if it does not exist.
    pub fn get(&self, name: &str) -> Result<Arc<K>> {
        self.store.get(K::KIND, self.ns(), name).map(typed)
    }

    /// The object named `name`, or `None`.
    pub fn get_opt(&self, name: &str) -> Result<Option<Arc<K>>> {
        match self.get(name) {
            Ok(o) => Ok(Some(o)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A consistent list (in this API's namespace unless `params` names one).
    pub fn list(&self, params: &ListParams) -> Result<List<K>> {
        let mut p = params.clone();
        if p.namespace.is_none() && K::NAMESPACED {
            p.namespace = self.namespace.clone();
        }
        let l = self.store.list(K::KIND, &p)?;
        Ok(List {
            items: l.items.into_iter().map(typed).collect(),
            revision: l.revision,
        })
    }

    /// Creates `obj`.
    pub fn create(&self, mut obj: K) -> Result<Arc<K>> {
        self.scope(&mut obj);
        self.store.create(Arc::new(obj)).map(typed)
    }

    /// Updates spec and metadata (compare-and-swap when `obj` carries a resourceVersion).
    pub fn update(&self, mut obj: K) -> Result<Arc<K>> {
        self.scope(&mut obj);
        self.store.update(Arc::new(obj)).map(typed)
    }

    /// Updates the status subresource.
    pub fn update_status(&self, obj: &K) -> Result<Arc<K>> {
        if K::NAMESPACED && obj.meta().namespace.is_none() && self.namespace.is_some() {
            let mut o = obj.clone();
            self.scope(&mut o);
            return self.store.update_status(&o).map(typed);
        }
        self.store.update_status(obj).map(typed)
    }

    /// Applies a JSON merge patch (RFC 7386) to spec and metadata, atomically with respect to
    /// other writers (retried on conflict). Status in the patch is ignored; see
    /// [`Api::patch_status`].
    pub fn patch(&self, name: &str, patch: &Value) -> Result<Arc<K>> {
        self.patch_with(name, patch, false)
    }

    /// Applies a JSON merge patch to the status subresource.
    pub fn patch_status(&self, name: &str, patch: &Value) -> Result<Arc<K>> {
        self.patch_with(name, patch, true)
    }

    fn patch_with(&self, name: &str, patch: &Value, status: bool) -> Result<Arc<K>> {
        let decode = |v: Value| {
            serde_json::from_value::<K>(v)
                .map(|k| Arc::new(k) as Arc<dyn Object>)
                .map_err(|e| {
                    Error::invalid(
                        ObjectRef::new(K::KIND, self.ns(), name),
                        "",
                        format!("patch result: {e}"),
                    )
                })
        };
        patch_object(
            &self.store,
            K::KIND,
            self.ns(),
            name,
            PatchType::Merge,
            patch,
            status,
            decode,
        )
        .map(typed)
    }

    /// Deletes the object named `name`.
    pub fn delete(&self, name: &str, params: &DeleteParams) -> Result<Deleted> {
        self.store.delete(K::KIND, self.ns(), name, params)
    }

    /// Creates or updates `obj` as `kubectl apply` does: fields removed since the last apply
    /// are removed, fields set by others are kept, and an apply that changes nothing commits
    /// nothing.
    pub fn apply(&self, mut obj: K) -> Result<(Arc<K>, ApplyAction)> {
        self.scope(&mut obj);
        let info = self.store.registry().register_type::<K>();
        apply_value(&self.store, &info, obj.to_value()).map(|(o, a)| (typed(o), a))
    }

    /// Watches this kind (in this API's namespace unless `params` names one).
    pub fn watch(&self, params: &WatchParams) -> Result<TypedWatch<K>> {
        let mut p = params.clone();
        if p.namespace.is_none() && K::NAMESPACED {
            p.namespace = self.namespace.clone();
        }
        Ok(TypedWatch {
            inner: self.store.watch(K::KIND, &p)?,
            _k: PhantomData,
        })
    }
}
