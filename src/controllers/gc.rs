//! The garbage collector: deletes objects whose owners are gone, and carries out Foreground
//! and Orphan deletion, for every kind (typed and custom) and every owner kind.
//!
//! # Policies (`metadata.ownerReferences`, owners in the dependent's namespace or cluster-scoped)
//! - **Background** (the default): the owner goes at once; a dependent none of whose owners
//!   exists any more (matched by uid: a re-created owner of the same name is another owner)
//!   is deleted. A dependent with another owner still alive only loses the references to the
//!   gone owners.
//! - **Foreground**: the store marks the owner with finalizer `foregroundDeletion`; the
//!   collector deletes its dependents (a dependent that has dependents of its own in
//!   Foreground too, so the whole tree goes bottom-up) and removes the finalizer once no
//!   dependent with `blockOwnerDeletion: true` remains. Dependents without it are deleted
//!   but not waited for.
//! - **Orphan**: the store marks the owner with finalizer `orphan`; the collector removes the
//!   owner's references from every dependent, then the finalizer.
//!
//! # How the collector learns about every kind
//! One controller per kind ([`GarbageCollector::controller_for`]), registered by the engine for
//! every kind it knows and, through a registry hook, for every kind registered later (custom
//! kinds are registered on first use). Each watches its kind's deletions, changes of owner
//! references, finalizers or deletion marks, and creations of objects with owners, with a
//! deletion mark, or under a key it remembers (below), and reconciles one object:
//!
//! - as a **dependent**: are its owners alive? If not, delete it (or strip the dead
//!   references);
//! - as an **owner being deleted**: Foreground or Orphan processing, as above;
//! - as an **owner that is gone**: a deleted object's key is reconciled, but the object (and
//!   its uid, by which dependents are indexed) is gone. So the collector remembers, for each
//!   object some dependent pointed at, its `(kind, key) -> uids`; the reconcile of a key whose
//!   object is gone (or has another uid) collects the dependents of the remembered uids through
//!   the store's owner index. Only owners are remembered (ReplicaSets, Deployments, ...), not
//!   every object.
//!
//! Foreground deletion waits for blocking dependents the same way: the owner registers itself
//! as a waiter on each, and a dependent's reconcile (its deletion, or its losing the reference)
//! queues the owner again through its kind's [`Trigger`].
//!
//! # No lost wakeups
//! Both memories are written *before* the state they guard is checked: a dependent records its
//! owner and then looks the owner up; an owner registers as a waiter and then lists its
//! blocking dependents again. The other side acts after the change it reacts to is committed
//! (an owner's key is reconciled after its deletion; a waiter is woken after the dependent's
//! change). So either the record is seen by the side that runs second, or the check of the side
//! that runs second sees the change: every dependent of a gone owner is collected, and no
//! owner waits for a dependent that already went.

use crate::api::{make_mut, Object, OwnerReference};
use crate::runtime::finalizer::{current, has_finalizer, remove_finalizer};
use crate::runtime::{Action, Context, Controller, ObjectKey, Predicate, ReconcileResult, Trigger};
use crate::store::{DeleteParams, ListParams, Propagation, Store};
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Finalizer of an owner in Foreground deletion.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// Finalizer of an owner in Orphan deletion.
pub const ORPHAN_FINALIZER: &str = "orphan";

/// How many times a write that lost a race is retried on the newest version.
const MAX_ATTEMPTS: usize = 16;

/// An owner in Foreground deletion waiting for one dependent.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Waiter {
    dependent_uid: String,
    owner_kind: String,
    owner_key: ObjectKey,
    owner_uid: String,
}

#[derive(Default)]
struct Shared {
    /// Objects some dependent pointed at: kind -> key -> uids.
    owners: Mutex<HashMap<String, HashMap<ObjectKey, HashSet<String>>>>,
    /// Owners in Foreground deletion waiting for a dependent: (dependent kind, key) -> waiters.
    waiters: Mutex<HashMap<(String, ObjectKey), Vec<Waiter>>>,
    /// The collector's controller of each kind, to queue keys across kinds.
    triggers: RwLock<HashMap<String, Trigger>>,
}

/// The garbage collector: one [`Controller`] per kind, sharing what they remember.
///
/// ```
/// use steady::controllers::gc::GarbageCollector;
/// let gc = GarbageCollector::new();
/// let c = gc.controller_for("example.com/v1", "Widget");
/// // engine.add_controller(c) for each kind; the engine does this for its kinds.
/// # let _ = c;
/// ```
#[derive(Clone, Default)]
pub struct GarbageCollector {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for GarbageCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GarbageCollector")
            .field("kinds", &self.shared.triggers.read().len())
            .finish()
    }
}

