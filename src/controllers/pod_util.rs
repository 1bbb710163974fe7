//! Pods as the workload controllers see them: predicates, pods from templates, and the order
//! in which a controller deletes pods when it scales down.
//!
//! - Predicates ([`is_active`], [`is_ready`], [`is_available`], phases) read a pod's status
//!   exactly as Kubernetes' controller helpers do; availability is measured on the engine
//!   clock passed in, so a manual clock drives `minReadySeconds` in tests.
//! - [`pod_from_template`] builds the pod a controller creates for an owner: the template's
//!   labels, annotations, finalizers and spec, a controller reference to the owner, and a
//!   `generateName` of `<owner>-` (the store appends five random characters).
//! - [`DeletionOrder`] ranks pods for scale-down as the ReplicaSet controller does (see its
//!   documentation for the exact order, `controller.kubernetes.io/pod-deletion-cost`
//!   included).

use crate::api::{
    LabelSelector, Object, ObjectMeta, Pod, PodTemplateSpec, Resource, Selector, Time,
};
use crate::runtime::owner::{is_controlled_by, owner_reference};
use crate::runtime::{ObjectKey, ReconcileError};
use crate::store::{ListParams, Store};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Annotation that orders pods for scale-down: lower cost goes first (an int32; absent or
/// unparsable counts as 0), as in Kubernetes.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// Phase `Pending`.
pub const PENDING: &str = "Pending";
/// Phase `Running`.
pub const RUNNING: &str = "Running";
/// Phase `Succeeded`.
pub const SUCCEEDED: &str = "Succeeded";
/// Phase `Failed`.
pub const FAILED: &str = "Failed";
/// Phase `Unknown`.
pub const UNKNOWN: &str = "Unknown";

/// Longest `generateName` prefix: a generated name (prefix + 5 characters) stays within a
/// 63-character label, as Kubernetes' name generator keeps it.
const MAX_GENERATE_NAME_PREFIX: usize = 58;

/// The pod selector of a workload (`kind` `key`), compiled: a terminal reconcile error naming
/// the field when it is invalid, or when it is empty (it would select every pod).
pub fn workload_selector(
    kind: &str,
    key: &ObjectKey,
    selector: &LabelSelector,
) -> Result<Selector, ReconcileError> {
    let compiled = selector.to_selector().map_err(|e| {
        ReconcileError::terminal(format!(
            "{kind} {key}: spec.selector.{}: {}",
            e.field, e.message
        ))
    })?;
    if compiled.is_everything() {
        return Err(ReconcileError::terminal(format!(
            "{kind} {key}: spec.selector: an empty selector would select every pod"
        )));
    }
    Ok(compiled)
}

/// The pod's `status.phase`, `""` when it has none yet.
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// True for a pod that ran to completion or failed (`Succeeded` or `Failed`).
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), SUCCEEDED | FAILED)
}

/// True for a pod that counts towards a controller's replicas: not terminal and not being
/// deleted (Kubernetes' `IsPodActive`).
pub fn is_active(pod: &Pod) -> bool {
    !is_terminal(pod) && pod.metadata.deletion_timestamp.is_none()
}

/// True when the pod's `Ready` condition is `True`.
pub fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == crate::api::conditions::TRUE)
}

fn ready_condition(pod: &Pod) -> Option<&crate::api::Condition> {
    pod.status
        .as_ref()
        .and_then(|s| crate::api::conditions::find_condition(&s.conditions, "Ready"))
}

/// When a ready pod became ready (its `Ready` condition's `lastTransitionTime`); `None` for a
/// pod that is not ready or does not say.
pub fn ready_since(pod: &Pod) -> Option<Time> {
    ready_condition(pod)
        .filter(|c| c.status == crate::api::conditions::TRUE)
        .and_then(|c| c.last_transition_time)
}

