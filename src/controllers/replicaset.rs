//! The ReplicaSet controller: keeps `spec.replicas` (default 1) active pods matching the
//! selector.
//!
//! One reconcile, level-triggered from the store:
//! 1. claim the pods ([`ControllerRefManager::claim_all`]): adopt matching orphans, release owned pods
//!    whose labels stopped matching; only active pods (not terminal, not being deleted) count;
//! 2. unless the ReplicaSet is being deleted, create the missing pods from the template in
//!    slow-start batches, or delete the surplus in [`DeletionOrder`]; at most
//!    [`BURST_REPLICAS`] per reconcile (the created and deleted pods' own events bring the
//!    next one);
//! 3. write `status`: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
//!    observedGeneration (the generation this reconcile acted on) and the `ReplicaFailure`
//!    condition when creating or deleting failed;
//! 4. when a ready pod will become available after `minReadySeconds`, reconcile again then
//!    (on the engine clock), so availability flips without any other event.
//!
//! No double creates without "expectations": the store gives read-your-writes and the runtime
//! never runs two reconciles of one ReplicaSet at once, so each reconcile starts from a store
//! that holds every pod the previous one created; within a reconcile, the status is computed
//! from the pods read plus those this reconcile created, minus those it deleted.
//!
//! `status.observedGeneration >= metadata.generation` tells other controllers (the Deployment
//! controller) that this ReplicaSet has acted on its current `spec.replicas`: its pods then
//! converge towards it from `status.replicas`, never beyond both.

use super::claim::{adopters, ControllerRefManager};
use super::pod_util::{self, pod_from_template, DeletionOrder};
use super::slow_start::{slow_start_batch, BURST_REPLICAS, SLOW_START_INITIAL_BATCH};
use crate::api::conditions::{self, condition, set_condition, TRUE};
use crate::api::{Condition, Pod, ReplicaSet, ReplicaSetStatus, Resource, Time};
use crate::client::events::EventKind;
use crate::runtime::{Action, Context, Controller, ReconcileError, ReconcileResult};
use crate::store::{DeleteParams, ListParams};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// The controller's name (metrics, events).
pub const NAME: &str = "replicaset-controller";

/// ReplicaSets reconciled at once. Kubernetes runs 5 workers; here the pool is shared with
/// every other controller, and a reconcile costs a pass over the ReplicaSet's pods, woken by
/// each of their changes: with more than one, two ReplicaSets of thousands of pods in a
/// rollout keep every worker of a small pool busy and starve the node agent that makes their
/// pods ready (a 10,000-pod rollout took 25 s with 4, 2.8 s with 1, on 2 workers).
const CONCURRENCY: usize = 1;

/// Condition type set when pods could not be created or deleted.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// The ReplicaSet controller, ready to register on an engine.
///
/// Besides its ReplicaSets and the pods they control, it watches orphan pods: one that
/// matches a ReplicaSet's selector queues that ReplicaSet, which adopts it.
pub fn controller() -> Controller {
    Controller::for_kind::<ReplicaSet>(NAME)
        .owns_kind::<Pod>()
        .watches_with_store(Pod::KIND, |s, pod| {
            adopters::<ReplicaSet>(s, pod, |rs| &rs.spec.selector)
        })
        .concurrency(CONCURRENCY)
        .build(reconcile)
}

/// One reconcile of the ReplicaSet `ctx.key()` (see the module documentation).
pub fn reconcile(ctx: &Context) -> ReconcileResult {
    let Some(rs) = ctx.get::<ReplicaSet>() else {
        return Ok(Action::done());
    };
    let selector = pod_util::workload_selector("ReplicaSet", ctx.key(), &rs.spec.selector)?;
    let store = ctx.store();
    let claimed =
        ControllerRefManager::new(store, rs.as_ref(), &selector).claim_all(pod_util::is_active)?;
    let mut owned = claimed.owned;
    let mut failure = None;
    if rs.metadata.deletion_timestamp.is_none() {
        let want = rs.spec.replicas.unwrap_or(1).max(0) as usize;
        failure = manage_replicas(ctx, &rs, &mut owned, want);
    }
    let now = ctx.now();
    let (status, next_available) = calculate_status(&rs, &owned, failure.as_ref(), now);
    super::write_own_status(&ctx.api::<ReplicaSet>(), &rs, |r| r.status = Some(status))?;
    if let Some(f) = failure {
        return Err(ReconcileError::retry(f.message));
    }
    Ok(match next_available {
        Some(d) => Action::requeue(d),
        None => Action::done(),
    })
}

