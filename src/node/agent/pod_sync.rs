//! The pod sync state machine: one reconcile of one pod ([`PodSync`]) compares what the pod
//! asks for with what runs, then starts init containers in order, starts and restarts the
//! main containers by restart policy with crash-loop backoff, runs lifecycle hooks, and stops
//! containers gracefully on deletion or an active deadline.

use super::container_probes::ProbeRt;
use super::kubelet::{Kubelet, NodeAgent};
use super::pod_state::{
    probe_target, ContRt, Hook, Instance, NeverStarted, PodRt, ProbeSlot, Stopping,
    POST_START_TIMEOUT,
};
use crate::api::{ContainerStateTerminated, LifecycleHandler, Pod, PodStatus, Time};
use crate::client::events::EventKind;
use crate::node::logs::LogBuffer;
use crate::node::probe::{ProbeKind, ProbeTarget};
use crate::node::runtime::{ContainerSpec, ExitStatus};
use crate::runtime::{Action, Context, ObjectKey, ReconcileResult};
use crate::store::DeleteParams;
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

impl Kubelet {
    pub(super) fn reconcile_pod(&self, ctx: &Context) -> ReconcileResult {
        if self.inner.shutting_down.load(Ordering::Acquire) {
            return Ok(Action::done());
        }
        let key: Arc<str> = ctx.key().to_string().into();
        let pod = ctx.get::<Pod>();
        let existing = self.inner.pods.get(&key).map(|e| e.value().clone());
        let agent = pod.as_ref().and_then(|p| {
            let n = p.spec.node_name.as_deref()?;
            self.inner.nodes.read().get(n).cloned()
        });
        // Held to the end of the reconcile: see `NodeAgent::stopped`.
        let stopped = agent.as_ref().map(|a| a.stopped.read());
        let running = stopped.as_deref() == Some(&false);
        let (pod, agent) = match (pod, agent.as_ref()) {
            (Some(p), Some(a)) if running => (p, a),
            (pod, _) => {
                // Gone, force-deleted, or not ours (any more): nothing of it may keep running.
                if let Some(st) = existing {
                    let same = pod
                        .as_ref()
                        .is_some_and(|p| p.metadata.uid.as_deref() == Some(&st.lock().uid));
                    if !same || pod.is_none() {
                        let st = st.lock();
                        st.kill_all();
                        self.remove_pod_dir(&st.uid);
                        drop(st);
                        self.inner.pods.remove(&key);
                    }
                }
                return Ok(Action::done());
            }
        };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let st = match existing {
            Some(st) if st.lock().uid == uid => st,
            other => {
                // A new pod under an old name is a new pod: the old one's containers go.
                if let Some(old) = other {
                    let old = old.lock();
                    old.kill_all();
                    self.remove_pod_dir(&old.uid);
                }
                if pod.metadata.deletion_timestamp.is_some() {
                    // Never started here: nothing to stop.
                    return self.finish_deletion(ctx, &pod);
                }
                let address = self.inner.addresses.take();
                let mut rt = PodRt::new(&pod, &agent.config.name, address);
                if rt.recover(&pod) {
                    // It ran before this engine started (a restart on a durable data dir):
                    // started again as after a node reboot, and the event says why.
                    let _ = self.inner.events.record(
                        pod.as_ref(),
                        EventKind::Normal,
                        "SandboxChanged",
                        "The engine restarted: the pod's containers are started again.",
                    );
                }
                let st = Arc::new(Mutex::new(rt));
                self.inner.pods.insert(key.clone(), st.clone());
                st
            }
        };
        let mut st = st.lock();
        let mut sync = PodSync {
            kubelet: self,
            agent,
            pod: &pod,
            key: &key,
            now: ctx.clock().monotonic(),
            wall: ctx.now(),
            next: None,
            ip: String::new(),
        };
        sync.ip = st.address.ip.clone();
        let outcome = sync.run(&mut st);
        let next = sync.next;
        drop(st);
        match outcome {
            Outcome::Delete => {
                self.inner.pods.remove(&key);
                self.remove_pod_dir(&uid);
                return self.finish_deletion(ctx, &pod);
            }
            Outcome::Status(status) => self.write_status(ctx, &pod, *status)?,
        }
        Ok(match next {
            Some(d) => Action::requeue(d),
            None => Action::done(),
        })
    }

