//! The DaemonSet controller: one pod on every eligible node, as Kubernetes' daemon set
//! controller keeps it.
//!
//! A node is **eligible** when the template's `nodeSelector` matches its labels and every
//! `NoSchedule`/`NoExecute` taint on it is tolerated ([`Toleration::tolerates`]) by the
//! template's tolerations plus those Kubernetes gives every daemon pod
//! ([`DAEMON_TOLERATIONS`]: not-ready, unreachable, disk/memory/pid pressure, unschedulable).
//! Node affinity is not evaluated (no matcher exists yet; only `nodeSelector` restricts).
//!
//! One reconcile, level-triggered from the store (any Node event queues every DaemonSet):
//! 1. claim the pods and sync the template history ([`revisions::sync`]); pods carry
//!    `controller-revision-hash` = the revision's hash;
//! 2. per node: an eligible node without an active pod gets one, bound directly with
//!    `spec.nodeName` (there is no scheduler in the path, as before Kubernetes 1.12); a
//!    `Failed` daemon pod is deleted (and replaced by the next reconcile); surplus pods on a
//!    node, pods on ineligible nodes and pods bound to nodes that no longer exist are deleted;
//! 3. `RollingUpdate` (the default): pods of an old revision are deleted node by node (in
//!    node name order) while fewer than `maxUnavailable` (default 1; a percentage of the
//!    desired count, rounded up) eligible nodes lack an available pod; old pods that are not
//!    available go first without counting. `OnDelete`: only deleted pods are replaced.
//! 4. `status`: desiredNumberScheduled, currentNumberScheduled, numberMisscheduled,
//!    numberReady, numberAvailable, numberUnavailable, updatedNumberScheduled,
//!    observedGeneration, collisionCount.
//!
//! Differences from Kubernetes: `maxSurge` is accepted but not used (old pods go before new
//! ones start); failed pods are replaced at once, without backoff.

use super::claim::ControllerRefManager;
use super::pods::{self, pod_from_template};
use super::revisions::{self, CONTROLLER_REVISION_HASH_LABEL};
use crate::api::{
    DaemonSet, DaemonSetStatus, IntOrString, Node, Pod, PodSpec, Resource, Time, Toleration,
};
use crate::error::Result;
use crate::runtime::events::EventKind;
use crate::runtime::{Action, Context, Controller, ObjectKey, ReconcileResult};
use crate::store::{DeleteParams, ListParams, Store};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// The controller's name (metrics, events).
pub const NAME: &str = "daemonset-controller";

/// DaemonSets reconciled at once.
const CONCURRENCY: usize = 2;

/// Taints every daemon pod tolerates, with their effects (Kubernetes adds these tolerations
/// to daemon pods).
pub const DAEMON_TOLERATIONS: &[(&str, &str)] = &[
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
];

/// The DaemonSet controller, ready to register on an engine. Node changes queue every
/// DaemonSet.
pub fn controller() -> Controller {
    Controller::for_kind::<DaemonSet>(NAME)
        .owns_kind::<Pod>()
        .watches_with_store(Node::KIND, |s, _node| all_daemon_sets(s))
        .concurrency(CONCURRENCY)
        .build(reconcile)
}

fn all_daemon_sets(store: &Store) -> Vec<ObjectKey> {
    store
        .list_unordered(DaemonSet::KIND, &ListParams::default())
        .map(|l| l.items.iter().map(|o| ObjectKey::of(o.as_ref())).collect())
        .unwrap_or_default()
}

/// The tolerations of a daemon pod: the template's and [`DAEMON_TOLERATIONS`] (those the
/// template does not already have).
pub fn daemon_tolerations(spec: &PodSpec) -> Vec<Toleration> {
    let mut all = spec.tolerations.clone();
    for (key, effect) in DAEMON_TOLERATIONS {
        let t = Toleration {
            key: Some(key.to_string()),
            operator: Some("Exists".into()),
            effect: Some(effect.to_string()),
            ..Default::default()
        };
        if !all.contains(&t) {
            all.push(t);
        }
    }
    all
}

