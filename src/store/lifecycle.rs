//! Namespace lifecycle and kind definitions: the two admission rules kube-apiserver keeps
//! beside plain storage.
//!
//! - **Namespaces.** A namespaced object may only be created in a Namespace that exists and
//!   is not terminating, or that the same transaction creates first (so one apply can bring a
//!   Namespace and its contents). A new Namespace gets the finalizer `kubernetes`, so deleting
//!   it only marks it; the namespace controller empties it, then removes the finalizer.
//!   The rule is on while the `Namespace` kind is registered (every engine).
//! - **Definitions.** Committing a `CustomResourceDefinition` registers the kind it defines;
//!   removing it unregisters the kind. Within one transaction, a kind defined by an earlier
//!   operation is served to the later ones from a *staged* kind store that is published (made
//!   visible in the store and the registry) only when the transaction commits, so a failed
//!   transaction registers nothing.
//!
//! Invariant: every write that touches a CustomResourceDefinition runs from prepare to
//! publish under `Inner::definitions`, so two definitions can never claim one kind name, and a
//! kind is never published twice.

use super::kind::KindStore;
use crate::api::{CustomResourceDefinition, KindInfo, Namespace, Object};
use crate::error::{Error, ObjectRef, Result};
use std::sync::Arc;

/// The finalizer a Namespace carries until the namespace controller has deleted its content.
pub const NAMESPACE_FINALIZER: &str = "kubernetes";

/// The Namespaces a store that serves Namespaces starts with, as a Kubernetes cluster does.
pub const INITIAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-node-lease"];

/// The kind whose objects define kinds.
pub(super) const DEFINITION_KIND: &str = "CustomResourceDefinition";

/// What earlier operations of a transaction bring into being, for the later ones.
#[derive(Default)]
pub(super) struct Staged {
    /// Kinds defined by CustomResourceDefinitions written in the transaction, each with the
    /// kind store its objects go to (a new one, or the one a deleted definition of the same
    /// kind left).
    pub(super) kinds: Vec<(Arc<KindInfo>, Arc<KindStore>)>,
    /// Namespaces created in the transaction.
    pub(super) namespaces: Vec<String>,
}

impl Staged {
    pub(super) fn kind(&self, api_version: &str, kind: &str) -> Option<&Arc<KindStore>> {
        self.kinds
            .iter()
            .find(|(info, _)| info.kind == kind && info.serves(api_version))
            .map(|(_, ks)| ks)
    }
}

impl super::Store {
    /// Creates [`INITIAL_NAMESPACES`] in one transaction, when Namespaces are served.
    pub(super) fn create_initial_namespaces(&self) {
        if !self.namespaces_served() {
            return;
        }
        let ops = INITIAL_NAMESPACES
            .iter()
            .map(|name| {
                let mut ns = Namespace::default();
                ns.metadata.name = name.to_string();
                super::TxnOp::Create(Arc::new(ns))
            })
            .collect();
        self.transaction(ops)
            .expect("a new store admits the initial namespaces");
    }

    /// [`Store::create_initial_namespaces`] for a store that shares its state with other
    /// engines (etcd): each Namespace is created unless another engine was first.
    #[cfg(feature = "etcd")]
    pub(super) fn create_initial_namespaces_shared(&self) {
        if !self.namespaces_served() {
            return;
        }
        for name in INITIAL_NAMESPACES {
            let mut ns = Namespace::default();
            ns.metadata.name = name.to_string();
            match self.create(Arc::new(ns)) {
                Ok(_) | Err(Error::AlreadyExists { .. }) => {}
                Err(e) => log::error!("creating the initial namespace {name}: {e}"),
            }
        }
    }

    fn namespaces_served(&self) -> bool {
        self.inner
            .registry
            .get("Namespace")
            .is_some_and(|k| k.holds::<Namespace>())
    }

