//! Owner references (`metadata.ownerReferences[]`): how a controller marks what it created.
//!
//! The one reference with `controller: true` names the object that manages a dependent: the
//! runtime maps the dependent's changes to that owner's key, and the garbage collector deletes
//! the dependent once the owner (matched by uid, so a re-created owner of the same name is a
//! different owner) is gone.

use crate::api::{Object, ObjectMeta, OwnerReference};

/// A reference to `owner` (apiVersion, kind, name, uid). With `controller`, it is the
/// controller reference: `controller: true` and `blockOwnerDeletion: true` (foreground
/// deletion of the owner waits for the dependent); otherwise both are left unset.
///
/// `owner` should be read from the store: an object that was never stored has no uid, and a
/// reference with an empty uid is refused by validation.
pub fn owner_reference(owner: &dyn Object, controller: bool) -> OwnerReference {
    let meta = owner.meta();
    OwnerReference {
        api_version: owner.api_version().to_string(),
        kind: owner.kind().to_string(),
        name: meta.name.clone(),
        uid: meta.uid.clone().unwrap_or_default(),
        controller: controller.then_some(true),
        block_owner_deletion: controller.then_some(true),
    }
}

/// The controller reference of `meta` (the owner reference with `controller: true`), if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.controller_ref()
}

/// True when `meta` has an owner reference (controller or not) to the owner with uid
/// `owner_uid`.
pub fn is_owned_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    meta.owner_references.iter().any(|r| r.uid == owner_uid)
}

/// True when the controller reference of `meta` names the owner with uid `owner_uid`.
pub fn is_controlled_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    controller_of(meta).is_some_and(|r| r.uid == owner_uid)
}

/// Checks that `owner` may own `child`: it has a uid, and a namespaced owner is in the
/// child's namespace (a child without a namespace counts as being in `default`, where the
/// store puts it).
fn check_owner(child: &ObjectMeta, owner: &dyn Object) -> Result<(), String> {
    let om = owner.meta();
    if om.uid.as_deref().is_none_or(str::is_empty) {
        return Err(format!(
            "{} {:?} has no uid: read the owner from the store before referencing it",
            owner.kind(),
            om.name
        ));
    }
    if let Some(owner_ns) = om.namespace.as_deref().filter(|n| !n.is_empty()) {
        let child_ns = child
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or("default");
        if owner_ns != child_ns {
            return Err(format!(
                "cross-namespace owner references are not allowed: owner {} \"{}/{}\" is not in \
                 namespace {:?}",
                owner.kind(),
                owner_ns,
                om.name,
                child_ns
            ));
        }
    }
    Ok(())
}

/// Makes `owner` the controller of `child`: adds (or replaces the existing reference to the
/// same owner uid with) a controller reference from [`owner_reference`]. Other owner
/// references are kept.
///
/// Fails when another owner already controls `child`, when `owner` has no uid (it was not
/// read from the store), or when `owner` is namespaced and in another namespace than
/// `child` (a child with no namespace counts as being in `default`).
pub fn set_controller_reference(child: &mut ObjectMeta, owner: &dyn Object) -> Result<(), String> {
    check_owner(child, owner)?;
    let reference = owner_reference(owner, true);
    if let Some(existing) = controller_of(child) {
        if existing.uid != reference.uid {
            return Err(format!(
                "already controlled by {} {:?} (uid {}): cannot set controller {} {:?}",
                existing.kind, existing.name, existing.uid, reference.kind, reference.name
            ));
        }
    }
    upsert(child, reference);
    Ok(())
}

/// Adds a non-controller owner reference to `owner` (or replaces the existing reference to
/// the same owner uid, keeping its `controller` and `blockOwnerDeletion` flags). Fails when
/// `owner` has no uid or is namespaced and in another namespace than `child`.
pub fn set_owner_reference(child: &mut ObjectMeta, owner: &dyn Object) -> Result<(), String> {
    check_owner(child, owner)?;
    let mut reference = owner_reference(owner, false);
    if let Some(existing) = child
        .owner_references
        .iter()
        .find(|r| r.uid == reference.uid)
    {
        reference.controller = existing.controller;
        reference.block_owner_deletion = existing.block_owner_deletion;
    }
    upsert(child, reference);
    Ok(())
}