    /// The last step of a graceful deletion: every container stopped, delete with grace 0.
    fn finish_deletion(&self, ctx: &Context, pod: &Pod) -> ReconcileResult {
        let params = DeleteParams {
            uid: pod.metadata.uid.clone(),
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        match ctx.api::<Pod>().delete(&pod.metadata.name, &params) {
            Ok(_) => Ok(Action::done()),
            Err(e) if e.is_not_found() || e.is_conflict() => Ok(Action::done()),
            Err(e) => Err(e.into()),
        }
    }
}

enum Outcome {
    Status(Box<PodStatus>),
    Delete,
}

/// One reconcile of one pod.
pub(super) struct PodSync<'a> {
    pub(super) kubelet: &'a Kubelet,
    pub(super) agent: &'a NodeAgent,
    pub(super) pod: &'a Pod,
    pub(super) key: &'a Arc<str>,
    pub(super) now: Duration,
    pub(super) wall: Time,
    next: Option<Duration>,
    /// The pod's address.
    pub(super) ip: String,
}

impl PodSync<'_> {
    pub(super) fn wake_in(&mut self, d: Duration) {
        self.next = Some(self.next.map_or(d, |n| n.min(d)));
    }

    pub(super) fn wake_at(&mut self, at: Duration) {
        let d = at.saturating_sub(self.now);
        self.wake_in(d.max(Duration::from_millis(1)));
    }

    fn restart_policy(&self) -> &str {
        self.pod.spec.restart_policy.as_deref().unwrap_or("Always")
    }

    fn run(&mut self, st: &mut PodRt) -> Outcome {
        if st.start_time.is_none() {
            st.start_time = Some(self.wall);
        }
        // Collect exits and probe results first: they are what usually woke us. Nothing is
        // restarted once the pod is being stopped (its sidecars included).
        let stopping = st.stopping.is_some();
        for i in 0..st.init.len() {
            self.observe(&mut st.init[i], true, stopping);
        }
        for i in 0..st.containers.len() {
            self.observe(&mut st.containers[i], false, stopping);
        }
        let deleting = self.pod.metadata.deletion_timestamp.is_some();
        let deadline_passed = self.active_deadline_passed(st);
        if deleting || deadline_passed || st.failed.is_some() {
            if deadline_passed && st.failed.is_none() {
                let ads = self.pod.spec.active_deadline_seconds.unwrap_or(0);
                st.failed = Some((
                    "DeadlineExceeded".into(),
                    format!(
                        "Pod was active on the node longer than the specified deadline ({ads}s)"
                    ),
                ));
            }
            if self.stop_all(st, deleting) && deleting {
                return Outcome::Delete;
            }
            return Outcome::Status(Box::new(self.status(st)));
        }
        if self.terminal(st).is_some() {
            // The main containers are done: the sidecars go too.
            self.stop_all(st, false);
            return Outcome::Status(Box::new(self.status(st)));
        }
        // Init containers, one after the other, each to success; a sidecar counts once it
        // started (and its startup probe and postStart hook passed), and keeps running.
        while st.init_done < st.init.len() {
            let idx = st.init_done;
            if st.init[idx].spec.is_sidecar() {
                self.ensure_running(&mut st.init[idx], true);
                self.probe(&mut st.init[idx]);
                let started = st.init[idx]
                    .current
                    .as_ref()
                    .is_some_and(|i| i.started && i.post_start.is_none());
                if started {
                    st.init_done += 1;
                    continue;
                }
                return Outcome::Status(Box::new(self.status(st)));
            }
            let done = st.init[idx]
                .final_state
                .as_ref()
                .is_some_and(|t| t.exit_code == 0);
            if done {
                st.init_done += 1;
                continue;
            }
            if st.init[idx].final_state.is_some() {
                // Failed for good (restartPolicy Never).
                st.failed = Some((
                    "Failed".into(),
                    format!("init container {:?} failed", st.init[idx].spec.name),
                ));
                return Outcome::Status(Box::new(self.status(st)));
            }
            self.ensure_running(&mut st.init[idx], true);
            return Outcome::Status(Box::new(self.status(st)));
        }
        self.refresh_volumes();
        for i in 0..st.init.len() {
            if st.init[i].spec.is_sidecar() {
                self.ensure_running(&mut st.init[i], true);
                self.probe(&mut st.init[i]);
            }
        }
        for i in 0..st.containers.len() {
            self.ensure_running(&mut st.containers[i], false);
            self.probe(&mut st.containers[i]);
        }
        Outcome::Status(Box::new(self.status(st)))
    }

    fn active_deadline_passed(&mut self, st: &PodRt) -> bool {
        let (Some(ads), Some(start)) = (self.pod.spec.active_deadline_seconds, st.start_time)
        else {
            return false;
        };
        let limit = Duration::from_secs(ads.max(0) as u64);
        let ran = self.wall.saturating_duration_since(start);
        if ran >= limit {
            return true;
        }
        self.wake_in(limit - ran);
        false
    }

    /// Stops every container (grace, then kill). True once none runs.
    fn stop_all(&mut self, st: &mut PodRt, deleting: bool) -> bool {
        if !st.any_running() {
            return true;
        }
        match &mut st.stopping {
            None => {
                let grace = if deleting {
                    self.pod
                        .metadata
                        .deletion_grace_period_seconds
                        .or(self.pod.spec.termination_grace_period_seconds)
                        .unwrap_or(30)
                } else {
                    self.pod.spec.termination_grace_period_seconds.unwrap_or(30)
                };
                let grace = Duration::from_secs(grace.max(0) as u64);
                st.stopping = Some(Stopping {
                    kill_at: self.now + grace,
                    killed: grace.is_zero(),
                });
                if grace.is_zero() {
                    // No grace: everything at once, sidecars included.
                    st.kill_all();
                } else {
                    for c in st.init.iter_mut().chain(st.containers.iter_mut()) {
                        if !c.spec.is_sidecar() {
                            self.stop_container(c, grace);
                        }
                    }
                    self.stop_sidecars_after_mains(st);
                    self.wake_in(grace);
                }
            }
            Some(s) => {
                if !s.killed && self.now >= s.kill_at {
                    s.killed = true;
                    st.kill_all();
                } else if !s.killed {
                    let at = s.kill_at;
                    self.wake_at(at);
                    for c in st.init.iter_mut().chain(st.containers.iter_mut()) {
                        self.poll_pre_stop(c);
                    }
                    self.stop_sidecars_after_mains(st);
                }
            }
        }
        !st.any_running()
    }

    /// Stops the sidecars once no other container of the pod runs (as the kubelet stops
    /// them after the main containers), within what is left of the grace period.
    fn stop_sidecars_after_mains(&mut self, st: &mut PodRt) {
        let mains_running = st
            .init
            .iter()
            .chain(&st.containers)
            .any(|c| !c.spec.is_sidecar() && c.running());
        let Some(stopping) = &st.stopping else { return };
        if mains_running {
            return;
        }
        let grace = stopping.kill_at.saturating_sub(self.now);
        for c in st.init.iter_mut().rev().filter(|c| c.spec.is_sidecar()) {
            self.stop_container(c, grace);
        }
    }

    /// Starts stopping `c`'s running instance within `grace`: at once by force when it is
    /// zero; else its preStop hook first (the stop signal follows when the hook returns, see
    /// [`Self::poll_pre_stop`]), or the stop signal now. The caller keeps the kill deadline.
    pub(super) fn stop_container(&mut self, c: &mut ContRt, grace: Duration) {
        let Some(inst) = &c.current else { return };
        if grace.is_zero() {
            inst.handle.kill();
            return;
        }
        if inst.term_sent || inst.pre_stop.is_some() {
            return;
        }
        let hook = c
            .spec
            .lifecycle
            .as_ref()
            .and_then(|l| l.pre_stop.clone())
            .filter(|_| inst.exit.lock().is_none());
        match hook {
            Some(h) => {
                let running = self.start_hook(c, &h, grace);
                if let Some(inst) = &mut c.current {
                    inst.pre_stop = Some(running);
                }
                // It may be done already (a zero sleep).
                self.poll_pre_stop(c);
            }
            None => {
                if let Some(inst) = &mut c.current {
                    inst.handle.terminate();
                    inst.term_sent = true;
                }
            }
        }
    }

    /// Sends the stop signal once `c`'s preStop hook returned; a failed hook is a Warning
    /// `FailedPreStopHook` event, and the stop goes on.
    pub(super) fn poll_pre_stop(&mut self, c: &mut ContRt) {
        let Some(inst) = &mut c.current else { return };
        let Some(done) = inst.pre_stop.as_ref().and_then(|h| h.poll(self.now)) else {
            if let Some(Hook::Sleeping(until)) = inst.pre_stop {
                self.wake_at(until);
            }
            return;
        };
        inst.pre_stop = None;
        inst.handle.terminate();
        inst.term_sent = true;
        if let Err(msg) = done {
            log::info!("pod {}: {msg}", self.key);
            let _ = self.kubelet.inner.events.record(
                self.pod,
                EventKind::Warning,
                "FailedPreStopHook",
                &msg,
            );
        }
    }

    /// Starts `handler` for `c`'s running instance: a `sleep` becomes a wake-up on the engine
    /// clock; `exec` and `httpGet` run on a thread of their own (at most `timeout`) that
    /// wakes the pod when done.
    fn start_hook(&mut self, c: &ContRt, handler: &LifecycleHandler, timeout: Duration) -> Hook {
        if let Some(sleep) = &handler.sleep {
            let until = self.now + Duration::from_secs(sleep.seconds.max(0) as u64);
            self.wake_at(until);
            return Hook::Sleeping(until);
        }
        let slot: ProbeSlot = Arc::new(Mutex::new(None));
        let target = self.target_of(c);
        let handler = handler.clone();
        let spawned = self.off_thread(
            "steady-hook",
            &slot,
            "the lifecycle hook panicked",
            move || crate::node::probe::run_hook(&handler, &target, timeout),
        );
        if let Err(e) = spawned {
            *slot.lock() = Some(Err(format!("cannot start the lifecycle hook: {e}")));
        }
        Hook::Running(slot)
    }

    /// Where a probe or hook of `c`'s running instance reaches it.
    fn target_of(&self, c: &ContRt) -> ProbeTarget {
        let inst = c
            .current
            .as_ref()
            .expect("probes and hooks run for a running instance");
        probe_target(
            &c.spec,
            &c.env,
            &c.working_dir,
            &self.ip,
            inst.private_mounts.then(|| inst.handle.pid()).flatten(),
        )
    }

    /// Runs `job` (a probe or a hook) on a thread of its own, puts its result in `slot`
    /// (`panicked` if it panics) and queues this pod, whose next sync takes the result.
    pub(super) fn off_thread(
        &self,
        name: &str,
        slot: &ProbeSlot,
        panicked: &str,
        job: impl FnOnce() -> Result<(), String> + Send + 'static,
    ) -> std::io::Result<()> {
        let trigger = self.kubelet.inner.pod_trigger.clone();
        let key = ObjectKey::new(
            Some(self.pod.metadata.namespace_str()),
            &self.pod.metadata.name,
        );
        let (out, panicked) = (slot.clone(), panicked.to_string());
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                *out.lock() = Some(r.unwrap_or(Err(panicked)));
                trigger.enqueue(key);
            })
            .map(drop)
    }

    /// Takes in a reported exit or finished probe of the current instance.
    fn observe(&mut self, c: &mut ContRt, init: bool, stopping: bool) {
        let Some(inst) = &mut c.current else { return };
        let mut unhealthy = Vec::new();
        for p in inst.probes.iter_mut() {
            let done = p.in_flight.as_ref().and_then(|slot| slot.lock().take());
            if let Some(outcome) = done {
                p.in_flight = None;
                if let Err(msg) = &outcome {
                    // The prober's message usually names the probe already (`Liveness probe
                    // failed: ...`): said once, as the kubelet says it.
                    let prefix = format!("{} probe failed: ", p.kind.as_str());
                    unhealthy.push(if msg.starts_with(&prefix) {
                        msg.clone()
                    } else {
                        format!("{prefix}{msg}")
                    });
                }
                p.record(outcome);
                p.next_due = self.now + p.period;
            }
        }
        // As the kubelet: every failed probe is a Warning `Unhealthy` (repeats aggregate).
        for message in unhealthy {
            let _ = self.kubelet.inner.events.record(
                self.pod,
                EventKind::Warning,
                "Unhealthy",
                &message,
            );
        }
        let exit = inst.exit.lock().clone();
        let Some(exit) = exit else { return };
        let inst = c.current.take().expect("checked above");
        let mut message = exit.message.clone();
        if let Some(why) = &inst.stopping_for {
            message = Some(why.clone());
        }
        let term = ContainerStateTerminated {
            exit_code: exit.exit_code,
            signal: exit.signal,
            reason: Some(exit.reason.clone()),
            message,
            started_at: Some(inst.started_at),
            finished_at: Some(self.wall),
            container_id: Some(inst.handle.id().to_string()),
            ..Default::default()
        };
        let policy = if init && c.spec.is_sidecar() {
            "Always" // a sidecar runs beside the main containers, whatever the pod's policy
        } else if init && self.restart_policy() == "Always" {
            "OnFailure" // init containers must succeed once; Always restarts only failures
        } else {
            self.restart_policy()
        };
        let restart = match policy {
            "Never" => false,
            "OnFailure" => exit.exit_code != 0 || inst.stopping_for.is_some(),
            _ => true,
        } && self.pod.metadata.deletion_timestamp.is_none()
            && !stopping;
        // Crash-loop backoff: the first restart is immediate, then initial doubling to max;
        // a container that ran long enough starts over.
        let ran = self.now.saturating_sub(inst.started_mono);
        let cfg = &self.kubelet.inner.config;
        if ran >= cfg.crash_loop_reset {
            c.backoff = Duration::ZERO;
        }
        c.previous_log = c.log.take();
        if restart {
            let delay = c.backoff;
            c.backoff = if delay.is_zero() {
                cfg.crash_loop_initial
            } else {
                (delay * 2).min(cfg.crash_loop_max)
            };
            c.last_terminated = Some(term);
            c.restart_count += 1;
            c.not_before = Some(self.now + delay);
            if !delay.is_zero() {
                let (name, ns, uid) = (
                    &self.pod.metadata.name,
                    self.pod.metadata.namespace_str(),
                    self.pod.metadata.uid.as_deref().unwrap_or(""),
                );
                c.waiting = Some((
                    "CrashLoopBackOff".into(),
                    format!(
                        "back-off {}s restarting failed container={} pod={name}_{ns}({uid})",
                        delay.as_secs(),
                        c.spec.name,
                    ),
                ));
                // The kubelet's Warning, one Event whose count grows with each back-off.
                let _ = self.kubelet.inner.events.record(
                    self.pod,
                    EventKind::Warning,
                    "BackOff",
                    &format!(
                        "Back-off restarting failed container {} in pod {name}_{ns}({uid})",
                        c.spec.name
                    ),
                );
            }
            // The restarted instance keeps the old output readable as `previous`.
            c.log = None;
        } else {
            c.final_state = Some(term);
        }
    }

    /// Starts the container unless it runs, will not run again, or is backing off.
    fn ensure_running(&mut self, c: &mut ContRt, init: bool) {
        if c.current.is_some() || c.final_state.is_some() {
            return;
        }
        if let Some(t) = c.not_before {
            if self.now < t {
                self.wake_at(t);
                return;
            }
        }
        let Some(runtime) = self.agent.runtimes.iter().find(|r| r.handles(&c.spec)) else {
            let image = c.spec.image.as_deref().unwrap_or("");
            let why = (
                "ErrImageNeverPull".to_string(),
                format!(
                    "image {image:?} is neither a registered worker image nor in the image table, \
                     and container {:?} has no command to run as a process: map the image \
                     (EngineBuilder::images, \"images\" in the C/Python config, steady run \
                     --images FILE) or give the container a command",
                    c.spec.name
                ),
            );
            if c.waiting.as_ref() != Some(&why) {
                // `kubectl describe` shows events, not the waiting message: say it there too.
                let _ = self.kubelet.inner.events.record(
                    self.pod,
                    EventKind::Warning,
                    "Failed",
                    &format!("Error: {}", why.1),
                );
            }
            c.waiting = Some(why);
            return;
        };
        let first = c.restart_count == 0 && c.last_terminated.is_none();
        let held = self
            .non_root_check(&c.spec)
            .and_then(|()| self.mounts(&c.spec, first))
            .and_then(|mounts| self.env(&c.spec, &mounts).map(|env| (mounts, env)));
        let (mounts, env) = match held {
            Ok(x) => x,
            Err(msg) => {
                // As the kubelet: held back until the ConfigMap or Secret appears (its
                // watch wakes the pod), retried now and then in any case; a Warning
                // `Failed` event each time the reason changes.
                let reason = "CreateContainerConfigError";
                if c.waiting.as_ref() != Some(&(reason.to_string(), msg.clone())) {
                    let _ = self.kubelet.inner.events.record(
                        self.pod,
                        EventKind::Warning,
                        "Failed",
                        &format!("Error: {msg}"),
                    );
                }
                c.waiting = Some((reason.into(), msg));
                self.wake_in(Duration::from_secs(10));
                return;
            }
        };
        let working_dir = c
            .spec
            .working_dir
            .as_ref()
            .map(PathBuf::from)
            // The first volume that is a directory (a hostPath may be a file).
            .or_else(|| {
                mounts
                    .iter()
                    .find(|m| m.host_path.is_dir())
                    .map(|m| m.host_path.clone())
            });
        let log = Arc::new(LogBuffer::new(self.kubelet.inner.config.log_limit));
        let exit = Arc::new(Mutex::new(None));
        let slot = exit.clone();
        let trigger = self.kubelet.inner.pod_trigger.clone();
        let key = ObjectKey::new(
            Some(self.pod.metadata.namespace_str()),
            &self.pod.metadata.name,
        );
        let (trigger2, key2) = (trigger.clone(), key.clone());
        let spec = ContainerSpec {
            namespace: self.pod.metadata.namespace_str().to_string(),
            pod_name: self.pod.metadata.name.clone(),
            pod_uid: self.pod.metadata.uid.clone().unwrap_or_default(),
            node_name: self.agent.config.name.clone(),
            container: c.spec.clone(),
            env: env.clone(),
            working_dir: working_dir.clone(),
            mounts,
            log: log.clone(),
            on_exit: Arc::new(move |status| {
                // Never takes the pod's mutex: see the module invariants.
                *slot.lock() = Some(status);
                trigger.enqueue(key.clone());
            }),
            on_change: Arc::new(move || {
                trigger2.enqueue(key2.clone());
            }),
        };
        let private_mounts = !spec.mounts.is_empty() && runtime.mounts_at_mount_path();
        if !spec.mounts.is_empty() {
            self.record_mount_mode(runtime.as_ref(), &spec.container.name, &spec.mounts);
        }
        c.env = env;
        c.working_dir = working_dir;
        c.log = Some(log);
        c.not_before = None;
        match runtime.start(spec) {
            Ok(handle) => {
                let mut probes = Vec::new();
                if !init || c.spec.is_sidecar() {
                    let s = &c.spec;
                    for (kind, p) in [
                        (ProbeKind::Startup, &s.startup_probe),
                        (ProbeKind::Liveness, &s.liveness_probe),
                        (ProbeKind::Readiness, &s.readiness_probe),
                    ] {
                        if let Some(p) = p {
                            probes.push(ProbeRt::new(kind, p, self.now));
                        }
                    }
                }
                let started = !probes.iter().any(|p| p.kind == ProbeKind::Startup);
                c.waiting = None;
                let post_start = c.spec.lifecycle.as_ref().and_then(|l| l.post_start.clone());
                c.current = Some(Instance {
                    handle,
                    exit,
                    started_at: self.wall,
                    started_mono: self.now,
                    probes,
                    started,
                    ready: false,
                    stopping_for: None,
                    private_mounts,
                    kill_at: None,
                    post_start: None,
                    pre_stop: None,
                    term_sent: false,
                });
                if let Some(h) = post_start {
                    let hook = self.start_hook(c, &h, POST_START_TIMEOUT);
                    if let Some(inst) = &mut c.current {
                        inst.post_start = Some(hook);
                    }
                }
            }
            Err(e) => {
                // As the kubelet reports a failed exec: a terminated instance with the
                // runtime's reason and the OS error, then a restart by policy.
                let mut inst_log = c.log.take();
                if let Some(l) = &mut inst_log {
                    l.line(&format!("{}: {}", e.reason, e.message));
                }
                c.log = inst_log;
                let slot = Arc::new(Mutex::new(Some(ExitStatus::failed(
                    128, &e.reason, e.message,
                ))));
                c.current = Some(Instance {
                    handle: Box::new(NeverStarted),
                    exit: slot,
                    started_at: self.wall,
                    started_mono: self.now,
                    probes: Vec::new(),
                    started: false,
                    ready: false,
                    stopping_for: None,
                    private_mounts,
                    kill_at: None,
                    post_start: None,
                    pre_stop: None,
                    term_sent: false,
                });
                self.observe(c, init, false);
                if c.final_state.is_none() {
                    // Restart by the crash-loop rules.
                    let nb = c.not_before.unwrap_or(self.now);
                    if nb <= self.now {
                        // First failure restarts at once; avoid a hot loop inside this call.
                        self.wake_in(Duration::from_millis(1));
                    } else {
                        self.wake_at(nb);
                    }
                }
            }
        }
    }
}
