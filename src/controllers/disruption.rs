//! The disruption controller: keeps every PodDisruptionBudget's status, as Kubernetes'
//! disruption controller does.
//!
//! One reconcile of a budget, level-triggered from the store (its pods' changes queue it):
//! 1. the pods it selects (a missing selector selects none, an empty one every pod of its
//!    namespace);
//! 2. `expectedPods` and `desiredHealthy`: an integer `minAvailable` is the desired count and
//!    the selected pods are expected; a percentage `minAvailable`, or `maxUnavailable`,
//!    applies to the sum of the scale of the pods' controllers (a Deployment through its
//!    ReplicaSets, a ReplicaSet, a StatefulSet), rounded up; pods without a controller are
//!    reported in an `UnmanagedPods` warning; a controller that is missing or has no scale
//!    fails the sync (the fail-safe below);
//! 3. `disruptedPods`: the evicted pods not yet seen being deleted, dropped after
//!    [`DELETION_TIMEOUT`] on the engine clock (with a `NotDeleted` warning on the pod);
//!    the budget is reconciled again when the next one expires;
//! 4. `currentHealthy`: selected pods that are ready, not being deleted and not disrupted;
//!    `disruptionsAllowed` = `currentHealthy - desiredHealthy`, but 0 when that is negative
//!    or no pod is expected; `observedGeneration`; the `DisruptionAllowed` condition
//!    (`SufficientPods` / `InsufficientPods`).
//!
//! When step 2 fails, the fail-safe sets `disruptionsAllowed` to 0 with `DisruptionAllowed`
//! `False`, reason `SyncFailed` and the error as message, so no eviction passes a budget that
//! cannot be computed; the sync is retried with backoff.
//!
//! Concurrency: the eviction path also writes the status (a decrement and a `disruptedPods`
//! entry). Both writes are compare-and-swaps on the budget's resourceVersion, so neither
//! overwrites the other: a status write here that loses the race is retried from a fresh
//! read, which sees the evicted pod being deleted.

use super::pod_util;
use crate::api::policy::{PodDisruptionBudgetStatus, DELETION_TIMEOUT, SYNC_FAILED};
use crate::api::{
    Deployment, IntOrString, Map, Object, Pod, PodDisruptionBudget, ReplicaSet, Resource,
    StatefulSet, Time,
};
use crate::client::events::EventKind;
use crate::runtime::{Action, Context, Controller, ObjectKey, ReconcileError, ReconcileResult};
use crate::store::{ListParams, Store};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The controller's name (metrics, events).
pub const NAME: &str = "disruption-controller";

/// The disruption controller, ready to register on an engine. Besides its budgets it
/// watches pods: a pod's change queues every budget that selects it.
pub fn controller() -> Controller {
    Controller::for_kind::<PodDisruptionBudget>(NAME)
        .watches_with_store(Pod::KIND, budgets_of)
        .build(reconcile)
}

/// The budgets that select `pod`.
fn budgets_of(store: &Store, pod: &dyn Object) -> Vec<ObjectKey> {
    let m = pod.meta();
    let Ok(list) = store.list_unordered(
        PodDisruptionBudget::KIND,
        &ListParams {
            namespace: m.namespace.clone(),
            ..Default::default()
        },
    ) else {
        return Vec::new();
    };
    list.items
        .iter()
        .filter_map(|o| o.as_any().downcast_ref::<PodDisruptionBudget>())
        .filter(|b| b.covers(m.namespace_str(), &m.labels))
        .map(|b| ObjectKey::of(b))
        .collect()
}

