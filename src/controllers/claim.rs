//! The controller-reference manager: which objects a controller owns.
//!
//! A controller owns the objects whose controller reference (the owner reference with
//! `controller: true`) carries its uid. Kubernetes adds two rules, kept here for any owner and
//! any dependent kind (a ReplicaSet's pods, a Deployment's ReplicaSets, ...):
//!
//! - **adopt**: an orphan (no controller reference) in the owner's namespace whose labels match
//!   the owner's selector, and that is not being deleted, becomes the owner's, unless the
//!   owner itself is being deleted;
//! - **release**: an object the owner controls whose labels no longer match the selector loses
//!   the owner's reference (unless the owner is being deleted), and another controller may
//!   adopt it.
//!
//! Objects controlled by someone else are never touched. Every change is a compare-and-swap
//! update of the object as it was read, retried on the newest version when another writer got
//! there first, so an adoption never overwrites a concurrent one.
//!
//! Candidates come from the store's indexes, not a scan: the objects matching the selector
//! (label index) and, when some object refers to the owner without matching it, the objects
//! carrying an owner reference to the owner (owner index); see
//! [`ControllerRefManager::claim_all`].

use crate::api::{LabelSelector, Object, Resource, Selector};
use crate::client::Api;
use crate::error::{Error, ObjectRef, Result};
use crate::runtime::owner::{is_controlled_by, set_controller_reference};
use crate::runtime::ObjectKey;
use crate::store::{ListParams, Store};
use std::sync::Arc;

/// How many times a claim write that lost a race is retried on the newest version.
const MAX_ATTEMPTS: usize = 8;

/// What a claim found.
#[derive(Debug)]
pub struct Claimed<K> {
    /// The objects the owner controls and whose labels match its selector, after adoption and
    /// release, in no particular order.
    pub owned: Vec<Arc<K>>,
    /// How many orphans were adopted.
    pub adopted: usize,
    /// How many objects were released.
    pub released: usize,
}

fn object_ref(o: &dyn Object) -> ObjectRef {
    ObjectRef::new(o.kind(), o.meta().namespace.as_deref(), &o.meta().name)
}

/// The owners of kind `O` that could adopt `obj`: when `obj` is an orphan (no controller
/// reference) and not being deleted, the `O`s in its namespace whose selector
/// (`selector_of`) matches its labels. For a controller's watch mapper of its dependent kind,
/// as Kubernetes' ReplicaSet controller maps orphan pods: an orphan that appears or is
/// released after an owner's last reconcile wakes the owners that may adopt it.
pub fn adopters<O: Resource>(
    store: &Store,
    obj: &dyn Object,
    selector_of: impl Fn(&O) -> &LabelSelector,
) -> Vec<ObjectKey> {
    let m = obj.meta();
    if m.controller_ref().is_some() || m.deletion_timestamp.is_some() || m.labels.is_empty() {
        return Vec::new();
    }
    let owners = match store.list_unordered(
        O::KIND,
        &ListParams {
            namespace: m.namespace.clone(),
            ..Default::default()
        },
    ) {
        Ok(l) => l.items,
        Err(_) => return Vec::new(),
    };
    owners
        .iter()
        .filter_map(|o| o.as_any().downcast_ref::<O>())
        .filter(|o| o.meta().deletion_timestamp.is_none())
        .filter(|o| {
            selector_of(o)
                .to_selector()
                .is_ok_and(|s| !s.is_everything() && s.matches(&m.labels))
        })
        .map(|o| ObjectKey::of(o))
        .collect()
}

/// Claims objects for one owner. Build one per reconcile: it remembers whether the owner was
/// found still alive when it first needed to adopt.
pub struct ControllerRefManager<'a> {
    store: &'a Store,
    owner: &'a dyn Object,
    selector: &'a Selector,
    /// Whether adoption is allowed, checked once against the store before the first adoption
    /// (the owner must still exist with the same uid and not be being deleted).
    may_adopt: Option<bool>,
}

impl std::fmt::Debug for ControllerRefManager<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerRefManager")
            .field("owner", &object_ref(self.owner))
            .finish()
    }
}

