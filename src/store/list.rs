//! Reads: get, list and counts. A list is taken under the kind's lock, so it is the state at
//! exactly one revision; the narrowest index that applies picks the candidates.

use super::*;

impl Store {
    // ----- reads -----

    /// The object `kind` `namespace/name` (namespace ignored for cluster-scoped kinds;
    /// `None` means `default` for namespaced ones).
    pub fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Result<Arc<dyn Object>> {
        let ks = self.kind_named(kind)?;
        with_key(&ks.info, namespace, name, |k| ks.get(k)).ok_or_else(|| Error::NotFound {
            object: ObjectRef::new(
                kind,
                namespace.or(ks.info.namespaced.then_some("default")),
                name,
            ),
        })
    }

    /// A consistent list of `kind` at one revision.
    pub fn list(&self, kind: &str, params: &ListParams) -> Result<ObjectList> {
        let ks = self.kind_named(kind)?;
        let st = ks.state.lock();
        Ok(list_locked(&ks, &st, params, self.revision()))
    }

    /// Like [`Store::list`], with the items in no particular order: what a controller that
    /// counts or claims its children needs, without paying for sorting thousands of names.
    /// Still a consistent view of the kind at `revision`.
    pub fn list_unordered(&self, kind: &str, params: &ListParams) -> Result<ObjectList> {
        let ks = self.kind_named(kind)?;
        let st = ks.state.lock();
        let items = objects_locked(&ks, &st, params);
        Ok(ObjectList {
            items,
            revision: self.revision(),
        })
    }

    /// [`Store::list_unordered`] with each object's store key (`namespace/name`, or `name`
    /// for a cluster-scoped kind), shared rather than formatted again: what the controller
    /// runtime queues when it hands a newcomer the current objects.
    pub(crate) fn list_keyed(
        &self,
        kind: &str,
        params: &ListParams,
    ) -> Result<Vec<(Key, Arc<dyn Object>)>> {
        let ks = self.kind_named(kind)?;
        let st = ks.state.lock();
        let mut out = Vec::with_capacity(ks.objects.len());
        visit_locked(&ks, &st, params, |k, o| out.push((k.clone(), o.clone())));
        Ok(out)
    }

    /// The store key of every object of `kind`, in no order, as of one instant: what the
    /// controller runtime queues for a newcomer that looks at no object before its
    /// reconcile. Cheaper than [`Store::list_keyed`] by one cache miss per object (its
    /// reference count is neither raised nor dropped).
    pub(crate) fn list_keys(&self, kind: &str) -> Result<Vec<Key>> {
        let ks = self.kind_named(kind)?;
        let _st = ks.state.lock();
        Ok(ks.objects.iter().map(|e| e.key().clone()).collect())
    }

    /// Number of objects of `kind` (in every namespace) with an owner reference to the owner
    /// with uid `owner_uid`: the size of the owner index entry, without reading the objects.
    pub fn owned_count(&self, kind: &str, owner_uid: &str) -> Result<usize> {
        let ks = self.kind_named(kind)?;
        let st = ks.state.lock();
        Ok(st.by_owner(owner_uid).map_or(0, |s| s.len()))
    }

    /// Number of watches open on `kind`.
    pub fn watch_count(&self, kind: &str) -> usize {
        self.inner
            .kinds
            .read()
            .get(kind)
            .map_or(0, |k| k.state.lock().watchers.len())
    }

    /// Number of objects of `kind`.
    pub fn count(&self, kind: &str) -> usize {
        self.inner
            .kinds
            .read()
            .get(kind)
            .map_or(0, |k| k.objects.len())
    }
}

/// Lists under the kind's lock, so the result is the state at exactly `revision`.
pub(super) fn list_locked(
    ks: &KindStore,
    st: &KindState,
    p: &ListParams,
    revision: u64,
) -> ObjectList {
    let mut items = objects_locked(ks, st, p);
    items.sort_unstable_by(|a, b| {
        (a.meta().namespace_str(), a.meta().name.as_str())
            .cmp(&(b.meta().namespace_str(), b.meta().name.as_str()))
    });
    ObjectList { items, revision }
}

/// The matching objects with their keys, in no particular order. Caller holds the kind lock.
pub(super) fn select_locked(
    ks: &KindStore,
    st: &KindState,
    p: &ListParams,
) -> Vec<(Key, Arc<dyn Object>)> {
    let mut out = Vec::new();
    visit_locked(ks, st, p, |k, o| out.push((k.clone(), o.clone())));
    out
}

/// The matching objects, in no particular order. Caller holds the kind lock.
pub(super) fn objects_locked(
    ks: &KindStore,
    st: &KindState,
    p: &ListParams,
) -> Vec<Arc<dyn Object>> {
    let mut out = Vec::new();
    visit_locked(ks, st, p, |_, o| out.push(o.clone()));
    out
}