/// The pods `pdb` selects (see [`PodDisruptionBudget::covers`]).
pub fn selected_pods(store: &Store, pdb: &PodDisruptionBudget) -> crate::Result<Vec<Arc<Pod>>> {
    if pdb.spec.selector.is_none() {
        return Ok(Vec::new());
    }
    let list = store.list_unordered(
        Pod::KIND,
        &ListParams {
            namespace: pdb.metadata.namespace.clone(),
            ..Default::default()
        },
    )?;
    Ok(list
        .items
        .into_iter()
        .filter(|o| pdb.covers(o.meta().namespace_str(), &o.meta().labels))
        .filter_map(|o| o.downcast_arc::<Pod>().ok())
        .collect())
}

/// `(expectedPods, desiredHealthy, unmanaged pod names)`, or why they cannot be known
/// (Kubernetes' `getExpectedPodCount`).
fn expected_pod_count(
    store: &Store,
    pdb: &PodDisruptionBudget,
    pods: &[Arc<Pod>],
) -> Result<(i32, i32, Vec<String>), String> {
    if let Some(max_unavailable) = &pdb.spec.max_unavailable {
        let (expected, unmanaged) = expected_scale(store, pods)?;
        let max = max_unavailable.resolve(expected, true)?;
        Ok((expected, (expected - max).max(0), unmanaged))
    } else if let Some(min_available) = &pdb.spec.min_available {
        match min_available {
            IntOrString::Int(n) => Ok((pods.len() as i32, *n, Vec::new())),
            IntOrString::String(_) => {
                let (expected, unmanaged) = expected_scale(store, pods)?;
                Ok((expected, min_available.resolve(expected, true)?, unmanaged))
            }
        }
    } else {
        Ok((0, 0, Vec::new()))
    }
}

/// The sum of the scale of the pods' controllers, each counted once, and the pods without
/// a controller (Kubernetes' `getExpectedScale`).
fn expected_scale(store: &Store, pods: &[Arc<Pod>]) -> Result<(i32, Vec<String>), String> {
    let mut scale: BTreeMap<String, i32> = BTreeMap::new();
    let mut unmanaged = Vec::new();
    for pod in pods {
        let Some(owner) = pod.metadata.controller_ref() else {
            unmanaged.push(pod.metadata.name.clone());
            continue;
        };
        if scale.contains_key(&owner.uid) {
            continue;
        }
        let ns = pod.metadata.namespace_str();
        let found = controller_scale(store, ns, &owner.kind, &owner.name, &owner.uid)?
            .ok_or_else(|| format!("found no controllers for pod {:?}", pod.metadata.name))?;
        scale.insert(found.0, found.1);
    }
    Ok((scale.values().sum(), unmanaged))
}

/// `(uid, spec.replicas)` of the controller `kind` `name` if it exists with `uid`. A pod of
/// a ReplicaSet that a Deployment controls counts towards the Deployment's scale.
fn controller_scale(
    store: &Store,
    namespace: &str,
    kind: &str,
    name: &str,
    uid: &str,
) -> Result<Option<(String, i32)>, String> {
    fn get<K: Resource>(store: &Store, ns: &str, name: &str, uid: &str) -> Option<Arc<K>> {
        store
            .get(K::KIND, Some(ns), name)
            .ok()
            .and_then(|o| o.downcast_arc::<K>().ok())
            .filter(|o| o.meta().uid.as_deref() == Some(uid))
    }
    match kind {
        "ReplicaSet" => {
            let Some(rs) = get::<ReplicaSet>(store, namespace, name, uid) else {
                return Ok(None);
            };
            if let Some(d) = rs
                .metadata
                .controller_ref()
                .filter(|r| r.kind == "Deployment")
            {
                return Ok(
                    get::<Deployment>(store, namespace, &d.name, &d.uid).map(|d| {
                        (
                            d.metadata.uid.clone().unwrap_or_default(),
                            d.spec.replicas.unwrap_or(1),
                        )
                    }),
                );
            }
            Ok(Some((uid.to_string(), rs.spec.replicas.unwrap_or(1))))
        }
        "StatefulSet" => Ok(get::<StatefulSet>(store, namespace, name, uid)
            .map(|s| (uid.to_string(), s.spec.replicas.unwrap_or(1)))),
        "Deployment" => Ok(get::<Deployment>(store, namespace, name, uid)
            .map(|d| (uid.to_string(), d.spec.replicas.unwrap_or(1)))),
        other => {
            let resource = store
                .registry()
                .get(other)
                .map(|info| {
                    let group = info.api_version.rsplit_once('/').map(|(g, _)| g);
                    match group {
                        Some(g) => format!("{}.{g}", info.plural),
                        None => info.plural.clone(),
                    }
                })
                .unwrap_or_else(|| other.to_lowercase());
            Err(format!(
                "{resource} does not implement the scale subresource"
            ))
        }
    }
}

