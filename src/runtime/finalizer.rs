//! Finalizer-guarded reconciliation: run cleanup before an object is allowed to go.
//!
//! [`finalizer`] wraps a reconcile of one object (kube-rs' `finalizer` pattern, over the
//! type-erased [`Object`]):
//!
//! | object | what happens |
//! |---|---|
//! | not being deleted, without the finalizer | the finalizer is added (compare-and-swap update), then `Apply` runs on the updated object |
//! | not being deleted, with the finalizer | `Apply` runs |
//! | being deleted (`deletionTimestamp`), with the finalizer | `Cleanup` runs; on success the finalizer is removed, and the store deletes the object once no finalizers remain |
//! | being deleted, without the finalizer | nothing: [`FinalizerOutcome::Skipped`] |
//!
//! Cleanup must be idempotent: it runs again whenever the finalizer could not be removed (an
//! error from cleanup itself, or a failed write), exactly as in Kubernetes.

use crate::api::{make_mut, Object};
use crate::error::Error;
use crate::store::Store;
use std::fmt;
use std::sync::Arc;

/// How many times a write that lost a race is retried on the newest version of the object.
const MAX_ATTEMPTS: usize = 8;

/// What the reconcile given to [`finalizer`] is asked to do.
#[derive(Clone, Copy, Debug)]
pub enum FinalizerEvent<'a> {
    /// Bring the world in line with the object; the finalizer is in place.
    Apply(&'a Arc<dyn Object>),
    /// The object is being deleted: release what it holds. The finalizer is removed when this
    /// succeeds.
    Cleanup(&'a Arc<dyn Object>),
}

impl<'a> FinalizerEvent<'a> {
    /// The object, whichever the event.
    pub fn object(&self) -> &'a Arc<dyn Object> {
        match self {
            FinalizerEvent::Apply(o) | FinalizerEvent::Cleanup(o) => o,
        }
    }

    /// True for [`FinalizerEvent::Cleanup`].
    pub fn is_cleanup(&self) -> bool {
        matches!(self, FinalizerEvent::Cleanup(_))
    }
}

/// What [`finalizer`] did, with the reconcile's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FinalizerOutcome<T> {
    /// `Apply` ran (after adding the finalizer, if it was missing) and returned this.
    Applied(T),
    /// `Cleanup` ran, returned this, and the finalizer was removed (the object is gone if it
    /// was the last finalizer).
    CleanedUp(T),
    /// The object is being deleted and does not carry the finalizer, or is already gone (or
    /// was replaced by a new object of the same name): nothing ran.
    Skipped,
}

impl<T> FinalizerOutcome<T> {
    /// The reconcile's value; `None` when it did not run.
    pub fn into_value(self) -> Option<T> {
        match self {
            FinalizerOutcome::Applied(v) | FinalizerOutcome::CleanedUp(v) => Some(v),
            FinalizerOutcome::Skipped => None,
        }
    }
}

/// Why [`finalizer`] failed.
#[derive(Debug)]
pub enum FinalizerError<E> {
    /// The reconcile failed on `Apply`.
    ApplyFailed(E),
    /// The reconcile failed on `Cleanup`; the finalizer stays, so cleanup runs again later.
    CleanupFailed(E),
    /// The finalizer could not be added (the reconcile did not run).
    AddFinalizer(Error),
    /// Cleanup succeeded but the finalizer could not be removed; cleanup runs again later.
    RemoveFinalizer(Error),
}

impl<E> FinalizerError<E> {
    /// The reconcile's own error, when it was the reconcile that failed.
    pub fn reconcile_error(&self) -> Option<&E> {
        match self {
            FinalizerError::ApplyFailed(e) | FinalizerError::CleanupFailed(e) => Some(e),
            _ => None,
        }
    }

    /// The store's error, when a finalizer write failed.
    pub fn store_error(&self) -> Option<&Error> {
        match self {
            FinalizerError::AddFinalizer(e) | FinalizerError::RemoveFinalizer(e) => Some(e),
            _ => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for FinalizerError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FinalizerError::ApplyFailed(e) => write!(f, "apply failed: {e}"),
            FinalizerError::CleanupFailed(e) => write!(f, "cleanup failed: {e}"),
            FinalizerError::AddFinalizer(e) => write!(f, "failed to add the finalizer: {e}"),
            FinalizerError::RemoveFinalizer(e) => {
                write!(f, "failed to remove the finalizer: {e}")
            }
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for FinalizerError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FinalizerError::ApplyFailed(e) | FinalizerError::CleanupFailed(e) => Some(e),
            FinalizerError::AddFinalizer(e) | FinalizerError::RemoveFinalizer(e) => Some(e),
        }
    }
}