/// Replaces the reference with the same uid, or appends.
fn upsert(child: &mut ObjectMeta, reference: OwnerReference) {
    match child
        .owner_references
        .iter_mut()
        .find(|r| r.uid == reference.uid)
    {
        Some(r) => *r = reference,
        None => child.owner_references.push(reference),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ConfigMap, Node, Resource};
    use crate::clock::ManualClock;
    use crate::Engine;
    use std::sync::Arc;

    fn engine() -> Engine {
        Engine::builder()
            .clock(Arc::new(ManualClock::default()))
            .build()
            .unwrap()
    }

    fn config_map(ns: &str, name: &str) -> ConfigMap {
        let mut cm = ConfigMap::default();
        cm.metadata.name = name.into();
        cm.metadata.namespace = Some(ns.into());
        cm
    }

    fn stored_config_map(engine: &Engine, ns: &str, name: &str) -> Arc<ConfigMap> {
        crate::store::ensure_namespaces(engine.store(), &[ns]);
        engine
            .api::<ConfigMap>()
            .create(config_map(ns, name))
            .unwrap()
    }

    #[test]
    fn a_controller_reference_names_the_owner_and_blocks_its_deletion() {
        let e = engine();
        let owner = stored_config_map(&e, "default", "owner");
        let r = owner_reference(owner.as_ref(), true);
        assert_eq!(r.api_version, ConfigMap::API_VERSION);
        assert_eq!(r.kind, "ConfigMap");
        assert_eq!(r.name, "owner");
        assert_eq!(Some(&r.uid), owner.metadata.uid.as_ref());
        assert_eq!(r.controller, Some(true));
        assert_eq!(r.block_owner_deletion, Some(true));

        let plain = owner_reference(owner.as_ref(), false);
        assert_eq!(plain.controller, None);
        assert_eq!(plain.block_owner_deletion, None);
    }

    #[test]
    fn setting_the_controller_makes_the_child_owned_and_is_accepted_by_the_store() {
        let e = engine();
        let owner = stored_config_map(&e, "default", "owner");
        let uid = owner.metadata.uid.clone().unwrap();
        let mut child = config_map("default", "child");
        set_controller_reference(&mut child.metadata, owner.as_ref()).unwrap();
        assert!(is_owned_by(&child.metadata, &uid));
        assert!(is_controlled_by(&child.metadata, &uid));
        assert_eq!(controller_of(&child.metadata).unwrap().name, "owner");
        assert!(!is_owned_by(&child.metadata, "someone-else"));

        let stored = e.api::<ConfigMap>().create(child).unwrap();
        let listed = e
            .store()
            .list(
                "ConfigMap",
                &crate::store::ListParams {
                    owner_uid: Some(uid),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].meta().name, stored.metadata.name);
    }

    #[test]
    fn setting_the_same_controller_twice_keeps_one_reference() {
        let e = engine();
        let owner = stored_config_map(&e, "default", "owner");
        let mut child = config_map("default", "child");
        set_controller_reference(&mut child.metadata, owner.as_ref()).unwrap();
        set_controller_reference(&mut child.metadata, owner.as_ref()).unwrap();
        assert_eq!(child.metadata.owner_references.len(), 1);
    }

    #[test]
    fn a_plain_owner_reference_is_promoted_to_controller() {
        let e = engine();
        let owner = stored_config_map(&e, "default", "owner");
        let mut child = config_map("default", "child");
        set_owner_reference(&mut child.metadata, owner.as_ref()).unwrap();
        assert!(controller_of(&child.metadata).is_none());
        set_controller_reference(&mut child.metadata, owner.as_ref()).unwrap();
        assert_eq!(child.metadata.owner_references.len(), 1);
        assert!(controller_of(&child.metadata).is_some());
        // Re-adding it as a plain owner does not demote it.
        set_owner_reference(&mut child.metadata, owner.as_ref()).unwrap();
        assert!(controller_of(&child.metadata).is_some());
    }

    #[test]
    fn another_controller_is_refused_but_extra_owners_are_kept() {
        let e = engine();
        let first = stored_config_map(&e, "default", "first");
        let second = stored_config_map(&e, "default", "second");
        let mut child = config_map("default", "child");
        set_controller_reference(&mut child.metadata, first.as_ref()).unwrap();
        let err = set_controller_reference(&mut child.metadata, second.as_ref()).unwrap_err();
        assert!(
            err.contains("already controlled by ConfigMap \"first\""),
            "{err}"
        );
        set_owner_reference(&mut child.metadata, second.as_ref()).unwrap();
        assert_eq!(child.metadata.owner_references.len(), 2);
        assert_eq!(controller_of(&child.metadata).unwrap().name, "first");
    }

    #[test]
    fn a_namespaced_owner_in_another_namespace_is_refused() {
        let e = engine();
        let owner = stored_config_map(&e, "team-a", "owner");
        let mut child = config_map("team-b", "child");
        let err = set_controller_reference(&mut child.metadata, owner.as_ref()).unwrap_err();
        assert!(err.contains("cross-namespace"), "{err}");
        assert!(child.metadata.owner_references.is_empty());

        // No namespace on the child means `default`.
        let owner_default = stored_config_map(&e, "default", "owner");
        let mut unscoped = ConfigMap::default();
        unscoped.metadata.name = "child".into();
        set_controller_reference(&mut unscoped.metadata, owner_default.as_ref()).unwrap();
        assert!(set_controller_reference(&mut child.metadata, owner_default.as_ref()).is_err());
    }

    #[test]
    fn a_cluster_scoped_owner_may_own_a_namespaced_child() {
        let e = engine();
        let mut node = Node::default();
        node.metadata.name = "node-1".into();
        let node = e.api::<Node>().create(node).unwrap();
        let mut child = config_map("team-a", "child");
        set_controller_reference(&mut child.metadata, node.as_ref()).unwrap();
        assert_eq!(controller_of(&child.metadata).unwrap().kind, "Node");
    }

    #[test]
    fn an_owner_without_uid_is_refused() {
        let owner = config_map("default", "never-stored");
        let mut child = config_map("default", "child");
        let err = set_controller_reference(&mut child.metadata, &owner).unwrap_err();
        assert!(err.contains("no uid"), "{err}");
    }
}
