//! The Eviction path: deleting a pod only if its PodDisruptionBudget allows it, as
//! kube-apiserver's `pods/eviction` subresource does. [`Api::evict`](super::Api) and the
//! HTTP API's `POST .../pods/NAME/eviction` both come here; draining a node does too.
//!
//! Rules, in Kubernetes' order:
//! - a pod that is `Succeeded`, `Failed` or `Pending` (not yet running), or already being
//!   deleted, is deleted without consulting any budget;
//! - a pod no budget selects is deleted; one that more than one selects is refused
//!   ([`MULTIPLE_BUDGETS`], HTTP 500);
//! - a pod that is not ready is deleted without using up the budget when the budget says
//!   `unhealthyPodEvictionPolicy: AlwaysAllow`, or (the default, `IfHealthyBudget`) when the
//!   budget currently has its desired healthy pods;
//! - otherwise the budget must have been computed from its current spec and allow a
//!   disruption: else the eviction is refused ([`EVICTION_REFUSED`], HTTP 429) with a
//!   `DisruptionBudget` cause saying what the budget needs. An allowed eviction decrements
//!   `status.disruptionsAllowed` and records the pod in `status.disruptedPods` (engine clock).
//!
//! Concurrency invariant: the budget's status write and the pod's deletion are one store
//! transaction, a compare-and-swap on the budget's resourceVersion and on the pod's, so two
//! evictions that read the same `disruptionsAllowed` cannot both commit; the loser re-reads
//! and decides again (up to [`EVICTION_ATTEMPTS`] times). Kubernetes writes the budget, then
//! deletes; doing both at once also means no pod stays in `disruptedPods` because its
//! deletion failed after the budget was charged.

use crate::api::policy::{EVICTION_REFUSED, MAX_DISRUPTED_PODS, MULTIPLE_BUDGETS};
use crate::api::{Pod, PodDisruptionBudget, Resource};
use crate::error::{Error, ObjectRef, Result};
use crate::store::{DeleteParams, Deleted, ListParams, Store, TxnOp};
use std::sync::Arc;

/// How often an eviction that lost a race (the budget or the pod changed under it) is
/// decided again before giving up with the conflict (kube-apiserver's `EvictionsRetry`
/// has 20 steps).
pub const EVICTION_ATTEMPTS: usize = 20;

/// The name an eviction refused by a budget gives as the admission "hook" of
/// [`Error::Denied`].
pub const EVICTION: &str = "eviction";

/// Why an eviction did not delete the pod, in the terms the HTTP API answers with.
#[derive(Debug)]
pub(crate) enum Refused {
    /// A budget does not allow it now (429 TooManyRequests, with a `DisruptionBudget`
    /// cause).
    Budget { cause: String },
    /// More than one budget selects the pod (500).
    MultipleBudgets,
    /// The budget is in a state that forbids evictions (403).
    Forbidden { budget: String, message: String },
    /// Any other error (not found, a failed precondition...).
    Error(Error),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        Refused::Error(e)
    }
}

impl Refused {
    /// The error a Rust, C or Python caller sees: a refusal by a budget is
    /// [`Error::Unavailable`] (try again later); a pod with several budgets or a budget that
    /// forbids evictions is [`Error::Denied`].
    pub(crate) fn into_error(self, pod: ObjectRef) -> Error {
        match self {
            Refused::Budget { cause } => Error::Unavailable {
                object: pod,
                message: format!("{EVICTION_REFUSED} {cause}"),
            },
            Refused::MultipleBudgets => Error::Denied {
                object: pod,
                hook: EVICTION.to_string(),
                message: MULTIPLE_BUDGETS.to_string(),
            },
            Refused::Forbidden { budget, message } => Error::Denied {
                object: pod,
                hook: EVICTION.to_string(),
                message: format!("PodDisruptionBudget {budget:?}: {message}"),
            },
            Refused::Error(e) => e,
        }
    }
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn is_ready(pod: &Pod) -> bool {
    pod.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// Kubernetes' `canIgnorePDB`: a terminal pod has already been disrupted, a pending one
/// was never available, and one being deleted is going anyway.
fn can_ignore_budget(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed" | "Pending" | "")
        || pod.metadata.deletion_timestamp.is_some()
}

/// The budgets that select `pod`.
fn budgets_of(store: &Store, pod: &Pod) -> Result<Vec<Arc<PodDisruptionBudget>>> {
    if store.registry().get(PodDisruptionBudget::KIND).is_none() {
        return Ok(Vec::new());
    }
    let list = store.list_unordered(
        PodDisruptionBudget::KIND,
        &ListParams {
            namespace: pod.metadata.namespace.clone(),
            ..Default::default()
        },
    )?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|o| o.downcast_arc::<PodDisruptionBudget>().ok())
        .filter(|b| b.covers(pod.metadata.namespace_str(), &pod.metadata.labels))
        .collect())
}