impl<'a> ControllerRefManager<'a> {
    /// A manager for `owner` (read from the store: it needs its uid) with its selector.
    pub fn new(store: &'a Store, owner: &'a dyn Object, selector: &'a Selector) -> Self {
        ControllerRefManager {
            store,
            owner,
            selector,
            may_adopt: None,
        }
    }

    fn owner_uid(&self) -> &str {
        self.owner.meta().uid.as_deref().unwrap_or("")
    }

    fn owner_deleting(&self) -> bool {
        self.owner.meta().deletion_timestamp.is_some()
    }

    /// Re-reads the owner once: adopting for an owner that was deleted meanwhile would leave
    /// the adopted objects to the garbage collector.
    fn may_adopt(&mut self) -> bool {
        if self.owner_deleting() {
            return false;
        }
        if let Some(ok) = self.may_adopt {
            return ok;
        }
        let m = self.owner.meta();
        let ok = self
            .store
            .get(self.owner.kind(), m.namespace.as_deref(), &m.name)
            .is_ok_and(|fresh| {
                fresh.meta().uid == m.uid && fresh.meta().deletion_timestamp.is_none()
            });
        self.may_adopt = Some(ok);
        ok
    }

    /// Claims the objects of kind `K` for the owner, from the store's indexes: the objects in
    /// its namespace that match the selector (label index) are adopted or kept, and the
    /// objects that refer to the owner without matching it (owner index) are released. See
    /// [`ControllerRefManager::claim`] for `filter` and errors.
    ///
    /// The owner index is only read when it holds more objects referring to the owner than
    /// the matching objects do, i.e. when something waits to be released (rare: a relabelled
    /// pod), so the common case reads each object once. Only the owner's own reconcile adds
    /// references to it, so the count can only be off by objects that lost theirs meanwhile,
    /// which at worst defers a release to the next reconcile (their change queues it).
    pub fn claim_all<K: Resource>(&mut self, filter: impl Fn(&K) -> bool) -> Result<Claimed<K>> {
        let store = self.store;
        store.registry().register_type::<K>();
        let ns = self.owner.meta().namespace.clone();
        let typed = |l: crate::store::ObjectList| -> Vec<Arc<K>> {
            l.items
                .into_iter()
                .filter_map(|o| o.downcast_arc::<K>().ok())
                .collect()
        };
        let matching = typed(store.list_unordered(
            K::KIND,
            &ListParams {
                namespace: ns.clone(),
                selector: Some(self.selector.clone()),
                ..Default::default()
            },
        )?);
        let (mut got, referring) = self.claim_counting(matching, &filter, true)?;
        let uid = self.owner_uid().to_string();
        if uid.is_empty() || store.owned_count(K::KIND, &uid)? <= referring {
            return Ok(got);
        }
        let selector = self.selector;
        let others: Vec<Arc<K>> = typed(store.list_unordered(
            K::KIND,
            &ListParams {
                namespace: ns,
                owner_uid: Some(uid),
                ..Default::default()
            },
        )?)
        .into_iter()
        // The matching ones were claimed above.
        .filter(|o| !selector.matches(&o.meta().labels))
        .collect();
        let (more, _) = self.claim_counting(others, &filter, false)?;
        got.owned.extend(more.owned);
        got.adopted += more.adopted;
        got.released += more.released;
        Ok(got)
    }

    /// Sorts `candidates` into the objects the owner controls, adopting matching orphans and
    /// releasing owned objects that no longer match. Objects for which `filter` is false are
    /// neither adopted, released nor returned (a ReplicaSet passes
    /// [`is_active`](super::pod_util::is_active)). Every candidate is tried; the first write
    /// error is returned after the others were handled.
    pub fn claim<K: Resource>(
        &mut self,
        candidates: Vec<Arc<K>>,
        filter: impl Fn(&K) -> bool,
    ) -> Result<Claimed<K>> {
        self.claim_counting(candidates, &filter, false)
            .map(|(c, _)| c)
    }