/// How long until a ready pod becomes available: zero when it already is (it has been ready
/// for at least `min_ready_seconds` at `now`), `None` when it is not ready, or when it never
/// will be because it does not say since when it is ready (with `min_ready_seconds` above 0,
/// as in Kubernetes).
///
/// Kubernetes requires strictly more than `minReadySeconds`; steady counts a pod available
/// once it has been ready for at least that long, so a manual clock advanced by exactly
/// `minReadySeconds` makes it available.
pub fn available_in(pod: &Pod, min_ready_seconds: i32, now: Time) -> Option<Duration> {
    let ready = ready_condition(pod).filter(|c| c.status == crate::api::conditions::TRUE)?;
    if min_ready_seconds <= 0 {
        return Some(Duration::ZERO);
    }
    let min_ready = Duration::from_secs(min_ready_seconds as u64);
    let since = ready.last_transition_time?;
    Some(min_ready.saturating_sub(now.saturating_duration_since(since)))
}

/// True when the pod has been ready for at least `min_ready_seconds` at `now`.
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Time) -> bool {
    available_in(pod, min_ready_seconds, now).is_some_and(|d| d.is_zero())
}

/// The pod's deletion cost ([`POD_DELETION_COST`]); 0 when absent or not an int32.
pub fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .get(POD_DELETION_COST)
        .and_then(|v| v.trim().parse::<i32>().ok())
        .unwrap_or(0)
}

/// The highest restart count among the pod's containers (0 without statuses).
pub fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .map(|s| {
            s.container_statuses
                .iter()
                .map(|c| c.restart_count)
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// The `generateName` of pods created for an owner named `owner_name`: `<owner_name>-`,
/// shortened so the generated name stays within 63 characters.
pub fn generate_name_prefix(owner_name: &str) -> String {
    let mut prefix = format!("{owner_name}-");
    if prefix.len() > MAX_GENERATE_NAME_PREFIX {
        let mut cut = MAX_GENERATE_NAME_PREFIX;
        while !prefix.is_char_boundary(cut) {
            cut -= 1;
        }
        prefix.truncate(cut);
    }
    prefix
}

/// The pod a controller creates from `template` for `owner` (read from the store, so it has
/// a uid): the template's labels, annotations and finalizers, its spec, the owner's namespace,
/// a controller reference to the owner (`controller` and `blockOwnerDeletion` true), and
/// `generateName: <owner>-`, from which the store makes the name `<owner>-<5 characters>`.
pub fn pod_from_template(template: &PodTemplateSpec, owner: &dyn Object) -> Pod {
    let tm = &template.metadata;
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name_prefix(&owner.meta().name)),
            namespace: owner.meta().namespace.clone(),
            labels: tm.labels.clone(),
            annotations: tm.annotations.clone(),
            finalizers: tm.finalizers.clone(),
            owner_references: vec![owner_reference(owner, true)],
            ..Default::default()
        },
        spec: template.spec.clone(),
        ..Default::default()
    }
}

/// The pods in `namespace` (all namespaces with `None`) whose controller reference names the
/// owner with uid `owner_uid`, in no particular order, from the store's owner index.
pub fn controlled_pods(
    store: &Store,
    namespace: Option<&str>,
    owner_uid: &str,
) -> crate::Result<Vec<Arc<Pod>>> {
    controlled::<Pod>(store, namespace, owner_uid)
}

/// The objects of kind `K` in `namespace` (all namespaces with `None`) whose controller
/// reference names the owner with uid `owner_uid`, in no particular order, from the store's
/// owner index.
pub fn controlled<K: Resource>(
    store: &Store,
    namespace: Option<&str>,
    owner_uid: &str,
) -> crate::Result<Vec<Arc<K>>> {
    let list = store.list_unordered(
        K::KIND,
        &ListParams {
            namespace: namespace.map(str::to_string),
            owner_uid: Some(owner_uid.to_string()),
            ..Default::default()
        },
    )?;
    Ok(list
        .items
        .into_iter()
        .filter(|o| is_controlled_by(o.meta(), owner_uid))
        .filter_map(|o| o.downcast_arc::<K>().ok())
        .collect())
}

