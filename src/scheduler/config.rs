//! [`SchedulerConfig`]: the scheduler's settings and its plugins per extension point
//! (kube-scheduler's `KubeSchedulerConfiguration` profile, in Rust).

use super::framework::{
    BindPlugin, FilterPlugin, PostFilterPlugin, PreFilterPlugin, PreScorePlugin, QueueSortPlugin,
    ReservePlugin, ScorePlugin,
};
use super::plugins::{
    BalancedAllocation, DefaultBinder, DefaultPreemption, InterPodAffinity, NodeAffinity, NodeName,
    NodePorts, NodeResourcesFit, NodeUnschedulable, PodTopologySpread, PrioritySort,
    ScoringStrategy, TaintToleration,
};
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

/// The name pods use to ask for this scheduler (`spec.schedulerName`); pods that leave it
/// empty get it too.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// The scheduler's settings and plugins. `SchedulerConfig::default()` is kube-scheduler's
/// default profile: every default plugin at its default weight.
///
/// ```
/// use std::sync::Arc;
/// use steady::scheduler::{
///     CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, SchedulerConfig, ScoringStrategy,
///     Status,
/// };
///
/// /// Keeps pods off nodes labelled `maintenance`.
/// struct NoMaintenance;
/// impl Plugin for NoMaintenance {
///     fn name(&self) -> &str { "NoMaintenance" }
/// }
/// impl FilterPlugin for NoMaintenance {
///     fn filter(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
///         if node.labels().contains_key("maintenance") {
///             Status::unresolvable("node(s) were under maintenance")
///         } else {
///             Status::success()
///         }
///     }
/// }
///
/// let config = SchedulerConfig::default()
///     .scoring_strategy(ScoringStrategy::MostAllocated) // bin packing
///     .filter(Arc::new(NoMaintenance))
///     .disable("NodePorts");
/// ```
#[derive(Clone)]
pub struct SchedulerConfig {
    /// The `spec.schedulerName` this scheduler serves (default `default-scheduler`).
    pub scheduler_name: String,
    /// Percentage of nodes to find feasible before scoring; 0 (the default) is adaptive:
    /// `max(5, 50 - nodes/125)` percent, and never fewer than 100 nodes.
    pub percentage_of_nodes_to_score: u32,
    /// How NodeResourcesFit scores (default LeastAllocated: spread).
    pub scoring_strategy: ScoringStrategy,
    /// Backoff after a pod's first failed attempt (default 1 s); doubles per attempt.
    pub pod_initial_backoff: Duration,
    /// Longest backoff (default 10 s).
    pub pod_max_backoff: Duration,
    /// Longest a pod waits in the unschedulable pool without a cluster change before it is
    /// retried anyway (default 5 min).
    pub max_unschedulable_duration: Duration,
    /// Threads writing bindings, status and events (default 1).
    pub bind_workers: usize,
    /// Seed of the random choice among equally scored nodes (default: random per start).
    pub seed: Option<u64>,
    /// Events waiting to be written before new ones are dropped (default 10,000). Events
    /// are written after bindings, so under load they lag; none is ever a reason to delay
    /// a binding.
    pub event_queue: usize,
    disabled: Vec<String>,
    weights: Vec<(String, i64)>,
    queue_sort: Option<Arc<dyn QueueSortPlugin>>,
    pre_filter: Vec<Arc<dyn PreFilterPlugin>>,
    filter: Vec<Arc<dyn FilterPlugin>>,
    post_filter: Vec<Arc<dyn PostFilterPlugin>>,
    pre_score: Vec<Arc<dyn PreScorePlugin>>,
    score: Vec<(Arc<dyn ScorePlugin>, i64)>,
    reserve: Vec<Arc<dyn ReservePlugin>>,
    bind: Vec<Arc<dyn BindPlugin>>,
}

impl std::fmt::Debug for SchedulerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |v: Vec<&str>| v.join(",");
        let fw = self.framework();
        f.debug_struct("SchedulerConfig")
            .field("scheduler_name", &self.scheduler_name)
            .field(
                "percentage_of_nodes_to_score",
                &self.percentage_of_nodes_to_score,
            )
            .field("scoring_strategy", &self.scoring_strategy)
            .field("queue_sort", &fw.queue_sort.name())
            .field(
                "filter",
                &names(fw.filter.iter().map(|p| p.name()).collect()),
            )
            .field(
                "score",
                &fw.score
                    .iter()
                    .map(|(p, w)| format!("{}={w}", p.name()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            scheduler_name: DEFAULT_SCHEDULER_NAME.to_string(),
            percentage_of_nodes_to_score: 0,
            scoring_strategy: ScoringStrategy::LeastAllocated,
            pod_initial_backoff: Duration::from_secs(1),
            pod_max_backoff: Duration::from_secs(10),
            max_unschedulable_duration: Duration::from_secs(300),
            bind_workers: 1,
            seed: None,
            event_queue: 10_000,
            disabled: Vec::new(),
            weights: Vec::new(),
            queue_sort: None,
            pre_filter: Vec::new(),
            filter: Vec::new(),
            post_filter: Vec::new(),
            pre_score: Vec::new(),
            score: Vec::new(),
            reserve: Vec::new(),
            bind: Vec::new(),
        }
    }
}

