//! Plugins written by the user, registered on the SchedulerConfig, at each extension point.

mod scheduler_support;

use parking_lot::Mutex;
use scheduler_support::*;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use steady::api::Pod;
use steady::scheduler::{
    BindContext, BindOutcome, BindPlugin, CycleState, Diagnosis, FilterPlugin, NodeInfo, Plugin,
    PodInfo, PostFilterPlugin, PostFilterResult, QueueSortPlugin, QueuedPodInfo, ReservePlugin,
    SchedulerConfig, ScorePlugin, Status,
};

/// Keeps pods on nodes of the gold pool.
struct GoldPoolOnly;

impl Plugin for GoldPoolOnly {
    fn name(&self) -> &str {
        "GoldPoolOnly"
    }
}

impl FilterPlugin for GoldPoolOnly {
    fn filter(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        if node.labels().get("pool").map(String::as_str) == Some("gold") {
            Status::success()
        } else {
            Status::unresolvable("node(s) were not in the gold pool")
        }
    }
}

#[test]
fn a_user_filter_keeps_pods_off_the_nodes_it_rejects() {
    let (e, _) = engine(SchedulerConfig::default().filter(Arc::new(GoldPoolOnly)));
    add_node(
        &e,
        node(
            "big-silver",
            "32",
            "64Gi",
            json!({"metadata": {"labels": {"pool": "silver"}}}),
        ),
    );
    add_node(
        &e,
        node(
            "small-gold",
            "1",
            "1Gi",
            json!({"metadata": {"labels": {"pool": "gold"}}}),
        ),
    );
    add_node(&e, node("big-unlabelled", "32", "64Gi", json!({})));
    for i in 0..3 {
        create_pod(&e, pod(&format!("p{i}"), "300m", json!({})));
        assert_eq!(wait_bound(&e, &format!("p{i}")), "small-gold");
    }
    create_pod(&e, pod("p3", "300m", json!({})));
    wait_unschedulable(
        &e,
        "p3",
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were not in the gold pool. \
         preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.",
    );
}

