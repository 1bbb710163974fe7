//! The DaemonSet controller: one pod on every eligible node, as Kubernetes' daemon set
//! controller keeps it.
//!
//! A node is **eligible** ([`eligibility`]) when the template's `nodeName` (if any) is the
//! node's, its `nodeSelector` and required node affinity match the node
//! ([`RequiredNodeAffinity`]), and every `NoSchedule`/`NoExecute` taint on it is tolerated
//! ([`Toleration::tolerates`]) by the template's tolerations plus those Kubernetes gives every
//! daemon pod ([`DAEMON_TOLERATIONS`]: not-ready, unreachable, disk/memory/pid pressure,
//! unschedulable). A pod already on a node whose only untolerated taints are `NoSchedule`
//! keeps running there, as in Kubernetes; an untolerated `NoExecute` taint removes it.
//!
//! Daemon pods go **through the scheduler**, as since Kubernetes 1.12: a pod is created
//! without `spec.nodeName`, its required node affinity replaced by one term matching the
//! node's `metadata.name` ([`target_node`] reads it back), so the scheduler's filters
//! (resources, ports, ...) apply and a node that cannot take the pod leaves it `Pending` with
//! a `FailedScheduling` event. An engine built without a scheduler leaves daemon pods pending.
//!
//! One reconcile, level-triggered from the store (any Node event queues every DaemonSet):
//! 1. claim the pods and sync the template history ([`revisions::sync`]); pods carry
//!    `controller-revision-hash` = the revision's hash;
//! 2. per node: an eligible node without an active pod gets one; a `Failed` daemon pod is
//!    deleted (and replaced); surplus pods on a node (beyond the oldest; with `maxSurge`,
//!    beyond the oldest of each revision), pods on nodes they may no longer run on and pods
//!    bound to nodes that no longer exist are deleted;
//! 3. `RollingUpdate` (the default), with `maxSurge` 0 (the default): pods of an old
//!    revision are deleted node by node (in node name order) while fewer than
//!    `maxUnavailable` (default 1; a percentage of the desired count, rounded up) eligible
//!    nodes lack an available pod; old pods that are not available go first without counting.
//!    With `maxSurge` > 0 (then `maxUnavailable` must be 0, as admission checks): a new pod
//!    starts beside the old one on up to `maxSurge` nodes at once (rounded up from a
//!    percentage), on any node whose old pod is unavailable without counting, and the old pod
//!    is deleted once the new one is available: no node is ever without an available pod
//!    because of the update. `OnDelete`: only deleted pods are replaced.
//! 4. `status`: desiredNumberScheduled, currentNumberScheduled, numberMisscheduled,
//!    numberReady, numberAvailable, numberUnavailable, updatedNumberScheduled,
//!    observedGeneration, collisionCount (counting the oldest pod of each node).
//!
//! Differences from Kubernetes: failed pods are replaced at once, without backoff; with
//! `maxSurge`, an unavailable old pod on a node it may only continue on (a `NoSchedule`
//! taint added since) is left alone rather than replaced elsewhere.

use super::claim::ControllerRefManager;
use super::pod_util::{self, pod_from_template};
use super::revisions::{self, CONTROLLER_REVISION_HASH_LABEL};
use crate::api::node_affinity::RequiredNodeAffinity;
use crate::api::{
    DaemonSet, DaemonSetStatus, IntOrString, Node, NodeAffinity, NodeSelector,
    NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, Resource, Time, Toleration,
};
use crate::client::events::EventKind;
use crate::error::Result;
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

/// Where a daemon pod of `spec` (tolerations as [`daemon_tolerations`] gives them) stands
/// on `node`, as Kubernetes' `NodeShouldRunDaemonPod`: `(should_run, should_continue)`. A
/// pod should run when the template's `nodeName` (if set) is the node, its `nodeSelector`
/// and required node affinity match and every `NoSchedule`/`NoExecute` taint is tolerated; a
/// pod already there may continue unless one of those fails other than by an untolerated
/// `NoSchedule` taint.
pub fn eligibility(node: &Node, spec: &PodSpec) -> (bool, bool) {
    if node.metadata.deletion_timestamp.is_some() {
        return (false, false);
    }
    let name = node.metadata.name.as_str();
    if spec.node_name.as_deref().is_some_and(|n| n != name) {
        return (false, false);
    }
    if RequiredNodeAffinity::of(spec).is_some_and(|r| !r.matches(&node.metadata.labels, name)) {
        return (false, false);
    }
    let untolerated = |effect: &str| {
        node.spec
            .taints
            .iter()
            .filter(|t| t.effect == effect)
            .any(|t| !spec.tolerations.iter().any(|tol| tol.tolerates(t)))
    };
    if untolerated("NoExecute") {
        return (false, false);
    }
    (!untolerated("NoSchedule"), true)
}

