//! The scheduling queue: kube-scheduler's three sub-queues.
//!
//! - **active**: pods ready to be tried, a heap ordered by the queue-sort plugin;
//! - **backoff**: pods that failed, waiting out their backoff (1 s for the first attempt,
//!   doubling per attempt up to 10 s), ordered by expiry;
//! - **unschedulable**: pods no node fit. They wait for a cluster change that one of the
//!   plugins that rejected them declared interest in ([`ClusterEvents`]), then go back to
//!   active (or to backoff when their backoff has not expired yet); a pod left there for 5
//!   minutes is retried anyway.
//!
//! A pod handed out by [`pop`](SchedulingQueue::pop) is *in flight* until the cycle or its
//! binding reports back. Times are the engine clock's monotonic time.
//!
//! # Invariants
//! - Every pod has exactly one entry, whose `location` says which sub-queue holds it.
//! - Heaps are lazy: an item is current only while its entry still exists with the same `seq`
//!   and location; every move gives the entry a new `seq`, so stale items are skipped when
//!   they surface. Hence a pod is never handed out twice for one placement.

use super::framework::{ClusterEvents, PodInfo, QueueSortPlugin, QueuedPodInfo};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Where a pod waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    Active,
    Backoff,
    Unschedulable,
    InFlight,
}

#[derive(Debug)]
struct Entry {
    info: QueuedPodInfo,
    location: Location,
    seq: u64,
    /// Changes the plugins that rejected the pod wait for (unschedulable pods).
    wake_on: ClusterEvents,
}

/// Queue timings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timings {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub max_unschedulable: Duration,
}

/// How many pods wait where.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Ready to be tried.
    pub active: usize,
    /// Waiting out a backoff.
    pub backoff: usize,
    /// Waiting for a cluster change.
    pub unschedulable: usize,
    /// Being scheduled or bound.
    pub in_flight: usize,
}

type Timed = Reverse<(Duration, u64, Arc<str>)>;

pub(crate) struct SchedulingQueue {
    entries: HashMap<Arc<str>, Entry>,
    active: Vec<(QueuedPodInfo, u64)>,
    backoff: BinaryHeap<Timed>,
    unschedulable: HashSet<Arc<str>>,
    flush: BinaryHeap<Timed>,
    sort: Arc<dyn QueueSortPlugin>,
    timings: Timings,
    next_seq: u64,
    next_arrival: u64,
    counts: QueueCounts,
}

fn slot(c: &mut QueueCounts, loc: Location) -> &mut usize {
    match loc {
        Location::Active => &mut c.active,
        Location::Backoff => &mut c.backoff,
        Location::Unschedulable => &mut c.unschedulable,
        Location::InFlight => &mut c.in_flight,
    }
}

/// Moves an entry, keeping the counts.
fn relocate(c: &mut QueueCounts, e: &mut Entry, to: Location) {
    *slot(c, e.location) -= 1;
    *slot(c, to) += 1;
    e.location = to;
}

/// kube-scheduler's backoff: `initial` for the first attempt, doubling per further attempt,
/// at most `max`.
pub(crate) fn backoff_duration(attempts: u32, initial: Duration, max: Duration) -> Duration {
    let mut d = initial;
    for _ in 1..attempts {
        if d >= max.saturating_sub(d) {
            return max;
        }
        d += d;
    }
    d.min(max)
}

/// True when the change from `old` to `new` may change where the pod fits (anything but
/// status and bookkeeping).
fn significant(old: &PodInfo, new: &PodInfo) -> bool {
    let (o, n) = (old.pod(), new.pod());
    o.metadata.generation != n.metadata.generation
        || o.metadata.labels != n.metadata.labels
        || o.metadata.annotations != n.metadata.annotations
        || o.spec != n.spec
}

impl SchedulingQueue {
    pub(crate) fn new(sort: Arc<dyn QueueSortPlugin>, timings: Timings) -> Self {
        SchedulingQueue {
            entries: HashMap::new(),
            active: Vec::new(),
            backoff: BinaryHeap::new(),
            unschedulable: HashSet::new(),
            flush: BinaryHeap::new(),
            sort,
            timings,
            next_seq: 0,
            next_arrival: 0,
            counts: QueueCounts::default(),
        }
    }

