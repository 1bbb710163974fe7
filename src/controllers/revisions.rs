//! Template history as ControllerRevisions, shared by the StatefulSet and DaemonSet
//! controllers (Kubernetes' `controller/history`).
//!
//! A revision is a snapshot of the owner's pod template, stored as the JSON
//! `{"spec": {"template": ...}}`, named `<owner>-<hash>` where the hash is
//! [`hash_of`] the snapshot and the owner's collision count, labelled with the template's labels
//! and [`CONTROLLER_REVISION_HASH_LABEL`], and controlled by the owner. Revision numbers
//! increase per owner: a template that returns (a rollback) has its old revision renumbered
//! as the newest, so "newest revision" always means "current template".
//!
//! Invariant: one reconcile of an owner at a time (the runtime guarantees it) is the only
//! writer of that owner's revisions, so finding the equal revision, then creating or
//! renumbering it, cannot race with itself.

use super::claim::ControllerRefManager;
use super::hash::hash_of;
use crate::api::{ControllerRevision, Object, ObjectMeta, PodTemplateSpec, Resource, Selector};
use crate::client::Api;
use crate::error::{Error, ObjectRef, Result};
use crate::runtime::owner::owner_reference;
use crate::store::{DeleteParams, Store};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;

/// Label of revisions (the hash) and of the pods made from them (StatefulSet pods carry the
/// revision's name, DaemonSet pods its hash, as in Kubernetes).
pub const CONTROLLER_REVISION_HASH_LABEL: &str = "controller-revision-hash";

/// Default `revisionHistoryLimit` of StatefulSets and DaemonSets.
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;

/// How many names a template tries before giving up on hash collisions in one reconcile.
const MAX_COLLISIONS: i32 = 16;

/// An owner's revisions after [`sync`].
#[derive(Debug)]
pub struct History {
    /// Every revision the owner controls, oldest revision number first.
    pub revisions: Vec<Arc<ControllerRevision>>,
    /// The revision of the owner's current template (in `revisions`).
    pub update: Arc<ControllerRevision>,
    /// The hash of `update` (its [`CONTROLLER_REVISION_HASH_LABEL`]).
    pub update_hash: String,
    /// The owner's collision count after this sync (store it in the owner's status).
    pub collision_count: i32,
}

impl History {
    /// The revision named `name`, if the owner has it.
    pub fn by_name(&self, name: &str) -> Option<&Arc<ControllerRevision>> {
        self.revisions.iter().find(|r| r.metadata.name == name)
    }
}

/// The snapshot of a template stored in a revision.
pub fn snapshot(template: &PodTemplateSpec) -> Value {
    json!({ "spec": { "template": template } })
}

/// The template stored in a revision's snapshot.
pub fn template_of(rev: &ControllerRevision) -> Result<PodTemplateSpec> {
    let t = rev
        .data
        .as_ref()
        .and_then(|d| d.get("spec"))
        .and_then(|s| s.get("template"))
        .cloned()
        .unwrap_or(Value::Null);
    serde_json::from_value(t).map_err(|e| {
        Error::invalid(
            ObjectRef::new(
                <ControllerRevision as Resource>::KIND,
                rev.metadata.namespace.as_deref(),
                &rev.metadata.name,
            ),
            "data.spec.template",
            format!("not a pod template: {e}"),
        )
    })
}

