//! `PrioritySort`: the default queue order.

use crate::scheduler::framework::{Plugin, QueueSortPlugin, QueuedPodInfo};

/// Orders pods by `spec.priority`, highest first, then by the time they entered the queue
/// (or last failed), then by arrival.
#[derive(Clone, Copy, Debug, Default)]
pub struct PrioritySort;

impl Plugin for PrioritySort {
    fn name(&self) -> &str {
        "PrioritySort"
    }
}

impl QueueSortPlugin for PrioritySort {
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool {
        let (pa, pb) = (a.pod.priority(), b.pod.priority());
        pa > pb || (pa == pb && (a.timestamp, a.arrival) < (b.timestamp, b.arrival))
    }
}