/// `disruptedPods` without the pods seen being deleted and those past
/// [`DELETION_TIMEOUT`], and when the next one left expires (Kubernetes'
/// `buildDisruptedPodMap`). Returns the pods that timed out too.
fn disrupted_pods(
    pods: &[Arc<Pod>],
    recorded: &Map<String, Time>,
    now: Time,
) -> (Map<String, Time>, Option<Time>, Vec<Arc<Pod>>) {
    let mut kept = Map::new();
    let mut recheck: Option<Time> = None;
    let mut timed_out = Vec::new();
    if recorded.is_empty() {
        return (kept, recheck, timed_out);
    }
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(&at) = recorded.get(&pod.metadata.name) else {
            continue;
        };
        let expected_deletion = at.plus(DELETION_TIMEOUT);
        if expected_deletion < now {
            timed_out.push(pod.clone());
        } else {
            recheck = Some(recheck.map_or(expected_deletion, |r| r.min(expected_deletion)));
            kept.insert(pod.metadata.name.clone(), at);
        }
    }
    (kept, recheck, timed_out)
}

/// Selected pods that are ready, not being deleted and not disrupted (Kubernetes'
/// `countHealthyPods`).
fn count_healthy(pods: &[Arc<Pod>], disrupted: &Map<String, Time>, now: Time) -> i32 {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            disrupted
                .get(&p.metadata.name)
                .is_none_or(|at| at.plus(DELETION_TIMEOUT) <= now)
        })
        .filter(|p| pod_util::is_ready(p))
        .count() as i32
}

/// One reconcile of the budget `ctx.key()` (see the module documentation).
pub fn reconcile(ctx: &Context) -> ReconcileResult {
    let Some(pdb) = ctx.get::<PodDisruptionBudget>() else {
        return Ok(Action::done());
    };
    let store = ctx.store();
    let now = ctx.now();
    let pods = selected_pods(store, &pdb)?;
    let (expected, desired, unmanaged) = match expected_pod_count(store, &pdb, &pods) {
        Ok(x) => x,
        Err(why) => {
            ctx.event(
                pdb.as_ref(),
                EventKind::Warning,
                "CalculateExpectedPodCountFailed",
                &format!("Failed to calculate the number of expected pods: {why}"),
            );
            fail_safe(ctx, &pdb, &why, now)?;
            return Err(ReconcileError::retry(why));
        }
    };
    let old = pdb.status_or_default();
    let (disrupted, recheck, timed_out) = disrupted_pods(&pods, &old.disrupted_pods, now);
    let healthy = count_healthy(&pods, &disrupted, now);
    let allowed = if expected <= 0 {
        0
    } else {
        (healthy - desired).max(0)
    };
    let generation = pdb.metadata.generation;
    let up_to_date = old.current_healthy == healthy
        && old.desired_healthy == desired
        && old.expected_pods == expected
        && old.disruptions_allowed == allowed
        && old.disrupted_pods == disrupted
        && old.observed_generation == generation
        && old.condition_is_up_to_date();
    if !up_to_date {
        let mut status = PodDisruptionBudgetStatus {
            observed_generation: generation,
            disrupted_pods: disrupted,
            disruptions_allowed: allowed,
            current_healthy: healthy,
            desired_healthy: desired,
            expected_pods: expected,
            conditions: old.conditions.clone(),
            extra: old.extra.clone(),
        };
        status.update_disruption_allowed_condition(now);
        write_status(ctx, &pdb, status)?;
        // Reported on a write only, so a budget in a steady state does not repeat them.
        if pods.is_empty() {
            ctx.event(
                pdb.as_ref(),
                EventKind::Normal,
                "NoPods",
                "No matching pods found",
            );
        }
        if !unmanaged.is_empty() {
            ctx.event(
                pdb.as_ref(),
                EventKind::Warning,
                "UnmanagedPods",
                &format!(
                    "Pods selected by this PodDisruptionBudget were found to be unmanaged ({}). \
                     As a result, the status of the PDB cannot be calculated correctly, which may \
                     result in undefined behavior. To account for these pods please set \
                     \".spec.minAvailable\" field of the PDB to an integer value.",
                    unmanaged.join(", ")
                ),
            );
        }
        for pod in timed_out {
            ctx.event(
                pod.as_ref(),
                EventKind::Warning,
                "NotDeleted",
                &format!(
                    "Pod was expected by PDB {}/{} to be deleted but it wasn't",
                    pdb.metadata.namespace_str(),
                    pdb.metadata.name
                ),
            );
        }
    }
    Ok(match recheck {
        Some(at) => Action::requeue(at.saturating_duration_since(now)),
        None => Action::done(),
    })
}