/// True when a daemon pod of `spec` should run on `node` (see [`eligibility`]).
pub fn should_run(node: &Node, spec: &PodSpec) -> bool {
    eligibility(node, spec).0
}

/// The node a daemon pod is for, as Kubernetes' `GetTargetNodeName`: `spec.nodeName` once
/// bound, before that the one `metadata.name` value of an `In` field requirement of its
/// required node affinity (what the controller writes).
pub fn target_node(pod: &Pod) -> Option<&str> {
    if let Some(n) = pod.spec.node_name.as_deref() {
        return Some(n);
    }
    let terms = &pod
        .spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms
        .iter()
        .flat_map(|t| &t.match_fields)
        .find(|r| r.key == "metadata.name" && r.operator == "In")
        .filter(|r| r.values.len() == 1)
        .map(|r| r.values[0].as_str())
}

/// Pins a daemon pod to `node` through the scheduler, as Kubernetes'
/// `ReplaceDaemonSetPodNodeNameNodeAffinity`: the required node affinity becomes one term
/// matching the node's `metadata.name` (the template's own terms were checked by
/// [`eligibility`]); preferred terms and pod (anti-)affinity stay.
fn pin_to_node(spec: &mut PodSpec, node: &str) {
    let term = NodeSelectorTerm {
        match_fields: vec![NodeSelectorRequirement {
            key: "metadata.name".into(),
            operator: "In".into(),
            values: vec![node.to_string()],
            ..Default::default()
        }],
        ..Default::default()
    };
    let affinity = spec.affinity.get_or_insert_with(Box::default);
    let na = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    na.required_during_scheduling_ignored_during_execution
        .get_or_insert_with(NodeSelector::default)
        .node_selector_terms = vec![term];
}

