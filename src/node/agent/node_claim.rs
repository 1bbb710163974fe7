//! Claiming a node's name among engines that share one store (on etcd): one engine runs a
//! node, never two.
//!
//! The claim is the node's Lease in `kube-node-lease` (the one its heartbeat renews),
//! annotated with the engine's identity ([`ENGINE_ANNOTATION`]). At start, for each of its
//! nodes, an engine:
//! - creates the Lease when there is none (compare-and-swap: of two engines racing, one
//!   creates it and the other then finds it claimed);
//! - goes on when the Lease names it;
//! - refuses the node when another engine's Lease is renewed while it watches (that engine
//!   runs the node): [`Error::Invalid`] naming the node and the engine;
//! - takes it over when the Lease stayed unchanged for its `leaseDurationSeconds` (its
//!   engine stopped: a restart of this same engine after a crash is this case), at once
//!   when its `renewTime` is already older than that or no engine claims it (an engine
//!   that shuts down gracefully releases its nodes: [`release_node`]).
//!
//! While it runs, each heartbeat of the node's agent keeps the claim (its renewal writes the
//! annotation, compare-and-swap on the Lease) and, before writing anything for the node,
//! checks it: when the Lease names another engine (this one was cut off from the store
//! longer than the lease duration and the other took the node over), the agent stops the
//! node as a power failure would, and the other engine alone runs its pods.

use crate::api::{Lease, LeaseSpec, ObjectMeta};
use crate::clock::SharedClock;
use crate::error::{Error, ObjectRef, Result};
use crate::node::config::LEASE_NAMESPACE;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

/// The annotation of a node's Lease that names the engine running the node.
pub const ENGINE_ANNOTATION: &str = "steady.dev/engine";

/// A new Lease of node `name` in `kube-node-lease`, acquired and renewed at `now`, claimed
/// by `engine` when given (on a shared store).
pub(crate) fn node_lease(
    name: &str,
    engine: Option<&str>,
    duration: Duration,
    now: crate::api::Time,
) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: name.to_string(),
            namespace: Some(LEASE_NAMESPACE.into()),
            annotations: engine
                .map(|e| (ENGINE_ANNOTATION.to_string(), e.to_string()))
                .into_iter()
                .collect(),
            ..Default::default()
        },
        spec: LeaseSpec {
            holder_identity: Some(name.to_string()),
            lease_duration_seconds: Some(duration.as_secs().max(1) as i32),
            acquire_time: Some(now),
            renew_time: Some(now),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Claims node `name` for engine `engine` (see the module docs); `lease_duration` is what a
/// new Lease gets, `poll` how often a claimed one is looked at.
#[cfg_attr(not(feature = "etcd"), allow(dead_code))] // only stores shared through etcd
pub(crate) fn claim_node(
    store: &Store,
    clock: &SharedClock,
    name: &str,
    engine: &str,
    lease_duration: Duration,
    poll: Duration,
) -> Result<()> {
    let mut first_seen: Option<(String, Duration)> = None;
    loop {
        let cur = match store.get("Lease", Some(LEASE_NAMESPACE), name) {
            Ok(o) => o,
            Err(Error::NotFound { .. }) => {
                let lease = node_lease(name, Some(engine), lease_duration, clock.now());
                match store.create(Arc::new(lease)) {
                    Ok(_) => return Ok(()),
                    Err(Error::AlreadyExists { .. }) => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let lease = cur
            .downcast_ref::<Lease>()
            .expect("the store holds Leases as Lease");
        let owner = lease.metadata.annotations.get(ENGINE_ANNOTATION).cloned();
        if owner.as_deref() == Some(engine) {
            return Ok(());
        }
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        let now = clock.monotonic();
        let held_for =
            Duration::from_secs(lease.spec.lease_duration_seconds.unwrap_or(1).max(1) as u64);
        let stale_by_time = lease
            .spec
            .renew_time
            .is_none_or(|t| clock.now().saturating_duration_since(t) >= held_for);
        let (seen_rv, since) = first_seen.get_or_insert_with(|| (rv.clone(), now)).clone();
        if seen_rv != rv && owner.is_some() {
            return Err(Error::invalid(
                ObjectRef::new("Node", None, name),
                "metadata.name",
                format!(
                    "node {name} is run by another engine ({}), which renews its Lease \
                     {LEASE_NAMESPACE}/{name}: two engines never run one node; name this \
                     engine's node differently (steady run --node NAME)",
                    owner.as_deref().unwrap_or_default()
                ),
            ));
        }
        if owner.is_none() || stale_by_time || now.saturating_sub(since) >= held_for {
            let mut l = lease.clone();
            l.metadata
                .annotations
                .insert(ENGINE_ANNOTATION.to_string(), engine.to_string());
            l.spec.renew_time = Some(clock.now());
            match store.update(Arc::new(l)) {
                Ok(_) => {
                    if let Some(o) = owner {
                        log::warn!(
                            "node {name}: taken over from engine {o}, which stopped renewing it"
                        );
                    }
                    return Ok(());
                }
                Err(Error::Conflict { .. } | Error::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        std::thread::sleep(poll);
    }
}

/// Releases engine `engine`'s claim on node `name` (graceful shutdown), so the next engine
/// naming the node takes it at once. The Lease itself stays, not renewed: the node lifecycle
/// controller finds the node unreachable as for any stopped node.
#[cfg_attr(not(feature = "etcd"), allow(dead_code))] // only stores shared through etcd
pub(crate) fn release_node(store: &Store, name: &str, engine: &str) {
    for _ in 0..3 {
        let Ok(cur) = store.get("Lease", Some(LEASE_NAMESPACE), name) else {
            return;
        };
        let Some(lease) = cur.downcast_ref::<Lease>() else {
            return;
        };
        if lease
            .metadata
            .annotations
            .get(ENGINE_ANNOTATION)
            .map(String::as_str)
            != Some(engine)
        {
            return;
        }
        let mut l = lease.clone();
        l.metadata.annotations.remove(ENGINE_ANNOTATION);
        match store.update(Arc::new(l)) {
            Ok(_) => return,
            Err(Error::Conflict { .. }) => continue,
            Err(e) => {
                log::warn!("releasing node {name}: {e}");
                return;
            }
        }
    }
}