    /// Refuses a create in a namespace that does not exist or is terminating.
    pub(super) fn check_namespace(
        &self,
        info: &KindInfo,
        obj: &dyn Object,
        staged: &Staged,
    ) -> Result<()> {
        if !info.namespaced {
            return Ok(());
        }
        if !self.namespaces_served() {
            return Ok(());
        }
        let ns = obj.meta().namespace_str();
        if staged.namespaces.iter().any(|n| n == ns) {
            return Ok(());
        }
        let refuse = |message: String| {
            Err(Error::invalid(
                ObjectRef::new(&info.kind, Some(ns), &obj.meta().name),
                "metadata.namespace",
                message,
            ))
        };
        match self.get("Namespace", None, ns) {
            Ok(n) if n.meta().deletion_timestamp.is_some() => refuse(format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            )),
            Ok(_) => Ok(()),
            Err(_) => refuse(missing_namespace(ns)),
        }
    }

    /// Refuses deleting one of the [`INITIAL_NAMESPACES`], as kube-apiserver's
    /// NamespaceLifecycle admission does: the cluster relies on them.
    pub(super) fn check_namespace_deletion(&self, info: &KindInfo, name: &str) -> Result<()> {
        if info.kind == "Namespace"
            && self.namespaces_served()
            && INITIAL_NAMESPACES.contains(&name)
        {
            return Err(Error::Denied {
                object: ObjectRef::new("Namespace", None, name),
                hook: "NamespaceLifecycle".into(),
                message: "this namespace may not be deleted".into(),
            });
        }
        Ok(())
    }

    /// Stages what a prepared write of a Namespace or a CustomResourceDefinition brings for
    /// the operations after it, and checks that a definition claims a kind no one else has.
    pub(super) fn stage(&self, w: &super::Write, staged: &mut Staged) -> Result<()> {
        let kind = w.ks.info.kind.as_str();
        let super::Action::Put(obj) = &w.action else {
            return Ok(());
        };
        if kind == "Namespace" && w.base.is_none() {
            staged.namespaces.push(obj.meta().name.clone());
        }
        let Some(def) = obj.downcast_ref::<CustomResourceDefinition>() else {
            return Ok(());
        };
        if def.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let info = def.served_kind();
        let taken = |by: String| {
            Err(Error::invalid(
                ObjectRef::new(DEFINITION_KIND, None, &def.metadata.name),
                "spec.names.kind",
                format!("kind {:?} is already served {by}", info.kind),
            ))
        };
        match self.inner.registry.get(&info.kind) {
            Some(k) if k.definition == info.definition => Ok(()),
            Some(k) => match &k.definition {
                Some(d) => taken(format!("by CustomResourceDefinition {d:?}")),
                None => taken(format!("as {:?}", k.api_version)),
            },
            None if staged.kinds.iter().any(|(k, _)| k.kind == info.kind) => {
                taken("by another definition in the same transaction".into())
            }
            None => {
                // A kind defined before (and undefined since) keeps its store, and its watches.
                let old = self.inner.kinds.read().get(&info.kind).cloned();
                let info = Arc::new(info);
                let ks = match old {
                    Some(old) if old.info.namespaced == info.namespaced => old,
                    _ => Arc::new(self.new_kind_store(info.clone())),
                };
                staged.kinds.push((info, ks));
                Ok(())
            }
        }
    }

    /// Refuses deleting a definition while objects of its kind exist.
    pub(super) fn check_undefine(&self, name: &str) -> Result<()> {
        let Ok(def) = self.get(DEFINITION_KIND, None, name) else {
            return Ok(());
        };
        let Some(def) = def.downcast_ref::<CustomResourceDefinition>() else {
            return Ok(());
        };
        let kind = &def.spec.names.kind;
        let n = self.count(kind);
        if n > 0 {
            return Err(Error::invalid(
                ObjectRef::new(DEFINITION_KIND, None, name),
                "",
                format!(
                    "{n} {kind} object(s) exist: delete them before their definition \
                     (steady does not delete them with it)"
                ),
            ));
        }
        Ok(())
    }

    /// Makes the kinds defined (or undefined) by committed writes visible: `written` holds
    /// each committed CustomResourceDefinition and whether it was removed.
    pub(super) fn publish(&self, written: &[(Arc<dyn Object>, bool)], staged: &Staged) {
        for (obj, removed) in written {
            let Some(def) = obj.downcast_ref::<CustomResourceDefinition>() else {
                continue;
            };
            let info = def.served_kind();
            if *removed {
                let registry = &self.inner.registry;
                if registry
                    .get(&info.kind)
                    .is_some_and(|k| k.definition == info.definition)
                {
                    // The (empty) kind store stays: watches on it stay open until shutdown
                    // closes them, and a definition of the same kind later reuses it.
                    registry.unregister(&info.kind);
                }
                continue;
            }
            if let Some((_, ks)) = staged.kinds.iter().find(|(k, _)| k.kind == info.kind) {
                let mut kinds = self.inner.kinds.write();
                match kinds.get(&info.kind) {
                    // Defined again with the same scope: the old store (and its watches) go on.
                    Some(old) if old.info.namespaced == info.namespaced => {}
                    _ => {
                        kinds.insert(info.kind.clone(), ks.clone());
                    }
                }
            }
            self.inner.registry.register(info);
        }
    }
}

/// The refusal of a write into namespace `ns`, which does not exist (kube-apiserver's
/// words, which the API server turns back into its 404 about the namespace).
pub(crate) fn missing_namespace(ns: &str) -> String {
    format!("namespaces {ns:?} not found")
}

/// A Namespace marked for deletion is `Terminating` in the same write, as kube-apiserver
/// answers the deletion (the namespace controller then empties it).
pub(super) fn mark_terminating(obj: &mut dyn Object) {
    if let Some(ns) = obj.as_any_mut().downcast_mut::<Namespace>() {
        if ns.metadata.deletion_timestamp.is_some() {
            ns.status.get_or_insert_with(Default::default).phase = Some("Terminating".into());
        }
    }
}

/// Creates the Namespaces `names` that do not exist yet (tests across the crate write to
/// namespaces of their own).
#[cfg(test)]
pub(crate) fn ensure_namespaces(store: &super::Store, names: &[&str]) {
    for name in names {
        let mut ns = Namespace::default();
        ns.metadata.name = name.to_string();
        match store.create(Arc::new(ns)) {
            Ok(_) | Err(Error::AlreadyExists { .. }) => {}
            Err(e) => panic!("namespace {name}: {e}"),
        }
    }
}