/// Why managing the replicas failed.
struct Failure {
    /// `FailedCreate` or `FailedDelete`.
    reason: &'static str,
    message: String,
}

/// Creates or deletes pods so `owned` reaches `want`, at most [`BURST_REPLICAS`] of them;
/// `owned` is updated with what was created and deleted.
fn manage_replicas(
    ctx: &Context,
    rs: &Arc<ReplicaSet>,
    owned: &mut Vec<Arc<Pod>>,
    want: usize,
) -> Option<Failure> {
    let api = ctx.api::<Pod>();
    if owned.len() < want {
        let n = (want - owned.len()).min(BURST_REPLICAS);
        let pod = pod_from_template(&rs.spec.template, rs.as_ref());
        let mut created = Vec::with_capacity(n);
        let (ok, err) = slow_start_batch(n, SLOW_START_INITIAL_BATCH, |_| {
            api.create(pod.clone()).map(|p| created.push(p))
        });
        match created.as_slice() {
            [] => {}
            [one] => ctx.event(
                rs.as_ref(),
                EventKind::Normal,
                "SuccessfulCreate",
                &format!("Created pod: {}", one.metadata.name),
            ),
            _ => ctx.event(
                rs.as_ref(),
                EventKind::Normal,
                "SuccessfulCreate",
                &format!("Created {ok} pods"),
            ),
        }
        owned.extend(created);
        return err.map(|e| {
            let message = format!("Error creating: {e}");
            ctx.event(rs.as_ref(), EventKind::Warning, "FailedCreate", &message);
            Failure {
                reason: "FailedCreate",
                message,
            }
        });
    }
    if owned.len() > want {
        let n = (owned.len() - want).min(BURST_REPLICAS);
        let related = match related_pods(ctx, rs, owned) {
            Ok(r) => r,
            Err(e) => {
                return Some(Failure {
                    reason: "FailedDelete",
                    message: format!("Error listing related pods: {e}"),
                })
            }
        };
        let order = DeletionOrder::new(related.iter().map(|p| p.as_ref()));
        let victims = order.first(owned.clone(), n);
        let mut gone = HashSet::with_capacity(victims.len());
        let mut first_error = None;
        for v in &victims {
            let params = DeleteParams {
                uid: v.metadata.uid.clone(),
                ..Default::default()
            };
            match api.delete(&v.metadata.name, &params) {
                Ok(_) => {
                    gone.insert(v.metadata.name.clone());
                }
                // Gone already, or replaced by a new pod of that name: not ours to count.
                Err(e) if e.is_not_found() || e.is_conflict() => {
                    gone.insert(v.metadata.name.clone());
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        owned.retain(|p| !gone.contains(&p.metadata.name));
        match gone.len() {
            0 => {}
            1 => ctx.event(
                rs.as_ref(),
                EventKind::Normal,
                "SuccessfulDelete",
                &format!("Deleted pod: {}", gone.iter().next().expect("one")),
            ),
            k => ctx.event(
                rs.as_ref(),
                EventKind::Normal,
                "SuccessfulDelete",
                &format!("Deleted {k} pods"),
            ),
        }
        return first_error.map(|e| {
            let message = format!("Error deleting: {e}");
            ctx.event(rs.as_ref(), EventKind::Warning, "FailedDelete", &message);
            Failure {
                reason: "FailedDelete",
                message,
            }
        });
    }
    None
}

/// The pods ranked against each other for scale-down: this ReplicaSet's, and those of every
/// ReplicaSet with the same controller (the other ReplicaSets of its Deployment).
fn related_pods(ctx: &Context, rs: &ReplicaSet, own: &[Arc<Pod>]) -> crate::Result<Vec<Arc<Pod>>> {
    let Some(owner) = rs.metadata.controller_ref() else {
        return Ok(own.to_vec());
    };
    let ns = rs.metadata.namespace.clone();
    let siblings = ctx.api::<ReplicaSet>().list(&ListParams {
        namespace: ns.clone(),
        owner_uid: Some(owner.uid.clone()),
        ..Default::default()
    })?;
    let mut out = own.to_vec();
    for sib in siblings.items {
        let same_controller = sib
            .metadata
            .controller_ref()
            .is_some_and(|r| r.uid == owner.uid);
        if sib.metadata.uid == rs.metadata.uid || !same_controller {
            continue;
        }
        let uid = sib.metadata.uid.as_deref().unwrap_or_default();
        out.extend(pod_util::controlled_pods(ctx.store(), ns.as_deref(), uid)?);
    }
    Ok(out)
}

/// The status a reconcile observed, and how long until the next ready pod becomes available.
fn calculate_status(
    rs: &ReplicaSet,
    owned: &[Arc<Pod>],
    failure: Option<&Failure>,
    now: Time,
) -> (ReplicaSetStatus, Option<Duration>) {
    let min_ready = rs.spec.min_ready_seconds.unwrap_or(0);
    let template_labels = &rs.spec.template.metadata.labels;
    // Owned pods match the selector: when its matchLabels include every template label
    // (the usual case), every owned pod is fully labelled without looking.
    let implied = template_labels
        .iter()
        .all(|(k, v)| rs.spec.selector.match_labels.get(k) == Some(v));
    let (mut fully_labeled, mut ready, mut available) = (0, 0, 0);
    let mut next: Option<Duration> = None;
    for p in owned {
        if implied
            || template_labels
                .iter()
                .all(|(k, v)| p.metadata.labels.get(k) == Some(v))
        {
            fully_labeled += 1;
        }
        if let Some(wait) = pod_util::available_in(p, min_ready, now) {
            ready += 1;
            if wait.is_zero() {
                available += 1;
            } else {
                next = Some(next.map_or(wait, |n| n.min(wait)));
            }
        }
    }
    let prev = rs.status.clone().unwrap_or_default();
    let mut conds: Vec<Condition> = prev.conditions.clone();
    match failure {
        Some(f) => {
            // Kubernetes sets the condition once and keeps it until the failures stop.
            if conditions::find_condition(&conds, REPLICA_FAILURE).is_none() {
                set_condition(
                    &mut conds,
                    condition(REPLICA_FAILURE, TRUE, f.reason, &f.message, None),
                    now,
                );
            }
        }
        None => {
            conditions::remove_condition(&mut conds, REPLICA_FAILURE);
        }
    }
    let status = ReplicaSetStatus {
        replicas: owned.len() as i32,
        fully_labeled_replicas: Some(fully_labeled),
        ready_replicas: Some(ready),
        available_replicas: Some(available),
        observed_generation: rs.metadata.generation,
        conditions: conds,
        extra: prev.extra,
    };
    (status, next)
}

/// True when the ReplicaSet has acted on its current spec (`status.observedGeneration` is at
/// least `metadata.generation`).
pub fn is_observed(rs: &ReplicaSet) -> bool {
    let observed = rs.status.as_ref().and_then(|s| s.observed_generation);
    observed.is_some() && observed >= rs.metadata.generation
}

/// `spec.replicas` with its default (1).
pub fn desired_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.replicas.unwrap_or(1)
}

/// `status.replicas` (0 without a status).
pub fn status_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

/// `status.readyReplicas` (0 when unset).
pub fn ready_replicas(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

/// `status.availableReplicas` (0 when unset).
pub fn available_replicas(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}