/// Every plugin of every extension point, in the order they run.
pub(crate) struct Plugins {
    pub(crate) queue_sort: Arc<dyn QueueSortPlugin>,
    pub(crate) pre_filter: Vec<Arc<dyn PreFilterPlugin>>,
    pub(crate) filter: Vec<Arc<dyn FilterPlugin>>,
    pub(crate) post_filter: Vec<Arc<dyn PostFilterPlugin>>,
    pub(crate) pre_score: Vec<Arc<dyn PreScorePlugin>>,
    pub(crate) score: Vec<(Arc<dyn ScorePlugin>, i64)>,
    pub(crate) reserve: Vec<Arc<dyn ReservePlugin>>,
    pub(crate) bind: Vec<Arc<dyn BindPlugin>>,
}

/// Adds `user` plugins after `defaults`; a user plugin named like a default replaces it in
/// place.
fn merge<T: ?Sized + super::framework::Plugin>(
    mut defaults: Vec<Arc<T>>,
    user: &[Arc<T>],
) -> Vec<Arc<T>> {
    for p in user {
        match defaults.iter().position(|d| d.name() == p.name()) {
            Some(i) => defaults[i] = p.clone(),
            None => defaults.push(p.clone()),
        }
    }
    defaults
}

impl SchedulerConfig {
    /// Sets the `spec.schedulerName` served.
    pub fn scheduler_name(mut self, name: &str) -> Self {
        self.scheduler_name = name.to_string();
        self
    }

    /// Sets percentageOfNodesToScore (0: adaptive; 100: every node).
    pub fn percentage_of_nodes_to_score(mut self, pct: u32) -> Self {
        self.percentage_of_nodes_to_score = pct.min(100);
        self
    }

    /// Sets NodeResourcesFit's scoring strategy.
    pub fn scoring_strategy(mut self, s: ScoringStrategy) -> Self {
        self.scoring_strategy = s;
        self
    }

