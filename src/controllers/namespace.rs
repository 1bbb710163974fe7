//! The namespace controller: Namespaces are `Active` while they live; a deleted one is
//! `Terminating` until everything in it is gone, then it goes.
//!
//! The store gives every new Namespace the finalizer
//! [`NAMESPACE_FINALIZER`] and refuses new objects in a
//! terminating one. When a Namespace is marked for deletion, this controller sets its phase to
//! `Terminating`, deletes every object of every namespaced kind the engine serves in it
//! (custom kinds included; their own finalizers are respected, and pods on nodes are stopped
//! by their node agent first), and removes the finalizer once nothing is left, so the
//! Namespace goes. Pods being deleted in the namespace wake it; for other kinds it looks again
//! every [`RECHECK`].

use crate::api::{Namespace, NamespaceStatus, Pod, Resource};
use crate::runtime::{Action, Context, Controller, ObjectKey, ReconcileResult};
use crate::store::{DeleteParams, ListParams, NAMESPACE_FINALIZER};
use std::time::Duration;

/// The controller's name (metrics, events).
pub const NAME: &str = "namespace";

/// Phase of a living Namespace.
pub const ACTIVE: &str = "Active";
/// Phase of a Namespace being emptied before it goes.
pub const TERMINATING: &str = "Terminating";

/// How often a terminating Namespace that still holds objects looks again.
pub const RECHECK: Duration = Duration::from_secs(1);

/// The namespace controller (see the module documentation).
pub fn controller() -> Controller {
    Controller::for_kind::<Namespace>(NAME)
        .watches(Pod::KIND, |o| {
            // Only pods on their way out matter: they may be what a namespace waits for.
            if o.meta().deletion_timestamp.is_none() {
                return Vec::new();
            }
            vec![ObjectKey::new(None, o.meta().namespace_str())]
        })
        .build(reconcile)
}

/// One reconcile of the Namespace `ctx.key()`.
pub fn reconcile(ctx: &Context) -> ReconcileResult {
    let Some(ns) = ctx.get::<Namespace>() else {
        return Ok(Action::done());
    };
    let api = ctx.api::<Namespace>();
    let deleting = ns.metadata.deletion_timestamp.is_some();
    let phase = if deleting { TERMINATING } else { ACTIVE };
    if ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some(phase) {
        let mut next = (*ns).clone();
        next.status
            .get_or_insert_with(NamespaceStatus::default)
            .phase = Some(phase.to_string());
        next.metadata.resource_version = None;
        match api.update_status(&next) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(Action::done()),
            Err(e) => return Err(e.into()),
        }
    }
    if !deleting
        || !ns
            .metadata
            .finalizers
            .iter()
            .any(|f| f == NAMESPACE_FINALIZER)
    {
        return Ok(Action::done());
    }
    let name = ns.metadata.name.as_str();
    let store = ctx.store();
    let mut left = 0usize;
    for info in store.registry().all() {
        if !info.namespaced {
            continue;
        }
        let params = ListParams {
            namespace: Some(name.to_string()),
            ..ListParams::default()
        };
        let Ok(list) = store.list_unordered(&info.kind, &params) else {
            continue;
        };
        for o in list.items {
            left += 1;
            if o.meta().deletion_timestamp.is_some() {
                continue;
            }
            let params = DeleteParams {
                uid: o.meta().uid.clone(),
                ..DeleteParams::default()
            };
            match store.delete(&info.kind, Some(name), &o.meta().name, &params) {
                Ok(crate::store::Deleted::Gone(_)) => left -= 1,
                Ok(_) => {}
                Err(e) if e.is_not_found() || e.is_conflict() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    if left > 0 {
        return Ok(Action::requeue(RECHECK));
    }
    let mut next = (*ns).clone();
    next.metadata
        .finalizers
        .retain(|f| f != NAMESPACE_FINALIZER);
    match api.update(next) {
        Ok(_) => Ok(Action::done()),
        Err(e) if e.is_not_found() || e.is_conflict() => Ok(Action::done()),
        Err(e) => Err(e.into()),
    }
}