/// True when a daemon pod of `spec` (tolerations as [`daemon_tolerations`] gives them) should
/// run on `node`: its `nodeSelector` matches and its `NoSchedule`/`NoExecute` taints are
/// tolerated.
pub fn should_run(node: &Node, spec: &PodSpec) -> bool {
    if node.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let labels = &node.metadata.labels;
    if !spec
        .node_selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    node.spec
        .taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|t| spec.tolerations.iter().any(|tol| tol.tolerates(t)))
}

/// One reconcile of the DaemonSet `ctx.key()` (see the module documentation).
pub fn reconcile(ctx: &Context) -> ReconcileResult {
    let Some(ds) = ctx.get::<DaemonSet>() else {
        return Ok(Action::done());
    };
    let selector = pods::workload_selector("DaemonSet", ctx.key(), &ds.spec.selector)?;
    let store = ctx.store();
    ControllerRefManager::new(store, ds.as_ref(), &selector).claim_all(|_: &Pod| true)?;
    let prev = ds.status.clone().unwrap_or_default();
    let history = revisions::sync(
        store,
        ds.as_ref(),
        &selector,
        &ds.spec.template,
        prev.collision_count.unwrap_or(0),
    )?;
    let mut template = ds.spec.template.clone();
    template.spec.tolerations = daemon_tolerations(&template.spec);
    let nodes: Vec<Arc<Node>> = ctx.api::<Node>().list(&ListParams::default())?.items;
    let d = Daemons {
        ctx,
        ds: &ds,
        template,
        hash: history.update_hash.clone(),
        min_ready: ds.spec.min_ready_seconds.unwrap_or(0),
    };
    if ds.metadata.deletion_timestamp.is_none() {
        let by_node = d.pods_by_node(&d.owned()?);
        d.manage(&nodes, &by_node)?;
        let by_node = d.pods_by_node(&d.owned()?);
        d.rolling_update(&nodes, &by_node)?;
    }
    let owned = d.owned()?;
    let (status, next) = d.status(
        &prev,
        &nodes,
        &d.pods_by_node(&owned),
        history.collision_count,
    );
    let hashes: HashSet<&str> = owned
        .iter()
        .filter_map(|p| p.metadata.labels.get(CONTROLLER_REVISION_HASH_LABEL))
        .map(String::as_str)
        .collect();
    let live: HashSet<String> = history
        .revisions
        .iter()
        .filter(|r| hashes.contains(revisions::hash_label(r).as_str()))
        .map(|r| r.metadata.name.clone())
        .collect();
    let limit = ds
        .spec
        .revision_history_limit
        .unwrap_or(revisions::DEFAULT_REVISION_HISTORY_LIMIT);
    revisions::truncate(store, &history, &live, limit)?;
    super::write_own_status(&ctx.api::<DaemonSet>(), &ds, |d| d.status = Some(status))?;
    Ok(next.map_or_else(Action::done, Action::requeue))
}

/// The state of one reconcile.
struct Daemons<'a> {
    ctx: &'a Context,
    ds: &'a Arc<DaemonSet>,
    /// The template with the daemon tolerations added.
    template: crate::api::PodTemplateSpec,
    hash: String,
    min_ready: i32,
}