/// True when `object` carries `finalizer_name`.
pub fn has_finalizer(object: &dyn Object, finalizer_name: &str) -> bool {
    object.meta().finalizers.iter().any(|f| f == finalizer_name)
}

/// Reconciles `object` behind finalizer `finalizer_name` (a qualified name such as
/// `example.com/cleanup`): see the [module documentation](self) for what runs when.
///
/// Every write is a compare-and-swap on the object's resourceVersion and uid. A write that
/// loses a race re-reads the object and decides again on the newest version (a re-created
/// object of the same name is never touched: its uid differs); after repeated losses the
/// conflict is returned.
///
/// # Errors
///
/// [`FinalizerError::ApplyFailed`] / [`FinalizerError::CleanupFailed`] carry the reconcile's
/// error; [`FinalizerError::AddFinalizer`] / [`FinalizerError::RemoveFinalizer`] the store's.
pub fn finalizer<T, E>(
    store: &Store,
    finalizer_name: &str,
    object: Arc<dyn Object>,
    reconcile: impl FnOnce(FinalizerEvent<'_>) -> Result<T, E>,
) -> Result<FinalizerOutcome<T>, FinalizerError<E>> {
    let mut obj = object;
    let mut attempts = 0;
    loop {
        let deleting = obj.meta().deletion_timestamp.is_some();
        match (deleting, has_finalizer(obj.as_ref(), finalizer_name)) {
            (false, true) => {
                return reconcile(FinalizerEvent::Apply(&obj))
                    .map(FinalizerOutcome::Applied)
                    .map_err(FinalizerError::ApplyFailed);
            }
            (true, true) => {
                let value = reconcile(FinalizerEvent::Cleanup(&obj))
                    .map_err(FinalizerError::CleanupFailed)?;
                remove_finalizer(store, obj.as_ref(), finalizer_name)
                    .map_err(FinalizerError::RemoveFinalizer)?;
                return Ok(FinalizerOutcome::CleanedUp(value));
            }
            (true, false) => return Ok(FinalizerOutcome::Skipped),
            (false, false) => {
                let mut next = obj.clone();
                make_mut(&mut next)
                    .meta_mut()
                    .finalizers
                    .push(finalizer_name.to_string());
                match store.update(next) {
                    Ok(updated) => obj = updated,
                    Err(e) if e.is_conflict() && attempts + 1 < MAX_ATTEMPTS => {
                        attempts += 1;
                        match current(store, obj.as_ref()) {
                            Ok(Some(fresh)) => obj = fresh,
                            // Gone, or replaced by a new object (which gets its own turn).
                            Ok(None) => return Ok(FinalizerOutcome::Skipped),
                            Err(e) => return Err(FinalizerError::AddFinalizer(e)),
                        }
                    }
                    Err(e) if e.is_not_found() => return Ok(FinalizerOutcome::Skipped),
                    Err(e) => return Err(FinalizerError::AddFinalizer(e)),
                }
            }
        }
    }
}

/// Removes `finalizer_name` from `object`, a compare-and-swap retried on the newest version
/// when it loses a race (up to 8 tries, then the conflict is returned). The store deletes an
/// object being deleted once its last finalizer goes. An object that is gone, or was
/// replaced by one with another uid, needs nothing removed: `Ok`.
///
/// What [`finalizer`] does after a cleanup, for a controller that keeps its finalizer some
/// other way (the garbage collector removes `orphan` and `foregroundDeletion` with it).
pub fn remove_finalizer(
    store: &Store,
    object: &dyn Object,
    finalizer_name: &str,
) -> Result<(), Error> {
    let mut cur = object.clone_arc();
    let mut attempts = 0;
    loop {
        if !has_finalizer(cur.as_ref(), finalizer_name) {
            return Ok(());
        }
        let mut next = cur.clone();
        make_mut(&mut next)
            .meta_mut()
            .finalizers
            .retain(|f| f != finalizer_name);
        match store.update(next) {
            Ok(_) => return Ok(()),
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) if e.is_conflict() && attempts + 1 < MAX_ATTEMPTS => {
                attempts += 1;
                match current(store, cur.as_ref())? {
                    Some(fresh) => cur = fresh,
                    None => return Ok(()),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// The newest version of `object` in `store`; `None` when it is gone or was replaced by an
/// object of the same name with another uid (which is not the one a retried write meant).
pub fn current(store: &Store, object: &dyn Object) -> Result<Option<Arc<dyn Object>>, Error> {
    let meta = object.meta();
    match store.get(object.kind(), meta.namespace.as_deref(), &meta.name) {
        Ok(fresh) if fresh.meta().uid == meta.uid => Ok(Some(fresh)),
        Ok(_) => Ok(None),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ConfigMap;
    use crate::clock::ManualClock;
    use crate::store::{DeleteParams, Deleted};
    use crate::Engine;
    use std::cell::RefCell;

    const FIN: &str = "example.com/cleanup";

    fn engine() -> Engine {
        Engine::builder()
            .clock(Arc::new(ManualClock::default()))
            .build()
            .unwrap()
    }

    fn create(e: &Engine, name: &str, finalizers: &[&str]) -> Arc<dyn Object> {
        let mut cm = ConfigMap::default();
        cm.metadata.name = name.into();
        cm.metadata.finalizers = finalizers.iter().map(|f| f.to_string()).collect();
        e.store().create(Arc::new(cm)).unwrap()
    }

    fn get(e: &Engine, name: &str) -> Option<Arc<dyn Object>> {
        e.store().get("ConfigMap", None, name).ok()
    }

    fn delete(e: &Engine, name: &str) -> Arc<dyn Object> {
        match e
            .store()
            .delete("ConfigMap", None, name, &DeleteParams::default())
            .unwrap()
        {
            Deleted::Pending(o) => o,
            Deleted::Gone(_) => panic!("expected a pending deletion"),
        }
    }

    #[test]
    fn the_finalizer_is_added_on_first_sight_before_apply_runs() {
        let e = engine();
        let obj = create(&e, "web", &[]);
        let seen = RefCell::new(None);
        let out = finalizer(e.store(), FIN, obj.clone(), |ev| {
            assert!(!ev.is_cleanup());
            seen.replace(Some(ev.object().clone()));
            Ok::<_, String>(7)
        })
        .unwrap();
        assert_eq!(out, FinalizerOutcome::Applied(7));
        let seen = seen.into_inner().unwrap();
        assert!(
            has_finalizer(seen.as_ref(), FIN),
            "apply sees the updated object"
        );
        assert_ne!(seen.meta().resource_version, obj.meta().resource_version);
        let stored = get(&e, "web").unwrap();
        assert_eq!(stored.meta().finalizers, [FIN]);
        assert_eq!(stored.meta().resource_version, seen.meta().resource_version);
    }

    #[test]
    fn an_object_that_has_the_finalizer_is_applied_without_a_write() {
        let e = engine();
        let obj = create(&e, "web", &[FIN]);
        let rev = e.store().revision();
        let out = finalizer(e.store(), FIN, obj, |ev| match ev {
            FinalizerEvent::Apply(_) => Ok::<_, String>("applied"),
            FinalizerEvent::Cleanup(_) => panic!("not deleting"),
        })
        .unwrap();
        assert_eq!(out.into_value(), Some("applied"));
        assert_eq!(e.store().revision(), rev);
    }

    #[test]
    fn cleanup_then_removal_deletes_the_object() {
        let e = engine();
        create(&e, "web", &[FIN]);
        let deleting = delete(&e, "web");
        assert!(deleting.meta().deletion_timestamp.is_some());
        let cleaned = RefCell::new(false);
        let out = finalizer(e.store(), FIN, deleting, |ev| match ev {
            FinalizerEvent::Cleanup(o) => {
                assert_eq!(o.meta().name, "web");
                cleaned.replace(true);
                Ok::<_, String>(())
            }
            FinalizerEvent::Apply(_) => panic!("the object is being deleted"),
        })
        .unwrap();
        assert_eq!(out, FinalizerOutcome::CleanedUp(()));
        assert!(cleaned.into_inner());
        assert!(
            get(&e, "web").is_none(),
            "the last finalizer is gone: so is the object"
        );
    }

    #[test]
    fn removal_keeps_other_finalizers_and_the_object() {
        let e = engine();
        create(&e, "web", &["other.example.com/hold", FIN]);
        let deleting = delete(&e, "web");
        finalizer(e.store(), FIN, deleting, |_| Ok::<_, String>(())).unwrap();
        let stored = get(&e, "web").expect("another finalizer still holds it");
        assert_eq!(stored.meta().finalizers, ["other.example.com/hold"]);
        assert!(stored.meta().deletion_timestamp.is_some());
    }

    #[test]
    fn a_cleanup_error_keeps_the_finalizer() {
        let e = engine();
        create(&e, "web", &[FIN]);
        let deleting = delete(&e, "web");
        let err = finalizer(e.store(), FIN, deleting, |_| Err::<(), _>("volume busy")).unwrap_err();
        assert!(matches!(err, FinalizerError::CleanupFailed("volume busy")));
        assert_eq!(err.to_string(), "cleanup failed: volume busy");
        let stored = get(&e, "web").expect("still held by the finalizer");
        assert_eq!(stored.meta().finalizers, [FIN]);
    }

    #[test]
    fn an_apply_error_is_returned_with_the_finalizer_in_place() {
        let e = engine();
        let obj = create(&e, "web", &[]);
        let err = finalizer(e.store(), FIN, obj, |_| Err::<(), _>("boom")).unwrap_err();
        assert_eq!(err.reconcile_error(), Some(&"boom"));
        assert!(err.store_error().is_none());
        assert_eq!(get(&e, "web").unwrap().meta().finalizers, [FIN]);
    }

    #[test]
    fn a_deleting_object_without_our_finalizer_is_left_alone() {
        let e = engine();
        create(&e, "web", &["other.example.com/hold"]);
        let deleting = delete(&e, "web");
        let rev = e.store().revision();
        let out = finalizer(e.store(), FIN, deleting, |_| -> Result<(), String> {
            panic!("nothing should run")
        })
        .unwrap();
        assert_eq!(out, FinalizerOutcome::Skipped);
        assert_eq!(out.into_value(), None);
        assert_eq!(e.store().revision(), rev);
    }

    #[test]
    fn a_stale_object_is_reread_before_adding_the_finalizer() {
        let e = engine();
        let stale = create(&e, "web", &[]);
        // Someone changes it after our read.
        let mut newer = stale.clone();
        make_mut(&mut newer)
            .meta_mut()
            .labels
            .insert("tier".into(), "front".into());
        e.store().update(newer).unwrap();
        let out = finalizer(e.store(), FIN, stale, |ev| {
            Ok::<_, String>(ev.object().meta().labels.get("tier").cloned())
        })
        .unwrap();
        assert_eq!(out, FinalizerOutcome::Applied(Some("front".to_string())));
        let stored = get(&e, "web").unwrap();
        assert_eq!(stored.meta().finalizers, [FIN]);
        assert_eq!(stored.meta().labels["tier"], "front");
    }

    #[test]
    fn removal_retries_on_a_newer_version() {
        let e = engine();
        create(&e, "web", &["other.example.com/hold", FIN]);
        let stale = delete(&e, "web");
        // Another controller removes its finalizer while we clean up.
        let mut other = stale.clone();
        make_mut(&mut other)
            .meta_mut()
            .finalizers
            .retain(|f| f == FIN);
        e.store().update(other).unwrap();
        let out = finalizer(e.store(), FIN, stale, |_| Ok::<_, String>(())).unwrap();
        assert_eq!(out, FinalizerOutcome::CleanedUp(()));
        assert!(get(&e, "web").is_none());
    }

    #[test]
    fn an_object_deleted_meanwhile_is_skipped() {
        let e = engine();
        let obj = create(&e, "web", &[]);
        e.store()
            .delete("ConfigMap", None, "web", &DeleteParams::default())
            .unwrap();
        let out = finalizer(e.store(), FIN, obj, |_| -> Result<(), String> {
            panic!("nothing should run")
        })
        .unwrap();
        assert_eq!(out, FinalizerOutcome::Skipped);
    }

    #[test]
    fn an_invalid_finalizer_name_is_a_store_error() {
        let e = engine();
        let obj = create(&e, "web", &[]);
        let err =
            finalizer(e.store(), "not a valid name!", obj, |_| Ok::<_, String>(())).unwrap_err();
        assert!(
            matches!(err.store_error(), Some(Error::Invalid { .. })),
            "{err}"
        );
    }
}