/// Scores one named node 100 and the rest 0.
struct Prefer(&'static str);

impl Plugin for Prefer {
    fn name(&self) -> &str {
        "Prefer"
    }
}

impl ScorePlugin for Prefer {
    fn score(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        Ok(if node.name() == self.0 { 100 } else { 0 })
    }
}

#[test]
fn a_user_score_with_weight_decides_between_feasible_nodes() {
    let (e, _) = engine(SchedulerConfig::default().score(Arc::new(Prefer("crowded")), 10));
    add_node(&e, node("empty", "8", "8Gi", json!({})));
    add_node(&e, node("crowded", "8", "8Gi", json!({})));
    for i in 0..4 {
        create_pod(&e, pod(&format!("p{i}"), "1", json!({})));
        assert_eq!(wait_bound(&e, &format!("p{i}")), "crowded");
    }
}

/// Serves the lowest priority first: the queue order is the user's too.
struct LowestFirst;

impl Plugin for LowestFirst {
    fn name(&self) -> &str {
        "LowestFirst"
    }
}

impl QueueSortPlugin for LowestFirst {
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool {
        (a.pod.priority(), a.arrival) < (b.pod.priority(), b.arrival)
    }
}

#[test]
fn a_user_queue_sort_replaces_priority_order() {
    let (e, clock) = engine(SchedulerConfig::default().queue_sort(Arc::new(LowestFirst)));
    for (name, priority) in [("high", 1000), ("low", 0)] {
        create_pod(&e, pod(name, "800m", with_priority(&e, priority)));
        wait_unschedulable(&e, name, "no nodes available to schedule pods");
    }
    add_node(&e, node("only", "1", "1Gi", json!({})));
    clock.advance(Duration::from_secs(1));
    assert_eq!(wait_bound(&e, "low"), "only");
    wait_unschedulable(&e, "high", "0/1 nodes are available: 1 Insufficient cpu.");
}

/// Counts reservations, and the first time it sees a pod, changes it in the store so that
/// the binding's compare-and-swap fails.
#[derive(Default)]
struct Meddler {
    reserved: AtomicUsize,
    unreserved: AtomicUsize,
    touched: Mutex<Vec<String>>,
    store: Mutex<Option<steady::store::Store>>,
}

impl Plugin for Meddler {
    fn name(&self) -> &str {
        "Meddler"
    }
}

impl ReservePlugin for Meddler {
    fn reserve(&self, _: &mut CycleState, pod: &PodInfo, _: &NodeInfo) -> Status {
        self.reserved.fetch_add(1, Ordering::SeqCst);
        let mut touched = self.touched.lock();
        if !touched.contains(&pod.key().to_string()) {
            touched.push(pod.key().to_string());
            let store = self.store.lock().clone().unwrap();
            let api = steady::client::Api::<Pod>::all(store).namespace(pod.namespace());
            api.patch(
                &pod.pod().metadata.name,
                &json!({"metadata": {"labels": {"touched": "yes"}}}),
            )
            .unwrap();
        }
        Status::success()
    }

    fn unreserve(&self, _: &mut CycleState, _: &PodInfo, _: &str) {
        self.unreserved.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_binding_that_loses_the_race_is_undone_and_the_new_version_scheduled() {
    let meddler = Arc::new(Meddler::default());
    let (e, clock) = engine(SchedulerConfig::default().reserve(meddler.clone()));
    *meddler.store.lock() = Some(e.store().clone());
    add_node(&e, node("a", "1", "1Gi", json!({})));
    create_pod(&e, pod("web", "800m", json!({})));
    eventually("the conflicting binding undone", || {
        meddler.unreserved.load(Ordering::SeqCst) == 1
    });
    // Retried at once when the newer version already arrived, else after its backoff. On a
    // slow machine the retry may still hold the old version (its update event is late) and
    // lose once more (and back off longer): every reservation but the last is undone, before
    // the next attempt.
    eventually("pod web bound", || {
        clock.advance(Duration::from_millis(500));
        node_of(&e, "web").is_some()
    });
    assert_eq!(node_of(&e, "web").as_deref(), Some("a"));
    let reserved = meddler.reserved.load(Ordering::SeqCst);
    assert!(reserved >= 2, "reserved {reserved} times");
    assert_eq!(meddler.unreserved.load(Ordering::SeqCst), reserved - 1);
    let bound = e.api::<Pod>().get("web").unwrap();
    assert_eq!(
        bound.metadata.labels.get("touched").map(String::as_str),
        Some("yes")
    );
    // The freed reservation was not counted twice: a second 800m pod does not fit.
    create_pod(&e, pod("other", "800m", json!({})));
    wait_unschedulable(
        &e,
        "other",
        "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
    );
}

/// Binds pods annotated `binder: custom` itself, recording them; leaves the rest.
#[derive(Default)]
struct CustomBinder {
    bound: Mutex<Vec<(String, String)>>,
}

impl Plugin for CustomBinder {
    fn name(&self) -> &str {
        "CustomBinder"
    }
}

impl BindPlugin for CustomBinder {
    fn bind(&self, cx: &BindContext<'_>, pod: &Pod, node: &str) -> steady::Result<BindOutcome> {
        if pod.metadata.annotations.get("binder").map(String::as_str) != Some("custom") {
            return Ok(BindOutcome::Skip);
        }
        let mut p = pod.clone();
        p.spec.node_name = Some(node.to_string());
        p.metadata.labels.insert("bound-by".into(), "custom".into());
        cx.store.update(Arc::new(p))?;
        self.bound
            .lock()
            .push((pod.metadata.name.clone(), node.to_string()));
        Ok(BindOutcome::Bound)
    }
}

#[test]
fn a_user_bind_plugin_binds_its_pods_and_passes_on_the_others() {
    let binder = Arc::new(CustomBinder::default());
    let (e, _) = engine(SchedulerConfig::default().bind(binder.clone()));
    add_node(&e, node("a", "4", "4Gi", json!({})));
    create_pod(
        &e,
        pod(
            "mine",
            "100m",
            json!({"metadata": {"annotations": {"binder": "custom"}}}),
        ),
    );
    create_pod(&e, pod("default", "100m", json!({})));
    assert_eq!(wait_bound(&e, "mine"), "a");
    assert_eq!(wait_bound(&e, "default"), "a");
    assert_eq!(
        *binder.bound.lock(),
        [("mine".to_string(), "a".to_string())]
    );
    let mine = e.api::<Pod>().get("mine").unwrap();
    assert_eq!(
        mine.metadata.labels.get("bound-by").map(String::as_str),
        Some("custom")
    );
}

/// When nothing fits, nominates the biggest node and says so.
struct Nominator;

impl Plugin for Nominator {
    fn name(&self) -> &str {
        "Nominator"
    }
}

impl PostFilterPlugin for Nominator {
    fn post_filter(
        &self,
        _: &CycleState,
        _: &PodInfo,
        nodes: &[NodeInfo],
        diagnosis: &Diagnosis,
    ) -> PostFilterResult {
        assert_eq!(diagnosis.node_statuses.len(), nodes.len());
        let biggest = nodes
            .iter()
            .max_by_key(|n| n.allocatable().cpu_millis)
            .map(|n| n.name().to_string());
        PostFilterResult {
            status: Status::success(),
            nominated_node: biggest,
            victims: Vec::new(),
        }
    }
}

#[test]
fn a_post_filter_runs_when_nothing_fits_and_may_nominate_a_node() {
    let (e, _) = engine(SchedulerConfig::default().post_filter(Arc::new(Nominator)));
    add_node(&e, node("small", "1", "1Gi", json!({})));
    add_node(&e, node("larger", "2", "1Gi", json!({})));
    create_pod(&e, pod("web", "4", json!({})));
    wait_unschedulable(&e, "web", "0/2 nodes are available: 2 Insufficient cpu.");
    eventually("nominatedNodeName", || {
        e.api::<Pod>()
            .get("web")
            .unwrap()
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.clone())
            .as_deref()
            == Some("larger")
    });
}