/// Where a phase sorts for scale-down: `Pending` (and no phase) first, then `Unknown`, then
/// `Running` (Kubernetes' `podPhaseToOrdinal`; other phases count as `Pending`).
fn phase_ordinal(pod: &Pod) -> u8 {
    match phase(pod) {
        UNKNOWN => 1,
        RUNNING => 2,
        _ => 0,
    }
}

/// `a` sorts before `b` when it is zero (unset) or later: "newest first", unset first.
fn later_or_unset(a: Option<Time>, b: Option<Time>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => b.cmp(&a),
    }
}

/// The order in which a controller deletes its pods when it scales down: the pod that sorts
/// first goes first. As Kubernetes' ReplicaSet controller ranks them:
///
/// 1. unassigned (no `spec.nodeName`) before assigned;
/// 2. `Pending` (or no phase) before `Unknown` before `Running`;
/// 3. not ready before ready;
/// 4. lower [`POD_DELETION_COST`] before higher;
/// 5. more related active pods on the same node before fewer ("doubled up" first; related
///    pods are the controller's own and its siblings', e.g. every ReplicaSet of one
///    Deployment);
/// 6. of two ready pods, ready for the shorter time first (unknown ready time first);
/// 7. more container restarts before fewer;
/// 8. newer before older (unknown creation time first);
/// 9. then by name, so the order is deterministic.
///
/// Kubernetes compares ready and creation times in logarithmic buckets (feature
/// `LogarithmicScaleDown`) and breaks ties randomly by uid; steady compares them exactly.
#[derive(Clone, Debug, Default)]
pub struct DeletionOrder {
    on_node: HashMap<String, usize>,
}

impl DeletionOrder {
    /// An order that counts, per node, the active pods among `related`.
    pub fn new<'a>(related: impl IntoIterator<Item = &'a Pod>) -> Self {
        let mut on_node: HashMap<String, usize> = HashMap::new();
        for p in related {
            if is_active(p) {
                if let Some(n) = p.spec.node_name.as_deref() {
                    *on_node.entry(n.to_string()).or_default() += 1;
                }
            }
        }
        DeletionOrder { on_node }
    }

    /// Related active pods on the node of `pod` (0 when it is unassigned).
    pub fn colocated(&self, pod: &Pod) -> usize {
        pod.spec
            .node_name
            .as_deref()
            .and_then(|n| self.on_node.get(n).copied())
            .unwrap_or(0)
    }

    /// Where `pod` sorts: comparing two keys is comparing the pods.
    fn key<'p>(&self, pod: &'p Pod) -> RankKey<'p> {
        let ready = is_ready(pod);
        RankKey {
            assigned: pod.spec.node_name.as_deref().is_some_and(|n| !n.is_empty()),
            phase: phase_ordinal(pod),
            ready,
            cost: deletion_cost(pod),
            colocated: std::cmp::Reverse(self.colocated(pod)),
            ready_since: LaterFirst(if ready { ready_since(pod) } else { None }),
            restarts: std::cmp::Reverse(max_restarts(pod)),
            created: LaterFirst(pod.metadata.creation_timestamp),
            name: &pod.metadata.name,
        }
    }

    /// `Less` when `a` should be deleted before `b`.
    pub fn compare(&self, a: &Pod, b: &Pod) -> Ordering {
        self.key(a).cmp(&self.key(b))
    }

    /// Sorts `pods` so the first should be deleted first.
    pub fn sort(&self, pods: &mut [Arc<Pod>]) {
        let order = self.ranked(pods, pods.len());
        let sorted: Vec<Arc<Pod>> = order.into_iter().map(|i| pods[i].clone()).collect();
        pods.clone_from_slice(&sorted);
    }

    /// The `n` pods of `pods` to delete first, in order (all of them, unsorted, when `n` is
    /// at least their number: they all go).
    pub fn first(&self, pods: Vec<Arc<Pod>>, n: usize) -> Vec<Arc<Pod>> {
        if n >= pods.len() {
            return pods;
        }
        self.ranked(&pods, n)
            .into_iter()
            .map(|i| pods[i].clone())
            .collect()
    }

    /// Indexes of the `n` first pods in deletion order. Each pod's key is computed once
    /// (annotations parsed, conditions searched), and only the first `n` are fully sorted.
    fn ranked(&self, pods: &[Arc<Pod>], n: usize) -> Vec<usize> {
        let mut keyed: Vec<(RankKey<'_>, usize)> = pods
            .iter()
            .enumerate()
            .map(|(i, p)| (self.key(p), i))
            .collect();
        if n == 0 {
            return Vec::new();
        }
        if n < keyed.len() {
            keyed.select_nth_unstable(n - 1);
            keyed.truncate(n);
        }
        keyed.sort_unstable();
        keyed.into_iter().map(|(_, i)| i).collect()
    }
}