/// Claims the owner's revisions (adopting orphans matching `selector`) and makes sure one
/// holds `template`: the equal revision, renumbered as the newest when it is not, or a new
/// one. A name taken by a revision with another snapshot bumps `collision_count` and tries
/// again.
pub fn sync(
    store: &Store,
    owner: &dyn Object,
    selector: &Selector,
    template: &PodTemplateSpec,
    collision_count: i32,
) -> Result<History> {
    let claimed = ControllerRefManager::new(store, owner, selector).claim_all(|_| true)?;
    let mut revisions: Vec<Arc<ControllerRevision>> = claimed.owned;
    revisions.sort_by(|a, b| (a.revision, &a.metadata.name).cmp(&(b.revision, &b.metadata.name)));
    let ns = owner.meta().namespace.as_deref().unwrap_or("default");
    let api = Api::<ControllerRevision>::all(store.clone()).namespace(ns);
    let data = snapshot(template);
    let newest = revisions.last().map_or(0, |r| r.revision);
    if let Some(i) = revisions
        .iter()
        .position(|r| r.data.as_ref() == Some(&data))
    {
        let found = revisions[i].clone();
        let update = if found.revision < newest {
            let mut next = (*found).clone();
            next.revision = newest + 1;
            let updated = api.update(next)?;
            revisions.remove(i);
            revisions.push(updated.clone());
            updated
        } else {
            found
        };
        let update_hash = hash_label(&update);
        return Ok(History {
            revisions,
            update,
            update_hash,
            collision_count,
        });
    }
    let mut count = collision_count;
    for _ in 0..MAX_COLLISIONS {
        let hash = hash_of(&data, Some(count));
        let mut labels = template.metadata.labels.clone();
        labels.insert(CONTROLLER_REVISION_HASH_LABEL.to_string(), hash.clone());
        let rev = ControllerRevision {
            metadata: ObjectMeta {
                name: format!("{}-{hash}", owner.meta().name),
                namespace: Some(ns.to_string()),
                labels,
                owner_references: vec![owner_reference(owner, true)],
                ..Default::default()
            },
            data: Some(data.clone()),
            revision: newest + 1,
            ..Default::default()
        };
        match api.create(rev) {
            Ok(created) => {
                revisions.push(created.clone());
                return Ok(History {
                    revisions,
                    update: created,
                    update_hash: hash,
                    collision_count: count,
                });
            }
            Err(e) if matches!(e.root(), Error::AlreadyExists { .. }) => count += 1,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict {
        object: ObjectRef::new(owner.kind(), Some(ns), &owner.meta().name),
        message: format!("{MAX_COLLISIONS} revision names in a row were taken"),
    })
}

/// The hash label of a revision (its name's suffix when the label is missing).
pub fn hash_label(rev: &ControllerRevision) -> String {
    rev.metadata
        .labels
        .get(CONTROLLER_REVISION_HASH_LABEL)
        .cloned()
        .unwrap_or_else(|| {
            let n = &rev.metadata.name;
            n.rsplit_once('-').map_or(n.clone(), |(_, h)| h.to_string())
        })
}

/// Deletes the oldest revisions that are not `live` (by name) beyond `limit` of them.
/// Returns how many were deleted.
pub fn truncate(
    store: &Store,
    history: &History,
    live: &HashSet<String>,
    limit: i32,
) -> Result<usize> {
    let old: Vec<&Arc<ControllerRevision>> = history
        .revisions
        .iter()
        .filter(|r| {
            !live.contains(&r.metadata.name) && r.metadata.name != history.update.metadata.name
        })
        .collect();
    let excess = old.len().saturating_sub(limit.max(0) as usize);
    let mut deleted = 0;
    for r in old.into_iter().take(excess) {
        let api = Api::<ControllerRevision>::all(store.clone())
            .namespace(r.metadata.namespace.as_deref().unwrap_or("default"));
        let params = DeleteParams {
            uid: r.metadata.uid.clone(),
            ..Default::default()
        };
        match api.delete(&r.metadata.name, &params) {
            Ok(_) => deleted += 1,
            Err(e) if e.is_not_found() || e.is_conflict() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ConfigMap, Container};
    use crate::clock::ManualClock;
    use crate::Engine;

    fn template(image: &str) -> PodTemplateSpec {
        let mut t = PodTemplateSpec::default();
        t.metadata.labels.insert("app".into(), "db".into());
        t.spec.containers.push(Container {
            name: "db".into(),
            image: Some(image.into()),
            ..Default::default()
        });
        t
    }

    #[test]
    fn a_returning_template_reuses_its_revision_renumbered_as_newest() {
        let e = Engine::builder()
            .clock(Arc::new(ManualClock::default()))
            .local_node(false)
            .builtin_controllers(false)
            .build()
            .unwrap();
        // Any stored object can own revisions; a ConfigMap stands in for a StatefulSet.
        let mut owner = ConfigMap::default();
        owner.metadata.name = "db".into();
        owner.metadata.namespace = Some("default".into());
        let owner = e
            .api::<ConfigMap>()
            .namespace("default")
            .create(owner)
            .unwrap();
        let sel = Selector::parse("app=db").unwrap();
        let h1 = sync(e.store(), owner.as_ref(), &sel, &template("v1"), 0).unwrap();
        assert_eq!(h1.update.revision, 1);
        assert!(h1.update.metadata.name.starts_with("db-"));
        assert_eq!(template_of(&h1.update).unwrap(), template("v1"));
        let h2 = sync(e.store(), owner.as_ref(), &sel, &template("v2"), 0).unwrap();
        assert_eq!((h2.update.revision, h2.revisions.len()), (2, 2));
        let back = sync(e.store(), owner.as_ref(), &sel, &template("v1"), 0).unwrap();
        assert_eq!(back.update.metadata.name, h1.update.metadata.name);
        assert_eq!((back.update.revision, back.revisions.len()), (3, 2));

        let live: HashSet<String> = HashSet::new();
        assert_eq!(truncate(e.store(), &back, &live, 0).unwrap(), 1);
        let left = sync(e.store(), owner.as_ref(), &sel, &template("v1"), 0).unwrap();
        assert_eq!(left.revisions.len(), 1);
    }
}
