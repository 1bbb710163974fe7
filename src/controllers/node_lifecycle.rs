//! Node lifecycle: what happens when a node stops renewing its Lease.
//!
//! The controller watches Nodes and their Leases (namespace `kube-node-lease`). When a
//! node's Lease has not been renewed for the grace period, the node's `Ready` condition
//! becomes `Unknown` and it gets the taints `node.kubernetes.io/unreachable` with effects
//! `NoSchedule` (the scheduler keeps new pods away) and `NoExecute`. Pods on it that do not
//! tolerate the `NoExecute` taint are evicted at once; pods that tolerate it for
//! `tolerationSeconds` are evicted when that runs out (every pod gets such a toleration from
//! the `DefaultTolerationSeconds` admission hook, [`register_default_tolerations`]). Their
//! controllers replace them on healthy nodes. When the Lease is renewed again, the taints
//! go.
//!
//! An unreachable node of this engine is a stopped node agent: nothing runs there any more,
//! so evicted pods are deleted with a grace period of 0 (Kubernetes leaves them terminating
//! until the node returns or is deleted; here nobody could ever confirm their end). Pods
//! bound to a node that no longer exists are deleted likewise (Kubernetes' pod GC).
//!
//! A node that another engine runs (on a store shared through etcd, its Lease names that
//! engine) may be unreachable because that engine is cut off, not dead: its pods may still
//! run. They are evicted as Kubernetes does, gracefully: terminating, they no longer count
//! for their ReplicaSet (which replaces them at once), but they stay until that engine's
//! node agent, back or restarted, confirms their end, so a StatefulSet never runs an
//! ordinal twice. Deleting the Node (`kubectl delete node`) confirms that the host is gone
//! for good: its pods are then deleted at once (pod GC).

use crate::api::conditions::{condition, find_condition, set_condition};
use crate::api::{Lease, Node, Pod, Taint, Toleration};
use crate::client::events::EventKind;
use crate::node::agent::ENGINE_ANNOTATION;
use crate::node::LEASE_NAMESPACE;
use crate::runtime::{Action, Context, Controller, ObjectKey, ReconcileResult};
use crate::store::{DeleteParams, Operation, Store};
use std::time::Duration;

/// Taint key of a node whose agent stopped reporting.
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
/// Taint key of a node that reports itself not ready.
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";

/// Timings of node failure handling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLifecycleConfig {
    /// A node whose Lease was not renewed for this long is unreachable.
    pub grace: Duration,
    /// How often an unreachable node is looked at again.
    pub monitor_period: Duration,
    /// `tolerationSeconds` of the default `not-ready`/`unreachable` tolerations every pod
    /// gets.
    pub default_toleration_seconds: i64,
}

impl NodeLifecycleConfig {
    /// Kubernetes' timings: grace 40 s, monitor period 5 s, default toleration 300 s.
    pub fn kubernetes() -> Self {
        NodeLifecycleConfig {
            grace: Duration::from_secs(40),
            monitor_period: Duration::from_secs(5),
            default_toleration_seconds: 300,
        }
    }
}

impl Default for NodeLifecycleConfig {
    /// The embedded default, shorter than Kubernetes' because a node of one process fails
    /// by being stopped, not by a flaky network: grace 40 s, monitor period 5 s, default
    /// toleration 30 s (a failed node's pods come back elsewhere within about 70 s).
    fn default() -> Self {
        NodeLifecycleConfig {
            default_toleration_seconds: 30,
            ..Self::kubernetes()
        }
    }
}

/// The node lifecycle controller (`node-lifecycle`).
pub fn controller(config: NodeLifecycleConfig) -> Controller {
    controller_of_engine(config, None)
}