    /// [`ControllerRefManager::claim`], also counting the candidates (filtered out or not)
    /// that refer to the owner. `selected`: the candidates come from the store listing the
    /// owner's namespace with its selector, so both hold already (a pass over thousands of
    /// pods need not check them again).
    fn claim_counting<K: Resource>(
        &mut self,
        candidates: Vec<Arc<K>>,
        filter: &impl Fn(&K) -> bool,
        selected: bool,
    ) -> Result<(Claimed<K>, usize)> {
        let mut out = Claimed {
            owned: Vec::with_capacity(candidates.len()),
            adopted: 0,
            released: 0,
        };
        let mut referring = 0;
        let mut first_error = None;
        let uid = self.owner_uid().to_string();
        let ns = self.owner.meta().namespace_str().to_string();
        for obj in candidates {
            // One walk over the references: whether any names the owner, and the controller.
            let mut controller = None;
            let mut refers = false;
            for r in &obj.meta().owner_references {
                refers |= r.uid == uid;
                if r.controller == Some(true) && controller.is_none() {
                    controller = Some(r);
                }
            }
            if refers {
                referring += 1;
            }
            if !filter(&obj) || (!selected && obj.meta().namespace_str() != ns) {
                continue;
            }
            let matches = selected || self.selector.matches(&obj.meta().labels);
            match controller {
                Some(r) if r.uid == uid => {
                    if matches || self.owner_deleting() {
                        // Owned; an owner being deleted keeps what it has.
                        if matches {
                            out.owned.push(obj);
                        }
                        continue;
                    }
                    match self.release(&obj) {
                        Ok(()) => out.released += 1,
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                Some(_) => {} // another controller's
                None => {
                    if !matches || obj.meta().deletion_timestamp.is_some() || !self.may_adopt() {
                        continue;
                    }
                    match self.adopt(&obj, filter) {
                        Ok(Some(adopted)) => {
                            out.adopted += 1;
                            out.owned.push(adopted);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok((out, referring)),
        }
    }

    /// Adds the owner's controller reference to `obj`; `None` when it went away or stopped
    /// being adoptable while retrying.
    fn adopt<K: Resource>(
        &self,
        obj: &Arc<K>,
        filter: &impl Fn(&K) -> bool,
    ) -> Result<Option<Arc<K>>> {
        let api = Api::<K>::all(self.store.clone());
        let mut cur = obj.clone();
        for _ in 0..MAX_ATTEMPTS {
            let mut next = (*cur).clone();
            set_controller_reference(next.meta_mut(), self.owner).map_err(|m| {
                Error::invalid(object_ref(cur.as_ref()), "metadata.ownerReferences", m)
            })?;
            match api.update(next) {
                Ok(o) => return Ok(Some(o)),
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) if e.is_conflict() => {
                    let m = cur.meta();
                    let fresh = match self.store.get(K::KIND, m.namespace.as_deref(), &m.name) {
                        Ok(f) => f.downcast_arc::<K>().ok(),
                        Err(e) if e.is_not_found() => None,
                        Err(e) => return Err(e),
                    };
                    let Some(fresh) = fresh.filter(|f| f.meta().uid == m.uid) else {
                        return Ok(None);
                    };
                    if is_controlled_by(fresh.meta(), self.owner_uid()) {
                        return Ok(Some(fresh));
                    }
                    if fresh.meta().controller_ref().is_some()
                        || fresh.meta().deletion_timestamp.is_some()
                        || !self.selector.matches(&fresh.meta().labels)
                        || !filter(&fresh)
                    {
                        return Ok(None);
                    }
                    cur = fresh;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict {
            object: object_ref(obj.as_ref()),
            message: format!("adopting it kept losing to other writers ({MAX_ATTEMPTS} tries)"),
        })
    }

    /// Removes the owner's references from `obj` (gone already is fine).
    fn release<K: Resource>(&self, obj: &Arc<K>) -> Result<()> {
        let api = Api::<K>::all(self.store.clone());
        let uid = self.owner_uid();
        let mut cur = obj.clone();
        for _ in 0..MAX_ATTEMPTS {
            let mut next = (*cur).clone();
            next.meta_mut().owner_references.retain(|r| r.uid != uid);
            match api.update(next) {
                Ok(_) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) if e.is_conflict() => {
                    let m = cur.meta();
                    let fresh = match self.store.get(K::KIND, m.namespace.as_deref(), &m.name) {
                        Ok(f) => f.downcast_arc::<K>().ok(),
                        Err(e) if e.is_not_found() => None,
                        Err(e) => return Err(e),
                    };
                    match fresh.filter(|f| f.meta().uid == m.uid) {
                        Some(f) if f.meta().owner_references.iter().any(|r| r.uid == uid) => {
                            cur = f
                        }
                        _ => return Ok(()),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict {
            object: object_ref(obj.as_ref()),
            message: format!("releasing it kept losing to other writers ({MAX_ATTEMPTS} tries)"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ConfigMap, Map};
    use crate::clock::ManualClock;
    use crate::runtime::owner::owner_reference;
    use crate::Engine;

    fn engine() -> Engine {
        Engine::builder()
            .clock(Arc::new(ManualClock::default()))
            .build()
            .unwrap()
    }

    fn cm(name: &str, app: &str) -> ConfigMap {
        let mut c = ConfigMap::default();
        c.metadata.name = name.into();
        let mut l = Map::new();
        l.insert("app".to_string(), app.to_string());
        c.metadata.labels = l;
        c
    }

    #[test]
    fn claim_adopts_matching_orphans_and_releases_what_stopped_matching() {
        let e = engine();
        let api = e.api::<ConfigMap>();
        let owner = api.create(cm("owner", "none")).unwrap();
        let other = api.create(cm("other", "none")).unwrap();
        api.create(cm("orphan", "web")).unwrap();
        api.create(cm("stranger", "db")).unwrap();
        let mut owned = cm("mine-moved", "db");
        owned.metadata.owner_references = vec![owner_reference(owner.as_ref(), true)];
        api.create(owned).unwrap();
        let mut theirs = cm("theirs", "web");
        theirs.metadata.owner_references = vec![owner_reference(other.as_ref(), true)];
        api.create(theirs).unwrap();

        let sel = Selector::parse("app=web").unwrap();
        let mut m = ControllerRefManager::new(e.store(), owner.as_ref(), &sel);
        let got = m.claim_all(|_: &ConfigMap| true).unwrap();
        assert_eq!((got.adopted, got.released), (1, 1));
        let names: Vec<_> = got.owned.iter().map(|c| c.metadata.name.as_str()).collect();
        assert_eq!(names, ["orphan"]);
        let uid = owner.metadata.uid.clone().unwrap();
        assert!(is_controlled_by(&api.get("orphan").unwrap().metadata, &uid));
        assert!(api
            .get("mine-moved")
            .unwrap()
            .metadata
            .owner_references
            .is_empty());
        assert!(!is_controlled_by(
            &api.get("theirs").unwrap().metadata,
            &uid
        ));
    }

    #[test]
    fn an_owner_being_deleted_neither_adopts_nor_releases() {
        let e = engine();
        let api = e.api::<ConfigMap>();
        let mut o = cm("owner", "none");
        o.metadata.finalizers = vec!["hold".into()];
        let owner = api.create(o).unwrap();
        let mut owned = cm("moved", "db");
        owned.metadata.owner_references = vec![owner_reference(owner.as_ref(), true)];
        api.create(owned).unwrap();
        api.create(cm("orphan", "web")).unwrap();
        api.delete("owner", &Default::default()).unwrap();
        let owner = api.get("owner").unwrap();
        let sel = Selector::parse("app=web").unwrap();
        let got = ControllerRefManager::new(e.store(), owner.as_ref(), &sel)
            .claim_all(|_: &ConfigMap| true)
            .unwrap();
        assert_eq!((got.adopted, got.released, got.owned.len()), (0, 0, 0));
        assert!(api
            .get("orphan")
            .unwrap()
            .metadata
            .owner_references
            .is_empty());
        assert_eq!(api.get("moved").unwrap().metadata.owner_references.len(), 1);
    }

    #[test]
    fn filtered_out_objects_are_left_alone() {
        let e = engine();
        let api = e.api::<ConfigMap>();
        let owner = api.create(cm("owner", "none")).unwrap();
        api.create(cm("orphan", "web")).unwrap();
        let sel = Selector::parse("app=web").unwrap();
        let got = ControllerRefManager::new(e.store(), owner.as_ref(), &sel)
            .claim_all(|c: &ConfigMap| c.metadata.name != "orphan")
            .unwrap();
        assert_eq!(got.adopted, 0);
        assert!(api
            .get("orphan")
            .unwrap()
            .metadata
            .owner_references
            .is_empty());
    }
}