/// A time that sorts later-first, with "unknown" before any time (Kubernetes' `afterOrZero`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LaterFirst(Option<Time>);

impl Ord for LaterFirst {
    fn cmp(&self, other: &Self) -> Ordering {
        later_or_unset(self.0, other.0)
    }
}

impl PartialOrd for LaterFirst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The scale-down rank of a pod, field by field in the order of [`DeletionOrder`]: `false`
/// and smaller values sort first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RankKey<'p> {
    assigned: bool,
    phase: u8,
    ready: bool,
    cost: i32,
    colocated: std::cmp::Reverse<usize>,
    ready_since: LaterFirst,
    restarts: std::cmp::Reverse<i32>,
    created: LaterFirst,
    name: &'p str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Condition, ContainerStatus, PodStatus};

    fn t(secs: i64) -> Time {
        Time::from_unix_micros(1_700_000_000_000_000 + secs * 1_000_000)
    }

    fn pod(name: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = name.into();
        p.metadata.creation_timestamp = Some(t(0));
        p.spec.node_name = Some("n1".into());
        p.status = Some(Box::new(PodStatus {
            phase: Some(RUNNING.into()),
            ..Default::default()
        }));
        p
    }

    fn ready(mut p: Pod, since: i64) -> Pod {
        p.status.as_mut().unwrap().conditions.push(Condition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(t(since)),
            ..Default::default()
        });
        p
    }

    fn first_of(order: &DeletionOrder, a: &Pod, b: &Pod) -> String {
        match order.compare(a, b) {
            Ordering::Less => a.metadata.name.clone(),
            Ordering::Greater => b.metadata.name.clone(),
            Ordering::Equal => "tie".into(),
        }
    }

    #[test]
    fn active_excludes_terminal_and_deleting_pods() {
        let p = pod("a");
        assert!(is_active(&p));
        let mut done = pod("b");
        done.status.as_mut().unwrap().phase = Some(SUCCEEDED.into());
        assert!(!is_active(&done) && is_terminal(&done));
        let mut failed = pod("c");
        failed.status.as_mut().unwrap().phase = Some(FAILED.into());
        assert!(!is_active(&failed));
        let mut deleting = pod("d");
        deleting.metadata.deletion_timestamp = Some(t(1));
        assert!(!is_active(&deleting));
        assert!(is_active(&Pod::default()), "a pod without status is active");
    }

    #[test]
    fn availability_waits_for_min_ready_seconds_on_the_given_clock() {
        let p = ready(pod("a"), 10);
        assert!(is_ready(&p));
        assert!(is_available(&p, 0, t(10)));
        assert!(!is_available(&p, 5, t(14)));
        assert_eq!(available_in(&p, 5, t(12)), Some(Duration::from_secs(3)));
        assert!(
            is_available(&p, 5, t(15)),
            "ready for exactly minReadySeconds"
        );
        assert_eq!(available_in(&pod("b"), 5, t(100)), None, "not ready");
    }

    #[test]
    fn deletion_cost_parses_int32_and_defaults_to_zero() {
        let mut p = pod("a");
        assert_eq!(deletion_cost(&p), 0);
        p.metadata
            .annotations
            .insert(POD_DELETION_COST.into(), "-7".into());
        assert_eq!(deletion_cost(&p), -7);
        p.metadata
            .annotations
            .insert(POD_DELETION_COST.into(), "lots".into());
        assert_eq!(deletion_cost(&p), 0);
    }

    #[test]
    fn generate_name_prefix_is_bounded() {
        assert_eq!(generate_name_prefix("web-5d8f"), "web-5d8f-");
        let long = "x".repeat(80);
        assert_eq!(generate_name_prefix(&long).len(), MAX_GENERATE_NAME_PREFIX);
    }

    #[test]
    fn scale_down_order_follows_kubernetes() {
        let order = DeletionOrder::default();
        // 1. unassigned first
        let mut unassigned = pod("unassigned");
        unassigned.spec.node_name = None;
        assert_eq!(first_of(&order, &pod("x"), &unassigned), "unassigned");
        // 2. pending < unknown < running
        let mut pending = pod("pending");
        pending.status.as_mut().unwrap().phase = Some(PENDING.into());
        let mut unknown = pod("unknown");
        unknown.status.as_mut().unwrap().phase = Some(UNKNOWN.into());
        assert_eq!(first_of(&order, &unknown, &pending), "pending");
        assert_eq!(first_of(&order, &pod("running"), &unknown), "unknown");
        // 3. not ready first
        assert_eq!(
            first_of(&order, &ready(pod("ready"), 0), &pod("notready")),
            "notready"
        );
        // 4. lower deletion cost first, even over readiness time
        let mut cheap = ready(pod("cheap"), 0);
        cheap
            .metadata
            .annotations
            .insert(POD_DELETION_COST.into(), "-1".into());
        assert_eq!(first_of(&order, &ready(pod("new"), 50), &cheap), "cheap");
        // 6. ready for a shorter time first
        assert_eq!(
            first_of(&order, &ready(pod("old"), 1), &ready(pod("young"), 9)),
            "young"
        );
        // 7. more restarts first
        let mut crashy = pod("crashy");
        crashy.status.as_mut().unwrap().container_statuses = vec![ContainerStatus {
            restart_count: 3,
            ..Default::default()
        }];
        assert_eq!(first_of(&order, &pod("calm"), &crashy), "crashy");
        // 8. newer first
        let mut newer = pod("newer");
        newer.metadata.creation_timestamp = Some(t(5));
        assert_eq!(first_of(&order, &pod("older"), &newer), "newer");
    }

    #[test]
    fn doubled_up_pods_go_first() {
        let a = pod("a"); // on n1
        let mut b = pod("b");
        b.spec.node_name = Some("n2".into());
        let mut sibling = pod("s");
        sibling.spec.node_name = Some("n1".into());
        let order = DeletionOrder::new([&a, &b, &sibling]);
        assert_eq!(order.colocated(&a), 2);
        assert_eq!(first_of(&order, &b, &a), "a");
        let picked = order.first(vec![Arc::new(b.clone()), Arc::new(a.clone())], 1);
        assert_eq!(picked[0].metadata.name, "a");
    }

    #[test]
    fn a_pod_from_a_template_is_owned_and_generated() {
        let mut owner = crate::api::ReplicaSet::default();
        owner.metadata.name = "web-abc".into();
        owner.metadata.namespace = Some("team".into());
        owner.metadata.uid = Some("u-1".into());
        let mut tpl = PodTemplateSpec::default();
        tpl.metadata.labels.insert("app".into(), "web".into());
        tpl.metadata.annotations.insert("a".into(), "b".into());
        tpl.spec.containers.push(crate::api::Container {
            name: "c".into(),
            ..Default::default()
        });
        let p = pod_from_template(&tpl, &owner);
        assert_eq!(p.metadata.generate_name.as_deref(), Some("web-abc-"));
        assert!(p.metadata.name.is_empty());
        assert_eq!(p.metadata.namespace.as_deref(), Some("team"));
        assert_eq!(p.metadata.labels, tpl.metadata.labels);
        assert_eq!(p.metadata.annotations, tpl.metadata.annotations);
        let r = p.metadata.controller_ref().unwrap();
        assert_eq!((r.kind.as_str(), r.uid.as_str()), ("ReplicaSet", "u-1"));
        assert_eq!(r.block_owner_deletion, Some(true));
        assert_eq!(p.spec, tpl.spec);
    }
}
