//! A TEST DOUBLE for the node agent: a tiny controller that plays kubelet for every pod.
//!
//! It binds each pending pod to one of `nodes` fake node names (`fake-node-<i>`, chosen by a
//! hash of the pod's name; no Node objects are created) and reports it `Running` with
//! `Ready=True` at once, stamped with the engine clock (so `minReadySeconds` runs on a
//! manual clock). A pod deleted gracefully is "stopped" and removed at once (deleted again
//! with grace 0).
//!
//! What it does with a pod is its [`Mode`]: the pod's annotation [`MODE_ANNOTATION`]
//! (`ready`, `not-ready`, `unscheduled`, `fail`), else the kubelet's default, which a test can
//! change with [`FakeKubelet::set_default`] (pods already handled are not revisited until
//! they change; annotate them to switch one).
//!
//! It plays scheduler and node agent at once, so it needs an engine without a scheduler
//! ([`engine_with`]): a real scheduler would write `PodScheduled=False` (a status-only change
//! the kubelet's predicate ignores) between its read and its bind, and the bind's conflict
//! would wait for a backoff that the manual clock never ends. Tests that need real placement
//! use simulated nodes instead.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use steady::api::conditions::{condition, set_condition, FALSE, TRUE};
use steady::api::{Condition, ContainerStatus, Pod, PodStatus};
use steady::runtime::{Action, Context, Controller, ReconcileResult};
use steady::store::DeleteParams;

/// Annotation that picks a pod's [`Mode`].
pub const MODE_ANNOTATION: &str = "fake-kubelet.steady.dev/mode";

/// What the fake kubelet does with a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Bind it and report it Running and Ready.
    Ready,
    /// Bind it and report it Running but not Ready.
    NotReady,
    /// Leave it Pending and unbound.
    Unscheduled,
    /// Bind it and report it Failed.
    Fail,
}

impl Mode {
    fn from_annotation(s: &str) -> Option<Mode> {
        match s {
            "ready" => Some(Mode::Ready),
            "not-ready" => Some(Mode::NotReady),
            "unscheduled" => Some(Mode::Unscheduled),
            "fail" => Some(Mode::Fail),
            _ => None,
        }
    }

    fn code(self) -> u8 {
        match self {
            Mode::Ready => 0,
            Mode::NotReady => 1,
            Mode::Unscheduled => 2,
            Mode::Fail => 3,
        }
    }

    fn from_code(c: u8) -> Mode {
        match c {
            1 => Mode::NotReady,
            2 => Mode::Unscheduled,
            3 => Mode::Fail,
            _ => Mode::Ready,
        }
    }
}

/// The fake kubelet: register [`FakeKubelet::controller`] on the engine.
#[derive(Clone)]
pub struct FakeKubelet {
    default: Arc<AtomicU8>,
    nodes: usize,
}

impl FakeKubelet {
    /// A kubelet for one fake node, making pods ready by default.
    pub fn new() -> Self {
        Self::with_nodes(1)
    }

    /// A kubelet spreading pods over `nodes` fake nodes.
    pub fn with_nodes(nodes: usize) -> Self {
        FakeKubelet {
            default: Arc::new(AtomicU8::new(Mode::Ready.code())),
            nodes: nodes.max(1),
        }
    }

    /// The mode of pods without the annotation, from their next reconcile on.
    pub fn set_default(&self, mode: Mode) {
        self.default.store(mode.code(), Ordering::SeqCst);
    }

    /// The controller, named `fake-kubelet`, with `concurrency` workers.
    pub fn controller_with(&self, concurrency: usize) -> Controller {
        let me = self.clone();
        Controller::for_kind::<Pod>("fake-kubelet")
            .concurrency(concurrency)
            .build(move |ctx: &Context| me.reconcile(ctx))
    }

    /// The controller, named `fake-kubelet`, with two workers.
    pub fn controller(&self) -> Controller {
        self.controller_with(2)
    }

    fn node_for(&self, name: &str) -> String {
        let h = name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        format!("fake-node-{}", h % self.nodes as u64)
    }

    fn reconcile(&self, ctx: &Context) -> ReconcileResult {
        let Some(pod) = ctx.get::<Pod>() else {
            return Ok(Action::done());
        };
        let pods = ctx.api::<Pod>();
        if pod.metadata.deletion_timestamp.is_some() {
            // "Stopped" at once: finish a graceful deletion.
            if pod.metadata.deletion_grace_period_seconds.unwrap_or(0) > 0 {
                let params = DeleteParams {
                    uid: pod.metadata.uid.clone(),
                    grace_period_seconds: Some(0),
                    ..Default::default()
                };
                match pods.delete(&pod.metadata.name, &params) {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() || e.is_conflict() => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(Action::done());
        }
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded") | Some("Failed")) {
            return Ok(Action::done());
        }
        let mode = pod
            .metadata
            .annotations
            .get(MODE_ANNOTATION)
            .and_then(|m| Mode::from_annotation(m))
            .unwrap_or_else(|| Mode::from_code(self.default.load(Ordering::SeqCst)));
        if mode == Mode::Unscheduled {
            return Ok(Action::done());
        }
        let mut pod = pod;
        if pod.spec.node_name.is_none() {
            let mut bound = (*pod).clone();
            bound.spec.node_name = Some(self.node_for(&pod.metadata.name));
            pod = match pods.update(bound) {
                Ok(p) => p,
                Err(e) if e.is_not_found() => return Ok(Action::done()),
                Err(e) => return Err(e.into()),
            };
        }
        let now = ctx.now();
        let mut status: PodStatus = pod.status.as_deref().cloned().unwrap_or_default();
        let (phase, ready) = match mode {
            Mode::Ready => ("Running", true),
            Mode::NotReady => ("Running", false),
            Mode::Fail => ("Failed", false),
            Mode::Unscheduled => unreachable!("handled above"),
        };
        status.phase = Some(phase.into());
        if status.start_time.is_none() {
            status.start_time = Some(now);
        }
        let s = |b: bool| if b { TRUE } else { FALSE };
        let conds: [Condition; 3] = [
            condition("PodScheduled", TRUE, "", "", None),
            condition("ContainersReady", s(ready), "", "", None),
            condition("Ready", s(ready), "", "", None),
        ];
        for c in conds {
            set_condition(&mut status.conditions, c, now);
        }
        status.container_statuses = pod
            .spec
            .containers
            .iter()
            .map(|c| ContainerStatus {
                name: c.name.clone(),
                ready,
                started: Some(mode != Mode::Fail),
                image: c.image.clone().unwrap_or_default(),
                ..Default::default()
            })
            .collect();
        if pod.status.as_deref() != Some(&status) {
            let mut updated = (*pod).clone();
            updated.status = Some(Box::new(status));
            updated.metadata.resource_version = None;
            match pods.update_status(&updated) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Action::done())
    }
}

/// An engine on a manual clock running the built-in controllers and `kubelet`.
pub fn engine_with(kubelet: &FakeKubelet) -> (steady::Engine, Arc<steady::clock::ManualClock>) {
    let clock = Arc::new(steady::clock::ManualClock::default());
    // No scheduler and no real node: the fake kubelet binds and runs every pod.
    let engine = steady::Engine::builder()
        .clock(clock.clone())
        .without_scheduler()
        .local_node(false)
        .controller(kubelet.controller())
        .build()
        .expect("engine starts");
    (engine, clock)
}