/// [`controller`] of an engine that shares its store with others, as `engine` (its
/// identity, which the Leases of its own nodes name): see the module docs for the nodes of
/// other engines.
pub(crate) fn controller_of_engine(
    config: NodeLifecycleConfig,
    engine: Option<String>,
) -> Controller {
    Controller::for_kind::<Node>("node-lifecycle")
        .watches("Lease", |o| {
            if o.meta().namespace.as_deref() == Some(LEASE_NAMESPACE) {
                vec![ObjectKey::new(None, &o.meta().name)]
            } else {
                Vec::new()
            }
        })
        .concurrency(4)
        .build(move |ctx: &Context| reconcile(ctx, &config, engine.as_deref()))
}

/// Adds the `DefaultTolerationSeconds` admission hook: every pod created without them gets
/// tolerations of `not-ready` and `unreachable` with effect `NoExecute` for `seconds`.
pub fn register_default_tolerations(store: &Store, seconds: i64) {
    store.add_mutating_hook(
        "DefaultTolerationSeconds",
        Some("Pod"),
        move |op, obj, _| {
            if op != Operation::Create {
                return Ok(());
            }
            let Some(pod) = obj.as_any_mut().downcast_mut::<Pod>() else {
                return Ok(());
            };
            let missing: Vec<&str> = [NOT_READY_TAINT, UNREACHABLE_TAINT]
                .into_iter()
                .filter(|key| {
                    let taint = Taint {
                        key: key.to_string(),
                        effect: "NoExecute".into(),
                        ..Default::default()
                    };
                    !pod.spec.tolerations.iter().any(|t| t.tolerates(&taint))
                })
                .collect();
            // Exactly as many as added: a pod keeps this list for its life, and a push into
            // an empty Vec would leave room for four (512 bytes) where two are held.
            pod.spec.tolerations.reserve_exact(missing.len());
            for key in missing {
                pod.spec.tolerations.push(Toleration {
                    key: Some(key.to_string()),
                    operator: Some("Exists".into()),
                    effect: Some("NoExecute".into()),
                    toleration_seconds: Some(seconds),
                    ..Default::default()
                });
            }
            Ok(())
        },
    );
}

fn force_delete(ctx: &Context, pod: &Pod) -> crate::Result<()> {
    delete_pod(ctx, pod, Some(0))
}

/// Evicts a pod of another engine's node: gracefully, so it stays (terminating) until
/// that engine's node agent confirms its end; already terminating, nothing to do.
fn evict_gracefully(ctx: &Context, pod: &Pod) -> crate::Result<()> {
    if pod.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    delete_pod(ctx, pod, None)
}

/// Deletes this very pod (its uid), with `grace` seconds or its own grace period; gone or
/// replaced meanwhile is done.
fn delete_pod(ctx: &Context, pod: &Pod, grace: Option<i64>) -> crate::Result<()> {
    let params = DeleteParams {
        uid: pod.metadata.uid.clone(),
        grace_period_seconds: grace,
        ..Default::default()
    };
    match ctx.store().delete(
        "Pod",
        pod.metadata.namespace.as_deref(),
        &pod.metadata.name,
        &params,
    ) {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() || e.is_conflict() => Ok(()),
        Err(e) => Err(e),
    }
}