    /// Sets the initial and the longest backoff.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.pod_initial_backoff = initial;
        self.pod_max_backoff = max.max(initial);
        self
    }

    /// Sets the number of binder threads (at least 1).
    pub fn bind_workers(mut self, n: usize) -> Self {
        self.bind_workers = n.max(1);
        self
    }

    /// Makes the choice among equally scored nodes repeatable.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Removes the plugin of this name (default or user's) from every extension point.
    /// The queue-sort plugin cannot be removed, only replaced ([`queue_sort`](Self::queue_sort)).
    pub fn disable(mut self, name: &str) -> Self {
        self.disabled.push(name.to_string());
        self
    }

    /// Sets the score weight of the plugin of this name (default or user's).
    pub fn score_weight(mut self, name: &str, weight: i64) -> Self {
        self.weights.push((name.to_string(), weight));
        self
    }

    /// Replaces the queue-sort plugin.
    pub fn queue_sort(mut self, p: Arc<dyn QueueSortPlugin>) -> Self {
        self.queue_sort = Some(p);
        self
    }

    /// Adds a pre-filter plugin (after the defaults).
    pub fn pre_filter(mut self, p: Arc<dyn PreFilterPlugin>) -> Self {
        self.pre_filter.push(p);
        self
    }

    /// Adds a filter plugin (after the defaults).
    pub fn filter(mut self, p: Arc<dyn FilterPlugin>) -> Self {
        self.filter.push(p);
        self
    }

    /// Adds a post-filter plugin.
    pub fn post_filter(mut self, p: Arc<dyn PostFilterPlugin>) -> Self {
        self.post_filter.push(p);
        self
    }

    /// Adds a pre-score plugin (after the defaults).
    pub fn pre_score(mut self, p: Arc<dyn PreScorePlugin>) -> Self {
        self.pre_score.push(p);
        self
    }

    /// Adds a score plugin with its weight (after the defaults).
    pub fn score(mut self, p: Arc<dyn ScorePlugin>, weight: i64) -> Self {
        self.score.push((p, weight));
        self
    }

    /// Adds a reserve plugin.
    pub fn reserve(mut self, p: Arc<dyn ReservePlugin>) -> Self {
        self.reserve.push(p);
        self
    }

    /// Adds a bind plugin, asked before the default binder.
    pub fn bind(mut self, p: Arc<dyn BindPlugin>) -> Self {
        self.bind.push(p);
        self
    }

    /// The plugins of every extension point: defaults, then the user's, less the disabled;
    /// without a store to read Namespaces from (see [`framework_for`](Self::framework_for)).
    pub(crate) fn framework(&self) -> Plugins {
        self.framework_for(None)
    }

    /// The plugins, the default ones that read the store (InterPodAffinity's namespace
    /// selectors) reading `store`.
    pub(crate) fn framework_for(&self, store: Option<&Store>) -> Plugins {
        let fit = Arc::new(NodeResourcesFit::new(self.scoring_strategy));
        let affinity = Arc::new(NodeAffinity);
        let taints = Arc::new(TaintToleration);
        let spread = Arc::new(PodTopologySpread);
        let ports = Arc::new(NodePorts);
        let node_name = Arc::new(NodeName);
        let balanced = Arc::new(BalancedAllocation);
        let inter_pod = Arc::new(InterPodAffinity::new(store.cloned()));

        let pre_filter: Vec<Arc<dyn PreFilterPlugin>> = vec![
            node_name.clone(),
            affinity.clone(),
            ports.clone(),
            spread.clone(),
            inter_pod.clone(),
        ];
        let filter: Vec<Arc<dyn FilterPlugin>> = vec![
            Arc::new(NodeUnschedulable),
            node_name,
            taints.clone(),
            affinity.clone(),
            ports,
            fit.clone(),
            spread.clone(),
            inter_pod.clone(),
        ];
        let pre_score: Vec<Arc<dyn PreScorePlugin>> = vec![
            taints.clone(),
            affinity.clone(),
            spread.clone(),
            inter_pod.clone(),
            balanced.clone(),
        ];
        let mut score: Vec<(Arc<dyn ScorePlugin>, i64)> = vec![
            (taints, 3),
            (affinity, 2),
            (fit, 1),
            (spread, 2),
            (inter_pod, 2),
            (balanced, 1),
        ];
        for (p, w) in &self.score {
            match score.iter().position(|(d, _)| d.name() == p.name()) {
                Some(i) => score[i] = (p.clone(), *w),
                None => score.push((p.clone(), *w)),
            }
        }
        for (name, w) in &self.weights {
            for s in score.iter_mut().filter(|(p, _)| p.name() == name) {
                s.1 = *w;
            }
        }
        let mut bind = self.bind.clone();
        bind.push(Arc::new(DefaultBinder));
        let on = |name: &str| !self.disabled.iter().any(|d| d == name);
        let mut fw = Plugins {
            queue_sort: self
                .queue_sort
                .clone()
                .unwrap_or_else(|| Arc::new(PrioritySort)),
            pre_filter: merge(pre_filter, &self.pre_filter),
            filter: merge(filter, &self.filter),
            post_filter: self.post_filter.clone(),
            pre_score: merge(pre_score, &self.pre_score),
            score,
            reserve: self.reserve.clone(),
            bind,
        };
        fw.pre_filter.retain(|p| on(p.name()));
        fw.filter.retain(|p| on(p.name()));
        fw.post_filter.retain(|p| on(p.name()));
        fw.pre_score.retain(|p| on(p.name()));
        fw.score.retain(|(p, w)| on(p.name()) && *w != 0);
        fw.reserve.retain(|p| on(p.name()));
        fw.bind.retain(|p| on(p.name()));
        // Preemption decides fit with the profile's own filters, so it is made last.
        if on("DefaultPreemption")
            && !fw
                .post_filter
                .iter()
                .any(|p| p.name() == "DefaultPreemption")
        {
            fw.post_filter.insert(
                0,
                Arc::new(DefaultPreemption::new(store.cloned(), fw.filter.clone())),
            );
        }
        fw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<T: ?Sized + super::super::framework::Plugin>(v: &[Arc<T>]) -> Vec<String> {
        v.iter().map(|p| p.name().to_string()).collect()
    }

    #[test]
    fn the_default_profile_has_kubernetes_plugins_and_weights() {
        let fw = SchedulerConfig::default().framework();
        assert_eq!(fw.queue_sort.name(), "PrioritySort");
        assert_eq!(
            names(&fw.filter),
            [
                "NodeUnschedulable",
                "NodeName",
                "TaintToleration",
                "NodeAffinity",
                "NodePorts",
                "NodeResourcesFit",
                "PodTopologySpread",
                "InterPodAffinity"
            ]
        );
        let weights: Vec<(String, i64)> = fw
            .score
            .iter()
            .map(|(p, w)| (p.name().to_string(), *w))
            .collect();
        assert_eq!(
            weights,
            [
                ("TaintToleration".to_string(), 3),
                ("NodeAffinity".to_string(), 2),
                ("NodeResourcesFit".to_string(), 1),
                ("PodTopologySpread".to_string(), 2),
                ("InterPodAffinity".to_string(), 2),
                ("NodeResourcesBalancedAllocation".to_string(), 1)
            ]
        );
        assert_eq!(names(&fw.bind), ["DefaultBinder"]);
        assert_eq!(names(&fw.post_filter), ["DefaultPreemption"]);
    }

    #[test]
    fn disabling_removes_a_plugin_everywhere_and_weights_can_change() {
        let fw = SchedulerConfig::default()
            .disable("NodeAffinity")
            .score_weight("NodeResourcesFit", 5)
            .framework();
        assert!(!names(&fw.filter).contains(&"NodeAffinity".to_string()));
        assert!(!names(&fw.pre_filter).contains(&"NodeAffinity".to_string()));
        assert!(fw
            .score
            .iter()
            .any(|(p, w)| p.name() == "NodeResourcesFit" && *w == 5));
    }
}
