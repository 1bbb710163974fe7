//! `DefaultPreemption`: the post-filter that makes room for a pod no node fits by evicting
//! pods of lower priority, as kube-scheduler's plugin of that name does.
//!
//! 1. **Eligibility.** A pod with `preemptionPolicy: Never` does not preempt
//!    (`not eligible due to preemptionPolicy=Never.`); nor does a pod whose nominated node
//!    still has a lower-priority pod terminating (its earlier preemption is under way).
//! 2. **Candidates.** Only nodes whose rejection was `Unschedulable` (not
//!    `UnschedulableAndUnresolvable`: taints, selectors, names) are tried. On each, every pod of
//!    lower priority is taken away; if the pod then passes the filters, victims are chosen by
//!    reprieving as many as possible, highest priority first (those whose eviction would
//!    break a PodDisruptionBudget first of all): each is put back and stays if the pod still
//!    fits. At most `max(10% of the nodes, 100)` candidates are collected.
//! 3. **Choice**, in kube-scheduler's order: fewest budget violations, then the lowest
//!    highest victim priority, the lowest sum of priorities, the fewest victims, the most
//!    recently started highest-priority victim.
//! 4. The result names the node (written to the pod's `status.nominatedNodeName`) and the
//!    victims; the scheduler's binder marks each victim with the condition
//!    `DisruptionTarget=True` (reason `PreemptionByScheduler`), records a `Preempted` event
//!    and deletes it gracefully. The pod waits in the unschedulable pool; once the victims
//!    are gone it is retried, and its nominated node is tried first.
//!
//! PodDisruptionBudgets are read (`spec.selector`, `status.disruptionsAllowed`,
//! `status.disruptedPods`) from the store's built-in `PodDisruptionBudget` kind, whose
//! status the disruption controller keeps (see [`pod_disruption_budgets`]). Preemption
//! does not charge a budget: like kube-scheduler it only prefers victims that do not break
//! one, and deletes (it does not evict) the victims it must take.
//!
//! Differences from kube-scheduler: the filters re-run on the node without its victims, but
//! the pre-filter's counts of InterPodAffinity and PodTopologySpread still include them, so
//! preemption makes room for resources, ports and the like, not for (anti-)affinity or
//! spreading; pods nominated to a node are not counted against other pods of lower
//! priority; the nominations of lower-priority pods to the chosen node are not cleared.

use crate::api::{LabelSelector, Pod, Selector};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{
    Code, CycleState, Diagnosis, FilterPlugin, Plugin, PodInfo, PostFilterPlugin, PostFilterResult,
    Status,
};
use crate::store::{ListParams, Store};
use std::collections::HashMap;
use std::sync::Arc;

/// The message of a pod that may not preempt.
pub const NOT_ELIGIBLE_NEVER: &str = "not eligible due to preemptionPolicy=Never.";
/// The message of a pod whose earlier preemption is still under way.
pub const NOT_ELIGIBLE_TERMINATING: &str =
    "not eligible due to a terminating pod on the nominated node.";
/// A node where removing pods would not help (it was rejected for a reason victims do not
/// change).
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
/// A node without pods of lower priority.
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
/// The condition the scheduler puts on its victims, and its reason.
pub const DISRUPTION_TARGET: &str = "DisruptionTarget";
/// The reason of [`DISRUPTION_TARGET`] on a pod preempted by the scheduler.
pub const PREEMPTION_BY_SCHEDULER: &str = "PreemptionByScheduler";

const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;
const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;

/// A PodDisruptionBudget as preemption reads it.
#[derive(Clone, Debug)]
pub struct Budget {
    /// Its namespace.
    pub namespace: String,
    /// `spec.selector`, compiled (an empty or missing selector matches no pod, as in
    /// kube-scheduler's preemption).
    pub selector: Option<Selector>,
    /// `status.disruptionsAllowed`.
    pub disruptions_allowed: i64,
    /// Names in `status.disruptedPods` (already being disrupted: not counted again).
    pub disrupted_pods: Vec<String>,
}

