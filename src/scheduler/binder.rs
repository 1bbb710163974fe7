//! The binder threads: they write what the scheduling cycles decided (bindings through the
//! bind plugins, `PodScheduled=False` conditions) and the Events about it, so that a cycle
//! never waits for the store.
//!
//! Bindings and status writes take precedence over Events (a biased select): under load
//! Events lag, and when too many wait, new ones are dropped (they are informational, as with
//! client-go's event broadcaster).

use super::core::{BindDone, BindFailure, BindTask, Outgoing, Preemption};
use super::framework::{BindContext, BindOutcome, BindPlugin};
use super::plugins::default_preemption::{DISRUPTION_TARGET, PREEMPTION_BY_SCHEDULER};
use super::status::update_pod_status;
use super::Msg;
use crate::api::conditions::{condition, set_condition, FALSE, TRUE};
use crate::api::Pod;
use crate::client::events::{EventKind, EventRecorder};
use crate::clock::SharedClock;
use crate::store::{DeleteParams, Store};
use crossbeam_channel::{select_biased, Receiver, Sender, TrySendError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// An Event to record.
pub(crate) struct EventTask {
    pub(crate) pod: Arc<Pod>,
    pub(crate) kind: EventKind,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
}

/// What every binder thread shares.
pub(crate) struct Binder {
    pub(crate) store: Store,
    pub(crate) clock: SharedClock,
    pub(crate) scheduler_name: String,
    pub(crate) recorder: EventRecorder,
    pub(crate) plugins: Arc<[Arc<dyn BindPlugin>]>,
    pub(crate) stopping: Arc<AtomicBool>,
    pub(crate) events_dropped: AtomicU64,
}

impl Binder {
    /// Runs until the work channel closes or the scheduler stops.
    pub(crate) fn run(
        &self,
        work: Receiver<Outgoing>,
        events: Receiver<EventTask>,
        events_tx: Sender<EventTask>,
        done: Sender<Msg>,
    ) {
        loop {
            if self.stopping.load(Ordering::Acquire) {
                return;
            }
            select_biased! {
                recv(work) -> w => match w {
                    Ok(Outgoing::Bind(task)) => {
                        let done_msg = self.bind(task, &events_tx);
                        if done.send(Msg::Bound(done_msg)).is_err() {
                            return;
                        }
                    }
                    Ok(Outgoing::Failed { pod, reason, message, nominated }) => {
                        self.failed(&pod, reason, &message, nominated);
                    }
                    Ok(Outgoing::Preempt(p)) => self.preempt(&p),
                    Err(_) => return,
                },
                recv(events) -> e => {
                    if let Ok(e) = e {
                        let _ = self.recorder.record(&*e.pod, e.kind, e.reason, &e.message);
                    }
                }
            }
        }
    }

    fn bind(&self, task: BindTask, events: &Sender<EventTask>) -> BindDone {
        let cx = BindContext {
            store: &self.store,
            clock: &self.clock,
            scheduler_name: &self.scheduler_name,
        };
        let pod = task.pod.pod();
        let mut result = Err(BindFailure::Other(format!(
            "no bind plugin bound pod {}",
            task.pod.key()
        )));
        for p in self.plugins.iter() {
            match catch_unwind(AssertUnwindSafe(|| p.bind(&cx, pod, &task.node))) {
                Ok(Ok(BindOutcome::Skip)) => continue,
                Ok(Ok(BindOutcome::Bound)) => result = Ok(()),
                Ok(Err(e)) => result = Err(BindFailure::from(e)),
                Err(_) => {
                    result = Err(BindFailure::Other(format!(
                        "bind plugin {} panicked",
                        p.name()
                    )))
                }
            }
            break;
        }
        if result.is_ok() {
            let message = format!("Successfully assigned {} to {}", task.pod.key(), task.node);
            self.event(
                events,
                EventTask {
                    pod: pod.clone(),
                    kind: EventKind::Normal,
                    reason: "Scheduled",
                    message,
                },
            );
        }
        BindDone { task, result }
    }

    fn event(&self, events: &Sender<EventTask>, e: EventTask) {
        if let Err(TrySendError::Full(_)) = events.try_send(e) {
            let n = self.events_dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                log::warn!("scheduler: event queue full, {n} events dropped so far");
            }
        }
    }

    /// Evicts the victims of a preemption as kube-scheduler does: the condition
    /// `DisruptionTarget=True` (reason `PreemptionByScheduler`), a `Preempted` event, then a
    /// graceful deletion (the node agent stops the pod within its grace period; the
    /// preemptor is retried once the pod is gone).
    fn preempt(&self, p: &Preemption) {
        let now = self.clock.now();
        let message = format!(
            "{}: preempting to accommodate a higher priority pod",
            self.scheduler_name
        );
        for victim in &p.victims {
            let res = update_pod_status(&self.store, victim, |_, status| {
                set_condition(
                    &mut status.conditions,
                    condition(
                        DISRUPTION_TARGET,
                        TRUE,
                        PREEMPTION_BY_SCHEDULER,
                        &message,
                        None,
                    ),
                    now,
                )
            });
            if let Err(e) = res {
                log::warn!(
                    "scheduler: could not mark pod {:?} as preempted: {e}",
                    victim.metadata.name
                );
            }
            let _ = self.recorder.record(
                &**victim,
                EventKind::Normal,
                "Preempted",
                &format!(
                    "Preempted by pod {} on node {}",
                    p.pod.metadata.uid.as_deref().unwrap_or(""),
                    p.node
                ),
            );
            let params = DeleteParams {
                uid: victim.metadata.uid.clone(),
                ..Default::default()
            };
            match self.store.delete(
                "Pod",
                victim.metadata.namespace.as_deref(),
                &victim.metadata.name,
                &params,
            ) {
                Ok(_) => {}
                Err(e) if e.is_not_found() || e.is_conflict() => {}
                Err(e) => log::warn!(
                    "scheduler: could not delete preempted pod {:?}: {e}",
                    victim.metadata.name
                ),
            }
        }
    }

    /// Condition `PodScheduled=False` with the reason and message (unless the pod was bound
    /// meanwhile), the nominated node, and a `FailedScheduling` Event.
    fn failed(&self, pod: &Pod, reason: &str, message: &str, nominated: Option<String>) {
        let now = self.clock.now();
        let res = update_pod_status(&self.store, pod, |p, status| {
            if p.spec.node_name.as_deref().is_some_and(|n| !n.is_empty()) {
                return false;
            }
            let mut changed = set_condition(
                &mut status.conditions,
                condition("PodScheduled", FALSE, reason, message, None),
                now,
            );
            if nominated.is_some() && status.nominated_node_name != nominated {
                status.nominated_node_name = nominated.clone();
                changed = true;
            }
            changed
        });
        if let Err(e) = res {
            log::warn!(
                "scheduler: could not record why pod {:?} is not scheduled: {e}",
                pod.metadata.name
            );
        }
        let _ = self
            .recorder
            .record(pod, EventKind::Warning, "FailedScheduling", message);
    }
}