/// One reconcile of the DaemonSet `ctx.key()` (see the module documentation).
pub fn reconcile(ctx: &Context) -> ReconcileResult {
    let Some(ds) = ctx.get::<DaemonSet>() else {
        return Ok(Action::done());
    };
    let selector = pod_util::workload_selector("DaemonSet", ctx.key(), &ds.spec.selector)?;
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
        let desired = nodes
            .iter()
            .filter(|n| should_run(n, &d.template.spec))
            .count();
        let budgets = d.budgets(desired)?;
        let surging = budgets.is_some_and(|(surge, _)| surge > 0);
        let by_node = d.pods_by_node(&d.owned()?);
        d.manage(&nodes, &by_node, surging)?;
        let by_node = d.pods_by_node(&d.owned()?);
        match budgets {
            None => {}
            Some((surge, _)) if surge > 0 => d.surge(&nodes, &by_node, surge)?,
            Some((_, unavailable)) => d.rolling_update(&nodes, &by_node, unavailable)?,
        }
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
        pod_util::controlled_pods(
            self.ctx.store(),
            m.namespace.as_deref(),
            m.uid.as_deref().unwrap_or_default(),
        )
    }

    /// Pods not being deleted, by the node they are for ([`target_node`]; `""` for none),
    /// oldest first.
    fn pods_by_node(&self, owned: &[Arc<Pod>]) -> BTreeMap<String, Vec<Arc<Pod>>> {
        let mut m: BTreeMap<String, Vec<Arc<Pod>>> = BTreeMap::new();
        for p in owned
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
        {
            let node = target_node(p).unwrap_or_default().to_string();
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

    /// `maxSurge` and `maxUnavailable` of a `RollingUpdate` resolved against `desired` nodes
    /// (both rounded up); `None` for `OnDelete`. With no surge, at least one unavailable.
    fn budgets(&self, desired: usize) -> Result<Option<(i32, i32)>> {
        let strategy = self.ds.spec.update_strategy.as_ref();
        if strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete") {
            return Ok(None);
        }
        let ru = strategy.and_then(|s| s.rolling_update.as_ref());
        let resolve = |v: Option<&IntOrString>, default: i32, field: &str| {
            v.unwrap_or(&IntOrString::Int(default))
                .resolve(desired as i32, true)
                .map_err(|e| {
                    crate::Error::invalid(
                        crate::error::ObjectRef::new(
                            DaemonSet::KIND,
                            self.ds.metadata.namespace.as_deref(),
                            &self.ds.metadata.name,
                        ),
                        format!("spec.updateStrategy.rollingUpdate.{field}"),
                        e,
                    )
                })
        };
        let surge = resolve(ru.and_then(|r| r.max_surge.as_ref()), 0, "maxSurge")?.max(0);
        let unavailable = resolve(
            ru.and_then(|r| r.max_unavailable.as_ref()),
            1,
            "maxUnavailable",
        )?;
        let unavailable = if surge == 0 {
            unavailable.max(1)
        } else {
            unavailable.max(0)
        };
        Ok(Some((surge, unavailable)))
    }

    /// Creates missing daemon pods and deletes failed, surplus and misplaced ones.
    fn manage(
        &self,
        nodes: &[Arc<Node>],
        by_node: &BTreeMap<String, Vec<Arc<Pod>>>,
        surging: bool,
    ) -> Result<()> {
        let mut first_error = None;
        let mut keep = |r: Result<()>| {
            if let Err(e) = r {
                first_error.get_or_insert(e);
            }
        };
        let known: HashSet<&str> = nodes.iter().map(|n| n.metadata.name.as_str()).collect();
        let now = self.ctx.now();
        for node in nodes {
            let name = node.metadata.name.as_str();
            let here = by_node.get(name).map(Vec::as_slice).unwrap_or_default();
            let (run, stay) = eligibility(node, &self.template.spec);
            if !stay {
                for p in here {
                    keep(self.delete(p, "not eligible"));
                }
                continue;
            }
            let mut active = Vec::new();
            for p in here {
                if pod_util::phase(p) == pod_util::FAILED {
                    keep(self.delete(p, "failed"));
                } else if pod_util::is_active(p) {
                    active.push(p);
                }
            }
            if active.is_empty() {
                if run {
                    keep(self.create(name));
                }
                continue;
            }
            if !surging {
                // The oldest stays; every other goes.
                for p in &active[1..] {
                    keep(self.delete(p, "surplus"));
                }
                continue;
            }
            // Surging, as Kubernetes: the oldest pod of each revision may stay side by side;
            // the old one goes once it is not ready or the new one is available.
            let (mut new, mut old) = (None, None);
            for p in active {
                let slot = if self.updated(p) { &mut new } else { &mut old };
                if slot.is_none() {
                    *slot = Some(p);
                } else {
                    keep(self.delete(p, "surplus"));
                }
            }
            if let (Some(new), Some(old)) = (new, old) {
                if !pod_util::is_ready(old) {
                    keep(self.delete(old, "old revision, not ready"));
                } else if pod_util::is_available(new, self.min_ready, now) {
                    keep(self.delete(old, "replaced by an available pod"));
                }
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
        max_unavailable: i32,
    ) -> Result<()> {
        let eligible: Vec<&Arc<Node>> = nodes
            .iter()
            .filter(|n| should_run(n, &self.template.spec))
            .collect();
        let now = self.ctx.now();
        let available = |p: &Pod| pod_util::is_available(p, self.min_ready, now);
        let pod_on = |n: &Node| {
            by_node
                .get(&n.metadata.name)
                .and_then(|v| v.iter().find(|p| pod_util::is_active(p)))
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

    /// Starts new-revision pods beside old ones within the `maxSurge` budget, as
    /// Kubernetes' surging rolling update: a node whose old pod is unavailable gets its new
    /// pod at once; nodes whose old pod is available get one while fewer than `max_surge`
    /// new pods are not available yet. The old pod goes once the new one is available (here,
    /// or in [`Daemons::manage`] if it was already), before any new pod is created.
    fn surge(
        &self,
        nodes: &[Arc<Node>],
        by_node: &BTreeMap<String, Vec<Arc<Pod>>>,
        max_surge: i32,
    ) -> Result<()> {
        let now = self.ctx.now();
        let available = |p: &Pod| pod_util::is_available(p, self.min_ready, now);
        let mut surging = 0;
        let mut create: Vec<&str> = Vec::new();
        let mut candidates: Vec<&str> = Vec::new();
        for node in nodes {
            let name = node.metadata.name.as_str();
            let Some(here) = by_node.get(name) else {
                continue;
            };
            let active: Vec<&Arc<Pod>> = here.iter().filter(|p| pod_util::is_active(p)).collect();
            let new: Vec<&&Arc<Pod>> = active.iter().filter(|p| self.updated(p)).collect();
            let old: Vec<&&Arc<Pod>> = active.iter().filter(|p| !self.updated(p)).collect();
            match (new.as_slice(), old.as_slice()) {
                (_, []) => {}
                ([], [old]) if !available(old) => {
                    // Replaced without counting, where a new pod may go.
                    if should_run(node, &self.template.spec) {
                        create.push(name);
                    }
                }
                ([], [_]) => {
                    if should_run(node, &self.template.spec) {
                        candidates.push(name);
                    }
                }
                ([new], [_]) if !available(new) => surging += 1,
                // The new pod became available since manage() looked: its old pod goes now,
                // before any new pod starts elsewhere (else, not counted as surging, it would
                // let one more start than maxSurge allows).
                ([_], [old]) => self.delete(old, "replaced by an available pod")?,
                // More than one of a revision: manage() trims it; it counts as surging.
                _ => surging += 1,
            }
        }
        let room = (max_surge - surging).clamp(0, candidates.len() as i32) as usize;
        create.extend_from_slice(&candidates[..room]);
        for name in create {
            self.create(name)?;
        }
        Ok(())
    }

    fn create(&self, node: &str) -> Result<()> {
        let mut pod = pod_from_template(&self.template, self.ds.as_ref());
        pin_to_node(&mut pod.spec, node);
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
                .and_then(|v| v.iter().find(|p| pod_util::is_active(p)));
            if !should_run(n, &self.template.spec) {
                mis += i32::from(pod.is_some());
                continue;
            }
            desired += 1;
            let Some(p) = pod else { continue };
            current += 1;
            updated += i32::from(self.updated(p));
            if let Some(wait) = pod_util::available_in(p, self.min_ready, now) {
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

    #[test]
    fn a_node_no_longer_tolerated_keeps_its_pod_unless_the_taint_is_no_execute() {
        let mut spec = PodSpec::default();
        spec.tolerations = daemon_tolerations(&spec);
        assert_eq!(eligibility(&node(vec![]), &spec), (true, true));
        assert_eq!(
            eligibility(&node(vec![taint("x", "NoSchedule")]), &spec),
            (false, true)
        );
        assert_eq!(
            eligibility(&node(vec![taint("x", "NoExecute")]), &spec),
            (false, false)
        );
        spec.node_name = Some("other".into());
        assert_eq!(eligibility(&node(vec![]), &spec), (false, false));
    }

    #[test]
    fn required_node_affinity_chooses_the_nodes() {
        let spec: PodSpec = serde_json::from_value(serde_json::json!({
            "containers": [],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "disk", "operator": "In", "values": ["nvme"]}]}]}}}
        }))
        .unwrap();
        let mut n = node(vec![]);
        assert!(!should_run(&n, &spec));
        n.metadata.labels.insert("disk".into(), "nvme".into());
        assert!(should_run(&n, &spec));
    }

    #[test]
    fn a_pinned_pod_names_its_node_and_keeps_its_preferences() {
        let mut pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [], "affinity": {"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}]},
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1,
                    "preference": {"matchExpressions": [{"key": "z", "operator": "Exists"}]}}]}}}
        }))
        .unwrap();
        assert_eq!(target_node(&pod), None);
        pin_to_node(&mut pod.spec, "n-7");
        assert_eq!(target_node(&pod), Some("n-7"));
        let na = pod
            .spec
            .affinity
            .as_ref()
            .unwrap()
            .node_affinity
            .as_ref()
            .unwrap();
        let terms = &na
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .unwrap()
            .node_selector_terms;
        assert_eq!(terms.len(), 1);
        assert!(terms[0].match_expressions.is_empty());
        assert_eq!(
            na.preferred_during_scheduling_ignored_during_execution
                .len(),
            1
        );
        pod.spec.node_name = Some("n-8".into());
        assert_eq!(target_node(&pod), Some("n-8"));
    }
}