/// The seam to PodDisruptionBudgets: the budgets of the store's `PodDisruptionBudget` kind
/// (policy/v1 wire shape, read as JSON so that any implementation of the kind serves), or
/// none when the store does not serve that kind.
pub fn pod_disruption_budgets(store: &Store) -> Vec<Budget> {
    if store.registry().get("PodDisruptionBudget").is_none() {
        return Vec::new();
    }
    let Ok(list) = store.list("PodDisruptionBudget", &ListParams::default()) else {
        return Vec::new();
    };
    list.items
        .iter()
        .map(|o| {
            let v = o.to_value();
            let selector = serde_json::from_value::<LabelSelector>(v["spec"]["selector"].clone())
                .ok()
                .filter(|s| !s.match_labels.is_empty() || !s.match_expressions.is_empty())
                .and_then(|s| s.to_selector().ok());
            Budget {
                namespace: o.meta().namespace_str().to_string(),
                selector,
                disruptions_allowed: v["status"]["disruptionsAllowed"].as_i64().unwrap_or(0),
                disrupted_pods: v["status"]["disruptedPods"]
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// See the module docs.
pub struct DefaultPreemption {
    store: Option<Store>,
    filters: Vec<Arc<dyn FilterPlugin>>,
}

impl std::fmt::Debug for DefaultPreemption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultPreemption")
            .field("filters", &self.filters.len())
            .finish()
    }
}

impl DefaultPreemption {
    /// Preemption that decides fit with `filters` (the profile's filter plugins, in order)
    /// and reads PodDisruptionBudgets from `store`.
    pub fn new(store: Option<Store>, filters: Vec<Arc<dyn FilterPlugin>>) -> DefaultPreemption {
        DefaultPreemption { store, filters }
    }

    fn fits(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for f in &self.filters {
            let st = f.filter(state, pod, node);
            if !st.is_success() {
                return st;
            }
        }
        Status::success()
    }

    /// kube-scheduler's `SelectVictimsOnNode`: the victims on `node` and how many of them
    /// break a budget, or why none would do.
    fn select_victims(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
        budgets: &[Budget],
    ) -> Result<Candidate, Status> {
        let priority = pod.priority();
        // Most nodes of a full cluster hold no pod below the preemptor: no walk over them.
        if node.lowest_priority().is_none_or(|p| p >= priority) {
            return Err(Status::unresolvable(NO_VICTIMS));
        }
        let (mut lower, keep): (Vec<&Arc<PodInfo>>, Vec<&Arc<PodInfo>>) =
            node.pods().iter().partition(|p| p.priority() < priority);
        if lower.is_empty() {
            return Err(Status::unresolvable(NO_VICTIMS));
        }
        let mut trial = NodeInfo::new(node.node().clone());
        for p in &keep {
            trial.add_pod(Arc::clone(p));
        }
        let st = self.fits(state, pod, &trial);
        if !st.is_success() {
            return Err(st);
        }
        lower.sort_by(|a, b| more_important(a.pod(), b.pod()));
        let (violating, non_violating) = split_by_budgets(&lower, budgets);
        let mut victims = Vec::new();
        let mut violations = 0;
        for (group, counts) in [(violating, true), (non_violating, false)] {
            for p in group {
                trial.add_pod(Arc::clone(p));
                if !self.fits(state, pod, &trial).is_success() {
                    trial.remove_pod(p.key());
                    victims.push(Arc::clone(p));
                    violations += usize::from(counts);
                }
            }
        }
        Ok(Candidate {
            node: node.name().to_string(),
            victims,
            violations,
        })
    }
}

/// kube-scheduler's `MoreImportantPod` as an ordering: higher priority first, then the one
/// that started (else was created) earlier.
fn more_important(a: &Pod, b: &Pod) -> std::cmp::Ordering {
    let pa = a.spec.priority.unwrap_or(0);
    let pb = b.spec.priority.unwrap_or(0);
    pb.cmp(&pa).then_with(|| start_time(a).cmp(&start_time(b)))
}

fn start_time(p: &Pod) -> Option<crate::api::Time> {
    p.status
        .as_ref()
        .and_then(|s| s.start_time)
        .or(p.metadata.creation_timestamp)
}

/// kube-scheduler's `filterPodsWithPDBViolation`: the pods whose eviction would take a
/// budget below zero, and the others, each in the order given.
fn split_by_budgets<'a>(
    pods: &[&'a Arc<PodInfo>],
    budgets: &[Budget],
) -> (Vec<&'a Arc<PodInfo>>, Vec<&'a Arc<PodInfo>>) {
    let mut allowed: Vec<i64> = budgets.iter().map(|b| b.disruptions_allowed).collect();
    let (mut violating, mut fine) = (Vec::new(), Vec::new());
    for p in pods {
        let m = &p.pod().metadata;
        let mut violated = false;
        for (i, b) in budgets.iter().enumerate() {
            if b.namespace != m.namespace_str()
                || !b.selector.as_ref().is_some_and(|s| s.matches(&m.labels))
                || b.disrupted_pods.contains(&m.name)
            {
                continue;
            }
            allowed[i] -= 1;
            if allowed[i] < 0 {
                violated = true;
            }
        }
        if violated {
            violating.push(*p);
        } else {
            fine.push(*p);
        }
    }
    (violating, fine)
}

#[derive(Debug)]
struct Candidate {
    node: String,
    victims: Vec<Arc<PodInfo>>,
    violations: usize,
}

impl Candidate {
    fn highest(&self) -> i64 {
        self.victims
            .iter()
            .map(|v| i64::from(v.priority()))
            .max()
            .unwrap_or(i64::MIN)
    }

    /// kube-scheduler sums `priority + MaxInt32 + 1` so that negative priorities count.
    fn sum(&self) -> i64 {
        self.victims
            .iter()
            .map(|v| i64::from(v.priority()) + i64::from(i32::MAX) + 1)
            .sum()
    }

    /// The earliest start among the highest-priority victims.
    fn earliest_of_highest(&self) -> Option<crate::api::Time> {
        let h = self.highest();
        self.victims
            .iter()
            .filter(|v| i64::from(v.priority()) == h)
            .filter_map(|v| start_time(v.pod()))
            .min()
    }
}

/// kube-scheduler's `pickOneNodeForPreemption`.
fn pick(mut c: Vec<Candidate>) -> Option<Candidate> {
    if c.is_empty() {
        return None;
    }
    fn keep_min<K: Ord>(c: &mut Vec<Candidate>, key: impl Fn(&Candidate) -> K) {
        if let Some(best) = c.iter().map(&key).min() {
            c.retain(|x| key(x) == best);
        }
    }
    keep_min(&mut c, |x| x.violations);
    keep_min(&mut c, Candidate::highest);
    keep_min(&mut c, Candidate::sum);
    keep_min(&mut c, |x| x.victims.len());
    // The latest start of the highest-priority victims wins (its victims lose the least
    // work); Reverse turns the minimum into that maximum.
    keep_min(&mut c, |x| std::cmp::Reverse(x.earliest_of_highest()));
    c.into_iter().next()
}

impl Plugin for DefaultPreemption {
    fn name(&self) -> &str {
        "DefaultPreemption"
    }
}

impl PostFilterPlugin for DefaultPreemption {
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[NodeInfo],
        diagnosis: &Diagnosis,
    ) -> PostFilterResult {
        let reject = |message: String| PostFilterResult {
            status: Status::unschedulable(format!("preemption: {message}")),
            nominated_node: None,
            victims: Vec::new(),
        };
        let p = pod.pod();
        if p.spec.preemption_policy.as_deref() == Some(crate::api::scheduling::PREEMPT_NEVER) {
            return reject(NOT_ELIGIBLE_NEVER.to_string());
        }
        let nominated = p
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .filter(|n| !n.is_empty());
        if let Some(name) = nominated {
            let resolvable = !diagnosis.node_statuses.iter().any(|(i, st)| {
                nodes[*i].name() == name && st.code() == Code::UnschedulableAndUnresolvable
            });
            if resolvable {
                if let Some(n) = nodes.iter().find(|n| n.name() == name) {
                    let terminating = n.pods().iter().any(|v| {
                        v.priority() < pod.priority()
                            && v.pod().metadata.deletion_timestamp.is_some()
                    });
                    if terminating {
                        return reject(NOT_ELIGIBLE_TERMINATING.to_string());
                    }
                }
            }
        }
        // Nodes where removing pods could help, and the status of the others.
        let mut statuses: Vec<Status> = Vec::new();
        let mut potential: Vec<usize> = Vec::new();
        if diagnosis.pre_filter.is_some() {
            statuses.extend(nodes.iter().map(|_| Status::unresolvable(NOT_HELPFUL)));
        } else {
            for (i, st) in &diagnosis.node_statuses {
                if st.code() == Code::UnschedulableAndUnresolvable {
                    statuses.push(Status::unresolvable(NOT_HELPFUL));
                } else {
                    potential.push(*i);
                }
            }
        }
        let budgets = if potential.is_empty() {
            Vec::new()
        } else {
            self.store
                .as_ref()
                .map(pod_disruption_budgets)
                .unwrap_or_default()
        };
        let want =
            (nodes.len() * MIN_CANDIDATE_NODES_PERCENTAGE / 100).max(MIN_CANDIDATE_NODES_ABSOLUTE);
        let mut candidates = Vec::new();
        for &i in &potential {
            match self.select_victims(state, pod, &nodes[i], &budgets) {
                Ok(c) => {
                    candidates.push(c);
                    if candidates.len() >= want {
                        break;
                    }
                }
                Err(st) => statuses.push(st),
            }
        }
        let Some(best) = pick(candidates) else {
            // kube-scheduler's FitError over the preemption statuses.
            let mut counts: HashMap<String, usize> = HashMap::new();
            for st in &statuses {
                for r in st.reasons() {
                    *counts.entry(r.to_string()).or_insert(0) += 1;
                }
            }
            let mut parts: Vec<String> = counts.iter().map(|(r, c)| format!("{c} {r}")).collect();
            parts.sort();
            return reject(format!(
                "0/{} nodes are available: {}.",
                statuses.len(),
                parts.join(", ")
            ));
        };
        PostFilterResult {
            status: Status::success(),
            nominated_node: Some(best.node),
            victims: best.victims.iter().map(|v| v.pod().clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node_with, pod_obj};
    use crate::scheduler::plugins::{NodeResourcesFit, NodeUnschedulable};
    use serde_json::json;

    fn prio_pod(name: &str, cpu: &str, priority: i32, extra: serde_json::Value) -> Arc<PodInfo> {
        let mut v = json!({
            "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
            "spec": {"priority": priority, "containers": [{"name": "c",
                "resources": {"requests": {"cpu": cpu}}}]}
        });
        for (k, x) in extra.as_object().unwrap() {
            v["spec"][k] = x.clone();
        }
        Arc::new(pod_obj(v))
    }

    fn node(name: &str, cpu: &str, pods: Vec<Arc<PodInfo>>) -> NodeInfo {
        node_with(
            json!({"metadata": {"name": name},
                   "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}}}),
            pods,
        )
    }

    fn plugin() -> DefaultPreemption {
        DefaultPreemption::new(
            None,
            vec![
                Arc::new(NodeUnschedulable),
                Arc::new(NodeResourcesFit::default()),
            ],
        )
    }

    fn diagnose(pod: &PodInfo, nodes: &[NodeInfo]) -> Diagnosis {
        let pl = plugin();
        let cs = CycleState::new();
        Diagnosis {
            node_statuses: nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (i, pl.fits(&cs, pod, n)))
                .filter(|(_, st)| !st.is_success())
                .collect(),
            pre_filter: None,
        }
    }

    fn preempt(pod: &PodInfo, nodes: &[NodeInfo]) -> PostFilterResult {
        plugin().post_filter(&CycleState::new(), pod, nodes, &diagnose(pod, nodes))
    }

    fn names(r: &PostFilterResult) -> Vec<String> {
        let mut v: Vec<String> = r.victims.iter().map(|p| p.metadata.name.clone()).collect();
        v.sort();
        v
    }

    #[test]
    fn the_fewest_lowest_victims_are_chosen_and_the_rest_reprieved() {
        // Node a: pods of priority 1, 2, 3 (1 cpu each) on 3 cpus; the pod needs 2 cpus.
        // Removing the two lowest is enough; the priority-3 pod is reprieved.
        let a = node(
            "a",
            "3",
            vec![
                prio_pod("p1", "1", 1, json!({})),
                prio_pod("p2", "1", 2, json!({})),
                prio_pod("p3", "1", 3, json!({})),
            ],
        );
        // Node b: one pod of priority 5 on 2 cpus: fewer victims but a higher one.
        let b = node("b", "2", vec![prio_pod("q5", "2", 5, json!({}))]);
        let incoming = prio_pod("big", "2", 10, json!({}));
        let r = preempt(&incoming, &[a, b]);
        assert!(r.status.is_success(), "{:?}", r.status);
        assert_eq!(r.nominated_node.as_deref(), Some("a"));
        assert_eq!(names(&r), ["p1", "p2"]);
    }

    #[test]
    fn with_equal_highest_priority_the_node_with_fewer_victims_wins() {
        let a = node(
            "a",
            "2",
            vec![
                prio_pod("a1", "1", 1, json!({})),
                prio_pod("a2", "1", 1, json!({})),
            ],
        );
        let b = node("b", "2", vec![prio_pod("b1", "2", 1, json!({}))]);
        let r = preempt(&prio_pod("big", "2", 10, json!({})), &[a, b]);
        assert_eq!(r.nominated_node.as_deref(), Some("b"));
        assert_eq!(names(&r), ["b1"]);
    }

    #[test]
    fn pods_of_equal_or_higher_priority_are_never_victims() {
        let a = node("a", "2", vec![prio_pod("same", "2", 10, json!({}))]);
        let incoming = prio_pod("big", "2", 10, json!({}));
        let r = preempt(&incoming, &[a]);
        assert_eq!(
            r.status,
            Status::unschedulable(format!(
                "preemption: 0/1 nodes are available: 1 {NO_VICTIMS}."
            ))
        );
        assert!(r.victims.is_empty());
    }

    #[test]
    fn preemption_policy_never_does_not_preempt() {
        let a = node("a", "2", vec![prio_pod("low", "2", 0, json!({}))]);
        let incoming = prio_pod("big", "2", 10, json!({"preemptionPolicy": "Never"}));
        let r = preempt(&incoming, &[a]);
        assert_eq!(
            r.status,
            Status::unschedulable(format!("preemption: {NOT_ELIGIBLE_NEVER}"))
        );
        assert!(r.victims.is_empty() && r.nominated_node.is_none());
    }

    #[test]
    fn unresolvable_nodes_are_not_tried() {
        let cordoned = node_with(
            json!({"metadata": {"name": "c"}, "spec": {"unschedulable": true},
                   "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}}}),
            vec![prio_pod("low", "1", 0, json!({}))],
        );
        let r = preempt(&prio_pod("big", "2", 10, json!({})), &[cordoned]);
        assert_eq!(
            r.status,
            Status::unschedulable(format!(
                "preemption: 0/1 nodes are available: 1 {NOT_HELPFUL}."
            ))
        );
    }

    #[test]
    fn budgets_steer_victims_to_pods_they_do_not_protect() {
        let protected = prio_pod("guarded", "1", 1, json!({}));
        let free = prio_pod("free", "1", 1, json!({}));
        let budgets = vec![Budget {
            namespace: "default".into(),
            selector: Some(Selector::parse("app=guarded").unwrap()),
            disruptions_allowed: 0,
            disrupted_pods: vec![],
        }];
        let lower = vec![&protected, &free];
        let (violating, fine) = split_by_budgets(&lower, &budgets);
        assert_eq!(violating.len(), 1);
        assert_eq!(violating[0].pod().metadata.name, "guarded");
        assert_eq!(fine[0].pod().metadata.name, "free");
        // Needing one cpu of two: the guarded pod (tried first) is reprieved.
        let a = node("a", "2", vec![protected.clone(), free.clone()]);
        let c = plugin()
            .select_victims(
                &CycleState::new(),
                &prio_pod("mid", "1", 5, json!({})),
                &a,
                &budgets,
            )
            .unwrap();
        assert_eq!(c.victims.len(), 1);
        assert_eq!(c.victims[0].pod().metadata.name, "free");
        assert_eq!(c.violations, 0);
    }
}