impl Daemons<'_> {
    fn owned(&self) -> Result<Vec<Arc<Pod>>> {
        let m = &self.ds.metadata;
        pods::controlled_pods(
            self.ctx.store(),
            m.namespace.as_deref(),
            m.uid.as_deref().unwrap_or_default(),
        )
    }

    /// Pods not being deleted, by node name (`""` for unbound), oldest first.
    fn pods_by_node(&self, owned: &[Arc<Pod>]) -> BTreeMap<String, Vec<Arc<Pod>>> {
        let mut m: BTreeMap<String, Vec<Arc<Pod>>> = BTreeMap::new();
        for p in owned
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
        {
            let node = p.spec.node_name.clone().unwrap_or_default();
            m.entry(node).or_default().push(p.clone());
        }
        for v in m.values_mut() {
            v.sort_by(|a, b| {
                (a.metadata.creation_timestamp, &a.metadata.name)
                    .cmp(&(b.metadata.creation_timestamp, &b.metadata.name))
            });
        }
        m
    }

    fn updated(&self, pod: &Pod) -> bool {
        pod.metadata.labels.get(CONTROLLER_REVISION_HASH_LABEL) == Some(&self.hash)
    }

    /// Creates missing daemon pods and deletes failed, surplus and misplaced ones.
    fn manage(&self, nodes: &[Arc<Node>], by_node: &BTreeMap<String, Vec<Arc<Pod>>>) -> Result<()> {
        let mut first_error = None;
        let mut keep = |r: Result<()>| {
            if let Err(e) = r {
                first_error.get_or_insert(e);
            }
        };
        let known: HashSet<&str> = nodes.iter().map(|n| n.metadata.name.as_str()).collect();
        for node in nodes {
            let name = node.metadata.name.as_str();
            let here = by_node.get(name).map(Vec::as_slice).unwrap_or_default();
            if !should_run(node, &self.template.spec) {
                for p in here {
                    keep(self.delete(p, "not eligible"));
                }
                continue;
            }
            let mut active = 0;
            for p in here {
                if pods::phase(p) == pods::FAILED {
                    keep(self.delete(p, "failed"));
                } else if pods::is_active(p) {
                    active += 1;
                    if active > 1 {
                        keep(self.delete(p, "surplus"));
                    }
                }
            }
            if active == 0 {
                keep(self.create(name));
            }
        }
        for (node, here) in by_node {
            if !known.contains(node.as_str()) {
                for p in here {
                    keep(self.delete(p, "node gone"));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Deletes old-revision pods within the `maxUnavailable` budget.
    fn rolling_update(
        &self,
        nodes: &[Arc<Node>],
        by_node: &BTreeMap<String, Vec<Arc<Pod>>>,
    ) -> Result<()> {
        let strategy = self.ds.spec.update_strategy.as_ref();
        if strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete") {
            return Ok(());
        }
        let eligible: Vec<&Arc<Node>> = nodes
            .iter()
            .filter(|n| should_run(n, &self.template.spec))
            .collect();
        let one = IntOrString::Int(1);
        let max_unavailable = strategy
            .and_then(|s| s.rolling_update.as_ref())
            .and_then(|r| r.max_unavailable.as_ref())
            .unwrap_or(&one)
            .resolve(eligible.len() as i32, true)
            .map_err(|e| {
                crate::Error::invalid(
                    crate::error::ObjectRef::new(
                        DaemonSet::KIND,
                        self.ds.metadata.namespace.as_deref(),
                        &self.ds.metadata.name,
                    ),
                    "spec.updateStrategy.rollingUpdate.maxUnavailable",
                    e,
                )
            })?
            .max(1);
        let now = self.ctx.now();
        let available = |p: &Pod| pods::is_available(p, self.min_ready, now);
        let pod_on = |n: &Node| {
            by_node
                .get(&n.metadata.name)
                .and_then(|v| v.iter().find(|p| pods::is_active(p)))
        };
        let mut unavailable = eligible
            .iter()
            .filter(|n| !pod_on(n).is_some_and(|p| available(p)))
            .count() as i32;
        for n in &eligible {
            let Some(p) = pod_on(n) else { continue };
            if self.updated(p) {
                continue;
            }
            if !available(p) {
                self.delete(p, "old revision, unavailable")?;
            } else if unavailable < max_unavailable {
                self.delete(p, "old revision")?;
                unavailable += 1;
            }
        }
        Ok(())
    }

    fn create(&self, node: &str) -> Result<()> {
        let mut pod = pod_from_template(&self.template, self.ds.as_ref());
        pod.spec.node_name = Some(node.to_string());
        pod.metadata.labels.insert(
            CONTROLLER_REVISION_HASH_LABEL.to_string(),
            self.hash.clone(),
        );
        match self.ctx.api::<Pod>().create(pod) {
            Ok(p) => {
                self.ctx.event(
                    self.ds.as_ref(),
                    EventKind::Normal,
                    "SuccessfulCreate",
                    &format!("Created pod: {} on node {node}", p.metadata.name),
                );
                Ok(())
            }
            Err(e) => {
                self.ctx.event(
                    self.ds.as_ref(),
                    EventKind::Warning,
                    "FailedCreate",
                    &format!("Error creating: {e}"),
                );
                Err(e)
            }
        }
    }

    fn delete(&self, pod: &Pod, why: &str) -> Result<()> {
        let params = DeleteParams {
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        };
        match self.ctx.api::<Pod>().delete(&pod.metadata.name, &params) {
            Ok(_) => {}
            Err(e) if e.is_not_found() || e.is_conflict() => return Ok(()),
            Err(e) => return Err(e),
        }
        self.ctx.event(
            self.ds.as_ref(),
            EventKind::Normal,
            "SuccessfulDelete",
            &format!("Deleted pod: {} ({why})", pod.metadata.name),
        );
        Ok(())
    }

    /// The status, and how long until a ready pod becomes available.
    fn status(
        &self,
        prev: &DaemonSetStatus,
        nodes: &[Arc<Node>],
        by_node: &BTreeMap<String, Vec<Arc<Pod>>>,
        collision_count: i32,
    ) -> (DaemonSetStatus, Option<Duration>) {
        let now: Time = self.ctx.now();
        let (mut desired, mut current, mut mis, mut ready, mut available, mut updated) =
            (0, 0, 0, 0, 0, 0);
        let mut next: Option<Duration> = None;
        for n in nodes {
            let pod = by_node
                .get(&n.metadata.name)
                .and_then(|v| v.iter().find(|p| pods::is_active(p)));
            if !should_run(n, &self.template.spec) {
                mis += i32::from(pod.is_some());
                continue;
            }
            desired += 1;
            let Some(p) = pod else { continue };
            current += 1;
            updated += i32::from(self.updated(p));
            if let Some(wait) = pods::available_in(p, self.min_ready, now) {
                ready += 1;
                if wait.is_zero() {
                    available += 1;
                } else {
                    next = Some(next.map_or(wait, |d| d.min(wait)));
                }
            }
        }
        let status = DaemonSetStatus {
            current_number_scheduled: current,
            number_misscheduled: mis,
            desired_number_scheduled: desired,
            number_ready: ready,
            observed_generation: self.ds.metadata.generation,
            updated_number_scheduled: Some(updated),
            number_available: Some(available),
            number_unavailable: Some(desired - available),
            collision_count: Some(collision_count),
            conditions: prev.conditions.clone(),
            extra: prev.extra.clone(),
        };
        (status, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Taint;

    fn node(taints: Vec<Taint>) -> Node {
        let mut n = Node::default();
        n.metadata.name = "n".into();
        n.metadata.labels.insert("disk".into(), "ssd".into());
        n.spec.taints = taints;
        n
    }

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            effect: effect.into(),
            ..Default::default()
        }
    }

    #[test]
    fn eligibility_follows_the_node_selector_and_tolerated_taints() {
        let mut spec = PodSpec::default();
        spec.tolerations = daemon_tolerations(&spec);
        assert!(should_run(&node(vec![]), &spec));
        assert!(should_run(
            &node(vec![taint("x", "PreferNoSchedule")]),
            &spec
        ));
        assert!(!should_run(&node(vec![taint("x", "NoSchedule")]), &spec));
        assert!(should_run(
            &node(vec![taint("node.kubernetes.io/unreachable", "NoExecute")]),
            &spec
        ));
        spec.node_selector.insert("disk".into(), "hdd".into());
        assert!(!should_run(&node(vec![]), &spec));
        spec.node_selector.insert("disk".into(), "ssd".into());
        spec.tolerations.push(Toleration {
            key: Some("x".into()),
            operator: Some("Exists".into()),
            ..Default::default()
        });
        assert!(should_run(&node(vec![taint("x", "NoSchedule")]), &spec));
    }
}