/// Kubernetes' `failSafe`: `disruptionsAllowed` 0 and `DisruptionAllowed` `False`
/// (`SyncFailed`, `why`), so no eviction passes a budget whose status cannot be computed.
fn fail_safe(ctx: &Context, pdb: &PodDisruptionBudget, why: &str, now: Time) -> crate::Result<()> {
    let mut status = pdb.status_or_default();
    status.disruptions_allowed = 0;
    status.set_condition("False", SYNC_FAILED, Some(why.to_string()), now);
    if pdb.status.as_ref() == Some(&status) {
        return Ok(());
    }
    write_status(ctx, pdb, status)
}

/// A compare-and-swap of the budget's status against the version reconciled: an eviction
/// that wrote meanwhile makes it a conflict, and the reconcile is retried from a fresh read.
fn write_status(
    ctx: &Context,
    pdb: &PodDisruptionBudget,
    status: PodDisruptionBudgetStatus,
) -> crate::Result<()> {
    let mut updated = pdb.clone();
    updated.status = Some(status);
    let api = ctx
        .api::<PodDisruptionBudget>()
        .namespace(pdb.metadata.namespace_str());
    api.update_status(&updated)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Condition, PodStatus};

    fn pod(name: &str, ready: bool) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.name = name.into();
        p.status = Some(Box::new(PodStatus {
            phase: Some("Running".into()),
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }],
            ..Default::default()
        }));
        Arc::new(p)
    }

    #[test]
    fn disrupted_pods_stop_counting_until_the_deletion_timeout() {
        let t0 = Time::from_unix_micros(1_000_000_000);
        let pods = vec![pod("a", true), pod("b", true), pod("c", false)];
        let recorded: Map<String, Time> = [("a".to_string(), t0), ("gone".to_string(), t0)].into();
        let (kept, recheck, timed_out) = disrupted_pods(&pods, &recorded, t0);
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(recheck, Some(t0.plus(DELETION_TIMEOUT)));
        assert!(timed_out.is_empty());
        assert_eq!(count_healthy(&pods, &kept, t0), 1);

        let later = t0.plus(DELETION_TIMEOUT + std::time::Duration::from_secs(1));
        let (kept, recheck, timed_out) = disrupted_pods(&pods, &recorded, later);
        assert!(kept.is_empty());
        assert_eq!(recheck, None);
        assert_eq!(timed_out.len(), 1);
        assert_eq!(count_healthy(&pods, &kept, later), 2);
    }
}