fn reconcile(ctx: &Context, config: &NodeLifecycleConfig, engine: Option<&str>) -> ReconcileResult {
    let name = ctx.name();
    let now = ctx.now();
    let Some(node) = ctx.get::<Node>() else {
        // Pod GC: pods bound to a node that is gone.
        for p in crate::node::pods_on(ctx.store(), name)? {
            force_delete(ctx, &p)?;
        }
        return Ok(Action::done());
    };
    let lease = ctx
        .api::<Lease>()
        .namespace(LEASE_NAMESPACE)
        .get_opt(name)?;
    let renewed = lease
        .as_ref()
        .and_then(|l| l.spec.renew_time)
        .or(node.metadata.creation_timestamp)
        .unwrap_or(now);
    let silent = now.saturating_duration_since(renewed);
    // A node that another engine claimed (see `node_claim`): that engine may be cut off,
    // not dead, and run its pods on.
    let remote = engine.is_some_and(|me| {
        lease
            .as_ref()
            .and_then(|l| l.metadata.annotations.get(ENGINE_ANNOTATION))
            .is_some_and(|owner| owner != me)
    });
    if silent < config.grace {
        if node.spec.taints.iter().any(|t| t.key == UNREACHABLE_TAINT) {
            let mut n = (*node).clone();
            n.spec.taints.retain(|t| t.key != UNREACHABLE_TAINT);
            ctx.api::<Node>().update(n)?;
        }
        return Ok(Action::requeue(
            config.grace - silent + Duration::from_millis(1),
        ));
    }
    // Unreachable: Ready=Unknown and the taints, once.
    let unknown = node
        .status
        .as_ref()
        .and_then(|s| find_condition(&s.conditions, "Ready"))
        .is_some_and(|c| c.status == "Unknown");
    if !unknown {
        let mut n = (*node).clone();
        let st = n.status.get_or_insert_with(Default::default);
        set_condition(
            &mut st.conditions,
            condition(
                "Ready",
                "Unknown",
                "NodeStatusUnknown",
                "Kubelet stopped posting node status.",
                None,
            ),
            now,
        );
        ctx.api::<Node>().update_status(&n)?;
        ctx.event(
            node.as_ref(),
            EventKind::Normal,
            "NodeNotReady",
            &format!("Node {name} status is now: NodeNotReady"),
        );
    }
    let node = ctx.get::<Node>().unwrap_or(node);
    let mut taints = node.spec.taints.clone();
    let mut changed = false;
    for effect in ["NoSchedule", "NoExecute"] {
        if !taints
            .iter()
            .any(|t| t.key == UNREACHABLE_TAINT && t.effect == effect)
        {
            taints.push(Taint {
                key: UNREACHABLE_TAINT.into(),
                effect: effect.into(),
                time_added: Some(now),
                ..Default::default()
            });
            changed = true;
        }
    }
    if changed {
        let mut n = (*node).clone();
        n.spec.taints = taints.clone();
        ctx.api::<Node>().update(n)?;
    }
    // The taint manager: evict what does not tolerate NoExecute (any more).
    let mut next = config.monitor_period;
    let no_execute: Vec<&Taint> = taints.iter().filter(|t| t.effect == "NoExecute").collect();
    for pod in crate::node::pods_on(ctx.store(), name)? {
        let mut evict_in: Option<Duration> = Some(Duration::ZERO);
        for taint in &no_execute {
            let Some(tol) = pod.spec.tolerations.iter().find(|t| t.tolerates(taint)) else {
                evict_in = Some(Duration::ZERO);
                break;
            };
            let Some(secs) = tol.toleration_seconds else {
                evict_in = None;
                continue;
            };
            let added = taint.time_added.unwrap_or(now);
            let due = added.plus(Duration::from_secs(secs.max(0) as u64));
            let left = due.saturating_duration_since(now);
            evict_in = Some(left);
        }
        match evict_in {
            Some(d) if d.is_zero() => {
                // A remote node's pod stays terminating: its eviction is announced once.
                if !remote || pod.metadata.deletion_timestamp.is_none() {
                    ctx.event(
                        pod.as_ref(),
                        EventKind::Normal,
                        "TaintManagerEviction",
                        &format!(
                            "Marking for deletion Pod {}/{}{}",
                            pod.metadata.namespace_str(),
                            pod.metadata.name,
                            if remote {
                                " (its end awaits the node's engine)"
                            } else {
                                ""
                            }
                        ),
                    );
                }
                if remote {
                    evict_gracefully(ctx, &pod)?;
                } else {
                    force_delete(ctx, &pod)?;
                }
            }
            Some(d) => next = next.min(d),
            None => {}
        }
    }
    Ok(Action::requeue(next.max(Duration::from_millis(1))))
}