/// The name of the collector's controller for `kind`.
pub fn controller_name(kind: &str) -> String {
    format!("garbage-collector/{kind}")
}

/// True when a change touches what the collector looks at: owner references, finalizers,
/// the deletion mark. A creation (or the initial state, or a relist) with neither owners nor
/// a deletion mark passes only when `remembered`: when its key is one the collector keeps
/// uids or waiters for (a gone owner of the same name, a dependent an owner waits on). A
/// relist after a watch fell behind shows a re-created object as a creation, the deletion
/// between unseen; every other key has nothing to collect.
fn relevant(old: Option<&dyn Object>, new: &dyn Object, remembered: impl FnOnce() -> bool) -> bool {
    let Some(old) = old else {
        let m = new.meta();
        return !m.owner_references.is_empty() || m.deletion_timestamp.is_some() || remembered();
    };
    let (o, n) = (old.meta(), new.meta());
    o.owner_references != n.owner_references
        || o.finalizers != n.finalizers
        || o.deletion_timestamp != n.deletion_timestamp
        || o.uid != n.uid
}

fn blocks(o: &dyn Object, owner_uid: &str) -> bool {
    o.meta()
        .owner_references
        .iter()
        .any(|r| r.uid == owner_uid && r.block_owner_deletion == Some(true))
}

impl GarbageCollector {
    /// A collector with nothing remembered yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The collector's controller for `kind` (served as `api_version`). Register one per kind
    /// on the same engine; the engine does so for every kind, including those registered
    /// later.
    pub fn controller_for(&self, api_version: &str, kind: &str) -> Controller {
        let (shared, kind_name) = (self.shared.clone(), kind.to_string());
        let c = Controller::new(&controller_name(kind), api_version, kind).predicate(
            Predicate::Custom(Arc::new(move |old, new| {
                relevant(old, new, || shared.remembers(&kind_name, new))
            })),
        );
        self.shared
            .triggers
            .write()
            .insert(kind.to_string(), c.trigger());
        let shared = self.shared.clone();
        c.build(move |ctx: &Context| shared.reconcile(ctx))
    }
}

impl Shared {
    /// Whether the collector keeps uids (an owner some dependent pointed at) or waiters (a
    /// dependent an owner in Foreground deletion waits on) for `obj` of `kind`. Both are
    /// written before the state they guard is checked (see "No lost wakeups"), so a record
    /// made after this look finds that state on its own. Run by the informer for every
    /// creation without owners: the key is made only when a memory could hold it.
    fn remembers(&self, kind: &str, obj: &dyn Object) -> bool {
        // One lock at a time, as everywhere else here.
        let key = std::cell::OnceCell::new();
        let key = || key.get_or_init(|| ObjectKey::of(obj));
        if self
            .owners
            .lock()
            .get(kind)
            .is_some_and(|m| !m.is_empty() && m.contains_key(key()))
        {
            return true;
        }
        let waiters = self.waiters.lock();
        !waiters.is_empty() && waiters.contains_key(&(kind.to_string(), key().clone()))
    }