    pub(crate) fn counts(&self) -> QueueCounts {
        self.counts
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    pub(crate) fn location(&self, key: &str) -> Option<Location> {
        self.entries.get(key).map(|e| e.location)
    }

    /// The newest version of a queued pod.
    pub(crate) fn pod(&self, key: &str) -> Option<&Arc<PodInfo>> {
        self.entries.get(key).map(|e| &e.info.pod)
    }

    pub(crate) fn keys(&self) -> Vec<Arc<str>> {
        self.entries.keys().cloned().collect()
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// A new pending pod, or the new version of a queued one.
    pub(crate) fn add_or_update(&mut self, pod: Arc<PodInfo>, now: Duration) {
        let key = pod.key_arc().clone();
        let Some(e) = self.entries.get_mut(&key) else {
            let info = QueuedPodInfo {
                pod,
                timestamp: now,
                attempts: 0,
                arrival: self.next_arrival,
            };
            self.next_arrival += 1;
            let seq = self.seq();
            self.counts.active += 1;
            self.entries.insert(
                key,
                Entry {
                    info: info.clone(),
                    location: Location::Active,
                    seq,
                    wake_on: ClusterEvents::NONE,
                },
            );
            self.push_active(info, seq);
            return;
        };
        let changed = significant(&e.info.pod, &pod);
        let recreated = e.info.pod.uid() != pod.uid();
        e.info.pod = pod;
        if recreated {
            // Same name, new pod: it starts afresh.
            e.info.attempts = 0;
            e.info.timestamp = now;
        }
        match e.location {
            // The heap item holds the old version: replace it (priority may have changed).
            Location::Active => self.move_to_active(&key),
            Location::Unschedulable if changed || recreated => self.release(&key, now),
            Location::Backoff | Location::Unschedulable | Location::InFlight => {}
        }
    }

    pub(crate) fn delete(&mut self, key: &str) -> bool {
        self.unschedulable.remove(key);
        match self.entries.remove(key) {
            Some(e) => {
                *slot(&mut self.counts, e.location) -= 1;
                true
            }
            None => false,
        }
    }

    /// The next pod to schedule, now in flight.
    pub(crate) fn pop(&mut self) -> Option<QueuedPodInfo> {
        while let Some((item, seq)) = self.pop_heap() {
            let Some(e) = self.entries.get_mut(item.pod.key()) else {
                continue;
            };
            if e.seq != seq || e.location != Location::Active {
                continue;
            }
            relocate(&mut self.counts, e, Location::InFlight);
            e.info.attempts += 1;
            return Some(e.info.clone());
        }
        None
    }

    /// An in-flight pod no node fit: it waits for one of `wake_on`.
    pub(crate) fn unschedulable(&mut self, key: &str, wake_on: ClusterEvents, now: Duration) {
        let seq = self.seq();
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        relocate(&mut self.counts, e, Location::Unschedulable);
        e.info.timestamp = now;
        e.seq = seq;
        e.wake_on = wake_on;
        let k = e.info.pod.key_arc().clone();
        self.flush.push(Reverse((
            now + self.timings.max_unschedulable,
            seq,
            k.clone(),
        )));
        self.unschedulable.insert(k);
    }

    /// An in-flight pod failed for another reason: it is retried after its backoff.
    pub(crate) fn backoff(&mut self, key: &str, now: Duration) {
        if let Some(e) = self.entries.get_mut(key) {
            e.info.timestamp = now;
        }
        self.move_to_backoff(key);
    }

    /// An in-flight pod goes straight back to active (its binding raced a change).
    pub(crate) fn activate(&mut self, key: &str) {
        if self.location(key).is_some() {
            self.move_to_active(key);
        }
    }

    /// An in-flight pod is bound: it leaves the queue.
    pub(crate) fn done(&mut self, key: &str, uid: &str) {
        if self
            .entries
            .get(key)
            .is_some_and(|e| e.location == Location::InFlight && e.info.pod.uid() == uid)
        {
            self.delete(key);
        }
    }

    /// A cluster change: every unschedulable pod waiting for it is released.
    pub(crate) fn on_event(&mut self, event: ClusterEvents, now: Duration) -> usize {
        if self.unschedulable.is_empty() {
            return 0;
        }
        let keys: Vec<Arc<str>> = self
            .unschedulable
            .iter()
            .filter(|k| {
                self.entries.get(k.as_ref()).is_some_and(|e| {
                    e.wake_on == ClusterEvents::NONE || e.wake_on.intersects(event)
                })
            })
            .cloned()
            .collect();
        for k in &keys {
            self.release(k, now);
        }
        keys.len()
    }

    /// Moves due backoffs to active, and unschedulable pods that waited too long out.
    pub(crate) fn tick(&mut self, now: Duration) {
        while let Some(Reverse((due, seq, key))) = self.backoff.peek().cloned() {
            if due > now {
                break;
            }
            self.backoff.pop();
            if self
                .entries
                .get(&key)
                .is_some_and(|e| e.seq == seq && e.location == Location::Backoff)
            {
                self.move_to_active(&key);
            }
        }
        while let Some(Reverse((due, seq, key))) = self.flush.peek().cloned() {
            if due > now {
                break;
            }
            self.flush.pop();
            if self
                .entries
                .get(&key)
                .is_some_and(|e| e.seq == seq && e.location == Location::Unschedulable)
            {
                self.release(&key, now);
            }
        }
    }

    /// When [`tick`](Self::tick) next has something to do.
    pub(crate) fn next_deadline(&mut self) -> Option<Duration> {
        let entries = &self.entries;
        let current = |loc: Location, seq: u64, key: &Arc<str>| {
            entries
                .get(key)
                .is_some_and(|e| e.seq == seq && e.location == loc)
        };
        while let Some(Reverse((_, seq, key))) = self.backoff.peek() {
            if current(Location::Backoff, *seq, key) {
                break;
            }
            self.backoff.pop();
        }
        while let Some(Reverse((_, seq, key))) = self.flush.peek() {
            if current(Location::Unschedulable, *seq, key) {
                break;
            }
            self.flush.pop();
        }
        let a = self.backoff.peek().map(|r| r.0 .0);
        let b = self.flush.peek().map(|r| r.0 .0);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn backoff_expiry(&self, e: &Entry) -> Duration {
        e.info.timestamp
            + backoff_duration(
                e.info.attempts,
                self.timings.initial_backoff,
                self.timings.max_backoff,
            )
    }

    /// An unschedulable pod leaves the pool: to backoff while its backoff runs, else active.
    fn release(&mut self, key: &str, now: Duration) {
        self.unschedulable.remove(key);
        let Some(e) = self.entries.get(key) else {
            return;
        };
        if e.info.attempts > 0 && self.backoff_expiry(e) > now {
            self.move_to_backoff(key);
        } else {
            self.move_to_active(key);
        }
    }

    fn move_to_backoff(&mut self, key: &str) {
        let seq = self.seq();
        let Some(e) = self.entries.get(key) else {
            return;
        };
        let due = self.backoff_expiry(e);
        let e = self.entries.get_mut(key).expect("checked above");
        relocate(&mut self.counts, e, Location::Backoff);
        e.seq = seq;
        let k = e.info.pod.key_arc().clone();
        self.unschedulable.remove(key);
        self.backoff.push(Reverse((due, seq, k)));
    }

    fn move_to_active(&mut self, key: &str) {
        let seq = self.seq();
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        relocate(&mut self.counts, e, Location::Active);
        e.seq = seq;
        let info = e.info.clone();
        self.unschedulable.remove(key);
        self.push_active(info, seq);
    }

    // ----- the active heap, ordered by the queue-sort plugin -----

    fn push_active(&mut self, info: QueuedPodInfo, seq: u64) {
        self.active.push((info, seq));
        let mut i = self.active.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 2;
            if !self.sort.less(&self.active[i].0, &self.active[parent].0) {
                break;
            }
            self.active.swap(i, parent);
            i = parent;
        }
    }

    fn pop_heap(&mut self) -> Option<(QueuedPodInfo, u64)> {
        if self.active.is_empty() {
            return None;
        }
        let last = self.active.len() - 1;
        self.active.swap(0, last);
        let top = self.active.pop();
        let n = self.active.len();
        let mut i = 0;
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut best = i;
            if l < n && self.sort.less(&self.active[l].0, &self.active[best].0) {
                best = l;
            }
            if r < n && self.sort.less(&self.active[r].0, &self.active[best].0) {
                best = r;
            }
            if best == i {
                break;
            }
            self.active.swap(i, best);
            i = best;
        }
        top
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Pod;
    use crate::scheduler::plugins::PrioritySort;
    use serde_json::json;

    const S: Duration = Duration::from_secs(1);

    fn timings() -> Timings {
        Timings {
            initial_backoff: S,
            max_backoff: 10 * S,
            max_unschedulable: 300 * S,
        }
    }

    fn queue() -> SchedulingQueue {
        SchedulingQueue::new(Arc::new(PrioritySort), timings())
    }

    fn pod(name: &str, priority: i32) -> Arc<PodInfo> {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": name},
            "spec": {"priority": priority, "containers": [{"name": "c"}]}
        }))
        .unwrap();
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    fn names(q: &mut SchedulingQueue) -> Vec<String> {
        std::iter::from_fn(|| q.pop().map(|p| p.pod.pod().metadata.name.clone())).collect()
    }

