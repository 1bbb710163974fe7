//! Old revisions: the cleanup of old ReplicaSets beyond `revisionHistoryLimit`, and
//! [`rollback`] and [`history`], what `kubectl rollout undo` and `kubectl rollout history` do
//! (Kubernetes' rollback.go, and cleanupDeployment of its sync.go).

use super::{by_creation, paused, revision_of, Sync, DEFAULT_REVISION_HISTORY_LIMIT};
use crate::api::{Deployment, ReplicaSet, Resource};
use crate::client::Api;
use crate::controllers::hash::{equal_ignoring_hash, without_hash_label};
use crate::controllers::replicaset::{desired_replicas, is_observed, status_replicas};
use crate::error::{Error, ObjectRef};
use crate::runtime::owner::is_controlled_by;
use crate::store::{DeleteParams, ListParams, Store};
use std::sync::Arc;

impl Sync<'_> {
    /// Deletes the oldest old ReplicaSets beyond `revisionHistoryLimit`, only those with no
    /// pods that have observed their spec.
    pub(super) fn cleanup(&mut self, old: &[Arc<ReplicaSet>]) -> crate::Result<()> {
        let limit = self
            .d
            .spec
            .revision_history_limit
            .unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT)
            .max(0) as usize;
        let mut cleanable: Vec<&Arc<ReplicaSet>> = old
            .iter()
            .filter(|r| r.metadata.deletion_timestamp.is_none())
            .collect();
        if cleanable.len() <= limit {
            return Ok(());
        }
        let diff = cleanable.len() - limit;
        cleanable.sort_by(|a, b| {
            revision_of(&a.metadata)
                .cmp(&revision_of(&b.metadata))
                .then_with(|| by_creation(a, b))
        });
        for rs in cleanable.into_iter().take(diff) {
            if status_replicas(rs) != 0 || desired_replicas(rs) != 0 || !is_observed(rs) {
                continue;
            }
            let params = DeleteParams {
                uid: rs.metadata.uid.clone(),
                ..Default::default()
            };
            match self.rs_api.delete(&rs.metadata.name, &params) {
                Ok(_) => {}
                Err(e) if e.is_not_found() || e.is_conflict() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
/// Rolls the Deployment `namespace/name` back to the template of an earlier revision, as
/// `kubectl rollout undo` does: `revision` `Some(n)` picks the ReplicaSet with revision `n`,
/// `None` the previous revision (the highest below the current one). The Deployment's
/// `spec.template` becomes that ReplicaSet's template without its `pod-template-hash`; the
/// controller then finds that ReplicaSet as its new one (same hash, same name), gives it a
/// new revision and rolls it out.
///
/// Returns the updated Deployment, or the Deployment unchanged when its template already is
/// that revision's. Fails when the Deployment is paused or being deleted, or when the
/// revision is not in its history (kept: `revisionHistoryLimit`).
///
/// ```
/// # let engine = steady::Engine::builder().build().unwrap();
/// # let store = engine.store();
/// use steady::controllers::deployment::rollback;
/// // After a rollout from revision 1 to revision 2:
/// // rollback(store, "default", "web", None)?;      // back to revision 1
/// // rollback(store, "default", "web", Some(2))?;   // forward to revision 2 again
/// # let _ = (store, rollback);
/// ```
pub fn rollback(
    store: &Store,
    namespace: &str,
    name: &str,
    revision: Option<i64>,
) -> crate::Result<Arc<Deployment>> {
    let deployments = Api::<Deployment>::all(store.clone()).namespace(namespace);
    let replica_sets = Api::<ReplicaSet>::all(store.clone()).namespace(namespace);
    let object = || ObjectRef::new(Deployment::KIND, Some(namespace), name);
    loop {
        let d = deployments.get(name)?;
        if d.metadata.deletion_timestamp.is_some() {
            return Err(Error::invalid(
                object(),
                "metadata.deletionTimestamp",
                "cannot roll back a Deployment that is being deleted",
            ));
        }
        if paused(&d) {
            return Err(Error::invalid(
                object(),
                "spec.paused",
                "cannot roll back a paused Deployment: resume it first",
            ));
        }
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let mut history: Vec<Arc<ReplicaSet>> = replica_sets
            .list(&ListParams {
                owner_uid: Some(uid.clone()),
                ..Default::default()
            })?
            .items
            .into_iter()
            .filter(|rs| is_controlled_by(&rs.metadata, &uid) && revision_of(&rs.metadata) > 0)
            .collect();
        history.sort_by_key(|rs| revision_of(&rs.metadata));
        let revisions: Vec<i64> = history.iter().map(|rs| revision_of(&rs.metadata)).collect();
        let target =
            match revision {
                Some(r) => r,
                None => match revisions.len() {
                    0 | 1 => return Err(Error::invalid(
                        object(),
                        "revision",
                        "no rollout history found: there is no previous revision to roll back to",
                    )),
                    n => revisions[n - 2],
                },
            };
        let Some(rs) = history
            .iter()
            .find(|rs| revision_of(&rs.metadata) == target)
        else {
            return Err(Error::invalid(
                object(),
                "revision",
                format!("unable to find revision {target} in the history (revisions kept: {revisions:?})"),
            ));
        };
        if equal_ignoring_hash(&rs.spec.template, &d.spec.template) {
            return Ok(d);
        }
        let mut updated = (*d).clone();
        updated.spec.template = without_hash_label(&rs.spec.template);
        // Compare-and-swap against the Deployment read above.
        match deployments.update(updated) {
            Ok(d) => return Ok(d),
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The ReplicaSets the Deployment `namespace/name` controls, with their revisions, oldest
/// revision first: the rollout history.
pub fn history(
    store: &Store,
    namespace: &str,
    name: &str,
) -> crate::Result<Vec<(i64, Arc<ReplicaSet>)>> {
    let d = Api::<Deployment>::all(store.clone())
        .namespace(namespace)
        .get(name)?;
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let mut out: Vec<(i64, Arc<ReplicaSet>)> = Api::<ReplicaSet>::all(store.clone())
        .namespace(namespace)
        .list(&ListParams {
            owner_uid: Some(uid.clone()),
            ..Default::default()
        })?
        .items
        .into_iter()
        .filter(|rs| is_controlled_by(&rs.metadata, &uid))
        .map(|rs| (revision_of(&rs.metadata), rs))
        .collect();
    out.sort_by_key(|(r, _)| *r);
    Ok(out)
}