    fn reconcile(&self, ctx: &Context) -> ReconcileResult {
        let store = ctx.store();
        let kind = ctx.kind();
        let key = ctx.key();
        let live = ctx.object();
        let live_uid = live.as_ref().and_then(|o| o.meta().uid.clone());
        // An owner that is gone (or was replaced under its name): collect its dependents.
        let gone: Vec<String> = self
            .owners
            .lock()
            .get(kind)
            .and_then(|m| m.get(key))
            .map(|uids| {
                uids.iter()
                    .filter(|u| Some(*u) != live_uid.as_ref())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for uid in gone {
            for dep in dependents(store, &uid)? {
                self.attempt_to_delete(store, dep.as_ref(), Some(&uid))?;
            }
            // Forgotten only after every dependent was handled: a failure retries it all.
            let mut owners = self.owners.lock();
            if let Some(m) = owners.get_mut(kind) {
                if let Some(uids) = m.get_mut(key) {
                    uids.remove(&uid);
                    if uids.is_empty() {
                        m.remove(key);
                    }
                }
            }
        }
        self.wake_waiters(kind, key, live.as_deref());
        let Some(obj) = live else {
            return Ok(Action::done());
        };
        if obj.meta().deletion_timestamp.is_some() {
            if has_finalizer(obj.as_ref(), ORPHAN_FINALIZER) {
                self.orphan_dependents(store, obj.as_ref())?;
            }
            if has_finalizer(obj.as_ref(), FOREGROUND_FINALIZER) {
                self.delete_dependents(store, obj.as_ref())?;
            }
        } else if !obj.meta().owner_references.is_empty() {
            self.attempt_to_delete(store, obj.as_ref(), None)?;
        }
        Ok(Action::done())
    }

    fn trigger(&self, kind: &str, key: ObjectKey) {
        if let Some(t) = self.triggers.read().get(kind) {
            t.enqueue(key);
        }
    }

    /// Queues the owners waiting on the dependent `kind`/`key` that it no longer blocks: it is
    /// gone, replaced, or no longer refers to them with `blockOwnerDeletion`.
    fn wake_waiters(&self, kind: &str, key: &ObjectKey, live: Option<&dyn Object>) {
        let mut fire = Vec::new();
        {
            let mut waiters = self.waiters.lock();
            let slot = (kind.to_string(), key.clone());
            if let Some(list) = waiters.get_mut(&slot) {
                list.retain(|w| {
                    let still = live.is_some_and(|o| {
                        o.meta().uid.as_deref() == Some(w.dependent_uid.as_str())
                            && blocks(o, &w.owner_uid)
                    });
                    if !still {
                        fire.push((w.owner_kind.clone(), w.owner_key.clone()));
                    }
                    still
                });
                if list.is_empty() {
                    waiters.remove(&slot);
                }
            }
        }
        for (k, key) in fire {
            self.trigger(&k, key);
        }
    }

    /// Handles one dependent: when none of its owners is alive (an owner in Foreground
    /// deletion does not count) it is deleted; when some is, the references to the others are
    /// removed. `from_owner` is the uid of the owner whose reconcile calls this (not queued
    /// again).
    fn attempt_to_delete(
        &self,
        store: &Store,
        dep: &dyn Object,
        from_owner: Option<&str>,
    ) -> crate::Result<()> {
        self.attempt_to_delete_from(store, dep, from_owner, 0)
    }

    /// [`Self::attempt_to_delete`] on the version `dep` examined; `tries` earlier versions
    /// changed under it.
    fn attempt_to_delete_from(
        &self,
        store: &Store,
        dep: &dyn Object,
        from_owner: Option<&str>,
        tries: usize,
    ) -> crate::Result<()> {
        if dep.meta().deletion_timestamp.is_some() || dep.meta().owner_references.is_empty() {
            return Ok(());
        }
        // Remember the owners first, then look them up (see "No lost wakeups").
        {
            let mut owners = self.owners.lock();
            for r in &dep.meta().owner_references {
                owners
                    .entry(r.kind.clone())
                    .or_default()
                    .entry(owner_key(store, dep, r))
                    .or_default()
                    .insert(r.uid.clone());
            }
        }
        let (mut solid, mut dangling, mut waiting) = (0, Vec::new(), Vec::new());
        for r in &dep.meta().owner_references {
            match lookup_owner(store, dep, r) {
                None => dangling.push(r.clone()),
                Some(o)
                    if o.meta().deletion_timestamp.is_some()
                        && has_finalizer(o.as_ref(), FOREGROUND_FINALIZER) =>
                {
                    waiting.push(r.clone())
                }
                Some(_) => solid += 1,
            }
        }
        if dangling.is_empty() && waiting.is_empty() {
            return Ok(());
        }
        let result = if solid > 0 {
            let strip: HashSet<&str> = dangling
                .iter()
                .chain(waiting.iter())
                .map(|r| r.uid.as_str())
                .collect();
            strip_owner_references(store, dep, &strip).map(|_| ())
        } else {
            let propagation = if !waiting.is_empty() && has_dependents(store, dep)? {
                Propagation::Foreground
            } else if has_finalizer(dep, ORPHAN_FINALIZER) {
                Propagation::Orphan
            } else if has_finalizer(dep, FOREGROUND_FINALIZER) {
                Propagation::Foreground
            } else {
                Propagation::Background
            };
            // Deleted only as examined: at this resourceVersion. Otherwise an owner being
            // orphaned could strip its reference (and then go) between the look-up above and
            // the delete, and a dependent that was just orphaned would be collected as if
            // its owner had gone with it.
            let m = dep.meta();
            let params = DeleteParams {
                uid: m.uid.clone(),
                resource_version: m.resource_version.clone(),
                propagation,
                ..Default::default()
            };
            match store.delete(dep.kind(), m.namespace.as_deref(), &m.name, &params) {
                Ok(_) => Ok(()),
                Err(e) if e.is_not_found() => Ok(()),
                // Changed since examined: decide again on the newest version (gone, or
                // replaced by another object of the name: nothing to do).
                Err(e) if e.is_conflict() => match current(store, dep)? {
                    Some(fresh) if tries + 1 < MAX_ATTEMPTS => {
                        self.attempt_to_delete_from(store, fresh.as_ref(), from_owner, tries + 1)
                    }
                    // Kept changing: the reconcile's backoff retries it.
                    Some(_) => Err(e),
                    None => Ok(()),
                },
                Err(e) => Err(e),
            }
        };
        // Gone owners forget this dependent in their own reconcile; waiting owners re-list
        // what still blocks them. Also when the write failed, and after a retry on a newer
        // version, which may have returned early (no owner left): the owners recorded above
        // must still hear of it, or a gone owner's record of this dependent could stay for
        // good. (Only a failed read, `has_dependents` or `current` after a conflict, returns
        // before this; the reconcile's retry then records and triggers them again.)
        for r in dangling.iter().chain(waiting.iter()) {
            if from_owner != Some(r.uid.as_str()) {
                self.trigger(&r.kind, owner_key(store, dep, r));
            }
        }
        result
    }

    /// Foreground deletion of `owner`: deletes its dependents, and removes its finalizer once
    /// no dependent blocks it; otherwise registers as a waiter on each blocking dependent.
    fn delete_dependents(&self, store: &Store, owner: &dyn Object) -> crate::Result<()> {
        let uid = owner.meta().uid.clone().unwrap_or_default();
        for dep in dependents(store, &uid)? {
            self.attempt_to_delete(store, dep.as_ref(), Some(&uid))?;
        }
        let owner_kind = owner.kind().to_string();
        let owner_key = ObjectKey::of(owner);
        let mut registered: HashSet<String> = HashSet::new();
        for _ in 0..MAX_ATTEMPTS {
            let blocking: Vec<Arc<dyn Object>> = dependents(store, &uid)?
                .into_iter()
                .filter(|d| blocks(d.as_ref(), &uid))
                .collect();
            if blocking.is_empty() {
                return remove_finalizer(store, owner, FOREGROUND_FINALIZER);
            }
            let missing: Vec<&Arc<dyn Object>> = blocking
                .iter()
                .filter(|d| !registered.contains(d.meta().uid.as_deref().unwrap_or("")))
                .collect();
            if missing.is_empty() {
                // Every blocking dependent wakes us when it stops blocking.
                return Ok(());
            }
            let mut waiters = self.waiters.lock();
            for d in missing {
                let dep_uid = d.meta().uid.clone().unwrap_or_default();
                let w = Waiter {
                    dependent_uid: dep_uid.clone(),
                    owner_kind: owner_kind.clone(),
                    owner_key: owner_key.clone(),
                    owner_uid: uid.clone(),
                };
                let list = waiters
                    .entry((d.kind().to_string(), ObjectKey::of(d.as_ref())))
                    .or_default();
                if !list.contains(&w) {
                    list.push(w);
                }
                registered.insert(dep_uid);
            }
            // Listed again after registering (see "No lost wakeups").
        }
        Ok(())
    }

    /// Orphan deletion of `owner`: removes its references from every dependent, then its
    /// finalizer.
    fn orphan_dependents(&self, store: &Store, owner: &dyn Object) -> crate::Result<()> {
        let uid = owner.meta().uid.clone().unwrap_or_default();
        let strip: HashSet<&str> = [uid.as_str()].into_iter().collect();
        for dep in dependents(store, &uid)? {
            strip_owner_references(store, dep.as_ref(), &strip)?;
        }
        remove_finalizer(store, owner, ORPHAN_FINALIZER)
    }
}

/// The key of the owner `r` of `dep`: in `dep`'s namespace unless the owner's kind is
/// cluster-scoped.
fn owner_key(store: &Store, dep: &dyn Object, r: &OwnerReference) -> ObjectKey {
    let cluster_scoped = store
        .registry()
        .get(&r.kind)
        .is_some_and(|info| !info.namespaced);
    if cluster_scoped {
        ObjectKey::new(None, &r.name)
    } else {
        ObjectKey::new(dep.meta().namespace.as_deref(), &r.name)
    }
}

/// The owner `r` of `dep` when it exists with the referenced uid. A namespaced owner is looked
/// up in `dep`'s namespace only (a cluster-scoped dependent cannot have one); an unknown kind
/// has no objects.
fn lookup_owner(store: &Store, dep: &dyn Object, r: &OwnerReference) -> Option<Arc<dyn Object>> {
    let info = store.registry().get(&r.kind)?;
    let ns = if info.namespaced {
        Some(dep.meta().namespace.as_deref().filter(|n| !n.is_empty())?)
    } else {
        None
    };
    store
        .get(&r.kind, ns, &r.name)
        .ok()
        .filter(|o| o.meta().uid.as_deref() == Some(r.uid.as_str()))
}

/// Every object, of any kind, with an owner reference to `uid` (through each kind's owner
/// index).
fn dependents(store: &Store, uid: &str) -> crate::Result<Vec<Arc<dyn Object>>> {
    let params = ListParams {
        owner_uid: Some(uid.to_string()),
        ..Default::default()
    };
    let mut out = Vec::new();
    for info in store.registry().all() {
        out.extend(store.list_unordered(&info.kind, &params)?.items);
    }
    Ok(out)
}

fn has_dependents(store: &Store, o: &dyn Object) -> crate::Result<bool> {
    match o.meta().uid.as_deref() {
        Some(uid) => Ok(!dependents(store, uid)?.is_empty()),
        None => Ok(false),
    }
}

/// Removes from `dep` its owner references to `uids` (compare-and-swap, retried).
fn strip_owner_references(
    store: &Store,
    dep: &dyn Object,
    uids: &HashSet<&str>,
) -> crate::Result<()> {
    let mut cur: Arc<dyn Object> = dep.clone_arc();
    for _ in 0..MAX_ATTEMPTS {
        if !cur
            .meta()
            .owner_references
            .iter()
            .any(|r| uids.contains(r.uid.as_str()))
        {
            return Ok(());
        }
        let mut next = cur.clone();
        make_mut(&mut next)
            .meta_mut()
            .owner_references
            .retain(|r| !uids.contains(r.uid.as_str()));
        match store.update(next) {
            Ok(_) => return Ok(()),
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) if e.is_conflict() => match current(store, cur.as_ref())? {
                Some(fresh) => cur = fresh,
                None => return Ok(()),
            },
            Err(e) => return Err(e),
        }
    }
    Err(crate::Error::Conflict {
        object: crate::ObjectRef::new(
            dep.kind(),
            dep.meta().namespace.as_deref(),
            &dep.meta().name,
        ),
        message: "removing owner references kept losing to other writers".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ConfigMap, Registry};
    use crate::runtime::owner_reference;
    use crate::store::StoreConfig;

    fn store() -> Store {
        let registry = Registry::new();
        crate::api::register_builtins(&registry);
        Store::new(Arc::new(registry), StoreConfig::default())
    }

    fn config_map(name: &str, owners: Vec<OwnerReference>) -> Arc<dyn Object> {
        let mut c = ConfigMap::default();
        c.metadata.name = name.into();
        c.metadata.owner_references = owners;
        Arc::new(c)
    }

    /// A creation is worth a reconcile only for an object with owners or a deletion mark,
    /// or under a key the collector remembers: the collector's controller of every kind sees
    /// every object created, and most are none of these. Changes of what the collector looks
    /// at pass; others (a label) do not.
    #[test]
    fn creations_pass_only_with_owners_a_deletion_mark_or_a_remembered_key() {
        let owner = config_map("owner", vec![]);
        let plain = config_map("plain", vec![]);
        assert!(!relevant(None, plain.as_ref(), || false));
        assert!(
            relevant(None, plain.as_ref(), || true),
            "a key the collector remembers (a relist may show a re-created owner as created)"
        );
        let owned = config_map("owned", vec![owner_reference(owner.as_ref(), false)]);
        assert!(relevant(None, owned.as_ref(), || false));
        let mut deleting = ConfigMap::default();
        deleting.metadata.name = "deleting".into();
        deleting.metadata.finalizers = vec![ORPHAN_FINALIZER.into()];
        deleting.metadata.deletion_timestamp =
            Some(crate::clock::Time::from_unix_micros(1_000_000));
        assert!(relevant(None, &deleting, || false));
        // Changes: owners gained, finalizers, the deletion mark; a label alone is not one.
        assert!(relevant(Some(plain.as_ref()), owned.as_ref(), || false));
        let mut labelled = ConfigMap::default();
        labelled.metadata.name = "plain".into();
        labelled.metadata.labels.insert("a".into(), "b".into());
        assert!(!relevant(Some(plain.as_ref()), &labelled, || false));
        let mut finalized = labelled.clone();
        finalized.metadata.finalizers = vec![FOREGROUND_FINALIZER.into()];
        assert!(relevant(Some(&labelled), &finalized, || false));
        assert!(relevant(Some(&finalized), &deleting, || false));
    }

    /// The memories a plain creation is looked up in: the uids of owners some dependent
    /// pointed at, and the waiters of an owner in Foreground deletion, by kind and key.
    #[test]
    fn a_key_is_remembered_by_its_owner_uids_or_its_waiters() {
        let shared = Shared::default();
        let (x, y) = (config_map("x", vec![]), config_map("y", vec![]));
        assert!(!shared.remembers("ConfigMap", x.as_ref()));
        shared
            .owners
            .lock()
            .entry("ConfigMap".into())
            .or_default()
            .entry(ObjectKey::of(x.as_ref()))
            .or_default()
            .insert("uid-of-a-gone-x".into());
        assert!(shared.remembers("ConfigMap", x.as_ref()));
        assert!(!shared.remembers("ConfigMap", y.as_ref()));
        assert!(
            !shared.remembers("Secret", x.as_ref()),
            "another kind's key"
        );
        shared.waiters.lock().insert(
            ("ConfigMap".into(), ObjectKey::of(y.as_ref())),
            vec![Waiter {
                dependent_uid: "uid-of-a-gone-y".into(),
                owner_kind: "Deployment".into(),
                owner_key: ObjectKey::new(None, "owner"),
                owner_uid: "owner-uid".into(),
            }],
        );
        assert!(shared.remembers("ConfigMap", y.as_ref()));
    }

    /// The race of an owner deleted with Orphan against the collector examining one of its
    /// dependents: the collector read the dependent while it still named the owner, then the
    /// orphaning stripped the reference and the owner went, and only then did the collector
    /// look the owner up (gone) and act. The dependent was orphaned, not collected: the
    /// delete decided on the old version is refused, and the newest version has no owner.
    #[test]
    fn a_dependent_orphaned_after_it_was_examined_is_kept() {
        let store = store();
        let owner = store.create(config_map("owner", vec![])).unwrap();
        let examined = store
            .create(config_map(
                "dependent",
                vec![owner_reference(owner.as_ref(), true)],
            ))
            .unwrap();
        // The orphaning, done meanwhile: the reference stripped, the owner gone.
        let mut stripped = examined.clone();
        make_mut(&mut stripped).meta_mut().owner_references.clear();
        store.update(stripped).unwrap();
        store
            .delete(
                "ConfigMap",
                Some("default"),
                "owner",
                &DeleteParams::default(),
            )
            .unwrap();
        let gc = GarbageCollector::new();
        gc.shared
            .attempt_to_delete(&store, examined.as_ref(), None)
            .unwrap();
        let kept = store
            .get("ConfigMap", Some("default"), "dependent")
            .unwrap();
        assert!(kept.meta().owner_references.is_empty());
        assert!(kept.meta().deletion_timestamp.is_none());

        // A dependent whose owner really went is still collected, from a stale version too.
        let owner = store.create(config_map("owner2", vec![])).unwrap();
        let examined = store
            .create(config_map(
                "dependent2",
                vec![owner_reference(owner.as_ref(), true)],
            ))
            .unwrap();
        let mut relabelled = examined.clone();
        make_mut(&mut relabelled)
            .meta_mut()
            .labels
            .insert("changed".into(), "yes".into());
        store.update(relabelled).unwrap();
        store
            .delete(
                "ConfigMap",
                Some("default"),
                "owner2",
                &DeleteParams::default(),
            )
            .unwrap();
        gc.shared
            .attempt_to_delete(&store, examined.as_ref(), None)
            .unwrap();
        assert!(store
            .get("ConfigMap", Some("default"), "dependent2")
            .is_err_and(|e| e.is_not_found()));
    }
}