    #[test]
    fn backoff_doubles_from_one_second_to_ten() {
        let got: Vec<u64> = (1..=6)
            .map(|a| backoff_duration(a, S, 10 * S).as_secs())
            .collect();
        assert_eq!(got, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn higher_priority_first_then_arrival_order() {
        let mut q = queue();
        q.add_or_update(pod("low", 0), Duration::ZERO);
        q.add_or_update(pod("high", 10), Duration::ZERO);
        q.add_or_update(pod("low2", 0), Duration::ZERO);
        q.add_or_update(pod("mid", 5), Duration::ZERO);
        assert_eq!(names(&mut q), ["high", "mid", "low", "low2"]);
    }

    #[test]
    fn an_update_of_an_active_pod_reorders_it_and_it_is_handed_out_once() {
        let mut q = queue();
        q.add_or_update(pod("a", 0), Duration::ZERO);
        q.add_or_update(pod("b", 1), Duration::ZERO);
        q.add_or_update(pod("a", 5), Duration::ZERO);
        assert_eq!(names(&mut q), ["a", "b"]);
    }

    #[test]
    fn failed_pods_wait_out_their_backoff() {
        let mut q = queue();
        q.add_or_update(pod("a", 0), Duration::ZERO);
        let t0 = 100 * S;
        q.pop().unwrap();
        q.backoff("default/a", t0);
        assert_eq!(q.next_deadline(), Some(t0 + S));
        q.tick(t0 + S - Duration::from_millis(1));
        assert!(q.pop().is_none());
        q.tick(t0 + S);
        let p = q.pop().unwrap();
        assert_eq!(p.attempts, 2);
        q.backoff("default/a", t0 + S);
        assert_eq!(q.next_deadline(), Some(t0 + 3 * S), "second attempt: 2 s");
    }

    #[test]
    fn unschedulable_pods_wait_for_an_event_they_care_about() {
        let mut q = queue();
        q.add_or_update(pod("a", 0), Duration::ZERO);
        q.pop().unwrap();
        q.unschedulable("default/a", ClusterEvents::NODE_ADDED, Duration::ZERO);
        assert_eq!(q.on_event(ClusterEvents::ASSIGNED_POD_ADDED, 5 * S), 0);
        assert_eq!(q.location("default/a"), Some(Location::Unschedulable));
        // Released after its 1 s backoff: straight to active.
        assert_eq!(q.on_event(ClusterEvents::NODE_ADDED, 5 * S), 1);
        assert_eq!(names(&mut q), ["a"]);
    }

    #[test]
    fn a_pod_released_during_its_backoff_waits_for_it() {
        let mut q = queue();
        q.add_or_update(pod("a", 0), Duration::ZERO);
        q.pop().unwrap();
        q.unschedulable("default/a", ClusterEvents::ALL, 10 * S);
        q.on_event(ClusterEvents::NODE_CHANGED, 10 * S);
        assert_eq!(q.location("default/a"), Some(Location::Backoff));
        q.tick(11 * S);
        assert_eq!(q.location("default/a"), Some(Location::Active));
    }

    #[test]
    fn unschedulable_pods_are_retried_after_five_minutes() {
        let mut q = queue();
        q.add_or_update(pod("a", 0), Duration::ZERO);
        q.pop().unwrap();
        q.unschedulable("default/a", ClusterEvents::NODE_ADDED, Duration::ZERO);
        assert_eq!(q.next_deadline(), Some(300 * S));
        q.tick(299 * S);
        assert!(q.pop().is_none());
        q.tick(300 * S);
        assert_eq!(names(&mut q), ["a"]);
    }

    #[test]
    fn a_spec_change_releases_an_unschedulable_pod_but_a_status_change_does_not() {
        let mut q = queue();
        q.add_or_update(pod("a", 0), Duration::ZERO);
        q.pop().unwrap();
        q.unschedulable("default/a", ClusterEvents::NODE_ADDED, Duration::ZERO);
        let mut status_only = (**pod("a", 0).pod()).clone();
        status_only.status = Some(Default::default());
        q.add_or_update(Arc::new(PodInfo::new(Arc::new(status_only))), 30 * S);
        assert_eq!(q.location("default/a"), Some(Location::Unschedulable));
        q.add_or_update(pod("a", 3), 30 * S);
        assert_eq!(q.location("default/a"), Some(Location::Active));
    }

    #[test]
    fn deleted_and_bound_pods_leave_the_queue() {
        let mut q = queue();
        q.add_or_update(pod("a", 0), Duration::ZERO);
        q.add_or_update(pod("b", 0), Duration::ZERO);
        assert!(q.delete("default/a"));
        let b = q.pop().unwrap();
        q.done(b.pod.key(), b.pod.uid());
        assert!(q.pop().is_none());
        assert_eq!(q.counts(), QueueCounts::default());
    }
}