/// Evicts the pod `namespace/name` (see the module docs). With `dry_run`, decides and
/// returns `Ok(None)` without writing anything.
pub(crate) fn evict(
    store: &Store,
    namespace: &str,
    name: &str,
    params: &DeleteParams,
    dry_run: bool,
) -> std::result::Result<Option<Deleted>, Refused> {
    let mut last = None;
    for _ in 0..EVICTION_ATTEMPTS {
        match attempt(store, namespace, name, params, dry_run) {
            Err(Refused::Error(e @ Error::Conflict { .. })) if retryable(&e, params) => {
                last = Some(e);
            }
            other => return other,
        }
    }
    Err(Refused::Error(last.expect("at least one attempt")))
}

/// A conflict is decided again unless it is the caller's own precondition on the pod that
/// failed.
fn retryable(e: &Error, params: &DeleteParams) -> bool {
    match e.object() {
        Some(o) if o.kind == Pod::KIND => params.resource_version.is_none() && params.uid.is_none(),
        _ => true,
    }
}

fn attempt(
    store: &Store,
    namespace: &str,
    name: &str,
    params: &DeleteParams,
    dry_run: bool,
) -> std::result::Result<Option<Deleted>, Refused> {
    let pod = store
        .get(Pod::KIND, Some(namespace), name)?
        .downcast_arc::<Pod>()
        .map_err(|_| Error::NotFound {
            object: ObjectRef::new(Pod::KIND, Some(namespace), name),
        })?;
    let delete = |params: DeleteParams| -> std::result::Result<Option<Deleted>, Refused> {
        if dry_run {
            return Ok(None);
        }
        Ok(Some(store.delete(
            Pod::KIND,
            Some(namespace),
            name,
            &params,
        )?))
    };
    if can_ignore_budget(&pod) {
        return delete(params.clone());
    }
    let budgets = budgets_of(store, &pod)?;
    if budgets.len() > 1 {
        return Err(Refused::MultipleBudgets);
    }
    let Some(pdb) = budgets.into_iter().next() else {
        return delete(params.clone());
    };
    // The decision below is about this state of the pod: delete only that state.
    let mut pinned = params.clone();
    if pinned.resource_version.is_none() {
        pinned.resource_version = pod.metadata.resource_version.clone();
    }
    let status = pdb.status_or_default();
    if !is_ready(&pod) {
        let healthy_budget =
            status.current_healthy >= status.desired_healthy && status.desired_healthy > 0;
        if pdb.always_allows_unhealthy() || healthy_budget {
            return delete(pinned);
        }
    }
    let budget = &pdb.metadata.name;
    if !pdb.is_observed() {
        return Err(Refused::Budget {
            cause: format!(
                "The disruption budget {budget} is still being processed by the server."
            ),
        });
    }
    if status.disruptions_allowed < 0 {
        return Err(Refused::Forbidden {
            budget: budget.clone(),
            message: "pdb disruptions allowed is negative".into(),
        });
    }
    if status.disrupted_pods.len() > MAX_DISRUPTED_PODS {
        return Err(Refused::Forbidden {
            budget: budget.clone(),
            message:
                "DisruptedPods map too big - too many evictions not confirmed by PDB controller"
                    .into(),
        });
    }
    if status.disruptions_allowed == 0 {
        return Err(Refused::Budget {
            cause: format!(
                "The disruption budget {budget} needs {} healthy pods and has {} currently",
                status.desired_healthy, status.current_healthy
            ),
        });
    }
    if dry_run {
        return Ok(None);
    }
    let now = store.config().clock.now();
    let mut charged = (*pdb).clone();
    let mut new_status = status;
    new_status.disruptions_allowed -= 1;
    if new_status.disruptions_allowed == 0 {
        new_status.update_disruption_allowed_condition(now);
    }
    new_status.disrupted_pods.insert(name.to_string(), now);
    charged.status = Some(new_status);
    // `charged` keeps the resourceVersion read: the status write is a compare-and-swap.
    let mut results = store.transaction(vec![
        TxnOp::UpdateStatus(Arc::new(charged)),
        TxnOp::Delete {
            kind: Pod::KIND.to_string(),
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
            params: pinned,
        },
    ])?;
    let last = results
        .pop()
        .flatten()
        .expect("a deletion in a transaction reports the object");
    // Still there with the same uid: deleted gracefully (a deletionTimestamp), not gone yet.
    let pending = store
        .get(Pod::KIND, Some(namespace), name)
        .is_ok_and(|o| o.meta().uid == last.meta().uid);
    Ok(Some(if pending {
        Deleted::Pending(last)
    } else {
        Deleted::Gone(last)
    }))
}