/// Calls `f` with every object matching `p` and its key, in no particular order. Caller holds
/// the kind lock, so the objects visited are the state at one revision.
///
/// The narrowest index that applies (owner, field, label equality) gives the candidates;
/// when even that holds more than half of the kind, one pass over the objects is cheaper
/// than a lookup per candidate (a ReplicaSet's selector matches every pod of a large
/// Deployment).
pub(super) fn visit_locked(
    ks: &KindStore,
    st: &KindState,
    p: &ListParams,
    mut f: impl FnMut(&Key, &Arc<dyn Object>),
) {
    let ns = p.namespace.as_deref().filter(|n| !n.is_empty());
    let matches = |o: &dyn Object| {
        ns.is_none_or(|n| o.meta().namespace_str() == n)
            && p.selector
                .as_ref()
                .is_none_or(|s| s.matches(&o.meta().labels))
            && p.owner_uid
                .as_deref()
                .is_none_or(|u| o.meta().owner_references.iter().any(|r| r.uid == u))
            && p.field
                .as_ref()
                .is_none_or(|(f, v)| st.field_value(f, o) == Some(v.as_str()))
    };
    // The narrowest index entry that applies. An index without an entry for the value
    // means nothing matches.
    let lookups = p
        .owner_uid
        .as_ref()
        .map(|uid| st.by_owner(uid))
        .into_iter()
        .chain(p.field.as_ref().and_then(|(f, v)| st.by_field(f, v)))
        .chain(
            p.selector
                .iter()
                .flat_map(|sel| sel.equality_pairs())
                .map(|(k, v)| st.by_label(k, v)),
        );
    let mut candidates: Option<&std::collections::HashSet<Key>> = None;
    for set in lookups {
        let Some(set) = set else { return };
        if candidates.is_none_or(|c| set.len() < c.len()) {
            candidates = Some(set);
        }
    }
    match candidates {
        Some(keys) if keys.len() * 2 <= ks.objects.len() => {
            for k in keys {
                if let Some(e) = ks.objects.get(k) {
                    let o = &e.value().obj;
                    if matches(o.as_ref()) {
                        f(k, o);
                    }
                }
            }
        }
        _ => {
            for e in ks.objects.iter() {
                let o = &e.value().obj;
                if matches(o.as_ref()) {
                    f(e.key(), o);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ConfigMap;

    #[test]
    fn an_unordered_list_holds_what_the_sorted_list_holds() {
        let registry = Arc::new(Registry::new());
        crate::api::register_builtins(&registry);
        let store = Store::new(registry, StoreConfig::default());
        ensure_namespaces(&store, &["a", "b", "c"]);
        for (ns, name) in [("b", "x"), ("a", "y"), ("a", "x"), ("c", "a")] {
            let mut cm = ConfigMap::default();
            cm.metadata.name = name.into();
            cm.metadata.namespace = Some(ns.into());
            cm.metadata.labels.insert("k".into(), ns.into());
            store.create(Arc::new(cm)).unwrap();
        }
        let keys = |l: &ObjectList| {
            let mut k: Vec<(String, String)> = l
                .items
                .iter()
                .map(|o| (o.meta().namespace_str().to_string(), o.meta().name.clone()))
                .collect();
            k.sort();
            k
        };
        for params in [
            ListParams::default(),
            ListParams {
                namespace: Some("a".into()),
                ..Default::default()
            },
            ListParams {
                selector: Some(Selector::parse("k in (b,c)").unwrap()),
                ..Default::default()
            },
        ] {
            let sorted = store.list("ConfigMap", &params).unwrap();
            let unordered = store.list_unordered("ConfigMap", &params).unwrap();
            assert_eq!(keys(&sorted), keys(&unordered));
            assert_eq!(sorted.revision, unordered.revision);
        }
    }

    #[test]
    fn owned_count_is_the_number_of_dependents_in_the_owner_index() {
        let registry = Arc::new(Registry::new());
        crate::api::register_builtins(&registry);
        let store = Store::new(registry, StoreConfig::default());
        let reference = |uid: &str| crate::api::OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: "owner".into(),
            uid: uid.into(),
            ..Default::default()
        };
        for (name, uids) in [("a", vec!["u1"]), ("b", vec!["u1", "u2"]), ("c", vec![])] {
            let mut cm = ConfigMap::default();
            cm.metadata.name = name.into();
            cm.metadata.owner_references = uids.into_iter().map(reference).collect();
            store.create(Arc::new(cm)).unwrap();
        }
        assert_eq!(store.owned_count("ConfigMap", "u1").unwrap(), 2);
        assert_eq!(store.owned_count("ConfigMap", "u2").unwrap(), 1);
        assert_eq!(store.owned_count("ConfigMap", "u3").unwrap(), 0);
        store
            .delete("ConfigMap", None, "b", &DeleteParams::default())
            .unwrap();
        assert_eq!(store.owned_count("ConfigMap", "u1").unwrap(), 1);
    }
}
